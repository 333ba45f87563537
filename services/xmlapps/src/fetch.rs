//! The I/O shell: one blocking HTTP GET, through the HTTP proxy if configured.

use std::io::Read;
use std::time::Duration;

use thiserror::Error;
use url::Url;

use crate::{parse, ParseError, PhoneObject, MAX_DOCUMENT_BYTES};

/// The HTTP proxy of the phone (`http_proxy_addr`, `http_proxy_port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Dotted address or DNS name.
    pub host: String,
    /// `http_proxy_port`; the guide's default is 80.
    pub port: u16,
}

/// Why a service page could not be shown.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("bad URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("bad HTTP proxy {host}:{port}: {reason}")]
    BadProxy {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("cannot reach {host_port}: {detail}")]
    Unreachable { host_port: String, detail: String },
    #[error("cannot reach HTTP proxy {host_port}: {detail}")]
    ProxyUnreachable { host_port: String, detail: String },
    #[error("no complete answer from {url} within {}s", .timeout.as_secs_f32())]
    Timeout { url: String, timeout: Duration },
    #[error("HTTP {code} from {url}")]
    Status { code: u16, url: String },
    #[error("document from {url} is over the {limit}-byte limit")]
    TooLarge { url: String, limit: usize },
    #[error("HTTP failure with {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("not a phone XML object: {error} (from {url})")]
    NotPhoneXml { url: String, error: ParseError },
}

/// Fetches `url` and parses it, following redirects, with relative links
/// resolved against the URL the document finally came from.
///
/// `timeout` bounds the whole exchange, connecting to reading the last byte.
/// Blocking: call it from a thread (or `spawn_blocking`), never from a UI loop.
pub fn fetch(
    url: &str,
    proxy: Option<&ProxyConfig>,
    timeout: Duration,
) -> Result<PhoneObject, FetchError> {
    let (body, final_url) = fetch_bytes(url, proxy, timeout, MAX_DOCUMENT_BYTES)?;
    let mut object = parse(&body).map_err(|error| FetchError::NotPhoneXml {
        url: final_url.to_string(),
        error,
    })?;
    object.resolve_links(&final_url);
    Ok(object)
}

/// Fetches `url` as bytes of at most `limit` (the idle screen's logo, a BMP), following
/// redirects; returns the body and the URL it finally came from.
pub fn fetch_bytes(
    url: &str,
    proxy: Option<&ProxyConfig>,
    timeout: Duration,
    limit: usize,
) -> Result<(Vec<u8>, Url), FetchError> {
    let target = check_url(url)?;
    let mut agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(5)
        .user_agent(concat!("deskphone-xmlapps/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = proxy {
        agent = agent.proxy(proxy_of(p)?);
    }
    let failed = |e: ureq::Transport| transport_error(e, &target, proxy, timeout);
    let response = match agent.build().request_url("GET", &target).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(code, response)) => {
            return Err(FetchError::Status {
                code,
                url: response.get_url().to_string(),
            })
        }
        Err(ureq::Error::Transport(e)) => return Err(failed(e)),
    };
    let final_url = Url::parse(response.get_url()).unwrap_or_else(|_| target.clone());
    let too_large = || FetchError::TooLarge {
        url: final_url.to_string(),
        limit,
    };
    // Refuse a declared oversize body without reading it.
    let declared: Option<usize> = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    response
        .into_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => FetchError::Timeout {
                url: final_url.to_string(),
                timeout,
            },
            _ => FetchError::Http {
                url: final_url.to_string(),
                detail: e.to_string(),
            },
        })?;
    if body.len() > limit {
        return Err(too_large());
    }
    Ok((body, final_url))
}

fn check_url(url: &str) -> Result<Url, FetchError> {
    let bad = |reason: String| FetchError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let parsed = Url::parse(url.trim()).map_err(|e| bad(e.to_string()))?;
    let supported =
        parsed.scheme() == "http" || (cfg!(feature = "https") && parsed.scheme() == "https");
    if !supported {
        return Err(bad(format!(
            "{}:// is not supported, only http://",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    Ok(parsed)
}

fn proxy_of(p: &ProxyConfig) -> Result<ureq::Proxy, FetchError> {
    let host = p.host.trim();
    let bad = |reason: String| FetchError::BadProxy {
        host: p.host.clone(),
        port: p.port,
        reason,
    };
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    // An IPv6 literal needs brackets inside a URL.
    let spec = if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{}", p.port)
    } else {
        format!("http://{host}:{}", p.port)
    };
    ureq::Proxy::new(spec).map_err(|e| bad(e.to_string()))
}

fn transport_error(
    e: ureq::Transport,
    target: &Url,
    proxy: Option<&ProxyConfig>,
    timeout: Duration,
) -> FetchError {
    let detail = innermost_message(&e);
    let host_port = |host: &str, port: Option<u16>| match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    match (e.kind(), proxy) {
        (ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed, None) => {
            FetchError::Unreachable {
                host_port: host_port(
                    target.host_str().unwrap_or_default(),
                    target.port_or_known_default(),
                ),
                detail,
            }
        }
        // Through a proxy every connection goes to the proxy.
        (
            ureq::ErrorKind::Dns
            | ureq::ErrorKind::ConnectionFailed
            | ureq::ErrorKind::ProxyConnect,
            Some(p),
        ) => FetchError::ProxyUnreachable {
            host_port: host_port(&p.host, Some(p.port)),
            detail,
        },
        _ if is_timeout(&e) => FetchError::Timeout {
            url: target.to_string(),
            timeout,
        },
        _ => FetchError::Http {
            url: target.to_string(),
            detail,
        },
    }
}

/// The message of the deepest error in the chain: "Connection refused
/// (os error 111)" rather than "Connection Failed: Connect error".
fn innermost_message(e: &ureq::Transport) -> String {
    let mut current: &dyn std::error::Error = e;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn is_timeout(e: &ureq::Transport) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return true;
            }
        }
        current = err.source();
    }
    false
}
