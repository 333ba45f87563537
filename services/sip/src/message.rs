//! A SIP message as the core handles it: a start line, the header fields in an
//! ezk-sip-types [`Headers`] multimap (compact names folded to their long form, values kept
//! raw and typed on demand), and the body.
//!
//! The start line is ours rather than ezk's `MessageLine`: the method stays the exact token
//! (ezk matches known methods by prefix and case-insensitively), and a Request-URI of any
//! scheme can be kept long enough to answer it with 416.

use std::fmt::Write as _;

use bytes::Bytes;
use bytesstr::BytesStr;
use ezk_sip_types::header::typed::Via;
use ezk_sip_types::header::HeaderParse;
use ezk_sip_types::{Headers, Name};

use crate::syntax::{name_addr, split_list};

/// RFC 3261's magic cookie: a branch that starts with it is unique per transaction.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

#[derive(Debug, Clone)]
pub struct Message {
    pub start: StartLine,
    pub headers: Headers,
    pub body: Bytes,
}

/// The CSeq header field: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub number: u32,
    pub method: String,
}

impl CSeq {
    /// `1*DIGIT LWS Method`, the number below 2^31 (RFC 3261 section 8.1.1.5).
    pub fn parse(value: &str) -> Option<CSeq> {
        let mut parts = value.split_whitespace();
        let (number, method) = (parts.next()?, parts.next()?);
        if parts.next().is_some() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number: u32 = number.parse().ok()?;
        (number < 1 << 31 && crate::syntax::is_token(method)).then(|| CSeq {
            number,
            method: method.to_string(),
        })
    }
}

impl Message {
    pub fn request(method: &str, uri: impl Into<String>) -> Message {
        Message {
            start: StartLine::Request {
                method: method.to_string(),
                uri: uri.into(),
            },
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn response(code: u16, reason: impl Into<String>) -> Message {
        Message {
            start: StartLine::Response {
                code,
                reason: reason.into(),
            },
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { code, .. } => Some(*code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// Appends a header field (after any of the same name).
    pub fn push(&mut self, name: Name, value: impl Into<String>) {
        self.headers.insert(name, BytesStr::from(value.into()));
    }

    /// Replaces every value of a header field with one.
    pub fn set(&mut self, name: Name, value: impl Into<String>) {
        self.headers.remove(&name);
        self.push(name, value);
    }

    /// The first raw value of a header field.
    pub fn header(&self, name: &Name) -> Option<&str> {
        self.headers.get_raw(name).next().map(|v| v.as_str())
    }

    /// Every raw value (one per header line) of a header field.
    pub fn header_values(&self, name: &Name) -> impl Iterator<Item = &str> {
        self.headers.get_raw(name).map(|v| v.as_str())
    }

    /// Every Via element, top first, split at the commas of combined lines.
    pub fn vias(&self) -> Vec<&str> {
        self.header_values(&Name::VIA)
            .flat_map(split_list)
            .collect()
    }

    /// The top Via, typed.
    pub fn top_via(&self) -> Option<Via> {
        let raw = *self.vias().first()?;
        parse_via(raw)
    }

    /// Replaces the top Via element, keeping the others in order.
    pub fn set_top_via(&mut self, via: &str) {
        let rest: Vec<String> = self
            .vias()
            .into_iter()
            .skip(1)
            .map(str::to_string)
            .collect();
        self.headers.remove(&Name::VIA);
        self.headers
            .insert_front(Name::VIA, BytesStr::from(via.to_string()));
        for v in rest {
            self.push(Name::VIA, v);
        }
    }

    pub fn cseq(&self) -> Option<CSeq> {
        CSeq::parse(self.header(&Name::CSEQ)?)
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header(&Name::CALL_ID).map(str::trim)
    }

    pub fn from_tag(&self) -> Option<&str> {
        name_addr(self.header(&Name::FROM)?).ok()?.param("tag")
    }

    pub fn to_tag(&self) -> Option<&str> {
        name_addr(self.header(&Name::TO)?).ok()?.param("tag")
    }

    /// The message on the wire: Content-Length always written, from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(512);
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(head, "{method} {uri} SIP/2.0\r\n");
            }
            StartLine::Response { code, reason } => {
                let _ = write!(head, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        for (name, value) in self.headers.iter() {
            if name != &Name::CONTENT_LENGTH {
                let _ = write!(head, "{}: {}\r\n", name.as_print_str(), value);
            }
        }
        let _ = write!(head, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// One Via element, typed; `None` unless ezk consumes all of it.
pub fn parse_via(raw: &str) -> Option<Via> {
    let src = Bytes::copy_from_slice(raw.as_bytes());
    let text = std::str::from_utf8(&src).ok()?;
    match Via::parse(&src, text) {
        Ok((rest, via)) if rest.trim().is_empty() => Some(via),
        _ => None,
    }
}

/// A branch that carries the magic cookie and something after it (RFC 3261 section 8.1.1.7);
/// anything else is matched by the RFC 2543 rules.
pub fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

/// A response to `request` (RFC 3261 section 8.2.6): Via, From, To, Call-ID and CSeq copied
/// as they came, a To tag added to anything but 100 if the request had none.
pub fn response_to(request: &Message, code: u16, reason: &str, to_tag: &str) -> Message {
    let mut r = Message::response(code, reason);
    for via in request.header_values(&Name::VIA) {
        r.push(Name::VIA, via);
    }
    for name in [Name::FROM, Name::TO, Name::CALL_ID, Name::CSEQ] {
        if let Some(v) = request.header(&name) {
            let v = if name == Name::TO && code > 100 && request.to_tag().is_none() {
                format!("{v};tag={to_tag}")
            } else {
                v.to_string()
            };
            r.push(name, v);
        }
    }
    r
}
