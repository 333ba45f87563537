//! What to do with a received datagram: hand it on, answer it with an error status, or drop
//! it (RFC 3261 sections 8.2 and 18.3, the verdicts of RFC 4475).
//!
//! [`inspect`] frames and parses the datagram, then checks, in this order, so that the first
//! problem decides the status:
//!
//! 1. start line: `Method SP Request-URI SP SIP/2.0` (runs of white space accepted, RFC 4475
//!    `lwsstart`/`trws`); a version other than 2.0 is 505, a URI scheme other than `sip`/`sips`
//!    is 416, anything unreadable is 400. A response needs `SIP/2.0` and a code 100-699;
//! 2. header lines `name: value`, folded lines joined, UTF-8;
//! 3. Via, From, To, Call-ID and CSeq present; From, To, Call-ID, CSeq, Max-Forwards,
//!    Content-Length and Content-Type at most once;
//! 4. every Via element typed by ezk-sip-types; From, To and Contact are a name-addr or an
//!    addr-spec; CSeq is `number method` with number < 2^31 and, in a request, its method;
//!    Max-Forwards 0-255; Content-Length a number no longer than the body;
//! 5. requests only: Max-Forwards 0 is 483; a Require option tag we do not support is 420
//!    (with Unsupported); an INVITE body that is not SDP is 415 (with Accept); an INVITE whose
//!    Accept excludes SDP is 406.
//!
//! A malformed response is always dropped: nobody is there to tell.

use bytes::Bytes;
use ezk_sip_types::{Headers, Name};

use crate::message::{parse_via, Message, StartLine};
use crate::syntax::{is_token, name_addr, split_list, uri_scheme};

/// Option tags this user agent supports (none yet; `replaces` arrives with transfers).
pub const SUPPORTED: &[&str] = &[];

/// What to do with a datagram.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A well-formed request, to hand to the transaction layer.
    Request(Message),
    /// A well-formed response, to hand to the transaction layer.
    Response(Message),
    /// A request to answer with an error status.
    Reject(Rejection),
    /// Nothing to do: a malformed response, a keep-alive, or a request nobody can be told
    /// about (no Via).
    Drop(String),
}

#[derive(Debug, Clone)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
    /// What was wrong, for the log.
    pub problem: String,
    /// The request as far as it could be read (raw header values).
    pub request: Message,
    /// Header fields the answer must carry (Unsupported for 420, Accept for 415).
    pub extra: Vec<(Name, String)>,
}

impl Verdict {
    /// The status a request gets, if any (for tests and logs).
    pub fn status(&self) -> Option<u16> {
        match self {
            Verdict::Reject(r) => Some(r.status),
            _ => None,
        }
    }
}

struct Problem {
    status: u16,
    reason: &'static str,
    text: String,
    extra: Vec<(Name, String)>,
}

fn bad(text: impl Into<String>) -> Problem {
    Problem {
        status: 400,
        reason: "Bad Request",
        text: text.into(),
        extra: vec![],
    }
}

fn status(status: u16, reason: &'static str, text: impl Into<String>) -> Problem {
    Problem {
        status,
        reason,
        text: text.into(),
        extra: vec![],
    }
}

/// Decides what to do with one received datagram. Never panics.
pub fn inspect(datagram: &[u8]) -> Verdict {
    let data = trim_leading_newlines(datagram);
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Verdict::Drop("empty datagram or keep-alive".into());
    }
    let (head, rest, mut problem) = match find_head_end(data) {
        Some((end, body)) => (&data[..end], &data[body..], None),
        None => (
            data,
            &[][..],
            Some(bad("no empty line after the header fields")),
        ),
    };
    let head = match std::str::from_utf8(head) {
        Ok(h) => std::borrow::Cow::Borrowed(h),
        Err(_) => {
            problem.get_or_insert_with(|| bad("header section is not UTF-8"));
            String::from_utf8_lossy(head)
        }
    };
    let mut lines = unfold(&head).into_iter();
    let first = lines.next().unwrap_or_default();
    let (start, start_problem) = start_line(&first);
    let is_response = matches!(start, StartLine::Response { .. });
    if let Some(p) = start_problem {
        if is_response {
            return Verdict::Drop(p.text);
        }
        problem.get_or_insert(p);
    }
    let mut headers = Headers::new();
    for line in lines {
        match header_line(&line) {
            Some((name, value)) => headers.insert(Name::from(name.to_string()), value.to_string()),
            None => {
                problem.get_or_insert_with(|| bad(format!("not a header field: {line:.40}")));
            }
        }
    }
    let mut msg = Message {
        start,
        headers,
        body: Bytes::new(),
    };
    match body(&msg, rest) {
        Ok(body) => msg.body = Bytes::copy_from_slice(body),
        Err(p) => {
            problem.get_or_insert(p);
        }
    }
    if problem.is_none() {
        problem = check_headers(&msg).err();
    }
    if problem.is_none() && !is_response {
        problem = check_request(&msg).err();
    }
    match (problem, is_response) {
        (None, true) => Verdict::Response(msg),
        (None, false) => Verdict::Request(msg),
        (Some(p), true) => Verdict::Drop(p.text),
        (Some(p), false) if msg.vias().is_empty() => {
            Verdict::Drop(format!("{} (and no Via to answer to)", p.text))
        }
        (Some(p), false) => Verdict::Reject(Rejection {
            status: p.status,
            reason: p.reason,
            problem: p.text,
            request: msg,
            extra: p.extra,
        }),
    }
}

fn trim_leading_newlines(mut data: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = data {
        data = rest;
    }
    data
}

/// End of the header section and start of the body: the first empty line (CRLF CRLF, or bare
/// LF LF from sloppy senders).
fn find_head_end(data: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\n' {
            match data.get(i + 1..) {
                Some([b'\r', b'\n', ..]) => return Some((i, i + 3)),
                Some([b'\n', ..]) => return Some((i, i + 2)),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Lines without their CR, folded continuation lines joined with one space.
fn unfold(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                let last_trimmed = last.trim_end().len();
                last.truncate(last_trimmed);
                last.push(' ');
                last.push_str(line.trim_start());
            }
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

fn start_line(line: &str) -> (StartLine, Option<Problem>) {
    let parts: Vec<&str> = line.split([' ', '\t']).filter(|p| !p.is_empty()).collect();
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        let code = parts
            .get(1)
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..=699).contains(c));
        let reason = line
            .splitn(3, ' ')
            .nth(2)
            .unwrap_or_default()
            .trim()
            .to_string();
        let start = StartLine::Response {
            code: code.unwrap_or(0),
            reason,
        };
        let problem = if !parts[0].eq_ignore_ascii_case("SIP/2.0") {
            Some(bad(format!("response version {}", parts[0])))
        } else if code.is_none() {
            Some(bad("response status code is not 100-699"))
        } else {
            None
        };
        return (start, problem);
    }
    let method = parts.first().copied().unwrap_or_default().to_string();
    let uri = parts.get(1).copied().unwrap_or_default().to_string();
    let problem = if parts.len() != 3 {
        Some(bad("request line is not: method, Request-URI, version"))
    } else if !is_token(&method) {
        Some(bad("method is not a token"))
    } else if !parts[2].eq_ignore_ascii_case("SIP/2.0") {
        if is_sip_version(parts[2]) {
            Some(status(
                505,
                "Version Not Supported",
                format!("version {}", parts[2]),
            ))
        } else {
            Some(bad(format!("not a SIP version: {:.20}", parts[2])))
        }
    } else {
        match uri_scheme(&uri) {
            None => Some(bad("Request-URI is not an absolute URI")),
            Some(s) if !s.eq_ignore_ascii_case("sip") && !s.eq_ignore_ascii_case("sips") => Some(
                status(416, "Unsupported URI Scheme", format!("URI scheme {s}")),
            ),
            Some(_) if uri.parse::<ezk_sip_types::uri::SipUri>().is_err() => {
                Some(bad("Request-URI is not a SIP URI"))
            }
            Some(_) => None,
        }
    };
    (StartLine::Request { method, uri }, problem)
}

fn is_sip_version(v: &str) -> bool {
    if !v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")) {
        return false;
    }
    let rest = &v[4..];
    let mut parts = rest.split('.');
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if all_digits(a) && all_digits(b))
}

/// `field-name HCOLON field-value`; white space before the colon is accepted.
fn header_line(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let name = line[..colon].trim_end_matches([' ', '\t']);
    is_token(name).then(|| (name, line[colon + 1..].trim()))
}

/// The body: Content-Length bytes when given, else the rest of the datagram.
fn body<'a>(msg: &Message, rest: &'a [u8]) -> Result<&'a [u8], Problem> {
    let values: Vec<&str> = msg.header_values(&Name::CONTENT_LENGTH).collect();
    match values.as_slice() {
        [] => Ok(rest),
        [one] => {
            let len: usize = one
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| one.parse().ok())
                .flatten()
                .ok_or_else(|| bad(format!("Content-Length {one:.20}")))?;
            rest.get(..len)
                .ok_or_else(|| bad("Content-Length longer than the body"))
        }
        _ => Err(bad("more than one Content-Length")),
    }
}

const REQUIRED: [(Name, &str); 5] = [
    (Name::VIA, "Via"),
    (Name::FROM, "From"),
    (Name::TO, "To"),
    (Name::CALL_ID, "Call-ID"),
    (Name::CSEQ, "CSeq"),
];

const SINGLE: [(Name, &str); 7] = [
    (Name::FROM, "From"),
    (Name::TO, "To"),
    (Name::CALL_ID, "Call-ID"),
    (Name::CSEQ, "CSeq"),
    (Name::MAX_FORWARDS, "Max-Forwards"),
    (Name::CONTENT_LENGTH, "Content-Length"),
    (Name::CONTENT_TYPE, "Content-Type"),
];

/// Checks 3 and 4 of the module documentation, for requests and responses.
fn check_headers(msg: &Message) -> Result<(), Problem> {
    for (name, label) in &REQUIRED {
        if msg.header(name).is_none() {
            return Err(bad(format!("no {label}")));
        }
    }
    for (name, label) in &SINGLE {
        if msg.header_values(name).count() > 1 {
            return Err(bad(format!("more than one {label}")));
        }
    }
    for via in msg.vias() {
        let typed = parse_via(via).ok_or_else(|| bad(format!("Via {via:.40}")))?;
        if typed.params.get("").is_some() {
            return Err(bad(format!("Via {via:.40}")));
        }
    }
    for (name, label) in [(Name::FROM, "From"), (Name::TO, "To")] {
        let value = msg.header(&name).unwrap_or_default();
        name_addr(value).map_err(|e| bad(format!("{label}: {e}")))?;
    }
    for value in msg.header_values(&Name::CONTACT) {
        for contact in split_list(value) {
            if contact != "*" {
                name_addr(contact).map_err(|e| bad(format!("Contact: {e}")))?;
            }
        }
    }
    let call_id = msg.call_id().unwrap_or_default();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(bad("Call-ID"));
    }
    let cseq = msg.cseq().ok_or_else(|| bad("CSeq"))?;
    if let Some(method) = msg.method() {
        if cseq.method != method {
            return Err(bad(format!(
                "CSeq method {} in a {method} request",
                cseq.method
            )));
        }
    }
    if let Some(mf) = msg.header(&Name::MAX_FORWARDS) {
        max_forwards(mf).ok_or_else(|| bad(format!("Max-Forwards {mf:.20}")))?;
    }
    Ok(())
}

fn max_forwards(value: &str) -> Option<u8> {
    value
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| value.parse().ok())
        .flatten()
}

/// Check 5: what a user agent server refuses in a well-formed request.
fn check_request(msg: &Message) -> Result<(), Problem> {
    let method = msg.method().unwrap_or_default();
    if msg.header(&Name::MAX_FORWARDS).and_then(max_forwards) == Some(0) {
        return Err(status(483, "Too Many Hops", "Max-Forwards 0"));
    }
    if method != "ACK" && method != "CANCEL" {
        let unsupported: Vec<&str> = msg
            .header_values(&Name::REQUIRE)
            .flat_map(split_list)
            .filter(|tag| !tag.is_empty())
            .filter(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
            .collect();
        if !unsupported.is_empty() {
            let mut p = status(420, "Bad Extension", "unsupported Require");
            p.extra.push((Name::UNSUPPORTED, unsupported.join(", ")));
            return Err(p);
        }
    }
    if !msg.body.is_empty() && msg.header(&Name::CONTENT_TYPE).is_none() {
        return Err(bad("a body without Content-Type"));
    }
    if method == "INVITE" {
        if let Some(ct) = msg
            .header(&Name::CONTENT_TYPE)
            .filter(|_| !msg.body.is_empty())
        {
            let mime = media_type(ct);
            if mime != "application/sdp" && !mime.starts_with("multipart/") {
                let mut p = status(
                    415,
                    "Unsupported Media Type",
                    format!("body of type {mime}"),
                );
                p.extra.push((Name::ACCEPT, "application/sdp".into()));
                return Err(p);
            }
        }
        let accepts: Vec<String> = msg
            .header_values(&Name::ACCEPT)
            .flat_map(split_list)
            .map(media_type)
            .collect();
        let sdp_ok = |m: &String| m == "application/sdp" || m == "application/*" || m == "*/*";
        if msg.header(&Name::ACCEPT).is_some() && !accepts.iter().any(sdp_ok) {
            return Err(status(
                406,
                "Not Acceptable",
                "Accept excludes application/sdp",
            ));
        }
    }
    Ok(())
}

/// `type/subtype` of a media-type value, lower case, parameters dropped.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}
