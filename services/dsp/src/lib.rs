//! Sound processing for the deskphone firmware: pure computation, no I/O.
//!
//! The media daemon (`mediad`) owns the sockets, the sound card and the
//! timing; this crate only turns sample blocks into other sample blocks or
//! payload bytes. Everything works on the phone's one internal format:
//! 8000 Hz, mono, signed 16-bit PCM ([`SAMPLE_RATE`]). Functions take slices of
//! any length, so the caller can run 10 ms ([`FRAME_10MS`]) or 20 ms
//! ([`FRAME_20MS`]) frames, or anything else; the few algorithms that work on
//! fixed internal blocks (G.729's 10 ms frames, the DTMF detector's analysis
//! windows) buffer internally instead of imposing a frame size on the caller.
//!
//! Modules:
//! - [`g711`]: µ-law / A-law sample conversion (bit-exact with ITU-T G.711).
//! - [`codec`]: the [`codec::Encoder`] / [`codec::Decoder`] traits the media
//!   daemon uses, for PCMU, PCMA and (feature `g729`) G.729.
//! - `g729`: FFI to the system's libbcg729, only with the `g729` feature.
//! - [`plc`]: G.711 Appendix I style packet-loss concealment.
//! - [`tones`]: call-progress tones and ringer patterns from a data table.
//! - [`dtmf`]: in-band DTMF generation and detection.
//! - [`mix`]: three-way conference mixing with a soft limiter.
//! - [`vad`] and [`cn`]: energy VAD and RFC 3389 comfort noise.
//! - [`goertzel`]: single-frequency power measurement, also used by tests of
//!   other crates to check what frequencies a signal holds.
//! - [`level`]: dBm0 / dBov conversions shared by the others.
//!
//! Floating point is used freely: the target (the phone's ARM core with VFP)
//! handles it, and it keeps the algorithms readable. Only G.711 is integer,
//! because it must be bit-exact.

pub mod cn;
pub mod codec;
pub mod dtmf;
pub mod g711;
#[cfg(feature = "g729")]
pub mod g729;
pub mod goertzel;
pub mod level;
pub mod mix;
pub mod plc;
pub mod tones;
pub mod vad;

/// The internal sample rate in Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in a 10 ms frame at [`SAMPLE_RATE`].
pub const FRAME_10MS: usize = 80;
/// Samples in a 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_20MS: usize = 160;
