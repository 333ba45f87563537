//! The audio thread: paced by the sound device (or by a WAV file played in real time), it
//! reads one frame from the microphone, feeds the core the packets that arrived meanwhile
//! and the orders that came, lets it work, sends what it produced, and writes one frame to
//! the earpiece. A sound device that fails does not stop the calls: the thread goes on
//! paced by the clock with silence, reports it, and tries the device again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deskphone_audio::{Aec3Canceller, AudioError, Capture, EchoCanceller, Pacing, Playback};
use deskphone_ipc::mediad::{AudioPath, Event, Reply, Request, Status};
use tokio::sync::{mpsc, oneshot};

use crate::core::{MediaCore, FRAME};
use crate::service::{empty_status, AudioChoice};
use crate::sockets::MediaSockets;
use crate::watchdog::Heartbeat;

/// Packets and orders queued for the engine before packets are dropped.
const QUEUE: usize = 1024;
/// How often a failed sound device is tried again.
const DEVICE_RETRY: Duration = Duration::from_secs(5);
/// How often the status others read is refreshed.
const STATUS_EVERY: Duration = Duration::from_millis(100);

/// A packet as it arrived on a call's socket.
#[derive(Debug)]
pub struct Packet {
    pub call: u32,
    pub rtcp: bool,
    pub at: Instant,
    pub from: SocketAddr,
    pub data: Vec<u8>,
}

pub enum EngineInput {
    /// A call's sockets, to send from (the service receives on clones of them).
    Sockets {
        call: u32,
        sockets: MediaSockets,
    },
    Order(Request, oneshot::Sender<Reply>),
    Packet(Packet),
    Quit,
}

pub struct Engine {
    pub input: SyncSender<EngineInput>,
    status: Arc<Mutex<Status>>,
    /// Stamped by the audio thread each time round its loop (for the watchdog).
    heartbeat: Arc<Heartbeat>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    pub fn start(
        audio: AudioChoice,
        seed: u64,
        events: mpsc::Sender<Event>,
    ) -> anyhow::Result<Engine> {
        let (tx, rx) = sync_channel(QUEUE);
        let status = Arc::new(Mutex::new(empty_status()));
        let shared = status.clone();
        let heartbeat = Arc::new(Heartbeat::new(Instant::now()));
        let beats = heartbeat.clone();
        let thread = std::thread::Builder::new()
            .name("audio".into())
            .spawn(move || run(audio, seed, rx, events, shared, &beats))?;
        Ok(Engine {
            input: tx,
            status,
            heartbeat,
            thread: Some(thread),
        })
    }

    /// The audio thread's heartbeat.
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// Hands an order to the engine and waits for its answer (at most about a frame).
    pub async fn order(&self, request: Request) -> Reply {
        let (tx, rx) = oneshot::channel();
        // `send` blocks only while the queue is full of packets: a moment at worst.
        if self.input.send(EngineInput::Order(request, tx)).is_err() {
            return Reply::Error {
                message: "the audio engine stopped".into(),
            };
        }
        rx.await.unwrap_or(Reply::Error {
            message: "the audio engine stopped".into(),
        })
    }

    pub fn status(&self) -> Status {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| empty_status())
    }

    pub fn stop(mut self) {
        let _ = self.input.send(EngineInput::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sound devices, or the clock standing in for a device that failed.
struct Devices {
    choice: AudioChoice,
    path: AudioPath,
    /// Speaker mode on a sound card: the loudspeaker's sound is taken out of the microphone.
    echo: Option<Box<dyn EchoCanceller>>,
    /// What the earpiece or speaker played last: the echo canceller's reference.
    played: [i16; FRAME],
    capture: Option<Box<dyn Capture>>,
    playback: Option<Box<dyn Playback>>,
    error: Option<String>,
    retry_at: Instant,
    /// Paces the thread while a device is missing.
    next_tick: Instant,
}

impl Devices {
    fn open(choice: AudioChoice) -> Devices {
        let mut d = Devices {
            choice,
            path: AudioPath::Handset,
            echo: None,
            played: [0; FRAME],
            capture: None,
            playback: None,
            error: None,
            retry_at: Instant::now(),
            next_tick: Instant::now(),
        };
        d.try_open();
        d
    }

    fn try_open(&mut self) {
        match open_devices(&self.choice, self.path) {
            Ok((c, p)) => {
                if self.error.take().is_some() {
                    log::info!("sound device working again");
                }
                self.capture = Some(c);
                self.playback = Some(p);
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: AudioError) {
        self.capture = None;
        self.playback = None;
        self.error = Some(e.to_string());
        self.retry_at = Instant::now() + DEVICE_RETRY;
        self.next_tick = Instant::now();
    }

    /// Nothing to play: a sound card is closed (it stops interrupting, and a card another
    /// program wants is free); files stay open so the earpiece file goes on where it was.
    /// The next read opens the card again.
    fn suspend(&mut self) {
        if matches!(self.choice, AudioChoice::Alsa { .. }) && self.capture.is_some() {
            self.capture = None;
            self.playback = None;
            self.retry_at = Instant::now();
            if let Some(aec) = &mut self.echo {
                aec.reset();
            }
        }
    }

    /// The UI chose another audio path: its devices, and echo cancellation for the speaker.
    fn switch(&mut self, path: AudioPath) {
        if path == self.path {
            return;
        }
        let same = alsa_device(&self.choice, path) == alsa_device(&self.choice, self.path);
        self.path = path;
        let on_card = matches!(self.choice, AudioChoice::Alsa { .. });
        self.echo = (on_card && path == AudioPath::Speaker)
            .then(|| Box::new(Aec3Canceller::new()) as Box<dyn EchoCanceller>);
        if !same {
            log::info!("audio path {path:?}: opening its devices");
            self.capture = None;
            self.playback = None;
            self.try_open();
        }
    }

    /// One frame of microphone: from the device, or silence paced by the clock.
    fn read(&mut self, mic: &mut [i16]) {
        if let Some(c) = &mut self.capture {
            match c.read(mic) {
                Ok(()) => {
                    if let Some(aec) = &mut self.echo {
                        aec.process(&self.played, mic);
                    }
                    return;
                }
                Err(e) => self.fail(e),
            }
        }
        if Instant::now() >= self.retry_at {
            self.try_open();
            if self.capture.is_some() {
                return self.read(mic);
            }
        }
        mic.fill(0);
        self.next_tick += Duration::from_millis(FRAME_MS);
        let now = Instant::now();
        if self.next_tick > now {
            std::thread::sleep(self.next_tick - now);
        } else if now - self.next_tick > Duration::from_millis(200) {
            self.next_tick = now;
        }
    }

    fn write(&mut self, out: &[i16]) {
        let n = out.len().min(FRAME);
        self.played[..n].copy_from_slice(&out[..n]);
        if let Some(p) = &mut self.playback {
            if let Err(e) = p.write(out) {
                self.fail(e);
            }
        }
    }
}

/// The ALSA device of a path (`None` for the host backends).
fn alsa_device(choice: &AudioChoice, path: AudioPath) -> Option<&str> {
    match choice {
        AudioChoice::Files { .. } => None,
        AudioChoice::Alsa {
            handset,
            speaker,
            headset,
        } => Some(match path {
            AudioPath::Handset => handset,
            AudioPath::Speaker => speaker,
            AudioPath::Headset => headset,
        }),
    }
}

/// A capture and a playback device.
type Opened = (Box<dyn Capture>, Box<dyn Playback>);

/// Opens the sound devices the choice names: the capture side paces the engine (a file in
/// real time, or the sound card's clock); the playback side follows it.
fn open_devices(choice: &AudioChoice, path: AudioPath) -> Result<Opened, AudioError> {
    use deskphone_audio::{NullSink, NullSource, WavSink, WavSource};
    match choice {
        AudioChoice::Files { source, sink } => {
            let capture: Box<dyn Capture> = match source {
                Some(f) => Box::new(WavSource::open(f, Pacing::RealTime)?),
                None => Box::new(NullSource::new(Pacing::RealTime)),
            };
            let playback: Box<dyn Playback> = match sink {
                Some(f) => Box::new(WavSink::create(f, Pacing::Unpaced)?),
                None => Box::new(NullSink::new(Pacing::Unpaced)),
            };
            Ok((capture, playback))
        }
        AudioChoice::Alsa { .. } => {
            let device = alsa_device(choice, path).unwrap_or("default");
            Ok((
                deskphone_audio::open_capture(device, FRAME)?,
                deskphone_audio::open_playback(device, FRAME)?,
            ))
        }
    }
}

const FRAME_MS: u64 = (FRAME as u64) / 8;

/// What the audio thread owns besides the core.
struct Thread {
    core: MediaCore,
    devices: Devices,
    sockets: HashMap<u32, MediaSockets>,
    events: mpsc::Sender<Event>,
    status: Arc<Mutex<Status>>,
    reported: Option<String>,
}

impl Thread {
    /// One input; `false` when the engine is to stop.
    fn handle(&mut self, input: EngineInput) -> bool {
        match input {
            EngineInput::Packet(p) => {
                if p.rtcp {
                    self.core.handle_rtcp(p.at, p.call, p.from, &p.data);
                } else {
                    self.core.handle_rtp(p.at, p.call, p.from, &p.data);
                }
            }
            EngineInput::Sockets { call, sockets } => {
                self.sockets.insert(call, sockets);
            }
            EngineInput::Order(request, reply) => {
                let stop = match &request {
                    Request::Stop { call } => Some(*call),
                    _ => None,
                };
                let r = self.core.order(Instant::now(), request);
                self.devices.switch(self.core.path());
                // The BYE goes out before the sockets close.
                send(&mut self.core, &self.sockets);
                if let Some(call) = stop {
                    self.sockets.remove(&call);
                }
                // A status asked right after an order shows it.
                self.publish();
                let _ = reply.send(r);
            }
            EngineInput::Quit => return false,
        }
        true
    }

    /// Publishes the status others read, and a device problem once as a status message.
    fn publish(&mut self) {
        if self.devices.error != self.reported {
            if let Some(e) = &self.devices.error {
                let _ = self.events.try_send(Event::StatusMessage {
                    text: format!("sound device: {e}"),
                });
            }
            self.reported = self.devices.error.clone();
        }
        let mut s = self.core.status();
        s.device_error = self.devices.error.clone();
        if let Ok(mut shared) = self.status.lock() {
            *shared = s;
        }
    }
}

fn run(
    audio: AudioChoice,
    seed: u64,
    input: Receiver<EngineInput>,
    events: mpsc::Sender<Event>,
    status: Arc<Mutex<Status>>,
    heartbeat: &Heartbeat,
) {
    let mut t = Thread {
        core: MediaCore::new(seed, Instant::now()),
        // Opened once at start so a missing card is reported at once, not at the first call.
        devices: Devices::open(audio),
        sockets: HashMap::new(),
        events,
        status,
        reported: None,
    };
    let mut mic = [0i16; FRAME];
    let mut out = [0i16; FRAME];
    let mut status_at = Instant::now();
    let mut clock = AudioClock::default();
    loop {
        heartbeat.beat(Instant::now());
        if t.core.is_idle() {
            // No call, tone or ringer: the sound card rests (and the thread with it) until
            // an order comes.
            t.devices.suspend();
            t.publish();
            match input.recv_timeout(STATUS_EVERY * 10) {
                Ok(i) => {
                    if !t.handle(i) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            continue;
        }
        t.devices.read(&mut mic);
        let now = clock.tick(Instant::now());
        // Everything that came during the frame, in order.
        loop {
            match input.try_recv() {
                Ok(i) => {
                    if !t.handle(i) {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        t.core.tick(now, &mic, &mut out);
        send(&mut t.core, &t.sockets);
        while let Some(e) = t.core.poll_event() {
            let _ = t.events.try_send(e);
        }
        t.devices.write(&out);
        if now >= status_at {
            status_at = now + STATUS_EVERY;
            t.publish();
        }
    }
}

/// The time of the frame being played, from the count of frames since the device started:
/// the jitter buffer sees the sound card's regular clock, not when this thread happened to
/// be scheduled (a late wake-up would look like a buffer grown too long and cost a frame).
#[derive(Default)]
struct AudioClock {
    start: Option<Instant>,
    frames: u32,
}

impl AudioClock {
    fn tick(&mut self, wall: Instant) -> Instant {
        let period = Duration::from_millis(FRAME_MS);
        let at = match self.start {
            Some(s) => s + period * self.frames,
            None => wall,
        };
        // Far behind (a stalled device, a suspended machine) or ahead: start counting again.
        if self.start.is_none()
            || wall.saturating_duration_since(at) > Duration::from_millis(200)
            || at > wall + period
        {
            self.start = Some(wall);
            self.frames = 1;
            return wall;
        }
        self.frames += 1;
        at
    }
}

fn send(core: &mut MediaCore, sockets: &HashMap<u32, MediaSockets>) {
    while let Some(t) = core.poll_transmit() {
        let Some(s) = sockets.get(&t.call) else {
            continue;
        };
        let socket = if t.rtcp { &s.rtcp } else { &s.rtp };
        if let Err(e) = socket.send_to(&t.data, t.to) {
            log::debug!("call {}: send to {}: {e}", t.call, t.to);
        }
    }
}
