//! Energy voice-activity detection with hangover, for `enable_vad`.
//!
//! A frame is speech when its level exceeds both an absolute floor and the
//! tracked background noise by a margin. The noise estimate follows quiet
//! the frame level quickly downwards and slowly upwards, so a steady hum is
//! learned as background while speech onsets are not. After the last speech frame
//! the detector stays active for the hangover time, so word endings and
//! short pauses between words are still sent.

use crate::goertzel::mean_square;
use crate::level::{dbov_to_rms, rms_to_dbov};

/// VAD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Frames quieter than this (dBov) are never speech.
    pub floor_dbov: f64,
    /// Speech must exceed the noise estimate by this many dB.
    pub margin_db: f64,
    /// Time kept active after the last speech frame (ms).
    pub hangover_ms: u32,
    /// Sample rate (Hz).
    pub sample_rate: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            floor_dbov: -55.0,
            margin_db: 9.0,
            hangover_ms: 200,
            sample_rate: crate::SAMPLE_RATE,
        }
    }
}

/// The detector.
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    noise_dbov: f64,
    hangover_left: u64,
    active: bool,
}

impl Vad {
    /// A detector with `config`.
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            noise_dbov: config.floor_dbov,
            hangover_left: 0,
            active: false,
        }
    }

    /// Classifies one frame (any length); true means "send it".
    pub fn process(&mut self, frame: &[i16]) -> bool {
        let level = rms_to_dbov(mean_square(frame).sqrt().max(dbov_to_rms(-127.0)));
        let speech =
            level > self.config.floor_dbov && level > self.noise_dbov + self.config.margin_db;
        if speech {
            self.hangover_left =
                u64::from(self.config.hangover_ms) * u64::from(self.config.sample_rate) / 1000;
        }
        // Track the background: fast down, slow up. It also creeps up during
        // "speech" so a steady hum louder than the initial estimate is
        // learnt too instead of holding the detector on forever; real speech
        // has pauses that pull the estimate back down.
        let rate = if level < self.noise_dbov {
            0.5
        } else if speech {
            0.02
        } else {
            0.05
        };
        self.noise_dbov += rate * (level - self.noise_dbov);
        self.noise_dbov = self.noise_dbov.max(self.config.floor_dbov - 20.0);
        self.active = if speech {
            true
        } else if self.hangover_left > 0 {
            self.hangover_left = self.hangover_left.saturating_sub(frame.len() as u64);
            true
        } else {
            false
        };
        self.active
    }

    /// The last decision.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Current background-noise estimate in dBov.
    pub fn noise_dbov(&self) -> f64 {
        self.noise_dbov
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(amp: f64, n: usize, seed: usize) -> Vec<i16> {
        // Voiced-like: a few harmonics of a 150 Hz fundamental.
        (0..n)
            .map(|i| {
                let t = (i + seed) as f64 / 8000.0;
                let v: f64 = (1..6)
                    .map(|h| (2.0 * std::f64::consts::PI * 150.0 * h as f64 * t).sin() / h as f64)
                    .sum();
                (amp * v) as i16
            })
            .collect()
    }

    #[test]
    fn speech_bursts_keep_it_active_with_hangover() {
        let mut vad = Vad::new(VadConfig::default());
        let silence = [0i16; 160];
        for _ in 0..10 {
            assert!(!vad.process(&silence));
        }
        // Talkspurt: 300 ms speech, 100 ms pause, 300 ms speech.
        let mut decisions = Vec::new();
        for k in 0..35 {
            let f = if (15..20).contains(&k) {
                silence.to_vec()
            } else {
                burst(3000.0, 160, k * 160)
            };
            decisions.push(vad.process(&f));
        }
        assert!(decisions.iter().all(|&d| d), "gap inside speech dropped");
        // Hangover: 200 ms = ten 20 ms frames active, then inactive.
        let tail: Vec<bool> = (0..15).map(|_| vad.process(&silence)).collect();
        assert!(tail[..10].iter().all(|&d| d), "{tail:?}");
        assert!(tail[10..].iter().all(|&d| !d), "{tail:?}");
    }

    #[test]
    fn steady_background_goes_inactive() {
        let mut vad = Vad::new(VadConfig::default());
        // A constant low hum at about -40 dBov is learnt as background.
        let decisions: Vec<bool> = (0..100)
            .map(|k| vad.process(&burst(400.0, 160, k * 160)))
            .collect();
        assert!(decisions[60..].iter().all(|&d| !d), "{decisions:?}");
        assert!(vad.noise_dbov() > -50.0);
        // Speech 20 dB above it is still detected.
        assert!(vad.process(&burst(4000.0, 160, 0)));
    }
}
