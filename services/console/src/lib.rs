//! The admin console: the telnet and serial-console CLI of the phone (`telnet_level`,
//! `phone_password`, `phone_prompt`).
//!
//! # What it is for
//!
//! The old phone had a CLI over telnet and its console port, for debugging. This one keeps
//! its parameters and its command names and fixes its weaknesses: telnet is off unless
//! `telnet_level` is 1 or 2; there is no shell, only the commands below; a failed login waits
//! longer each time, is logged with the peer's address, and three of them end the session
//! (and keep the address out for a minute); idle sessions end; privileged commands
//! (`telnet_level` 2 only) ask for confirmation.
//!
//! # Design
//!
//! A [`Session`] is a sans-IO state machine, in the manner of str0m: it never reads a
//! socket or a clock. All time is an input (`now` on every call), so tests run the login
//! delays and timeouts faster than real time. There are three kinds of input:
//!
//! - [`Session::handle_input`]: bytes the user typed, already telnet-decoded;
//! - [`Session::handle_verdict`] and [`Session::handle_answer`]: the shell's answers to the
//!   actions the session asked for;
//! - [`Session::handle_timeout`]: time passed.
//!
//! and one output, drained with [`Session::poll_output`] until it returns
//! [`Output::Wait`]:
//!
//! - [`Output::Transmit`]: bytes for the terminal;
//! - [`Output::Action`]: something only the shell can do: check a password
//!   ([`Action::VerifyPassword`]), fetch data ([`Action::Query`]), run a confirmed
//!   privileged command ([`Action::Privileged`]), close ([`Action::Close`]);
//! - [`Output::Event`]: what the log should say;
//! - [`Output::Wait`]: when to call [`Session::handle_timeout`] if nothing else happens.
//!
//! Configuration changes come in with [`Session::set_level`] (0 ends the session) and
//! [`Session::set_prompt`].
//!
//! The run loop of the shell ([`shell::run_session`]):
//!
//! ```text
//! loop {
//!     match session.poll_output() {
//!         Transmit(bytes) => write them (telnet-encoded),
//!         Action(VerifyPassword(p)) => session.handle_verdict(ask provd to Unlock with p),
//!         Action(Query(q)) => session.handle_answer(render(ask provd or sipd)),
//!         Action(Close(_)) => return,
//!         Event(e) => log it with the peer address,
//!         Wait(deadline) => select { input => handle_input, deadline => handle_timeout,
//!                                    settings changed => set_level / set_prompt },
//!     }
//! }
//! ```
//!
//! The other pieces are small and pure too: [`line`] edits a line byte by byte,
//! [`command`] parses commands from one table (which also makes `help`), [`render`] turns
//! provd's and sipd's status into the text of an answer, [`telnet`] speaks just enough of
//! the protocol, [`throttle`] remembers locked-out addresses.
//!
//! # The session as the user sees it
//!
//! ```text
//! Password:                        (not echoed; Enter)
//! Type help or ? for the commands.
//! SIP Phone> show config phone_prompt
//! phone_prompt                 = SIP Phone  (default)
//! SIP Phone> erase protflash
//! Erase every SIP setting back to its default? ... [y/N] y
//! SIP configuration erased; the phone takes it from the TFTP server again.
//! ```
//!
//! The prompt is `phone_prompt` followed by `> `. The commands are listed in [`command`].
//!
//! # The password
//!
//! The console never learns `phone_password`: provd shows secrets to sipd only. A login is
//! checked by provd's `Unlock` (constant-time, with provd's own delay and status message on
//! a wrong password), and a privileged command unlocks a fresh provd connection with the
//! password the user logged in with, so a password changed since then stops working at
//! once.
//!
//! # The daemon
//!
//! `consoled` (src/main.rs) follows `telnet_level` and `phone_prompt` from provd live,
//! listens for telnet only while the level is 1 or 2 (or takes a socket from systemd), limits
//! the number of sessions, and with `--stdio` runs one session on the serial console instead
//! (usable at every level, privileged commands at level 2 only).

pub mod command;
pub mod line;
pub mod render;
pub mod session;
pub mod shell;
pub mod telnet;
pub mod throttle;

pub use command::{Privileged, Query};
pub use session::{Action, CloseReason, Event, Level, Limits, Output, Session, Verdict};
