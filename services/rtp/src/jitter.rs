//! The adaptive jitter buffer: a sans-IO playout core.
//!
//! # Model
//!
//! Packets are keyed by their unwrapped RTP timestamp. Playout follows a *cursor*, the
//! timestamp of the next frame to play, which the audio clock advances by one frame per
//! [`JitterBuffer::pop`]. The relation between the two clocks is the playout offset
//! `P = t_pop - cursor / rate`: a packet stamped `ts` plays at `ts / rate + P`.
//!
//! For every packet the buffer records its relative transit `r = t_arrival - ts / rate`.
//! A packet is on time when `P >= r`. The required offset is a high quantile (98 %) of
//! `r` over the last few seconds, plus a small margin. Before the quantile is taken the
//! window is detrended by a least-squares line through `r` against arrival time, so a
//! sender clock running fast or slow (skew) does not inflate the estimate.
//!
//! Adaptation:
//! - at a talk-spurt start (marker bit, a long gap, or after silence) the cursor is
//!   re-anchored so the spurt's first packet plays exactly the required offset after
//!   its arrival: the whole correction happens in silence;
//! - in speech, when `P` falls below the requirement, a frame is inserted (the caller
//!   conceals it, like a loss); when `P` exceeds it by a full frame, one frame is dropped,
//!   at most every `drop_interval`. Clock drift of either side shows up as a slowly
//!   moving `P` and is absorbed by these single-frame corrections.
//!
//! Timestamp jumps and SSRC changes re-map the new timestamps so they continue right
//! after the old stream in arrival time, and start a new talk spurt there.
//!
//! A far end with silence suppression says where its silences start (RFC 3389 SID
//! packets, [`JitterBuffer::push_silence`]): once playout reaches that point, the frames
//! without packets are [`Playout::Silence`] at once, not concealed as a loss, and the next
//! packet starts a talk spurt.
//!
//! # Limits
//!
//! The packet time must be a whole multiple of the pop frame (10 ms pops take 10, 20,
//! 30 ms packets; 20 ms pops take 20, 40, 60 ms packets): a pop never spans two packets.
//! A frame that is part of a longer packet is returned with its `offset`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::Error;

/// Tunables of a [`JitterBuffer`].
#[derive(Debug, Clone)]
pub struct JitterConfig {
    /// Timestamp clock rate (8000 for the phone).
    pub clock_rate: u32,
    /// Samples per pop (10 ms = 80, 20 ms = 160).
    pub frame_samples: u32,
    /// Samples per packet (the negotiated ptime); a multiple of `frame_samples`.
    pub packet_samples: u32,
    /// Safety margin added to the measured requirement.
    pub margin: Duration,
    /// Delay used before enough packets were seen to measure jitter.
    pub initial_delay: Duration,
    /// Cap on the playout delay above the fastest packets.
    pub max_delay: Duration,
    /// Fraction of packets that must be on time (0.98 = at most 2 % late).
    pub quantile: f64,
    /// Packets kept for the quantile.
    pub window: usize,
    /// Minimum time between two dropped frames in speech.
    pub drop_interval: Duration,
    /// An empty buffer for this long in speech means the far end went silent.
    pub gap_after: Duration,
    /// A timestamp gap this long before the next packet starts a new talk spurt.
    pub spurt_gap: Duration,
    /// A change of relative transit beyond this is a timestamp jump, not jitter.
    pub jump_threshold: Duration,
    /// Packets held at most (older ones are dropped beyond it).
    pub max_packets: usize,
}

impl JitterConfig {
    /// Defaults for 8000 Hz audio.
    pub fn new(packet_samples: u32, frame_samples: u32) -> Self {
        Self {
            clock_rate: crate::CLOCK_RATE,
            frame_samples,
            packet_samples,
            margin: Duration::from_millis(4),
            initial_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(400),
            quantile: 0.98,
            window: 250,
            drop_interval: Duration::from_millis(500),
            gap_after: Duration::from_millis(60),
            spurt_gap: Duration::from_millis(120),
            jump_threshold: Duration::from_secs(1),
            max_packets: 200,
        }
    }
}

/// What to play for one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Playout {
    /// Audio: decode `payload` (a whole packet) and play `samples` samples from `offset`.
    Frame {
        /// The packet payload, as received.
        payload: Bytes,
        /// The packet's RTP timestamp.
        timestamp: u32,
        /// Where this frame starts inside the packet, in samples.
        offset: u32,
        /// Samples of this frame.
        samples: u32,
        /// Time from the packet's arrival to the playout of its first sample.
        delay: Duration,
    },
    /// A frame is missing (lost, or inserted to grow the buffer): conceal it.
    Missing,
    /// The far end is silent between talk spurts: play comfort noise or silence.
    Silence,
    /// Nothing received yet.
    Empty,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for playout.
    Queued,
    /// Its time has passed: discarded.
    Late,
    /// Already queued: discarded.
    Duplicate,
}

/// Counters and figures of a [`JitterBuffer`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JitterStats {
    /// Packets pushed.
    pub pushed: u64,
    /// Frames played.
    pub played: u64,
    /// Frames concealed because their packet was missing.
    pub concealed: u64,
    /// Frames of silence between talk spurts.
    pub silence: u64,
    /// Packets discarded for arriving after their playout time.
    pub late: u64,
    /// Duplicate packets discarded.
    pub duplicates: u64,
    /// Frames dropped to shrink the buffer (jitter decrease or clock drift).
    pub dropped: u64,
    /// Frames inserted to grow it (returned as [`Playout::Missing`]).
    pub inserted: u64,
    /// Timestamp jumps and SSRC changes.
    pub resyncs: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Current target delay above the fastest packets, in ms.
    pub target_delay_ms: f64,
    /// Mean buffering delay of played frames, in ms.
    pub delay_avg_ms: f64,
    /// Largest buffering delay of a played frame, in ms.
    pub delay_max_ms: f64,
}

#[derive(Debug, Clone)]
struct Entry {
    payload: Bytes,
    ts: u32,
    spurt_start: bool,
    arrival: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Playing,
    Gap,
}

/// The adaptive jitter buffer (see the module docs).
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    rate: f64,
    frame_dur: f64,
    epoch: Option<Instant>,
    ssrc: Option<u32>,
    // (last RTP timestamp, its unwrapped value, its arrival)
    ext_ref: Option<(u32, i64, f64)>,
    last_r: Option<f64>,
    packets: BTreeMap<i64, Entry>,
    window: VecDeque<(f64, f64)>,
    scratch: Vec<f64>,
    // Cached fit: required offset = q + slope * t.
    fit: Option<(f64, f64, f64)>,
    state: State,
    cursor: i64,
    spurt_start: i64,
    last_played: Option<i64>,
    /// Where the far end said its silences start (unwrapped timestamps), until speech
    /// after them is played.
    silences: BTreeSet<i64>,
    missing_run: u32,
    last_drop: f64,
    delay_sum: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for the given configuration.
    pub fn new(cfg: JitterConfig) -> Result<Self, Error> {
        if cfg.frame_samples == 0 || cfg.packet_samples == 0 || cfg.clock_rate == 0 {
            return Err(Error::Config("sizes and rate must be non-zero"));
        }
        if !cfg.packet_samples.is_multiple_of(cfg.frame_samples) {
            return Err(Error::Config(
                "packet_samples must be a multiple of frame_samples",
            ));
        }
        if !(0.5..1.0).contains(&cfg.quantile) || cfg.window < 8 {
            return Err(Error::Config("quantile in [0.5, 1) and window >= 8"));
        }
        let rate = cfg.clock_rate as f64;
        Ok(Self {
            rate,
            frame_dur: cfg.frame_samples as f64 / rate,
            cfg,
            epoch: None,
            ssrc: None,
            ext_ref: None,
            last_r: None,
            packets: BTreeMap::new(),
            window: VecDeque::new(),
            scratch: Vec::new(),
            fit: None,
            state: State::Idle,
            cursor: 0,
            spurt_start: 0,
            last_played: None,
            silences: BTreeSet::new(),
            missing_run: 0,
            last_drop: f64::NEG_INFINITY,
            delay_sum: 0.0,
            stats: JitterStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats.clone();
        if s.played > 0 {
            s.delay_avg_ms = self.delay_sum / s.played as f64 * 1000.0;
        }
        s
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn secs(&mut self, now: Instant) -> f64 {
        let e = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(e).as_secs_f64()
    }

    /// Takes in a received audio packet. `seq` is not needed for ordering (timestamps
    /// are) and is accepted for symmetry with the receiver; duplicates are found by
    /// timestamp.
    pub fn push(
        &mut self,
        now: Instant,
        _seq: u16,
        timestamp: u32,
        ssrc: u32,
        marker: bool,
        payload: &[u8],
    ) -> Pushed {
        let t = self.secs(now);
        self.stats.pushed += 1;
        let ps = self.cfg.packet_samples as i64;
        let mut spurt_start = marker;

        let mut ext = match self.ext_ref {
            Some((last_ts, last_ext, _)) if self.ssrc == Some(ssrc) => {
                last_ext + timestamp.wrapping_sub(last_ts) as i32 as i64
            }
            Some(_) => i64::MIN, // new SSRC: re-mapped below
            None => 1 << 32,
        };
        let r = t - ext as f64 / self.rate;
        let jumped = ext == i64::MIN
            || self
                .last_r
                .is_some_and(|lr| (r - lr).abs() > self.cfg.jump_threshold.as_secs_f64());
        if jumped {
            // Continue the old timeline: place this packet where its arrival time says,
            // after everything held, as the start of a new talk spurt.
            let (_, last_ext, last_t) = self.ext_ref.expect("jump needs a previous packet");
            let steps = ((t - last_t) * self.rate / ps as f64).round().max(1.0) as i64;
            let mut e = last_ext + steps * ps;
            if let Some((&hi, _)) = self.packets.last_key_value() {
                e = e.max(hi + ps);
            }
            if let Some(lp) = self.last_played {
                e = e.max(lp + ps);
            }
            ext = e;
            spurt_start = true;
            self.stats.resyncs += 1;
        }
        self.ssrc = Some(ssrc);
        // Keep the reference on the newest packet so wraps unwrap correctly.
        match self.ext_ref {
            Some((_, last_ext, _)) if !jumped && ext < last_ext => {}
            _ => self.ext_ref = Some((timestamp, ext, t)),
        }
        let r = t - ext as f64 / self.rate;
        if self.packets.contains_key(&ext) || self.last_played == Some(ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.last_r = Some(r);
        self.window.push_back((t, r));
        if self.window.len() > self.cfg.window {
            self.window.pop_front();
        }
        self.fit = None;

        let late = self.last_played.is_some_and(|lp| ext <= lp)
            || (self.state == State::Playing && ext + ps <= self.cursor);
        if late {
            self.stats.late += 1;
            return Pushed::Late;
        }
        if self.packets.len() >= self.cfg.max_packets {
            self.packets.pop_first();
            self.stats.overflow += 1;
        }
        self.packets.insert(
            ext,
            Entry {
                payload: Bytes::copy_from_slice(payload),
                ts: timestamp,
                spurt_start,
                arrival: t,
            },
        );
        Pushed::Queued
    }

    /// The far end is silent from `timestamp` on (an RFC 3389 SID packet, or a codec's
    /// own SID frame, of the stream `ssrc`). Once playout reaches it and no packet covers
    /// it, the buffer plays [`Playout::Silence`] without concealing anything. A SID
    /// before any audio, from another SSRC or older than what was played says nothing
    /// the buffer can use and is ignored.
    pub fn push_silence(&mut self, timestamp: u32, ssrc: u32) {
        let Some((last_ts, last_ext, _)) = self.ext_ref else {
            return;
        };
        if self.ssrc != Some(ssrc) {
            return;
        }
        let ext = last_ext + timestamp.wrapping_sub(last_ts) as i32 as i64;
        if self.last_played.is_some_and(|lp| ext <= lp) {
            return;
        }
        // A refresh of a silence already noted (no packet between the two) adds nothing;
        // this also bounds the set during long silences.
        if let Some(&prev) = self.silences.last() {
            if prev <= ext && self.packets.range(prev..ext).next().is_none() {
                return;
            }
        }
        self.silences.insert(ext);
    }

    /// The playout offset the network requires at time `t` (seconds since epoch).
    fn required(&mut self, t: f64) -> f64 {
        if self.fit.is_none() {
            self.fit = Some(self.compute_fit());
        }
        let (q, slope, low) = self.fit.expect("computed");
        let need = q + slope * t + self.cfg.margin.as_secs_f64();
        need.min(low + slope * t + self.cfg.max_delay.as_secs_f64())
    }

    // Returns (quantile of detrended r, slope, minimum of detrended r).
    fn compute_fit(&mut self) -> (f64, f64, f64) {
        let n = self.window.len();
        if n == 0 {
            return (0.0, 0.0, 0.0);
        }
        let nf = n as f64;
        let (st, sr) = self
            .window
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, r)| (a + t, b + r));
        let (mt, mr) = (st / nf, sr / nf);
        let (mut cov, mut var) = (0.0, 0.0);
        for (t, r) in &self.window {
            cov += (t - mt) * (r - mr);
            var += (t - mt) * (t - mt);
        }
        let span = self.window.back().map_or(0.0, |b| b.0) - self.window[0].0;
        // Too short a window cannot tell skew from jitter.
        let slope = if span >= 2.0 && var > 0.0 {
            (cov / var).clamp(-0.01, 0.01)
        } else {
            0.0
        };
        self.scratch.clear();
        self.scratch
            .extend(self.window.iter().map(|(t, r)| r - slope * t));
        let idx = ((nf * self.cfg.quantile).ceil() as usize).clamp(1, n) - 1;
        let (_, q, _) = self.scratch.select_nth_unstable_by(idx, f64::total_cmp);
        let q = *q;
        let low = self.scratch.iter().copied().fold(f64::INFINITY, f64::min);
        let mut q = q;
        if n < 20 {
            // Not enough data yet: start with a comfortable delay.
            q = q.max(low + self.cfg.initial_delay.as_secs_f64() - self.cfg.margin.as_secs_f64());
        }
        self.stats.target_delay_ms = (q - low + self.cfg.margin.as_secs_f64()) * 1000.0;
        (q, slope, low)
    }

    /// Starts a talk spurt at the oldest held packet so it plays the required offset
    /// after its arrival.
    fn anchor(&mut self, t: f64) {
        let Some((&first, _)) = self.packets.first_key_value() else {
            return;
        };
        let need = self.required(t);
        let target = (t - need) * self.rate;
        let fs = self.cfg.frame_samples as i64;
        let k = ((first as f64 - target) / fs as f64).ceil().max(0.0) as i64;
        self.cursor = first - k * fs;
        self.spurt_start = first;
        self.state = State::Playing;
        self.missing_run = 0;
        if let Some(e) = self.packets.get_mut(&first) {
            e.spurt_start = false;
        }
    }

    /// Called once per frame by the audio clock: what to play now.
    pub fn pop(&mut self, now: Instant) -> Playout {
        let t = self.secs(now);
        let out = match self.state {
            State::Idle | State::Gap if self.packets.is_empty() => {
                if self.state == State::Idle {
                    Playout::Empty
                } else {
                    self.stats.silence += 1;
                    Playout::Silence
                }
            }
            State::Idle | State::Gap => {
                self.anchor(t);
                self.play(t, true)
            }
            State::Playing => self.play(t, true),
        };
        // Forget packets the cursor has passed (after a dropped frame).
        let ps = self.cfg.packet_samples as i64;
        while let Some(e) = self.packets.first_entry() {
            if *e.key() + ps <= self.cursor && self.state == State::Playing {
                e.remove();
            } else {
                break;
            }
        }
        out
    }

    fn play(&mut self, t: f64, adapt: bool) -> Playout {
        let fs = self.cfg.frame_samples as i64;
        let ps = self.cfg.packet_samples as i64;
        // The far end said it went silent at or before this frame.
        let silent = self.silences.range(..=self.cursor).next().is_some();
        if adapt && !silent && self.cursor >= self.spurt_start {
            let p = t - self.cursor as f64 / self.rate;
            let err = p - self.required(t);
            if err < -0.0005 {
                self.stats.inserted += 1;
                return Playout::Missing;
            }
            if err >= self.frame_dur + 0.003
                && t - self.last_drop >= self.cfg.drop_interval.as_secs_f64()
            {
                self.cursor += fs;
                self.last_drop = t;
                self.stats.dropped += 1;
            }
        }
        let covering = self
            .packets
            .range(..=self.cursor)
            .next_back()
            .map(|(&k, _)| k)
            .filter(|&k| self.cursor < k + ps);
        if let Some(k) = covering {
            let offset = self.cursor - k;
            let last_part = offset + fs >= ps;
            let e = if last_part {
                self.packets.remove(&k).expect("present")
            } else {
                self.packets[&k].clone()
            };
            if last_part {
                self.last_played = Some(k);
            }
            if !self.silences.is_empty() {
                // Speech again: the silences announced before it are over.
                self.silences = self.silences.split_off(&(k + 1));
            }
            // The added delay is that of the packet's first sample.
            let delay = (t - offset as f64 / self.rate - e.arrival).max(0.0);
            self.delay_sum += delay;
            self.stats.delay_max_ms = self.stats.delay_max_ms.max(delay * 1000.0);
            self.stats.played += 1;
            self.cursor += fs;
            self.missing_run = 0;
            return Playout::Frame {
                payload: e.payload,
                timestamp: e.ts,
                offset: offset as u32,
                samples: fs as u32,
                delay: Duration::from_secs_f64(delay),
            };
        }
        if self.cursor < self.spurt_start {
            self.cursor += fs;
            self.stats.silence += 1;
            return Playout::Silence;
        }
        let next = self
            .packets
            .range(self.cursor..)
            .next()
            .map(|(&k, e)| (k, e.spurt_start));
        match next {
            Some((k, start))
                if adapt
                    && (start
                        || silent
                        || (k - self.cursor) as f64 / self.rate
                            >= self.cfg.spurt_gap.as_secs_f64()) =>
            {
                // A new talk spurt: re-anchor so the gap absorbs the delay change.
                self.anchor(t);
                self.play(t, false)
            }
            Some(_) => {
                self.cursor += fs;
                self.missing_run += 1;
                self.stats.concealed += 1;
                Playout::Missing
            }
            None => {
                self.cursor += fs;
                self.missing_run += 1;
                if silent
                    || self.missing_run as f64 * self.frame_dur
                        > self.cfg.gap_after.as_secs_f64() + 1e-9
                {
                    self.state = State::Gap;
                    self.stats.silence += 1;
                    Playout::Silence
                } else {
                    self.stats.concealed += 1;
                    Playout::Missing
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_ts(p: &Playout) -> Option<(u32, u32)> {
        match p {
            Playout::Frame {
                timestamp, offset, ..
            } => Some((*timestamp, *offset)),
            _ => None,
        }
    }

    #[test]
    fn config_is_checked() {
        assert!(JitterBuffer::new(JitterConfig::new(240, 160)).is_err());
        assert!(JitterBuffer::new(JitterConfig::new(160, 0)).is_err());
        assert!(JitterBuffer::new(JitterConfig::new(240, 80)).is_ok());
    }

    #[test]
    fn empty_before_start_then_plays_in_order() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(160, 160)).unwrap();
        assert_eq!(jb.pop(t0), Playout::Empty);
        let ms = |m: u64| t0 + Duration::from_millis(m);
        // Packets 0..5 arriving in the order 0, 2, 1, 3, 3 (dup), 4.
        for (seq, at) in [(0u16, 1), (2, 41), (1, 42), (3, 61), (3, 62), (4, 81)] {
            jb.push(
                ms(at),
                seq,
                1000 + 160 * seq as u32,
                7,
                seq == 0,
                &[seq as u8],
            );
        }
        let mut played = Vec::new();
        for i in 0..12 {
            if let Some((ts, _)) = frame_ts(&jb.pop(ms(5 + 20 * i))) {
                played.push(ts);
            }
        }
        assert_eq!(played, [1000, 1160, 1320, 1480, 1640]);
        let s = jb.stats();
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.late, 0);
    }

    #[test]
    fn ten_ms_pop_splits_packets() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(240, 80)).unwrap();
        for i in 0..3u32 {
            jb.push(t0, i as u16, i * 240, 1, i == 0, &[i as u8; 240]);
        }
        let mut parts = Vec::new();
        for i in 0..20 {
            if let Some(f) = frame_ts(&jb.pop(t0 + Duration::from_millis(10 * i))) {
                parts.push(f);
            }
        }
        assert_eq!(
            parts,
            [
                (0, 0),
                (0, 80),
                (0, 160),
                (240, 0),
                (240, 80),
                (240, 160),
                (480, 0),
                (480, 80),
                (480, 160)
            ]
        );
    }

    #[test]
    fn loss_is_missing_and_late_is_discarded() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(160, 160)).unwrap();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut out = Vec::new();
        for i in 0..60u64 {
            // Packet 30 lost, packet 40 arrives 300 ms late.
            if i != 30 && i != 40 {
                jb.push(ms(20 * i), i as u16, 160 * i as u32, 1, i == 0, &[i as u8]);
            }
            if i == 55 {
                assert_eq!(
                    jb.push(ms(20 * i), 40, 160 * 40, 1, false, &[40]),
                    Pushed::Late
                );
            }
            out.push(jb.pop(ms(20 * i + 10)));
        }
        let missing = out.iter().filter(|p| **p == Playout::Missing).count();
        assert!(missing >= 2, "{missing}");
        let s = jb.stats();
        assert_eq!(s.late, 1);
        assert!(s.concealed >= 2);
        let ts: Vec<u32> = out.iter().filter_map(frame_ts).map(|f| f.0).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
        assert!(!ts.contains(&(160 * 30)) && !ts.contains(&(160 * 40)));
    }

    #[test]
    fn silence_between_talk_spurts_and_ssrc_change() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(160, 160)).unwrap();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut kinds = Vec::new();
        let mut pops = 0u64;
        let mut pop_until = |jb: &mut JitterBuffer, end: u64, kinds: &mut Vec<Playout>| {
            while 20 * pops + 10 < end {
                kinds.push(jb.pop(ms(20 * pops + 10)));
                pops += 1;
            }
        };
        // Spurt 1: 0-1 s; silence 1-2 s; spurt 2: 2-3 s with a new SSRC and timestamps.
        for i in 0..50u64 {
            pop_until(&mut jb, 20 * i, &mut kinds);
            jb.push(ms(20 * i), i as u16, 160 * i as u32, 1, i == 0, &[1]);
        }
        for i in 0..50u64 {
            pop_until(&mut jb, 2000 + 20 * i, &mut kinds);
            jb.push(
                ms(2000 + 20 * i),
                9000 + i as u16,
                777_777 + 160 * i as u32,
                2,
                i == 0,
                &[2],
            );
        }
        pop_until(&mut jb, 3200, &mut kinds);
        let frames = kinds
            .iter()
            .filter(|p| matches!(p, Playout::Frame { .. }))
            .count();
        let s = jb.stats();
        assert_eq!(frames as u64 + s.dropped, 100, "{s:?}");
        assert!(s.dropped <= 2, "{s:?}");
        let silence = kinds.iter().filter(|p| **p == Playout::Silence).count();
        assert!(silence >= 40, "{silence}");
        assert_eq!(s.resyncs, 1);
        assert_eq!(s.late, 0);
        assert!(s.concealed <= 6, "end-of-spurt concealment only: {s:?}");
    }

    /// A far end with RFC 3389 comfort noise: 20 ms packets for 1 s, a SID where its
    /// silence starts, SID refreshes every 200 ms, then speech again with the marker.
    /// The silence is played as silence from exactly the SID on: nothing concealed,
    /// every speech frame played, and the next spurt starts cleanly.
    #[test]
    fn a_silence_announced_by_a_sid_is_silence_not_loss() {
        for with_sid in [true, false] {
            let t0 = Instant::now();
            let mut jb = JitterBuffer::new(JitterConfig::new(160, 80)).unwrap();
            let ms = |m: u64| t0 + Duration::from_millis(m);
            let mut out = Vec::new();
            let mut now = 0u64;
            let mut pop_until = |jb: &mut JitterBuffer, end: u64, out: &mut Vec<Playout>| {
                while now < end {
                    out.push(jb.pop(ms(now)));
                    now += 10;
                }
            };
            for i in 0..50u64 {
                pop_until(&mut jb, 20 * i, &mut out);
                jb.push(ms(20 * i), i as u16, 160 * i as u32, 1, i == 0, &[1]);
            }
            // Silence from 1.0 s to 2.0 s (timestamps 8000..16000).
            for k in 0..5u64 {
                pop_until(&mut jb, 1000 + 200 * k, &mut out);
                if with_sid {
                    jb.push_silence(8000 + 1600 * k as u32, 1);
                }
            }
            if with_sid {
                assert_eq!(jb.silences.len(), 1, "the refreshes are not kept");
            }
            for i in 0..50u64 {
                pop_until(&mut jb, 2000 + 20 * i, &mut out);
                jb.push(
                    ms(2000 + 20 * i),
                    55 + i as u16,
                    16000 + 160 * i as u32,
                    1,
                    i == 0,
                    &[2],
                );
            }
            if with_sid {
                // The second spurt ends with a SID too.
                jb.push_silence(24000, 1);
            }
            pop_until(&mut jb, 3200, &mut out);
            let s = jb.stats();
            let frames = out
                .iter()
                .filter(|p| matches!(p, Playout::Frame { .. }))
                .count() as u64;
            assert_eq!(frames + s.dropped, 200, "every speech frame played: {s:?}");
            if with_sid {
                assert_eq!(s.concealed, 0, "the SID said silence: {s:?}");
                assert_eq!(s.inserted, 0, "{s:?}");
            } else {
                assert!(s.concealed >= 4, "without a SID the end is a loss: {s:?}");
            }
        }
    }
}
