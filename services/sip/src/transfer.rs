//! Transfers (REFER, RFC 3515; Replaces, RFC 3891) and the local three-way conference, on
//! top of the calls of [`crate::call`].
//!
//! As the transferor (`phonectl transfer`, the UI's Transfer key):
//! - **blind**: REFER to a number or URI; once the other party accepts it (202) the phone
//!   hangs up, as the 7940/7960 did: the transferee carries on alone.
//! - **attended**: the user has consulted the target on a second call; REFER with
//!   `Refer-To: <target AoR?Replaces=...>` so the transferee's INVITE replaces the
//!   consultation call at the target. The phone waits for the final NOTIFY: 2xx hangs up
//!   the first call (the target hangs up the consultation call itself); a failure leaves both
//!   calls as they were.
//! - **semi-attended** (`semi_attended_transfer` 1): the consultation call still rings; it is
//!   cancelled and the first call is transferred blind to its target. With 0 this is refused.
//!
//! As the transferee: a REFER is accepted (202), NOTIFYs report the new call's progress
//! (100 Trying, then its final status) in the REFER's dialog, and the new call carries the
//! Replaces and Referred-By the REFER asked for. As the target: an INVITE with Replaces
//! that matches a confirmed call is answered at once and the old call is hung up.
//!
//! Conference: two calls are mixed locally (mediad mixes; here both are taken off hold and
//! marked). When this phone leaves (hangs up a conference call) with `cnf_join_enable` 1,
//! the other two are joined by an attended transfer of one to the other; with 0 both are
//! hung up.

use std::time::{Duration, Instant};

use ezk_sip_types::Name;

use crate::call::{
    CallError, CallEvent, CallId, CallState, Calls, DialExtras, LineIdentity, Purpose,
};
use crate::message::{response_to, Message};
use crate::syntax::name_addr;
use crate::transaction::{ClientTx, Endpoint, ServerTx};

/// Referred-By (RFC 3892); compact form `b`.
pub(crate) const REFERRED_BY: Name = Name::custom("Referred-By", &["referred-by", "b"]);

/// How long the phone waits for a transfer's outcome before it gives up on it.
const REFER_PATIENCE: Duration = Duration::from_secs(32);

/// A transfer the phone asked for on a call.
#[derive(Debug, Clone)]
pub(crate) struct Refer {
    pub(crate) tx: Option<ClientTx>,
    pub(crate) deadline: Instant,
    /// Attended: the consultation call; the phone waits for the final NOTIFY.
    pub(crate) consultation: Option<CallId>,
}

/// Where a call is transferred to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// Blind: a number (through the line's proxy) or a `sip:` URI.
    Number(String),
    /// Attended (the other call is connected or held) or semi-attended (it still rings).
    Call(CallId),
}

/// `%XX` escapes of a URI header value undone (Replaces in Refer-To arrives escaped).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes what may not stand in a URI header value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        match c {
            ';' => out.push_str("%3B"),
            '=' => out.push_str("%3D"),
            '@' => out.push_str("%40"),
            '%' => out.push_str("%25"),
            '&' => out.push_str("%26"),
            '?' => out.push_str("%3F"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// The status code of a `message/sipfrag` body's first line (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let mut words = text.lines().next()?.split_whitespace();
    (words.next()? == "SIP/2.0").then_some(())?;
    words.next()?.parse().ok()
}

impl Calls {
    /// Transfers `call` (connected or held) to `target`; see the module documentation.
    pub fn transfer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        call: CallId,
        target: TransferTarget,
    ) -> Result<(), CallError> {
        let c = self.call_mut(call)?;
        if !matches!(c.state, CallState::Connected | CallState::Held) {
            return Err(CallError::WrongState(
                "only a connected or held call can be transferred",
            ));
        }
        if c.refer.is_some() {
            return Err(CallError::WrongState(
                "a transfer of this call is under way",
            ));
        }
        let (refer_to, consultation) = match target {
            TransferTarget::Number(n) => (target_uri(line, &n)?, None),
            TransferTarget::Call(other) if other == call => {
                return Err(CallError::WrongState(
                    "a call cannot be transferred to itself",
                ))
            }
            TransferTarget::Call(other) => {
                let o = self.call_mut(other)?;
                let aor = name_addr(&o.dialog.remote_uri)
                    .map(|a| a.uri.to_string())
                    .unwrap_or_else(|_| o.dialog.remote_target.clone());
                match o.state {
                    CallState::Connected | CallState::Held => {
                        let remote_tag = o.dialog.remote_tag.clone().unwrap_or_default();
                        let replaces = format!(
                            "{};to-tag={remote_tag};from-tag={}",
                            o.dialog.call_id, o.dialog.local_tag
                        );
                        (format!("{aor}?Replaces={}", escape(&replaces)), Some(other))
                    }
                    CallState::Calling | CallState::Ringback => {
                        if !self.settings.semi_attended_transfer {
                            return Err(CallError::WrongState(
                                "the target still rings and semi_attended_transfer is 0",
                            ));
                        }
                        self.hangup(now, ep, other)?;
                        (aor, None)
                    }
                    _ => {
                        return Err(CallError::WrongState(
                            "the other call is not connected, held or ringing",
                        ))
                    }
                }
            }
        };
        self.send_refer(now, ep, line, call, refer_to, consultation)
    }

    fn send_refer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
        refer_to: String,
        consultation: Option<CallId>,
    ) -> Result<(), CallError> {
        let user_agent = self.settings.user_agent.clone();
        let c = self.call_mut(id)?;
        let mut m = c.request("REFER");
        m.push(Name::REFER_TO, format!("<{refer_to}>"));
        let by = name_addr(&c.dialog.local_uri)
            .map(|a| format!("<{}>", a.uri))
            .unwrap_or_default();
        m.push(REFERRED_BY, by);
        m.push(Name::CONTACT, format!("<{}>", line.contact));
        m.push(Name::USER_AGENT, user_agent);
        let next_hop = c.next_hop;
        let tx = ep
            .send_request(now, m, next_hop)
            .map_err(|e| CallError::Transaction(e.to_string()))?;
        c.refer = Some(Refer {
            tx: Some(tx),
            deadline: now + REFER_PATIENCE,
            consultation,
        });
        self.client.insert(tx, (id, Purpose::Refer));
        Ok(())
    }

    /// The answer to our REFER.
    pub(crate) fn refer_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        id: CallId,
        tx: ClientTx,
        response: &Message,
    ) {
        let code = response.code().unwrap_or_default();
        let Ok(c) = self.call_mut(id) else { return };
        let Some(refer) = &mut c.refer else { return };
        if refer.tx != Some(tx) {
            return;
        }
        match code {
            100..=199 => {}
            200..=299 => {
                refer.tx = None;
                if refer.consultation.is_none() {
                    // Blind or semi-attended: the transferee takes it from here.
                    self.send_bye(now, ep, id);
                    self.events.push_back(CallEvent::Transfer {
                        call: id,
                        ok: true,
                        outcome: "accepted by the other party".into(),
                    });
                    self.end(id, "transferred".into());
                }
            }
            _ => {
                let outcome = format!(
                    "refused: {}",
                    match &response.start {
                        crate::message::StartLine::Response { code, reason } => {
                            format!("{code} {reason}")
                        }
                        _ => code.to_string(),
                    }
                );
                self.refer_failed(id, outcome);
            }
        }
    }

    pub(crate) fn refer_failed(&mut self, id: CallId, outcome: String) {
        if let Ok(c) = self.call_mut(id) {
            if c.refer.take().is_some() {
                self.events.push_back(CallEvent::Transfer {
                    call: id,
                    ok: false,
                    outcome,
                });
            }
        }
    }

    /// No outcome in time: an attended transfer that was accepted is assumed done (the
    /// target hangs up the consultation call itself); anything else failed.
    pub(crate) fn refer_timed_out(&mut self, now: Instant, ep: &mut Endpoint, id: CallId) {
        let Ok(c) = self.call_mut(id) else { return };
        let accepted = c.refer.as_ref().is_some_and(|r| r.tx.is_none());
        if accepted {
            c.refer = None;
            self.send_bye(now, ep, id);
            self.events.push_back(CallEvent::Transfer {
                call: id,
                ok: true,
                outcome: "accepted, no final report".into(),
            });
            self.end(id, "transferred".into());
        } else {
            self.refer_failed(id, "no answer to the transfer".into());
        }
    }

    /// A NOTIFY in a call's dialog: the progress of a transfer we asked for.
    pub(crate) fn notify_received(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        id: CallId,
        tx: ServerTx,
        request: &Message,
    ) {
        let Ok(c) = self.call_mut(id) else { return };
        let tag = c.dialog.local_tag.clone();
        let event = request.header(&Name::EVENT).map(|e| {
            e.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        if event.as_deref() != Some("refer") {
            let mut r = response_to(request, 489, "Bad Event", &tag);
            r.push(Name::ALLOW_EVENTS, "refer");
            let _ = ep.respond(now, tx, r);
            return;
        }
        let _ = ep.respond(now, tx, response_to(request, 200, "OK", &tag));
        let Some(status) = sipfrag_status(&request.body) else {
            return;
        };
        if status < 200 || c.refer.is_none() {
            return;
        }
        if (200..300).contains(&status) {
            c.refer = None;
            self.send_bye(now, ep, id);
            self.events.push_back(CallEvent::Transfer {
                call: id,
                ok: true,
                outcome: format!("the other party reached the target ({status})"),
            });
            self.end(id, "transferred".into());
        } else {
            self.refer_failed(id, format!("the target answered {status}"));
        }
    }

    /// A REFER in a call's dialog: call the target and report to the referrer.
    pub(crate) fn refer_received(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        id: CallId,
        tx: ServerTx,
        request: &Message,
    ) {
        let Ok(c) = self.call_mut(id) else { return };
        let tag = c.dialog.local_tag.clone();
        let line_no = c.line;
        let referrer = c.dialog.remote_uri.clone();
        let refer_to = request
            .header(&Name::REFER_TO)
            .and_then(|v| name_addr(v).ok().map(|a| a.uri.to_string()));
        let Some(refer_to) = refer_to else {
            let _ = ep.respond(now, tx, response_to(request, 400, "Missing Refer-To", &tag));
            return;
        };
        let Some(line) = lines.iter().find(|l| l.settings.line == line_no).cloned() else {
            return;
        };
        let (target, headers) = match refer_to.split_once('?') {
            Some((t, h)) => (t.to_string(), h.to_string()),
            None => (refer_to.clone(), String::new()),
        };
        if !target.starts_with("sip:") && !target.starts_with("sips:") {
            let r = response_to(request, 416, "Unsupported URI Scheme", &tag);
            let _ = ep.respond(now, tx, r);
            return;
        }
        let mut initial = Vec::new();
        for h in headers.split('&').filter(|h| !h.is_empty()) {
            if let Some((name, value)) = h.split_once('=') {
                if name.eq_ignore_ascii_case("replaces") {
                    initial.push((Name::REPLACES, unescape(value)));
                }
            }
        }
        let by = request
            .header(&REFERRED_BY)
            .map(str::to_string)
            .unwrap_or(referrer);
        initial.push((REFERRED_BY, by));
        let mut accepted = response_to(request, 202, "Accepted", &tag);
        accepted.push(Name::CONTACT, format!("<{}>", line.contact));
        let _ = ep.respond(now, tx, accepted);
        let extras = DialExtras {
            headers: initial,
            referred_from: Some(id),
            route: Default::default(),
        };
        match self.dial_with(now, ep, &line, &target, extras) {
            Ok(new_call) => {
                self.events.push_back(CallEvent::Referred {
                    call: id,
                    new_call,
                    target,
                });
                self.send_notify(now, ep, &line, id, "SIP/2.0 100 Trying", false);
            }
            Err(e) => {
                let frag = match e {
                    CallError::TooManyCalls => "SIP/2.0 486 Busy Here",
                    _ => "SIP/2.0 503 Service Unavailable",
                };
                self.send_notify(now, ep, &line, id, frag, true);
            }
        }
    }

    fn send_notify(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
        sipfrag: &str,
        last: bool,
    ) {
        let user_agent = self.settings.user_agent.clone();
        let Ok(c) = self.call_mut(id) else { return };
        let mut m = c.request("NOTIFY");
        m.push(Name::EVENT, "refer");
        m.push(
            Name::SUBSCRIPTION_STATE,
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        m.push(Name::CONTACT, format!("<{}>", line.contact));
        m.push(Name::USER_AGENT, user_agent);
        m.push(Name::CONTENT_TYPE, "message/sipfrag;version=2.0");
        m.body = format!("{sipfrag}\r\n").into_bytes().into();
        let next_hop = c.next_hop;
        if let Ok(tx) = ep.send_request(now, m, next_hop) {
            self.client.insert(tx, (id, Purpose::Notify));
        }
    }

    /// Sends the NOTIFYs owed to referrers (a referred call was answered or failed).
    pub(crate) fn flush(&mut self, now: Instant, ep: &mut Endpoint, lines: &[LineIdentity]) {
        for (id, frag, last) in std::mem::take(&mut self.owed_notifies) {
            let line_no = self.calls.iter().find(|c| c.id == id).map(|c| c.line);
            if let Some(line) = line_no.and_then(|n| lines.iter().find(|l| l.settings.line == n)) {
                let line = line.clone();
                self.send_notify(now, ep, &line, id, &frag, last);
            }
        }
    }

    /// The confirmed call a Replaces header names (`call-id;to-tag=ours;from-tag=theirs`).
    pub(crate) fn find_replaced(&self, value: &str) -> Option<CallId> {
        let mut parts = value.split(';');
        let call_id = parts.next()?.trim();
        let (mut to, mut from) = (None, None);
        for p in parts {
            match p.trim().split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("to-tag") => to = Some(v.trim()),
                Some((k, v)) if k.trim().eq_ignore_ascii_case("from-tag") => from = Some(v.trim()),
                _ => {}
            }
        }
        let (to, from) = (to?, from?);
        self.calls
            .iter()
            .find(|c| {
                c.dialog.call_id == call_id
                    && c.dialog.local_tag == to
                    && c.dialog.remote_tag.as_deref() == Some(from)
                    && matches!(c.state, CallState::Connected | CallState::Held)
            })
            .map(|c| c.id)
    }

    /// Joins two calls in a local conference: the held one is resumed, both are marked,
    /// and mediad is told to mix them.
    pub fn conference(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        a: CallId,
        b: CallId,
    ) -> Result<(), CallError> {
        if a == b {
            return Err(CallError::WrongState("a conference needs two calls"));
        }
        if self.calls.iter().filter(|c| c.conference).count() > 0 {
            return Err(CallError::WrongState("a conference is already up"));
        }
        for id in [a, b] {
            let c = self.call_mut(id)?;
            if !matches!(c.state, CallState::Connected | CallState::Held) {
                return Err(CallError::WrongState(
                    "both calls must be connected or held",
                ));
            }
        }
        for id in [a, b] {
            let c = self.call_mut(id)?;
            let (held, line_no) = (c.state == CallState::Held, c.line);
            c.conference = true;
            if held {
                let line = lines
                    .iter()
                    .find(|l| l.settings.line == line_no)
                    .ok_or(CallError::NoSuchLine)?
                    .clone();
                self.hold(now, ep, &line, id, false)?;
            }
        }
        self.events
            .push_back(CallEvent::Conference { calls: vec![a, b] });
        Ok(())
    }

    /// This phone leaves its conference through `call`: join the other two
    /// (`cnf_join_enable` 1) or hang up both. `false` if `call` is in no conference.
    pub(crate) fn leave_conference(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        call: CallId,
    ) -> Result<bool, CallError> {
        if !self.calls.iter().any(|c| c.id == call && c.conference) {
            return Ok(false);
        }
        let other = self
            .calls
            .iter()
            .find(|c| c.id != call && c.conference)
            .map(|c| c.id);
        for c in self.calls.iter_mut().filter(|c| c.conference) {
            c.conference = false;
        }
        match other {
            Some(other) if self.settings.conference_join => {
                let line_no = self.call_mut(call)?.line;
                let line = lines
                    .iter()
                    .find(|l| l.settings.line == line_no)
                    .ok_or(CallError::NoSuchLine)?
                    .clone();
                self.transfer(now, ep, &line, call, TransferTarget::Call(other))?;
            }
            Some(other) => {
                self.hangup(now, ep, other)?;
                self.hangup(now, ep, call)?;
            }
            None => self.hangup(now, ep, call)?,
        }
        Ok(true)
    }
}

/// The URI a number is called at on `line` (as [`Calls::dial`] builds it).
pub(crate) fn target_uri(line: &LineIdentity, target: &str) -> Result<String, CallError> {
    let target = target.trim();
    if target.is_empty() || target.contains(['<', '>', '"', ' ', '\r', '\n']) {
        return Err(CallError::BadTarget(target.to_string()));
    }
    if target.starts_with("sip:") || target.starts_with("sips:") {
        return Ok(target.to_string());
    }
    let s = &line.settings;
    let port = if s.proxy_port == 5060 {
        String::new()
    } else {
        format!(":{}", s.proxy_port)
    };
    Ok(format!("sip:{target}@{}{port}{}", s.proxy, line.user_param))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_survives_escaping() {
        let r = "abc@192.0.2.1;to-tag=x1;from-tag=y2";
        assert_eq!(unescape(&escape(r)), r);
        assert_eq!(escape(r), "abc%40192.0.2.1%3Bto-tag%3Dx1%3Bfrom-tag%3Dy2");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%4"), "%4");
        assert_eq!(sipfrag_status(b"SIP/2.0 180 Ringing\r\n"), Some(180));
        assert_eq!(sipfrag_status(b"garbage"), None);
    }
}
