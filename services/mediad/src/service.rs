//! mediad as a service: its Unix socket, the calls' sockets and the tasks receiving on
//! them, and the engine thread that does the audio.
//!
//! Received packets are stamped with their arrival time here, as they arrive, and queued to
//! the engine (a bounded queue: a flood of RTP is dropped, not buffered); the engine sends
//! from the same sockets. Orders from sipd and the UI go to the engine in the order they
//! came.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Instant;

use deskphone_ipc::mediad::{Event, Reply, Request, Server, SessionOrder, Status};
use deskphone_ipc::server::{accept_loop, Incoming};
use deskphone_ipc::{RuntimeDir, Service, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::{Engine, EngineInput, Packet};
use crate::sockets::MediaSockets;

/// Where the sound comes from and goes.
#[derive(Debug, Clone)]
pub enum AudioChoice {
    /// WAV files on a development machine or in tests (`None`: silence / nowhere).
    Files {
        source: Option<PathBuf>,
        sink: Option<PathBuf>,
    },
    /// The phone's sound card: the ALSA device of each audio path.
    Alsa {
        handset: String,
        speaker: String,
        headset: String,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeDir,
    /// The address the media sockets bind.
    pub bind: IpAddr,
    pub audio: AudioChoice,
}

/// One call's receiving tasks and the port they listen on.
struct CallSockets {
    port: u16,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for CallSockets {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Runs mediad until SIGTERM or SIGINT.
pub async fn run(opts: Options) -> anyhow::Result<i32> {
    let listener = deskphone_ipc::systemd::listen(&opts.runtime, Service::Mediad)?;
    let (in_tx, mut in_rx) = mpsc::channel::<Incoming<Server>>(16);
    tokio::spawn(accept_loop::<Server>(listener, in_tx));
    let (event_tx, mut event_rx) = mpsc::channel::<Event>(64);
    let engine = Engine::start(opts.audio.clone(), fastrand::u64(..), event_tx)?;
    let mut calls: HashMap<u32, CallSockets> = HashMap::new();
    let mut subscribers: Vec<mpsc::Sender<Event>> = Vec::new();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let _ = sd_notify_ready();
    // Fed only while the audio thread runs, not merely this runtime.
    crate::watchdog::spawn(engine.heartbeat());
    log::info!("mediad ready");
    loop {
        tokio::select! {
            Some(incoming) = in_rx.recv() => {
                let Incoming { request, events, reply } = incoming;
                let r = handle(request, &events, &mut subscribers, &mut calls, &engine, opts.bind).await;
                let _ = reply.send(r);
            }
            Some(ev) = event_rx.recv() => {
                if let Event::StatusMessage { text } = &ev {
                    log::warn!("{text}");
                }
                subscribers.retain(|s| !matches!(s.try_send(ev.clone()), Err(mpsc::error::TrySendError::Closed(_))));
            }
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    log::info!("stopping: ending {} sessions", calls.len());
    for call in calls.keys() {
        let _ = engine.order(Request::Stop { call: *call }).await;
    }
    engine.stop();
    Ok(0)
}

fn sd_notify_ready() -> std::io::Result<()> {
    sd_notify::notify(false, &[sd_notify::NotifyState::Ready])
}

async fn handle(
    request: Request,
    events: &mpsc::Sender<Event>,
    subscribers: &mut Vec<mpsc::Sender<Event>>,
    calls: &mut HashMap<u32, CallSockets>,
    engine: &Engine,
    bind: IpAddr,
) -> Reply {
    match request {
        Request::Hello(_) => Reply::Hello {
            version: PROTOCOL_VERSION,
            service: "mediad".into(),
        },
        Request::Status => Reply::Status(Box::new(engine.status())),
        Request::Subscribe => {
            subscribers.push(events.clone());
            Reply::Ok
        }
        Request::Session(order) => {
            // New ports are bound first but handed over only once the engine took the
            // order: a refused session keeps nothing bound, and a call moving to other
            // ports keeps its old ones.
            let fresh = match bind_new(&order, calls, bind) {
                Ok(fresh) => fresh,
                Err(message) => return Reply::Error { message },
            };
            let reply = engine.order(Request::Session(order.clone())).await;
            match (reply, fresh) {
                (Reply::Ok, Some(sockets)) => match attach(&order, sockets, calls, engine) {
                    Ok(()) => Reply::Ok,
                    Err(message) => Reply::Error { message },
                },
                // Refused: `fresh` is dropped here, its ports free at once.
                (reply, _) => reply,
            }
        }
        Request::Stop { call } => {
            let reply = engine.order(Request::Stop { call }).await;
            // After the engine's BYE went out on the sockets it holds.
            calls.remove(&call);
            reply
        }
        other => engine.order(other).await,
    }
}

/// The sockets a new call (or a call whose port changed) needs; `None` when the call
/// already has them.
fn bind_new(
    order: &SessionOrder,
    calls: &HashMap<u32, CallSockets>,
    bind: IpAddr,
) -> Result<Option<MediaSockets>, String> {
    if calls
        .get(&order.call)
        .is_some_and(|c| c.port == order.local_port)
    {
        return Ok(None);
    }
    MediaSockets::bind(bind, order.local_port, order.tos)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Starts receiving on a call's new sockets and gives them to the engine to send from;
/// the call's old sockets, if it moved, are closed.
fn attach(
    order: &SessionOrder,
    sockets: MediaSockets,
    calls: &mut HashMap<u32, CallSockets>,
    engine: &Engine,
) -> Result<(), String> {
    let receive = |s: &std::net::UdpSocket, rtcp: bool| -> Result<JoinHandle<()>, String> {
        let clone = s.try_clone().map_err(|e| e.to_string())?;
        clone.set_nonblocking(true).map_err(|e| e.to_string())?;
        let socket = tokio::net::UdpSocket::from_std(clone).map_err(|e| e.to_string())?;
        Ok(tokio::spawn(receive_loop(
            socket,
            order.call,
            rtcp,
            engine.input.clone(),
        )))
    };
    let rtp = receive(&sockets.rtp, false)?;
    let rtcp = match receive(&sockets.rtcp, true) {
        Ok(t) => t,
        Err(e) => {
            rtp.abort();
            return Err(e);
        }
    };
    // Its drop stops the tasks, should the engine be gone.
    let entry = CallSockets {
        port: order.local_port,
        tasks: [rtp, rtcp],
    };
    engine
        .input
        .send(EngineInput::Sockets {
            call: order.call,
            sockets,
        })
        .map_err(|_| "the audio engine stopped".to_string())?;
    let old = calls.insert(order.call, entry);
    if old.is_some() {
        // The engine dropped its old sockets when it took the new ones.
        log::info!(
            "call {}: media moves to port {}",
            order.call,
            order.local_port
        );
    }
    Ok(())
}

/// Receives one socket's packets for the engine, stamped with their arrival time.
async fn receive_loop(
    socket: tokio::net::UdpSocket,
    call: u32,
    rtcp: bool,
    engine: SyncSender<EngineInput>,
) {
    let mut buf = vec![0u8; 2048];
    let mut dropped = 0u64;
    loop {
        let (n, from): (usize, SocketAddr) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP port unreachable from a far end that is gone shows up here; keep going.
            Err(e) => {
                log::debug!("call {call}: receive: {e}");
                continue;
            }
        };
        let packet = Packet {
            call,
            rtcp,
            at: Instant::now(),
            from,
            data: buf[..n].to_vec(),
        };
        match engine.try_send(EngineInput::Packet(packet)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                dropped += 1;
                if dropped.is_power_of_two() {
                    log::warn!("call {call}: {dropped} packets dropped, the engine is behind");
                }
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// The status the socket answers, before the engine has produced one.
pub fn empty_status() -> Status {
    Status {
        mediad: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL_VERSION,
        path: deskphone_ipc::mediad::AudioPath::Handset,
        muted: false,
        volumes: Default::default(),
        device_error: None,
        codecs: crate::core::codecs(),
        sessions: Vec::new(),
    }
}
