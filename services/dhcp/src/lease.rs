//! A granted lease: the address, the network settings of the guide's Table 3-1
//! that DHCP supplies, the TFTP server choices and the lease timers.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::message::Reply;

/// RFC 2131 section 4.4.5 defaults for T1 and T2, as fractions of the lease.
const RENEW_FRACTION: f64 = 0.5;
const REBIND_FRACTION: f64 = 0.875;

/// Option 51's "infinity" (RFC 2131 section 3.3).
const INFINITE_SECS: u32 = u32::MAX;

/// Far enough ahead to mean "never" without overflowing `Instant`.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Everything the caller applies to the interface and shows on the Network
/// Configuration menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// yiaddr: the phone's IP Address.
    pub address: Ipv4Addr,
    /// Subnet Mask as a prefix length (option 1, or the address class when
    /// the server sends none).
    pub prefix_len: u8,
    /// Option 28, or computed from the address and prefix.
    pub broadcast: Ipv4Addr,
    /// Option 3: Default Routers 1 to 5, in the server's order.
    pub routers: Vec<Ipv4Addr>,
    /// Option 6: DNS Servers 1 to 5, in the server's order.
    pub dns_servers: Vec<Ipv4Addr>,
    /// Option 15: Domain Name.
    pub domain_name: Option<String>,
    /// Option 66, as text (a name or a dotted address).
    pub tftp_server_name: Option<String>,
    /// Option 150: TFTP server addresses, in the server's order.
    pub tftp_servers: Vec<Ipv4Addr>,
    /// siaddr (BOOTP next server), when not 0.0.0.0.
    pub next_server: Option<Ipv4Addr>,
    /// Option 54: the DHCP Server of the Network Configuration menu.
    pub server_id: Ipv4Addr,
    /// Option 51 (`u32::MAX` seconds means infinite).
    pub lease_time: Duration,
    /// When the REQUEST that won this lease was first sent: the lease runs
    /// from there (RFC 2131 section 4.4.1).
    pub acquired_at: Instant,
    /// T1: start RENEWING (unicast to `server_id`).
    pub renew_at: Instant,
    /// T2: start REBINDING (broadcast).
    pub rebind_at: Instant,
    /// The address must be removed at this time unless renewed.
    pub expires_at: Instant,
}

/// One place to fetch configuration files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TftpServer {
    Address(Ipv4Addr),
    /// Option 66 holding a name: resolve it with the lease's DNS servers.
    Name(String),
}

impl fmt::Display for TftpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TftpServer::Address(a) => a.fmt(f),
            TftpServer::Name(n) => f.write_str(n),
        }
    }
}

impl Lease {
    /// Builds the lease an ACK grants. `None` when the ACK lacks what every
    /// lease needs (an address and a lease time) or names no server and none
    /// is known from the exchange.
    pub(crate) fn from_ack(
        reply: &Reply,
        fallback_server: Option<Ipv4Addr>,
        requested_at: Instant,
    ) -> Option<Lease> {
        let address = reply.yiaddr;
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return None;
        }
        let lease_secs = reply.lease_secs?;
        let server_id = reply.server_id.or(fallback_server)?;
        let prefix_len = reply
            .subnet_mask
            .map(|m| m.to_bits().leading_ones() as u8)
            .unwrap_or_else(|| classful_prefix(address));
        let broadcast = reply
            .broadcast
            .unwrap_or_else(|| directed_broadcast(address, prefix_len));
        let (renew, rebind, lease) = timers(lease_secs, reply.renewal_secs, reply.rebinding_secs);
        let at = |d: Duration| requested_at.checked_add(d).unwrap_or(requested_at + NEVER);
        Some(Lease {
            address,
            prefix_len,
            broadcast,
            routers: reply.routers.clone(),
            dns_servers: reply.dns_servers.clone(),
            domain_name: reply.domain_name.clone(),
            tftp_server_name: reply.tftp_server_name.clone(),
            tftp_servers: reply.tftp_servers.clone(),
            next_server: Some(reply.siaddr).filter(|a| !a.is_unspecified()),
            server_id,
            lease_time: Duration::from_secs(u64::from(lease_secs)),
            acquired_at: requested_at,
            renew_at: at(renew),
            rebind_at: at(rebind),
            expires_at: at(lease),
        })
    }

    /// The Subnet Mask in dotted form.
    pub fn subnet_mask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(prefix_mask(self.prefix_len))
    }

    /// A lease of "infinity": it never needs renewing.
    pub fn is_infinite(&self) -> bool {
        self.lease_time == Duration::from_secs(u64::from(INFINITE_SECS))
    }

    /// Where to fetch configuration files, most preferred first, as a Cisco
    /// phone does: the option 150 list, then option 66, then siaddr.
    /// Duplicates keep their first place.
    pub fn tftp_candidates(&self) -> Vec<TftpServer> {
        let option_66 = self.tftp_server_name.as_ref().map(|name| {
            name.parse()
                .map(TftpServer::Address)
                .unwrap_or_else(|_| TftpServer::Name(name.clone()))
        });
        let mut out: Vec<TftpServer> = Vec::new();
        let all = self
            .tftp_servers
            .iter()
            .map(|&a| TftpServer::Address(a))
            .chain(option_66)
            .chain(self.next_server.map(TftpServer::Address));
        for candidate in all {
            if !out.contains(&candidate) {
                out.push(candidate);
            }
        }
        out
    }
}

/// (T1, T2, lease) offsets. The server's T1 and T2 are used when they are
/// ordered T1 < T2 < lease; otherwise the RFC defaults.
fn timers(lease: u32, t1: Option<u32>, t2: Option<u32>) -> (Duration, Duration, Duration) {
    if lease == INFINITE_SECS {
        return (NEVER, NEVER, NEVER);
    }
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    let fraction = |f: f64| Duration::from_secs_f64(f64::from(lease) * f);
    let (mut renew, mut rebind) = (fraction(RENEW_FRACTION), fraction(REBIND_FRACTION));
    match (t1, t2) {
        (Some(t1), Some(t2)) if t1 < t2 && t2 < lease => (renew, rebind) = (secs(t1), secs(t2)),
        (Some(t1), None) if secs(t1) < rebind => renew = secs(t1),
        (None, Some(t2)) if secs(t2) > renew && t2 < lease => rebind = secs(t2),
        _ => {}
    }
    (renew, rebind, secs(lease))
}

fn prefix_mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0)
}

/// The pre-CIDR default mask (RFC 1122 section 3.3.1.1 lets a host fall back
/// to it) for servers that send no option 1.
fn classful_prefix(address: Ipv4Addr) -> u8 {
    match address.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

fn directed_broadcast(address: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from_bits(address.to_bits() | !prefix_mask(prefix_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::MessageType;

    fn ack() -> Reply {
        Reply {
            kind: MessageType::Ack,
            xid: 1,
            chaddr: [0; 6],
            hlen: 6,
            yiaddr: Ipv4Addr::new(10, 1, 2, 50),
            siaddr: Ipv4Addr::new(10, 1, 2, 69),
            server_id: Some(Ipv4Addr::new(10, 1, 2, 1)),
            subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 0)),
            routers: vec![],
            dns_servers: vec![],
            domain_name: None,
            broadcast: None,
            lease_secs: Some(3600),
            renewal_secs: None,
            rebinding_secs: None,
            tftp_server_name: None,
            tftp_servers: vec![],
        }
    }

    #[test]
    fn default_timers_are_half_and_seven_eighths_of_the_lease() {
        let t0 = Instant::now();
        let lease = Lease::from_ack(&ack(), None, t0).unwrap();
        assert_eq!(lease.renew_at - t0, Duration::from_secs(1800));
        assert_eq!(lease.rebind_at - t0, Duration::from_secs(3150));
        assert_eq!(lease.expires_at - t0, Duration::from_secs(3600));
        assert_eq!(lease.prefix_len, 24);
        assert_eq!(lease.subnet_mask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(lease.broadcast, Ipv4Addr::new(10, 1, 2, 255));
        assert_eq!(lease.next_server, Some(Ipv4Addr::new(10, 1, 2, 69)));
    }

    #[test]
    fn server_timers_are_used_only_when_ordered() {
        let t0 = Instant::now();
        let mut reply = ack();
        reply.renewal_secs = Some(100);
        reply.rebinding_secs = Some(200);
        let lease = Lease::from_ack(&reply, None, t0).unwrap();
        assert_eq!(
            (lease.renew_at - t0, lease.rebind_at - t0),
            (Duration::from_secs(100), Duration::from_secs(200))
        );
        reply.renewal_secs = Some(300);
        let lease = Lease::from_ack(&reply, None, t0).unwrap();
        assert_eq!(lease.renew_at - t0, Duration::from_secs(1800));
    }

    #[test]
    fn infinite_lease_never_renews() {
        let t0 = Instant::now();
        let mut reply = ack();
        reply.lease_secs = Some(u32::MAX);
        let lease = Lease::from_ack(&reply, None, t0).unwrap();
        assert!(lease.is_infinite());
        assert!(lease.renew_at - t0 > Duration::from_secs(50 * 365 * 24 * 3600));
    }

    #[test]
    fn missing_mask_falls_back_to_the_address_class() {
        let mut reply = ack();
        reply.subnet_mask = None;
        reply.yiaddr = Ipv4Addr::new(172, 16, 9, 9);
        let lease = Lease::from_ack(&reply, None, Instant::now()).unwrap();
        assert_eq!(lease.prefix_len, 16);
        assert_eq!(lease.broadcast, Ipv4Addr::new(172, 16, 255, 255));
    }

    #[test]
    fn ack_without_address_lease_time_or_server_grants_nothing() {
        let t0 = Instant::now();
        let mut reply = ack();
        reply.yiaddr = Ipv4Addr::UNSPECIFIED;
        assert!(Lease::from_ack(&reply, None, t0).is_none());
        let mut reply = ack();
        reply.lease_secs = None;
        assert!(Lease::from_ack(&reply, None, t0).is_none());
        let mut reply = ack();
        reply.server_id = None;
        assert!(Lease::from_ack(&reply, None, t0).is_none());
        let known = Ipv4Addr::new(10, 1, 2, 2);
        assert_eq!(
            Lease::from_ack(&reply, Some(known), t0).unwrap().server_id,
            known
        );
    }

    #[test]
    fn tftp_candidates_prefer_150_then_66_then_siaddr() {
        let mut reply = ack();
        reply.tftp_servers = vec![Ipv4Addr::new(10, 1, 2, 11), Ipv4Addr::new(10, 1, 2, 12)];
        reply.tftp_server_name = Some("tftp.example.test".into());
        let lease = Lease::from_ack(&reply, None, Instant::now()).unwrap();
        assert_eq!(
            lease.tftp_candidates(),
            [
                TftpServer::Address(Ipv4Addr::new(10, 1, 2, 11)),
                TftpServer::Address(Ipv4Addr::new(10, 1, 2, 12)),
                TftpServer::Name("tftp.example.test".into()),
                TftpServer::Address(Ipv4Addr::new(10, 1, 2, 69)),
            ]
        );
        // Option 66 as a dotted address that repeats siaddr appears once.
        reply.tftp_servers.clear();
        reply.tftp_server_name = Some("10.1.2.69".into());
        let lease = Lease::from_ack(&reply, None, Instant::now()).unwrap();
        assert_eq!(
            lease.tftp_candidates(),
            [TftpServer::Address(Ipv4Addr::new(10, 1, 2, 69))]
        );
    }
}
