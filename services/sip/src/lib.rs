//! The SIP core of the phone's user agent (`sipd`): message checks, transactions and
//! registration, as state machines without I/O.
//!
//! # Design: sans-IO
//!
//! Nothing here owns a socket, reads a clock or starts a thread. All time is external input:
//! every call that may start or fire a timer takes `now: Instant`, and the core says when it
//! next needs to be woken ([`UserAgent::poll_timeout`]). Tests therefore run retransmission
//! schedules, registration refreshes and back-offs in simulated time, faster than real time and
//! to the millisecond; the service wraps the same core in a thin UDP shell. Randomness (branches,
//! tags, Call-IDs, back-off jitter) comes from a seed given at construction.
//!
//! The layers, each readable alone:
//!
//! - [`check`]: what to do with a received datagram — hand it on, answer it with an error
//!   status (400, 416, 420, 483, 505, ...), or drop it — following RFC 3261 and the verdicts
//!   of the RFC 4475 torture tests. Never panics, whatever the bytes.
//! - [`message`]: the message model, on the ezk-sip-types header map (the library chosen by
//!   measuring the candidates on RFC 4475, see README.md), and [`syntax`] for the pieces of
//!   grammar the checks need beyond it.
//! - [`transaction`]: RFC 3261 section 17 client and server transactions, INVITE and
//!   non-INVITE, over UDP; timers A-M; `sip_invite_retx`/`sip_retx` as counts (see
//!   [`config::Timers`] for how the guide's counts and the RFC's timers meet); ACK for 3xx-6xx
//!   built inside the INVITE client transaction; responses routed by `received=`/`rport`.
//! - [`register`]: one registration state machine per line: REGISTER, refresh, digest
//!   challenges (MD5, SHA-256), unregister, back-off, failover to `proxy_backup` and back.
//! - [`call`]: calls — INVITE dialogs with SDP offer/answer (deskphone-sdp), CANCEL, BYE,
//!   hold and resume by re-INVITE, the incoming-call policies of the guide (`dnd_control`,
//!   `call_waiting`, `anonymous_call_block`), `callerid_blocking` and `remote_party_id`.
//! - [`transfer`]: blind, attended and semi-attended transfer (REFER, Replaces), being
//!   transferred, and the local three-way conference with `cnf_join_enable`.
//! - [`challenge`]: digest challenges the phone itself issues (check-sync authentication).
//! - [`mwi`]: the `message-summary` body of message-waiting NOTIFYs (RFC 3842).
//! - [`subscription`]: message waiting by subscription, one per line: SUBSCRIBE/NOTIFY
//!   (RFC 6665) of the `message-summary` package to the line's own address of record, with
//!   digest answers, refresh, the server's terminations, stop on 489/403/404/405 and back-off.
//! - [`ua`]: the [`UserAgent`] that wires transactions, registrations, subscriptions and calls
//!   together and answers OPTIONS.
//! - [`config`]: the parameters of the guide (`timer_t1`, `sip_retx`, `lineN_name`, ...) read
//!   from the effective configuration of deskphone-config.
//!
//! # The run loop
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::{Duration, Instant};
//! use deskphone_sip::{LineSettings, Settings, UaEvent, UserAgent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = UdpSocket::bind("0.0.0.0:5060")?;
//! let local = "192.0.2.20:5060".parse()?;
//! let mut ua = UserAgent::new(Settings::default(), local, 0x5eed);
//! let line = LineSettings {
//!     line: 1, name: "1001".into(), authname: Some("1001".into()),
//!     password: Some("secret".into()), display_name: None,
//!     proxy: "192.0.2.1".into(), proxy_port: 5060,
//! };
//! ua.add_line(line, "192.0.2.1:5060".parse()?)?;
//! ua.register(Instant::now(), 1);
//! let mut buf = vec![0; 65535];
//! loop {
//!     // 1. Send what the core wants sent.
//!     while let Some(t) = ua.poll_transmit() {
//!         socket.send_to(&t.payload, t.destination)?;
//!     }
//!     // 2. Act on what it reports.
//!     while let Some(event) = ua.poll_event() {
//!         match event {
//!             UaEvent::Registration { line, state } => println!("line {line}: {state:?}"),
//!             UaEvent::Call(event) => println!("{event:?}"),
//!             UaEvent::Transaction(event) => println!("{event:?}"),
//!             UaEvent::Subscription { line, state } => println!("line {line} MWI: {state:?}"),
//!             UaEvent::MessageSummary { line, summary } => println!("line {line}: {summary:?}"),
//!         }
//!     }
//!     // 3. Wait for a datagram or the next deadline, whichever comes first.
//!     let wait = ua
//!         .poll_timeout()
//!         .map(|t| t.saturating_duration_since(Instant::now()))
//!         .unwrap_or(Duration::from_secs(3600));
//!     socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
//!     match socket.recv_from(&mut buf) {
//!         Ok((n, from)) => ua.handle_datagram(Instant::now(), from, &buf[..n]),
//!         Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
//!         Err(e) => return Err(e.into()),
//!     }
//!     ua.handle_timeout(Instant::now());
//! }
//! # }
//! ```
//!
//! # Input and output
//!
//! In:
//! - **datagrams** — [`UserAgent::handle_datagram`] (`now`, source address, bytes);
//! - **time** — [`UserAgent::handle_timeout`], at or after [`UserAgent::poll_timeout`];
//! - **commands** — [`UserAgent::register`] / [`UserAgent::unregister`] per line,
//!   [`UserAgent::subscribe_mwi`] / [`UserAgent::unsubscribe_mwi`] per line,
//!   [`UserAgent::dial`], [`UserAgent::answer`], [`UserAgent::hangup`], [`UserAgent::hold`]
//!   for calls, [`UserAgent::respond`] and [`UserAgent::send_request`] for the layers above.
//!
//! Out:
//! - **datagrams to send** — [`UserAgent::poll_transmit`] gives a [`Transmit`] (destination
//!   and bytes);
//! - **events** — [`UserAgent::poll_event`]: registration and message-waiting subscription
//!   changes per line, message summaries of the subscriptions, call events
//!   (incoming, state changes, negotiated media, ended, refused by a policy), requests to
//!   answer, responses, timeouts, and what was rejected or dropped (for the log);
//! - **the next deadline** — [`UserAgent::poll_timeout`].
//!
//! Memory is bounded: at most [`transaction::MAX_TRANSACTIONS`] transactions on each side
//! (past that, requests get 503), finished transactions are gone after their timers, and at
//! most [`call::MAX_CALLS`] calls (past that, new INVITEs get 486).

pub mod call;
pub mod challenge;
pub mod check;
pub mod config;
pub mod message;
pub mod mwi;
pub mod register;
pub mod subscription;
pub mod syntax;
pub mod transaction;
pub mod transfer;
pub mod ua;
pub mod uri;

pub use call::{CallError, CallEvent, CallId, CallInfo, CallSettings, CallState, Party, Route};
pub use check::{inspect, Verdict};
pub use config::{LineSettings, Settings, Timers, UserInfo};
pub use message::{response_to, Message, StartLine};
pub use mwi::MessageSummary;
pub use register::{PrimaryNews, RegState, Registration, Server};
pub use subscription::SubState;
pub use transaction::{ClientTx, Endpoint, Event, ServerTx, Transmit};
pub use transfer::TransferTarget;
pub use ua::{UaEvent, UserAgent};

/// The header names and typed headers of ezk-sip-types, for building messages.
pub use ezk_sip_types::{header, Name};
