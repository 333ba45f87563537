//! The I/O around the sessions: provd and sipd over the phone's IPC, telnet over TCP, and
//! the serial console on stdin/stdout. Thin on purpose: every decision is the
//! [`Session`]'s; this module carries bytes, asks the services and logs.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskphone_config::{table, Value as ConfigValue};
use deskphone_ipc::client::{Client, ClientError, Provd, Sipd};
use deskphone_ipc::{provd, sipd, RuntimeDir};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::command::{Privileged, Query};
use crate::render::{self, InterfaceAddress};
use crate::session::{Action, CloseReason, Event, Level, Limits, Output, Session, Verdict};
use crate::telnet::{self, Telnet};
use crate::throttle::LoginThrottle;

/// How long an answer from provd or sipd may take.
const IPC_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a locked-out address waits for a new login prompt.
const LOCKOUT_HOLD: Duration = Duration::from_secs(60);

/// What the console takes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `telnet_level`.
    pub level: Level,
    /// `phone_prompt`.
    pub prompt: String,
}

impl Default for Settings {
    /// The built-in defaults: telnet off, the default prompt.
    fn default() -> Self {
        Settings {
            level: Level::Off,
            prompt: default_prompt(),
        }
    }
}

fn default_prompt() -> String {
    match table::lookup("phone_prompt").and_then(|id| id.def().default.as_ref()) {
        Some(ConfigValue::Text(t)) => t.clone(),
        _ => String::new(),
    }
}

/// The settings in provd's `{NAME: {"value", "source"}}` configuration.
pub fn settings_of(parameters: &Map<String, Value>) -> Settings {
    let value = |name: &str| parameters.get(name).map(|p| &p["value"]);
    let level = match value("telnet_level") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    Settings {
        level: Level::from_telnet_level(level),
        prompt: match value("phone_prompt") {
            Some(Value::String(p)) => p.clone(),
            _ => default_prompt(),
        },
    }
}

/// Keeps `tx` at provd's `telnet_level` and `phone_prompt`: fetched at connection, again
/// when provd's first provisioning is done and on every `ConfigChanged` naming them.
/// Reconnects when provd goes away (a reboot of the simulator); the last known settings
/// stay meanwhile. `None` until provd answered once.
pub async fn follow_settings(runtime: RuntimeDir, tx: watch::Sender<Option<Settings>>) {
    let mut reported = false;
    loop {
        match follow_once(&runtime, &tx).await {
            Ok(()) => log::info!("provd closed the connection; reconnecting"),
            Err(e) if !reported => {
                log::warn!("following provd's configuration: {e}; retrying every second");
                reported = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn follow_once(
    runtime: &RuntimeDir,
    tx: &watch::Sender<Option<Settings>>,
) -> Result<(), ClientError> {
    let mut c = Client::<Provd>::connect(runtime, "consoled").await?;
    // Subscribed before reading, so no change falls between the two.
    expect_ok(c.request(&provd::Request::Subscribe).await?)?;
    publish(&mut c, tx).await?;
    // The first provisioning changes the configuration without an event: read it again
    // once it is done.
    loop {
        match c.request(&provd::Request::Status).await? {
            provd::Reply::Status(s) if s.provisioning.state == "starting" => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ => break,
        }
    }
    publish(&mut c, tx).await?;
    while let Some(event) = c.next_event().await? {
        if let provd::Event::ConfigChanged { names } = event {
            if names
                .iter()
                .any(|n| n == "telnet_level" || n == "phone_prompt")
            {
                publish(&mut c, tx).await?;
            }
        }
    }
    Ok(())
}

async fn publish(
    c: &mut Client<Provd>,
    tx: &watch::Sender<Option<Settings>>,
) -> Result<(), ClientError> {
    match c.request(&provd::Request::Config).await? {
        provd::Reply::Config { parameters } => {
            let new = settings_of(&parameters);
            tx.send_if_modified(|current| {
                if current.as_ref() == Some(&new) {
                    return false;
                }
                log::info!(
                    "telnet_level {}, phone_prompt \"{}\"",
                    new.level.telnet_level(),
                    new.prompt
                );
                *current = Some(new);
                true
            });
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

fn expect_ok(reply: provd::Reply) -> Result<(), ClientError> {
    match reply {
        provd::Reply::Ok => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn unexpected(reply: provd::Reply) -> ClientError {
    match reply {
        provd::Reply::Error { message } => ClientError::Refused(message),
        other => ClientError::Refused(format!("unexpected reply from provd: {other:?}")),
    }
}

/// Runs an IPC exchange with the time limit, errors as text for the user.
async fn within<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, String> {
    match tokio::time::timeout(IPC_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "{what} did not answer within {} s",
            IPC_TIMEOUT.as_secs()
        )),
    }
}

async fn provd_request(
    runtime: &RuntimeDir,
    client: &str,
    request: provd::Request,
) -> Result<provd::Reply, String> {
    within("provd", async {
        let mut c = Client::<Provd>::connect(runtime, client).await?;
        c.request(&request).await
    })
    .await
}

async fn provd_status(runtime: &RuntimeDir) -> Result<provd::Status, String> {
    match provd_request(runtime, "consoled", provd::Request::Status).await? {
        provd::Reply::Status(s) => Ok(*s),
        provd::Reply::Error { message } => Err(message),
        other => Err(format!("unexpected reply from provd: {other:?}")),
    }
}

async fn sipd_status(runtime: &RuntimeDir) -> Result<sipd::Status, String> {
    let reply = within("sipd", async {
        let mut c = Client::<Sipd>::connect(runtime, "consoled").await?;
        c.request(&sipd::Request::Status).await
    })
    .await?;
    match reply {
        sipd::Reply::Status(s) => Ok(*s),
        sipd::Reply::Error { message } => Err(message),
        other => Err(format!("unexpected reply from sipd: {other:?}")),
    }
}

/// The text that answers `query`.
pub async fn answer(runtime: &RuntimeDir, query: &Query) -> String {
    let provd_down = |e: String| format!("error: provd is not answering: {e}\n");
    match query {
        Query::Config(name) => {
            match provd_request(runtime, "consoled", provd::Request::Config).await {
                Ok(provd::Reply::Config { parameters }) => {
                    render::config(&parameters, name.as_deref())
                }
                Ok(provd::Reply::Error { message }) => format!("error: {message}\n"),
                Ok(other) => format!("error: unexpected reply from provd: {other:?}\n"),
                Err(e) => provd_down(e),
            }
        }
        Query::Network => match provd_status(runtime).await {
            Ok(s) => render::network(
                &serde_json::to_value(&s).unwrap_or_default(),
                &interface_addresses(),
            ),
            Err(e) => provd_down(e),
        },
        Query::Status => match provd_status(runtime).await {
            Ok(p) => render::status(&p, sipd_status(runtime).await.as_ref().map_err(|e| &**e)),
            Err(e) => provd_down(e),
        },
        Query::Lines => render::lines(sipd_status(runtime).await.as_ref().map_err(|e| &**e)),
        Query::Calls => render::calls(sipd_status(runtime).await.as_ref().map_err(|e| &**e)),
        Query::Messages => match provd_status(runtime).await {
            Ok(s) => render::messages(&s),
            Err(e) => provd_down(e),
        },
        Query::Version => {
            let p = provd_status(runtime).await;
            let s = sipd_status(runtime).await;
            render::version(
                p.as_ref().map_err(|e| &**e),
                s.as_ref().map_err(|e| &**e),
                env!("CARGO_PKG_VERSION"),
            )
        }
    }
}

/// Checks a login with provd's `Unlock`, so the console never holds `phone_password` (provd
/// shows it to nobody but sipd) and a changed password applies at the next login.
pub async fn verify_password(runtime: &RuntimeDir, peer: &str, password: &str) -> Verdict {
    let request = provd::Request::Unlock {
        password: password.to_string(),
    };
    match provd_request(runtime, &format!("consoled {peer}"), request).await {
        Ok(provd::Reply::Ok) => Verdict::Accepted,
        Ok(_) => Verdict::Refused,
        Err(e) => Verdict::Unavailable(format!("provd: {e}")),
    }
}

/// Runs a confirmed privileged command: provd unlocks with the login password, then acts.
pub async fn privileged(
    runtime: &RuntimeDir,
    peer: &str,
    command: Privileged,
    password: &str,
) -> String {
    let request = match command {
        Privileged::EraseSip => provd::Request::EraseSip,
        Privileged::EraseNetwork => provd::Request::EraseNetwork,
        Privileged::Reset => provd::Request::Reboot,
    };
    let done = match command {
        Privileged::EraseSip => {
            "SIP configuration erased; the phone takes it from the TFTP server again."
        }
        Privileged::EraseNetwork => "Network configuration erased; DHCP is on.",
        Privileged::Reset => "The phone is restarting.",
    };
    let result = within("provd", async {
        let mut c = Client::<Provd>::connect(runtime, &format!("consoled {peer}")).await?;
        let unlock = c
            .request(&provd::Request::Unlock {
                password: password.to_string(),
            })
            .await?;
        if unlock != provd::Reply::Ok {
            return Ok(Err(
                "the phone password has changed since you logged in; log in again".to_string(),
            ));
        }
        Ok(match c.request(&request).await? {
            provd::Reply::Ok => Ok(()),
            provd::Reply::Error { message } => Err(message),
            other => Err(format!("unexpected reply from provd: {other:?}")),
        })
    })
    .await;
    match result {
        Ok(Ok(())) => format!("{done}\n"),
        Ok(Err(e)) => format!("error: {command}: {e}\n"),
        Err(e) => format!("error: {command}: provd: {e}\n"),
    }
}

/// The addresses of the interfaces (loopback left out), for `show network`.
pub fn interface_addresses() -> Vec<InterfaceAddress> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in addrs {
        if a.interface_name == "lo" {
            continue;
        }
        let (Some(address), netmask) = (a.address, a.netmask) else {
            continue;
        };
        let (ip, prefix) = if let Some(v4) = address.as_sockaddr_in() {
            let prefix = netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or(32, |m| u32::from(m.ip()).count_ones());
            (IpAddr::V4(v4.ip()), prefix)
        } else if let Some(v6) = address.as_sockaddr_in6() {
            let prefix = netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in6())
                .map_or(128, |m| u128::from(m.ip()).count_ones());
            (IpAddr::V6(v6.ip()), prefix)
        } else {
            continue;
        };
        out.push(InterfaceAddress {
            interface: a.interface_name.clone(),
            address: ip,
            prefix: prefix as u8,
        });
    }
    out
}

/// How a session's bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A telnet client: options negotiated, IAC escaped.
    Telnet,
    /// The serial console: bytes as they are. `echo`: the session echoes (a terminal in
    /// raw mode); off for a pipe.
    Plain { echo: bool },
}

/// What a session needs besides its connection.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub runtime: RuntimeDir,
    /// The peer's address, or `serial`: named in every log line.
    pub peer: String,
    pub limits: Limits,
    pub settings: watch::Receiver<Option<Settings>>,
    /// The serial console stays usable at `telnet_level` 0 (that needs someone at the
    /// phone), without privileged commands.
    pub console: bool,
}

impl SessionContext {
    fn level(&self, settings: &Settings) -> Level {
        match settings.level {
            Level::Off if self.console => Level::Basic,
            l => l,
        }
    }
}

fn log_event(peer: &str, event: &Event) {
    match event {
        Event::LoggedIn => log::info!("console {peer}: logged in"),
        Event::LoginFailed { failures } => {
            log::warn!("console {peer}: wrong password (failed login {failures})")
        }
        Event::Confirmed(p) => log::warn!("console {peer}: {p} confirmed"),
    }
}

/// Runs one session until it closes or the peer goes; returns why it closed (`None`: the
/// peer went away or consoled is stopping).
pub async fn run_session<R, W>(
    mut rd: R,
    mut wr: W,
    transport: Transport,
    mut ctx: SessionContext,
) -> io::Result<Option<CloseReason>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let peer = ctx.peer.clone();
    let settings = ctx.settings.borrow_and_update().clone().unwrap_or_default();
    let mut session = Session::new(
        ctx.level(&settings),
        &settings.prompt,
        ctx.limits.clone(),
        Instant::now(),
    );
    let mut telnet = None;
    match transport {
        Transport::Telnet => {
            let mut t = Telnet::new();
            wr.write_all(&t.greeting()).await?;
            telnet = Some(t);
        }
        Transport::Plain { echo } => session.set_echo(echo),
    }
    let mut buf = vec![0u8; 1024];
    loop {
        let deadline = loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    let bytes = match telnet {
                        Some(_) => telnet::encode(&bytes),
                        None => bytes,
                    };
                    wr.write_all(&bytes).await?;
                }
                Output::Event(e) => log_event(&peer, &e),
                Output::Action(action) => {
                    // What was said so far shows while provd works.
                    wr.flush().await?;
                    match action {
                        Action::VerifyPassword(password) => {
                            let v = verify_password(&ctx.runtime, &peer, &password).await;
                            session.handle_verdict(v, Instant::now());
                        }
                        Action::Query(q) => {
                            let text = answer(&ctx.runtime, &q).await;
                            session.handle_answer(&text, Instant::now());
                        }
                        Action::Privileged { command, password } => {
                            let text = privileged(&ctx.runtime, &peer, command, &password).await;
                            log::info!("console {peer}: {command}: {}", text.trim_end());
                            session.handle_answer(&text, Instant::now());
                        }
                        Action::Close(reason) => {
                            let _ = wr.shutdown().await;
                            match reason {
                                CloseReason::LockedOut => {
                                    log::warn!("console {peer}: closed: {reason}")
                                }
                                _ => log::info!("console {peer}: closed: {reason}"),
                            }
                            return Ok(Some(reason));
                        }
                    }
                }
                Output::Wait(deadline) => break deadline,
            }
        };
        wr.flush().await?;
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    log::info!("console {peer}: connection closed by the peer");
                    return Ok(None);
                }
                let now = Instant::now();
                match &mut telnet {
                    Some(t) => {
                        let decoded = t.decode(&buf[..n]);
                        if !decoded.reply.is_empty() {
                            wr.write_all(&decoded.reply).await?;
                        }
                        session.set_echo(t.server_echoes());
                        session.handle_input(&decoded.data, now);
                    }
                    None => session.handle_input(&buf[..n], now),
                }
            }
            () = sleep => session.handle_timeout(Instant::now()),
            changed = ctx.settings.changed() => {
                if changed.is_err() {
                    // consoled is stopping.
                    return Ok(None);
                }
                let new = ctx.settings.borrow_and_update().clone();
                if let Some(s) = new {
                    session.set_level(ctx.level(&s));
                    session.set_prompt(&s.prompt);
                }
            }
        }
    }
}

/// Where telnet listens.
#[derive(Debug)]
pub enum Listen {
    /// Bind this address while `telnet_level` is 1 or 2; nothing listens at 0.
    Bind(SocketAddr),
    /// The socket systemd passed: systemd keeps it open, so at level 0 connections are
    /// accepted and closed at once.
    Inherited(std::net::TcpListener),
}

/// The telnet server's shared state.
#[derive(Debug, Clone)]
pub struct Server {
    pub runtime: RuntimeDir,
    pub limits: Limits,
    pub settings: watch::Receiver<Option<Settings>>,
    sessions: Arc<Semaphore>,
    throttle: Arc<Mutex<LoginThrottle<IpAddr>>>,
}

impl Server {
    pub fn new(
        runtime: RuntimeDir,
        limits: Limits,
        settings: watch::Receiver<Option<Settings>>,
        max_sessions: usize,
    ) -> Server {
        Server {
            runtime,
            limits,
            settings,
            sessions: Arc::new(Semaphore::new(max_sessions)),
            throttle: Arc::new(Mutex::new(LoginThrottle::new(LOCKOUT_HOLD, 1024))),
        }
    }

    fn level(&self) -> Level {
        self.settings
            .borrow()
            .as_ref()
            .map_or(Level::Off, |s| s.level)
    }

    /// Serves telnet until the settings channel closes.
    pub async fn serve(self, listen: Listen) -> anyhow::Result<()> {
        match listen {
            Listen::Bind(addr) => self.serve_bound(addr).await,
            Listen::Inherited(l) => {
                l.set_nonblocking(true)?;
                self.serve_inherited(TcpListener::from_std(l)?).await
            }
        }
    }

    async fn serve_bound(self, addr: SocketAddr) -> anyhow::Result<()> {
        let mut settings = self.settings.clone();
        loop {
            if settings
                .wait_for(|s| s.as_ref().is_some_and(|s| s.level != Level::Off))
                .await
                .is_err()
            {
                return Ok(());
            }
            let listener = match bind(addr).await {
                Ok(l) => l,
                Err(e) => {
                    log::error!("telnet: cannot listen on {addr}: {e}; trying again in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let local = listener.local_addr().map_or(addr, |a| a);
            log::info!(
                "telnet console listening on {local} (telnet_level {})",
                self.level().telnet_level()
            );
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, peer)) => self.admit(stream, peer),
                        Err(e) => {
                            log::warn!("telnet: accept: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    },
                    changed = settings.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                        if self.level() == Level::Off {
                            log::info!("telnet_level 0: telnet console closed");
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn serve_inherited(self, listener: TcpListener) -> anyhow::Result<()> {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) if self.level() == Level::Off => {
                    log::info!("telnet: {peer} refused: telnet_level is 0");
                    drop(stream);
                }
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) => {
                    log::warn!("telnet: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn admit(&self, mut stream: tokio::net::TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let wait = self
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait(&peer.ip(), Instant::now());
        let refusal = if let Some(wait) = wait {
            log::warn!(
                "telnet: {peer} refused: locked out for {} s more",
                wait.as_secs()
            );
            Some(format!(
                "Too many failed logins from your address; try again in {} s.\r\n",
                wait.as_secs().max(1)
            ))
        } else {
            None
        };
        let permit = match refusal {
            Some(_) => None,
            None => self.sessions.clone().try_acquire_owned().ok(),
        };
        let Some(permit) = permit else {
            let text = refusal.unwrap_or_else(|| {
                log::warn!("telnet: {peer} refused: too many sessions");
                "Too many console sessions; try again later.\r\n".into()
            });
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = stream.write_all(text.as_bytes()).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            return;
        };
        log::info!("telnet: connection from {peer}");
        let ctx = SessionContext {
            runtime: self.runtime.clone(),
            peer: peer.to_string(),
            limits: self.limits.clone(),
            settings: self.settings.clone(),
            console: false,
        };
        let throttle = self.throttle.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (rd, wr) = stream.into_split();
            match run_session(rd, wr, Transport::Telnet, ctx).await {
                Ok(Some(CloseReason::LockedOut)) => throttle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .lock_out(peer.ip(), Instant::now()),
                Ok(_) => {}
                Err(e) => log::info!("console {peer}: {e}"),
            }
        });
    }
}

/// Binds `addr`; the IPv6 wildcard falls back to the IPv4 one on a host without IPv6.
async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Err(e) if addr.ip() == IpAddr::from([0u16; 8]) => {
            let v4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
            TcpListener::bind(v4).await.map_err(|_| e)
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_come_from_provds_configuration_with_safe_defaults() {
        let p = json!({
            "telnet_level": {"value": 2, "source": "SIPDefault.cnf:1"},
            "phone_prompt": {"value": "Lab7", "source": "SIPDefault.cnf:2"}
        });
        let s = settings_of(p.as_object().unwrap());
        assert_eq!(s.level, Level::Privileged);
        assert_eq!(s.prompt, "Lab7");
        let empty = settings_of(&Map::new());
        assert_eq!(empty, Settings::default());
        assert_eq!(empty.prompt, "SIP Phone");
        let odd = json!({"telnet_level": {"value": 7, "source": "x"}});
        assert_eq!(settings_of(odd.as_object().unwrap()).level, Level::Off);
    }
}
