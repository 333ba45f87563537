//! Discontinuous transmission with RFC 3389 comfort noise, for `enable_vad` when the far
//! end agreed to `CN`: speech is sent, silence is not. Where a silence starts, a SID
//! packet carries the level of the background noise so the far end plays comfort noise
//! instead of dead air; the SID is sent again every [`SID_REFRESH`] samples and as soon as
//! the level moves by [`SID_LEVEL_STEP`] dB, so the far end follows a changing
//! background.
//!
//! Sans-IO: one packet time of microphone in, what to send out; time is counted in
//! samples, as the RTP clock counts it.

use deskphone_dsp::cn;
use deskphone_dsp::vad::{Vad, VadConfig};

/// A SID is repeated after this many samples of silence (200 ms).
pub const SID_REFRESH: u32 = 1600;
/// A level change this large (dB) is sent at once.
pub const SID_LEVEL_STEP: u8 = 3;

/// What to send for one packet time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Speech: encode and send the audio.
    Speech,
    /// Silence: send a SID with this level (−dBov, RFC 3389) instead of the audio.
    Sid(u8),
    /// Silence already described: send nothing.
    Nothing,
}

#[derive(Debug, Clone)]
pub struct Dtx {
    vad: Vad,
    /// Samples since the last SID; `None` while speech is sent.
    since_sid: Option<u32>,
    /// The level of the last SID.
    level: u8,
}

impl Default for Dtx {
    fn default() -> Self {
        Dtx::new()
    }
}

impl Dtx {
    pub fn new() -> Dtx {
        Dtx {
            vad: Vad::new(VadConfig::default()),
            since_sid: None,
            level: 127,
        }
    }

    /// Decides what one packet time of audio (`pcm`, any length) becomes.
    pub fn decide(&mut self, pcm: &[i16]) -> Decision {
        if self.vad.process(pcm) {
            self.since_sid = None;
            return Decision::Speech;
        }
        let level = cn::noise_level(pcm);
        let samples = pcm.len() as u32;
        let due = match self.since_sid {
            // The silence starts: the far end must hear it at once.
            None => true,
            Some(since) => {
                since.saturating_add(samples) >= SID_REFRESH
                    || level.abs_diff(self.level) >= SID_LEVEL_STEP
            }
        };
        if due {
            self.since_sid = Some(0);
            self.level = level;
            Decision::Sid(level)
        } else {
            self.since_sid = self.since_sid.map(|s| s.saturating_add(samples));
            Decision::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(level: u8, n: usize, seed: u64) -> Vec<i16> {
        let mut out = vec![0i16; n];
        cn::ComfortNoise::new(level, seed).fill(&mut out);
        out
    }

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (i as f64 * 0.5).sin()) as i16)
            .collect()
    }

    #[test]
    fn silence_gives_a_sid_at_once_then_one_every_200_ms() {
        let mut dtx = Dtx::new();
        let decisions: Vec<Decision> = (0..50).map(|k| dtx.decide(&noise(70, 160, k))).collect();
        assert!(matches!(decisions[0], Decision::Sid(l) if l.abs_diff(70) <= 1));
        let sids: Vec<usize> = decisions
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d, Decision::Sid(_)))
            .map(|(i, _)| i)
            .collect();
        // 20 ms packets: a SID every tenth.
        assert_eq!(sids, [0, 10, 20, 30, 40], "{decisions:?}");
    }

    #[test]
    fn a_louder_background_is_sent_at_once_and_speech_ends_the_silence() {
        let mut dtx = Dtx::new();
        for k in 0..3 {
            dtx.decide(&noise(70, 160, k));
        }
        // 10 dB louder: still below the VAD's floor, a new SID at the next packet.
        assert!(matches!(dtx.decide(&noise(60, 160, 9)), Decision::Sid(l) if l.abs_diff(60) <= 1));
        assert_eq!(dtx.decide(&tone(160)), Decision::Speech);
        // After speech, the next silence starts with a SID again (after the hangover).
        let after: Vec<Decision> = (0..20).map(|k| dtx.decide(&noise(70, 160, k))).collect();
        let first_silent = after.iter().position(|d| *d != Decision::Speech).unwrap();
        assert!(matches!(after[first_silent], Decision::Sid(_)), "{after:?}");
    }
}
