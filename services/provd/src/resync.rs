//! When to read syncinfo.xml after a check-sync: once the phone has been idle for 20 seconds.
//!
//! Sans-IO: the service reports requests and busy/idle changes with the time, asks
//! [`ResyncTimer::poll_timeout`] when to wake up, and calls [`ResyncTimer::handle_timeout`],
//! which says when to fetch.

use std::time::{Duration, Instant};

/// The guide's wait: 20 seconds of idle phone before syncinfo.xml is fetched.
pub const IDLE_WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncState {
    Idle,
    /// A check-sync is pending; waiting for 20 s of idle phone.
    WaitingForIdlePhone,
    /// syncinfo.xml is being fetched.
    Fetching,
}

impl ResyncState {
    pub fn name(self) -> &'static str {
        match self {
            ResyncState::Idle => "idle",
            ResyncState::WaitingForIdlePhone => "waiting_for_idle_phone",
            ResyncState::Fetching => "fetching_syncinfo",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResyncTimer {
    wait: Duration,
    busy: bool,
    /// Since when the phone has been idle (or the request time, if later).
    quiet_since: Instant,
    state: ResyncState,
}

impl ResyncTimer {
    pub fn new(now: Instant, wait: Duration) -> ResyncTimer {
        ResyncTimer {
            wait,
            busy: false,
            quiet_since: now,
            state: ResyncState::Idle,
        }
    }

    pub fn state(&self) -> ResyncState {
        self.state
    }

    /// A check-sync NOTIFY or `phonectl resync`. Requests during a wait coalesce; the 20 s
    /// count starts at the request even if the phone was idle long before.
    pub fn request(&mut self, now: Instant) {
        if self.state == ResyncState::Idle {
            self.state = ResyncState::WaitingForIdlePhone;
            self.quiet_since = now;
        }
    }

    /// The phone went into use (call, off hook) or back to idle.
    pub fn set_busy(&mut self, busy: bool, now: Instant) {
        if self.busy && !busy {
            self.quiet_since = now;
        }
        self.busy = busy;
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.state == ResyncState::WaitingForIdlePhone && !self.busy)
            .then(|| self.quiet_since + self.wait)
    }

    /// Returns true when syncinfo.xml must be fetched now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(at) if now >= at => {
                self.state = ResyncState::Fetching;
                true
            }
            _ => false,
        }
    }

    /// The fetch and its consequences are over.
    pub fn fetched(&mut self) {
        self.state = ResyncState::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_phone_waits_twenty_seconds_from_the_request() {
        let t0 = Instant::now();
        let mut r = ResyncTimer::new(t0, IDLE_WAIT);
        assert_eq!(r.poll_timeout(), None);
        let req = t0 + Duration::from_secs(300);
        r.request(req);
        assert_eq!(r.poll_timeout(), Some(req + IDLE_WAIT));
        assert!(!r.handle_timeout(req + Duration::from_secs(19)));
        assert!(r.handle_timeout(req + IDLE_WAIT));
        assert_eq!(r.state(), ResyncState::Fetching);
        r.fetched();
        assert_eq!(r.state(), ResyncState::Idle);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_busy_phone_waits_until_idle_for_twenty_seconds() {
        let t0 = Instant::now();
        let mut r = ResyncTimer::new(t0, IDLE_WAIT);
        r.set_busy(true, t0);
        r.request(t0 + Duration::from_secs(1));
        assert_eq!(r.poll_timeout(), None, "no deadline while in a call");
        assert!(!r.handle_timeout(t0 + Duration::from_secs(600)));
        let hangup = t0 + Duration::from_secs(700);
        r.set_busy(false, hangup);
        assert_eq!(r.poll_timeout(), Some(hangup + IDLE_WAIT));
        // A new call 10 s later restarts the count when it ends.
        r.set_busy(true, hangup + Duration::from_secs(10));
        assert!(!r.handle_timeout(hangup + IDLE_WAIT));
        let hangup2 = hangup + Duration::from_secs(40);
        r.set_busy(false, hangup2);
        assert!(!r.handle_timeout(hangup2 + Duration::from_secs(19)));
        assert!(r.handle_timeout(hangup2 + IDLE_WAIT));
    }

    #[test]
    fn requests_during_a_wait_coalesce() {
        let t0 = Instant::now();
        let mut r = ResyncTimer::new(t0, IDLE_WAIT);
        r.request(t0);
        r.request(t0 + Duration::from_secs(15));
        assert_eq!(r.poll_timeout(), Some(t0 + IDLE_WAIT));
    }
}
