//! The phone's lamps: the message-waiting lamp and the lamps of line keys 1-6, through the
//! kernel's LED class or a GPIO line.
//!
//! On a Cisco 7940/7960 the message-waiting lamp is the red light on the handset: steady (or
//! blinking) while voice mail waits, blinking fast while the phone rings. A line key's lamp
//! is dark when the line is idle, lit while it is in use and blinks while a call on it is
//! held or ringing. This crate shows such states; which state is wanted is the UI's
//! business.
//!
//! # Design
//!
//! A lamp shows a [`LampState`]: `Off`, `On`, or `Blink { on_ms, off_ms }`. Every backend
//! implements [`Lamp`]: [`Lamp::set`] changes the state, [`Lamp::poll`] drives blinking
//! that is done in this process. Nothing here reads a clock or sleeps: blinking is the
//! sans-IO [`Blinker`], which is told the time and answers with the level and the instant
//! of the next change. The caller's event loop sleeps until that instant (a tokio timer, a
//! `poll(2)` timeout) and polls again, and tests drive it in simulated time.
//!
//! Backends:
//!
//! - [`LedLamp`]: `/sys/class/leds/<name>/` (what `gpio-leds` in the device tree makes;
//!   `drivers/overlays` has the phone's). `brightness` is written 0 or `max_brightness`. A
//!   blink goes to the kernel's `timer` trigger (`delay_on`/`delay_off`) when the LED lists
//!   it, so it blinks without waking this process; otherwise it blinks in software.
//! - [`GpioLamp`]: any `embedded_hal` [`OutputPin`](embedded_hal::digital::OutputPin); on
//!   Linux [`GpioLamp::open`] requests a line of a GPIO character device through
//!   `linux-embedded-hal`. Always blinks in software.
//! - [`MemoryLamp`]: records what it was asked to show, for tests and the simulator.
//!
//! [`LampSet`] owns the phone's lamps by [`LampName`] as a small [`LampConfig`] names them
//! (`message_waiting = led:phone:red:message`, `line1 = gpio:/dev/gpiochip0:17`). The lamps
//! are a courtesy, never a reason to stop: a missing LED or a failing write is logged once,
//! listed by [`LampSet::problems`], and the lamp is retried while the set is polled.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use deskphone_lamps::{LampName, LampSet, LampState};
//!
//! let (mut lamps, seen) = LampSet::memory();
//! lamps.set(LampName::MessageWaiting, LampState::SLOW_BLINK);
//! lamps.set(LampName::Line(1), LampState::On);
//! let _next_poll: Option<Instant> = lamps.poll(Instant::now());
//! assert_eq!(seen[&LampName::Line(1)].state(), LampState::On);
//! assert_eq!(lamps.state(LampName::MessageWaiting), LampState::SLOW_BLINK);
//! ```

mod blinker;
mod config;
mod gpio;
mod lamp;
mod led;
mod memory;
mod set;
mod state;

pub use blinker::{BlinkLevel, Blinker};
pub use config::{ConfigError, LampConfig, LampSource};
pub use gpio::GpioLamp;
pub use lamp::{Lamp, LampError};
pub use led::{LedLamp, SYS_CLASS_LEDS};
pub use memory::MemoryLamp;
pub use set::{LampSet, RETRY_AFTER};
pub use state::{LampName, LampState, UnknownLamp};
