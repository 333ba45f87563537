//! Lamps on a GPIO line, any `embedded_hal` output pin; blinking in software.

use std::time::Instant;

use embedded_hal::digital::OutputPin;

use crate::lamp::{SoftwareBlink, Switch};
use crate::{Lamp, LampError, LampState};

/// A lamp wired to an output pin. `active_low`: the lamp lights when the pin is low (an
/// LED from the supply to the pin). Blinks are driven by [`Lamp::poll`].
pub struct GpioLamp<P> {
    soft: SoftwareBlink<PinSwitch<P>>,
}

struct PinSwitch<P> {
    pin: P,
    active_low: bool,
    description: String,
}

impl<P: OutputPin> GpioLamp<P> {
    /// A lamp on `pin`; `description` names it in errors and status (`gpio /dev/gpiochip0:17`).
    /// The pin is not written until the first [`Lamp::set`].
    pub fn new(pin: P, active_low: bool, description: impl Into<String>) -> Self {
        GpioLamp {
            soft: SoftwareBlink::new(PinSwitch {
                pin,
                active_low,
                description: description.into(),
            }),
        }
    }

    /// The state shown now.
    pub fn state(&self) -> LampState {
        self.soft.state()
    }
}

impl<P> std::fmt::Debug for GpioLamp<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpioLamp")
            .field("pin", &self.soft.switch.description)
            .field("active_low", &self.soft.switch.active_low)
            .field("state", &self.soft.state())
            .finish()
    }
}

#[cfg(target_os = "linux")]
impl GpioLamp<linux_embedded_hal::CdevPin> {
    /// Requests line `line` of the GPIO character device `chip` as an output, dark.
    ///
    /// The polarity is applied here, not with the line's ACTIVE_LOW flag: `CdevPin` inverts
    /// active-low lines itself on top of the kernel, which would undo it.
    pub fn open(chip: &std::path::Path, line: u32, active_low: bool) -> Result<Self, LampError> {
        use linux_embedded_hal::gpio_cdev::{errors::Error, Chip, LineRequestFlags};
        let gpio_error = |e: Error| LampError::Gpio {
            chip: chip.to_path_buf(),
            line,
            message: e.to_string(),
        };
        let dark = u8::from(active_low);
        let handle = Chip::new(chip)
            .and_then(|mut c| c.get_line(line))
            .and_then(|l| l.request(LineRequestFlags::OUTPUT, dark, "deskphone-lamp"))
            .map_err(gpio_error)?;
        let pin = linux_embedded_hal::CdevPin::new(handle).map_err(gpio_error)?;
        let polarity = if active_low { " active-low" } else { "" };
        Ok(GpioLamp::new(
            pin,
            active_low,
            format!("gpio {}:{line}{polarity}", chip.display()),
        ))
    }
}

impl<P: OutputPin> Lamp for GpioLamp<P> {
    fn set(&mut self, state: LampState) -> Result<(), LampError> {
        self.soft.set(state)
    }

    fn poll(&mut self, now: Instant) -> Result<Option<Instant>, LampError> {
        self.soft.poll(now)
    }

    fn describe(&self) -> String {
        self.soft.switch.description.clone()
    }
}

impl<P: OutputPin> Switch for PinSwitch<P> {
    fn switch(&mut self, lit: bool) -> Result<(), LampError> {
        let result = if lit != self.active_low {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        result.map_err(|e| LampError::Pin {
            lamp: self.description.clone(),
            message: format!("{e:?}"),
        })
    }
}
