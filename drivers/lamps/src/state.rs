//! What a lamp shows and which lamp it is.

use std::fmt;
use std::str::FromStr;

/// What a lamp shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LampState {
    #[default]
    Off,
    On,
    /// Lit for `on_ms`, dark for `off_ms`, again and again; it starts lit.
    Blink {
        on_ms: u32,
        off_ms: u32,
    },
}

impl LampState {
    /// Message waiting, held call: a calm blink.
    pub const SLOW_BLINK: LampState = LampState::Blink {
        on_ms: 500,
        off_ms: 500,
    };
    /// Ringing: a blink that catches the eye.
    pub const FAST_BLINK: LampState = LampState::Blink {
        on_ms: 125,
        off_ms: 125,
    };

    /// The same sight with degenerate blinks made steady: never lit is `Off`, never dark is
    /// `On`. Backends only ever see normalized states.
    pub fn normalized(self) -> LampState {
        match self {
            LampState::Blink { on_ms: 0, .. } => LampState::Off,
            LampState::Blink { off_ms: 0, .. } => LampState::On,
            other => other,
        }
    }

    /// Whether the lamp is lit when this state begins (a blink starts lit).
    pub fn starts_lit(self) -> bool {
        !matches!(self.normalized(), LampState::Off)
    }

    /// The level of a state that does not change over time.
    pub fn steady_level(self) -> Option<bool> {
        match self.normalized() {
            LampState::Off => Some(false),
            LampState::On => Some(true),
            LampState::Blink { .. } => None,
        }
    }
}

impl fmt::Display for LampState {
    /// `off`, `on`, `blink 500/500` (milliseconds lit / dark).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LampState::Off => f.write_str("off"),
            LampState::On => f.write_str("on"),
            LampState::Blink { on_ms, off_ms } => write!(f, "blink {on_ms}/{off_ms}"),
        }
    }
}

/// The phone's lamps: the message-waiting lamp (the red light on the handset) and the lamps
/// of line keys 1-6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LampName {
    MessageWaiting,
    /// Line 1-6 ([`LampName::line`] checks the number).
    Line(u8),
}

impl LampName {
    /// The highest line number with a lamp.
    pub const LINES: u8 = 6;

    /// Line lamp `n`, if the phone has one.
    pub fn line(n: u8) -> Option<LampName> {
        (1..=Self::LINES).contains(&n).then_some(LampName::Line(n))
    }

    /// Every lamp of the phone.
    pub fn all() -> impl Iterator<Item = LampName> {
        std::iter::once(LampName::MessageWaiting).chain((1..=Self::LINES).map(LampName::Line))
    }
}

impl fmt::Display for LampName {
    /// `message_waiting`, `line1` ... `line6`: the names of the lamp configuration and of
    /// the UI's status.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LampName::MessageWaiting => f.write_str("message_waiting"),
            LampName::Line(n) => write!(f, "line{n}"),
        }
    }
}

/// A name that is not one of the phone's lamps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lamp {0:?} (lamps: message_waiting, line1-line6)")]
pub struct UnknownLamp(pub String);

impl FromStr for LampName {
    type Err = UnknownLamp;
    fn from_str(s: &str) -> Result<LampName, UnknownLamp> {
        if s == "message_waiting" {
            return Ok(LampName::MessageWaiting);
        }
        s.strip_prefix("line")
            .filter(|n| n.len() == 1)
            .and_then(|n| n.parse().ok())
            .and_then(LampName::line)
            .ok_or_else(|| UnknownLamp(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_blinks_become_steady() {
        let never_lit = LampState::Blink {
            on_ms: 0,
            off_ms: 300,
        };
        let never_dark = LampState::Blink {
            on_ms: 300,
            off_ms: 0,
        };
        assert_eq!(never_lit.normalized(), LampState::Off);
        assert_eq!(never_dark.normalized(), LampState::On);
        assert!(!never_lit.starts_lit());
        assert_eq!(never_dark.steady_level(), Some(true));
        assert_eq!(LampState::SLOW_BLINK.steady_level(), None);
        assert!(LampState::FAST_BLINK.starts_lit());
    }

    #[test]
    fn lamp_names_read_back() {
        let names: Vec<String> = LampName::all().map(|n| n.to_string()).collect();
        assert_eq!(
            names,
            [
                "message_waiting",
                "line1",
                "line2",
                "line3",
                "line4",
                "line5",
                "line6"
            ]
        );
        for name in &names {
            assert_eq!(name.parse::<LampName>().unwrap().to_string(), *name);
        }
        for bad in ["line0", "line7", "line", "line01", "Line1", "mwi", ""] {
            assert!(bad.parse::<LampName>().is_err(), "{bad}");
        }
        assert_eq!(LampState::SLOW_BLINK.to_string(), "blink 500/500");
    }
}
