//! RTP for the phone's media daemon (`mediad`), as sans-IO state machines.
//!
//! Nothing in this crate opens a socket, reads a clock, spawns a thread or asks the OS
//! for randomness. Time comes in as `now: Instant` arguments (plus a wall-clock
//! [`rtcp::NtpTime`] where RTCP needs one), randomness as a `seed` at construction,
//! and packets as byte slices. Outputs are returned or queued for `poll_*` calls, in the
//! style of quinn-proto and str0m. That keeps every part testable in simulated time.
//!
//! The parts:
//! - [`packet`]: RTP header parse/write (via `rtp-types`) and RTP/RTCP demultiplexing.
//! - [`sender::RtpSender`]: SSRC, sequence and timestamp of what we send; counters.
//! - [`receiver::RtpReceiver`]: RFC 3550 Appendix A statistics of what we receive, and
//!   the [`Stats`] the phone shows per call.
//! - [`rtcp::RtcpSession`]: compound SR/RR + SDES, BYE, the RFC 3550 report interval,
//!   round-trip time and the far end's view of our stream.
//! - [`telephone_event`]: RFC 4733 DTMF payloads, a sender and a de-duplicating receiver.
//! - [`jitter::JitterBuffer`]: the adaptive playout buffer; [`sim`] replays network
//!   scenarios through it.
//!
//! # Run loop (mediad)
//!
//! ```text
//! loop {
//!     wait for: RTP socket, RTCP socket, the audio clock (every frame), min(poll_timeout()s)
//!     RTP datagram  -> parse_rtp -> receiver.handle_packet(now, &hdr)
//!                      -> audio PT: jitter.push(now, seq, ts, ssrc, marker, payload)
//!                      -> event PT: dtmf_rx.handle_packet(now, &hdr, payload)
//!                      -> CN PT (RFC 3389 SID): jitter.push_silence(ts, ssrc)
//!     RTCP datagram -> rtcp.handle_packet(now, data); drain rtcp.poll_event()
//!     audio tick    -> jitter.pop(now) -> decode / conceal / silence -> speaker
//!                      mic frame -> dtmf_tx.next_packet(..) or encode -> sender.packet(..)
//!     timers        -> rtcp.handle_timeout(now, ntp, sender, receiver); dtmf_rx.handle_timeout(now)
//!     then send everything from rtcp.poll_transmit()
//! }
//! ```

pub mod jitter;
pub mod packet;
pub mod receiver;
pub mod rtcp;
pub mod sender;
pub mod sim;
pub mod telephone_event;

pub use jitter::{JitterBuffer, JitterConfig, JitterStats, Playout, Pushed};
pub use packet::{is_rtcp, parse_rtp, write_rtp, RtpHeader};
pub use receiver::{RtpReceiver, Stats};
pub use rtcp::{NtpTime, RemoteReport, RtcpEvent, RtcpSession};
pub use sender::RtpSender;
pub use telephone_event::{DtmfEvent, DtmfReceiver, DtmfSender, EventPayload};

/// The phone's audio clock rate (G.711, G.729 and telephone-event all use 8000 Hz).
pub const CLOCK_RATE: u32 = 8000;

/// Errors of this crate: malformed input or an invalid request, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A malformed RTP packet.
    #[error("malformed RTP packet: {0}")]
    Rtp(String),
    /// An RTP packet could not be written.
    #[error("cannot write RTP packet: {0}")]
    RtpWrite(String),
    /// A malformed RTCP packet.
    #[error("malformed RTCP packet: {0}")]
    Rtcp(String),
    /// An RTCP packet could not be written.
    #[error("cannot write RTCP packet: {0}")]
    RtcpWrite(String),
    /// Payload types are 7 bits.
    #[error("invalid payload type {0}")]
    InvalidPayloadType(u8),
    /// A telephone-event payload shorter than 4 bytes.
    #[error("telephone-event payload too short ({0} bytes)")]
    EventTooShort(usize),
    /// A jitter buffer configuration it cannot run.
    #[error("invalid jitter buffer configuration: {0}")]
    Config(&'static str),
    /// A line of a scenario file that does not parse.
    #[error("scenario line {line}: {msg}")]
    Scenario {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}
