//! systemd's watchdog, fed only while the audio thread is alive.
//!
//! The tokio side answers the socket even when the audio thread is stuck (a sound card
//! that blocks, a deadlock), so feeding `WATCHDOG=1` from there alone would hide the one
//! hang that silences every call. The audio thread stamps a [`Heartbeat`] each time it
//! goes round its loop (every frame in a call, at least every second when idle); the
//! feeder withholds `WATCHDOG=1` once the stamp is older than [`STALL`], and systemd
//! restarts mediad.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The audio thread is taken for hung when it has not gone round its loop for this long
/// (its idle wait is one second; opening a sound card takes well under this).
pub const STALL: Duration = Duration::from_secs(5);

/// When the audio thread last went round its loop, readable from any thread.
#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    /// Milliseconds from `start` to the last beat.
    last_ms: AtomicU64,
}

impl Heartbeat {
    /// A heartbeat that beat at `now`.
    pub fn new(now: Instant) -> Heartbeat {
        Heartbeat {
            start: now,
            last_ms: AtomicU64::new(0),
        }
    }

    /// The audio thread is alive at `now`.
    pub fn beat(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.start).as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the last beat was.
    pub fn age(&self, now: Instant) -> Duration {
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

/// What the feeder does at one of its turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Send `WATCHDOG=1`.
    Notify,
    /// The audio thread is stalled: send nothing (`first`: it just stalled, say so once).
    Withhold { first: bool },
}

/// Decides, turn by turn, whether systemd's watchdog is fed.
#[derive(Debug)]
pub struct Feeder {
    heartbeat: Arc<Heartbeat>,
    stall: Duration,
    stalled: bool,
}

impl Feeder {
    pub fn new(heartbeat: Arc<Heartbeat>, stall: Duration) -> Feeder {
        Feeder {
            heartbeat,
            stall,
            stalled: false,
        }
    }

    pub fn turn(&mut self, now: Instant) -> Feed {
        if self.heartbeat.age(now) <= self.stall {
            self.stalled = false;
            Feed::Notify
        } else {
            let first = !self.stalled;
            self.stalled = true;
            Feed::Withhold { first }
        }
    }
}

/// Feeds systemd's watchdog (`WatchdogSec=`, if it is on) at twice its rate while the
/// audio thread beats.
pub fn spawn(heartbeat: Arc<Heartbeat>) {
    let mut usec = 0;
    if !(sd_notify::watchdog_enabled(false, &mut usec) && usec > 0) {
        return;
    }
    let period = Duration::from_micros(usec) / 2;
    let mut feeder = Feeder::new(heartbeat.clone(), STALL);
    tokio::spawn(async move {
        loop {
            match feeder.turn(Instant::now()) {
                Feed::Notify => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                }
                Feed::Withhold { first: true } => log::error!(
                    "the audio thread has not run for {:?}: the watchdog is no longer fed",
                    heartbeat.age(Instant::now())
                ),
                Feed::Withhold { first: false } => {}
            }
            tokio::time::sleep(period).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_only_while_the_audio_thread_beats() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let heartbeat = Arc::new(Heartbeat::new(t0));
        let mut feeder = Feeder::new(heartbeat.clone(), STALL);
        // Beating every second: fed at every turn.
        for n in 0..20 {
            heartbeat.beat(s(n));
            assert_eq!(feeder.turn(s(n) + Duration::from_millis(500)), Feed::Notify);
        }
        // The thread hangs after its beat at 19 s: still fed within the grace, then not,
        // and the stall is reported once.
        assert_eq!(feeder.turn(s(24)), Feed::Notify);
        assert_eq!(feeder.turn(s(25)), Feed::Withhold { first: true });
        assert_eq!(feeder.turn(s(40)), Feed::Withhold { first: false });
        // It comes back: fed again.
        heartbeat.beat(s(41));
        assert_eq!(feeder.turn(s(41)), Feed::Notify);
        assert_eq!(heartbeat.age(s(43)), Duration::from_secs(2));
    }

    #[test]
    fn beats_from_another_thread_are_seen() {
        let t0 = Instant::now();
        let heartbeat = Arc::new(Heartbeat::new(t0));
        let audio = heartbeat.clone();
        std::thread::spawn(move || audio.beat(t0 + Duration::from_secs(30)))
            .join()
            .unwrap();
        assert_eq!(
            heartbeat.age(t0 + Duration::from_secs(31)),
            Duration::from_secs(1)
        );
    }
}
