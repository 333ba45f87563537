//! Packet-loss concealment for G.711, after the method described in
//! ITU-T G.711 Appendix I (written from the description, not the reference
//! code).
//!
//! How it works:
//! - Every sample that leaves the concealer first goes through a short
//!   history line, and output is taken [`Plc::DELAY`] samples (3.75 ms) behind
//!   the input. The delay is what lets the start of a loss be smoothed: the
//!   last quarter pitch period before the loss has not been played yet when
//!   the loss is noticed, so it can still be overlap-added.
//! - At the first lost sample the pitch period `P` (5–15 ms, 40–120 samples)
//!   is estimated on the history by normalised cross-correlation of the last
//!   20 ms with lagged copies of itself.
//! - The lost audio is made by repeating the last pitch period. The last `P/4`
//!   samples of the repeated buffer are cross-faded with the `P/4` samples
//!   preceding it, so the wrap from its end to its start joins smoothly, and
//!   the not-yet-played history tail is replaced by that faded tail.
//! - After 10 ms of loss the buffer grows to two periods and after 20 ms to
//!   three (less buzzy on long losses); each switch is cross-faded over `P/4`.
//! - From 10 ms into the loss the gain falls linearly by 20 % per 10 ms, so
//!   the synthetic signal is silent 60 ms after the loss began.
//! - The first good samples after a loss are cross-faded with a continuation
//!   of the synthetic signal; the fade is `P/4` long after 10 ms of loss and
//!   4 ms longer for each further 10 ms, at most 10 ms.
//!
//! All lengths assume the 8000 Hz internal rate. Calls may use any block
//! length; the output is the same whatever the caller's frame size.

use std::collections::VecDeque;

const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
/// History long enough for three periods plus the quarter period before them.
const HIST_LEN: usize = 3 * MAX_PITCH + MAX_PITCH / 4;
const CORR_LEN: usize = 160;
const BLOCK: usize = 80; // 10 ms
const MAX_PERIODS: usize = 3;

/// G.711 Appendix I style concealer for one audio stream.
#[derive(Debug, Clone)]
pub struct Plc {
    /// The last HIST_LEN samples of the (possibly synthetic) signal; the last
    /// DELAY of them have not been output yet.
    hist: VecDeque<f32>,
    erasure: Option<Erasure>,
}

#[derive(Debug, Clone)]
struct Erasure {
    pitch: usize,
    quarter: usize,
    /// Copy of the history when the loss began.
    snap: Vec<f32>,
    periods: usize,
    pos: usize,
    fade: Option<Fade>,
    /// Synthetic samples produced so far.
    elapsed: usize,
}

/// A cross-fade from the previous repetition buffer to the current one.
#[derive(Debug, Clone)]
struct Fade {
    periods: usize,
    pos: usize,
    left: usize,
}

impl Erasure {
    /// Sample `j` of the repetition buffer of `periods` pitch periods.
    fn buf(&self, periods: usize, j: usize) -> f32 {
        let len = periods * self.pitch;
        let end = self.snap.len();
        let q = self.quarter;
        if j < len - q {
            self.snap[end - len + j]
        } else {
            // Fade the buffer's tail into what precedes its start.
            let i = j - (len - q);
            let w = (i + 1) as f32 / (q + 1) as f32;
            self.snap[end - q + i] * (1.0 - w) + self.snap[end - len - q + i] * w
        }
    }

    fn next(&mut self) -> f32 {
        if (self.elapsed == BLOCK || self.elapsed == 2 * BLOCK) && self.periods < MAX_PERIODS {
            self.fade = Some(Fade {
                periods: self.periods,
                pos: self.pos,
                left: self.quarter,
            });
            // Same position in the longer buffer is the same phase, one
            // period further back in time: new material, no phase jump.
            self.periods += 1;
        }
        let mut v = self.buf(self.periods, self.pos);
        self.pos = (self.pos + 1) % (self.periods * self.pitch);
        if let Some(f) = &mut self.fade {
            let old_len = f.periods * self.pitch;
            let (fp, fpos) = (f.periods, f.pos);
            f.pos = (f.pos + 1) % old_len;
            let w = 1.0 - f.left as f32 / (self.quarter + 1) as f32;
            f.left -= 1;
            if f.left == 0 {
                self.fade = None;
            }
            v = self.buf(fp, fpos) * (1.0 - w) + v * w;
        }
        let gain = if self.elapsed < BLOCK {
            1.0
        } else {
            (1.0 - 0.2 * (self.elapsed - BLOCK) as f32 / BLOCK as f32).max(0.0)
        };
        self.elapsed += 1;
        v * gain
    }
}

impl Default for Plc {
    fn default() -> Self {
        Self::new()
    }
}

impl Plc {
    /// Output lags input by this many samples (3.75 ms).
    pub const DELAY: usize = MAX_PITCH / 4;

    /// A concealer with silent history.
    pub fn new() -> Self {
        Self {
            hist: std::iter::repeat_n(0.0, HIST_LEN).collect(),
            erasure: None,
        }
    }

    /// True while the last call was [`Plc::conceal`].
    pub fn is_concealing(&self) -> bool {
        self.erasure.is_some()
    }

    /// Forgets all history (e.g. at a new call).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Passes a block of received audio, appending `pcm.len()` samples of
    /// output (delayed by [`Plc::DELAY`]) to `out`.
    pub fn good(&mut self, pcm: &[i16], out: &mut Vec<i16>) {
        out.reserve(pcm.len());
        let mut erasure = self.erasure.take();
        let ola = erasure.as_ref().map_or(0, |e| {
            let blocks = e.elapsed.div_ceil(BLOCK).max(1);
            (e.quarter + (blocks - 1) * 32).min(BLOCK)
        });
        for (k, &s) in pcm.iter().enumerate() {
            let mut x = f32::from(s);
            if k < ola {
                if let Some(e) = erasure.as_mut() {
                    let w = (k + 1) as f32 / (ola + 1) as f32;
                    x = e.next() * (1.0 - w) + x * w;
                }
            }
            out.push(self.shift(x));
        }
    }

    /// Produces `samples` samples of substitute audio for lost packets and
    /// appends them to `out`.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        out.reserve(samples);
        if self.erasure.is_none() {
            self.erasure = Some(self.start_erasure());
        }
        for _ in 0..samples {
            let x = self.erasure.as_mut().map_or(0.0, Erasure::next);
            out.push(self.shift(x));
        }
    }

    /// Pushes one sample into the history and returns the one leaving the
    /// delay line.
    fn shift(&mut self, x: f32) -> i16 {
        let leaving = self.hist[HIST_LEN - Self::DELAY];
        self.hist.pop_front();
        self.hist.push_back(x);
        leaving.round().clamp(-32768.0, 32767.0) as i16
    }

    fn start_erasure(&mut self) -> Erasure {
        let snap: Vec<f32> = self.hist.iter().copied().collect();
        let pitch = estimate_pitch(&snap);
        let quarter = pitch / 4;
        let e = Erasure {
            pitch,
            quarter,
            snap,
            periods: 1,
            pos: 0,
            fade: None,
            elapsed: 0,
        };
        // Replace the unplayed tail with the faded buffer tail, so playback
        // runs into the repetition without a step.
        for i in 0..quarter {
            self.hist[HIST_LEN - quarter + i] = e.buf(1, pitch - quarter + i);
        }
        e
    }
}

/// Pitch period (in samples) maximising the normalised cross-correlation of
/// the last [`CORR_LEN`] samples with a copy lagged by the period.
fn estimate_pitch(h: &[f32]) -> usize {
    let end = h.len();
    let win = &h[end - CORR_LEN..];
    let mut best = (MAX_PITCH, 0.0f32);
    for lag in MIN_PITCH..=MAX_PITCH {
        let lagged = &h[end - CORR_LEN - lag..end - lag];
        let (mut c, mut e) = (0.0f32, 0.0f32);
        for (a, b) in win.iter().zip(lagged) {
            c += a * b;
            e += b * b;
        }
        if e > 0.0 {
            let score = c / e.sqrt();
            if score > best.1 {
                best = (lag, score);
            }
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;
    use std::f64::consts::PI;

    fn sine(freq: f64, amp: f64, range: std::ops::Range<usize>) -> Vec<i16> {
        range
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / 8000.0).sin()).round() as i16)
            .collect()
    }

    /// Runs a sine through the concealer with samples [gap.start, gap.end)
    /// lost, in blocks of `block`, and returns the output.
    fn run(freq: f64, total: usize, gap: std::ops::Range<usize>, block: usize) -> Vec<i16> {
        let input = sine(freq, 10000.0, 0..total);
        let mut plc = Plc::new();
        let mut out = Vec::new();
        let mut i = 0;
        while i < total {
            let n = block.min(total - i);
            if gap.contains(&i) {
                plc.conceal(n, &mut out);
            } else {
                plc.good(&input[i..i + n], &mut out);
            }
            i += n;
        }
        out
    }

    #[test]
    fn pitch_of_periodic_signal() {
        let s: Vec<f32> = sine(100.0, 8000.0, 0..HIST_LEN)
            .iter()
            .map(|&x| x.into())
            .collect();
        assert_eq!(estimate_pitch(&s), 80);
    }

    #[test]
    fn good_audio_is_only_delayed() {
        let input = sine(300.0, 9000.0, 0..800);
        let mut plc = Plc::new();
        let mut out = Vec::new();
        for chunk in input.chunks(160) {
            plc.good(chunk, &mut out);
        }
        assert_eq!(&out[Plc::DELAY..], &input[..800 - Plc::DELAY]);
    }

    #[test]
    fn concealed_sine_keeps_frequency_then_fades_out() {
        let start = 1600;
        let out = run(500.0, start + 1200, start..start + 1200, 80);
        let lost = &out[start + Plc::DELAY..];
        // First 20 ms of the loss: still the same tone at full level.
        let early = &lost[..160];
        assert!(goertzel::relative_power(early, 500.0, 8000) > 0.95);
        assert!(goertzel::rms(early) > 0.9 * 10000.0 / 2f64.sqrt());
        // Decaying between 20 and 50 ms, silent from 60 ms on.
        let r = |a: usize, b: usize| goertzel::rms(&lost[a..b]);
        assert!(r(160, 240) > r(240, 320) && r(240, 320) > r(320, 400));
        assert!(goertzel::relative_power(&lost[240..320], 500.0, 8000) > 0.9);
        assert!(
            lost[480..].iter().all(|&s| s == 0),
            "not silent after 60 ms"
        );
    }

    #[test]
    fn no_spikes_at_the_joins() {
        let freq = 440.0;
        let out = run(freq, 4000, 1600..1760, 80);
        let max_step = |s: &[i16]| {
            s.windows(2)
                .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
                .max()
                .unwrap()
        };
        let clean = max_step(&sine(freq, 10000.0, 0..4000));
        let got = max_step(&out[Plc::DELAY..]);
        assert!(
            f64::from(got) < 1.2 * f64::from(clean),
            "step {got} vs clean {clean}"
        );
    }

    #[test]
    fn concealment_beats_silence() {
        let freq = 440.0;
        let (start, len) = (1600, 160);
        let out = run(freq, 3200, start..start + len, 80);
        let reference = sine(freq, 10000.0, 0..3200);
        // Compare over the gap plus the recovery cross-fade, in output time.
        let range = start..start + len + 80;
        let err: f64 = range
            .clone()
            .map(|i| (f64::from(out[i + Plc::DELAY]) - f64::from(reference[i])).powi(2))
            .sum();
        let silence: f64 = (start..start + len)
            .map(|i| f64::from(reference[i]).powi(2))
            .sum();
        assert!(err < 0.05 * silence, "error {err:e} vs silence {silence:e}");
    }

    #[test]
    fn block_size_does_not_matter() {
        let a = run(620.0, 3200, 1600..2080, 80);
        let b = run(620.0, 3200, 1600..2080, 160);
        assert_eq!(a, b);
    }

    #[test]
    fn concealing_from_start_is_silent() {
        let mut plc = Plc::new();
        let mut out = Vec::new();
        plc.conceal(320, &mut out);
        assert!(plc.is_concealing());
        assert!(out.iter().all(|&s| s == 0));
        assert_eq!(out.len(), 320);
    }
}
