//! Per-packet costs: RTP build and parse, receiver statistics, jitter buffer push + pop.

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_rtp::{parse_rtp, JitterBuffer, JitterConfig, RtpHeader, RtpReceiver, RtpSender};

fn benches(c: &mut Criterion) {
    let payload = [0x55u8; 160];
    let mut tx = RtpSender::new(1);
    let mut buf = Vec::with_capacity(200);
    c.bench_function("rtp_build_160", |b| {
        b.iter(|| {
            buf.clear();
            tx.packet_into(0, black_box(&payload), 160, false, &mut buf)
                .unwrap();
        })
    });
    let pkt = RtpSender::new(2).packet(0, &payload, 160, false).unwrap();
    c.bench_function("rtp_parse_160", |b| {
        b.iter(|| parse_rtp(black_box(&pkt)).unwrap())
    });

    let t0 = Instant::now();
    let mut rx = RtpReceiver::default();
    let mut i = 0u32;
    c.bench_function("receiver_stats_update", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let h = RtpHeader {
                payload_type: 0,
                marker: false,
                sequence: i as u16,
                timestamp: i.wrapping_mul(160),
                ssrc: 7,
            };
            rx.handle_packet(t0 + Duration::from_millis(20 * i as u64), black_box(&h))
        })
    });

    let mut jb = JitterBuffer::new(JitterConfig::new(160, 160)).unwrap();
    let mut k = 0u64;
    c.bench_function("jitter_push_pop_frame", |b| {
        b.iter(|| {
            k += 1;
            // 0-30 ms of pseudo-random jitter so the quantile window is refreshed.
            let jitter = (k * 7919) % 31;
            let at = t0 + Duration::from_millis(20 * k + jitter);
            jb.push(
                at,
                k as u16,
                (k as u32).wrapping_mul(160),
                1,
                false,
                black_box(&payload),
            );
            jb.pop(t0 + Duration::from_millis(20 * k + 10))
        })
    });
}

criterion_group!(rtp, benches);
criterion_main!(rtp);
