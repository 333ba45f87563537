//! A hook switch on a GPIO line read directly (no gpio-keys overlay): sampled every few
//! milliseconds through [`embedded_hal::digital::InputPin`] and debounced by the same
//! [`Debouncer`] as evdev hook switches.

use std::path::PathBuf;
use std::time::Duration;

use embedded_hal::digital::InputPin;
use linux_embedded_hal::gpio_cdev::{self, Chip, LineRequestFlags};
use linux_embedded_hal::CdevPin;
use tokio::sync::mpsc;

use crate::debounce::{Debouncer, DEFAULT_DEBOUNCE};
use crate::{monotonic_now, InputEvent};

/// How often the line is sampled: well inside the debounce window.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A hook switch on an input pin: the sans-IO part, driven by [`sample`](Self::sample).
#[derive(Debug)]
pub struct GpioHookSwitch<P> {
    pin: P,
    high_is_off_hook: bool,
    debouncer: Debouncer,
}

impl<P: InputPin> GpioHookSwitch<P> {
    /// `high_is_off_hook`: the level that means the handset is lifted (the deskphone-hook
    /// wiring, a pull-up and a switch to ground while the handset rests, reads high off hook).
    pub fn new(pin: P, high_is_off_hook: bool, debounce: Duration) -> GpioHookSwitch<P> {
        GpioHookSwitch {
            pin,
            high_is_off_hook,
            debouncer: Debouncer::new(debounce),
        }
    }

    /// Reads the pin once at time `now`. Returns the hook's position when it changed (and the
    /// first time, so the caller learns where the handset is).
    pub fn sample(&mut self, now: Duration) -> Result<Option<InputEvent>, P::Error> {
        let high = self.pin.is_high()?;
        let off_hook = high == self.high_is_off_hook;
        Ok(self
            .debouncer
            .handle_level(off_hook, now)
            .map(|off_hook| InputEvent::Hook { off_hook }))
    }

    pub fn into_pin(self) -> P {
        self.pin
    }
}

/// Where the hook switch is wired and how it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioHookOptions {
    /// The GPIO chip, e.g. `/dev/gpiochip0` (the Pi's header).
    pub chip: PathBuf,
    /// The line offset on the chip (the BCM GPIO number on a Pi).
    pub line: u32,
    pub high_is_off_hook: bool,
    pub poll_interval: Duration,
    pub debounce: Duration,
}

impl GpioHookOptions {
    /// A line on a chip, wired like the deskphone-hook overlay (high = off hook), sampled
    /// every 5 ms and debounced over 20 ms.
    pub fn new(chip: impl Into<PathBuf>, line: u32) -> GpioHookOptions {
        GpioHookOptions {
            chip: chip.into(),
            line,
            high_is_off_hook: true,
            poll_interval: DEFAULT_POLL_INTERVAL,
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("hook switch on {chip} line {line}: {source}")]
pub struct GpioError {
    pub chip: String,
    pub line: u32,
    #[source]
    pub source: gpio_cdev::Error,
}

/// Requests the line as an input through the GPIO character device.
pub fn open_gpio_hook(options: &GpioHookOptions) -> Result<GpioHookSwitch<CdevPin>, GpioError> {
    let error = |source| GpioError {
        chip: options.chip.display().to_string(),
        line: options.line,
        source,
    };
    let mut chip = Chip::new(&options.chip).map_err(error)?;
    let handle = chip
        .get_line(options.line)
        .and_then(|line| line.request(LineRequestFlags::INPUT, 0, "deskphone-hook"))
        .map_err(error)?;
    let pin = CdevPin::new(handle).map_err(error)?;
    Ok(GpioHookSwitch::new(
        pin,
        options.high_is_off_hook,
        options.debounce,
    ))
}

/// Samples the switch every `poll_interval` and sends hook changes to `events` (the same
/// channel as [`crate::spawn_evdev`]'s, to merge them). Ends when `events` is closed. A read
/// error is logged once, and again only after the line has worked in between.
pub fn spawn_gpio_hook<P>(
    mut switch: GpioHookSwitch<P>,
    poll_interval: Duration,
    events: mpsc::Sender<InputEvent>,
) -> tokio::task::JoinHandle<()>
where
    P: InputPin + Send + 'static,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = events.closed() => return,
            }
            let change = match switch.sample(monotonic_now()) {
                Ok(change) => {
                    failing = false;
                    change
                }
                Err(e) => {
                    if !failing {
                        log::warn!("cannot read the hook switch GPIO: {e:?}");
                    }
                    failing = true;
                    None
                }
            };
            if let Some(event) = change {
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction};

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bounces_within_the_window_give_exactly_one_change() {
        use State::{High, Low};
        // On hook (low), lifted with three bounces inside 20 ms, then held.
        let levels = [
            Low, Low, High, Low, High, Low, High, High, High, High, High, High,
        ];
        let expectations: Vec<Transaction> = levels.iter().map(|l| Transaction::get(*l)).collect();
        let mut switch = GpioHookSwitch::new(Mock::new(&expectations), true, ms(20));
        let mut changes = vec![];
        for i in 0..levels.len() as u64 {
            if let Some(event) = switch.sample(ms(i * 5)).unwrap() {
                changes.push((i * 5, event));
            }
        }
        assert_eq!(
            changes,
            vec![
                (0, InputEvent::Hook { off_hook: false }),
                // The last bounce was at 30 ms; 20 ms later it counts.
                (50, InputEvent::Hook { off_hook: true }),
            ]
        );
        switch.into_pin().done();
    }

    #[test]
    fn polarity_can_be_inverted() {
        let expectations = [Transaction::get(State::High)];
        let mut switch = GpioHookSwitch::new(Mock::new(&expectations), false, ms(20));
        assert_eq!(
            switch.sample(ms(0)).unwrap(),
            Some(InputEvent::Hook { off_hook: false })
        );
        switch.into_pin().done();
    }

    #[test]
    fn a_missing_chip_is_an_error_naming_it() {
        let Err(error) = open_gpio_hook(&GpioHookOptions::new("/nonexistent/gpiochip9", 9)) else {
            panic!("opened a chip that does not exist");
        };
        assert!(
            error
                .to_string()
                .starts_with("hook switch on /nonexistent/gpiochip9 line 9: "),
            "{error}"
        );
    }

    /// A pin that plays a script of levels, then holds the last one.
    struct ScriptedPin(Arc<Mutex<Vec<bool>>>);

    impl embedded_hal::digital::ErrorType for ScriptedPin {
        type Error = std::convert::Infallible;
    }

    impl InputPin for ScriptedPin {
        fn is_high(&mut self) -> Result<bool, Self::Error> {
            let mut script = self.0.lock().unwrap();
            Ok(if script.len() > 1 {
                script.remove(0)
            } else {
                script[0]
            })
        }
        fn is_low(&mut self) -> Result<bool, Self::Error> {
            self.is_high().map(|h| !h)
        }
    }

    #[tokio::test]
    async fn the_poller_sends_the_debounced_hook_to_the_channel() {
        let script = vec![false, false, true, false, true, true];
        let pin = ScriptedPin(Arc::new(Mutex::new(script)));
        let (tx, mut rx) = mpsc::channel(8);
        let task = spawn_gpio_hook(GpioHookSwitch::new(pin, true, ms(20)), ms(2), tx);
        let timeout = Duration::from_secs(5);
        let first = tokio::time::timeout(timeout, rx.recv()).await.unwrap();
        assert_eq!(first, Some(InputEvent::Hook { off_hook: false }));
        let second = tokio::time::timeout(timeout, rx.recv()).await.unwrap();
        assert_eq!(second, Some(InputEvent::Hook { off_hook: true }));
        // Nothing more while the line holds.
        assert!(tokio::time::timeout(ms(100), rx.recv()).await.is_err());
        drop(rx);
        tokio::time::timeout(timeout, task).await.unwrap().unwrap();
    }
}
