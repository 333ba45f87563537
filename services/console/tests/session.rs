//! The session core driven as the shell drives it, in simulated time.

use std::time::{Duration, Instant};

use deskphone_console::{
    Action, CloseReason, Event, Level, Limits, Output, Privileged, Query, Session, Verdict,
};
use proptest::prelude::*;

const PASSWORD: &str = "s3cret";

/// A session, the screen it drew and what it asked for.
struct Term {
    s: Session,
    now: Instant,
    screen: String,
    actions: Vec<Action>,
    events: Vec<Event>,
    wait: Option<Instant>,
}

impl Term {
    fn new(level: Level) -> Term {
        let now = Instant::now();
        let mut t = Term {
            s: Session::new(level, "Lab7", Limits::default(), now),
            now,
            screen: String::new(),
            actions: Vec::new(),
            events: Vec::new(),
            wait: None,
        };
        t.drain();
        t
    }

    fn drain(&mut self) {
        loop {
            match self.s.poll_output() {
                Output::Transmit(b) => self.screen.push_str(&String::from_utf8_lossy(&b)),
                Output::Action(a) => self.actions.push(a),
                Output::Event(e) => self.events.push(e),
                Output::Wait(w) => {
                    self.wait = w;
                    return;
                }
            }
        }
    }

    fn typed(&mut self, text: &str) {
        self.s.handle_input(text.as_bytes(), self.now);
        self.drain();
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.s.handle_timeout(self.now);
        self.drain();
    }

    fn verdict(&mut self, v: Verdict) {
        self.s.handle_verdict(v, self.now);
        self.drain();
    }

    fn answer(&mut self, text: &str) {
        self.s.handle_answer(text, self.now);
        self.drain();
    }

    fn take_screen(&mut self) -> String {
        std::mem::take(&mut self.screen)
    }

    fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    fn logged_in(level: Level) -> Term {
        let mut t = Term::new(level);
        t.typed(&format!("{PASSWORD}\r\n"));
        assert_eq!(
            t.take_actions(),
            vec![Action::VerifyPassword(PASSWORD.into())]
        );
        t.verdict(Verdict::Accepted);
        t.take_screen();
        t
    }
}

#[test]
fn login_asks_for_the_password_without_echo_then_shows_the_prompt() {
    let mut t = Term::new(Level::Basic);
    assert_eq!(t.take_screen(), "Password: ");
    t.typed("s3cx\x08ret\r\n");
    assert!(!t.screen.contains("s3c"), "password echoed: {:?}", t.screen);
    assert_eq!(
        t.take_actions(),
        vec![Action::VerifyPassword(PASSWORD.into())]
    );
    // No timer while provd checks.
    assert_eq!(t.wait, None);
    t.verdict(Verdict::Accepted);
    assert_eq!(t.events, vec![Event::LoggedIn]);
    assert!(t
        .screen
        .ends_with("Type help or ? for the commands.\r\nLab7> "));
    assert!(t.s.is_logged_in());
    assert!(!format!("{:?}", t.s).contains(PASSWORD));
}

#[test]
fn failed_logins_wait_longer_each_time_and_the_third_closes() {
    let mut t = Term::new(Level::Basic);
    let start = t.now;
    t.typed("guess1\r");
    assert_eq!(
        t.take_actions(),
        vec![Action::VerifyPassword("guess1".into())]
    );
    t.verdict(Verdict::Refused);
    assert_eq!(t.events, vec![Event::LoginFailed { failures: 1 }]);
    assert!(t.take_screen().ends_with("Wrong password.\r\n"));
    assert_eq!(t.wait, Some(start + Duration::from_secs(2)));
    // Guesses typed during the delay are dropped, not queued.
    t.typed("guess2\r");
    assert!(t.take_actions().is_empty());
    t.advance(Duration::from_millis(1999));
    assert_eq!(t.take_screen(), "");
    t.advance(Duration::from_millis(1));
    assert_eq!(t.take_screen(), "Password: ");

    t.typed("guess3\r");
    t.take_actions();
    let second = t.now;
    t.verdict(Verdict::Refused);
    assert_eq!(t.wait, Some(second + Duration::from_secs(4)));
    t.advance(Duration::from_secs(4));
    assert!(t.take_screen().ends_with("Password: "));

    t.typed("guess4\r");
    t.take_actions();
    t.verdict(Verdict::Refused);
    assert_eq!(
        t.events,
        vec![
            Event::LoginFailed { failures: 1 },
            Event::LoginFailed { failures: 2 },
            Event::LoginFailed { failures: 3 },
        ]
    );
    assert_eq!(
        t.take_actions(),
        vec![Action::Close(CloseReason::LockedOut)]
    );
    assert!(t.screen.contains("Too many failed logins"));
    assert!(t.s.is_closed());
    // Nothing more happens on a closed session.
    t.typed("cisco\r");
    assert!(t.take_actions().is_empty());
}

#[test]
fn input_typed_while_the_password_is_checked_runs_only_if_it_was_right() {
    // Right: the commands typed behind it run (a script on the serial console).
    let mut t = Term::new(Level::Basic);
    t.typed("s3cret\nshow version\nquit\n");
    assert_eq!(
        t.take_actions(),
        vec![Action::VerifyPassword(PASSWORD.into())]
    );
    t.verdict(Verdict::Accepted);
    assert_eq!(t.take_actions(), vec![Action::Query(Query::Version)]);
    t.answer("Firmware x\n");
    assert_eq!(t.take_actions(), vec![Action::Close(CloseReason::Exit)]);

    // Wrong: what follows is dropped, so guesses cannot queue up.
    let mut t = Term::new(Level::Basic);
    t.typed("guess1\rguess2\rguess3\r");
    t.take_actions();
    t.verdict(Verdict::Refused);
    t.advance(Duration::from_secs(2));
    assert!(t.take_actions().is_empty());
    assert!(t.take_screen().ends_with("Password: "));
}

#[test]
fn a_password_that_cannot_be_checked_is_not_a_failure() {
    let mut t = Term::new(Level::Basic);
    for _ in 0..4 {
        t.typed("s3cret\r");
        t.take_actions();
        t.verdict(Verdict::Unavailable("provd: connection refused".into()));
        t.advance(Duration::from_secs(2));
    }
    assert!(t.events.is_empty());
    assert!(!t.s.is_closed());
    assert!(t
        .screen
        .contains("cannot be checked now (provd: connection refused)"));
}

#[test]
fn level_1_refuses_privileged_commands() {
    let mut t = Term::logged_in(Level::Basic);
    for cmd in [
        "erase protflash",
        "erase_protflash",
        "erase network",
        "reset",
    ] {
        t.typed(&format!("{cmd}\r"));
        let screen = t.take_screen();
        assert!(
            screen.contains("is a privileged command; telnet_level is 1, only 2 allows it"),
            "{cmd}: {screen}"
        );
        assert!(screen.ends_with("Lab7> "));
    }
    assert!(t.take_actions().is_empty());
}

#[test]
fn level_2_asks_for_confirmation_before_a_privileged_command() {
    let mut t = Term::logged_in(Level::Privileged);
    t.typed("erase protflash\r");
    assert!(t.take_screen().ends_with("[y/N] "));
    t.typed("n\r");
    assert!(t.take_screen().contains("Cancelled."));
    assert!(t.take_actions().is_empty());

    t.typed("erase protflash\r");
    t.typed("yes\r");
    assert_eq!(
        t.events.last(),
        Some(&Event::Confirmed(Privileged::EraseSip))
    );
    assert_eq!(
        t.take_actions(),
        vec![Action::Privileged {
            command: Privileged::EraseSip,
            password: PASSWORD.into()
        }]
    );
    t.answer("SIP configuration erased.");
    assert!(t
        .take_screen()
        .ends_with("SIP configuration erased.\r\nLab7> "));

    // The level falls to 1 while the question is open: the yes is refused.
    t.typed("reset\r");
    t.s.set_level(Level::Basic);
    t.typed("y\r");
    assert!(t.take_actions().is_empty());
    assert!(t.take_screen().contains("telnet_level is 1"));
}

#[test]
fn show_commands_become_queries_and_the_answer_is_shown() {
    let mut t = Term::logged_in(Level::Basic);
    t.typed("show config PHONE_PROMPT\r");
    assert_eq!(
        t.take_actions(),
        vec![Action::Query(Query::Config(Some("phone_prompt".into())))]
    );
    assert_eq!(t.wait, None, "no idle timer while the answer is awaited");
    t.answer("phone_prompt = Lab7  (SIPDefault.cnf:3)\n");
    assert!(t
        .take_screen()
        .ends_with("phone_prompt = Lab7  (SIPDefault.cnf:3)\r\nLab7> "));

    // Typed ahead while the first answer is awaited: run after it.
    t.typed("sh net\rshow lines\r");
    assert_eq!(t.take_actions(), vec![Action::Query(Query::Network)]);
    t.answer("DHCP Enabled 1\n");
    assert_eq!(t.take_actions(), vec![Action::Query(Query::Lines)]);
}

#[test]
fn line_editing_backspace_ctrl_c_and_overlong_lines() {
    let mut t = Term::logged_in(Level::Basic);
    t.typed("show verx\x7fsion\r\n");
    assert_eq!(t.take_actions(), vec![Action::Query(Query::Version)]);
    assert!(t.take_screen().starts_with("show verx\x08 \x08sion\r\n"));
    t.answer("v\n");
    t.take_screen();

    t.typed("reset\x03");
    assert!(t.take_screen().ends_with("^C\r\nLab7> "));

    let long = "x".repeat(300);
    t.typed(&format!("{long}\r"));
    let screen = t.take_screen();
    assert!(
        screen.contains('\x07'),
        "the bell rings once the line is full"
    );
    assert!(screen.contains("error: line longer than 256 characters; ignored"));
    assert!(t.take_actions().is_empty());

    // Empty lines only show the prompt again.
    t.typed("\r\n\r");
    assert_eq!(t.take_screen(), "\r\nLab7> \r\nLab7> ");
}

#[test]
fn unknown_and_incomplete_commands_are_answered_clearly() {
    let mut t = Term::logged_in(Level::Privileged);
    t.typed("format flash\r");
    assert!(t
        .take_screen()
        .contains("error: unknown command \"format\"; type help or ? for the list\r\nLab7> "));
    t.typed("erase\r");
    assert!(t
        .take_screen()
        .contains("incomplete command; one of: erase protflash, erase network"));
    t.typed("show config no_such_thing\r");
    assert!(t.take_screen().contains("no parameter named no_such_thing"));
    t.typed("?\r");
    let help = t.take_screen();
    assert!(help.contains("show network"));
    assert!(help.contains("erase protflash"));
    assert!(t.take_actions().is_empty());
}

#[test]
fn sessions_time_out_and_exit() {
    let mut t = Term::new(Level::Basic);
    t.advance(Duration::from_secs(59));
    assert!(!t.s.is_closed());
    t.advance(Duration::from_secs(1));
    assert_eq!(
        t.take_actions(),
        vec![Action::Close(CloseReason::LoginTimeout)]
    );

    let mut t = Term::logged_in(Level::Basic);
    t.advance(Duration::from_secs(299));
    t.typed("\r");
    t.advance(Duration::from_secs(299));
    assert!(!t.s.is_closed(), "input restarts the idle timer");
    t.advance(Duration::from_secs(1));
    assert_eq!(
        t.take_actions(),
        vec![Action::Close(CloseReason::IdleTimeout)]
    );

    let mut t = Term::logged_in(Level::Basic);
    t.typed("quit\r");
    assert_eq!(t.take_actions(), vec![Action::Close(CloseReason::Exit)]);
    assert!(t.screen.ends_with("Goodbye.\r\n"));
}

#[test]
fn telnet_turned_off_ends_the_session_and_the_prompt_follows_the_configuration() {
    let mut t = Term::logged_in(Level::Basic);
    t.s.set_prompt("Desk\x1b[2J 9");
    t.typed("\r");
    assert!(
        t.take_screen().ends_with("Desk[2J 9> "),
        "control characters dropped"
    );
    t.s.set_level(Level::Off);
    t.drain();
    assert_eq!(
        t.take_actions(),
        vec![Action::Close(CloseReason::TelnetOff)]
    );
    assert!(t.screen.contains("telnet_level 0"));

    let mut off = Term::new(Level::Off);
    assert_eq!(
        off.take_actions(),
        vec![Action::Close(CloseReason::TelnetOff)]
    );
}

#[test]
fn without_echo_nothing_typed_is_repeated() {
    let mut t = Term::new(Level::Basic);
    t.s.set_echo(false);
    t.typed(&format!("{PASSWORD}\n"));
    t.verdict(Verdict::Accepted);
    t.take_screen();
    t.typed("help\n");
    let screen = t.take_screen();
    assert!(screen.starts_with("  help"), "{screen:?}");
}

/// One thing that can happen to a session.
#[derive(Debug, Clone)]
enum Step {
    Input(Vec<u8>),
    Advance(u64),
    Verdict(u8),
    Answer(String),
    Level(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Input),
        2 => prop::sample::select(vec![
            b"s3cret\r".to_vec(), b"show config\r".to_vec(), b"erase protflash\r".to_vec(),
            b"y\r".to_vec(), b"reset\r".to_vec(), b"?\r".to_vec(), b"show c\r".to_vec(),
        ]).prop_map(Step::Input),
        1 => (0u64..400_000).prop_map(Step::Advance),
        1 => (0u8..3).prop_map(Step::Verdict),
        1 => ".{0,40}".prop_map(Step::Answer),
        1 => (0u8..3).prop_map(Step::Level),
    ]
}

proptest! {
    /// Whatever arrives in whatever order: no panic, at most one close, nothing after it.
    #[test]
    fn random_input_never_panics(steps in proptest::collection::vec(step(), 0..60)) {
        let mut t = Term::new(Level::Privileged);
        for s in steps {
            match s {
                Step::Input(b) => { t.s.handle_input(&b, t.now); t.drain(); }
                Step::Advance(ms) => t.advance(Duration::from_millis(ms)),
                Step::Verdict(0) => t.verdict(Verdict::Accepted),
                Step::Verdict(1) => t.verdict(Verdict::Refused),
                Step::Verdict(_) => t.verdict(Verdict::Unavailable("down".into())),
                Step::Answer(a) => t.answer(&a),
                Step::Level(l) => { t.s.set_level(Level::from_telnet_level(l.into())); t.drain(); }
            }
        }
        let closes = t.actions.iter().filter(|a| matches!(a, Action::Close(_))).count();
        prop_assert!(closes <= 1);
        if closes == 1 {
            prop_assert!(matches!(t.actions.last(), Some(Action::Close(_))));
            prop_assert!(t.s.is_closed());
            prop_assert_eq!(t.wait, None);
        }
    }
}
