//! baresip (`apt-get install baresip-core`, 1.0.0 in Debian 12) as a second phone: it calls
//! the phone under test and is called by it, holds, transfers.
//!
//! Each instance has its own configuration directory (`baresip -f DIR`) and listens for SIP
//! on 127.0.0.1 only (`sip_listen`, `net_interface 127.0.0.1`: the SDP offers 127.0.0.1 too;
//! [`BaresipOptions::ip`] picks another address), on UDP and TCP port P and TLS port P+1.
//! It is driven over the `ctrl_tcp` module: one TCP connection carrying netstrings
//! (`LEN:JSON,`), commands `{"command":"dial","params":"sip:…","token":"7"}` answered by
//! `{"response":true,"ok":true,"data":"…","token":"7"}`, and events sent as they happen,
//! `{"event":true,"type":"CALL_INCOMING","class":"call","accountaor":"sip:…",
//! "direction":"incoming","peeruri":"sip:…","id":"<Call-ID>","param":"…"}`. baresip 1.0.0
//! sends events to the latest connection only, so the harness keeps a single one, opened
//! before the account exists (`uanew` over that connection): no event is missed.
//!
//! The commands are the long commands of the `menu` module. Always there: `dial URI` (without
//! URI: redial), `accept`, `hangup`, `listcalls`, `reginfo`, `uanew ACCOUNT`,
//! `answermode auto|manual`, `help`. During a call only (else `ok: false`, "command not
//! found"): `hold`, `resume` (re-INVITEs, `a=sendonly` then `a=sendrecv`), `transfer URI`
//! (a REFER: blind transfer), `line N` (the current call), `mute`, `reinvite`,
//! `sndcode DIGITS`. They act on the current call.
//!
//! The event types of 1.0.0: `REGISTERING`, `REGISTER_OK`, `REGISTER_FAIL`,
//! `UNREGISTERING`, `CALL_INCOMING` (not for a call answered automatically),
//! `CALL_RINGING`, `CALL_PROGRESS`, `CALL_ESTABLISHED`, `CALL_CLOSED` (`param`: the reason,
//! e.g. "404 Not Here"), `CALL_LOCAL_SDP`/`CALL_REMOTE_SDP` (`param`: `offer`/`answer`, so a
//! re-INVITE for hold shows as a `CALL_REMOTE_SDP` `offer` at the held side),
//! `CALL_RTPESTAB` (first RTP received), `CALL_RTCP`, `CALL_DTMF_START`/`CALL_DTMF_END`,
//! `CALL_MENC`, `TRANSFER` (at the transferee, `param`: the Refer-To URI; it then dials it
//! as a new call; the first call ends once that one is answered), `TRANSFER_FAILED`,
//! `MWI_NOTIFY`, `AUDIO_ERROR`, `SHUTDOWN`, `EXIT`. There is no hold event in 1.0.0.
//!
//! Audio: no sound card. G.711 only (PCMU, PCMA). The source is a 440 Hz sine (`ausine`,
//! which works at 48 kHz stereo only; baresip resamples to 8 kHz mono) or a WAV file
//! (`aufile`; S16LE, any rate and channel count: the harness reads them from the header).
//! baresip 1.0.0 hangs up the call when the file ends ("menu: audio error (0,end of
//! file)"): give a file as long as the call ([`sine_wav`] writes one). 1.0.0 has no file
//! player (`aufile` is a source only) and no player at all is loaded: what arrives is still
//! decoded, and with [`BaresipOptions::audio_sink`] the `sndfile` filter records every call
//! there (see [`Baresip::received_audio`]).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{wait_for, Guard};

/// Debian's module directory of the `baresip-core` package.
const MODULES: &str = "/usr/lib/baresip/modules";

/// Frequency of the default audio source (`ausine`).
pub const SINE_HZ: u32 = 440;

/// How long a command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`Baresip`] is.
#[derive(Debug, Clone, Default)]
pub struct BaresipOptions {
    /// The user part of its address (and the digest username).
    pub user: String,
    /// The address it takes SIP and media on, and offers in SDP: 127.0.0.1 unless set (one
    /// of the host's, e.g. of a [`private_network`](crate::private_network)).
    pub ip: Option<String>,
    /// The digest password (`auth_pass`).
    pub password: Option<String>,
    /// The registrar (e.g. [`Kamailio`](crate::sip::Kamailio)`::addr`): the account is
    /// `sip:USER@ADDR`, registered there (and [`Baresip::start`] waits for `REGISTER_OK`);
    /// calls to other AoRs of that domain go through it. `None`: `sip:USER@127.0.0.1`, no
    /// registration, calls to `sip:user@IP:PORT` directly.
    pub registrar: Option<SocketAddr>,
    /// Answers incoming calls at once (`answermode=auto`); else they ring until
    /// [`Baresip::accept`].
    pub auto_answer: bool,
    /// A WAV file (S16LE) to send instead of the sine; the call ends with the file.
    pub audio_source: Option<PathBuf>,
    /// A directory where each call is recorded by the `sndfile` filter, as
    /// `dump-<local time to the second>-dec.wav` (what was received, decoded) and
    /// `…-enc.wav` (what was sent), 8 kHz mono S16LE. Two calls starting within the same
    /// second share the names (the second overwrites the first).
    pub audio_sink: Option<PathBuf>,
}

impl BaresipOptions {
    /// A user without password, registrar or audio files, answering by hand.
    pub fn new(user: &str) -> BaresipOptions {
        BaresipOptions {
            user: user.to_string(),
            ..Default::default()
        }
    }
}

/// What the reader thread collects from the control connection.
#[derive(Default)]
struct Inbox {
    events: Vec<Value>,
    responses: HashMap<String, Value>,
    /// Per event type, how far [`Baresip::wait_event`] has returned events.
    cursors: HashMap<String, usize>,
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    changed: Condvar,
}

/// A running baresip, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Baresip {
    /// Where it takes SIP (UDP and TCP).
    pub sip_addr: SocketAddr,
    /// Its `ctrl_tcp` address.
    pub ctrl_addr: SocketAddr,
    /// Its account's address, e.g. `sip:alice@127.0.0.1:5060` (the registrar's) or
    /// `sip:alice@127.0.0.1`.
    pub aor: String,
    pub dir: tempfile::TempDir,
    audio_sink: Option<PathBuf>,
    ctrl: Mutex<TcpStream>,
    shared: Arc<Shared>,
    tokens: AtomicU64,
    child: Guard,
}

impl Baresip {
    /// Starts baresip and waits until it takes commands and, with a registrar, until it is
    /// registered.
    pub fn start(opts: BaresipOptions) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let ip = opts.ip.as_deref().unwrap_or("127.0.0.1");
        let sip_port = free_sip_port(ip);
        let sip_addr: SocketAddr = format!("{ip}:{sip_port}").parse().expect("address");
        let ctrl_addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free TCP port");
        std::fs::write(
            dir.path().join("config"),
            config(sip_addr, ctrl_addr, &opts),
        )
        .expect("write config");
        // No account at start: it is made over the control connection, so that its events
        // (REGISTER_OK) come to the harness.
        std::fs::write(dir.path().join("accounts"), "").expect("write accounts");
        std::fs::write(dir.path().join("contacts"), "").expect("write contacts");
        let log_path = dir.path().join("baresip.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let child = Command::new("/usr/bin/baresip")
            .arg("-f")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting /usr/bin/baresip (apt-get install baresip-core)");
        let mut child = Guard(child);
        let stream = wait_for(
            "baresip's ctrl_tcp to accept",
            Duration::from_secs(10),
            || {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!(
                        "baresip exited ({status}) while starting:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
                TcpStream::connect(ctrl_addr).ok()
            },
        );
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            changed: Condvar::new(),
        });
        let reader = stream.try_clone().expect("clone the control connection");
        let s = Arc::clone(&shared);
        std::thread::spawn(move || read_control(reader, &s));

        let (aor, account) = account(&opts);
        let b = Baresip {
            sip_addr,
            ctrl_addr,
            aor,
            dir,
            audio_sink: opts.audio_sink.clone(),
            ctrl: Mutex::new(stream),
            shared,
            tokens: AtomicU64::new(1),
            child,
        };
        if let Err(e) = b.command("uanew", &account) {
            panic!("uanew {account}: {e}\n{}", b.log_tail());
        }
        if opts.registrar.is_some() {
            b.wait_registered(Duration::from_secs(10));
        }
        b
    }

    /// Sends a command (a long command of the `menu` module, without its `/`) and waits for
    /// its response: the whole response object when `ok`, else its `data`.
    pub fn command(&self, command: &str, params: &str) -> Result<Value, String> {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed).to_string();
        let mut msg = json!({"command": command, "token": token});
        if !params.is_empty() {
            msg["params"] = Value::String(params.to_string());
        }
        let body = msg.to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .lock()
            .expect("control connection")
            .write_all(frame.as_bytes())
            .map_err(|e| format!("sending {command} to baresip: {e}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut inbox = self.shared.inbox.lock().expect("inbox");
        loop {
            if let Some(r) = inbox.responses.remove(&token) {
                return if r["ok"] == true {
                    Ok(r)
                } else {
                    Err(r["data"].as_str().unwrap_or_default().trim().to_string())
                };
            }
            if inbox.closed {
                return Err(format!("baresip closed the control connection ({command})"));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no response to {command} in {COMMAND_TIMEOUT:?}"));
            }
            inbox = self
                .shared
                .changed
                .wait_timeout(inbox, deadline - now)
                .expect("inbox")
                .0;
        }
    }

    /// [`command`](Self::command), which must succeed; the response's `data`.
    pub fn ok(&self, command: &str, params: &str) -> String {
        match self.command(command, params) {
            Ok(r) => r["data"].as_str().unwrap_or_default().to_string(),
            Err(e) => panic!("baresip {command} {params}: {e}\nlog:\n{}", self.log_tail()),
        }
    }

    /// Calls `uri` (`sip:user@host[:port]`; a bare user is taken in the account's domain).
    pub fn dial(&self, uri: &str) {
        self.ok("dial", uri);
    }

    /// Answers the ringing call.
    pub fn accept(&self) {
        self.ok("accept", "");
    }

    /// Ends the current call (a CANCEL, a 486 or a BYE).
    pub fn hangup(&self) {
        self.ok("hangup", "");
    }

    /// Puts the current call on hold (a re-INVITE with `a=sendonly`).
    pub fn hold(&self) {
        self.ok("hold", "");
    }

    /// Takes the current call off hold (a re-INVITE with `a=sendrecv`).
    pub fn resume(&self) {
        self.ok("resume", "");
    }

    /// Transfers the current call to `uri` (a REFER to the peer; blind transfer).
    pub fn transfer(&self, uri: &str) {
        self.ok("transfer", uri);
    }

    /// Sets the answer mode of the account: `true` answers incoming calls at once.
    pub fn set_auto_answer(&self, auto: bool) {
        self.ok("answermode", if auto { "auto" } else { "manual" });
    }

    /// `listcalls`: one line per call, e.g. `> [line 1]  0:00:03  ESTABLISHED  sip:…`.
    pub fn list_calls(&self) -> String {
        self.ok("listcalls", "")
    }

    /// The next event of type `kind` (`CALL_INCOMING`, `CALL_ESTABLISHED`, …) that no
    /// earlier `wait_event` for that type returned, waiting up to `timeout` for it.
    /// Panics on timeout with the events seen and the end of baresip's log.
    pub fn wait_event(&self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let mut inbox = self.shared.inbox.lock().expect("inbox");
        loop {
            let from = inbox.cursors.get(kind).copied().unwrap_or(0);
            let found = inbox.events[from..]
                .iter()
                .position(|e| e["type"] == kind)
                .map(|i| from + i);
            if let Some(i) = found {
                inbox.cursors.insert(kind.to_string(), i + 1);
                return inbox.events[i].clone();
            }
            let now = Instant::now();
            if now >= deadline || inbox.closed {
                let seen = summary(&inbox.events);
                let closed = inbox.closed;
                drop(inbox);
                panic!(
                    "{} waiting for {kind} from baresip {}\nevents: {seen}\nlog:\n{}",
                    if closed {
                        "connection closed"
                    } else {
                        "timed out"
                    },
                    self.aor,
                    self.log_tail()
                );
            }
            inbox = self
                .shared
                .changed
                .wait_timeout(inbox, deadline - now)
                .expect("inbox")
                .0;
        }
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.shared.inbox.lock().expect("inbox").events.clone()
    }

    /// The types of the events received so far, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Waits for the next `REGISTER_OK`; panics at once on a `REGISTER_FAIL` before it.
    pub fn wait_registered(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut inbox = self.shared.inbox.lock().expect("inbox");
        loop {
            let from = inbox.cursors.get("REGISTER_OK").copied().unwrap_or(0);
            let found = inbox.events[from..]
                .iter()
                .position(|e| e["type"] == "REGISTER_OK" || e["type"] == "REGISTER_FAIL")
                .map(|i| from + i);
            if let Some(i) = found {
                if inbox.events[i]["type"] == "REGISTER_OK" {
                    inbox.cursors.insert("REGISTER_OK".to_string(), i + 1);
                    return;
                }
                let why = inbox.events[i]["param"].clone();
                drop(inbox);
                panic!(
                    "baresip {} failed to register: {why}\nlog:\n{}",
                    self.aor,
                    self.log_tail()
                );
            }
            let now = Instant::now();
            if now >= deadline || inbox.closed {
                drop(inbox);
                // Panics with the events and the log.
                self.wait_event("REGISTER_OK", Duration::ZERO);
                return;
            }
            inbox = self
                .shared
                .changed
                .wait_timeout(inbox, deadline - now)
                .expect("inbox")
                .0;
        }
    }

    /// The calls' recordings of what was received (`*-dec.wav` in
    /// [`BaresipOptions::audio_sink`]), oldest first; empty without a sink.
    pub fn received_audio(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.audio_sink else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("dump-") && n.ends_with("-dec.wav"))
            })
            .collect();
        files.sort();
        files
    }

    /// baresip's process id (for CPU and memory figures).
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// baresip's stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops baresip (SIGTERM: it hangs up and unregisters first) and returns how it ended.
    pub fn stop(self) -> std::process::ExitStatus {
        let _ = self.ctrl.lock().map(|c| c.shutdown(Shutdown::Both).ok());
        self.child.stop()
    }
}

/// A port P on `ip` where UDP P, TCP P and TCP P+1 (baresip's SIP over TLS) are all free.
fn free_sip_port(ip: &str) -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind((ip, 0)) else {
            continue;
        };
        let Ok(port) = udp.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port == u16::MAX {
            continue;
        }
        if TcpListener::bind((ip, port)).is_ok() && TcpListener::bind((ip, port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free port for baresip's SIP");
}

/// The account's address and the `uanew` line.
fn account(opts: &BaresipOptions) -> (String, String) {
    let aor = match opts.registrar {
        Some(r) => format!("sip:{}@{r}", opts.user),
        None => format!(
            "sip:{}@{}",
            opts.user,
            opts.ip.as_deref().unwrap_or("127.0.0.1")
        ),
    };
    let mut line = format!("<{aor}>");
    if let Some(pw) = &opts.password {
        line.push_str(&format!(";auth_pass={pw}"));
    }
    line.push_str(match opts.registrar {
        Some(_) => ";regint=600",
        None => ";regint=0",
    });
    line.push_str(";audio_codecs=PCMU,PCMA");
    line.push_str(if opts.auto_answer {
        ";answermode=auto"
    } else {
        ";answermode=manual"
    });
    (aor, line)
}

fn config(sip: SocketAddr, ctrl: SocketAddr, opts: &BaresipOptions) -> String {
    let source = match &opts.audio_source {
        Some(wav) => {
            let (rate, channels) = wav_format(wav);
            format!(
                "audio_source\t\taufile,{}\nausrc_srate\t\t{rate}\nausrc_channels\t\t{channels}\n",
                wav.display()
            )
        }
        None => {
            format!("audio_source\t\tausine,{SINE_HZ}\nausrc_srate\t\t48000\nausrc_channels\t\t2\n")
        }
    };
    let ip = sip.ip();
    let sink = match &opts.audio_sink {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("audio sink directory");
            format!("module\t\t\tsndfile.so\nsnd_path\t\t{}\n", dir.display())
        }
        None => String::new(),
    };
    format!(
        "# Written by the deskphone end-to-end tests: a second phone on loopback, without sound
# hardware, driven over ctrl_tcp.
poll_method\t\tepoll
sip_listen\t\t{sip}
net_interface\t\t{ip}
call_local_timeout\t120
call_max_calls\t\t4
{source}audio_buffer\t\t20-160
rtcp_mux\t\tno
jitter_buffer_delay\t5-10
rtp_stats\t\tno
module_path\t\t{MODULES}
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taufile.so
{sink}module_tmp\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t{ctrl}
statmode_default\toff
ringback_disabled\tyes
menu_bell\t\tno
"
    )
}

/// Sample rate and channel count from a WAV file's `fmt ` chunk.
fn wav_format(path: &Path) -> (u32, u16) {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        data.len() >= 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WAVE",
        "{} is not a WAV file",
        path.display()
    );
    let mut at = 12;
    while at + 8 <= data.len() {
        let id = &data[at..at + 4];
        let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = &data[at + 8..data.len().min(at + 8 + len)];
        if id == b"fmt " && body.len() >= 16 {
            let format = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
            let bits = u16::from_le_bytes([body[14], body[15]]);
            assert!(
                format == 1 && bits == 16,
                "{}: baresip's aufile takes 16-bit PCM only",
                path.display()
            );
            return (rate, channels);
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no fmt chunk", path.display());
}

/// Writes a WAV file (8 kHz mono S16LE) of a `freq_hz` sine lasting `seconds`, at half of
/// full scale: an audio source for [`BaresipOptions::audio_source`].
pub fn sine_wav(path: &Path, freq_hz: u32, seconds: u32) {
    let rate = 8000u32;
    let samples = rate * seconds;
    let mut out = Vec::with_capacity(44 + 2 * samples as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + 2 * samples).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(2 * rate).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(2 * samples).to_le_bytes());
    for i in 0..samples {
        let t = f64::from(i) / f64::from(rate);
        let v = (16384.0 * (2.0 * std::f64::consts::PI * f64::from(freq_hz) * t).sin()) as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Power of `freq` in `samples` (8 kHz) relative to the block's total power, 0..1 (the
/// Goertzel filter of deskphone-dsp): near 1 for a clean tone at that frequency, near 0 for
/// another tone or silence.
pub fn tone_share(samples: &[i16], freq: f64) -> f64 {
    deskphone_dsp::goertzel::relative_power(samples, freq, 8000).min(1.0)
}

/// The samples of a 16-bit PCM WAV file (all channels interleaved), e.g. a recording of
/// [`Baresip::received_audio`]. Reads to the end of the file whatever the header says (a
/// recording still open has no sizes yet).
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut at = 12;
    while at + 8 <= data.len() {
        let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        if &data[at..at + 4] == b"data" {
            return data[at + 8..]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    Vec::new()
}

/// Reads netstrings from the control connection until it closes.
fn read_control(mut stream: TcpStream, shared: &Shared) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some((body, used)) = netstring(&buf) {
            let parsed: Option<Value> = body.and_then(|b| serde_json::from_slice(b).ok());
            buf.drain(..used);
            let Some(v) = parsed else { continue };
            let mut inbox = shared.inbox.lock().expect("inbox");
            if v["event"] == true {
                inbox.events.push(v);
            } else if v["response"] == true {
                let token = v["token"].as_str().unwrap_or_default().to_string();
                inbox.responses.insert(token, v);
            }
            shared.changed.notify_all();
        }
    }
    shared.inbox.lock().expect("inbox").closed = true;
    shared.changed.notify_all();
}

/// The first netstring of `buf`, if complete: its body (`None` if malformed) and the bytes
/// it takes.
fn netstring(buf: &[u8]) -> Option<(Option<&[u8]>, usize)> {
    let colon = buf.iter().position(|&b| b == b':')?;
    let Some(len) = std::str::from_utf8(&buf[..colon])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        // Not a netstring: skip to after the next ',' (or wait for one).
        let comma = buf.iter().position(|&b| b == b',')?;
        return Some((None, comma + 1));
    };
    let end = colon + 1 + len;
    if buf.len() <= end {
        return None;
    }
    let body = (buf[end] == b',').then_some(&buf[colon + 1..end]);
    Some((body, end + 1))
}

/// `TYPE(param)` of each event, for failure messages.
fn summary(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| {
            format!(
                "{}({})",
                e["type"].as_str().unwrap_or("?"),
                e["param"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}
