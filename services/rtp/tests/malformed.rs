//! Random bytes into every parser: errors are fine, panics are not.

use std::time::{Duration, Instant};

use deskphone_rtp::telephone_event::EventPayload;
use deskphone_rtp::{
    parse_rtp, DtmfReceiver, JitterBuffer, JitterConfig, RtcpSession, RtpReceiver,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let now = Instant::now();
        if let Ok((h, payload)) = parse_rtp(&data) {
            prop_assert!(payload.len() + 12 <= data.len());
            RtpReceiver::default().handle_packet(now, &h);
        }
        let mut s = RtcpSession::new(1, "x", 1, now);
        let _ = s.handle_packet(now, &data);
        while s.poll_event().is_some() {}
        let _ = EventPayload::decode(&data);
        let _ = DtmfReceiver::default().handle_packet(now, 0, &data);
    }

    /// RTCP-looking input: version 2 and a plausible length, so the parsers go deeper.
    #[test]
    fn rtcp_shaped_bytes_never_panic(pt in 192u8..=223, count in 0u8..32, body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut data = vec![0x80 | count, pt, 0, (body.len() / 4) as u8];
        data.extend_from_slice(&body);
        let now = Instant::now();
        let mut s = RtcpSession::new(1, "x", 1, now);
        let _ = s.handle_packet(now, &data);
    }

    /// Arbitrary packet streams keep the jitter buffer's output ordered.
    #[test]
    fn jitter_buffer_survives_garbage_streams(
        pkts in proptest::collection::vec((any::<u16>(), any::<u32>(), 0u32..3, any::<bool>(), 0u64..100), 0..300)
    ) {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::new(160, 160)).unwrap();
        let mut rx = RtpReceiver::default();
        let mut last = None;
        for (i, (seq, ts, ssrc, marker, jitter)) in pkts.into_iter().enumerate() {
            let now = t0 + Duration::from_millis(20 * i as u64 + jitter);
            jb.push(now, seq, ts, ssrc, marker, &[1]);
            rx.handle_packet(now, &deskphone_rtp::RtpHeader { payload_type: 0, marker, sequence: seq, timestamp: ts, ssrc });
            if let deskphone_rtp::Playout::Frame { .. } = jb.pop(now) {
                let played = jb.stats().played;
                prop_assert!(Some(played) > last);
                last = Some(played);
            }
        }
        prop_assert!(jb.len() <= 200);
    }
}
