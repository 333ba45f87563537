//! Which TFTP servers to ask, in which order.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use deskphone_config::Config;

/// The standard TFTP port.
pub const TFTP_PORT: u16 = 69;

/// What DHCP said about TFTP servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhcpTftp {
    /// Option 150 (Cisco): a list of addresses, tried in order.
    pub option_150: Vec<SocketAddr>,
    /// Option 66: a server name or address, already resolved.
    pub option_66: Option<SocketAddr>,
}

/// The servers to try, first to last, without duplicates:
/// - Alternate TFTP on: the manual TFTP server first (the administrator chose it over DHCP's).
/// - DHCP on: option 150's list, then option 66.
/// - The manual TFTP server, whenever one is set (with DHCP off it is the only one).
pub fn tftp_candidates(config: &Config, dhcp: &DhcpTftp) -> Vec<SocketAddr> {
    let manual = config
        .text("tftp_server")
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| SocketAddr::V4(SocketAddrV4::new(ip, TFTP_PORT)));
    let dhcp_on = config.int("dhcp_enabled") != Some(0);
    let alternate = config.int("alternate_tftp") == Some(1);

    let mut out = Vec::new();
    if alternate {
        out.extend(manual);
    }
    if dhcp_on {
        out.extend(dhcp.option_150.iter().copied());
        out.extend(dhcp.option_66);
    }
    out.extend(manual);
    let mut seen = Vec::new();
    out.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskphone_config::table::id;
    use deskphone_config::Value;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn config(dhcp: i64, alternate: i64, manual: Option<&str>) -> Config {
        let mut c = Config::new("00503EFFD842".parse().unwrap());
        c.set_local(id("dhcp_enabled"), Some(Value::Int(dhcp)));
        c.set_local(id("alternate_tftp"), Some(Value::Int(alternate)));
        c.set_local(id("tftp_server"), manual.map(|m| Value::Text(m.into())));
        c
    }

    #[test]
    fn option_150_then_66_then_manual() {
        let dhcp = DhcpTftp {
            option_150: vec![a("10.0.0.1:69"), a("10.0.0.2:69")],
            option_66: Some(a("10.0.0.3:69")),
        };
        assert_eq!(
            tftp_candidates(&config(1, 0, Some("10.0.0.9")), &dhcp),
            vec![
                a("10.0.0.1:69"),
                a("10.0.0.2:69"),
                a("10.0.0.3:69"),
                a("10.0.0.9:69")
            ]
        );
    }

    #[test]
    fn alternate_tftp_puts_the_manual_server_first() {
        let dhcp = DhcpTftp {
            option_150: vec![a("10.0.0.1:69")],
            option_66: None,
        };
        assert_eq!(
            tftp_candidates(&config(1, 1, Some("10.0.0.9")), &dhcp),
            vec![a("10.0.0.9:69"), a("10.0.0.1:69")]
        );
    }

    #[test]
    fn dhcp_off_uses_only_the_manual_server() {
        let dhcp = DhcpTftp {
            option_150: vec![a("10.0.0.1:69")],
            option_66: Some(a("10.0.0.3:69")),
        };
        assert_eq!(
            tftp_candidates(&config(0, 0, Some("10.0.0.9")), &dhcp),
            vec![a("10.0.0.9:69")]
        );
        assert!(tftp_candidates(&config(0, 0, None), &dhcp).is_empty());
    }

    #[test]
    fn duplicates_are_asked_once() {
        let dhcp = DhcpTftp {
            option_150: vec![a("10.0.0.9:69")],
            option_66: Some(a("10.0.0.9:69")),
        };
        assert_eq!(
            tftp_candidates(&config(1, 0, Some("10.0.0.9")), &dhcp),
            vec![a("10.0.0.9:69")]
        );
    }
}
