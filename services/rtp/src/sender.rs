//! The sending side of an RTP stream: SSRC, sequence numbers, timestamps, counters.

use crate::packet::{write_rtp, RtpHeader};
use crate::Error;

/// What an RTCP sender report needs from the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Our SSRC.
    pub ssrc: u32,
    /// Packets sent since the start (wraps at 2^32 in the report).
    pub packets: u64,
    /// Payload octets sent since the start.
    pub octets: u64,
    /// The RTP timestamp of "now": the timestamp the next audio packet will carry.
    pub rtp_timestamp: u32,
}

/// Numbers one outgoing RTP stream.
///
/// Initial SSRC, sequence number and timestamp are random (RFC 3550 5.1), drawn from the
/// seed given at construction. The timestamp advances by the samples of each audio
/// packet and by [`skip`](Self::skip) for frames not sent (silence suppression, DTMF),
/// so the far end can tell the length of a gap; the first packet after a gap carries the
/// marker bit.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    next_ts: u32,
    marker_pending: bool,
    packets: u64,
    octets: u64,
}

impl RtpSender {
    /// A sender with SSRC, first sequence number and first timestamp from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        Self::with_initial(rng.u32(..), rng.u16(..), rng.u32(..))
    }

    /// A sender with chosen initial values (tests, or an SSRC fixed by signalling).
    pub fn with_initial(ssrc: u32, seq: u16, timestamp: u32) -> Self {
        Self {
            ssrc,
            seq,
            next_ts: timestamp,
            marker_pending: true,
            packets: 0,
            octets: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.seq
    }

    /// The timestamp the next audio packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.next_ts
    }

    /// Packets sent (audio and events).
    pub fn packets_sent(&self) -> u64 {
        self.packets
    }

    /// Payload octets sent (headers excluded, as RTCP SR counts them).
    pub fn octets_sent(&self) -> u64 {
        self.octets
    }

    /// Values for an RTCP sender report.
    pub fn info(&self) -> SenderInfo {
        SenderInfo {
            ssrc: self.ssrc,
            packets: self.packets,
            octets: self.octets,
            rtp_timestamp: self.next_ts,
        }
    }

    /// Builds the next audio packet covering `samples` samples.
    ///
    /// The marker bit is set when `marker` is true or on the first packet after the
    /// start or a [`skip`](Self::skip) (a new talk spurt).
    pub fn packet(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        samples: u32,
        marker: bool,
    ) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(12 + payload.len());
        self.packet_into(payload_type, payload, samples, marker, &mut out)?;
        Ok(out)
    }

    /// Like [`packet`](Self::packet), appending to `out` (reuse one buffer per call).
    pub fn packet_into(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        samples: u32,
        marker: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let header = RtpHeader {
            payload_type,
            marker: marker || self.marker_pending,
            sequence: self.seq,
            timestamp: self.next_ts,
            ssrc: self.ssrc,
        };
        write_rtp(&header, payload, out)?;
        self.marker_pending = false;
        self.next_ts = self.next_ts.wrapping_add(samples);
        self.count(payload.len());
        Ok(())
    }

    /// Builds a packet with an explicit timestamp that does not move the audio clock:
    /// RFC 4733 events keep the timestamp of the event start while audio time runs on
    /// (call [`skip`](Self::skip) for the audio frames the event replaces).
    pub fn packet_at(
        &mut self,
        payload_type: u8,
        payload: &[u8],
        timestamp: u32,
        marker: bool,
    ) -> Result<Vec<u8>, Error> {
        let header = RtpHeader {
            payload_type,
            marker,
            sequence: self.seq,
            timestamp,
            ssrc: self.ssrc,
        };
        let mut out = Vec::with_capacity(12 + payload.len());
        write_rtp(&header, payload, &mut out)?;
        self.count(payload.len());
        Ok(out)
    }

    /// Advances the timestamp over `samples` samples that are not sent (suppressed
    /// silence, or audio replaced by an event); the next audio packet gets the marker.
    pub fn skip(&mut self, samples: u32) {
        if samples > 0 {
            self.next_ts = self.next_ts.wrapping_add(samples);
            self.marker_pending = true;
        }
    }

    fn count(&mut self, payload_len: usize) {
        self.seq = self.seq.wrapping_add(1);
        self.packets += 1;
        self.octets += payload_len as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::parse_rtp;

    #[test]
    fn seeded_initial_values() {
        let a = RtpSender::new(1);
        let b = RtpSender::new(1);
        let c = RtpSender::new(2);
        assert_eq!(a.ssrc(), b.ssrc());
        assert_eq!(a.next_timestamp(), b.next_timestamp());
        assert_ne!(
            (a.ssrc(), a.next_sequence(), a.next_timestamp()),
            (c.ssrc(), c.next_sequence(), c.next_timestamp())
        );
    }

    #[test]
    fn marker_sequence_timestamp_and_silence() {
        let mut s = RtpSender::with_initial(7, 65534, u32::MAX - 100);
        let p1 = s.packet(0, &[0; 160], 160, false).unwrap();
        let p2 = s.packet(0, &[0; 160], 160, false).unwrap();
        let (h1, _) = parse_rtp(&p1).unwrap();
        let (h2, _) = parse_rtp(&p2).unwrap();
        assert!(h1.marker, "first packet of the stream starts a talk spurt");
        assert!(!h2.marker);
        assert_eq!(h1.sequence, 65534);
        assert_eq!(h2.sequence, 65535);
        assert_eq!(h2.timestamp, h1.timestamp.wrapping_add(160));
        // Ten suppressed frames: timestamp jumps, marker set, sequence continuous.
        s.skip(1600);
        let (h3, _) = parse_rtp(&s.packet(0, &[0; 160], 160, false).unwrap()).unwrap();
        assert!(h3.marker);
        assert_eq!(h3.sequence, 0);
        assert_eq!(h3.timestamp, h1.timestamp.wrapping_add(320 + 1600));
        let (h4, _) = parse_rtp(&s.packet(0, &[0; 160], 160, true).unwrap()).unwrap();
        assert!(h4.marker, "caller-requested marker");
        assert_eq!(s.packets_sent(), 4);
        assert_eq!(s.octets_sent(), 640);
        assert_eq!(s.info().rtp_timestamp, h4.timestamp.wrapping_add(160));
    }

    #[test]
    fn event_packets_keep_audio_clock() {
        let mut s = RtpSender::with_initial(1, 10, 1000);
        s.packet(0, &[0; 160], 160, false).unwrap();
        let e = s.packet_at(101, &[1, 0, 0, 160], 1160, true).unwrap();
        let (h, p) = parse_rtp(&e).unwrap();
        assert_eq!((h.payload_type, h.timestamp, h.sequence), (101, 1160, 11));
        assert_eq!(p.len(), 4);
        assert_eq!(s.next_timestamp(), 1160);
        assert!(s.packet(0, &[], 160, false).is_ok());
        assert!(s.packet(200, &[], 160, false).is_err());
    }
}
