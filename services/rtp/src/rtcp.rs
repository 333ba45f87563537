//! RTCP for one call: compound reports out, reports from the far end in.
//!
//! [`RtcpSession`] decides *when* to report (RFC 3550 6.3: a deterministic interval
//! from the session bandwidth and the number of members, never below 5 s, 2.5 s for
//! the first report, then multiplied by a random factor in [0.5, 1.5] from the seed)
//! and *what*: an SR when we sent RTP since the last report, else an RR, with one report
//! block from [`RtpReceiver`], then an SDES CNAME, and a BYE at the end. Timer
//! reconsideration is left out: a phone call has two members, whose count does not
//! swing, so the RFC's compensation factor for it is not applied either.
//!
//! Round-trip time is measured on the monotonic clock: we remember when each of our SRs
//! left and match the LSR field of the far end's report block against it.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtcp_types::{
    Bye, Compound, Packet, ReceiverReport, ReportBlock, RtcpPacketWriter, RtcpPacketWriterExt,
    Sdes, SdesChunk, SdesItem, SenderReport,
};

use crate::receiver::RtpReceiver;
use crate::sender::SenderInfo;
use crate::Error;

/// Seconds from the NTP era (1900) to the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// IPv4 + UDP header bytes, counted in the average RTCP packet size (RFC 3550 6.2).
const UDP_IP_OVERHEAD: f64 = 28.0;
/// How many of our SRs are remembered for matching LSR.
const SR_HISTORY: usize = 8;

/// A 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// From a wall-clock reading (mediad passes `SystemTime::now()`).
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() + NTP_UNIX_OFFSET;
        let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits, as used by LSR (RFC 3550 6.4.1).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Tunables of an RTCP session.
#[derive(Debug, Clone)]
pub struct RtcpConfig {
    /// SDES CNAME, e.g. `user@host` or a random per-boot token.
    pub cname: String,
    /// Session bandwidth in bit/s; RTCP gets 5 % of it (RFC 3550 6.2).
    pub session_bandwidth: u32,
    /// Minimum deterministic interval (RFC 3550 default 5 s).
    pub min_interval: Duration,
}

impl RtcpConfig {
    /// Defaults for a G.711 call (64 kbit/s + headers, 5 s minimum).
    pub fn new(cname: impl Into<String>) -> Self {
        Self {
            cname: cname.into(),
            session_bandwidth: 80_000,
            min_interval: Duration::from_secs(5),
        }
    }
}

/// What the far end says about our stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteReport {
    /// The reporter's SSRC.
    pub reporter: u32,
    /// Loss over its last interval, 0.0-1.0.
    pub fraction_lost: f64,
    /// Our packets it counts as lost.
    pub cumulative_lost: i32,
    /// The extended highest sequence number it received from us.
    pub extended_max_seq: u32,
    /// Jitter it measures on our stream, in ms (8000 Hz timestamps).
    pub jitter_ms: f64,
    /// Round-trip time, when the report answers one of our SRs.
    pub rtt: Option<Duration>,
}

/// Something learned from a received RTCP packet.
#[derive(Debug, Clone, PartialEq)]
pub enum RtcpEvent {
    /// A report block about our stream.
    Report(RemoteReport),
    /// The far end's sender information (for lip sync or statistics).
    SenderReport {
        /// Its SSRC.
        ssrc: u32,
        /// Its wall clock.
        ntp: NtpTime,
        /// Its RTP timestamp at that moment.
        rtp_timestamp: u32,
        /// Packets it has sent.
        packets: u32,
        /// Octets it has sent.
        octets: u32,
    },
    /// A source left.
    Bye {
        /// The source.
        ssrc: u32,
        /// Its reason, if given.
        reason: Option<String>,
    },
}

/// The RTCP state of one call (see the module docs).
#[derive(Debug)]
pub struct RtcpSession {
    cfg: RtcpConfig,
    ssrc: u32,
    rng: fastrand::Rng,
    next: Option<Instant>,
    initial: bool,
    packets_at_last_report: u64,
    avg_size: f64,
    remote_heard: bool,
    remote_sending: bool,
    // (LSR value, when the SR arrived)
    last_sr_rx: Option<(u32, Instant)>,
    srs_sent: VecDeque<(u32, Instant)>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<RtcpEvent>,
    remote: Option<RemoteReport>,
    closed: bool,
}

impl RtcpSession {
    /// A session for our `ssrc`, started at `now`, with default tunables.
    pub fn new(ssrc: u32, cname: impl Into<String>, seed: u64, now: Instant) -> Self {
        Self::with_config(RtcpConfig::new(cname), ssrc, seed, now)
    }

    /// A session with explicit tunables.
    pub fn with_config(cfg: RtcpConfig, ssrc: u32, seed: u64, now: Instant) -> Self {
        let mut s = Self {
            cfg,
            ssrc,
            rng: fastrand::Rng::with_seed(seed),
            next: None,
            initial: true,
            packets_at_last_report: 0,
            avg_size: 100.0,
            remote_heard: false,
            remote_sending: false,
            last_sr_rx: None,
            srs_sent: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            remote: None,
            closed: false,
        };
        s.next = Some(now + s.interval());
        s
    }

    /// The RTCP interval (RFC 3550 6.3.1, randomised).
    fn interval(&mut self) -> Duration {
        let members = if self.remote_heard { 2.0 } else { 1.0 };
        let rtcp_bw = self.cfg.session_bandwidth as f64 * 0.05 / 8.0; // bytes/s
        let mut t = self.avg_size * members / rtcp_bw.max(1.0);
        let mut tmin = self.cfg.min_interval.as_secs_f64();
        if self.initial {
            tmin /= 2.0;
        }
        t = t.max(tmin);
        Duration::from_secs_f64(t * (0.5 + self.rng.f64()))
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// Sends a report if it is due (at or after [`poll_timeout`](Self::poll_timeout)).
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        sender: &SenderInfo,
        receiver: &mut RtpReceiver,
    ) -> Result<(), Error> {
        match self.next {
            Some(t) if now >= t => {}
            _ => return Ok(()),
        }
        let pkt = self.build(now, ntp, sender, receiver, None)?;
        self.queue(pkt);
        self.initial = false;
        self.next = Some(now + self.interval());
        Ok(())
    }

    /// Ends the session: queues a last report with a BYE; no timers after this.
    pub fn close(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        sender: &SenderInfo,
        receiver: &mut RtpReceiver,
        reason: &str,
    ) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        let pkt = self.build(now, ntp, sender, receiver, Some(reason))?;
        self.queue(pkt);
        self.closed = true;
        self.next = None;
        Ok(())
    }

    /// The next datagram to send on the RTCP port (or the RTP port with rtcp-mux).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next thing learned from received RTCP.
    pub fn poll_event(&mut self) -> Option<RtcpEvent> {
        self.events.pop_front()
    }

    /// The far end's latest report about our stream.
    pub fn remote(&self) -> Option<&RemoteReport> {
        self.remote.as_ref()
    }

    fn queue(&mut self, pkt: Vec<u8>) {
        self.update_avg(pkt.len());
        self.transmit.push_back(pkt);
    }

    fn update_avg(&mut self, len: usize) {
        self.avg_size += (len as f64 + UDP_IP_OVERHEAD - self.avg_size) / 16.0;
    }

    fn build(
        &mut self,
        now: Instant,
        ntp: NtpTime,
        sender: &SenderInfo,
        receiver: &mut RtpReceiver,
        bye: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let block = receiver.report().map(|r| {
            let (lsr, dlsr) = match self.last_sr_rx {
                Some((lsr, at)) => {
                    let d = now.saturating_duration_since(at).as_secs_f64() * 65536.0;
                    (lsr, d.min(u32::MAX as f64) as u32)
                }
                None => (0, 0),
            };
            ReportBlock::builder(r.ssrc)
                .fraction_lost(r.fraction_lost)
                .cumulative_lost(r.cumulative_lost as u32 & 0xff_ffff)
                .extended_sequence_number(r.extended_max_seq)
                .interarrival_jitter(r.jitter)
                .last_sender_report_timestamp(lsr)
                .delay_since_last_sender_report_timestamp(dlsr)
        });
        let sending = sender.packets > self.packets_at_last_report;
        self.packets_at_last_report = sender.packets;

        let mut compound = Compound::builder();
        if sending {
            let mut sr = SenderReport::builder(self.ssrc)
                .ntp_timestamp(ntp.0)
                .rtp_timestamp(sender.rtp_timestamp)
                .packet_count(sender.packets as u32)
                .octet_count(sender.octets as u32);
            if let Some(b) = block {
                sr = sr.add_report_block(b);
            }
            self.srs_sent.push_back((ntp.middle32(), now));
            if self.srs_sent.len() > SR_HISTORY {
                self.srs_sent.pop_front();
            }
            compound = compound.add_packet(sr);
        } else {
            let mut rr = ReceiverReport::builder(self.ssrc);
            if let Some(b) = block {
                rr = rr.add_report_block(b);
            }
            compound = compound.add_packet(rr);
        }
        compound = compound.add_packet(
            Sdes::builder().add_chunk(
                SdesChunk::builder(self.ssrc)
                    .add_item(SdesItem::builder(SdesItem::CNAME, &self.cfg.cname)),
            ),
        );
        if let Some(reason) = bye {
            let mut b = Bye::builder().add_source(self.ssrc);
            if !reason.is_empty() {
                b = b.reason(reason);
            }
            compound = compound.add_packet(b);
        }
        let size = compound
            .calculate_size()
            .map_err(|e| Error::RtcpWrite(e.to_string()))?;
        let mut buf = vec![0; size];
        compound
            .write_into(&mut buf)
            .map_err(|e| Error::RtcpWrite(e.to_string()))?;
        Ok(buf)
    }

    /// Takes in a received compound RTCP packet; what it says comes out of
    /// [`poll_event`](Self::poll_event). Malformed packets are errors, not panics.
    pub fn handle_packet(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        let compound = Compound::parse(data).map_err(|e| Error::Rtcp(e.to_string()))?;
        let mut found = Vec::new();
        for packet in compound {
            let packet = packet.map_err(|e| Error::Rtcp(e.to_string()))?;
            match packet {
                Packet::Sr(sr) => {
                    self.last_sr_rx = Some(((sr.ntp_timestamp() >> 16) as u32, now));
                    self.remote_sending = true;
                    found.push(RtcpEvent::SenderReport {
                        ssrc: sr.ssrc(),
                        ntp: NtpTime(sr.ntp_timestamp()),
                        rtp_timestamp: sr.rtp_timestamp(),
                        packets: sr.packet_count(),
                        octets: sr.octet_count(),
                    });
                    for b in sr.report_blocks() {
                        if let Some(r) = self.remote_block(now, sr.ssrc(), &b) {
                            found.push(RtcpEvent::Report(r));
                        }
                    }
                }
                Packet::Rr(rr) => {
                    for b in rr.report_blocks() {
                        if let Some(r) = self.remote_block(now, rr.ssrc(), &b) {
                            found.push(RtcpEvent::Report(r));
                        }
                    }
                }
                Packet::Bye(bye) => {
                    let reason = bye
                        .reason()
                        .map(|r| String::from_utf8_lossy(r).into_owned());
                    for ssrc in bye.ssrcs() {
                        found.push(RtcpEvent::Bye {
                            ssrc,
                            reason: reason.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        self.remote_heard = true;
        self.update_avg(data.len());
        self.events.extend(found);
        Ok(())
    }

    fn remote_block(
        &mut self,
        now: Instant,
        reporter: u32,
        b: &ReportBlock,
    ) -> Option<RemoteReport> {
        if b.ssrc() != self.ssrc {
            return None;
        }
        let lsr = b.last_sender_report_timestamp();
        let rtt = if lsr == 0 {
            None
        } else {
            self.srs_sent
                .iter()
                .find(|(m, _)| *m == lsr)
                .and_then(|(_, sent)| {
                    let held = Duration::from_secs_f64(
                        b.delay_since_last_sender_report_timestamp() as f64 / 65536.0,
                    );
                    now.saturating_duration_since(*sent).checked_sub(held)
                })
        };
        // 24-bit two's complement.
        let cumulative_lost = ((b.cumulative_lost() << 8) as i32) >> 8;
        let r = RemoteReport {
            reporter,
            fraction_lost: b.fraction_lost() as f64 / 256.0,
            cumulative_lost,
            extended_max_seq: b.extended_sequence_number(),
            jitter_ms: b.interarrival_jitter() as f64 / 8.0,
            rtt,
        };
        self.remote = Some(r.clone());
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RtpHeader;
    use crate::sender::RtpSender;

    fn ntp_at(base: SystemTime, t0: Instant, now: Instant) -> NtpTime {
        NtpTime::from_system_time(base + now.duration_since(t0))
    }

    #[test]
    fn ntp_conversion() {
        let t = UNIX_EPOCH + Duration::from_millis(1500);
        let n = NtpTime::from_system_time(t);
        assert_eq!(n.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(n.0 & 0xffff_ffff, 1 << 31);
        assert_eq!(
            n.middle32(),
            (((NTP_UNIX_OFFSET + 1) as u32) << 16) | 0x8000
        );
    }

    #[test]
    fn intervals_are_randomised_around_five_seconds() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(1, "a@b", 42, t0);
        let first = s.poll_timeout().unwrap() - t0;
        assert!(first >= Duration::from_millis(1250) && first <= Duration::from_millis(3750));
        let sender = RtpSender::with_initial(1, 0, 0).info();
        let mut rx = RtpReceiver::default();
        let mut now = t0;
        let mut gaps = Vec::new();
        for _ in 0..200 {
            let due = s.poll_timeout().unwrap();
            // Early calls do nothing.
            s.handle_timeout(due - Duration::from_millis(1), NtpTime(0), &sender, &mut rx)
                .unwrap();
            assert!(s.poll_transmit().is_none());
            s.handle_timeout(due, NtpTime(0), &sender, &mut rx).unwrap();
            assert!(s.poll_transmit().is_some());
            gaps.push((s.poll_timeout().unwrap() - due).as_secs_f64());
            now = due;
        }
        let _ = now;
        assert!(gaps.iter().all(|g| (2.5..=7.5).contains(g)), "{gaps:?}");
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 5.0).abs() < 0.5, "mean {mean}");
        assert!(gaps.iter().any(|g| *g < 3.5) && gaps.iter().any(|g| *g > 6.5));
        // Same seed, same schedule.
        let s2 = RtcpSession::new(1, "a@b", 42, t0);
        assert_eq!(
            s2.poll_timeout(),
            RtcpSession::new(1, "a@b", 42, t0).poll_timeout()
        );
    }

    /// Two phones exchanging RTP and RTCP over a 30 ms one-way path.
    #[test]
    fn two_ends_exchange_reports_rtt_and_bye() {
        let t0 = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let one_way = Duration::from_millis(30);
        let mut a_tx = RtpSender::with_initial(0xa, 0, 0);
        let mut b_rx = RtpReceiver::default();
        let mut a = RtcpSession::new(0xa, "a@phone", 1, t0);
        let mut b = RtcpSession::new(0xb, "b@phone", 2, t0);
        let b_tx = RtpSender::with_initial(0xb, 0, 0); // b sends nothing
        let mut a_rx = RtpReceiver::default();

        // A sends 500 packets (10 s), 10 % lost on the way to B.
        for i in 0..500u32 {
            let pkt = a_tx.packet(0, &[0; 160], 160, false).unwrap();
            if i % 10 == 5 {
                continue;
            }
            let (h, _): (RtpHeader, _) = crate::packet::parse_rtp(&pkt).unwrap();
            b_rx.handle_packet(t0 + Duration::from_millis(20 * i as u64) + one_way, &h);
        }
        // A reports at 10 s: an SR since it sent.
        let now = t0 + Duration::from_secs(10);
        a.handle_timeout(now, ntp_at(wall, t0, now), &a_tx.info(), &mut a_rx)
            .unwrap();
        let sr = a.poll_transmit().unwrap();
        let parsed: Vec<_> = Compound::parse(&sr).unwrap().collect();
        assert!(matches!(parsed[0], Ok(Packet::Sr(_))));
        assert!(matches!(parsed[1], Ok(Packet::Sdes(_))));
        if let Ok(Packet::Sr(s)) = &parsed[0] {
            assert_eq!(s.packet_count(), 500);
            assert_eq!(s.octet_count(), 500 * 160);
            assert_eq!(s.rtp_timestamp(), 500 * 160);
        }
        // B gets it 30 ms later and answers with an RR 200 ms after that.
        let at_b = now + one_way;
        b.handle_packet(at_b, &sr).unwrap();
        assert!(matches!(
            b.poll_event(),
            Some(RtcpEvent::SenderReport {
                ssrc: 0xa,
                packets: 500,
                ..
            })
        ));
        let b_due = at_b + Duration::from_millis(200);
        b.next = Some(b_due);
        b.handle_timeout(b_due, ntp_at(wall, t0, b_due), &b_tx.info(), &mut b_rx)
            .unwrap();
        let rr = b.poll_transmit().unwrap();
        assert!(matches!(
            Compound::parse(&rr).unwrap().next(),
            Some(Ok(Packet::Rr(_)))
        ));
        // A gets the RR: RTT = 60 ms, 50 of 500 lost, fraction 10 %.
        a.handle_packet(b_due + one_way, &rr).unwrap();
        let Some(RtcpEvent::Report(r)) = a.poll_event() else {
            panic!("no report");
        };
        assert_eq!(r.reporter, 0xb);
        assert_eq!(r.cumulative_lost, 50);
        assert!((r.fraction_lost - 0.1).abs() < 0.01);
        let rtt = r.rtt.unwrap().as_secs_f64();
        assert!((rtt - 0.060).abs() < 0.001, "rtt {rtt}");
        assert_eq!(a.remote(), Some(&r));
        // Stats carry it.
        let st = crate::Stats::new(&a_tx, &a_rx).with_remote(&r);
        assert_eq!(st.remote_lost, Some(50));
        assert!((st.rtt_ms.unwrap() - 60.0).abs() < 1.0);

        // B hangs up.
        b.close(
            b_due,
            ntp_at(wall, t0, b_due),
            &b_tx.info(),
            &mut b_rx,
            "bye",
        )
        .unwrap();
        assert_eq!(b.poll_timeout(), None);
        let bye = b.poll_transmit().unwrap();
        a.handle_packet(b_due, &bye).unwrap();
        let mut got_bye = false;
        while let Some(e) = a.poll_event() {
            if let RtcpEvent::Bye { ssrc, reason } = e {
                assert_eq!(ssrc, 0xb);
                assert_eq!(reason.as_deref(), Some("bye"));
                got_bye = true;
            }
        }
        assert!(got_bye);
    }

    #[test]
    fn rr_when_not_sending_since_last_report() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(5, "x", 3, t0);
        let mut tx = RtpSender::with_initial(5, 0, 0);
        let mut rx = RtpReceiver::default();
        tx.packet(0, &[0; 160], 160, false).unwrap();
        let due = s.poll_timeout().unwrap();
        s.handle_timeout(due, NtpTime(1 << 32), &tx.info(), &mut rx)
            .unwrap();
        let p = s.poll_transmit().unwrap();
        assert!(matches!(
            Compound::parse(&p).unwrap().next(),
            Some(Ok(Packet::Sr(_)))
        ));
        let due = s.poll_timeout().unwrap();
        s.handle_timeout(due, NtpTime(2 << 32), &tx.info(), &mut rx)
            .unwrap();
        let p = s.poll_transmit().unwrap();
        assert!(matches!(
            Compound::parse(&p).unwrap().next(),
            Some(Ok(Packet::Rr(_)))
        ));
    }

    #[test]
    fn malformed_rtcp_is_an_error() {
        let t0 = Instant::now();
        let mut s = RtcpSession::new(5, "x", 3, t0);
        assert!(s.handle_packet(t0, &[]).is_err());
        assert!(s.handle_packet(t0, &[0x80, 201, 0, 7]).is_err());
        assert!(s.handle_packet(t0, &[0x40, 201, 0, 0]).is_err());
        assert!(s.poll_event().is_none());
    }
}
