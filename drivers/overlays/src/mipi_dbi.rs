//! The firmware file of the kernel's `panel-mipi-dbi-spi` driver: the commands that set up
//! a display controller, compiled from the text format of `mipi-dbi-cmd`.
//!
//! The binary is what the driver checks and runs: 15 bytes of magic (`MIPI DBI` and seven
//! zeros), format version 1, then `command, parameter count, parameters...` again and
//! again, where command 0x00 (DCS NOP) with one parameter means "wait that many
//! milliseconds".

use std::fmt;

/// The magic the driver checks first.
pub const MAGIC: [u8; 15] = *b"MIPI DBI\0\0\0\0\0\0\0";
/// The only file format version the driver reads.
pub const FORMAT_VERSION: u8 = 1;

/// A bad line of a command file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFileError {
    /// 1-based; 0 for the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CommandFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "command file: {}", self.message)
        } else {
            write!(f, "command file line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for CommandFileError {}

/// Compiles the text format: one `command <cmd> [<param> ...]` or `delay <ms>` per line,
/// numbers in hex (`0x2c`) or decimal, `#` to the end of a line is a comment.
pub fn compile(text: &str) -> Result<Vec<u8>, CommandFileError> {
    let mut out = MAGIC.to_vec();
    out.push(FORMAT_VERSION);
    let mut commands = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |message: String| CommandFileError { line, message };
        let content = raw.split('#').next().unwrap_or_default();
        let mut words = content.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let numbers = words
            .map(|w| {
                byte(w).ok_or_else(|| err(format!("{w:?} is not a byte (0-255, or 0x00-0xff)")))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        match keyword {
            "command" => {
                let (&command, parameters) = numbers
                    .split_first()
                    .ok_or_else(|| err("`command` needs a command byte".into()))?;
                if command == 0x00 {
                    // The driver reads NOP with one parameter as a delay: say what is meant.
                    return Err(err(
                        "command 0x00 (NOP) is reserved; use `delay <ms>`".into()
                    ));
                }
                let count = u8::try_from(parameters.len())
                    .map_err(|_| err(format!("{} parameters; at most 255", parameters.len())))?;
                out.extend([command, count]);
                out.extend_from_slice(parameters);
            }
            "delay" => {
                let [ms] = numbers[..] else {
                    return Err(err(
                        "`delay` takes one number of milliseconds (0-255)".into()
                    ));
                };
                out.extend([0x00, 1, ms]);
            }
            other => return Err(err(format!("unknown keyword {other:?} (command, delay)"))),
        }
        commands += 1;
    }
    if commands == 0 {
        // The driver refuses a file without a command.
        return Err(CommandFileError {
            line: 0,
            message: "no command".into(),
        });
    }
    Ok(out)
}

fn byte(word: &str) -> Option<u8> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_commands_and_delays_after_the_header() {
        let bin = compile(
            "command 0x11 # sleep out\n\ndelay 120\ncommand 0xB1 1 0x2c 0x2D\ncommand 0x29\n",
        )
        .unwrap();
        let mut wanted = b"MIPI DBI\0\0\0\0\0\0\0\x01".to_vec();
        wanted.extend([0x11, 0, 0x00, 1, 120, 0xb1, 3, 0x01, 0x2c, 0x2d, 0x29, 0]);
        assert_eq!(bin, wanted);
    }

    #[test]
    fn bad_lines_say_which_and_why() {
        let cases = [
            ("command 0x100", 1, "\"0x100\" is not a byte"),
            ("command 0x11\ndelay 300", 2, "\"300\" is not a byte"),
            ("delay", 1, "`delay` takes one number"),
            ("delay 1 2", 1, "`delay` takes one number"),
            ("command", 1, "needs a command byte"),
            ("command 0x00 5", 1, "use `delay <ms>`"),
            ("cmd 0x11", 1, "unknown keyword \"cmd\""),
            ("# nothing\n\n", 0, "no command"),
        ];
        for (text, line, wanted) in cases {
            let e = compile(text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            assert!(e.to_string().contains(wanted), "{text}: {e}");
        }
        let many = format!("command 0x2c{}", " 0".repeat(256));
        assert!(compile(&many).unwrap_err().message.contains("at most 255"));
        assert!(compile(&format!("command 0x2c{}", " 0".repeat(255))).is_ok());
    }
}
