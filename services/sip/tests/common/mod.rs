//! Simulated time and message helpers shared by the tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use deskphone_sip::{Endpoint, Message, Transmit, UserAgent};

/// Milliseconds since the start of a test, as `Instant`s.
#[derive(Clone, Copy)]
pub struct Clock(pub Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(Instant::now())
    }
    pub fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
    pub fn ms(&self, t: Instant) -> u64 {
        t.duration_since(self.0).as_millis() as u64
    }
}

/// Something with the quinn-proto shape, so one simulator drives both.
pub trait Core {
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<Transmit>;
}

impl Core for Endpoint {
    fn poll_timeout(&self) -> Option<Instant> {
        Endpoint::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        Endpoint::poll_transmit(self)
    }
}

impl Core for UserAgent {
    fn poll_timeout(&self) -> Option<Instant> {
        UserAgent::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        UserAgent::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        UserAgent::poll_transmit(self)
    }
}

/// Everything sent so far, stamped with `now_ms`.
pub fn drain(core: &mut impl Core, now_ms: u64) -> Vec<(u64, Transmit)> {
    std::iter::from_fn(|| core.poll_transmit())
        .map(|t| (now_ms, t))
        .collect()
}

/// Jumps from deadline to deadline up to `until_ms`, collecting every transmission with the
/// time it was sent. Deadlines are honoured exactly: the core is woken at the instant it
/// asked for.
pub fn run_until(core: &mut impl Core, clock: Clock, until_ms: u64) -> Vec<(u64, Transmit)> {
    let mut sent = Vec::new();
    let end = clock.at(until_ms);
    let mut guard = 0;
    while let Some(t) = core.poll_timeout().filter(|t| *t <= end) {
        guard += 1;
        assert!(guard < 100_000, "the core never stops asking to be woken");
        core.handle_timeout(t);
        sent.extend(drain(core, clock.ms(t)));
    }
    sent
}

pub fn parse(t: &Transmit) -> Message {
    match deskphone_sip::inspect(&t.payload) {
        deskphone_sip::Verdict::Request(m) | deskphone_sip::Verdict::Response(m) => m,
        other => panic!(
            "the core sent something it would not accept itself: {other:?}\n{}",
            String::from_utf8_lossy(&t.payload)
        ),
    }
}

pub fn text(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.payload).into_owned()
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/rfc4475")
}

/// Builds a datagram from lines (CRLF added) and a body.
pub fn datagram(lines: &[&str], body: &str) -> Vec<u8> {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

/// A response to a request the core sent: its Via, From, To (with `to_tag`), Call-ID and
/// CSeq, plus `extra` header lines.
pub fn reply(request: &Message, code: u16, reason: &str, to_tag: &str, extra: &[&str]) -> Vec<u8> {
    use deskphone_sip::Name;
    let mut lines = vec![format!("SIP/2.0 {code} {reason}")];
    for via in request.vias() {
        lines.push(format!("Via: {via}"));
    }
    lines.push(format!("From: {}", request.header(&Name::FROM).unwrap()));
    let to = request.header(&Name::TO).unwrap();
    lines.push(if request.to_tag().is_some() || to_tag.is_empty() {
        format!("To: {to}")
    } else {
        format!("To: {to};tag={to_tag}")
    });
    lines.push(format!("Call-ID: {}", request.call_id().unwrap()));
    lines.push(format!("CSeq: {}", request.header(&Name::CSEQ).unwrap()));
    for e in extra {
        lines.push(e.to_string());
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    datagram(&refs, "")
}

/// Reads a response without judging it: answers to malformed requests echo what was wrong.
pub fn lenient(t: &Transmit) -> Message {
    let text = text(t);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap();
    let code = status.split(' ').nth(1).unwrap().parse().unwrap();
    let mut m = Message::response(code, "");
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        m.push(
            deskphone_sip::Name::from(name.trim().to_string()),
            value.trim(),
        );
    }
    m
}
