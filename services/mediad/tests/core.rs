//! mediad's core in simulated time: phones wired together packet by packet (no sockets, no
//! sound card), each ticking every 10 ms. What is checked is what a listener hears: the
//! frequencies of the tones each side plays, digits, silence on hold and mute, the mix of
//! a conference, the tones of the tone plan.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskphone_dsp::goertzel::relative_power;
use deskphone_ipc::mediad::{Event, Reply, Request, SessionOrder, Tone};
use deskphone_mediad::core::{MediaCore, FRAME};

const TICK: Duration = Duration::from_millis(10);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

fn order(call: u32, local_port: u16, remote_port: u16) -> SessionOrder {
    SessionOrder {
        call,
        local_port,
        remote_rtp: Some(addr(remote_port)),
        codec: "PCMU".into(),
        payload_type: 0,
        telephone_event: Some(101),
        send: true,
        receive: true,
        ptime_ms: 20,
        inband_dtmf: false,
        dtmf_level: 3,
        tos: 5,
        vad: false,
        early: false,
    }
}

/// A phone: its core, what its microphone says, what its earpiece played.
struct Phone {
    core: MediaCore,
    /// Tone of the microphone (Hz), none: silence.
    mic_hz: Option<f64>,
    heard: Vec<i16>,
    events: Vec<Event>,
    /// Local RTP port → call id.
    ports: Vec<(u16, u32)>,
}

impl Phone {
    fn new(seed: u64, mic_hz: Option<f64>, t0: Instant) -> Phone {
        Phone {
            core: MediaCore::new(seed, t0),
            mic_hz,
            heard: Vec::new(),
            events: Vec::new(),
            ports: Vec::new(),
        }
    }

    fn session(&mut self, now: Instant, o: SessionOrder) {
        self.ports.push((o.local_port, o.call));
        assert_eq!(self.core.order(now, Request::Session(o)), Reply::Ok);
    }
}

/// Phones joined by a network that delivers every packet after `delay`.
struct Net {
    phones: Vec<Phone>,
    /// (arrival, phone index, call, rtcp, data)
    in_flight: VecDeque<(Instant, usize, u32, bool, Vec<u8>)>,
    now: Instant,
    delay: Duration,
    samples: u64,
}

impl Net {
    fn new(phones: Vec<Phone>, t0: Instant) -> Net {
        Net {
            phones,
            in_flight: VecDeque::new(),
            now: t0,
            delay: Duration::from_millis(5),
            samples: 0,
        }
    }

    /// Which phone and call a datagram to `to` reaches (RTCP on port + 1).
    fn route(&self, to: SocketAddr) -> Option<(usize, u32, bool)> {
        self.phones.iter().enumerate().find_map(|(i, p)| {
            p.ports.iter().find_map(|&(port, call)| {
                if to.port() == port {
                    Some((i, call, false))
                } else if to.port() == port + 1 {
                    Some((i, call, true))
                } else {
                    None
                }
            })
        })
    }

    fn run(&mut self, time: Duration) {
        let end = self.now + time;
        while self.now < end {
            while let Some((at, ..)) = self.in_flight.front() {
                if *at > self.now {
                    break;
                }
                let (at, i, call, rtcp, data) = self.in_flight.pop_front().expect("front");
                let from = addr(1);
                if rtcp {
                    self.phones[i].core.handle_rtcp(at, call, from, &data);
                } else {
                    self.phones[i].core.handle_rtp(at, call, from, &data);
                }
            }
            for i in 0..self.phones.len() {
                let mut mic = [0i16; FRAME];
                if let Some(hz) = self.phones[i].mic_hz {
                    for (k, m) in mic.iter_mut().enumerate() {
                        let t = (self.samples + k as u64) as f64 / 8000.0;
                        *m = (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
                    }
                }
                let mut out = [0i16; FRAME];
                self.phones[i].core.tick(self.now, &mic, &mut out);
                self.phones[i].heard.extend_from_slice(&out);
                while let Some(e) = self.phones[i].core.poll_event() {
                    self.phones[i].events.push(e);
                }
                while let Some(t) = self.phones[i].core.poll_transmit() {
                    if let Some((j, call, rtcp)) = self.route(t.to) {
                        self.in_flight
                            .push_back((self.now + self.delay, j, call, rtcp, t.data));
                    }
                }
            }
            self.samples += FRAME as u64;
            self.now += TICK;
        }
    }
}

/// The share of 100 ms blocks of the last `seconds` heard that are a clean `hz` tone.
fn blocks_of(heard: &[i16], seconds: f64, hz: f64) -> f64 {
    let n = (seconds * 8000.0) as usize;
    let tail = &heard[heard.len().saturating_sub(n)..];
    let blocks: Vec<&[i16]> = tail.chunks_exact(800).collect();
    let good = blocks
        .iter()
        .filter(|b| relative_power(b, hz, 8000) > 0.4)
        .count();
    good as f64 / blocks.len().max(1) as f64
}

fn rms(heard: &[i16], seconds: f64) -> f64 {
    let n = (seconds * 8000.0) as usize;
    deskphone_dsp::goertzel::rms(&heard[heard.len().saturating_sub(n)..])
}

fn two_phones(a_hz: f64, b_hz: f64) -> Net {
    let t0 = Instant::now();
    let mut a = Phone::new(1, Some(a_hz), t0);
    let mut b = Phone::new(2, Some(b_hz), t0);
    a.session(t0, order(1, 20000, 30000));
    b.session(t0, order(7, 30000, 20000));
    Net::new(vec![a, b], t0)
}

#[test]
fn each_side_hears_the_other_sides_tone_and_not_its_own() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_secs(3));
    let (a, b) = (&net.phones[0], &net.phones[1]);
    assert!(blocks_of(&b.heard, 2.0, 1000.0) > 0.95, "b hears a");
    assert!(blocks_of(&a.heard, 2.0, 440.0) > 0.95, "a hears b");
    assert_eq!(
        blocks_of(&a.heard, 2.0, 1000.0),
        0.0,
        "a does not hear itself"
    );
    let st = a.core.status();
    let rtp = &st.sessions[0].rtp;
    assert!((145..=151).contains(&rtp.sent), "{rtp:?}");
    assert!(rtp.received >= 140, "{rtp:?}");
    assert_eq!(rtp.lost, 0, "{rtp:?}");
    assert_eq!(rtp.local_port, 20000);
    // A steady network: after settling, the jitter buffer stops adjusting.
    let settled = rtp.adjusted;
    net.run(Duration::from_secs(5));
    let later = net.phones[0].core.status().sessions[0].rtp.adjusted;
    assert_eq!(later, settled, "no frame dropped or inserted once settled");
    assert!(
        net.phones[0].core.status().sessions[0].rtp.rtt_ms.is_some(),
        "RTCP reports went both ways"
    );
}

#[test]
fn lost_packets_are_concealed_and_counted() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_secs(1));
    // Every fifth packet from a to b is lost for two seconds.
    let end = net.now + Duration::from_secs(2);
    let mut n = 0u32;
    while net.now < end {
        net.run(TICK);
        net.in_flight.retain(|(_, i, _, rtcp, _)| {
            if *i == 1 && !rtcp {
                n += 1;
                n % 5 != 0
            } else {
                true
            }
        });
    }
    net.run(Duration::from_millis(500));
    let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
    assert!(rtp.lost >= 15, "{rtp:?}");
    assert!(rtp.concealed >= 15, "{rtp:?}");
    // Concealment keeps the tone going: most blocks are still 1 kHz.
    assert!(blocks_of(&net.phones[1].heard, 2.0, 1000.0) > 0.8);
}

#[test]
fn rfc4733_digits_arrive_once_each() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_millis(500));
    let now = net.now;
    for d in ['1', '#'] {
        let r = net.phones[0]
            .core
            .order(now, Request::Dtmf { call: 1, digit: d });
        assert_eq!(r, Reply::Ok);
    }
    net.run(Duration::from_secs(1));
    let digits: Vec<char> = net.phones[1]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Dtmf { call: 7, digit } => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec!['1', '#']);
    assert_eq!(
        net.phones[1].core.status().sessions[0].rtp.dtmf_received,
        "1#"
    );
}

#[test]
fn in_band_digits_are_heard_in_the_audio_when_there_is_no_telephone_event() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, None, t0);
    let mut b = Phone::new(2, None, t0);
    let mut oa = order(1, 20000, 30000);
    oa.telephone_event = None;
    oa.inband_dtmf = true;
    let mut ob = order(7, 30000, 20000);
    ob.telephone_event = None;
    a.session(t0, oa);
    b.session(t0, ob);
    let mut net = Net::new(vec![a, b], t0);
    net.run(Duration::from_millis(500));
    for level in [1u8, 5] {
        let now = net.now;
        let mut o = order(1, 20000, 30000);
        o.telephone_event = None;
        o.inband_dtmf = true;
        o.dtmf_level = level;
        // A new level for the same call: the session goes on with it.
        net.phones[0].core.order(now, Request::Session(o));
        let r = net.phones[0].core.order(
            now,
            Request::Dtmf {
                call: 1,
                digit: '9',
            },
        );
        assert_eq!(r, Reply::Ok);
        net.run(Duration::from_millis(500));
    }
    assert_eq!(
        net.phones[1].core.status().sessions[0].rtp.dtmf_received,
        "99"
    );
    // Neither method: refused, so the UI can say so.
    let mut o = order(1, 20000, 30000);
    o.telephone_event = None;
    let now = net.now;
    net.phones[0].core.order(now, Request::Session(o));
    let r = net.phones[0].core.order(
        now,
        Request::Dtmf {
            call: 1,
            digit: '9',
        },
    );
    assert!(matches!(r, Reply::Error { .. }), "{r:?}");
}

#[test]
fn a_call_held_here_does_not_hear_the_room_and_mute_silences_the_microphone() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_secs(1));
    let now = net.now;
    let mut held = order(1, 20000, 30000);
    held.receive = false;
    net.phones[0].core.order(now, Request::Session(held));
    net.run(Duration::from_secs(1));
    assert!(
        rms(&net.phones[1].heard, 0.5) < 50.0,
        "b hears silence while held"
    );
    assert!(
        rms(&net.phones[0].heard, 0.5) < 50.0,
        "a does not play b while holding"
    );
    let now = net.now;
    net.phones[0]
        .core
        .order(now, Request::Session(order(1, 20000, 30000)));
    net.run(Duration::from_secs(1));
    assert!(
        blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.9,
        "resumed"
    );
    let now = net.now;
    net.phones[0].core.order(now, Request::Mute { muted: true });
    net.run(Duration::from_secs(1));
    assert!(rms(&net.phones[1].heard, 0.5) < 50.0, "muted");
    assert!(
        blocks_of(&net.phones[0].heard, 0.5, 440.0) > 0.9,
        "a still hears b"
    );
}

#[test]
fn in_a_conference_each_party_hears_the_other_two() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, Some(1000.0), t0);
    let mut b = Phone::new(2, Some(440.0), t0);
    let mut c = Phone::new(3, Some(697.0), t0);
    a.session(t0, order(1, 20000, 30000));
    a.session(t0, order(2, 20002, 40000));
    b.session(t0, order(1, 30000, 20000));
    c.session(t0, order(1, 40000, 20002));
    let mut net = Net::new(vec![a, b, c], t0);
    let r = net.phones[0]
        .core
        .order(t0, Request::Conference { calls: vec![1, 2] });
    assert_eq!(r, Reply::Ok);
    net.run(Duration::from_secs(2));
    // Two voices at once: each is about half of what a party hears.
    let hears = |net: &Net, p: usize, hz: f64| {
        let blocks = net.phones[p].heard[net.phones[p].heard.len() - 8000..]
            .chunks_exact(800)
            .filter(|b| relative_power(b, hz, 8000) > 0.3)
            .count();
        blocks >= 9
    };
    assert!(
        hears(&net, 1, 1000.0) && hears(&net, 1, 697.0),
        "b hears a and c"
    );
    assert!(
        hears(&net, 2, 1000.0) && hears(&net, 2, 440.0),
        "c hears a and b"
    );
    assert!(
        hears(&net, 0, 440.0) && hears(&net, 0, 697.0),
        "a hears b and c"
    );
    assert!(!hears(&net, 1, 440.0), "b does not hear itself");
    // Call 2 ends: the conference is over, b no longer hears c.
    let now = net.now;
    net.phones[0].core.order(now, Request::Stop { call: 2 });
    net.run(Duration::from_secs(1));
    assert!(!hears(&net, 1, 697.0), "b no longer hears c");
}

#[test]
fn tones_of_the_tone_plan_play_on_the_earpiece() {
    let t0 = Instant::now();
    let mut net = Net::new(vec![Phone::new(1, None, t0)], t0);
    net.phones[0].core.order(
        t0,
        Request::Tone {
            tone: Some(Tone::Dial),
        },
    );
    net.run(Duration::from_secs(1));
    let heard = net.phones[0].heard.clone();
    assert!(blocks_of(&heard, 1.0, 350.0) > 0.2 && blocks_of(&heard, 1.0, 440.0) > 0.2);
    let now = net.now;
    net.phones[0].core.order(now, Request::Tone { tone: None });
    net.run(Duration::from_millis(500));
    assert_eq!(rms(&net.phones[0].heard, 0.4), 0.0, "stopped");
}

#[test]
fn vad_sends_nothing_in_silence_and_speech_again_with_the_marker() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, None, t0);
    let b = Phone::new(2, None, t0);
    let mut o = order(1, 20000, 30000);
    o.vad = true;
    a.session(t0, o);
    let mut net = Net::new(vec![a, b], t0);
    net.run(Duration::from_secs(2));
    let sent = net.phones[0].core.status().sessions[0].rtp.sent;
    assert!(sent < 20, "{sent} packets of silence sent with enable_vad");
    net.phones[0].mic_hz = Some(1000.0);
    net.run(Duration::from_secs(1));
    let sent = net.phones[0].core.status().sessions[0].rtp.sent;
    assert!(sent >= 45, "speech is sent: {sent}");
}

#[test]
fn garbage_on_the_media_ports_is_ignored() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_millis(500));
    let now = net.now;
    let mut seed = 7u64;
    for len in 0..400usize {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        net.phones[1].core.handle_rtp(now, 7, addr(9), &data);
        net.phones[1].core.handle_rtcp(now, 7, addr(9), &data);
    }
    net.run(Duration::from_secs(1));
    assert!(blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.9);
}

/// What the receive path adds at zero jitter: a click spoken into a's microphone is heard
/// at b after packetisation (20 ms), the network (5 ms here), and what b's jitter buffer and
/// decoder add, which must stay under 20 ms.
#[test]
fn the_receive_path_adds_under_20_ms_at_zero_jitter() {
    let mut net = two_phones(1000.0, 440.0);
    net.phones[0].mic_hz = None;
    net.phones[1].mic_hz = None;
    net.run(Duration::from_secs(2));
    // A burst of tone starting exactly at a frame boundary.
    let start = net.phones[1].heard.len();
    net.phones[0].mic_hz = Some(1000.0);
    net.run(Duration::from_millis(200));
    let heard = &net.phones[1].heard[start..];
    let first = heard
        .iter()
        .position(|s| s.unsigned_abs() > 2000)
        .expect("the burst arrives");
    let total_ms = first as f64 / 8.0;
    let added = total_ms - 20.0 - 5.0;
    eprintln!(
        "figures: mouth-to-ear {total_ms:.1} ms at zero jitter, receive path adds {added:.1} ms"
    );
    assert!(added < 20.0, "the receive path adds {added:.1} ms");
}

/// With the `g729` feature: the same call in G.729 (libbcg729), 8 kbit/s instead of 64.
#[cfg(feature = "g729")]
#[test]
fn a_g729_call_carries_the_tones_both_ways() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, Some(1000.0), t0);
    let mut b = Phone::new(2, Some(440.0), t0);
    let g729 = |call, local, remote| SessionOrder {
        codec: "G729".into(),
        payload_type: 18,
        ..order(call, local, remote)
    };
    a.session(t0, g729(1, 20000, 30000));
    b.session(t0, g729(7, 30000, 20000));
    let mut net = Net::new(vec![a, b], t0);
    net.run(Duration::from_secs(3));
    assert!(
        blocks_of(&net.phones[1].heard, 2.0, 1000.0) > 0.9,
        "b hears a"
    );
    assert!(
        blocks_of(&net.phones[0].heard, 2.0, 440.0) > 0.9,
        "a hears b"
    );
    assert_eq!(net.phones[0].core.status().sessions[0].rtp.codec, "G729");
}

#[test]
fn the_volume_of_the_active_path_moves_the_earpiece_3_db_a_step() {
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_secs(2));
    let nominal = rms(&net.phones[0].heard, 0.5);
    let now = net.now;
    let handset_up = Request::Volume {
        path: deskphone_ipc::mediad::AudioPath::Handset,
        level: 7,
    };
    assert_eq!(net.phones[0].core.order(now, handset_up), Reply::Ok);
    net.run(Duration::from_secs(1));
    let louder = rms(&net.phones[0].heard, 0.5);
    let db = 20.0 * (louder / nominal).log10();
    assert!((db - 6.0).abs() < 0.5, "two steps up: {db:.1} dB");
    // The speaker's volume does not touch the handset.
    let speaker_off = Request::Volume {
        path: deskphone_ipc::mediad::AudioPath::Speaker,
        level: 0,
    };
    assert_eq!(net.phones[0].core.order(now, speaker_off), Reply::Ok);
    net.run(Duration::from_millis(600));
    assert!((rms(&net.phones[0].heard, 0.5) / louder - 1.0).abs() < 0.05);
    let too_loud = Request::Volume {
        path: deskphone_ipc::mediad::AudioPath::Handset,
        level: 11,
    };
    assert!(matches!(
        net.phones[0].core.order(now, too_loud),
        Reply::Error { .. }
    ));
    assert_eq!(net.phones[0].core.status().volumes.handset, 7);
}
