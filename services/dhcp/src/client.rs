//! The sans-IO DHCPv4 client state machine (RFC 2131 section 4.4).

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dhcproto::v4::MessageType;

use crate::lease::Lease;
use crate::message::{encode_request, parse_reply, Reply, Request};

/// The first retransmission waits this long (RFC 2131 section 4.1) ...
const FIRST_RETRANSMIT: Duration = Duration::from_secs(4);
/// ... doubling up to this.
const MAX_RETRANSMIT: Duration = Duration::from_secs(64);
/// Each wait is moved by up to this much either way, so that a room full of
/// phones powered on together does not retransmit in step.
const JITTER_MS: u64 = 1000;
/// REQUESTs sent after an OFFER before starting over with DISCOVER.
const REQUEST_ATTEMPTS: u32 = 4;
/// INIT-REBOOT REQUESTs (at about 0 s and 4 s; given up at about 12 s) before
/// falling back: a phone should not sit long on a network whose server
/// ignores requests for addresses it does not know.
const REBOOT_ATTEMPTS: u32 = 2;
/// The shortest wait between REQUESTs while RENEWING or REBINDING
/// (RFC 2131 section 4.4.5).
const MIN_RENEW_RETRY: Duration = Duration::from_secs(60);

/// Hardware type 1 (Ethernet) client identifier (RFC 2132 section 9.14).
const ETHERNET_HTYPE: u8 = 1;

/// Who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mac: [u8; 6],
    /// Option 12. The guide fixes it to `SIP` followed by the MAC address.
    pub hostname: String,
    /// Option 61: 0x01 followed by the MAC address unless set otherwise.
    pub client_id: Vec<u8>,
    /// The address of the last lease, remembered across restarts: the client
    /// first asks for it again (INIT-REBOOT) instead of DISCOVERing.
    pub requested_address: Option<Ipv4Addr>,
}

impl Config {
    /// The phone's identity: host name `SIP<MAC>` (upper-case hex) and
    /// client identifier 0x01 + MAC.
    pub fn for_mac(mac: [u8; 6]) -> Config {
        let mut client_id = vec![ETHERNET_HTYPE];
        client_id.extend_from_slice(&mac);
        Config {
            mac,
            hostname: cisco_hostname(mac),
            client_id,
            requested_address: None,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // One option may hold at most 255 bytes; longer values would have to
        // be split (RFC 3396), which servers handle unevenly.
        if self.hostname.is_empty() || self.hostname.len() > 255 {
            return Err(ConfigError::HostnameLength(self.hostname.len()));
        }
        if !(2..=255).contains(&self.client_id.len()) {
            return Err(ConfigError::ClientIdLength(self.client_id.len()));
        }
        if self.mac == [0; 6] || self.mac[0] & 1 == 1 {
            return Err(ConfigError::BadMac(self.mac));
        }
        Ok(())
    }
}

/// `SIP` followed by the MAC address in upper-case hex, e.g. `SIP003094C2D5E6`.
pub fn cisco_hostname(mac: [u8; 6]) -> String {
    let mut name = String::from("SIP");
    for byte in mac {
        name.push_str(&format!("{byte:02X}"));
    }
    name
}

/// A [`Config`] the client cannot send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("host name must be 1 to 255 bytes long, not {0}")]
    HostnameLength(usize),
    #[error("client identifier must be 2 to 255 bytes long, not {0}")]
    ClientIdLength(usize),
    #[error("MAC address {0:02x?} is not a unicast hardware address")]
    BadMac([u8; 6]),
}

/// Where a datagram goes; the port is always 67 ([`crate::SERVER_PORT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// 255.255.255.255 on the client's interface.
    Broadcast,
    /// A server the client holds an address from (RENEWING, RELEASE).
    Unicast(Ipv4Addr),
}

/// A datagram to send from port 68 ([`crate::CLIENT_PORT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Destination,
    pub bytes: Vec<u8>,
}

/// What the caller must do to the interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new address: apply it with the lease's settings.
    Bound(Lease),
    /// The address the caller already holds was extended or confirmed; the
    /// settings may have changed.
    Renewed(Lease),
    /// The lease expired or the server refused it (NAK): remove the address.
    Lost,
    /// The address was given back (or none was held): remove it. Nothing is
    /// sent until [`DhcpClient::start`].
    Released,
}

/// The RFC 2131 states, plus the two this client adds: not started yet, and
/// waiting for the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Idle,
    WaitingForLink,
    Selecting,
    Requesting,
    Rebooting,
    Bound,
    Renewing,
    Rebinding,
    Released,
}

impl fmt::Display for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientState::Idle => "idle",
            ClientState::WaitingForLink => "waiting for link",
            ClientState::Selecting => "selecting",
            ClientState::Requesting => "requesting",
            ClientState::Rebooting => "rebooting",
            ClientState::Bound => "bound",
            ClientState::Renewing => "renewing",
            ClientState::Rebinding => "rebinding",
            ClientState::Released => "released",
        })
    }
}

/// Datagrams the client dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Not a decodable DHCP reply.
    pub malformed: u64,
    /// For another client (chaddr) or another exchange (xid).
    pub foreign: u64,
    /// Ours, but not what the current state waits for (e.g. a late OFFER).
    pub unexpected: u64,
    /// NAKs received (these are acted on, not dropped).
    pub naks: u64,
}

/// A snapshot for the Status and Network Configuration screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: ClientState,
    pub lease: Option<Lease>,
    /// The DHCP Server: of the lease, or the one being requested from.
    pub server: Option<Ipv4Addr>,
    pub renew_in: Option<Duration>,
    pub rebind_in: Option<Duration>,
    pub expires_in: Option<Duration>,
    pub counters: Counters,
}

/// The address fields that tell the kinds of REQUEST apart (RFC 2131
/// table 5).
#[derive(Debug, Clone, Copy, Default)]
struct Addressing {
    /// ciaddr: the address the client holds (RENEWING, REBINDING, RELEASE).
    client_address: Option<Ipv4Addr>,
    /// Option 50: the address asked for (SELECTING, INIT-REBOOT).
    requested_address: Option<Ipv4Addr>,
    /// Option 54: the server chosen (SELECTING, RELEASE).
    server_id: Option<Ipv4Addr>,
}

impl Addressing {
    fn holding(address: Ipv4Addr) -> Addressing {
        Addressing {
            client_address: Some(address),
            ..Addressing::default()
        }
    }
}

/// One transaction (one xid) and its retransmission schedule.
#[derive(Debug, Clone)]
struct Exchange {
    xid: u32,
    /// Start of the acquisition, for the `secs` field.
    started: Instant,
    /// The lease of an ACK to this exchange runs from here.
    first_sent: Option<Instant>,
    sent: u32,
    next: Instant,
}

#[derive(Debug, Clone)]
enum State {
    Idle,
    WaitingForLink,
    Selecting(Exchange),
    Requesting {
        exchange: Exchange,
        address: Ipv4Addr,
        server_id: Ipv4Addr,
    },
    Rebooting {
        exchange: Exchange,
        address: Ipv4Addr,
    },
    Bound,
    Renewing(Exchange),
    Rebinding(Exchange),
    Released,
}

/// The DHCPv4 client. See the crate documentation for the run loop.
#[derive(Debug)]
pub struct DhcpClient {
    config: Config,
    state: State,
    /// The lease the caller holds (reported by Bound/Renewed, not yet Lost or
    /// Released).
    lease: Option<Lease>,
    /// Asked for first on the next start or link-up (INIT-REBOOT).
    remembered: Option<Ipv4Addr>,
    link_up: bool,
    /// Consecutive NAKs: after the first, DISCOVER backs off, so that a
    /// server that NAKs everything is not flooded.
    naks_in_a_row: u32,
    rng: SplitMix64,
    /// The latest time seen; earlier times passed in are raised to it.
    now: Instant,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counters: Counters,
}

impl DhcpClient {
    /// A client that sends nothing until [`start`](Self::start). `seed`
    /// drives transaction ids and retransmission jitter: give each boot a
    /// different one.
    pub fn new(config: Config, now: Instant, seed: u64) -> Result<DhcpClient, ConfigError> {
        config.validate()?;
        Ok(DhcpClient {
            remembered: config.requested_address,
            config,
            state: State::Idle,
            lease: None,
            link_up: true,
            naks_in_a_row: 0,
            rng: SplitMix64(seed),
            now,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
        })
    }

    /// Starts acquiring an address: INIT-REBOOT with the remembered address,
    /// otherwise DISCOVER. Leaves the Released state; does nothing while
    /// already running.
    pub fn start(&mut self, now: Instant) {
        let now = self.clock(now);
        if matches!(self.state, State::Idle | State::Released) {
            self.begin(now);
        }
    }

    /// "DHCP Address Released": sends DHCPRELEASE to the server of the lease
    /// (if one is held and the link is up), reports [`Event::Released`] and then stays silent
    /// until [`start`](Self::start).
    pub fn release(&mut self, now: Instant) {
        self.clock(now);
        if matches!(self.state, State::Released) {
            return;
        }
        if let Some(lease) = self.lease.take() {
            if self.link_up {
                let xid = self.rng.next_u32();
                let addressing = Addressing {
                    client_address: Some(lease.address),
                    server_id: Some(lease.server_id),
                    ..Addressing::default()
                };
                let to = Destination::Unicast(lease.server_id);
                self.send(to, MessageType::Release, xid, 0, addressing);
            }
        }
        self.remembered = None;
        self.state = State::Released;
        self.events.push_back(Event::Released);
    }

    /// The interface's carrier changed. Down: stop sending, keep the lease
    /// until it expires. Up: confirm the lease (INIT-REBOOT), since the phone
    /// may now be on another network.
    pub fn link_changed(&mut self, up: bool, now: Instant) {
        let now = self.clock(now);
        self.link_up = up;
        match self.state {
            State::Idle | State::Released => {}
            _ if !up => self.state = State::WaitingForLink,
            _ => self.begin(now),
        }
    }

    /// A datagram received on port 68. Anything that is not a reply to the
    /// current exchange is counted and dropped.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let now = self.clock(now);
        let reply = match parse_reply(bytes) {
            Ok(reply) => reply,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        if reply.hlen != 6 || reply.chaddr != self.config.mac || Some(reply.xid) != self.xid() {
            self.counters.foreign += 1;
            return;
        }
        match (&self.state, reply.kind) {
            (State::Selecting(exchange), MessageType::Offer) => {
                let Some(server_id) = reply.server_id else {
                    self.counters.malformed += 1;
                    return;
                };
                let usable = !(reply.yiaddr.is_unspecified()
                    || reply.yiaddr.is_broadcast()
                    || reply.yiaddr.is_multicast());
                if !usable {
                    self.counters.malformed += 1;
                    return;
                }
                // The REQUEST keeps the DISCOVER's xid (RFC 2131 section 4.4.1).
                let exchange = Exchange {
                    first_sent: None,
                    sent: 0,
                    next: now,
                    ..exchange.clone()
                };
                self.state = State::Requesting {
                    exchange,
                    address: reply.yiaddr,
                    server_id,
                };
                self.progress(now);
            }
            (
                State::Requesting { .. }
                | State::Rebooting { .. }
                | State::Renewing(_)
                | State::Rebinding(_),
                MessageType::Ack,
            ) => self.acknowledged(now, &reply),
            (
                State::Requesting { .. }
                | State::Rebooting { .. }
                | State::Renewing(_)
                | State::Rebinding(_),
                MessageType::Nak,
            ) => self.refused(now),
            _ => self.counters.unexpected += 1,
        }
    }

    /// Call when [`poll_timeout`](Self::poll_timeout)'s time has come (calling
    /// early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        if self.lease.as_ref().is_some_and(|l| now >= l.expires_at) {
            self.lease = None;
            self.remembered = None;
            self.events.push_back(Event::Lost);
            if self.link_up {
                self.select(now, Duration::ZERO);
            } else {
                self.state = State::WaitingForLink;
            }
        }
        self.progress(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout); `None` while
    /// idle or released.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Selecting(e)
            | State::Requesting { exchange: e, .. }
            | State::Rebooting { exchange: e, .. }
            | State::Renewing(e)
            | State::Rebinding(e) => Some(e.next),
            State::Bound => self.lease.as_ref().map(|l| l.renew_at),
            State::Idle | State::WaitingForLink | State::Released => None,
        };
        let expiry = self.lease.as_ref().map(|l| l.expires_at);
        match (state, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing the caller must do to the interface.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn state(&self) -> ClientState {
        match self.state {
            State::Idle => ClientState::Idle,
            State::WaitingForLink => ClientState::WaitingForLink,
            State::Selecting(_) => ClientState::Selecting,
            State::Requesting { .. } => ClientState::Requesting,
            State::Rebooting { .. } => ClientState::Rebooting,
            State::Bound => ClientState::Bound,
            State::Renewing(_) => ClientState::Renewing,
            State::Rebinding(_) => ClientState::Rebinding,
            State::Released => ClientState::Released,
        }
    }

    /// The lease the caller holds.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The snapshot for the Status screen; times are counted from `now`.
    pub fn status(&self, now: Instant) -> Status {
        let until = |t: Instant| t.saturating_duration_since(now);
        let server = match &self.state {
            State::Requesting { server_id, .. } => Some(*server_id),
            _ => self.lease.as_ref().map(|l| l.server_id),
        };
        Status {
            state: self.state(),
            lease: self.lease.clone(),
            server,
            renew_in: self.lease.as_ref().map(|l| until(l.renew_at)),
            rebind_in: self.lease.as_ref().map(|l| until(l.rebind_at)),
            expires_in: self.lease.as_ref().map(|l| until(l.expires_at)),
            counters: self.counters,
        }
    }

    fn clock(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn xid(&self) -> Option<u32> {
        match &self.state {
            State::Selecting(e)
            | State::Requesting { exchange: e, .. }
            | State::Rebooting { exchange: e, .. }
            | State::Renewing(e)
            | State::Rebinding(e) => Some(e.xid),
            _ => None,
        }
    }

    /// INIT-REBOOT when an address is known, otherwise INIT.
    fn begin(&mut self, now: Instant) {
        if !self.link_up {
            self.state = State::WaitingForLink;
            return;
        }
        match self.lease.as_ref().map(|l| l.address).or(self.remembered) {
            Some(address) => {
                self.state = State::Rebooting {
                    exchange: self.exchange(now, now),
                    address,
                };
                self.progress(now);
            }
            None => self.select(now, Duration::ZERO),
        }
    }

    /// INIT: DISCOVER after `delay`.
    fn select(&mut self, now: Instant, delay: Duration) {
        self.state = State::Selecting(self.exchange(now, now + delay));
        self.progress(now);
    }

    fn exchange(&mut self, now: Instant, next: Instant) -> Exchange {
        Exchange {
            xid: self.rng.next_u32(),
            started: now,
            first_sent: None,
            sent: 0,
            next,
        }
    }

    fn acknowledged(&mut self, now: Instant, reply: &Reply) {
        let (first_sent, fallback_server) = match &self.state {
            State::Requesting {
                exchange,
                server_id,
                ..
            } => (exchange.first_sent, Some(*server_id)),
            State::Rebooting { exchange, .. }
            | State::Renewing(exchange)
            | State::Rebinding(exchange) => (
                exchange.first_sent,
                self.lease.as_ref().map(|l| l.server_id),
            ),
            _ => return,
        };
        let Some(lease) = Lease::from_ack(reply, fallback_server, first_sent.unwrap_or(now)) else {
            self.counters.malformed += 1;
            return;
        };
        match self.lease.take() {
            Some(held) if held.address == lease.address => {
                self.events.push_back(Event::Renewed(lease.clone()))
            }
            held => {
                if held.is_some() {
                    self.events.push_back(Event::Lost);
                }
                self.events.push_back(Event::Bound(lease.clone()));
            }
        }
        self.remembered = Some(lease.address);
        self.lease = Some(lease);
        self.naks_in_a_row = 0;
        self.state = State::Bound;
        self.progress(now);
    }

    fn refused(&mut self, now: Instant) {
        self.counters.naks += 1;
        if self.lease.take().is_some() {
            self.events.push_back(Event::Lost);
        }
        self.remembered = None;
        let delay = match self.naks_in_a_row {
            0 => Duration::ZERO,
            n => self.retransmit_delay(n - 1),
        };
        self.naks_in_a_row += 1;
        self.select(now, delay);
    }

    /// Sends what is due in the current state and moves on when a state's
    /// time is up.
    fn progress(&mut self, now: Instant) {
        match self.state.clone() {
            State::Idle | State::WaitingForLink | State::Released => {}
            State::Bound => {
                let Some(lease) = &self.lease else {
                    return self.select(now, Duration::ZERO);
                };
                if now >= lease.rebind_at {
                    self.state = State::Rebinding(self.exchange(now, now));
                    self.progress(now);
                } else if now >= lease.renew_at {
                    self.state = State::Renewing(self.exchange(now, now));
                    self.progress(now);
                }
            }
            State::Selecting(mut e) if e.next <= now => {
                let to = Destination::Broadcast;
                self.send_from(
                    &mut e,
                    now,
                    MessageType::Discover,
                    to,
                    Addressing::default(),
                );
                e.next = now + self.retransmit_delay(e.sent - 1);
                self.state = State::Selecting(e);
            }
            State::Requesting {
                mut exchange,
                address,
                server_id,
            } if exchange.next <= now => {
                if exchange.sent >= REQUEST_ATTEMPTS {
                    return self.select(now, Duration::ZERO);
                }
                let addressing = Addressing {
                    requested_address: Some(address),
                    server_id: Some(server_id),
                    ..Addressing::default()
                };
                let to = Destination::Broadcast;
                self.send_from(&mut exchange, now, MessageType::Request, to, addressing);
                exchange.next = now + self.retransmit_delay(exchange.sent - 1);
                self.state = State::Requesting {
                    exchange,
                    address,
                    server_id,
                };
            }
            State::Rebooting {
                mut exchange,
                address,
            } if exchange.next <= now => {
                if exchange.sent >= REBOOT_ATTEMPTS {
                    // No answer: keep using an unexpired lease (RFC 2131
                    // section 3.2), otherwise start over.
                    if self.lease.is_some() {
                        self.state = State::Bound;
                        return self.progress(now);
                    }
                    return self.select(now, Duration::ZERO);
                }
                let addressing = Addressing {
                    requested_address: Some(address),
                    ..Addressing::default()
                };
                let to = Destination::Broadcast;
                self.send_from(&mut exchange, now, MessageType::Request, to, addressing);
                exchange.next = now + self.retransmit_delay(exchange.sent - 1);
                self.state = State::Rebooting { exchange, address };
            }
            State::Renewing(mut e) => {
                let Some(lease) = self.lease.clone() else {
                    return self.select(now, Duration::ZERO);
                };
                if now >= lease.rebind_at {
                    self.state = State::Rebinding(self.exchange(now, now));
                    return self.progress(now);
                }
                if e.next <= now {
                    let to = Destination::Unicast(lease.server_id);
                    let addressing = Addressing::holding(lease.address);
                    self.send_from(&mut e, now, MessageType::Request, to, addressing);
                    e.next = renew_retry(now, lease.rebind_at);
                    self.state = State::Renewing(e);
                }
            }
            State::Rebinding(mut e) if e.next <= now => {
                let Some(lease) = self.lease.clone() else {
                    return self.select(now, Duration::ZERO);
                };
                let to = Destination::Broadcast;
                let addressing = Addressing::holding(lease.address);
                self.send_from(&mut e, now, MessageType::Request, to, addressing);
                e.next = renew_retry(now, lease.expires_at);
                self.state = State::Rebinding(e);
            }
            State::Selecting(_)
            | State::Requesting { .. }
            | State::Rebooting { .. }
            | State::Rebinding(_) => {}
        }
    }

    /// Sends the exchange's next message.
    fn send_from(
        &mut self,
        exchange: &mut Exchange,
        now: Instant,
        kind: MessageType,
        to: Destination,
        addressing: Addressing,
    ) {
        let secs = u16::try_from(now.saturating_duration_since(exchange.started).as_secs())
            .unwrap_or(u16::MAX);
        exchange.first_sent.get_or_insert(now);
        exchange.sent += 1;
        self.send(to, kind, exchange.xid, secs, addressing);
    }

    fn send(
        &mut self,
        to: Destination,
        kind: MessageType,
        xid: u32,
        secs: u16,
        addressing: Addressing,
    ) {
        let bytes = encode_request(&Request {
            kind,
            xid,
            secs,
            mac: self.config.mac,
            client_id: &self.config.client_id,
            hostname: (kind != MessageType::Release).then_some(self.config.hostname.as_str()),
            client_address: addressing.client_address,
            requested_address: addressing.requested_address,
            server_id: addressing.server_id,
        });
        self.transmits.push_back(Transmit { to, bytes });
    }

    /// 4, 8, 16, 32, 64, 64, ... seconds for retransmission `attempt`
    /// (0-based), each moved by up to one second either way.
    fn retransmit_delay(&mut self, attempt: u32) -> Duration {
        let base = FIRST_RETRANSMIT
            .checked_mul(1 << attempt.min(4))
            .unwrap_or(MAX_RETRANSMIT)
            .min(MAX_RETRANSMIT);
        let offset = self.rng.next_u64() % (2 * JITTER_MS + 1);
        base + Duration::from_millis(offset) - Duration::from_millis(JITTER_MS)
    }
}

/// RENEWING and REBINDING retry at half the time left until `deadline`, but
/// no sooner than a minute, and never after `deadline`.
fn renew_retry(now: Instant, deadline: Instant) -> Instant {
    let half = deadline.saturating_duration_since(now) / 2;
    (now + half.max(MIN_RENEW_RETRY)).min(deadline)
}

/// The generator of transaction ids and jitter: small, seeded, and the same
/// on every platform, so simulated tests are reproducible.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

#[cfg(test)]
mod tests;
