//! The SIP user agent's socket: requests, replies, events, status.

use serde::{Deserialize, Serialize};

use crate::Hello;

/// What clients (the UI, phonectl, tests) ask sipd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    /// sipd's part of `phonectl status --json`: the lines and their registrations.
    Status,
    /// Receive [`Event`]s from now on.
    Subscribe,
    /// Place a call on `line` (default: the first line) to a number or `sip:` URI.
    Dial {
        line: Option<u8>,
        number: String,
    },
    /// Answer a ringing call (default: the one that rang first).
    Answer {
        call: Option<u32>,
    },
    /// End a call: hang up, cancel, or decline one that rings (default: the newest call).
    Hangup {
        call: Option<u32>,
    },
    /// Put a connected call on hold (default: the connected one).
    Hold {
        call: Option<u32>,
    },
    /// Take a call off hold (default: the held one, newest first).
    Resume {
        call: Option<u32>,
    },
    /// Transfer `call` blind to the number or URI `to`, or (attended, or semi-attended
    /// while it still rings) to the other party of `to_call`. Defaults: with two calls and no
    /// target, the held call goes to the other one; with `to`, the connected call.
    Transfer {
        call: Option<u32>,
        to: Option<String>,
        to_call: Option<u32>,
    },
    /// Mix two calls in a local three-way conference (default: the two calls there are).
    Conference {
        calls: Vec<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello {
        version: u32,
        service: String,
    },
    Status(Box<Status>),
    /// The call a request started or acted on.
    Call {
        call: CallStatus,
    },
    Ok,
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A line's registration changed (the whole line, as [`Status::lines`] shows it).
    Line(LineStatus),
    /// Something for the Status Messages screen (a refused check-sync, ...).
    StatusMessage { text: String },
    /// A call appeared or changed (the whole call, as [`Status::calls`] shows it).
    Call(CallStatus),
    /// A call ended. `missed`: it rang here and nobody answered.
    CallEnded {
        call: CallStatus,
        reason: String,
        missed: bool,
    },
    /// A transfer this phone asked for ended: `ok`, the other party reached the target and
    /// the call was hung up here; otherwise the call is as it was.
    Transfer {
        call: u32,
        ok: bool,
        outcome: String,
    },
    /// An incoming call was refused by a setting (`dnd_control`, `anonymous_call_block`,
    /// `call_waiting`) or because the phone was busy: for the Missed Calls directory.
    CallRefused {
        line: u8,
        remote: String,
        status: u16,
        why: String,
    },
}

/// sipd's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub sipd: String,
    pub protocol: u32,
    /// `waiting_for_provd` (no configuration yet), `no_sip_socket` (the SIP port cannot be
    /// bound; tried again every 5 s), `running`, `stopping`.
    pub state: String,
    /// Why the state is not `running`, when there is more to say.
    pub reason: Option<String>,
    /// The SIP socket (`voip_control_port`), once bound.
    pub sip_address: Option<String>,
    /// Lines 1-6 that have a `lineN_name`, in order.
    pub lines: Vec<LineStatus>,
    /// The calls, oldest first.
    #[serde(default)]
    pub calls: Vec<CallStatus>,
}

/// One call: what `phonectl status --json` shows under `calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStatus {
    pub id: u32,
    pub line: u8,
    /// `calling`, `ringback` (the far end rings), `ringing` (rings here), `connected`,
    /// `held` (held by us), `ended`.
    pub state: String,
    /// The other party as shown: `Name <number>`, `number`, or `Anonymous`.
    pub remote: String,
    /// The other party's URI.
    pub remote_uri: String,
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// The other party put the call on hold.
    pub remote_held: bool,
    /// The RTP port of the call (RTCP on the next one).
    pub local_port: u16,
    /// Seconds since the call was connected (0 before).
    pub connected_for: u64,
    /// Mixed with another call in a local three-way conference.
    #[serde(default)]
    pub conference: bool,
    /// A transfer of this call is under way.
    #[serde(default)]
    pub transferring: bool,
}

impl CallStatus {
    /// What else is true of the call, as text for phonectl and the console: each condition
    /// after ", " (empty when none).
    pub fn conditions(&self) -> String {
        let mut out = String::new();
        for (on, text) in [
            (self.remote_held, "held by the other party"),
            (self.conference, "in conference"),
            (self.transferring, "being transferred"),
        ] {
            if on {
                out.push_str(", ");
                out.push_str(text);
            }
        }
        out
    }
}

/// One line and its registration: what `phonectl status --json` shows under `lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineStatus {
    pub line: u8,
    /// `lineN_name`.
    pub name: String,
    pub registered: bool,
    /// The registrar as configured: `proxyN_address:proxyN_port` (with the proxy 1 fallback).
    pub proxy: String,
    /// `unregistered`, `registering`, `registered`, `failed`.
    pub state: String,
    /// Why the line is not registered (`proxy_register is 0`, `authentication refused ...`,
    /// `no response from the registrar`, a DNS error), `null` when registered.
    pub reason: Option<String>,
    /// Seconds until the next attempt after a failure.
    pub retry_in: Option<u64>,
    /// Seconds the registrar granted, while registered.
    pub expires_in: Option<u64>,
    /// Failed attempts in a row (the back-off grows with it).
    pub failures: u32,
    /// Which registrar the line uses: `primary` (its proxy, or the outbound proxy) or
    /// `backup` (`proxy_backup`): the one holding the binding while registered, else the one
    /// being tried. `primary` from a sipd that predates failover.
    #[serde(default = "primary")]
    pub using: String,
    /// The backup registrar as configured, `proxy_backup:proxy_backup_port`, when the line
    /// can fail over to it (`null` without `proxy_backup`, or with an `outbound_proxy`).
    #[serde(default)]
    pub backup: Option<String>,
    /// The voice mailbox has messages (RFC 3842 `message-summary` NOTIFY): the lamp.
    #[serde(default)]
    pub messages_waiting: bool,
    /// New and old voice messages, when the mailbox said.
    #[serde(default)]
    pub voice_messages: Option<VoiceMessages>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceMessages {
    pub new: u32,
    pub old: u32,
}

fn primary() -> String {
    "primary".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_serialises_with_the_documented_keys() {
        let l = LineStatus {
            line: 1,
            name: "1001".into(),
            registered: true,
            proxy: "127.0.0.1:5060".into(),
            state: "registered".into(),
            reason: None,
            retry_in: None,
            expires_in: Some(3600),
            failures: 0,
            using: "backup".into(),
            backup: Some("127.0.0.1:5070".into()),
            messages_waiting: true,
            voice_messages: Some(VoiceMessages { new: 2, old: 8 }),
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["line"], 1);
        assert_eq!(v["name"], "1001");
        assert_eq!(v["registered"], true);
        assert_eq!(v["proxy"], "127.0.0.1:5060");
        assert_eq!(v["state"], "registered");
        assert_eq!(v["using"], "backup");
        assert_eq!(v["messages_waiting"], true);
        assert_eq!(v["voice_messages"]["new"], 2);
        assert_eq!(v["backup"], "127.0.0.1:5070");
        assert_eq!(serde_json::from_value::<LineStatus>(v.clone()).unwrap(), l);
        // A line from a sipd without failover reads as on its primary, without a backup.
        let mut old = v;
        let o = old.as_object_mut().unwrap();
        o.remove("using");
        o.remove("backup");
        let read = serde_json::from_value::<LineStatus>(old).unwrap();
        assert_eq!((read.using.as_str(), read.backup), ("primary", None));
        let r: Request = serde_json::from_str(r#"{"request":"status"}"#).unwrap();
        assert_eq!(r, Request::Status);
    }
}
