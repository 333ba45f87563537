//! In-band DTMF: generation and detection.
//!
//! **Levels.** Nominal (`dtmf_db_level` 3) is −10 dBm0 for the low-group
//! frequency and −8 dBm0 for the high group (2 dB twist, high group louder as
//! is usual to offset line loss). Levels 1..5 shift both by −6, −3, 0, +3,
//! +6 dB. Nominal sits 3 dB below the often-quoted −7/−5 dBm0 so that level 5
//! (−4/−2 dBm0, peak ≈ 32 300) still fits 16 bits without clipping.
//!
//! **Detection.** Goertzel filters at the eight DTMF frequencies run over a
//! 136-sample (17 ms) window advanced every 68 samples. A window votes for a
//! digit when: the strongest row and column frequencies are above −30 dBm0;
//! each beats the others of its group by 8 dB; the twist (high − low) lies
//! within −8..+6 dB; and the two tones carry at least 60 % of the window's
//! energy (this rejects speech and music, whose energy is spread out); and
//! the two halves of the window hold energies within 6 dB of each other (a
//! tone clipping the window's edge does not count). A digit starts after
//! three consecutive agreeing windows, which a 40 ms tone always gives and a
//! tone shorter than 17 ms never does; it ends after two windows without it.

use crate::goertzel::Goertzel;
use crate::level::{db_to_gain, dbm0_to_amplitude, dbm0_to_rms};

const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Nominal low-group level (dBm0).
pub const NOMINAL_LOW_DBM0: f64 = -10.0;
/// Nominal high-group level (dBm0).
pub const NOMINAL_HIGH_DBM0: f64 = -8.0;

fn position(digit: char) -> Option<(usize, usize)> {
    let d = digit.to_ascii_uppercase();
    KEYS.iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == d).map(|c| (r, c)))
}

/// Offset in dB for `dtmf_db_level` 1..=5 (out-of-range values clamp).
pub fn level_offset_db(dtmf_db_level: u8) -> f64 {
    [-6.0, -3.0, 0.0, 3.0, 6.0][usize::from(dtmf_db_level.clamp(1, 5) - 1)]
}

/// Queued-digit DTMF tone generator.
#[derive(Debug, Clone)]
pub struct DtmfGenerator {
    rate: f64,
    low_amp: f64,
    high_amp: f64,
    on: usize,
    off: usize,
    queue: std::collections::VecDeque<char>,
    /// Current digit's frequencies and samples played of tone + pause.
    current: Option<(f64, f64, usize)>,
}

impl DtmfGenerator {
    /// A generator at `dtmf_db_level` (1..=5) with `on_ms` of tone and
    /// `off_ms` of silence per digit.
    pub fn new(sample_rate: u32, dtmf_db_level: u8, on_ms: u32, off_ms: u32) -> Self {
        let off_db = level_offset_db(dtmf_db_level);
        let per_ms = f64::from(sample_rate) / 1000.0;
        Self {
            rate: f64::from(sample_rate),
            low_amp: dbm0_to_amplitude(NOMINAL_LOW_DBM0 + off_db),
            high_amp: dbm0_to_amplitude(NOMINAL_HIGH_DBM0 + off_db),
            on: (f64::from(on_ms) * per_ms) as usize,
            off: (f64::from(off_ms) * per_ms) as usize,
            queue: Default::default(),
            current: None,
        }
    }

    /// Queues digits (0-9 * # A-D); returns false, queuing nothing, if any
    /// character is not a DTMF digit.
    pub fn push_digits(&mut self, digits: &str) -> bool {
        if !digits.chars().all(|c| position(c).is_some()) {
            return false;
        }
        self.queue
            .extend(digits.chars().map(|c| c.to_ascii_uppercase()));
        true
    }

    /// True while digits remain to be played (tone or pause).
    pub fn is_active(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }

    /// Fills `out` with the next samples (silence when idle).
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            if self.current.is_none() {
                if let Some((r, c)) = self.queue.pop_front().and_then(position) {
                    self.current = Some((ROWS[r], COLS[c], 0));
                }
            }
            *o = match &mut self.current {
                Some((fl, fh, n)) => {
                    let t = *n as f64 / self.rate;
                    let v = if *n < self.on {
                        self.low_amp * (2.0 * std::f64::consts::PI * *fl * t).sin()
                            + self.high_amp * (2.0 * std::f64::consts::PI * *fh * t).sin()
                    } else {
                        0.0
                    };
                    *n += 1;
                    if *n >= self.on + self.off {
                        self.current = None;
                    }
                    v.round().clamp(-32768.0, 32767.0) as i16
                }
                None => 0,
            };
        }
    }
}

/// Whether a detector event marks the start or the end of a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfEventKind {
    /// The digit began (reported once it has lasted the minimum time).
    Start,
    /// The digit ended.
    End,
}

/// A detected digit edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// The digit (0-9, *, #, A-D).
    pub digit: char,
    /// Start or end.
    pub kind: DtmfEventKind,
    /// Sample index (since the detector was made) of the end of the analysis
    /// window that produced the event.
    pub sample: u64,
}

const WINDOW: usize = 136;
const HOP: usize = 68;
/// Windows that must agree before a digit starts.
const CONFIRM_START: u32 = 3;
/// Windows without the digit that end it.
const CONFIRM_END: u32 = 2;

/// Streaming Goertzel DTMF detector.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    filters: Vec<Goertzel>,
    buf: Vec<f64>,
    since_hop: usize,
    samples: u64,
    min_power: f64,
    candidate: Option<char>,
    candidate_count: u32,
    active: Option<char>,
    misses: u32,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new(crate::SAMPLE_RATE)
    }
}

impl DtmfDetector {
    /// A detector for audio at `sample_rate` Hz (normally 8000).
    pub fn new(sample_rate: u32) -> Self {
        let rate = f64::from(sample_rate);
        Self {
            filters: ROWS
                .iter()
                .chain(&COLS)
                .map(|&f| Goertzel::new(f, rate))
                .collect(),
            buf: Vec::with_capacity(4 * WINDOW),
            since_hop: 0,
            samples: 0,
            min_power: dbm0_to_rms(-30.0).powi(2),
            candidate: None,
            candidate_count: 0,
            active: None,
            misses: 0,
        }
    }

    /// Feeds audio; returns the digit edges found in it.
    pub fn push(&mut self, pcm: &[i16]) -> Vec<DtmfEvent> {
        let mut events = Vec::new();
        for &s in pcm {
            // Amortised sliding window: drop old samples in bulk.
            if self.buf.len() >= 4 * WINDOW {
                self.buf.drain(..self.buf.len() - WINDOW);
            }
            self.buf.push(f64::from(s));
            self.samples += 1;
            self.since_hop += 1;
            if self.buf.len() >= WINDOW && self.since_hop >= HOP {
                self.since_hop = 0;
                let seen = self.analyse();
                self.update(seen, &mut events);
            }
        }
        events
    }

    /// The digit in the current window, if it passes every check.
    fn analyse(&mut self) -> Option<char> {
        let win = &self.buf[self.buf.len() - WINDOW..];
        let mut p = [0.0f64; 8];
        for (g, out) in self.filters.iter_mut().zip(p.iter_mut()) {
            g.reset();
            for &x in win {
                g.push(x);
            }
            *out = g.power();
        }
        let e1: f64 = win[..WINDOW / 2].iter().map(|x| x * x).sum();
        let e2: f64 = win[WINDOW / 2..].iter().map(|x| x * x).sum();
        let total = (e1 + e2) / WINDOW as f64;
        // A tone filling only a sliver of the window must not count as a
        // full window, or short blips would pass the duration check.
        let balanced = e1 > 0.25 * e2 && e2 > 0.25 * e1;
        let best = |group: &[f64]| {
            let (i, &m) = group
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .expect("four filters");
            let next = group
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, &v)| v)
                .fold(0.0, f64::max);
            (i, m, next)
        };
        let (r, pr, nr) = best(&p[..4]);
        let (c, pc, nc) = best(&p[4..]);
        let group_margin = db_to_gain(8.0).powi(2);
        let twist = pc / pr;
        let ok = balanced
            && pr > self.min_power
            && pc > self.min_power
            && pr > nr * group_margin
            && pc > nc * group_margin
            && twist > db_to_gain(-8.0).powi(2)
            && twist < db_to_gain(6.0).powi(2)
            && pr + pc > 0.6 * total;
        ok.then_some(KEYS[r][c])
    }

    fn update(&mut self, seen: Option<char>, events: &mut Vec<DtmfEvent>) {
        let at = self.samples;
        if seen.is_some() && seen == self.candidate {
            self.candidate_count += 1;
        } else {
            self.candidate = seen;
            self.candidate_count = u32::from(seen.is_some());
        }
        match self.active {
            Some(d) if seen == Some(d) => self.misses = 0,
            Some(d) => {
                self.misses += 1;
                // A different confirmed digit ends this one at once.
                let replaced = self.candidate_count >= CONFIRM_START && self.candidate.is_some();
                if self.misses >= CONFIRM_END || replaced {
                    events.push(DtmfEvent {
                        digit: d,
                        kind: DtmfEventKind::End,
                        sample: at,
                    });
                    self.active = None;
                }
            }
            None => {}
        }
        if self.active.is_none() && self.candidate_count >= CONFIRM_START {
            if let Some(d) = self.candidate {
                self.active = Some(d);
                self.misses = 0;
                events.push(DtmfEvent {
                    digit: d,
                    kind: DtmfEventKind::Start,
                    sample: at,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tones::{Tone, ToneGenerator};

    const ALL: &str = "0123456789*#ABCD";

    fn detect(pcm: &[i16]) -> Vec<DtmfEvent> {
        let mut d = DtmfDetector::default();
        // 10 ms blocks, as mediad would feed it.
        pcm.chunks(80).flat_map(|c| d.push(c)).collect()
    }

    fn starts(ev: &[DtmfEvent]) -> String {
        ev.iter()
            .filter(|e| e.kind == DtmfEventKind::Start)
            .map(|e| e.digit)
            .collect()
    }

    /// Deterministic white noise (uniform), RMS `rms`.
    fn noise(n: usize, rms: f64, seed: u64) -> Vec<f64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                u * rms * 3f64.sqrt()
            })
            .collect()
    }

    fn play(digits: &str, level: u8, on: u32, off: u32) -> Vec<i16> {
        let mut g = DtmfGenerator::new(8000, level, on, off);
        assert!(g.push_digits(digits));
        let mut out = vec![0i16; 800]; // leading silence
        while g.is_active() {
            let mut f = [0i16; 160];
            g.fill(&mut f);
            out.extend_from_slice(&f);
        }
        out.extend_from_slice(&[0; 800]);
        out
    }

    #[test]
    fn every_digit_at_every_level_once() {
        for level in 1..=5 {
            let pcm = play(ALL, level, 60, 60);
            let ev = detect(&pcm);
            assert_eq!(starts(&ev), ALL, "level {level}");
            // Start/End strictly alternate, one pair per press.
            assert_eq!(ev.len(), 2 * ALL.len());
            for pair in ev.chunks(2) {
                assert_eq!(pair[0].kind, DtmfEventKind::Start);
                assert_eq!(pair[1].kind, DtmfEventKind::End);
                assert_eq!(pair[0].digit, pair[1].digit);
            }
        }
    }

    #[test]
    fn minimum_duration() {
        for offset in 0..68 {
            let mut pcm = vec![0i16; offset];
            pcm.extend(play("5", 3, 40, 50));
            assert_eq!(starts(&detect(&pcm)), "5", "offset {offset}");
            let mut pcm = vec![0i16; offset];
            pcm.extend(play("5", 5, 15, 50));
            assert_eq!(starts(&detect(&pcm)), "", "offset {offset}");
        }
    }

    #[test]
    fn level_5_does_not_clip() {
        let pcm = play("D", 5, 100, 0);
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak < 32767 && peak > 30000, "{peak}");
    }

    #[test]
    fn detected_in_noise_at_20_db_snr() {
        for level in 1..=5 {
            let clean = play(ALL, level, 60, 60);
            // Signal power while a digit sounds: both tones.
            let sig = dbm0_to_rms(NOMINAL_LOW_DBM0 + level_offset_db(level)).powi(2)
                + dbm0_to_rms(NOMINAL_HIGH_DBM0 + level_offset_db(level)).powi(2);
            let n = noise(clean.len(), (sig / 100.0).sqrt(), 42 + u64::from(level));
            let noisy: Vec<i16> = clean
                .iter()
                .zip(&n)
                .map(|(&s, &w)| (f64::from(s) + w).round().clamp(-32768.0, 32767.0) as i16)
                .collect();
            let ev = detect(&noisy);
            assert_eq!(starts(&ev), ALL, "level {level}");
            assert_eq!(ev.len(), 2 * ALL.len(), "level {level}");
        }
    }

    #[test]
    fn no_detection_on_non_dtmf() {
        // Silence.
        assert!(detect(&[0; 8000]).is_empty());
        // Single tones at and between the DTMF frequencies, loud.
        for f in ROWS.iter().chain(&COLS).chain(&[1000.0, 1100.0]) {
            let s: Vec<i16> = (0..8000)
                .map(|i| {
                    (12000.0 * (2.0 * std::f64::consts::PI * f * i as f64 / 8000.0).sin()) as i16
                })
                .collect();
            assert!(detect(&s).is_empty(), "{f} Hz");
        }
        // Dial tone.
        let mut dial = vec![0i16; 16000];
        ToneGenerator::new(Tone::Dial, 8000).fill(&mut dial);
        assert!(detect(&dial).is_empty());
        // Noise.
        assert!(detect(
            &noise(8000, 3000.0, 7)
                .iter()
                .map(|&x| x as i16)
                .collect::<Vec<_>>()
        )
        .is_empty());
    }

    #[test]
    fn no_talk_off_on_speech_like_signal() {
        // Voiced-speech stand-in: a glottal-like harmonic series with a
        // gliding pitch (90..250 Hz) and formant-like emphasis, 4 s long.
        let mut out = Vec::new();
        let mut phase = 0.0f64;
        for i in 0..32_000 {
            let t = i as f64 / 8000.0;
            let f0 = 170.0 + 80.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += f0 / 8000.0;
            let mut v = 0.0;
            for h in 1..=25 {
                let fh = f0 * h as f64;
                if fh > 3800.0 {
                    break;
                }
                // Formants near 700 and 1200 Hz (an "ah").
                let formant = 1.0 / (1.0 + ((fh - 700.0) / 150.0).powi(2))
                    + 0.7 / (1.0 + ((fh - 1200.0) / 200.0).powi(2));
                v += (formant + 0.05) / h as f64
                    * (2.0 * std::f64::consts::PI * h as f64 * phase).sin();
            }
            out.push((v * 6000.0).clamp(-32768.0, 32767.0) as i16);
        }
        assert!(detect(&out).is_empty());
    }

    #[test]
    fn invalid_digits_rejected() {
        let mut g = DtmfGenerator::new(8000, 3, 50, 50);
        assert!(!g.push_digits("12x"));
        assert!(!g.is_active());
        assert!(g.push_digits("a"));
    }
}
