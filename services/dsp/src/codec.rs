//! The codec interface used by the media daemon.
//!
//! An [`Encoder`] turns one packet's worth of PCM into payload bytes; a
//! [`Decoder`] turns a received payload into PCM, or makes substitute audio
//! for a lost packet ([`Decoder::conceal`]). Both append to caller-owned
//! vectors so the daemon can reuse its buffers.
//!
//! The G.711 decoders run their output through [`crate::plc::Plc`], so their
//! output lags by [`crate::plc::Plc::DELAY`] samples (3.75 ms) in exchange
//! for smooth concealment. VAD/DTX for G.711 is the caller's business (see
//! [`crate::vad`] and [`crate::cn`]); for G.729 it is the codec's Annex B.

use crate::g711;
use crate::plc::Plc;

/// The codecs the phone speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.729 (Annex A compatible, Annex B VAD/DTX); needs the `g729` feature.
    G729,
}

impl CodecKind {
    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            CodecKind::Pcmu => 0,
            CodecKind::Pcma => 8,
            CodecKind::G729 => 18,
        }
    }

    /// The codec for a static RTP payload type.
    pub fn from_payload_type(pt: u8) -> Option<Self> {
        match pt {
            0 => Some(CodecKind::Pcmu),
            8 => Some(CodecKind::Pcma),
            18 => Some(CodecKind::G729),
            _ => None,
        }
    }

    /// The encoding name used in SDP `a=rtpmap`.
    pub fn rtp_name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::G729 => "G729",
        }
    }

    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// Whether this build can encode and decode the codec.
    pub fn is_available(self) -> bool {
        self != CodecKind::G729 || cfg!(feature = "g729")
    }
}

/// Why a codec could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The codec is not compiled into this build.
    #[error("{0} not built in (build deskphone-dsp with the `g729` feature)")]
    NotBuiltIn(&'static str),
    /// The codec library failed to create a channel.
    #[error("codec initialisation failed: {0}")]
    Init(&'static str),
}

/// Options for [`encoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Voice activity detection / discontinuous transmission. Used by G.729
    /// (Annex B); ignored by G.711, whose DTX is done by the caller.
    pub vad: bool,
}

/// PCM to payload.
pub trait Encoder {
    /// Encodes `pcm` (8 kHz mono) and appends the payload bytes to `out`.
    /// An empty append means "send nothing" (G.729 DTX).
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>);
}

/// Payload to PCM.
pub trait Decoder {
    /// Decodes one received payload, appending PCM to `out`.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>);
    /// Appends `samples` samples of substitute audio for a lost packet.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>);
}

/// Makes an encoder for `kind`.
pub fn encoder(
    kind: CodecKind,
    config: EncoderConfig,
) -> Result<Box<dyn Encoder + Send>, CodecError> {
    match kind {
        CodecKind::Pcmu => Ok(Box::new(G711Encoder { alaw: false })),
        CodecKind::Pcma => Ok(Box::new(G711Encoder { alaw: true })),
        CodecKind::G729 => g729_encoder(config),
    }
}

/// Makes a decoder for `kind`.
pub fn decoder(kind: CodecKind) -> Result<Box<dyn Decoder + Send>, CodecError> {
    match kind {
        CodecKind::Pcmu => Ok(Box::new(G711Decoder::new(false))),
        CodecKind::Pcma => Ok(Box::new(G711Decoder::new(true))),
        CodecKind::G729 => g729_decoder(),
    }
}

#[cfg(feature = "g729")]
fn g729_encoder(config: EncoderConfig) -> Result<Box<dyn Encoder + Send>, CodecError> {
    Ok(Box::new(crate::g729::G729Encoder::new(config.vad)?))
}

#[cfg(not(feature = "g729"))]
fn g729_encoder(_config: EncoderConfig) -> Result<Box<dyn Encoder + Send>, CodecError> {
    Err(CodecError::NotBuiltIn("G.729"))
}

#[cfg(feature = "g729")]
fn g729_decoder() -> Result<Box<dyn Decoder + Send>, CodecError> {
    Ok(Box::new(crate::g729::G729Decoder::new()?))
}

#[cfg(not(feature = "g729"))]
fn g729_decoder() -> Result<Box<dyn Decoder + Send>, CodecError> {
    Err(CodecError::NotBuiltIn("G.729"))
}

/// G.711 encoder (µ-law or A-law).
#[derive(Debug, Clone)]
pub struct G711Encoder {
    alaw: bool,
}

impl Encoder for G711Encoder {
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        if self.alaw {
            g711::alaw_encode_slice(pcm, out);
        } else {
            g711::ulaw_encode_slice(pcm, out);
        }
    }
}

/// G.711 decoder with Appendix I concealment.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    alaw: bool,
    plc: Plc,
    scratch: Vec<i16>,
}

impl G711Decoder {
    /// A decoder for A-law (`alaw`) or µ-law.
    pub fn new(alaw: bool) -> Self {
        Self {
            alaw,
            plc: Plc::new(),
            scratch: Vec::with_capacity(crate::FRAME_20MS),
        }
    }
}

impl Decoder for G711Decoder {
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        self.scratch.clear();
        if self.alaw {
            g711::alaw_decode_slice(payload, &mut self.scratch);
        } else {
            g711::ulaw_decode_slice(payload, &mut self.scratch);
        }
        self.plc.good(&self.scratch, out);
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn payload_types() {
        for k in [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::G729] {
            assert_eq!(CodecKind::from_payload_type(k.payload_type()), Some(k));
        }
        assert_eq!(CodecKind::from_payload_type(96), None);
    }

    #[test]
    fn g711_round_trip_through_traits() {
        for kind in [CodecKind::Pcmu, CodecKind::Pcma] {
            let mut enc = encoder(kind, EncoderConfig::default()).unwrap();
            let mut dec = decoder(kind).unwrap();
            let pcm = tone(1600);
            let mut decoded = Vec::new();
            for frame in pcm.chunks(160) {
                let mut payload = Vec::new();
                enc.encode(frame, &mut payload);
                assert_eq!(payload.len(), 160);
                dec.decode(&payload, &mut decoded);
            }
            assert_eq!(decoded.len(), 1600);
            let d = Plc::DELAY;
            for (a, b) in decoded[d..].iter().zip(&pcm) {
                // G.711's worst-case step at this level is well under 5 %.
                assert!(
                    (i32::from(*a) - i32::from(*b)).abs() <= 260,
                    "{kind:?} {a} {b}"
                );
            }
            // A lost packet is concealed with the same tone.
            let mut lost = Vec::new();
            dec.conceal(160, &mut lost);
            assert_eq!(lost.len(), 160);
            assert!(goertzel::relative_power(&lost, 1000.0, 8000) > 0.9);
        }
    }

    #[cfg(not(feature = "g729"))]
    #[test]
    fn g729_missing_is_a_clear_error() {
        let err = encoder(CodecKind::G729, EncoderConfig { vad: true })
            .err()
            .unwrap();
        assert_eq!(err, CodecError::NotBuiltIn("G.729"));
        assert!(err.to_string().contains("G.729 not built in"));
        assert!(decoder(CodecKind::G729).is_err());
        assert!(!CodecKind::G729.is_available());
    }
}
