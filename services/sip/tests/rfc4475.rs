//! Every RFC 4475 torture message of ../shared/testdata/rfc4475/ against the verdicts of its
//! README, first through the checks alone, then through a running user agent (what it
//! answers, where, and that it stays healthy afterwards).

mod common;

use std::collections::BTreeMap;

use common::*;
use deskphone_sip::{inspect, Name, Settings, UaEvent, UserAgent, Verdict};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Parsed and handed on.
    Accept,
    /// A request answered with this status.
    Status(u16),
    /// A request the RFC allows to be accepted liberally; otherwise this status.
    Liberal(u16),
    /// A malformed response: dropped.
    Drop,
}
use Expect::*;

/// The README's table, file by file.
const TABLE: &[(&str, Expect)] = &[
    // 3.1.1 valid
    ("wsinv", Accept),
    ("intmeth", Accept),
    ("esc01", Accept),
    ("escnull", Accept),
    ("esc02", Accept),
    ("lwsdisp", Accept),
    ("longreq", Accept),
    ("dblreq", Accept),
    ("semiuri", Accept),
    ("transports", Accept),
    ("mpart01", Accept),
    ("unreason", Accept),
    ("noreason", Accept),
    // 3.1.2 invalid
    ("badinv01", Status(400)),
    ("clerr", Status(400)),
    ("ncl", Status(400)),
    ("scalar02", Status(400)),
    ("scalarlg", Drop),
    ("quotbal", Status(400)),
    ("ltgtruri", Status(400)),
    ("lwsruri", Status(400)),
    ("lwsstart", Liberal(400)),
    ("trws", Liberal(400)),
    ("escruri", Liberal(400)),
    ("baddate", Liberal(400)),
    ("regbadct", Status(400)),
    ("badaspec", Status(400)),
    ("baddn", Status(400)),
    ("badvers", Status(505)),
    ("mismatch01", Status(400)),
    ("mismatch02", Status(400)),
    ("bigcode", Drop),
    // 3.2 transaction
    ("badbranch", Accept),
    // 3.3 application
    ("insuf", Status(400)),
    ("unkscm", Status(416)),
    ("novelsc", Status(416)),
    ("unksm2", Accept),
    ("bext01", Status(420)),
    ("invut", Status(415)),
    ("regaut01", Accept),
    ("multi01", Status(400)),
    ("mcl01", Status(400)),
    ("bcast", Accept),
    ("zeromf", Status(483)),
    ("cparam01", Accept),
    ("cparam02", Accept),
    ("regescrt", Accept),
    ("sdp01", Status(406)),
    // 3.4 compatibility
    ("inv2543", Accept),
];

fn files() -> BTreeMap<String, Vec<u8>> {
    let dir = testdata();
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn the_table_covers_every_file() {
    let files = files();
    assert_eq!(files.len(), 49, "RFC 4475 has 49 messages");
    for name in files.keys() {
        assert!(
            TABLE.iter().any(|(n, _)| n == name),
            "{name} has no expected verdict"
        );
    }
    assert_eq!(TABLE.len(), 49);
}

#[test]
fn every_verdict_is_the_readmes() {
    let mut wrong = Vec::new();
    for (name, data) in files() {
        let expect = TABLE.iter().find(|(n, _)| *n == name).unwrap().1;
        let verdict = inspect(&data);
        let ok = match (expect, &verdict) {
            (Accept, Verdict::Request(_) | Verdict::Response(_)) => true,
            (Status(s), Verdict::Reject(r)) => r.status == s,
            (Liberal(_), Verdict::Request(_)) => true,
            (Liberal(s), Verdict::Reject(r)) => r.status == s,
            (Drop, Verdict::Drop(_)) => true,
            _ => false,
        };
        if !ok {
            wrong.push(format!("{name}: expected {expect:?}, got {verdict:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

fn line() -> deskphone_sip::LineSettings {
    deskphone_sip::LineSettings {
        line: 1,
        name: "1001".into(),
        authname: None,
        password: None,
        display_name: None,
        proxy: "192.0.2.1".into(),
        proxy_port: 5060,
    }
}

#[test]
fn the_user_agent_answers_each_as_expected_and_stays_healthy() {
    let clock = Clock::new();
    let phone = addr("192.0.2.20:5060");
    let peer = addr("198.51.100.7:5060");
    // One user agent takes them all (several reuse a branch, so they are retransmissions
    // of each other there); a fresh one per message shows each answer.
    let mut ua = UserAgent::new(Settings::default(), phone, 7);
    ua.add_line(line(), addr("192.0.2.1:5060")).unwrap();
    let mut now = 0;
    for (name, data) in files() {
        let expect = TABLE.iter().find(|(n, _)| *n == name).unwrap().1;
        now += 10;
        ua.handle_datagram(clock.at(now), peer, &data);
        let mut fresh = UserAgent::new(Settings::default(), phone, 7);
        fresh.add_line(line(), addr("192.0.2.1:5060")).unwrap();
        fresh.handle_datagram(clock.at(now), peer, &data);
        let sent = drain(&mut fresh, now);
        let events: Vec<UaEvent> = std::iter::from_fn(|| fresh.poll_event()).collect();
        let is_response = data.starts_with(b"SIP/");
        let statuses: Vec<u16> = sent.iter().filter_map(|(_, t)| lenient(t).code()).collect();
        match expect {
            Status(s) => assert_eq!(statuses, vec![s], "{name}"),
            Drop => assert!(
                sent.is_empty(),
                "{name}: a malformed response is never answered"
            ),
            Accept | Liberal(_) if is_response => {
                assert!(sent.is_empty(), "{name}: a stray response is not answered")
            }
            Accept | Liberal(_) => {
                let method = inspect(&data);
                let Verdict::Request(req) = method else {
                    panic!("{name}: accepted requests parse");
                };
                match req.method().unwrap() {
                    // OPTIONS is answered by the core itself.
                    "OPTIONS" => assert_eq!(statuses, vec![200], "{name}"),
                    // INVITE gets 100 Trying at once, then rings (180) as a new call, or
                    // 481 for a dialog this phone does not have.
                    "INVITE" => {
                        let expected = if req.to_tag().is_some() { 481 } else { 180 };
                        assert_eq!(statuses, vec![100, expected], "{name}");
                        if expected == 180 {
                            assert!(
                                events.iter().any(|e| matches!(
                                    e,
                                    UaEvent::Call(deskphone_sip::CallEvent::Incoming { .. })
                                )),
                                "{name}: rings"
                            );
                        }
                    }
                    _ => assert!(statuses.is_empty(), "{name}: {statuses:?}"),
                }
                if !matches!(req.method(), Some("OPTIONS" | "INVITE")) {
                    assert!(
                        events.iter().any(|e| matches!(
                            e,
                            UaEvent::Transaction(deskphone_sip::Event::Request { .. })
                        )),
                        "{name}: handed on"
                    );
                }
            }
        }
        // Answers go back to the sender (no Via host there is the source, or it carries
        // received=).
        for (_, t) in &sent {
            assert_eq!(t.destination.ip(), peer.ip(), "{name}");
        }
    }
    // The shared one is still answering OPTIONS afterwards.
    drain(&mut ua, now);
    now += 10;
    let options = datagram(
        &[
            "OPTIONS sip:1001@192.0.2.20 SIP/2.0",
            "Via: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKafter",
            "From: <sip:probe@example.com>;tag=1",
            "To: <sip:1001@192.0.2.20>",
            "Call-ID: after-torture",
            "CSeq: 1 OPTIONS",
            "Max-Forwards: 70",
        ],
        "",
    );
    ua.handle_datagram(clock.at(now), peer, &options);
    let sent = drain(&mut ua, now);
    assert_eq!(sent.len(), 1);
    let ok = parse(&sent[0].1);
    assert_eq!(ok.code(), Some(200));
    assert!(ok.header(&Name::ALLOW).unwrap().contains("OPTIONS"));
    assert!(ok.to_tag().is_some());
}

#[test]
fn rejections_carry_what_the_rfc_asks_for() {
    let data = |name: &str| std::fs::read(testdata().join(format!("{name}.dat"))).unwrap();
    let clock = Clock::new();
    let peer = addr("198.51.100.7:5060");
    let mut ua = UserAgent::new(Settings::default(), addr("192.0.2.20:5060"), 7);
    let answer = |ua: &mut UserAgent, name: &str| {
        ua.handle_datagram(clock.at(0), peer, &data(name));
        let sent = drain(ua, 0);
        assert_eq!(sent.len(), 1, "{name}");
        lenient(&sent[0].1)
    };
    let r = answer(&mut ua, "bext01");
    assert_eq!(r.code(), Some(420));
    let unsupported = r.header(&Name::UNSUPPORTED).unwrap();
    assert!(unsupported.contains("nothingSupportsThis"));
    assert!(unsupported.contains("nothingSupportsThisEither"));
    assert!(
        !unsupported.contains("noProxiesSupportThis"),
        "Proxy-Require is for proxies"
    );
    let r = answer(&mut ua, "invut");
    assert_eq!(r.code(), Some(415));
    assert_eq!(r.header(&Name::ACCEPT), Some("application/sdp"));
    let r = answer(&mut ua, "insuf");
    assert_eq!(r.code(), Some(400));
    assert_eq!(
        r.cseq().unwrap().number,
        193942,
        "what there is gets copied"
    );
    // badvers: its Via (SIP/7.0) cannot be read, so the answer goes to the source and
    // carries the Via as it came.
    ua.handle_datagram(clock.at(0), peer, &data("badvers"));
    let sent = drain(&mut ua, 0);
    assert_eq!(sent[0].1.destination, peer);
    let r = lenient(&sent[0].1);
    assert_eq!(r.code(), Some(505));
    assert_eq!(
        r.vias(),
        vec!["SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw"]
    );
}

#[test]
fn a_retransmitted_bad_invite_is_answered_once_per_copy_and_its_ack_absorbed() {
    let bad = std::fs::read(testdata().join("invut.dat")).unwrap();
    let clock = Clock::new();
    let peer = addr("198.51.100.7:5060");
    let mut ua = UserAgent::new(Settings::default(), addr("192.0.2.20:5060"), 7);
    ua.handle_datagram(clock.at(0), peer, &bad);
    let first = drain(&mut ua, 0);
    ua.handle_datagram(clock.at(100), peer, &bad);
    let again = drain(&mut ua, 100);
    assert_eq!(first.len(), 1);
    assert_eq!(again.len(), 1);
    assert_eq!(
        first[0].1.payload, again[0].1.payload,
        "same answer, same To tag"
    );
    // The ACK of the 415 (same branch) ends the retransmissions of timer G.
    let r = lenient(&first[0].1);
    let ack = datagram(
        &[
            "ACK sip:user@example.com SIP/2.0",
            "Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw",
            &format!("To: {}", r.header(&Name::TO).unwrap()),
            "From: sip:caller@example.net;tag=8392034",
            "Max-Forwards: 70",
            "Call-ID: invut.0ha0isndaksdjadsfij34n23d",
            "CSeq: 235448 ACK",
        ],
        "",
    );
    ua.handle_datagram(clock.at(200), peer, &ack);
    assert!(drain(&mut ua, 200).is_empty(), "an ACK is never answered");
    let later = run_until(&mut ua, clock, 60_000);
    assert!(
        later.is_empty(),
        "no retransmission after the ACK: {later:?}"
    );
    assert_eq!(ua.endpoint().transaction_count(), (0, 0));
}
