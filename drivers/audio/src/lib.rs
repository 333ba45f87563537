//! Audio devices for the phone (see the crate README for the full picture).
//!
//! # Design
//!
//! The phone has one internal audio format: [`SAMPLE_RATE`] (8000 Hz), mono,
//! signed 16-bit PCM. Every backend converts to and from that format at its
//! edge, so the media daemon never deals with sample rates or channel counts.
//! It moves fixed frames (usually [`FRAME_10MS`] or [`FRAME_20MS`] samples)
//! through two small traits:
//!
//! * [`Capture::read`] blocks until one frame of microphone audio is there;
//! * [`Playback::write`] blocks until one frame has been handed to the
//!   output, and [`Playback::queued`] says how much audio is waiting to be
//!   played, when the backend knows, for latency and clock-drift decisions.
//!
//! Both traits are object safe and `Send`, so a daemon holds
//! `Box<dyn Capture>` / `Box<dyn Playback>` and moves them into its audio
//! thread. Which backend sits behind a box is decided by the device *name*
//! (see [`open_capture`] / [`open_playback`]): names are ALSA PCM names on
//! the phone, and the host backends have their own prefixes so a development
//! machine or a test can run the whole phone with WAV files or silence:
//!
//! | name | capture | playback |
//! | --- | --- | --- |
//! | `wav:PATH` | [`WavSource`]: loops the file, converted to 8 kHz mono | [`WavSink`]: writes an 8 kHz mono WAV |
//! | `host:null` | [`NullSource`]: silence | [`NullSink`]: discards |
//! | anything else | ALSA (feature `alsa`) | ALSA (feature `alsa`) |
//!
//! Host backends pace themselves against a monotonic clock, like a sound
//! card would, unless they are built unpaced for tests.
//!
//! Errors are [`AudioError`]s whose messages name the device and are meant to
//! be shown to a user as they are: a missing headset or a sound card held by
//! another program is a status line, never a crash.
//!
//! Speakerphone echo cancellation sits behind [`EchoCanceller`]; see
//! [`aec`].

#![forbid(unsafe_code)]

pub mod aec;
#[cfg(feature = "alsa")]
pub mod alsa_backend;
mod null;
mod pacing;
mod resample;
mod wav;

pub use aec::{Aec3Canceller, EchoCanceller, PassThrough};
#[cfg(feature = "alsa")]
pub use alsa_backend::{AlsaCapture, AlsaPlayback};
pub use null::{NullSink, NullSource};
pub use pacing::Pacing;
pub use wav::{WavSink, WavSource};

use std::fmt;
use std::path::PathBuf;

/// The phone's internal sample rate, in Hz.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in a 10 ms frame at [`SAMPLE_RATE`].
pub const FRAME_10MS: usize = 80;
/// Samples in a 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_20MS: usize = 160;

/// Device-name prefix selecting the WAV file backends.
pub const WAV_PREFIX: &str = "wav:";
/// Device name selecting the null backends (silence in, discard out).
pub const NULL_DEVICE: &str = "host:null";

/// What can go wrong with an audio device.
///
/// Every message names the device, in words meant for the phone's display or
/// log, and none of them is fatal to the caller: it may retry, fall back to
/// another path or show the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The device does not exist, or went away (e.g. a USB headset was
    /// unplugged).
    #[error("audio device '{device}' is not present")]
    Missing { device: String },
    /// The device exists but another program holds it.
    #[error("audio device '{device}' is in use by another program")]
    Busy { device: String },
    /// The device (or file) cannot deliver or accept the needed format.
    #[error("audio device '{device}' cannot use the needed audio format: {detail}")]
    Format { device: String, detail: String },
    /// Reading or writing failed at the operating-system level.
    #[error("audio device '{device}' failed to transfer audio: {source}")]
    Io {
        device: String,
        #[source]
        source: std::io::Error,
    },
    /// The device failed in a way none of the other variants describes
    /// (`detail` carries the driver's own words).
    #[error("audio device '{device}' failed: {detail}")]
    Device { device: String, detail: String },
    /// The name needs a backend this build does not include.
    #[error("audio device '{device}' needs ALSA support, which this build does not include")]
    Unsupported { device: String },
}

impl AudioError {
    /// The device name the error is about.
    pub fn device(&self) -> &str {
        match self {
            AudioError::Missing { device }
            | AudioError::Busy { device }
            | AudioError::Format { device, .. }
            | AudioError::Io { device, .. }
            | AudioError::Device { device, .. }
            | AudioError::Unsupported { device } => device,
        }
    }
}

/// A source of microphone audio in the phone's format.
pub trait Capture: Send {
    /// Fills `frame` with the next `frame.len()` samples, blocking until
    /// they are there.
    fn read(&mut self, frame: &mut [i16]) -> Result<(), AudioError>;

    /// Over- and underruns recovered from so far (zero where the backend
    /// cannot have any).
    fn xruns(&self) -> u64 {
        0
    }
}

/// A sink for loudspeaker/earpiece audio in the phone's format.
pub trait Playback: Send {
    /// Queues `frame` for playing, blocking while the output is full.
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError>;

    /// Samples written but not yet played, if the backend knows; used for
    /// latency and clock-drift decisions.
    fn queued(&self) -> Option<usize> {
        None
    }

    /// Over- and underruns recovered from so far.
    fn xruns(&self) -> u64 {
        0
    }
}

impl<C: Capture + ?Sized> Capture for Box<C> {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        (**self).read(frame)
    }
    fn xruns(&self) -> u64 {
        (**self).xruns()
    }
}

impl<P: Playback + ?Sized> Playback for Box<P> {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        (**self).write(frame)
    }
    fn queued(&self) -> Option<usize> {
        (**self).queued()
    }
    fn xruns(&self) -> u64 {
        (**self).xruns()
    }
}

/// The phone's audio paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioPath {
    Handset,
    Speaker,
    Headset,
}

impl AudioPath {
    /// All paths, in display order.
    pub const ALL: [AudioPath; 3] = [AudioPath::Handset, AudioPath::Speaker, AudioPath::Headset];

    /// Whether the path needs echo cancellation (open microphone next to a
    /// loudspeaker).
    pub fn needs_echo_cancellation(self) -> bool {
        matches!(self, AudioPath::Speaker)
    }
}

impl fmt::Display for AudioPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AudioPath::Handset => "handset",
            AudioPath::Speaker => "speaker",
            AudioPath::Headset => "headset",
        })
    }
}

/// The device names of one path: microphone and loudspeaker/earpiece may be
/// on different devices (e.g. a USB headset's capture is its own card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathDevices {
    /// Name opened with [`open_capture`].
    pub capture: String,
    /// Name opened with [`open_playback`].
    pub playback: String,
}

impl PathDevices {
    /// One name for both directions, the usual case for an ALSA card.
    pub fn same(name: impl Into<String>) -> Self {
        let name = name.into();
        PathDevices {
            capture: name.clone(),
            playback: name,
        }
    }
}

/// Which device each audio path uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    pub handset: PathDevices,
    pub speaker: PathDevices,
    pub headset: PathDevices,
    /// The path the ringer plays on; the speaker on every supported board.
    pub ringer: AudioPath,
}

impl Default for AudioConfig {
    /// Every path on ALSA's `default` device, ringing on the speaker.
    fn default() -> Self {
        AudioConfig {
            handset: PathDevices::same("default"),
            speaker: PathDevices::same("default"),
            headset: PathDevices::same("default"),
            ringer: AudioPath::Speaker,
        }
    }
}

impl AudioConfig {
    /// Every path on the null backend: runs anywhere, hears nothing.
    pub fn null() -> Self {
        AudioConfig {
            handset: PathDevices::same(NULL_DEVICE),
            speaker: PathDevices::same(NULL_DEVICE),
            headset: PathDevices::same(NULL_DEVICE),
            ringer: AudioPath::Speaker,
        }
    }

    /// The devices of `path`.
    pub fn devices(&self, path: AudioPath) -> &PathDevices {
        match path {
            AudioPath::Handset => &self.handset,
            AudioPath::Speaker => &self.speaker,
            AudioPath::Headset => &self.headset,
        }
    }

    /// Playback device name for the ringer.
    pub fn ringer_device(&self) -> &str {
        &self.devices(self.ringer).playback
    }
}

/// Which backend a device name selects (see the crate docs for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// A WAV file at this path.
    Wav(PathBuf),
    /// The null backend.
    Null,
    /// An ALSA PCM name.
    Alsa(String),
}

impl DeviceKind {
    /// Classifies a configured device name.
    pub fn parse(name: &str) -> DeviceKind {
        if let Some(path) = name.strip_prefix(WAV_PREFIX) {
            DeviceKind::Wav(PathBuf::from(path))
        } else if name == NULL_DEVICE {
            DeviceKind::Null
        } else {
            DeviceKind::Alsa(name.to_string())
        }
    }
}

/// Opens a capture device by configured name, with real-time pacing for the
/// host backends.
///
/// `frame_len` is the frame size the caller will read (used to size ALSA's
/// period; host backends accept any size).
pub fn open_capture(name: &str, frame_len: usize) -> Result<Box<dyn Capture>, AudioError> {
    match DeviceKind::parse(name) {
        DeviceKind::Wav(path) => Ok(Box::new(WavSource::open(path, Pacing::RealTime)?)),
        DeviceKind::Null => Ok(Box::new(NullSource::new(Pacing::RealTime))),
        DeviceKind::Alsa(pcm) => open_alsa_capture(&pcm, frame_len),
    }
}

/// Opens a playback device by configured name, with real-time pacing for the
/// host backends. A `wav:` file is created (or truncated).
pub fn open_playback(name: &str, frame_len: usize) -> Result<Box<dyn Playback>, AudioError> {
    match DeviceKind::parse(name) {
        DeviceKind::Wav(path) => Ok(Box::new(WavSink::create(path, Pacing::RealTime)?)),
        DeviceKind::Null => Ok(Box::new(NullSink::new(Pacing::RealTime))),
        DeviceKind::Alsa(pcm) => open_alsa_playback(&pcm, frame_len),
    }
}

#[cfg(feature = "alsa")]
fn open_alsa_capture(name: &str, frame_len: usize) -> Result<Box<dyn Capture>, AudioError> {
    Ok(Box::new(AlsaCapture::open(name, frame_len)?))
}

#[cfg(feature = "alsa")]
fn open_alsa_playback(name: &str, frame_len: usize) -> Result<Box<dyn Playback>, AudioError> {
    Ok(Box::new(AlsaPlayback::open(name, frame_len)?))
}

#[cfg(not(feature = "alsa"))]
fn open_alsa_capture(name: &str, _frame_len: usize) -> Result<Box<dyn Capture>, AudioError> {
    Err(AudioError::Unsupported {
        device: name.to_string(),
    })
}

#[cfg(not(feature = "alsa"))]
fn open_alsa_playback(name: &str, _frame_len: usize) -> Result<Box<dyn Playback>, AudioError> {
    Err(AudioError::Unsupported {
        device: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_select_backends() {
        assert_eq!(
            DeviceKind::parse("wav:/tmp/a.wav"),
            DeviceKind::Wav(PathBuf::from("/tmp/a.wav"))
        );
        assert_eq!(DeviceKind::parse("host:null"), DeviceKind::Null);
        // ALSA's own null PCM is still ALSA.
        assert_eq!(DeviceKind::parse("null"), DeviceKind::Alsa("null".into()));
        assert_eq!(
            DeviceKind::parse("plughw:CARD=Device"),
            DeviceKind::Alsa("plughw:CARD=Device".into())
        );
    }

    #[test]
    fn config_maps_paths_and_ringer() {
        let cfg = AudioConfig {
            speaker: PathDevices::same("plughw:CARD=Speaker"),
            headset: PathDevices {
                capture: "plughw:CARD=HeadsetMic".into(),
                playback: "plughw:CARD=Headset".into(),
            },
            ..AudioConfig::default()
        };
        assert_eq!(cfg.devices(AudioPath::Handset).playback, "default");
        assert_eq!(
            cfg.devices(AudioPath::Headset).capture,
            "plughw:CARD=HeadsetMic"
        );
        assert_eq!(cfg.ringer_device(), "plughw:CARD=Speaker");
        assert!(AudioPath::Speaker.needs_echo_cancellation());
        assert!(!AudioPath::Handset.needs_echo_cancellation());
        assert_eq!(AudioPath::Headset.to_string(), "headset");
    }

    #[test]
    fn errors_name_the_device() {
        let e = AudioError::Busy {
            device: "plughw:CARD=Handset".into(),
        };
        assert_eq!(e.device(), "plughw:CARD=Handset");
        assert_eq!(
            e.to_string(),
            "audio device 'plughw:CARD=Handset' is in use by another program"
        );
        let e = AudioError::Missing {
            device: "hw:CARD=X".into(),
        };
        assert!(e.to_string().contains("'hw:CARD=X' is not present"));
    }

    #[test]
    fn null_names_open_without_hardware() {
        let mut cap = open_capture(NULL_DEVICE, FRAME_10MS).unwrap();
        let mut frame = [1i16; FRAME_10MS];
        cap.read(&mut frame).unwrap();
        assert!(frame.iter().all(|&s| s == 0));
        let mut play = open_playback(NULL_DEVICE, FRAME_10MS).unwrap();
        play.write(&frame).unwrap();
    }

    #[cfg(not(feature = "alsa"))]
    #[test]
    fn alsa_names_without_feature_are_unsupported() {
        match open_capture("default", FRAME_10MS) {
            Err(AudioError::Unsupported { device }) => assert_eq!(device, "default"),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("ALSA name opened without the alsa feature"),
        }
        assert!(matches!(
            open_playback("default", FRAME_10MS),
            Err(AudioError::Unsupported { .. })
        ));
    }
}
