//! Every parameter's rule, checked against the guide's facts, parameter by parameter.

use deskphone_config::table::{lookup, ChoiceDef, Edit, Kind, Menu, Origin};
use deskphone_config::value::check;
use deskphone_config::{params, Value};

fn accepts(name: &str, raw: &str) -> Option<Value> {
    let c = check(lookup(name).unwrap_or_else(|| panic!("{name}")).def(), raw);
    c.value
}

#[test]
fn every_default_passes_its_own_rule() {
    for d in params() {
        if let Some(v) = &d.default {
            let c = check(d, &v.to_string());
            assert_eq!(
                c.value.as_ref(),
                Some(v),
                "{}: default {v} fails its rule ({:?})",
                d.name,
                c.note
            );
        }
    }
}

#[test]
fn every_parameter_refuses_something() {
    // Free text and secrets take anything printable; every other kind has a rule that bites.
    for d in params() {
        let bad = match d.kind {
            Kind::Text { .. } | Kind::Secret => "bad\u{7}bell",
            Kind::TftpDir => "../up",
            _ => "not valid!",
        };
        assert_eq!(check(d, bad).value, None, "{} accepts {bad:?}", d.name);
    }
}

/// Integer ranges from Table 3-3 and the date/time section: (name, min, max, default).
const RANGES: &[(&str, i64, i64, i64)] = &[
    ("start_media_port", 16384, 32766, 16384),
    ("end_media_port", 16384, 32766, 32766),
    ("voip_control_port", 1025, 65535, 5060),
    ("dtmf_db_level", 1, 5, 3),
    ("tos_media", 0, 5, 5),
    ("telnet_level", 0, 2, 0),
    ("timer_register_expires", 1, 3_932_100, 3600),
    ("dst_start_day", 0, 31, 0),
    ("dst_stop_day", 0, 31, 0),
    ("proxy1_port", 1, 65535, 5060),
    ("proxy6_port", 1, 65535, 5060),
    ("proxy_backup_port", 1, 65535, 5060),
    ("proxy_emergency_port", 1, 65535, 5060),
    ("outbound_proxy_port", 1, 65535, 5060),
    ("http_proxy_port", 1, 65535, 80),
];

#[test]
fn integer_ranges_and_defaults() {
    for &(name, min, max, default) in RANGES {
        let def = lookup(name).unwrap().def();
        assert_eq!(def.default, Some(Value::Int(default)), "{name} default");
        assert_eq!(
            accepts(name, &min.to_string()),
            Some(Value::Int(min)),
            "{name} min"
        );
        assert_eq!(
            accepts(name, &max.to_string()),
            Some(Value::Int(max)),
            "{name} max"
        );
        assert_eq!(
            accepts(name, &(min - 1).to_string()),
            None,
            "{name} below min"
        );
        assert_eq!(
            accepts(name, &(max + 1).to_string()),
            None,
            "{name} above max"
        );
    }
    // "Any positive integer" parameters.
    for (name, default) in [
        ("timer_t1", 500),
        ("timer_t2", 4000),
        ("sip_retx", 10),
        ("sip_invite_retx", 6),
        ("timer_invite_expires", 180),
    ] {
        assert_eq!(
            lookup(name).unwrap().def().default,
            Some(Value::Int(default)),
            "{name}"
        );
        assert_eq!(accepts(name, "0"), None, "{name} must be positive");
        assert_eq!(accepts(name, "1"), Some(Value::Int(1)));
    }
    // dtmf_avt_payload: 96-127, above 127 the phone uses 101.
    assert_eq!(accepts("dtmf_avt_payload", "128"), Some(Value::Int(101)));
    assert_eq!(accepts("dtmf_avt_payload", "95"), None);
}

#[test]
fn the_six_preferences_use_the_0_to_3_scale() {
    let prefs = [
        "anonymous_call_block",
        "callerid_blocking",
        "call_hold_ringback",
        "call_waiting",
        "dnd_control",
        "time_format_24hr",
    ];
    let defaults = [0, 0, 0, 1, 0, 1];
    for (name, default) in prefs.iter().zip(defaults) {
        let d = lookup(name).unwrap().def();
        assert_eq!(d.kind, Kind::Preference, "{name}");
        assert_eq!(d.edit, Edit::Preference, "{name}");
        assert_eq!(d.default, Some(Value::Int(default)), "{name}");
    }
    let all: Vec<&str> = params()
        .iter()
        .filter(|p| p.kind == Kind::Preference)
        .map(|p| p.name)
        .collect();
    assert_eq!(all.len(), prefs.len(), "{all:?}");
}

#[test]
fn flags_and_their_defaults() {
    for (name, default) in [
        ("autocomplete", 1),
        ("cnf_join_enable", 1),
        ("dst_auto_adjust", 1),
        ("dtmf_inband", 1),
        ("enable_vad", 0),
        ("nat_enable", 0),
        ("nat_received_processing", 0),
        ("proxy_register", 0),
        ("remote_party_id", 0),
        ("semi_attended_transfer", 1),
        ("dhcp_enabled", 1),
        ("alternate_tftp", 0),
    ] {
        let d = lookup(name).unwrap().def();
        assert_eq!(d.kind, Kind::Flag, "{name}");
        assert_eq!(d.default, Some(Value::Int(default)), "{name}");
    }
}

fn canon(choices: &[ChoiceDef]) -> Vec<&str> {
    choices.iter().map(|c| c.canonical).collect()
}

#[test]
fn enumerations_in_the_guides_spelling() {
    let expect: &[(&str, &[&str], &str)] = &[
        (
            "date_format",
            &["M/D/Y", "D/M/Y", "Y/M/D", "Y/D/M", "Y-M-D", "YY-M-D"],
            "M/D/Y",
        ),
        ("dtmf_outofband", &["none", "avt", "avt_always"], "avt"),
        (
            "preferred_codec",
            &["g711ulaw", "g711alaw", "g729a", "none"],
            "g711ulaw",
        ),
        (
            "network_media_type",
            &["Auto", "Full100", "Half100", "Full10", "Half10"],
            "Auto",
        ),
        ("network_port2_type", &["Hub/Switch", "PC"], "Hub/Switch"),
        (
            "sntp_mode",
            &["unicast", "multicast", "anycast", "directedbroadcast"],
            "directedbroadcast",
        ),
        ("user_info", &["none", "phone", "ip"], "none"),
        ("language", &["English"], "English"),
    ];
    for (name, values, default) in expect {
        let d = lookup(name).unwrap().def();
        let Kind::Choice(c) = d.kind else {
            panic!("{name} is not a choice")
        };
        assert_eq!(canon(c), *values, "{name}");
        assert_eq!(d.default, Some(Value::Text(default.to_string())), "{name}");
    }
}

#[test]
fn text_defaults_and_limits() {
    for (name, default) in [
        ("phone_password", "cisco"),
        ("phone_prompt", "SIP Phone"),
        ("dial_template", "dialplan"),
        ("sync", "1"),
    ] {
        assert_eq!(
            lookup(name).unwrap().def().default,
            Some(Value::Text(default.into())),
            "{name}"
        );
    }
    assert_eq!(
        accepts("sync", &"9".repeat(32)),
        Some(Value::Text("9".repeat(32)))
    );
    assert_eq!(accepts("sync", &"9".repeat(33)), None);
    assert_eq!(
        accepts("phone_label", "12345678901"),
        Some(Value::Text("12345678901".into()))
    );
    assert_eq!(
        accepts("phone_label", "123456789012"),
        Some(Value::Text("12345678901".into()))
    );
    // Dotted addresses only where the guide says so.
    for name in [
        "dyn_dns_addr_1",
        "dyn_dns_addr_2",
        "dyn_tftp_addr",
        "proxy_backup",
        "proxy_emergency",
        "sntp_server",
    ] {
        assert_eq!(
            accepts(name, "10.1.2.3"),
            Some(Value::Text("10.1.2.3".into())),
            "{name}"
        );
        assert_eq!(
            accepts(name, "host.example.com"),
            None,
            "{name} takes dotted addresses only"
        );
    }
    for name in [
        "proxy1_address",
        "proxy4_address",
        "outbound_proxy",
        "nat_address",
        "http_proxy_addr",
    ] {
        assert!(
            accepts(name, "host.example.com").is_some(),
            "{name} takes DNS names"
        );
    }
}

#[test]
fn lines_and_proxies_one_to_six() {
    for n in 1..=6 {
        for field in ["name", "displayname", "shortname", "authname", "password"] {
            let d = lookup(&format!("line{n}_{field}")).unwrap().def();
            assert_eq!(d.line, Some(n));
            assert_eq!(d.menu.map(|m| m.0), Some(Menu::LineSettings));
            assert!(d.phone_specific);
        }
        for field in ["address", "port"] {
            assert!(lookup(&format!("proxy{n}_{field}")).is_some());
        }
    }
    assert!(lookup("line7_name").is_none());
}

#[test]
fn menus_of_table_3_2_and_edit_rules_of_table_3_1() {
    let menu = |n: &str| lookup(n).unwrap().def().menu;
    assert_eq!(
        menu("dtmf_outofband"),
        Some((Menu::SipConfiguration, "Out of Band DTMF"))
    );
    assert_eq!(
        menu("tftp_cfg_dir"),
        Some((Menu::SipConfiguration, "TFTP Directory"))
    );
    assert_eq!(
        menu("timer_register_expires"),
        Some((Menu::SipConfiguration, "Register Expires"))
    );
    assert_eq!(
        menu("dnd_control"),
        Some((Menu::CallPreferences, "Do Not Disturb"))
    );
    assert_eq!(
        menu("autocomplete"),
        Some((Menu::CallPreferences, "Auto-Complete Numbers"))
    );
    assert_eq!(menu("time_zone"), Some((Menu::TimeAndDate, "Time Zone")));
    assert_eq!(
        menu("network_media_type"),
        Some((Menu::NetworkConfiguration, "Network Media Type"))
    );
    assert_eq!(menu("timer_t1"), None);
    let edit = |n: &str| lookup(n).unwrap().def().edit;
    for n in [
        "ip_address",
        "subnet_mask",
        "default_router_1",
        "default_router_5",
        "dns_server_1",
        "dns_server_5",
    ] {
        assert_eq!(edit(n), Edit::UnlockedDhcpOff, "{n}");
    }
    for n in [
        "dhcp_server",
        "mac_address",
        "host_name",
        "operational_vlan_id",
        "dyn_tftp_addr",
        "dyn_dns_addr_1",
    ] {
        assert_eq!(edit(n), Edit::ReadOnly, "{n}");
    }
    for n in [
        "dhcp_enabled",
        "domain_name",
        "alternate_tftp",
        "admin_vlan_id",
        "dhcp_address_released",
    ] {
        assert_eq!(edit(n), Edit::Unlocked, "{n}");
    }
    assert_eq!(edit("tftp_server"), Edit::UnlockedTftpServer);
    // What never reaches flash.
    for n in ["dyn_tftp_addr", "dyn_dns_addr_1", "dyn_dns_addr_2"] {
        assert_eq!(lookup(n).unwrap().def().origin, Origin::Dynamic, "{n}");
        assert!(!lookup(n).unwrap().def().stored_in_flash());
    }
}
