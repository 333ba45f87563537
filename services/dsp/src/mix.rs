//! Three-way conference mixing.
//!
//! Each participant hears the sum of the other two: the local user (speaker)
//! hears both remotes, each remote hears the local microphone plus the other
//! remote. Sums are formed in 32 bits and passed through a soft limiter:
//! linear up to [`KNEE`], then bending smoothly (tanh) towards full scale, so
//! two loud talkers compress instead of hard-clipping into harsh distortion.
//! The limiter is memoryless, so frames can be mixed independently and of
//! any length.

/// Below this magnitude the limiter is transparent.
pub const KNEE: i32 = 24_576;
const FULL: f64 = 32_767.0;

/// Soft-limits a 32-bit sum into 16 bits.
#[inline]
pub fn soft_limit(sum: i32) -> i16 {
    let mag = sum.unsigned_abs() as i32;
    if mag <= KNEE {
        return sum as i16;
    }
    let room = FULL - f64::from(KNEE);
    let over = f64::from(mag - KNEE);
    let limited = f64::from(KNEE) + room * (over / room).tanh();
    let v = limited.round().min(FULL) as i16;
    if sum < 0 {
        -v
    } else {
        v
    }
}

/// Writes the soft-limited sum of `inputs` into `out`; a short input counts
/// as silence past its end.
pub fn mix_into(inputs: &[&[i16]], out: &mut [i16]) {
    for (i, o) in out.iter_mut().enumerate() {
        let sum: i32 = inputs
            .iter()
            .map(|s| s.get(i).copied().map_or(0, i32::from))
            .sum();
        *o = soft_limit(sum);
    }
}

/// What each conference participant hears, for one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConferenceFrame {
    /// For the local loudspeaker/handset: remote A + remote B.
    pub to_local: Vec<i16>,
    /// Sent to remote A: local + remote B.
    pub to_a: Vec<i16>,
    /// Sent to remote B: local + remote A.
    pub to_b: Vec<i16>,
}

/// Mixes one frame of a three-way conference into `out`, whose vectors are
/// resized to `local.len()` (reusing their allocations).
pub fn conference3(local: &[i16], remote_a: &[i16], remote_b: &[i16], out: &mut ConferenceFrame) {
    let n = local.len();
    out.to_local.resize(n, 0);
    out.to_a.resize(n, 0);
    out.to_b.resize(n, 0);
    mix_into(&[remote_a, remote_b], &mut out.to_local);
    mix_into(&[local, remote_b], &mut out.to_a);
    mix_into(&[local, remote_a], &mut out.to_b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn each_party_hears_the_other_two_only() {
        let (fl, fa, fb) = (500.0, 1000.0, 1500.0);
        let local = sine(fl, 8000.0, 160);
        let a = sine(fa, 8000.0, 160);
        let b = sine(fb, 8000.0, 160);
        let mut out = ConferenceFrame::default();
        conference3(&local, &a, &b, &mut out);
        let has = |s: &[i16], f: f64| goertzel::relative_power(s, f, 8000) > 0.3;
        let lacks = |s: &[i16], f: f64| goertzel::relative_power(s, f, 8000) < 0.001;
        assert!(has(&out.to_local, fa) && has(&out.to_local, fb) && lacks(&out.to_local, fl));
        assert!(has(&out.to_a, fl) && has(&out.to_a, fb) && lacks(&out.to_a, fa));
        assert!(has(&out.to_b, fl) && has(&out.to_b, fa) && lacks(&out.to_b, fb));
        // Quiet inputs are summed exactly.
        assert_eq!(out.to_a[7], local[7] + b[7]);
    }

    #[test]
    fn limiter_is_soft_and_bounded() {
        assert_eq!(soft_limit(1000), 1000);
        assert_eq!(soft_limit(-KNEE), -(KNEE as i16));
        assert_eq!(soft_limit(100_000), 32_767);
        assert_eq!(soft_limit(-100_000), -32_767);
        // Monotonic and continuous: no step larger than the input step.
        let mut prev = soft_limit(0);
        for x in (1..70_000).step_by(7) {
            let y = soft_limit(x);
            assert!(y >= prev && i32::from(y - prev) <= 7, "{x}");
            prev = y;
        }
    }

    #[test]
    fn loud_parties_are_compressed_not_clipped() {
        let local = sine(500.0, 30000.0, 160);
        let b = sine(500.0, 30000.0, 160);
        let mut out = ConferenceFrame::default();
        conference3(&local, &[], &b, &mut out);
        // The peak of the 60000 sum lands below full scale, without clipping
        // to a flat top.
        let peak = out.to_a.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak < 32767 && peak > 30000, "{peak}");
        // Remote A sent nothing (empty slice): local hears only B.
        assert_eq!(out.to_local, out.to_b);
        let expect: Vec<i16> = local.iter().map(|&s| soft_limit(s.into())).collect();
        assert_eq!(out.to_b, expect);
        assert!(out.to_b.iter().all(|&s| s.unsigned_abs() < 30000));
    }
}
