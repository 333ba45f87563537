//! CPU time of a minute of call in mediad's core: two phones on a G.711 call (each ticking
//! every 10 ms: jitter buffer, decode, concealment, mix, encode, RTP, RTCP), and one phone
//! mixing a three-way conference. Run with `cargo bench -p deskphone-mediad`; the figure
//! per iteration is the CPU time of one minute of audio (both ends, or the whole conference).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use deskphone_ipc::mediad::{Request, SessionOrder};
use deskphone_mediad::core::{MediaCore, FRAME};

fn order(call: u32, local_port: u16, remote_port: u16, codec: &str, pt: u8) -> SessionOrder {
    SessionOrder {
        call,
        local_port,
        remote_rtp: Some(SocketAddr::from(([192, 0, 2, 1], remote_port))),
        codec: codec.into(),
        payload_type: pt,
        telephone_event: Some(101),
        send: true,
        receive: true,
        ptime_ms: 20,
        inband_dtmf: false,
        dtmf_level: 3,
        tos: 5,
        vad: false,
        early: false,
        comfort_noise: None,
        g729_annexb: false,
        behind_nat: false,
    }
}

fn tone(hz: f64, n: u64) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for (k, s) in f.iter_mut().enumerate() {
        let t = (n + k as u64) as f64 / 8000.0;
        *s = (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
    }
    f
}

/// `phones[i]` sends call `calls[i].0` to `phones[calls[i].1]`'s call `calls[i].2`.
fn minute(phones: &mut [MediaCore], links: &[(usize, u32, usize, u32)]) {
    let t0 = Instant::now();
    // The far end's address (its SDP c=): mediad drops packets from any other.
    let from = SocketAddr::from(([192, 0, 2, 1], 1));
    let mut out = [0i16; FRAME];
    for tick in 0..6000u64 {
        let now = t0 + Duration::from_millis(10 * tick);
        for (i, p) in phones.iter_mut().enumerate() {
            let mic = tone(300.0 + 200.0 * i as f64, tick * FRAME as u64);
            p.tick(now, &mic, &mut out);
            black_box(&out);
        }
        let mut moved = Vec::new();
        for (i, p) in phones.iter_mut().enumerate() {
            while let Some(t) = p.poll_transmit() {
                if let Some(&(_, _, j, call)) = links.iter().find(|l| l.0 == i && (l.1 == t.call)) {
                    moved.push((j, call, t.rtcp, t.data));
                }
            }
        }
        for (j, call, rtcp, data) in moved {
            if rtcp {
                phones[j].handle_rtcp(now, call, from, &data);
            } else {
                phones[j].handle_rtp(now, call, from, &data);
            }
        }
    }
}

fn call_pair(codec: &str, pt: u8) -> Vec<MediaCore> {
    let t0 = Instant::now();
    let mut a = MediaCore::new(1, t0);
    let mut b = MediaCore::new(2, t0);
    a.order(t0, Request::Session(order(1, 20000, 30000, codec, pt)));
    b.order(t0, Request::Session(order(1, 30000, 20000, codec, pt)));
    vec![a, b]
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("one minute of audio");
    g.sample_size(10);
    g.bench_function("G.711 call, both ends", |b| {
        b.iter(|| {
            let mut phones = call_pair("PCMU", 0);
            minute(&mut phones, &[(0, 1, 1, 1), (1, 1, 0, 1)]);
        })
    });
    if deskphone_dsp::codec::CodecKind::G729.is_available() {
        g.bench_function("G.729 call, both ends", |b| {
            b.iter(|| {
                let mut phones = call_pair("G729", 18);
                minute(&mut phones, &[(0, 1, 1, 1), (1, 1, 0, 1)]);
            })
        });
    }
    g.bench_function("three-way conference, three phones", |b| {
        b.iter(|| {
            let t0 = Instant::now();
            let mut a = MediaCore::new(1, t0);
            let mut p = MediaCore::new(2, t0);
            let mut q = MediaCore::new(3, t0);
            a.order(t0, Request::Session(order(1, 20000, 30000, "PCMU", 0)));
            a.order(t0, Request::Session(order(2, 20002, 40000, "PCMU", 0)));
            a.order(t0, Request::Conference { calls: vec![1, 2] });
            p.order(t0, Request::Session(order(1, 30000, 20000, "PCMU", 0)));
            q.order(t0, Request::Session(order(1, 40000, 20002, "PCMU", 0)));
            let mut phones = vec![a, p, q];
            minute(
                &mut phones,
                &[(0, 1, 1, 1), (0, 2, 2, 1), (1, 1, 0, 1), (2, 1, 0, 2)],
            );
        })
    });
    g.finish();
}

criterion_group!(call, benches);
criterion_main!(call);
