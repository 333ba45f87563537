//! A phone's SNTP core in simulated time, and the packets servers would send it.
//!
//! The phone's clock runs `error` behind true time; a server's timestamps are true time. Nothing
//! sleeps: `advance` jumps from timer to timer.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deskphone_sntp::packet::{mode, Packet};
use deskphone_sntp::{
    Destination, Discard, Event, Mode, NtpTimestamp, Offset, Sample, Settings, SntpClient, Timing,
    Transmit,
};

/// Table 3-8's example server.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 9);
pub const OTHER: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 20);
pub const BROADCAST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 255);

/// True time minus the phone's clock at the start of every simulation.
pub const ERROR_SECS: i64 = 1000;

/// One network hop each way.
pub const ONE_WAY: Duration = Duration::from_millis(3);

pub fn at(ip: Ipv4Addr) -> SocketAddrV4 {
    SocketAddrV4::new(ip, 123)
}

pub struct Phone {
    pub client: SntpClient,
    pub now: Instant,
    pub wall: SystemTime,
    /// True time minus `wall`.
    pub error: Offset,
    /// Every request sent, with the phone's clock when it went.
    pub sent: Vec<(SystemTime, Transmit)>,
    pub events: Vec<Event>,
}

impl Phone {
    pub fn new(mode: Mode, server: Option<Ipv4Addr>) -> Phone {
        Phone::with(
            Settings::new(mode, server),
            Some(BROADCAST),
            Timing::default(),
        )
    }

    pub fn with(settings: Settings, broadcast: Option<Ipv4Addr>, timing: Timing) -> Phone {
        let now = Instant::now();
        let mut phone = Phone {
            client: SntpClient::with_timing(settings, broadcast, timing, now),
            now,
            wall: UNIX_EPOCH + Duration::from_secs(1_780_000_000),
            error: Offset::from_secs(ERROR_SECS),
            sent: Vec::new(),
            events: Vec::new(),
        };
        phone.pump();
        phone
    }

    /// Collects what the core wants to send and report right now.
    pub fn pump(&mut self) {
        while let Some(t) = self.client.poll_transmit(self.now, self.wall) {
            self.sent.push((self.wall, t));
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    /// Lets `d` pass, firing every timer that falls due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.client.poll_timeout().filter(|t| *t <= end) {
            self.move_to(t.max(self.now));
            self.client.handle_timeout(self.now);
            self.pump();
        }
        self.move_to(end);
    }

    fn move_to(&mut self, t: Instant) {
        self.wall += t - self.now;
        self.now = t;
    }

    pub fn true_time(&self) -> SystemTime {
        self.error.apply(self.wall).unwrap()
    }

    /// Where the requests went, in order.
    pub fn destinations(&self) -> Vec<Ipv4Addr> {
        self.sent.iter().map(|(_, t)| *t.to.ip()).collect()
    }

    pub fn last_request(&self) -> (SystemTime, Transmit) {
        self.sent.last().cloned().expect("a request was sent")
    }

    /// A server's reply to the last request, as it would leave the server.
    pub fn reply_packet(&self, stratum: u8) -> Packet {
        let (sent_wall, request) = self.last_request();
        let t1 = Packet::parse(&request.bytes).unwrap().transmit;
        let arrived = self.error.apply(sent_wall + ONE_WAY).unwrap();
        Packet {
            version: 4,
            mode: mode::SERVER,
            stratum,
            reference_id: *b"LOCL",
            originate: t1,
            receive: NtpTimestamp::from_system_time(arrived),
            transmit: NtpTimestamp::from_system_time(arrived),
            ..Packet::default()
        }
    }

    /// `from` answers the last request; the answer arrives a round trip after it went.
    pub fn reply_from(&mut self, from: Ipv4Addr) -> Result<(), Discard> {
        let packet = self.reply_packet(2);
        self.deliver_after_round_trip(at(from), Destination::Unicast, packet)
    }

    pub fn deliver_after_round_trip(
        &mut self,
        from: SocketAddrV4,
        to: Destination,
        packet: Packet,
    ) -> Result<(), Discard> {
        let (sent_wall, _) = self.last_request();
        let arrive = sent_wall + 2 * ONE_WAY;
        if arrive > self.wall {
            self.advance(arrive.duration_since(self.wall).unwrap());
        }
        self.deliver(from, to, &packet.to_bytes())
    }

    /// Hands a datagram to the core now.
    pub fn deliver(
        &mut self,
        from: SocketAddrV4,
        to: Destination,
        bytes: &[u8],
    ) -> Result<(), Discard> {
        let verdict = self
            .client
            .handle_datagram(self.now, self.wall, from, to, bytes);
        self.pump();
        verdict
    }

    /// A broadcast server's packet, sent `ONE_WAY` ago.
    pub fn broadcast_packet(&self, stratum: u8) -> Packet {
        let sent = self.error.apply(self.wall - ONE_WAY).unwrap();
        Packet {
            version: 4,
            mode: mode::BROADCAST,
            stratum,
            reference_id: *b"LOCL",
            transmit: NtpTimestamp::from_system_time(sent),
            ..Packet::default()
        }
    }

    pub fn broadcast_from(&mut self, from: Ipv4Addr, to: Destination) -> Result<(), Discard> {
        let packet = self.broadcast_packet(3);
        self.deliver(at(from), to, &packet.to_bytes())
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Sample(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    pub fn switches(&self) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::ModeSwitched { .. }))
            .copied()
            .collect()
    }

    pub fn in_effect(&self) -> Mode {
        self.client.status().in_effect
    }
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
