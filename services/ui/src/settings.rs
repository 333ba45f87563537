//! The Settings tree of the guide, built from the configuration table: which items each menu
//! has, how a value reads on the screen, whether a person may change it now and how (Yes/No,
//! Change, or an edit field).

use std::collections::BTreeMap;

use deskphone_config::value::{self, MONTHS, WEEKDAYS};
use deskphone_config::{lookup, params, table::TIME_ZONES, Edit, Kind, Menu, ParamDef, ParamId};

use crate::entry::EntryMode;

/// A page of the Settings tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Root,
    /// Network Configuration, SIP Configuration, Call Preferences, Time and Date.
    Menu(Menu),
    /// Line N Settings under SIP Configuration.
    Line(u8),
    Status,
    StatusMessages,
    NetworkStatistics,
    FirmwareVersions,
    Contrast,
    RingType,
}

impl Page {
    pub fn title(self) -> String {
        match self {
            Page::Root => "Settings".into(),
            Page::Menu(m) => m.title().into(),
            Page::Line(n) => format!("Line {n} Configuration"),
            Page::Status => "Status".into(),
            Page::StatusMessages => "Status Messages".into(),
            Page::NetworkStatistics => "Network Statistics".into(),
            Page::FirmwareVersions => "Firmware Versions".into(),
            Page::Contrast => "Contrast".into(),
            Page::RingType => "Ring Type".into(),
        }
    }

    /// How the page is listed on the menu that opens it.
    pub fn item_label(self) -> String {
        match self {
            Page::Line(n) => format!("Line {n} Settings"),
            p => p.title(),
        }
    }

    /// Pages whose title bar shows the padlock.
    pub fn shows_lock(self) -> bool {
        matches!(
            self,
            Page::Menu(Menu::NetworkConfiguration)
                | Page::Menu(Menu::SipConfiguration)
                | Page::Line(_)
        )
    }
}

/// One row of a Settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Open(Page),
    Param(ParamId),
    /// Unlock Config / Lock Config (release 4.2 and later).
    UnlockConfig,
    /// Network Configuration > Erase Configuration.
    EraseConfiguration,
}

/// The items of a menu page, in the order the phone lists them.
pub fn items(page: Page) -> Vec<Item> {
    match page {
        Page::Root => vec![
            Item::Open(Page::Contrast),
            Item::Open(Page::RingType),
            Item::Open(Page::Menu(Menu::NetworkConfiguration)),
            Item::Open(Page::Menu(Menu::SipConfiguration)),
            Item::Open(Page::Menu(Menu::CallPreferences)),
            Item::Open(Page::Menu(Menu::TimeAndDate)),
            Item::Open(Page::Status),
            Item::UnlockConfig,
        ],
        Page::Status => vec![
            Item::Open(Page::StatusMessages),
            Item::Open(Page::NetworkStatistics),
            Item::Open(Page::FirmwareVersions),
        ],
        Page::Menu(Menu::SipConfiguration) => {
            let mut v: Vec<Item> = (1..=6).map(|n| Item::Open(Page::Line(n))).collect();
            v.extend(menu_params(Menu::SipConfiguration, None).map(Item::Param));
            v
        }
        Page::Menu(Menu::NetworkConfiguration) => {
            let mut v: Vec<Item> = menu_params(Menu::NetworkConfiguration, None)
                .map(Item::Param)
                .collect();
            v.push(Item::EraseConfiguration);
            v
        }
        Page::Menu(m) => menu_params(m, None).map(Item::Param).collect(),
        Page::Line(n) => menu_params(Menu::LineSettings, Some(n))
            .map(Item::Param)
            .collect(),
        _ => Vec::new(),
    }
}

fn menu_params(menu: Menu, line: Option<u8>) -> impl Iterator<Item = ParamId> {
    params().iter().filter_map(move |d| match d.menu {
        Some((m, _)) if m == menu && (menu != Menu::LineSettings || d.line == line) => {
            lookup(d.name)
        }
        _ => None,
    })
}

/// The label of a parameter on its menu.
pub fn label(def: &ParamDef) -> &'static str {
    def.menu.map(|(_, l)| l).unwrap_or(def.name)
}

/// The values the menus read: the effective configuration with this session's staged edits
/// laid over it.
pub struct Values<'a> {
    pub effective: &'a BTreeMap<String, String>,
    pub staged: &'a BTreeMap<&'static str, String>,
}

impl Values<'_> {
    pub fn get(&self, name: &str) -> &str {
        self.staged
            .get(name)
            .map(String::as_str)
            .or_else(|| self.effective.get(name).map(String::as_str))
            .unwrap_or("")
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name).trim().parse().ok()
    }
}

/// How a value reads on a menu.
pub fn shown(def: &ParamDef, raw: &str) -> String {
    match def.kind {
        Kind::Flag => yes_no(raw.trim() == "1").into(),
        Kind::Preference => {
            let level: i64 = raw.trim().parse().unwrap_or(0);
            yes_no(level == 1 || level == 3).into()
        }
        Kind::Secret if !raw.is_empty() => "********".into(),
        _ => raw.to_string(),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

/// How a person changes a parameter on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The Yes and No soft keys.
    YesNo,
    /// The Change soft key steps through the values.
    Cycle,
    /// The Edit soft key opens a field.
    Field(EntryMode),
}

pub fn change_kind(def: &ParamDef) -> Change {
    match def.kind {
        Kind::Flag => Change::YesNo,
        Kind::Preference
        | Kind::Choice(_)
        | Kind::TimeZone
        | Kind::Month
        | Kind::Weekday
        | Kind::WeekOfMonth => Change::Cycle,
        Kind::Integer { .. } | Kind::DayOfMonth => Change::Field(EntryMode::Digits),
        Kind::Ipv4 => Change::Field(EntryMode::Ip),
        _ => Change::Field(EntryMode::Text),
    }
}

/// The longest text an edit field takes for a parameter.
pub fn max_chars(def: &ParamDef) -> usize {
    match def.kind {
        Kind::Text {
            max_chars: Some(n), ..
        } => n,
        Kind::Integer { .. } | Kind::DayOfMonth => 6,
        Kind::Ipv4 => 15,
        _ => 128,
    }
}

/// The next value of a [`Change::Cycle`] parameter.
pub fn cycled(def: &ParamDef, raw: &str) -> String {
    fn next<T: AsRef<str>>(all: &[T], raw: &str) -> String {
        let at = all
            .iter()
            .position(|v| v.as_ref().eq_ignore_ascii_case(raw.trim()));
        let i = at.map(|i| (i + 1) % all.len()).unwrap_or(0);
        all[i].as_ref().to_string()
    }
    match def.kind {
        // Only 0 and 1 are ever chosen on the phone.
        Kind::Preference => if raw.trim() == "1" { "0" } else { "1" }.into(),
        Kind::Choice(choices) => {
            let names: Vec<&str> = choices.iter().map(|c| c.canonical).collect();
            next(&names, raw)
        }
        Kind::TimeZone => {
            let names: Vec<&str> = TIME_ZONES.iter().map(|(n, _)| *n).collect();
            next(&names, raw)
        }
        // Numbers and short names read as the full name, so the cycle goes on from there.
        Kind::Month => next(
            &MONTHS,
            value::month_number(raw.trim())
                .map(|n| MONTHS[n as usize - 1])
                .unwrap_or(raw),
        ),
        Kind::Weekday => next(
            &WEEKDAYS,
            value::weekday_number(raw.trim())
                .map(|n| WEEKDAYS[n as usize - 1])
                .unwrap_or(raw),
        ),
        Kind::WeekOfMonth => next(&["1", "2", "3", "4", "5", "6", "8"], raw),
        _ => raw.to_string(),
    }
}

/// Why the parameter cannot be changed now, in the words the prompt line shows; `None`
/// when it can. provd checks again when the change is saved.
pub fn refusal(def: &ParamDef, values: &Values, unlocked: bool) -> Option<String> {
    let dhcp_on = values.int("dhcp_enabled") != Some(0);
    match def.edit {
        Edit::FilesOnly | Edit::ReadOnly => Some("Read only".into()),
        Edit::Unlocked | Edit::UnlockedDhcpOff | Edit::UnlockedTftpServer if !unlocked => {
            Some("Locked: Unlock Config first".into())
        }
        Edit::UnlockedDhcpOff if dhcp_on => Some("DHCP must be disabled".into()),
        Edit::UnlockedTftpServer if dhcp_on && values.int("alternate_tftp") != Some(1) => {
            Some("DHCP off or Alternate TFTP first".into())
        }
        Edit::Preference if values.int(def.name).unwrap_or(0) > 1 => {
            Some("Set by the administrator".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(page: Page) -> Vec<String> {
        items(page)
            .into_iter()
            .map(|i| match i {
                Item::Open(p) => p.item_label(),
                Item::Param(id) => label(id.def()).to_string(),
                Item::UnlockConfig => "Unlock Config".into(),
                Item::EraseConfiguration => "Erase Configuration".into(),
            })
            .collect()
    }

    #[test]
    fn menus_hold_the_guides_items() {
        let net = labels(Page::Menu(Menu::NetworkConfiguration));
        for l in [
            "DHCP Enabled",
            "IP Address",
            "Subnet Mask",
            "TFTP Server",
            "Default Router 1",
            "Default Router 5",
            "DNS Server 1",
            "DNS Server 5",
            "MAC Address",
            "Host Name",
            "Domain Name",
            "Admin. VLAN Id",
            "Alternate TFTP",
            "Erase Configuration",
        ] {
            assert!(
                net.iter().any(|x| x == l),
                "Network Configuration lacks {l}: {net:?}"
            );
        }
        let sip = labels(Page::Menu(Menu::SipConfiguration));
        assert_eq!(&sip[..2], ["Line 1 Settings", "Line 2 Settings"]);
        for l in [
            "Phone Label",
            "Preferred Codec",
            "Out of Band DTMF",
            "Register with Proxy",
        ] {
            assert!(
                sip.iter().any(|x| x == l),
                "SIP Configuration lacks {l}: {sip:?}"
            );
        }
        assert_eq!(
            labels(Page::Line(3)),
            [
                "Name",
                "Short Name",
                "Authentication Name",
                "Authentication Password",
                "Display Name",
                "Proxy Address",
                "Proxy Port"
            ]
        );
        let prefs = labels(Page::Menu(Menu::CallPreferences));
        for l in [
            "Anonymous Call Block",
            "Auto-Complete Numbers",
            "Caller ID Blocking",
            "Call Hold Ringback",
            "Call Waiting",
            "Do Not Disturb",
        ] {
            assert!(
                prefs.iter().any(|x| x == l),
                "Call Preferences lacks {l}: {prefs:?}"
            );
        }
    }

    #[test]
    fn edit_rules_follow_table_3_1() {
        let mut effective = BTreeMap::new();
        effective.insert("dhcp_enabled".to_string(), "1".to_string());
        effective.insert("call_waiting".to_string(), "3".to_string());
        let mut staged = BTreeMap::new();
        let ip = lookup("ip_address").unwrap().def();
        let domain = lookup("domain_name").unwrap().def();
        let mac = lookup("mac_address").unwrap().def();
        let waiting = lookup("call_waiting").unwrap().def();
        let v = Values {
            effective: &effective,
            staged: &staged,
        };
        assert!(refusal(ip, &v, false).unwrap().contains("Locked"));
        assert!(refusal(ip, &v, true).unwrap().contains("DHCP"));
        assert_eq!(refusal(domain, &v, true), None);
        assert_eq!(refusal(mac, &v, true).as_deref(), Some("Read only"));
        assert!(refusal(waiting, &v, true).is_some(), "3 is fixed");
        // Disabling DHCP in this session opens the address for editing.
        staged.insert("dhcp_enabled", "0".to_string());
        let v = Values {
            effective: &effective,
            staged: &staged,
        };
        assert_eq!(refusal(ip, &v, true), None);
    }

    #[test]
    fn values_read_and_cycle_like_the_phone() {
        let codec = lookup("preferred_codec").unwrap().def();
        assert_eq!(change_kind(codec), Change::Cycle);
        let first = cycled(codec, "g711ulaw");
        assert_ne!(first, "g711ulaw");
        let mut v = first.clone();
        let mut seen = vec![first];
        for _ in 0..5 {
            v = cycled(codec, &v);
            seen.push(v.clone());
        }
        assert!(
            seen.iter().any(|s| s == "g711ulaw"),
            "the cycle comes back: {seen:?}"
        );
        let pref = lookup("dnd_control").unwrap().def();
        assert_eq!(cycled(pref, "0"), "1");
        assert_eq!(cycled(pref, "1"), "0");
        assert_eq!(shown(pref, "3"), "Yes");
        assert_eq!(shown(lookup("dhcp_enabled").unwrap().def(), "0"), "No");
        assert_eq!(
            shown(lookup("line1_password").unwrap().def(), "x"),
            "********"
        );
        assert_eq!(
            change_kind(lookup("ip_address").unwrap().def()),
            Change::Field(EntryMode::Ip)
        );
        assert_eq!(
            cycled(lookup("time_zone").unwrap().def(), "bogus"),
            TIME_ZONES[0].0
        );
        let month = lookup("dst_start_month").unwrap().def();
        assert_eq!(
            cycled(month, "3"),
            "April",
            "a number goes on to the next name"
        );
        assert_eq!(cycled(month, "dec"), "January");
        let day = lookup("dst_start_day_of_week").unwrap().def();
        assert_eq!(cycled(day, "7"), "Sunday");
    }
}
