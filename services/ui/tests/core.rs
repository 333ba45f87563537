//! The UI's state machine driven by scripted keys and service events in simulated time:
//! what a person does at the phone, and what the phone asks of sipd, provd and mediad.

mod common;

use std::time::Duration;

use common::{activity, call, provd, sip, tones, Phone};
use deskphone_ipc::mediad::{Request as Media, Tone};
use deskphone_ipc::sipd::{Event, Request as Sip};
use deskphone_ui::core::{Lamp, Output, ProvdOrder};

#[test]
fn idle_screen_shows_label_lines_and_soft_keys() {
    let p = Phone::new();
    let s = p.screen();
    assert_eq!(s.name, "idle");
    assert_eq!(s.title, "Lobby phone");
    assert_eq!(s.softkeys, ["Redial", "NewCall", "", ""]);
    let (screen, _) = p.core.screen();
    let labels: Vec<&str> = screen.line_keys.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["1001", "Sales"], "line 2 shows its short name");
}

#[test]
fn lifting_the_handset_dials_with_the_plan_and_the_dial_key() {
    let mut p = Phone::new();
    p.keys("offhook");
    let out = p.take();
    assert_eq!(p.screen().name, "dialing");
    assert_eq!(tones(&out), [Some(Tone::Dial)]);
    assert!(out.contains(&Output::Mediad(Media::Path {
        path: deskphone_ipc::mediad::AudioPath::Handset
    })));
    p.keys("2 0 0 5");
    let out = p.take();
    assert_eq!(tones(&out), [None], "the first digit stops the dial tone");
    assert_eq!(p.screen().lines[0], "2005");
    p.keys("soft2 6 soft1");
    let out = p.take();
    assert_eq!(
        sip(&out),
        [Sip::Dial {
            line: Some(1),
            number: "2006".into()
        }]
    );
    assert_eq!(p.core.history.placed[0].dial, "2006");
    // The far end rings: ringback; it answers: the timer runs; hanging up ends it.
    p.event(Event::Call(call(1, "ringback", "outgoing")));
    assert_eq!(tones(&p.take()), [Some(Tone::Ringback)]);
    assert_eq!(p.screen().name, "ringout");
    p.event(Event::Call(call(1, "connected", "outgoing")));
    assert_eq!(tones(&p.take()), [None]);
    p.wait(Duration::from_secs(65));
    let s = p.screen();
    assert_eq!(s.name, "connected");
    assert_eq!(s.softkeys, ["Hold", "EndCall", "Transfer", "Confrn"]);
    assert!(s.lines[0].ends_with("01:05"), "{:?}", s.lines);
    p.keys("onhook");
    assert_eq!(sip(&p.take()), [Sip::Hangup { call: Some(1) }]);
}

#[test]
fn an_incoming_call_rings_and_is_answered_by_lifting_the_handset() {
    let mut p = Phone::new();
    p.event(Event::Call(call(3, "ringing", "incoming")));
    let out = p.take();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Mediad(Media::Ring { pattern: Some(_) }))));
    let s = p.screen();
    assert_eq!(s.name, "ringing");
    assert_eq!(s.softkeys[0], "Answer");
    assert!(s.lines[0].starts_with("Bob <2003>"));
    assert_eq!(p.core.lamps()["message_waiting"], Lamp::BlinkFast);
    assert_eq!(p.core.lamps()["line1"], Lamp::BlinkFast);
    p.keys("offhook");
    let out = p.take();
    assert_eq!(sip(&out), [Sip::Answer { call: Some(3) }]);
    assert!(out.contains(&Output::Mediad(Media::Ring { pattern: None })));
    p.event(Event::Call(call(3, "connected", "incoming")));
    assert_eq!(p.core.lamps()["line1"], Lamp::On);
    // A second call while talking: call-waiting tone, not the ringer.
    p.event(Event::Call(call(4, "ringing", "incoming")));
    let out = p.take();
    assert_eq!(tones(&out), [Some(Tone::CallWaiting)]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Mediad(Media::Ring { pattern: Some(_) }))));
    // The far end of the first call hangs up: it goes to Received Calls.
    p.event(Event::CallEnded {
        call: call(3, "ended", "incoming"),
        reason: "the other party hung up".into(),
        missed: false,
    });
    p.event(Event::CallEnded {
        call: call(4, "ended", "incoming"),
        reason: "cancelled by the caller".into(),
        missed: true,
    });
    assert_eq!(p.core.history.received[0].dial, "2003");
    assert_eq!(p.core.history.missed[0].dial, "2004");
    // Missed Calls lists it; Dial calls it back.
    p.keys("onhook directories 1");
    let s = p.screen();
    assert_eq!(s.name, "directories");
    assert_eq!(s.title, "Missed Calls");
    assert!(s.lines[0].starts_with("Bob <2004>"));
    p.take();
    p.keys("soft1");
    assert_eq!(
        sip(&p.take()),
        [Sip::Dial {
            line: Some(1),
            number: "2004".into()
        }]
    );
}

#[test]
fn a_busy_callee_gives_busy_tone_until_the_handset_goes_down() {
    let mut p = Phone::new();
    p.keys("offhook 2 0 0 1 soft1");
    p.event(Event::Call(call(1, "calling", "outgoing")));
    p.take();
    p.event(Event::CallEnded {
        call: call(1, "ended", "outgoing"),
        reason: "busy".into(),
        missed: false,
    });
    assert_eq!(tones(&p.take()), [Some(Tone::Busy)]);
    p.keys("onhook");
    assert_eq!(tones(&p.take()), [None]);
    assert_eq!(p.screen().name, "idle");
}

#[test]
fn transfer_and_conference_are_set_up_with_a_second_call() {
    let mut p = Phone::new();
    p.event(Event::Call(call(1, "connected", "incoming")));
    p.keys("offhook");
    p.take();
    // Transfer: the first call is held and a second one dialled.
    p.keys("soft3");
    let out = p.take();
    assert_eq!(sip(&out), [Sip::Hold { call: Some(1) }]);
    assert_eq!(p.screen().title, "Transfer to");
    p.keys("3 0 0 0 soft1");
    assert!(matches!(sip(&p.take())[..], [Sip::Dial { .. }]));
    p.event(Event::Call(call(1, "held", "incoming")));
    p.core
        .handle_sipd_reply(Ok(Some(call(2, "calling", "outgoing"))));
    p.event(Event::Call(call(2, "connected", "outgoing")));
    assert_eq!(p.screen().softkeys, ["Hold", "EndCall", "Transfer", ""]);
    p.keys("soft3");
    assert_eq!(
        sip(&p.take()),
        [Sip::Transfer {
            call: Some(1),
            to: None,
            to_call: Some(2)
        }]
    );

    // Conference: the same with Confrn.
    let mut p = Phone::new();
    p.event(Event::Call(call(1, "connected", "incoming")));
    p.keys("offhook soft4 3 0 0 0 soft1");
    p.core
        .handle_sipd_reply(Ok(Some(call(2, "calling", "outgoing"))));
    p.event(Event::Call(call(1, "held", "incoming")));
    p.event(Event::Call(call(2, "connected", "outgoing")));
    p.take();
    assert_eq!(p.screen().softkeys, ["Hold", "EndCall", "", "Confrn"]);
    p.keys("soft4");
    assert_eq!(sip(&p.take()), [Sip::Conference { calls: vec![1, 2] }]);
}

#[test]
fn unlock_disable_dhcp_set_an_address_and_save() {
    let mut p = Phone::new();
    p.keys("settings");
    let s = p.screen();
    assert_eq!(s.name, "settings");
    assert_eq!(s.title, "Settings");
    assert!(
        s.lines.iter().any(|l| l == "8 Unlock Config"),
        "{:?}",
        s.lines
    );
    // Unlock Config: the password on the keypad, letters by multi-tap.
    p.keys("8");
    assert_eq!(p.screen().softkeys, ["Validate", "<<", "Cancel", ""]);
    for (key, times) in [("2", 3), ("4", 3), ("7", 4), ("2", 3), ("6", 3)] {
        for _ in 0..times {
            p.keys(key);
        }
        p.wait(Duration::from_secs(2));
    }
    p.take();
    p.keys("soft1");
    let out = p.take();
    let order = ProvdOrder::Unlock {
        password: "cisco".into(),
    };
    assert_eq!(provd(&out), std::slice::from_ref(&order));
    p.core.handle_provd_result(&order, Ok(()));
    assert!(p.core.unlocked());
    // Network Configuration: the address waits for DHCP to be off.
    p.keys("3");
    assert_eq!(p.screen().title, "Network Configuration");
    assert_eq!(
        p.screen().softkeys,
        ["Yes", "No", "", "Exit"],
        "on DHCP Enabled"
    );
    let ip_row = p
        .screen()
        .lines
        .iter()
        .position(|l| l.contains("IP Address"))
        .unwrap();
    for _ in 0..ip_row {
        p.keys("down");
    }
    assert_eq!(p.screen().softkeys[0], "", "no Edit while DHCP is on");
    assert!(p
        .screen()
        .lines
        .last()
        .unwrap()
        .contains("DHCP must be disabled"));
    for _ in 0..ip_row {
        p.keys("up");
    }
    p.keys("soft2");
    assert!(
        p.screen().lines[0].ends_with("No"),
        "{:?}",
        p.screen().lines
    );
    for _ in 0..ip_row {
        p.keys("down");
    }
    p.keys("soft1 1 0 star 0 star 0 star 2 star");
    assert!(p
        .screen()
        .lines
        .iter()
        .any(|l| l == "IP Address: 10.0.0.2."));
    // A wrong address is refused on Validate and stays in the field.
    p.keys("soft1");
    assert!(p
        .screen()
        .lines
        .iter()
        .any(|l| l == "IP Address: 10.0.0.2."));
    p.keys("soft2 soft1");
    p.take();
    assert_eq!(p.screen().softkeys, ["Edit", "", "Save", "Cancel"]);
    p.keys("soft3");
    let out = p.take();
    assert_eq!(
        provd(&out),
        [
            ProvdOrder::Set {
                name: "dhcp_enabled".into(),
                value: Some("0".into())
            },
            ProvdOrder::Set {
                name: "ip_address".into(),
                value: Some("10.0.0.2".into())
            },
        ],
        "DHCP goes off before the address is set"
    );
    assert_eq!(p.screen().title, "Settings");
    // Leaving Settings relocks.
    p.keys("soft4");
    assert_eq!(provd(&p.take()), [ProvdOrder::Lock]);
    assert!(!p.core.unlocked());
    assert_eq!(p.screen().name, "idle");
}

#[test]
fn a_wrong_password_keeps_the_menus_locked_and_star_star_pound_toggles() {
    let mut p = Phone::new();
    p.keys("settings 8 2 soft1");
    let out = p.take();
    let order = provd(&out).pop().unwrap();
    p.core
        .handle_provd_result(&order, Err("wrong password".into()));
    assert!(!p.core.unlocked());
    assert!(p.screen().lines.iter().any(|l| l == "Wrong password"));
    // **# asks provd for an unlock without a password (granted only with none set).
    p.keys("star star pound");
    let order = provd(&p.take()).pop().unwrap();
    assert_eq!(
        order,
        ProvdOrder::Unlock {
            password: String::new()
        }
    );
    p.core.handle_provd_result(&order, Ok(()));
    p.keys("3");
    let (screen, _) = p.core.screen();
    assert_eq!(
        screen.title.unwrap().icon,
        Some(deskphone_screen::Icon::Unlocked)
    );
    p.keys("star star pound");
    assert_eq!(provd(&p.take()), [ProvdOrder::Lock]);
}

#[test]
fn call_preferences_change_only_what_the_administrator_left_open() {
    let mut p = Phone::new();
    p.keys("settings 5");
    let s = p.screen();
    assert_eq!(s.title, "Call Preferences");
    let row = |s: &deskphone_ipc::ui::ScreenStatus, what: &str| {
        s.lines.iter().position(|l| l.contains(what)).unwrap()
    };
    // Do Not Disturb is 2 (fixed): no Change key.
    for _ in 0..row(&s, "Do Not Disturb") {
        p.keys("down");
    }
    assert_eq!(p.screen().softkeys[0], "");
    assert!(p.screen().lines.last().unwrap().contains("administrator"));
    for _ in 0..row(&s, "Do Not Disturb") - row(&s, "Call Waiting") {
        p.keys("up");
    }
    let _ = p.take();
    // Call Waiting is 1: Change toggles it, Save sends it.
    let s2 = p.screen();
    let selected = s2.selected.unwrap();
    assert!(s2.lines[selected].contains("Call Waiting"), "{:?}", s2);
    p.keys("soft1 soft3");
    assert_eq!(
        provd(&p.take()),
        [ProvdOrder::Set {
            name: "call_waiting".into(),
            value: Some("0".into())
        }]
    );
}

#[test]
fn status_pages_show_messages_and_versions() {
    let mut p = Phone::new();
    p.core.set_status_pages(
        vec!["SIPDefault.cnf line 7: timer_t1 is not a number".into()],
        vec![("Firmware".into(), "1.2.3".into())],
        vec![("Link".into(), "up".into())],
    );
    p.keys("settings 7");
    assert!(p.take().contains(&Output::RefreshStatus));
    p.keys("soft1");
    let s = p.screen();
    assert_eq!(s.title, "Status Messages");
    assert!(s.lines[0].contains("line 7"));
    p.keys("soft4 3 soft1");
    assert_eq!(p.screen().lines, ["Firmware: 1.2.3"]);
}

#[test]
fn speaker_and_messages_keys() {
    let mut p = Phone::new();
    p.keys("speaker");
    assert_eq!(p.screen().name, "dialing");
    assert_eq!(p.core.audio_path_name(), "speaker");
    p.keys("speaker");
    assert_eq!(p.screen().name, "idle");
    assert_eq!(p.core.audio_path_name(), "none");
    p.take();
    p.keys("messages");
    assert_eq!(
        sip(&p.take()),
        [Sip::Dial {
            line: Some(1),
            number: "8000".into()
        }]
    );
    // Autocomplete offers the number dialled before.
    let mut p2 = Phone::new();
    p2.core.history = p.core.history.clone();
    p2.keys("offhook 8");
    assert_eq!(p2.screen().lines[0], "8000");
}

#[test]
fn call_hold_ringback_rings_for_a_held_call_after_hanging_up() {
    for (level, rings) in [("0", false), ("1", true), ("2", false), ("3", true)] {
        let mut p = Phone::new();
        let mut config = p.core.config_for_tests();
        config.insert("call_hold_ringback".into(), level.into());
        p.core.set_config(config);
        p.event(Event::Call(call(1, "connected", "incoming")));
        p.keys("offhook soft1");
        p.event(Event::Call(call(1, "held", "incoming")));
        p.take();
        p.keys("onhook");
        let out = p.take();
        let rang = out
            .iter()
            .any(|o| matches!(o, Output::Mediad(Media::Ring { pattern: Some(_) })));
        assert_eq!(rang, rings, "call_hold_ringback {level}");
        assert!(
            sip(&out).is_empty(),
            "the held call is not hung up: {out:?}"
        );
        if rings {
            // Picking up takes the held call back and stops the ringer.
            p.keys("offhook");
            let out = p.take();
            assert_eq!(sip(&out), [Sip::Resume { call: Some(1) }]);
            assert!(out.contains(&Output::Mediad(Media::Ring { pattern: None })));
        }
    }
}

#[test]
fn provd_hears_when_the_phone_is_in_use_here() {
    let mut p = Phone::new();
    p.take();
    p.keys("offhook");
    assert_eq!(activity(&p.take()), [true], "off hook");
    p.keys("1 2");
    assert_eq!(
        activity(&p.take()),
        Vec::<bool>::new(),
        "only changes are told"
    );
    p.keys("onhook");
    assert_eq!(activity(&p.take()), [false]);
    p.keys("settings");
    assert_eq!(activity(&p.take()), [true], "in the menus");
    p.keys("soft4");
    assert_eq!(activity(&p.take()), [false]);
}
