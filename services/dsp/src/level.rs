//! Level conventions.
//!
//! **dBm0** follows the G.711 convention: a full-scale sine (peak 32767 in
//! 16-bit linear) is +3.17 dBm0, so 0 dBm0 is a sine of peak
//! `32767 · 10^(-3.17/20)` ≈ 22748. Levels of tones are per-frequency sine
//! levels; a signal's level is taken from its RMS (a sine's RMS is peak/√2).
//!
//! **dBov** (used by RFC 3389 comfort noise) is relative to the overload
//! point: 0 dBov is the RMS of a full-scale square wave, i.e. RMS 32767.

/// dBm0 of a full-scale (peak 32767) sine.
pub const FULL_SCALE_SINE_DBM0: f64 = 3.17;
/// Largest sample magnitude.
pub const FULL_SCALE: f64 = 32767.0;

/// Peak amplitude of a sine at `dbm0`.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    FULL_SCALE * 10f64.powf((dbm0 - FULL_SCALE_SINE_DBM0) / 20.0)
}

/// RMS value of a sine (or any signal) at `dbm0`.
pub fn dbm0_to_rms(dbm0: f64) -> f64 {
    dbm0_to_amplitude(dbm0) / std::f64::consts::SQRT_2
}

/// dBm0 of a signal with the given RMS (−∞ for 0).
pub fn rms_to_dbm0(rms: f64) -> f64 {
    20.0 * (rms * std::f64::consts::SQRT_2 / FULL_SCALE).log10() + FULL_SCALE_SINE_DBM0
}

/// dBov of a signal with the given RMS (−∞ for 0).
pub fn rms_to_dbov(rms: f64) -> f64 {
    20.0 * (rms / FULL_SCALE).log10()
}

/// RMS of a signal at `dbov`.
pub fn dbov_to_rms(dbov: f64) -> f64 {
    FULL_SCALE * 10f64.powf(dbov / 20.0)
}

/// Linear gain factor for `db` decibels.
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert!((dbm0_to_amplitude(3.17) - 32767.0).abs() < 1e-6);
        assert!((dbm0_to_amplitude(0.0) - 22748.0).abs() < 1.0);
        assert!((rms_to_dbm0(dbm0_to_rms(-13.0)) + 13.0).abs() < 1e-9);
        assert!((rms_to_dbov(dbov_to_rms(-42.0)) + 42.0).abs() < 1e-9);
        assert!((db_to_gain(6.0) - 1.9953).abs() < 1e-3);
    }
}
