//! Lamps in the kernel's LED class: `/sys/class/leds/<name>/`, as `gpio-leds` in the
//! device tree makes them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::lamp::{SoftwareBlink, Switch};
use crate::{Lamp, LampError, LampState};

/// Where the kernel lists its LEDs.
pub const SYS_CLASS_LEDS: &str = "/sys/class/leds";

/// An LED of the LED class. Steady states write `brightness` (0 or `max_brightness`).
/// A blink goes to the kernel's `timer` trigger (`delay_on`, `delay_off`) when the LED
/// offers it, so it keeps blinking whatever this process does; otherwise, or when the
/// trigger cannot be written (its attributes appear only once it is active, often without
/// the permissions `brightness` got), it blinks in software through [`Lamp::poll`].
#[derive(Debug)]
pub struct LedLamp {
    name: String,
    soft: SoftwareBlink<LedFiles>,
    kernel_timer: bool,
    /// The blink the timer trigger shows now, if it shows one.
    timer_blink: Option<LampState>,
}

#[derive(Debug)]
struct LedFiles {
    dir: PathBuf,
    max_brightness: u32,
    /// Whether a trigger other than `none` may be active: it has to go before a
    /// brightness write means anything.
    trigger_may_be_active: bool,
}

impl LedLamp {
    /// Opens LED `name` under `leds_dir` (normally [`SYS_CLASS_LEDS`]). Changes nothing yet.
    pub fn open(leds_dir: &Path, name: &str) -> Result<LedLamp, LampError> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(LampError::BadAttribute {
                path: leds_dir.join(name),
                problem: format!("{name:?} is not an LED name"),
            });
        }
        let dir = leds_dir.join(name);
        if !dir.is_dir() {
            return Err(LampError::MissingLed {
                name: name.to_string(),
                dir: leds_dir.to_path_buf(),
            });
        }
        let max_path = dir.join("max_brightness");
        let max_text = read(&max_path)?;
        let max_brightness = match max_text.trim().parse::<u32>() {
            Ok(0) | Err(_) => {
                return Err(LampError::BadAttribute {
                    path: max_path,
                    problem: format!("not a positive brightness: {:?}", max_text.trim()),
                })
            }
            Ok(max) => max,
        };
        // "[none] timer heartbeat ...": the active trigger in brackets. An LED without
        // triggers (no LEDS_TRIGGERS in the kernel) has no such file.
        let triggers = read(&dir.join("trigger")).unwrap_or_default();
        let kernel_timer = triggers
            .split_whitespace()
            .any(|t| t.trim_matches(['[', ']']) == "timer");
        let active = triggers
            .split_whitespace()
            .find(|t| t.starts_with('['))
            .map(|t| t.trim_matches(['[', ']']));
        let trigger_may_be_active = active.is_some_and(|t| t != "none");
        Ok(LedLamp {
            name: name.to_string(),
            soft: SoftwareBlink::new(LedFiles {
                dir,
                max_brightness,
                trigger_may_be_active,
            }),
            kernel_timer,
            timer_blink: None,
        })
    }

    /// Whether blinks go to the kernel's timer trigger.
    pub fn blinks_in_kernel(&self) -> bool {
        self.kernel_timer
    }

    fn start_timer(&mut self, on_ms: u32, off_ms: u32) -> Result<(), LampError> {
        let files = &mut self.soft.switch;
        // The trigger creates delay_on and delay_off (500 ms each) as it starts.
        write(&files.dir.join("trigger"), "timer")?;
        files.trigger_may_be_active = true;
        write(&files.dir.join("delay_on"), &on_ms.to_string())?;
        write(&files.dir.join("delay_off"), &off_ms.to_string())
    }
}

impl Lamp for LedLamp {
    fn set(&mut self, state: LampState) -> Result<(), LampError> {
        let state = state.normalized();
        if let LampState::Blink { on_ms, off_ms } = state {
            if self.kernel_timer {
                if self.timer_blink == Some(state) {
                    return Ok(());
                }
                // Whatever happens next, the level last written no longer holds.
                self.soft.forget_level();
                match self.start_timer(on_ms, off_ms) {
                    Ok(()) => {
                        self.timer_blink = Some(state);
                        return Ok(());
                    }
                    Err(e) => {
                        log::warn!("LED {}: {e}; it blinks in software", self.name);
                        self.kernel_timer = false;
                    }
                }
            }
        }
        self.timer_blink = None;
        self.soft.set(state)
    }

    fn poll(&mut self, now: Instant) -> Result<Option<Instant>, LampError> {
        if self.timer_blink.is_some() {
            return Ok(None);
        }
        self.soft.poll(now)
    }

    fn describe(&self) -> String {
        let blink = if self.kernel_timer {
            "kernel timer"
        } else {
            "software blink"
        };
        format!("led {} ({blink})", self.name)
    }
}

impl Switch for LedFiles {
    fn switch(&mut self, lit: bool) -> Result<(), LampError> {
        if self.trigger_may_be_active {
            write(&self.dir.join("trigger"), "none")?;
            self.trigger_may_be_active = false;
        }
        let brightness = if lit { self.max_brightness } else { 0 };
        write(&self.dir.join("brightness"), &brightness.to_string())
    }
}

fn read(path: &Path) -> Result<String, LampError> {
    fs::read_to_string(path).map_err(|source| LampError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes an attribute that must exist: sysfs attributes are never created by writing.
fn write(path: &Path, value: &str) -> Result<(), LampError> {
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| LampError::Io {
            path: path.to_path_buf(),
            source,
        })
}
