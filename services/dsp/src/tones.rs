//! Call-progress tones and ringer sounds, driven by a data table.
//!
//! A [`TonePlan`] maps each [`Tone`] to a [`ToneSpec`]: the sound (one or two
//! summed frequencies, or a warble alternating between two), the level in
//! dBm0 *per frequency*, and the cadence (on/off steps and what happens after
//! them). [`US`] is the default plan (values after the North American
//! precise-tone plan); other countries are new `TonePlan` constants.
//!
//! [`ToneGenerator::fill`] keeps phase and cadence position across calls, so
//! the caller may fill blocks of any size. On/off edges get a 2 ms raised
//! ramp to avoid clicks; a ramp is shorter than a frame, so cadence timing
//! measured per frame is unaffected.

use crate::level::dbm0_to_amplitude;
use std::f64::consts::PI;

/// The tones the phone can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Dial tone, continuous.
    Dial,
    /// Secondary (outside-line) dial tone.
    SecondaryDial,
    /// Ringback heard by the caller.
    Ringback,
    /// Busy.
    Busy,
    /// Reorder (fast busy, congestion).
    Reorder,
    /// Call waiting beep in the handset.
    CallWaiting,
    /// Stutter dial tone announcing waiting messages.
    StutterDial,
    /// Confirmation after a feature code.
    Confirmation,
    /// The loudspeaker ringer with a cadence.
    Ring(RingPattern),
}

/// Ringer cadences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingPattern {
    /// 2 s on, 4 s off.
    Standard,
    /// Two short rings: 0.8 on, 0.4 off, 0.8 on, 4 off.
    Double,
    /// Short-short-long: 0.4 on, 0.2 off, 0.4 on, 0.2 off, 0.8 on, 4 off.
    ShortShortLong,
}

/// What is heard while a tone is "on".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sound {
    /// The sum of one or more sines, each at the spec's level.
    Sum(&'static [f64]),
    /// A single sine alternating between two frequencies `rate` times a
    /// second (each half lasts `1 / (2 rate)` s); phase stays continuous.
    Warble {
        /// First frequency (Hz).
        low: f64,
        /// Second frequency (Hz).
        high: f64,
        /// Full low-high cycles per second.
        rate: f64,
    },
}

/// What happens when the cadence steps have all been played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Start the steps again.
    Repeat,
    /// Stay on (e.g. stutter dial tone becoming steady).
    Steady,
    /// Stay silent; [`ToneGenerator::is_finished`] becomes true.
    Stop,
}

/// One tone's definition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// The sound while on.
    pub sound: Sound,
    /// Level of each frequency component in dBm0.
    pub level_dbm0: f64,
    /// Alternating on/off durations in ms, starting with "on". Empty means
    /// continuously on.
    pub cadence_ms: &'static [u32],
    /// Behaviour after the last step.
    pub after: After,
}

/// A country's tone table.
#[derive(Debug, Clone, Copy)]
pub struct TonePlan {
    /// Plan name.
    pub name: &'static str,
    /// Specs for every tone.
    pub tones: &'static [(Tone, ToneSpec)],
}

impl TonePlan {
    /// The spec of `tone`, if the plan has it.
    pub fn spec(&self, tone: Tone) -> Option<&'static ToneSpec> {
        self.tones.iter().find(|(t, _)| *t == tone).map(|(_, s)| s)
    }
}

const DIAL_FREQS: &[f64] = &[350.0, 440.0];
const RINGER: Sound = Sound::Warble {
    low: 1000.0,
    high: 1250.0,
    rate: 16.0,
};

/// The US plan (the default).
pub const US: TonePlan = TonePlan {
    name: "US",
    tones: &[
        (
            Tone::Dial,
            ToneSpec {
                sound: Sound::Sum(DIAL_FREQS),
                level_dbm0: -13.0,
                cadence_ms: &[],
                after: After::Steady,
            },
        ),
        (
            // Recall-style: three quick interruptions, then steady.
            Tone::SecondaryDial,
            ToneSpec {
                sound: Sound::Sum(DIAL_FREQS),
                level_dbm0: -13.0,
                cadence_ms: &[100, 100, 100, 100, 100, 100],
                after: After::Steady,
            },
        ),
        (
            Tone::Ringback,
            ToneSpec {
                sound: Sound::Sum(&[440.0, 480.0]),
                level_dbm0: -19.0,
                cadence_ms: &[2000, 4000],
                after: After::Repeat,
            },
        ),
        (
            Tone::Busy,
            ToneSpec {
                sound: Sound::Sum(&[480.0, 620.0]),
                level_dbm0: -24.0,
                cadence_ms: &[500, 500],
                after: After::Repeat,
            },
        ),
        (
            Tone::Reorder,
            ToneSpec {
                sound: Sound::Sum(&[480.0, 620.0]),
                level_dbm0: -24.0,
                cadence_ms: &[250, 250],
                after: After::Repeat,
            },
        ),
        (
            // One burst, repeated every 10 s while the call waits.
            Tone::CallWaiting,
            ToneSpec {
                sound: Sound::Sum(&[440.0]),
                level_dbm0: -13.0,
                cadence_ms: &[300, 9700],
                after: After::Repeat,
            },
        ),
        (
            // Ten 0.1/0.1 s interruptions (about 1 s), then steady.
            Tone::StutterDial,
            ToneSpec {
                sound: Sound::Sum(DIAL_FREQS),
                level_dbm0: -13.0,
                cadence_ms: &[
                    100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100,
                    100, 100, 100, 100,
                ],
                after: After::Steady,
            },
        ),
        (
            Tone::Confirmation,
            ToneSpec {
                sound: Sound::Sum(DIAL_FREQS),
                level_dbm0: -13.0,
                cadence_ms: &[100, 100, 100, 100, 100, 100],
                after: After::Stop,
            },
        ),
        (
            Tone::Ring(RingPattern::Standard),
            ToneSpec {
                sound: RINGER,
                level_dbm0: -6.0,
                cadence_ms: &[2000, 4000],
                after: After::Repeat,
            },
        ),
        (
            Tone::Ring(RingPattern::Double),
            ToneSpec {
                sound: RINGER,
                level_dbm0: -6.0,
                cadence_ms: &[800, 400, 800, 4000],
                after: After::Repeat,
            },
        ),
        (
            Tone::Ring(RingPattern::ShortShortLong),
            ToneSpec {
                sound: RINGER,
                level_dbm0: -6.0,
                cadence_ms: &[400, 200, 400, 200, 800, 4000],
                after: After::Repeat,
            },
        ),
    ],
};

const RAMP_MS: f64 = 2.0;

/// Plays one tone with its cadence.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    rate: f64,
    amplitude: f64,
    /// Phase of each summed sine, in cycles.
    phases: Vec<f64>,
    /// Samples played in total (drives the warble).
    t: u64,
    /// Cadence step and samples left in it; `None` once past the steps.
    step: Option<(usize, u64)>,
    /// Current envelope (0..1), moved towards the on/off target by the ramp.
    env: f64,
    env_step: f64,
}

impl ToneGenerator {
    /// A generator for `tone` from the [`US`] plan.
    ///
    /// # Panics
    /// If the US plan lacks the tone (it has them all).
    pub fn new(tone: Tone, sample_rate: u32) -> Self {
        let spec = US.spec(tone).expect("US plan covers every tone");
        Self::with_spec(*spec, sample_rate)
    }

    /// A generator for an explicit spec (e.g. from another plan).
    pub fn with_spec(spec: ToneSpec, sample_rate: u32) -> Self {
        let rate = f64::from(sample_rate);
        let n = match spec.sound {
            Sound::Sum(f) => f.len(),
            Sound::Warble { .. } => 1,
        };
        let mut g = Self {
            spec,
            rate,
            amplitude: dbm0_to_amplitude(spec.level_dbm0),
            phases: vec![0.0; n],
            t: 0,
            step: None,
            env: 0.0,
            env_step: 1.0 / (RAMP_MS * rate / 1000.0),
        };
        g.step = g.step_at(0);
        g
    }

    fn step_at(&self, i: usize) -> Option<(usize, u64)> {
        self.spec
            .cadence_ms
            .get(i)
            .map(|&ms| (i, (u64::from(ms) * self.rate as u64).div_ceil(1000)))
    }

    /// Whether the sound is currently (nominally) on.
    pub fn is_on(&self) -> bool {
        match self.step {
            Some((i, _)) => i % 2 == 0,
            None => self.spec.after != After::Stop,
        }
    }

    /// True once a tone with [`After::Stop`] has finished.
    pub fn is_finished(&self) -> bool {
        self.step.is_none() && self.spec.after == After::Stop && self.env == 0.0
    }

    /// Fills `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            let target = if self.is_on() { 1.0 } else { 0.0 };
            if self.env < target {
                self.env = (self.env + self.env_step).min(1.0);
            } else if self.env > target {
                self.env = (self.env - self.env_step).max(0.0);
            }
            let v = self.sound_sample();
            // Raised-cosine shaping of the linear ramp.
            let shape = 0.5 - 0.5 * (PI * self.env).cos();
            *o = (v * shape * self.amplitude)
                .round()
                .clamp(-32768.0, 32767.0) as i16;
            self.advance_cadence();
        }
    }

    /// Next sample of the unshaped sound (sum of unit sines).
    fn sound_sample(&mut self) -> f64 {
        let rate = self.rate;
        let t = self.t;
        self.t += 1;
        match self.spec.sound {
            Sound::Sum(freqs) => {
                let mut v = 0.0;
                for (p, f) in self.phases.iter_mut().zip(freqs) {
                    v += (2.0 * PI * *p).sin();
                    *p = (*p + f / rate).fract();
                }
                v
            }
            Sound::Warble {
                low,
                high,
                rate: wr,
            } => {
                let half = (t as f64 * 2.0 * wr / rate) as u64 % 2;
                let f = if half == 0 { low } else { high };
                let p = &mut self.phases[0];
                let v = (2.0 * PI * *p).sin();
                *p = (*p + f / rate).fract();
                v
            }
        }
    }

    fn advance_cadence(&mut self) {
        if let Some((i, left)) = self.step {
            self.step = if left > 1 {
                Some((i, left - 1))
            } else {
                match self.step_at(i + 1) {
                    Some(s) => Some(s),
                    None if self.spec.after == After::Repeat => self.step_at(0),
                    None => None,
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goertzel;
    use crate::level::dbm0_to_rms;

    const FRAME: usize = 80;

    fn render(tone: Tone, ms: usize) -> Vec<i16> {
        let mut g = ToneGenerator::new(tone, 8000);
        let mut out = vec![0i16; ms * 8];
        // Odd block sizes: phase and cadence must carry across calls.
        for chunk in out.chunks_mut(73) {
            g.fill(chunk);
        }
        out
    }

    /// On/off state of each 10 ms frame (on = RMS above -50 dBm0).
    fn frames_on(s: &[i16]) -> Vec<bool> {
        s.chunks(FRAME)
            .map(|f| goertzel::rms(f) > dbm0_to_rms(-50.0))
            .collect()
    }

    /// Run lengths of the on/off pattern in ms, starting with "on".
    fn runs(s: &[i16]) -> Vec<usize> {
        let on = frames_on(s);
        let mut runs = vec![];
        let mut cur = (true, 0);
        for f in on {
            if f == cur.0 {
                cur.1 += 10;
            } else {
                runs.push(cur.1);
                cur = (f, 10);
            }
        }
        runs.push(cur.1);
        runs
    }

    fn assert_runs(got: &[usize], want: &[usize]) {
        assert!(got.len() >= want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.abs_diff(*w) <= 10, "{got:?} vs {want:?}");
        }
    }

    fn level_ok(s: &[i16], per_freq_dbm0: f64, n_freqs: usize) {
        let want = dbm0_to_rms(per_freq_dbm0) * (n_freqs as f64).sqrt();
        let got = goertzel::rms(s);
        let db = 20.0 * (got / want).log10();
        assert!(db.abs() < 0.5, "level off by {db:.2} dB");
    }

    fn freqs_ok(s: &[i16], freqs: &[f64]) {
        let total: f64 = freqs
            .iter()
            .map(|&f| goertzel::relative_power(s, f, 8000))
            .sum();
        assert!(total > 0.95, "energy at {freqs:?}: {total}");
    }

    #[test]
    fn dial_tone_is_continuous_350_440_at_minus_13() {
        let s = render(Tone::Dial, 2000);
        assert!(frames_on(&s).iter().all(|&on| on));
        freqs_ok(&s[800..], &[350.0, 440.0]);
        assert!(goertzel::relative_power(&s[800..], 350.0, 8000) > 0.45);
        level_ok(&s[800..], -13.0, 2);
    }

    #[test]
    fn ringback_cadence_and_level() {
        let s = render(Tone::Ringback, 12_500);
        assert_runs(&runs(&s), &[2000, 4000, 2000, 4000, 500]);
        freqs_ok(&s[800..15_200], &[440.0, 480.0]);
        level_ok(&s[800..15_200], -19.0, 2);
    }

    #[test]
    fn busy_and_reorder() {
        let s = render(Tone::Busy, 3000);
        assert_runs(&runs(&s), &[500, 500, 500, 500, 500, 500]);
        freqs_ok(&s[400..3600], &[480.0, 620.0]);
        level_ok(&s[400..3600], -24.0, 2);
        let s = render(Tone::Reorder, 2000);
        assert_runs(&runs(&s), &[250, 250, 250, 250, 250, 250, 250, 250]);
        level_ok(&s[400..1600], -24.0, 2);
    }

    #[test]
    fn call_waiting_burst() {
        let s = render(Tone::CallWaiting, 10_500);
        assert_runs(&runs(&s), &[300, 9700, 300, 200]);
        freqs_ok(&s[160..2200], &[440.0]);
        level_ok(&s[160..2200], -13.0, 1);
    }

    #[test]
    fn stutter_then_steady() {
        let s = render(Tone::StutterDial, 3000);
        let r = runs(&s);
        assert_runs(&r, &[100; 20]);
        assert_eq!(r.len(), 21, "{r:?}");
        assert!(r[20] >= 1000 - 10, "{r:?}");
        let s2 = render(Tone::SecondaryDial, 1000);
        assert_eq!(runs(&s2).len(), 7);
    }

    #[test]
    fn confirmation_stops() {
        let mut g = ToneGenerator::new(Tone::Confirmation, 8000);
        let mut s = vec![0i16; 8000];
        g.fill(&mut s);
        assert_runs(&runs(&s), &[100, 100, 100, 100, 100, 500]);
        assert!(g.is_finished());
        assert!(s[6000..].iter().all(|&x| x == 0));
    }

    #[test]
    fn ringers_warble_with_their_cadences() {
        let cases: [(RingPattern, &[usize]); 3] = [
            (RingPattern::Standard, &[2000, 4000, 1000]),
            (RingPattern::Double, &[800, 400, 800, 4000, 800]),
            (
                RingPattern::ShortShortLong,
                &[400, 200, 400, 200, 800, 4000, 400],
            ),
        ];
        for (p, want) in cases {
            let s = render(Tone::Ring(p), 7000);
            assert_runs(&runs(&s), want);
            // The warble: 1000 Hz for the first 31.25 ms, then 1250 Hz.
            let a = goertzel::relative_power(&s[40..240], 1000.0, 8000);
            let b = goertzel::relative_power(&s[290..490], 1250.0, 8000);
            assert!(a > 0.95 && b > 0.95, "{p:?}: {a} {b}");
            level_ok(&s[80..3120], -6.0, 1);
        }
    }

    #[test]
    fn other_plans_can_be_added() {
        const UK: TonePlan = TonePlan {
            name: "UK",
            tones: &[(
                Tone::Dial,
                ToneSpec {
                    sound: Sound::Sum(&[350.0, 450.0]),
                    level_dbm0: -10.0,
                    cadence_ms: &[],
                    after: After::Steady,
                },
            )],
        };
        let mut g = ToneGenerator::with_spec(*UK.spec(Tone::Dial).unwrap(), 8000);
        let mut s = vec![0; 1600];
        g.fill(&mut s);
        freqs_ok(&s[80..], &[350.0, 450.0]);
        assert!(UK.spec(Tone::Busy).is_none());
    }
}
