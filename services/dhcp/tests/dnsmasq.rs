//! The client shell against a real dnsmasq, over a veth pair between two
//! network namespaces. Each test takes a few seconds.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{skip, unavailable, Client, Dnsmasq, Network, SERVER_ADDRESS};
use deskphone_dhcp::shell::Command;
use deskphone_dhcp::{ClientState, Config, DhcpClient, Event, Lease, TftpServer};

const MAC: [u8; 6] = [0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6];
const MAC_TEXT: &str = "00:30:94:c2:d5:e6";
/// dnsmasq's shortest lease.
const LEASE: Duration = Duration::from_secs(120);
const EXCHANGE: Duration = Duration::from_secs(20);

/// A Cisco-fleet scope: two routers and two DNS servers in a deliberate
/// order, option 66 as a name, option 150 as a list, and a next server.
const FLEET: &[&str] = &[
    "--dhcp-range=10.77.0.50,10.77.0.150,255.255.255.0,2m",
    "--dhcp-option=3,10.77.0.254,10.77.0.1",
    "--dhcp-option=6,10.77.0.53,10.77.0.54",
    "--dhcp-option=15,voice.example.test",
    "--dhcp-option=66,tftp.example.test",
    "--dhcp-option=150,10.77.0.12,10.77.0.11",
    "--dhcp-boot=SIPDefault.cnf,,10.77.0.69",
];

fn client(config: Config) -> DhcpClient {
    let seed = u64::from(std::process::id()) << 32 | u64::from(config.mac[5]);
    DhcpClient::new(config, Instant::now(), seed).unwrap()
}

async fn bound(client: &mut Client) -> Lease {
    match client.next_event(EXCHANGE).await {
        Event::Bound(lease) => lease,
        other => panic!("expected Bound, got {other:?}"),
    }
}

fn in_range(address: Ipv4Addr) -> bool {
    (Ipv4Addr::new(10, 77, 0, 50)..=Ipv4Addr::new(10, 77, 0, 150)).contains(&address)
}

#[tokio::test]
async fn dnsmasq_grants_a_lease_with_the_fleet_options() {
    if let Some(reason) = unavailable() {
        return skip(&format!(
            "dnsmasq_grants_a_lease_with_the_fleet_options: {reason}"
        ));
    }
    let net = Network::new();
    let server = Dnsmasq::start(&net, FLEET);
    let mut shell = Client::spawn(&net, client(Config::for_mac(MAC)));
    let started = Instant::now();
    shell.send(Command::Start).await;
    let lease = bound(&mut shell).await;
    let took = started.elapsed();

    assert!(in_range(lease.address), "{lease:?}");
    assert_eq!(lease.prefix_len, 24);
    assert_eq!(lease.broadcast, Ipv4Addr::new(10, 77, 0, 255));
    assert_eq!(
        lease.routers,
        [Ipv4Addr::new(10, 77, 0, 254), Ipv4Addr::new(10, 77, 0, 1)]
    );
    assert_eq!(
        lease.dns_servers,
        [Ipv4Addr::new(10, 77, 0, 53), Ipv4Addr::new(10, 77, 0, 54)]
    );
    assert_eq!(lease.domain_name.as_deref(), Some("voice.example.test"));
    assert_eq!(lease.tftp_server_name.as_deref(), Some("tftp.example.test"));
    assert_eq!(
        lease.tftp_servers,
        [Ipv4Addr::new(10, 77, 0, 12), Ipv4Addr::new(10, 77, 0, 11)]
    );
    assert_eq!(lease.next_server, Some(Ipv4Addr::new(10, 77, 0, 69)));
    assert_eq!(lease.server_id, SERVER_ADDRESS);
    assert_eq!(lease.lease_time, LEASE);
    assert_eq!(lease.renew_at - lease.acquired_at, LEASE / 2);
    // Option 150, in the server's order, before option 66, before siaddr.
    assert_eq!(
        lease.tftp_candidates(),
        [
            TftpServer::Address(Ipv4Addr::new(10, 77, 0, 12)),
            TftpServer::Address(Ipv4Addr::new(10, 77, 0, 11)),
            TftpServer::Name("tftp.example.test".into()),
            TftpServer::Address(Ipv4Addr::new(10, 77, 0, 69)),
        ]
    );

    let status = shell.status().await;
    assert_eq!(status.state, ClientState::Bound);
    assert_eq!(status.server, Some(SERVER_ADDRESS));

    // dnsmasq recorded the host name the client sent.
    let leases = server.leases();
    let line = leases
        .iter()
        .find(|l| l.get(1).map(String::as_str) == Some(MAC_TEXT))
        .unwrap_or_else(|| panic!("no lease for {MAC_TEXT}: {leases:?}"));
    assert_eq!(line[2], lease.address.to_string());
    assert_eq!(line[3], "SIP003094C2D5E6");
    assert_eq!(line[4], "01:00:30:94:c2:d5:e6");

    eprintln!("FIGURE dnsmasq start..Bound, first client: {took:?}");
}

/// The figure: start to Bound for a few phones in a row, with dnsmasq's
/// default ICMP probe of a new address before offering it, and without.
#[tokio::test]
async fn dnsmasq_exchange_timing() {
    if let Some(reason) = unavailable() {
        return skip(&format!("dnsmasq_exchange_timing: {reason}"));
    }
    for (label, phones, extra) in [("default", 2u8, None), ("--no-ping", 5, Some("--no-ping"))] {
        let net = Network::new();
        let mut options = FLEET.to_vec();
        options.extend(extra);
        let _server = Dnsmasq::start(&net, &options);
        let mut times = Vec::new();
        for last_byte in 1..=phones {
            let mut shell = Client::spawn(
                &net,
                client(Config::for_mac([0x00, 0x30, 0x94, 0, 0, last_byte])),
            );
            let started = Instant::now();
            shell.send(Command::Start).await;
            let lease = bound(&mut shell).await;
            times.push(started.elapsed());
            assert!(in_range(lease.address));
        }
        times.sort();
        eprintln!(
            "FIGURE dnsmasq ({label}) start..Bound over {} phones: min {:?}, median {:?}, max {:?}",
            times.len(),
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}

#[tokio::test]
async fn release_removes_the_lease_and_the_client_falls_silent() {
    if let Some(reason) = unavailable() {
        return skip(&format!("release_removes_the_lease: {reason}"));
    }
    let net = Network::new();
    let server = Dnsmasq::start(&net, FLEET);
    let mut shell = Client::spawn(&net, client(Config::for_mac(MAC)));
    shell.send(Command::Start).await;
    let lease = bound(&mut shell).await;
    // As netd would: the address is applied, and kept until Released.
    net.apply(lease.address, lease.prefix_len);
    let address = lease.address.to_string();
    assert!(server.leases().iter().any(|l| l[2] == address));

    shell.send(Command::Release).await;
    assert_eq!(
        shell.next_event(Duration::from_secs(5)).await,
        Event::Released
    );
    net.remove(lease.address, lease.prefix_len);

    let deadline = Instant::now() + Duration::from_secs(5);
    while server.leases().iter().any(|l| l[2] == address) {
        assert!(
            Instant::now() < deadline,
            "dnsmasq still holds the lease: {:?}\n{}",
            server.leases(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.log().contains(&format!(
        "DHCPRELEASE({}) {address} {MAC_TEXT}",
        net.server_if
    )));

    // Longer than the first retransmission (4 +- 1 s) would take.
    shell.expect_no_event(Duration::from_secs(6)).await;
    let log = server.log();
    let after_release = log.split("DHCPRELEASE").nth(1).unwrap();
    assert!(
        !after_release.lines().skip(1).any(|l| l.contains(MAC_TEXT)),
        "the client sent something after releasing:\n{after_release}"
    );
    assert_eq!(shell.status().await.state, ClientState::Released);

    // Start leaves Released with a new exchange.
    shell.send(Command::Start).await;
    let again = bound(&mut shell).await;
    assert!(in_range(again.address));
}

#[tokio::test]
async fn init_reboot_with_a_wrong_address_is_naked_then_leased_afresh() {
    if let Some(reason) = unavailable() {
        return skip(&format!("init_reboot_with_a_wrong_address: {reason}"));
    }
    let net = Network::new();
    let server = Dnsmasq::start(&net, FLEET);
    let first = {
        let mut shell = Client::spawn(&net, client(Config::for_mac(MAC)));
        shell.send(Command::Start).await;
        bound(&mut shell).await
    };

    // A restart that remembers the right address: INIT-REBOOT, no DISCOVER.
    let discovers_before = server.log().matches("DHCPDISCOVER").count();
    let remembered = Config {
        requested_address: Some(first.address),
        ..Config::for_mac(MAC)
    };
    {
        let mut shell = Client::spawn(&net, client(remembered));
        shell.send(Command::Start).await;
        assert_eq!(bound(&mut shell).await.address, first.address);
    }
    assert_eq!(
        server.log().matches("DHCPDISCOVER").count(),
        discovers_before
    );

    // A phone moved from another network remembers a foreign address.
    let moved = Config {
        requested_address: Some(Ipv4Addr::new(192, 168, 99, 23)),
        ..Config::for_mac(MAC)
    };
    let mut shell = Client::spawn(&net, client(moved));
    let started = Instant::now();
    shell.send(Command::Start).await;
    let fresh = bound(&mut shell).await;
    assert_eq!(
        fresh.address, first.address,
        "dnsmasq keeps the client's address"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the NAK, not a timeout, ended INIT-REBOOT ({:?})",
        started.elapsed()
    );
    assert_eq!(shell.status().await.counters.naks, 1);
    assert!(server.log().contains("DHCPNAK"), "{}", server.log());
}

/// dnsmasq's minimum lease is two minutes, but it lets the scope set T1 and
/// T2 (options 58 and 59): a renewal at T1 = 3 s is the server's own timer.
#[tokio::test]
async fn renewal_at_the_servers_t1() {
    if let Some(reason) = unavailable() {
        return skip(&format!("renewal_at_the_servers_t1: {reason}"));
    }
    let net = Network::new();
    let mut options = FLEET.to_vec();
    options.extend(["--dhcp-option=option:T1,3", "--dhcp-option=option:T2,100"]);
    let server = Dnsmasq::start(&net, &options);
    let mut shell = Client::spawn(&net, client(Config::for_mac(MAC)));
    shell.send(Command::Start).await;
    let lease = bound(&mut shell).await;
    assert_eq!(lease.renew_at - lease.acquired_at, Duration::from_secs(3));
    assert_eq!(
        lease.rebind_at - lease.acquired_at,
        Duration::from_secs(100)
    );
    net.apply(lease.address, lease.prefix_len);
    let expiry_before = server.leases()[0][0].clone();

    let renewed = match shell.next_event(Duration::from_secs(10)).await {
        Event::Renewed(renewed) => renewed,
        other => panic!("expected Renewed, got {other:?}"),
    };
    assert_eq!(renewed.address, lease.address);
    assert!(renewed.acquired_at >= lease.renew_at);
    assert!(renewed.expires_at > lease.expires_at);
    assert_eq!(renewed.tftp_servers, lease.tftp_servers);
    // The renewal was answered without a broadcast exchange: one DISCOVER
    // in the whole log, two ACKs.
    let log = server.log();
    assert_eq!(log.matches("DHCPDISCOVER").count(), 1, "{log}");
    assert_eq!(log.matches("DHCPACK").count(), 2, "{log}");
    let expiry_after = server.leases()[0][0].clone();
    assert!(
        expiry_after > expiry_before,
        "{expiry_before} -> {expiry_after}"
    );
    assert_eq!(shell.status().await.state, ClientState::Bound);
}
