//! The lamp trait, its error, and software blinking over any on/off switch.

use std::path::PathBuf;
use std::time::Instant;

use crate::{Blinker, LampState};

/// Why a lamp could not be opened or driven.
#[derive(Debug, thiserror::Error)]
pub enum LampError {
    #[error("no LED {name:?} in {dir} (is the lamps overlay loaded?)")]
    MissingLed { name: String, dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    BadAttribute { path: PathBuf, problem: String },
    #[error("GPIO {chip}:{line}: {message}")]
    Gpio {
        chip: PathBuf,
        line: u32,
        message: String,
    },
    #[error("{lamp}: pin: {message}")]
    Pin { lamp: String, message: String },
}

/// One lamp of the phone.
pub trait Lamp {
    /// Shows `state` from now on; a blink starts lit. Setting the state already shown
    /// changes nothing (a blink keeps its phase).
    fn set(&mut self, state: LampState) -> Result<(), LampError>;

    /// Drives blinking done in software: call it at (or after) the instant it returned last,
    /// and after every [`Lamp::set`]. Returns when it wants to be called again; `None` while
    /// nothing needs doing (steady, or blinking in the kernel).
    fn poll(&mut self, _now: Instant) -> Result<Option<Instant>, LampError> {
        Ok(None)
    }

    /// What drives the lamp, for status output: `led phone:red:message (kernel timer)`,
    /// `gpio /dev/gpiochip0:17`.
    fn describe(&self) -> String;
}

/// Something that lights or darkens a lamp: a GPIO line, an LED's brightness.
pub(crate) trait Switch {
    fn switch(&mut self, lit: bool) -> Result<(), LampError>;
}

/// A lamp whose blinking is done here, with a [`Blinker`]: it writes only changes.
#[derive(Debug)]
pub(crate) struct SoftwareBlink<S> {
    pub(crate) switch: S,
    blinker: Blinker,
    /// The level last written; `None` before the first write or after someone else (the
    /// kernel's timer trigger) drove the lamp.
    lit: Option<bool>,
}

impl<S> SoftwareBlink<S> {
    pub(crate) fn new(switch: S) -> Self {
        SoftwareBlink {
            switch,
            blinker: Blinker::new(),
            lit: None,
        }
    }

    pub(crate) fn state(&self) -> LampState {
        self.blinker.state()
    }

    /// Forgets what the lamp shows, so the next write happens whatever it is.
    pub(crate) fn forget_level(&mut self) {
        self.lit = None;
    }
}

impl<S: Switch> SoftwareBlink<S> {
    pub(crate) fn set(&mut self, state: LampState) -> Result<(), LampError> {
        if self.blinker.set(state) {
            self.drive(state.starts_lit())
        } else if let Some(level) = state.steady_level() {
            // Unchanged, but a failed write may have left the lamp wrong: no-op otherwise.
            self.drive(level)
        } else {
            Ok(())
        }
    }

    pub(crate) fn poll(&mut self, now: Instant) -> Result<Option<Instant>, LampError> {
        let level = self.blinker.update(now);
        self.drive(level.lit)?;
        Ok(level.next_change)
    }

    fn drive(&mut self, lit: bool) -> Result<(), LampError> {
        if self.lit != Some(lit) {
            self.switch.switch(lit)?;
            self.lit = Some(lit);
        }
        Ok(())
    }
}
