//! The sans-IO SNTP client: Tables 3-7 and 3-8 as a state machine.
//!
//! See the crate documentation for the design; this module holds the state machine itself.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant, SystemTime};

use crate::packet::{
    mode, NtpTimestamp, Offset, Packet, HEADER_LEN, LEAP_UNSYNCHRONISED, NTP_PORT,
};
use crate::settings::{Mode, Settings};

/// The SNTP/NTP multicast group of the tables (IANA's NTP group).
pub const NTP_MULTICAST: Ipv4Addr = Ipv4Addr::new(224, 0, 1, 1);

/// How a datagram reached the phone, as the shell saw its destination address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// Addressed to the phone itself.
    Unicast,
    /// Addressed to the local network broadcast address (or 255.255.255.255).
    Broadcast,
    /// Addressed to the NTP multicast group 224.0.1.1.
    Multicast,
}

/// A datagram for the shell to send from its client socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// A server, or the local broadcast address; always port 123.
    pub to: SocketAddrV4,
    pub bytes: [u8; HEADER_LEN],
}

/// The client's timers. [`Timing::default`] is what the phone uses; tests shorten it.
///
/// Every duration is clamped to 10 ms ..= 1 day when the client takes it, so a zero or absurd
/// value can neither spin the shell nor overflow an `Instant`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Between requests once a server answers: 64 s, RFC 4330's advice is "no less than 15 s"
    /// and NTP's default minimum poll is 64 s.
    pub poll_interval: Duration,
    /// How long the first request waits for its answer before it is sent again: 1 s. Each
    /// further unanswered request doubles the wait (1, 2, 4, 8 ... s), so a lost packet at boot
    /// costs a second, not a minute.
    pub first_retry: Duration,
    /// Where the doubling stops: 1024 s, NTP's default maximum poll, so a fleet whose server is
    /// down does not keep hammering it.
    pub max_retry: Duration,
    /// Where a RATE kiss-o'-death stops doubling the poll interval: 1024 s.
    pub max_poll_interval: Duration,
    /// Consecutive unanswered requests after which a server learned by anycast is given up
    /// and the phone asks the local broadcast address again: 6 (about a minute of silence).
    pub learned_server_attempts: u32,
    /// Silence after which a listening phone reports that nothing arrives, and a phone in
    /// directedbroadcast mode asks again: 1024 s, the longest usual broadcast interval.
    pub listen_silence: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            poll_interval: Duration::from_secs(64),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(1024),
            max_poll_interval: Duration::from_secs(1024),
            learned_server_attempts: 6,
            listen_silence: Duration::from_secs(1024),
        }
    }
}

impl Timing {
    fn sanitised(self) -> Timing {
        let clamp = |d: Duration| d.clamp(Duration::from_millis(10), Duration::from_secs(86_400));
        Timing {
            poll_interval: clamp(self.poll_interval),
            first_retry: clamp(self.first_retry),
            max_retry: clamp(self.max_retry.max(self.first_retry)),
            max_poll_interval: clamp(self.max_poll_interval.max(self.poll_interval)),
            learned_server_attempts: self.learned_server_attempts.max(1),
            listen_silence: clamp(self.listen_silence),
        }
    }
}

/// One measurement of the local clock against a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Add this to the local clock to agree with the server.
    pub offset: Offset,
    /// Round-trip delay; `None` for a broadcast, which has no round trip.
    pub delay: Option<Duration>,
    pub server: Ipv4Addr,
    pub stratum: u8,
    /// The mode in effect when the packet was accepted (before any switch it causes).
    pub mode: Mode,
    /// How the packet arrived: a reply is `Unicast`, a broadcast is `Broadcast` or `Multicast`.
    pub arrived_as: Destination,
    /// The local clock when the packet arrived, uncorrected.
    pub local_time: SystemTime,
}

/// The kiss-o'-death codes the client acts on (RFC 4330 §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kiss {
    /// Slow down: the poll interval doubles.
    Rate,
    /// Access denied: that server is not asked again.
    Deny,
    /// Access restricted: treated like `Deny`.
    Rstr,
}

/// What happened, for the shell (which applies samples to the clock) and the status screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A usable measurement: the shell steps or slews the clock by `offset`.
    Sample(Sample),
    /// One of the tables' switches, or a fallback when the server found that way went silent.
    ModeSwitched {
        from: Mode,
        to: Mode,
        /// The server now in use; `None` when any server is accepted.
        server: Option<Ipv4Addr>,
    },
    /// A server sent a kiss-o'-death.
    ServerRefused { server: Ipv4Addr, kiss: Kiss },
    /// A request went unanswered (`asked` is where it went), or, while listening, nothing
    /// arrived for [`Timing::listen_silence`] (`asked` is `None`). `count` is how many in a row.
    NoAnswer { asked: Option<Ipv4Addr>, count: u32 },
}

/// The state shown on the Status screen and by `phonectl status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// Unicast without a server (Table 3-7): nothing is sent or accepted.
    NoServer,
    /// Asking or listening; no sample since start or since the settings changed.
    Unsynchronised,
    /// At least one sample accepted under the current settings.
    Synchronised,
    /// The configured server answered DENY or RSTR; nothing more is sent until the settings
    /// change.
    Refused,
}

impl SyncState {
    /// The spelling of `phonectl status --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::NoServer => "no_server",
            SyncState::Unsynchronised => "unsynchronised",
            SyncState::Synchronised => "synchronised",
            SyncState::Refused => "refused",
        }
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the client did with the datagrams it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Accepted as clock samples.
    pub samples: u64,
    /// Kiss-o'-death packets acted on.
    pub kisses: u64,
    /// Too short to be NTP.
    pub malformed: u64,
    /// Well-formed but refused (see [`Discard`]).
    pub discarded: u64,
}

/// A snapshot for the Status screen and `phonectl status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub configured: Settings,
    pub in_effect: Mode,
    /// The server asked or listened to, or (when any server is accepted) the last one heard.
    pub server: Option<Ipv4Addr>,
    pub state: SyncState,
    /// Corrected wall time of the last accepted sample.
    pub last_sync: Option<SystemTime>,
    pub last_offset: Option<Offset>,
    pub last_delay: Option<Duration>,
    pub stratum: Option<u8>,
    pub counters: Counters,
}

/// Why a datagram was not used. Every one is counted; none changes the client's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Discard {
    #[error("malformed: {0} bytes is shorter than an NTP header")]
    Malformed(usize),
    #[error("NTP version {0}, not 3 or 4")]
    Version(u8),
    #[error("mode {0} is neither a server reply (4) nor a broadcast (5)")]
    Mode(u8),
    #[error("sent from port {0}, not 123")]
    SourcePort(u16),
    #[error("a broadcast, and the mode in effect does not listen to broadcasts")]
    NotListening,
    #[error("from {0}, which is not the server whose answers are accepted")]
    WrongServer(Ipv4Addr),
    #[error("answers no outstanding request (stale, duplicated, or spoofed)")]
    Unrequested,
    #[error("the server is unsynchronised (leap indicator 3, stratum 0 or 16 and above)")]
    Unsynchronised,
    #[error("kiss-o'-death with unknown code {0:?}")]
    UnknownKiss([u8; 4]),
    #[error("a zero receive or transmit timestamp")]
    ZeroTimestamp,
}

/// Where the client is in the tables. One phase per behaviour: who is asked, whose answers are
/// accepted, and what the first answer switches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Unicast without a server: nothing sent, nothing accepted.
    NoServer,
    /// Requests to `server`, replies from it alone. `learned`: found by anycast, so given up
    /// (back to `Discovering`) when it stops answering.
    Polling { server: Ipv4Addr, learned: bool },
    /// Anycast without a server: requests to the local broadcast address; the first responder
    /// becomes the server.
    Discovering,
    /// Directedbroadcast before the first answer: requests to `server`, or to the local
    /// broadcast address when none is configured; broadcasts are accepted as well.
    Announcing { server: Option<Ipv4Addr> },
    /// Broadcasts and multicasts from `server` (or anyone); nothing sent. `ask_on_silence`:
    /// this is directedbroadcast after its switch, which asks again when nothing arrives.
    Listening {
        server: Option<Ipv4Addr>,
        ask_on_silence: bool,
    },
    /// The configured server said DENY/RSTR.
    Refused { server: Ipv4Addr },
}

impl Phase {
    fn initial(settings: Settings) -> Phase {
        match (settings.mode, settings.server) {
            (Mode::Unicast, None) => Phase::NoServer,
            // Table 3-8: anycast with a known server asks that server, like unicast.
            (Mode::Unicast | Mode::Anycast, Some(server)) => Phase::Polling {
                server,
                learned: false,
            },
            (Mode::Anycast, None) => Phase::Discovering,
            (Mode::Multicast, server) => Phase::Listening {
                server,
                ask_on_silence: false,
            },
            (Mode::DirectedBroadcast, server) => Phase::Announcing { server },
        }
    }

    fn in_effect(self) -> Mode {
        match self {
            Phase::NoServer | Phase::Polling { .. } | Phase::Refused { .. } => Mode::Unicast,
            Phase::Discovering => Mode::Anycast,
            Phase::Announcing { .. } => Mode::DirectedBroadcast,
            Phase::Listening { .. } => Mode::Multicast,
        }
    }

    /// The one server whose packets are accepted, where there is one.
    fn fixed_server(self) -> Option<Ipv4Addr> {
        match self {
            Phase::Polling { server, .. } | Phase::Refused { server } => Some(server),
            Phase::Announcing { server } | Phase::Listening { server, .. } => server,
            Phase::NoServer | Phase::Discovering => None,
        }
    }

    fn asks(self) -> bool {
        matches!(
            self,
            Phase::Polling { .. } | Phase::Discovering | Phase::Announcing { .. }
        )
    }

    /// Requests go to the broadcast address, so several servers may answer each one.
    fn asks_broadcast(self) -> bool {
        matches!(
            self,
            Phase::Discovering | Phase::Announcing { server: None }
        )
    }

    fn listens(self) -> bool {
        matches!(self, Phase::Announcing { .. } | Phase::Listening { .. })
    }
}

/// The request awaiting its answer.
#[derive(Clone, Copy, Debug)]
struct Request {
    /// T1: our transmit timestamp, which the answer must echo as its originate timestamp.
    origin: NtpTimestamp,
    to: Ipv4Addr,
    deadline: Instant,
}

/// Servers that refused us while we asked the broadcast address; a bound keeps a hostile
/// network from growing the list.
const MAX_IGNORED_SERVERS: usize = 16;

/// The SNTP client of Tables 3-7 and 3-8, without sockets or clocks.
///
/// Drive it with the `handle_*` inputs and drain `poll_transmit`, `poll_event` and
/// `poll_timeout` after each one; see the crate documentation.
#[derive(Debug)]
pub struct SntpClient {
    settings: Settings,
    broadcast: Option<Ipv4Addr>,
    timing: Timing,
    phase: Phase,
    outstanding: Option<Request>,
    /// The transmit timestamp of the last request sent.
    last_origin: NtpTimestamp,
    /// When the next request is due (it waits there while no broadcast address is known).
    next_send: Option<Instant>,
    /// How long the next request waits for its answer.
    retry_wait: Duration,
    poll_interval: Duration,
    unanswered: u32,
    listen_deadline: Option<Instant>,
    silent_periods: u32,
    ignored_servers: Vec<Ipv4Addr>,
    /// The server of the last sample under the current settings.
    last_source: Option<Ipv4Addr>,
    synchronised: bool,
    last_sample: Option<Sample>,
    counters: Counters,
    events: VecDeque<Event>,
}

impl SntpClient {
    /// A client with the phone's [`Timing`]. `broadcast` is the local network broadcast
    /// address of the interface, when the shell knows it.
    pub fn new(settings: Settings, broadcast: Option<Ipv4Addr>, now: Instant) -> SntpClient {
        SntpClient::with_timing(settings, broadcast, Timing::default(), now)
    }

    pub fn with_timing(
        settings: Settings,
        broadcast: Option<Ipv4Addr>,
        timing: Timing,
        now: Instant,
    ) -> SntpClient {
        let timing = timing.sanitised();
        let mut client = SntpClient {
            settings: settings.normalised(),
            broadcast: broadcast.filter(|a| !a.is_unspecified()),
            timing,
            phase: Phase::NoServer,
            outstanding: None,
            last_origin: NtpTimestamp::ZERO,
            next_send: None,
            retry_wait: timing.first_retry,
            poll_interval: timing.poll_interval,
            unanswered: 0,
            listen_deadline: None,
            silent_periods: 0,
            ignored_servers: Vec::new(),
            last_source: None,
            synchronised: false,
            last_sample: None,
            counters: Counters::default(),
            events: VecDeque::new(),
        };
        client.restart(now);
        client
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn broadcast_address(&self) -> Option<Ipv4Addr> {
        self.broadcast
    }

    /// The mode in effect needs broadcast and multicast reception (the shell opens port 123
    /// and joins 224.0.1.1 only then).
    pub fn listens(&self) -> bool {
        self.phase.listens()
    }

    /// The configuration changed: start over under the new settings. The last sample stays in
    /// the status (the clock is still as good as it was), but the state is no longer
    /// synchronised until a sample arrives under the new settings.
    pub fn set_settings(&mut self, now: Instant, settings: Settings) {
        let settings = settings.normalised();
        if settings != self.settings {
            self.settings = settings;
            self.restart(now);
        }
    }

    /// The interface's broadcast address changed (or became known). A request already sent
    /// to the old one is left to time out; the next goes to the new one.
    pub fn set_broadcast_address(&mut self, broadcast: Option<Ipv4Addr>) {
        self.broadcast = broadcast.filter(|a| !a.is_unspecified());
    }

    fn restart(&mut self, now: Instant) {
        self.phase = Phase::initial(self.settings);
        self.outstanding = None;
        self.unanswered = 0;
        self.silent_periods = 0;
        self.retry_wait = self.timing.first_retry;
        self.poll_interval = self.timing.poll_interval;
        self.ignored_servers.clear();
        self.last_source = None;
        self.synchronised = false;
        self.next_send = self.phase.asks().then_some(now);
        self.listen_deadline = match self.phase {
            Phase::Listening { .. } => Some(later(now, self.timing.listen_silence)),
            _ => None,
        };
    }

    /// Where the next request goes, if anywhere.
    fn request_target(&self) -> Option<Ipv4Addr> {
        match self.phase {
            Phase::Polling { server, .. }
            | Phase::Announcing {
                server: Some(server),
            } => Some(server),
            Phase::Discovering | Phase::Announcing { server: None } => self.broadcast,
            Phase::NoServer | Phase::Listening { .. } | Phase::Refused { .. } => None,
        }
    }

    /// The next request, if one is due. `wall` is the local clock as the shell is about to
    /// send: it becomes the transmit timestamp, which the answer must echo.
    pub fn poll_transmit(&mut self, now: Instant, wall: SystemTime) -> Option<Transmit> {
        if self.outstanding.is_some() || self.next_send.is_none_or(|t| t > now) {
            return None;
        }
        let to = self.request_target()?;
        let mut origin = NtpTimestamp::from_system_time(wall);
        if origin == self.last_origin {
            // Two requests in the same clock tick (a settings change right after a send) must
            // still be told apart by their answers.
            origin = NtpTimestamp::from_bits(origin.to_bits().wrapping_add(1));
        }
        self.last_origin = origin;
        self.outstanding = Some(Request {
            origin,
            to,
            deadline: later(now, self.retry_wait),
        });
        self.next_send = None;
        Some(Transmit {
            to: SocketAddrV4::new(to, NTP_PORT),
            bytes: Packet::request(origin).to_bytes(),
        })
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`SntpClient::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let send = self
            .next_send
            .filter(|_| self.outstanding.is_none() && self.request_target().is_some());
        [
            self.outstanding.map(|r| r.deadline),
            send,
            self.listen_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(request) = self.outstanding.filter(|r| r.deadline <= now) {
            self.outstanding = None;
            self.unanswered = self.unanswered.saturating_add(1);
            self.events.push_back(Event::NoAnswer {
                asked: Some(request.to),
                count: self.unanswered,
            });
            self.retry_wait = self.retry_wait.saturating_mul(2).min(self.timing.max_retry);
            self.next_send = Some(now);
            if let Phase::Polling { learned: true, .. } = self.phase {
                if self.unanswered >= self.timing.learned_server_attempts {
                    // The tables are silent here; asking the broadcast address again is what
                    // anycast did to find this server in the first place (and it may answer
                    // again, so it is not ignored).
                    self.switch(Phase::Discovering);
                    self.unanswered = 0;
                    self.retry_wait = self.timing.first_retry;
                }
            }
        }
        if self.listen_deadline.is_some_and(|d| d <= now) {
            self.silent_periods = self.silent_periods.saturating_add(1);
            self.events.push_back(Event::NoAnswer {
                asked: None,
                count: self.silent_periods,
            });
            self.listen_deadline = Some(later(now, self.timing.listen_silence));
            if let Phase::Listening {
                server,
                ask_on_silence: true,
            } = self.phase
            {
                // Silent again after directedbroadcast's switch: ask as at the start.
                self.switch(Phase::Announcing { server });
                self.listen_deadline = None;
                self.next_send = Some(now);
                self.unanswered = 0;
                self.retry_wait = self.timing.first_retry;
            }
        }
    }

    /// A datagram arrived. `wall` is the local clock when it arrived (T4), `to` how it was
    /// addressed. Returns why it was not used, if it was not; the counters record it either way.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: SocketAddrV4,
        to: Destination,
        bytes: &[u8],
    ) -> Result<(), Discard> {
        let verdict = self.examine(now, wall, from, to, bytes);
        match verdict {
            Ok(()) => {}
            Err(Discard::Malformed(_)) => self.counters.malformed += 1,
            Err(_) => self.counters.discarded += 1,
        }
        verdict
    }

    fn examine(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: SocketAddrV4,
        to: Destination,
        bytes: &[u8],
    ) -> Result<(), Discard> {
        let packet = Packet::parse(bytes).map_err(|e| Discard::Malformed(e.0))?;
        if !(3..=4).contains(&packet.version) {
            return Err(Discard::Version(packet.version));
        }
        if packet.mode != mode::SERVER && packet.mode != mode::BROADCAST {
            return Err(Discard::Mode(packet.mode));
        }
        if from.port() != NTP_PORT {
            return Err(Discard::SourcePort(from.port()));
        }
        if packet.mode == mode::SERVER {
            self.on_reply(now, wall, *from.ip(), to, &packet)
        } else {
            self.on_broadcast(now, wall, *from.ip(), to, &packet)
        }
    }

    fn on_reply(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: Ipv4Addr,
        to: Destination,
        p: &Packet,
    ) -> Result<(), Discard> {
        if to != Destination::Unicast || !self.phase.asks() {
            return Err(Discard::Unrequested);
        }
        if self.phase.fixed_server().is_some_and(|s| s != from) || self.is_ignored(from) {
            return Err(Discard::WrongServer(from));
        }
        let request = self
            .outstanding
            .filter(|r| r.origin == p.originate)
            .ok_or(Discard::Unrequested)?;
        if p.stratum == 0 {
            return self.on_kiss(now, from, p.reference_id);
        }
        usable(p)?;
        if p.receive.is_zero() {
            return Err(Discard::ZeroTimestamp);
        }
        let (t1, t2, t3) = (request.origin, p.receive, p.transmit);
        let t4 = NtpTimestamp::from_system_time(wall);
        let offset =
            (i128::from(t2.since(t1).as_nanos()) + i128::from(t3.since(t4).as_nanos())) / 2;
        let delay = i128::from(t4.since(t1).as_nanos()) - i128::from(t3.since(t2).as_nanos());
        self.take_sample(
            now,
            Sample {
                offset: Offset::from_nanos(offset as i64),
                // A few nanoseconds below zero is clock granularity, not a negative trip.
                delay: Some(Duration::from_nanos(
                    delay.clamp(0, i128::from(u64::MAX)) as u64
                )),
                server: from,
                stratum: p.stratum,
                mode: self.phase.in_effect(),
                arrived_as: to,
                local_time: wall,
            },
        );
        Ok(())
    }

    fn on_broadcast(
        &mut self,
        now: Instant,
        wall: SystemTime,
        from: Ipv4Addr,
        to: Destination,
        p: &Packet,
    ) -> Result<(), Discard> {
        if to == Destination::Unicast || !self.phase.listens() {
            return Err(Discard::NotListening);
        }
        if self.phase.fixed_server().is_some_and(|s| s != from) {
            return Err(Discard::WrongServer(from));
        }
        if p.stratum == 0 {
            return Err(Discard::Unsynchronised);
        }
        usable(p)?;
        let t4 = NtpTimestamp::from_system_time(wall);
        self.take_sample(
            now,
            Sample {
                offset: p.transmit.since(t4),
                delay: None,
                server: from,
                stratum: p.stratum,
                mode: self.phase.in_effect(),
                arrived_as: to,
                local_time: wall,
            },
        );
        Ok(())
    }

    fn on_kiss(&mut self, now: Instant, from: Ipv4Addr, code: [u8; 4]) -> Result<(), Discard> {
        let kiss = match &code {
            b"RATE" => Kiss::Rate,
            b"DENY" => Kiss::Deny,
            b"RSTR" => Kiss::Rstr,
            _ => return Err(Discard::UnknownKiss(code)),
        };
        self.counters.kisses += 1;
        self.events
            .push_back(Event::ServerRefused { server: from, kiss });
        if self.phase.asks_broadcast() {
            // One responder among several: the request stays open for the others' answers.
            match kiss {
                Kiss::Rate => {
                    self.slow_down();
                    if let Some(request) = &mut self.outstanding {
                        request.deadline = later(now, self.poll_interval);
                    }
                }
                // Never chosen as the server, though others may be.
                Kiss::Deny | Kiss::Rstr => self.ignore(from),
            }
            return Ok(());
        }
        self.outstanding = None;
        self.unanswered = 0;
        match (kiss, self.phase) {
            (Kiss::Rate, _) => {
                self.slow_down();
                self.next_send = Some(later(now, self.poll_interval));
            }
            (
                _,
                Phase::Polling {
                    server,
                    learned: false,
                },
            ) => {
                self.phase = Phase::Refused { server };
                self.next_send = None;
            }
            (
                _,
                Phase::Polling {
                    server,
                    learned: true,
                },
            ) => {
                self.ignore(server);
                self.switch(Phase::Discovering);
                self.retry_wait = self.timing.first_retry;
                self.next_send = Some(now);
            }
            (_, Phase::Announcing { server }) => {
                // Stop asking, keep listening: the server's broadcasts are not requests.
                self.switch(Phase::Listening {
                    server,
                    ask_on_silence: false,
                });
                self.next_send = None;
                self.listen_deadline = Some(later(now, self.timing.listen_silence));
            }
            _ => {}
        }
        Ok(())
    }

    fn take_sample(&mut self, now: Instant, sample: Sample) {
        self.counters.samples += 1;
        self.synchronised = true;
        self.last_sample = Some(sample);
        self.last_source = Some(sample.server);
        self.events.push_back(Event::Sample(sample));
        // Whatever was outstanding is answered, or made moot by a broadcast.
        self.outstanding = None;
        self.unanswered = 0;
        self.silent_periods = 0;
        self.retry_wait = self.timing.first_retry;
        match self.phase {
            Phase::Polling { .. } => {
                self.next_send = Some(later(now, self.poll_interval));
            }
            Phase::Discovering => {
                self.switch(Phase::Polling {
                    server: sample.server,
                    learned: true,
                });
                self.next_send = Some(later(now, self.poll_interval));
            }
            Phase::Announcing { server } => {
                self.switch(Phase::Listening {
                    server,
                    ask_on_silence: true,
                });
                self.next_send = None;
                self.listen_deadline = Some(later(now, self.timing.listen_silence));
            }
            Phase::Listening { .. } => {
                self.listen_deadline = Some(later(now, self.timing.listen_silence));
            }
            Phase::NoServer | Phase::Refused { .. } => {}
        }
    }

    /// RATE: double the poll interval, and wait at least that long for answers too.
    fn slow_down(&mut self) {
        self.poll_interval = self
            .poll_interval
            .saturating_mul(2)
            .min(self.timing.max_poll_interval);
        self.retry_wait = self.retry_wait.max(self.poll_interval);
    }

    /// Moves to `next`, reporting the change of mode in effect.
    fn switch(&mut self, next: Phase) {
        let from = self.phase.in_effect();
        self.phase = next;
        if next.fixed_server().is_none() {
            self.last_source = None;
        }
        self.events.push_back(Event::ModeSwitched {
            from,
            to: next.in_effect(),
            server: next.fixed_server(),
        });
    }

    fn ignore(&mut self, server: Ipv4Addr) {
        if !self.is_ignored(server) {
            if self.ignored_servers.len() == MAX_IGNORED_SERVERS {
                self.ignored_servers.remove(0);
            }
            self.ignored_servers.push(server);
        }
    }

    fn is_ignored(&self, server: Ipv4Addr) -> bool {
        self.ignored_servers.contains(&server)
    }

    pub fn status(&self) -> Status {
        let state = match self.phase {
            Phase::NoServer => SyncState::NoServer,
            Phase::Refused { .. } => SyncState::Refused,
            _ if self.synchronised => SyncState::Synchronised,
            _ => SyncState::Unsynchronised,
        };
        let last = self.last_sample;
        Status {
            configured: self.settings,
            in_effect: self.phase.in_effect(),
            server: self.phase.fixed_server().or(self.last_source),
            state,
            last_sync: last.and_then(|s| s.offset.apply(s.local_time)),
            last_offset: last.map(|s| s.offset),
            last_delay: last.and_then(|s| s.delay),
            stratum: last.map(|s| s.stratum),
            counters: self.counters,
        }
    }
}

/// Leap indicator 3 and stratum 16 and above mean the server has no time to give.
fn usable(p: &Packet) -> Result<(), Discard> {
    if p.leap == LEAP_UNSYNCHRONISED || p.stratum >= 16 {
        return Err(Discard::Unsynchronised);
    }
    if p.transmit.is_zero() {
        return Err(Discard::ZeroTimestamp);
    }
    Ok(())
}

fn later(now: Instant, after: Duration) -> Instant {
    // Timing is clamped to a day, so this only guards against an Instant near its limit.
    now.checked_add(after).unwrap_or(now)
}
