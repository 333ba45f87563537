//! The GPIO backend on a mock pin (embedded-hal-mock), its blinking driven in simulated
//! time: the pin sees exactly the writes the pattern needs, at the instants it needs them.

use std::time::{Duration, Instant};

use deskphone_lamps::{GpioLamp, Lamp, LampName, LampSet, LampState};
use embedded_hal_mock::eh1::digital::{Mock, State, Transaction};
use embedded_hal_mock::eh1::MockError;

fn set(state: State) -> Transaction {
    Transaction::set(state)
}

/// Polls `lamp` at every instant it asks for until `end`; returns those instants as
/// milliseconds from `t0`.
fn run_until(lamp: &mut impl Lamp, t0: Instant, end_ms: u64) -> Vec<u64> {
    let mut polls = Vec::new();
    let mut now = t0;
    while now <= t0 + Duration::from_millis(end_ms) {
        polls.push((now - t0).as_millis() as u64);
        match lamp.poll(now).unwrap() {
            Some(next) => {
                assert!(next > now, "a deadline in the past would spin");
                now = next;
            }
            None => break,
        }
    }
    polls
}

#[test]
fn a_blinking_lamp_toggles_the_pin_on_time_and_only_then() {
    let pin = Mock::new(&[
        set(State::High), // set(): a blink starts lit
        set(State::Low),  // 200 ms
        set(State::High), // 1000 ms
        set(State::Low),  // 1200 ms
        set(State::High), // 2000 ms
    ]);
    let mut done = pin.clone();
    let mut lamp = GpioLamp::new(pin, false, "mock");
    let t0 = Instant::now();
    lamp.set(LampState::Blink {
        on_ms: 200,
        off_ms: 800,
    })
    .unwrap();
    let polls = run_until(&mut lamp, t0, 2_000);
    assert_eq!(polls, [0, 200, 1_000, 1_200, 2_000]);
    done.done();
}

#[test]
fn an_active_low_lamp_is_lit_by_a_low_pin() {
    let pin = Mock::new(&[set(State::Low), set(State::High), set(State::Low)]);
    let mut done = pin.clone();
    let mut lamp = GpioLamp::new(pin, true, "mock");
    let t0 = Instant::now();
    lamp.set(LampState::On).unwrap();
    assert_eq!(lamp.poll(t0).unwrap(), None, "steady: no deadline");
    lamp.set(LampState::Off).unwrap();
    lamp.set(LampState::Blink {
        on_ms: 10,
        off_ms: 0,
    })
    .unwrap(); // never dark: steady on
    assert_eq!(lamp.state(), LampState::On);
    done.done();
}

#[test]
fn repeating_a_state_writes_nothing_and_keeps_the_blink_phase() {
    let pin = Mock::new(&[
        set(State::High), // blink starts
        set(State::Low),  // 500 ms
        set(State::High), // 1000 ms: the repeated set at 700 ms did not restart it
    ]);
    let mut done = pin.clone();
    let mut lamp = GpioLamp::new(pin, false, "mock");
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    lamp.set(LampState::SLOW_BLINK).unwrap();
    assert_eq!(lamp.poll(ms(0)).unwrap(), Some(ms(500)));
    assert_eq!(lamp.poll(ms(500)).unwrap(), Some(ms(1_000)));
    lamp.set(LampState::SLOW_BLINK).unwrap();
    assert_eq!(lamp.poll(ms(700)).unwrap(), Some(ms(1_000)));
    assert_eq!(lamp.poll(ms(1_000)).unwrap(), Some(ms(1_500)));
    done.done();
}

#[test]
fn a_new_state_replaces_the_blink_at_once() {
    let pin = Mock::new(&[
        set(State::High), // fast blink (ringing)
        set(State::Low),  // 125 ms
        set(State::High), // answered at 200 ms: on, steady
    ]);
    let mut done = pin.clone();
    let mut lamp = GpioLamp::new(pin, false, "mock");
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    lamp.set(LampState::FAST_BLINK).unwrap();
    assert_eq!(lamp.poll(ms(0)).unwrap(), Some(ms(125)));
    assert_eq!(lamp.poll(ms(125)).unwrap(), Some(ms(250)));
    lamp.set(LampState::On).unwrap();
    assert_eq!(lamp.poll(ms(250)).unwrap(), None);
    done.done();
}

#[test]
fn a_pin_error_is_reported_and_the_write_retried() {
    let pin = Mock::new(&[
        set(State::Low), // attached: off, as asked so far
        set(State::High).with_error(MockError::Io(std::io::ErrorKind::BrokenPipe)),
        set(State::High),
    ]);
    let mut done = pin.clone();
    let mut lamps = LampSet::empty();
    lamps.attach(
        LampName::Line(2),
        Box::new(GpioLamp::new(pin, false, "gpio mock:2")),
    );
    lamps.set(LampName::Line(2), LampState::On);
    let problems: Vec<String> = lamps.problems().map(|(n, p)| format!("{n}: {p}")).collect();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("line2: gpio mock:2: pin:") && problems[0].contains("BrokenPipe"),
        "{problems:?}"
    );
    let t0 = Instant::now();
    assert_eq!(lamps.poll(t0), None, "retried at once, and it worked");
    assert_eq!(lamps.problems().count(), 0);
    done.done();
}

#[test]
fn a_set_polls_the_earliest_deadline_of_its_lamps() {
    let fast = Mock::new(&[set(State::Low), set(State::High), set(State::Low)]);
    let slow = Mock::new(&[set(State::Low), set(State::High)]);
    let (mut fast_done, mut slow_done) = (fast.clone(), slow.clone());
    let mut lamps = LampSet::empty();
    lamps.attach(LampName::Line(1), Box::new(GpioLamp::new(fast, false, "1")));
    lamps.attach(
        LampName::MessageWaiting,
        Box::new(GpioLamp::new(slow, false, "mw")),
    );
    // Attaching wrote both pins low (off, as asked so far).
    lamps.set(LampName::Line(1), LampState::FAST_BLINK);
    lamps.set(LampName::MessageWaiting, LampState::SLOW_BLINK);
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    assert_eq!(lamps.poll(t0), Some(ms(125)));
    assert_eq!(lamps.poll(ms(125)), Some(ms(250)));
    fast_done.done();
    slow_done.done();
}

#[test]
fn a_gpio_chip_that_is_not_there_is_a_clear_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let chip = tmp.path().join("gpiochip9");
    let e = GpioLamp::open(&chip, 17, false).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("GPIO {}:17: ", chip.display())),
        "{e}"
    );
    let config = deskphone_lamps::LampConfig::parse(&format!(
        "line1 = gpio:{}:17\nline2 = memory\n",
        chip.display()
    ))
    .unwrap();
    let mut lamps = LampSet::open(&config, tmp.path());
    lamps.set(LampName::Line(1), LampState::On);
    let problems: Vec<LampName> = lamps.problems().map(|(n, _)| n).collect();
    assert_eq!(problems, [LampName::Line(1)]);
    let sources: Vec<(LampName, Option<String>)> = lamps.sources().take(3).collect();
    assert_eq!(
        sources,
        [
            (LampName::MessageWaiting, None),
            (LampName::Line(1), None),
            (LampName::Line(2), Some("memory".to_string())),
        ]
    );
}
