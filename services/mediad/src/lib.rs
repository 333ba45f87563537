//! The media daemon of the phone.
//!
//! - [`core`]: the media of every call as a state machine without I/O: packets and audio
//!   frames in, packets and audio frames out, time as input (the same shape as sipd's SIP
//!   core), so a whole call is tested without sockets or sound cards;
//! - [`dtx`]: `enable_vad`'s silence suppression with RFC 3389 SID packets, per packet time;
//! - [`engine`]: the audio thread, paced by the sound device (or a WAV file in real time):
//!   one frame of microphone in, the core's work, one frame out to the earpiece;
//! - [`sockets`]: each call's RTP/RTCP sockets (`tos_media`, symmetric ports);
//! - [`service`]: the Unix socket (sipd's session orders, the UI's paths and tones, the
//!   status) and the receiving of packets;
//! - [`watchdog`]: systemd's watchdog, fed only while the audio thread goes round.

pub mod core;
pub mod dtx;
pub mod engine;
pub mod service;
pub mod sockets;
pub mod watchdog;
