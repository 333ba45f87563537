//! Every cell of Tables 3-7 (sntp_server = 0.0.0.0) and 3-8 (sntp_server = an address):
//! who is asked, whose answers are accepted, and when the mode switches.

mod sim;

use deskphone_sntp::{Destination, Discard, Event, Mode, SyncState};
use sim::{secs, Phone, BROADCAST, OTHER, SERVER};

const HOUR: u64 = 3600;

// ---- Table 3-7: no server known ----

#[test]
fn t37_unicast_sends_nothing_and_accepts_nothing() {
    let mut phone = Phone::new(Mode::Unicast, None);
    phone.advance(secs(HOUR));
    assert!(phone.sent.is_empty());
    assert_eq!(phone.client.poll_timeout(), None, "no timer at all");
    assert_eq!(
        phone.broadcast_from(SERVER, Destination::Multicast),
        Err(Discard::NotListening)
    );
    let mut reply = phone.broadcast_packet(2);
    reply.mode = 4;
    assert_eq!(
        phone.deliver(sim::at(SERVER), Destination::Unicast, &reply.to_bytes()),
        Err(Discard::Unrequested)
    );
    assert_eq!(phone.client.status().state, SyncState::NoServer);
    assert!(!phone.client.listens());
}

#[test]
fn t37_multicast_sends_nothing_and_hears_any_server_by_multicast_and_broadcast() {
    let mut phone = Phone::new(Mode::Multicast, None);
    assert!(phone.client.listens());
    phone.advance(secs(HOUR));
    assert!(phone.sent.is_empty());
    assert_eq!(phone.broadcast_from(SERVER, Destination::Multicast), Ok(()));
    assert_eq!(phone.broadcast_from(OTHER, Destination::Broadcast), Ok(()));
    let servers: Vec<_> = phone.samples().iter().map(|s| s.server).collect();
    assert_eq!(servers, [SERVER, OTHER]);
    assert_eq!(phone.in_effect(), Mode::Multicast);
    assert!(phone.switches().is_empty());
}

#[test]
fn t37_anycast_asks_the_broadcast_address_then_only_the_first_responder() {
    let mut phone = Phone::new(Mode::Anycast, None);
    assert_eq!(phone.destinations(), [BROADCAST]);
    assert_eq!(phone.in_effect(), Mode::Anycast);
    // Broadcast servers are not listened to in anycast.
    assert_eq!(
        phone.broadcast_from(SERVER, Destination::Broadcast),
        Err(Discard::NotListening)
    );

    let second = phone.reply_packet(2);
    assert_eq!(phone.reply_from(OTHER), Ok(()));
    assert_eq!(
        phone.switches(),
        [Event::ModeSwitched {
            from: Mode::Anycast,
            to: Mode::Unicast,
            server: Some(OTHER)
        }]
    );
    // The slower responder's answer to the same broadcast request comes too late.
    assert_eq!(
        phone.deliver(sim::at(SERVER), Destination::Unicast, &second.to_bytes()),
        Err(Discard::WrongServer(SERVER))
    );

    phone.advance(secs(64));
    assert_eq!(
        phone.destinations(),
        [BROADCAST, OTHER],
        "polls the first responder"
    );
    let from_server = phone.reply_packet(2);
    assert_eq!(
        phone.deliver(
            sim::at(SERVER),
            Destination::Unicast,
            &from_server.to_bytes()
        ),
        Err(Discard::WrongServer(SERVER))
    );
    assert_eq!(phone.reply_from(OTHER), Ok(()));
    assert_eq!(phone.in_effect(), Mode::Unicast);
    assert_eq!(phone.client.status().server, Some(OTHER));
}

#[test]
fn t37_directedbroadcast_asks_the_broadcast_address_then_hears_any_server() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, None);
    assert_eq!(phone.destinations(), [BROADCAST]);
    assert_eq!(phone.in_effect(), Mode::DirectedBroadcast);
    assert_eq!(phone.reply_from(SERVER), Ok(()));
    assert_eq!(
        phone.switches(),
        [Event::ModeSwitched {
            from: Mode::DirectedBroadcast,
            to: Mode::Multicast,
            server: None
        }]
    );
    assert!(phone.client.listens());
    assert_eq!(phone.broadcast_from(OTHER, Destination::Multicast), Ok(()));
    assert_eq!(phone.broadcast_from(SERVER, Destination::Broadcast), Ok(()));
    phone.advance(secs(600));
    assert_eq!(phone.sent.len(), 1, "no requests once switched");
    assert_eq!(phone.samples().len(), 3);
}

// ---- Table 3-8: sntp_server = 192.168.1.9 ----

#[test]
fn t38_unicast_asks_the_server_and_ignores_other_servers() {
    let mut phone = Phone::new(Mode::Unicast, Some(SERVER));
    assert_eq!(phone.destinations(), [SERVER]);
    let answer = phone.reply_packet(2);
    assert_eq!(
        phone.deliver(sim::at(OTHER), Destination::Unicast, &answer.to_bytes()),
        Err(Discard::WrongServer(OTHER))
    );
    assert_eq!(phone.reply_from(SERVER), Ok(()));
    assert_eq!(
        phone.broadcast_from(SERVER, Destination::Multicast),
        Err(Discard::NotListening)
    );
    assert!(phone.switches().is_empty());
    assert_eq!(phone.in_effect(), Mode::Unicast);
    assert_eq!(phone.client.status().state, SyncState::Synchronised);
}

#[test]
fn t38_multicast_sends_nothing_and_hears_only_the_server() {
    let mut phone = Phone::new(Mode::Multicast, Some(SERVER));
    phone.advance(secs(HOUR));
    assert!(phone.sent.is_empty());
    assert_eq!(phone.broadcast_from(SERVER, Destination::Multicast), Ok(()));
    assert_eq!(phone.broadcast_from(SERVER, Destination::Broadcast), Ok(()));
    assert_eq!(
        phone.broadcast_from(OTHER, Destination::Multicast),
        Err(Discard::WrongServer(OTHER))
    );
    assert_eq!(phone.samples().len(), 2);
    assert_eq!(phone.client.status().server, Some(SERVER));
}

#[test]
fn t38_anycast_asks_the_server_like_unicast() {
    let mut phone = Phone::new(Mode::Anycast, Some(SERVER));
    assert_eq!(phone.destinations(), [SERVER], "not the broadcast address");
    assert_eq!(phone.in_effect(), Mode::Unicast);
    let answer = phone.reply_packet(2);
    assert_eq!(
        phone.deliver(sim::at(OTHER), Destination::Unicast, &answer.to_bytes()),
        Err(Discard::WrongServer(OTHER))
    );
    assert_eq!(phone.reply_from(SERVER), Ok(()));
    phone.advance(secs(64));
    assert_eq!(phone.destinations(), [SERVER, SERVER]);
    assert!(phone.switches().is_empty());
    assert_eq!(phone.client.status().configured.mode, Mode::Anycast);
}

#[test]
fn t38_directedbroadcast_asks_the_server_then_hears_only_its_broadcasts() {
    let mut phone = Phone::new(Mode::DirectedBroadcast, Some(SERVER));
    assert_eq!(phone.destinations(), [SERVER]);
    let answer = phone.reply_packet(2);
    assert_eq!(
        phone.deliver(sim::at(OTHER), Destination::Unicast, &answer.to_bytes()),
        Err(Discard::WrongServer(OTHER))
    );
    assert_eq!(phone.reply_from(SERVER), Ok(()));
    assert_eq!(
        phone.switches(),
        [Event::ModeSwitched {
            from: Mode::DirectedBroadcast,
            to: Mode::Multicast,
            server: Some(SERVER)
        }]
    );
    assert_eq!(phone.broadcast_from(SERVER, Destination::Multicast), Ok(()));
    assert_eq!(phone.broadcast_from(SERVER, Destination::Broadcast), Ok(()));
    assert_eq!(
        phone.broadcast_from(OTHER, Destination::Broadcast),
        Err(Discard::WrongServer(OTHER))
    );
    phone.advance(secs(600));
    assert_eq!(phone.sent.len(), 1, "no requests once switched");
}
