//! Peers that were locked out wait before they get a new login prompt.
//!
//! A session closes after three failed logins; without this, a peer would reconnect at once
//! and go on guessing. Sans-IO like the session: the shell passes the time.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LoginThrottle<K> {
    until: HashMap<K, Instant>,
    hold: Duration,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> LoginThrottle<K> {
    /// Locked-out peers wait `hold`; at most `capacity` peers are remembered (the oldest
    /// lockout is forgotten first), so a flood of addresses cannot grow the table.
    pub fn new(hold: Duration, capacity: usize) -> Self {
        LoginThrottle {
            until: HashMap::new(),
            hold,
            capacity: capacity.max(1),
        }
    }

    /// How long `peer` must still wait, if it must.
    pub fn wait(&mut self, peer: &K, now: Instant) -> Option<Duration> {
        let until = *self.until.get(peer)?;
        if until <= now {
            self.until.remove(peer);
            return None;
        }
        Some(until - now)
    }

    /// `peer` was locked out now.
    pub fn lock_out(&mut self, peer: K, now: Instant) {
        self.until.retain(|_, until| *until > now);
        if self.until.len() >= self.capacity && !self.until.contains_key(&peer) {
            if let Some(oldest) = self
                .until
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| k.clone())
            {
                self.until.remove(&oldest);
            }
        }
        self.until.insert(peer, now + self.hold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_out_peer_waits_the_hold_and_others_do_not() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::new(Duration::from_secs(60), 2);
        assert_eq!(t.wait(&"a", t0), None);
        t.lock_out("a", t0);
        assert_eq!(
            t.wait(&"a", t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(t.wait(&"b", t0), None);
        assert_eq!(t.wait(&"a", t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn the_table_is_bounded() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::new(Duration::from_secs(60), 2);
        t.lock_out(1, t0);
        t.lock_out(2, t0 + Duration::from_secs(1));
        t.lock_out(3, t0 + Duration::from_secs(2));
        let now = t0 + Duration::from_secs(3);
        assert_eq!(t.wait(&1, now), None, "the oldest was forgotten");
        assert!(t.wait(&2, now).is_some());
        assert!(t.wait(&3, now).is_some());
    }
}
