//! The media of every call, without I/O: received packets and microphone frames in, packets
//! to send and earpiece frames out, time as input. The engine feeds it from the sound
//! device's clock; tests feed it directly.
//!
//! Each tick is one 10 ms frame. For every session the core takes one frame from the jitter
//! buffer (decoding a packet once, even when it spans several frames; concealing a missing
//! one), mixes what is heard with the tone and the ringer, and adds the microphone (plus, in
//! a conference, the other party) to what each session sends, one packet per packet time.
//!
//! `enable_vad` ([`SessionOrder::vad`]) changes what is sent only where the far end agreed
//! to it: with RFC 3389 comfort noise ([`SessionOrder::comfort_noise`]) silences become SID
//! packets ([`crate::dtx`]); with G.729 annex B the codec does its own VAD and SID frames;
//! otherwise everything is sent. Received SIDs (either kind) tell the jitter buffer where
//! the far end's silence starts, so the gap is played as comfort noise, not concealed as
//! a loss.
//!
//! Packets are taken only from the far end's address (SDP `c=`) once it is known; any
//! port of it is accepted, since a far end behind a NAT may send from a port other than
//! the one it advertised. Behind a NAT of our own ([`SessionOrder::behind_nat`]) the port
//! forward may also rewrite the far end's address (QEMU's user network does), so there,
//! until the far end's address is heard from, the first other source of valid RTP is
//! learnt as its alias. Packets from elsewhere are counted in `foreign_dropped`.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use deskphone_dsp::cn::{self, ComfortNoise};
use deskphone_dsp::codec::{self, CodecKind, Decoder, Encoder, EncoderConfig};
use deskphone_dsp::dtmf::{DtmfDetector, DtmfEventKind, DtmfGenerator};
use deskphone_dsp::mix::mix_into;
use deskphone_dsp::tones::{self, ToneGenerator};
use deskphone_ipc::mediad::{
    AudioPath, Event, Reply, Request, RingPattern, RtpStatus, SessionOrder, SessionStatus, Status,
    Tone, Volumes, NOMINAL_VOLUME,
};
use deskphone_rtp::receiver::Arrival;
use deskphone_rtp::telephone_event::{digit_for_event, event_for_digit};
use deskphone_rtp::{
    parse_rtp, DtmfEvent, DtmfReceiver, DtmfSender, JitterBuffer, JitterConfig, NtpTime, Playout,
    RtcpSession, RtpReceiver, RtpSender,
};

use crate::dtx::{Decision, Dtx};

/// Samples per second.
pub const RATE: u32 = 8000;
/// Samples per tick: 10 ms.
pub const FRAME: usize = 80;
/// Digits kept in a call's `dtmf_received`.
const DTMF_KEPT: usize = 32;
/// A press of a digit lasts at least this long on the wire (RFC 4733 events).
const DTMF_MIN: Duration = Duration::from_millis(100);
/// In-band digits: tone and pause, as a keypad press sounds.
const INBAND_ON_MS: u32 = 100;
const INBAND_OFF_MS: u32 = 60;
/// RFC 3389 comfort noise (static payload type 13), taken even when not negotiated.
const CN_PAYLOAD_TYPE: u8 = 13;
/// G.729 payloads: 10-byte speech frames, optionally ending in a 2-byte SID (annex B).
const G729_FRAME_BYTES: usize = 10;
const G729_SID_BYTES: usize = 2;

/// A datagram for one of a call's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub call: u32,
    pub rtcp: bool,
    pub to: SocketAddr,
    pub data: Vec<u8>,
}

struct Session {
    order: SessionOrder,
    codec: CodecKind,
    encoder: Box<dyn Encoder + Send>,
    decoder: Box<dyn Decoder + Send>,
    sender: RtpSender,
    receiver: RtpReceiver,
    jitter: JitterBuffer,
    rtcp: RtcpSession,
    dtmf_out: DtmfSender,
    dtmf_in: DtmfReceiver,
    /// Microphone samples not yet sent (less than a packet).
    pending: Vec<i16>,
    /// The packet being played (timestamp, decoded samples), decoded once.
    playing: Option<(u32, Vec<i16>)>,
    /// Where the last frame played sat in the stream (RTP timestamp of its first sample)
    /// and its last sample: a frame that does not follow on is a skip.
    last_played: Option<(u32, i16)>,
    /// This tick's received audio, for the earpiece and the conference.
    heard: [i16; FRAME],
    dtmf_received: String,
    encoded: Vec<u8>,
    /// Digits sent in the audio (`dtmf_inband`, at `dtmf_db_level`).
    inband: DtmfGenerator,
    /// Digits heard in the audio, when the far end sends no telephone-event.
    detector: DtmfDetector,
    /// `enable_vad` with comfort noise agreed: silences are sent as SID packets.
    dtx: Option<Dtx>,
    /// Comfort noise the far end asked for (RFC 3389), played in its silences.
    comfort: Option<ComfortNoise>,
    /// The last payload decoded ended in a codec SID frame (G.729 annex B): the decoder
    /// makes the comfort noise of the silence that follows.
    decoder_cn: bool,
    /// Packets from another address than the far end's, dropped.
    foreign_dropped: u64,
    /// The far end's own address (SDP `c=`) has sent us something.
    heard_far_end: bool,
    /// Behind our NAT: the address the far end's packets arrive from instead of its own.
    learnt: Option<IpAddr>,
}

impl Session {
    fn new(order: SessionOrder, seed: u64, now: Instant) -> Result<Session, String> {
        let codec = codec_kind(&order.codec)?;
        let packet = packet_samples(order.ptime_ms);
        let sender = RtpSender::new(seed);
        let rtcp = RtcpSession::new(sender.ssrc(), "deskphone", seed ^ 0x5a5a, now);
        let jitter = JitterBuffer::new(JitterConfig::new(packet, FRAME as u32))
            .map_err(|e| format!("jitter buffer for a {} ms packet time: {e}", order.ptime_ms))?;
        Ok(Session {
            encoder: codec::encoder(
                codec,
                EncoderConfig {
                    vad: codec_dtx(&order),
                },
            )
            .map_err(|e| e.to_string())?,
            decoder: codec::decoder(codec).map_err(|e| e.to_string())?,
            codec,
            sender,
            receiver: RtpReceiver::new(RATE),
            jitter,
            rtcp,
            dtmf_out: DtmfSender::new(packet, DTMF_MIN),
            dtmf_in: DtmfReceiver::new(Duration::from_millis(500)),
            pending: Vec::with_capacity(packet as usize),
            playing: None,
            last_played: None,
            heard: [0; FRAME],
            dtmf_received: String::new(),
            encoded: Vec::with_capacity(packet as usize),
            inband: DtmfGenerator::new(RATE, order.dtmf_level, INBAND_ON_MS, INBAND_OFF_MS),
            detector: DtmfDetector::new(RATE),
            dtx: wants_dtx(&order).then(Dtx::new),
            comfort: None,
            decoder_cn: false,
            foreign_dropped: 0,
            heard_far_end: false,
            learnt: None,
            order,
        })
    }

    /// Takes a changed order for the same codec and packet time.
    fn update(&mut self, order: SessionOrder) {
        match (wants_dtx(&order), self.dtx.is_some()) {
            (true, false) => self.dtx = Some(Dtx::new()),
            (false, true) => self.dtx = None,
            _ => {}
        }
        if order.remote_rtp.map(|r| r.ip()) != self.order.remote_rtp.map(|r| r.ip()) {
            // Another far end (a transfer, a re-INVITE): learnt nothing about it yet.
            self.heard_far_end = false;
            self.learnt = None;
        }
        self.order = order;
    }

    /// Whether a packet from `from` may be the far end's: once its address is known, only
    /// that IP (any port: behind a NAT the far end may send from another one), or behind
    /// our own NAT the source learnt in its stead. `learn`: the packet is valid RTP, which
    /// may teach that source.
    fn admits(&mut self, from: SocketAddr, learn: bool) -> bool {
        let Some(far_end) = self.order.remote_rtp else {
            return true;
        };
        let ip = from.ip().to_canonical();
        if ip == far_end.ip().to_canonical() {
            self.heard_far_end = true;
            return true;
        }
        if self.learnt == Some(ip) {
            return true;
        }
        if learn && self.order.behind_nat && !self.heard_far_end && self.learnt.is_none() {
            log::info!(
                "call {}: the far end's media arrives from {ip}, not {}: our NAT rewrites it",
                self.order.call,
                far_end.ip()
            );
            self.learnt = Some(ip);
            return true;
        }
        self.foreign_dropped += 1;
        if self.foreign_dropped.is_power_of_two() {
            log::warn!(
                "call {}: {} packets from {from} dropped: not the far end's address",
                self.order.call,
                self.foreign_dropped
            );
        }
        false
    }

    fn packet_samples(&self) -> usize {
        packet_samples(self.order.ptime_ms) as usize
    }

    /// One frame of what the far end says.
    fn play(&mut self, now: Instant) {
        self.heard = [0; FRAME];
        if !self.order.receive {
            return;
        }
        let popped = self.jitter.pop(now);
        // Only a frame right after a frame can be a skip; anything else starts afresh.
        if !matches!(popped, Playout::Frame { .. }) {
            self.last_played = None;
        }
        match popped {
            Playout::Frame {
                payload,
                timestamp,
                offset,
                samples,
                ..
            } => {
                if self.playing.as_ref().map(|p| p.0) != Some(timestamp) {
                    let mut pcm = Vec::with_capacity(self.packet_samples());
                    self.decoder.decode(&payload, &mut pcm);
                    self.decoder_cn = ends_in_codec_sid(self.codec, &payload);
                    self.playing = Some((timestamp, pcm));
                }
                let (from, n) = (offset as usize, samples as usize);
                let pcm = &mut self.playing.as_mut().expect("decoded above").1;
                if pcm.len() < from + n {
                    // A payload shorter than its packet time (a lone SID frame): the
                    // decoder goes on from it (comfort noise after a SID).
                    self.decoder.conceal(from + n - pcm.len(), pcm);
                }
                for (i, s) in pcm.iter().skip(from).take(n.min(FRAME)).enumerate() {
                    self.heard[i] = *s;
                }
                // The buffer skipped a frame to shorten its delay: the waveform jumps
                // there; ramp the step away so it does not click.
                let pos = timestamp.wrapping_add(offset);
                if let Some((last_pos, last_sample)) = self.last_played {
                    if pos != last_pos.wrapping_add(FRAME as u32) {
                        smooth_step(&mut self.heard, last_sample);
                    }
                }
                self.last_played = Some((pos, self.heard[FRAME - 1]));
            }
            Playout::Missing => {
                let mut pcm = Vec::with_capacity(FRAME);
                self.decoder.conceal(FRAME, &mut pcm);
                for (h, s) in self.heard.iter_mut().zip(pcm) {
                    *h = s;
                }
            }
            Playout::Silence | Playout::Empty => {
                if self.decoder_cn {
                    let mut pcm = Vec::with_capacity(FRAME);
                    self.decoder.conceal(FRAME, &mut pcm);
                    for (h, s) in self.heard.iter_mut().zip(pcm) {
                        *h = s;
                    }
                } else if let Some(cn) = &mut self.comfort {
                    cn.fill(&mut self.heard);
                }
            }
        }
    }

    /// Notes a digit the far end sent, for the status and the subscribers.
    fn received_digit(&mut self, digit: char, call: u32, events: &mut VecDeque<Event>) {
        self.dtmf_received.push(digit);
        if self.dtmf_received.len() > DTMF_KEPT {
            self.dtmf_received.remove(0);
        }
        events.push_back(Event::Dtmf { call, digit });
    }
}

fn tone_of(tone: Tone) -> tones::Tone {
    match tone {
        Tone::Dial => tones::Tone::Dial,
        Tone::SecondaryDial => tones::Tone::SecondaryDial,
        Tone::StutterDial => tones::Tone::StutterDial,
        Tone::Ringback => tones::Tone::Ringback,
        Tone::Busy => tones::Tone::Busy,
        Tone::Reorder => tones::Tone::Reorder,
        Tone::CallWaiting => tones::Tone::CallWaiting,
        Tone::Confirmation => tones::Tone::Confirmation,
    }
}

fn ring_of(pattern: RingPattern) -> tones::Tone {
    tones::Tone::Ring(match pattern {
        RingPattern::Standard => tones::RingPattern::Standard,
        RingPattern::Double => tones::RingPattern::Double,
        RingPattern::ShortShortLong => tones::RingPattern::ShortShortLong,
    })
}

fn packet_samples(ptime_ms: u32) -> u32 {
    // The jitter buffer pops 10 ms frames: a packet time is a whole number of them.
    let frames = (ptime_ms / 10).clamp(1, 12);
    frames * FRAME as u32
}

/// `enable_vad` where the far end took RFC 3389 comfort noise and the codec does not do
/// its own (G.729 annex B).
fn wants_dtx(order: &SessionOrder) -> bool {
    order.vad && order.comfort_noise.is_some() && !codec_dtx(order)
}

/// `enable_vad` with G.729 annex B negotiated: the codec's own VAD and SID frames.
fn codec_dtx(order: &SessionOrder) -> bool {
    order.vad && order.g729_annexb && order.codec.eq_ignore_ascii_case("G729")
}

/// A payload whose last frame is a codec SID (G.729 annex B: a 2-byte frame at the end).
fn ends_in_codec_sid(codec: CodecKind, payload: &[u8]) -> bool {
    codec == CodecKind::G729 && payload.len() % G729_FRAME_BYTES == G729_SID_BYTES
}

/// The codecs this build speaks, by their RTP names.
pub fn codecs() -> Vec<String> {
    [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::G729]
        .into_iter()
        .filter(|c| c.is_available())
        .map(|c| c.rtp_name().to_string())
        .collect()
}

fn codec_kind(name: &str) -> Result<CodecKind, String> {
    match name.to_ascii_uppercase().as_str() {
        "PCMU" => Ok(CodecKind::Pcmu),
        "PCMA" => Ok(CodecKind::Pcma),
        "G729" => Ok(CodecKind::G729),
        other => Err(format!("codec {other} is not supported")),
    }
}

pub struct MediaCore {
    sessions: BTreeMap<u32, Session>,
    conference: Vec<u32>,
    path: AudioPath,
    muted: bool,
    volumes: Volumes,
    /// The tone of the tone plan the UI asked for, on the active path.
    tone: Option<ToneGenerator>,
    /// The ringer, on the speaker.
    ring: Option<ToneGenerator>,
    seed: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Received datagrams that were not RTP (counted for the log).
    malformed: u64,
}

impl MediaCore {
    pub fn new(seed: u64, _now: Instant) -> MediaCore {
        MediaCore {
            sessions: BTreeMap::new(),
            conference: Vec::new(),
            path: AudioPath::Handset,
            muted: false,
            volumes: Volumes::default(),
            tone: None,
            ring: None,
            seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            malformed: 0,
        }
    }

    fn next_seed(&mut self) -> u64 {
        // splitmix64: a fresh SSRC and sequence start per session from one seed.
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An order from sipd or the UI.
    pub fn order(&mut self, now: Instant, request: Request) -> Reply {
        match self.apply(now, request) {
            Ok(()) => Reply::Ok,
            Err(message) => Reply::Error { message },
        }
    }

    fn apply(&mut self, now: Instant, request: Request) -> Result<(), String> {
        match request {
            Request::Session(order) => {
                let call = order.call;
                match self.sessions.get_mut(&call) {
                    // Same codec and packet time: the session goes on (same SSRC and
                    // sequence), only direction, address and DTMF settings change.
                    Some(s)
                        if codec_kind(&order.codec)? == s.codec
                            && order.ptime_ms == s.order.ptime_ms
                            && order.payload_type == s.order.payload_type
                            && codec_dtx(&order) == codec_dtx(&s.order) =>
                    {
                        s.update(order);
                    }
                    _ => {
                        let seed = self.next_seed();
                        let s = Session::new(order, seed, now)?;
                        log::info!(
                            "call {call}: {} pt {} every {} ms, port {}, to {}",
                            s.order.codec,
                            s.order.payload_type,
                            s.order.ptime_ms,
                            s.order.local_port,
                            s.order
                                .remote_rtp
                                .map(|a| a.to_string())
                                .unwrap_or_else(|| "nowhere (held)".into())
                        );
                        self.sessions.insert(call, s);
                    }
                }
                Ok(())
            }
            Request::Stop { call } => {
                let Some(mut s) = self.sessions.remove(&call) else {
                    return Ok(());
                };
                let info = s.sender.info();
                if s.rtcp
                    .close(now, ntp_now(), &info, &mut s.receiver, "call ended")
                    .is_ok()
                {
                    queue_rtcp(&mut self.transmits, call, &mut s);
                }
                self.conference.retain(|c| *c != call);
                if self.conference.len() < 2 {
                    self.conference.clear();
                }
                log::info!(
                    "call {call}: media ended, {} sent, {} received, {} lost",
                    s.sender.packets_sent(),
                    s.receiver.received(),
                    s.receiver.lost().max(0)
                );
                Ok(())
            }
            Request::Conference { calls } => {
                if let Some(c) = calls.iter().find(|c| !self.sessions.contains_key(c)) {
                    return Err(format!("call {c} has no media"));
                }
                self.conference = if calls.len() >= 2 { calls } else { Vec::new() };
                Ok(())
            }
            Request::Dtmf { call, digit } => {
                let s = self
                    .sessions
                    .get_mut(&call)
                    .ok_or_else(|| format!("call {call} has no media"))?;
                let event =
                    event_for_digit(digit).ok_or_else(|| format!("{digit:?} is no DTMF digit"))?;
                let (rfc4733, inband) = (s.order.telephone_event.is_some(), s.order.inband_dtmf);
                if !rfc4733 && !inband {
                    return Err(format!(
                        "call {call}: the far end takes no telephone-event and in-band DTMF is off"
                    ));
                }
                if rfc4733 {
                    s.dtmf_out.press(event);
                    s.dtmf_out.release();
                }
                if inband {
                    s.inband.push_digits(&digit.to_string());
                }
                Ok(())
            }
            Request::Path { path } => {
                self.path = path;
                Ok(())
            }
            Request::Mute { muted } => {
                self.muted = muted;
                Ok(())
            }
            Request::Volume { path, level } => {
                if level > 10 {
                    return Err(format!("volume {level}: 0 to 10"));
                }
                self.volumes.set(path, level);
                Ok(())
            }
            Request::Tone { tone } => {
                self.tone = tone.map(|t| ToneGenerator::new(tone_of(t), RATE));
                Ok(())
            }
            Request::Ring { pattern } => {
                self.ring = pattern.map(|p| ToneGenerator::new(ring_of(p), RATE));
                Ok(())
            }
            Request::Hello(_) | Request::Status | Request::Subscribe => Ok(()),
        }
    }

    /// A datagram on a call's RTP port.
    pub fn handle_rtp(&mut self, now: Instant, call: u32, from: SocketAddr, data: &[u8]) {
        let Some(s) = self.sessions.get_mut(&call) else {
            return;
        };
        let Ok((header, payload)) = parse_rtp(data) else {
            self.malformed += 1;
            return;
        };
        if !s.admits(from, true) {
            return;
        }
        if !s.order.receive {
            return;
        }
        if Some(header.payload_type) == s.order.telephone_event {
            s.receiver.handle_packet(now, &header);
            let _ = s.dtmf_in.handle_packet(now, header.timestamp, payload);
            return;
        }
        let pt = header.payload_type;
        let cn = Some(pt) == s.order.comfort_noise
            || (pt == CN_PAYLOAD_TYPE && pt != s.order.payload_type);
        if cn {
            // A SID is part of the stream: counted, so the sequence has no hole.
            if useful(s.receiver.handle_packet(now, &header)) {
                if let Some(level) = cn::parse_payload(payload) {
                    let seed = u64::from(header.ssrc);
                    s.comfort
                        .get_or_insert_with(|| ComfortNoise::new(level, seed))
                        .set_level(level);
                    s.jitter.push_silence(header.timestamp, header.ssrc);
                }
            }
            return;
        }
        if pt != s.order.payload_type {
            // A codec not negotiated: not audio we play.
            return;
        }
        if useful(s.receiver.handle_packet(now, &header)) {
            s.jitter.push(
                now,
                header.sequence,
                header.timestamp,
                header.ssrc,
                header.marker,
                payload,
            );
            if ends_in_codec_sid(s.codec, payload) {
                // The codec's SID ends this packet: silence (comfort noise) after it.
                let end = header.timestamp.wrapping_add(s.packet_samples() as u32);
                s.jitter.push_silence(end, header.ssrc);
            }
        }
    }

    /// A datagram on a call's RTCP port.
    pub fn handle_rtcp(&mut self, now: Instant, call: u32, from: SocketAddr, data: &[u8]) {
        if let Some(s) = self.sessions.get_mut(&call) {
            if !s.admits(from, false) {
                return;
            }
            if s.rtcp.handle_packet(now, data).is_err() {
                self.malformed += 1;
            }
            while s.rtcp.poll_event().is_some() {}
        }
    }

    /// One frame: `mic` is what the microphone heard, `out` gets what the earpiece plays.
    pub fn tick(&mut self, now: Instant, mic: &[i16], out: &mut [i16]) {
        let calls: Vec<u32> = self.sessions.keys().copied().collect();
        for call in &calls {
            let s = self.sessions.get_mut(call).expect("listed");
            s.play(now);
            s.dtmf_in.handle_timeout(now);
            while let Some(e) = s.dtmf_in.poll_event() {
                if let DtmfEvent::Start { event, .. } = e {
                    if let Some(digit) = digit_for_event(event) {
                        s.received_digit(digit, *call, &mut self.events);
                    }
                }
            }
            // Without telephone-event the far end's digits are in its audio.
            if s.order.telephone_event.is_none() {
                for e in s.detector.push(&s.heard) {
                    if e.kind == DtmfEventKind::Start {
                        s.received_digit(e.digit, *call, &mut self.events);
                    }
                }
            }
        }
        let mut tone = [0i16; FRAME];
        if let Some(g) = &mut self.tone {
            g.fill(&mut tone);
            if g.is_finished() {
                self.tone = None;
            }
        }
        let mut ring = [0i16; FRAME];
        if let Some(g) = &mut self.ring {
            g.fill(&mut ring);
            scale(&mut ring, self.volumes.speaker);
        }
        {
            let mut heard = [0i16; FRAME];
            let mut inputs: Vec<&[i16]> = self.sessions.values().map(|s| &s.heard[..]).collect();
            inputs.push(&tone);
            mix_into(&inputs, &mut heard);
            scale(&mut heard, self.volumes.get(self.path));
            mix_into(&[&heard, &ring], out);
        }
        let mut own = [0i16; FRAME];
        if !self.muted {
            let n = mic.len().min(FRAME);
            own[..n].copy_from_slice(&mic[..n]);
        }
        for call in &calls {
            let mut send = own;
            let held_here = self
                .sessions
                .get(call)
                .is_some_and(|s| s.order.send && !s.order.receive);
            if held_here {
                // We hold this call (sendonly): its party must not hear the room.
                send = [0; FRAME];
            } else if self.conference.contains(call) {
                // In a conference each party also hears the other one.
                let mut inputs: Vec<&[i16]> = vec![&own];
                for other in self.conference.iter().filter(|c| *c != call) {
                    if let Some(o) = self.sessions.get(other) {
                        inputs.push(&o.heard);
                    }
                }
                mix_into(&inputs, &mut send);
            }
            let s = self.sessions.get_mut(call).expect("listed");
            // An in-band digit replaces the voice while it sounds.
            if s.inband.is_active() {
                s.inband.fill(&mut send);
            }
            self.send(*call, &send);
            let s = self.sessions.get_mut(call).expect("listed");
            if s.rtcp.poll_timeout().is_some_and(|t| now >= t) {
                let info = s.sender.info();
                let _ = s
                    .rtcp
                    .handle_timeout(now, ntp_now(), &info, &mut s.receiver);
            }
            queue_rtcp(&mut self.transmits, *call, s);
        }
    }

    /// Adds a frame to what `call` sends; a packet leaves once a packet time is gathered.
    fn send(&mut self, call: u32, frame: &[i16]) {
        let Some(s) = self.sessions.get_mut(&call) else {
            return;
        };
        let (Some(to), true) = (s.order.remote_rtp, s.order.send) else {
            s.pending.clear();
            return;
        };
        s.pending.extend_from_slice(frame);
        let n = s.packet_samples();
        if s.pending.len() < n {
            return;
        }
        let event = s.order.telephone_event.filter(|_| s.dtmf_out.is_active());
        // Whether the audio is speech, when silences are suppressed (not while an event
        // replaces it).
        let decision = match (&mut s.dtx, event) {
            (Some(dtx), None) => Some(dtx.decide(&s.pending[..n])),
            _ => None,
        };
        let packet = if let Some(pt) = event {
            // An event replaces the audio of its packet times (RFC 4733 section 2.5.1.2).
            let e = s
                .dtmf_out
                .next_packet(s.sender.next_timestamp())
                .expect("active");
            let p = s.sender.packet_at(pt, &e.payload, e.timestamp, e.marker);
            s.sender.skip(n as u32);
            p
        } else if let (Some(Decision::Sid(level)), Some(pt)) = (decision, s.order.comfort_noise) {
            // The silence starts (or its level changed, or a refresh is due): a SID
            // stamped where it begins; the next speech packet carries the marker.
            let at = s.sender.next_timestamp();
            let p = s.sender.packet_at(pt, &cn::payload(level), at, false);
            s.sender.skip(n as u32);
            p
        } else if decision == Some(Decision::Nothing) {
            // Silence the far end already plays as comfort noise: nothing to send.
            s.sender.skip(n as u32);
            s.pending.drain(..n);
            return;
        } else {
            s.encoded.clear();
            s.encoder.encode(&s.pending[..n], &mut s.encoded);
            if s.encoded.is_empty() {
                // Discontinuous transmission (G.729 annex B): nothing this time.
                s.sender.skip(n as u32);
                s.pending.drain(..n);
                return;
            }
            s.sender
                .packet(s.order.payload_type, &s.encoded, n as u32, false)
        };
        s.pending.drain(..n);
        if let Ok(data) = packet {
            self.transmits.push_back(Transmit {
                call,
                rtcp: false,
                to,
                data,
            });
        }
    }

    /// Nothing to play or send: no session, no tone, no ringer.
    pub fn is_idle(&self) -> bool {
        self.sessions.is_empty() && self.tone.is_none() && self.ring.is_none()
    }

    /// The audio path the UI chose.
    pub fn path(&self) -> AudioPath {
        self.path
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn status(&self) -> Status {
        let mut status = crate::service::empty_status();
        status.path = self.path;
        status.muted = self.muted;
        status.volumes = self.volumes;
        status.sessions = self
            .sessions
            .iter()
            .map(|(call, s)| {
                let j = s.jitter.stats();
                SessionStatus {
                    call: *call,
                    rtp: RtpStatus {
                        codec: s.order.codec.clone(),
                        sent: s.sender.packets_sent(),
                        received: s.receiver.received(),
                        lost: s.receiver.lost().max(0) as u64,
                        jitter_ms: (s.receiver.jitter_ms() * 100.0).round() / 100.0,
                        local_port: s.order.local_port,
                        remote: s.order.remote_rtp.map(|a| a.to_string()),
                        concealed: j.concealed,
                        adjusted: j.dropped + j.inserted,
                        playout_delay_ms: j.target_delay_ms,
                        rtt_ms: s
                            .rtcp
                            .remote()
                            .and_then(|r| r.rtt)
                            .map(|d| d.as_secs_f64() * 1000.0),
                        dtmf_received: s.dtmf_received.clone(),
                        foreign_dropped: s.foreign_dropped,
                    },
                }
            })
            .collect();
        status
    }
}

/// Samples over which a skipped frame's step is ramped away (2.5 ms).
const SMOOTH: usize = 20;

/// Removes the step between `previous` (the last sample played) and the start of `frame`
/// by adding a decaying offset over the first samples.
fn smooth_step(frame: &mut [i16], previous: i16) {
    let step = f64::from(previous) - f64::from(frame[0]);
    for (i, s) in frame.iter_mut().take(SMOOTH).enumerate() {
        let weight = 1.0 - i as f64 / SMOOTH as f64;
        *s = (f64::from(*s) + step * weight)
            .round()
            .clamp(-32768.0, 32767.0) as i16;
    }
}

/// Applies a volume step: 0 silent, 5 nominal, 3 dB a step.
fn scale(frame: &mut [i16], level: u8) {
    if level == NOMINAL_VOLUME {
        return;
    }
    let gain = if level == 0 {
        0.0
    } else {
        10f64.powf(3.0 * (f64::from(level) - f64::from(NOMINAL_VOLUME)) / 20.0)
    };
    for s in frame {
        *s = (f64::from(*s) * gain).round().clamp(-32768.0, 32767.0) as i16;
    }
}

/// The RTCP the session wants sent: to the RTP port + 1 of the far end.
fn queue_rtcp(transmits: &mut VecDeque<Transmit>, call: u32, s: &mut Session) {
    let to = s
        .order
        .remote_rtp
        .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)));
    while let Some(data) = s.rtcp.poll_transmit() {
        if let Some(to) = to {
            transmits.push_back(Transmit {
                call,
                rtcp: true,
                to,
                data,
            });
        }
    }
}

/// Whether a packet the receiver counted is worth playing (not a duplicate, not from a
/// sequence that makes no sense).
fn useful(arrival: Arrival) -> bool {
    !matches!(arrival, Arrival::Duplicate | Arrival::BadSequence)
}

fn ntp_now() -> NtpTime {
    NtpTime::from_system_time(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_frame_starts_where_the_last_one_ended_and_joins_its_own_waveform() {
        let mut frame = [10_000i16; FRAME];
        smooth_step(&mut frame, -2_000);
        assert_eq!(frame[0], -2_000, "no step at the join");
        assert!(
            frame.windows(2).all(|w| (w[1] - w[0]).abs() <= 601),
            "a ramp, not a jump"
        );
        assert!(
            frame[SMOOTH..].iter().all(|s| *s == 10_000),
            "the rest untouched"
        );
    }
}
