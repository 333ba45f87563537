//! provd as a service: the start-up provisioning, the Unix socket, check-sync, reboot.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use deskphone_config::table::lookup;
use deskphone_config::{edit, Config, Diagnostic, Mac, Value};
use deskphone_flash::FlashStore;
use deskphone_ipc::provd::{
    Event, FileStatus, FirmwareStatus, NetworkReport, Provisioning, Reply, Request, ResyncStatus,
    Status, StatusMessage, TimeReport, Versions,
};
use deskphone_ipc::{
    read_frame, write_frame, FrameError, RuntimeDir, ServerFrame, Service, PROTOCOL_VERSION,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, Notify};

use crate::cycle::{Cycle, Fetched, Outcome};
use crate::files::{check_dialplan, decide_sync, parse_syncinfo, SyncDecision};
use crate::firmware::{
    boot_verdict, check_bundle, plan, trial_health, BootVerdict, FirmwareRecord, Health, Pending,
    Plan, Rauc, RECORD_ENTRY, TRIAL_HEALTH_DEADLINE,
};
use crate::network;
use crate::provision::{load_flash, run_cycle, save_flash, save_last_good, LAST_DIALPLAN_ENTRY};
use crate::resync::ResyncTimer;
use crate::servers::{tftp_candidates, DhcpTftp};
use crate::source::FileSource;

/// How the phone restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebootAction {
    /// Exit with this status; the supervisor (deskphone-sim) restarts the services.
    Exit(i32),
    /// Run this command (`systemctl reboot` on the image).
    Command(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub mac: Mac,
    pub state_dir: PathBuf,
    pub runtime: RuntimeDir,
    pub source: FileSource,
    pub dhcp: DhcpTftp,
    pub firmware_version: String,
    pub reboot: RebootAction,
    pub idle_wait: Duration,
    /// Wait this long at start for netd to report the network (and DHCP's TFTP servers)
    /// before provisioning; `None` where no netd runs (the simulator, `--tftp-server`).
    pub network_wait: Option<Duration>,
    /// How firmware is installed; `None` where there are no A/B slots (the simulator).
    pub installer: Option<Installer>,
}

/// Installs firmware bundles.
#[derive(Debug, Clone)]
pub struct Installer {
    pub rauc: Rauc,
    /// This phone's RAUC `compatible`, checked before installing for a clear message.
    pub compatible: Option<String>,
}

const MAX_MESSAGES: usize = 100;
/// A wrong phone password costs this long, so the keypad cannot be brute-forced quickly.
const UNLOCK_FAILURE_DELAY: Duration = Duration::from_secs(1);

type Frame = ServerFrame<Reply, Event>;

struct State {
    opts: Options,
    store: FlashStore,
    config: Config,
    provisioning: Provisioning,
    server: Option<SocketAddr>,
    diagnostics: Vec<Diagnostic>,
    messages: VecDeque<StatusMessage>,
    resync: ResyncTimer,
    /// Who says the phone is in use (sipd for calls, the UI while off hook or in its menus,
    /// phonectl): check-sync waits while any of them does.
    busy_clients: std::collections::BTreeSet<String>,
    last_resync: Option<String>,
    firmware: FirmwareStatus,
    record: FirmwareRecord,
    subscribers: Vec<mpsc::UnboundedSender<Event>>,
    /// The network as netd last reported it.
    network: Option<NetworkReport>,
    time: Option<TimeReport>,
    /// The TFTP servers changed after the start-up provisioning: provision again.
    reprovision: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the main loop: resync state changed or a reboot was asked for.
    wake: Notify,
    reboot: Mutex<Option<String>>,
    /// netd reported the network.
    network: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock must not take the whole agent down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request_reboot(&self, reason: String) {
        *self.reboot.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        self.wake.notify_one();
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl State {
    fn message(&mut self, text: impl Into<String>) {
        let text = text.into();
        log::info!("{text}");
        let m = StatusMessage {
            time: now_rfc3339(),
            text,
        };
        if self.messages.len() == MAX_MESSAGES {
            self.messages.pop_front();
        }
        self.messages.push_back(m.clone());
        self.broadcast(Event::StatusMessage(m));
    }

    fn broadcast(&mut self, event: Event) {
        self.subscribers.retain(|s| s.send(event.clone()).is_ok());
    }

    fn status(&self) -> Status {
        let unknown = self
            .config
            .unknown()
            .iter()
            .map(|(k, u)| {
                (
                    k.clone(),
                    serde_json::json!({"value": u.value, "source": u.source.to_string()}),
                )
            })
            .collect();
        Status {
            versions: Versions {
                firmware: self.opts.firmware_version.clone(),
                provd: env!("CARGO_PKG_VERSION").to_string(),
                protocol: PROTOCOL_VERSION,
            },
            mac: self.opts.mac.to_string(),
            provisioning: self.provisioning.clone(),
            firmware: self.firmware.clone(),
            resync: ResyncStatus {
                state: self.resync.state().name().to_string(),
                sync: self.config.text("sync").map(str::to_string),
                last_result: self.last_resync.clone(),
            },
            configuration: self.shown().parameters_json(false),
            unknown_parameters: unknown,
            status_messages: self.messages.iter().cloned().collect(),
            diagnostics: self.diagnostics.clone(),
            network: self.network.clone(),
            time: self.time.clone(),
        }
    }

    /// The configuration as shown (with the DHCP lease's values while DHCP is on).
    fn shown(&self) -> std::borrow::Cow<'_, Config> {
        match network::shown(&self.config, self.network.as_ref()) {
            Some(c) => std::borrow::Cow::Owned(c),
            None => std::borrow::Cow::Borrowed(&self.config),
        }
    }

    /// netd's report: shown values may change (tell the subscribers), and so may the TFTP
    /// servers DHCP names.
    fn set_network(&mut self, report: NetworkReport) {
        let before = self.shown().into_owned();
        for p in &report.problems {
            if !self
                .network
                .as_ref()
                .is_some_and(|n| n.problems.contains(p))
            {
                self.message(format!("network: {p}"));
            }
        }
        // A renewal only moves `since`: not worth a status message.
        let without_since = |d: &Option<deskphone_ipc::provd::DhcpReport>| {
            d.clone().map(|mut d| {
                d.since.clear();
                d
            })
        };
        let lease_changed = self.network.as_ref().map(|n| without_since(&n.dhcp))
            != Some(without_since(&report.dhcp));
        if lease_changed {
            match &report.dhcp {
                Some(l) => self.message(format!(
                    "DHCP: {} from {} ({} s)",
                    l.address, l.server, l.lease_secs
                )),
                None if report.addressing == "released" => {
                    self.message("DHCP address released; no address until DHCP is asked again")
                }
                None => {}
            }
        }
        self.network = Some(report);
        let after = self.shown();
        let changed = changed_names(&before, &after);
        if !changed.is_empty() {
            self.broadcast(Event::ConfigChanged { names: changed });
        }
    }

    /// Saves the configuration to flash after a local change, and tells subscribers.
    fn commit(&mut self, before: &Config) -> Result<(), String> {
        let changed = changed_names(before, &self.config);
        save_flash(&self.store, &self.config.to_flash()).map_err(|e| {
            let msg = format!("could not save to flash: {e}");
            self.message(msg.clone());
            msg
        })?;
        if !changed.is_empty() {
            self.broadcast(Event::ConfigChanged { names: changed });
        }
        Ok(())
    }

    fn servers(&self) -> Vec<SocketAddr> {
        match &self.opts.source {
            FileSource::Directory(_) => vec![FileSource::DIRECTORY_SERVER],
            FileSource::Tftp(_) => {
                let mut s: Vec<SocketAddr> = self.server.into_iter().collect();
                for c in tftp_candidates(&self.config, &self.opts.dhcp) {
                    if !s.contains(&c) {
                        s.push(c);
                    }
                }
                s
            }
        }
    }

    fn apply_outcome(&mut self, outcome: &Outcome) {
        self.config = outcome.config.clone();
        self.server = outcome.server;
        self.diagnostics = outcome.diagnostics.clone();
        let image = self.config.text("image_version").map(str::to_string);
        self.firmware.wanted = image.clone();
        self.provisioning = Provisioning {
            state: if outcome.server.is_some() {
                "provisioned"
            } else {
                "flash"
            }
            .to_string(),
            server: outcome.server.map(|s| self.opts.source.describe(s)),
            files: outcome
                .files
                .iter()
                .map(|f| FileStatus {
                    name: f.name.clone(),
                    found: f.found,
                })
                .collect(),
            last_attempt: Some(now_rfc3339()),
            image_version: image,
        };
        for n in &outcome.notes {
            self.message(n.clone());
        }
        for d in &outcome.diagnostics {
            self.message(d.to_string());
        }
        if let Some(server) = outcome.server {
            let warnings = outcome.diagnostics.len();
            self.message(format!(
                "configuration from {} ({warnings} diagnostic(s))",
                self.opts.source.describe(server)
            ));
        }
        match save_flash(&self.store, &self.config.to_flash()) {
            Ok(true) => log::info!("flash updated"),
            Ok(false) => {}
            Err(e) => self.message(format!("could not save the configuration to flash: {e}")),
        }
        if outcome.server.is_some() {
            if let Err(e) = save_last_good(&self.store, outcome) {
                self.message(format!("could not keep the last good files: {e}"));
            }
        }
    }
}

/// Runs provd until SIGTERM (returns 0) or a reboot with [`RebootAction::Exit`] (returns its
/// status).
pub async fn run(opts: Options) -> anyhow::Result<i32> {
    let store =
        FlashStore::open(opts.state_dir.join("flash")).context("opening the flash store")?;
    let (flash, flash_diags) = load_flash(&store);
    let mut config = Config::new(opts.mac);
    let mut diags = flash_diags;
    let record = match store.read(RECORD_ENTRY) {
        Ok(Some(b)) => FirmwareRecord::from_bytes(&b).unwrap_or_else(|e| {
            diags.push(Diagnostic::error(deskphone_config::config::FLASH, 0, e));
            FirmwareRecord::default()
        }),
        Ok(None) => FirmwareRecord::default(),
        Err(e) => {
            diags.push(Diagnostic::error(
                deskphone_config::config::FLASH,
                0,
                e.to_string(),
            ));
            FirmwareRecord::default()
        }
    };
    diags.extend(config.apply_flash(&flash));
    let state = State {
        resync: ResyncTimer::new(Instant::now(), opts.idle_wait),
        busy_clients: Default::default(),
        provisioning: Provisioning {
            state: "starting".into(),
            server: None,
            files: Vec::new(),
            last_attempt: None,
            image_version: None,
        },
        firmware: FirmwareStatus {
            running: opts.firmware_version.clone(),
            wanted: None,
            state: "starting".into(),
            progress_percent: None,
            message: String::new(),
        },
        record,
        opts: opts.clone(),
        store,
        config,
        server: None,
        diagnostics: Vec::new(),
        messages: VecDeque::new(),
        last_resync: None,
        subscribers: Vec::new(),
        network: None,
        time: None,
        reprovision: false,
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        wake: Notify::new(),
        reboot: Mutex::new(None),
        network: Notify::new(),
    });
    for d in diags {
        shared.lock().message(d.to_string());
    }

    let listener = deskphone_ipc::systemd::listen(&opts.runtime, Service::Provd)?;
    tokio::spawn(accept_loop(listener, shared.clone()));

    // The network first (DHCP names the TFTP servers), as the phone does at power-on.
    if let Some(wait) = opts.network_wait {
        let reported = tokio::time::timeout(wait, async {
            loop {
                let notified = shared.network.notified();
                if shared
                    .lock()
                    .network
                    .as_ref()
                    .is_some_and(|n| n.addressing != "waiting")
                {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if reported.is_err() {
            shared.lock().message(format!(
                "no network after {} s; provisioning with what is known",
                wait.as_secs()
            ));
        }
        update_dhcp_servers(&shared).await;
        shared.lock().reprovision = false;
    }
    // Provision once, at start, as the phone does at power-on.
    let (servers, source) = {
        let s = shared.lock();
        (s.servers(), s.opts.source.clone())
    };
    if servers.is_empty() {
        shared
            .lock()
            .message("no TFTP server known (DHCP gave none and none is set); using flash");
    }
    let cycle = Cycle::new(opts.mac, flash, servers, true);
    let outcome = run_cycle(cycle, &source).await;
    {
        // Clients that connected while provd waited for the network (netd) read the
        // configuration of flash: tell them what the files changed.
        let mut s = shared.lock();
        let before = s.shown().into_owned();
        s.apply_outcome(&outcome);
        let changed = changed_names(&before, &s.shown());
        if !changed.is_empty() {
            s.broadcast(Event::ConfigChanged { names: changed });
        }
    }
    firmware_at_start(&shared).await;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    deskphone_ipc::systemd::spawn_watchdog();

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let pending_reboot = shared
            .reboot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(reason) = pending_reboot {
            return reboot(&shared, reason).await;
        }
        let deadline = shared.lock().resync.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        if std::mem::take(&mut shared.lock().reprovision) {
            reprovision(&shared).await;
            continue;
        }
        tokio::select! {
            _ = shared.network.notified() => {
                if update_dhcp_servers(&shared).await {
                    shared.lock().reprovision = true;
                }
            }
            _ = sleep => {
                let due = shared.lock().resync.handle_timeout(Instant::now());
                if due {
                    check_sync(&shared).await;
                }
            }
            _ = shared.wake.notified() => {}
            _ = sigterm.recv() => {
                log::info!("stopping");
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
                return Ok(0);
            }
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// The parameters whose value differs between two configurations.
fn changed_names(before: &Config, after: &Config) -> Vec<String> {
    before
        .iter()
        .zip(after.iter())
        .filter(|((_, a), (_, b))| a.value != b.value)
        .map(|((d, _), _)| d.name.to_string())
        .collect()
}

/// Takes the TFTP servers of netd's last report (resolving option 66); true when they
/// changed.
async fn update_dhcp_servers(shared: &Arc<Shared>) -> bool {
    let Some(report) = shared.lock().network.clone() else {
        return false;
    };
    let (option_150, named) = network::dhcp_servers(&report);
    let option_66 = match named {
        Some(name) => match network::resolve_option_66(&name).await {
            Ok(a) => Some(a),
            Err(e) => {
                shared.lock().message(e);
                None
            }
        },
        None => None,
    };
    let new = network::dhcp_tftp(option_150, option_66);
    let mut s = shared.lock();
    if s.opts.dhcp == new {
        return false;
    }
    log::info!("TFTP servers from DHCP: {new:?}");
    s.opts.dhcp = new;
    true
}

/// Provisions again after DHCP named other TFTP servers (a late lease, a new network):
/// the start-up cycle once more, with the changes told to the other services.
async fn reprovision(shared: &Arc<Shared>) {
    let (servers, source, mac, flash, before) = {
        let s = shared.lock();
        let (flash, _) = load_flash(&s.store);
        (
            s.servers(),
            s.opts.source.clone(),
            s.opts.mac,
            flash,
            s.shown().into_owned(),
        )
    };
    shared
        .lock()
        .message("DHCP named other TFTP servers; provisioning again");
    let cycle = Cycle::new(mac, flash, servers, true);
    let outcome = run_cycle(cycle, &source).await;
    let mut s = shared.lock();
    s.apply_outcome(&outcome);
    let after = s.shown();
    let mut changed = changed_names(&before, &after);
    drop(after);
    changed.push("dialplan.xml".into());
    s.broadcast(Event::ConfigChanged { names: changed });
}

/// The guide's steps a-e, then the dial plan again.
async fn check_sync(shared: &Arc<Shared>) {
    let (servers, source, image, sync) = {
        let s = shared.lock();
        (
            s.servers(),
            s.opts.source.clone(),
            s.opts.firmware_version.clone(),
            s.config.text("sync").map(str::to_string),
        )
    };
    // The first server that answers decides; `None` inside: it has no syncinfo.xml.
    let mut answer = None;
    for server in &servers {
        match source.fetch(*server, "syncinfo.xml").await {
            Fetched::Found(d) => {
                answer = Some((*server, Some(d)));
                break;
            }
            Fetched::NotFound => {
                answer = Some((*server, None));
                break;
            }
            Fetched::Failed(why) => shared
                .lock()
                .message(format!("syncinfo.xml from {server}: {why}")),
        }
    }
    let Some((server, syncinfo)) = answer else {
        let mut s = shared.lock();
        s.last_resync = Some("no TFTP server answered".into());
        s.message("check-sync: no TFTP server answered; nothing done");
        s.resync.fetched();
        return;
    };
    let decision = match &syncinfo {
        None => SyncDecision::Nothing {
            reason: "syncinfo.xml not found".into(),
        },
        Some(data) => {
            let (entries, diags) = parse_syncinfo("syncinfo.xml", data);
            let mut s = shared.lock();
            for d in diags {
                s.message(d.to_string());
            }
            decide_sync(&entries, &image, sync.as_deref())
        }
    };
    match decision {
        SyncDecision::Reboot { sync, matched } => {
            let mut s = shared.lock();
            let before = s.config.clone();
            s.config.set_local(
                deskphone_config::table::id("sync"),
                Some(Value::Text(sync.clone())),
            );
            let _ = s.commit(&before);
            let text =
                format!("check-sync: syncinfo.xml entry {matched} has sync {sync}; rebooting");
            s.last_resync = Some(text.clone());
            s.message(text.clone());
            drop(s);
            shared.request_reboot(text);
        }
        SyncDecision::Nothing { reason } => {
            let plan = {
                let s = shared.lock();
                s.config.text("dial_template").map(|t| format!("{t}.xml"))
            };
            let mut note = format!("check-sync: {reason}; no reboot");
            if let Some(path) = plan {
                match source.fetch(server, &path).await {
                    Fetched::Found(d) => {
                        let (rules, dd) = check_dialplan(&path, &d);
                        let mut s = shared.lock();
                        for x in dd {
                            s.message(x.to_string());
                        }
                        if let Err(e) = s.store.write(LAST_DIALPLAN_ENTRY, &d) {
                            s.message(format!("could not keep {path}: {e}"));
                        }
                        // sipd dials by it: tell it to read it again.
                        s.broadcast(Event::ConfigChanged {
                            names: vec!["dialplan.xml".into()],
                        });
                        note.push_str(&format!("; {path} fetched again ({rules} rules)"));
                    }
                    Fetched::NotFound => note.push_str(&format!("; {path} is not on the server")),
                    Fetched::Failed(why) => note.push_str(&format!("; {path} not fetched: {why}")),
                }
            }
            let mut s = shared.lock();
            s.last_resync = Some(note.clone());
            s.message(note);
            s.resync.fetched();
        }
    }
}

impl State {
    fn set_firmware(&mut self, state: &str, progress: Option<u8>, message: impl Into<String>) {
        let message = message.into();
        self.firmware.state = state.to_string();
        self.firmware.progress_percent = progress;
        if self.firmware.message != message {
            self.firmware.message = message.clone();
            self.message(message);
        }
    }

    fn save_record(&mut self) {
        if let Err(e) = self.store.write(RECORD_ENTRY, &self.record.to_bytes()) {
            self.message(format!("could not save the firmware record: {e}"));
        }
    }
}

/// After provisioning: settle a trial boot or a fallback, then act on `image_version`.
async fn firmware_at_start(shared: &Arc<Shared>) {
    let (verdict, installer, running) = {
        let s = shared.lock();
        let running = s.opts.firmware_version.clone();
        (
            boot_verdict(&s.record, &running),
            s.opts.installer.clone(),
            running,
        )
    };
    // A normal boot is confirmed now: provd is up and provisioning is done (the bootloader
    // counts a boot nobody confirmed as failed and falls back at the next one). A trial boot
    // of a new version must also have its lines registered: `confirm_trial` watches sipd.
    let trial = match (&verdict, &installer) {
        (BootVerdict::Trial { version }, Some(i)) => Some((version.clone(), i.clone())),
        _ => None,
    };
    let marked = match &installer {
        Some(i) if trial.is_none() => i.rauc.mark(true).await,
        _ => Ok(()),
    };
    let mut s = shared.lock();
    if let Err(e) = &marked {
        s.message(format!(
            "could not confirm the running firmware to the bootloader: {e}"
        ));
    }
    match verdict {
        // Without a second slot (the simulator) there is nothing to confirm.
        BootVerdict::Trial { version } if installer.is_none() => {
            s.record.pending = None;
            s.save_record();
            s.message(format!("firmware {version} started"));
        }
        BootVerdict::Trial { .. } | BootVerdict::Normal => {}
        BootVerdict::FellBack { version } => {
            let reason = format!(
                "firmware {version} did not become healthy; the phone went back to {running}"
            );
            s.record
                .record_failure(&version, reason.clone(), now_rfc3339());
            s.record.pending = None;
            s.save_record();
            s.message(reason);
        }
    }
    drop(s);
    let decision = {
        let s = shared.lock();
        plan(s.config.text("image_version"), &running, &s.record)
    };
    // The lock ends with this block (one arm gives it up early to start the update).
    {
        let mut s = shared.lock();
        match decision {
            Plan::NotConfigured => s.set_firmware(
                "not_configured",
                None,
                "no image_version configured; keeping the running firmware",
            ),
            Plan::UpToDate => s.set_firmware("up_to_date", None, format!("running {running}, as configured")),
            Plan::Skip { version, reason } => s.set_firmware(
                "skipped",
                None,
                format!("image_version {version} failed on this phone before: {reason}; not tried again until image_version changes"),
            ),
            Plan::Update { version, bundle } => match installer {
                None => s.set_firmware(
                    "unsupported",
                    None,
                    format!("image_version {version} differs from the running {running}, but this phone has no second slot to install it into (simulator)"),
                ),
                Some(i) => {
                    drop(s);
                    tokio::spawn(update(shared.clone(), i, version, bundle));
                }
            },
        }
    }
    if let Some((version, installer)) = trial {
        let mut s = shared.lock();
        if s.firmware.state == "up_to_date" {
            s.set_firmware(
                "trial",
                None,
                format!("firmware {version} on trial: confirmed once it is healthy"),
            );
        }
        drop(s);
        tokio::spawn(confirm_trial(shared.clone(), installer, version));
    }
}

/// A trial boot: waits (at most [`TRIAL_HEALTH_DEADLINE`]) until the phone is healthy with the
/// new version — sipd running, and every line registered where registration is on — then
/// confirms the slot to the bootloader. If that never happens nothing is confirmed, and the
/// boot deadline (`deskphone-boot-check.service`) takes the phone back to the old version.
async fn confirm_trial(shared: Arc<Shared>, installer: Installer, version: String) {
    let started = Instant::now();
    let (runtime, previous) = {
        let s = shared.lock();
        let previous = s
            .record
            .pending
            .as_ref()
            .map(|p| p.previous.clone())
            .unwrap_or_else(|| "the other slot".into());
        (s.opts.runtime.clone(), previous)
    };
    loop {
        let register = shared.lock().config.int("proxy_register") == Some(1);
        let status = sipd_status(&runtime).await;
        match trial_health(register, status.as_ref().map_err(Clone::clone)) {
            Health::Healthy(what) => {
                let marked = installer.rauc.mark(true).await;
                let mut s = shared.lock();
                match marked {
                    Ok(()) => {
                        s.record.pending = None;
                        s.save_record();
                        s.message(format!(
                            "firmware {version} started and is healthy ({what}); it stays"
                        ));
                        if s.firmware.state == "trial" {
                            let running = s.opts.firmware_version.clone();
                            s.set_firmware("up_to_date", None, format!("running {running}, as configured"));
                        }
                    }
                    Err(e) => s.message(format!(
                        "firmware {version} is healthy ({what}), but confirming it to the bootloader failed: {e}"
                    )),
                }
                return;
            }
            Health::Waiting(why) => {
                if started.elapsed() >= TRIAL_HEALTH_DEADLINE {
                    shared.lock().set_firmware(
                        "unhealthy",
                        None,
                        format!(
                            "firmware {version} is not healthy after {} s ({why}); not confirmed: the phone goes back to {previous} at the boot deadline",
                            TRIAL_HEALTH_DEADLINE.as_secs()
                        ),
                    );
                    return;
                }
                let mut s = shared.lock();
                if s.firmware.state == "trial" {
                    // Shown in status, not logged every 2 s as a status message.
                    s.firmware.message = format!("firmware {version} on trial: {why}");
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// sipd's status over its socket, or why it could not be had.
async fn sipd_status(runtime: &RuntimeDir) -> Result<deskphone_ipc::sipd::Status, String> {
    use deskphone_ipc::client::{Client, Sipd};
    let mut c = Client::<Sipd>::connect(runtime, "provd")
        .await
        .map_err(|e| e.to_string())?;
    match c
        .request(&deskphone_ipc::sipd::Request::Status)
        .await
        .map_err(|e| e.to_string())?
    {
        deskphone_ipc::sipd::Reply::Status(s) => Ok(*s),
        deskphone_ipc::sipd::Reply::Error { message } => Err(message),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

/// Download, verify, install, reboot. Every refusal leaves the running firmware in place.
async fn update(shared: Arc<Shared>, installer: Installer, version: String, bundle: String) {
    let (server, source, dir, running) = {
        let s = shared.lock();
        let server = s.server.or_else(|| s.servers().first().copied());
        (
            server,
            s.opts.source.clone(),
            s.opts.state_dir.join("firmware"),
            s.opts.firmware_version.clone(),
        )
    };
    let Some(server) = server else {
        shared.lock().set_firmware(
            "unavailable",
            None,
            format!("no TFTP server to fetch {bundle} from"),
        );
        return;
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        shared
            .lock()
            .set_firmware("failed", None, format!("cannot store {bundle}: {e}"));
        return;
    }
    let dest = dir.join(&bundle);
    shared.lock().set_firmware(
        "downloading",
        Some(0),
        format!("fetching {bundle} from {}", source.describe(server)),
    );
    let mut shown = 0u8;
    let fetched = source
        .fetch_to_file(server, &bundle, &dest, |got, total| {
            let Some(total) = total.filter(|t| *t > 0) else {
                return;
            };
            let pct = (got.saturating_mul(100) / total).min(100) as u8;
            if pct >= shown + 10 {
                shown = pct - pct % 10;
                let mut s = shared.lock();
                s.firmware.progress_percent = Some(pct);
                log::info!("{bundle}: {pct} %");
            }
        })
        .await;
    let outcome = async {
        match fetched {
            Fetched::Found(_) => {}
            Fetched::NotFound => {
                return Err((
                    "unavailable",
                    format!("{bundle} is not on the TFTP server; keeping {running}"),
                ))
            }
            Fetched::Failed(e) => {
                return Err((
                    "unavailable",
                    format!("{bundle} could not be fetched ({e}); keeping {running}"),
                ))
            }
        }
        shared
            .lock()
            .set_firmware("verifying", None, format!("verifying {bundle}"));
        let info = installer.rauc.inspect(&dest).await.map_err(|e| {
            (
                "refused",
                format!("{bundle} refused: {e}; keeping {running}"),
            )
        })?;
        check_bundle(&info, &version, installer.compatible.as_deref())
            .map_err(|e| ("refused", format!("{e}; keeping {running}")))?;
        shared.lock().set_firmware(
            "installing",
            None,
            format!("installing {version} into the other slot"),
        );
        installer.rauc.install(&dest).await.map_err(|e| {
            (
                "failed",
                format!("installing {version} failed: {e}; keeping {running}"),
            )
        })?;
        Ok(())
    }
    .await;
    let _ = std::fs::remove_file(&dest);
    let mut s = shared.lock();
    match outcome {
        Err((state, message)) => s.set_firmware(state, None, message),
        Ok(()) => {
            s.record.pending = Some(Pending {
                version: version.clone(),
                previous: running,
                installed: now_rfc3339(),
            });
            s.save_record();
            s.set_firmware(
                "rebooting",
                Some(100),
                format!("firmware {version} installed; rebooting into it"),
            );
            drop(s);
            shared.request_reboot(format!("firmware {version} installed"));
        }
    }
}

async fn reboot(shared: &Arc<Shared>, reason: String) -> anyhow::Result<i32> {
    let action = {
        let mut s = shared.lock();
        s.broadcast(Event::Rebooting {
            reason: reason.clone(),
        });
        s.opts.reboot.clone()
    };
    log::warn!("rebooting: {reason}");
    // Let subscribers read the event before the socket goes away.
    tokio::time::sleep(Duration::from_millis(100)).await;
    match action {
        RebootAction::Exit(code) => Ok(code),
        RebootAction::Command(cmd) => {
            // Listening before the command runs: systemd may send SIGTERM before it returns.
            let mut sigterm =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let status = tokio::process::Command::new(&cmd[0])
                .args(&cmd[1..])
                .status()
                .await;
            match status {
                Ok(s) if s.success() => {
                    // systemd stops us on the way down: exit then, rather than make the
                    // shutdown wait for the stop timeout (SIGTERM is handled by tokio here,
                    // so it no longer ends the process by itself).
                    sigterm.recv().await;
                    log::info!("stopping for the reboot");
                    Ok(0)
                }
                other => anyhow::bail!("reboot command {cmd:?} failed: {other:?}"),
            }
        }
    }
}

async fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, shared.clone()));
            }
            Err(e) => {
                log::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client connection: hello, then requests and (if subscribed) events.
async fn serve(stream: UnixStream, shared: Arc<Shared>) {
    let uid = stream.peer_cred().ok().map(|c| c.uid());
    let peer = Peer {
        secrets: uid.is_some_and(may_see_secrets),
        netd: uid.is_some_and(may_report_network),
    };
    let (mut rd, mut wr) = stream.into_split();
    // Reading in its own task keeps partially read frames safe while events are written.
    let (req_tx, mut req_rx) = mpsc::channel::<Result<Request, String>>(8);
    tokio::spawn(async move {
        loop {
            match read_frame::<_, Request>(&mut rd).await {
                Ok(Some(r)) => {
                    if req_tx.send(Ok(r)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(FrameError::Json(e)) => {
                    if req_tx
                        .send(Err(format!("malformed request: {e}")))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    let _ = req_tx.send(Err(e.to_string())).await;
                    return;
                }
            }
        }
    });

    let client = match req_rx.recv().await {
        Some(Ok(Request::Hello(h))) if h.version == PROTOCOL_VERSION => {
            let reply = Reply::Hello {
                version: PROTOCOL_VERSION,
                service: "provd".into(),
            };
            if write_frame(&mut wr, &Frame::Reply(reply)).await.is_err() {
                return;
            }
            h.client
        }
        Some(Ok(Request::Hello(h))) => {
            let message = format!(
                "protocol version {} is not spoken here (provd speaks {PROTOCOL_VERSION})",
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
    };
    log::debug!("client {client} connected");

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut unlocked = false;
    loop {
        let frame = tokio::select! {
            req = req_rx.recv() => match req {
                None => break,
                Some(Err(message)) => Frame::Reply(Reply::Error { message }),
                Some(Ok(req)) => {
                    let reply = handle(&shared, req, &client, &mut unlocked, peer, &ev_tx);
                    if matches!(&reply, Reply::Error { message } if message == WRONG_PASSWORD) {
                        log::warn!("wrong phone password from {client}");
                        tokio::time::sleep(UNLOCK_FAILURE_DELAY).await;
                    }
                    Frame::Reply(reply)
                }
            },
            Some(ev) = ev_rx.recv() => Frame::Event(ev),
        };
        if write_frame(&mut wr, &frame).await.is_err() {
            break;
        }
    }
}

const WRONG_PASSWORD: &str = "wrong password";

/// What the peer of a connection may do, by its user.
#[derive(Debug, Clone, Copy)]
struct Peer {
    /// Read the line passwords (sipd).
    secrets: bool,
    /// Report the network and the clock (netd).
    netd: bool,
}

fn handle(
    shared: &Arc<Shared>,
    req: Request,
    client: &str,
    unlocked: &mut bool,
    peer: Peer,
    events: &mpsc::UnboundedSender<Event>,
) -> Reply {
    let secrets = peer.secrets;
    let mut s = shared.lock();
    match req {
        Request::Hello(_) => Reply::Error {
            message: "hello was already said".into(),
        },
        Request::Status => Reply::Status(Box::new(s.status())),
        Request::Config => Reply::Config {
            parameters: s.shown().parameters_json(false),
        },
        Request::DialPlan => match s.store.read(LAST_DIALPLAN_ENTRY) {
            Ok(data) => Reply::DialPlan {
                xml: data.map(|d| String::from_utf8_lossy(&d).into_owned()),
            },
            Err(e) => Reply::Error {
                message: format!("reading the dial plan: {e}"),
            },
        },
        Request::SipConfig if secrets => Reply::Config {
            parameters: s.config.parameters_json(true),
        },
        Request::SipConfig => Reply::Error {
            message: "the configuration with its secrets is for sipd only".into(),
        },
        Request::Subscribe => {
            s.subscribers.push(events.clone());
            Reply::Ok
        }
        Request::Resync => {
            s.resync.request(Instant::now());
            s.message("check-sync requested; waiting until the phone has been idle for 20 s");
            drop(s);
            shared.wake.notify_one();
            Reply::Ok
        }
        Request::Unlock { password } => {
            let expected = s.config.text("phone_password").unwrap_or("").to_string();
            if constant_time_eq(password.as_bytes(), expected.as_bytes()) {
                *unlocked = true;
                Reply::Ok
            } else {
                *unlocked = false;
                s.message("Unlock Config: wrong password");
                Reply::Error {
                    message: WRONG_PASSWORD.into(),
                }
            }
        }
        Request::Lock => {
            *unlocked = false;
            Reply::Ok
        }
        Request::Set { name, value } => {
            let Some(pid) = lookup(&name) else {
                return Reply::Error {
                    message: format!("no parameter named {name}"),
                };
            };
            let before = s.config.clone();
            match edit::edit(&mut s.config, pid, value.as_deref(), *unlocked) {
                Ok(v) => {
                    if name == "dhcp_enabled" && s.config.int("dhcp_enabled") == Some(0) {
                        let lease = s.network.clone();
                        let kept = network::keep_lease_as_static(&mut s.config, lease.as_ref());
                        if !kept.is_empty() {
                            s.message(format!(
                                "DHCP off: the lease's {} kept as static settings",
                                kept.join(", ")
                            ));
                        }
                    }
                    if let Err(message) = s.commit(&before) {
                        s.config = before;
                        return Reply::Error { message };
                    }
                    let shown = match v {
                        Some(_) if pid.def().is_secret() => serde_json::Value::from("********"),
                        Some(v) => serde_json::to_value(v).unwrap_or_default(),
                        None => serde_json::Value::Null,
                    };
                    s.message(format!("{name} changed on the phone"));
                    Reply::Set { name, value: shown }
                }
                Err(refusal) => Reply::Error {
                    message: refusal.to_string(),
                },
            }
        }
        Request::EraseNetwork | Request::EraseSip => {
            if !*unlocked {
                return Reply::Error {
                    message: edit::Refusal::Locked.to_string(),
                };
            }
            let before = s.config.clone();
            let what = if matches!(req, Request::EraseNetwork) {
                edit::erase_network(&mut s.config);
                "network settings erased; DHCP enabled"
            } else {
                edit::erase_sip(&mut s.config);
                "SIP settings erased; the next boot takes them from the TFTP server"
            };
            if let Err(message) = s.commit(&before) {
                s.config = before;
                return Reply::Error { message };
            }
            s.message(what);
            Reply::Ok
        }
        Request::Activity { busy } => {
            if busy {
                s.busy_clients.insert(client.to_string());
            } else {
                s.busy_clients.remove(client);
            }
            let any = !s.busy_clients.is_empty();
            s.resync.set_busy(any, Instant::now());
            drop(s);
            shared.wake.notify_one();
            Reply::Ok
        }
        Request::Network(report) if peer.netd => {
            s.set_network(*report);
            drop(s);
            shared.network.notify_one();
            Reply::Ok
        }
        Request::Time(report) if peer.netd => {
            if report.state == "synchronised"
                && s.time.as_ref().map(|t| &t.server) != Some(&report.server)
            {
                let from = report.server.as_deref().unwrap_or("?");
                s.message(format!("clock set by SNTP from {from}"));
            }
            s.time = Some(report);
            Reply::Ok
        }
        Request::Network(_) | Request::Time(_) => Reply::Error {
            message: "only netd reports the network and the clock".into(),
        },
        Request::Reboot => {
            s.message("restart requested");
            drop(s);
            shared.request_reboot("restart requested".into());
            Reply::Ok
        }
    }
}

/// The user sipd runs as on the image (sysusers.d).
const SIPD_USER: &str = "deskphone-sipd";
/// The user netd runs as on the image.
const NETD_USER: &str = "deskphone-netd";

/// Who may report the network and the clock: root, provd's own user, netd's user.
fn may_report_network(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw() || user_id(NETD_USER) == Some(uid)
}

/// Who may read the line passwords: root, provd's own user (the simulator runs every
/// service as one user) and sipd's user on the image. The socket's group (deskphone) lets
/// the UI and phonectl in, and they see secrets masked.
fn may_see_secrets(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw() || user_id(SIPD_USER) == Some(uid)
}

/// A user's id from /etc/passwd (systemd-sysusers writes the services' users there).
fn user_id(name: &str) -> Option<u32> {
    user_id_in(&std::fs::read_to_string("/etc/passwd").ok()?, name)
}

fn user_id_in(passwd: &str, name: &str) -> Option<u32> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn sipd_is_found_by_its_user_name_only() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      deskphone-sipd-old:x:901:901::/:/usr/sbin/nologin\n\
                      deskphone-sipd:x:902:902:deskphone SIP:/:/usr/sbin/nologin\n";
        assert_eq!(user_id_in(passwd, "deskphone-sipd"), Some(902));
        assert_eq!(user_id_in(passwd, "deskphone-ui"), None);
        assert!(may_see_secrets(0));
        assert!(may_see_secrets(nix::unistd::geteuid().as_raw()));
    }
}
