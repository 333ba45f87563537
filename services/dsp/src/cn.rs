//! RFC 3389 comfort noise: the level byte and a noise generator.
//!
//! The payload's first byte is the noise level as −dBov (0..=127, 0 dBov
//! being the RMS of a full-scale square wave, see [`crate::level`]). Spectral
//! coefficients are optional in RFC 3389; this phone sends none and ignores
//! received ones, generating white noise at the signalled level.

use crate::goertzel::mean_square;
use crate::level::{dbov_to_rms, rms_to_dbov};

/// The RFC 3389 level byte (−dBov, clamped to 0..=127) of a frame.
pub fn noise_level(frame: &[i16]) -> u8 {
    let ms = mean_square(frame);
    if ms <= 0.0 {
        return 127;
    }
    (-rms_to_dbov(ms.sqrt())).round().clamp(0.0, 127.0) as u8
}

/// A CN payload carrying only the level.
pub fn payload(level: u8) -> [u8; 1] {
    [level.min(127)]
}

/// The level from a received CN payload (`None` if empty).
pub fn parse_payload(payload: &[u8]) -> Option<u8> {
    payload.first().map(|b| b & 0x7F)
}

/// White-noise generator at an RFC 3389 level.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    amplitude: f64,
    state: u64,
}

impl ComfortNoise {
    /// Noise at `level` (−dBov); `seed` varies the sequence.
    pub fn new(level: u8, seed: u64) -> Self {
        let mut g = Self {
            amplitude: 0.0,
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        };
        g.set_level(level);
        g
    }

    /// Changes the level (e.g. on a new SID packet).
    pub fn set_level(&mut self, level: u8) {
        // A uniform variable on [-a, a] has RMS a/√3.
        self.amplitude = if level >= 127 {
            0.0
        } else {
            dbov_to_rms(-f64::from(level)) * 3f64.sqrt()
        };
    }

    /// Fills `out` with noise.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out {
            // xorshift64: cheap and good enough for noise.
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let u = (self.state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            *o = (u * self.amplitude).round().clamp(-32768.0, 32767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;

    #[test]
    fn level_round_trip_within_1_db() {
        for level in [20u8, 30, 40, 50, 60, 70] {
            let mut g = ComfortNoise::new(level, u64::from(level));
            let mut frame = [0i16; 1600];
            g.fill(&mut frame);
            let measured = noise_level(&frame);
            assert!(measured.abs_diff(level) <= 1, "{level} -> {measured}");
            let db = -rms_to_dbov(goertzel::rms(&frame));
            assert!((db - f64::from(level)).abs() < 1.0);
        }
    }

    #[test]
    fn payload_and_extremes() {
        assert_eq!(noise_level(&[0; 160]), 127);
        assert_eq!(noise_level(&[32767; 160]), 0);
        assert_eq!(parse_payload(&payload(45)), Some(45));
        assert_eq!(parse_payload(&[200, 1, 2]), Some(72));
        assert_eq!(parse_payload(&[]), None);
        let mut g = ComfortNoise::new(127, 1);
        let mut f = [1i16; 80];
        g.fill(&mut f);
        assert!(f.iter().all(|&s| s == 0));
    }

    #[test]
    fn noise_is_white() {
        let mut g = ComfortNoise::new(30, 9);
        let mut f = [0i16; 8000];
        g.fill(&mut f);
        for freq in [300.0, 1000.0, 3000.0] {
            assert!(goertzel::relative_power(&f, freq, 8000) < 0.01);
        }
    }
}
