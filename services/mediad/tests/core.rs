//! mediad's core in simulated time: phones wired together packet by packet (no sockets, no
//! sound card), each ticking every 10 ms. What is checked is what a listener hears: the
//! frequencies of the tones each side plays, digits, silence on hold and mute, the mix of
//! a conference, the tones of the tone plan.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskphone_dsp::cn::ComfortNoise;
use deskphone_dsp::goertzel::relative_power;
use deskphone_ipc::mediad::{Event, Reply, Request, SessionOrder, Tone};
use deskphone_mediad::core::{MediaCore, FRAME};
use deskphone_rtp::{parse_rtp, RtpHeader};

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
        comfort_noise: None,
        g729_annexb: false,
        behind_nat: false,
    }
}

/// A phone: its core, what its microphone says, what its earpiece played.
struct Phone {
    core: MediaCore,
    /// Tone of the microphone (Hz), none: silence.
    mic_hz: Option<f64>,
    /// Background noise in the room (RFC 3389 level, −dBov), added to the microphone.
    mic_noise: Option<ComfortNoise>,
    heard: Vec<i16>,
    events: Vec<Event>,
    /// Local RTP port → call id.
    ports: Vec<(u16, u32)>,
    /// The RTP packets it sent: (when, header, payload length).
    sent: Vec<(Instant, RtpHeader, usize)>,
}

impl Phone {
    fn new(seed: u64, mic_hz: Option<f64>, t0: Instant) -> Phone {
        Phone {
            core: MediaCore::new(seed, t0),
            mic_hz,
            mic_noise: None,
            heard: Vec::new(),
            events: Vec::new(),
            ports: Vec::new(),
            sent: Vec::new(),
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
    /// Where every delivered packet seems to come from: the far ends' IP (another port).
    source: SocketAddr,
}

impl Net {
    fn new(phones: Vec<Phone>, t0: Instant) -> Net {
        Net {
            phones,
            in_flight: VecDeque::new(),
            now: t0,
            delay: Duration::from_millis(5),
            samples: 0,
            source: addr(1),
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
                let from = self.source;
                if rtcp {
                    self.phones[i].core.handle_rtcp(at, call, from, &data);
                } else {
                    self.phones[i].core.handle_rtp(at, call, from, &data);
                }
            }
            for i in 0..self.phones.len() {
                let mut mic = [0i16; FRAME];
                if let Some(noise) = &mut self.phones[i].mic_noise {
                    noise.fill(&mut mic);
                }
                if let Some(hz) = self.phones[i].mic_hz {
                    for (k, m) in mic.iter_mut().enumerate() {
                        let t = (self.samples + k as u64) as f64 / 8000.0;
                        *m += (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
                    }
                }
                let mut out = [0i16; FRAME];
                self.phones[i].core.tick(self.now, &mic, &mut out);
                self.phones[i].heard.extend_from_slice(&out);
                while let Some(e) = self.phones[i].core.poll_event() {
                    self.phones[i].events.push(e);
                }
                while let Some(t) = self.phones[i].core.poll_transmit() {
                    if !t.rtcp {
                        let (h, payload) = parse_rtp(&t.data).expect("RTP");
                        self.phones[i].sent.push((self.now, h, payload.len()));
                    }
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
                !n.is_multiple_of(5)
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

/// Two phones with `enable_vad`; a's order says whether the far end took CN.
fn vad_phones(comfort_noise: Option<u8>) -> Net {
    let t0 = Instant::now();
    let mut a = Phone::new(1, None, t0);
    let mut b = Phone::new(2, None, t0);
    // A quiet room: background noise at -60 dBov, below the VAD's floor.
    a.mic_noise = Some(ComfortNoise::new(60, 5));
    let vad = |o: SessionOrder| SessionOrder {
        vad: true,
        comfort_noise,
        ..o
    };
    a.session(t0, vad(order(1, 20000, 30000)));
    b.session(t0, vad(order(7, 30000, 20000)));
    Net::new(vec![a, b], t0)
}

/// Packets a phone sent from `from` on: (payload type, marker, payload length).
fn sent_since(p: &Phone, from: Instant) -> Vec<(u8, bool, usize)> {
    p.sent
        .iter()
        .filter(|(at, ..)| *at >= from)
        .map(|(_, h, len)| (h.payload_type, h.marker, *len))
        .collect()
}

#[test]
fn vad_with_comfort_noise_sends_a_sid_every_200_ms_in_silence_and_speech_with_the_marker() {
    let mut net = vad_phones(Some(13));
    let t0 = net.now;
    net.run(Duration::from_secs(2));
    let silence = sent_since(&net.phones[0], t0);
    assert!(
        silence.iter().all(|(pt, ..)| *pt == 13),
        "no speech packet in silence: {silence:?}"
    );
    // One at once, then one every 200 ms: 10 in 2 s.
    assert!((10..=11).contains(&silence.len()), "{silence:?}");
    assert!(silence.iter().all(|(_, marker, len)| !marker && *len == 1));
    let sids: Vec<Instant> = net.phones[0].sent.iter().map(|(at, ..)| *at).collect();
    for w in sids.windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_millis(200), "{sids:?}");
    }

    // Speech: audio packets every 20 ms, the first with the marker.
    let talk = net.now;
    net.phones[0].mic_hz = Some(1000.0);
    net.run(Duration::from_secs(1));
    let speech = sent_since(&net.phones[0], talk);
    assert!(speech.iter().all(|(pt, ..)| *pt == 0), "{speech:?}");
    assert!((49..=51).contains(&speech.len()), "{}", speech.len());
    assert!(speech[0].1, "the talk spurt starts with the marker");
    assert!(speech[1..].iter().all(|(_, marker, _)| !marker));

    // Quiet again: after the hangover, SIDs only.
    let quiet = net.now;
    net.phones[0].mic_hz = None;
    net.run(Duration::from_secs(1));
    let after = sent_since(&net.phones[0], quiet);
    let first_sid = after.iter().position(|(pt, ..)| *pt == 13).expect("a SID");
    assert!(first_sid <= 12, "hangover of about 200 ms: {after:?}");
    assert!(after[first_sid..].iter().all(|(pt, ..)| *pt == 13));
    assert!(after.len() - first_sid <= 5, "{after:?}");
}

#[test]
fn the_far_end_plays_comfort_noise_at_the_sid_level_and_counts_no_loss() {
    let mut net = vad_phones(Some(13));
    net.run(Duration::from_secs(1));
    for _ in 0..3 {
        net.phones[0].mic_hz = Some(1000.0);
        net.run(Duration::from_secs(1));
        assert!(
            blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.9,
            "speech heard"
        );
        net.phones[0].mic_hz = None;
        net.run(Duration::from_secs(1));
        // The comfort noise b plays is at the level of a's room (-60 dBov).
        let level = deskphone_dsp::cn::noise_level(
            &net.phones[1].heard[net.phones[1].heard.len() - 4000..],
        );
        assert!(level.abs_diff(60) <= 2, "comfort noise at -{level} dBov");
    }
    let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
    assert_eq!(rtp.lost, 0, "SIDs are part of the stream: {rtp:?}");
    assert_eq!(rtp.concealed, 0, "silence is not a loss: {rtp:?}");
    assert!(rtp.received >= 150 + 3 * 3, "{rtp:?}");
}

#[test]
fn vad_without_cn_agreed_sends_every_packet_and_never_a_sid() {
    let mut net = vad_phones(None);
    net.run(Duration::from_secs(2));
    let sent = sent_since(&net.phones[0], net.now - Duration::from_secs(2));
    assert!(sent.iter().all(|(pt, ..)| *pt == 0), "no SID: {sent:?}");
    assert!((99..=101).contains(&sent.len()), "{} packets", sent.len());
}

#[test]
fn without_enable_vad_silence_is_sent_as_audio_even_with_cn_agreed() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, None, t0);
    a.mic_noise = Some(ComfortNoise::new(60, 5));
    let o = SessionOrder {
        comfort_noise: Some(13),
        ..order(1, 20000, 30000)
    };
    a.session(t0, o);
    let mut net = Net::new(vec![a, Phone::new(2, None, t0)], t0);
    net.run(Duration::from_secs(1));
    let sent = sent_since(&net.phones[0], t0);
    assert!(sent.iter().all(|(pt, ..)| *pt == 0), "{sent:?}");
    assert!((49..=51).contains(&sent.len()), "{}", sent.len());
}

#[test]
fn a_re_invite_whose_answer_drops_cn_ends_the_sids() {
    let mut net = vad_phones(Some(13));
    net.run(Duration::from_secs(1));
    let now = net.now;
    let o = SessionOrder {
        vad: true,
        comfort_noise: None,
        ..order(1, 20000, 30000)
    };
    assert_eq!(
        net.phones[0].core.order(now, Request::Session(o)),
        Reply::Ok
    );
    net.run(Duration::from_secs(1));
    let sent = sent_since(&net.phones[0], now);
    assert!(sent.iter().all(|(pt, ..)| *pt == 0), "{sent:?}");
    assert!(sent.len() >= 49, "{}", sent.len());
}

#[test]
fn packets_from_another_address_than_the_far_ends_are_dropped_and_counted() {
    // The harness delivers from the far end's IP but port 1, not the advertised port:
    // another port of the right address is taken (a far end behind a NAT).
    let mut net = two_phones(1000.0, 440.0);
    net.run(Duration::from_secs(1));
    assert!(blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.9);
    // A stranger sends b a loud 3 kHz stream on a's behalf, 20 ms packets for 1 s.
    let stranger = SocketAddr::from(([198, 51, 100, 66], 20000));
    let mut rogue = deskphone_rtp::RtpSender::new(99);
    let tone: Vec<i16> = (0..160)
        .map(|k| (20000.0 * (2.0 * std::f64::consts::PI * 3000.0 * k as f64 / 8000.0).sin()) as i16)
        .collect();
    let mut payload = Vec::new();
    deskphone_dsp::g711::ulaw_encode_slice(&tone, &mut payload);
    let received = net.phones[1].core.status().sessions[0].rtp.received;
    for _ in 0..50 {
        let now = net.now;
        let data = rogue.packet(0, &payload, 160, false).unwrap();
        net.phones[1].core.handle_rtp(now, 7, stranger, &data);
        net.phones[1]
            .core
            .handle_rtcp(now, 7, stranger, b"\x80\xc9\x00\x01\x00\x00\x00\x01");
        net.run(Duration::from_millis(20));
    }
    assert_eq!(
        blocks_of(&net.phones[1].heard, 1.0, 3000.0),
        0.0,
        "the stranger is not heard"
    );
    assert!(
        blocks_of(&net.phones[1].heard, 1.0, 1000.0) > 0.9,
        "a still is"
    );
    let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
    assert_eq!(rtp.foreign_dropped, 100, "{rtp:?}");
    assert!(
        rtp.received - received <= 51,
        "only a's packets counted: {rtp:?}"
    );
}

#[test]
fn behind_our_nat_a_rewritten_source_is_learnt_and_then_only_it_is_taken() {
    // Our NAT's port forward hands b the far end's packets from its own address.
    let nat = SocketAddr::from(([10, 0, 2, 2], 40000));
    for behind_nat in [false, true] {
        let t0 = Instant::now();
        let a = {
            let mut a = Phone::new(1, Some(1000.0), t0);
            a.session(t0, order(1, 20000, 30000));
            a
        };
        let mut b = Phone::new(2, None, t0);
        b.session(
            t0,
            SessionOrder {
                behind_nat,
                ..order(7, 30000, 20000)
            },
        );
        let mut net = Net::new(vec![a, b], t0);
        net.source = nat;
        net.run(Duration::from_secs(1));
        let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
        if !behind_nat {
            assert_eq!(rtp.received, 0, "{rtp:?}");
            assert!(rtp.foreign_dropped >= 45, "{rtp:?}");
            continue;
        }
        assert!(
            blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.9,
            "learnt: {rtp:?}"
        );
        // Once learnt, a third address is still a stranger.
        let now = net.now;
        let mut rogue = deskphone_rtp::RtpSender::new(99);
        let data = rogue.packet(0, &[0xff; 160], 160, false).unwrap();
        let stranger = SocketAddr::from(([198, 51, 100, 66], 20000));
        net.phones[1].core.handle_rtp(now, 7, stranger, &data);
        let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
        assert_eq!(rtp.foreign_dropped, 1, "{rtp:?}");
    }
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

/// With the `g729` feature and annex B agreed: the codec's own VAD sends SID frames (or
/// nothing) in silence, never RFC 3389 packets, and the far end plays the codec's comfort
/// noise without counting a loss.
#[cfg(feature = "g729")]
#[test]
fn g729_annex_b_uses_the_codecs_own_sid_frames() {
    let t0 = Instant::now();
    let mut a = Phone::new(1, None, t0);
    let mut b = Phone::new(2, None, t0);
    a.mic_noise = Some(ComfortNoise::new(60, 5));
    let annexb = |call, local, remote| SessionOrder {
        codec: "G729".into(),
        payload_type: 18,
        vad: true,
        comfort_noise: Some(13),
        g729_annexb: true,
        ..order(call, local, remote)
    };
    a.session(t0, annexb(1, 20000, 30000));
    b.session(t0, annexb(7, 30000, 20000));
    let mut net = Net::new(vec![a, b], t0);
    net.run(Duration::from_secs(1));
    for _ in 0..3 {
        let talk = net.now;
        net.phones[0].mic_hz = Some(1000.0);
        net.run(Duration::from_secs(1));
        let speech = sent_since(&net.phones[0], talk);
        assert!(speech.len() >= 45, "{}", speech.len());
        assert!(
            blocks_of(&net.phones[1].heard, 0.5, 1000.0) > 0.8,
            "b hears a"
        );
        let quiet = net.now;
        net.phones[0].mic_hz = None;
        net.run(Duration::from_secs(2));
        // The codec's VAD decides (it may take some noise for speech), but most of the
        // silence is not sent, and no RFC 3389 packet goes.
        let silence = sent_since(&net.phones[0], quiet);
        assert!(silence.iter().all(|(pt, ..)| *pt == 18), "{silence:?}");
        assert!(silence.len() < 40, "of 100 packet times: {silence:?}");
        assert!(
            silence.iter().any(|(_, _, len)| len % 10 == 2),
            "a SID frame: {silence:?}"
        );
        // b plays the codec's comfort noise at about the room's level (-60 dBov: RMS 33).
        let rms = rms(&net.phones[1].heard, 1.0);
        assert!((10.0..100.0).contains(&rms), "comfort noise RMS {rms}");
    }
    let rtp = net.phones[1].core.status().sessions[0].rtp.clone();
    assert_eq!(rtp.lost, 0, "{rtp:?}");
    assert_eq!(rtp.concealed, 0, "{rtp:?}");
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
