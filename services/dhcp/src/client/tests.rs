//! The client in simulated time: every exchange, timer and failure path
//! without a socket or a sleep.

use super::*;
use crate::TftpServer;
use dhcproto::v4::{
    Decodable, Decoder, DhcpOption, Encodable, Message, Opcode, OptionCode, UnknownOption,
};
use proptest::prelude::*;

const MAC: [u8; 6] = [0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6];
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 50);
const LEASE_SECS: u32 = 3600;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn new_client(config: Config, seed: u64) -> (DhcpClient, Instant) {
    let t0 = Instant::now();
    (DhcpClient::new(config, t0, seed).unwrap(), t0)
}

/// Everything queued for sending, decoded.
fn sent(client: &mut DhcpClient) -> Vec<(Destination, Message)> {
    std::iter::from_fn(|| client.poll_transmit())
        .map(|t| {
            let msg = Message::decode(&mut Decoder::new(&t.bytes)).unwrap();
            (t.to, msg)
        })
        .collect()
}

fn only_sent(client: &mut DhcpClient) -> (Destination, Message) {
    let mut all = sent(client);
    assert_eq!(all.len(), 1, "expected one datagram, got {all:?}");
    all.remove(0)
}

fn events(client: &mut DhcpClient) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn one_event(client: &mut DhcpClient) -> Event {
    let mut all = events(client);
    assert_eq!(all.len(), 1, "expected one event, got {all:?}");
    all.remove(0)
}

fn msg_type(msg: &Message) -> MessageType {
    msg.opts().msg_type().unwrap()
}

fn opt(msg: &Message, code: OptionCode) -> Option<&DhcpOption> {
    msg.opts().get(code)
}

/// The options a typical Cisco-fleet server sends with OFFER and ACK.
fn fleet_options() -> Vec<DhcpOption> {
    vec![
        DhcpOption::ServerIdentifier(SERVER),
        DhcpOption::AddressLeaseTime(LEASE_SECS),
        DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
        DhcpOption::Router(vec![
            Ipv4Addr::new(10, 1, 2, 254),
            Ipv4Addr::new(10, 1, 2, 1),
        ]),
        DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(10, 1, 2, 53),
            Ipv4Addr::new(10, 9, 9, 9),
        ]),
        DhcpOption::DomainName("voice.example.test".into()),
        DhcpOption::TFTPServerName(b"tftp.example.test".to_vec()),
        DhcpOption::Unknown(UnknownOption::new(
            OptionCode::TFTPServerAddress,
            vec![10, 1, 2, 11, 10, 1, 2, 12],
        )),
    ]
}

/// A server's reply to `request`.
fn reply(
    request: &Message,
    kind: MessageType,
    yiaddr: Ipv4Addr,
    options: &[DhcpOption],
) -> Vec<u8> {
    let mut msg = Message::new_with_id(
        request.xid(),
        Ipv4Addr::UNSPECIFIED,
        yiaddr,
        Ipv4Addr::new(10, 1, 2, 69),
        Ipv4Addr::UNSPECIFIED,
        request.chaddr(),
    );
    msg.set_opcode(Opcode::BootReply);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    for option in options {
        msg.opts_mut().insert(option.clone());
    }
    msg.to_vec().unwrap()
}

fn nak(request: &Message) -> Vec<u8> {
    reply(
        request,
        MessageType::Nak,
        Ipv4Addr::UNSPECIFIED,
        &[DhcpOption::ServerIdentifier(SERVER)],
    )
}

/// Runs DISCOVER .. ACK at `t0` and returns the lease.
fn bind(client: &mut DhcpClient, t0: Instant) -> Lease {
    client.start(t0);
    let (_, discover) = only_sent(client);
    client.handle_datagram(
        t0,
        &reply(&discover, MessageType::Offer, OFFERED, &fleet_options()),
    );
    let (_, request) = only_sent(client);
    client.handle_datagram(
        t0,
        &reply(&request, MessageType::Ack, OFFERED, &fleet_options()),
    );
    match events(client).as_slice() {
        [Event::Bound(lease)] => lease.clone(),
        other => panic!("expected Bound, got {other:?}"),
    }
}

#[test]
fn full_exchange_yields_the_lease_with_the_fleet_options() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 1);
    assert_eq!(client.poll_timeout(), None, "nothing happens before start");
    assert!(client.poll_transmit().is_none());
    client.start(t0);

    let (to, discover) = only_sent(&mut client);
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(msg_type(&discover), MessageType::Discover);
    assert!(discover.flags().broadcast());
    assert_eq!(discover.chaddr(), MAC);
    assert_eq!(
        opt(&discover, OptionCode::Hostname),
        Some(&DhcpOption::Hostname("SIP003094C2D5E6".into()))
    );
    assert_eq!(
        opt(&discover, OptionCode::ClientIdentifier),
        Some(&DhcpOption::ClientIdentifier(vec![
            1, 0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6
        ]))
    );
    assert_eq!(client.state(), ClientState::Selecting);

    let t1 = t0 + Duration::from_millis(30);
    client.handle_datagram(
        t1,
        &reply(&discover, MessageType::Offer, OFFERED, &fleet_options()),
    );
    let (to, request) = only_sent(&mut client);
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(msg_type(&request), MessageType::Request);
    assert_eq!(
        request.xid(),
        discover.xid(),
        "REQUEST keeps the DISCOVER's xid"
    );
    assert!(request.flags().broadcast());
    assert_eq!(request.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        opt(&request, OptionCode::RequestedIpAddress),
        Some(&DhcpOption::RequestedIpAddress(OFFERED))
    );
    assert_eq!(
        opt(&request, OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert_eq!(client.state(), ClientState::Requesting);
    assert_eq!(client.status(t1).server, Some(SERVER));

    let t2 = t1 + Duration::from_millis(30);
    client.handle_datagram(
        t2,
        &reply(&request, MessageType::Ack, OFFERED, &fleet_options()),
    );
    let Event::Bound(lease) = one_event(&mut client) else {
        panic!("expected Bound");
    };
    assert_eq!(lease.address, OFFERED);
    assert_eq!(lease.prefix_len, 24);
    assert_eq!(lease.broadcast, Ipv4Addr::new(10, 1, 2, 255));
    assert_eq!(
        lease.routers,
        [Ipv4Addr::new(10, 1, 2, 254), Ipv4Addr::new(10, 1, 2, 1)]
    );
    assert_eq!(
        lease.dns_servers,
        [Ipv4Addr::new(10, 1, 2, 53), Ipv4Addr::new(10, 9, 9, 9)]
    );
    assert_eq!(lease.domain_name.as_deref(), Some("voice.example.test"));
    assert_eq!(lease.tftp_server_name.as_deref(), Some("tftp.example.test"));
    assert_eq!(
        lease.tftp_servers,
        [Ipv4Addr::new(10, 1, 2, 11), Ipv4Addr::new(10, 1, 2, 12)]
    );
    assert_eq!(lease.next_server, Some(Ipv4Addr::new(10, 1, 2, 69)));
    assert_eq!(lease.server_id, SERVER);
    assert_eq!(lease.lease_time, secs(3600));
    // The lease runs from the REQUEST, not from the ACK.
    assert_eq!(lease.acquired_at, t1);
    assert_eq!(lease.renew_at, t1 + secs(1800));
    assert_eq!(lease.rebind_at, t1 + secs(3150));
    assert_eq!(lease.expires_at, t1 + secs(3600));
    assert_eq!(
        lease.tftp_candidates()[..3],
        [
            TftpServer::Address(Ipv4Addr::new(10, 1, 2, 11)),
            TftpServer::Address(Ipv4Addr::new(10, 1, 2, 12)),
            TftpServer::Name("tftp.example.test".into()),
        ]
    );

    assert_eq!(client.state(), ClientState::Bound);
    assert_eq!(client.poll_timeout(), Some(lease.renew_at));
    assert!(client.poll_transmit().is_none());
    let status = client.status(t2);
    assert_eq!(status.lease.as_ref(), Some(&lease));
    assert_eq!(status.server, Some(SERVER));
    assert_eq!(
        status.renew_in,
        Some(secs(1800) - Duration::from_millis(30))
    );
    assert_eq!(
        status.expires_in,
        Some(secs(3600) - Duration::from_millis(30))
    );
}

#[test]
fn discover_backs_off_4_8_16_32_64_seconds_with_a_second_of_jitter() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 7);
    client.start(t0);
    let (_, first) = only_sent(&mut client);
    let mut last = t0;
    let mut gaps = Vec::new();
    for _ in 0..7 {
        let due = client.poll_timeout().unwrap();
        // Nothing is resent before the deadline.
        client.handle_timeout(due - Duration::from_millis(1));
        assert!(client.poll_transmit().is_none());
        client.handle_timeout(due);
        let (to, again) = only_sent(&mut client);
        assert_eq!(to, Destination::Broadcast);
        assert_eq!(again.xid(), first.xid(), "retransmissions keep the xid");
        assert_eq!(u64::from(again.secs()), (due - t0).as_secs());
        gaps.push(due - last);
        last = due;
    }
    for (gap, base) in gaps.iter().zip([4, 8, 16, 32, 64, 64, 64]) {
        assert!(
            *gap >= secs(base - 1) && *gap <= secs(base + 1),
            "gap {gap:?} not within a second of {base} s (all: {gaps:?})"
        );
    }
    assert!(
        gaps.iter().any(|g| g.subsec_millis() != 0),
        "the jitter is not applied: {gaps:?}"
    );

    // Another seed moves the retransmissions elsewhere.
    let (mut other, t0) = new_client(Config::for_mac(MAC), 8);
    other.start(t0);
    assert_ne!(other.poll_timeout().unwrap() - t0, gaps[0]);
}

#[test]
fn unanswered_request_starts_over_with_a_new_discover() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 3);
    client.start(t0);
    let (_, discover) = only_sent(&mut client);
    client.handle_datagram(
        t0,
        &reply(&discover, MessageType::Offer, OFFERED, &fleet_options()),
    );
    let mut requests = sent(&mut client);
    while client.state() == ClientState::Requesting {
        let due = client.poll_timeout().unwrap();
        client.handle_timeout(due);
        requests.extend(sent(&mut client));
    }
    let (last_to, last) = requests.pop().unwrap();
    assert_eq!(requests.len(), 4, "four REQUESTs before giving up");
    assert!(requests
        .iter()
        .all(|(_, m)| msg_type(m) == MessageType::Request));
    assert_eq!(last_to, Destination::Broadcast);
    assert_eq!(msg_type(&last), MessageType::Discover);
    assert_ne!(last.xid(), discover.xid());
    assert!(events(&mut client).is_empty());
}

#[test]
fn renewing_at_t1_is_unicast_and_an_ack_extends_the_lease() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 4);
    let lease = bind(&mut client, t0);
    client.handle_timeout(lease.renew_at - secs(1));
    assert!(client.poll_transmit().is_none());

    client.handle_timeout(lease.renew_at);
    assert_eq!(client.state(), ClientState::Renewing);
    let (to, renew) = only_sent(&mut client);
    assert_eq!(to, Destination::Unicast(SERVER));
    assert_eq!(msg_type(&renew), MessageType::Request);
    assert_eq!(renew.ciaddr(), OFFERED);
    assert!(
        !renew.flags().broadcast(),
        "an address holder takes unicast replies"
    );
    assert!(opt(&renew, OptionCode::RequestedIpAddress).is_none());
    assert!(opt(&renew, OptionCode::ServerIdentifier).is_none());

    let t = lease.renew_at + secs(2);
    client.handle_datagram(
        t,
        &reply(&renew, MessageType::Ack, OFFERED, &fleet_options()),
    );
    let Event::Renewed(renewed) = one_event(&mut client) else {
        panic!("expected Renewed");
    };
    assert_eq!(renewed.address, OFFERED);
    assert_eq!(renewed.acquired_at, lease.renew_at);
    assert_eq!(renewed.expires_at, lease.renew_at + secs(3600));
    assert_eq!(client.state(), ClientState::Bound);
    assert_eq!(client.poll_timeout(), Some(renewed.renew_at));
}

#[test]
fn unanswered_renewal_rebinds_at_t2_then_loses_the_lease_at_expiry() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 5);
    let lease = bind(&mut client, t0);
    let mut log = Vec::new();
    let mut now = t0;
    while now < lease.expires_at {
        now = client.poll_timeout().unwrap();
        client.handle_timeout(now);
        for (to, msg) in sent(&mut client) {
            log.push((now - lease.acquired_at, to, msg_type(&msg), msg.ciaddr()));
        }
    }
    let renewing: Vec<_> = log
        .iter()
        .filter(|l| l.1 == Destination::Unicast(SERVER))
        .collect();
    let rebinding: Vec<_> = log
        .iter()
        .filter(|l| l.1 == Destination::Broadcast && l.2 == MessageType::Request)
        .collect();
    // T1 = 1800 s, then half of the time left to T2 (675 s, 337 s, ...)
    // until the one-minute floor; T2 itself starts REBINDING.
    let times = |v: &[&(Duration, Destination, MessageType, Ipv4Addr)]| {
        v.iter().map(|l| l.0.as_secs()).collect::<Vec<_>>()
    };
    assert_eq!(times(&renewing), [1800, 2475, 2812, 2981, 3065, 3125]);
    // T2 = 3150 s, then a minute apart (half of 450 s is 225 s, ...).
    assert_eq!(times(&rebinding), [3150, 3375, 3487, 3547]);
    assert!(log
        .iter()
        .filter(|l| l.2 == MessageType::Request)
        .all(|l| l.3 == OFFERED));

    assert_eq!(events(&mut client), [Event::Lost]);
    assert!(client.lease().is_none());
    let last = log.last().unwrap();
    assert_eq!(
        (last.0.as_secs(), last.1, last.2),
        (3600, Destination::Broadcast, MessageType::Discover)
    );
    assert_eq!(last.3, Ipv4Addr::UNSPECIFIED);
    assert_eq!(client.state(), ClientState::Selecting);
}

#[test]
fn rebinding_ack_from_another_server_keeps_the_address() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 6);
    let lease = bind(&mut client, t0);
    client.handle_timeout(lease.rebind_at);
    assert_eq!(client.state(), ClientState::Rebinding);
    let (to, rebind) = only_sent(&mut client);
    assert_eq!(to, Destination::Broadcast);
    let other = Ipv4Addr::new(10, 1, 2, 2);
    let mut options = fleet_options();
    options.push(DhcpOption::ServerIdentifier(other));
    client.handle_datagram(
        lease.rebind_at,
        &reply(&rebind, MessageType::Ack, OFFERED, &options),
    );
    let Event::Renewed(renewed) = one_event(&mut client) else {
        panic!("expected Renewed");
    };
    assert_eq!(
        renewed.server_id, other,
        "the next renewal goes to the new server"
    );
}

#[test]
fn nak_while_renewing_loses_the_address_and_rediscovers() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 9);
    let lease = bind(&mut client, t0);
    client.handle_timeout(lease.renew_at);
    let (_, renew) = only_sent(&mut client);
    client.handle_datagram(lease.renew_at, &nak(&renew));
    assert_eq!(events(&mut client), [Event::Lost]);
    assert!(client.lease().is_none());
    let (to, discover) = only_sent(&mut client);
    assert_eq!(
        (to, msg_type(&discover)),
        (Destination::Broadcast, MessageType::Discover)
    );
    assert_eq!(client.counters().naks, 1);
}

#[test]
fn repeated_naks_back_off_instead_of_flooding() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 10);
    client.start(t0);
    let mut now = t0;
    let mut discover_times = Vec::new();
    for _ in 0..3 {
        // The DISCOVER goes out at once unless a back-off delays it.
        let mut queued = sent(&mut client);
        if queued.is_empty() {
            now = client.poll_timeout().unwrap();
            client.handle_timeout(now);
            queued = sent(&mut client);
        }
        assert_eq!(queued.len(), 1);
        let (_, discover) = queued.remove(0);
        discover_times.push(now - t0);
        client.handle_datagram(
            now,
            &reply(&discover, MessageType::Offer, OFFERED, &fleet_options()),
        );
        let (_, request) = only_sent(&mut client);
        client.handle_datagram(now, &nak(&request));
    }
    assert_eq!(discover_times[0], Duration::ZERO);
    assert_eq!(
        discover_times[1],
        Duration::ZERO,
        "the first NAK restarts at once"
    );
    assert!(
        discover_times[2] >= secs(3),
        "the second NAK backs off: {discover_times:?}"
    );
    assert!(events(&mut client).is_empty(), "no address was ever held");
}

#[test]
fn init_reboot_asks_for_the_remembered_address_and_a_nak_falls_back_to_discover() {
    let remembered = Ipv4Addr::new(10, 1, 2, 77);
    let config = Config {
        requested_address: Some(remembered),
        ..Config::for_mac(MAC)
    };
    let (mut client, t0) = new_client(config, 11);
    client.start(t0);
    assert_eq!(client.state(), ClientState::Rebooting);
    let (to, request) = only_sent(&mut client);
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(msg_type(&request), MessageType::Request);
    assert!(request.flags().broadcast());
    assert_eq!(request.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        opt(&request, OptionCode::RequestedIpAddress),
        Some(&DhcpOption::RequestedIpAddress(remembered))
    );
    assert!(opt(&request, OptionCode::ServerIdentifier).is_none());

    client.handle_datagram(t0, &nak(&request));
    assert!(
        events(&mut client).is_empty(),
        "nothing was applied, nothing to remove"
    );
    let (_, discover) = only_sent(&mut client);
    assert_eq!(msg_type(&discover), MessageType::Discover);
    client.handle_datagram(
        t0,
        &reply(&discover, MessageType::Offer, OFFERED, &fleet_options()),
    );
    let (_, request) = only_sent(&mut client);
    assert_eq!(
        opt(&request, OptionCode::RequestedIpAddress),
        Some(&DhcpOption::RequestedIpAddress(OFFERED))
    );
}

#[test]
fn init_reboot_ack_binds_the_remembered_address() {
    let remembered = Ipv4Addr::new(10, 1, 2, 77);
    let config = Config {
        requested_address: Some(remembered),
        ..Config::for_mac(MAC)
    };
    let (mut client, t0) = new_client(config, 12);
    client.start(t0);
    let (_, request) = only_sent(&mut client);
    client.handle_datagram(
        t0,
        &reply(&request, MessageType::Ack, remembered, &fleet_options()),
    );
    let Event::Bound(lease) = one_event(&mut client) else {
        panic!("expected Bound");
    };
    assert_eq!(lease.address, remembered);
}

#[test]
fn unanswered_init_reboot_gives_up_after_about_twelve_seconds() {
    let config = Config {
        requested_address: Some(Ipv4Addr::new(10, 1, 2, 77)),
        ..Config::for_mac(MAC)
    };
    let (mut client, t0) = new_client(config, 13);
    client.start(t0);
    let mut requests = sent(&mut client);
    loop {
        let due = client.poll_timeout().unwrap();
        client.handle_timeout(due);
        let more = sent(&mut client);
        if more
            .iter()
            .any(|(_, m)| msg_type(m) == MessageType::Discover)
        {
            let waited = due - t0;
            assert!(
                waited >= secs(10) && waited <= secs(14),
                "gave up after {waited:?}"
            );
            break;
        }
        requests.extend(more);
    }
    assert_eq!(requests.len(), 2);
}

#[test]
fn link_down_keeps_silent_and_link_up_confirms_the_lease() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 14);
    let lease = bind(&mut client, t0);
    client.link_changed(false, t0 + secs(10));
    assert_eq!(client.state(), ClientState::WaitingForLink);
    // Only the expiry is still watched: T1 passes without a renewal.
    assert_eq!(client.poll_timeout(), Some(lease.expires_at));
    client.handle_timeout(lease.renew_at + secs(1));
    assert!(client.poll_transmit().is_none());

    let up = lease.renew_at + secs(5);
    client.link_changed(true, up);
    assert_eq!(client.state(), ClientState::Rebooting);
    let (to, request) = only_sent(&mut client);
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(
        opt(&request, OptionCode::RequestedIpAddress),
        Some(&DhcpOption::RequestedIpAddress(OFFERED))
    );
    client.handle_datagram(
        up,
        &reply(&request, MessageType::Ack, OFFERED, &fleet_options()),
    );
    let Event::Renewed(confirmed) = one_event(&mut client) else {
        panic!("expected Renewed");
    };
    assert_eq!(confirmed.expires_at, up + secs(3600));
}

#[test]
fn link_up_on_another_network_loses_the_address_on_nak() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 15);
    bind(&mut client, t0);
    client.link_changed(false, t0 + secs(1));
    client.link_changed(true, t0 + secs(2));
    let (_, request) = only_sent(&mut client);
    client.handle_datagram(t0 + secs(2), &nak(&request));
    assert_eq!(events(&mut client), [Event::Lost]);
    let (_, discover) = only_sent(&mut client);
    assert_eq!(msg_type(&discover), MessageType::Discover);
}

#[test]
fn silence_after_link_up_keeps_the_unexpired_lease() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 16);
    let lease = bind(&mut client, t0);
    client.link_changed(false, t0 + secs(1));
    client.link_changed(true, t0 + secs(2));
    while client.state() == ClientState::Rebooting {
        let due = client.poll_timeout().unwrap();
        client.handle_timeout(due);
    }
    assert_eq!(client.state(), ClientState::Bound);
    assert_eq!(client.lease(), Some(&lease));
    assert!(events(&mut client).is_empty());
}

#[test]
fn lease_expiring_while_the_link_is_down_is_lost_and_nothing_is_sent() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 17);
    let lease = bind(&mut client, t0);
    client.link_changed(false, t0);
    client.handle_timeout(lease.expires_at);
    assert_eq!(events(&mut client), [Event::Lost]);
    assert!(client.poll_transmit().is_none());
    assert_eq!(client.poll_timeout(), None);
    client.link_changed(true, lease.expires_at + secs(1));
    let (_, discover) = only_sent(&mut client);
    assert_eq!(msg_type(&discover), MessageType::Discover);
}

#[test]
fn release_sends_dhcprelease_and_stays_silent_until_start() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 18);
    let lease = bind(&mut client, t0);
    let t = t0 + secs(30);
    client.release(t);
    let (to, release) = only_sent(&mut client);
    assert_eq!(to, Destination::Unicast(SERVER));
    assert_eq!(msg_type(&release), MessageType::Release);
    assert_eq!(release.ciaddr(), OFFERED);
    assert_eq!(
        opt(&release, OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert!(opt(&release, OptionCode::Hostname).is_none());
    assert_eq!(events(&mut client), [Event::Released]);
    assert_eq!(client.state(), ClientState::Released);
    assert!(client.lease().is_none());

    // Silent through what would have been T1, T2 and expiry, and deaf.
    assert_eq!(client.poll_timeout(), None);
    for at in [
        lease.renew_at,
        lease.rebind_at,
        lease.expires_at + secs(3600),
    ] {
        client.handle_timeout(at);
    }
    client.handle_datagram(
        t,
        &reply(&release, MessageType::Ack, OFFERED, &fleet_options()),
    );
    client.link_changed(false, t);
    client.link_changed(true, t);
    client.release(t);
    assert!(client.poll_transmit().is_none());
    assert!(events(&mut client).is_empty());
    assert_eq!(client.state(), ClientState::Released);

    // start() leaves Released with a fresh DISCOVER: the address was given back.
    let later = lease.expires_at + secs(7200);
    client.start(later);
    let (_, discover) = only_sent(&mut client);
    assert_eq!(msg_type(&discover), MessageType::Discover);
}

#[test]
fn release_without_a_lease_sends_nothing() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 19);
    client.start(t0);
    let _ = sent(&mut client);
    client.release(t0);
    assert!(client.poll_transmit().is_none());
    assert_eq!(events(&mut client), [Event::Released]);
    assert_eq!(client.poll_timeout(), None);

    // A client created released (the flag persisted) stays so until start.
    let (mut client, t0) = new_client(Config::for_mac(MAC), 20);
    client.release(t0);
    client.handle_timeout(t0 + secs(100));
    assert!(client.poll_transmit().is_none());
}

#[test]
fn foreign_replies_are_counted_and_ignored() {
    let (mut client, t0) = new_client(Config::for_mac(MAC), 21);
    client.start(t0);
    let (_, discover) = only_sent(&mut client);

    let mut wrong_xid = discover.clone();
    wrong_xid.set_xid(discover.xid().wrapping_add(1));
    client.handle_datagram(
        t0,
        &reply(&wrong_xid, MessageType::Offer, OFFERED, &fleet_options()),
    );
    let mut other_phone = discover.clone();
    other_phone.set_chaddr(&[0x00, 0x30, 0x94, 0, 0, 1]);
    client.handle_datagram(
        t0,
        &reply(&other_phone, MessageType::Offer, OFFERED, &fleet_options()),
    );
    // An ACK while selecting is ours but out of place.
    client.handle_datagram(
        t0,
        &reply(&discover, MessageType::Ack, OFFERED, &fleet_options()),
    );
    // An OFFER without a server identifier cannot be requested.
    let mut no_server = fleet_options();
    no_server.remove(0);
    client.handle_datagram(
        t0,
        &reply(&discover, MessageType::Offer, OFFERED, &no_server),
    );
    // Our own broadcast DISCOVER, looped back.
    client.handle_datagram(t0, &discover.to_vec().unwrap());

    assert!(client.poll_transmit().is_none());
    assert!(events(&mut client).is_empty());
    assert_eq!(client.state(), ClientState::Selecting);
    assert_eq!(
        client.counters(),
        Counters {
            malformed: 2,
            foreign: 2,
            unexpected: 1,
            naks: 0
        }
    );
}

#[test]
fn invalid_configs_are_refused_with_the_reason() {
    let t0 = Instant::now();
    let bad_name = Config {
        hostname: String::new(),
        ..Config::for_mac(MAC)
    };
    assert_eq!(
        DhcpClient::new(bad_name, t0, 0).unwrap_err(),
        ConfigError::HostnameLength(0)
    );
    let bad_id = Config {
        client_id: vec![1],
        ..Config::for_mac(MAC)
    };
    assert_eq!(
        DhcpClient::new(bad_id, t0, 0).unwrap_err(),
        ConfigError::ClientIdLength(1)
    );
    let multicast = Config::for_mac([0x01, 0, 0x5e, 0, 0, 1]);
    assert!(matches!(
        DhcpClient::new(multicast, t0, 0),
        Err(ConfigError::BadMac(_))
    ));
}

#[test]
fn hostname_is_sip_and_the_upper_case_mac() {
    assert_eq!(
        cisco_hostname([0x00, 0x0d, 0xbc, 0x5a, 0x0f, 0xe1]),
        "SIP000DBC5A0FE1"
    );
}

proptest! {
    /// Random datagrams, and random corruptions of a valid OFFER, never
    /// panic and never move the client.
    #[test]
    fn garbage_never_panics_or_changes_state(
        noise in proptest::collection::vec(any::<u8>(), 0..700),
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..8),
    ) {
        let (mut client, t0) = new_client(Config::for_mac(MAC), 22);
        client.start(t0);
        let (_, discover) = only_sent(&mut client);
        client.handle_datagram(t0, &noise);

        let mut offer = reply(&discover, MessageType::Offer, OFFERED, &fleet_options());
        // Keep the header that makes it ours; corrupt the rest.
        for (at, byte) in flips {
            let at = 34 + at % (offer.len() - 34);
            offer[at] = byte;
        }
        client.handle_datagram(t0, &offer);
        let counters = client.counters();
        prop_assert!(counters.malformed + counters.foreign + counters.unexpected <= 2);
        // Either the corrupted OFFER was still usable, or nothing happened.
        prop_assert!(matches!(client.state(), ClientState::Selecting | ClientState::Requesting));
        prop_assert!(events(&mut client).is_empty());
    }
}
