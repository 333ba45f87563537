//! The answers to [`Query`](crate::Query)s as text, from what provd and sipd report.
//!
//! Pure functions, so what an administrator reads is tested without a phone. Lines end in
//! `\n`; the session turns them into the CR LF of a terminal.

use std::fmt::Write as _;
use std::net::IpAddr;

use deskphone_config::{table, Menu};
use deskphone_ipc::{provd, sipd};
use serde_json::{Map, Value};

/// What a secret shows as, whatever the source sent.
pub const MASK: &str = "********";

/// One address of a network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub interface: String,
    pub address: IpAddr,
    pub prefix: u8,
}

/// A parameter's value as shown: secrets masked, unset as `(not set)`.
fn shown(name: &str, value: &Value) -> String {
    let secret = table::lookup(name).is_some_and(|id| id.def().is_secret());
    match value {
        Value::Null => "(not set)".into(),
        _ if secret => MASK.into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn entry(parameters: &Map<String, Value>, name: &str) -> (String, String) {
    match parameters.get(name) {
        Some(p) => (
            shown(name, &p["value"]),
            p["source"].as_str().unwrap_or("?").to_string(),
        ),
        None => ("(not reported)".into(), "?".into()),
    }
}

/// `show config [NAME]`: `NAME = VALUE  (SOURCE)`, one parameter a line, in the table's order
/// (the order of `parameters`).
pub fn config(parameters: &Map<String, Value>, name: Option<&str>) -> String {
    let mut out = String::new();
    let names: Vec<&str> = match name {
        Some(n) if parameters.contains_key(n) => vec![n],
        Some(n) => return format!("provd does not report a parameter named {n}\n"),
        None => parameters.keys().map(String::as_str).collect(),
    };
    for n in names {
        let (value, source) = entry(parameters, n);
        let _ = writeln!(out, "{n:<28} = {value}  ({source})");
    }
    out
}

/// `show network`: the Network Configuration menu as the phone shows it, the network as
/// netd applied it (when the status has it), the TFTP server the configuration came from,
/// and the addresses the interfaces have.
///
/// Reads provd's status as JSON so that the `network` report of newer provd versions shows
/// and an older provd without it still answers.
pub fn network(status: &Value, interfaces: &[InterfaceAddress]) -> String {
    let mut out = String::new();
    let empty = Map::new();
    let params = status["configuration"].as_object().unwrap_or(&empty);
    for def in table::params() {
        if let Some((Menu::NetworkConfiguration, label)) = def.menu {
            let (value, source) = entry(params, def.name);
            let _ = writeln!(out, "{label:<26} {value}  ({source})");
        }
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let list = |v: &Value| match v.as_array() {
        Some(a) if !a.is_empty() => a.iter().map(text).collect::<Vec<_>>().join(", "),
        _ => "none".into(),
    };
    let n = &status["network"];
    if n.is_object() {
        let _ = writeln!(out, "In use:");
        let _ = writeln!(
            out,
            "{:<26} {} (link {})",
            "Interface",
            text(&n["interface"]),
            text(&n["link"])
        );
        let _ = writeln!(out, "{:<26} {}", "Addressing", text(&n["addressing"]));
        let _ = writeln!(out, "{:<26} {}", "Address", text(&n["address"]));
        let _ = writeln!(out, "{:<26} {}", "Default routers", list(&n["routers"]));
        let _ = writeln!(out, "{:<26} {}", "DNS servers", list(&n["dns_servers"]));
        let _ = writeln!(out, "{:<26} {}", "Domain name", text(&n["domain_name"]));
        if let Some(v) = n["vlan"].as_u64() {
            let _ = writeln!(out, "{:<26} {v}", "VLAN");
        }
        let d = &n["dhcp"];
        if d.is_object() {
            let _ = writeln!(
                out,
                "{:<26} {} (lease {} s since {})",
                "DHCP server",
                text(&d["server"]),
                text(&d["lease_secs"]),
                text(&d["since"])
            );
            let _ = writeln!(
                out,
                "{:<26} {}",
                "TFTP servers (DHCP)",
                list(&d["tftp_servers"])
            );
        }
    }
    let server = status["provisioning"]["server"].as_str().unwrap_or("none");
    let _ = writeln!(out, "{:<26} {server}", "TFTP server in use");
    if interfaces.is_empty() {
        let _ = writeln!(out, "{:<26} none", "Interface addresses");
    }
    for (i, a) in interfaces.iter().enumerate() {
        let title = if i == 0 { "Interface addresses" } else { "" };
        let _ = writeln!(
            out,
            "{title:<26} {} {}/{}",
            a.interface, a.address, a.prefix
        );
    }
    out
}

/// `show lines`.
pub fn lines(sipd: Result<&sipd::Status, &str>) -> String {
    let s = match sipd {
        Ok(s) => s,
        Err(e) => return format!("sipd is not answering: {e}\n"),
    };
    let mut out = String::new();
    let state = match &s.reason {
        Some(r) => format!("{}: {r}", s.state),
        None => s.state.clone(),
    };
    let _ = writeln!(
        out,
        "SIP on {}  ({state})",
        s.sip_address.as_deref().unwrap_or("-")
    );
    if s.lines.is_empty() {
        out.push_str("No lines configured (no lineN_name).\n");
    }
    for l in &s.lines {
        let mut what = l.state.clone();
        if let Some(e) = l.expires_in {
            let _ = write!(what, ", {e} s left");
        }
        if let Some(r) = &l.reason {
            let _ = write!(what, ": {r}");
        }
        if let Some(r) = l.retry_in {
            let _ = write!(what, "; next attempt in {r} s");
        }
        if l.using == "backup" {
            if let Some(b) = &l.backup {
                let _ = write!(what, " (on the backup {b})");
            }
        }
        if l.messages_waiting {
            what.push_str(", messages waiting");
        }
        let _ = writeln!(out, "Line {}  {} at {}  {what}", l.line, l.name, l.proxy);
    }
    out
}

/// `show calls`.
pub fn calls(sipd: Result<&sipd::Status, &str>) -> String {
    let s = match sipd {
        Ok(s) => s,
        Err(e) => return format!("sipd is not answering: {e}\n"),
    };
    if s.calls.is_empty() {
        return "No calls.\n".into();
    }
    let mut out = String::new();
    for c in &s.calls {
        let mut extra = String::new();
        if c.connected_for > 0 {
            let _ = write!(extra, ", {} s", c.connected_for);
        }
        extra.push_str(&c.conditions());
        let _ = writeln!(
            out,
            "Call {}  line {}  {} {} {}{extra}",
            c.id, c.line, c.state, c.direction, c.remote
        );
    }
    out
}

/// `show messages`: the Status Messages screen, oldest first.
pub fn messages(status: &provd::Status) -> String {
    if status.status_messages.is_empty() {
        return "No status messages.\n".into();
    }
    status
        .status_messages
        .iter()
        .map(|m| format!("{}  {}\n", m.time, m.text))
        .collect()
}

/// `show status`: provisioning, firmware, check-sync, then the lines and the calls.
pub fn status(provd: &provd::Status, sipd: Result<&sipd::Status, &str>) -> String {
    let mut out = String::new();
    let p = &provd.provisioning;
    let _ = writeln!(out, "MAC address       {}", provd.mac);
    let _ = writeln!(
        out,
        "Provisioning      {} from {}",
        p.state,
        p.server.as_deref().unwrap_or("-")
    );
    for f in &p.files {
        let found = if f.found { "found" } else { "not found" };
        let _ = writeln!(out, "  {:<32} {found}", f.name);
    }
    let fw = &provd.firmware;
    let progress = fw
        .progress_percent
        .map(|p| format!(" {p} %"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Firmware          {} ({}{progress}) {}",
        fw.running, fw.state, fw.message
    );
    let _ = writeln!(
        out,
        "Check-sync        {} (sync {})",
        provd.resync.state,
        provd.resync.sync.as_deref().unwrap_or("-")
    );
    out.push_str(&lines(sipd));
    if let Ok(s) = sipd {
        if !s.calls.is_empty() {
            out.push_str(&calls(Ok(s)));
        }
    }
    out
}

/// `show version`.
pub fn version(
    provd: Result<&provd::Status, &str>,
    sipd: Result<&sipd::Status, &str>,
    console: &str,
) -> String {
    let mut out = String::new();
    match provd {
        Ok(p) => {
            let _ = writeln!(out, "Firmware          {}", p.versions.firmware);
            if let Some(w) = &p.provisioning.image_version {
                let _ = writeln!(out, "image_version     {w} (asked by the configuration)");
            }
            let _ = writeln!(out, "provd             {}", p.versions.provd);
            let _ = writeln!(out, "IPC protocol      {}", p.versions.protocol);
        }
        Err(e) => {
            let _ = writeln!(out, "provd             not answering: {e}");
        }
    }
    match sipd {
        Ok(s) => {
            let _ = writeln!(out, "sipd              {}", s.sipd);
        }
        Err(e) => {
            let _ = writeln!(out, "sipd              not answering: {e}");
        }
    }
    let _ = writeln!(out, "consoled          {console}");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn provd_status() -> provd::Status {
        serde_json::from_value(json!({
            "versions": {"firmware": "deskphone-0.1.0", "provd": "0.1.0", "protocol": 1},
            "mac": "00503EFFD842",
            "provisioning": {
                "state": "provisioned", "server": "192.0.2.5:69",
                "files": [{"name": "SIPDefault.cnf", "found": true},
                          {"name": "SIP00503EFFD842.cnf", "found": false}],
                "last_attempt": null, "image_version": "P0S3-08-2-00"
            },
            "firmware": {"running": "deskphone-0.1.0", "wanted": null, "state": "unsupported",
                         "progress_percent": null, "message": "no A/B slots"},
            "resync": {"state": "idle", "sync": "1", "last_result": null},
            "configuration": {
                "dhcp_enabled": {"value": 1, "source": "default"},
                "ip_address": {"value": "192.0.2.10", "source": "dhcp"},
                "tftp_server": {"value": null, "source": "default"},
                "phone_password": {"value": "clear-text", "source": "SIPDefault.cnf:2"},
                "phone_prompt": {"value": "Lab7", "source": "SIPDefault.cnf:3"},
                "line1_password": {"value": "********", "source": "SIP00503EFFD842.cnf:4"}
            },
            "unknown_parameters": {},
            "status_messages": [{"time": "2024-05-01T10:00:00Z", "text": "provisioned from 192.0.2.5"}],
            "diagnostics": []
        }))
        .expect("a provd status")
    }

    fn sipd_status() -> sipd::Status {
        serde_json::from_value(json!({
            "sipd": "0.1.0", "protocol": 1, "state": "running", "reason": null,
            "sip_address": "127.0.0.1:5060",
            "lines": [{"line": 1, "name": "1001", "registered": false, "proxy": "10.0.0.5:5060",
                       "state": "failed", "reason": "no response from the registrar",
                       "retry_in": 30, "expires_in": null, "failures": 2}],
            "calls": [{"id": 4, "line": 1, "state": "connected", "remote": "Bob <1002>",
                       "remote_uri": "sip:1002@10.0.0.5", "direction": "outgoing",
                       "remote_held": true, "local_port": 16384, "connected_for": 12}]
        }))
        .expect("a sipd status")
    }

    #[test]
    fn config_masks_secrets_even_when_sent_in_clear() {
        let s = provd_status();
        let all = config(&s.configuration, None);
        assert!(!all.contains("clear-text"), "{all}");
        assert!(all.contains("phone_password               = ********  (SIPDefault.cnf:2)"));
        assert!(all.contains("tftp_server                  = (not set)  (default)"));
        assert_eq!(
            config(&s.configuration, Some("phone_prompt")),
            "phone_prompt                 = Lab7  (SIPDefault.cnf:3)\n"
        );
        assert!(config(&s.configuration, Some("sync")).contains("does not report"));
    }

    #[test]
    fn network_shows_the_menu_labels_the_server_in_use_and_addresses() {
        let s = serde_json::to_value(provd_status()).unwrap();
        let text = network(
            &s,
            &[InterfaceAddress {
                interface: "eth0".into(),
                address: "192.0.2.10".parse().unwrap(),
                prefix: 24,
            }],
        );
        assert!(
            text.contains("DHCP Enabled               1  (default)"),
            "{text}"
        );
        assert!(text.contains("IP Address                 192.0.2.10  (dhcp)"));
        assert!(text.contains("TFTP server in use         192.0.2.5:69"));
        assert!(text.contains("eth0 192.0.2.10/24"));
        // Every Default Router and DNS Server of the menu is listed, reported or not.
        assert!(text.contains("Default Router 5"));
        assert!(text.contains("DNS Server 1"));
        assert!(!text.contains("In use:"), "no netd report, no section");

        // With netd's report (newer provd): what is in use, DHCP lease and all.
        let mut s = s;
        s["network"] = json!({
            "interface": "eth0", "addressing": "dhcp", "link": "up",
            "address": "192.0.2.10/24", "subnet_mask": "255.255.255.0",
            "routers": ["192.0.2.1"], "dns_servers": ["192.0.2.53", "192.0.2.54"],
            "domain_name": "example.com", "vlan": null, "media": "Auto",
            "dhcp": {"server": "192.0.2.1", "address": "192.0.2.10",
                     "subnet_mask": "255.255.255.0", "routers": ["192.0.2.1"],
                     "dns_servers": [], "domain_name": null, "tftp_servers": ["192.0.2.5"],
                     "tftp_server_name": null, "next_server": null, "lease_secs": 3600,
                     "since": "2024-05-01T10:00:00Z"}
        });
        let text = network(&s, &[]);
        assert!(
            text.contains("Interface                  eth0 (link up)"),
            "{text}"
        );
        assert!(text.contains("Default routers            192.0.2.1\n"));
        assert!(text.contains("DNS servers                192.0.2.53, 192.0.2.54"));
        assert!(text.contains(
            "DHCP server                192.0.2.1 (lease 3600 s since 2024-05-01T10:00:00Z)"
        ));
        assert!(text.contains("TFTP servers (DHCP)        192.0.2.5"));
        assert!(text.contains("Interface addresses        none"));
    }

    #[test]
    fn lines_calls_status_version_and_a_missing_sipd() {
        let p = provd_status();
        let s = sipd_status();
        let l = lines(Ok(&s));
        assert!(l.contains(
            "Line 1  1001 at 10.0.0.5:5060  failed: no response from the registrar; next attempt in 30 s"
        ));
        let c = calls(Ok(&s));
        assert!(c.contains(
            "Call 4  line 1  connected outgoing Bob <1002>, 12 s, held by the other party"
        ));
        let st = status(&p, Ok(&s));
        assert!(st.contains("Provisioning      provisioned from 192.0.2.5:69"));
        assert!(st.contains("SIP00503EFFD842.cnf              not found"));
        assert!(st.contains("Call 4"));
        let down = status(&p, Err("connection refused"));
        assert!(down.contains("sipd is not answering: connection refused"));
        let v = version(Ok(&p), Err("not running"), "0.1.0");
        assert!(v.contains("Firmware          deskphone-0.1.0"));
        assert!(v.contains("image_version     P0S3-08-2-00"));
        assert!(v.contains("sipd              not answering: not running"));
        assert!(messages(&p).contains("2024-05-01T10:00:00Z  provisioned from 192.0.2.5"));
    }
}
