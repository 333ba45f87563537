//! Never a panic, whatever arrives: arbitrary bytes, mutated torture messages, SIP-shaped
//! garbage; and a flood does not stop a registration refresh or grow memory.

mod common;

use common::*;
use deskphone_sip::transaction::MAX_TRANSACTIONS;
use deskphone_sip::{inspect, LineSettings, Name, RegState, Settings, UaEvent, UserAgent};
use proptest::prelude::*;

fn torture() -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Feeds a datagram to a fresh user agent and runs its timers out.
fn feed(data: &[u8]) {
    let clock = Clock::new();
    let _ = inspect(data);
    let mut ua = UserAgent::new(Settings::default(), addr("192.0.2.20:5060"), 1);
    ua.handle_datagram(clock.at(0), addr("198.51.100.7:5060"), data);
    ua.handle_datagram(clock.at(1), addr("198.51.100.7:5060"), data);
    while ua.poll_event().is_some() {}
    run_until(&mut ua, clock, 120_000);
    // Whatever it sends, it sends to someone.
    while let Some(t) = ua.poll_transmit() {
        assert!(!t.payload.is_empty());
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
    DuplicateLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'\r'),
                    Just(b'\n'),
                    Just(b' '),
                    Just(b':'),
                    Just(b';'),
                    Just(b','),
                    Just(b'"'),
                    Just(b'<'),
                    Just(b'>'),
                    Just(b'%'),
                    any::<u8>()
                ],
                1..12
            )
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DuplicateLine),
    ]
}

fn apply(mut data: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Flip(i, b) => {
            if !data.is_empty() {
                let i = i % data.len();
                data[i] = *b;
            }
        }
        Mutation::Delete(i, n) => {
            let i = at(*i, data.len());
            let end = (i + n).min(data.len());
            data.drain(i..end);
        }
        Mutation::Insert(i, v) => {
            let i = at(*i, data.len());
            data.splice(i..i, v.iter().copied());
        }
        Mutation::Truncate(i) => {
            let i = at(*i, data.len());
            data.truncate(i);
        }
        Mutation::DuplicateLine(i) => {
            let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            let pick = lines[i % lines.len()].to_vec();
            let pos = at(*i, data.len());
            let mut ins = pick;
            ins.push(b'\n');
            data.splice(pos..pos, ins);
        }
    }
    data
}

/// SIP-shaped lines: a start line and headers from a vocabulary, so the checks past the
/// start line are reached often.
fn sip_shaped() -> impl Strategy<Value = Vec<u8>> {
    let start = prop_oneof![
        Just("INVITE sip:a@b SIP/2.0".to_string()),
        Just("OPTIONS sip:a@b;x SIP/2.0".to_string()),
        Just("ACK sip:a@b SIP/2.0".to_string()),
        Just("SIP/2.0 200 OK".to_string()),
        Just("SIP/2.0 486 Busy".to_string()),
        "[A-Z]{1,8} [a-z:@.;<>]{0,12} SIP/[0-9.]{1,4}",
        "SIP/2.0 [0-9]{1,5} [ -~]{0,10}",
    ];
    let header = prop_oneof![
        "Via: SIP/2.0/UDP [a-z0-9.:]{1,12}(;branch=z9hG4bK[a-z0-9]{0,6})?(;rport)?(;received=[0-9.]{1,9})?",
        "(From|To|f|t): [\"a-z <>:@;=,]{0,30}",
        "(Call-ID|i): [ -~]{0,12}",
        "CSeq: [0-9 ]{0,12}[A-Z]{0,7}",
        "(Content-Length|l): [-0-9 ]{0,6}",
        "Max-Forwards: [0-9]{0,4}",
        "(Contact|m): [\"a-z <>:@;=,*?]{0,30}",
        "(Require|Accept|Content-Type): [a-z/,; ]{0,20}",
        "(WWW-Authenticate|Expires|Min-Expires): [ -~]{0,20}",
        "[ \t][ -~]{0,10}",
    ];
    (
        start,
        prop::collection::vec(header, 0..12),
        "[ -~\r\n]{0,40}",
    )
        .prop_map(|(s, hs, body)| {
            let mut out = s;
            out.push_str("\r\n");
            for h in hs {
                out.push_str(&h);
                out.push_str("\r\n");
            }
            out.push_str("\r\n");
            out.push_str(&body);
            out.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        feed(&data);
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let files = torture();
        let mut data = files[file.index(files.len())].clone();
        for m in &mutations {
            data = apply(data, m);
        }
        feed(&data);
    }

    #[test]
    fn sip_shaped_garbage_never_panics(data in sip_shaped()) {
        feed(&data);
    }
}

#[test]
fn a_flood_does_not_stop_the_refresh_nor_grow_memory() {
    let clock = Clock::new();
    let proxy = addr("192.0.2.1:5060");
    let mut ua = UserAgent::new(Settings::default(), addr("192.0.2.20:5060"), 3);
    let line = LineSettings {
        line: 1,
        name: "1001".into(),
        authname: None,
        password: None,
        display_name: None,
        proxy: "192.0.2.1".into(),
        proxy_port: 5060,
    };
    ua.add_line(line, proxy).unwrap();
    ua.register(clock.at(0), 1);
    let reg = parse(&drain(&mut ua, 0)[0].1);
    ua.handle_datagram(
        clock.at(10),
        proxy,
        &reply(&reg, 200, "OK", "r", &["Expires: 120"]),
    );
    drain(&mut ua, 10);
    let files = torture();
    let attacker = addr("203.0.113.66:5060");
    // 60 s of flood, 50 datagrams every 100 ms: junk, torture messages, fresh requests that
    // nobody answers (they pile up in the transaction table).
    let mut sent_refresh = None;
    for step in 0..600u64 {
        let now = 10 + step * 100;
        for k in 0..50u64 {
            let n = step * 50 + k;
            let data = match k % 3 {
                0 => files[(n as usize) % files.len()].clone(),
                1 => format!("junk {n} \r\n\r\n").into_bytes(),
                _ => datagram(
                    &[
                        "MESSAGE sip:1001@192.0.2.20 SIP/2.0",
                        &format!("Via: SIP/2.0/UDP 203.0.113.66;branch=z9hG4bKf{n}"),
                        "From: <sip:x@example.com>;tag=1",
                        "To: <sip:1001@example.com>",
                        &format!("Call-ID: flood-{n}"),
                        "CSeq: 1 MESSAGE",
                    ],
                    "",
                ),
            };
            ua.handle_datagram(clock.at(now), attacker, &data);
        }
        for (_, t) in run_until(&mut ua, clock, now)
            .into_iter()
            .chain(drain(&mut ua, now))
        {
            if t.destination == proxy {
                let m = parse(&t);
                if m.method() == Some("REGISTER") && sent_refresh.is_none() {
                    sent_refresh = Some((now, m));
                }
            }
        }
        while ua.poll_event().is_some() {}
        let (c, s) = ua.endpoint().transaction_count();
        assert!(c <= MAX_TRANSACTIONS && s <= MAX_TRANSACTIONS);
    }
    // Refresh due 32 s before the 120 s end: at 88 s after the 200; the flood ran to 60 s,
    // so run on.
    if sent_refresh.is_none() {
        for (t_ms, t) in run_until(&mut ua, clock, 10 + 88_000) {
            if t.destination == proxy {
                sent_refresh = Some((t_ms, parse(&t)));
            }
        }
    }
    let (at, refresh) = sent_refresh.expect("the refresh went out");
    assert_eq!(at, 10 + 88_000);
    assert_eq!(refresh.header(&Name::CSEQ), Some("2 REGISTER"));
    ua.handle_datagram(
        clock.at(at + 5),
        proxy,
        &reply(&refresh, 200, "OK", "r", &["Expires: 120"]),
    );
    let registered = std::iter::from_fn(|| ua.poll_event()).any(|e| {
        matches!(
            e,
            UaEvent::Registration {
                line: 1,
                state: RegState::Registered { .. }
            }
        )
    });
    assert!(registered);
}
