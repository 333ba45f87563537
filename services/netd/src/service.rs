//! netd's loop: provd's settings in, DHCP and SNTP running, the plan applied, reports out.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use deskphone_dhcp::shell::Command as DhcpCommand;
use deskphone_dhcp::{DhcpClient, Event as DhcpEvent, Lease};
use deskphone_ipc::client::{Client, Provd};
use deskphone_ipc::provd::{DhcpReport, Event, NetworkReport, Reply, Request, TimeReport};
use deskphone_ipc::RuntimeDir;
use deskphone_sntp::shell::{ShellOptions, SystemClock, VirtualClock};
use deskphone_sntp::{Offset, Settings as SntpSettings};
use tokio::sync::{mpsc, watch};

use crate::apply::{link_state, mac_of, Netlink};
use crate::plan::{mask_of, plan, Addressing, Learned, MediaType, NetSettings, Plan};
use crate::{media, resolv};

#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeDir,
    /// The Ethernet port.
    pub port: String,
    /// Where the last lease's address is remembered (INIT-REBOOT after a restart).
    pub state_dir: PathBuf,
    /// The resolv.conf netd writes (the image links /etc/resolv.conf to it).
    pub resolv_conf: PathBuf,
    /// Set the system clock from SNTP; off, samples are reported and the clock left alone
    /// (tests on a development machine, whose clock is not the phone's to set).
    pub set_clock: bool,
}

/// How often the link's carrier is looked at (a cable pulled and plugged back in).
const LINK_POLL: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_secs(1);
/// Link polls between two attempts at settings that failed (20 s).
const RETRY_TICKS: u32 = 10;
const LEASE_FILE: &str = "lease";

/// The DHCP client while one runs, on the interface it was started for.
struct Dhcp {
    interface: String,
    commands: mpsc::Sender<DhcpCommand>,
    released: bool,
}

struct Netd {
    opts: Options,
    nl: Netlink,
    mac: [u8; 6],
    settings: Option<NetSettings>,
    lease: Option<Lease>,
    lease_since: SystemTime,
    dhcp: Option<Dhcp>,
    dhcp_events: mpsc::Sender<DhcpEvent>,
    applied: Option<Plan>,
    media_applied: Option<(String, MediaType)>,
    media_status: String,
    last_report: Option<NetworkReport>,
    link_up: bool,
    sntp: watch::Sender<SntpSettings>,
    last_time: Option<TimeReport>,
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let nl = Netlink::connect()?;
    let mac = mac_of(&opts.port)
        .ok_or_else(|| anyhow::anyhow!("no network interface named {}", opts.port))?;
    let (dhcp_tx, mut dhcp_rx) = mpsc::channel(16);
    let (sntp_settings, sntp_control) = watch::channel(SntpSettings::default());
    let (sntp_events, mut sntp_event_rx) = mpsc::channel(16);
    let (sntp_status_tx, mut sntp_status) = watch::channel(
        deskphone_sntp::SntpClient::new(SntpSettings::default(), None, Instant::now()).status(),
    );
    let set_clock = opts.set_clock;
    tokio::spawn(async move {
        // Nothing is sent before the configuration says how (the first refresh).
        let mut sntp_control = sntp_control;
        if sntp_control.changed().await.is_err() {
            return;
        }
        let options = ShellOptions::default();
        let r = if set_clock {
            deskphone_sntp::shell::run(
                options,
                SystemClock,
                sntp_control,
                sntp_events,
                sntp_status_tx,
            )
            .await
        } else {
            let clock = VirtualClock::new(Offset::ZERO);
            deskphone_sntp::shell::run(options, clock, sntp_control, sntp_events, sntp_status_tx)
                .await
        };
        if let Err(e) = r {
            log::error!("SNTP: {e}");
        }
    });
    let mut netd = Netd {
        link_up: link_state(&opts.port) != "down",
        opts,
        nl,
        mac,
        settings: None,
        lease: None,
        lease_since: SystemTime::now(),
        dhcp: None,
        dhcp_events: dhcp_tx,
        applied: None,
        media_applied: None,
        media_status: "Auto".into(),
        last_report: None,
        sntp: sntp_settings,
        last_time: None,
    };
    let mut ready = false;
    loop {
        let mut events = match subscribe(&netd.opts.runtime).await {
            Ok(c) => c,
            Err(e) => {
                log::debug!("provd: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let mut requests = match Client::<Provd>::connect(&netd.opts.runtime, "netd").await {
            Ok(c) => c,
            Err(e) => {
                log::debug!("provd: {e}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Err(e) = netd.refresh(&mut requests).await {
            log::warn!("provd: {e}");
            tokio::time::sleep(RETRY).await;
            continue;
        }
        if !ready {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
            deskphone_ipc::systemd::spawn_watchdog();
            ready = true;
        }
        let mut link_poll = tokio::time::interval(LINK_POLL);
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                ev = events.next_event() => match ev {
                    Ok(Some(Event::ConfigChanged { .. })) => {
                        if let Err(e) = netd.refresh(&mut requests).await {
                            log::warn!("provd: {e}");
                            break;
                        }
                    }
                    Ok(Some(Event::Rebooting { .. })) => {
                        // Give the lease back only when asked to; a reboot keeps it.
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
                Some(ev) = dhcp_rx.recv() => {
                    netd.on_dhcp(ev);
                    if netd.reconcile(&mut requests).await.is_err() {
                        break;
                    }
                }
                Some(ev) = sntp_event_rx.recv() => log_sntp(&ev),
                Ok(()) = sntp_status.changed() => {
                    let report = time_report(&sntp_status.borrow_and_update());
                    if netd.last_time.as_ref() != Some(&report) {
                        match requests.request(&Request::Time(report.clone())).await {
                            Ok(_) => netd.last_time = Some(report),
                            Err(_) => break,
                        }
                    }
                }
                _ = link_poll.tick() => {
                    ticks = ticks.wrapping_add(1);
                    // Something could not be applied: try again now and then.
                    let failing = netd.last_report.as_ref().is_some_and(|r| !r.problems.is_empty());
                    if failing && ticks.is_multiple_of(RETRY_TICKS) {
                        netd.applied = None;
                        netd.media_applied = None;
                        if netd.reconcile(&mut requests).await.is_err() {
                            break;
                        }
                    }
                    let up = link_state(&netd.opts.port) != "down";
                    if up != netd.link_up {
                        netd.link_up = up;
                        log::info!("{}: link {}", netd.opts.port, if up { "up" } else { "down" });
                        if let Some(d) = &netd.dhcp {
                            let _ = d.commands.send(DhcpCommand::Link { up }).await;
                        }
                        if netd.reconcile(&mut requests).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        log::info!("lost provd; reconnecting");
        netd.last_report = None;
        netd.last_time = None;
        tokio::time::sleep(RETRY).await;
    }
}

async fn subscribe(runtime: &RuntimeDir) -> anyhow::Result<Client<Provd>> {
    let mut c = Client::<Provd>::connect(runtime, "netd-events").await?;
    match c.request(&Request::Subscribe).await? {
        Reply::Ok => Ok(c),
        other => anyhow::bail!("subscribe: {other:?}"),
    }
}

impl Netd {
    /// Reads the settings from provd and applies them.
    async fn refresh(&mut self, provd: &mut Client<Provd>) -> anyhow::Result<()> {
        let params = match provd.request(&Request::Config).await? {
            Reply::Config { parameters } => parameters,
            other => anyhow::bail!("config: {other:?}"),
        };
        let s = NetSettings::from_parameters(&params);
        let server = s
            .sntp_server
            .map(|a| a.to_string())
            .unwrap_or_else(|| "0.0.0.0".into());
        match SntpSettings::from_config(&s.sntp_mode, &server) {
            Ok(sntp) if self.settings.is_none() => {
                self.sntp.send_replace(sntp);
            }
            Ok(sntp) => {
                self.sntp.send_if_modified(|current| {
                    let changed = *current != sntp;
                    *current = sntp;
                    changed
                });
            }
            Err(e) => log::warn!("SNTP settings: {e}; keeping the previous ones"),
        }
        if self.settings.as_ref() != Some(&s) {
            log::info!("network settings: {s:?}");
            self.settings = Some(s);
        }
        self.reconcile(provd).await
    }

    fn on_dhcp(&mut self, ev: DhcpEvent) {
        match ev {
            DhcpEvent::Bound(l) | DhcpEvent::Renewed(l) => {
                if self.lease.as_ref().map(|x| x.address) != Some(l.address) {
                    log::info!(
                        "DHCP: bound to {}/{} from {}",
                        l.address,
                        l.prefix_len,
                        l.server_id
                    );
                    self.remember(Some(l.address));
                }
                self.lease = Some(l);
                self.lease_since = SystemTime::now();
            }
            DhcpEvent::Lost => {
                log::warn!("DHCP: lease lost");
                self.lease = None;
            }
            DhcpEvent::Released => {
                log::info!("DHCP: address released");
                self.lease = None;
                self.remember(None);
            }
        }
    }

    fn remember(&self, address: Option<Ipv4Addr>) {
        let path = self.opts.state_dir.join(LEASE_FILE);
        let r = match address {
            Some(a) => resolv::write_atomically(&path, &format!("{a}\n")),
            None => std::fs::remove_file(&path).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        if let Err(e) = r {
            log::warn!("{}: {e}", path.display());
        }
    }

    fn remembered(&self) -> Option<Ipv4Addr> {
        std::fs::read_to_string(self.opts.state_dir.join(LEASE_FILE))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Starts, releases or stops the DHCP client as the settings say.
    async fn steer_dhcp(&mut self, s: &NetSettings, interface: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.dhcp.as_ref().is_some_and(|d| d.interface != interface) || !s.dhcp {
            if let Some(d) = self.dhcp.take() {
                // DHCP switched off (or the VLAN changed): give the address back first.
                let _ = d.commands.send(DhcpCommand::Release).await;
                let _ = d.commands.send(DhcpCommand::Stop).await;
                self.lease = None;
            }
        }
        if !s.dhcp {
            return problems;
        }
        if self.dhcp.is_none() {
            match self.start_dhcp(interface) {
                Ok(d) => self.dhcp = Some(d),
                Err(e) => {
                    problems.push(format!("DHCP cannot start on {interface}: {e}"));
                    return problems;
                }
            }
        }
        let Some(d) = self.dhcp.as_mut() else {
            return problems;
        };
        if s.released && !d.released {
            d.released = true;
            let _ = d.commands.send(DhcpCommand::Release).await;
        } else if !s.released && d.released {
            d.released = false;
            let _ = d.commands.send(DhcpCommand::Start).await;
        }
        problems
    }

    fn start_dhcp(&self, interface: &str) -> anyhow::Result<Dhcp> {
        let socket = deskphone_dhcp::shell::bind_socket(interface)?;
        let mut config = deskphone_dhcp::Config::for_mac(self.mac);
        config.requested_address = self.remembered();
        let client = DhcpClient::new(config, Instant::now(), seed())?;
        let (tx, rx) = mpsc::channel(8);
        let events = self.dhcp_events.clone();
        tokio::spawn(async move {
            if let Err(e) = deskphone_dhcp::shell::run(socket, client, rx, events).await {
                log::error!("DHCP client: {e}");
            }
        });
        let released = self.settings.as_ref().is_some_and(|s| s.released);
        if !released {
            tx.try_send(DhcpCommand::Start)?;
        }
        log::info!("DHCP client on {interface}");
        Ok(Dhcp {
            interface: interface.to_string(),
            commands: tx,
            released,
        })
    }

    /// Makes the network match the settings and the lease; tells provd.
    async fn reconcile(&mut self, provd: &mut Client<Provd>) -> anyhow::Result<()> {
        let Some(s) = self.settings.clone() else {
            return Ok(());
        };
        let bare = plan(&self.opts.port, &s, None);
        let interface = bare.interface.clone();
        // The link first: DHCP binds to it (the admin VLAN's sub-interface may be new).
        let mut problems = Vec::new();
        if let Err(e) = self.nl.ensure_link(&self.opts.port, &bare).await {
            problems.push(e.to_string());
        }
        problems.extend(self.steer_dhcp(&s, &interface).await);
        let learned = self.lease.as_ref().map(|l| Learned {
            address: l.address,
            prefix: l.prefix_len,
            routers: l.routers.clone(),
            dns: l.dns_servers.clone(),
            domain: l.domain_name.clone(),
        });
        let p = plan(&self.opts.port, &s, learned.as_ref());
        problems.extend(p.problems.iter().cloned());

        let media_key = (self.opts.port.clone(), s.media);
        if self.media_applied.as_ref() != Some(&media_key) {
            self.media_status = match media::apply(&self.opts.port, s.media) {
                Ok(done) => done,
                // Auto on a link that cannot be set is simply what it already does.
                Err(why) if s.media == MediaType::Auto => {
                    log::debug!("{why}");
                    "Auto".into()
                }
                Err(why) => why,
            };
            log::info!("network media type: {}", self.media_status);
            self.media_applied = Some(media_key);
        }
        if s.media != MediaType::Auto && self.media_status.contains("not applied") {
            problems.push(self.media_status.clone());
        }

        if self.applied.as_ref() != Some(&p) {
            match self.nl.apply(&self.opts.port, &p).await {
                Ok(_) => {
                    log::info!(
                        "network: {} {:?} routers {:?} dns {:?}",
                        p.addressing.name(),
                        p.address,
                        p.routers,
                        p.dns
                    );
                    self.applied = Some(p.clone());
                }
                Err(e) => problems.push(e.to_string()),
            }
            let text = resolv::render(&p.dns, p.domain.as_deref());
            if let Err(e) = resolv::write_atomically(&self.opts.resolv_conf, &text) {
                problems.push(format!("{}: {e}", self.opts.resolv_conf.display()));
            }
        }
        let report = self.report(&p, problems);
        if self.last_report.as_ref() != Some(&report) {
            match provd
                .request(&Request::Network(Box::new(report.clone())))
                .await?
            {
                Reply::Ok => self.last_report = Some(report),
                Reply::Error { message } => log::warn!("provd refused the report: {message}"),
                _ => {}
            }
        }
        Ok(())
    }

    fn report(&self, p: &Plan, problems: Vec<String>) -> NetworkReport {
        let dhcp = match (&self.lease, p.addressing) {
            (Some(l), Addressing::Dhcp) => Some(DhcpReport {
                server: l.server_id.to_string(),
                address: l.address.to_string(),
                subnet_mask: mask_of(l.prefix_len).to_string(),
                routers: l.routers.iter().map(ToString::to_string).collect(),
                dns_servers: l.dns_servers.iter().map(ToString::to_string).collect(),
                domain_name: l.domain_name.clone(),
                tftp_servers: l.tftp_servers.iter().map(ToString::to_string).collect(),
                tftp_server_name: l.tftp_server_name.clone(),
                next_server: l.next_server.map(|a| a.to_string()),
                lease_secs: u32::try_from(l.lease_time.as_secs()).unwrap_or(u32::MAX),
                since: humantime::format_rfc3339_seconds(self.lease_since).to_string(),
            }),
            _ => None,
        };
        NetworkReport {
            interface: p.interface.clone(),
            addressing: p.addressing.name().to_string(),
            link: link_state(&p.interface),
            address: p.address.map(|(a, l)| format!("{a}/{l}")),
            subnet_mask: p.address.map(|(_, l)| mask_of(l).to_string()),
            routers: p.routers.iter().map(ToString::to_string).collect(),
            dns_servers: p.dns.iter().map(ToString::to_string).collect(),
            domain_name: p.domain.clone(),
            vlan: p.vlan,
            media: self.media_status.clone(),
            dhcp,
            problems,
        }
    }
}

fn log_sntp(ev: &deskphone_sntp::Event) {
    use deskphone_sntp::Event as E;
    match ev {
        E::Sample(s) => log::debug!("SNTP sample: {s:?}"),
        E::ModeSwitched { from, to, server } => {
            log::info!("SNTP: {from} becomes {to} with {server:?}")
        }
        E::ServerRefused { server, kiss } => log::warn!("SNTP: {server} refused ({kiss:?})"),
        E::NoAnswer { asked, count } => log::debug!("SNTP: no answer from {asked:?} ({count})"),
    }
}

/// The clock's part of `phonectl status`.
fn time_report(s: &deskphone_sntp::Status) -> TimeReport {
    TimeReport {
        mode: s.configured.mode.as_str().to_string(),
        mode_in_effect: s.in_effect.as_str().to_string(),
        server: s.server.map(|a| a.to_string()),
        state: s.state.as_str().to_string(),
        last_sync: s
            .last_sync
            .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        last_offset_secs: s.last_offset.map(Offset::as_secs_f64),
        stratum: s.stratum,
    }
}

/// Seeds the DHCP client's retransmission jitter; need not be secret.
fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ u64::from(std::process::id())
}
