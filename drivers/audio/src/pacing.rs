//! Real-time pacing for the host backends.
//!
//! A sound card consumes and produces samples at a fixed rate; a file does
//! not. To make the host backends behave like a card, each keeps a count of
//! the samples it has moved and sleeps until the monotonic clock reaches the
//! time at which that many samples would have played. Deadlines are computed
//! from the start instant and the total count (never by adding up rounded
//! frame periods), so there is no drift, and a caller that fell behind gets
//! its frames at once until it has caught up.

use std::time::{Duration, Instant};

use crate::SAMPLE_RATE;

/// Whether a host backend keeps real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// One frame per frame period, against a monotonic clock.
    RealTime,
    /// As fast as the caller asks: for tests and offline processing.
    Unpaced,
}

/// If the caller is further behind than this (stopped in a debugger,
/// suspended machine), start counting afresh rather than bursting through
/// seconds of audio to catch up.
const MAX_LAG: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Pacer {
    pacing: Pacing,
    start: Option<Instant>,
    samples: u64,
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing) -> Self {
        Pacer {
            pacing,
            start: None,
            samples: 0,
        }
    }

    fn offset(samples: u64) -> Duration {
        Duration::from_nanos(samples * 1_000_000_000 / u64::from(SAMPLE_RATE))
    }

    /// Accounts for `n` more samples and sleeps until they are due.
    ///
    /// The first call starts the clock, so the first frame of a stream is
    /// never delayed.
    pub(crate) fn advance(&mut self, n: usize) {
        if self.pacing == Pacing::Unpaced {
            return;
        }
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let due = start + Self::offset(self.samples);
        if now > due + MAX_LAG {
            log::warn!(
                "audio pacing fell {} ms behind; resynchronising",
                (now - due).as_millis()
            );
            self.start = Some(now);
            self.samples = 0;
        } else if due > now {
            std::thread::sleep(due - now);
        }
        self.samples += n as u64;
    }

    /// Samples accounted for but not yet due, i.e. what a card would still
    /// have queued.
    pub(crate) fn ahead(&self) -> usize {
        let Some(start) = self.start else { return 0 };
        let elapsed = start.elapsed().as_nanos() as u64;
        let played = elapsed.saturating_mul(u64::from(SAMPLE_RATE)) / 1_000_000_000;
        self.samples.saturating_sub(played) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_time_pacing_keeps_the_frame_rate() {
        let mut p = Pacer::new(Pacing::RealTime);
        let t0 = Instant::now();
        // 11 frames of 10 ms: the first is immediate, then 10 periods.
        for _ in 0..11 {
            p.advance(80);
        }
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(100), "too fast: {took:?}");
        assert!(took < Duration::from_millis(400), "too slow: {took:?}");
    }

    #[test]
    fn late_caller_catches_up_without_drift() {
        let mut p = Pacer::new(Pacing::RealTime);
        p.advance(160);
        std::thread::sleep(Duration::from_millis(100));
        // 100 ms late: the next five 20 ms frames are already due.
        let t0 = Instant::now();
        for _ in 0..5 {
            p.advance(160);
        }
        assert!(t0.elapsed() < Duration::from_millis(40));
        // After catching up, the schedule is still anchored at the start:
        // frame 7 is due at 120 ms after it.
        let start = p.start.unwrap();
        p.advance(160);
        assert!(start.elapsed() >= Duration::from_millis(120));
    }

    #[test]
    fn unpaced_never_sleeps() {
        let mut p = Pacer::new(Pacing::Unpaced);
        let t0 = Instant::now();
        for _ in 0..1000 {
            p.advance(160);
        }
        assert!(t0.elapsed() < Duration::from_millis(50));
        assert_eq!(p.ahead(), 0);
    }

    #[test]
    fn ahead_reports_queued_samples() {
        let mut p = Pacer::new(Pacing::RealTime);
        p.advance(800);
        // 800 samples (100 ms) accounted for, almost none played yet.
        let a = p.ahead();
        assert!(a > 400 && a <= 800, "ahead = {a}");
    }
}
