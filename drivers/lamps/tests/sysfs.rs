//! The LED-class backend against a fake `/sys/class/leds` in a temporary directory: the
//! attribute files the kernel has, with the values it shows.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deskphone_lamps::{
    Lamp, LampConfig, LampError, LampName, LampSet, LampState, LedLamp, RETRY_AFTER,
};

const MESSAGE_LED: &str = "phone:red:message";

/// An LED directory as the kernel shows one: off, no trigger active.
fn fake_led(leds: &Path, name: &str, max_brightness: &str, triggers: &str) -> PathBuf {
    let dir = leds.join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("brightness"), "0\n").unwrap();
    fs::write(dir.join("max_brightness"), format!("{max_brightness}\n")).unwrap();
    fs::write(dir.join("trigger"), format!("{triggers}\n")).unwrap();
    dir
}

/// What the timer trigger adds once it is active.
fn add_timer_attributes(dir: &Path) {
    fs::write(dir.join("delay_on"), "500\n").unwrap();
    fs::write(dir.join("delay_off"), "500\n").unwrap();
}

fn attr(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .to_string()
}

const TRIGGERS: &str = "[none] kbd-scrolllock kbd-numlock timer oneshot heartbeat default-on";

#[test]
fn steady_states_write_brightness_zero_or_max() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "255", TRIGGERS);
    let mut lamp = LedLamp::open(tmp.path(), MESSAGE_LED).unwrap();
    lamp.set(LampState::On).unwrap();
    assert_eq!(attr(&dir, "brightness"), "255");
    // No trigger was active: none is written.
    assert_eq!(attr(&dir, "trigger"), TRIGGERS);
    lamp.set(LampState::Off).unwrap();
    assert_eq!(attr(&dir, "brightness"), "0");
    assert_eq!(lamp.poll(Instant::now()).unwrap(), None);
    assert_eq!(lamp.describe(), "led phone:red:message (kernel timer)");
}

#[test]
fn a_blink_goes_to_the_kernel_timer_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "1", TRIGGERS);
    add_timer_attributes(&dir);
    let mut lamp = LedLamp::open(tmp.path(), MESSAGE_LED).unwrap();
    assert!(lamp.blinks_in_kernel());
    lamp.set(LampState::FAST_BLINK).unwrap();
    assert_eq!(attr(&dir, "trigger"), "timer");
    assert_eq!(attr(&dir, "delay_on"), "125");
    assert_eq!(attr(&dir, "delay_off"), "125");
    // The kernel blinks: nothing to poll.
    assert_eq!(lamp.poll(Instant::now()).unwrap(), None);

    // Steady again: the trigger goes first, or the brightness would be the timer's.
    lamp.set(LampState::On).unwrap();
    assert_eq!(attr(&dir, "trigger"), "none");
    assert_eq!(attr(&dir, "brightness"), "1");
    lamp.set(LampState::SLOW_BLINK).unwrap();
    assert_eq!(attr(&dir, "trigger"), "timer");
    assert_eq!(attr(&dir, "delay_on"), "500");
    lamp.set(LampState::Off).unwrap();
    assert_eq!(attr(&dir, "trigger"), "none");
    assert_eq!(attr(&dir, "brightness"), "0");
}

#[test]
fn an_active_trigger_left_by_someone_else_is_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "1", "none [heartbeat] timer");
    let mut lamp = LedLamp::open(tmp.path(), MESSAGE_LED).unwrap();
    lamp.set(LampState::On).unwrap();
    assert_eq!(attr(&dir, "trigger"), "none");
    assert_eq!(attr(&dir, "brightness"), "1");
}

#[test]
fn without_a_timer_trigger_the_lamp_blinks_in_software() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "255", "[none] heartbeat");
    let mut lamp = LedLamp::open(tmp.path(), MESSAGE_LED).unwrap();
    assert!(!lamp.blinks_in_kernel());
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    lamp.set(LampState::Blink {
        on_ms: 300,
        off_ms: 700,
    })
    .unwrap();
    assert_eq!(attr(&dir, "brightness"), "255", "a blink starts lit");
    assert_eq!(lamp.poll(ms(0)).unwrap(), Some(ms(300)));
    assert_eq!(lamp.poll(ms(300)).unwrap(), Some(ms(1_000)));
    assert_eq!(attr(&dir, "brightness"), "0");
    assert_eq!(lamp.poll(ms(1_000)).unwrap(), Some(ms(1_300)));
    assert_eq!(attr(&dir, "brightness"), "255");
    assert_eq!(attr(&dir, "trigger"), "[none] heartbeat", "never touched");
    assert_eq!(lamp.describe(), "led phone:red:message (software blink)");
}

#[test]
fn a_timer_trigger_that_cannot_be_written_falls_back_to_software() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "1", TRIGGERS);
    // delay_on appears with the trigger, often owned by root alone: writing it fails.
    fs::create_dir(dir.join("delay_on")).unwrap();
    let mut lamp = LedLamp::open(tmp.path(), MESSAGE_LED).unwrap();
    let t0 = Instant::now();
    lamp.set(LampState::SLOW_BLINK).unwrap();
    assert!(!lamp.blinks_in_kernel());
    assert_eq!(
        attr(&dir, "trigger"),
        "none",
        "the half-started timer is stopped"
    );
    assert_eq!(attr(&dir, "brightness"), "1");
    assert_eq!(
        lamp.poll(t0).unwrap(),
        Some(t0 + Duration::from_millis(500))
    );
    lamp.poll(t0 + Duration::from_millis(500)).unwrap();
    assert_eq!(attr(&dir, "brightness"), "0");
}

#[test]
fn bad_leds_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = LedLamp::open(tmp.path(), "phone:red:nothing").unwrap_err();
    assert!(matches!(missing, LampError::MissingLed { .. }), "{missing}");
    assert!(missing.to_string().contains("no LED \"phone:red:nothing\""));

    fake_led(tmp.path(), "zero", "0", TRIGGERS);
    let zero = LedLamp::open(tmp.path(), "zero").unwrap_err().to_string();
    assert!(
        zero.contains("max_brightness") && zero.contains("\"0\""),
        "{zero}"
    );
    fake_led(tmp.path(), "words", "bright", TRIGGERS);
    let words = LedLamp::open(tmp.path(), "words").unwrap_err().to_string();
    assert!(words.contains("not a positive brightness"), "{words}");
}

#[test]
fn a_set_of_leds_reports_the_missing_ones_and_keeps_the_others_working() {
    let tmp = tempfile::tempdir().unwrap();
    let message = fake_led(tmp.path(), MESSAGE_LED, "1", TRIGGERS);
    let line1 = fake_led(tmp.path(), "phone:green:line1", "1", TRIGGERS);
    fs::write(line1.join("brightness"), "1").unwrap(); // left lit by someone
    let config = LampConfig::parse(LampConfig::RASPBERRY_PI).unwrap();
    let mut lamps = LampSet::open(&config, tmp.path());

    // Opening sets every lamp it found to the state asked for so far: off.
    assert_eq!(attr(&line1, "brightness"), "0");
    let problems: Vec<(LampName, String)> =
        lamps.problems().map(|(n, p)| (n, p.to_string())).collect();
    let missing: Vec<LampName> = problems.iter().map(|(n, _)| *n).collect();
    assert_eq!(missing, (2..=6).map(LampName::Line).collect::<Vec<_>>());
    assert!(problems[0].1.contains("no LED \"phone:green:line2\""));

    lamps.set(LampName::MessageWaiting, LampState::On);
    lamps.set(LampName::Line(3), LampState::FAST_BLINK);
    assert_eq!(attr(&message, "brightness"), "1");
    assert_eq!(lamps.state(LampName::Line(3)), LampState::FAST_BLINK);
    assert_eq!(lamps.problems().count(), 5, "reported once, not again");
    let sources: Vec<Option<String>> = lamps.sources().map(|(_, s)| s).collect();
    assert_eq!(
        sources[..2],
        [
            Some("led phone:red:message (kernel timer)".to_string()),
            Some("led phone:green:line1 (kernel timer)".to_string())
        ]
    );
    assert_eq!(sources[2], None);
}

#[test]
fn a_lamp_that_fails_is_retried_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fake_led(tmp.path(), MESSAGE_LED, "1", "[none]");
    let config = LampConfig::parse("message_waiting = led:phone:red:message").unwrap();
    let mut lamps = LampSet::open(&config, tmp.path());
    assert_eq!(lamps.problems().count(), 0);

    // The attribute goes away (a driver unbound, a permission changed).
    fs::remove_file(dir.join("brightness")).unwrap();
    lamps.set(LampName::MessageWaiting, LampState::On);
    let problems: Vec<String> = lamps.problems().map(|(_, p)| p.to_string()).collect();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("brightness"), "{problems:?}");
    let t0 = Instant::now();
    assert_eq!(lamps.poll(t0), Some(t0 + RETRY_AFTER));

    fs::write(dir.join("brightness"), "0").unwrap();
    assert_eq!(lamps.poll(t0 + RETRY_AFTER), None);
    assert_eq!(
        attr(&dir, "brightness"),
        "1",
        "the state asked for, at last"
    );
    assert_eq!(lamps.problems().count(), 0);
}
