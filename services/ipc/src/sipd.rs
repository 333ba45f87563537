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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello { version: u32, service: String },
    Status(Box<Status>),
    Ok,
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A line's registration changed (the whole line, as [`Status::lines`] shows it).
    Line(LineStatus),
    /// Something for the Status Messages screen (a refused check-sync, ...).
    StatusMessage { text: String },
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
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["line"], 1);
        assert_eq!(v["name"], "1001");
        assert_eq!(v["registered"], true);
        assert_eq!(v["proxy"], "127.0.0.1:5060");
        assert_eq!(v["state"], "registered");
        assert_eq!(serde_json::from_value::<LineStatus>(v).unwrap(), l);
        let r: Request = serde_json::from_str(r#"{"request":"status"}"#).unwrap();
        assert_eq!(r, Request::Status);
    }
}
