//! RFC 3261 section 17 transactions in simulated time: retransmission intervals and counts
//! as configured, timeouts reported, retransmissions absorbed, ACKs built, matching with and
//! without the magic cookie, responses routed by Via.

mod common;

use std::time::Duration;

use common::*;
use deskphone_sip::transaction::MAX_TRANSACTIONS;
use deskphone_sip::{response_to, Endpoint, Event, Message, Name, Timers};

const PEER: &str = "198.51.100.7:5060";

fn endpoint(timers: Timers) -> Endpoint {
    Endpoint::new(timers, "192.0.2.20:5060", 42)
}

fn request(method: &str) -> Message {
    let mut m = Message::request(method, "sip:alice@198.51.100.7");
    m.push(Name::FROM, "<sip:1001@example.com>;tag=ftag");
    m.push(Name::TO, "<sip:alice@example.com>");
    m.push(Name::CALL_ID, "call-1@192.0.2.20");
    m.push(Name::CSEQ, format!("1 {method}"));
    m.push(Name::MAX_FORWARDS, "70");
    m
}

fn events(ep: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

fn times(sent: &[(u64, deskphone_sip::Transmit)]) -> Vec<u64> {
    sent.iter().map(|(t, _)| *t).collect()
}

#[test]
fn unanswered_invite_is_sent_seven_times_and_times_out_at_64_t1() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let tx = ep
        .send_request(clock.at(0), request("INVITE"), addr(PEER))
        .unwrap();
    let mut sent = drain(&mut ep, 0);
    sent.extend(run_until(&mut ep, clock, 100_000));
    assert_eq!(times(&sent), vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert!(sent.iter().all(|(_, t)| t.destination == addr(PEER)));
    assert!(sent.windows(2).all(|w| w[0].1.payload == w[1].1.payload));
    let ev = events(&mut ep);
    assert!(matches!(ev.as_slice(), [Event::Timeout { tx: t }] if *t == tx));
    assert_eq!(ep.transaction_count(), (0, 0));
}

#[test]
fn the_timeout_comes_one_t1_after_the_last_invite_retransmission() {
    let clock = Clock::new();
    let timers = Timers {
        invite_retx: 3,
        ..Timers::default()
    };
    let mut ep = endpoint(timers);
    ep.send_request(clock.at(0), request("INVITE"), addr(PEER))
        .unwrap();
    let mut sent = drain(&mut ep, 0);
    // Step by step to see when the timeout fires.
    let mut timeout_at = None;
    while let Some(t) = ep.poll_timeout() {
        ep.handle_timeout(t);
        sent.extend(drain(&mut ep, clock.ms(t)));
        if events(&mut ep)
            .iter()
            .any(|e| matches!(e, Event::Timeout { .. }))
        {
            timeout_at = Some(clock.ms(t));
        }
    }
    assert_eq!(times(&sent), vec![0, 500, 1500, 3500]);
    assert_eq!(timeout_at, Some(4000));
}

#[test]
fn unanswered_options_is_sent_eleven_times_with_t2_cap() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    ep.send_request(clock.at(0), request("OPTIONS"), addr(PEER))
        .unwrap();
    let mut sent = drain(&mut ep, 0);
    sent.extend(run_until(&mut ep, clock, 31_999));
    assert_eq!(
        times(&sent),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(events(&mut ep).is_empty(), "no timeout before 32 s");
    run_until(&mut ep, clock, 32_000);
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Timeout { .. }]
    ));
}

#[test]
fn configured_t1_t2_and_count_govern_non_invite() {
    let clock = Clock::new();
    let timers = Timers {
        t1: Duration::from_millis(200),
        t2: Duration::from_millis(1000),
        retx: 5,
        ..Timers::default()
    };
    assert_eq!(timers.non_invite_timeout(), Duration::from_millis(3600));
    let mut ep = endpoint(timers);
    ep.send_request(clock.at(0), request("REGISTER"), addr(PEER))
        .unwrap();
    let mut sent = drain(&mut ep, 0);
    sent.extend(run_until(&mut ep, clock, 3500));
    // Intervals 200, 400, 800, then 1000 (T2) twice; the timeout 200 ms after the last.
    assert_eq!(times(&sent), vec![0, 200, 600, 1400, 2400, 3400]);
    run_until(&mut ep, clock, 3599);
    assert!(events(&mut ep).is_empty());
    run_until(&mut ep, clock, 3600);
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Timeout { .. }]
    ));
}

#[test]
fn a_provisional_response_moves_non_invite_retransmissions_to_t2() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    ep.send_request(clock.at(0), request("OPTIONS"), addr(PEER))
        .unwrap();
    let first = drain(&mut ep, 0);
    let sent_req = parse(&first[0].1);
    let mut sent = run_until(&mut ep, clock, 1000); // 500
    ep.handle_datagram(
        clock.at(1000),
        addr(PEER),
        &reply(&sent_req, 100, "Trying", "", &[]),
    );
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Response { .. }]
    ));
    sent.extend(run_until(&mut ep, clock, 20_000));
    // Already armed for 1500; from then on every T2.
    assert_eq!(times(&sent), vec![500, 1500, 5500, 9500, 13500, 17500]);
    // A final response ends it; its retransmission is absorbed.
    let ok = reply(&sent_req, 200, "OK", "t1", &[]);
    ep.handle_datagram(clock.at(20_000), addr(PEER), &ok);
    ep.handle_datagram(clock.at(20_100), addr(PEER), &ok);
    let ev = events(&mut ep);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(run_until(&mut ep, clock, 60_000).is_empty());
    assert_eq!(ep.transaction_count(), (0, 0), "timer K ended it");
}

#[test]
fn invite_error_response_is_acked_inside_the_transaction() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let mut invite = request("INVITE");
    invite.push(Name::ROUTE, "<sip:proxy.example.com;lr>");
    let tx = ep.send_request(clock.at(0), invite, addr(PEER)).unwrap();
    let sent_invite = parse(&drain(&mut ep, 0)[0].1);
    ep.handle_datagram(
        clock.at(300),
        addr(PEER),
        &reply(&sent_invite, 180, "Ringing", "callee", &[]),
    );
    assert!(drain(&mut ep, 300).is_empty());
    assert!(
        run_until(&mut ep, clock, 60_000).is_empty(),
        "no retransmission and no timeout in Proceeding"
    );
    let busy = reply(&sent_invite, 486, "Busy Here", "callee", &[]);
    ep.handle_datagram(clock.at(60_000), addr(PEER), &busy);
    let acks = drain(&mut ep, 60_000);
    assert_eq!(acks.len(), 1);
    let ack = parse(&acks[0].1);
    assert_eq!(ack.method(), Some("ACK"));
    assert_eq!(ack.uri(), sent_invite.uri());
    assert_eq!(
        ack.vias(),
        vec![sent_invite.vias()[0]],
        "the INVITE's top Via, same branch"
    );
    assert_eq!(ack.to_tag(), Some("callee"));
    assert_eq!(ack.from_tag(), Some("ftag"));
    assert_eq!(ack.call_id(), sent_invite.call_id());
    assert_eq!(ack.header(&Name::CSEQ), Some("1 ACK"));
    assert_eq!(ack.header(&Name::ROUTE), Some("<sip:proxy.example.com;lr>"));
    let ev = events(&mut ep);
    assert_eq!(ev.len(), 2, "180 and 486: {ev:?}");
    assert!(
        matches!(&ev[1], Event::Response { tx: t, response } if *t == tx && response.code() == Some(486))
    );
    // The 486 again: the same ACK again, nothing for the user.
    ep.handle_datagram(clock.at(61_000), addr(PEER), &busy);
    let again = drain(&mut ep, 61_000);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.payload, acks[0].1.payload);
    assert!(events(&mut ep).is_empty());
    // Timer D: 32 s later the transaction is gone.
    run_until(&mut ep, clock, 60_000 + 31_999);
    assert_eq!(ep.transaction_count(), (1, 0));
    run_until(&mut ep, clock, 60_000 + 32_000);
    assert_eq!(ep.transaction_count(), (0, 0));
}

#[test]
fn every_2xx_to_invite_reaches_the_user_until_timer_m() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    ep.send_request(clock.at(0), request("INVITE"), addr(PEER))
        .unwrap();
    let sent_invite = parse(&drain(&mut ep, 0)[0].1);
    let ok = reply(&sent_invite, 200, "OK", "callee", &[]);
    ep.handle_datagram(clock.at(100), addr(PEER), &ok);
    ep.handle_datagram(clock.at(600), addr(PEER), &ok);
    assert_eq!(events(&mut ep).len(), 2, "the user ACKs each 2xx");
    assert!(
        drain(&mut ep, 600).is_empty(),
        "ACK of a 2xx is the user's, not the transaction's"
    );
    run_until(&mut ep, clock, 100 + 32_000);
    assert_eq!(ep.transaction_count(), (0, 0));
    ep.handle_datagram(clock.at(40_000), addr(PEER), &ok);
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Dropped { .. }]
    ));
}

fn incoming(method: &str, branch: &str, cseq: u32) -> Vec<u8> {
    datagram(
        &[
            &format!("{method} sip:1001@192.0.2.20:5060 SIP/2.0"),
            &format!("Via: SIP/2.0/UDP 198.51.100.7:5060;branch={branch}"),
            "From: <sip:alice@example.com>;tag=atag",
            "To: <sip:1001@example.com>",
            "Call-ID: in-1@198.51.100.7",
            &format!("CSeq: {cseq} {method}"),
            "Max-Forwards: 70",
        ],
        "",
    )
}

#[test]
fn non_invite_server_absorbs_retransmissions_for_64_t1() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let msg = incoming("NOTIFY", "z9hG4bKn1", 5);
    ep.handle_datagram(clock.at(0), addr(PEER), &msg);
    let ev = events(&mut ep);
    let [Event::Request { tx, request, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    // Retransmitted before the answer: absorbed silently.
    ep.handle_datagram(clock.at(500), addr(PEER), &msg);
    assert!(events(&mut ep).is_empty());
    assert!(drain(&mut ep, 500).is_empty());
    ep.respond(clock.at(600), *tx, response_to(request, 200, "OK", "me"))
        .unwrap();
    let ok = drain(&mut ep, 600);
    assert_eq!(ok.len(), 1);
    assert!(ep
        .respond(clock.at(650), *tx, response_to(request, 500, "No", "me"))
        .is_err());
    // Retransmitted after: the same 200 again.
    ep.handle_datagram(clock.at(1500), addr(PEER), &msg);
    let again = drain(&mut ep, 1500);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.payload, ok[0].1.payload);
    assert!(events(&mut ep).is_empty());
    // Timer J: 64·T1 after the 200.
    run_until(&mut ep, clock, 600 + 31_999);
    assert_eq!(ep.transaction_count(), (0, 1));
    run_until(&mut ep, clock, 600 + 32_000);
    assert_eq!(ep.transaction_count(), (0, 0));
}

#[test]
fn invite_server_retransmits_its_error_until_the_ack() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let invite = incoming("INVITE", "z9hG4bKi1", 1);
    ep.handle_datagram(clock.at(0), addr(PEER), &invite);
    let trying = drain(&mut ep, 0);
    assert_eq!(parse(&trying[0].1).code(), Some(100), "100 Trying at once");
    let ev = events(&mut ep);
    let [Event::Request { tx, request, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    // The INVITE again: 100 again.
    ep.handle_datagram(clock.at(200), addr(PEER), &invite);
    assert_eq!(parse(&drain(&mut ep, 200)[0].1).code(), Some(100));
    ep.respond(
        clock.at(1000),
        *tx,
        response_to(request, 486, "Busy Here", "me"),
    )
    .unwrap();
    let mut sent = drain(&mut ep, 1000);
    sent.extend(run_until(&mut ep, clock, 5000));
    // Timer G: T1, 2·T1, 4·T1 ...
    assert_eq!(times(&sent), vec![1000, 1500, 2500, 4500]);
    let ack = datagram(
        &[
            "ACK sip:1001@192.0.2.20:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKi1",
            "From: <sip:alice@example.com>;tag=atag",
            "To: <sip:1001@example.com>;tag=me",
            "Call-ID: in-1@198.51.100.7",
            "CSeq: 1 ACK",
            "Max-Forwards: 70",
        ],
        "",
    );
    ep.handle_datagram(clock.at(5000), addr(PEER), &ack);
    ep.handle_datagram(clock.at(5100), addr(PEER), &ack);
    assert!(
        events(&mut ep).is_empty(),
        "the ACK of an error belongs to the transaction"
    );
    assert!(run_until(&mut ep, clock, 60_000).is_empty());
    assert_eq!(ep.transaction_count(), (0, 0), "timer I ended it");
}

#[test]
fn without_ack_the_error_is_sent_sip_retx_times_then_timer_h() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    ep.handle_datagram(clock.at(0), addr(PEER), &incoming("INVITE", "z9hG4bKi2", 1));
    drain(&mut ep, 0);
    let ev = events(&mut ep);
    let [Event::Request { tx, request, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    ep.respond(clock.at(0), *tx, response_to(request, 603, "Decline", "me"))
        .unwrap();
    let mut sent = drain(&mut ep, 0);
    let mut no_ack_at = None;
    while let Some(t) = ep.poll_timeout() {
        ep.handle_timeout(t);
        sent.extend(drain(&mut ep, clock.ms(t)));
        if events(&mut ep)
            .iter()
            .any(|e| matches!(e, Event::NoAck { .. }))
        {
            no_ack_at = Some(clock.ms(t));
        }
    }
    assert_eq!(
        times(&sent),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert_eq!(no_ack_at, Some(32_000), "64·T1 with the defaults");
}

#[test]
fn a_2xx_to_invite_is_retransmitted_by_the_user_and_acked_outside() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let invite = incoming("INVITE", "z9hG4bKi3", 1);
    ep.handle_datagram(clock.at(0), addr(PEER), &invite);
    drain(&mut ep, 0);
    let ev = events(&mut ep);
    let [Event::Request { tx, request, .. }] = ev.as_slice() else {
        panic!("{ev:?}")
    };
    ep.respond(clock.at(10), *tx, response_to(request, 200, "OK", "me"))
        .unwrap();
    ep.respond(clock.at(510), *tx, response_to(request, 200, "OK", "me"))
        .unwrap();
    assert_eq!(drain(&mut ep, 510).len(), 2);
    // A retransmitted INVITE is absorbed in Accepted (RFC 6026).
    ep.handle_datagram(clock.at(600), addr(PEER), &invite);
    assert!(drain(&mut ep, 600).is_empty());
    let ack = datagram(
        &[
            "ACK sip:1001@192.0.2.20:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnewbranch",
            "From: <sip:alice@example.com>;tag=atag",
            "To: <sip:1001@example.com>;tag=me",
            "Call-ID: in-1@198.51.100.7",
            "CSeq: 1 ACK",
        ],
        "",
    );
    ep.handle_datagram(clock.at(700), addr(PEER), &ack);
    assert!(matches!(events(&mut ep).as_slice(), [Event::Ack { .. }]));
}

#[test]
fn rfc2543_requests_match_without_the_magic_cookie() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    // RFC 4475 badbranch: the branch is only the cookie.
    let badbranch = std::fs::read(testdata().join("badbranch.dat")).unwrap();
    ep.handle_datagram(clock.at(0), addr(PEER), &badbranch);
    assert_eq!(events(&mut ep).len(), 1);
    ep.handle_datagram(clock.at(500), addr(PEER), &badbranch);
    assert!(
        events(&mut ep).is_empty(),
        "a retransmission by the RFC 2543 rules"
    );
    // No branch at all, as RFC 2543 sent it; a new CSeq is a new transaction.
    let old = |cseq: u32| {
        datagram(
            &[
                "OPTIONS sip:1001@192.0.2.20 SIP/2.0",
                "Via: SIP/2.0/UDP 198.51.100.7",
                "From: <sip:old@example.com>;tag=x",
                "To: <sip:1001@example.com>",
                "Call-ID: old-1",
                &format!("CSeq: {cseq} OPTIONS"),
            ],
            "",
        )
    };
    ep.handle_datagram(clock.at(600), addr(PEER), &old(1));
    ep.handle_datagram(clock.at(700), addr(PEER), &old(1));
    ep.handle_datagram(clock.at(800), addr(PEER), &old(2));
    assert_eq!(events(&mut ep).len(), 2);
    // With the cookie, the branch decides: the same branch from another sent-by is another
    // transaction.
    let with_cookie = |host: &str| {
        datagram(
            &[
                "OPTIONS sip:1001@192.0.2.20 SIP/2.0",
                &format!("Via: SIP/2.0/UDP {host};branch=z9hG4bKsame"),
                "From: <sip:a@example.com>;tag=x",
                "To: <sip:1001@example.com>",
                "Call-ID: c-1",
                "CSeq: 1 OPTIONS",
            ],
            "",
        )
    };
    ep.handle_datagram(clock.at(900), addr(PEER), &with_cookie("198.51.100.7"));
    ep.handle_datagram(clock.at(901), addr(PEER), &with_cookie("198.51.100.7:5060"));
    ep.handle_datagram(clock.at(902), addr(PEER), &with_cookie("198.51.100.8"));
    assert_eq!(events(&mut ep).len(), 2);
}

#[test]
fn responses_follow_received_and_rport() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let source = addr("203.0.113.9:40000");
    let answer = |ep: &mut Endpoint, via: &str, n: u32| {
        let msg = datagram(
            &[
                "OPTIONS sip:1001@192.0.2.20 SIP/2.0",
                &format!("Via: {via}"),
                "From: <sip:a@example.com>;tag=x",
                "To: <sip:1001@example.com>",
                &format!("Call-ID: route-{n}"),
                "CSeq: 1 OPTIONS",
            ],
            "",
        );
        ep.handle_datagram(clock.at(0), source, &msg);
        let ev = events(ep);
        let [Event::Request { tx, request, .. }] = ev.as_slice() else {
            panic!("{ev:?}")
        };
        ep.respond(clock.at(0), *tx, response_to(request, 200, "OK", "t"))
            .unwrap();
        let sent = drain(ep, 0);
        (
            sent[0].1.destination,
            parse(&sent[0].1).vias()[0].to_string(),
        )
    };
    // Via host differs from the source: received= added, answer to the source IP, Via port.
    let (to, via) = answer(&mut ep, "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK1", 1);
    assert_eq!(to, addr("203.0.113.9:5062"));
    assert_eq!(
        via,
        "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK1;received=203.0.113.9"
    );
    // rport asked for: filled in, answer to the source port.
    let (to, via) = answer(
        &mut ep,
        "SIP/2.0/UDP 10.0.0.5:5062;rport;branch=z9hG4bK2",
        2,
    );
    assert_eq!(to, source);
    assert_eq!(
        via,
        "SIP/2.0/UDP 10.0.0.5:5062;rport=40000;branch=z9hG4bK2;received=203.0.113.9"
    );
    // Via host is the source: no received=, answer to the Via address.
    let (to, via) = answer(&mut ep, "SIP/2.0/UDP 203.0.113.9;branch=z9hG4bK3", 3);
    assert_eq!(to, addr("203.0.113.9:5060"));
    assert!(!via.contains("received"));
    // received= already there: it wins.
    let (to, _) = answer(
        &mut ep,
        "SIP/2.0/UDP host.example.com:5070;branch=z9hG4bK4;received=192.0.2.99",
        4,
    );
    assert_eq!(to, addr("192.0.2.99:5070"));
}

#[test]
fn our_requests_carry_our_via_with_rport_and_a_fresh_branch() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    ep.send_request(clock.at(0), request("OPTIONS"), addr(PEER))
        .unwrap();
    ep.send_request(clock.at(0), request("OPTIONS"), addr(PEER))
        .unwrap();
    let sent = drain(&mut ep, 0);
    let vias: Vec<String> = sent
        .iter()
        .map(|(_, t)| parse(t).vias()[0].to_string())
        .collect();
    for v in &vias {
        assert!(
            v.starts_with("SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK"),
            "{v}"
        );
        assert!(v.ends_with(";rport"), "{v}");
    }
    assert_ne!(vias[0], vias[1]);
}

#[test]
fn stray_responses_are_dropped() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    let bcast = std::fs::read(testdata().join("bcast.dat")).unwrap();
    ep.handle_datagram(clock.at(0), addr(PEER), &bcast);
    assert!(drain(&mut ep, 0).is_empty());
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Dropped { .. }]
    ));
}

#[test]
fn the_transaction_table_is_bounded() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    for n in 0..MAX_TRANSACTIONS + 10 {
        let msg = incoming("MESSAGE", &format!("z9hG4bKflood{n}"), 1);
        ep.handle_datagram(clock.at(0), addr(PEER), &msg);
    }
    assert_eq!(ep.transaction_count(), (0, MAX_TRANSACTIONS));
    let sent = drain(&mut ep, 0);
    assert_eq!(sent.len(), 10);
    assert!(sent.iter().all(|(_, t)| parse(t).code() == Some(503)));
    for _ in 0..MAX_TRANSACTIONS {
        ep.send_request(clock.at(0), request("OPTIONS"), addr(PEER))
            .unwrap();
    }
    assert!(ep
        .send_request(clock.at(0), request("OPTIONS"), addr(PEER))
        .is_err());
}

#[test]
fn answered_transactions_make_room_for_new_requests_when_the_table_is_full() {
    let clock = Clock::new();
    let mut ep = endpoint(Timers::default());
    // A flood of requests the layer above answers at once (405): each stays for 64·T1 to
    // absorb retransmissions, and the table fills.
    for n in 0..MAX_TRANSACTIONS + 100 {
        let msg = incoming("MESSAGE", &format!("z9hG4bKanswered{n}"), 1);
        ep.handle_datagram(clock.at(n as u64), addr(PEER), &msg);
        for e in events(&mut ep) {
            if let Event::Request { tx, request, .. } = e {
                let r = deskphone_sip::response_to(&request, 405, "Method Not Allowed", "t");
                ep.respond(clock.at(n as u64), tx, r).unwrap();
            }
        }
    }
    assert_eq!(ep.transaction_count(), (0, MAX_TRANSACTIONS));
    let sent = drain(&mut ep, 0);
    assert!(
        sent.iter().all(|(_, t)| parse(t).code() == Some(405)),
        "no 503 while finished transactions can make room"
    );
    // A real call still gets in: its INVITE opens a transaction (100 Trying).
    let invite = incoming("INVITE", "z9hG4bKreal", 1);
    ep.handle_datagram(clock.at(700), addr(PEER), &invite);
    let sent = drain(&mut ep, 700);
    assert_eq!(parse(&sent[0].1).code(), Some(100));
    assert!(matches!(events(&mut ep)[..], [Event::Request { .. }]));
    // The oldest answered one went first: its retransmission is a new request now, the
    // newest one's is still absorbed.
    let newest = incoming(
        "MESSAGE",
        &format!("z9hG4bKanswered{}", MAX_TRANSACTIONS + 99),
        1,
    );
    ep.handle_datagram(clock.at(701), addr(PEER), &newest);
    assert_eq!(parse(&drain(&mut ep, 701)[0].1).code(), Some(405));
    assert!(events(&mut ep).is_empty());
}

mod schedules {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// For any T1, T2 and counts: exactly count+1 copies, each interval the previous one
        /// doubled (capped at T2 except for INVITE), the timeout one T1 after the last copy.
        #[test]
        fn any_configuration_keeps_the_schedule(
            t1 in 1u64..3000,
            t2_extra in 0u64..8000,
            count in 0u32..12,
            invite in any::<bool>(),
        ) {
            let clock = Clock::new();
            let timers = Timers {
                t1: Duration::from_millis(t1),
                t2: Duration::from_millis(t1 + t2_extra),
                invite_retx: count,
                retx: count,
                ..Timers::default()
            };
            let mut ep = endpoint(timers);
            let method = if invite { "INVITE" } else { "OPTIONS" };
            ep.send_request(clock.at(0), request(method), addr(PEER)).unwrap();
            let mut sent = times(&drain(&mut ep, 0));
            let mut timeout_at = None;
            while let Some(t) = ep.poll_timeout() {
                ep.handle_timeout(t);
                sent.extend(times(&drain(&mut ep, clock.ms(t))));
                if events(&mut ep).iter().any(|e| matches!(e, Event::Timeout { .. })) {
                    timeout_at = Some(clock.ms(t));
                }
            }
            prop_assert_eq!(sent.len() as u32, count + 1);
            let mut interval = t1;
            for w in sent.windows(2) {
                prop_assert_eq!(w[1] - w[0], interval);
                interval *= 2;
                if !invite {
                    interval = interval.min(t1 + t2_extra);
                }
            }
            prop_assert_eq!(timeout_at, Some(sent.last().unwrap() + t1));
            prop_assert_eq!(ep.transaction_count(), (0, 0));
        }
    }
}
