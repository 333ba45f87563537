//! `sipd`, the phone's SIP user agent, around the sans-IO core of `deskphone-sip`.
//!
//! - [`plan`]: from provd's effective configuration to the lines to register, where their
//!   REGISTERs go (DNS A lookups, `outbound_proxy`) and who may send a check-sync.
//! - [`shell`]: still without I/O, the user agents (a new one when the registrations
//!   change, the old one kept until it has unregistered), the answers to requests the
//!   core hands up (check-sync NOTIFY from the configured proxies only), and the per-line
//!   status.
//! - [`service`]: the thin tokio part: the UDP socket on `voip_control_port`, real time,
//!   the link to provd (configuration and its changes, check-sync handed over), the Unix
//!   socket of [`deskphone_ipc::sipd`], sd_notify.

pub mod media;
pub mod plan;
pub mod service;
pub mod shell;
