//! The UI's socket: keys pressed from outside (phonectl, tests), the screen as it is now,
//! and the names of the phone's keys, which the keymap files and `phonectl key` share.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Hello;

/// A key of the phone, or the hook switch. The names are a contract (`phonectl key NAME`,
/// keymap files): never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `0`-`9`.
    Digit(u8),
    Star,
    Pound,
    /// The four keys under the screen, 1-4 from the left.
    Soft(u8),
    Up,
    Down,
    Settings,
    Services,
    Directories,
    Messages,
    Info,
    VolumeUp,
    VolumeDown,
    Speaker,
    Mute,
    Headset,
    /// Line keys 1-6 beside the screen.
    Line(u8),
    /// The handset is lifted.
    OffHook,
    /// The handset is put down.
    OnHook,
}

impl Key {
    /// Every key, in the order the issue lists them.
    pub fn all() -> Vec<Key> {
        let mut keys: Vec<Key> = (0..=9).map(Key::Digit).collect();
        keys.extend([Key::Star, Key::Pound]);
        keys.extend((1..=4).map(Key::Soft));
        keys.extend([
            Key::Up,
            Key::Down,
            Key::Settings,
            Key::Services,
            Key::Directories,
            Key::Messages,
            Key::Info,
            Key::VolumeUp,
            Key::VolumeDown,
            Key::Speaker,
            Key::Mute,
            Key::Headset,
        ]);
        keys.extend((1..=6).map(Key::Line));
        keys.extend([Key::OffHook, Key::OnHook]);
        keys
    }

    /// The character a dial key stands for (`0`-`9`, `*`, `#`).
    pub fn dial_char(self) -> Option<char> {
        match self {
            Key::Digit(d) => char::from_digit(d.into(), 10),
            Key::Star => Some('*'),
            Key::Pound => Some('#'),
            _ => None,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Digit(d) => write!(f, "{d}"),
            Key::Star => f.write_str("star"),
            Key::Pound => f.write_str("pound"),
            Key::Soft(n) => write!(f, "soft{n}"),
            Key::Up => f.write_str("up"),
            Key::Down => f.write_str("down"),
            Key::Settings => f.write_str("settings"),
            Key::Services => f.write_str("services"),
            Key::Directories => f.write_str("directories"),
            Key::Messages => f.write_str("messages"),
            Key::Info => f.write_str("info"),
            Key::VolumeUp => f.write_str("volup"),
            Key::VolumeDown => f.write_str("voldown"),
            Key::Speaker => f.write_str("speaker"),
            Key::Mute => f.write_str("mute"),
            Key::Headset => f.write_str("headset"),
            Key::Line(n) => write!(f, "line{n}"),
            Key::OffHook => f.write_str("offhook"),
            Key::OnHook => f.write_str("onhook"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey(pub String);

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown key {:?} (keys: 0-9, star, pound, soft1-soft4, up, down, settings, services, \
             directories, messages, info, volup, voldown, speaker, mute, headset, line1-line6, \
             offhook, onhook)",
            self.0
        )
    }
}

impl std::error::Error for UnknownKey {}

impl FromStr for Key {
    type Err = UnknownKey;
    fn from_str(s: &str) -> Result<Key, UnknownKey> {
        let numbered = |prefix: &str, max: u8| -> Option<u8> {
            let n: u8 = s.strip_prefix(prefix)?.parse().ok()?;
            (1..=max).contains(&n).then_some(n)
        };
        let key = match s {
            "star" => Key::Star,
            "pound" => Key::Pound,
            "up" => Key::Up,
            "down" => Key::Down,
            "settings" => Key::Settings,
            "services" => Key::Services,
            "directories" => Key::Directories,
            "messages" => Key::Messages,
            "info" => Key::Info,
            "volup" => Key::VolumeUp,
            "voldown" => Key::VolumeDown,
            "speaker" => Key::Speaker,
            "mute" => Key::Mute,
            "headset" => Key::Headset,
            "offhook" => Key::OffHook,
            "onhook" => Key::OnHook,
            _ if s.len() == 1 && s.as_bytes()[0].is_ascii_digit() => {
                Key::Digit(s.as_bytes()[0] - b'0')
            }
            _ => {
                if let Some(n) = numbered("soft", 4) {
                    Key::Soft(n)
                } else if let Some(n) = numbered("line", 6) {
                    Key::Line(n)
                } else {
                    return Err(UnknownKey(s.to_string()));
                }
            }
        };
        Ok(key)
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    /// The UI's part of `phonectl status --json`.
    Status,
    /// Press these keys in order, as if on the keypad.
    Keys {
        keys: Vec<Key>,
    },
    /// The screen as it is now, as a PNG.
    Screenshot,
    /// Receive [`Event`]s from now on.
    Subscribe,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello {
        version: u32,
        service: String,
    },
    Status(Box<Status>),
    /// The PNG, base64-encoded.
    Screenshot {
        png_base64: String,
        width: u32,
        height: u32,
    },
    Ok,
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The screen changed.
    Screen(ScreenStatus),
}

/// What `phonectl status --json` shows under `"screen"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenStatus {
    /// `idle`, `dialing`, `ringing`, `ringout`, `connected`, `held`, `settings`,
    /// `directories`, `services`, `messages`, `info`, ...
    pub name: String,
    pub title: String,
    /// The soft key labels, left to right; empty strings for unlabelled keys.
    pub softkeys: Vec<String>,
    /// The text lines of the screen's body, top to bottom.
    #[serde(default)]
    pub lines: Vec<String>,
    /// The highlighted line of a list, 0-based.
    #[serde(default)]
    pub selected: Option<usize>,
    /// The time and date of the status bar as shown (`time_format_24hr`, `date_format`,
    /// the time zone and DST of the configuration).
    #[serde(default)]
    pub clock: String,
}

/// The UI's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub ui: String,
    pub protocol: u32,
    pub screen: ScreenStatus,
    /// The display in use: `fbdev /dev/fb0 320x240 16bpp`, `memory 320x240`.
    pub display: String,
    /// The input devices read (evdev paths), or `socket only`.
    pub inputs: Vec<String>,
    /// Lamps as they are lit now: `{"message_waiting": true, "line1": "on"}`.
    pub lamps: serde_json::Map<String, serde_json::Value>,
    /// The audio path the UI chose: `handset`, `speaker`, `headset`, or `none` (on hook).
    pub audio_path: String,
}

/// The UI's side of its socket, for [`crate::server`].
pub struct Server;

impl crate::server::ServerProtocol for Server {
    const NAME: &'static str = "ui";
    type Request = Request;
    type Reply = Reply;
    type Event = Event;
    fn as_hello(request: &Request) -> Option<&Hello> {
        match request {
            Request::Hello(h) => Some(h),
            _ => None,
        }
    }
    fn hello_reply() -> Reply {
        Reply::Hello {
            version: crate::PROTOCOL_VERSION,
            service: "ui".into(),
        }
    }
    fn error(message: String) -> Reply {
        Reply::Error { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_name_reads_back_as_the_same_key() {
        let all = Key::all();
        assert_eq!(all.len(), 12 + 4 + 12 + 6 + 2);
        for k in all {
            let name = k.to_string();
            assert_eq!(name.parse::<Key>(), Ok(k), "{name}");
        }
        for bad in ["soft0", "soft5", "line7", "10", "", "Up", "line", "hook"] {
            assert!(bad.parse::<Key>().is_err(), "{bad}");
        }
        let r = Request::Keys {
            keys: vec![Key::Settings, Key::Digit(3), Key::Soft(1)],
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(j, r#"{"request":"keys","keys":["settings","3","soft1"]}"#);
        assert_eq!(serde_json::from_str::<Request>(&j).unwrap(), r);
    }
}
