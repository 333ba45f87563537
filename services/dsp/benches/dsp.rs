//! Per-20 ms-frame cost of the media path's hot functions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_dsp::codec::{self, CodecKind, EncoderConfig};
use deskphone_dsp::dtmf::DtmfDetector;
use deskphone_dsp::mix::{conference3, ConferenceFrame};
use deskphone_dsp::plc::Plc;
use deskphone_dsp::FRAME_20MS;

fn speechish(n: usize, f: f64) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (6000.0 * (2.0 * std::f64::consts::PI * f * t).sin()
                + 2000.0 * (2.0 * std::f64::consts::PI * 3.0 * f * t).sin()) as i16
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let frame = speechish(FRAME_20MS, 220.0);
    for kind in [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::G729] {
        let (Ok(mut enc), Ok(mut dec)) = (
            codec::encoder(kind, EncoderConfig::default()),
            codec::decoder(kind),
        ) else {
            continue; // G.729 without the feature
        };
        let mut payload = Vec::new();
        enc.encode(&frame, &mut payload);
        let mut out = Vec::with_capacity(FRAME_20MS);
        c.bench_function(&format!("{}_encode_20ms", kind.rtp_name()), |b| {
            b.iter(|| {
                let mut p = Vec::with_capacity(FRAME_20MS);
                enc.encode(black_box(&frame), &mut p);
                p
            })
        });
        c.bench_function(&format!("{}_decode_20ms", kind.rtp_name()), |b| {
            b.iter(|| {
                out.clear();
                dec.decode(black_box(&payload), &mut out);
            })
        });
    }

    let mut plc = Plc::new();
    let history = speechish(800, 180.0);
    let mut out = Vec::new();
    plc.good(&history, &mut out);
    c.bench_function("plc_conceal_20ms", |b| {
        b.iter(|| {
            // Each iteration: a fresh loss (pitch search) of one frame.
            let mut p = plc.clone();
            out.clear();
            p.conceal(FRAME_20MS, &mut out);
        })
    });

    let (a, bb) = (speechish(FRAME_20MS, 300.0), speechish(FRAME_20MS, 410.0));
    let mut mixed = ConferenceFrame::default();
    c.bench_function("mix3_20ms", |b| {
        b.iter(|| conference3(black_box(&frame), &a, &bb, &mut mixed))
    });

    let mut det = DtmfDetector::default();
    c.bench_function("dtmf_detect_20ms", |b| {
        b.iter(|| det.push(black_box(&frame)))
    });
}

criterion_group!(dsp, benches);
criterion_main!(dsp);
