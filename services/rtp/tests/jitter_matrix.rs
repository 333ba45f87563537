//! The jitter buffer over the network matrix: 0-80 ms jitter, 0-10 % loss (random and
//! bursts), reordering, duplicates and ±0.5 % clock skew on either side.

use std::time::Duration;

use deskphone_rtp::sim::{config_for, generate, simulate, GenParams, Scenario, SimReport};

fn run(p: &GenParams) -> SimReport {
    let sc = generate(p);
    let r = simulate(&sc, config_for(&sc), Duration::from_secs(10));
    println!("{p:?}\n  -> {r:?} late_rate={:.4}", r.late_rate());
    assert!(r.in_order, "frames out of order");
    r
}

#[test]
fn zero_jitter_adds_under_20ms() {
    for pop in [10, 20] {
        let r = run(&GenParams {
            seconds: 30.0,
            pop_ms: pop,
            ..Default::default()
        });
        assert_eq!(r.late, 0);
        assert!(r.tail_avg_delay_ms < 20.0, "{r:?}");
        assert!(r.played as f64 >= 0.99 * (r.sent * 20 / pop as u64) as f64);
    }
}

#[test]
fn jitter_and_loss_matrix() {
    for jitter in [0.0, 20.0, 40.0, 80.0] {
        for (loss, burst) in [(0.0, 1.0), (0.05, 1.0), (0.10, 1.0), (0.05, 4.0)] {
            let r = run(&GenParams {
                seed: (jitter as u64) * 100 + (loss * 100.0) as u64 + burst as u64,
                seconds: 60.0,
                jitter_ms: jitter,
                loss,
                burst,
                dup: 0.01,
                ..Default::default()
            });
            assert!(r.late_rate() < 0.02, "late {:.4}: {r:?}", r.late_rate());
            assert!(
                r.tail_avg_delay_ms < jitter + 30.0,
                "delay {} for jitter {jitter}",
                r.tail_avg_delay_ms
            );
            assert!(r.max_delay_ms < jitter + 200.0, "{r:?}");
            // Everything delivered is either played or late.
            let frames = r.played as f64;
            assert!(frames > 0.85 * r.delivered as f64, "{r:?}");
        }
    }
}

#[test]
fn skew_for_ten_minutes_stays_bounded() {
    for (send_skew, pop_skew) in [(0.005, 0.0), (-0.005, 0.0), (0.0, 0.005), (0.0, -0.005)] {
        let r = run(&GenParams {
            seed: 7,
            seconds: 600.0,
            jitter_ms: 20.0,
            loss: 0.01,
            send_skew,
            pop_skew,
            ..Default::default()
        });
        // 0.5 % of 10 minutes is 3 s: without correction the delay would drift by that.
        assert!(r.tail_avg_delay_ms < 20.0 + 30.0, "{r:?}");
        assert!(r.held_at_end < 10, "{r:?}");
        assert!(r.late_rate() < 0.02, "{r:?}");
        assert!(r.dropped + r.inserted > 100, "drift was corrected: {r:?}");
    }
}

#[test]
fn talk_spurts_with_jitter() {
    let r = run(&GenParams {
        seed: 3,
        seconds: 120.0,
        jitter_ms: 60.0,
        loss: 0.02,
        talk_spurts: Some((1500.0, 800.0)),
        ..Default::default()
    });
    assert!(r.late_rate() < 0.02, "{r:?}");
    assert!(r.tail_avg_delay_ms < 60.0 + 30.0, "{r:?}");
}

#[test]
fn ten_ms_pop_with_30ms_packets() {
    let r = run(&GenParams {
        seed: 5,
        seconds: 60.0,
        ptime_ms: 30,
        pop_ms: 10,
        jitter_ms: 40.0,
        loss: 0.03,
        ..Default::default()
    });
    assert!(r.late_rate() < 0.02, "{r:?}");
    assert!(r.tail_avg_delay_ms < 40.0 + 30.0 + 15.0, "{r:?}");
}

#[test]
fn scenario_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let sc = Scenario::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let r = simulate(&sc, config_for(&sc), Duration::ZERO);
        println!("{}: {r:?}", path.display());
        assert!(r.in_order, "{}", path.display());
        let name = path.file_stem().unwrap().to_str().unwrap();
        match name {
            "clean" => {
                // The only concealment is the end of the stream; one frame is dropped
                // while the start-up delay shrinks to the measured need.
                assert_eq!(r.late, 0, "{r:?}");
                assert!(r.concealed <= 3, "{r:?}");
                assert_eq!(r.played + r.dropped, r.sent, "{r:?}");
                // Arrivals coincide with pops here, so the 4 ms margin costs one frame:
                // the worst case of "one frame plus margin".
                assert!(r.tail_avg_delay_ms <= 24.0, "{r:?}");
            }
            "reorder_dup" => {
                assert_eq!(r.late, 0, "{r:?}");
                // 10 ms pops: two frames per packet.
                assert_eq!(r.played + r.dropped, 2 * r.sent, "{r:?}");
            }
            "ts_jump_ssrc" => {
                assert_eq!(r.late, 0, "{r:?}");
                assert!(r.played + r.dropped >= r.sent - 1, "{r:?}");
            }
            "spike" => {
                assert!(r.played + r.late + r.dropped == r.delivered, "{r:?}");
                assert!(r.late <= 5, "{r:?}");
                assert!(r.max_delay_ms < 260.0, "{r:?}");
            }
            other => panic!("no expectations for scenario {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 4);
}
