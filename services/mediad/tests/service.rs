//! The mediad program itself: its socket, a call's RTP on real UDP sockets on loopback, and
//! a sound device that is missing (a status message, the calls go on).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deskphone_ipc::client::{Client, Mediad};
use deskphone_ipc::mediad::{Reply, Request, SessionOrder, Status};
use deskphone_ipc::RuntimeDir;

struct Daemon {
    child: Child,
    runtime: RuntimeDir,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let runtime = RuntimeDir::new(dir.path().join("run"));
    let child = Command::new(env!("CARGO_BIN_EXE_mediad"))
        .arg("--runtime")
        .arg(runtime.path())
        .args(["--bind", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("mediad");
    let end = Instant::now() + Duration::from_secs(10);
    while !runtime.socket(deskphone_ipc::Service::Mediad).exists() {
        assert!(Instant::now() < end, "mediad's socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon {
        child,
        runtime,
        _dir: dir,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn request(runtime: &RuntimeDir, r: Request) -> Reply {
    let mut c = Client::<Mediad>::connect(runtime, "test").await.unwrap();
    c.request(&r).await.unwrap()
}

async fn status(runtime: &RuntimeDir) -> Status {
    match request(runtime, Request::Status).await {
        Reply::Status(s) => *s,
        other => panic!("{other:?}"),
    }
}

fn free_even_port() -> u16 {
    loop {
        let p = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p.is_multiple_of(2) && p < 65000 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

fn order(call: u32, local_port: u16, peer: &UdpSocket) -> SessionOrder {
    SessionOrder {
        call,
        local_port,
        remote_rtp: Some(peer.local_addr().unwrap()),
        codec: "PCMA".into(),
        payload_type: 8,
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

/// RTP packets `peer` receives in `time`: (payload type, sequence numbers).
fn receive(peer: &UdpSocket, time: Duration) -> Vec<(u8, u16)> {
    peer.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + time;
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok((n, _)) = peer.recv_from(&mut buf) {
            if n >= 12 {
                got.push((buf[1] & 0x7f, u16::from_be_bytes([buf[2], buf[3]])));
            }
        }
    }
    got
}

#[test]
fn a_session_sends_rtp_from_its_port_every_20_ms_until_stopped() {
    let d = start(&[]);
    let rt = rt();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free_even_port();
    let r = rt.block_on(request(&d.runtime, Request::Session(order(3, port, &peer))));
    assert_eq!(r, Reply::Ok);
    let got = receive(&peer, Duration::from_secs(1));
    assert!(
        (40..=55).contains(&got.len()),
        "{} packets in 1 s",
        got.len()
    );
    assert!(got.iter().all(|(pt, _)| *pt == 8), "PCMA");
    assert!(
        got.windows(2).all(|w| w[1].1 == w[0].1.wrapping_add(1)),
        "consecutive sequence numbers"
    );
    // The same port cannot be taken by a second call: a clear refusal.
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = rt.block_on(request(
        &d.runtime,
        Request::Session(order(4, port, &other)),
    ));
    assert!(
        matches!(&r, Reply::Error { message } if message.contains(&port.to_string())),
        "{r:?}"
    );
    let s = rt.block_on(status(&d.runtime));
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(s.sessions[0].rtp.codec, "PCMA");
    assert_eq!(s.sessions[0].rtp.local_port, port);
    assert!(s.codecs.contains(&"PCMU".to_string()));
    let r = rt.block_on(request(&d.runtime, Request::Stop { call: 3 }));
    assert_eq!(r, Reply::Ok);
    // The RTCP BYE went to port + 1; no more RTP.
    std::thread::sleep(Duration::from_millis(100));
    assert!(receive(&peer, Duration::from_millis(300)).is_empty());
    // The port is free again.
    assert!(UdpSocket::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn a_missing_sound_card_is_a_status_message_and_the_call_goes_on() {
    let d = start(&["--alsa-device", "hw:CARD=NoSuchCard"]);
    let rt = rt();
    // Either "no such device" (built with ALSA) or "not built in": both name the device.
    let end = Instant::now() + Duration::from_secs(5);
    let e = loop {
        if let Some(e) = rt.block_on(status(&d.runtime)).device_error {
            break e;
        }
        assert!(Instant::now() < end, "no device error reported");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(e.contains("NoSuchCard"), "{e}");
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = rt.block_on(request(
        &d.runtime,
        Request::Session(order(1, free_even_port(), &peer)),
    ));
    assert_eq!(r, Reply::Ok);
    let got = receive(&peer, Duration::from_secs(1));
    assert!(
        got.len() >= 40,
        "RTP goes on without a sound card: {}",
        got.len()
    );
}

#[test]
fn an_idle_phone_leaves_the_cpu_alone_and_a_dial_tone_reaches_the_earpiece() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("earpiece.wav");
    let d = start(&["--audio-sink", sink.to_str().unwrap()]);
    let rt = rt();
    // Ready, and nothing to play.
    rt.block_on(status(&d.runtime));
    let before = deskphone_e2e::cpu_time(d.child.id());
    std::thread::sleep(Duration::from_secs(3));
    let idle = deskphone_e2e::cpu_time(d.child.id()) - before;
    assert!(
        idle <= Duration::from_millis(20),
        "{idle:?} of CPU in 3 s idle: the audio thread should sleep"
    );
    // A dial tone wakes it for as long as it sounds.
    let dial = Request::Tone {
        tone: Some(deskphone_ipc::mediad::Tone::Dial),
    };
    assert_eq!(rt.block_on(request(&d.runtime, dial)), Reply::Ok);
    std::thread::sleep(Duration::from_secs(1));
    let stop = Request::Tone { tone: None };
    assert_eq!(rt.block_on(request(&d.runtime, stop)), Reply::Ok);
    let wav = hound::WavReader::open(&sink).unwrap();
    let samples: Vec<i16> = wav.into_samples().map(Result::unwrap).collect();
    let seconds = samples.len() as f64 / 8000.0;
    assert!(
        (0.8..1.5).contains(&seconds),
        "{seconds} s written: the tone, no idle time"
    );
    let tone = &samples[800..samples.len() - 800];
    for hz in [350.0, 440.0] {
        let share = relative_power_of(tone, hz);
        assert!(share > 0.3, "{hz} Hz is {share:.2} of the dial tone");
    }
}

fn relative_power_of(samples: &[i16], hz: f64) -> f64 {
    deskphone_dsp::goertzel::relative_power(samples, hz, 8000)
}

#[test]
fn a_refused_session_leaves_its_ports_free_at_once() {
    let d = start(&[]);
    let rt = rt();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free_even_port();
    let refused = SessionOrder {
        codec: "G722".into(),
        payload_type: 9,
        ..order(5, port, &peer)
    };
    let r = rt.block_on(request(&d.runtime, Request::Session(refused)));
    assert!(
        matches!(&r, Reply::Error { message } if message.contains("G722")),
        "{r:?}"
    );
    // No Stop: the ports are free already, and nothing was left behind.
    assert!(
        UdpSocket::bind(("127.0.0.1", port)).is_ok(),
        "RTP port held"
    );
    assert!(
        UdpSocket::bind(("127.0.0.1", port + 1)).is_ok(),
        "RTCP port held"
    );
    assert!(rt.block_on(status(&d.runtime)).sessions.is_empty());
    // The call can then be set up on the same ports.
    let r = rt.block_on(request(&d.runtime, Request::Session(order(5, port, &peer))));
    assert_eq!(r, Reply::Ok);
    assert!(receive(&peer, Duration::from_millis(500)).len() >= 15);
}

#[test]
fn rtp_from_another_address_than_the_far_ends_is_dropped_and_counted() {
    let d = start(&[]);
    let rt = rt();
    // The far end as the SDP gave it: 127.0.0.1 and this socket's port.
    let far_end = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free_even_port();
    let r = rt.block_on(request(
        &d.runtime,
        Request::Session(order(2, port, &far_end)),
    ));
    assert_eq!(r, Reply::Ok);
    let send_from = |from: &UdpSocket, seed: u64| {
        let mut rtp = deskphone_rtp::RtpSender::new(seed);
        for _ in 0..25 {
            let p = rtp.packet(8, &[0xd5; 160], 160, false).unwrap();
            from.send_to(&p, ("127.0.0.1", port)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let rtp_of = |rt: &tokio::runtime::Runtime| {
        std::thread::sleep(Duration::from_millis(200));
        rt.block_on(status(&d.runtime)).sessions[0].rtp.clone()
    };
    // Another host (127.0.0.2 is loopback too on Linux): its RTP and RTCP are dropped.
    let stranger = UdpSocket::bind("127.0.0.2:0").unwrap();
    send_from(&stranger, 1);
    stranger
        .send_to(
            &[0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1],
            ("127.0.0.1", port + 1),
        )
        .unwrap();
    let rtp = rtp_of(&rt);
    assert_eq!(rtp.received, 0, "{rtp:?}");
    assert_eq!(rtp.foreign_dropped, 26, "{rtp:?}");
    // The far end's address from another port (a NAT's mapping): taken.
    let natted = UdpSocket::bind("127.0.0.1:0").unwrap();
    send_from(&natted, 2);
    let rtp = rtp_of(&rt);
    assert!(rtp.received >= 20, "{rtp:?}");
    assert_eq!(rtp.foreign_dropped, 26, "{rtp:?}");
}
