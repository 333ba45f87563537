//! Registration of a line in simulated time against constructed registrar responses:
//! REGISTER as the configuration says, refresh timing, digest challenges (MD5 with and
//! without qop, SHA-256), unregister, back-off. The digests are recomputed here from RFC 2617
//! / RFC 8760 formulas, independently of the crate that computes them.

mod common;

use std::time::Duration;

use common::*;
use deskphone_config::cnf::parse as parse_cnf;
use deskphone_config::{Config, FileRole, Mac};
use deskphone_sip::register::refresh_margin;
use deskphone_sip::{LineSettings, Message, Name, RegState, Settings, UaEvent, UserAgent};
use sha2::Digest;

const PROXY: &str = "192.0.2.1:5060";
const PHONE: &str = "192.0.2.20:5060";

fn config(cnf: &str) -> Config {
    let mut c = Config::new("00503EFFD842".parse::<Mac>().unwrap());
    let parsed = parse_cnf("SIPDefault.cnf", cnf.as_bytes());
    c.apply_file("SIPDefault.cnf", FileRole::Default, &parsed);
    c
}

const BASE: &str = "proxy1_address: \"192.0.2.1\"\nline1_name: \"1001\"\nline1_authname: \"1001\"\nline1_password: \"secret\"\n";

fn ua_from(cnf: &str) -> UserAgent {
    let c = config(cnf);
    let mut ua = UserAgent::new(Settings::from_config(&c), addr(PHONE), 9);
    ua.add_line(LineSettings::from_config(&c, 1).unwrap(), addr(PROXY))
        .unwrap();
    ua
}

/// Starts registering line 1 and returns the REGISTER sent.
fn start(ua: &mut UserAgent, clock: Clock) -> Message {
    ua.register(clock.at(0), 1);
    let sent = drain(ua, 0);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.destination, addr(PROXY));
    parse(&sent[0].1)
}

fn answer(ua: &mut UserAgent, clock: Clock, ms: u64, datagram: &[u8]) -> Vec<Message> {
    ua.handle_datagram(clock.at(ms), addr(PROXY), datagram);
    drain(ua, ms).iter().map(|(_, t)| parse(t)).collect()
}

fn states(ua: &mut UserAgent) -> Vec<RegState> {
    std::iter::from_fn(|| ua.poll_event())
        .filter_map(|e| match e {
            UaEvent::Registration { line: 1, state } => Some(state),
            _ => None,
        })
        .collect()
}

/// `key=value` pairs of a Digest credentials header value.
fn digest_params(value: &str) -> Vec<(String, String)> {
    let rest = value.trim().strip_prefix("Digest").unwrap().trim();
    deskphone_sip::syntax::split_list(rest)
        .into_iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.trim().to_string(), v.trim().trim_matches('"').to_string())
        })
        .collect()
}

fn param(params: &[(String, String)], key: &str) -> String {
    params
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {params:?}"))
        .1
        .clone()
}

fn md5(s: &str) -> String {
    format!("{:x}", md5::compute(s))
}

fn sha256(s: &str) -> String {
    format!("{:x}", sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn the_register_says_what_the_configuration_says() {
    let clock = Clock::new();
    let mut ua = ua_from(&format!(
        "{BASE}timer_register_expires: 180\nuser_info: phone\nnat_enable: 1\nnat_address: 203.0.113.50\n"
    ));
    let reg = start(&mut ua, clock);
    assert_eq!(reg.method(), Some("REGISTER"));
    assert_eq!(reg.uri(), Some("sip:192.0.2.1"));
    assert_eq!(reg.header(&Name::EXPIRES), Some("180"));
    assert_eq!(
        reg.header(&Name::CONTACT),
        Some("<sip:1001@203.0.113.50:5060;user=phone>")
    );
    assert_eq!(
        reg.header(&Name::TO),
        Some("<sip:1001@192.0.2.1;user=phone>")
    );
    assert!(reg
        .header(&Name::FROM)
        .unwrap()
        .starts_with("<sip:1001@192.0.2.1;user=phone>;tag="));
    assert_eq!(reg.header(&Name::CSEQ), Some("1 REGISTER"));
    assert_eq!(reg.header(&Name::MAX_FORWARDS), Some("70"));
    let via = reg.vias()[0];
    assert!(
        via.starts_with("SIP/2.0/UDP 203.0.113.50:5060;branch=z9hG4bK"),
        "{via}"
    );
    assert!(via.ends_with(";rport"));
    assert!(reg.header(&Name::AUTHORIZATION).is_none());
    assert_eq!(states(&mut ua), vec![RegState::Registering]);
}

#[test]
fn without_nat_contact_and_via_carry_the_phones_address() {
    let clock = Clock::new();
    let mut ua = ua_from(&format!("{BASE}nat_enable: 0\nnat_address: 203.0.113.50\n"));
    let reg = start(&mut ua, clock);
    assert_eq!(
        reg.header(&Name::CONTACT),
        Some("<sip:1001@192.0.2.20:5060>")
    );
    assert!(reg.vias()[0].starts_with("SIP/2.0/UDP 192.0.2.20:5060;"));
    assert_eq!(reg.header(&Name::EXPIRES), Some("3600"), "the default");
}

#[test]
fn lines_fall_back_to_proxy1_and_line1_credentials() {
    let c = config(&format!("{BASE}proxy1_port: 5070\nline2_name: \"1002\"\n"));
    let l2 = LineSettings::from_config(&c, 2).unwrap();
    assert_eq!(l2.proxy, "192.0.2.1");
    assert_eq!(l2.proxy_port, 5070);
    assert_eq!(l2.authname.as_deref(), Some("1001"));
    assert_eq!(l2.password.as_deref(), Some("secret"));
    assert!(LineSettings::from_config(&c, 3).is_none(), "no line3_name");
    let s = Settings::from_config(&config(
        "timer_t1: 250\ntimer_t2: 2000\nsip_retx: 4\nsip_invite_retx: 2\n",
    ));
    assert_eq!(s.timers.t1, Duration::from_millis(250));
    assert_eq!(s.timers.t2, Duration::from_millis(2000));
    assert_eq!((s.timers.retx, s.timers.invite_retx), (4, 2));
}

#[test]
fn registered_then_refreshed_before_expiry() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    answer(
        &mut ua,
        clock,
        40,
        &reply(&reg, 200, "OK", "r1", &["Expires: 3600"]),
    );
    let s = states(&mut ua);
    assert_eq!(
        s.last(),
        Some(&RegState::Registered {
            until: clock.at(3_600_040),
            refresh: clock.at(3_240_040),
        })
    );
    // Nothing until 90 % of the lifetime (3600 - max(32 s, 360 s)).
    assert!(run_until(&mut ua, clock, 3_240_039).is_empty());
    let sent = run_until(&mut ua, clock, 3_240_040);
    assert_eq!(sent.len(), 1);
    let refresh = parse(&sent[0].1);
    assert_eq!(refresh.header(&Name::CSEQ), Some("2 REGISTER"));
    assert_eq!(refresh.call_id(), reg.call_id(), "one Call-ID per line");
    assert_eq!(refresh.from_tag(), reg.from_tag());
    assert_ne!(refresh.vias()[0], reg.vias()[0], "a new transaction");
    // The registrar grants 180 s on our Contact: refresh 32 s before.
    let ok = reply(
        &refresh,
        200,
        "OK",
        "r1",
        &["Contact: <sip:1001@192.0.2.20:5060>;expires=180, <sip:1001@10.9.9.9:5060>;expires=3000"],
    );
    answer(&mut ua, clock, 3_240_100, &ok);
    assert_eq!(
        states(&mut ua).last(),
        Some(&RegState::Registered {
            until: clock.at(3_240_100 + 180_000),
            refresh: clock.at(3_240_100 + 148_000),
        })
    );
}

#[test]
fn refresh_margins() {
    let t = Duration::from_secs(32);
    let s = Duration::from_secs;
    assert_eq!(refresh_margin(s(3600), t), s(360));
    assert_eq!(refresh_margin(s(180), t), s(32));
    assert_eq!(refresh_margin(s(60), t), s(30));
    assert_eq!(refresh_margin(s(10), t), s(5));
}

#[test]
fn md5_challenge_without_qop() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    let challenge = reply(
        &reg,
        401,
        "Unauthorized",
        "r1",
        &["WWW-Authenticate: Digest realm=\"example.com\", nonce=\"dcd98b7102dd2f0e\", algorithm=MD5"],
    );
    let sent = answer(&mut ua, clock, 30, &challenge);
    assert_eq!(sent.len(), 1, "answered at once");
    let again = &sent[0];
    assert_eq!(again.header(&Name::CSEQ), Some("2 REGISTER"));
    let p = digest_params(again.header(&Name::AUTHORIZATION).unwrap());
    assert_eq!(param(&p, "username"), "1001");
    assert_eq!(param(&p, "realm"), "example.com");
    assert_eq!(param(&p, "uri"), "sip:192.0.2.1");
    let ha1 = md5("1001:example.com:secret");
    let ha2 = md5("REGISTER:sip:192.0.2.1");
    assert_eq!(
        param(&p, "response"),
        md5(&format!("{ha1}:dcd98b7102dd2f0e:{ha2}"))
    );
    answer(
        &mut ua,
        clock,
        60,
        &reply(again, 200, "OK", "r1", &["Expires: 3600"]),
    );
    assert!(matches!(
        states(&mut ua).last(),
        Some(RegState::Registered { .. })
    ));
}

#[test]
fn md5_challenge_with_qop_auth_and_the_refresh_counts_on() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    let challenge = reply(
        &reg,
        401,
        "Unauthorized",
        "r1",
        &["WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n0nce\", qop=\"auth\", opaque=\"op1\""],
    );
    let again = answer(&mut ua, clock, 30, &challenge).remove(0);
    let p = digest_params(again.header(&Name::AUTHORIZATION).unwrap());
    let (nc, cnonce) = (param(&p, "nc"), param(&p, "cnonce"));
    assert_eq!(nc, "00000001");
    assert_eq!(param(&p, "qop"), "auth");
    assert_eq!(param(&p, "opaque"), "op1");
    let ha1 = md5("1001:example.com:secret");
    let ha2 = md5("REGISTER:sip:192.0.2.1");
    assert_eq!(
        param(&p, "response"),
        md5(&format!("{ha1}:n0nce:{nc}:{cnonce}:auth:{ha2}"))
    );
    answer(
        &mut ua,
        clock,
        60,
        &reply(&again, 200, "OK", "r1", &["Expires: 120"]),
    );
    // The refresh (32 s before the 120 s end) carries the next nonce-count.
    assert!(run_until(&mut ua, clock, 60 + 87_999).is_empty());
    let sent = run_until(&mut ua, clock, 60 + 88_000);
    let refresh = parse(&sent[0].1);
    let p = digest_params(refresh.header(&Name::AUTHORIZATION).unwrap());
    assert_eq!(param(&p, "nc"), "00000002");
    assert_eq!(
        param(&p, "response"),
        md5(&format!(
            "{ha1}:n0nce:00000002:{}:auth:{ha2}",
            param(&p, "cnonce")
        ))
    );
}

#[test]
fn sha256_proxy_challenge() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    let challenge = reply(
        &reg,
        407,
        "Proxy Authentication Required",
        "r1",
        &["Proxy-Authenticate: Digest realm=\"pbx\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\""],
    );
    let again = answer(&mut ua, clock, 30, &challenge).remove(0);
    assert!(again.header(&Name::AUTHORIZATION).is_none());
    let p = digest_params(again.header(&Name::PROXY_AUTHORIZATION).unwrap());
    assert_eq!(param(&p, "algorithm"), "SHA-256");
    let ha1 = sha256("1001:pbx:secret");
    let ha2 = sha256("REGISTER:sip:192.0.2.1");
    let expected = sha256(&format!(
        "{ha1}:abc:{}:{}:auth:{ha2}",
        param(&p, "nc"),
        param(&p, "cnonce")
    ));
    assert_eq!(param(&p, "response"), expected);
}

#[test]
fn a_repeated_challenge_means_wrong_credentials_and_backs_off() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    let challenge = |m: &Message| {
        reply(
            m,
            401,
            "Unauthorized",
            "r1",
            &["WWW-Authenticate: Digest realm=\"example.com\", nonce=\"same\""],
        )
    };
    let again = answer(&mut ua, clock, 30, &challenge(&reg)).remove(0);
    assert!(answer(&mut ua, clock, 60, &challenge(&again)).is_empty());
    let Some(RegState::Failed { reason, retry }) = states(&mut ua).last().cloned() else {
        panic!("failed expected")
    };
    // Said plainly, naming the credentials' user.
    assert!(
        reason.starts_with("authentication refused") && reason.contains("1001"),
        "{reason}"
    );
    let wait = retry.duration_since(clock.at(60));
    assert!(
        wait >= Duration::from_secs(15) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[test]
fn a_registrar_that_challenges_every_answer_is_refusing_the_password() {
    // Kamailio and others send a fresh nonce with each challenge: the third in a row ends
    // the attempt with the same plain reason.
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let mut request = start(&mut ua, clock);
    let mut sent = 1;
    for n in 1..=3 {
        let challenge = reply(
            &request,
            401,
            "Unauthorized",
            "r1",
            &[&format!(
                "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n{n}\", qop=\"auth\""
            )],
        );
        let mut out = answer(&mut ua, clock, 30 * n, &challenge);
        if out.is_empty() {
            break;
        }
        sent += 1;
        request = out.remove(0);
        assert!(request.header(&Name::AUTHORIZATION).is_some());
    }
    assert_eq!(sent, 3, "the REGISTER and two answers to challenges");
    let Some(RegState::Failed { reason, .. }) = states(&mut ua).last().cloned() else {
        panic!("failed expected")
    };
    assert!(reason.starts_with("authentication refused"), "{reason}");
}

#[test]
fn a_replaced_line_does_not_take_the_answers_of_the_old_one() {
    // The line is replaced while its first REGISTER is out: the answer to that REGISTER
    // (same CSeq number as the new line's first) is not the new registration's.
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let old = start(&mut ua, clock);
    let c = config(BASE);
    let mut renamed = LineSettings::from_config(&c, 1).unwrap();
    renamed.name = "2001".into();
    ua.add_line(renamed, addr(PROXY)).unwrap();
    let new = start(&mut ua, clock);
    assert_ne!(new.call_id(), old.call_id());
    states(&mut ua);
    answer(
        &mut ua,
        clock,
        30,
        &reply(&old, 200, "OK", "r1", &["Expires: 3600"]),
    );
    assert_eq!(states(&mut ua), vec![]);
    assert_eq!(ua.registration(1), Some(&RegState::Registering));
    answer(
        &mut ua,
        clock,
        40,
        &reply(&new, 200, "OK", "r2", &["Expires: 3600"]),
    );
    assert!(matches!(
        states(&mut ua).last(),
        Some(RegState::Registered { .. })
    ));
}

#[test]
fn no_credentials_no_answer() {
    let clock = Clock::new();
    let mut ua = ua_from("proxy1_address: \"192.0.2.1\"\nline1_name: \"1001\"\n");
    let reg = start(&mut ua, clock);
    let challenge = reply(
        &reg,
        401,
        "Unauthorized",
        "r1",
        &["WWW-Authenticate: Digest realm=\"example.com\", nonce=\"x\""],
    );
    assert!(answer(&mut ua, clock, 30, &challenge).is_empty());
    assert!(matches!(
        states(&mut ua).last(),
        Some(RegState::Failed { .. })
    ));
}

#[test]
fn silence_and_errors_back_off_exponentially() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    start(&mut ua, clock);
    // No answer: 11 copies, then failure at 32 s.
    let sent = run_until(&mut ua, clock, 32_000);
    assert_eq!(sent.len(), 10);
    let Some(RegState::Failed { retry, .. }) = states(&mut ua).last().cloned() else {
        panic!("failed expected")
    };
    let wait = retry.duration_since(clock.at(32_000));
    assert!(
        wait >= Duration::from_secs(15) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    // The retry goes out exactly then, as a new REGISTER.
    let at = clock.ms(retry);
    assert!(run_until(&mut ua, clock, at - 1).is_empty());
    let sent = run_until(&mut ua, clock, at + 1);
    let retry_reg = parse(&sent[0].1);
    assert_eq!(retry_reg.header(&Name::CSEQ), Some("2 REGISTER"));
    assert_eq!(states(&mut ua), vec![RegState::Registering]);
    // 503: second failure, twice the wait.
    answer(
        &mut ua,
        clock,
        at + 10,
        &reply(&retry_reg, 503, "Service Unavailable", "r", &[]),
    );
    let Some(RegState::Failed { reason, retry }) = states(&mut ua).last().cloned() else {
        panic!("failed expected")
    };
    assert_eq!(reason, "503 Service Unavailable");
    let wait = retry.duration_since(clock.at(at + 10));
    assert!(
        wait >= Duration::from_secs(30) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}

#[test]
fn interval_too_brief_is_obeyed() {
    let clock = Clock::new();
    let mut ua = ua_from(&format!("{BASE}timer_register_expires: 30\n"));
    let reg = start(&mut ua, clock);
    let again = answer(
        &mut ua,
        clock,
        20,
        &reply(&reg, 423, "Interval Too Brief", "r", &["Min-Expires: 600"]),
    )
    .remove(0);
    assert_eq!(again.header(&Name::EXPIRES), Some("600"));
}

#[test]
fn unregister_sends_expires_zero_and_stops_refreshing() {
    let clock = Clock::new();
    let mut ua = ua_from(BASE);
    let reg = start(&mut ua, clock);
    answer(
        &mut ua,
        clock,
        20,
        &reply(&reg, 200, "OK", "r", &["Expires: 3600"]),
    );
    ua.unregister(clock.at(1000), 1);
    let sent = drain(&mut ua, 1000);
    let unreg = parse(&sent[0].1);
    assert_eq!(unreg.header(&Name::EXPIRES), Some("0"));
    assert_eq!(unreg.header(&Name::CONTACT), reg.header(&Name::CONTACT));
    assert_eq!(unreg.header(&Name::CSEQ), Some("2 REGISTER"));
    answer(&mut ua, clock, 1050, &reply(&unreg, 200, "OK", "r", &[]));
    assert_eq!(states(&mut ua).last(), Some(&RegState::Unregistered));
    assert!(
        run_until(&mut ua, clock, 10_000_000).is_empty(),
        "no refresh, no retry"
    );
    assert_eq!(ua.poll_timeout(), None);
    // And back: proxy_register returns to 1.
    ua.register(clock.at(10_000_000), 1);
    let sent = drain(&mut ua, 10_000_000);
    assert_eq!(parse(&sent[0].1).header(&Name::EXPIRES), Some("3600"));
}

/// A 200 to `reg` whose Via says the registrar saw the phone at `received`.
fn ok_received(reg: &Message, received: &str) -> Vec<u8> {
    let text = String::from_utf8(reply(reg, 200, "OK", "r", &["Expires: 3600"])).unwrap();
    let via = reg.vias()[0].to_string();
    text.replacen(&via, &format!("{via};received={received}"), 1)
        .into_bytes()
}

#[test]
fn nat_received_processing_moves_the_contact_and_removes_the_old_binding() {
    let cnf =
        format!("{BASE}nat_enable: 1\nnat_address: \"198.51.100.1\"\nnat_received_processing: 1\n");
    let mut ua = ua_from(&cnf);
    let clock = Clock::new();
    let reg = start(&mut ua, clock);
    assert_eq!(
        reg.header(&Name::CONTACT),
        Some("<sip:1001@198.51.100.1:5060>")
    );
    let sent = answer(&mut ua, clock, 10, &ok_received(&reg, "203.0.113.5"));
    assert_eq!(sent.len(), 1, "one REGISTER moves the binding");
    let contacts: Vec<&str> = sent[0].header_values(&Name::CONTACT).collect();
    assert_eq!(
        contacts,
        [
            "<sip:1001@203.0.113.5:5060>",
            "<sip:1001@198.51.100.1:5060>;expires=0"
        ]
    );
    assert!(!states(&mut ua)
        .iter()
        .any(|s| matches!(s, RegState::Registered { .. })));
    // Registered at the new address; the next refresh names only it.
    let sent2 = answer(&mut ua, clock, 20, &ok_received(&sent[0], "203.0.113.5"));
    assert!(sent2.is_empty());
    assert!(matches!(
        states(&mut ua).last(),
        Some(RegState::Registered { .. })
    ));

    // Off (the default): received= changes nothing.
    let mut ua = ua_from(&format!(
        "{BASE}nat_enable: 1\nnat_address: \"198.51.100.1\"\n"
    ));
    let reg = start(&mut ua, clock);
    assert!(answer(&mut ua, clock, 10, &ok_received(&reg, "203.0.113.5")).is_empty());
    assert!(matches!(
        states(&mut ua).last(),
        Some(RegState::Registered { .. })
    ));
}
