//! What the network should look like: from the phone's settings (Table 3-1 and the
//! network parameters of Table 3-3) and the DHCP lease to addresses, routers, DNS servers.
//! Pure functions: [`crate::apply`] makes Linux match the plan.

use std::net::Ipv4Addr;

use serde_json::{Map, Value};

/// `network_media_type`: what the Ethernet port negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Auto,
    Full100,
    Half100,
    Full10,
    Half10,
}

impl MediaType {
    /// The file's spelling (`Full100`, canonical in the configuration) or the menu's
    /// (`Full-100`), in any letter case.
    pub fn parse(text: &str) -> Option<MediaType> {
        match text.to_ascii_lowercase().replace('-', "").as_str() {
            "auto" => Some(MediaType::Auto),
            "full100" => Some(MediaType::Full100),
            "half100" => Some(MediaType::Half100),
            "full10" => Some(MediaType::Full10),
            "half10" => Some(MediaType::Half10),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MediaType::Auto => "Auto",
            MediaType::Full100 => "Full-100",
            MediaType::Half100 => "Half-100",
            MediaType::Full10 => "Full-10",
            MediaType::Half10 => "Half-10",
        }
    }

    /// Mb/s and full duplex; `None` for autonegotiation.
    pub fn fixed(self) -> Option<(u16, bool)> {
        match self {
            MediaType::Auto => None,
            MediaType::Full100 => Some((100, true)),
            MediaType::Half100 => Some((100, false)),
            MediaType::Full10 => Some((10, true)),
            MediaType::Half10 => Some((10, false)),
        }
    }
}

/// The network parameters netd acts on, as provd publishes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSettings {
    pub dhcp: bool,
    /// DHCP Address Released: no address until it is set back to No.
    pub released: bool,
    pub ip_address: Option<Ipv4Addr>,
    pub subnet_mask: Option<Ipv4Addr>,
    /// Default Router 1-5 as set, in order (DHCP off).
    pub routers: Vec<Ipv4Addr>,
    /// DNS Server 1-5 as set, in order (DHCP off).
    pub dns: Vec<Ipv4Addr>,
    /// dyn_dns_addr_1/2: asked before any other DNS server.
    pub dyn_dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub admin_vlan: Option<u16>,
    pub media: MediaType,
    pub sntp_mode: String,
    pub sntp_server: Option<Ipv4Addr>,
}

impl NetSettings {
    /// From provd's `{NAME: {"value": V, "source": S}}`. Values provd shows from the DHCP
    /// lease (source `dhcp`) are not settings and are skipped.
    pub fn from_parameters(params: &Map<String, Value>) -> NetSettings {
        let get = |name: &str| -> Option<&Value> {
            let p = params.get(name)?;
            if p.get("source").and_then(Value::as_str) == Some("dhcp") {
                return None;
            }
            p.get("value").filter(|v| !v.is_null())
        };
        let text = |name: &str| -> Option<String> {
            get(name).and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let int = |name: &str| -> Option<i64> {
            get(name).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
        };
        let addr = |name: &str| -> Option<Ipv4Addr> {
            text(name)
                .and_then(|t| t.parse().ok())
                .filter(|a: &Ipv4Addr| !a.is_unspecified())
        };
        let list = |prefix: &str, n: usize| -> Vec<Ipv4Addr> {
            (1..=n)
                .filter_map(|i| addr(&format!("{prefix}{i}")))
                .collect()
        };
        NetSettings {
            dhcp: int("dhcp_enabled") != Some(0),
            released: int("dhcp_address_released") == Some(1),
            ip_address: addr("ip_address"),
            subnet_mask: text("subnet_mask").and_then(|t| t.parse().ok()),
            routers: list("default_router_", 5),
            dns: list("dns_server_", 5),
            dyn_dns: list("dyn_dns_addr_", 2),
            domain: text("domain_name"),
            admin_vlan: int("admin_vlan_id")
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| (1..=4094).contains(v)),
            media: text("network_media_type")
                .and_then(|t| MediaType::parse(&t))
                .unwrap_or(MediaType::Auto),
            sntp_mode: text("sntp_mode").unwrap_or_else(|| "directedbroadcast".into()),
            sntp_server: text("sntp_server").and_then(|t| t.parse().ok()),
        }
    }
}

/// What DHCP gave, as the plan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub routers: Vec<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
}

/// How the phone gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// DHCP with a lease.
    Dhcp,
    /// DHCP asked, no lease yet.
    Waiting,
    Static,
    /// DHCP Address Released.
    Released,
    /// DHCP off and no address set: the phone has no address.
    Unconfigured,
}

impl Addressing {
    pub fn name(self) -> &'static str {
        match self {
            Addressing::Dhcp => "dhcp",
            Addressing::Waiting => "waiting",
            Addressing::Static => "static",
            Addressing::Released => "released",
            Addressing::Unconfigured => "unconfigured",
        }
    }
}

/// The network to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The interface the phone's traffic uses: the port, or its admin VLAN.
    pub interface: String,
    pub vlan: Option<u16>,
    pub addressing: Addressing,
    pub address: Option<(Ipv4Addr, u8)>,
    /// Default routers in the order they are tried.
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers in the order they are asked.
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub problems: Vec<String>,
}

/// The prefix length of a subnet mask; `None` when the mask is not contiguous.
pub fn prefix_of(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

pub fn mask_of(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

/// Whether `a` is inside `net/prefix`.
pub fn on_link(a: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let m = u32::from(mask_of(prefix));
    u32::from(a) & m == u32::from(net) & m
}

/// The plan for `port` (the Ethernet interface) from the settings and the lease.
pub fn plan(port: &str, s: &NetSettings, lease: Option<&Learned>) -> Plan {
    let interface = match s.admin_vlan {
        Some(v) => vlan_interface(port, v),
        None => port.to_string(),
    };
    let mut problems = Vec::new();
    let (addressing, address, routers, dns, learned_domain) = if s.dhcp {
        if s.released {
            (Addressing::Released, None, vec![], vec![], None)
        } else if let Some(l) = lease {
            (
                Addressing::Dhcp,
                Some((l.address, l.prefix)),
                l.routers.clone(),
                l.dns.clone(),
                l.domain.clone(),
            )
        } else {
            (Addressing::Waiting, None, vec![], vec![], None)
        }
    } else {
        match (s.ip_address, s.subnet_mask) {
            (Some(ip), Some(mask)) => match prefix_of(mask) {
                Some(p) => (
                    Addressing::Static,
                    Some((ip, p)),
                    s.routers.clone(),
                    s.dns.clone(),
                    None,
                ),
                None => {
                    problems.push(format!("subnet mask {mask} is not a valid mask"));
                    (Addressing::Unconfigured, None, vec![], vec![], None)
                }
            },
            (Some(_), None) => {
                problems.push("DHCP is off and no subnet mask is set".into());
                (Addressing::Unconfigured, None, vec![], vec![], None)
            }
            (None, _) => {
                problems.push("DHCP is off and no IP address is set".into());
                (Addressing::Unconfigured, None, vec![], vec![], None)
            }
        }
    };
    // A gateway outside the subnet cannot be reached: say so rather than fail silently.
    let routers = match address {
        Some((net, prefix)) => routers
            .into_iter()
            .filter(|r| {
                let ok = on_link(*r, net, prefix);
                if !ok {
                    problems.push(format!(
                        "default router {r} is outside {net}/{prefix}; not used"
                    ));
                }
                ok
            })
            .collect(),
        None => Vec::new(),
    };
    // The guide's order: the dynamic DNS servers first, then DNS Server 1-5 (or DHCP's).
    let mut ordered: Vec<Ipv4Addr> = Vec::new();
    if address.is_some() {
        for a in s.dyn_dns.iter().chain(&dns) {
            if !ordered.contains(a) {
                ordered.push(*a);
            }
        }
    }
    Plan {
        interface,
        vlan: s.admin_vlan,
        addressing,
        address,
        routers,
        dns: ordered,
        domain: s.domain.clone().or(learned_domain),
        problems,
    }
}

/// The 802.1Q sub-interface's name (at most 15 bytes, as the kernel requires).
pub fn vlan_interface(port: &str, vid: u16) -> String {
    let suffix = format!(".{vid}");
    let keep = 15usize.saturating_sub(suffix.len()).min(port.len());
    format!("{}{suffix}", &port[..keep])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!({"value": v, "source": "flash"})))
            .collect()
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn static_settings() -> NetSettings {
        NetSettings::from_parameters(&params(&[
            ("dhcp_enabled", json!(0)),
            ("ip_address", json!("10.0.0.20")),
            ("subnet_mask", json!("255.255.255.0")),
            ("default_router_1", json!("10.0.0.1")),
            ("default_router_3", json!("10.0.0.3")),
            ("dns_server_1", json!("10.0.0.53")),
            ("dns_server_2", json!("10.0.0.54")),
            ("dyn_dns_addr_1", json!("10.0.0.99")),
            ("domain_name", json!("example.org")),
        ]))
    }

    #[test]
    fn static_addressing_keeps_the_order_of_routers_and_dns() {
        let p = plan("eth0", &static_settings(), None);
        assert_eq!(p.addressing, Addressing::Static);
        assert_eq!(p.address, Some((a("10.0.0.20"), 24)));
        assert_eq!(p.routers, vec![a("10.0.0.1"), a("10.0.0.3")]);
        // dyn_dns_addr_1 comes before DNS Server 1.
        assert_eq!(p.dns, vec![a("10.0.0.99"), a("10.0.0.53"), a("10.0.0.54")]);
        assert_eq!(p.domain.as_deref(), Some("example.org"));
        assert!(p.problems.is_empty());
    }

    #[test]
    fn dhcp_uses_the_lease_and_a_local_domain_wins() {
        let mut s = NetSettings::from_parameters(&params(&[("domain_name", json!("mine.org"))]));
        assert!(s.dhcp);
        let lease = Learned {
            address: a("192.168.5.7"),
            prefix: 22,
            routers: vec![a("192.168.4.1"), a("192.168.4.2")],
            dns: vec![a("192.168.4.53")],
            domain: Some("dhcp.org".into()),
        };
        let p = plan("eth0", &s, Some(&lease));
        assert_eq!(p.addressing, Addressing::Dhcp);
        assert_eq!(p.address, Some((a("192.168.5.7"), 22)));
        assert_eq!(p.routers, lease.routers);
        assert_eq!(p.domain.as_deref(), Some("mine.org"));
        s.domain = None;
        assert_eq!(
            plan("eth0", &s, Some(&lease)).domain.as_deref(),
            Some("dhcp.org")
        );
        assert_eq!(plan("eth0", &s, None).addressing, Addressing::Waiting);
    }

    #[test]
    fn released_means_no_address_even_with_a_lease_in_hand() {
        let s = NetSettings::from_parameters(&params(&[("dhcp_address_released", json!(1))]));
        let lease = Learned {
            address: a("192.168.5.7"),
            prefix: 24,
            routers: vec![],
            dns: vec![],
            domain: None,
        };
        let p = plan("eth0", &s, Some(&lease));
        assert_eq!(p.addressing, Addressing::Released);
        assert_eq!(p.address, None);
        assert!(p.dns.is_empty());
    }

    #[test]
    fn values_shown_from_the_lease_are_not_settings() {
        let mut m = params(&[("dhcp_enabled", json!(1))]);
        m.insert(
            "ip_address".into(),
            json!({"value": "10.1.1.1", "source": "dhcp"}),
        );
        assert_eq!(NetSettings::from_parameters(&m).ip_address, None);
    }

    #[test]
    fn bad_static_settings_are_reported_not_applied() {
        let mut s = static_settings();
        s.subnet_mask = Some(a("255.0.255.0"));
        let p = plan("eth0", &s, None);
        assert_eq!(p.addressing, Addressing::Unconfigured);
        assert!(p.problems[0].contains("255.0.255.0"), "{:?}", p.problems);
        let mut s = static_settings();
        s.routers = vec![a("10.9.9.9"), a("10.0.0.1")];
        let p = plan("eth0", &s, None);
        assert_eq!(p.routers, vec![a("10.0.0.1")]);
        assert!(p.problems[0].contains("10.9.9.9"));
        s.ip_address = None;
        assert!(plan("eth0", &s, None).problems[0].contains("no IP address"));
    }

    #[test]
    fn admin_vlan_gets_a_sub_interface_with_a_valid_name() {
        let mut s = static_settings();
        s.admin_vlan = Some(100);
        assert_eq!(plan("eth0", &s, None).interface, "eth0.100");
        assert_eq!(vlan_interface("enx0123456789ab", 4094), "enx0123456.4094");
        assert!(vlan_interface("enx0123456789ab", 4094).len() <= 15);
    }

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(prefix_of(a("255.255.255.0")), Some(24));
        assert_eq!(prefix_of(a("255.255.252.0")), Some(22));
        assert_eq!(prefix_of(a("0.0.0.0")), Some(0));
        assert_eq!(prefix_of(a("255.255.255.255")), Some(32));
        assert_eq!(prefix_of(a("255.0.255.0")), None);
        assert_eq!(mask_of(22), a("255.255.252.0"));
        assert_eq!(mask_of(0), a("0.0.0.0"));
        assert!(on_link(a("10.0.1.9"), a("10.0.0.20"), 22));
        assert!(!on_link(a("10.0.4.9"), a("10.0.0.20"), 22));
    }

    #[test]
    fn media_types_as_the_guide_names_them() {
        for name in ["Auto", "Full-100", "Half-100", "Full-10", "Half-10"] {
            assert_eq!(MediaType::parse(name).unwrap().name(), name);
        }
        assert_eq!(MediaType::parse("half-10"), Some(MediaType::Half10));
        // The configuration keeps Table 3-3's spelling.
        assert_eq!(MediaType::parse("Half10"), Some(MediaType::Half10));
        assert_eq!(
            NetSettings::from_parameters(&params(&[("network_media_type", json!("Full100"))]))
                .media,
            MediaType::Full100
        );
        assert_eq!(MediaType::parse("Full-1000"), None);
        assert_eq!(MediaType::Half100.fixed(), Some((100, false)));
    }
}
