//! Golden screenshots of every screen of the phone, drawn by the real renderer on the host
//! backend at the Pi LCD's 320x240, walked to by keys from a fixed instant so they never
//! drift. `DESKPHONE_UPDATE_GOLDEN=1 cargo test -p deskphone-ui --test screens` redraws them;
//! a mismatch leaves `NAME.actual.png` and `NAME.diff.png` beside the golden file.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{call, Phone};
use deskphone_display::golden::check_golden;
use deskphone_display::{Display, Frame, MemoryDisplay};
use deskphone_ipc::sipd::Event;
use deskphone_screen::render::{render, Theme};
use embedded_graphics::prelude::Size;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.png"))
}

/// Draws the phone's screen as the service does and compares it with the golden image.
fn shot(p: &Phone, name: &str, failures: &mut Vec<String>) {
    let mut display = MemoryDisplay::new(Size::new(320, 240));
    let mut frame = Frame::new(display.size());
    let (screen, _) = p.core.screen();
    render(&screen, &mut frame, &Theme::default()).unwrap();
    display.present(&frame).unwrap();
    if let Err(e) = check_golden(&display.screenshot(), golden(name)) {
        failures.push(format!("{name}: {e}"));
    }
}

fn with_calls() -> Phone {
    let mut p = Phone::new();
    p.core
        .add_status_message("SIPDefault.cnf line 12: timer_t1: not a number".into());
    p
}

#[test]
fn every_screen_matches_its_golden_image() {
    let mut failures = Vec::new();
    let f = &mut failures;

    let mut p = with_calls();
    shot(&p, "idle", f);
    // logo_url's 256-colour BMP, 120x70: scaled down into the 90x56 space.
    let logo = deskphone_ui::logo::decode_logo(include_bytes!("data/logo.bmp")).unwrap();
    assert_eq!((logo.width, logo.height), (90, 53));
    p.core.handle_logo(Ok(logo));
    shot(&p, "idle-logo", f);
    p.keys("offhook");
    shot(&p, "dialing", f);
    p.keys("5 5 5 1 2");
    shot(&p, "dialing-digits", f);
    p.keys("soft1");
    p.event(Event::Call(call(1, "ringback", "outgoing")));
    shot(&p, "ringout", f);
    p.event(Event::Call(call(1, "connected", "outgoing")));
    p.wait(Duration::from_secs(83));
    shot(&p, "connected", f);
    p.event(Event::Call(call(2, "ringing", "incoming")));
    shot(&p, "call-waiting", f);
    p.event(Event::Call(call(1, "held", "outgoing")));
    shot(&p, "held", f);
    p.keys("onhook");

    let mut p = with_calls();
    p.event(Event::Call(call(3, "ringing", "incoming")));
    shot(&p, "ringing", f);
    p.event(Event::Call(call(3, "connected", "incoming")));
    p.keys("offhook soft3");
    shot(&p, "transfer", f);

    let mut p = with_calls();
    p.keys("settings");
    shot(&p, "settings", f);
    p.keys("8");
    p.keys("2 2 2");
    shot(&p, "unlock", f);
    p.keys("soft3 3");
    shot(&p, "network-configuration", f);
    p.keys("soft4 4");
    shot(&p, "sip-configuration", f);
    p.keys("soft1");
    shot(&p, "line-1-settings", f);
    p.keys("soft4 soft4 5");
    shot(&p, "call-preferences", f);
    p.keys("soft4 6");
    shot(&p, "time-and-date", f);
    p.keys("soft4 7");
    shot(&p, "status", f);
    p.core.set_status_pages(
        vec!["2026-11-24T22:00:00Z SIPDefault.cnf line 12: timer_t1: not a number".into()],
        vec![
            ("Firmware".into(), "deskphone-1.0".into()),
            ("UI".into(), "1.0".into()),
        ],
        vec![("Link".into(), "up".into()), ("Rcv".into(), "1234".into())],
    );
    p.keys("1");
    shot(&p, "status-messages", f);
    p.keys("soft4 2");
    shot(&p, "network-statistics", f);
    p.keys("soft4 3");
    shot(&p, "firmware-versions", f);
    p.keys("soft4 soft4 1");
    shot(&p, "contrast", f);
    p.keys("soft4 2");
    shot(&p, "ring-type", f);

    let mut p = with_calls();
    p.keys("settings star star pound");
    let order = common::provd(&p.take()).pop().unwrap();
    p.core.handle_provd_result(&order, Ok(()));
    p.keys("3 soft2");
    for _ in 0..6 {
        p.keys("down");
    }
    p.keys("soft1 1 0 star 0");
    shot(&p, "edit-ip-address", f);

    let mut p = with_calls();
    p.event(Event::CallEnded {
        call: call(4, "ended", "incoming"),
        reason: "cancelled by the caller".into(),
        missed: true,
    });
    p.keys("directories");
    shot(&p, "directories", f);
    p.keys("1");
    shot(&p, "missed-calls", f);
    p.keys("info");
    shot(&p, "info", f);

    // Services: a menu, then a page of text, from services_url.
    let mut p = with_calls();
    let mut config = p.core.config_for_tests();
    config.insert("services_url".into(), "http://10.0.0.9/menu.xml".into());
    p.core.set_config(config);
    p.keys("services");
    shot(&p, "services-loading", f);
    p.core.handle_fetch_result(
        deskphone_xmlapps::parse(
            b"<CiscoIPPhoneMenu><Title>Hotel services</Title><Prompt>Pick one</Prompt>\
          <MenuItem><Name>Weather</Name><URL>http://10.0.0.9/w.xml</URL></MenuItem>\
          <MenuItem><Name>Wake-up call</Name><URL>http://10.0.0.9/wake.xml</URL></MenuItem>\
          <MenuItem><Name>Front desk</Name><URL>Dial:100</URL></MenuItem></CiscoIPPhoneMenu>",
        )
        .map_err(|e| e.to_string()),
    );
    shot(&p, "services-menu", f);
    p.keys("soft1");
    p.core.handle_fetch_result(
        deskphone_xmlapps::parse(
            b"<CiscoIPPhoneText><Title>Weather</Title><Text>Sunny, 21 C. Light wind from \
          the west, clouds in the evening.</Text></CiscoIPPhoneText>",
        )
        .map_err(|e| e.to_string()),
    );
    shot(&p, "services-text", f);

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
