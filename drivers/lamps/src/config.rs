//! Which lamp is which LED or GPIO line: a few `lamp = source` lines.
//!
//! ```text
//! # lamp            source
//! message_waiting = led:phone:red:message
//! line1           = gpio:/dev/gpiochip0:17
//! line2           = gpio:/dev/gpiochip0:27:active-low
//! line3           = memory
//! ```
//!
//! Lamps the file does not name stay dark; `#` starts a comment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::LampName;

/// What drives a lamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LampSource {
    /// `led:<name>`: `/sys/class/leds/<name>` (names may hold colons: `phone:red:message`).
    Led { name: String },
    /// `gpio:<chip>:<line>[:active-low]`: a line of a GPIO character device.
    Gpio {
        chip: PathBuf,
        line: u32,
        active_low: bool,
    },
    /// `memory`: remembered only (the simulator).
    Memory,
}

impl fmt::Display for LampSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LampSource::Led { name } => write!(f, "led:{name}"),
            LampSource::Gpio {
                chip,
                line,
                active_low,
            } => {
                write!(f, "gpio:{}:{line}", chip.display())?;
                if *active_low {
                    f.write_str(":active-low")?;
                }
                Ok(())
            }
            LampSource::Memory => f.write_str("memory"),
        }
    }
}

impl FromStr for LampSource {
    type Err = String;
    fn from_str(s: &str) -> Result<LampSource, String> {
        if s == "memory" {
            return Ok(LampSource::Memory);
        }
        if let Some(name) = s.strip_prefix("led:") {
            if name.is_empty() || name.contains('/') {
                return Err(format!("{name:?} is not an LED name (led:<name>)"));
            }
            return Ok(LampSource::Led {
                name: name.to_string(),
            });
        }
        if let Some(rest) = s.strip_prefix("gpio:") {
            let (rest, active_low) = match rest.strip_suffix(":active-low") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let usage = "gpio:<chip>:<line>[:active-low], e.g. gpio:/dev/gpiochip0:17";
            let (chip, line) = rest.rsplit_once(':').ok_or(format!("expected {usage}"))?;
            let line = line
                .parse()
                .map_err(|_| format!("line {line:?} is not a number ({usage})"))?;
            if chip.is_empty() {
                return Err(format!("no GPIO chip ({usage})"));
            }
            return Ok(LampSource::Gpio {
                chip: PathBuf::from(chip),
                line,
                active_low,
            });
        }
        Err(format!(
            "unknown source {s:?} (led:<name>, gpio:<chip>:<line>[:active-low], memory)"
        ))
    }
}

/// A bad line of a lamp configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lamp configuration line {line}: {message}")]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

/// The lamps a phone has and what drives each, in the order of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LampConfig {
    pub lamps: Vec<(LampName, LampSource)>,
}

impl LampConfig {
    /// The Raspberry Pi phone: the LEDs of `drivers/overlays`' lamps overlay.
    pub const RASPBERRY_PI: &'static str = "\
message_waiting = led:phone:red:message
line1 = led:phone:green:line1
line2 = led:phone:green:line2
line3 = led:phone:green:line3
line4 = led:phone:green:line4
line5 = led:phone:green:line5
line6 = led:phone:green:line6
";

    /// Reads a configuration; the first bad line is the error. A lamp named twice is an
    /// error too (which line would win is not obvious to whoever edits the file).
    pub fn parse(text: &str) -> Result<LampConfig, ConfigError> {
        let mut config = LampConfig::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let err = |message: String| ConfigError { line, message };
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let (name, source) = content
                .split_once('=')
                .ok_or_else(|| err(format!("expected `lamp = source`, found {content:?}")))?;
            let name: LampName = name.trim().parse().map_err(|e| err(format!("{e}")))?;
            let source: LampSource = source.trim().parse().map_err(err)?;
            if config.lamps.iter().any(|(n, _)| *n == name) {
                return Err(err(format!("{name} is configured twice")));
            }
            config.lamps.push((name, source));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_source() {
        let config = LampConfig::parse(
            "# the phone's lamps\n\
             message_waiting = led:phone:red:message\n\
             \n\
             line1 = gpio:/dev/gpiochip0:17   # in use\n\
             line2=gpio:/dev/gpiochip1:3:active-low\n\
             line6 = memory\n",
        )
        .unwrap();
        assert_eq!(
            config.lamps,
            vec![
                (
                    LampName::MessageWaiting,
                    LampSource::Led {
                        name: "phone:red:message".into()
                    }
                ),
                (
                    LampName::Line(1),
                    LampSource::Gpio {
                        chip: "/dev/gpiochip0".into(),
                        line: 17,
                        active_low: false
                    }
                ),
                (
                    LampName::Line(2),
                    LampSource::Gpio {
                        chip: "/dev/gpiochip1".into(),
                        line: 3,
                        active_low: true
                    }
                ),
                (LampName::Line(6), LampSource::Memory),
            ]
        );
        // Sources print as they are written.
        for (_, source) in &config.lamps {
            assert_eq!(source.to_string().parse::<LampSource>().unwrap(), *source);
        }
    }

    #[test]
    fn the_raspberry_pi_configuration_names_every_lamp() {
        let config = LampConfig::parse(LampConfig::RASPBERRY_PI).unwrap();
        let names: Vec<LampName> = config.lamps.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, LampName::all().collect::<Vec<_>>());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        let cases = [
            (
                "line1 gpio:/dev/gpiochip0:17",
                1,
                "expected `lamp = source`",
            ),
            ("\nline7 = memory", 2, "unknown lamp \"line7\""),
            (
                "line1 = gpio:/dev/gpiochip0",
                1,
                "expected gpio:<chip>:<line>",
            ),
            (
                "line1 = gpio:/dev/gpiochip0:x",
                1,
                "line \"x\" is not a number",
            ),
            ("line1 = gpio::4", 1, "no GPIO chip"),
            ("line1 = led:", 1, "not an LED name"),
            ("line1 = led:../../x", 1, "not an LED name"),
            ("line1 = lamp:3", 1, "unknown source \"lamp:3\""),
            (
                "line1 = memory\nline1 = led:a",
                2,
                "line1 is configured twice",
            ),
        ];
        for (text, line, wanted) in cases {
            let e = LampConfig::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.to_string().contains(wanted), "{text}: {e}");
        }
    }
}
