//! The few pieces of a SIP URI the call layer needs: its user part, and where a request to it
//! goes when its host is an address. Lenient on purpose: the URIs come from messages the
//! checks already accepted, and an unusual one only means "no address here".

use std::net::{IpAddr, SocketAddr};

/// `sip:user@host:port;params?headers` split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParts<'a> {
    pub user: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: &'a str,
}

pub fn parts(uri: &str) -> Option<UriParts<'_>> {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("SIP:"))?;
    let rest = rest.split('?').next().unwrap_or_default();
    let (userinfo, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (hostport, params) = match hostpart.find(';') {
        Some(i) => (&hostpart[..i], &hostpart[i..]),
        None => (hostpart, ""),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']')?;
        let port = v6[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok());
        (&hostport[..end + 2], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let user = userinfo.map(|u| u.split(':').next().unwrap_or_default());
    Some(UriParts {
        user,
        host,
        port,
        params,
    })
}

/// The user part of a `sip:` URI (or the number of a `tel:` URI).
pub fn user(uri: &str) -> Option<&str> {
    if let Some(tel) = uri.strip_prefix("tel:") {
        return tel.split(';').next();
    }
    parts(uri)?.user
}

/// Where a request to `uri` goes when its host is an IP address: the port, or 5060.
pub fn socket_addr(uri: &str) -> Option<SocketAddr> {
    let p = parts(uri)?;
    let host = p.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, p.port.unwrap_or(5060)))
}

/// The value of a URI parameter (`;lr`, `;user=phone`): `Some("")` for a flag.
pub fn param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let p = parts(uri)?;
    p.params.split(';').skip(1).find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_usual_forms() {
        let p = parts("sip:1001@192.0.2.1:5070;transport=udp;lr").unwrap();
        assert_eq!(p.user, Some("1001"));
        assert_eq!(p.host, "192.0.2.1");
        assert_eq!(p.port, Some(5070));
        assert_eq!(
            param("sip:1001@192.0.2.1:5070;transport=udp;lr", "lr"),
            Some("")
        );
        assert_eq!(
            socket_addr("sip:1001@192.0.2.1:5070;lr"),
            Some("192.0.2.1:5070".parse().unwrap())
        );
        assert_eq!(
            socket_addr("sip:[2001:db8::1]:5062"),
            Some("[2001:db8::1]:5062".parse().unwrap())
        );
        assert_eq!(socket_addr("sip:pbx.example.com"), None);
        assert_eq!(user("sip:alice:secret@example.com"), Some("alice"));
        assert_eq!(user("tel:+15551234;phone-context=x"), Some("+15551234"));
        assert_eq!(parts("sip:@"), None);
        assert_eq!(parts("mailto:x@y"), None);
        assert_eq!(parts("sip:host:notaport"), None);
    }
}
