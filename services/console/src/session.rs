//! One console session as a state machine: the login, the prompt, the commands.
//!
//! See the crate documentation for the run loop. The states:
//!
//! ```text
//!   Password --Enter--> Verifying --Accepted--> Ready <--answer-- Busy
//!      ^                    |                    |  \--show...--> ^
//!      |                 Refused                 |                |
//!      +--delay over-- Delayed                privileged --> Confirm --yes--+
//! ```
//!
//! Every state may end in Closed (exit, lockout, timeouts, telnet turned off).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::command::{self, Command, ParseError, Privileged, Query};
use crate::line::{Edit, LineEditor};

/// What `telnet_level` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 0: no telnet.
    Off,
    /// 1: telnet without privileged commands.
    Basic,
    /// 2: telnet with privileged commands.
    Privileged,
}

impl Level {
    /// The level of a `telnet_level` value; anything but 1 or 2 is off (the safe reading).
    pub fn from_telnet_level(value: i64) -> Level {
        match value {
            1 => Level::Basic,
            2 => Level::Privileged,
            _ => Level::Off,
        }
    }

    pub fn telnet_level(self) -> u8 {
        match self {
            Level::Off => 0,
            Level::Basic => 1,
            Level::Privileged => 2,
        }
    }
}

/// The rules of a session; the defaults are the firmware's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (bytes), commands and password alike.
    pub max_line: usize,
    /// Failed logins before the session is closed.
    pub max_failures: u32,
    /// Wait after the first failed login; it doubles with each further failure.
    pub failure_delay: Duration,
    /// Time from connecting to a successful login.
    pub login_timeout: Duration,
    /// Time without input at the prompt before the session is closed.
    pub idle_timeout: Duration,
    /// Bytes kept while an answer is awaited (type-ahead); more is dropped.
    pub max_typeahead: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 256,
            max_failures: 3,
            failure_delay: Duration::from_secs(2),
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            max_typeahead: 1024,
        }
    }
}

/// What the shell must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Check this password against `phone_password`; answer with
    /// [`Session::handle_verdict`].
    VerifyPassword(String),
    /// Fetch this data; answer with [`Session::handle_answer`].
    Query(Query),
    /// Run a confirmed privileged command with the password the user logged in with;
    /// answer with [`Session::handle_answer`].
    Privileged {
        command: Privileged,
        password: String,
    },
    /// End the connection (after sending what was transmitted before).
    Close(CloseReason),
}

/// The outcome of [`Action::VerifyPassword`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Refused,
    /// The password could not be checked (provd not answering): not counted as a failure.
    Unavailable(String),
}

/// Things worth a line in the log, with the peer's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    LoggedIn,
    /// A wrong password; `failures` so far in this session.
    LoginFailed {
        failures: u32,
    },
    /// The user confirmed a privileged command; it goes to provd now.
    Confirmed(Privileged),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `exit`, `quit`, `logout`.
    Exit,
    /// Ctrl-D.
    EndOfInput,
    /// Too many failed logins.
    LockedOut,
    LoginTimeout,
    IdleTimeout,
    /// `telnet_level` became 0.
    TelnetOff,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::Exit => "logged out",
            CloseReason::EndOfInput => "end of input",
            CloseReason::LockedOut => "too many failed logins",
            CloseReason::LoginTimeout => "login timed out",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::TelnetOff => "telnet turned off",
        })
    }
}

/// What [`Session::poll_output`] hands out, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Bytes for the terminal (before any telnet encoding).
    Transmit(Vec<u8>),
    Action(Action),
    Event(Event),
    /// Nothing more for now: wait for input, an answer, or this instant
    /// ([`Session::handle_timeout`]). `None`: no timer runs.
    Wait(Option<Instant>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Typing the password (not echoed).
    Password,
    /// The password went to the shell.
    Verifying,
    /// After a failed login: input is dropped until then.
    Delayed(Instant),
    /// At the prompt.
    Ready,
    /// A query or a privileged command went to the shell.
    Busy,
    /// Waiting for yes or no.
    Confirm(Privileged),
    Closed,
}

pub struct Session {
    state: State,
    level: Level,
    prompt: String,
    echo: bool,
    limits: Limits,
    editor: LineEditor,
    failures: u32,
    /// The password the user logged in with, for privileged commands (provd unlocks with
    /// it, so a password changed since the login no longer works).
    password: Option<String>,
    /// The password being verified.
    candidate: Option<String>,
    login_deadline: Instant,
    last_input: Instant,
    typeahead: Vec<u8>,
    out: VecDeque<Output>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("level", &self.level)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new connection at `now`: asks for the password (or closes at once if the level is
    /// off). `prompt` is `phone_prompt`; the session shows `PROMPT> `.
    pub fn new(level: Level, prompt: &str, limits: Limits, now: Instant) -> Session {
        let mut s = Session {
            state: State::Password,
            level,
            prompt: String::new(),
            echo: true,
            editor: LineEditor::new(limits.max_line),
            login_deadline: now + limits.login_timeout,
            limits,
            failures: 0,
            password: None,
            candidate: None,
            last_input: now,
            typeahead: Vec::new(),
            out: VecDeque::new(),
        };
        s.set_prompt(prompt);
        if level == Level::Off {
            s.close(CloseReason::TelnetOff, "Telnet is off (telnet_level 0).\n");
        } else {
            s.text("Password: ");
        }
        s
    }

    /// Whether the session echoes what is typed (not the password). Off when the other end
    /// echoes by itself (a client that refused telnet ECHO, a pipe).
    pub fn set_echo(&mut self, echo: bool) {
        self.echo = echo;
    }

    /// `telnet_level` changed: 0 ends the session, 1 and 2 decide privileged commands from
    /// now on (a pending confirmation is checked again when answered).
    pub fn set_level(&mut self, level: Level) {
        self.level = level;
        if level == Level::Off && self.state != State::Closed {
            self.close(
                CloseReason::TelnetOff,
                "\nTelnet has been turned off (telnet_level 0); closing.\n",
            );
        }
    }

    /// `phone_prompt` changed; control characters are dropped from it.
    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt = prompt.chars().filter(|c| !c.is_control()).collect();
    }

    pub fn level(&self) -> Level {
        self.level
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn is_logged_in(&self) -> bool {
        self.password.is_some() && self.state != State::Closed
    }

    /// Bytes the user typed (telnet already decoded).
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        for (i, &b) in bytes.iter().enumerate() {
            match self.state {
                State::Closed => return,
                // Guesses typed during the delay after a failure are dropped.
                State::Delayed(_) => continue,
                // Kept for after the answer; dropped if the password is refused, so guesses
                // cannot queue up behind a verdict.
                State::Verifying | State::Busy => {
                    let room = self
                        .limits
                        .max_typeahead
                        .saturating_sub(self.typeahead.len());
                    let rest = &bytes[i..];
                    self.typeahead
                        .extend_from_slice(&rest[..rest.len().min(room)]);
                    return;
                }
                State::Password | State::Ready | State::Confirm(_) => {}
            }
            self.last_input = now;
            let edit = self.editor.feed(b);
            self.apply(edit);
        }
    }

    /// The answer to [`Action::VerifyPassword`].
    pub fn handle_verdict(&mut self, verdict: Verdict, now: Instant) {
        if self.state != State::Verifying {
            return;
        }
        let candidate = self.candidate.take();
        match verdict {
            Verdict::Accepted => {
                self.password = candidate;
                self.failures = 0;
                self.state = State::Ready;
                self.last_input = now;
                self.out.push_back(Output::Event(Event::LoggedIn));
                self.text("Type help or ? for the commands.\n");
                self.show_prompt();
                let typed = std::mem::take(&mut self.typeahead);
                self.handle_input(&typed, now);
            }
            Verdict::Refused => {
                self.typeahead.clear();
                self.failures += 1;
                self.out.push_back(Output::Event(Event::LoginFailed {
                    failures: self.failures,
                }));
                if self.failures >= self.limits.max_failures {
                    self.close(
                        CloseReason::LockedOut,
                        "Wrong password. Too many failed logins; closing.\n",
                    );
                } else {
                    self.text("Wrong password.\n");
                    self.state = State::Delayed(now + self.failure_delay());
                }
            }
            Verdict::Unavailable(why) => {
                self.typeahead.clear();
                self.text(&format!("The password cannot be checked now ({why}).\n"));
                self.state = State::Delayed(now + self.limits.failure_delay);
            }
        }
    }

    /// The answer to [`Action::Query`] or [`Action::Privileged`]: text to show.
    pub fn handle_answer(&mut self, text: &str, now: Instant) {
        if self.state != State::Busy {
            return;
        }
        self.text(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.text("\n");
        }
        self.state = State::Ready;
        self.last_input = now;
        self.show_prompt();
        let typed = std::mem::take(&mut self.typeahead);
        self.handle_input(&typed, now);
    }

    /// Time passed; call at (or after) the instant of [`Output::Wait`].
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Password | State::Delayed(_) if now >= self.login_deadline => {
                self.close(CloseReason::LoginTimeout, "\nLogin timed out.\n");
            }
            State::Delayed(until) if now >= until => {
                self.state = State::Password;
                self.editor.clear();
                self.text("Password: ");
            }
            State::Ready | State::Confirm(_)
                if now >= self.last_input + self.limits.idle_timeout =>
            {
                let idle = self.limits.idle_timeout.as_secs();
                self.close(
                    CloseReason::IdleTimeout,
                    &format!("\nNo input for {idle} s; closing.\n"),
                );
            }
            _ => {}
        }
    }

    /// The next output; [`Output::Wait`] when there is nothing more to do now.
    pub fn poll_output(&mut self) -> Output {
        self.out
            .pop_front()
            .unwrap_or_else(|| Output::Wait(self.deadline()))
    }

    fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Password => Some(self.login_deadline),
            State::Delayed(until) => Some(until.min(self.login_deadline)),
            State::Ready | State::Confirm(_) => Some(self.last_input + self.limits.idle_timeout),
            State::Verifying | State::Busy | State::Closed => None,
        }
    }

    /// 2 s, 4 s, 8 s...: the delay after the `failures`th failure.
    fn failure_delay(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        self.limits.failure_delay.saturating_mul(1 << doublings)
    }

    fn apply(&mut self, edit: Edit) {
        let visible = self.echo && self.state != State::Password;
        match edit {
            Edit::Insert(b) if visible => self.transmit(&[b]),
            Edit::Erase if visible => self.transmit(b"\x08 \x08"),
            Edit::Kill(n) if visible => self.transmit(&b"\x08 \x08".repeat(n)),
            Edit::Insert(_) | Edit::Erase | Edit::Kill(_) | Edit::Nothing => {}
            Edit::Refuse => self.transmit(&[0x07]),
            Edit::Interrupt => {
                self.text("^C\n");
                self.start_over();
            }
            Edit::EndOfInput => self.close(CloseReason::EndOfInput, "\n"),
            Edit::Overlong => {
                self.newline();
                let max = self.limits.max_line;
                self.text(&format!(
                    "error: line longer than {max} characters; ignored\n"
                ));
                self.start_over();
            }
            Edit::Line(line) => {
                self.newline();
                match self.state {
                    State::Password => {
                        self.state = State::Verifying;
                        self.candidate = Some(line.clone());
                        self.out
                            .push_back(Output::Action(Action::VerifyPassword(line)));
                    }
                    State::Ready => self.run(&line),
                    State::Confirm(command) => self.confirm(command, &line),
                    _ => {}
                }
            }
        }
    }

    /// After Ctrl-C or a refused line: the same question again (a confirmation is
    /// cancelled).
    fn start_over(&mut self) {
        match self.state {
            State::Password => self.text("Password: "),
            State::Confirm(_) => {
                self.text("Cancelled.\n");
                self.state = State::Ready;
                self.show_prompt();
            }
            _ => self.show_prompt(),
        }
    }

    fn run(&mut self, line: &str) {
        match command::parse(line) {
            Err(ParseError::Empty) => self.show_prompt(),
            Err(e) => {
                self.text(&format!("error: {e}\n"));
                self.show_prompt();
            }
            Ok(Command::Help(topic)) => {
                let text = command::help(&topic, self.level == Level::Privileged);
                self.text(&text);
                self.show_prompt();
            }
            Ok(Command::Show(query)) => {
                self.state = State::Busy;
                self.out.push_back(Output::Action(Action::Query(query)));
            }
            Ok(Command::Exit) => self.close(CloseReason::Exit, "Goodbye.\n"),
            Ok(Command::Privileged(p)) => {
                if self.refuse_privileged(p) {
                    return;
                }
                self.text(&format!("{} [y/N] ", p.question()));
                self.state = State::Confirm(p);
            }
        }
    }

    fn confirm(&mut self, command: Privileged, answer: &str) {
        let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
        if !yes {
            self.text("Cancelled.\n");
            self.state = State::Ready;
            self.show_prompt();
            return;
        }
        self.state = State::Ready;
        if self.refuse_privileged(command) {
            return;
        }
        let Some(password) = self.password.clone() else {
            return;
        };
        self.state = State::Busy;
        self.out.push_back(Output::Event(Event::Confirmed(command)));
        self.out
            .push_back(Output::Action(Action::Privileged { command, password }));
    }

    /// Refuses (with a message and a new prompt) when the level does not allow it.
    fn refuse_privileged(&mut self, command: Privileged) -> bool {
        if self.level == Level::Privileged {
            return false;
        }
        self.text(&format!(
            "error: {command} is a privileged command; telnet_level is {}, only 2 allows it\n",
            self.level.telnet_level()
        ));
        self.show_prompt();
        true
    }

    fn show_prompt(&mut self) {
        let p = format!("{}> ", self.prompt);
        self.text(&p);
    }

    /// The end of a typed line, when the session echoes (else the terminal showed it).
    fn newline(&mut self) {
        if self.echo {
            self.transmit(b"\r\n");
        }
    }

    fn close(&mut self, reason: CloseReason, message: &str) {
        self.text(message);
        self.state = State::Closed;
        self.typeahead.clear();
        self.out.push_back(Output::Action(Action::Close(reason)));
    }

    /// Text with `\n` line ends, sent with the CR LF a terminal wants.
    fn text(&mut self, text: &str) {
        let mut bytes = Vec::with_capacity(text.len() + 8);
        let mut previous = 0u8;
        for &b in text.as_bytes() {
            if b == b'\n' && previous != b'\r' {
                bytes.push(b'\r');
            }
            bytes.push(b);
            previous = b;
        }
        self.transmit(&bytes);
    }

    fn transmit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Output::Transmit(last)) = self.out.back_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.out.push_back(Output::Transmit(bytes.to_vec()));
        }
    }
}
