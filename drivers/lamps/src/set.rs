//! All the lamps of the phone, by name.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Lamp, LampConfig, LampError, LampName, LampSource, LampState, LedLamp, MemoryLamp};

/// How soon a lamp that failed is tried again by [`LampSet::poll`].
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The phone's lamps. A lamp that is not configured, could not be opened or fails stays
/// dark without stopping anything: each problem is logged once (and again when the lamp
/// works again) and listed by [`LampSet::problems`]. The state asked for is kept either
/// way, for the UI's status.
pub struct LampSet {
    slots: BTreeMap<LampName, Slot>,
}

#[derive(Default)]
struct Slot {
    lamp: Option<Box<dyn Lamp + Send>>,
    state: LampState,
    /// Why the lamp is dark against its will, if it is.
    problem: Option<String>,
}

impl LampSet {
    /// Every lamp of the phone, none attached: all stay dark.
    pub fn empty() -> LampSet {
        LampSet {
            slots: LampName::all().map(|n| (n, Slot::default())).collect(),
        }
    }

    /// Opens the configured lamps; LEDs are looked up in `leds_dir` (normally
    /// [`crate::SYS_CLASS_LEDS`]). Lamps that cannot be opened are reported, not fatal.
    pub fn open(config: &LampConfig, leds_dir: &Path) -> LampSet {
        let mut set = LampSet::empty();
        for (name, source) in &config.lamps {
            match open_source(source, leds_dir) {
                Ok(lamp) => set.attach(*name, lamp),
                Err(e) => set
                    .slots
                    .entry(*name)
                    .or_default()
                    .note::<()>(*name, Err(e)),
            }
        }
        set
    }

    /// Every lamp in memory, with the handles that read what each showed.
    pub fn memory() -> (LampSet, BTreeMap<LampName, MemoryLamp>) {
        let mut set = LampSet::empty();
        let handles: BTreeMap<LampName, MemoryLamp> =
            LampName::all().map(|n| (n, MemoryLamp::new())).collect();
        for (name, lamp) in &handles {
            set.attach(*name, Box::new(lamp.clone()));
        }
        (set, handles)
    }

    /// Drives lamp `name` with `lamp` from now on, replacing what drove it. The lamp is set
    /// to the state asked for so far.
    pub fn attach(&mut self, name: LampName, lamp: Box<dyn Lamp + Send>) {
        let slot = self.slots.entry(name).or_default();
        slot.lamp = Some(lamp);
        slot.problem = None;
        let state = slot.state;
        self.set(name, state);
    }

    /// Shows `state` on lamp `name`. A lamp the phone does not have is ignored.
    pub fn set(&mut self, name: LampName, state: LampState) {
        let Some(slot) = self.slots.get_mut(&name) else {
            return;
        };
        slot.state = state.normalized();
        let Some(lamp) = slot.lamp.as_mut() else {
            return;
        };
        let result = lamp.set(slot.state);
        slot.note(name, result);
    }

    /// Drives software blinking and retries failed lamps. Call it at (or after) the instant
    /// it returned last, and after [`LampSet::set`]; `None`: nothing to do until the next
    /// `set`.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for (name, slot) in self.slots.iter_mut() {
            let Some(lamp) = slot.lamp.as_mut() else {
                continue;
            };
            // A lamp that failed sets its state again: that is what a poll cannot redo.
            let result = if slot.problem.is_some() {
                lamp.set(slot.state).and_then(|()| lamp.poll(now))
            } else {
                lamp.poll(now)
            };
            let wanted = match result {
                Ok(at) => at,
                Err(_) => Some(now + RETRY_AFTER),
            };
            slot.note(*name, result);
            if let Some(at) = wanted {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
    }

    /// The state lamp `name` was last set to (`Off` for a lamp the phone does not have).
    pub fn state(&self, name: LampName) -> LampState {
        self.slots.get(&name).map(|s| s.state).unwrap_or_default()
    }

    /// Every lamp with the state it was set to.
    pub fn states(&self) -> impl Iterator<Item = (LampName, LampState)> + '_ {
        self.slots.iter().map(|(n, s)| (*n, s.state))
    }

    /// What drives each lamp (`None`: nothing, it stays dark).
    pub fn sources(&self) -> impl Iterator<Item = (LampName, Option<String>)> + '_ {
        self.slots
            .iter()
            .map(|(n, s)| (*n, s.lamp.as_ref().map(|l| l.describe())))
    }

    /// The lamps that are dark against their will, and why.
    pub fn problems(&self) -> impl Iterator<Item = (LampName, &str)> + '_ {
        self.slots
            .iter()
            .filter_map(|(n, s)| Some((*n, s.problem.as_deref()?)))
    }
}

impl std::fmt::Debug for LampSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.slots.iter().map(|(name, slot)| {
                let source = slot.lamp.as_ref().map(|l| l.describe());
                (name.to_string(), (slot.state.to_string(), source))
            }))
            .finish()
    }
}

impl Slot {
    /// Records how driving the lamp went: logs a new problem once, and its end.
    fn note<T>(&mut self, name: LampName, result: Result<T, LampError>) {
        match result {
            Ok(_) => {
                if self.problem.take().is_some() {
                    log::info!("lamp {name} works again");
                }
            }
            Err(e) => {
                let problem = e.to_string();
                if self.problem.as_deref() != Some(problem.as_str()) {
                    log::warn!("lamp {name} stays dark: {problem}");
                    self.problem = Some(problem);
                }
            }
        }
    }
}

fn open_source(source: &LampSource, leds_dir: &Path) -> Result<Box<dyn Lamp + Send>, LampError> {
    match source {
        LampSource::Led { name } => Ok(Box::new(LedLamp::open(leds_dir, name)?)),
        LampSource::Memory => Ok(Box::new(MemoryLamp::new())),
        #[cfg(target_os = "linux")]
        LampSource::Gpio {
            chip,
            line,
            active_low,
        } => Ok(Box::new(crate::GpioLamp::open(chip, *line, *active_low)?)),
        #[cfg(not(target_os = "linux"))]
        LampSource::Gpio { chip, line, .. } => Err(LampError::Gpio {
            chip: chip.clone(),
            line: *line,
            message: "GPIO character devices are Linux only".to_string(),
        }),
    }
}
