//! What netd reports about the network, as provd uses it: the values the Network
//! Configuration menu shows while DHCP is on, and the TFTP servers DHCP named.

use std::net::{IpAddr, SocketAddr};

use deskphone_config::table::lookup;
use deskphone_config::{Config, Value};
use deskphone_ipc::provd::NetworkReport;

use crate::servers::{DhcpTftp, TFTP_PORT};

/// The configuration as the menus and `phonectl` show it: while DHCP is on, the address,
/// mask, routers, DNS servers, TFTP server and DHCP server come from the lease (source
/// `dhcp`). A domain name set on the phone stays: the guide lets it be edited with DHCP on.
/// The static settings stay untouched in `config` (and in flash).
pub fn shown(config: &Config, report: Option<&NetworkReport>) -> Option<Config> {
    let lease = report?.dhcp.as_ref()?;
    if config.int("dhcp_enabled") == Some(0) {
        return None;
    }
    let mut c = config.clone();
    let mut learn = |name: &str, value: Option<&String>| {
        if let (Some(pid), Some(v)) = (lookup(name), value) {
            c.set_learned(pid, Value::Text(v.clone()));
        }
    };
    learn("dhcp_server", Some(&lease.server));
    learn("ip_address", Some(&lease.address));
    learn("subnet_mask", Some(&lease.subnet_mask));
    for n in 1..=5 {
        learn(&format!("default_router_{n}"), lease.routers.get(n - 1));
        learn(&format!("dns_server_{n}"), lease.dns_servers.get(n - 1));
    }
    if config.text("domain_name").is_none() {
        learn("domain_name", lease.domain_name.as_ref());
    }
    if config.int("alternate_tftp") != Some(1) {
        let first = lease
            .tftp_servers
            .first()
            .or(lease.tftp_server_name.as_ref())
            .or(lease.next_server.as_ref())
            .filter(|s| s.parse::<std::net::Ipv4Addr>().is_ok());
        learn("tftp_server", first);
    }
    Some(c)
}

/// DHCP turned off: the lease's address, mask, routers, DNS servers and TFTP server become
/// the static settings where none is set, so the phone keeps working with what it had (and
/// the menu shows what it will use). Returns the names set.
pub fn keep_lease_as_static(config: &mut Config, report: Option<&NetworkReport>) -> Vec<String> {
    let Some(lease) = report.and_then(|r| r.dhcp.as_ref()) else {
        return Vec::new();
    };
    let mut pairs: Vec<(String, &String)> = vec![
        ("ip_address".into(), &lease.address),
        ("subnet_mask".into(), &lease.subnet_mask),
    ];
    for (n, r) in lease.routers.iter().take(5).enumerate() {
        pairs.push((format!("default_router_{}", n + 1), r));
    }
    for (n, d) in lease.dns_servers.iter().take(5).enumerate() {
        pairs.push((format!("dns_server_{}", n + 1), d));
    }
    if let Some(t) = lease.tftp_servers.first() {
        pairs.push(("tftp_server".into(), t));
    }
    let mut set = Vec::new();
    for (name, value) in pairs {
        let Some(pid) = lookup(&name) else { continue };
        if config.value(pid).is_none() && value.parse::<std::net::Ipv4Addr>().is_ok() {
            config.set_local(pid, Some(Value::Text(value.clone())));
            set.push(name);
        }
    }
    set
}

/// The TFTP servers of the lease: option 150's addresses, and option 66 (else the
/// next-server) as a name still to be resolved when it is not an address.
pub fn dhcp_servers(report: &NetworkReport) -> (Vec<SocketAddr>, Option<String>) {
    let Some(lease) = &report.dhcp else {
        return (Vec::new(), None);
    };
    let option_150 = lease
        .tftp_servers
        .iter()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, TFTP_PORT))
        .collect();
    let named = lease
        .tftp_server_name
        .clone()
        .or_else(|| lease.next_server.clone());
    (option_150, named)
}

/// Resolves option 66 (an address, `HOST`, or `HOST:PORT`) the way the phone does: the
/// first IPv4 address the resolver gives.
pub async fn resolve_option_66(name: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, TFTP_PORT));
    }
    let target = if name.contains(':') {
        name.to_string()
    } else {
        format!("{name}:{TFTP_PORT}")
    };
    let found = tokio::net::lookup_host(target)
        .await
        .map_err(|e| format!("DHCP option 66 names {name}, which does not resolve: {e}"))?
        .find(SocketAddr::is_ipv4);
    found.ok_or_else(|| format!("DHCP option 66 names {name}, which has no IPv4 address"))
}

/// The new TFTP servers, once option 66 is resolved.
pub fn dhcp_tftp(option_150: Vec<SocketAddr>, option_66: Option<SocketAddr>) -> DhcpTftp {
    DhcpTftp {
        option_150,
        option_66,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskphone_config::table::id;
    use deskphone_config::Mac;
    use deskphone_ipc::provd::DhcpReport;

    fn report() -> NetworkReport {
        NetworkReport {
            interface: "eth0".into(),
            addressing: "dhcp".into(),
            dhcp: Some(DhcpReport {
                server: "10.1.0.1".into(),
                address: "10.1.0.20".into(),
                subnet_mask: "255.255.255.0".into(),
                routers: vec!["10.1.0.1".into(), "10.1.0.2".into()],
                dns_servers: vec!["10.1.0.53".into()],
                domain_name: Some("lan.example".into()),
                tftp_servers: vec!["10.1.0.5".into(), "10.1.0.6".into()],
                tftp_server_name: Some("tftp.lan.example".into()),
                next_server: None,
                lease_secs: 3600,
                since: "2026-11-25T00:00:00Z".into(),
            }),
            ..NetworkReport::default()
        }
    }

    fn config() -> Config {
        Config::new("00503EFFD842".parse::<Mac>().unwrap())
    }

    #[test]
    fn the_lease_is_shown_while_dhcp_is_on_and_never_reaches_flash() {
        let mut c = config();
        c.set_local(id("ip_address"), Some(Value::Text("192.168.9.9".into())));
        let shown = shown(&c, Some(&report())).unwrap();
        assert_eq!(shown.text("ip_address"), Some("10.1.0.20"));
        assert_eq!(shown.text("default_router_2"), Some("10.1.0.2"));
        assert_eq!(shown.text("default_router_3"), None);
        assert_eq!(shown.text("dhcp_server"), Some("10.1.0.1"));
        assert_eq!(shown.text("tftp_server"), Some("10.1.0.5"));
        assert_eq!(shown.text("domain_name"), Some("lan.example"));
        assert_eq!(shown.setting(id("ip_address")).source.to_string(), "dhcp");
        // The static address set on the phone stays in the configuration provd keeps (and
        // saves); what the lease shows never goes to flash.
        assert_eq!(
            c.to_flash().values.get("ip_address"),
            Some(&Value::Text("192.168.9.9".into()))
        );
        let flash = shown.to_flash();
        assert!(!flash.values.contains_key("ip_address"));
        assert!(!flash.values.contains_key("default_router_1"));
    }

    #[test]
    fn a_static_phone_shows_its_own_settings() {
        let mut c = config();
        c.set_local(id("dhcp_enabled"), Some(Value::Int(0)));
        assert!(shown(&c, Some(&report())).is_none());
        assert!(shown(&config(), None).is_none());
    }

    #[test]
    fn a_domain_set_on_the_phone_and_an_alternate_tftp_server_win() {
        let mut c = config();
        c.set_local(id("domain_name"), Some(Value::Text("mine.example".into())));
        c.set_local(id("alternate_tftp"), Some(Value::Int(1)));
        c.set_local(id("tftp_server"), Some(Value::Text("10.9.9.9".into())));
        let shown = shown(&c, Some(&report())).unwrap();
        assert_eq!(shown.text("domain_name"), Some("mine.example"));
        assert_eq!(shown.text("tftp_server"), Some("10.9.9.9"));
    }

    #[test]
    fn turning_dhcp_off_keeps_the_lease_where_nothing_static_is_set() {
        let mut c = config();
        c.set_local(id("dns_server_1"), Some(Value::Text("9.9.9.9".into())));
        let set = keep_lease_as_static(&mut c, Some(&report()));
        assert_eq!(c.text("ip_address"), Some("10.1.0.20"));
        assert_eq!(c.text("subnet_mask"), Some("255.255.255.0"));
        assert_eq!(c.text("default_router_2"), Some("10.1.0.2"));
        assert_eq!(c.text("tftp_server"), Some("10.1.0.5"));
        // Set on the phone before: kept.
        assert_eq!(c.text("dns_server_1"), Some("9.9.9.9"));
        assert!(!set.contains(&"dns_server_1".to_string()));
        assert_eq!(
            c.to_flash().values.get("ip_address"),
            Some(&Value::Text("10.1.0.20".into()))
        );
        assert!(keep_lease_as_static(&mut config(), None).is_empty());
    }

    #[test]
    fn option_150_in_order_then_option_66_by_name() {
        let (list, named) = dhcp_servers(&report());
        assert_eq!(
            list,
            vec![
                "10.1.0.5:69".parse::<SocketAddr>().unwrap(),
                "10.1.0.6:69".parse().unwrap()
            ]
        );
        assert_eq!(named.as_deref(), Some("tftp.lan.example"));
    }

    #[tokio::test]
    async fn option_66_as_an_address_needs_no_resolver() {
        assert_eq!(
            resolve_option_66("10.2.0.9").await.unwrap(),
            "10.2.0.9:69".parse().unwrap()
        );
        assert!(resolve_option_66("no-such-host.invalid").await.is_err());
    }
}
