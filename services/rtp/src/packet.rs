//! RTP header parsing and writing on top of `rtp-types`, plus RTP/RTCP demultiplexing.

use crate::Error;

/// The fields of an RTP header that the phone uses (CSRCs and extensions are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type, 0-127.
    pub payload_type: u8,
    /// Marker bit: first packet of a talk spurt (audio) or of an event (RFC 4733).
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp (8000 Hz for the phone's codecs).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Parses an RTP packet, returning its header and payload (padding removed).
///
/// Every malformed input (short, wrong version, CSRC/extension/padding past the end)
/// is an [`Error::Rtp`], never a panic.
pub fn parse_rtp(data: &[u8]) -> Result<(RtpHeader, &[u8]), Error> {
    let p = rtp_types::RtpPacket::parse(data).map_err(|e| Error::Rtp(e.to_string()))?;
    let header = RtpHeader {
        payload_type: p.payload_type(),
        marker: p.marker_bit(),
        sequence: p.sequence_number(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
    };
    let start = p.payload_offset();
    let len = p.payload_len();
    Ok((header, &data[start..start + len]))
}

/// Appends an RTP packet (12-byte header, no CSRC, no extension) to `out`.
pub fn write_rtp(header: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    if header.payload_type > 127 {
        return Err(Error::InvalidPayloadType(header.payload_type));
    }
    rtp_types::RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(header.payload_type)
        .marker_bit(header.marker)
        .sequence_number(header.sequence)
        .timestamp(header.timestamp)
        .ssrc(header.ssrc)
        .payload(payload)
        .write_into_vec(out)
        .map_err(|e| Error::RtpWrite(e.to_string()))
}

/// Whether a datagram on a shared (RFC 5761 rtcp-mux) port is RTCP rather than RTP:
/// RTCP packet types 192-223 fall where RTP would have marker + payload type 64-95,
/// which RFC 5761 reserves.
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 2 && (192..=223).contains(&data[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = RtpHeader {
            payload_type: 8,
            marker: true,
            sequence: 65535,
            timestamp: 0xdead_beef,
            ssrc: 0x1234_5678,
        };
        let mut out = Vec::new();
        write_rtp(&h, &[1, 2, 3], &mut out).unwrap();
        assert_eq!(out.len(), 15);
        let (h2, p) = parse_rtp(&out).unwrap();
        assert_eq!(h, h2);
        assert_eq!(p, &[1, 2, 3]);
        assert!(!is_rtcp(&out));
    }

    #[test]
    fn rejects_bad_packets() {
        assert!(parse_rtp(&[]).is_err());
        assert!(parse_rtp(&[0x80; 11]).is_err());
        // Version 1.
        assert!(parse_rtp(&[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // Padding bit with a padding count reaching into the header.
        let mut p = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 20];
        assert!(parse_rtp(&p).is_err());
        // Padding count of zero is invalid too.
        *p.last_mut().unwrap() = 0;
        assert!(parse_rtp(&p).is_err());
        // Fifteen CSRCs announced, none present.
        assert!(parse_rtp(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let h = RtpHeader {
            payload_type: 128,
            marker: false,
            sequence: 0,
            timestamp: 0,
            ssrc: 0,
        };
        assert!(write_rtp(&h, &[], &mut Vec::new()).is_err());
    }

    #[test]
    fn padding_is_stripped() {
        let p = [0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 9, 9, 0, 0, 3];
        let (h, payload) = parse_rtp(&p).unwrap();
        assert_eq!(h.sequence, 1);
        assert_eq!(payload, &[9, 9]);
    }
}
