//! The commands and their parser.
//!
//! The command set follows the old Cisco SIP phone's CLI where its names are known:
//!
//! | command | what it does |
//! | --- | --- |
//! | `help`, `?` (also `show ?` and the like) | lists the commands |
//! | `show config [NAME]` | every parameter with its value and source, or one; secrets masked |
//! | `show network` | the Network Configuration settings, the TFTP server in use, the interfaces' addresses |
//! | `show status` | provisioning, firmware, check-sync, the lines and the calls |
//! | `show lines` | the lines and their registration |
//! | `show calls` | the calls |
//! | `show messages` | the Status Messages screen |
//! | `show version` | firmware and service versions |
//! | `erase protflash` (or `erase_protflash`) | privileged: every SIP setting back to its default |
//! | `erase network` | privileged: the network settings back to their defaults (DHCP on) |
//! | `reset` (or `reboot`) | privileged: restart the phone |
//! | `exit`, `quit`, `logout` | end the session |
//!
//! Words may be shortened to any unambiguous prefix (`sh conf`), as on Cisco CLIs, except
//! the privileged ones: a command that erases or restarts must be typed in full, so a slip
//! (`e` for `exit`) can never reach it. Privileged commands also ask for confirmation.

use std::fmt;

use deskphone_config::table;

/// Data the session asks the shell for; each answer is text to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Every parameter, or the one named (a name the table knows, in its spelling).
    Config(Option<String>),
    Network,
    Status,
    Lines,
    Calls,
    Messages,
    Version,
}

/// The commands of `telnet_level` 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privileged {
    /// `erase protflash`: provd's `EraseSip`.
    EraseSip,
    /// `erase network`: provd's `EraseNetwork`.
    EraseNetwork,
    /// `reset`: provd's `Reboot`.
    Reset,
}

impl Privileged {
    /// The command as typed, for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            Privileged::EraseSip => "erase protflash",
            Privileged::EraseNetwork => "erase network",
            Privileged::Reset => "reset",
        }
    }

    /// The confirmation question.
    pub fn question(self) -> &'static str {
        match self {
            Privileged::EraseSip => {
                "Erase every SIP setting back to its default? The phone takes them from the \
                 TFTP server again."
            }
            Privileged::EraseNetwork => {
                "Erase the network settings back to their defaults (DHCP on)?"
            }
            Privileged::Reset => "Restart the phone now? Calls in progress end.",
        }
    }
}

impl fmt::Display for Privileged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The commands whose words start with these (all of them when empty).
    Help(Vec<String>),
    Show(Query),
    Privileged(Privileged),
    Exit,
}

/// One command of the table.
#[derive(Debug)]
pub struct Syntax {
    pub words: &'static [&'static str],
    /// The name of an optional last argument (`NAME`).
    pub argument: Option<&'static str>,
    pub help: &'static str,
    /// Needs `telnet_level` 2, and its words typed in full.
    pub privileged: bool,
    make: fn(Option<&str>) -> Command,
}

impl Syntax {
    /// `show config [NAME]`.
    pub fn usage(&self) -> String {
        let mut s = self.words.join(" ");
        if let Some(a) = self.argument {
            s.push_str(&format!(" [{a}]"));
        }
        s
    }
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[Syntax] = &[
    Syntax {
        words: &["help"],
        argument: None,
        help: "this list (also ?)",
        privileged: false,
        make: |_| Command::Help(Vec::new()),
    },
    Syntax {
        words: &["show", "config"],
        argument: Some("NAME"),
        help: "the configuration: every parameter with its source, or one",
        privileged: false,
        make: |name| Command::Show(Query::Config(name.map(str::to_string))),
    },
    Syntax {
        words: &["show", "network"],
        argument: None,
        help: "addresses, DHCP, routers, DNS, TFTP server",
        privileged: false,
        make: |_| Command::Show(Query::Network),
    },
    Syntax {
        words: &["show", "status"],
        argument: None,
        help: "provisioning, firmware, lines and calls",
        privileged: false,
        make: |_| Command::Show(Query::Status),
    },
    Syntax {
        words: &["show", "lines"],
        argument: None,
        help: "the lines and their registration",
        privileged: false,
        make: |_| Command::Show(Query::Lines),
    },
    Syntax {
        words: &["show", "calls"],
        argument: None,
        help: "the calls in progress",
        privileged: false,
        make: |_| Command::Show(Query::Calls),
    },
    Syntax {
        words: &["show", "messages"],
        argument: None,
        help: "the status messages",
        privileged: false,
        make: |_| Command::Show(Query::Messages),
    },
    Syntax {
        words: &["show", "version"],
        argument: None,
        help: "firmware and service versions",
        privileged: false,
        make: |_| Command::Show(Query::Version),
    },
    Syntax {
        words: &["erase", "protflash"],
        argument: None,
        help: "erase every SIP setting (also erase_protflash)",
        privileged: true,
        make: |_| Command::Privileged(Privileged::EraseSip),
    },
    Syntax {
        words: &["erase_protflash"],
        argument: None,
        help: "the same as erase protflash",
        privileged: true,
        make: |_| Command::Privileged(Privileged::EraseSip),
    },
    Syntax {
        words: &["erase", "network"],
        argument: None,
        help: "erase the network settings (DHCP on again)",
        privileged: true,
        make: |_| Command::Privileged(Privileged::EraseNetwork),
    },
    Syntax {
        words: &["reset"],
        argument: None,
        help: "restart the phone (also reboot)",
        privileged: true,
        make: |_| Command::Privileged(Privileged::Reset),
    },
    Syntax {
        words: &["reboot"],
        argument: None,
        help: "the same as reset",
        privileged: true,
        make: |_| Command::Privileged(Privileged::Reset),
    },
    Syntax {
        words: &["exit"],
        argument: None,
        help: "end the session (also quit, logout)",
        privileged: false,
        make: |_| Command::Exit,
    },
    Syntax {
        words: &["quit"],
        argument: None,
        help: "the same as exit",
        privileged: false,
        make: |_| Command::Exit,
    },
    Syntax {
        words: &["logout"],
        argument: None,
        help: "the same as exit",
        privileged: false,
        make: |_| Command::Exit,
    },
];

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    Unknown(String),
    /// Several commands start like this.
    Ambiguous(Vec<String>),
    /// The start of one or more commands: what could follow.
    Incomplete(Vec<String>),
    TooManyArguments(String),
    /// A privileged command shortened: these must be typed in full.
    Abbreviated(Vec<String>),
    UnknownParameter {
        name: String,
        suggestion: Option<&'static str>,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty line"),
            ParseError::Unknown(w) => {
                write!(f, "unknown command \"{w}\"; type help or ? for the list")
            }
            ParseError::Ambiguous(c) => {
                write!(f, "ambiguous command; did you mean {}?", c.join(", "))
            }
            ParseError::Incomplete(c) => write!(f, "incomplete command; one of: {}", c.join(", ")),
            ParseError::TooManyArguments(u) => write!(f, "too many words; usage: {u}"),
            ParseError::Abbreviated(c) => {
                write!(f, "privileged commands are typed in full: {}", c.join(", "))
            }
            ParseError::UnknownParameter { name, suggestion } => {
                write!(f, "no parameter named {name}")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean {s}?")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `token` stands for `word`: in full, or (for ordinary commands) a prefix.
fn stands_for(token: &str, word: &str, privileged: bool) -> bool {
    let token = token.to_ascii_lowercase();
    if privileged {
        token == word
    } else {
        !token.is_empty() && word.starts_with(&token)
    }
}

pub fn parse(line: &str) -> Result<Command, ParseError> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let Some(first) = tokens.first() else {
        return Err(ParseError::Empty);
    };
    if tokens.last() == Some(&"?") {
        let topic = tokens[..tokens.len() - 1]
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        return Ok(Command::Help(topic));
    }

    let words_match_as = |s: &Syntax, n: usize, exact: bool| {
        s.words
            .iter()
            .zip(&tokens)
            .take(n)
            .all(|(w, t)| stands_for(t, w, exact))
    };
    let words_match = |s: &Syntax, n: usize| words_match_as(s, n, s.privileged);
    let matching: Vec<&Syntax> = COMMANDS
        .iter()
        .filter(|s| {
            let extra = tokens.len().checked_sub(s.words.len());
            let fits = match extra {
                Some(0) => true,
                Some(1) => s.argument.is_some(),
                _ => false,
            };
            fits && words_match(s, s.words.len())
        })
        .collect();
    let chosen = match matching.as_slice() {
        [one] => Some(*one),
        [] => None,
        several => {
            // A word typed in full wins over others it is the prefix of.
            let exact: Vec<&&Syntax> = several
                .iter()
                .filter(|s| {
                    s.words
                        .iter()
                        .zip(&tokens)
                        .all(|(w, t)| t.eq_ignore_ascii_case(w))
                })
                .collect();
            match exact.as_slice() {
                [one] => Some(**one),
                _ => {
                    return Err(ParseError::Ambiguous(
                        several.iter().map(|s| s.usage()).collect(),
                    ))
                }
            }
        }
    };
    if let Some(s) = chosen {
        let argument = tokens.get(s.words.len()).copied();
        if let (Some(Query::Config(_)), Some(name)) = (query_of(s), argument) {
            let lower = name.to_ascii_lowercase();
            return match table::lookup(&lower) {
                Some(id) => Ok(Command::Show(Query::Config(Some(id.name().to_string())))),
                None => Err(ParseError::UnknownParameter {
                    name: name.to_string(),
                    suggestion: table::suggest(&lower),
                }),
            };
        }
        return Ok((s.make)(argument));
    }

    // Not a command: say what is wrong.
    let started: Vec<String> = COMMANDS
        .iter()
        .filter(|s| tokens.len() < s.words.len() && words_match(s, tokens.len()))
        .map(Syntax::usage)
        .collect();
    if !started.is_empty() {
        return Err(ParseError::Incomplete(started));
    }
    let shortened: Vec<String> = COMMANDS
        .iter()
        .filter(|s| s.privileged && tokens.len() == s.words.len())
        .filter(|s| words_match_as(s, s.words.len(), false))
        .map(Syntax::usage)
        .collect();
    if !shortened.is_empty() {
        return Err(ParseError::Abbreviated(shortened));
    }
    if let Some(s) = COMMANDS
        .iter()
        .find(|s| tokens.len() > s.words.len() && words_match(s, s.words.len()))
    {
        return Err(ParseError::TooManyArguments(s.usage()));
    }
    let unknown = COMMANDS
        .iter()
        .all(|s| !stands_for(first, s.words[0], s.privileged));
    Err(if unknown {
        ParseError::Unknown((*first).to_string())
    } else {
        ParseError::Unknown(line.trim().to_string())
    })
}

/// `help` and `?`: the commands whose words start with `topic`, one a line. Privileged
/// commands are marked when the session may not run them.
pub fn help(topic: &[String], privileged_allowed: bool) -> String {
    let mut out = String::new();
    for s in COMMANDS {
        let shown = topic.len() <= s.words.len()
            && s.words
                .iter()
                .zip(topic)
                .all(|(w, t)| w.starts_with(t.as_str()));
        if !shown {
            continue;
        }
        let mark = if s.privileged && !privileged_allowed {
            " (needs telnet_level 2)"
        } else {
            ""
        };
        out.push_str(&format!("  {:<22} {}{mark}\n", s.usage(), s.help));
    }
    if out.is_empty() {
        out = format!("No command starts with \"{}\".\n", topic.join(" "));
    }
    out
}

fn query_of(s: &Syntax) -> Option<Query> {
    match (s.make)(None) {
        Command::Show(q) => Some(q),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_abbreviations() {
        assert_eq!(parse("show config"), Ok(Command::Show(Query::Config(None))));
        assert_eq!(
            parse("  SH  CONF  "),
            Ok(Command::Show(Query::Config(None)))
        );
        assert_eq!(
            parse("show config Phone_Prompt"),
            Ok(Command::Show(Query::Config(Some("phone_prompt".into()))))
        );
        assert_eq!(parse("sh net"), Ok(Command::Show(Query::Network)));
        assert_eq!(parse("show version"), Ok(Command::Show(Query::Version)));
        assert_eq!(parse("?"), Ok(Command::Help(vec![])));
        assert_eq!(parse("show ?"), Ok(Command::Help(vec!["show".into()])));
        assert_eq!(parse("q"), Ok(Command::Exit));
        assert_eq!(
            parse("erase protflash"),
            Ok(Command::Privileged(Privileged::EraseSip))
        );
        assert_eq!(
            parse("erase_protflash"),
            Ok(Command::Privileged(Privileged::EraseSip))
        );
        assert_eq!(parse("reset"), Ok(Command::Privileged(Privileged::Reset)));
    }

    #[test]
    fn help_lists_by_topic_and_marks_what_this_level_cannot_run() {
        let all = help(&[], false);
        assert!(all.contains("  show config [NAME]     the configuration"));
        assert!(all.contains(
            "  reset                  restart the phone (also reboot) (needs telnet_level 2)"
        ));
        assert!(!help(&[], true).contains("needs telnet_level"));
        let show = help(&["show".into()], true);
        assert_eq!(show.lines().count(), 7, "{show}");
        assert!(help(&["sh".into(), "n".into()], true).contains("show network"));
        assert_eq!(
            help(&["format".into()], true),
            "No command starts with \"format\".\n"
        );
    }

    #[test]
    fn privileged_commands_must_be_typed_in_full() {
        assert_eq!(
            parse("erase prot").unwrap_err().to_string(),
            "privileged commands are typed in full: erase protflash"
        );
        assert!(matches!(parse("erase"), Err(ParseError::Incomplete(_))));
        assert_eq!(
            parse("re"),
            Err(ParseError::Abbreviated(vec![
                "reset".into(),
                "reboot".into()
            ]))
        );
        // `e` is exit's prefix only: erase is never abbreviated.
        assert_eq!(parse("e"), Ok(Command::Exit));
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(parse("   "), Err(ParseError::Empty));
        assert_eq!(
            parse("format c:").unwrap_err().to_string(),
            "unknown command \"format\"; type help or ? for the list"
        );
        assert_eq!(
            parse("show c"),
            Err(ParseError::Ambiguous(vec![
                "show config [NAME]".into(),
                "show calls".into()
            ]))
        );
        let e = parse("show").unwrap_err().to_string();
        assert!(e.starts_with("incomplete command; one of: show config [NAME], show network"));
        assert_eq!(
            parse("show network now"),
            Err(ParseError::TooManyArguments("show network".into()))
        );
        assert_eq!(
            parse("show config phone_promt").unwrap_err().to_string(),
            "no parameter named phone_promt; did you mean phone_prompt?"
        );
    }
}
