//! The sans-IO core: raw evdev events in, phone key presses and hook changes out.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use deskphone_ipc::ui::Key;

use crate::debounce::{Debouncer, DEFAULT_DEBOUNCE};
use crate::keymap::{Binding, InputCode, Keymap};
use crate::InputEvent;

/// evdev key values: released, pressed, autorepeat.
const RELEASED: i32 = 0;
const PRESSED: i32 = 1;
const REPEATED: i32 = 2;

/// The default spacing of volume steps while a volume key is held.
pub const DEFAULT_VOLUME_REPEAT: Duration = Duration::from_millis(100);

/// One evdev event as read from a device (`struct input_event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent {
    /// `EV_KEY` (1), `EV_SW` (5), ...; other types are ignored.
    pub event_type: u16,
    pub code: u16,
    /// Keys: 0 released, 1 pressed, 2 autorepeat. Switches: 0 off, 1 on.
    pub value: i32,
    /// When it happened, since any fixed origin (the readers use `CLOCK_MONOTONIC`).
    pub time: Duration,
}

impl RawEvent {
    /// An event of a key or switch code.
    pub fn new(code: InputCode, value: i32, time: Duration) -> RawEvent {
        let (InputCode::Key(c) | InputCode::Switch(c)) = code;
        RawEvent {
            event_type: code.event_type(),
            code: c,
            value,
            time,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderOptions {
    /// How long the hook switch must hold a new position before it counts.
    pub hook_debounce: Duration,
    /// While `volup`/`voldown` is held, the kernel's autorepeat events step the volume at most
    /// once per this interval; `None` ignores their autorepeat like any other key's.
    pub volume_repeat: Option<Duration>,
}

impl Default for DecoderOptions {
    fn default() -> DecoderOptions {
        DecoderOptions {
            hook_debounce: DEFAULT_DEBOUNCE,
            volume_repeat: Some(DEFAULT_VOLUME_REPEAT),
        }
    }
}

/// Turns raw events from any number of devices into [`InputEvent`]s.
///
/// Feed it with [`handle_event`](Self::handle_event), call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout) (a pending
/// hook change), and drain [`poll_event`](Self::poll_event) after each.
#[derive(Debug)]
pub struct KeypadDecoder {
    keymap: Keymap,
    options: DecoderOptions,
    /// One debouncer per hook switch code.
    hook_switches: BTreeMap<InputCode, Debouncer>,
    /// The hook as last reported; `None` until something says.
    off_hook: Option<bool>,
    /// The volume key stepped last, and when: paces its autorepeat.
    last_volume_step: Option<(Key, Duration)>,
    events: VecDeque<InputEvent>,
}

impl KeypadDecoder {
    pub fn new(keymap: Keymap, options: DecoderOptions) -> KeypadDecoder {
        KeypadDecoder {
            keymap,
            options,
            hook_switches: BTreeMap::new(),
            off_hook: None,
            last_volume_step: None,
            events: VecDeque::new(),
        }
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// Whether the handset is off hook, as last reported; `None` before anything said.
    pub fn off_hook(&self) -> Option<bool> {
        self.off_hook
    }

    /// One event from a device. Events of unbound codes and other types are ignored.
    pub fn handle_event(&mut self, event: RawEvent) {
        self.handle_timeout(event.time);
        let Some(code) = InputCode::from_event(event.event_type, event.code) else {
            return;
        };
        let Some(binding) = self.keymap.get(code) else {
            return;
        };
        match binding {
            Binding::Hook { invert } => {
                if event.value != RELEASED && event.value != PRESSED {
                    return;
                }
                // "On" means on hook, unless inverted.
                let off_hook = (event.value == PRESSED) == invert;
                let window = self.options.hook_debounce;
                let debouncer = self
                    .hook_switches
                    .entry(code)
                    .or_insert_with(|| Debouncer::new(window));
                if let Some(off_hook) = debouncer.handle_level(off_hook, event.time) {
                    self.set_hook(off_hook);
                }
            }
            Binding::HookToggle if event.value == PRESSED => {
                // Without a word from a switch the handset is taken to be down.
                let off_hook = !self.off_hook.unwrap_or(false);
                self.set_hook(off_hook);
            }
            Binding::Key(Key::OffHook) if event.value == PRESSED => self.set_hook(true),
            Binding::Key(Key::OnHook) if event.value == PRESSED => self.set_hook(false),
            Binding::Key(key @ (Key::VolumeUp | Key::VolumeDown)) => {
                self.handle_volume(key, event.value, event.time)
            }
            Binding::Key(key) if event.value == PRESSED => {
                self.events.push_back(InputEvent::Key(key))
            }
            _ => {}
        }
    }

    /// Time has passed up to `now` (same clock as the events): settles pending hook changes.
    pub fn handle_timeout(&mut self, now: Duration) {
        let settled: Vec<bool> = self
            .hook_switches
            .values_mut()
            .filter_map(|d| d.handle_timeout(now))
            .collect();
        for off_hook in settled {
            self.set_hook(off_hook);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work: a hook change is pending.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.hook_switches
            .values()
            .filter_map(Debouncer::poll_timeout)
            .min()
    }

    /// The next decoded event, oldest first.
    pub fn poll_event(&mut self) -> Option<InputEvent> {
        self.events.pop_front()
    }

    fn handle_volume(&mut self, key: Key, value: i32, time: Duration) {
        let step = match (value, self.options.volume_repeat) {
            (PRESSED, _) => true,
            (REPEATED, Some(interval)) => match self.last_volume_step {
                Some((last_key, last_time)) if last_key == key => {
                    time.saturating_sub(last_time) >= interval
                }
                _ => true,
            },
            _ => false,
        };
        if step {
            self.last_volume_step = Some((key, time));
            self.events.push_back(InputEvent::Key(key));
        }
    }

    fn set_hook(&mut self, off_hook: bool) {
        if self.off_hook != Some(off_hook) {
            self.off_hook = Some(off_hook);
            self.events.push_back(InputEvent::Hook { off_hook });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ev(name: &str, value: i32, at_ms: u64) -> RawEvent {
        RawEvent::new(name.parse().unwrap(), value, ms(at_ms))
    }

    fn drain(d: &mut KeypadDecoder) -> Vec<InputEvent> {
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    fn decoder(keymap: &str) -> KeypadDecoder {
        let (map, errors) = Keymap::parse(keymap, "test");
        assert_eq!(errors, vec![]);
        KeypadDecoder::new(map, DecoderOptions::default())
    }

    #[test]
    fn presses_become_keys_releases_and_repeats_do_not() {
        let mut d = KeypadDecoder::new(Keymap::builtin(), DecoderOptions::default());
        for e in [
            ev("KEY_KP5", 1, 0),
            ev("KEY_KP5", 2, 250),
            ev("KEY_KP5", 2, 283),
            ev("KEY_KP5", 0, 300),
            ev("KEY_F1", 1, 400),
            ev("KEY_F1", 0, 450),
            ev("KEY_NUMERIC_POUND", 1, 500),
            ev("KEY_LEFTSHIFT", 1, 600),
            ev("KEY_INSERT", 1, 700),
        ] {
            d.handle_event(e);
        }
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Key(Key::Digit(5)),
                InputEvent::Key(Key::Soft(1)),
                InputEvent::Key(Key::Pound),
                InputEvent::Key(Key::Line(1)),
            ]
        );
    }

    #[test]
    fn events_of_other_types_are_ignored() {
        let mut d = decoder("KEY_1 = 1");
        // EV_SYN, EV_MSC (scan code) and EV_REL with the code of KEY_1.
        for event_type in [0, 4, 2] {
            d.handle_event(RawEvent {
                event_type,
                code: 2,
                value: 1,
                time: ms(0),
            });
        }
        assert_eq!(drain(&mut d), vec![]);
    }

    #[test]
    fn held_volume_keys_step_at_the_repeat_interval() {
        let mut d = decoder("KEY_VOLUMEUP = volup\nKEY_VOLUMEDOWN = voldown");
        d.handle_event(ev("KEY_VOLUMEUP", 1, 0));
        // The kernel's default autorepeat: after 250 ms, every 33 ms.
        for at in (250..=550).step_by(33) {
            d.handle_event(ev("KEY_VOLUMEUP", 2, at));
        }
        d.handle_event(ev("KEY_VOLUMEUP", 0, 560));
        let steps = drain(&mut d);
        assert!(steps.iter().all(|e| *e == InputEvent::Key(Key::VolumeUp)));
        // Press at 0, then repeats at 250, 382, 514: never closer than 100 ms.
        assert_eq!(steps.len(), 4);

        d.handle_event(ev("KEY_VOLUMEDOWN", 1, 1000));
        d.handle_event(ev("KEY_VOLUMEDOWN", 2, 1050));
        d.handle_event(ev("KEY_VOLUMEDOWN", 2, 1100));
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Key(Key::VolumeDown),
                InputEvent::Key(Key::VolumeDown)
            ]
        );
    }

    #[test]
    fn volume_repeat_can_be_switched_off() {
        let (map, _) = Keymap::parse("KEY_VOLUMEUP = volup", "test");
        let options = DecoderOptions {
            volume_repeat: None,
            ..DecoderOptions::default()
        };
        let mut d = KeypadDecoder::new(map, options);
        d.handle_event(ev("KEY_VOLUMEUP", 1, 0));
        d.handle_event(ev("KEY_VOLUMEUP", 2, 500));
        assert_eq!(drain(&mut d), vec![InputEvent::Key(Key::VolumeUp)]);
    }

    #[test]
    fn hook_switch_reports_its_first_state_then_debounced_changes_only() {
        let mut d = decoder("SW_LID = hook");
        // Initial state read at open: on (handset down).
        d.handle_event(ev("SW_LID", 1, 0));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: false }]);
        // Lifted, with bounces.
        for (value, at) in [(0, 1000), (1, 1002), (0, 1005), (1, 1007), (0, 1009)] {
            d.handle_event(ev("SW_LID", value, at));
        }
        assert_eq!(drain(&mut d), vec![]);
        assert_eq!(d.poll_timeout(), Some(ms(1029)));
        d.handle_timeout(ms(1028));
        assert_eq!(drain(&mut d), vec![]);
        d.handle_timeout(ms(1029));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: true }]);
        assert_eq!(d.poll_timeout(), None);
        assert_eq!(d.off_hook(), Some(true));
        // The same state again is no change.
        d.handle_event(ev("SW_LID", 0, 2000));
        d.handle_timeout(ms(3000));
        assert_eq!(drain(&mut d), vec![]);
    }

    #[test]
    fn a_later_event_settles_a_pending_hook_change_before_itself() {
        let mut d = decoder("KEY_PHONE = hook invert\nKEY_1 = 1");
        d.handle_event(ev("KEY_PHONE", 0, 0));
        d.handle_event(ev("KEY_PHONE", 1, 100));
        // No timer fired, but a key press 50 ms later shows the hook held.
        d.handle_event(ev("KEY_1", 1, 150));
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Hook { off_hook: false },
                InputEvent::Hook { off_hook: true },
                InputEvent::Key(Key::Digit(1)),
            ]
        );
    }

    #[test]
    fn inverted_hook_key_down_means_off_hook() {
        let mut d = decoder("KEY_PHONE = hook invert");
        d.handle_event(ev("KEY_PHONE", 1, 0));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: true }]);
        d.handle_event(ev("KEY_PHONE", 0, 500));
        d.handle_timeout(ms(520));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: false }]);
    }

    #[test]
    fn hook_debounce_is_configurable() {
        let (map, _) = Keymap::parse("SW_LID = hook", "test");
        let options = DecoderOptions {
            hook_debounce: ms(50),
            ..DecoderOptions::default()
        };
        let mut d = KeypadDecoder::new(map, options);
        d.handle_event(ev("SW_LID", 1, 0));
        d.handle_event(ev("SW_LID", 0, 100));
        assert_eq!(d.poll_timeout(), Some(ms(150)));
        d.handle_timeout(ms(140));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: false }]);
        d.handle_timeout(ms(150));
        assert_eq!(drain(&mut d), vec![InputEvent::Hook { off_hook: true }]);
    }

    #[test]
    fn toggle_key_lifts_and_hangs_up_and_follows_the_switch() {
        let mut d = decoder("KEY_SPACE = hook_toggle\nSW_LID = hook");
        d.handle_event(ev("KEY_SPACE", 1, 0));
        d.handle_event(ev("KEY_SPACE", 2, 300));
        d.handle_event(ev("KEY_SPACE", 0, 400));
        d.handle_event(ev("KEY_SPACE", 1, 1000));
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Hook { off_hook: true },
                InputEvent::Hook { off_hook: false }
            ]
        );
        // A switch that then says "lifted" is a change; the toggle then hangs up.
        d.handle_event(ev("SW_LID", 0, 2000));
        d.handle_event(ev("KEY_SPACE", 1, 3000));
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Hook { off_hook: true },
                InputEvent::Hook { off_hook: false }
            ]
        );
    }

    #[test]
    fn offhook_and_onhook_keys_set_the_hook_when_it_changes() {
        let mut d = decoder("KEY_O = offhook\nKEY_P = onhook");
        d.handle_event(ev("KEY_O", 1, 0));
        d.handle_event(ev("KEY_O", 1, 10));
        d.handle_event(ev("KEY_P", 1, 20));
        assert_eq!(
            drain(&mut d),
            vec![
                InputEvent::Hook { off_hook: true },
                InputEvent::Hook { off_hook: false }
            ]
        );
    }
}
