//! Reception statistics per RFC 3550 Appendix A, and the per-call [`Stats`].
//!
//! [`RtpReceiver`] follows one remote source at a time: sequence validation with
//! probation and wrap handling (A.1), loss and fraction lost per report interval (A.3)
//! and interarrival jitter (A.8). Beyond the RFC it keeps a 128-packet window of
//! received sequence numbers, so duplicates are told apart from late (reordered)
//! packets and are *not* counted as received: the RFC's way lets duplicates hide loss.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::packet::RtpHeader;
use crate::rtcp::RemoteReport;
use crate::sender::RtpSender;

/// Largest forward jump still taken as loss rather than a restart (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// Largest backward step taken as reordering rather than a restart.
const MAX_MISORDER: u16 = 100;
/// Sequential packets a new source needs before it is believed.
const MIN_SEQUENTIAL: u32 = 2;

/// What [`RtpReceiver::handle_packet`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// In order (possibly after a gap): counted.
    Valid,
    /// Older than the highest sequence seen but not seen before: counted, and late.
    Late,
    /// Seen already: not counted.
    Duplicate,
    /// From a source still on probation (first packets of the call or a new SSRC).
    Probation,
    /// The packet that completed the probation of a new SSRC: stats were reset.
    NewSource,
    /// A large sequence jump, confirmed by the next packet: the sequence restarted.
    Restarted,
    /// A large sequence jump not (yet) confirmed: ignored.
    BadSequence,
}

/// One report block's worth of reception figures (RFC 3550 6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFigures {
    /// The source reported on.
    pub ssrc: u32,
    /// Loss over the last interval, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, clamped to 24 bits signed.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_max_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    // Bit k: extended sequence `max - k` was received.
    seen: u128,
    transit: Option<u32>,
    jitter: f64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        Self {
            ssrc,
            max_seq: seq.wrapping_sub(1),
            cycles: 0,
            base_seq: seq as u32,
            bad_seq: u32::MAX,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            seen: 0,
            transit: None,
            jitter: 0.0,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = u32::MAX;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.seen = 1;
    }

    fn extended_max(&self) -> u64 {
        self.cycles as u64 + self.max_seq as u64
    }

    fn expected(&self) -> u64 {
        (self.extended_max() + 1).saturating_sub(self.base_seq as u64)
    }

    fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    // RFC 3550 A.1 update_seq, with duplicate detection added.
    fn update_seq(&mut self, seq: u16) -> Arrival {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    // Count the probation packets too, so a clean call shows no loss.
                    let first = seq.wrapping_sub((MIN_SEQUENTIAL - 1) as u16);
                    self.init_seq(seq);
                    self.base_seq = first as u32;
                    self.seen = (1u128 << MIN_SEQUENTIAL) - 1;
                    self.received = MIN_SEQUENTIAL as u64;
                    return Arrival::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return Arrival::Probation;
        }
        if udelta == 0 {
            return Arrival::Duplicate;
        }
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
            self.seen = if udelta >= 128 {
                1
            } else {
                (self.seen << udelta) | 1
            };
            self.received += 1;
            Arrival::Valid
        } else if udelta <= u16::MAX - MAX_MISORDER {
            if seq as u32 == self.bad_seq {
                // Two sequential packets after a jump: the sender restarted.
                self.init_seq(seq);
                self.received = 1;
                Arrival::Restarted
            } else {
                self.bad_seq = seq.wrapping_add(1) as u32;
                Arrival::BadSequence
            }
        } else {
            let back = self.max_seq.wrapping_sub(seq) as u32;
            if back < 128 {
                let bit = 1u128 << back;
                if self.seen & bit != 0 {
                    return Arrival::Duplicate;
                }
                self.seen |= bit;
            }
            self.received += 1;
            Arrival::Late
        }
    }
}

/// RFC 3550 receiver statistics for the remote stream of one call.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    epoch: Option<Instant>,
    source: Option<Source>,
    candidate: Option<Source>,
    // Figures of sources before the current one.
    prev_received: u64,
    prev_lost: i64,
    duplicates: u64,
    late: u64,
    ssrc_changes: u64,
    ts_jumps: u64,
    restarts: u64,
    ignored: u64,
}

impl Default for RtpReceiver {
    fn default() -> Self {
        Self::new(crate::CLOCK_RATE)
    }
}

impl RtpReceiver {
    /// A receiver for a stream whose timestamps run at `clock_rate` Hz.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            epoch: None,
            source: None,
            candidate: None,
            prev_received: 0,
            prev_lost: 0,
            duplicates: 0,
            late: 0,
            ssrc_changes: 0,
            ts_jumps: 0,
            restarts: 0,
            ignored: 0,
        }
    }

    /// The SSRC being followed, once one has passed probation.
    pub fn ssrc(&self) -> Option<u32> {
        self.source
            .as_ref()
            .filter(|s| s.probation == 0)
            .map(|s| s.ssrc)
    }

    /// Accounts for one received packet that arrived at `now`.
    pub fn handle_packet(&mut self, now: Instant, header: &RtpHeader) -> Arrival {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = (now.saturating_duration_since(epoch).as_secs_f64() * self.clock_rate as f64)
            .round() as u64 as u32;

        let same = self.source.as_ref().map(|s| s.ssrc) == Some(header.ssrc);
        let outcome = if same || self.source.is_none() {
            let src = self
                .source
                .get_or_insert_with(|| Source::new(header.ssrc, header.sequence));
            // A stray packet from the current source ends a rival's probation.
            self.candidate = None;
            src.update_seq(header.sequence)
        } else {
            // Another SSRC: believe it only after MIN_SEQUENTIAL packets in a row.
            let cand = match &mut self.candidate {
                Some(c) if c.ssrc == header.ssrc => c,
                slot => slot.insert(Source::new(header.ssrc, header.sequence)),
            };
            match cand.update_seq(header.sequence) {
                Arrival::Valid => {
                    let new = self.candidate.take().expect("candidate present");
                    if let Some(old) = self.source.replace(new) {
                        if old.probation == 0 {
                            self.prev_received += old.received;
                            self.prev_lost += old.lost();
                        }
                    }
                    self.ssrc_changes += 1;
                    Arrival::NewSource
                }
                other => other,
            }
        };

        match outcome {
            Arrival::Duplicate => self.duplicates += 1,
            Arrival::Late => self.late += 1,
            Arrival::Restarted => self.restarts += 1,
            Arrival::BadSequence => self.ignored += 1,
            _ => {}
        }
        if matches!(
            outcome,
            Arrival::Valid | Arrival::Late | Arrival::NewSource | Arrival::Restarted
        ) {
            self.update_jitter(arrival, header.timestamp, outcome);
        }
        outcome
    }

    // RFC 3550 A.8; a transit change above one second is a timestamp jump, not jitter.
    fn update_jitter(&mut self, arrival: u32, timestamp: u32, outcome: Arrival) {
        let rate = self.clock_rate;
        let Some(src) = self.source.as_mut() else {
            return;
        };
        let transit = arrival.wrapping_sub(timestamp);
        match src.transit {
            Some(prev) if !matches!(outcome, Arrival::NewSource | Arrival::Restarted) => {
                let d = transit.wrapping_sub(prev) as i32;
                let d = d.unsigned_abs();
                if d > rate {
                    self.ts_jumps += 1;
                } else {
                    src.jitter += (d as f64 - src.jitter) / 16.0;
                }
            }
            _ => src.jitter = 0.0,
        }
        src.transit = Some(transit);
    }

    /// Figures for an RTCP report block; starts a new interval for `fraction_lost`
    /// (RFC 3550 A.3). `None` until a source has passed probation.
    pub fn report(&mut self) -> Option<ReportFigures> {
        let src = self.source.as_mut().filter(|s| s.probation == 0)?;
        let expected = src.expected();
        let expected_interval = expected - src.expected_prior.min(expected);
        let received_interval = src.received.saturating_sub(src.received_prior);
        src.expected_prior = expected;
        src.received_prior = src.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        Some(ReportFigures {
            ssrc: src.ssrc,
            fraction_lost,
            cumulative_lost: src.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_max_seq: src.extended_max() as u32,
            jitter: src.jitter.round() as u32,
        })
    }

    /// Packets counted as received over the call (all sources, duplicates excluded).
    pub fn received(&self) -> u64 {
        self.prev_received + self.source.as_ref().map_or(0, |s| s.received)
    }

    /// Packets lost over the call (all sources).
    pub fn lost(&self) -> i64 {
        self.prev_lost
            + self
                .source
                .as_ref()
                .filter(|s| s.probation == 0)
                .map_or(0, Source::lost)
    }

    /// Interarrival jitter of the current source in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.source.as_ref().map_or(0.0, |s| s.jitter)
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter() * 1000.0 / self.clock_rate as f64
    }

    /// The figures of this receiver, with `sent` left at 0 (see [`Stats::new`]).
    pub fn stats(&self) -> Stats {
        Stats {
            received: self.received(),
            lost: self.lost(),
            jitter_ms: (self.jitter_ms() * 100.0).round() / 100.0,
            duplicates: self.duplicates,
            late: self.late,
            ssrc_changes: self.ssrc_changes,
            timestamp_jumps: self.ts_jumps,
            sequence_restarts: self.restarts,
            ..Stats::default()
        }
    }
}

/// Per-call media statistics, shaped for the phone's status output
/// (`{"codec", "sent", "received", "lost", "jitter_ms", "local_port", ...}`).
///
/// `codec` and `local_port` are mediad's to fill; the rest comes from
/// [`Stats::new`] and, once RTCP has heard from the far end, [`Stats::with_remote`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Codec name, e.g. "PCMU" (filled by mediad).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// RTP packets sent.
    pub sent: u64,
    /// RTP packets received (duplicates excluded).
    pub received: u64,
    /// RTP packets lost (expected minus received).
    pub lost: i64,
    /// Interarrival jitter (RFC 3550) in milliseconds.
    pub jitter_ms: f64,
    /// Local RTP port (filled by mediad).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<u16>,
    /// Duplicate packets received.
    #[serde(default)]
    pub duplicates: u64,
    /// Packets that arrived after a later one.
    #[serde(default)]
    pub late: u64,
    /// Times the remote SSRC changed.
    #[serde(default)]
    pub ssrc_changes: u64,
    /// Timestamp discontinuities seen.
    #[serde(default)]
    pub timestamp_jumps: u64,
    /// Sequence number restarts of the same SSRC.
    #[serde(default)]
    pub sequence_restarts: u64,
    /// Our packets lost, as the far end reports it (RTCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_lost: Option<i64>,
    /// Jitter the far end measures on our stream, in ms (RTCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_jitter_ms: Option<f64>,
    /// Round-trip time from RTCP, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

impl Stats {
    /// Both directions of a call.
    pub fn new(sender: &RtpSender, receiver: &RtpReceiver) -> Self {
        Stats {
            sent: sender.packets_sent(),
            ..receiver.stats()
        }
    }

    /// Adds what the far end reported about our stream.
    pub fn with_remote(mut self, remote: &RemoteReport) -> Self {
        self.remote_lost = Some(remote.cumulative_lost as i64);
        self.remote_jitter_ms = Some((remote.jitter_ms * 100.0).round() / 100.0);
        self.rtt_ms = remote.rtt.map(|d| d.as_secs_f64() * 1000.0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hdr(seq: u16, ts: u32, ssrc: u32) -> RtpHeader {
        RtpHeader {
            payload_type: 0,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
    }

    /// Feeds packets `seqs` sent every 20 ms, arriving with `delay(i)` ms of extra delay.
    fn feed(rx: &mut RtpReceiver, t0: Instant, seqs: &[u16], delay: impl Fn(usize) -> u64) {
        for (i, &s) in seqs.iter().enumerate() {
            let k = s.wrapping_sub(seqs[0]) as u64;
            let at = t0 + Duration::from_millis(20 * k + delay(i));
            rx.handle_packet(at, &hdr(s, 160 * k as u32, 9));
        }
    }

    #[test]
    fn probation_then_clean_stream_across_wrap() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        let seqs: Vec<u16> = (0..200u16).map(|i| 65500u16.wrapping_add(i)).collect();
        assert_eq!(rx.handle_packet(t0, &hdr(65500, 0, 9)), Arrival::Probation);
        assert_eq!(rx.ssrc(), None);
        feed(&mut rx, t0, &seqs[1..], |_| 0);
        assert_eq!(rx.ssrc(), Some(9));
        assert_eq!(rx.received(), 200);
        assert_eq!(rx.lost(), 0);
        assert!(rx.jitter() < 0.5);
        let r = rx.report().unwrap();
        assert_eq!(r.extended_max_seq, (1 << 16) | 163);
        assert_eq!(r.fraction_lost, 0);
    }

    #[test]
    fn loss_fraction_and_interval() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        // 100 packets, every 4th lost.
        let seqs: Vec<u16> = (0..100u16).filter(|s| s % 4 != 3).collect();
        feed(&mut rx, t0, &seqs, |_| 0);
        assert_eq!(rx.lost(), 24);
        let r = rx.report().unwrap();
        assert_eq!(r.cumulative_lost, 24);
        assert_eq!(r.fraction_lost, (24 * 256 / 99) as u8);
        // Next interval without loss: fraction back to 0, cumulative kept.
        let seqs2: Vec<u16> = (99..150).collect();
        feed(&mut rx, t0 + Duration::from_secs(2), &seqs2, |_| 0);
        let r2 = rx.report().unwrap();
        assert_eq!(r2.fraction_lost, 0);
        assert_eq!(r2.cumulative_lost, 24);
    }

    #[test]
    fn duplicates_and_reordering() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        feed(&mut rx, t0, &[1, 2, 3, 5, 4, 5, 5, 6, 2], |_| 0);
        let s = rx.stats();
        assert_eq!(s.received, 6);
        assert_eq!(s.lost, 0);
        assert_eq!(s.late, 1, "4 after 5");
        assert_eq!(s.duplicates, 3, "5, 5 and 2 again");
    }

    #[test]
    fn jitter_tracks_alternating_delay() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        let seqs: Vec<u16> = (0..2000).collect();
        // Delay alternating 0/10 ms: |D| = 10 ms = 80 units each packet.
        feed(&mut rx, t0, &seqs, |i| if i % 2 == 0 { 0 } else { 10 });
        assert!((rx.jitter() - 80.0).abs() < 1.0, "jitter {}", rx.jitter());
        assert!((rx.jitter_ms() - 10.0).abs() < 0.2);
        assert_eq!(rx.stats().timestamp_jumps, 0);
    }

    #[test]
    fn timestamp_jump_counted_not_jitter() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        for i in 0..50u16 {
            let jump = if i >= 25 { 80_000 } else { 0 };
            let at = t0 + Duration::from_millis(20 * i as u64);
            rx.handle_packet(at, &hdr(i, 160 * i as u32 + jump, 1));
        }
        assert_eq!(rx.stats().timestamp_jumps, 1);
        assert!(rx.jitter() < 1.0);
    }

    #[test]
    fn ssrc_change_resets_after_probation() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        feed(
            &mut rx,
            t0,
            &(0..50).filter(|s| s % 10 != 5).collect::<Vec<_>>(),
            |_| 0,
        );
        assert_eq!(rx.lost(), 5);
        // One stray packet of another source changes nothing.
        assert_eq!(rx.handle_packet(t0, &hdr(9000, 0, 77)), Arrival::Probation);
        assert_eq!(rx.handle_packet(t0, &hdr(50, 50 * 160, 9)), Arrival::Valid);
        assert_eq!(rx.ssrc(), Some(9));
        assert_eq!(rx.handle_packet(t0, &hdr(9000, 0, 77)), Arrival::Probation);
        assert_eq!(
            rx.handle_packet(t0, &hdr(9001, 160, 77)),
            Arrival::NewSource
        );
        assert_eq!(rx.ssrc(), Some(77));
        let s = rx.stats();
        assert_eq!(s.ssrc_changes, 1);
        assert_eq!(s.received, 46 + 2);
        assert_eq!(s.lost, 5);
        let r = rx.report().unwrap();
        assert_eq!((r.ssrc, r.cumulative_lost), (77, 0));
    }

    #[test]
    fn sequence_restart_needs_confirmation() {
        let mut rx = RtpReceiver::default();
        let t0 = Instant::now();
        feed(&mut rx, t0, &(0..10).collect::<Vec<_>>(), |_| 0);
        assert_eq!(
            rx.handle_packet(t0, &hdr(30000, 0, 9)),
            Arrival::BadSequence
        );
        assert_eq!(rx.handle_packet(t0, &hdr(10, 0, 9)), Arrival::Valid);
        assert_eq!(
            rx.handle_packet(t0, &hdr(40000, 0, 9)),
            Arrival::BadSequence
        );
        assert_eq!(rx.handle_packet(t0, &hdr(40001, 0, 9)), Arrival::Restarted);
        assert_eq!(rx.stats().sequence_restarts, 1);
        assert_eq!(rx.handle_packet(t0, &hdr(40002, 0, 9)), Arrival::Valid);
    }

    #[test]
    fn stats_serialize_for_status() {
        let mut sender = RtpSender::with_initial(1, 0, 0);
        sender.packet(0, &[0; 160], 160, false).unwrap();
        let rx = RtpReceiver::default();
        let mut s = Stats::new(&sender, &rx);
        s.codec = Some("PCMU".into());
        s.local_port = Some(16384);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["codec"], "PCMU");
        assert_eq!(v["sent"], 1);
        assert_eq!(v["received"], 0);
        assert_eq!(v["lost"], 0);
        assert_eq!(v["jitter_ms"], 0.0);
        assert_eq!(v["local_port"], 16384);
        assert!(v.get("rtt_ms").is_none());
        let back: Stats = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
