//! Software blinking without a clock: the caller says what time it is, the blinker says
//! whether the lamp is lit and when that next changes.

use std::time::{Duration, Instant};

use crate::LampState;

/// What a lamp should show at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlinkLevel {
    pub lit: bool,
    /// When the level changes next; `None` for a steady lamp.
    pub next_change: Option<Instant>,
}

/// The blink pattern of one lamp, anchored at the first [`Blinker::update`] after each
/// change of state.
#[derive(Debug, Clone, Default)]
pub struct Blinker {
    state: LampState,
    /// When the current pattern began (lit). `None` until the first update after a change.
    pattern_start: Option<Instant>,
}

impl Blinker {
    pub fn new() -> Blinker {
        Blinker::default()
    }

    /// The state being shown (normalized).
    pub fn state(&self) -> LampState {
        self.state
    }

    /// Shows `state` from the next update on. Returns whether it changed anything: setting
    /// the state already shown keeps the pattern's phase, so a caller that repeats itself
    /// does not hold a blinking lamp lit.
    pub fn set(&mut self, state: LampState) -> bool {
        let state = state.normalized();
        if state == self.state {
            return false;
        }
        self.state = state;
        self.pattern_start = None;
        true
    }

    /// The level at `now`. A caller that comes late (a busy loop, a suspended system) gets
    /// the level of the pattern at `now`, not the toggles it missed.
    pub fn update(&mut self, now: Instant) -> BlinkLevel {
        let (on, off) = match self.state {
            LampState::Off | LampState::On => {
                return BlinkLevel {
                    lit: self.state == LampState::On,
                    next_change: None,
                }
            }
            LampState::Blink { on_ms, off_ms } => (
                Duration::from_millis(on_ms.into()),
                Duration::from_millis(off_ms.into()),
            ),
        };
        let start = *self.pattern_start.get_or_insert(now);
        let period = on + off;
        let elapsed = now.saturating_duration_since(start);
        // The period is not zero (normalized), and the remainder is below it: it fits u64.
        let into_period = Duration::from_nanos((elapsed.as_nanos() % period.as_nanos()) as u64);
        let period_start = now - into_period;
        if into_period < on {
            BlinkLevel {
                lit: true,
                next_change: Some(period_start + on),
            }
        } else {
            BlinkLevel {
                lit: false,
                next_change: Some(period_start + period),
            }
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
    fn a_blink_is_lit_then_dark_and_says_when_it_changes() {
        let t0 = Instant::now();
        let mut b = Blinker::new();
        assert!(b.set(LampState::Blink {
            on_ms: 200,
            off_ms: 300
        }));
        let at = |b: &mut Blinker, t: u64| b.update(t0 + ms(t));
        assert_eq!(
            at(&mut b, 0),
            BlinkLevel {
                lit: true,
                next_change: Some(t0 + ms(200))
            }
        );
        assert_eq!(
            at(&mut b, 199),
            BlinkLevel {
                lit: true,
                next_change: Some(t0 + ms(200))
            }
        );
        assert_eq!(
            at(&mut b, 200),
            BlinkLevel {
                lit: false,
                next_change: Some(t0 + ms(500))
            }
        );
        assert_eq!(
            at(&mut b, 500),
            BlinkLevel {
                lit: true,
                next_change: Some(t0 + ms(700))
            }
        );
        // Ten seconds late: the pattern at that time, no backlog.
        assert_eq!(
            at(&mut b, 10_900),
            BlinkLevel {
                lit: false,
                next_change: Some(t0 + ms(11_000))
            }
        );
    }

    #[test]
    fn the_pattern_starts_at_the_first_update_after_a_change() {
        let t0 = Instant::now();
        let mut b = Blinker::new();
        b.set(LampState::SLOW_BLINK);
        let first = b.update(t0 + ms(1_234));
        assert_eq!(first.next_change, Some(t0 + ms(1_734)));
    }

    #[test]
    fn repeating_the_state_keeps_the_phase() {
        let t0 = Instant::now();
        let mut b = Blinker::new();
        b.set(LampState::SLOW_BLINK);
        b.update(t0);
        assert!(!b.set(LampState::SLOW_BLINK));
        assert!(!b.update(t0 + ms(600)).lit, "still in the dark half");
        // A different blink restarts lit.
        assert!(b.set(LampState::FAST_BLINK));
        assert!(b.update(t0 + ms(600)).lit);
    }

    #[test]
    fn steady_states_have_no_deadline() {
        let t0 = Instant::now();
        let mut b = Blinker::new();
        assert!(!b.set(LampState::Off), "a new blinker is off");
        assert_eq!(
            b.update(t0),
            BlinkLevel {
                lit: false,
                next_change: None
            }
        );
        b.set(LampState::Blink {
            on_ms: 100,
            off_ms: 0,
        });
        assert_eq!(b.state(), LampState::On);
        assert_eq!(
            b.update(t0),
            BlinkLevel {
                lit: true,
                next_change: None
            }
        );
    }

    #[test]
    fn a_clock_that_goes_back_is_read_as_the_pattern_start() {
        let t0 = Instant::now() + ms(1_000);
        let mut b = Blinker::new();
        b.set(LampState::SLOW_BLINK);
        b.update(t0);
        let level = b.update(t0 - ms(100));
        assert!(level.lit);
        assert_eq!(level.next_change, Some(t0 - ms(100) + ms(500)));
    }
}
