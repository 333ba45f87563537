//! Goertzel single-frequency analysis.
//!
//! The generalised form is used: the coefficient is computed for the exact
//! frequency rather than the nearest DFT bin, so a sine at the analysed
//! frequency is measured at full strength whatever the block length.
//!
//! Powers are reported as *mean-square* values in sample units squared, so a
//! sine of amplitude `A` lying at the analysed frequency reads `A²/2`, the same
//! as its contribution to [`mean_square`]. That lets callers compare a
//! component with the whole signal directly (`power / mean_square` is the
//! fraction of the energy at that frequency).

use std::f64::consts::PI;

/// A running Goertzel filter for one frequency.
#[derive(Debug, Clone)]
pub struct Goertzel {
    coeff: f64,
    cos_w: f64,
    sin_w: f64,
    s1: f64,
    s2: f64,
    n: usize,
}

impl Goertzel {
    /// A filter for `freq` Hz at `sample_rate` Hz.
    pub fn new(freq: f64, sample_rate: f64) -> Self {
        let w = 2.0 * PI * freq / sample_rate;
        Self {
            coeff: 2.0 * w.cos(),
            cos_w: w.cos(),
            sin_w: w.sin(),
            s1: 0.0,
            s2: 0.0,
            n: 0,
        }
    }

    /// Feeds one sample.
    #[inline]
    pub fn push(&mut self, x: f64) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
        self.n += 1;
    }

    /// Mean-square power of the component at the filter's frequency over the
    /// samples fed since the last reset (0 if none).
    pub fn power(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let re = self.s1 - self.s2 * self.cos_w;
        let im = self.s2 * self.sin_w;
        let n = self.n as f64;
        2.0 * (re * re + im * im) / (n * n)
    }

    /// Clears the state for a new block.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.n = 0;
    }
}

/// Mean-square power at `freq` over `samples` (see the module docs for the
/// scale). `sample_rate` is usually [`crate::SAMPLE_RATE`].
pub fn power(samples: &[i16], freq: f64, sample_rate: u32) -> f64 {
    let mut g = Goertzel::new(freq, f64::from(sample_rate));
    for &s in samples {
        g.push(f64::from(s));
    }
    g.power()
}

/// Mean of the squared samples (0 for an empty block).
pub fn mean_square(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64
}

/// Root-mean-square of the samples.
pub fn rms(samples: &[i16]) -> f64 {
    mean_square(samples).sqrt()
}

/// Fraction (0..=1, roughly) of the block's energy that lies at `freq`.
/// Returns 0 for a silent block.
pub fn relative_power(samples: &[i16], freq: f64, sample_rate: u32) -> f64 {
    let total = mean_square(samples);
    if total <= 0.0 {
        return 0.0;
    }
    power(samples, freq, sample_rate) / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / 8000.0).sin()).round() as i16)
            .collect()
    }

    #[test]
    fn sine_power_is_half_amplitude_squared() {
        let s = sine(1000.0, 10000.0, 800);
        let p = power(&s, 1000.0, 8000);
        assert!((p / 5.0e7 - 1.0).abs() < 0.01, "{p}");
        assert!(relative_power(&s, 1000.0, 8000) > 0.98);
    }

    #[test]
    fn off_frequency_is_small() {
        let s = sine(1000.0, 10000.0, 800);
        assert!(relative_power(&s, 1300.0, 8000) < 0.001);
    }

    #[test]
    fn off_bin_frequency_measured_fully() {
        // 697 Hz over 136 samples is not a DFT bin centre.
        let s = sine(697.0, 8000.0, 136);
        assert!(relative_power(&s, 697.0, 8000) > 0.95);
    }

    #[test]
    fn empty_and_silent() {
        assert_eq!(power(&[], 1000.0, 8000), 0.0);
        assert_eq!(relative_power(&[0; 80], 1000.0, 8000), 0.0);
        assert_eq!(rms(&[]), 0.0);
    }
}
