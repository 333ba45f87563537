//! Failover of registrations (and new calls) to the backup registrar (`proxy_backup`) and
//! back, in simulated time against registrars played by the test: a silent or 503 primary
//! sends the line to the backup at once, a 4xx does not; refreshes and calls follow the
//! backup; OPTIONS probes bring the line back (unregistering at the backup first); both out
//! back off and start again with the primary; lines on the same primary move together.

mod common;

use std::time::Duration;

use common::*;
use deskphone_config::cnf::parse as parse_cnf;
use deskphone_config::{Config, FileRole, Mac};
use deskphone_sip::register::probe_period;
use deskphone_sip::{LineSettings, Message, Name, RegState, Server, Settings, UaEvent, UserAgent};

const PRIMARY: &str = "192.0.2.1:5060";
const BACKUP: &str = "192.0.2.2:5070";
const PHONE: &str = "192.0.2.20:5060";

const BASE: &str = "proxy1_address: \"192.0.2.1\"\nline1_name: \"1001\"\nline1_authname: \"1001\"\nline1_password: \"secret\"\nline2_name: \"1002\"\nline2_authname: \"1002\"\nline2_password: \"secret\"\n";

/// The non-INVITE transaction with the default timers: 32 s.
const F: u64 = 32_000;
/// The probe period with the default timers: 64 s.
const PROBE: u64 = 64_000;

fn ua_with(lines: &[u8], backup: Option<&str>) -> UserAgent {
    let mut c = Config::new("00503EFFD842".parse::<Mac>().unwrap());
    c.apply_file(
        "SIPDefault.cnf",
        FileRole::Default,
        &parse_cnf("SIPDefault.cnf", BASE.as_bytes()),
    );
    let mut ua = UserAgent::new(Settings::from_config(&c), addr(PHONE), 9);
    for n in lines {
        ua.add_line_with_backup(
            LineSettings::from_config(&c, *n).unwrap(),
            addr(PRIMARY),
            backup.map(addr),
        )
        .unwrap();
    }
    ua
}

fn states(ua: &mut UserAgent, line: u8) -> Vec<RegState> {
    std::iter::from_fn(|| ua.poll_event())
        .filter_map(|e| match e {
            UaEvent::Registration { line: l, state } if l == line => Some(state),
            _ => None,
        })
        .collect()
}

/// Every transmission as (ms, destination, message).
fn msgs(sent: Vec<(u64, deskphone_sip::Transmit)>) -> Vec<(u64, String, Message)> {
    sent.iter()
        .map(|(ms, t)| (*ms, t.destination.to_string(), parse(t)))
        .collect()
}

fn from(
    ua: &mut UserAgent,
    clock: Clock,
    ms: u64,
    source: &str,
    datagram: &[u8],
) -> Vec<(u64, String, Message)> {
    ua.handle_datagram(clock.at(ms), addr(source), datagram);
    msgs(drain(ua, ms))
}

fn ok(request: &Message) -> Vec<u8> {
    reply(request, 200, "OK", "r", &["Expires: 3600"])
}

fn challenge(request: &Message, nonce: &str) -> Vec<u8> {
    reply(
        request,
        401,
        "Unauthorized",
        "r",
        &[&format!(
            "WWW-Authenticate: Digest realm=\"192.0.2.1\", nonce=\"{nonce}\", qop=\"auth\""
        )],
    )
}

/// Line 1 registered with the backup at `F` + 100 ms after a silent primary; returns the
/// 200'd REGISTER.
fn on_backup(ua: &mut UserAgent, clock: Clock) -> Message {
    ua.register(clock.at(0), 1);
    drain(ua, 0);
    let sent = msgs(run_until(ua, clock, F));
    let (_, to, reg) = sent.last().unwrap().clone();
    assert_eq!(to, BACKUP);
    from(ua, clock, F + 100, BACKUP, &ok(&reg));
    assert!(matches!(
        ua.registration(1),
        Some(RegState::Registered { .. })
    ));
    assert_eq!(ua.using(1), Some(Server::Backup));
    states(ua, 1);
    reg
}

#[test]
fn the_probe_period_is_two_transactions_and_at_least_ten_seconds() {
    let s = Settings::default();
    assert_eq!(probe_period(&s.timers), Duration::from_millis(PROBE));
    let mut t = s.timers;
    t.t1 = Duration::from_millis(100);
    t.t2 = Duration::from_millis(400);
    t.retx = 3;
    assert_eq!(probe_period(&t), Duration::from_secs(10));
}

#[test]
fn a_silent_primary_sends_the_register_to_the_backup_at_once() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    ua.register(clock.at(0), 1);
    let first = msgs(drain(&mut ua, 0));
    assert_eq!(first[0].1, PRIMARY);
    let first = first[0].2.clone();
    let sent = msgs(run_until(&mut ua, clock, F));
    // The 10 retransmissions to the primary, then at once (timer F) the backup.
    assert_eq!(sent.len(), 11, "{sent:?}");
    assert!(sent[..10].iter().all(|(_, to, _)| to == PRIMARY));
    let (at, to, reg) = sent[10].clone();
    assert_eq!(
        (at, to.as_str()),
        (F, BACKUP),
        "no back-off before the switch"
    );
    // Only the destination changes: the AoR, realm and dialog of the registration stay.
    assert_eq!(reg.uri(), Some("sip:192.0.2.1"));
    assert_eq!(reg.header(&Name::TO), Some("<sip:1001@192.0.2.1>"));
    assert_eq!(reg.call_id(), first.call_id());
    assert_eq!(reg.from_tag(), first.from_tag());
    assert_eq!(reg.header(&Name::CSEQ), Some("2 REGISTER"));
    assert_eq!(states(&mut ua, 1), vec![RegState::Registering]);
    assert_eq!(ua.using(1), Some(Server::Backup));
    // The backup challenges (realm = To domain), the answer goes to the backup too.
    let again = from(&mut ua, clock, F + 10, BACKUP, &challenge(&reg, "b1"));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, BACKUP);
    assert!(again[0]
        .2
        .header(&Name::AUTHORIZATION)
        .unwrap()
        .contains("realm=\"192.0.2.1\""));
    from(&mut ua, clock, F + 20, BACKUP, &ok(&again[0].2));
    assert!(matches!(
        states(&mut ua, 1).last(),
        Some(RegState::Registered { .. })
    ));
    assert_eq!(ua.using(1), Some(Server::Backup));
    assert_eq!(ua.destination(1), Some(addr(BACKUP)));
}

#[test]
fn a_503_switches_at_once_but_a_403_is_a_configuration_problem() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    ua.register(clock.at(0), 1);
    let reg = msgs(drain(&mut ua, 0)).remove(0).2;
    let next = from(
        &mut ua,
        clock,
        30,
        PRIMARY,
        &reply(&reg, 503, "Service Unavailable", "r", &[]),
    );
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1, BACKUP);

    let mut ua = ua_with(&[1], Some(BACKUP));
    ua.register(clock.at(0), 1);
    let reg = msgs(drain(&mut ua, 0)).remove(0).2;
    let next = from(
        &mut ua,
        clock,
        30,
        PRIMARY,
        &reply(&reg, 403, "Forbidden", "r", &[]),
    );
    assert!(next.is_empty(), "{next:?}");
    let Some(RegState::Failed { reason, retry }) = states(&mut ua, 1).last().cloned() else {
        panic!("failed expected")
    };
    assert_eq!(reason, "primary: 403 Forbidden");
    assert_eq!(ua.using(1), Some(Server::Primary));
    let sent = msgs(run_until(&mut ua, clock, clock.ms(retry) + 1));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, PRIMARY, "the retry goes to the primary again");
}

#[test]
fn refreshes_and_new_calls_go_to_the_backup() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    on_backup(&mut ua, clock);
    // A call placed now goes to the backup, to the line's domain.
    ua.dial(clock.at(F + 200), 1, "1002").unwrap();
    let invite = msgs(drain(&mut ua, F + 200)).remove(0);
    assert_eq!(invite.1, BACKUP);
    assert_eq!(invite.2.method(), Some("INVITE"));
    assert!(
        invite.2.uri().unwrap().starts_with("sip:1002@192.0.2.1"),
        "{:?}",
        invite.2.uri()
    );
    // The refresh (3600 s - 360 s after the 200) goes to the backup; the probes of the
    // primary before it go to the primary.
    let sent = msgs(run_until(&mut ua, clock, F + 100 + 3_240_000));
    let registers: Vec<_> = sent
        .iter()
        .filter(|(_, _, m)| m.method() == Some("REGISTER"))
        .collect();
    assert_eq!(registers.len(), 1, "{registers:?}");
    assert_eq!(registers[0].1, BACKUP);
    assert_eq!(registers[0].0, F + 100 + 3_240_000);
    assert!(sent
        .iter()
        .filter(|(_, _, m)| m.method() == Some("OPTIONS"))
        .all(|(_, to, _)| to == PRIMARY));
}

#[test]
fn the_primary_is_probed_and_the_line_returns_unregistering_at_the_backup_first() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    let backup_reg = on_backup(&mut ua, clock);
    let t0 = F + 100;
    // Nothing until the first probe, one period after the registration.
    assert!(run_until(&mut ua, clock, t0 + PROBE - 1).is_empty());
    let sent = msgs(run_until(&mut ua, clock, t0 + PROBE));
    assert_eq!(sent.len(), 1);
    let (_, to, probe) = sent[0].clone();
    assert_eq!(to, PRIMARY);
    assert_eq!(probe.method(), Some("OPTIONS"));
    assert_eq!(probe.uri(), Some("sip:192.0.2.1"));
    // Unanswered: retransmitted like any request, given up after F; the next one starts a
    // period after the first.
    let sent = msgs(run_until(&mut ua, clock, t0 + 2 * PROBE));
    let options: Vec<_> = sent
        .iter()
        .filter(|(_, _, m)| m.method() == Some("OPTIONS"))
        .collect();
    assert_eq!(options.len(), 11, "10 retransmissions and the next probe");
    assert!(sent.iter().all(|(_, to, _)| to == PRIMARY));
    assert_eq!(options[10].0, t0 + 2 * PROBE);
    assert_ne!(options[10].2.call_id(), probe.call_id());
    assert!(matches!(
        ua.registration(1),
        Some(RegState::Registered { .. })
    ));
    // The primary is back: even a 404 to OPTIONS says so.
    let probe = options[10].2.clone();
    let t1 = t0 + 2 * PROBE + 50;
    let leave = from(
        &mut ua,
        clock,
        t1,
        PRIMARY,
        &reply(&probe, 404, "Not Here", "p", &[]),
    );
    assert_eq!(leave.len(), 1);
    let (_, to, leave) = leave[0].clone();
    assert_eq!(to, BACKUP, "first the backup binding goes");
    assert_eq!(leave.header(&Name::EXPIRES), Some("0"));
    assert_eq!(
        leave.header(&Name::CONTACT),
        backup_reg.header(&Name::CONTACT)
    );
    assert_eq!(leave.call_id(), backup_reg.call_id());
    let back = from(
        &mut ua,
        clock,
        t1 + 10,
        BACKUP,
        &reply(&leave, 200, "OK", "r", &[]),
    );
    assert_eq!(back.len(), 1);
    let (_, to, back) = back[0].clone();
    assert_eq!(to, PRIMARY, "then the primary");
    assert_eq!(back.header(&Name::EXPIRES), Some("3600"));
    assert_eq!(back.call_id(), backup_reg.call_id());
    let cseq = |m: &Message| m.cseq().unwrap().number;
    assert!(cseq(&back) > cseq(&leave) && cseq(&leave) > cseq(&backup_reg));
    // Still counted as registered (one round trip without a binding), then registered at
    // the primary, challenged by it first.
    assert_eq!(ua.using(1), Some(Server::Backup));
    let again = from(&mut ua, clock, t1 + 20, PRIMARY, &challenge(&back, "p1"));
    assert_eq!(again[0].1, PRIMARY);
    from(&mut ua, clock, t1 + 30, PRIMARY, &ok(&again[0].2));
    assert!(matches!(
        states(&mut ua, 1).last(),
        Some(RegState::Registered { .. })
    ));
    assert_eq!(ua.using(1), Some(Server::Primary));
    assert_eq!(ua.destination(1), Some(addr(PRIMARY)));
    // No more probes: only the refresh, at the primary.
    let sent = msgs(run_until(&mut ua, clock, t1 + 30 + 3_240_000));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].1.as_str(), sent[0].2.method()),
        (PRIMARY, Some("REGISTER"))
    );
}

#[test]
fn a_503_to_the_probe_means_still_out() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    on_backup(&mut ua, clock);
    let t0 = F + 100;
    let probe = msgs(run_until(&mut ua, clock, t0 + PROBE)).remove(0).2;
    let next = from(
        &mut ua,
        clock,
        t0 + PROBE + 10,
        PRIMARY,
        &reply(&probe, 503, "Service Unavailable", "p", &[]),
    );
    assert!(next.is_empty());
    assert_eq!(ua.using(1), Some(Server::Backup));
}

#[test]
fn both_out_back_off_and_the_next_attempt_starts_with_the_primary() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    ua.register(clock.at(0), 1);
    drain(&mut ua, 0);
    let sent = msgs(run_until(&mut ua, clock, 2 * F));
    assert_eq!(sent.iter().filter(|(_, to, _)| to == PRIMARY).count(), 10);
    assert_eq!(sent.iter().filter(|(_, to, _)| to == BACKUP).count(), 11);
    let Some(RegState::Failed { reason, retry }) = states(&mut ua, 1).last().cloned() else {
        panic!("failed expected")
    };
    assert_eq!(
        reason,
        "primary: no response from the registrar; backup: no response from the registrar"
    );
    let wait = retry.duration_since(clock.at(2 * F));
    assert!(
        wait >= Duration::from_secs(15) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    assert_eq!(ua.using(1), Some(Server::Primary));
    let at = clock.ms(retry);
    assert!(run_until(&mut ua, clock, at - 1).is_empty());
    let sent = msgs(run_until(&mut ua, clock, at + 1));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, PRIMARY);
    // This round fails too (the primary with 503, the backup silent): twice the wait.
    let next = from(
        &mut ua,
        clock,
        at + 10,
        PRIMARY,
        &reply(&sent[0].2, 503, "Service Unavailable", "r", &[]),
    );
    assert_eq!(next[0].1, BACKUP);
    run_until(&mut ua, clock, at + 10 + F);
    let Some(RegState::Failed { reason, retry }) = states(&mut ua, 1).last().cloned() else {
        panic!("failed expected")
    };
    assert_eq!(
        reason,
        "primary: 503 Service Unavailable; backup: no response from the registrar"
    );
    let wait = retry.duration_since(clock.at(at + 10 + F));
    assert!(
        wait >= Duration::from_secs(30) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}

#[test]
fn a_backup_that_stops_answering_sends_the_line_to_the_primary_at_once() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    on_backup(&mut ua, clock);
    // Refresh at the backup times out (the probes meanwhile were unanswered as well).
    let refresh_at = F + 100 + 3_240_000;
    let sent = msgs(run_until(&mut ua, clock, refresh_at + F));
    let registers: Vec<_> = sent
        .iter()
        .filter(|(_, _, m)| m.method() == Some("REGISTER"))
        .collect();
    let last = registers.last().unwrap();
    assert_eq!((last.0, last.1.as_str()), (refresh_at + F, PRIMARY));
    assert!(registers[..registers.len() - 1]
        .iter()
        .all(|(_, to, _)| to == BACKUP));
    from(&mut ua, clock, refresh_at + F + 10, PRIMARY, &ok(&last.2));
    assert_eq!(ua.using(1), Some(Server::Primary));
}

#[test]
fn lines_on_the_same_primary_move_together() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1, 2], Some(BACKUP));
    ua.register(clock.at(0), 1);
    ua.register(clock.at(0), 2);
    let regs = msgs(drain(&mut ua, 0));
    assert_eq!(regs.len(), 2);
    // Line 1 registered with the primary with 600 s, line 2 with 3600 s.
    from(
        &mut ua,
        clock,
        10,
        PRIMARY,
        &reply(&regs[0].2, 200, "OK", "r", &["Expires: 600"]),
    );
    from(&mut ua, clock, 10, PRIMARY, &ok(&regs[1].2));
    // Line 1's refresh (at 540 s) gets no answer: both lines go to the backup at once.
    let sent = msgs(run_until(&mut ua, clock, 10 + 540_000 + F));
    let to_backup: Vec<_> = sent.iter().filter(|(_, to, _)| to == BACKUP).collect();
    assert_eq!(to_backup.len(), 2, "{sent:?}");
    assert!(to_backup.iter().all(|(at, _, _)| *at == 10 + 540_000 + F));
    assert_eq!(ua.using(1), Some(Server::Backup));
    assert_eq!(ua.using(2), Some(Server::Backup));
    let t = 10 + 540_000 + F + 10;
    for (_, _, m) in &to_backup {
        from(&mut ua, clock, t, BACKUP, &ok(m));
    }
    // Line 2 was not unregistered, it moved: registered at the backup too.
    assert!(matches!(
        ua.registration(2),
        Some(RegState::Registered { .. })
    ));
    // The first probe that is answered brings both back.
    let sent = msgs(run_until(&mut ua, clock, t + PROBE));
    let probe = sent
        .iter()
        .find(|(_, _, m)| m.method() == Some("OPTIONS"))
        .unwrap()
        .2
        .clone();
    let leave = from(
        &mut ua,
        clock,
        t + PROBE + 5,
        PRIMARY,
        &reply(&probe, 200, "OK", "p", &[]),
    );
    assert_eq!(leave.len(), 2, "{leave:?}");
    assert!(leave
        .iter()
        .all(|(_, to, m)| to == BACKUP && m.header(&Name::EXPIRES) == Some("0")));
}

#[test]
fn without_a_backup_nothing_changes_and_no_probe_is_sent() {
    let clock = Clock::new();
    let mut ua = ua_with(&[1], None);
    ua.register(clock.at(0), 1);
    drain(&mut ua, 0);
    let sent = msgs(run_until(&mut ua, clock, F));
    assert!(sent.iter().all(|(_, to, _)| to == PRIMARY));
    let Some(RegState::Failed { reason, .. }) = states(&mut ua, 1).last().cloned() else {
        panic!("failed expected")
    };
    assert_eq!(reason, "no response from the registrar");
    // A backup equal to the primary is no backup either.
    let mut ua = ua_with(&[1], Some(PRIMARY));
    ua.register(clock.at(0), 1);
    drain(&mut ua, 0);
    run_until(&mut ua, clock, F);
    assert!(matches!(
        states(&mut ua, 1).last(),
        Some(RegState::Failed { .. })
    ));
}

#[test]
fn refreshes_at_the_backup_do_not_postpone_the_probes() {
    // A registrar granting 30 s: refreshed every 15 s, more often than the 64 s probe.
    let clock = Clock::new();
    let mut ua = ua_with(&[1], Some(BACKUP));
    ua.register(clock.at(0), 1);
    drain(&mut ua, 0);
    let reg = msgs(run_until(&mut ua, clock, F)).pop().unwrap().2;
    let short = |m: &Message| reply(m, 200, "OK", "r", &["Expires: 30"]);
    from(&mut ua, clock, F + 100, BACKUP, &short(&reg));
    let mut probes = Vec::new();
    let mut t = F + 100;
    while probes.is_empty() && t < F + 100 + 2 * PROBE {
        let next = clock.ms(ua.poll_timeout().unwrap()) + 1;
        for (at, to, m) in msgs(run_until(&mut ua, clock, next)) {
            match m.method() {
                Some("REGISTER") => {
                    assert_eq!(to, BACKUP);
                    from(&mut ua, clock, at + 10, BACKUP, &short(&m));
                }
                Some("OPTIONS") => probes.push(at),
                _ => {}
            }
        }
        t = next;
    }
    assert_eq!(probes, vec![F + 100 + PROBE]);
}
