//! A TFTP read client for provisioning: RFC 1350 with option negotiation
//! (RFC 2347) for `blksize` (RFC 2348), `tsize` and, optionally, `timeout`
//! (RFC 2349).
//!
//! The phone fetches `SIPDefault.cnf`, `SIP<MAC>.cnf`, dial plans and firmware
//! from the same TFTP tree a Cisco 7940/7960 uses. This crate does only that:
//! read one file into memory, octet mode, with a size limit.
//!
//! No existing crate fits: `async-tftp` is server-only, and `tftp_client` is a
//! blocking/smol client without option negotiation and without a sans-IO core.
//!
//! # Design: sans-IO
//!
//! The protocol lives in [`Transfer`], a state machine that owns no socket, no
//! clock and no thread. The caller moves datagrams between it and the network
//! and tells it the time. All time is external input, so tests drive
//! retransmissions and timeouts faster than real time, and the same core runs
//! under tokio ([`fetch`]), a blocking socket, or a simulation.
//!
//! # The run loop
//!
//! ```no_run
//! use std::net::{SocketAddr, UdpSocket};
//! use std::time::Instant;
//! use deskphone_tftp::{ClientConfig, Peer, Transfer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server: SocketAddr = "192.0.2.10:69".parse()?;
//! let socket = UdpSocket::bind("0.0.0.0:0")?;
//! let mut transfer = Transfer::new("SIPDefault.cnf", &ClientConfig::default(), Instant::now());
//! let mut buf = vec![0; 65536];
//! let file = loop {
//!     // 1. Send everything the core wants sent.
//!     while let Some(t) = transfer.poll_transmit() {
//!         let to = match t.to {
//!             Peer::Server => server,
//!             Peer::Addr(addr) => addr,
//!         };
//!         socket.send_to(&t.payload, to)?;
//!     }
//!     // 2. Stop once the outcome is known.
//!     if let Some(outcome) = transfer.poll_outcome() {
//!         break outcome?;
//!     }
//!     // 3. Wait for a datagram or the deadline, whichever comes first.
//!     let deadline = transfer.poll_timeout().expect("running transfers have a deadline");
//!     let wait = deadline.saturating_duration_since(Instant::now());
//!     socket.set_read_timeout(Some(wait.max(std::time::Duration::from_millis(1))))?;
//!     match socket.recv_from(&mut buf) {
//!         Ok((n, from)) => transfer.handle_datagram(Instant::now(), from, &buf[..n]),
//!         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
//!             || e.kind() == std::io::ErrorKind::TimedOut =>
//!         {
//!             transfer.handle_timeout(Instant::now())
//!         }
//!         Err(e) => return Err(e.into()),
//!     }
//! };
//! # let _ = file; Ok(()) }
//! ```
//!
//! # Inputs
//!
//! * [`Transfer::new`]: the file name, the [`ClientConfig`] and the start time.
//!   The read request is queued at once.
//! * [`Transfer::handle_datagram`]: every datagram received on the client's
//!   socket, with its source address. The core locks onto the address of the
//!   server's first reply (its transfer ID); anything from elsewhere is answered
//!   with ERROR 5 "Unknown transfer ID" and otherwise ignored.
//! * [`Transfer::handle_timeout`]: the current time once the deadline from
//!   [`Transfer::poll_timeout`] has passed.
//!
//! # Outputs
//!
//! * [`Transfer::poll_transmit`]: datagrams to send. [`Peer::Server`] means the
//!   address the caller fetches from (the well-known port, for the RRQ only);
//!   [`Peer::Addr`] is an exact address (the server's transfer ID).
//! * [`Transfer::poll_timeout`]: when to call `handle_timeout` next.
//!   Retransmission happens only there, never in reaction to a duplicate.
//! * [`Transfer::poll_outcome`]: the file, or a [`TftpError`], exactly once.
//!   Drain `poll_transmit` as well: the final ACK or an ERROR for the server
//!   may be queued with it.
//!
//! # Behaviour in brief
//!
//! Requests `octet` mode, `blksize` ([`ClientConfig::blksize`]) and `tsize=0`.
//! An OACK may lower the block size but never raise it; an unrequested option
//! or a bad value is answered with ERROR 8. A server that ignores options gets
//! 512-byte blocks; one that rejects them with ERROR 8 is asked again without.
//! Block numbers roll over from 65535 to 0. [`ClientConfig::max_size`] is checked
//! against the announced `tsize` and while receiving (ERROR 3 to the server),
//! and an announced `tsize` must match what arrives.

mod client;
mod packet;
mod transfer;

use std::time::Duration;

pub use client::{fetch, fetch_to_file};
pub use transfer::{Peer, Transfer, Transmit};

/// Settings of one transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Block size to request (RFC 2348), clamped to 8..=65464. The default,
    /// 1428, fits an Ethernet MTU of 1500 with IPv4 or IPv6 headers.
    pub blksize: u16,
    /// How long to wait for the server before retransmitting.
    pub timeout: Duration,
    /// Retransmissions of the same packet before giving up with
    /// [`TftpError::Timeout`].
    pub retries: u32,
    /// Largest file accepted, in bytes.
    pub max_size: u64,
    /// Also request the RFC 2349 `timeout` option, so that the server
    /// retransmits at the same pace (`timeout` rounded up to whole seconds,
    /// 1..=255).
    pub timeout_option: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            blksize: 1428,
            timeout: Duration::from_secs(1),
            retries: 5,
            max_size: 16 * 1024 * 1024,
            timeout_option: false,
        }
    }
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TftpError {
    /// The server answered ERROR 1 "File not found".
    #[error("file not found on the TFTP server")]
    NotFound,
    /// The server answered with any other ERROR packet.
    #[error("TFTP server error {code}: {message}")]
    Server { code: u16, message: String },
    /// No answer after the configured retransmissions.
    #[error("TFTP server did not answer in time")]
    Timeout,
    /// The file is (or is announced to be) larger than [`ClientConfig::max_size`].
    #[error("file exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The server broke the protocol (bad OACK, oversized block, wrong size...).
    #[error("TFTP protocol error: {0}")]
    Protocol(String),
    /// The file name is empty or contains NUL, so it cannot be requested.
    #[error("invalid TFTP file name {0:?}")]
    InvalidFilename(String),
    /// The socket failed.
    #[error("TFTP socket error: {0}")]
    Io(#[from] std::io::Error),
}
