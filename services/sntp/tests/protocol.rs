//! The SNTP rules (RFC 4330 / RFC 5905) the core enforces, its timers, and run-time changes.

mod sim;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use deskphone_sntp::packet::{mode, Packet};
use deskphone_sntp::{
    Destination, Discard, Event, Kiss, Mode, NtpTimestamp, Offset, Settings, SyncState, Timing,
};
use proptest::prelude::*;
use sim::{at, secs, Phone, BROADCAST, ERROR_SECS, ONE_WAY, OTHER, SERVER};

fn unicast() -> Phone {
    Phone::new(Mode::Unicast, Some(SERVER))
}

fn kiss(phone: &mut Phone, from: Ipv4Addr, code: &[u8; 4]) -> Result<(), Discard> {
    let mut packet = phone.reply_packet(0);
    packet.reference_id = *code;
    phone.deliver_after_round_trip(at(from), Destination::Unicast, packet)
}

fn no_answers(phone: &Phone) -> Vec<(Option<Ipv4Addr>, u32)> {
    phone
        .events
        .iter()
        .filter_map(|e| match e {
            Event::NoAnswer { asked, count } => Some((*asked, *count)),
            _ => None,
        })
        .collect()
}

// ---- measurements ----

#[test]
fn a_reply_measures_offset_and_round_trip_with_the_four_timestamps() {
    let mut phone = unicast();
    phone.reply_from(SERVER).unwrap();
    let s = phone.samples()[0];
    let error = (s.offset.as_nanos() - ERROR_SECS * 1_000_000_000).abs();
    assert!(error < 10, "offset {} is {error} ns off", s.offset);
    let delay = s.delay.expect("a reply has a round trip");
    assert!(
        delay.abs_diff(2 * ONE_WAY) < Duration::from_nanos(10),
        "{delay:?}"
    );
    assert_eq!((s.server, s.stratum, s.mode), (SERVER, 2, Mode::Unicast));
    assert_eq!(s.arrived_as, Destination::Unicast);
}

#[test]
fn a_broadcast_measures_offset_from_its_transmit_timestamp_alone() {
    let mut phone = Phone::new(Mode::Multicast, None);
    phone
        .broadcast_from(SERVER, Destination::Multicast)
        .unwrap();
    let s = phone.samples()[0];
    // Without a round trip the one-way delay cannot be seen: the offset is short by it.
    let expected = ERROR_SECS * 1_000_000_000 - ONE_WAY.as_nanos() as i64;
    assert!((s.offset.as_nanos() - expected).abs() < 10, "{}", s.offset);
    assert_eq!(s.delay, None);
    assert_eq!(s.arrived_as, Destination::Multicast);
}

#[test]
fn a_phone_that_booted_in_1970_still_gets_todays_time() {
    let mut phone = unicast();
    phone.error = Offset::from_secs(1_780_000_000);
    phone.reply_from(SERVER).unwrap();
    let offset = phone.samples()[0].offset.as_secs_f64();
    assert!((offset - 1_780_000_000.0).abs() < 1e-6, "{offset}");
}

#[test]
fn status_shows_what_the_screen_needs() {
    let mut phone = Phone::new(Mode::Anycast, None);
    assert_eq!(phone.client.status().state, SyncState::Unsynchronised);
    phone.reply_from(OTHER).unwrap();
    let status = phone.client.status();
    assert_eq!(status.configured, Settings::new(Mode::Anycast, None));
    assert_eq!(status.in_effect, Mode::Unicast);
    assert_eq!(status.server, Some(OTHER));
    assert_eq!(status.state, SyncState::Synchronised);
    assert_eq!(status.stratum, Some(2));
    assert_eq!(status.last_offset, phone.samples().last().map(|s| s.offset));
    let synced_at = status.last_sync.expect("synchronised");
    let off = Offset::between(synced_at, phone.true_time());
    assert!(
        off.magnitude() < Duration::from_millis(1),
        "last_sync is true time: {off}"
    );
    assert_eq!(status.counters.samples, 1);
}

// ---- what is refused ----

#[test]
fn only_server_replies_and_broadcasts_are_taken() {
    let mut phone = unicast();
    for m in [0, 1, 2, mode::CLIENT, 6, 7] {
        let mut p = phone.reply_packet(2);
        p.mode = m;
        assert_eq!(
            phone.deliver(at(SERVER), Destination::Unicast, &p.to_bytes()),
            Err(Discard::Mode(m))
        );
    }
    // A broadcast is not an answer to a unicast request.
    let mut p = phone.reply_packet(2);
    p.mode = mode::BROADCAST;
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Unicast, &p.to_bytes()),
        Err(Discard::NotListening)
    );
    assert!(phone.samples().is_empty());
    assert_eq!(phone.reply_from(SERVER), Ok(()));
}

#[test]
fn versions_3_and_4_are_accepted_others_not() {
    for (version, verdict) in [
        (2, Err(Discard::Version(2))),
        (3, Ok(())),
        (4, Ok(())),
        (5, Err(Discard::Version(5))),
    ] {
        let mut phone = unicast();
        let mut p = phone.reply_packet(2);
        p.version = version;
        assert_eq!(
            phone.deliver_after_round_trip(at(SERVER), Destination::Unicast, p),
            verdict,
            "version {version}"
        );
    }
}

#[test]
fn the_originate_timestamp_must_echo_our_transmit_timestamp() {
    let mut phone = unicast();
    let mut spoofed = phone.reply_packet(2);
    spoofed.originate = NtpTimestamp::from_bits(spoofed.originate.to_bits() ^ 1);
    assert_eq!(
        phone.deliver_after_round_trip(at(SERVER), Destination::Unicast, spoofed),
        Err(Discard::Unrequested)
    );
    let genuine = phone.reply_packet(2);
    assert_eq!(phone.reply_from(SERVER), Ok(()));
    // The same answer again (a duplicate or a replay) answers nothing now.
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Unicast, &genuine.to_bytes()),
        Err(Discard::Unrequested)
    );
    assert_eq!(phone.samples().len(), 1);
}

#[test]
fn a_late_answer_to_an_earlier_request_is_stale() {
    let mut phone = unicast();
    let first = phone.reply_packet(2);
    phone.advance(secs(1));
    assert_eq!(phone.sent.len(), 2, "retried");
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Unicast, &first.to_bytes()),
        Err(Discard::Unrequested)
    );
    assert_eq!(phone.reply_from(SERVER), Ok(()));
}

#[test]
fn unsynchronised_servers_and_zero_timestamps_are_refused() {
    type Spoil = fn(&mut Packet);
    let cases: [(Spoil, Discard); 5] = [
        (|p| p.leap = 3, Discard::Unsynchronised),
        (|p| p.stratum = 16, Discard::Unsynchronised),
        (|p| p.stratum = 200, Discard::Unsynchronised),
        (|p| p.transmit = NtpTimestamp::ZERO, Discard::ZeroTimestamp),
        (|p| p.receive = NtpTimestamp::ZERO, Discard::ZeroTimestamp),
    ];
    for (spoil, why) in cases {
        let mut phone = unicast();
        let mut p = phone.reply_packet(2);
        spoil(&mut p);
        assert_eq!(
            phone.deliver_after_round_trip(at(SERVER), Destination::Unicast, p),
            Err(why)
        );
        // The request stays open: the real answer may still come.
        assert_eq!(phone.reply_from(SERVER), Ok(()));
    }
    let mut phone = Phone::new(Mode::Multicast, None);
    for stratum in [0, 16] {
        let p = phone.broadcast_packet(stratum);
        assert_eq!(
            phone.deliver(at(SERVER), Destination::Broadcast, &p.to_bytes()),
            Err(Discard::Unsynchronised)
        );
    }
    let mut p = phone.broadcast_packet(3);
    p.leap = 3;
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Broadcast, &p.to_bytes()),
        Err(Discard::Unsynchronised)
    );
}

#[test]
fn packets_not_from_port_123_are_refused() {
    let mut phone = unicast();
    let p = phone.reply_packet(2);
    assert_eq!(
        phone.deliver_after_round_trip(SocketAddrV4::new(SERVER, 40000), Destination::Unicast, p),
        Err(Discard::SourcePort(40000))
    );
}

#[test]
fn a_reply_addressed_to_a_broadcast_address_answers_nothing() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, None);
    let p = phone.reply_packet(2);
    assert_eq!(
        phone.deliver_after_round_trip(at(SERVER), Destination::Broadcast, p),
        Err(Discard::Unrequested)
    );
}

#[test]
fn short_datagrams_are_counted_as_malformed() {
    let mut phone = unicast();
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Unicast, &[0x24; 47]),
        Err(Discard::Malformed(47))
    );
    assert_eq!(
        phone.deliver(at(SERVER), Destination::Unicast, &[]),
        Err(Discard::Malformed(0))
    );
    let mut p = phone.reply_packet(2);
    p.version = 1;
    let _ = phone.deliver(at(SERVER), Destination::Unicast, &p.to_bytes());
    let c = phone.client.status().counters;
    assert_eq!((c.malformed, c.discarded, c.samples), (2, 1, 0));
}

// ---- kiss-o'-death ----

#[test]
fn rate_doubles_the_poll_interval() {
    let mut phone = unicast();
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(64));
    assert_eq!(phone.sent.len(), 2, "steady polling every 64 s");
    assert_eq!(kiss(&mut phone, SERVER, b"RATE"), Ok(()));
    assert!(phone.events.contains(&Event::ServerRefused {
        server: SERVER,
        kiss: Kiss::Rate
    }));
    phone.advance(secs(127));
    assert_eq!(phone.sent.len(), 2, "nothing before 128 s");
    phone.advance(secs(1));
    assert_eq!(phone.sent.len(), 3);
    assert_eq!(kiss(&mut phone, SERVER, b"RATE"), Ok(()));
    phone.advance(secs(255));
    assert_eq!(phone.sent.len(), 3, "nothing before 256 s");
    phone.advance(secs(1));
    assert_eq!(phone.sent.len(), 4);
}

#[test]
fn deny_and_rstr_stop_all_requests_to_the_configured_server() {
    for code in [b"DENY", b"RSTR"] {
        let mut phone = unicast();
        assert_eq!(kiss(&mut phone, SERVER, code), Ok(()));
        phone.advance(secs(24 * 3600));
        assert_eq!(phone.sent.len(), 1, "{code:?}: never asked again");
        assert_eq!(phone.client.status().state, SyncState::Refused);
        assert_eq!(phone.client.poll_timeout(), None);
        assert_eq!(phone.client.status().counters.kisses, 1);
    }
}

#[test]
fn a_kiss_must_answer_our_request_too() {
    let mut phone = unicast();
    let mut p = phone.reply_packet(0);
    p.reference_id = *b"DENY";
    p.originate = NtpTimestamp::from_bits(12345);
    assert_eq!(
        phone.deliver_after_round_trip(at(SERVER), Destination::Unicast, p),
        Err(Discard::Unrequested)
    );
    assert_eq!(phone.client.status().state, SyncState::Unsynchronised);
}

#[test]
fn unknown_kiss_codes_are_ignored() {
    let mut phone = unicast();
    assert_eq!(
        kiss(&mut phone, SERVER, b"INIT"),
        Err(Discard::UnknownKiss(*b"INIT"))
    );
    assert_eq!(phone.reply_from(SERVER), Ok(()));
}

#[test]
fn deny_from_a_server_found_by_anycast_sends_the_phone_looking_again() {
    let mut phone = Phone::new(Mode::Anycast, None);
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(64));
    assert_eq!(kiss(&mut phone, SERVER, b"DENY"), Ok(()));
    assert_eq!(
        phone.switches().last(),
        Some(&Event::ModeSwitched {
            from: Mode::Unicast,
            to: Mode::Anycast,
            server: None
        })
    );
    assert_eq!(phone.destinations(), [BROADCAST, SERVER, BROADCAST]);
    // The refusing server is not chosen again; another is.
    assert_eq!(phone.reply_from(SERVER), Err(Discard::WrongServer(SERVER)));
    assert_eq!(phone.reply_from(OTHER), Ok(()));
    assert_eq!(phone.client.status().server, Some(OTHER));
}

#[test]
fn deny_to_a_broadcast_request_leaves_it_open_for_other_servers() {
    let mut phone = Phone::new(Mode::Anycast, None);
    assert_eq!(kiss(&mut phone, SERVER, b"DENY"), Ok(()));
    assert_eq!(
        phone.reply_from(OTHER),
        Ok(()),
        "same request, another server"
    );
    assert_eq!(phone.client.status().server, Some(OTHER));
}

#[test]
fn deny_in_directedbroadcast_stops_asking_but_keeps_listening() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, Some(SERVER));
    assert_eq!(kiss(&mut phone, SERVER, b"DENY"), Ok(()));
    assert_eq!(phone.in_effect(), Mode::Multicast);
    phone.advance(secs(24 * 3600));
    assert_eq!(
        phone.sent.len(),
        1,
        "never asked again, not even after silence"
    );
    assert_eq!(phone.broadcast_from(SERVER, Destination::Multicast), Ok(()));
}

// ---- timers ----

#[test]
fn unanswered_requests_back_off_exponentially_to_a_cap() {
    let mut phone = unicast();
    phone.advance(secs(5000));
    let start = phone.sent[0].0;
    let times: Vec<u64> = phone
        .sent
        .iter()
        .map(|(t, _)| t.duration_since(start).unwrap().as_secs())
        .collect();
    // Waits of 1, 2, 4 ... 512 s, then 1024 s each.
    assert_eq!(
        times,
        [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047, 3071, 4095]
    );
    let misses = no_answers(&phone);
    assert_eq!(misses.len(), 13);
    assert_eq!(misses[12], (Some(SERVER), 13));
    // An answer restores the quick retry.
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(64 + 1));
    let n = phone.sent.len();
    assert_eq!(
        phone.sent[n - 1]
            .0
            .duration_since(phone.sent[n - 2].0)
            .unwrap(),
        secs(1)
    );
}

#[test]
fn a_synchronised_phone_polls_every_64_seconds() {
    let mut phone = unicast();
    for _ in 0..5 {
        phone.reply_from(SERVER).unwrap();
        phone.advance(secs(64));
    }
    let gaps: Vec<Duration> = phone
        .sent
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0).unwrap())
        .collect();
    // The interval runs from each answer, which comes a round trip after its request.
    assert!(
        gaps.iter().all(|g| *g == secs(64) + 2 * ONE_WAY),
        "{gaps:?}"
    );
    assert_eq!(phone.samples().len(), 5);
}

#[test]
fn a_server_found_by_anycast_that_falls_silent_is_given_up() {
    let mut phone = Phone::new(Mode::Anycast, None);
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(64 + 63));
    // Sent at 64, then retried after 1, 2, 4, 8, 16 s: six requests, 32 s for the last.
    assert_eq!(
        phone
            .destinations()
            .iter()
            .filter(|a| **a == SERVER)
            .count(),
        6
    );
    assert_eq!(phone.destinations().last(), Some(&BROADCAST));
    assert_eq!(
        phone.switches().last(),
        Some(&Event::ModeSwitched {
            from: Mode::Unicast,
            to: Mode::Anycast,
            server: None
        })
    );
    // It may answer the broadcast again: silence is not a refusal.
    assert_eq!(phone.reply_from(SERVER), Ok(()));
}

#[test]
fn directedbroadcast_asks_again_when_broadcasts_stop() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, None);
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(1000));
    phone
        .broadcast_from(SERVER, Destination::Broadcast)
        .unwrap();
    phone.advance(secs(1023));
    assert_eq!(
        phone.sent.len(),
        1,
        "silence is counted from the last broadcast"
    );
    phone.advance(secs(1));
    assert_eq!(phone.destinations(), [BROADCAST, BROADCAST]);
    assert_eq!(no_answers(&phone), [(None, 1)]);
    assert_eq!(
        phone.switches().last(),
        Some(&Event::ModeSwitched {
            from: Mode::Multicast,
            to: Mode::DirectedBroadcast,
            server: None
        })
    );
}

#[test]
fn a_silent_multicast_network_is_reported_but_never_asked() {
    let mut phone = Phone::new(Mode::Multicast, Some(SERVER));
    phone.advance(secs(3 * 1024));
    assert!(phone.sent.is_empty());
    assert_eq!(no_answers(&phone), [(None, 1), (None, 2), (None, 3)]);
    assert_eq!(phone.in_effect(), Mode::Multicast);
}

#[test]
fn a_broadcast_before_any_reply_also_ends_directedbroadcasts_requests() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, None);
    assert_eq!(phone.broadcast_from(OTHER, Destination::Broadcast), Ok(()));
    assert_eq!(phone.in_effect(), Mode::Multicast);
    // The answer to the request now comes after the fact.
    assert_eq!(phone.reply_from(SERVER), Err(Discard::Unrequested));
    phone.advance(secs(600));
    assert_eq!(phone.sent.len(), 1);
}

// ---- run-time changes ----

#[test]
fn nothing_is_sent_to_a_broadcast_address_not_yet_known() {
    let mut phone = Phone::with(Settings::new(Mode::Anycast, None), None, Timing::default());
    phone.advance(secs(60));
    assert!(phone.sent.is_empty());
    assert_eq!(phone.client.poll_timeout(), None);
    phone.client.set_broadcast_address(Some(BROADCAST));
    assert_eq!(phone.client.poll_timeout(), Some(phone.now - secs(60)));
    phone.pump();
    assert_eq!(phone.destinations(), [BROADCAST]);
}

#[test]
fn new_settings_take_effect_at_once() {
    let mut phone = unicast();
    phone.reply_from(SERVER).unwrap();
    phone.advance(secs(10));

    // The same settings again change nothing.
    let now = phone.now;
    phone
        .client
        .set_settings(now, Settings::new(Mode::Unicast, Some(SERVER)));
    phone.pump();
    assert_eq!(phone.sent.len(), 1);

    phone
        .client
        .set_settings(now, Settings::new(Mode::Unicast, Some(OTHER)));
    phone.pump();
    assert_eq!(phone.destinations(), [SERVER, OTHER], "asked at once");
    let status = phone.client.status();
    assert_eq!(status.state, SyncState::Unsynchronised);
    assert_eq!(status.last_offset, phone.samples().last().map(|s| s.offset));
    assert_eq!(phone.reply_from(SERVER), Err(Discard::WrongServer(SERVER)));
    assert_eq!(phone.reply_from(OTHER), Ok(()));

    let now = phone.now;
    phone
        .client
        .set_settings(now, Settings::new(Mode::Multicast, None));
    phone.advance(secs(3600));
    assert_eq!(phone.sent.len(), 2, "multicast sends nothing");
    assert!(phone.client.listens());
    assert_eq!(phone.broadcast_from(OTHER, Destination::Multicast), Ok(()));

    let now = phone.now;
    phone
        .client
        .set_settings(now, Settings::new(Mode::Unicast, None));
    assert_eq!(phone.client.status().state, SyncState::NoServer);
    assert!(!phone.client.listens());
}

#[test]
fn a_changed_server_refuses_answers_to_the_old_servers_request() {
    let mut phone = unicast();
    let pending = phone.reply_packet(2);
    let now = phone.now;
    phone
        .client
        .set_settings(now, Settings::new(Mode::Unicast, Some(OTHER)));
    phone.pump();
    let mut from_other = pending;
    from_other.receive = NtpTimestamp::from_bits(pending.receive.to_bits() + 1);
    assert_eq!(
        phone.deliver(at(OTHER), Destination::Unicast, &from_other.to_bytes()),
        Err(Discard::Unrequested)
    );
}

// ---- anything at all ----

fn phones() -> Vec<Phone> {
    let mut all = Vec::new();
    for mode in Mode::ALL {
        for server in [None, Some(SERVER)] {
            let mut phone = Phone::new(mode, server);
            all.push(Phone::new(mode, server));
            // And the same after its first answer (switched modes included).
            if phone.sent.is_empty() {
                let _ = phone.broadcast_from(SERVER, Destination::Multicast);
            } else {
                let _ = phone.reply_from(SERVER);
            }
            all.push(phone);
        }
    }
    all
}

const DESTINATIONS: [Destination; 3] = [
    Destination::Unicast,
    Destination::Broadcast,
    Destination::Multicast,
];

proptest! {
    #[test]
    fn random_datagrams_never_panic_and_are_all_counted(
        datagrams in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..96), 0usize..3, any::<bool>()),
            1..24,
        ),
    ) {
        for mut phone in phones() {
            let before = phone.client.status().counters;
            for (bytes, dest, from_server) in &datagrams {
                let from = if *from_server { at(SERVER) } else { at(OTHER) };
                let _ = phone.deliver(from, DESTINATIONS[*dest], bytes);
                phone.advance(Duration::from_millis(300));
            }
            let c = phone.client.status().counters;
            let handled = (c.samples + c.kisses + c.malformed + c.discarded)
                - (before.samples + before.kisses + before.malformed + before.discarded);
            prop_assert_eq!(handled, datagrams.len() as u64);
        }
    }

    #[test]
    fn no_reply_is_taken_unless_it_echoes_the_request(
        header in proptest::array::uniform32(any::<u8>()),
        tail in proptest::array::uniform16(any::<u8>()),
    ) {
        let mut bytes = [0u8; 48];
        bytes[..32].copy_from_slice(&header);
        bytes[32..].copy_from_slice(&tail);
        for mode in [Mode::Unicast, Mode::Anycast] {
            let mut phone = Phone::new(mode, Some(SERVER));
            let (_, request) = phone.last_request();
            let t1 = Packet::parse(&request.bytes).unwrap().transmit;
            let mut p = Packet::parse(&bytes).unwrap();
            prop_assume!(p.originate != t1);
            p.mode = mode::SERVER;
            let verdict = phone.deliver(at(SERVER), Destination::Unicast, &p.to_bytes());
            prop_assert!(verdict.is_err());
            prop_assert!(phone.samples().is_empty());
            prop_assert_eq!(phone.client.status().state, SyncState::Unsynchronised);
        }
    }
}
