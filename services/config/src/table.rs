//! The one table of every parameter the phone knows.
//!
//! Everything else — the `.cnf` parser's checks, the flash store, the menus, `phonectl lint`,
//! the validation messages — reads this table instead of repeating names and rules.
//! The facts come from the Cisco SIP IP Phone Administrator Guide 4.4, chapter 3
//! (Tables 3-1 to 3-6 and the date/time section); the descriptions are our own words.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use crate::value::Value;

/// Number of line appearances (`line1_*` .. `line6_*`, `proxy1_*` .. `proxy6_*`).
pub const LINES: u8 = 6;

/// What kind of value a parameter holds; decides how file text is checked and normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `0` or `1`.
    Flag,
    /// The guide's user-preference scale: 0 off / 1 on (user may toggle), 2 off / 3 on (fixed).
    Preference,
    /// A whole number in `min..=max`; a value above `max` becomes `above_max` when the guide
    /// names such a replacement (dtmf_avt_payload), otherwise the line is ignored.
    Integer {
        min: i64,
        max: i64,
        above_max: Option<i64>,
    },
    /// One of a fixed list, written in the guide's spelling; matched without regard to case
    /// and to `-`/`_`, plus aliases seen in real fleets.
    Choice(&'static [ChoiceDef]),
    /// Free text of at most `max_chars` characters (`None`: no limit). Longer text is cut
    /// (`Overflow::Truncate`) or refused (`Overflow::Reject`).
    Text {
        max_chars: Option<usize>,
        overflow: Overflow,
    },
    /// A secret (passwords): free text, never shown in logs or status.
    Secret,
    /// A dotted IPv4 address only (the guide: "only dotted IP addresses are accepted").
    Ipv4,
    /// A dotted IPv4 address or a DNS name (A record).
    Host,
    /// A URL (http or https).
    Url,
    /// An abbreviation of Table 3-9, upper case.
    TimeZone,
    /// January..December or 1..12.
    Month,
    /// Sunday..Saturday (or Sun..Sat) or 1..7 with 1 = Sunday.
    Weekday,
    /// 1..6 or 8 (= last week of the month).
    WeekOfMonth,
    /// 0..31; 0 = relative rule (use day of week and week of month).
    DayOfMonth,
    /// A time of day: `02/00`, `02:00` or `02`.
    ClockTime,
    /// A signed hour/minute offset: `01/00`, `-01/00`, `+1`, `1`, `01:30`.
    DstOffset,
    /// A path below the TFTP root ("./", "phones/").
    TftpDir,
}

/// What happens to text longer than a parameter allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Truncate,
    Reject,
}

/// One allowed value of a [`Kind::Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoiceDef {
    /// The guide's spelling, used in the effective configuration and `phonectl lint --json`.
    pub canonical: &'static str,
    /// Other spellings accepted (compared after folding case and dropping `-`, `_`, `/`).
    pub aliases: &'static [&'static str],
}

/// The menu of the Settings tree that shows a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Menu {
    #[serde(rename = "SIP Configuration")]
    SipConfiguration,
    /// "Line N Settings" under SIP Configuration.
    #[serde(rename = "Line Settings")]
    LineSettings,
    #[serde(rename = "Network Configuration")]
    NetworkConfiguration,
    #[serde(rename = "Call Preferences")]
    CallPreferences,
    #[serde(rename = "Time and Date")]
    TimeAndDate,
}

impl Menu {
    pub fn title(self) -> &'static str {
        match self {
            Menu::SipConfiguration => "SIP Configuration",
            Menu::LineSettings => "Line Settings",
            Menu::NetworkConfiguration => "Network Configuration",
            Menu::CallPreferences => "Call Preferences",
            Menu::TimeAndDate => "Time and Date",
        }
    }
}

/// Whether and how a person at the phone may change a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edit {
    /// Not on any menu: configuration files only.
    FilesOnly,
    /// Shown, never editable (MAC address, DHCP server, ...).
    ReadOnly,
    /// Editable once the configuration is unlocked with `phone_password`.
    Unlocked,
    /// Editable when unlocked and DHCP is disabled ("Yes, but DHCP must be disabled").
    UnlockedDhcpOff,
    /// The TFTP server: editable when unlocked and either DHCP is off or Alternate TFTP is on.
    UnlockedTftpServer,
    /// A 0-3 preference: the user toggles it while it is 0 or 1; 2 and 3 are fixed.
    Preference,
    /// A user setting that needs no unlock (Call Preferences, Time and Date).
    User,
}

/// Where a parameter's value may come from and whether it is kept in flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Configuration files, flash and local edits; stored in flash.
    Provisioned,
    /// Set on the phone only (network settings of Table 3-1); stored in flash; a file that
    /// names it is warned and ignored.
    PhoneOnly,
    /// Configuration files only and never stored in flash (dyn_dns_addr_*, dyn_tftp_addr).
    Dynamic,
    /// Measured or derived at run time (MAC address, host name, DHCP server, operational VLAN).
    Runtime,
}

/// One parameter of the model.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// The configuration-file name (`timer_t1`, `line3_name`); for the phone-only network
    /// settings of Table 3-1, which have no file name in the guide, our own snake_case name.
    pub name: &'static str,
    pub kind: Kind,
    /// Built-in default; `None` when the parameter is unprovisioned until set.
    pub default: Option<Value>,
    /// The menu showing it, with the label the guide gives it there.
    pub menu: Option<(Menu, &'static str)>,
    pub edit: Edit,
    pub origin: Origin,
    /// The line (1..=6) of a `lineN_*` / `proxyN_*` parameter.
    pub line: Option<u8>,
    /// Belongs in the phone-specific file (Table 3-4); the lint warns when the default file sets it.
    pub phone_specific: bool,
    /// The guide's table that defines it ("3-1", "3-3", "3-4", "date/time").
    pub table: &'static str,
    /// One line in our words, for `phonectl` and the lint.
    pub help: &'static str,
}

impl ParamDef {
    /// Whether the value survives in flash.
    pub fn stored_in_flash(&self) -> bool {
        matches!(self.origin, Origin::Provisioned | Origin::PhoneOnly)
    }

    /// Whether a configuration file may set it.
    pub fn settable_by_file(&self) -> bool {
        matches!(self.origin, Origin::Provisioned | Origin::Dynamic)
    }

    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret)
    }
}

/// Index of a parameter in [`params()`]; cheap to copy and compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) u16);

impl ParamId {
    pub fn def(self) -> &'static ParamDef {
        &TABLE.defs[self.0 as usize]
    }
    pub fn name(self) -> &'static str {
        self.def().name
    }
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

struct Table {
    defs: Vec<ParamDef>,
    by_name: HashMap<&'static str, ParamId>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let defs = build();
    let mut by_name = HashMap::with_capacity(defs.len());
    for (i, d) in defs.iter().enumerate() {
        let previous = by_name.insert(d.name, ParamId(i as u16));
        assert!(previous.is_none(), "parameter {} defined twice", d.name);
    }
    Table { defs, by_name }
});

/// Every parameter, in the guide's order (Table 3-1, then Tables 3-3/3-4 alphabetically,
/// lines and proxies grouped by line).
pub fn params() -> &'static [ParamDef] {
    &TABLE.defs
}

/// All parameter ids, in table order.
pub fn ids() -> impl Iterator<Item = ParamId> {
    (0..TABLE.defs.len() as u16).map(ParamId)
}

/// Looks a parameter up by its exact configuration-file name.
pub fn lookup(name: &str) -> Option<ParamId> {
    TABLE.by_name.get(name).copied()
}

/// The id of a name that must exist (names written in this crate's code).
pub fn id(name: &str) -> ParamId {
    lookup(name).unwrap_or_else(|| panic!("no parameter named {name}"))
}

/// The closest known name, for "did you mean" hints on unknown keys.
pub fn suggest(unknown: &str) -> Option<&'static str> {
    let lower = unknown.to_ascii_lowercase();
    if let Some(id) = lookup(&lower) {
        return Some(id.name());
    }
    let mut best: Option<(f64, &'static str)> = None;
    for d in params() {
        let score = strsim::jaro_winkler(&lower, d.name);
        if score > 0.88 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, d.name));
        }
    }
    best.map(|(_, n)| n)
}

/// Line-specific parameter name, e.g. `line_param(3, "name")` = `line3_name`.
pub fn line_param(line: u8, field: &str) -> ParamId {
    id(&format!("line{line}_{field}"))
}

/// Proxy parameter of a line, e.g. `proxy_param(2, "port")` = `proxy2_port`.
pub fn proxy_param(line: u8, field: &str) -> ParamId {
    id(&format!("proxy{line}_{field}"))
}

// ---------------------------------------------------------------------------------------------
// The table itself.

const YES_NO: Kind = Kind::Flag;

const DATE_FORMATS: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "M/D/Y",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "D/M/Y",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Y/M/D",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Y/D/M",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Y-M-D",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "YY-M-D",
        aliases: &[],
    },
];

const DTMF_OUTOFBAND: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "none",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "avt",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "avt_always",
        aliases: &[],
    },
];

const CODECS: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "g711ulaw",
        aliases: &["pcmu", "ulaw"],
    },
    ChoiceDef {
        canonical: "g711alaw",
        aliases: &["pcma", "alaw"],
    },
    // The guide's own sample comment says "g729"; fleets copied it.
    ChoiceDef {
        canonical: "g729a",
        aliases: &["g729"],
    },
    ChoiceDef {
        canonical: "none",
        aliases: &[],
    },
];

const MEDIA_TYPES: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "Auto",
        aliases: &[],
    },
    // Table 3-3 spells them Full100; Table 3-1 (the menu) spells them Full-100.
    ChoiceDef {
        canonical: "Full100",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Half100",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Full10",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "Half10",
        aliases: &[],
    },
];

const PORT2_TYPES: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "Hub/Switch",
        aliases: &["hub", "switch"],
    },
    ChoiceDef {
        canonical: "PC",
        aliases: &[],
    },
];

const SNTP_MODES: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "unicast",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "multicast",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "anycast",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "directedbroadcast",
        aliases: &[],
    },
];

const USER_INFO: &[ChoiceDef] = &[
    ChoiceDef {
        canonical: "none",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "phone",
        aliases: &[],
    },
    ChoiceDef {
        canonical: "ip",
        aliases: &[],
    },
];

const LANGUAGES: &[ChoiceDef] = &[ChoiceDef {
    canonical: "English",
    aliases: &[],
}];

const PORT: Kind = Kind::Integer {
    min: 1,
    max: 65535,
    above_max: None,
};
const POSITIVE: Kind = Kind::Integer {
    min: 1,
    max: i32::MAX as i64,
    above_max: None,
};
const MEDIA_PORT: Kind = Kind::Integer {
    min: 16384,
    max: 32766,
    above_max: None,
};
const TEXT: Kind = Kind::Text {
    max_chars: None,
    overflow: Overflow::Reject,
};

/// Builder for one row; keeps the table below readable.
struct Row(ParamDef);

fn row(name: &'static str, kind: Kind, table: &'static str, help: &'static str) -> Row {
    Row(ParamDef {
        name,
        kind,
        default: None,
        menu: None,
        edit: Edit::FilesOnly,
        origin: Origin::Provisioned,
        line: None,
        phone_specific: false,
        table,
        help,
    })
}

impl Row {
    fn int(mut self, v: i64) -> Self {
        self.0.default = Some(Value::Int(v));
        self
    }
    fn text(mut self, v: &'static str) -> Self {
        self.0.default = Some(Value::Text(v.to_string()));
        self
    }
    fn menu(mut self, menu: Menu, label: &'static str, edit: Edit) -> Self {
        self.0.menu = Some((menu, label));
        self.0.edit = edit;
        self
    }
    fn origin(mut self, origin: Origin) -> Self {
        self.0.origin = origin;
        self
    }
    fn line(mut self, n: u8) -> Self {
        self.0.line = Some(n);
        self
    }
    fn phone_specific(mut self) -> Self {
        self.0.phone_specific = true;
        self
    }
}

fn leak(s: String) -> &'static str {
    // The table is built once per process; the generated line names live as long as it does.
    Box::leak(s.into_boxed_str())
}

fn build() -> Vec<ParamDef> {
    use Edit::*;
    use Menu::*;
    use Origin::*;

    let mut t: Vec<Row> = Vec::with_capacity(200);

    // --- Table 3-1: network settings, set on the phone's Network Configuration menu.
    let net = NetworkConfiguration;
    t.push(
        row(
            "dhcp_enabled",
            YES_NO,
            "3-1",
            "use DHCP for address, mask, routers, DNS and TFTP server",
        )
        .int(1)
        .menu(net, "DHCP Enabled", Unlocked)
        .origin(PhoneOnly),
    );
    t.push(
        row(
            "dhcp_server",
            Kind::Ipv4,
            "3-1",
            "the DHCP server that gave the current lease",
        )
        .menu(net, "DHCP Server", ReadOnly)
        .origin(Runtime),
    );
    t.push(
        row(
            "dhcp_address_released",
            YES_NO,
            "3-1",
            "release the DHCP lease and stay released",
        )
        .int(0)
        .menu(net, "DHCP Address Released", Unlocked)
        .origin(PhoneOnly),
    );
    t.push(
        row("mac_address", TEXT, "3-1", "the factory MAC address")
            .menu(net, "MAC Address", ReadOnly)
            .origin(Runtime),
    );
    t.push(
        row(
            "host_name",
            TEXT,
            "3-1",
            "always SIP followed by the MAC address",
        )
        .menu(net, "Host Name", ReadOnly)
        .origin(Runtime),
    );
    t.push(
        row("domain_name", Kind::Host, "3-1", "DNS domain of the phone")
            .menu(net, "Domain Name", Unlocked)
            .origin(PhoneOnly),
    );
    t.push(
        row(
            "ip_address",
            Kind::Ipv4,
            "3-1",
            "static IP address (DHCP off)",
        )
        .menu(net, "IP Address", UnlockedDhcpOff)
        .origin(PhoneOnly),
    );
    t.push(
        row(
            "subnet_mask",
            Kind::Ipv4,
            "3-1",
            "static subnet mask (DHCP off)",
        )
        .menu(net, "Subnet Mask", UnlockedDhcpOff)
        .origin(PhoneOnly),
    );
    t.push(
        row(
            "tftp_server",
            Kind::Ipv4,
            "3-1",
            "TFTP server when DHCP is off or Alternate TFTP is on",
        )
        .menu(net, "TFTP Server", UnlockedTftpServer)
        .origin(PhoneOnly),
    );
    for n in 1..=5u8 {
        t.push(
            row(
                leak(format!("default_router_{n}")),
                Kind::Ipv4,
                "3-1",
                "default gateway, tried in order 1 to 5",
            )
            .menu(net, leak(format!("Default Router {n}")), UnlockedDhcpOff)
            .origin(PhoneOnly),
        );
    }
    for n in 1..=5u8 {
        t.push(
            row(
                leak(format!("dns_server_{n}")),
                Kind::Ipv4,
                "3-1",
                "DNS server, tried in order 1 to 5",
            )
            .menu(net, leak(format!("DNS Server {n}")), UnlockedDhcpOff)
            .origin(PhoneOnly),
        );
    }
    t.push(
        row(
            "operational_vlan_id",
            Kind::Integer {
                min: 1,
                max: 4094,
                above_max: None,
            },
            "3-1",
            "VLAN learnt through CDP",
        )
        .menu(net, "Operational VLAN Id", ReadOnly)
        .origin(Runtime),
    );
    t.push(
        row(
            "admin_vlan_id",
            Kind::Integer {
                min: 1,
                max: 4094,
                above_max: None,
            },
            "3-1",
            "802.1Q VLAN of the phone on non-Cisco switches",
        )
        .menu(net, "Admin. VLAN Id", Unlocked)
        .origin(PhoneOnly),
    );
    t.push(
        row(
            "alternate_tftp",
            YES_NO,
            "3-1",
            "use the manual TFTP server even when DHCP names one",
        )
        .int(0)
        .menu(net, "Alternate TFTP", Unlocked)
        .origin(PhoneOnly),
    );

    // --- Table 3-3: the default file's parameters (and the menus of Table 3-2).
    t.push(
        row(
            "anonymous_call_block",
            Kind::Preference,
            "3-3",
            "reject calls without caller identity",
        )
        .int(0)
        .menu(CallPreferences, "Anonymous Call Block", Preference),
    );
    t.push(
        row(
            "autocomplete",
            Kind::Flag,
            "3-3",
            "complete dialled numbers from call history",
        )
        .int(1)
        .menu(CallPreferences, "Auto-Complete Numbers", User),
    );
    t.push(
        row(
            "call_hold_ringback",
            Kind::Preference,
            "3-3",
            "ring when hung up with a call on hold",
        )
        .int(0)
        .menu(CallPreferences, "Call Hold Ringback", Preference),
    );
    t.push(
        row(
            "call_waiting",
            Kind::Preference,
            "3-3",
            "accept a second call during a call",
        )
        .int(1)
        .menu(CallPreferences, "Call Waiting", Preference),
    );
    t.push(
        row(
            "callerid_blocking",
            Kind::Preference,
            "3-3",
            "present the phone as Anonymous to callees",
        )
        .int(0)
        .menu(CallPreferences, "Caller ID Blocking", Preference),
    );
    // Not in the guide: the old phone took check-sync from anyone; deskphone takes it only
    // from its configured proxies unless this is 1.
    // Not in the guide either: a check-sync must also carry a line's digest credentials.
    t.push(
        row(
            "check_sync_auth",
            Kind::Flag,
            "deskphone",
            "challenge a check-sync NOTIFY with digest (a line's authname and password)",
        )
        .int(0),
    );
    // Not in the guide: the old phone only took unsolicited NOTIFYs; 1 also subscribes.
    t.push(
        row(
            "mwi_subscribe",
            Kind::Flag,
            "deskphone",
            "subscribe to each registered line's message-summary (RFC 3842) for the lamp",
        )
        .int(0),
    );
    t.push(
        row(
            "check_sync_any_source",
            Kind::Flag,
            "deskphone",
            "accept a check-sync NOTIFY from any address (0: only from the configured proxies)",
        )
        .int(0),
    );
    t.push(
        row(
            "cnf_join_enable",
            Kind::Flag,
            "3-3",
            "join the two other parties when the conference initiator hangs up",
        )
        .int(1),
    );
    t.push(
        row(
            "date_format",
            Kind::Choice(DATE_FORMATS),
            "3-3",
            "how the idle screen shows the date",
        )
        .text("M/D/Y")
        .menu(TimeAndDate, "Date Format", User),
    );
    t.push(
        row(
            "dial_template",
            TEXT,
            "3-3",
            "dial plan file name on the TFTP server, without .xml",
        )
        .text("dialplan"),
    );
    t.push(row(
        "directory_url",
        Kind::Url,
        "3-3",
        "external directory service (XML)",
    ));
    t.push(
        row(
            "dnd_control",
            Kind::Preference,
            "3-3",
            "do not disturb: reject incoming calls, log them as missed",
        )
        .int(0)
        .menu(CallPreferences, "Do Not Disturb", Preference),
    );
    t.push(
        row(
            "dst_auto_adjust",
            Kind::Flag,
            "date/time",
            "apply daylight saving time automatically",
        )
        .int(1),
    );
    t.push(
        row(
            "dst_offset",
            Kind::DstOffset,
            "date/time",
            "clock change while DST is in effect",
        )
        .text("01/00"),
    );
    t.push(
        row(
            "dst_start_day",
            Kind::DayOfMonth,
            "date/time",
            "day of month DST starts; 0 = relative rule",
        )
        .int(0),
    );
    t.push(
        row(
            "dst_start_day_of_week",
            Kind::Weekday,
            "date/time",
            "weekday DST starts (relative rule)",
        )
        .text("Sunday"),
    );
    t.push(
        row(
            "dst_start_month",
            Kind::Month,
            "date/time",
            "month DST starts",
        )
        .text("April"),
    );
    t.push(
        row(
            "dst_start_time",
            Kind::ClockTime,
            "date/time",
            "time of day DST starts",
        )
        .text("02/00"),
    );
    t.push(
        row(
            "dst_start_week_of_month",
            Kind::WeekOfMonth,
            "date/time",
            "week DST starts (relative rule), 8 = last",
        )
        .int(1),
    );
    t.push(
        row(
            "dst_stop_day",
            Kind::DayOfMonth,
            "date/time",
            "day of month DST ends; 0 = relative rule",
        )
        .int(0),
    );
    t.push(
        row(
            "dst_stop_day_of_week",
            Kind::Weekday,
            "date/time",
            "weekday DST ends (relative rule)",
        )
        .text("Sunday"),
    );
    t.push(row("dst_stop_month", Kind::Month, "date/time", "month DST ends").text("October"));
    t.push(
        row(
            "dst_stop_time",
            Kind::ClockTime,
            "date/time",
            "time of day DST ends",
        )
        .text("02/00"),
    );
    t.push(
        row(
            "dst_stop_week_of_month",
            Kind::WeekOfMonth,
            "date/time",
            "week DST ends (relative rule), 8 = last",
        )
        .int(8),
    );
    t.push(
        row(
            "dtmf_avt_payload",
            Kind::Integer {
                min: 96,
                max: 127,
                above_max: Some(101),
            },
            "3-3",
            "RTP payload type of telephone-event",
        )
        .int(101),
    );
    t.push(
        row(
            "dtmf_db_level",
            Kind::Integer {
                min: 1,
                max: 5,
                above_max: None,
            },
            "3-3",
            "in-band DTMF level, 3 = nominal, 3 dB steps",
        )
        .int(3),
    );
    t.push(
        row(
            "dtmf_inband",
            Kind::Flag,
            "3-3",
            "generate DTMF in the audio",
        )
        .int(1),
    );
    t.push(
        row(
            "dtmf_outofband",
            Kind::Choice(DTMF_OUTOFBAND),
            "3-3",
            "RFC 2833/4733 DTMF: none, avt (if offered), avt_always",
        )
        .text("avt")
        .menu(SipConfiguration, "Out of Band DTMF", Unlocked),
    );
    t.push(
        row(
            "dyn_dns_addr_1",
            Kind::Ipv4,
            "3-3",
            "DNS server used before DNS Server 1; not kept in flash",
        )
        .menu(net, "Dynamic DNS Server 1", ReadOnly)
        .origin(Dynamic),
    );
    t.push(
        row(
            "dyn_dns_addr_2",
            Kind::Ipv4,
            "3-3",
            "DNS server used second; not kept in flash",
        )
        .menu(net, "Dynamic DNS Server 2", ReadOnly)
        .origin(Dynamic),
    );
    t.push(
        row(
            "dyn_tftp_addr",
            Kind::Ipv4,
            "3-3",
            "TFTP server to fetch the configuration from again; not kept in flash",
        )
        .menu(net, "Dynamic TFTP Server", ReadOnly)
        .origin(Dynamic),
    );
    t.push(
        row(
            "enable_vad",
            Kind::Flag,
            "3-3",
            "voice activity detection and comfort noise",
        )
        .int(0)
        .menu(SipConfiguration, "Enable VAD", Unlocked),
    );
    t.push(
        row("end_media_port", MEDIA_PORT, "3-3", "highest RTP port")
            .int(32766)
            .menu(SipConfiguration, "End Media Port", Unlocked),
    );
    t.push(
        row(
            "http_proxy_addr",
            Kind::Host,
            "3-3",
            "HTTP proxy for the XML services",
        )
        .menu(net, "HTTP Proxy Address", Unlocked),
    );
    t.push(
        row("http_proxy_port", PORT, "3-3", "HTTP proxy port")
            .int(80)
            .menu(net, "HTTP Proxy Port", Unlocked),
    );
    t.push(row(
        "image_version",
        Kind::Text {
            max_chars: Some(64),
            overflow: Overflow::Reject,
        },
        "3-3",
        "firmware version the phone must run (required)",
    ));
    t.push(
        row(
            "language",
            Kind::Choice(LANGUAGES),
            "3-3",
            "display language; English only",
        )
        .text("English"),
    );
    t.push(row(
        "logo_url",
        Kind::Url,
        "3-3",
        "idle-screen logo, a 256-colour BMP scaled to 90x56",
    ));
    t.push(
        row(
            "messages_uri",
            TEXT,
            "3-3",
            "number dialled by the Messages key",
        )
        .menu(SipConfiguration, "Messages URI", Unlocked),
    );
    t.push(
        row(
            "nat_address",
            Kind::Host,
            "3-3",
            "public address of the NAT, used in Contact and SDP",
        )
        .menu(SipConfiguration, "NAT Address", Unlocked),
    );
    t.push(
        row(
            "nat_enable",
            Kind::Flag,
            "3-3",
            "advertise nat_address in Contact and SDP",
        )
        .int(0)
        .menu(SipConfiguration, "NAT Enabled", Unlocked),
    );
    t.push(
        row(
            "nat_received_processing",
            Kind::Flag,
            "3-3",
            "re-register with the received= address of REGISTER responses",
        )
        .int(0),
    );
    t.push(
        row(
            "network_media_type",
            Kind::Choice(MEDIA_TYPES),
            "3-3",
            "Ethernet speed and duplex",
        )
        .text("Auto")
        .menu(net, "Network Media Type", Unlocked),
    );
    t.push(
        row(
            "network_port2_type",
            Kind::Choice(PORT2_TYPES),
            "3-3",
            "what is connected to the PC port",
        )
        .text("Hub/Switch")
        .menu(net, "Network Port 2 Device Type", Unlocked),
    );
    t.push(
        row(
            "outbound_proxy",
            Kind::Host,
            "3-3",
            "send every request here (media excepted)",
        )
        .menu(SipConfiguration, "Outbound Proxy", Unlocked),
    );
    t.push(
        row(
            "outbound_proxy_port",
            PORT,
            "3-3",
            "port of the outbound proxy",
        )
        .int(5060)
        .menu(SipConfiguration, "Outbound Proxy Port", Unlocked),
    );
    t.push(
        row(
            "phone_label",
            Kind::Text {
                max_chars: Some(11),
                overflow: Overflow::Truncate,
            },
            "3-4",
            "top line of the screen, at most 11 characters",
        )
        .menu(SipConfiguration, "Phone Label", Unlocked)
        .phone_specific(),
    );
    t.push(
        row(
            "phone_password",
            Kind::Secret,
            "3-3",
            "password for Unlock Config and the console",
        )
        .text("cisco"),
    );
    t.push(
        row(
            "phone_prompt",
            Kind::Text {
                max_chars: Some(32),
                overflow: Overflow::Truncate,
            },
            "3-3",
            "console and telnet prompt",
        )
        .text("SIP Phone"),
    );
    t.push(
        row(
            "preferred_codec",
            Kind::Choice(CODECS),
            "3-3",
            "codec offered first",
        )
        .text("g711ulaw")
        .menu(SipConfiguration, "Preferred Codec", Unlocked),
    );
    t.push(
        row(
            "proxy_backup",
            Kind::Ipv4,
            "3-3",
            "backup proxy when the primary stops answering",
        )
        .menu(SipConfiguration, "Backup Proxy", Unlocked),
    );
    t.push(
        row("proxy_backup_port", PORT, "3-3", "backup proxy port")
            .int(5060)
            .menu(SipConfiguration, "Backup Proxy Port", Unlocked),
    );
    t.push(
        row(
            "proxy_emergency",
            Kind::Ipv4,
            "3-3",
            "proxy for emergency numbers",
        )
        .menu(SipConfiguration, "Emergency Proxy", Unlocked),
    );
    t.push(
        row("proxy_emergency_port", PORT, "3-3", "emergency proxy port")
            .int(5060)
            .menu(SipConfiguration, "Emergency Proxy Port", Unlocked),
    );
    t.push(
        row(
            "proxy_register",
            Kind::Flag,
            "3-3",
            "register the lines with their proxies",
        )
        .int(0)
        .menu(SipConfiguration, "Register with Proxy", Unlocked),
    );
    t.push(
        row(
            "remote_party_id",
            Kind::Flag,
            "3-3",
            "send and accept Remote-Party-ID",
        )
        .int(0),
    );
    t.push(
        row(
            "semi_attended_transfer",
            Kind::Flag,
            "3-3",
            "allow completing a transfer while the target rings",
        )
        .int(1),
    );
    t.push(row(
        "services_url",
        Kind::Url,
        "3-3",
        "XML services menu of the Services key",
    ));
    t.push(
        row(
            "sip_invite_retx",
            POSITIVE,
            "3-3",
            "INVITE retransmissions at most",
        )
        .int(6),
    );
    t.push(
        row(
            "sip_retx",
            POSITIVE,
            "3-3",
            "retransmissions of other requests at most",
        )
        .int(10),
    );
    t.push(
        row(
            "sntp_mode",
            Kind::Choice(SNTP_MODES),
            "date/time",
            "how time is obtained (Tables 3-7, 3-8)",
        )
        .text("directedbroadcast"),
    );
    t.push(
        row(
            "sntp_server",
            Kind::Ipv4,
            "date/time",
            "SNTP server; 0.0.0.0 = none known",
        )
        .text("0.0.0.0"),
    );
    t.push(
        row("start_media_port", MEDIA_PORT, "3-3", "lowest RTP port")
            .int(16384)
            .menu(SipConfiguration, "Start Media Port", Unlocked),
    );
    t.push(
        row(
            "sync",
            Kind::Text {
                max_chars: Some(32),
                overflow: Overflow::Reject,
            },
            "3-3",
            "compared with syncinfo.xml's SYNC before a remote reboot",
        )
        .text("1"),
    );
    t.push(
        row(
            "telnet_level",
            Kind::Integer {
                min: 0,
                max: 2,
                above_max: None,
            },
            "3-3",
            "0 off, 1 telnet without privileged commands, 2 with",
        )
        .int(0),
    );
    t.push(
        row(
            "tftp_cfg_dir",
            Kind::TftpDir,
            "3-3",
            "directory of the phone-specific files on the TFTP server",
        )
        .menu(SipConfiguration, "TFTP Directory", Unlocked),
    );
    t.push(
        row(
            "time_format_24hr",
            Kind::Preference,
            "3-3",
            "24-hour clock (0/1 user may change, 2/3 fixed)",
        )
        .int(1)
        .menu(TimeAndDate, "Time format 24-hr", Preference),
    );
    // The guide names no default time zone; PST goes with its US daylight-saving defaults.
    t.push(
        row(
            "time_zone",
            Kind::TimeZone,
            "date/time",
            "Table 3-9 abbreviation, upper case",
        )
        .text("PST")
        .menu(TimeAndDate, "Time Zone", User),
    );
    t.push(
        row(
            "timer_invite_expires",
            POSITIVE,
            "3-3",
            "Expires of INVITE, seconds",
        )
        .int(180),
    );
    t.push(
        row(
            "timer_register_expires",
            Kind::Integer {
                min: 1,
                max: 3_932_100,
                above_max: None,
            },
            "3-3",
            "registration lifetime, seconds",
        )
        .int(3600)
        .menu(SipConfiguration, "Register Expires", Unlocked),
    );
    t.push(
        row(
            "timer_t1",
            POSITIVE,
            "3-3",
            "SIP T1, ms: first retransmission interval",
        )
        .int(500),
    );
    t.push(
        row(
            "timer_t2",
            POSITIVE,
            "3-3",
            "SIP T2, ms: longest retransmission interval, above timer_t1",
        )
        .int(4000),
    );
    t.push(
        row(
            "tos_media",
            Kind::Integer {
                min: 0,
                max: 5,
                above_max: None,
            },
            "3-3",
            "IP precedence of RTP: 0 routine .. 5 critical",
        )
        .int(5),
    );
    t.push(
        row(
            "user_info",
            Kind::Choice(USER_INFO),
            "3-3",
            "user= parameter in REGISTER URIs",
        )
        .text("none"),
    );
    t.push(
        row(
            "voip_control_port",
            Kind::Integer {
                min: 1025,
                max: 65535,
                above_max: None,
            },
            "3-3",
            "UDP port for SIP",
        )
        .int(5060)
        .menu(SipConfiguration, "VoIP Control Port", Unlocked),
    );

    // --- Lines and their proxies (Tables 3-3, 3-4, 3-5).
    for n in 1..=LINES {
        let ls = LineSettings;
        t.push(
            row(
                leak(format!("line{n}_name")),
                TEXT,
                "3-4",
                "number or user used when registering",
            )
            .menu(ls, "Name", Unlocked)
            .line(n)
            .phone_specific(),
        );
        t.push(
            row(
                leak(format!("line{n}_shortname")),
                TEXT,
                "3-4",
                "what the screen shows for the line",
            )
            .menu(ls, "Short Name", Unlocked)
            .line(n)
            .phone_specific(),
        );
        t.push(
            row(
                leak(format!("line{n}_authname")),
                TEXT,
                "3-4",
                "digest user name; falls back to line 1's",
            )
            .menu(ls, "Authentication Name", Unlocked)
            .line(n)
            .phone_specific(),
        );
        t.push(
            row(
                leak(format!("line{n}_password")),
                Kind::Secret,
                "3-4",
                "digest password; falls back to line 1's",
            )
            .menu(ls, "Authentication Password", Unlocked)
            .line(n)
            .phone_specific(),
        );
        t.push(
            row(
                leak(format!("line{n}_displayname")),
                TEXT,
                "3-4",
                "caller name shown to the far end",
            )
            .menu(ls, "Display Name", Unlocked)
            .line(n)
            .phone_specific(),
        );
        t.push(
            row(
                leak(format!("proxy{n}_address")),
                Kind::Host,
                "3-3",
                if n == 1 {
                    "primary SIP proxy (required)"
                } else {
                    "proxy of this line; falls back to proxy1_address"
                },
            )
            .menu(ls, "Proxy Address", Unlocked)
            .line(n),
        );
        t.push(
            row(
                leak(format!("proxy{n}_port")),
                PORT,
                "3-3",
                "port of this line's proxy",
            )
            .int(5060)
            .menu(ls, "Proxy Port", Unlocked)
            .line(n),
        );
    }

    t.into_iter().map(|r| r.0).collect()
}

/// Table 3-9: time zone abbreviations and their offsets from GMT in minutes.
pub const TIME_ZONES: &[(&str, i32)] = &[
    ("IDL", -720),
    ("NT", -660),
    ("AHST", -600),
    ("IMT", -570),
    ("YST", -540),
    ("PST", -480),
    ("MST", -420),
    ("CST", -360),
    ("EST", -300),
    ("AST", -240),
    ("NST", -210),
    ("BST", -180),
    ("AT", -120),
    ("WAT", -60),
    ("GMT", 0),
    ("CET", 60),
    ("EET", 120),
    ("BT", 180),
    ("IT", 210),
    ("ZP4", 240),
    ("AFG", 270),
    ("ZP5", 300),
    ("IST", 330),
    ("ZP6", 360),
    ("SUM", 390),
    ("WAST", 420),
    ("HST", 480),
    ("JST", 540),
    ("CAST", 570),
    ("EAST", 600),
    ("EADT", 660),
    ("NZST", 720),
];

/// Names from Table 3-9's "time zone names" column that are not valid values, with the
/// abbreviation an administrator most likely meant. They explain lint warnings.
pub const TIME_ZONE_HINTS: &[(&str, &str)] = &[
    ("IDLW", "IDL"),
    ("HAST", "AHST"),
    ("CAT", "AHST"),
    ("PDT", "PST"),
    ("MDT", "MST"),
    ("CDT", "CST"),
    ("EDT", "EST"),
    ("ADT", "AST"),
    ("GST", "BST"),
    ("WET", "GMT"),
    ("UT", "GMT"),
    ("UTC", "GMT"),
    ("MET", "CET"),
    ("MEWT", "CET"),
    ("CEST", "EET"),
    ("MEST", "EET"),
    ("KST", "JST"),
    ("AEST", "EAST"),
    ("NZT", "NZST"),
    ("IDLE", "NZST"),
];

/// Offset in minutes of a Table 3-9 abbreviation.
pub fn time_zone_offset(abbrev: &str) -> Option<i32> {
    TIME_ZONES
        .iter()
        .find(|(a, _)| *a == abbrev)
        .map(|(_, o)| *o)
}
