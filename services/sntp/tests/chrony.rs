//! The shell against real chronyd servers in network namespaces (needs root, `ip`, `chronyd`
//! and `nft`). The phone's clock starts 1000 s behind; each test checks that the first sample
//! measures exactly that, and that the shell corrected its clock.
//!
//! chrony 4.3 as a broadcast server: `broadcast <interval> <address>` sends NTP mode-5 packets
//! to any address it is given, a subnet broadcast address or the multicast group 224.0.1.1
//! alike (the latter needs a route for 224.0.0.0/4). It never answers requests sent to a
//! broadcast address; see `lab::Server::answer_broadcast_requests`.

mod lab;

use std::time::Duration;

use deskphone_sntp::{Destination, Event, Mode, Settings, SyncState};
use lab::{assert_corrects_the_clock_error, Chrony, Lab, Phone, SUBNET_BROADCAST, TOLERANCE};

const WAIT: Duration = Duration::from_secs(10);
const MULTICAST: std::net::Ipv4Addr = deskphone_sntp::NTP_MULTICAST;

fn clock_is_corrected(phone: &Phone) {
    let error = phone.clock.error();
    assert!(
        error.magnitude() < TOLERANCE,
        "the clock is still {error} off"
    );
    assert!(phone.clock.steps() >= 1, "the 1000 s error was stepped");
}

#[test]
fn unicast_takes_the_configured_server_and_ignores_another() {
    let lab = Lab::new(1);
    let _chrony = Chrony::start(&lab.servers[0], &[]);
    lab.wait_until_serving(0);
    let server = lab.addr(0);
    let mut phone = Phone::start(&lab, Settings::new(Mode::Unicast, Some(server)));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_eq!(
        (first.server, first.mode, first.stratum),
        (server, Mode::Unicast, 8)
    );
    assert_corrects_the_clock_error(&first);
    assert!(
        first.delay.is_some_and(|d| d < TOLERANCE),
        "{:?}",
        first.delay
    );
    phone.wait_sample(WAIT, |s| s.offset.magnitude() < TOLERANCE);
    clock_is_corrected(&phone);

    // Now the same answers arrive from another server's address.
    let other = std::net::Ipv4Addr::new(10, 123, 0, 77);
    lab.servers[0].reply_as(other);
    let before = phone.status().counters;
    let samples_before = phone.samples().len();
    phone.watch(Duration::from_secs(3));
    let after = phone.status().counters;
    assert_eq!(
        phone.samples().len(),
        samples_before,
        "nothing taken from {other}"
    );
    assert!(
        after.discarded >= before.discarded + 2,
        "answers from {other} were discarded: {before:?} -> {after:?}"
    );
    assert!(phone
        .seen
        .iter()
        .any(|e| matches!(e, Event::NoAnswer { asked: Some(a), .. } if *a == server)));
    let status = phone.status();
    assert_eq!(
        (status.in_effect, status.server),
        (Mode::Unicast, Some(server))
    );
}

#[test]
fn anycast_keeps_the_first_of_two_responders() {
    let lab = Lab::new(2);
    let _a = Chrony::start(&lab.servers[0], &[]);
    let _b = Chrony::start(&lab.servers[1], &[]);
    for (i, server) in lab.servers.iter().enumerate() {
        server.answer_broadcast_requests();
        lab.wait_until_serving(i);
    }
    let mut phone = Phone::start(&lab, Settings::new(Mode::Anycast, None));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_eq!(first.mode, Mode::Anycast);
    assert_eq!(first.arrived_as, Destination::Unicast);
    assert_corrects_the_clock_error(&first);
    let chosen = first.server;
    assert!([lab.addr(0), lab.addr(1)].contains(&chosen));
    let switch = phone.wait_for(WAIT, |e| matches!(e, Event::ModeSwitched { .. }));
    assert_eq!(
        switch,
        Some(Event::ModeSwitched {
            from: Mode::Anycast,
            to: Mode::Unicast,
            server: Some(chosen)
        })
    );

    // The polls that follow go to the first responder alone.
    for _ in 0..3 {
        let s = phone.wait_sample(WAIT, |_| true);
        assert_eq!((s.server, s.mode), (chosen, Mode::Unicast));
    }
    clock_is_corrected(&phone);
    let status = phone.status();
    assert_eq!(status.in_effect, Mode::Unicast);
    assert_eq!(status.server, Some(chosen));
    assert_eq!(status.state, SyncState::Synchronised);
    assert!(
        status.counters.discarded >= 1,
        "the slower server's answer was discarded: {:?}",
        status.counters
    );
}

#[test]
fn multicast_hears_any_server_by_multicast_and_subnet_broadcast() {
    let lab = Lab::new(1);
    let chrony = Chrony::start(&lab.servers[0], &[MULTICAST, SUBNET_BROADCAST]);
    let mut phone = Phone::start(&lab, Settings::new(Mode::Multicast, None));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_corrects_the_clock_error(&first);
    assert_eq!(
        (first.server, first.delay, first.mode),
        (lab.addr(0), None, Mode::Multicast)
    );
    let by = |d: Destination| move |s: &deskphone_sntp::Sample| s.arrived_as == d;
    phone.wait_sample(WAIT, by(Destination::Multicast));
    phone.wait_sample(WAIT, by(Destination::Broadcast));
    clock_is_corrected(&phone);
    assert!(
        !phone
            .seen
            .iter()
            .any(|e| matches!(e, Event::ModeSwitched { .. })),
        "{}",
        chrony.log()
    );
    assert_eq!(phone.status().in_effect, Mode::Multicast);
}

#[test]
fn multicast_with_a_server_hears_only_that_server() {
    let lab = Lab::new(2);
    let _a = Chrony::start(&lab.servers[0], &[MULTICAST, SUBNET_BROADCAST]);
    let _b = Chrony::start(&lab.servers[1], &[MULTICAST, SUBNET_BROADCAST]);
    let mut phone = Phone::start(&lab, Settings::new(Mode::Multicast, Some(lab.addr(0))));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_corrects_the_clock_error(&first);
    phone.watch(Duration::from_secs(3));
    assert!(phone.samples().iter().all(|s| s.server == lab.addr(0)));
    let counters = phone.status().counters;
    assert!(counters.samples >= 3, "{counters:?}");
    assert!(
        counters.discarded >= 2,
        "the other server's broadcasts were discarded: {counters:?}"
    );
}

#[test]
fn directedbroadcast_asks_the_subnet_then_listens() {
    let lab = Lab::new(1);
    let _chrony = Chrony::start(&lab.servers[0], &[MULTICAST, SUBNET_BROADCAST]);
    lab.servers[0].answer_broadcast_requests();
    lab.wait_until_serving(0);
    let mut phone = Phone::start(&lab, Settings::new(Mode::DirectedBroadcast, None));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_eq!(first.mode, Mode::DirectedBroadcast);
    assert_corrects_the_clock_error(&first);
    let switch = phone.wait_for(WAIT, |e| matches!(e, Event::ModeSwitched { .. }));
    assert_eq!(
        switch,
        Some(Event::ModeSwitched {
            from: Mode::DirectedBroadcast,
            to: Mode::Multicast,
            server: None
        })
    );
    let heard = phone.wait_sample(WAIT, |s| s.arrived_as != Destination::Unicast);
    assert_eq!((heard.mode, heard.delay), (Mode::Multicast, None));
    clock_is_corrected(&phone);
}

#[test]
fn directedbroadcast_with_a_server_asks_it_then_hears_only_it() {
    let lab = Lab::new(2);
    let _a = Chrony::start(&lab.servers[0], &[MULTICAST, SUBNET_BROADCAST]);
    let _b = Chrony::start(&lab.servers[1], &[MULTICAST, SUBNET_BROADCAST]);
    lab.wait_until_serving(0);
    let server = lab.addr(0);
    let mut phone = Phone::start(&lab, Settings::new(Mode::DirectedBroadcast, Some(server)));

    let first = phone.wait_sample(WAIT, |_| true);
    assert_corrects_the_clock_error(&first);
    assert_eq!(first.server, server);
    phone
        .wait_for(WAIT, |e| {
            *e == Event::ModeSwitched {
                from: Mode::DirectedBroadcast,
                to: Mode::Multicast,
                server: Some(server),
            }
        })
        .expect("switched to multicast");
    phone.wait_sample(WAIT, |s| s.arrived_as != Destination::Unicast);
    phone.watch(Duration::from_secs(2));
    assert!(phone.samples().iter().all(|s| s.server == server));
    assert!(
        phone.status().counters.discarded >= 2,
        "the other server's broadcasts were discarded: {:?}",
        phone.status().counters
    );
}

#[test]
fn settings_changed_at_run_time_take_effect() {
    let lab = Lab::new(1);
    let _chrony = Chrony::start(&lab.servers[0], &[MULTICAST]);
    let mut phone = Phone::start(&lab, Settings::new(Mode::Unicast, None));
    phone.watch(Duration::from_millis(1500));
    assert!(
        phone.samples().is_empty(),
        "unicast without a server hears nothing"
    );
    assert_eq!(phone.status().state, SyncState::NoServer);

    phone.set_settings(Settings::new(Mode::Multicast, None));
    let first = phone.wait_sample(WAIT, |_| true);
    assert_corrects_the_clock_error(&first);
    assert_eq!(first.arrived_as, Destination::Multicast);
    let status = phone.status();
    assert_eq!(
        (status.in_effect, status.state),
        (Mode::Multicast, SyncState::Synchronised)
    );
}
