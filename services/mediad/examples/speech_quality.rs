//! Speech through mediad's receive path and through baresip, under the same impaired network,
//! for a PESQ score (`services/mediad/scripts/speech-quality` drives it and scores the WAVs).
//!
//! ```text
//! cargo run --release -p deskphone-mediad --example speech_quality -- \
//!     --reference ref.wav --out DIR [--loss 0,3,10] [--jitter-ms 40] [--seed 1] [--no-baresip]
//! ```
//!
//! The reference (8000 Hz mono 16-bit WAV) is cut into 20 ms PCMU packets, RTP sent every
//! 20 ms. For each loss rate, `deskphone_rtp::sim::generate` draws a seeded arrival schedule:
//! a base delay plus a uniform extra delay in [0, jitter] per packet (so packets overtake each
//! other when the jitter exceeds 20 ms), and losses from its two-state model with a mean
//! burst of `--burst` packets (1: isolated losses). Then, with the same packets and schedule:
//!
//! - mediad: a `MediaCore` with one PCMU session in simulated time, each packet handed to
//!   `handle_rtp` at its arrival time, `tick` every 10 ms; the earpiece is written to
//!   `mediad-lossNN.wav`. A copy of its receive path (the same `RtpReceiver` and
//!   `JitterBuffer`, fed identically) gives the late count the status does not carry.
//! - baresip (unless `--no-baresip`): started with the end-to-end harness (answering
//!   automatically, recording with its `sndfile` filter), called by a SIPp UAC whose SDP
//!   offer points at a UDP socket of this program; once baresip answered (its port read from
//!   the 200 OK in SIPp's message log) the packets go to it over loopback, each at its
//!   arrival time in real time, lost ones not at all; then baresip hangs up. Its `…-dec.wav`
//!   is copied to `baresip-lossNN.wav`.
//!
//! Also written: `codec-only.wav` (the packets decoded in order, no network: the G.711
//! ceiling), `schedule-lossNN.txt` (the schedule in the `sim` scenario format:
//! `send_ms arrival_ms|lost`) and `results.json` (per condition: the network's figures,
//! mediad's status and jitter buffer figures, how punctually the packets left for baresip).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use deskphone_dsp::codec::{self, CodecKind, EncoderConfig};
use deskphone_dsp::g711;
use deskphone_e2e::baresip::{wav_samples, Baresip, BaresipOptions};
use deskphone_e2e::sip::Sipp;
use deskphone_e2e::wait_for;
use deskphone_ipc::mediad::{Reply, Request, SessionOrder};
use deskphone_mediad::core::{MediaCore, FRAME, RATE};
use deskphone_rtp::receiver::Arrival;
use deskphone_rtp::sim::{self, GenParams, Scenario};
use deskphone_rtp::{parse_rtp, JitterBuffer, JitterConfig, RtpReceiver, RtpSender};
use serde_json::{json, Value};

/// Samples per packet: 20 ms.
const PACKET: usize = 160;
const PTIME_MS: u32 = 20;
const TICK: Duration = Duration::from_millis(10);
/// The call id and port of mediad's session (nothing is bound: simulated time).
const CALL: u32 = 1;

#[derive(Parser, Debug)]
#[command(about = "Speech through mediad's receive path and baresip under loss and jitter")]
struct Args {
    /// The speech sent: WAV, 8000 Hz, mono, 16-bit.
    #[arg(long)]
    reference: PathBuf,
    /// Directory for the outputs (created).
    #[arg(long)]
    out: PathBuf,
    /// Random packet loss of each condition, percent.
    #[arg(long, value_delimiter = ',', default_value = "0,3,10")]
    loss: Vec<f64>,
    /// Extra delay per packet, uniform in [0, jitter] ms.
    #[arg(long, default_value_t = 40.0)]
    jitter_ms: f64,
    /// Delay every packet has, ms.
    #[arg(long, default_value_t = 20.0)]
    base_delay_ms: f64,
    /// Mean loss burst, packets (1: a loss is always followed by a delivered packet).
    #[arg(long, default_value_t = 1.0)]
    burst: f64,
    /// Seed of the schedules (a loss of L % uses seed * 1000 + 10 L).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only mediad (no baresip, SIPp or real time).
    #[arg(long)]
    no_baresip: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let reference = read_wav_8k_mono(&args.reference)?;
    let packets = packetize(&reference);
    let seconds = packets.len() as f64 * f64::from(PTIME_MS) / 1000.0;
    eprintln!(
        "speech-quality: {:.2} s of speech, {} packets of {PTIME_MS} ms",
        reference.len() as f64 / f64::from(RATE),
        packets.len()
    );
    write_wav(&args.out.join("codec-only.wav"), &codec_only(&packets))?;

    let mut conditions = Vec::new();
    for &loss in &args.loss {
        let tag = format!("loss{:02}", loss.round() as u32);
        // Each condition its own schedule, the same whatever other conditions run.
        let seed = args
            .seed
            .wrapping_mul(1000)
            .wrapping_add((loss * 10.0).round() as u64);
        let scenario = sim::generate(&GenParams {
            seed,
            // A little over the length, so rounding inside cannot drop the last packet.
            seconds: seconds + 0.001,
            ptime_ms: PTIME_MS,
            pop_ms: 10,
            base_delay_ms: args.base_delay_ms,
            jitter_ms: args.jitter_ms,
            loss: loss / 100.0,
            burst: args.burst,
            ..GenParams::default()
        });
        if scenario.packets.len() != packets.len() {
            bail!(
                "the generator made {} arrivals for {} packets",
                scenario.packets.len(),
                packets.len()
            );
        }
        std::fs::write(
            args.out.join(format!("schedule-{tag}.txt")),
            scenario.to_text(),
        )?;
        let network = network_figures(&scenario);
        let schedule = arrivals(&scenario);
        eprintln!("speech-quality: {tag}: {network}");

        let (heard, mediad) = run_mediad(&packets, &schedule, seed);
        write_wav(&args.out.join(format!("mediad-{tag}.wav")), &heard)?;
        eprintln!("speech-quality: {tag}: mediad {mediad}");

        let baresip = if args.no_baresip {
            Value::Null
        } else {
            let (heard, figures) = run_baresip(&packets, &schedule, &args.out, &tag)?;
            write_wav(&args.out.join(format!("baresip-{tag}.wav")), &heard)?;
            eprintln!("speech-quality: {tag}: baresip {figures}");
            figures
        };
        conditions.push(json!({
            "tag": tag,
            "loss_percent": loss,
            "seed": seed,
            "network": network,
            "mediad": mediad,
            "baresip": baresip,
        }));
    }
    let results = json!({
        "reference": args.reference.display().to_string(),
        "packets": packets.len(),
        "ptime_ms": PTIME_MS,
        "jitter": format!(
            "{} ms + uniform 0..{} ms",
            args.base_delay_ms, args.jitter_ms
        ),
        "burst": args.burst,
        "conditions": conditions,
    });
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    Ok(())
}

/// The reference as 20 ms PCMU packets of one RTP stream (the last one padded with silence).
fn packetize(pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut encoder =
        codec::encoder(CodecKind::Pcmu, EncoderConfig::default()).expect("PCMU is built in");
    let mut sender = RtpSender::with_initial(0x5ee0_c4a1, 1000, 160_000);
    pcm.chunks(PACKET)
        .map(|chunk| {
            let mut frame = chunk.to_vec();
            frame.resize(PACKET, 0);
            let mut payload = Vec::with_capacity(PACKET);
            encoder.encode(&frame, &mut payload);
            sender
                .packet(0, &payload, PACKET as u32, false)
                .expect("an RTP packet")
        })
        .collect()
}

/// Every packet decoded in order, as plain G.711 (no concealer, no delay).
fn codec_only(packets: &[Vec<u8>]) -> Vec<i16> {
    let mut out = Vec::with_capacity(packets.len() * PACKET);
    for p in packets {
        let (_, payload) = parse_rtp(p).expect("our own packet");
        g711::ulaw_decode_slice(payload, &mut out);
    }
    out
}

/// (arrival ms, packet index) of the delivered packets, in order of arrival.
fn arrivals(sc: &Scenario) -> Vec<(f64, usize)> {
    let mut v: Vec<(f64, usize)> = sc
        .packets
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.arrival_ms.map(|a| (a, i)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// What the schedule does to the stream.
fn network_figures(sc: &Scenario) -> Value {
    let n = sc.packets.len();
    let lost = sc.packets.iter().filter(|p| p.arrival_ms.is_none()).count();
    let mut longest_burst = 0;
    let mut run = 0;
    for p in &sc.packets {
        run = if p.arrival_ms.is_none() { run + 1 } else { 0 };
        longest_burst = longest_burst.max(run);
    }
    // Packets that arrive after one sent later than them.
    let mut reordered = 0;
    let mut latest_sent_arrived: Option<f64> = None;
    for p in sc.packets.iter().rev() {
        if let Some(a) = p.arrival_ms {
            if latest_sent_arrived.is_some_and(|l| a > l) {
                reordered += 1;
            }
            latest_sent_arrived = Some(latest_sent_arrived.map_or(a, |l: f64| l.min(a)));
        }
    }
    let transit: Vec<f64> = sc
        .packets
        .iter()
        .filter_map(|p| p.arrival_ms.map(|a| a - p.send_ms))
        .collect();
    let (lo, hi) = transit
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    json!({
        "packets": n,
        "lost": lost,
        "lost_percent": round2(100.0 * lost as f64 / n.max(1) as f64),
        "longest_loss_burst": longest_burst,
        "overtaken": reordered,
        "transit_ms_min": round2(lo),
        "transit_ms_max": round2(hi),
    })
}

/// mediad's receive path as the call sees it: what the earpiece played, and the status.
fn run_mediad(packets: &[Vec<u8>], schedule: &[(f64, usize)], seed: u64) -> (Vec<i16>, Value) {
    let t0 = Instant::now();
    let at = |ms: f64| t0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    let mut core = MediaCore::new(seed, t0);
    let order = SessionOrder {
        call: CALL,
        local_port: 40000,
        remote_rtp: Some(SocketAddr::from(([192, 0, 2, 1], 40000))),
        codec: "PCMU".into(),
        payload_type: 0,
        telephone_event: Some(101),
        send: true,
        receive: true,
        ptime_ms: PTIME_MS,
        inband_dtmf: false,
        dtmf_level: 3,
        tos: 5,
        vad: false,
        early: false,
        comfort_noise: None,
        g729_annexb: false,
        behind_nat: false,
    };
    let reply = core.order(t0, Request::Session(order));
    assert_eq!(reply, Reply::Ok, "mediad refused the session");
    let mut shadow = ReceivePath::new();
    let from = SocketAddr::from(([192, 0, 2, 1], 40000));
    let end_ms = schedule.last().map_or(0.0, |a| a.0) + 1000.0;
    let mut heard = Vec::new();
    let mut next = 0;
    let mut tick = 0u64;
    loop {
        let now = t0 + TICK * tick as u32;
        let now_ms = tick as f64 * 10.0;
        if now_ms > end_ms {
            break;
        }
        while let Some(&(a, i)) = schedule.get(next) {
            if a > now_ms {
                break;
            }
            core.handle_rtp(at(a), CALL, from, &packets[i]);
            shadow.push(at(a), &packets[i]);
            next += 1;
        }
        let mic = [0i16; FRAME];
        let mut out = [0i16; FRAME];
        core.tick(now, &mic, &mut out);
        shadow.pop(now, now_ms);
        heard.extend_from_slice(&out);
        // What the phone sends (silence) goes nowhere.
        while core.poll_transmit().is_some() {}
        tick += 1;
    }
    let status = core.status();
    let rtp = &status.sessions[0].rtp;
    let j = shadow.jitter.stats();
    // The copy must have seen what mediad saw, else its late count means nothing.
    let consistent = j.concealed == rtp.concealed && j.dropped + j.inserted == rtp.adjusted;
    if !consistent {
        eprintln!(
            "speech-quality: warning: the copy of mediad's receive path differs \
             (concealed {} vs {}, adjusted {} vs {})",
            j.concealed,
            rtp.concealed,
            j.dropped + j.inserted,
            rtp.adjusted
        );
    }
    let figures = json!({
        "received": rtp.received,
        "lost": rtp.lost,
        "jitter_ms": rtp.jitter_ms,
        "concealed": rtp.concealed,
        "adjusted": rtp.adjusted,
        "playout_delay_ms": rtp.playout_delay_ms,
        "late": j.late,
        "dropped": j.dropped,
        "inserted": j.inserted,
        "buffer_delay_avg_ms": round2(j.delay_avg_ms),
        "buffer_delay_max_ms": round2(j.delay_max_ms),
        "dropped_at_ms": shadow.dropped_at_ms,
        "inserted_at_ms": shadow.inserted_at_ms,
        "late_from_copy_consistent": consistent,
    });
    (heard, figures)
}

/// The receive path of a mediad session (`RtpReceiver` then `JitterBuffer`, as in
/// `core.rs`), fed the same packets at the same times: its `JitterStats` has the late count.
struct ReceivePath {
    receiver: RtpReceiver,
    jitter: JitterBuffer,
    dropped_at_ms: Vec<f64>,
    inserted_at_ms: Vec<f64>,
}

impl ReceivePath {
    fn new() -> ReceivePath {
        ReceivePath {
            receiver: RtpReceiver::new(RATE),
            jitter: JitterBuffer::new(JitterConfig::new(PACKET as u32, FRAME as u32))
                .expect("20 ms packets, 10 ms frames"),
            dropped_at_ms: Vec::new(),
            inserted_at_ms: Vec::new(),
        }
    }

    fn push(&mut self, now: Instant, data: &[u8]) {
        let Ok((h, payload)) = parse_rtp(data) else {
            return;
        };
        match self.receiver.handle_packet(now, &h) {
            Arrival::Duplicate | Arrival::BadSequence => {}
            _ => {
                self.jitter
                    .push(now, h.sequence, h.timestamp, h.ssrc, h.marker, payload);
            }
        }
    }

    /// One frame; notes when the buffer dropped or inserted one to follow the delay.
    fn pop(&mut self, now: Instant, now_ms: f64) {
        let before = self.jitter.stats();
        let _ = self.jitter.pop(now);
        let after = self.jitter.stats();
        if after.dropped > before.dropped {
            self.dropped_at_ms.push(now_ms);
        }
        if after.inserted > before.inserted {
            self.inserted_at_ms.push(now_ms);
        }
    }
}

/// SIPp calling baresip with an SDP offer pointing at `rtp` (PCMU only); it sends no RTP,
/// acknowledges the answer and then waits for baresip's BYE.
fn caller_scenario(rtp: SocketAddr) -> String {
    let (ip, port) = (rtp.ip(), rtp.port());
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="speech-quality caller">
  <send retrans="500">
    <![CDATA[
INVITE sip:bob@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:speech@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:bob@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:speech@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=speech 1 1 IN IP4 {ip}
s=speech-quality
c=IN IP4 {ip}
t=0 0
m=audio {port} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true" />
  <recv response="180" optional="true" />
  <recv response="183" optional="true" />
  <recv response="200" />
  <send>
    <![CDATA[
ACK sip:bob@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:speech@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:bob@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:speech@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv request="BYE" />
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:speech@[local_ip]:[local_port]>
Content-Length: 0

    ]]>
  </send>
</scenario>
"#
    )
}

/// The audio address of an SDP body (`c=` and `m=audio`).
fn sdp_audio(sdp: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in sdp.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c.split_whitespace().next().and_then(|a| a.parse().ok());
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port = m.split_whitespace().next().and_then(|p| p.parse().ok());
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// baresip receiving the same packets on the same schedule, in real time over loopback.
fn run_baresip(
    packets: &[Vec<u8>],
    schedule: &[(f64, usize)],
    out: &Path,
    tag: &str,
) -> Result<(Vec<i16>, Value)> {
    let sink = out.join(format!("baresip-{tag}-recordings"));
    if sink.exists() {
        std::fs::remove_dir_all(&sink)?;
    }
    let bob = Baresip::start(BaresipOptions {
        auto_answer: true,
        audio_sink: Some(sink.clone()),
        ..BaresipOptions::new("bob")
    });
    let socket = UdpSocket::bind("127.0.0.1:0").context("binding the RTP socket")?;
    let local = socket.local_addr()?;
    // What baresip sends us (its sine) is counted and dropped.
    let stop = Arc::new(AtomicBool::new(false));
    let from_baresip = Arc::new(AtomicU64::new(0));
    let drain = {
        let socket = socket.try_clone()?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (stop, count) = (Arc::clone(&stop), Arc::clone(&from_baresip));
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if socket.recv_from(&mut buf).is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let mut sipp = Sipp::start_on(
        "127.0.0.1",
        &caller_scenario(local),
        &[&bob.sip_addr.to_string()],
    );
    bob.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
    let remote = wait_for(
        "baresip's 200 OK in SIPp's message log",
        Duration::from_secs(10),
        || {
            sipp.messages()
                .into_iter()
                .filter(|m| m.received && m.text.starts_with("SIP/2.0 200"))
                .find_map(|m| sdp_audio(&m.text))
        },
    );

    // The packets at their arrival times: the schedule's 0 is 200 ms from now.
    let start = Instant::now() + Duration::from_millis(200);
    let mut late_ms: Vec<f64> = Vec::with_capacity(schedule.len());
    for &(a, i) in schedule {
        let due = start + Duration::from_secs_f64(a.max(0.0) / 1000.0);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        late_ms.push(due.elapsed().as_secs_f64() * 1000.0);
        socket
            .send_to(&packets[i], remote)
            .context("sending RTP to baresip")?;
    }
    // Let baresip play out what it holds, then end the call.
    std::thread::sleep(Duration::from_millis(1000));
    bob.hangup();
    bob.wait_event("CALL_CLOSED", Duration::from_secs(10));
    let sipp_status = sipp.wait(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let _ = drain.join();

    let recordings = bob.received_audio();
    let log = bob.log();
    std::fs::write(out.join(format!("baresip-{tag}.log")), &log)?;
    let _ = bob.stop();
    let Some(recording) = recordings.last() else {
        bail!("baresip recorded nothing in {}", sink.display());
    };
    let heard = wav_samples(recording);
    late_ms.sort_by(f64::total_cmp);
    let pct = |q: f64| late_ms[((late_ms.len() - 1) as f64 * q) as usize];
    let figures = json!({
        "rtp_address": remote.to_string(),
        "recording": recording.display().to_string(),
        "recorded_seconds": round2(heard.len() as f64 / f64::from(RATE)),
        "sent_late_ms_median": round2(pct(0.5)),
        "sent_late_ms_p99": round2(pct(0.99)),
        "sent_late_ms_max": round2(pct(1.0)),
        "packets_from_baresip": from_baresip.load(Ordering::Relaxed),
        "sipp_exit": sipp_status,
    });
    Ok((heard, figures))
}

/// The samples of an 8000 Hz mono 16-bit PCM WAV file.
fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if data.len() < 12 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        bail!("{} is not a WAV file", path.display());
    }
    let mut at = 12;
    let mut format = None;
    while at + 8 <= data.len() {
        let id = &data[at..at + 4];
        let len = u32::from_le_bytes(data[at + 4..at + 8].try_into()?) as usize;
        let body = &data[at + 8..data.len().min(at + 8 + len)];
        if id == b"fmt " && body.len() >= 16 {
            let tag = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes(body[4..8].try_into()?);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            format = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            if format != Some((1, 1, RATE, 16)) {
                bail!(
                    "{}: (format, channels, rate, bits) {format:?}, want PCM mono {RATE} Hz 16-bit",
                    path.display()
                );
            }
            return Ok(body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect());
        }
        at += 8 + len + (len & 1);
    }
    bail!("{}: no data chunk", path.display())
}

/// Writes 8000 Hz mono 16-bit PCM.
fn write_wav(path: &Path, samples: &[i16]) -> Result<()> {
    let bytes = (2 * samples.len()) as u32;
    let mut out = Vec::with_capacity(44 + bytes as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + bytes).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(2 * RATE).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&bytes.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
