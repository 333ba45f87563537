//! A sans-IO debouncer for one two-state contact (the hook switch).
//!
//! A new level counts once it has held, unchanged, for the whole window: a contact that
//! bounces settles to one change, reported a window after the last bounce. The very first
//! level seen is reported at once, so a service learns where the handset is when it starts.
//!
//! Time is the caller's: every input carries a timestamp (`Duration` since any fixed origin, the
//! same for all calls). A caller that sees no further events asks [`Debouncer::poll_timeout`]
//! when to call [`Debouncer::handle_timeout`]; a caller that samples (a polled GPIO) needs no
//! timer, since each sample also lets time pass.

use std::time::Duration;

/// The default window: long enough for a mechanical hook switch, short enough not to be felt.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    /// The level reported last; `None` before the first sample.
    stable: Option<bool>,
    /// The level seen last and when it was first seen.
    latest: bool,
    since: Duration,
}

impl Debouncer {
    pub fn new(window: Duration) -> Debouncer {
        Debouncer {
            window,
            stable: None,
            latest: false,
            since: Duration::ZERO,
        }
    }

    /// The level reported last, if any.
    pub fn stable(&self) -> Option<bool> {
        self.stable
    }

    /// A sample or edge: the contact is at `level` at time `at`. Returns the newly stable level,
    /// if one became stable by `at` (including, on the first call, `level` itself).
    pub fn handle_level(&mut self, level: bool, at: Duration) -> Option<bool> {
        if self.stable.is_none() {
            self.stable = Some(level);
            self.latest = level;
            self.since = at;
            return Some(level);
        }
        // A pending level that held for the window before this sample is a change, whatever
        // this sample says.
        let settled = self.handle_timeout(at);
        if level != self.latest {
            self.latest = level;
            self.since = at;
        }
        settled
    }

    /// Time has passed up to `now`: returns the newly stable level, if any.
    pub fn handle_timeout(&mut self, now: Duration) -> Option<bool> {
        let stable = self.stable?;
        // Timestamps from several sources may step back a little: that counts as no time.
        if self.latest != stable && now.saturating_sub(self.since) >= self.window {
            self.stable = Some(self.latest);
            return Some(self.latest);
        }
        None
    }

    /// When a pending level becomes stable if nothing changes before then.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.stable {
            Some(stable) if stable != self.latest => Some(self.since + self.window),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_level_is_reported_at_once() {
        let mut d = Debouncer::new(ms(20));
        assert_eq!(d.handle_level(true, ms(1000)), Some(true));
        assert_eq!(d.poll_timeout(), None);
        assert_eq!(d.handle_level(true, ms(1001)), None);
    }

    #[test]
    fn a_change_counts_after_holding_for_the_window() {
        let mut d = Debouncer::new(ms(20));
        d.handle_level(false, ms(0));
        assert_eq!(d.handle_level(true, ms(100)), None);
        assert_eq!(d.poll_timeout(), Some(ms(120)));
        assert_eq!(d.handle_timeout(ms(119)), None);
        assert_eq!(d.handle_timeout(ms(120)), Some(true));
        assert_eq!(d.handle_timeout(ms(500)), None);
        assert_eq!(d.poll_timeout(), None);
        assert_eq!(d.stable(), Some(true));
    }

    #[test]
    fn bounces_within_the_window_give_exactly_one_change() {
        let mut d = Debouncer::new(ms(20));
        d.handle_level(false, ms(0));
        let mut changes: Vec<bool> = vec![];
        for (level, at) in [
            (true, 100),
            (false, 103),
            (true, 105),
            (false, 110),
            (true, 114),
        ] {
            changes.extend(d.handle_level(level, ms(at)));
        }
        assert!(changes.is_empty());
        assert_eq!(d.poll_timeout(), Some(ms(134)));
        changes.extend(d.handle_timeout(ms(134)));
        assert_eq!(changes, vec![true]);
    }

    #[test]
    fn a_glitch_that_returns_is_no_change() {
        let mut d = Debouncer::new(ms(20));
        d.handle_level(true, ms(0));
        assert_eq!(d.handle_level(false, ms(50)), None);
        assert_eq!(d.handle_level(true, ms(55)), None);
        assert_eq!(d.poll_timeout(), None);
        assert_eq!(d.handle_timeout(ms(1000)), None);
        assert_eq!(d.stable(), Some(true));
    }

    #[test]
    fn a_late_sample_first_settles_the_level_that_held() {
        // Held true for 30 ms before the next edge back: that was a change, and the edge back
        // starts a new pending change.
        let mut d = Debouncer::new(ms(20));
        d.handle_level(false, ms(0));
        d.handle_level(true, ms(10));
        assert_eq!(d.handle_level(false, ms(40)), Some(true));
        assert_eq!(d.poll_timeout(), Some(ms(60)));
        assert_eq!(d.handle_timeout(ms(60)), Some(false));
    }

    #[test]
    fn time_stepping_back_does_not_settle_early() {
        let mut d = Debouncer::new(ms(20));
        d.handle_level(false, ms(100));
        d.handle_level(true, ms(200));
        assert_eq!(d.handle_level(true, ms(150)), None);
        assert_eq!(d.handle_timeout(ms(219)), None);
        assert_eq!(d.handle_timeout(ms(220)), Some(true));
    }
}
