//! The small pieces of RFC 3261 grammar the checks need and ezk-sip-types does not cover the
//! way RFC 4475 wants: name-addr / addr-spec (From, To, Contact), comma-separated lists and
//! URI schemes.
//!
//! ezk-sip-types' own name-addr parser refuses valid display names with escaped quotes
//! (RFC 4475 `wsinv`) and every URI that is not `sip:`/`sips:` (`unksm2`), and accepts an
//! unquoted display name with a comma (`baddn`). These checks are strict where RFC 4475 asks
//! for a 400 and liberal where it asks for acceptance; they borrow the input and allocate
//! only the parameter list.

/// RFC 3261 `token` characters.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// The scheme of an absolute URI (`scheme ":" ...`), `None` if `uri` is not one.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let colon = uri.find(':')?;
    let scheme = &uri[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let body = &uri[colon + 1..];
    (first.is_ascii_alphabetic()
        && rest_ok
        && !body.is_empty()
        && !body.chars().any(|c| c.is_whitespace() || c.is_control()))
    .then_some(scheme)
}

/// Splits a header value at the commas that separate list elements, skipping commas inside
/// quoted strings and angle brackets. Elements are trimmed; empty elements are kept so the
/// caller can refuse them.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut angle) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '<' => angle = true,
            '>' => angle = false,
            ',' if !angle => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out
}

/// A parsed `name-addr` or `addr-spec` with its header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// Display name as written (quotes kept), if any.
    pub display: Option<&'a str>,
    pub uri: &'a str,
    pub params: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> NameAddr<'a> {
    /// The value of a header parameter (names compare case-insensitively).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| *v)
    }
}

fn skip_ws(s: &str) -> &str {
    s.trim_start_matches([' ', '\t', '\r', '\n'])
}

/// Reads a quoted string at the start of `s` (which begins with `"`); returns it with its
/// quotes and the rest.
fn quoted(s: &str) -> Result<(&str, &str), &'static str> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match (escaped, c) {
            (true, '\r' | '\n') => return Err("line break escaped in a quoted string"),
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Ok((&s[..=i], &s[i + 1..])),
            _ => {}
        }
    }
    Err("unterminated quoted string")
}

/// Parses `name-addr / addr-spec *( SEMI generic-param )` as From, To, Contact, Route and
/// Reply-To carry it.
pub fn name_addr(value: &str) -> Result<NameAddr<'_>, &'static str> {
    let s = skip_ws(value);
    let (display, uri, rest) = if s.starts_with('"') {
        let (display, rest) = quoted(s)?;
        let rest = skip_ws(rest);
        let rest = rest
            .strip_prefix('<')
            .ok_or("a quoted display name must be followed by <URI>")?;
        let (uri, rest) = angle_uri(rest)?;
        (Some(display), uri, rest)
    } else if let Some(lt) = s.find('<') {
        let display = s[..lt].trim_end();
        if !display
            .split([' ', '\t'])
            .filter(|w| !w.is_empty())
            .all(is_token)
        {
            return Err("an unquoted display name may only hold tokens");
        }
        let (uri, rest) = angle_uri(&s[lt + 1..])?;
        ((!display.is_empty()).then_some(display), uri, rest)
    } else {
        // addr-spec: the URI ends at the first semicolon; a URI with '?' or ',' must be
        // enclosed in angle brackets (RFC 3261 section 20).
        let end = s.find(';').unwrap_or(s.len());
        let uri = s[..end].trim_end();
        if uri.contains(['?', ',']) {
            return Err("a URI with '?' or ',' must be enclosed in <>");
        }
        (None, uri, &s[end..])
    };
    if uri_scheme(uri).is_none() {
        return Err("not an absolute URI");
    }
    Ok(NameAddr {
        display,
        uri,
        params: params(rest)?,
    })
}

fn angle_uri(s: &str) -> Result<(&str, &str), &'static str> {
    let gt = s.find('>').ok_or("'<' without '>'")?;
    let uri = &s[..gt];
    if uri.is_empty() || uri.starts_with([' ', '\t']) || uri.ends_with([' ', '\t']) {
        return Err("white space inside <>");
    }
    if uri.contains('<') {
        return Err("'<' inside <>");
    }
    Ok((uri, &s[gt + 1..]))
}

/// `*( SEMI generic-param )`, white space allowed around `;` and `=`.
pub fn params(mut s: &str) -> Result<Vec<(&str, Option<&str>)>, &'static str> {
    let mut out = Vec::new();
    loop {
        s = skip_ws(s);
        if s.is_empty() {
            return Ok(out);
        }
        s = skip_ws(s.strip_prefix(';').ok_or("garbage after the address")?);
        let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
        let name = &s[..end];
        if name.is_empty() {
            return Err("empty parameter name");
        }
        s = skip_ws(&s[end..]);
        let value = if let Some(rest) = s.strip_prefix('=') {
            let rest = skip_ws(rest);
            let (v, rest) = if rest.starts_with('"') {
                quoted(rest)?
            } else {
                let end = rest
                    .find(|c: char| !(is_token_char(c) || matches!(c, '[' | ']' | ':')))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            };
            if v.is_empty() {
                return Err("empty parameter value");
            }
            s = rest;
            Some(v)
        } else {
            None
        };
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let a = name_addr("\"J Rosenberg \\\\\\\"\"  <sip:jdrosen@example.com> ; tag = 98asjd8")
            .unwrap();
        assert_eq!(a.uri, "sip:jdrosen@example.com");
        assert_eq!(a.param("TAG"), Some("98asjd8"));
        let a = name_addr("sip:caller@example.net;tag=134161461246").unwrap();
        assert_eq!(
            (a.uri, a.param("tag")),
            ("sip:caller@example.net", Some("134161461246"))
        );
        let a = name_addr("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display, Some("caller"));
        assert!(name_addr("isbn:2983792873").is_ok());
        assert!(name_addr("<http://www.example.com>;tag=3234233").is_ok());
    }

    #[test]
    fn name_addr_refusals() {
        assert!(name_addr("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(name_addr("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(name_addr("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(name_addr("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(name_addr("\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(name_addr("").is_err());
    }

    #[test]
    fn lists_respect_quotes_and_brackets() {
        assert_eq!(
            split_list("\"a, b\" <sip:x@y>, <sip:z@w;p=1,2>, sip:q@r"),
            vec!["\"a, b\" <sip:x@y>", "<sip:z@w;p=1,2>", "sip:q@r"]
        );
        assert_eq!(split_list("a;;,;,,"), vec!["a;;", ";", "", ""]);
    }

    #[test]
    fn schemes() {
        assert_eq!(uri_scheme("sip:a@b"), Some("sip"));
        assert_eq!(
            uri_scheme("soap.beep://192.0.2.103:3002"),
            Some("soap.beep")
        );
        assert_eq!(uri_scheme("<sip:a@b>"), None);
        assert_eq!(uri_scheme("1x:y"), None);
        assert_eq!(uri_scheme("sip:"), None);
    }
}
