//! The phone's keys and hook switch: evdev keypads found by capability, keymaps, GPIO hook switch.
//!
//! # Design
//!
//! Everything the phone's user does with their hands arrives here as Linux input: key events
//! from a keypad (the Pi's `gpio-matrix-keypad`, a USB keypad, a PC keyboard, QEMU's virtual
//! keyboard) and the hook switch, either an evdev key or switch (`gpio-keys`) or a GPIO line
//! read directly. The crate turns all of it into one stream of [`InputEvent`]s: a phone key
//! ([`deskphone_ipc::ui::Key`], the names shared with keymap files and `phonectl key`) was
//! pressed, or the handset was lifted or put down.
//!
//! The logic is in a sans-IO core, in the manner of str0m and quinn-proto: no file descriptors,
//! no threads, and no clock reads. All time is input: the timestamps of the events.
//!
//! - [`Keymap`]: which Linux code is which phone key, parsed from a small text file
//!   ([`keymap`] has the format). Bad lines are errors naming file and line; the rest loads.
//! - [`KeypadDecoder`]: raw evdev events ([`RawEvent`]: type, code, value, time) in,
//!   [`InputEvent`]s out. A key counts when pressed (value 1); releases and autorepeat
//!   (value 2) are ignored, except that a held `volup`/`voldown` steps again on the kernel's
//!   autorepeat, at most once per [`DecoderOptions::volume_repeat`] (100 ms): the kernel's
//!   33 ms repeat would be too fast, and pacing by timestamps needs no timer. A hook switch
//!   reports changes only, debounced ([`DecoderOptions::hook_debounce`], 20 ms).
//! - [`Debouncer`]: a level counts once it has held for the window; the first level is
//!   reported at once so the phone knows where the handset is at start.
//! - [`discovery`]: which `/dev/input/event*` nodes to read ([`assess`], [`scan`]), with the
//!   capability probe injectable so it is tested on a fake directory.
//!
//! The run loop, as with str0m: feed [`KeypadDecoder::handle_event`] with every event, call
//! [`KeypadDecoder::handle_timeout`] when [`KeypadDecoder::poll_timeout`] says (a hook
//! change waits out its debounce window), and drain [`KeypadDecoder::poll_event`] after each.
//!
//! # Shells
//!
//! - [`spawn_evdev`] (Tokio): opens every evdev device that reports a code of the keymap,
//!   keeps one task per device, and merges them through one decoder into an `mpsc` channel.
//!   New devices (a USB keypad plugged in) are found through inotify on `/dev/input`
//!   (`IN_CREATE`, and `IN_ATTRIB` for when udev grants access); without inotify, or before
//!   the directory exists, it rescans every 2 s. An unplugged device is dropped with one log
//!   line. A node that cannot be opened is reported with the reason, e.g. permission denied,
//!   once per change. Event timestamps are switched to `CLOCK_MONOTONIC` (`EVIOCSCLOCKID`), so
//!   an NTP step at boot cannot hold up a debounce. The hook switches' state is read when a
//!   device is opened (`EVIOCGKEY`/`EVIOCGSW`).
//! - [`spawn_gpio_hook`] with [`open_gpio_hook`]: a hook switch on a GPIO line through
//!   `linux-embedded-hal`'s `CdevPin`, sampled every 5 ms, debounced by the same [`Debouncer`]
//!   ([`GpioHookSwitch`] is generic over `embedded_hal::digital::InputPin`).
//! - [`evdev_devices_report`] and [`InputHandle::inputs`]: the devices and why each is used,
//!   for the UI's status.
//!
//! A host or test backend needs nothing from this crate: anything that sends [`InputEvent`]s
//! into the same channel is a key source (the UI socket's `Keys` request, a test).
//!
//! ```no_run
//! # async fn ui() -> Result<(), Box<dyn std::error::Error>> {
//! use deskphone_input::{spawn_evdev, spawn_gpio_hook, open_gpio_hook, EvdevOptions,
//!                       GpioHookOptions, InputEvent, Keymap};
//! let (tx, mut rx) = tokio::sync::mpsc::channel(64);
//! let keys = spawn_evdev(Keymap::builtin(), EvdevOptions::default(), tx.clone())?;
//! // Only where the hook switch is a bare GPIO line (BCM 9 on the Pi header):
//! let options = GpioHookOptions::new("/dev/gpiochip0", 9);
//! let _hook = spawn_gpio_hook(open_gpio_hook(&options)?, options.poll_interval, tx);
//! while let Some(event) = rx.recv().await {
//!     match event {
//!         InputEvent::Key(key) => println!("pressed {key}"),
//!         InputEvent::Hook { off_hook } => println!("off hook: {off_hook}"),
//!     }
//! }
//! # drop(keys); Ok(()) }
//! ```
//!
//! Hook events from different sources (a GPIO switch and a toggle key) are not merged: the
//! consumer treats `Hook` as "the handset is now ...", which is idempotent.
//!
//! # The built-in keymap
//!
//! [`Keymap::builtin`] ([`DEFAULT_KEYMAP`]) serves the Pi keypad and hook switch of the
//! `deskphone-keypad`/`deskphone-hook` overlays (a test holds it to `deskphone_overlays`'
//! `KEYPAD_KEYMAP` and `HOOK_SWITCH`), USB phone keypads (`KEY_NUMERIC_*`) and a PC keyboard;
//! the qcode column is what QEMU's QMP `input-send-event` sends for it (also [`qemu_qcode`]),
//! all known to QEMU 7.2.
//!
//! | phone key | Pi keypad | PC keyboard | QEMU qcode |
//! | --- | --- | --- | --- |
//! | `0`-`9` | `KEY_0`-`9` | `KEY_0`-`9`, `KEY_KP0`-`9` | `0`-`9`, `kp_0`-`kp_9` |
//! | `star` | `KEY_NUMERIC_STAR` | `KEY_KPASTERISK` | `kp_multiply` |
//! | `pound` | `KEY_NUMERIC_POUND` | `KEY_KPDOT` (right of keypad 0) | `kp_decimal` |
//! | `soft1`-`soft4` | `KEY_F1`-`F4` | `KEY_F1`-`F4` | `f1`-`f4` |
//! | `up`, `down` | `KEY_UP`, `KEY_DOWN` | same | `up`, `down` |
//! | `settings` | `KEY_SETUP` | `KEY_F5` | `f5` |
//! | `services` | `KEY_MENU` | `KEY_F6` | `f6` |
//! | `directories` | `KEY_ADDRESSBOOK` | `KEY_F7` | `f7` |
//! | `messages` | `KEY_VOICEMAIL` | `KEY_F8` | `f8` |
//! | `info` | `KEY_INFO` | `KEY_F9` | `f9` |
//! | `speaker` | `KEY_F20` | `KEY_F10` | `f10` |
//! | `mute` | `KEY_MICMUTE` | `KEY_F11`, `KEY_MUTE` | `f11`, `audiomute` |
//! | `headset` | `KEY_F19` | `KEY_F12` | `f12` |
//! | `volup`, `voldown` | `KEY_VOLUMEUP`, `KEY_VOLUMEDOWN` | also `KEY_KPPLUS`, `KEY_KPMINUS` | `kp_add`, `kp_subtract` |
//! | `line1`-`line6` | `KEY_F13`-`F18` | `KEY_INSERT`, `KEY_HOME`, `KEY_PAGEUP`, `KEY_DELETE`, `KEY_END`, `KEY_PAGEDOWN` | `insert`, `home`, `pgup`, `delete`, `end`, `pgdn` |
//! | hook | `SW_MACHINE_COVER` (1 = on hook: `hook`) | `KEY_SPACE` toggles | `spc` |

pub mod debounce;
pub mod decoder;
pub mod discovery;
mod evdev_reader;
mod gpio;
pub mod keymap;

use std::time::Duration;

use deskphone_ipc::ui::Key;

pub use debounce::{Debouncer, DEFAULT_DEBOUNCE};
pub use decoder::{DecoderOptions, KeypadDecoder, RawEvent, DEFAULT_VOLUME_REPEAT};
pub use discovery::{
    assess, scan, CapabilityProbe, DeviceCaps, DeviceReport, EvdevProbe, Verdict, INPUT_DIR,
};
pub use evdev_reader::{
    evdev_devices_report, spawn_evdev, EvdevOptions, InputHandle, RESCAN_INTERVAL,
};
pub use gpio::{
    open_gpio_hook, spawn_gpio_hook, GpioError, GpioHookOptions, GpioHookSwitch,
    DEFAULT_POLL_INTERVAL,
};
pub use keymap::{
    qemu_qcode, Binding, InputCode, Keymap, KeymapError, KeymapReadError, DEFAULT_KEYMAP,
    QEMU_HOOK_TOGGLE_QCODE,
};

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputEvent {
    /// A phone key was pressed (never `offhook`/`onhook`: those are [`InputEvent::Hook`]).
    Key(Key),
    /// The handset is now lifted (`off_hook`) or down.
    Hook { off_hook: bool },
}

impl InputEvent {
    /// The event as a key of the UI socket's vocabulary (`offhook`/`onhook` for the hook).
    pub fn as_key(self) -> Key {
        match self {
            InputEvent::Key(key) => key,
            InputEvent::Hook { off_hook: true } => Key::OffHook,
            InputEvent::Hook { off_hook: false } => Key::OnHook,
        }
    }
}

/// `CLOCK_MONOTONIC` now: the time base of the shells, and of evdev timestamps once
/// `EVIOCSCLOCKID` has switched them.
pub(crate) fn monotonic_now() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(Duration::from)
        // Cannot fail on Linux: the clock id is valid and the buffer ours.
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_events_read_as_the_socket_keys() {
        assert_eq!(InputEvent::Hook { off_hook: true }.as_key(), Key::OffHook);
        assert_eq!(InputEvent::Hook { off_hook: false }.as_key(), Key::OnHook);
        assert_eq!(InputEvent::Key(Key::Soft(2)).as_key(), Key::Soft(2));
    }

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let a = monotonic_now();
        std::thread::sleep(Duration::from_millis(2));
        let b = monotonic_now();
        assert!(
            a > Duration::ZERO && b >= a + Duration::from_millis(2),
            "{a:?} {b:?}"
        );
    }
}
