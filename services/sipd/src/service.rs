//! sipd as a service: the UDP socket, real time, the link to provd, the Unix socket.
//!
//! Three tasks and a loop:
//! - the **provd link** waits until provd has provisioned, reads the configuration (with the
//!   line passwords, [`Request::SipConfig`]) and reads it again on every `config_changed`
//!   event; it reconnects when provd goes away;
//! - the **planner** turns each configuration into a [`Plan`] (DNS lookups) and resolves
//!   again every 30 s while a proxy name does not resolve, every 10 minutes otherwise;
//! - the **socket** serves [`deskphone_ipc::sipd`] requests and subscriptions;
//! - the **loop** owns the [`Shell`]: datagrams, deadlines, plans and status queries in;
//!   datagrams, events and replies out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deskphone_config::{Config, Mac};
use deskphone_dialplan::DialPlan;
use deskphone_ipc::client::{Client, ClientError, Provd};
use deskphone_ipc::provd::{Event as ProvdEvent, Reply as ProvdReply, Request as ProvdRequest};
use deskphone_ipc::sipd::{Event, LineStatus, Reply, Request, Status};
use deskphone_ipc::{
    read_frame, write_frame, FrameError, RuntimeDir, ServerFrame, Service, PROTOCOL_VERSION,
};
use tokio::net::{UdpSocket, UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::plan::{config_from_parameters, resolve, wanted, Plan, Wanted};
use crate::shell::{Shell, ShellEvent};

#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeDir,
    /// The address the SIP socket binds (0.0.0.0: every interface).
    pub bind: IpAddr,
    /// The SIP port, instead of `voip_control_port` (0: any free port, for tests).
    pub sip_port: Option<u16>,
    /// When the process started, for the start-up figures in the log.
    pub started: Instant,
}

type Frame = ServerFrame<Reply, Event>;

/// What the socket's connections ask the loop.
enum Query {
    Status(oneshot::Sender<Status>),
    Subscribe(mpsc::Sender<Event>),
    /// A call command (dial, answer, ...), answered with its reply.
    Command(Request, oneshot::Sender<Reply>),
}

/// Events queued for one subscriber before it counts as stalled.
const SUBSCRIBER_BACKLOG: usize = 256;

/// How often names are looked up again (a proxy whose address changed is followed).
const RESOLVE_AGAIN: Duration = Duration::from_secs(600);
/// ... and while one does not resolve.
const RESOLVE_RETRY: Duration = Duration::from_secs(30);
/// How long unregistering may hold up a stop (systemd and the simulator wait 5 s).
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often a SIP port that cannot be bound is tried again.
const BIND_RETRY: Duration = Duration::from_secs(5);

/// Runs sipd until SIGTERM or SIGINT; returns the exit status.
pub async fn run(opts: Options) -> anyhow::Result<i32> {
    let listener = deskphone_ipc::systemd::listen(&opts.runtime, Service::Sipd)?;
    let (query_tx, mut query_rx) = mpsc::channel::<Query>(16);
    tokio::spawn(accept_loop(listener, query_tx));

    let (config_tx, config_rx) = mpsc::channel::<(Config, Arc<DialPlan>)>(4);
    let (plan_tx, mut plan_rx) = mpsc::channel::<Plan>(4);
    tokio::spawn(provd_link(opts.runtime.clone(), config_tx));
    tokio::spawn(planner(opts.bind, opts.sip_port, config_rx, plan_tx));

    // Busy/idle for provd's check-sync, in order: one task sends the latest state.
    let (busy_tx, busy_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(activity_link(opts.runtime.clone(), busy_rx));
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let (g729_tx, mut g729_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::media::media_link(
        opts.runtime.clone(),
        media_rx,
        g729_tx,
    ));
    let mut shell = Shell::new(fastrand::u64(..));
    let mut socket: Option<Bound> = None;
    let mut subscribers: Vec<mpsc::Sender<Event>> = Vec::new();
    let mut ready = false;
    // The newest plan not applied yet, and when to try binding its port (again).
    let mut waiting: Option<Plan> = None;
    let mut bind_retry: Option<Instant> = None;
    let mut bind_error: Option<String> = None;
    let mut figures = Figures::new(opts.started);
    let mut buf = vec![0u8; 65535];
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    log::info!("waiting for provd's configuration");
    loop {
        if let Some(b) = &socket {
            flush(&mut shell, &b.socket, &mut figures).await;
        }
        events(
            &mut shell,
            &mut subscribers,
            &opts.runtime,
            &busy_tx,
            &media_tx,
            &mut figures,
        );
        let deadline = shell.poll_timeout();
        tokio::select! {
            r = recv(socket.as_ref().map(|b| &b.socket), &mut buf) => match r {
                Ok((n, from)) => shell.handle_datagram(Instant::now(), from, &buf[..n]),
                // ICMP errors surface here on Linux; the transaction layer copes with loss.
                Err(e) => log::debug!("SIP socket: {e}"),
            },
            _ = sleep_until(deadline) => shell.handle_timeout(Instant::now()),
            Ok(()) = g729_rx.changed() => {
                let g729 = *g729_rx.borrow_and_update();
                log::info!("mediad {} G.729", if g729 { "has" } else { "has no" });
                shell.set_g729(g729);
            }
            Some(plan) = plan_rx.recv() => {
                waiting = Some(plan);
                bind_retry = Some(Instant::now());
            }
            _ = sleep_until(bind_retry) => {
                bind_retry = None;
                let Some(mut plan) = waiting.take() else { continue };
                let port = plan.local.port();
                if socket.as_ref().is_none_or(|b| b.requested != port) {
                    match bind(opts.bind, port).await {
                        Ok(b) => {
                            log::info!("SIP on {}", b.address);
                            bind_error = None;
                            socket = Some(b);
                        }
                        Err(e) if socket.is_some() => {
                            log::error!("{e:#}; SIP stays on the port it has");
                        }
                        Err(e) => {
                            // Stay up (the socket answers, the status says why) and try again.
                            let text = format!("{e:#}");
                            if bind_error.as_ref() != Some(&text) {
                                log::error!("{text}; trying again every {} s", BIND_RETRY.as_secs());
                            }
                            bind_error = Some(text);
                            waiting = Some(plan);
                            bind_retry = Some(Instant::now() + BIND_RETRY);
                            continue;
                        }
                    }
                }
                if let Some(b) = &socket {
                    plan.local.set_port(b.address.port());
                }
                describe(&plan);
                shell.apply(Instant::now(), plan);
                if !ready {
                    if let Some(b) = &socket {
                        flush(&mut shell, &b.socket, &mut figures).await;
                    }
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                    deskphone_ipc::systemd::spawn_watchdog();
                    ready = true;
                }
            }
            Some(q) = query_rx.recv() => match q {
                Query::Status(reply) => {
                    let mut s = status(&shell, &socket, false);
                    if socket.is_none() && bind_error.is_some() {
                        s.state = "no_sip_socket".into();
                        s.reason.clone_from(&bind_error);
                    }
                    let _ = reply.send(s);
                }
                Query::Subscribe(tx) => subscribers.push(tx),
                Query::Command(request, reply) => {
                    let _ = reply.send(command(&mut shell, request));
                }
            },
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }

    log::info!("stopping: unregistering the lines");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    shell.shutdown(Instant::now());
    let end = Instant::now() + STOP_GRACE;
    if let Some(b) = &socket {
        loop {
            flush(&mut shell, &b.socket, &mut figures).await;
            events(
                &mut shell,
                &mut subscribers,
                &opts.runtime,
                &busy_tx,
                &media_tx,
                &mut figures,
            );
            if shell.is_quiet() || Instant::now() >= end {
                break;
            }
            let wake = shell.poll_timeout().map_or(end, |t| t.min(end));
            tokio::select! {
                r = b.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        shell.handle_datagram(Instant::now(), from, &buf[..n]);
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => shell.handle_timeout(Instant::now()),
                Some(Query::Status(reply)) = query_rx.recv() => {
                    let _ = reply.send(status(&shell, &socket, true));
                }
            }
        }
    }
    if !shell.is_quiet() {
        log::warn!("stopped before every line was unregistered");
    }
    Ok(0)
}

struct Bound {
    socket: UdpSocket,
    /// The port asked for (0 for any).
    requested: u16,
    address: SocketAddr,
}

async fn bind(ip: IpAddr, port: u16) -> anyhow::Result<Bound> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))
        .await
        .with_context(|| format!("binding the SIP socket {ip}:{port}"))?;
    let address = socket.local_addr()?;
    Ok(Bound {
        socket,
        requested: port,
        address,
    })
}

async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

fn describe(plan: &Plan) {
    for l in &plan.lines {
        match &l.destination {
            Ok(d) => log::info!(
                "line {} ({}): registrar {} at {d}{}",
                l.settings.line,
                l.settings.name,
                l.proxy(),
                if plan.register() {
                    ""
                } else {
                    "; proxy_register is 0"
                }
            ),
            Err(e) => log::warn!("line {} ({}): {e}", l.settings.line, l.settings.name),
        }
    }
}

/// Start-up figures for the log (the README's measurements come from these lines), and
/// what was last said about each line.
struct Figures {
    started: Instant,
    first_register: bool,
    first_registered: bool,
    seen: std::collections::BTreeMap<u8, (String, String, Option<String>)>,
}

impl Figures {
    fn new(started: Instant) -> Figures {
        Figures {
            started,
            first_register: false,
            first_registered: false,
            seen: Default::default(),
        }
    }
    fn ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }
}

async fn flush(shell: &mut Shell, socket: &UdpSocket, figures: &mut Figures) {
    while let Some(t) = shell.poll_transmit() {
        if !figures.first_register && t.payload.starts_with(b"REGISTER ") {
            figures.first_register = true;
            log::info!("first REGISTER sent {} ms after start", figures.ms());
        }
        if let Err(e) = socket.send_to(&t.payload, t.destination).await {
            log::debug!("sending to {}: {e}", t.destination);
        }
    }
}

fn events(
    shell: &mut Shell,
    subscribers: &mut Vec<mpsc::Sender<Event>>,
    runtime: &RuntimeDir,
    busy_tx: &tokio::sync::watch::Sender<bool>,
    media_tx: &mpsc::UnboundedSender<crate::shell::MediaOrder>,
    figures: &mut Figures,
) {
    while let Some(e) = shell.poll_event() {
        let event = match e {
            ShellEvent::Line(n) => {
                let Some(line) = shell.line(Instant::now(), n) else {
                    figures.seen.remove(&n);
                    continue;
                };
                // The shell reports every step; the log and subscribers get changes.
                let seen = (line.name.clone(), line.state.clone(), line.reason.clone());
                if figures.seen.get(&n) == Some(&seen) {
                    continue;
                }
                figures.seen.insert(n, seen);
                log_line(&line);
                if line.registered && !figures.first_registered {
                    figures.first_registered = true;
                    log::info!("first line registered {} ms after start", figures.ms());
                }
                Event::Line(line)
            }
            ShellEvent::CheckSync { source, event } => {
                log::info!("check-sync ({event}) from {source}: handed to provd");
                tokio::spawn(resync(runtime.clone()));
                continue;
            }
            ShellEvent::StatusMessage(text) => Event::StatusMessage { text },
            ShellEvent::CheckSyncRefused { source, event, why } => {
                let text = format!("check-sync ({event}) from {source} refused: {why}");
                log::warn!("{text}");
                Event::StatusMessage { text }
            }
            ShellEvent::Call(call) => {
                log::info!(
                    "call {} on line {}: {} ({} {})",
                    call.id,
                    call.line,
                    call.state,
                    call.direction,
                    call.remote
                );
                Event::Call(call)
            }
            ShellEvent::CallEnded {
                call,
                reason,
                missed,
            } => {
                log::info!(
                    "call {} on line {} with {} ended: {reason}{}",
                    call.id,
                    call.line,
                    call.remote,
                    if missed { " (missed)" } else { "" }
                );
                Event::CallEnded {
                    call,
                    reason,
                    missed,
                }
            }
            ShellEvent::CallRefused {
                line,
                remote,
                status,
                why,
            } => {
                log::info!("call from {remote} on line {line} refused with {status}: {why}");
                Event::CallRefused {
                    line,
                    remote,
                    status,
                    why,
                }
            }
            ShellEvent::Transfer { call, ok, outcome } => {
                log::info!(
                    "transfer of call {call}: {} ({outcome})",
                    if ok { "done" } else { "failed" }
                );
                Event::Transfer { call, ok, outcome }
            }
            ShellEvent::Media(order) => {
                // Unbounded: orders come one or two per call event, never from a flood alone.
                let _ = media_tx.send(order);
                continue;
            }
            ShellEvent::Busy(busy) => {
                busy_tx.send_replace(busy);
                continue;
            }
        };
        // A subscriber that stopped reading is dropped rather than let sipd's memory grow
        // with every event of a flood; the UI reconnects and asks for the status again.
        subscribers.retain(|s| match s.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                log::warn!(
                    "dropping an event subscriber that has not read its last {SUBSCRIBER_BACKLOG} events"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}

fn log_line(l: &LineStatus) {
    let reason = l
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let retry = l
        .retry_in
        .map(|s| format!(" (next attempt in {s} s)"))
        .unwrap_or_default();
    log::info!(
        "line {} ({} at {}): {}{reason}{retry}",
        l.line,
        l.name,
        l.proxy,
        l.state
    );
}

fn status(shell: &Shell, socket: &Option<Bound>, stopping: bool) -> Status {
    Status {
        sipd: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_VERSION,
        state: if stopping {
            "stopping"
        } else if shell.plan().is_none() {
            "waiting_for_provd"
        } else {
            "running"
        }
        .into(),
        sip_address: socket.as_ref().map(|b| b.address.to_string()),
        reason: None,
        lines: shell.lines(Instant::now()),
        calls: shell.calls(Instant::now()),
    }
}

/// Tells provd whether the phone has calls (a check-sync waits for an idle phone): the latest
/// state, in order, again after provd restarted.
async fn activity_link(runtime: RuntimeDir, mut busy: tokio::sync::watch::Receiver<bool>) {
    while busy.changed().await.is_ok() {
        loop {
            let state = *busy.borrow_and_update();
            let result = async {
                let mut c = Client::<Provd>::connect(&runtime, "sipd").await?;
                match c.request(&ProvdRequest::Activity { busy: state }).await? {
                    ProvdReply::Error { message } => Err(ClientError::Refused(message)),
                    _ => Ok(()),
                }
            }
            .await;
            match result {
                Ok(()) => break,
                Err(e) => {
                    log::warn!(
                        "could not tell provd the phone is {}: {e}; trying again",
                        if state { "busy" } else { "idle" }
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Asks provd to start its check-sync, on a connection of its own.
async fn resync(runtime: RuntimeDir) {
    let result = async {
        let mut c = Client::<Provd>::connect(&runtime, "sipd").await?;
        match c.request(&ProvdRequest::Resync).await? {
            ProvdReply::Error { message } => Err(ClientError::Refused(message)),
            _ => Ok(()),
        }
    }
    .await;
    if let Err(e) = result {
        log::warn!("could not hand the check-sync to provd: {e}");
    }
}

/// Keeps provd's configuration coming: waits for the first provisioning to end, then sends
/// the configuration at once and after every change. Reconnects when provd goes away.
async fn provd_link(runtime: RuntimeDir, configs: mpsc::Sender<(Config, Arc<DialPlan>)>) {
    // provd starts with sipd: the first retries come quickly.
    let mut pause = Duration::from_millis(20);
    let mut told = false;
    loop {
        match follow_provd(&runtime, &configs).await {
            Ok(()) => return, // the planner is gone: sipd is stopping
            Err(e) => {
                if !told {
                    log::warn!("provd: {e}; trying again");
                    told = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn follow_provd(
    runtime: &RuntimeDir,
    configs: &mpsc::Sender<(Config, Arc<DialPlan>)>,
) -> anyhow::Result<()> {
    let mut c = Client::<Provd>::connect(runtime, "sipd").await?;
    // provd answers at once but provisions first: the lines come from that provisioning.
    // Asked often at first (provisioning from a near server takes milliseconds), less
    // often while TFTP servers time out.
    let mut pause = Duration::from_millis(10);
    let mac = loop {
        match c.request(&ProvdRequest::Status).await? {
            ProvdReply::Status(s) if s.provisioning.state != "starting" => break s.mac,
            ProvdReply::Status(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => anyhow::bail!("unexpected reply to status: {other:?}"),
        }
    };
    let mac: Mac = mac
        .parse()
        .map_err(|e| anyhow::anyhow!("provd's MAC {mac}: {e:?}"))?;
    // Subscribed before reading, so no change can fall between the two.
    if let ProvdReply::Error { message } = c.request(&ProvdRequest::Subscribe).await? {
        anyhow::bail!("subscribing: {message}");
    }
    loop {
        let parameters = match c.request(&ProvdRequest::SipConfig).await? {
            ProvdReply::Config { parameters } => parameters,
            ProvdReply::Error { message } => anyhow::bail!("reading the configuration: {message}"),
            other => anyhow::bail!("unexpected reply to sip_config: {other:?}"),
        };
        // The dial plan decides where a dialled number goes (Route=emergency, User=).
        let dial_plan = match c.request(&ProvdRequest::DialPlan).await? {
            ProvdReply::DialPlan { xml: Some(xml) } => {
                let (plan, diagnostics) = DialPlan::parse("dialplan.xml", xml.as_bytes());
                for d in diagnostics {
                    log::warn!("{d}");
                }
                plan
            }
            ProvdReply::DialPlan { xml: None } => DialPlan::default(),
            // An older provd: dial numbers as given.
            ProvdReply::Error { message } => {
                log::warn!("no dial plan from provd: {message}");
                DialPlan::default()
            }
            other => anyhow::bail!("unexpected reply to dial_plan: {other:?}"),
        };
        if configs
            .send((
                config_from_parameters(mac, &parameters),
                Arc::new(dial_plan),
            ))
            .await
            .is_err()
        {
            return Ok(());
        }
        // Until something changes.
        loop {
            match c.next_event().await? {
                Some(ProvdEvent::ConfigChanged { names }) => {
                    log::info!("configuration changed: {}", names.join(", "));
                    break;
                }
                Some(ProvdEvent::Rebooting { reason }) => log::info!("phone restarting: {reason}"),
                Some(ProvdEvent::StatusMessage(_)) => {}
                None => anyhow::bail!("provd closed the connection"),
            }
        }
    }
}

/// Resolves each configuration into a plan, and again from time to time.
async fn planner(
    bind: IpAddr,
    sip_port: Option<u16>,
    mut configs: mpsc::Receiver<(Config, Arc<DialPlan>)>,
    plans: mpsc::Sender<Plan>,
) {
    let mut current: Option<Wanted> = None;
    let mut again = RESOLVE_AGAIN;
    loop {
        let next = tokio::select! {
            c = configs.recv() => match c {
                Some((c, dial_plan)) => Some(Wanted {
                    dial_plan,
                    ..wanted(&c)
                }),
                None => return,
            },
            _ = tokio::time::sleep(again), if current.is_some() => None,
        };
        if let Some(w) = next {
            current = Some(w);
        }
        let Some(w) = &current else { continue };
        let port = sip_port.unwrap_or(w.settings.control_port);
        let plan = resolve(w, bind, port).await;
        again = if plan.unresolved() {
            RESOLVE_RETRY
        } else {
            RESOLVE_AGAIN
        };
        if plans.send(plan).await.is_err() {
            return;
        }
    }
}

async fn accept_loop(listener: UnixListener, queries: mpsc::Sender<Query>) {
    let queries = Arc::new(queries);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, queries.clone()));
            }
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client connection: hello, then requests and (if subscribed) events.
async fn serve(stream: UnixStream, queries: Arc<mpsc::Sender<Query>>) {
    let (mut rd, mut wr) = stream.into_split();
    // Reading in its own task keeps partially read frames safe while events are written.
    let (req_tx, mut req_rx) = mpsc::channel::<Result<Request, String>>(8);
    tokio::spawn(async move {
        loop {
            let next = match read_frame::<_, Request>(&mut rd).await {
                Ok(Some(r)) => Ok(r),
                Ok(None) => return,
                Err(FrameError::Json(e)) => Err(format!("malformed request: {e}")),
                Err(e) => {
                    let _ = req_tx.send(Err(e.to_string())).await;
                    return;
                }
            };
            if req_tx.send(next).await.is_err() {
                return;
            }
        }
    });

    match req_rx.recv().await {
        Some(Ok(Request::Hello(h))) if h.version == PROTOCOL_VERSION => {
            let reply = Reply::Hello {
                version: PROTOCOL_VERSION,
                service: "sipd".into(),
            };
            if write_frame(&mut wr, &Frame::Reply(reply)).await.is_err() {
                return;
            }
            log::debug!("client {} connected", h.client);
        }
        Some(Ok(Request::Hello(h))) => {
            let message = format!(
                "protocol version {} is not spoken here (sipd speaks {PROTOCOL_VERSION})",
                h.version
            );
            log::warn!("{} refused: {message}", h.client);
            let _ = write_frame(&mut wr, &Frame::Reply(Reply::Error { message })).await;
            return;
        }
        Some(_) => {
            let message = "the first request must be hello".to_string();
            let _ = write_frame(&mut wr, &Frame::Reply(Reply::Error { message })).await;
            return;
        }
        None => return,
    }

    let (ev_tx, mut ev_rx) = mpsc::channel(SUBSCRIBER_BACKLOG);
    loop {
        let frame = tokio::select! {
            req = req_rx.recv() => match req {
                None => break,
                Some(Err(message)) => Frame::Reply(Reply::Error { message }),
                Some(Ok(req)) => Frame::Reply(handle(&queries, req, &ev_tx).await),
            },
            Some(ev) = ev_rx.recv() => Frame::Event(ev),
        };
        if write_frame(&mut wr, &frame).await.is_err() {
            break;
        }
    }
}

async fn handle(
    queries: &mpsc::Sender<Query>,
    req: Request,
    events: &mpsc::Sender<Event>,
) -> Reply {
    let gone = || Reply::Error {
        message: "sipd is stopping".into(),
    };
    match req {
        Request::Hello(_) => Reply::Error {
            message: "hello was already said".into(),
        },
        Request::Status => {
            let (tx, rx) = oneshot::channel();
            if queries.send(Query::Status(tx)).await.is_err() {
                return gone();
            }
            match rx.await {
                Ok(s) => Reply::Status(Box::new(s)),
                Err(_) => gone(),
            }
        }
        Request::Subscribe => match queries.send(Query::Subscribe(events.clone())).await {
            Ok(()) => Reply::Ok,
            Err(_) => gone(),
        },
        command => {
            let (tx, rx) = oneshot::channel();
            if queries.send(Query::Command(command, tx)).await.is_err() {
                return gone();
            }
            rx.await.unwrap_or_else(|_| gone())
        }
    }
}

/// A call command of the socket, carried out on the shell.
fn command(shell: &mut Shell, request: Request) -> Reply {
    let now = Instant::now();
    let result = match request {
        Request::Dial { line, number } => shell.dial(now, line, &number).map(Some),
        Request::Answer { call } => shell.answer(now, call).map(Some),
        Request::Hangup { call } => shell.hangup(now, call).map(|()| None),
        Request::Hold { call } => shell.hold(now, call, true).map(Some),
        Request::Resume { call } => shell.hold(now, call, false).map(Some),
        Request::Transfer { call, to, to_call } => shell.transfer(now, call, to, to_call).map(Some),
        Request::Conference { calls } => {
            shell.conference(now, &calls).map(|c| c.into_iter().next())
        }
        Request::Hello(_) | Request::Status | Request::Subscribe => {
            Err("not a call command".to_string())
        }
    };
    match result {
        Ok(Some(call)) => Reply::Call { call },
        Ok(None) => Reply::Ok,
        Err(message) => Reply::Error { message },
    }
}
