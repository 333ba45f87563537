//! Message waiting by subscription (RFC 6665 with the RFC 3842 package) in simulated time,
//! against constructed server messages: the SUBSCRIBE, NOTIFYs (also before the 2xx),
//! digest, refresh timing, the server ending the subscription, refusals, back-off,
//! unsubscribe, bad bodies, and NOTIFYs of no subscription still going up.

mod common;

use std::time::Duration;

use common::*;
use deskphone_sip::mwi::MessageSummary;
use deskphone_sip::{
    Event, LineSettings, Message, Name, RegState, Settings, SubState, UaEvent, UserAgent,
};

const PROXY: &str = "192.0.2.1:5060";
const BACKUP: &str = "192.0.2.2:5060";
const PHONE: &str = "192.0.2.20:5060";
const SUMMARY: &str =
    "Messages-Waiting: yes\r\nMessage-Account: sip:1001@192.0.2.1\r\nVoice-Message: 2/8 (0/2)\r\n";

fn line() -> LineSettings {
    LineSettings {
        line: 1,
        name: "1001".into(),
        authname: Some("1001".into()),
        password: Some("secret".into()),
        display_name: Some("Front Desk".into()),
        proxy: "192.0.2.1".into(),
        proxy_port: 5060,
    }
}

fn ua() -> UserAgent {
    let mut ua = UserAgent::new(Settings::default(), addr(PHONE), 7);
    ua.add_line(line(), addr(PROXY)).unwrap();
    ua
}

/// Subscribes line 1 at `ms` and returns the SUBSCRIBE sent.
fn subscribe(ua: &mut UserAgent, clock: Clock, ms: u64) -> Message {
    ua.subscribe_mwi(clock.at(ms), 1);
    let sent = drain(ua, ms);
    assert_eq!(sent.len(), 1, "one SUBSCRIBE");
    assert_eq!(sent[0].1.destination, addr(PROXY));
    parse(&sent[0].1)
}

/// Delivers a datagram from the proxy at `ms`; what the core sends back.
fn deliver(ua: &mut UserAgent, clock: Clock, ms: u64, datagram: &[u8]) -> Vec<Message> {
    ua.handle_datagram(clock.at(ms), addr(PROXY), datagram);
    drain(ua, ms).iter().map(|(_, t)| parse(t)).collect()
}

fn events(ua: &mut UserAgent) -> Vec<UaEvent> {
    std::iter::from_fn(|| ua.poll_event()).collect()
}

fn sub_states(events: &[UaEvent]) -> Vec<SubState> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Subscription { line: 1, state } => Some(state.clone()),
            _ => None,
        })
        .collect()
}

fn summaries(events: &[UaEvent]) -> Vec<MessageSummary> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::MessageSummary { line: 1, summary } => Some(*summary),
            _ => None,
        })
        .collect()
}

/// A NOTIFY of the dialog the SUBSCRIBE `sub` started, from the notifier tagged `tag`.
fn notify(sub: &Message, tag: &str, cseq: u32, state: &str, body: &str) -> Vec<u8> {
    let to = sub.header(&Name::FROM).unwrap();
    let lines = [
        "NOTIFY sip:1001@192.0.2.20:5060 SIP/2.0".to_string(),
        format!("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnotify{tag}{cseq}"),
        format!("From: <sip:1001@192.0.2.1>;tag={tag}"),
        format!("To: {to}"),
        format!("Call-ID: {}", sub.call_id().unwrap()),
        format!("CSeq: {cseq} NOTIFY"),
        "Max-Forwards: 70".into(),
        "Contact: <sip:mwi@192.0.2.1:5060>".into(),
        "Event: message-summary".into(),
        format!("Subscription-State: {state}"),
        "Content-Type: application/simple-message-summary".into(),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    datagram(&refs, body)
}

/// Subscribes and gets a 200 (Expires 3600) at 50 ms: the subscription is up.
fn subscribed(ua: &mut UserAgent, clock: Clock) -> Message {
    let sub = subscribe(ua, clock, 0);
    deliver(
        ua,
        clock,
        50,
        &reply(&sub, 200, "OK", "n1", &["Expires: 3600"]),
    );
    sub
}

fn md5(s: &str) -> String {
    format!("{:x}", md5::compute(s))
}

#[test]
fn subscribe_ok_then_a_notify_lights_the_lamp() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribe(&mut ua, clock, 0);
    assert_eq!(sub.method(), Some("SUBSCRIBE"));
    assert_eq!(sub.uri(), Some("sip:1001@192.0.2.1"), "the line's own AOR");
    assert_eq!(sub.header(&Name::TO), Some("<sip:1001@192.0.2.1>"));
    assert!(sub
        .header(&Name::FROM)
        .unwrap()
        .starts_with("\"Front Desk\" <sip:1001@192.0.2.1>;tag="));
    assert_eq!(sub.header(&Name::EVENT), Some("message-summary"));
    assert_eq!(
        sub.header(&Name::ACCEPT),
        Some("application/simple-message-summary")
    );
    assert_eq!(sub.header(&Name::EXPIRES), Some("3600"));
    assert_eq!(
        sub.header(&Name::CONTACT),
        Some("<sip:1001@192.0.2.20:5060>")
    );
    assert_eq!(sub.header(&Name::CSEQ), Some("1 SUBSCRIBE"));
    assert!(sub.header(&Name::AUTHORIZATION).is_none());
    assert_eq!(ua.mwi_subscription(1), Some(&SubState::Subscribing));
    assert_eq!(ua.mwi_subscription(2), None);

    deliver(
        &mut ua,
        clock,
        50,
        &reply(&sub, 200, "OK", "n1", &["Expires: 3600"]),
    );
    let e = events(&mut ua);
    assert_eq!(
        sub_states(&e).last(),
        Some(&SubState::Active {
            until: clock.at(3_600_050),
            refresh: clock.at(3_240_050),
        })
    );

    let answers = deliver(
        &mut ua,
        clock,
        80,
        &notify(&sub, "n1", 1, "active;expires=3599", SUMMARY),
    );
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].code(), Some(200));
    assert_eq!(answers[0].header(&Name::CSEQ), Some("1 NOTIFY"));
    let e = events(&mut ua);
    assert_eq!(
        summaries(&e),
        vec![MessageSummary {
            waiting: true,
            voice: Some((2, 8))
        }]
    );
    assert!(
        !e.iter().any(|e| matches!(e, UaEvent::Transaction(_))),
        "the NOTIFY is ours, not the layers above: {e:?}"
    );
    // The NOTIFY's expires (one second less, from a later moment) now rules.
    assert_eq!(
        ua.mwi_subscription(1),
        Some(&SubState::Active {
            until: clock.at(80 + 3_599_000),
            refresh: clock.at(80 + 3_599_000 - 359_900),
        })
    );
}

#[test]
fn a_notify_before_the_2xx_is_taken_and_makes_the_dialog() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribe(&mut ua, clock, 0);
    let answers = deliver(
        &mut ua,
        clock,
        20,
        &notify(&sub, "early", 1, "active;expires=3600", SUMMARY),
    );
    assert_eq!(answers[0].code(), Some(200));
    let e = events(&mut ua);
    assert_eq!(summaries(&e).len(), 1);
    assert!(matches!(
        ua.mwi_subscription(1),
        Some(SubState::Active { .. })
    ));
    // The 2xx follows (with the same tag); the refresh is inside the dialog the NOTIFY made.
    deliver(
        &mut ua,
        clock,
        40,
        &reply(&sub, 200, "OK", "early", &["Expires: 3600"]),
    );
    let refresh = run_until(&mut ua, clock, 3_240_040);
    assert_eq!(refresh.len(), 1);
    let refresh = parse(&refresh[0].1);
    assert_eq!(refresh.call_id(), sub.call_id());
    assert_eq!(refresh.from_tag(), sub.from_tag());
    assert_eq!(refresh.to_tag(), Some("early"));
    assert_eq!(
        refresh.uri(),
        Some("sip:mwi@192.0.2.1:5060"),
        "the notifier's Contact"
    );
    assert_eq!(refresh.header(&Name::CSEQ), Some("2 SUBSCRIBE"));
}

#[test]
fn a_digest_challenge_is_answered_with_the_line_credentials() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribe(&mut ua, clock, 0);
    let again = deliver(
        &mut ua,
        clock,
        30,
        &reply(
            &sub,
            407,
            "Proxy Authentication Required",
            "n1",
            &["Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"abc123\", algorithm=MD5"],
        ),
    );
    assert_eq!(again.len(), 1, "answered at once");
    let again = &again[0];
    assert_eq!(again.header(&Name::CSEQ), Some("2 SUBSCRIBE"));
    assert_eq!(again.call_id(), sub.call_id());
    assert_eq!(again.from_tag(), sub.from_tag());
    assert_eq!(again.to_tag(), None, "still outside a dialog");
    let auth = again.header(&Name::PROXY_AUTHORIZATION).unwrap();
    let ha1 = md5("1001:pbx:secret");
    let ha2 = md5("SUBSCRIBE:sip:1001@192.0.2.1");
    let expected = md5(&format!("{ha1}:abc123:{ha2}"));
    assert!(auth.contains("username=\"1001\""), "{auth}");
    assert!(
        auth.contains(&format!("response=\"{expected}\"")),
        "{auth} / {expected}"
    );
    deliver(
        &mut ua,
        clock,
        60,
        &reply(again, 200, "OK", "n1", &["Expires: 3600"]),
    );
    assert!(matches!(
        ua.mwi_subscription(1),
        Some(SubState::Active { .. })
    ));
    // A challenge for every answer means the password is refused: back-off, not a loop.
    let mut ua = self::ua();
    let mut sub = subscribe(&mut ua, clock, 0);
    for n in 0..3 {
        let challenge = reply(
            &sub,
            401,
            "Unauthorized",
            "n1",
            &[&format!(
                "WWW-Authenticate: Digest realm=\"pbx\", nonce=\"n{n}\""
            )],
        );
        let sent = deliver(&mut ua, clock, 10 + n, &challenge);
        if n < 2 {
            sub = sent.into_iter().next().unwrap();
        } else {
            assert!(sent.is_empty(), "the third challenge is not answered");
        }
    }
    assert!(matches!(
        ua.mwi_subscription(1),
        Some(SubState::Retrying { reason, .. }) if reason.contains("refused")
    ));
}

#[test]
fn refreshed_at_the_registration_fraction_of_the_granted_time() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribe(&mut ua, clock, 0);
    // The server grants 600 s of the 3600 asked: refresh 60 s before.
    deliver(
        &mut ua,
        clock,
        100,
        &reply(&sub, 200, "OK", "n1", &["Expires: 600"]),
    );
    assert_eq!(
        ua.mwi_subscription(1),
        Some(&SubState::Active {
            until: clock.at(600_100),
            refresh: clock.at(540_100),
        })
    );
    assert!(run_until(&mut ua, clock, 540_099).is_empty());
    let sent = run_until(&mut ua, clock, 540_100);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 540_100);
    let refresh = parse(&sent[0].1);
    assert_eq!(refresh.header(&Name::CSEQ), Some("2 SUBSCRIBE"));
    assert_eq!(refresh.to_tag(), Some("n1"));
    assert_eq!(refresh.header(&Name::EXPIRES), Some("3600"));
    // A server that grants more than asked is held to what was asked.
    deliver(
        &mut ua,
        clock,
        540_200,
        &reply(&refresh, 200, "OK", "n1", &["Expires: 7200"]),
    );
    assert_eq!(
        ua.mwi_subscription(1),
        Some(&SubState::Active {
            until: clock.at(540_200 + 3_600_000),
            refresh: clock.at(540_200 + 3_240_000),
        })
    );
    // A NOTIFY shortens it to 120 s: the refresh comes 32 s (one transaction) before.
    deliver(
        &mut ua,
        clock,
        600_000,
        &notify(&sub, "n1", 1, "active;expires=120", ""),
    );
    let sent = run_until(&mut ua, clock, 688_000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 688_000);
    assert_eq!(parse(&sent[0].1).header(&Name::CSEQ), Some("3 SUBSCRIBE"));
}

#[test]
fn terminated_by_the_server() {
    // deactivated: a new subscription (new dialog) at once.
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    let sent = deliver(
        &mut ua,
        clock,
        1000,
        &notify(&sub, "n1", 1, "terminated;reason=deactivated", ""),
    );
    assert_eq!(
        sent.len(),
        2,
        "200 to the NOTIFY and a new SUBSCRIBE: {sent:?}"
    );
    assert_eq!(sent[0].code(), Some(200));
    let again = &sent[1];
    assert_eq!(again.method(), Some("SUBSCRIBE"));
    assert_ne!(again.call_id(), sub.call_id(), "a new dialog");
    assert_eq!(again.to_tag(), None);
    assert_eq!(ua.mwi_subscription(1), Some(&SubState::Subscribing));
    // The old dialog's NOTIFYs are no longer ours.
    deliver(
        &mut ua,
        clock,
        1100,
        &notify(&sub, "n1", 2, "active;expires=60", SUMMARY),
    );
    assert!(summaries(&events(&mut ua)).is_empty());

    // probation with retry-after: exactly that much later.
    let mut ua = self::ua();
    let sub = subscribed(&mut ua, clock);
    let sent = deliver(
        &mut ua,
        clock,
        1000,
        &notify(
            &sub,
            "n1",
            1,
            "terminated;reason=probation;retry-after=90",
            "",
        ),
    );
    assert_eq!(sent.len(), 1, "only the 200");
    assert!(matches!(
        ua.mwi_subscription(1),
        Some(SubState::Retrying { retry, .. }) if *retry == clock.at(91_000)
    ));
    assert!(run_until(&mut ua, clock, 90_999).is_empty());
    let sent = run_until(&mut ua, clock, 91_000);
    assert_eq!(sent.len(), 1);
    let again = parse(&sent[0].1);
    assert_eq!(again.method(), Some("SUBSCRIBE"));
    assert_ne!(again.call_id(), sub.call_id());

    // rejected: stop, reported once, never again.
    let mut ua = self::ua();
    let sub = subscribed(&mut ua, clock);
    events(&mut ua);
    deliver(
        &mut ua,
        clock,
        1000,
        &notify(&sub, "n1", 1, "terminated;reason=rejected", ""),
    );
    let states = sub_states(&events(&mut ua));
    assert!(
        matches!(states.as_slice(), [SubState::Stopped { reason }] if reason.contains("rejected")),
        "{states:?}"
    );
    assert!(run_until(&mut ua, clock, 10_000_000).is_empty());
}

#[test]
fn a_server_that_ends_every_subscription_at_once_is_not_hammered() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    let sent = deliver(
        &mut ua,
        clock,
        100,
        &notify(&sub, "n1", 1, "terminated;reason=deactivated", ""),
    );
    let second = sent[1].clone();
    deliver(
        &mut ua,
        clock,
        150,
        &reply(&second, 200, "OK", "n2", &["Expires: 3600"]),
    );
    let sent = deliver(
        &mut ua,
        clock,
        200,
        &notify(&second, "n2", 1, "terminated;reason=deactivated", ""),
    );
    assert_eq!(sent.len(), 1, "only the 200: the second time waits");
    let Some(SubState::Retrying { retry, .. }) = ua.mwi_subscription(1).cloned() else {
        panic!("{:?}", ua.mwi_subscription(1))
    };
    let wait = retry.duration_since(clock.at(200));
    assert!(
        wait >= Duration::from_secs(15) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[test]
fn bad_event_stops_without_retrying() {
    let clock = Clock::new();
    for code in [489, 405, 403, 404] {
        let mut ua = ua();
        let sub = subscribe(&mut ua, clock, 0);
        events(&mut ua);
        let sent = deliver(&mut ua, clock, 40, &reply(&sub, code, "No", "n1", &[]));
        assert!(sent.is_empty());
        let states = sub_states(&events(&mut ua));
        assert_eq!(
            states,
            vec![SubState::Stopped {
                reason: format!("{code} No")
            }],
            "reported once"
        );
        // Not retried, however long we wait.
        assert!(run_until(&mut ua, clock, 100_000_000).is_empty());
        assert!(sub_states(&events(&mut ua)).is_empty());
        // Asked for again (say after a configuration change), it tries again.
        ua.subscribe_mwi(clock.at(100_000_001), 1);
        assert_eq!(drain(&mut ua, 0).len(), 1);
    }
}

#[test]
fn no_answer_and_server_errors_back_off() {
    let clock = Clock::new();
    let mut ua = ua();
    subscribe(&mut ua, clock, 0);
    // Retransmitted until the transaction gives up at 32 s.
    let sent = run_until(&mut ua, clock, 32_000);
    assert_eq!(sent.len(), 10);
    let Some(SubState::Retrying { retry, reason }) = ua.mwi_subscription(1).cloned() else {
        panic!("{:?}", ua.mwi_subscription(1))
    };
    assert_eq!(reason, "no response from the server");
    let wait = retry.duration_since(clock.at(32_000));
    assert!(
        wait >= Duration::from_secs(15) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let at = clock.ms(retry);
    assert!(run_until(&mut ua, clock, at - 1).is_empty());
    // (`at` is the retry time rounded down to the millisecond.)
    let sent = run_until(&mut ua, clock, at + 1);
    assert_eq!(sent.len(), 1);
    let retry_sub = parse(&sent[0].1);
    assert_eq!(retry_sub.method(), Some("SUBSCRIBE"));
    assert_eq!(ua.mwi_subscription(1), Some(&SubState::Subscribing));
    // 503: the second failure in a row waits twice as long.
    deliver(
        &mut ua,
        clock,
        at + 10,
        &reply(&retry_sub, 503, "Service Unavailable", "n1", &[]),
    );
    let Some(SubState::Retrying { retry, reason }) = ua.mwi_subscription(1).cloned() else {
        panic!("{:?}", ua.mwi_subscription(1))
    };
    assert_eq!(reason, "503 Service Unavailable");
    let wait = retry.duration_since(clock.at(at + 10));
    assert!(
        wait >= Duration::from_secs(30) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}

#[test]
fn a_refresh_answered_481_starts_a_new_subscription() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    let refresh = parse(&run_until(&mut ua, clock, 3_240_050)[0].1);
    let sent = deliver(
        &mut ua,
        clock,
        3_240_100,
        &reply(&refresh, 481, "Subscription Does Not Exist", "", &[]),
    );
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].call_id(), sub.call_id());
    assert_eq!(sent[0].to_tag(), None);
}

#[test]
fn unsubscribe_sends_expires_zero_and_forgets_the_dialog() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    ua.unsubscribe_mwi(clock.at(1000), 1);
    let sent = drain(&mut ua, 1000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.destination, addr(PROXY));
    let unsub = parse(&sent[0].1);
    assert_eq!(unsub.method(), Some("SUBSCRIBE"));
    assert_eq!(unsub.header(&Name::EXPIRES), Some("0"));
    assert_eq!(unsub.call_id(), sub.call_id());
    assert_eq!(unsub.to_tag(), Some("n1"), "inside the dialog");
    assert_eq!(unsub.header(&Name::EVENT), Some("message-summary"));
    assert_eq!(ua.mwi_subscription(1), Some(&SubState::Unsubscribed));
    deliver(&mut ua, clock, 1050, &reply(&unsub, 200, "OK", "n1", &[]));
    // The notifier's last NOTIFY is answered, but lights nothing.
    let sent = deliver(
        &mut ua,
        clock,
        1100,
        &notify(&sub, "n1", 1, "terminated;reason=timeout", SUMMARY),
    );
    assert_eq!(sent[0].code(), Some(200));
    let e = events(&mut ua);
    assert!(summaries(&e).is_empty(), "{e:?}");
    // No refresh, no retry.
    assert!(run_until(&mut ua, clock, 10_000_000).is_empty());
    // Later the dialog is gone: its NOTIFYs go up like any other request.
    deliver(
        &mut ua,
        clock,
        10_000_100,
        &notify(&sub, "n1", 2, "active", SUMMARY),
    );
    let e = events(&mut ua);
    assert!(e
        .iter()
        .any(|e| matches!(e, UaEvent::Transaction(Event::Request { .. }))));
    assert!(summaries(&e).is_empty());
    // Without a subscription there is nothing to end.
    let mut ua = self::ua();
    ua.unsubscribe_mwi(clock.at(0), 1);
    assert!(drain(&mut ua, 0).is_empty());
}

#[test]
fn a_notify_with_a_bad_body_gets_400_and_no_event() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    events(&mut ua);
    let sent = deliver(
        &mut ua,
        clock,
        100,
        &notify(
            &sub,
            "n1",
            1,
            "active;expires=3600",
            "Messages-Waiting: perhaps\r\n",
        ),
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].code(), Some(400));
    let e = events(&mut ua);
    assert!(summaries(&e).is_empty(), "{e:?}");
    assert!(!e.iter().any(|e| matches!(e, UaEvent::Transaction(_))));
    // The next good one is taken.
    let sent = deliver(
        &mut ua,
        clock,
        200,
        &notify(&sub, "n1", 2, "active", "Messages-Waiting: no\r\n"),
    );
    assert_eq!(sent[0].code(), Some(200));
    assert_eq!(
        summaries(&events(&mut ua)),
        vec![MessageSummary {
            waiting: false,
            voice: None
        }]
    );
    // A second notifier (a forked SUBSCRIBE) is refused.
    let sent = deliver(
        &mut ua,
        clock,
        300,
        &notify(&sub, "other", 1, "active", SUMMARY),
    );
    assert_eq!(sent[0].code(), Some(481));
    assert!(summaries(&events(&mut ua)).is_empty());
}

#[test]
fn notifies_of_no_subscription_still_go_up() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribed(&mut ua, clock);
    events(&mut ua);
    // Unsolicited, as voice-mail systems send to 7940s: no To tag, its own Call-ID.
    let unsolicited = datagram(
        &[
            "NOTIFY sip:1001@192.0.2.20:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKunsol1",
            "From: <sip:vm@192.0.2.1>;tag=vm1",
            "To: <sip:1001@192.0.2.20>",
            "Call-ID: unsolicited-1@192.0.2.1",
            "CSeq: 1 NOTIFY",
            "Max-Forwards: 70",
            "Event: message-summary",
            "Content-Type: application/simple-message-summary",
        ],
        SUMMARY,
    );
    // And one with our tag but another Call-ID.
    let stray = String::from_utf8(notify(&sub, "n1", 5, "active", SUMMARY))
        .unwrap()
        .replace(sub.call_id().unwrap(), "stray@192.0.2.1")
        .into_bytes();
    for d in [unsolicited, stray] {
        let sent = deliver(&mut ua, clock, 100, &d);
        assert!(sent.is_empty(), "not answered by the core: {sent:?}");
        let e = events(&mut ua);
        assert!(summaries(&e).is_empty());
        let up: Vec<&Message> = e
            .iter()
            .filter_map(|e| match e {
                UaEvent::Transaction(Event::Request { request, .. }) => Some(request),
                _ => None,
            })
            .collect();
        assert_eq!(up.len(), 1, "{e:?}");
        assert_eq!(up[0].method(), Some("NOTIFY"));
    }
}

#[test]
fn the_subscription_follows_the_line_to_the_backup() {
    let clock = Clock::new();
    let mut ua = UserAgent::new(Settings::default(), addr(PHONE), 7);
    ua.add_line_with_backup(line(), addr(PROXY), Some(addr(BACKUP)))
        .unwrap();
    ua.register(clock.at(0), 1);
    drain(&mut ua, 0);
    // The primary never answers: at 32 s the line tries the backup, which accepts.
    let sent = run_until(&mut ua, clock, 32_000);
    let reg = sent
        .iter()
        .find(|(_, t)| t.destination == addr(BACKUP))
        .map(|(_, t)| parse(t))
        .expect("REGISTER to the backup");
    ua.handle_datagram(
        clock.at(32_050),
        addr(BACKUP),
        &reply(&reg, 200, "OK", "b1", &["Expires: 3600"]),
    );
    drain(&mut ua, 32_050);
    assert!(matches!(
        ua.registration(1),
        Some(RegState::Registered { .. })
    ));
    ua.subscribe_mwi(clock.at(33_000), 1);
    let sent = drain(&mut ua, 33_000);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.destination, addr(BACKUP));
    let sub = parse(&sent[0].1);
    assert_eq!(
        sub.uri(),
        Some("sip:1001@192.0.2.1"),
        "the AOR does not move"
    );
}

#[test]
fn the_expires_asked_is_a_setting() {
    let clock = Clock::new();
    let settings = Settings {
        mwi_expires: 900,
        ..Settings::default()
    };
    assert_eq!(Settings::default().mwi_expires, 3600);
    let mut ua = UserAgent::new(settings, addr(PHONE), 7);
    ua.add_line(line(), addr(PROXY)).unwrap();
    let sub = subscribe(&mut ua, clock, 0);
    assert_eq!(sub.header(&Name::EXPIRES), Some("900"));
    // Without Expires in the 2xx, what was asked is granted: refresh 90 s before.
    deliver(&mut ua, clock, 10, &reply(&sub, 200, "OK", "n1", &[]));
    assert_eq!(
        ua.mwi_subscription(1),
        Some(&SubState::Active {
            until: clock.at(900_010),
            refresh: clock.at(810_010),
        })
    );
}

#[test]
fn refreshes_carry_the_route_set_and_still_go_to_the_lines_server() {
    let clock = Clock::new();
    let mut ua = ua();
    let sub = subscribe(&mut ua, clock, 0);
    deliver(
        &mut ua,
        clock,
        10,
        &reply(
            &sub,
            200,
            "OK",
            "n1",
            &[
                "Expires: 3600",
                "Record-Route: <sip:far.example;lr>, <sip:near.example;lr>",
                "Contact: <sip:mwi@198.51.100.9:5070>",
            ],
        ),
    );
    let sent = run_until(&mut ua, clock, 3_240_010);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.destination, addr(PROXY));
    let refresh = parse(&sent[0].1);
    assert_eq!(refresh.uri(), Some("sip:mwi@198.51.100.9:5070"));
    let routes: Vec<&str> = refresh.header_values(&Name::ROUTE).collect();
    assert_eq!(
        routes,
        vec!["<sip:near.example;lr>", "<sip:far.example;lr>"]
    );
}
