//! G.729 through the system's libbcg729 (feature `g729`).
//!
//! The five functions are declared by hand from `/usr/include/bcg729/*.h`:
//! no maintained `-sys` crate for bcg729 exists that links the distribution's
//! library, and five declarations do not justify a bindgen build step.
//! libbcg729 is GPL, which is why this module is behind a feature.
//!
//! Payload layout (RFC 3551 §4.5.6): zero or more 10-byte speech frames,
//! optionally followed by one 2-byte SID (comfort-noise) frame. The encoder
//! buffers input into 10 ms frames, so any block length works.

use crate::codec::{CodecError, Decoder, Encoder};
use std::ffi::c_void;
use std::ptr::NonNull;

const FRAME: usize = 80;
const SPEECH_BYTES: usize = 10;
const SID_BYTES: usize = 2;

#[link(name = "bcg729")]
extern "C" {
    fn initBcg729EncoderChannel(enable_vad: u8) -> *mut c_void;
    fn closeBcg729EncoderChannel(ctx: *mut c_void);
    fn bcg729Encoder(ctx: *mut c_void, input: *const i16, bitstream: *mut u8, len: *mut u8);
    fn initBcg729DecoderChannel() -> *mut c_void;
    fn closeBcg729DecoderChannel(ctx: *mut c_void);
    fn bcg729Decoder(
        ctx: *mut c_void,
        bitstream: *const u8,
        len: u8,
        frame_erasure: u8,
        sid_frame: u8,
        rfc3389_payload: u8,
        signal: *mut i16,
    );
}

/// A G.729 encoder channel.
#[derive(Debug)]
pub struct G729Encoder {
    ctx: NonNull<c_void>,
    pending: Vec<i16>,
}

// SAFETY: the channel context is private heap state of libbcg729, touched
// only through `&mut self`; the library keeps no thread-local state.
unsafe impl Send for G729Encoder {}

impl G729Encoder {
    /// A new channel; `vad` enables Annex B VAD/DTX.
    pub fn new(vad: bool) -> Result<Self, CodecError> {
        // SAFETY: plain constructor call; a null result is handled.
        let ctx = unsafe { initBcg729EncoderChannel(u8::from(vad)) };
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(CodecError::Init("initBcg729EncoderChannel"))?,
            pending: Vec::with_capacity(2 * FRAME),
        })
    }
}

impl Drop for G729Encoder {
    fn drop(&mut self) {
        // SAFETY: ctx came from initBcg729EncoderChannel and is closed once.
        unsafe { closeBcg729EncoderChannel(self.ctx.as_ptr()) }
    }
}

impl Encoder for G729Encoder {
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(pcm);
        let frames = self.pending.len() / FRAME;
        let mut sid: Option<[u8; SID_BYTES]> = None;
        for f in 0..frames {
            let mut bits = [0u8; SPEECH_BYTES];
            let mut len = 0u8;
            // SAFETY: input has FRAME samples, output room for 10 bytes as
            // the header requires.
            unsafe {
                bcg729Encoder(
                    self.ctx.as_ptr(),
                    self.pending[f * FRAME..].as_ptr(),
                    bits.as_mut_ptr(),
                    &mut len,
                )
            };
            match usize::from(len) {
                SPEECH_BYTES => {
                    // A SID may only end a packet; one followed by speech in
                    // the same packet is superseded by that speech.
                    sid = None;
                    out.extend_from_slice(&bits);
                }
                SID_BYTES => sid = Some([bits[0], bits[1]]),
                _ => {}
            }
        }
        if let Some(s) = sid {
            out.extend_from_slice(&s);
        }
        self.pending.drain(..frames * FRAME);
    }
}

/// A G.729 decoder channel.
#[derive(Debug)]
pub struct G729Decoder {
    ctx: NonNull<c_void>,
}

// SAFETY: as for the encoder.
unsafe impl Send for G729Decoder {}

impl G729Decoder {
    /// A new channel.
    pub fn new() -> Result<Self, CodecError> {
        // SAFETY: plain constructor call; a null result is handled.
        let ctx = unsafe { initBcg729DecoderChannel() };
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(CodecError::Init("initBcg729DecoderChannel"))?,
        })
    }

    fn frame(&mut self, bits: &[u8], erased: bool, sid: bool, out: &mut Vec<i16>) {
        let mut pcm = [0i16; FRAME];
        let mut buf = [0u8; SPEECH_BYTES];
        buf[..bits.len()].copy_from_slice(bits);
        // No bitstream for an erased frame: after a SID the library then goes on
        // with comfort noise from the SID's parameters, where a buffer of zeros
        // would be read as a new SID at the lowest level.
        let stream = if bits.is_empty() {
            std::ptr::null()
        } else {
            buf.as_ptr()
        };
        // SAFETY: the bitstream is null (allowed for an erased frame) or a
        // 10-byte buffer (>= len); the output buffer holds 80 samples, as the
        // header requires.
        unsafe {
            bcg729Decoder(
                self.ctx.as_ptr(),
                stream,
                bits.len() as u8,
                u8::from(erased),
                u8::from(sid),
                0,
                pcm.as_mut_ptr(),
            )
        };
        out.extend_from_slice(&pcm);
    }
}

impl Drop for G729Decoder {
    fn drop(&mut self) {
        // SAFETY: ctx came from initBcg729DecoderChannel and is closed once.
        unsafe { closeBcg729DecoderChannel(self.ctx.as_ptr()) }
    }
}

impl Decoder for G729Decoder {
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let speech = payload.len() / SPEECH_BYTES;
        for f in payload.chunks_exact(SPEECH_BYTES) {
            self.frame(f, false, false, out);
        }
        let rest = &payload[speech * SPEECH_BYTES..];
        if rest.len() == SID_BYTES {
            self.frame(rest, false, true, out);
        } else if !rest.is_empty() {
            // Malformed tail: treat that frame as lost.
            self.frame(&[], true, false, out);
        }
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        // The library continues comfort noise if the last frame was a SID,
        // and extrapolates speech otherwise.
        let start = out.len();
        for _ in 0..samples.div_ceil(FRAME) {
            self.frame(&[], true, false, out);
        }
        out.truncate(start + samples);
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
    fn tone_survives_encode_decode() {
        let mut enc = G729Encoder::new(false).unwrap();
        let mut dec = G729Decoder::new().unwrap();
        let pcm = tone(8000);
        let mut decoded = Vec::new();
        for frame in pcm.chunks(160) {
            let mut payload = Vec::new();
            enc.encode(frame, &mut payload);
            assert_eq!(payload.len(), 20);
            dec.decode(&payload, &mut decoded);
        }
        assert_eq!(decoded.len(), 8000);
        let tail = &decoded[4000..];
        assert!(goertzel::relative_power(tail, 1000.0, 8000) > 0.8);
        assert!(goertzel::relative_power(tail, 1500.0, 8000) < 0.01);
        // Level within a few dB of the input.
        let ratio = goertzel::rms(tail) / goertzel::rms(&pcm);
        assert!((0.5..2.0).contains(&ratio), "level ratio {ratio}");
    }

    #[test]
    fn odd_block_sizes_are_buffered() {
        let mut enc = G729Encoder::new(false).unwrap();
        let mut payload = Vec::new();
        enc.encode(&tone(50), &mut payload);
        assert!(payload.is_empty());
        enc.encode(&tone(120), &mut payload);
        assert_eq!(payload.len(), 20);
    }

    #[test]
    fn vad_on_silence_sends_sid_or_nothing() {
        let mut enc = G729Encoder::new(true).unwrap();
        let mut dec = G729Decoder::new().unwrap();
        let silence = vec![0i16; 160];
        let mut sizes = Vec::new();
        let mut out = Vec::new();
        for _ in 0..100 {
            let mut payload = Vec::new();
            enc.encode(&silence, &mut payload);
            sizes.push(payload.len());
            if payload.is_empty() {
                dec.conceal(160, &mut out);
            } else {
                dec.decode(&payload, &mut out);
            }
        }
        // After the start-up frames, no speech frames at all.
        assert!(
            sizes[10..].iter().all(|&s| s == 0 || s == SID_BYTES),
            "{sizes:?}"
        );
        assert!(sizes.contains(&SID_BYTES));
        assert!(sizes.contains(&0));
        // Comfort noise from silence stays quiet.
        assert!(goertzel::rms(&out[8000..]) < 100.0);
    }

    #[test]
    fn after_a_sid_missing_frames_go_on_as_comfort_noise_at_its_level() {
        let mut enc = G729Encoder::new(true).unwrap();
        let mut dec = G729Decoder::new().unwrap();
        // Background noise at -50 dBov (RMS about 100), until the first SID.
        let mut noise = vec![0i16; 160];
        let mut gen = crate::cn::ComfortNoise::new(50, 3);
        let mut out = Vec::new();
        let mut sid = false;
        for _ in 0..100 {
            gen.fill(&mut noise);
            let mut payload = Vec::new();
            enc.encode(&noise, &mut payload);
            if payload.is_empty() {
                dec.conceal(160, &mut out);
            } else {
                dec.decode(&payload, &mut out);
            }
            if payload.len() % SPEECH_BYTES == SID_BYTES {
                sid = true;
                break;
            }
        }
        assert!(sid, "the encoder sent a SID");
        // Then nothing for a second: comfort noise goes on at the SID's level.
        let mut cng = Vec::new();
        dec.conceal(8000, &mut cng);
        let ratio = goertzel::rms(&cng[4000..]) / goertzel::rms(&noise);
        assert!(
            (0.3..3.0).contains(&ratio),
            "comfort noise level ratio {ratio}"
        );
    }

    #[test]
    fn conceal_continues_the_tone() {
        let mut enc = G729Encoder::new(false).unwrap();
        let mut dec = G729Decoder::new().unwrap();
        let mut out = Vec::new();
        for frame in tone(4000).chunks(160) {
            let mut payload = Vec::new();
            enc.encode(frame, &mut payload);
            dec.decode(&payload, &mut out);
        }
        let mut lost = Vec::new();
        dec.conceal(160, &mut lost);
        assert_eq!(lost.len(), 160);
        // The library's concealment repeats the last excitation with
        // decaying gain: the first 10 ms must still be the tone.
        assert!(goertzel::relative_power(&lost[..80], 1000.0, 8000) > 0.8);
        assert!(goertzel::rms(&lost[..80]) > 1000.0);
    }
}
