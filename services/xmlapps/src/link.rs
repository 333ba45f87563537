//! Links inside documents: resolving relative ones, and input query strings.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::PhoneObject;

/// Where a link goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A web page to fetch (absolute, after resolving).
    Http(Url),
    /// Something the phone does itself, as written: `SoftKey:Exit`,
    /// `Dial:1234`, `Key:Services`, ...
    Internal(String),
}

/// Why a link cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad link {link:?}: {reason}")]
pub struct LinkError {
    pub link: String,
    pub reason: url::ParseError,
}

/// Resolves `link` (as found in a document) against the document's URL.
///
/// A link with a scheme other than http/https is an internal URI and is
/// returned untouched; everything else is a URL, relative ones joined to `base`.
pub fn resolve_target(base: &Url, link: &str) -> Result<Target, LinkError> {
    let link = link.trim();
    let error = |reason| LinkError {
        link: link.to_string(),
        reason,
    };
    match Url::parse(link) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Target::Http(url)),
        Ok(_) => Ok(Target::Internal(link.to_string())),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            base.join(link).map(Target::Http).map_err(error)
        }
        Err(e) => Err(error(e)),
    }
}

impl PhoneObject {
    /// Rewrites every relative link (menu items, input URL, soft keys) as an
    /// absolute URL against `base`, the URL the document came from.
    ///
    /// Internal URIs stay as written. A link that cannot be resolved stays as
    /// written too, so one bad item does not cost the whole menu; following it
    /// later gives the error.
    pub fn resolve_links(&mut self, base: &Url) {
        for link in self.links_mut() {
            if link.is_empty() {
                continue;
            }
            if let Ok(Target::Http(url)) = resolve_target(base, link) {
                *link = url.into();
            }
        }
    }
}

/// Characters left as they are in a query parameter: RFC 3986 "unreserved".
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URL an input form submits to: `url` with `param=value` pairs appended,
/// after `?` (or `&` when `url` already has a query), percent-encoded as UTF-8
/// with `%20` for a space. A `#fragment` of `url` stays at the end.
pub fn input_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let mut out = String::from(base);
    for (i, (param, value)) in pairs.iter().enumerate() {
        let separator = match (i, out.contains('?')) {
            (0, false) => Some('?'),
            (0, true) if out.ends_with('?') || out.ends_with('&') => None,
            _ => Some('&'),
        };
        out.extend(separator);
        out.extend(utf8_percent_encode(param, QUERY_VALUE));
        out.push('=');
        out.extend(utf8_percent_encode(value, QUERY_VALUE));
    }
    out.push_str(fragment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://10.10.10.10:8080/CiscoServices/menu.asp?page=2").unwrap()
    }

    fn http(s: &str) -> Target {
        Target::Http(Url::parse(s).unwrap())
    }

    #[test]
    fn relative_links_resolve_against_the_document() {
        let b = base();
        assert_eq!(
            resolve_target(&b, "weather.asp?city=Oslo").unwrap(),
            http("http://10.10.10.10:8080/CiscoServices/weather.asp?city=Oslo")
        );
        assert_eq!(
            resolve_target(&b, "/dir/search.asp").unwrap(),
            http("http://10.10.10.10:8080/dir/search.asp")
        );
        assert_eq!(
            resolve_target(&b, "../img.xml").unwrap(),
            http("http://10.10.10.10:8080/img.xml")
        );
        assert_eq!(
            resolve_target(&b, "//other.example/x").unwrap(),
            http("http://other.example/x")
        );
        assert_eq!(
            resolve_target(&b, " http://h/x ").unwrap(),
            http("http://h/x")
        );
    }

    #[test]
    fn internal_uris_are_kept_as_written() {
        for uri in ["SoftKey:Exit", "Dial:5551000", "Key:Services"] {
            assert_eq!(
                resolve_target(&base(), uri).unwrap(),
                Target::Internal(uri.to_string())
            );
        }
    }

    #[test]
    fn a_malformed_link_is_an_error_naming_it() {
        let err = resolve_target(&base(), "http://[::1/x").unwrap_err();
        assert_eq!(err.link, "http://[::1/x");
        assert!(err.to_string().starts_with("bad link \"http://[::1/x\""));
    }

    #[test]
    fn input_query_appends_with_the_right_separator_and_encoding() {
        let pairs = [("name", "Ann Lee"), ("q", "a&b=c/é+%")];
        assert_eq!(
            input_query("http://h/s.asp", &pairs),
            "http://h/s.asp?name=Ann%20Lee&q=a%26b%3Dc%2F%C3%A9%2B%25"
        );
        assert_eq!(
            input_query("http://h/s.asp?dir=corp", &[("n", "1")]),
            "http://h/s.asp?dir=corp&n=1"
        );
        assert_eq!(
            input_query("http://h/s.asp?", &[("n", "1")]),
            "http://h/s.asp?n=1"
        );
        assert_eq!(
            input_query("http://h/s?a=1&", &[("n", "1")]),
            "http://h/s?a=1&n=1"
        );
        assert_eq!(
            input_query("http://h/s#top", &[("n", "*#")]),
            "http://h/s?n=%2A%23#top"
        );
        assert_eq!(input_query("http://h/s", &[]), "http://h/s");
    }
}
