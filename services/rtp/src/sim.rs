//! Network scenarios for the jitter buffer: a text format, a seeded generator and a
//! simulator that plays a scenario through [`JitterBuffer`] with a (possibly skewed)
//! audio clock.
//!
//! # Scenario format
//!
//! One item per line; `#` starts a comment. Header lines (before the packets):
//!
//! ```text
//! ptime 20          # packet time in ms (default 20)
//! pop 20            # audio clock frame in ms (default = ptime)
//! pop_skew 0.005    # audio clock runs 0.5 % slow (+) or fast (-) (default 0)
//! ```
//!
//! Then one line per packet sent, in sending order:
//!
//! ```text
//! <send_ms> <arrival_ms | lost> [dup[=+MS]] [ts+=N] [ssrc=N] [m]
//! ```
//!
//! `send_ms` is on the sender's clock and gives the RTP timestamp (`send_ms * 8`);
//! `arrival_ms` is on the receiver's clock. Reordering is simply an arrival earlier
//! than the previous line's. `dup` delivers a second copy (default 1 ms later),
//! `ts+=N` adds N to this and all later timestamps (a jump), `ssrc=N` switches the
//! source from here on, `m` forces the marker bit (it is set anyway on the first packet
//! and after a send gap longer than one packet time).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::Error;

/// One packet of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioPacket {
    /// Send time on the sender's clock, ms.
    pub send_ms: f64,
    /// Arrival on the receiver's clock, ms; `None` when lost.
    pub arrival_ms: Option<f64>,
    /// A duplicate arrives this many ms after the first copy.
    pub dup_ms: Option<f64>,
    /// Timestamp jump applied from this packet on.
    pub ts_jump: u32,
    /// New SSRC from this packet on.
    pub ssrc: Option<u32>,
    /// Forced marker bit.
    pub marker: bool,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Packet time, ms.
    pub ptime_ms: u32,
    /// Pop frame, ms.
    pub pop_ms: u32,
    /// Audio clock skew (0.005 = pops 0.5 % further apart).
    pub pop_skew: f64,
    /// The packets in sending order.
    pub packets: Vec<ScenarioPacket>,
}

impl Scenario {
    /// Parses the text format (see the module docs).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut sc = Scenario {
            ptime_ms: 20,
            pop_ms: 0,
            pop_skew: 0.0,
            packets: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let err = |msg: &str| Error::Scenario {
                line: i + 1,
                msg: msg.to_string(),
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let first = words.next().expect("non-empty");
            let num = |w: Option<&str>| -> Result<f64, Error> {
                w.ok_or_else(|| err("missing value"))?
                    .parse::<f64>()
                    .map_err(|_| err("not a number"))
                    .and_then(|v| {
                        if v.is_finite() {
                            Ok(v)
                        } else {
                            Err(err("not finite"))
                        }
                    })
            };
            match first {
                "ptime" => sc.ptime_ms = num(words.next())? as u32,
                "pop" => sc.pop_ms = num(words.next())? as u32,
                "pop_skew" => sc.pop_skew = num(words.next())?,
                _ => {
                    let send_ms = num(Some(first))?;
                    let arrival_ms = match words.next() {
                        Some("lost") => None,
                        w => Some(num(w)?),
                    };
                    let mut p = ScenarioPacket {
                        send_ms,
                        arrival_ms,
                        dup_ms: None,
                        ts_jump: 0,
                        ssrc: None,
                        marker: false,
                    };
                    for w in words {
                        if w == "dup" {
                            p.dup_ms = Some(1.0);
                        } else if let Some(v) = w.strip_prefix("dup=+") {
                            p.dup_ms = Some(num(Some(v))?);
                        } else if let Some(v) = w.strip_prefix("ts+=") {
                            p.ts_jump = v.parse().map_err(|_| err("bad ts+="))?;
                        } else if let Some(v) = w.strip_prefix("ssrc=") {
                            p.ssrc = Some(v.parse().map_err(|_| err("bad ssrc"))?);
                        } else if w == "m" {
                            p.marker = true;
                        } else {
                            return Err(err(&format!("unknown flag {w}")));
                        }
                    }
                    sc.packets.push(p);
                }
            }
        }
        if sc.ptime_ms == 0 {
            return Err(Error::Scenario {
                line: 0,
                msg: "ptime must be positive".into(),
            });
        }
        if sc.pop_ms == 0 {
            sc.pop_ms = sc.ptime_ms;
        }
        Ok(sc)
    }

    /// The text form, which [`parse`](Self::parse) reads back.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "ptime {}\npop {}\npop_skew {}\n",
            self.ptime_ms, self.pop_ms, self.pop_skew
        );
        for p in &self.packets {
            match p.arrival_ms {
                Some(a) => write!(s, "{:.3} {:.3}", p.send_ms, a),
                None => write!(s, "{:.3} lost", p.send_ms),
            }
            .expect("string write");
            if let Some(d) = p.dup_ms {
                write!(s, " dup=+{d:.3}").expect("string write");
            }
            if p.ts_jump != 0 {
                write!(s, " ts+={}", p.ts_jump).expect("string write");
            }
            if let Some(x) = p.ssrc {
                write!(s, " ssrc={x}").expect("string write");
            }
            if p.marker {
                s.push_str(" m");
            }
            s.push('\n');
        }
        s
    }
}

/// Parameters of [`generate`].
#[derive(Debug, Clone)]
pub struct GenParams {
    /// Seed of the generator.
    pub seed: u64,
    /// Length of the call, seconds.
    pub seconds: f64,
    /// Packet time, ms.
    pub ptime_ms: u32,
    /// Pop frame, ms.
    pub pop_ms: u32,
    /// Base one-way delay, ms.
    pub base_delay_ms: f64,
    /// Extra delay drawn uniformly from [0, jitter_ms] per packet.
    pub jitter_ms: f64,
    /// Loss probability per packet.
    pub loss: f64,
    /// Mean loss burst length in packets (1 = independent losses).
    pub burst: f64,
    /// Sender clock skew: the sender's ms are (1 + skew) receiver ms.
    pub send_skew: f64,
    /// Audio clock skew of the receiver.
    pub pop_skew: f64,
    /// Duplicate probability per packet.
    pub dup: f64,
    /// Talk spurts (on_ms, off_ms) with silence suppression; `None` = continuous.
    pub talk_spurts: Option<(f64, f64)>,
}

impl Default for GenParams {
    fn default() -> Self {
        Self {
            seed: 1,
            seconds: 60.0,
            ptime_ms: 20,
            pop_ms: 20,
            base_delay_ms: 30.0,
            jitter_ms: 0.0,
            loss: 0.0,
            burst: 1.0,
            send_skew: 0.0,
            pop_skew: 0.0,
            dup: 0.0,
            talk_spurts: None,
        }
    }
}

/// A seeded random scenario. Losses follow a two-state (Gilbert) model whose mean
/// burst is `burst` packets and whose overall rate is `loss`.
pub fn generate(p: &GenParams) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(p.seed);
    let n = (p.seconds * 1000.0 / p.ptime_ms as f64) as usize;
    let burst = p.burst.max(1.0);
    // P(bad -> good) = 1/burst; P(good -> bad) chosen for the stationary rate `loss`.
    let to_good = 1.0 / burst;
    let to_bad = if p.loss >= 1.0 {
        1.0
    } else {
        (p.loss * to_good / (1.0 - p.loss)).min(1.0)
    };
    let mut bad = false;
    let mut packets = Vec::with_capacity(n);
    for i in 0..n {
        let send_ms = i as f64 * p.ptime_ms as f64;
        if let Some((on, off)) = p.talk_spurts {
            if send_ms % (on + off) >= on {
                continue;
            }
        }
        bad = if bad {
            rng.f64() >= to_good
        } else {
            rng.f64() < to_bad
        };
        let real_send = send_ms / (1.0 + p.send_skew);
        let arrival = real_send + p.base_delay_ms + rng.f64() * p.jitter_ms;
        packets.push(ScenarioPacket {
            send_ms,
            arrival_ms: (!bad).then_some(arrival),
            dup_ms: (rng.f64() < p.dup).then_some(1.0 + rng.f64() * 20.0),
            ts_jump: 0,
            ssrc: None,
            marker: false,
        });
    }
    Scenario {
        ptime_ms: p.ptime_ms,
        pop_ms: p.pop_ms,
        pop_skew: p.pop_skew,
        packets,
    }
}

/// What a simulation measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    /// Packets sent / delivered (duplicates excluded).
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Frames played.
    pub played: u64,
    /// Frames concealed (loss, or insertion).
    pub concealed: u64,
    /// Late packets discarded (whole run).
    pub late: u64,
    /// Late packets discarded after the warm-up.
    pub late_after_warmup: u64,
    /// Packets delivered after the warm-up.
    pub delivered_after_warmup: u64,
    /// Frames dropped / inserted by the adaptation.
    pub dropped: u64,
    /// Frames inserted.
    pub inserted: u64,
    /// Mean and largest buffering delay of played frames, ms.
    pub avg_delay_ms: f64,
    /// Largest buffering delay, ms.
    pub max_delay_ms: f64,
    /// Mean buffering delay over the last quarter of the run, ms.
    pub tail_avg_delay_ms: f64,
    /// Played frames came out in sending order, without repeats.
    pub in_order: bool,
    /// Packets held at the end.
    pub held_at_end: usize,
}

impl SimReport {
    /// Late packets after the warm-up as a fraction of packets delivered then.
    pub fn late_rate(&self) -> f64 {
        self.late_after_warmup as f64 / self.delivered_after_warmup.max(1) as f64
    }
}

/// Runs `sc` through a buffer configured by `cfg` (packet/frame sizes are taken from
/// the scenario); statistics after `warmup` count separately.
pub fn simulate(sc: &Scenario, mut cfg: JitterConfig, warmup: Duration) -> SimReport {
    let spms = cfg.clock_rate / 1000;
    cfg.packet_samples = sc.ptime_ms * spms;
    cfg.frame_samples = sc.pop_ms * spms;
    let mut jb = match JitterBuffer::new(cfg) {
        Ok(jb) => jb,
        Err(_) => return SimReport::default(),
    };
    // Arrival events: (arrival ms, index, is duplicate).
    let mut events: Vec<(f64, usize)> = Vec::new();
    let mut ts_off: u32 = 0;
    let mut ssrc = 1u32;
    let mut meta = Vec::with_capacity(sc.packets.len());
    let mut prev_send: Option<f64> = None;
    for (i, p) in sc.packets.iter().enumerate() {
        ts_off = ts_off.wrapping_add(p.ts_jump);
        if let Some(s) = p.ssrc {
            ssrc = s;
        }
        let gap = prev_send.is_none_or(|ps| p.send_ms - ps > sc.ptime_ms as f64 + 0.5);
        prev_send = Some(p.send_ms);
        let ts = ((p.send_ms * spms as f64).round() as u32).wrapping_add(ts_off);
        meta.push((ts, ssrc, p.marker || gap));
        if let Some(a) = p.arrival_ms {
            events.push((a, i));
            if let Some(d) = p.dup_ms {
                events.push((a + d, i));
            }
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let t0 = Instant::now();
    let at = |ms: f64| t0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    let end_ms = events.last().map_or(0.0, |e| e.0) + 500.0;
    let pop_period = sc.pop_ms as f64 * (1.0 + sc.pop_skew);
    let warm_ms = warmup.as_secs_f64() * 1000.0;
    let tail_from = end_ms * 0.75;

    let mut rep = SimReport {
        sent: sc.packets.len() as u64,
        in_order: true,
        ..Default::default()
    };
    let mut last_played: Option<(usize, u32)> = None;
    let (mut tail_sum, mut tail_n) = (0.0, 0u64);
    let mut ev = events.iter().peekable();
    let mut k = 0u64;
    let mut seen = vec![false; sc.packets.len()];
    loop {
        let pop_ms = 5.0 + k as f64 * pop_period;
        if pop_ms > end_ms {
            break;
        }
        while let Some(&&(a, i)) = ev.peek() {
            if a > pop_ms {
                break;
            }
            ev.next();
            let (ts, s, m) = meta[i];
            let late_before = jb.stats().late;
            jb.push(at(a), i as u16, ts, s, m, &(i as u32).to_be_bytes());
            if !seen[i] {
                seen[i] = true;
                rep.delivered += 1;
                if a >= warm_ms {
                    rep.delivered_after_warmup += 1;
                    if jb.stats().late > late_before {
                        rep.late_after_warmup += 1;
                    }
                }
            }
        }
        if let Playout::Frame {
            payload,
            offset,
            delay,
            ..
        } = jb.pop(at(pop_ms))
        {
            let idx = u32::from_be_bytes(payload[..4].try_into().expect("4 bytes")) as usize;
            if let Some(prev) = last_played {
                if (idx, offset) <= prev {
                    rep.in_order = false;
                }
            }
            last_played = Some((idx, offset));
            if pop_ms >= tail_from {
                tail_sum += delay.as_secs_f64() * 1000.0;
                tail_n += 1;
            }
        }
        k += 1;
    }
    let s = jb.stats();
    rep.played = s.played;
    rep.concealed = s.concealed + s.inserted;
    rep.late = s.late;
    rep.dropped = s.dropped;
    rep.inserted = s.inserted;
    rep.avg_delay_ms = s.delay_avg_ms;
    rep.max_delay_ms = s.delay_max_ms;
    rep.tail_avg_delay_ms = if tail_n > 0 {
        tail_sum / tail_n as f64
    } else {
        0.0
    };
    rep.held_at_end = jb.len();
    rep
}

/// The default configuration for a scenario's sizes.
pub fn config_for(sc: &Scenario) -> JitterConfig {
    JitterConfig::new(sc.ptime_ms * 8, sc.pop_ms * 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_errors() {
        let sc = Scenario::parse(
            "# hand-written\nptime 20\npop 10\npop_skew -0.001\n0 30\n20 lost\n40 95 dup\n60 71 dup=+5 ts+=8000 ssrc=9 m\n",
        )
        .unwrap();
        assert_eq!(sc.pop_ms, 10);
        assert_eq!(sc.packets.len(), 4);
        assert_eq!(sc.packets[1].arrival_ms, None);
        assert_eq!(sc.packets[2].dup_ms, Some(1.0));
        let p = &sc.packets[3];
        assert_eq!(
            (p.dup_ms, p.ts_jump, p.ssrc, p.marker),
            (Some(5.0), 8000, Some(9), true)
        );
        assert_eq!(Scenario::parse(&sc.to_text()).unwrap(), sc);
        assert!(matches!(
            Scenario::parse("0 30 bogus"),
            Err(Error::Scenario { line: 1, .. })
        ));
        assert!(Scenario::parse("x 30").is_err());
        assert!(Scenario::parse("0 NaN").is_err());
        assert!(Scenario::parse("ptime 0").is_err());
    }

    #[test]
    fn generator_is_seeded_and_hits_loss_rate() {
        let p = GenParams {
            seconds: 200.0,
            loss: 0.05,
            burst: 3.0,
            jitter_ms: 40.0,
            ..Default::default()
        };
        let a = generate(&p);
        assert_eq!(a, generate(&p));
        assert_ne!(
            a,
            generate(&GenParams {
                seed: 2,
                ..p.clone()
            })
        );
        let lost = a.packets.iter().filter(|x| x.arrival_ms.is_none()).count() as f64;
        let rate = lost / a.packets.len() as f64;
        assert!((rate - 0.05).abs() < 0.015, "{rate}");
        let reordered = a
            .packets
            .windows(2)
            .filter(|w| matches!((w[0].arrival_ms, w[1].arrival_ms), (Some(x), Some(y)) if y < x))
            .count();
        assert!(reordered > 100, "jitter above ptime reorders");
    }
}
