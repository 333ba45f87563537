//! Keymap files: which Linux input code is which phone key, and which one is the hook switch.
//!
//! One binding a line, `CODE = TARGET [invert]`, `#` starts a comment:
//!
//! ```text
//! KEY_1 = 1              # a key: any name of deskphone_ipc::ui::Key
//! KEY_F1 = soft1
//! SW_MACHINE_COVER = hook  # the hook switch: "on" (1) means the handset is ON hook
//! KEY_PHONE = hook invert  # ... or, with invert, "on" means OFF hook
//! KEY_SPACE = hook_toggle  # each press lifts or hangs up (no real hook switch)
//! ```
//!
//! `CODE` is a Linux name as in `input-event-codes.h`: `KEY_*` and `BTN_*` are keys, `SW_*`
//! switches. A switch can only be the hook. A bad line is an error naming the file and line;
//! the other lines still load.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use deskphone_ipc::ui::Key;
use evdev::{KeyCode, SwitchCode};

/// The built-in keymap: the Pi keypad and hook switch of the overlays, and a PC keyboard.
pub const DEFAULT_KEYMAP: &str = include_str!("default.keymap");

/// A Linux input code that a keymap can bind: a key (`EV_KEY`) or a switch (`EV_SW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputCode {
    Key(u16),
    Switch(u16),
}

impl InputCode {
    /// The evdev event type of this code (`EV_KEY` = 1, `EV_SW` = 5).
    pub fn event_type(self) -> u16 {
        match self {
            InputCode::Key(_) => evdev::EventType::KEY.0,
            InputCode::Switch(_) => evdev::EventType::SWITCH.0,
        }
    }

    /// The code for an evdev event type and code, if the type is one a keymap binds.
    pub fn from_event(event_type: u16, code: u16) -> Option<InputCode> {
        if event_type == evdev::EventType::KEY.0 {
            Some(InputCode::Key(code))
        } else if event_type == evdev::EventType::SWITCH.0 {
            Some(InputCode::Switch(code))
        } else {
            None
        }
    }
}

impl fmt::Display for InputCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // evdev's Debug prints the Linux name, or "unknown key: N" for a code it has no name for.
        let name = match *self {
            InputCode::Key(c) => format!("{:?}", KeyCode(c)),
            InputCode::Switch(c) => format!("{:?}", SwitchCode(c)),
        };
        if name.starts_with("unknown") {
            match self {
                InputCode::Key(c) => write!(f, "key code {c}"),
                InputCode::Switch(c) => write!(f, "switch code {c}"),
            }
        } else {
            f.write_str(&name)
        }
    }
}

impl FromStr for InputCode {
    type Err = String;
    fn from_str(s: &str) -> Result<InputCode, String> {
        if s.starts_with("SW_") {
            SwitchCode::from_str(s)
                .map(|c| InputCode::Switch(c.0))
                .map_err(|_| format!("unknown switch {s:?}"))
        } else if s.starts_with("KEY_") || s.starts_with("BTN_") {
            KeyCode::from_str(s)
                .map(|c| InputCode::Key(c.0))
                .map_err(|_| format!("unknown key code {s:?}"))
        } else {
            Err(format!(
                "{s:?} is not a Linux input code name (KEY_*, BTN_* or SW_*)"
            ))
        }
    }
}

/// What a code does on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// A press of this code is a press of the phone key. `offhook` and `onhook` set the hook.
    Key(Key),
    /// The hook switch: state 1 means on hook, or off hook when `invert`.
    Hook { invert: bool },
    /// Each press flips the hook (a phone without a hook switch).
    HookToggle,
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Binding::Key(k) => write!(f, "{k}"),
            Binding::Hook { invert: false } => f.write_str("hook"),
            Binding::Hook { invert: true } => f.write_str("hook invert"),
            Binding::HookToggle => f.write_str("hook_toggle"),
        }
    }
}

/// A bad keymap line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct KeymapError {
    /// The file name, or `built-in` for [`DEFAULT_KEYMAP`].
    pub origin: String,
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// A keymap file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read keymap {path}: {source}")]
pub struct KeymapReadError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Codes and what they do. Built by [`Keymap::parse`], [`Keymap::load`] or [`Keymap::builtin`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    bindings: BTreeMap<InputCode, Binding>,
}

impl Keymap {
    /// The built-in map ([`DEFAULT_KEYMAP`]).
    pub fn builtin() -> Keymap {
        // The built-in text is checked by a test: it has no bad lines.
        Keymap::parse(DEFAULT_KEYMAP, "built-in").0
    }

    /// Reads a keymap file. Bad lines come back as errors beside the map of the good ones.
    pub fn load(path: &Path) -> Result<(Keymap, Vec<KeymapError>), KeymapReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeymapReadError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Keymap::parse(&text, &path.display().to_string()))
    }

    /// Parses keymap text; `origin` names it in errors. Every good line is kept.
    pub fn parse(text: &str, origin: &str) -> (Keymap, Vec<KeymapError>) {
        let mut map = Keymap::default();
        let mut first_line: BTreeMap<InputCode, usize> = BTreeMap::new();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let error = |message: String| KeymapError {
                origin: origin.to_string(),
                line,
                message,
            };
            match parse_line(content) {
                Ok((code, binding)) => {
                    if let Some(previous) = first_line.get(&code) {
                        errors.push(error(format!("{code} is already bound on line {previous}")));
                    } else {
                        first_line.insert(code, line);
                        map.bindings.insert(code, binding);
                    }
                }
                Err(message) => errors.push(error(message)),
            }
        }
        (map, errors)
    }

    /// What `code` does, if it is bound.
    pub fn get(&self, code: InputCode) -> Option<Binding> {
        self.bindings.get(&code).copied()
    }

    /// Every binding, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (InputCode, Binding)> + '_ {
        self.bindings.iter().map(|(c, b)| (*c, *b))
    }

    /// Whether any code drives the hook (a switch, a toggle, or `offhook`/`onhook` keys).
    pub fn has_hook(&self) -> bool {
        self.bindings.values().any(|b| {
            matches!(
                b,
                Binding::Hook { .. }
                    | Binding::HookToggle
                    | Binding::Key(Key::OffHook | Key::OnHook)
            )
        })
    }

    /// The codes that state the hook's position (`hook` bindings), whose current state is worth
    /// reading when a device is opened.
    pub fn hook_switches(&self) -> impl Iterator<Item = InputCode> + '_ {
        self.bindings
            .iter()
            .filter(|(_, b)| matches!(b, Binding::Hook { .. }))
            .map(|(c, _)| *c)
    }

    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

fn parse_line(content: &str) -> Result<(InputCode, Binding), String> {
    let (left, right) = content
        .split_once('=')
        .ok_or_else(|| format!("expected `CODE = KEY`, found {content:?}"))?;
    let code: InputCode = left.trim().parse()?;
    let mut words = right.split_whitespace();
    let target = words
        .next()
        .ok_or_else(|| format!("nothing after `=` for {code}"))?;
    let options: Vec<&str> = words.collect();
    let binding = match target {
        "hook" => match options.as_slice() {
            [] => Binding::Hook { invert: false },
            ["invert"] => Binding::Hook { invert: true },
            _ => {
                return Err(format!(
                    "unknown hook option {:?} (only `invert`)",
                    options.join(" ")
                ))
            }
        },
        "hook_toggle" => Binding::HookToggle,
        key => Binding::Key(key.parse::<Key>().map_err(|e| e.to_string())?),
    };
    if !matches!(binding, Binding::Hook { .. }) && !options.is_empty() {
        return Err(format!(
            "unexpected {:?} after {target} (options belong to `hook`)",
            options.join(" ")
        ));
    }
    if matches!(code, InputCode::Switch(_)) && !matches!(binding, Binding::Hook { .. }) {
        return Err(format!("{code} is a switch: it can only be `hook`"));
    }
    Ok((code, binding))
}

/// The QEMU QMP `input-send-event` qcode that presses `key` in a guest using the built-in keymap
/// through a PC keyboard (PS/2, USB or virtio). `None` for `offhook`/`onhook`: the hook is
/// toggled with [`QEMU_HOOK_TOGGLE_QCODE`]. Only qcodes that QEMU 7.2 knows (no `f13`..`f24`).
pub fn qemu_qcode(key: Key) -> Option<&'static str> {
    QEMU_QCODES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, qcode, _)| *qcode)
}

/// The qcode of the hook toggle key (the space bar) in the built-in keymap.
pub const QEMU_HOOK_TOGGLE_QCODE: &str = "spc";

/// Phone key, QEMU qcode, and the Linux key the guest sees for it.
const QEMU_QCODES: &[(Key, &str, &str)] = &[
    (Key::Digit(0), "0", "KEY_0"),
    (Key::Digit(1), "1", "KEY_1"),
    (Key::Digit(2), "2", "KEY_2"),
    (Key::Digit(3), "3", "KEY_3"),
    (Key::Digit(4), "4", "KEY_4"),
    (Key::Digit(5), "5", "KEY_5"),
    (Key::Digit(6), "6", "KEY_6"),
    (Key::Digit(7), "7", "KEY_7"),
    (Key::Digit(8), "8", "KEY_8"),
    (Key::Digit(9), "9", "KEY_9"),
    (Key::Star, "kp_multiply", "KEY_KPASTERISK"),
    (Key::Pound, "kp_decimal", "KEY_KPDOT"),
    (Key::Soft(1), "f1", "KEY_F1"),
    (Key::Soft(2), "f2", "KEY_F2"),
    (Key::Soft(3), "f3", "KEY_F3"),
    (Key::Soft(4), "f4", "KEY_F4"),
    (Key::Up, "up", "KEY_UP"),
    (Key::Down, "down", "KEY_DOWN"),
    (Key::Settings, "f5", "KEY_F5"),
    (Key::Services, "f6", "KEY_F6"),
    (Key::Directories, "f7", "KEY_F7"),
    (Key::Messages, "f8", "KEY_F8"),
    (Key::Info, "f9", "KEY_F9"),
    (Key::VolumeUp, "kp_add", "KEY_KPPLUS"),
    (Key::VolumeDown, "kp_subtract", "KEY_KPMINUS"),
    (Key::Speaker, "f10", "KEY_F10"),
    (Key::Mute, "f11", "KEY_F11"),
    (Key::Headset, "f12", "KEY_F12"),
    (Key::Line(1), "insert", "KEY_INSERT"),
    (Key::Line(2), "home", "KEY_HOME"),
    (Key::Line(3), "pgup", "KEY_PAGEUP"),
    (Key::Line(4), "delete", "KEY_DELETE"),
    (Key::Line(5), "end", "KEY_END"),
    (Key::Line(6), "pgdn", "KEY_PAGEDOWN"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str) -> InputCode {
        name.parse().unwrap()
    }

    #[test]
    fn good_lines_bind_keys_hooks_and_toggles() {
        let text = "\
# a comment line
KEY_1 = 1
  KEY_F1=soft1   # trailing comment
KEY_KPASTERISK = star

SW_LID = hook
KEY_PHONE = hook invert
KEY_X = hook_toggle
BTN_0 = line6
KEY_H = offhook
";
        let (map, errors) = Keymap::parse(text, "test.keymap");
        assert_eq!(errors, vec![]);
        assert_eq!(map.len(), 8);
        assert_eq!(map.get(code("KEY_1")), Some(Binding::Key(Key::Digit(1))));
        assert_eq!(map.get(code("KEY_F1")), Some(Binding::Key(Key::Soft(1))));
        assert_eq!(
            map.get(code("KEY_KPASTERISK")),
            Some(Binding::Key(Key::Star))
        );
        assert_eq!(
            map.get(code("SW_LID")),
            Some(Binding::Hook { invert: false })
        );
        assert_eq!(
            map.get(code("KEY_PHONE")),
            Some(Binding::Hook { invert: true })
        );
        assert_eq!(map.get(code("KEY_X")), Some(Binding::HookToggle));
        assert_eq!(map.get(code("BTN_0")), Some(Binding::Key(Key::Line(6))));
        assert_eq!(map.get(code("KEY_H")), Some(Binding::Key(Key::OffHook)));
        assert_eq!(code("KEY_1"), InputCode::Key(2));
        assert_eq!(code("SW_LID"), InputCode::Switch(0));
        assert_eq!(code("KEY_PHONE"), InputCode::Key(169));
        assert!(map.has_hook());
        assert_eq!(
            map.hook_switches().collect::<Vec<_>>(),
            vec![code("KEY_PHONE"), code("SW_LID")]
        );
    }

    #[test]
    fn bad_lines_are_errors_naming_file_and_line_and_the_rest_loads() {
        let text = "\
KEY_1 = 1
KEY_FOO = 2
KEY_2 = eleven
KEY_3
SW_LID = 5
KEY_4 = 4 invert
KEY_5 = hook sideways
KEY_1 = 7
F1 = soft1
SW_NOPE = hook
KEY_6 =
KEY_9 = 9
";
        let (map, errors) = Keymap::parse(text, "/etc/deskphone/keymap");
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown[0],
            "/etc/deskphone/keymap:2: unknown key code \"KEY_FOO\""
        );
        assert!(shown[1].starts_with("/etc/deskphone/keymap:3: unknown key \"eleven\""));
        assert!(shown[2].contains("expected `CODE = KEY`"), "{}", shown[2]);
        assert!(shown[3].contains("SW_LID is a switch"), "{}", shown[3]);
        assert!(
            shown[4].contains("options belong to `hook`"),
            "{}",
            shown[4]
        );
        assert!(
            shown[5].contains("unknown hook option \"sideways\""),
            "{}",
            shown[5]
        );
        assert_eq!(
            shown[6],
            "/etc/deskphone/keymap:8: KEY_1 is already bound on line 1"
        );
        assert!(
            shown[7].contains("not a Linux input code name"),
            "{}",
            shown[7]
        );
        assert!(shown[8].contains("unknown switch"), "{}", shown[8]);
        assert!(shown[9].contains("nothing after `=`"), "{}", shown[9]);
        // The good lines are there, and the first binding of KEY_1 wins.
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(code("KEY_1")), Some(Binding::Key(Key::Digit(1))));
        assert_eq!(map.get(code("KEY_9")), Some(Binding::Key(Key::Digit(9))));
        assert!(!map.has_hook());
    }

    #[test]
    fn files_name_themselves_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keymap");
        std::fs::write(&path, "KEY_1 = 1\nKEY_2 = two\n").unwrap();
        let (map, errors) = Keymap::load(&path).unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .starts_with(&format!("{}:2: ", path.display())),
            "{}",
            errors[0]
        );
        let missing = dir.path().join("nope");
        let error = Keymap::load(&missing).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read keymap {}: ", missing.display())),
            "{error}"
        );
    }

    #[test]
    fn builtin_map_has_no_bad_lines_and_covers_every_key() {
        let (map, errors) = Keymap::parse(DEFAULT_KEYMAP, "built-in");
        assert_eq!(errors, vec![]);
        assert_eq!(map, Keymap::builtin());
        for key in Key::all() {
            let covered = match key {
                Key::OffHook | Key::OnHook => map.has_hook(),
                _ => map.iter().any(|(_, b)| b == Binding::Key(key)),
            };
            assert!(covered, "no code for {key}");
        }
        // The Pi hook switch (deskphone-hook overlay) is SW_MACHINE_COVER, on = on hook.
        assert_eq!(
            map.get(code("SW_MACHINE_COVER")),
            Some(Binding::Hook { invert: false })
        );
        assert_eq!(map.hook_switches().count(), 1, "one hook switch");
        assert_eq!(map.get(code("KEY_SPACE")), Some(Binding::HookToggle));
    }

    #[test]
    fn every_key_has_a_qemu_qcode_that_the_builtin_map_binds_to_it() {
        let map = Keymap::builtin();
        for key in Key::all() {
            if matches!(key, Key::OffHook | Key::OnHook) {
                assert_eq!(qemu_qcode(key), None);
                continue;
            }
            let qcode = qemu_qcode(key).unwrap_or_else(|| panic!("no qcode for {key}"));
            let (_, _, linux) = QEMU_QCODES.iter().find(|(_, q, _)| *q == qcode).unwrap();
            assert_eq!(map.get(code(linux)), Some(Binding::Key(key)), "{qcode}");
            let qemu8_only = (13..=24).any(|n| qcode == format!("f{n}"));
            assert!(!qemu8_only, "{qcode} needs QEMU 8, the image has 7.2");
        }
        assert_eq!(map.get(code("KEY_SPACE")), Some(Binding::HookToggle));
    }

    #[test]
    fn codes_print_their_linux_names() {
        assert_eq!(code("KEY_NUMERIC_STAR").to_string(), "KEY_NUMERIC_STAR");
        assert_eq!(
            code("SW_HEADPHONE_INSERT").to_string(),
            "SW_HEADPHONE_INSERT"
        );
        assert_eq!(InputCode::Key(0x2ff).to_string(), "key code 767");
        assert_eq!(InputCode::from_event(1, 2), Some(InputCode::Key(2)));
        assert_eq!(InputCode::from_event(5, 0), Some(InputCode::Switch(0)));
        assert_eq!(InputCode::from_event(0, 0), None);
    }
}
