//! Lamps that only remember: for tests and the simulator.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Lamp, LampError, LampState};

/// A lamp that records the states it is set to. Clones share the record, so a test or the
/// simulator keeps one while a [`crate::LampSet`] owns the other.
#[derive(Debug, Clone, Default)]
pub struct MemoryLamp {
    shown: Arc<Mutex<Vec<LampState>>>,
}

impl MemoryLamp {
    pub fn new() -> MemoryLamp {
        MemoryLamp::default()
    }

    /// Every state shown, in order, without repeats (normalized).
    pub fn history(&self) -> Vec<LampState> {
        self.lock().clone()
    }

    /// The state shown now: `Off` before the first change.
    pub fn state(&self) -> LampState {
        self.lock().last().copied().unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<LampState>> {
        // A panic elsewhere while holding the lock leaves a valid Vec: keep using it.
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Lamp for MemoryLamp {
    fn set(&mut self, state: LampState) -> Result<(), LampError> {
        let state = state.normalized();
        let mut shown = self.lock();
        if shown.last().copied().unwrap_or_default() != state {
            shown.push(state);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}
