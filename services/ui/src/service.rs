//! The UI as a service: the display, the keys, the lamps, and the links to provd, sipd and
//! mediad around one [`UiCore`].
//!
//! One task owns the core, the frame and the display, so nothing is locked. Links to the
//! other services are tasks of their own that reconnect forever: a service that restarts
//! costs the UI nothing but a moment of stale state, and a UI that restarts never drops a
//! call (sipd keeps the calls; the UI reads them back).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use deskphone_dialplan::DialPlan;
use deskphone_display::{Display, FbDisplay, Frame, MemoryDisplay, PngFileDisplay};
use deskphone_input::{spawn_evdev, EvdevOptions, InputEvent, InputHandle, Keymap};
use deskphone_ipc::client::{Client, Mediad, Provd, Sipd};
use deskphone_ipc::server::{accept_loop, Incoming};
use deskphone_ipc::ui::{Event, Reply, Request, ScreenStatus, Server, Status};
use deskphone_ipc::{provd, sipd, RuntimeDir, Service, PROTOCOL_VERSION};
use deskphone_lamps::{LampConfig, LampName, LampSet, LampState};
use deskphone_screen::render::{render, Theme};
use deskphone_screen::Screen;
use embedded_graphics::prelude::Size;
use tokio::sync::mpsc;

use crate::core::{Lamp, Output, Prefs, ProvdOrder, UiCore};
use crate::history::History;

/// Where the screen goes.
#[derive(Debug, Clone)]
pub enum DisplayChoice {
    /// The Linux framebuffer device.
    Fbdev(PathBuf),
    /// Memory only (screenshots through the socket).
    Memory(Size),
    /// Memory, and every changed frame written to this PNG file (the simulator).
    Png(PathBuf, Size),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeDir,
    /// Where the call lists and the phone's own preferences are kept.
    pub data_dir: PathBuf,
    pub display: DisplayChoice,
    /// Read keys from evdev devices (`None`: keys only through the socket).
    pub evdev: Option<EvdevChoice>,
    /// The lamps' configuration file (`None`: lamps kept in memory, shown in the status).
    pub lamps: Option<PathBuf>,
    /// A hook switch on a GPIO line read directly (instead of an evdev switch).
    pub hook_gpio: Option<deskphone_input::GpioHookOptions>,
}

#[derive(Debug, Clone)]
pub struct EvdevChoice {
    pub dir: PathBuf,
    pub keymap: Option<PathBuf>,
}

/// What the link tasks tell the UI's loop.
enum Link {
    SipdStatus(Box<sipd::Status>),
    SipdEvent(sipd::Event),
    SipdReply(Result<Option<sipd::CallStatus>, String>),
    Config(BTreeMap<String, String>, Option<Arc<DialPlan>>),
    StatusMessage(String),
    ProvdResult(ProvdOrder, Result<(), String>),
    StatusPages {
        messages: Vec<String>,
        versions: Vec<(String, String)>,
        /// The interface netd says the phone's traffic uses.
        interface: Option<String>,
    },
    Fetched(Result<deskphone_xmlapps::PhoneObject, String>),
    Logo(Result<deskphone_screen::Image, String>),
}

/// The display behind one type, whichever backend was chosen.
enum Screenout {
    Fb(Box<FbDisplay>),
    Memory(MemoryDisplay),
    Png(PngFileDisplay),
}

impl Screenout {
    fn open(choice: &DisplayChoice) -> anyhow::Result<Screenout> {
        Ok(match choice {
            DisplayChoice::Fbdev(path) => Screenout::Fb(Box::new(FbDisplay::open(path)?)),
            DisplayChoice::Memory(size) => Screenout::Memory(MemoryDisplay::new(*size)),
            DisplayChoice::Png(path, size) => Screenout::Png(PngFileDisplay::new(path, *size)),
        })
    }
    fn display(&mut self) -> &mut dyn Display {
        match self {
            Screenout::Fb(d) => d.as_mut(),
            Screenout::Memory(d) => d,
            Screenout::Png(d) => d,
        }
    }
}

/// Runs the UI until SIGTERM or SIGINT.
pub async fn run(opts: Options) -> anyhow::Result<i32> {
    let listener = deskphone_ipc::systemd::listen(&opts.runtime, Service::Ui)?;
    let (in_tx, mut in_rx) = mpsc::channel::<Incoming<Server>>(16);
    tokio::spawn(accept_loop::<Server>(listener, in_tx));

    let mut screenout = Screenout::open(&opts.display)?;
    let size = screenout.display().size();
    let mut frame = Frame::new(size);
    let display_name = screenout.display().describe();
    log::info!("display: {display_name}");

    // The call lists and the phone's own preferences, in a store of the project's flash
    // format: checksummed, and the old or the new version after a power cut.
    let store = deskphone_flash::FlashStore::open(&opts.data_dir)?;
    let (history, problem) = History::load(&store);
    let prefs = load_prefs(&store);
    let start = Instant::now();
    let mut core = UiCore::new(start, unix_now(), history, prefs);
    if let Some(p) = problem {
        log::warn!("{p}");
        core.add_status_message(p);
    }

    let (key_tx, mut key_rx) = mpsc::channel::<InputEvent>(64);
    let input: Option<InputHandle> = match &opts.evdev {
        Some(choice) => {
            let keymap = match &choice.keymap {
                Some(path) => {
                    let (map, errors) = Keymap::load(path)?;
                    for e in errors {
                        log::warn!("{e}");
                        core.add_status_message(e.to_string());
                    }
                    map
                }
                None => Keymap::builtin(),
            };
            let options = EvdevOptions {
                dir: choice.dir.clone(),
                ..EvdevOptions::default()
            };
            Some(spawn_evdev(keymap, options, key_tx.clone()).context("reading the keys")?)
        }
        None => None,
    };
    let _gpio_hook = match &opts.hook_gpio {
        Some(options) => {
            let switch = deskphone_input::open_gpio_hook(options)
                .with_context(|| "the hook switch's GPIO line".to_string())?;
            Some(deskphone_input::spawn_gpio_hook(
                switch,
                options.poll_interval,
                key_tx.clone(),
            ))
        }
        None => None,
    };
    let mut lamps = match &opts.lamps {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let config =
                LampConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            LampSet::open(
                &config,
                std::path::Path::new(deskphone_lamps::SYS_CLASS_LEDS),
            )
        }
        None => LampSet::memory().0,
    };

    let (link_tx, mut link_rx) = mpsc::channel::<Link>(256);
    let (sipd_tx, sipd_rx) = mpsc::channel::<sipd::Request>(32);
    let (provd_tx, provd_rx) = mpsc::channel::<ProvdWork>(32);
    let (mediad_tx, mediad_rx) = mpsc::channel::<deskphone_ipc::mediad::Request>(64);
    tokio::spawn(sipd_events(opts.runtime.clone(), link_tx.clone()));
    tokio::spawn(sipd_requests(
        opts.runtime.clone(),
        sipd_rx,
        link_tx.clone(),
    ));
    tokio::spawn(provd_events(opts.runtime.clone(), link_tx.clone()));
    tokio::spawn(provd_requests(
        opts.runtime.clone(),
        provd_rx,
        link_tx.clone(),
    ));
    tokio::spawn(mediad_requests(opts.runtime.clone(), mediad_rx));
    let _ = provd_tx.try_send(ProvdWork::StatusPages);
    // The audio volumes the phone keeps go to mediad once at start.
    for (path, level) in [
        (
            deskphone_ipc::mediad::AudioPath::Handset,
            core.prefs.handset_volume,
        ),
        (
            deskphone_ipc::mediad::AudioPath::Speaker,
            core.prefs.speaker_volume,
        ),
        (
            deskphone_ipc::mediad::AudioPath::Headset,
            core.prefs.headset_volume,
        ),
    ] {
        let _ = mediad_tx.try_send(deskphone_ipc::mediad::Request::Volume { path, level });
    }

    let mut subscribers: Vec<mpsc::Sender<Event>> = Vec::new();
    let mut shown: Option<Screen> = None;
    let mut shown_status: Option<ScreenStatus> = None;
    let mut theme_contrast = 0u8;
    let mut theme = Theme::default();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    deskphone_ipc::systemd::spawn_watchdog();
    log::info!("ui ready");
    let mut second = tokio::time::interval(Duration::from_millis(250));

    loop {
        let wake = core
            .poll_timeout()
            .into_iter()
            .chain(lamps.poll(Instant::now()))
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            Some(ev) = key_rx.recv() => {
                core.handle_key(ev.as_key(), Instant::now(), unix_now());
            }
            Some(link) = link_rx.recv() => handle_link(&mut core, link),
            Some(incoming) = in_rx.recv() => {
                let Incoming { request, events, reply } = incoming;
                let r = match request {
                    Request::Hello(_) => Reply::Hello { version: PROTOCOL_VERSION, service: "ui".into() },
                    Request::Status => Reply::Status(Box::new(Status {
                        ui: env!("CARGO_PKG_VERSION").into(),
                        protocol: PROTOCOL_VERSION,
                        screen: core.screen_status(),
                        display: display_name.clone(),
                        inputs: input.as_ref().map(|i| i.inputs()).unwrap_or_else(|| vec!["socket only".into()]),
                        lamps: lamp_states(&lamps),
                        audio_path: core.audio_path_name().into(),
                    })),
                    Request::Keys { keys } => {
                        for key in keys {
                            core.handle_key(key, Instant::now(), unix_now());
                            dispatch(&mut core, &link_tx, &sipd_tx, &provd_tx, &mediad_tx, &store);
                        }
                        Reply::Ok
                    }
                    Request::Screenshot => {
                        // Whatever is pending is drawn first: the picture is the screen now.
                        redraw(core.screen().0, &mut frame, screenout.display(), &theme, &mut shown);
                        match frame.to_png() {
                            Ok(png) => Reply::Screenshot {
                                png_base64: base64::engine::general_purpose::STANDARD.encode(png),
                                width: size.width,
                                height: size.height,
                            },
                            Err(e) => Reply::Error { message: format!("screenshot: {e}") },
                        }
                    }
                    Request::Subscribe => {
                        subscribers.push(events);
                        Reply::Ok
                    }
                };
                let _ = reply.send(r);
            }
            _ = second.tick() => {}
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        core.handle_tick(Instant::now(), unix_now());
        dispatch(&mut core, &link_tx, &sipd_tx, &provd_tx, &mediad_tx, &store);
        for (name, lamp) in core.lamps() {
            if let Ok(n) = name.parse::<LampName>() {
                let state = lamp_state(lamp);
                if lamps.state(n) != state {
                    lamps.set(n, state);
                }
            }
        }
        if core.prefs.contrast != theme_contrast {
            theme_contrast = core.prefs.contrast;
            theme = with_contrast(Theme::default(), theme_contrast);
            shown = None;
        }
        // One screen per turn of the loop: drawn if it changed, told if its text changed.
        let (screen, name) = core.screen();
        let status = crate::core::status_of(&screen, name);
        redraw(screen, &mut frame, screenout.display(), &theme, &mut shown);
        if shown_status.as_ref() != Some(&status) {
            subscribers
                .retain(|s| s.try_send(Event::Screen(status.clone())).is_ok() || !s.is_closed());
            shown_status = Some(status);
        }
    }
    log::info!("ui stopping");
    Ok(0)
}

/// Draws the screen when it differs from what is shown; the display copies only what changed.
fn redraw(
    screen: Screen,
    frame: &mut Frame,
    display: &mut dyn Display,
    theme: &Theme,
    shown: &mut Option<Screen>,
) {
    if shown.as_ref() == Some(&screen) {
        return;
    }
    if let Err(e) = render(&screen, frame, theme) {
        log::warn!("drawing: {e:?}");
    }
    if let Err(e) = display.present(frame) {
        log::warn!("display: {e}");
    }
    *shown = Some(screen);
}

fn handle_link(core: &mut UiCore, link: Link) {
    match link {
        Link::SipdStatus(s) => core.handle_sipd_status(*s),
        Link::SipdEvent(e) => core.handle_sipd_event(e),
        Link::SipdReply(r) => core.handle_sipd_reply(r),
        Link::Config(config, plan) => {
            core.set_config(config);
            if let Some(plan) = plan {
                core.set_dial_plan(plan);
            }
        }
        Link::StatusMessage(text) => core.add_status_message(text),
        Link::ProvdResult(order, result) => core.handle_provd_result(&order, result),
        Link::Fetched(result) => core.handle_fetch_result(result),
        Link::Logo(result) => core.handle_logo(result),
        Link::StatusPages {
            messages,
            versions,
            interface,
        } => {
            let mut versions = versions;
            versions.push(("UI".into(), env!("CARGO_PKG_VERSION").into()));
            core.set_status_pages(messages, versions, network_statistics(interface));
        }
    }
}

/// Hands the core's outputs to the links; the call lists and preferences are written here.
fn dispatch(
    core: &mut UiCore,
    link_tx: &mpsc::Sender<Link>,
    sipd_tx: &mpsc::Sender<sipd::Request>,
    provd_tx: &mpsc::Sender<ProvdWork>,
    mediad_tx: &mpsc::Sender<deskphone_ipc::mediad::Request>,
    store: &deskphone_flash::FlashStore,
) {
    while let Some(out) = core.poll_output() {
        match out {
            Output::Sipd(r) => {
                if sipd_tx.try_send(r).is_err() {
                    core.handle_sipd_reply(Err("the SIP service is busy".into()));
                }
            }
            Output::Provd(order) => {
                let _ = provd_tx.try_send(ProvdWork::Order(order));
            }
            Output::Mediad(r) => {
                let _ = mediad_tx.try_send(r);
            }
            Output::Fetch(url) => {
                let proxy = core
                    .http_proxy()
                    .map(|(host, port)| deskphone_xmlapps::ProxyConfig { host, port });
                let tx = link_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = deskphone_xmlapps::fetch(&url, proxy.as_ref(), FETCH_TIMEOUT)
                        .map_err(|e| e.to_string());
                    let _ = tx.blocking_send(Link::Fetched(result));
                });
            }
            Output::FetchLogo(url) => {
                let proxy = core
                    .http_proxy()
                    .map(|(host, port)| deskphone_xmlapps::ProxyConfig { host, port });
                let tx = link_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = deskphone_xmlapps::fetch_bytes(
                        &url,
                        proxy.as_ref(),
                        FETCH_TIMEOUT,
                        crate::logo::MAX_LOGO_BYTES,
                    )
                    .map_err(|e| e.to_string())
                    .and_then(|(bytes, _)| crate::logo::decode_logo(&bytes));
                    let _ = tx.blocking_send(Link::Logo(result));
                });
            }
            Output::RefreshStatus => {
                let _ = provd_tx.try_send(ProvdWork::StatusPages);
            }
            Output::SaveHistory => {
                if let Err(e) = core.history.save(store) {
                    log::warn!("call lists: {e}");
                }
            }
            Output::SavePrefs => {
                let json = serde_json::to_vec(&core.prefs).expect("the preferences serialise");
                if let Err(e) = store.write(PREFS_ENTRY, &json) {
                    log::warn!("preferences: {e}");
                }
            }
        }
    }
}

/// Settings > Contrast: 8 is the theme as drawn; each step spreads (or gathers) the colours
/// 8 % further from the middle grey, as an LCD's contrast control does.
fn with_contrast(theme: Theme, level: u8) -> Theme {
    use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
    let factor = 1.0 + (f32::from(level.clamp(1, 15)) - 8.0) * 0.08;
    let adjust = |c: Rgb888| {
        let ch = |v: u8| ((f32::from(v) - 128.0) * factor + 128.0).clamp(0.0, 255.0) as u8;
        Rgb888::new(ch(c.r()), ch(c.g()), ch(c.b()))
    };
    Theme {
        background: adjust(theme.background),
        text: adjust(theme.text),
        secondary: adjust(theme.secondary),
        rule: adjust(theme.rule),
        highlight: adjust(theme.highlight),
        highlight_text: adjust(theme.highlight_text),
        title: adjust(theme.title),
        title_text: adjust(theme.title_text),
        field: adjust(theme.field),
        tab: adjust(theme.tab),
    }
}

fn lamp_state(l: Lamp) -> LampState {
    match l {
        Lamp::Off => LampState::Off,
        Lamp::On => LampState::On,
        Lamp::BlinkSlow => LampState::Blink {
            on_ms: 500,
            off_ms: 500,
        },
        Lamp::BlinkFast => LampState::Blink {
            on_ms: 150,
            off_ms: 150,
        },
    }
}

fn lamp_states(lamps: &LampSet) -> serde_json::Map<String, serde_json::Value> {
    lamps
        .states()
        .map(|(name, state)| (name.to_string(), serde_json::Value::from(state.to_string())))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The store entry of the phone's own preferences.
const PREFS_ENTRY: &str = "ui-prefs";

fn load_prefs(store: &deskphone_flash::FlashStore) -> Prefs {
    let read = store
        .read(PREFS_ENTRY)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            b.map(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                .transpose()
        });
    match read {
        Ok(prefs) => prefs.unwrap_or_default(),
        Err(e) => {
            log::warn!("preferences: {e}; using the defaults");
            Prefs::default()
        }
    }
}

/// Network Statistics: the counters of the interface the phone uses (as netd reports it;
/// else the one with the default route), from the kernel's sysfs counters (read-only facts;
/// the image's UI cannot read /proc/net, ProcSubset=pid).
fn network_statistics(reported: Option<String>) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let iface = reported.or_else(|| {
        std::fs::read_to_string("/proc/net/route")
            .ok()
            .and_then(|t| {
                t.lines()
                    .skip(1)
                    .find(|l| l.split_whitespace().nth(1) == Some("00000000"))
                    .and_then(|l| l.split_whitespace().next().map(str::to_string))
            })
    });
    if let Some(iface) = &iface {
        let stat = |name: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/{name}"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into())
        };
        let link = std::fs::read_to_string(format!("/sys/class/net/{iface}/operstate"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        rows.push(("Interface".into(), iface.clone()));
        rows.push(("Link".into(), link));
        rows.push(("Rcv".into(), stat("rx_packets")));
        rows.push(("Xmt".into(), stat("tx_packets")));
        rows.push(("REr".into(), stat("rx_errors")));
        rows.push(("BCast".into(), stat("multicast")));
    } else {
        rows.push(("Link".into(), "no network interface in use".into()));
    }
    // The guide's phones have a PC port behind the phone (Network Port 2); a board with one
    // Ethernet port says that its Device Type setting has nothing to act on.
    if ethernet_ports() < 2 {
        rows.push(("Port 2".into(), "none (1-port board)".into()));
    }
    if let Ok(up) = std::fs::read_to_string("/proc/uptime") {
        if let Some(secs) = up
            .split_whitespace()
            .next()
            .and_then(|s| s.parse::<f64>().ok())
        {
            let s = secs as u64;
            rows.push((
                "Elapsed".into(),
                format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
            ));
        }
    }
    rows
}

/// Physical Ethernet interfaces (type 1 with a device behind them).
fn ethernet_ports() -> usize {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let p = e.path();
                    std::fs::read_to_string(p.join("type")).is_ok_and(|t| t.trim() == "1")
                        && p.join("device").exists()
                })
                .count()
        })
        .unwrap_or(0)
}

// ----- links ------------------------------------------------------------------------------

const RETRY: Duration = Duration::from_secs(1);

/// How long a service page may take, from connecting to the last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A status message as the phone lists it: the time of day (UTC) and the text.
fn status_line(time: &str, text: &str) -> String {
    match time.get(11..16) {
        Some(hhmm) => format!("{hhmm} {text}"),
        None => text.to_string(),
    }
}

async fn sipd_events(runtime: RuntimeDir, tx: mpsc::Sender<Link>) {
    loop {
        if let Err(e) = sipd_events_once(&runtime, &tx).await {
            log::debug!("sipd events: {e}");
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn sipd_events_once(runtime: &RuntimeDir, tx: &mpsc::Sender<Link>) -> anyhow::Result<()> {
    let mut c = Client::<Sipd>::connect(runtime, "ui").await?;
    c.request(&sipd::Request::Subscribe).await?;
    if let sipd::Reply::Status(s) = c.request(&sipd::Request::Status).await? {
        tx.send(Link::SipdStatus(s)).await?;
    }
    while let Some(e) = c.next_event().await? {
        tx.send(Link::SipdEvent(e)).await?;
    }
    Ok(())
}

async fn sipd_requests(
    runtime: RuntimeDir,
    mut rx: mpsc::Receiver<sipd::Request>,
    tx: mpsc::Sender<Link>,
) {
    let mut client: Option<Client<Sipd>> = None;
    while let Some(req) = rx.recv().await {
        if client.is_none() {
            client = Client::<Sipd>::connect(&runtime, "ui").await.ok();
        }
        let result = match client.as_mut() {
            None => Err("the SIP service is not running".to_string()),
            Some(c) => match c.request(&req).await {
                Ok(sipd::Reply::Call { call }) => Ok(Some(call)),
                Ok(sipd::Reply::Error { message }) => Err(message),
                Ok(_) => Ok(None),
                Err(e) => {
                    client = None;
                    Err(e.to_string())
                }
            },
        };
        if tx.send(Link::SipdReply(result)).await.is_err() {
            return;
        }
    }
}

async fn provd_events(runtime: RuntimeDir, tx: mpsc::Sender<Link>) {
    loop {
        if let Err(e) = provd_events_once(&runtime, &tx).await {
            log::debug!("provd events: {e}");
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn provd_events_once(runtime: &RuntimeDir, tx: &mpsc::Sender<Link>) -> anyhow::Result<()> {
    let mut c = Client::<Provd>::connect(runtime, "ui").await?;
    // The configuration worth showing is the one the first provisioning ends with.
    let mut pause = Duration::from_millis(10);
    loop {
        match c.request(&provd::Request::Status).await? {
            provd::Reply::Status(s) if s.provisioning.state != "starting" => break,
            provd::Reply::Status(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => anyhow::bail!("unexpected reply to status: {other:?}"),
        }
    }
    // Subscribed before reading, so no change can fall between the two.
    c.request(&provd::Request::Subscribe).await?;
    let (config, plan) = (read_config(&mut c).await?, read_dial_plan(&mut c).await?);
    tx.send(Link::Config(config, Some(plan))).await?;
    while let Some(e) = c.next_event().await? {
        match e {
            provd::Event::ConfigChanged { names } => {
                let config = read_config(&mut c).await?;
                let plan = if names
                    .iter()
                    .any(|n| n.ends_with(".xml") || n == "dial_template")
                {
                    Some(read_dial_plan(&mut c).await?)
                } else {
                    None
                };
                tx.send(Link::Config(config, plan)).await?;
            }
            provd::Event::StatusMessage(m) => {
                tx.send(Link::StatusMessage(status_line(&m.time, &m.text)))
                    .await?
            }
            provd::Event::Rebooting { .. } => {}
        }
    }
    Ok(())
}

async fn read_config(c: &mut Client<Provd>) -> anyhow::Result<BTreeMap<String, String>> {
    match c.request(&provd::Request::Config).await? {
        provd::Reply::Config { parameters } => Ok(parameters
            .into_iter()
            .map(|(k, v)| {
                let text = match &v["value"] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect()),
        other => anyhow::bail!("unexpected reply to config: {other:?}"),
    }
}

async fn read_dial_plan(c: &mut Client<Provd>) -> anyhow::Result<Arc<DialPlan>> {
    match c.request(&provd::Request::DialPlan).await? {
        provd::Reply::DialPlan { xml: Some(xml) } => {
            Ok(Arc::new(DialPlan::parse("dialplan.xml", xml.as_bytes()).0))
        }
        provd::Reply::DialPlan { xml: None } => Ok(Arc::new(DialPlan::default())),
        other => anyhow::bail!("unexpected reply to dial_plan: {other:?}"),
    }
}

enum ProvdWork {
    Order(ProvdOrder),
    StatusPages,
}

/// One lasting connection: Unlock Config holds for the connection it was made on.
async fn provd_requests(
    runtime: RuntimeDir,
    mut rx: mpsc::Receiver<ProvdWork>,
    tx: mpsc::Sender<Link>,
) {
    let mut client: Option<Client<Provd>> = None;
    while let Some(work) = rx.recv().await {
        if client.is_none() {
            client = Client::<Provd>::connect(&runtime, "ui").await.ok();
        }
        let Some(c) = client.as_mut() else {
            if let ProvdWork::Order(order) = work {
                let _ = tx
                    .send(Link::ProvdResult(order, Err("provd is not running".into())))
                    .await;
            }
            continue;
        };
        match work {
            ProvdWork::Order(order) => {
                let req = match &order {
                    ProvdOrder::Unlock { password } => provd::Request::Unlock {
                        password: password.clone(),
                    },
                    ProvdOrder::Lock => provd::Request::Lock,
                    ProvdOrder::Set { name, value } => provd::Request::Set {
                        name: name.clone(),
                        value: value.clone(),
                    },
                    ProvdOrder::EraseNetwork => provd::Request::EraseNetwork,
                    ProvdOrder::Activity { busy } => provd::Request::Activity { busy: *busy },
                };
                let result = match c.request(&req).await {
                    Ok(provd::Reply::Error { message }) => Err(message),
                    Ok(_) => Ok(()),
                    Err(e) => {
                        client = None;
                        Err(e.to_string())
                    }
                };
                let _ = tx.send(Link::ProvdResult(order, result)).await;
            }
            ProvdWork::StatusPages => match c.request(&provd::Request::Status).await {
                Ok(provd::Reply::Status(s)) => {
                    let messages = s
                        .status_messages
                        .iter()
                        .map(|m| status_line(&m.time, &m.text))
                        .collect();
                    let versions = vec![
                        ("Firmware".to_string(), s.versions.firmware.clone()),
                        ("provd".to_string(), s.versions.provd.clone()),
                        ("Protocol".to_string(), s.versions.protocol.to_string()),
                    ];
                    let interface = s.network.as_ref().map(|n| n.interface.clone());
                    let _ = tx
                        .send(Link::StatusPages {
                            messages,
                            versions,
                            interface,
                        })
                        .await;
                }
                Ok(_) => {}
                Err(_) => client = None,
            },
        }
    }
}

async fn mediad_requests(
    runtime: RuntimeDir,
    mut rx: mpsc::Receiver<deskphone_ipc::mediad::Request>,
) {
    let mut client: Option<Client<Mediad>> = None;
    while let Some(req) = rx.recv().await {
        if client.is_none() {
            client = Client::<Mediad>::connect(&runtime, "ui").await.ok();
        }
        if let Some(c) = client.as_mut() {
            match c.request(&req).await {
                Ok(deskphone_ipc::mediad::Reply::Error { message }) => {
                    log::debug!("mediad refused {req:?}: {message}")
                }
                Ok(_) => {}
                Err(e) => {
                    log::debug!("mediad: {e}");
                    client = None;
                }
            }
        }
    }
}
