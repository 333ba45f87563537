//! From provd's effective configuration to what sipd must do: the phone-wide SIP settings,
//! the lines to register and where their REGISTERs go, and which addresses may send a
//! check-sync. [`wanted`] is pure; [`resolve`] does the DNS A lookups and picks the local
//! address, giving a [`Plan`] the [`Shell`](crate::shell::Shell) applies.
//!
//! The backup registrar, `proxy_backup`:`proxy_backup_port` (default 5060), is resolved like
//! the proxies and given to every line (the phone has one backup for all its lines; the
//! failover rules are in `deskphone_sip::register`). With an `outbound_proxy` no line gets
//! it: the outbound proxy is the only next hop, whatever happens behind it. A backup whose
//! name does not resolve leaves the lines on their primaries and is looked up again like an
//! unresolved proxy.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

use deskphone_config::table::lookup;
use deskphone_config::{Config, Mac, Value};
use deskphone_dialplan::{DialPlan, Route};
use deskphone_sip::{CallSettings, LineSettings, Settings};

/// A host name or address and a port, as the configuration gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What the configuration asks for, before any name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub settings: Settings,
    /// The dial plan (provd's last `dial_template`.xml): where dialled numbers go.
    pub dial_plan: Arc<DialPlan>,
    /// `proxy_emergency`:`proxy_emergency_port`, for the rules with `Route="emergency"`.
    pub emergency: Option<Target>,
    /// Lines 1-6 with a `lineN_name` and a proxy.
    pub lines: Vec<LineSettings>,
    /// `outbound_proxy`/`outbound_proxy_port`: every request goes there when set.
    pub outbound: Option<Target>,
    /// `proxy_backup`/`proxy_backup_port`: where the lines fail over to.
    pub backup: Option<Target>,
    /// The proxies whose addresses may send a check-sync NOTIFY: `proxy1_address` to
    /// `proxy6_address`, `proxy_backup`, `outbound_proxy`.
    pub trusted: Vec<Target>,
    /// `check_sync_any_source` 1: a check-sync is taken from any address.
    pub check_sync_any_source: bool,
    /// `check_sync_auth` 1: a check-sync must carry a line's digest credentials.
    pub check_sync_auth: bool,
    /// Codecs, media ports, call policies. The media address is empty until [`resolve`]
    /// knows the local address (unless `nat_address` gave it), the outbound proxy unset.
    pub calls: CallSettings,
    /// What mediad needs besides the negotiation.
    pub media: MediaOptions,
    /// `mwi_subscribe` 1: each registered line subscribes to its message-summary.
    pub mwi_subscribe: bool,
}

/// The parameters that shape a call's media in mediad rather than its signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaOptions {
    /// `dtmf_inband`: digits are played in the audio (unless telephone-event is in use).
    pub dtmf_inband: bool,
    /// `dtmf_db_level`, 1-5.
    pub dtmf_level: u8,
    /// `tos_media`, 0-5: IP precedence of RTP/RTCP.
    pub tos: u8,
    /// `enable_vad`.
    pub vad: bool,
    /// `nat_enable`: the phone is behind a NAT (mediad then learns a rewritten source).
    pub nat: bool,
}

impl MediaOptions {
    pub fn from_config(c: &Config) -> MediaOptions {
        let int = |name: &str, default: i64| c.int(name).unwrap_or(default);
        MediaOptions {
            dtmf_inband: int("dtmf_inband", 1) == 1,
            dtmf_level: int("dtmf_db_level", 3).clamp(1, 5) as u8,
            tos: int("tos_media", 5).clamp(0, 5) as u8,
            vad: int("enable_vad", 0) == 1,
            nat: int("nat_enable", 0) == 1,
        }
    }
}

fn text(c: &Config, name: &str) -> Option<String> {
    c.text(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn port(c: &Config, name: &str) -> u16 {
    c.int(name)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(5060)
}

/// The SIP part of the configuration.
pub fn wanted(c: &Config) -> Wanted {
    let lines: Vec<LineSettings> = (1..=6)
        .filter_map(|n| LineSettings::from_config(c, n))
        .collect();
    let outbound = text(c, "outbound_proxy").map(|host| Target {
        host,
        port: port(c, "outbound_proxy_port"),
    });
    let mut trusted: Vec<Target> = Vec::new();
    let mut trust = |t: Target| {
        if !trusted.contains(&t) {
            trusted.push(t);
        }
    };
    for n in 1..=6 {
        if let Some(host) = text(c, &format!("proxy{n}_address")) {
            trust(Target {
                host,
                port: port(c, &format!("proxy{n}_port")),
            });
        }
    }
    let backup = text(c, "proxy_backup").map(|host| Target {
        host,
        port: port(c, "proxy_backup_port"),
    });
    if let Some(b) = &backup {
        trust(b.clone());
    }
    if let Some(o) = &outbound {
        trust(o.clone());
    }
    Wanted {
        settings: Settings::from_config(c),
        dial_plan: Arc::new(DialPlan::default()),
        emergency: text(c, "proxy_emergency").map(|host| Target {
            host,
            port: port(c, "proxy_emergency_port"),
        }),
        lines,
        outbound,
        backup,
        trusted,
        check_sync_any_source: c.int("check_sync_any_source") == Some(1),
        check_sync_auth: c.int("check_sync_auth") == Some(1),
        calls: CallSettings::from_config(c, "", None),
        media: MediaOptions::from_config(c),
        mwi_subscribe: c.int("mwi_subscribe") == Some(1),
    }
}

/// Rebuilds a [`Config`] from provd's `{NAME: {"value": V, "source": S}}` map. Names this
/// build does not know are skipped (a newer provd may have more).
pub fn config_from_parameters(
    mac: Mac,
    parameters: &serde_json::Map<String, serde_json::Value>,
) -> Config {
    let mut c = Config::new(mac);
    for (name, entry) in parameters {
        let Some(id) = lookup(name) else { continue };
        let value = match &entry["value"] {
            serde_json::Value::Null => None,
            v => serde_json::from_value::<Value>(v.clone()).ok(),
        };
        c.set_runtime(id, value);
    }
    c
}

/// A line and where its REGISTERs go, or why that is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    pub settings: LineSettings,
    /// The resolved proxy (or outbound proxy); `Err` with the DNS error.
    pub destination: Result<SocketAddr, String>,
    /// The backup registrar (`proxy_backup`), `None` without one or with an outbound proxy.
    pub backup: Option<Backup>,
}

/// `proxy_backup`:`proxy_backup_port` and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub target: Target,
    pub address: Result<SocketAddr, String>,
}

impl PlannedLine {
    /// The registrar as configured, for the status: `proxyN_address:proxyN_port`.
    pub fn proxy(&self) -> String {
        format!("{}:{}", self.settings.proxy, self.settings.proxy_port)
    }

    /// The resolved backup, if the line has one that resolved.
    pub fn backup_address(&self) -> Option<SocketAddr> {
        self.backup.as_ref().and_then(|b| b.address.clone().ok())
    }
}

/// Everything the shell needs, names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub settings: Settings,
    pub dial_plan: Arc<DialPlan>,
    /// The emergency proxy, resolved (`Err` with why not).
    pub emergency: Option<Result<SocketAddr, String>>,
    /// The hosts named by `Route=` rules, resolved, port 5060.
    pub route_hosts: BTreeMap<String, Result<SocketAddr, String>>,
    /// The address Via and Contact carry (the phone's address towards its proxies, the
    /// SIP port).
    pub local: SocketAddr,
    pub lines: Vec<PlannedLine>,
    /// Addresses a check-sync NOTIFY is accepted from.
    pub trusted: Vec<IpAddr>,
    /// ... or any address (`check_sync_any_source`).
    pub check_sync_any_source: bool,
    /// A check-sync must authenticate (`check_sync_auth`).
    pub check_sync_auth: bool,
    /// What calls use; may change without touching the registrations.
    pub calls: CallSettings,
    pub media: MediaOptions,
    pub mwi_subscribe: bool,
}

impl Plan {
    /// `proxy_register`.
    pub fn register(&self) -> bool {
        self.settings.register
    }

    /// Whether `other` registers the same lines the same way, `proxy_register` aside: if
    /// so, a change of `proxy_register` is only a register or unregister per line.
    pub fn same_registrations(&self, other: &Plan) -> bool {
        let mut a = self.settings.clone();
        a.register = other.settings.register;
        a == other.settings && self.local == other.local && self.lines == other.lines
    }

    /// Whether any line still waits for a name to resolve (its proxy or the backup).
    pub fn unresolved(&self) -> bool {
        self.lines.iter().any(|l| {
            l.destination.is_err() || l.backup.as_ref().is_some_and(|b| b.address.is_err())
        })
    }
}

/// DNS A lookup (the phone speaks IPv4, as the guide's phones do): an address literal is
/// used as it is.
pub async fn lookup_v4(target: &Target) -> Result<SocketAddr, String> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, target.port));
    }
    let found = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?;
    let mut v6 = None;
    for a in found {
        if a.is_ipv4() {
            return Ok(a);
        }
        v6.get_or_insert(a);
    }
    v6.ok_or_else(|| format!("{} has no address", target.host))
}

/// Resolves every name of `wanted` and picks the local address: `bind` unless it is
/// unspecified, else the address the kernel would send from towards the first proxy.
pub async fn resolve(wanted: &Wanted, bind: IpAddr, sip_port: u16) -> Plan {
    let outbound = match &wanted.outbound {
        Some(o) => Some(lookup_v4(o).await),
        None => None,
    };
    // With an outbound proxy there is no failover: it is the only next hop.
    let backup = match (&wanted.backup, &wanted.outbound) {
        (Some(b), None) => Some(Backup {
            target: b.clone(),
            address: lookup_v4(b).await,
        }),
        _ => None,
    };
    let mut lines = Vec::new();
    for l in &wanted.lines {
        let destination = match &outbound {
            Some(o) => o.clone(),
            None => {
                lookup_v4(&Target {
                    host: l.proxy.clone(),
                    port: l.proxy_port,
                })
                .await
            }
        };
        lines.push(PlannedLine {
            settings: l.clone(),
            destination,
            backup: backup.clone(),
        });
    }
    let mut trusted = Vec::new();
    for t in &wanted.trusted {
        if let Ok(a) = lookup_v4(t).await {
            if !trusted.contains(&a.ip()) {
                trusted.push(a.ip());
            }
        }
    }
    let towards = lines.iter().find_map(|l| l.destination.clone().ok());
    let local = SocketAddr::new(local_ip(bind, towards), sip_port);
    let mut calls = wanted.calls.clone();
    if calls.media_address.is_empty() {
        calls.media_address = local.ip().to_string();
    }
    calls.outbound_proxy = outbound.and_then(Result::ok);
    let emergency = match &wanted.emergency {
        Some(t) => Some(lookup_v4(t).await),
        None => None,
    };
    let mut route_hosts = BTreeMap::new();
    for t in &wanted.dial_plan.templates {
        if let Route::Host(h) = &t.route {
            if !route_hosts.contains_key(h) {
                let target = Target {
                    host: h.clone(),
                    port: 5060,
                };
                route_hosts.insert(h.clone(), lookup_v4(&target).await);
            }
        }
    }
    Plan {
        settings: wanted.settings.clone(),
        dial_plan: wanted.dial_plan.clone(),
        emergency,
        route_hosts,
        local,
        lines,
        trusted,
        check_sync_any_source: wanted.check_sync_any_source,
        check_sync_auth: wanted.check_sync_auth,
        calls,
        media: wanted.media,
        mwi_subscribe: wanted.mwi_subscribe,
    }
}

/// The source address the kernel picks towards `peer` (no packet is sent: connecting a
/// UDP socket only chooses the route).
pub fn local_ip(bind: IpAddr, peer: Option<SocketAddr>) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    // Any routable address stands in when there is no proxy yet (TEST-NET-1).
    let peer = peer.unwrap_or(SocketAddr::from(([192, 0, 2, 1], 5060)));
    UdpSocket::bind(SocketAddr::new(bind, 0))
        .and_then(|s| s.connect(peer).map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskphone_config::cnf::parse;
    use deskphone_config::FileRole;

    fn config(cnf: &str) -> Config {
        let mut c = Config::new("525400123456".parse().unwrap());
        c.apply_file(
            "SIPDefault.cnf",
            FileRole::Default,
            &parse("SIPDefault.cnf", cnf.as_bytes()),
        );
        c
    }

    #[test]
    fn lines_with_a_name_are_wanted_and_proxies_are_trusted() {
        let c = config(
            "proxy1_address: 10.0.0.5\nproxy1_port: 5070\nproxy3_address: pbx.example.net\n\
             proxy_backup: 10.0.0.6\nline1_name: 1001\nline3_name: 1003\nproxy_register: 1\n",
        );
        let w = wanted(&c);
        assert!(w.settings.register);
        let names: Vec<_> = w.lines.iter().map(|l| (l.line, l.proxy.as_str())).collect();
        assert_eq!(names, vec![(1, "10.0.0.5"), (3, "pbx.example.net")]);
        let trusted: Vec<String> = w.trusted.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            trusted,
            vec!["10.0.0.5:5070", "pbx.example.net:5060", "10.0.0.6:5060"]
        );
        assert_eq!(w.outbound, None);
    }

    #[test]
    fn the_parameters_json_round_trips_with_secrets() {
        let c = config("line1_name: 1001\nline1_password: s3cret\nproxy1_address: 10.0.0.5\n");
        let back =
            config_from_parameters("525400123456".parse().unwrap(), &c.parameters_json(true));
        assert_eq!(wanted(&back), wanted(&c));
        assert_eq!(
            LineSettings::from_config(&back, 1)
                .unwrap()
                .password
                .as_deref(),
            Some("s3cret")
        );
    }

    #[tokio::test]
    async fn the_outbound_proxy_takes_every_register_and_literals_need_no_dns() {
        let c = config(
            "proxy1_address: 10.0.0.5\nline1_name: 1001\noutbound_proxy: 10.0.0.9\n\
             outbound_proxy_port: 5080\n",
        );
        let plan = resolve(&wanted(&c), IpAddr::from([127, 0, 0, 1]), 5062).await;
        assert_eq!(plan.local, "127.0.0.1:5062".parse().unwrap());
        assert_eq!(
            plan.lines[0].destination,
            Ok("10.0.0.9:5080".parse().unwrap())
        );
        assert_eq!(plan.lines[0].proxy(), "10.0.0.5:5060");
        assert_eq!(
            plan.trusted,
            vec![IpAddr::from([10, 0, 0, 5]), IpAddr::from([10, 0, 0, 9])]
        );
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_an_error_for_its_line_only() {
        let c = config(
            "proxy1_address: 127.0.0.1\nproxy2_address: nowhere.invalid\nline1_name: 1001\n\
             line2_name: 1002\n",
        );
        let plan = resolve(&wanted(&c), IpAddr::from([0, 0, 0, 0]), 5060).await;
        assert_eq!(
            plan.lines[0].destination,
            Ok("127.0.0.1:5060".parse().unwrap())
        );
        let err = plan.lines[1].destination.clone().unwrap_err();
        assert!(err.contains("nowhere.invalid"), "{err}");
        assert!(plan.unresolved());
        // Towards a loopback proxy the kernel picks loopback.
        assert_eq!(plan.local.ip(), IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn proxy_register_alone_keeps_the_registrations() {
        let line = PlannedLine {
            settings: LineSettings {
                line: 1,
                name: "1001".into(),
                authname: None,
                password: None,
                display_name: None,
                proxy: "10.0.0.5".into(),
                proxy_port: 5060,
            },
            destination: Ok("10.0.0.5:5060".parse().unwrap()),
            backup: None,
        };
        let c = config("");
        let a = Plan {
            settings: Settings::default(),
            dial_plan: Default::default(),
            emergency: None,
            route_hosts: Default::default(),
            local: "10.0.0.20:5060".parse().unwrap(),
            lines: vec![line.clone()],
            trusted: vec![],
            check_sync_any_source: false,
            check_sync_auth: false,
            calls: CallSettings::from_config(&c, "10.0.0.20", None),
            media: MediaOptions::from_config(&c),
            mwi_subscribe: false,
        };
        let mut b = a.clone();
        b.settings.register = true;
        assert!(a.same_registrations(&b));
        b.lines[0].settings.password = Some("new".into());
        assert!(!a.same_registrations(&b));
        let mut b = a.clone();
        b.lines[0].backup = Some(Backup {
            target: Target {
                host: "10.0.0.6".into(),
                port: 5060,
            },
            address: Ok("10.0.0.6:5060".parse().unwrap()),
        });
        assert!(
            !a.same_registrations(&b),
            "a new backup is a new registration"
        );
    }

    #[tokio::test]
    async fn every_line_gets_the_backup_with_its_default_port() {
        let c = config(
            "proxy1_address: 10.0.0.5\nproxy2_address: 10.0.0.7\nline1_name: 1001\n\
             line2_name: 1002\nproxy_backup: 10.0.0.6\n",
        );
        let w = wanted(&c);
        assert_eq!(
            w.backup.as_ref().map(Target::to_string).as_deref(),
            Some("10.0.0.6:5060")
        );
        let plan = resolve(&w, IpAddr::from([127, 0, 0, 1]), 5060).await;
        assert_eq!(plan.lines.len(), 2);
        for l in &plan.lines {
            assert_eq!(l.backup_address(), Some("10.0.0.6:5060".parse().unwrap()));
            assert_eq!(
                l.backup.as_ref().unwrap().target.to_string(),
                "10.0.0.6:5060"
            );
        }
        assert!(!plan.unresolved());
        // The guide (and the configuration table) want an address; a name, should one come,
        // is resolved like the proxies and looked up again while it does not resolve.
        let mut w = wanted(&config("proxy1_address: 10.0.0.5\nline1_name: 1001\n"));
        assert_eq!(w.backup, None);
        w.backup = Some(Target {
            host: "nowhere.invalid".into(),
            port: 5070,
        });
        let plan = resolve(&w, IpAddr::from([127, 0, 0, 1]), 5060).await;
        assert_eq!(
            plan.lines[0].destination,
            Ok("10.0.0.5:5060".parse().unwrap())
        );
        assert_eq!(plan.lines[0].backup_address(), None);
        assert!(plan.unresolved(), "the backup is looked up again");
    }

    #[tokio::test]
    async fn with_an_outbound_proxy_there_is_no_failover() {
        let c = config(
            "proxy1_address: 10.0.0.5\nline1_name: 1001\noutbound_proxy: 10.0.0.9\n\
             proxy_backup: 10.0.0.6\nproxy_backup_port: 5070\n",
        );
        let w = wanted(&c);
        assert!(w.backup.is_some());
        let plan = resolve(&w, IpAddr::from([127, 0, 0, 1]), 5060).await;
        assert_eq!(
            plan.lines[0].destination,
            Ok("10.0.0.9:5060".parse().unwrap())
        );
        assert_eq!(plan.lines[0].backup, None);
        // Still trusted for check-sync.
        assert!(plan.trusted.contains(&IpAddr::from([10, 0, 0, 6])));
    }
}
