//! Typed values and the per-kind rules that turn file text into them.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::table::{time_zone_offset, ChoiceDef, Kind, Overflow, ParamDef, TIME_ZONE_HINTS};

/// An effective value. Enumerations, months, weekdays, times and offsets are text in the
/// guide's spelling; numbers are integers. "Unprovisioned" is the absence of a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Text(String),
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Text(_) => None,
        }
    }
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Int(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}

/// The outcome of checking one value against its parameter's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The value to use; `None` when the text is unusable and the line must be ignored.
    pub value: Option<Value>,
    /// What a person should know: why the line is ignored, or what was adjusted.
    pub note: Option<String>,
}

impl Checked {
    fn ok(v: Value) -> Self {
        Checked {
            value: Some(v),
            note: None,
        }
    }
    fn adjusted(v: Value, note: String) -> Self {
        Checked {
            value: Some(v),
            note: Some(note),
        }
    }
    fn invalid(note: String) -> Self {
        Checked {
            value: None,
            note: Some(note),
        }
    }
}

/// Whether file text means "clear this parameter": empty, blank, or `UNPROVISIONED`.
pub fn is_clear(text: &str) -> bool {
    let t = text.trim();
    t.is_empty() || t.eq_ignore_ascii_case("UNPROVISIONED")
}

/// Checks `raw` (already unquoted and trimmed) against the parameter's rule.
pub fn check(def: &ParamDef, raw: &str) -> Checked {
    let raw = raw.trim();
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Checked::invalid("contains control characters".to_string());
    }
    match def.kind {
        Kind::Flag => check_flag(raw),
        Kind::Preference => check_int(raw, 0, 3, None, "0 to 3"),
        Kind::Integer { min, max, above_max } => {
            check_int(raw, min, max, above_max, &format!("{min} to {max}"))
        }
        Kind::Choice(choices) => check_choice(raw, choices),
        Kind::Text { max_chars, overflow } => check_text(raw, max_chars, overflow),
        Kind::Secret => Checked::ok(Value::Text(raw.to_string())),
        Kind::Ipv4 => match parse_ipv4(raw) {
            Some(ip) => Checked::ok(Value::Text(ip.to_string())),
            None => Checked::invalid(format!("\"{raw}\" is not a dotted IPv4 address")),
        },
        Kind::Host => {
            if parse_ipv4(raw).is_some() || is_dns_name(raw) {
                Checked::ok(Value::Text(raw.to_string()))
            } else {
                Checked::invalid(format!(
                    "\"{raw}\" is neither a dotted IPv4 address nor a DNS name"
                ))
            }
        }
        Kind::Url => check_url(raw),
        Kind::TimeZone => check_time_zone(raw),
        Kind::Month => match month_number(raw) {
            Some(m) => Checked::ok(Value::Text(MONTHS[m as usize - 1].to_string())),
            None => Checked::invalid(format!(
                "\"{raw}\" is not a month (January..December, Jan..Dec or 1..12)"
            )),
        },
        Kind::Weekday => match weekday_number(raw) {
            Some(d) => Checked::ok(Value::Text(WEEKDAYS[d as usize - 1].to_string())),
            None => Checked::invalid(format!(
                "\"{raw}\" is not a day of the week (Sunday..Saturday, Sun..Sat or 1..7 with 1 = Sunday)"
            )),
        },
        Kind::WeekOfMonth => match raw.parse::<i64>() {
            Ok(w @ (1..=6 | 8)) => Checked::ok(Value::Int(w)),
            _ => Checked::invalid(format!(
                "\"{raw}\" is not a week of the month (1 to 6, or 8 for the last week)"
            )),
        },
        Kind::DayOfMonth => check_int(raw, 0, 31, None, "0 (relative rule) to 31"),
        Kind::ClockTime => match parse_clock_time(raw) {
            Some((h, m)) => Checked::ok(Value::Text(format!("{h:02}/{m:02}"))),
            None => Checked::invalid(format!(
                "\"{raw}\" is not a time of day (hour/minute as 02/00, 02:00, or the hour alone)"
            )),
        },
        Kind::DstOffset => match parse_offset_minutes(raw) {
            Some(total) => Checked::ok(Value::Text(format_offset(total))),
            None => Checked::invalid(format!(
                "\"{raw}\" is not a DST offset (hour/minute as 01/00 or -01/00, or hours as 1, +1, -1)"
            )),
        },
        Kind::TftpDir => check_tftp_dir(raw),
    }
}

fn check_flag(raw: &str) -> Checked {
    match raw {
        "0" => Checked::ok(Value::Int(0)),
        "1" => Checked::ok(Value::Int(1)),
        _ => {
            let word = raw.to_ascii_lowercase();
            let v = match word.as_str() {
                "yes" | "true" | "on" | "enable" | "enabled" => 1,
                "no" | "false" | "off" | "disable" | "disabled" => 0,
                _ => return Checked::invalid(format!("\"{raw}\" is not 0 or 1")),
            };
            Checked::adjusted(
                Value::Int(v),
                format!("\"{raw}\" read as {v}; write 0 or 1, other phones may read it as 0"),
            )
        }
    }
}

fn check_int(raw: &str, min: i64, max: i64, above_max: Option<i64>, range: &str) -> Checked {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let n = match digits.parse::<i64>() {
        Ok(n) if !digits.starts_with('+') => n,
        _ => return Checked::invalid(format!("\"{raw}\" is not a whole number ({range})")),
    };
    if n > max {
        if let Some(fallback) = above_max {
            return Checked::adjusted(
                Value::Int(fallback),
                format!("{n} is above {max}; the phone uses {fallback}"),
            );
        }
    }
    if n < min || n > max {
        return Checked::invalid(format!("{n} is out of range ({range})"));
    }
    Checked::ok(Value::Int(n))
}

/// Folds a choice for comparison: case, `-`, `_` and blanks do not matter.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn check_choice(raw: &str, choices: &[ChoiceDef]) -> Checked {
    let f = fold(raw);
    for c in choices {
        if fold(c.canonical) == f {
            return Checked::ok(Value::Text(c.canonical.to_string()));
        }
        if c.aliases.iter().any(|a| fold(a) == f) {
            return Checked::adjusted(
                Value::Text(c.canonical.to_string()),
                format!("\"{raw}\" read as \"{}\"", c.canonical),
            );
        }
    }
    let valid: Vec<&str> = choices.iter().map(|c| c.canonical).collect();
    Checked::invalid(format!("\"{raw}\" is not one of {}", valid.join(", ")))
}

fn check_text(raw: &str, max_chars: Option<usize>, overflow: Overflow) -> Checked {
    match max_chars {
        Some(max) if raw.chars().count() > max => match overflow {
            Overflow::Truncate => {
                let cut: String = raw
                    .chars()
                    .take(max)
                    .collect::<String>()
                    .trim_end()
                    .to_string();
                Checked::adjusted(
                    Value::Text(cut.clone()),
                    format!("longer than {max} characters; the phone shows \"{cut}\""),
                )
            }
            Overflow::Reject => Checked::invalid(format!(
                "longer than {max} characters ({})",
                raw.chars().count()
            )),
        },
        _ => Checked::ok(Value::Text(raw.to_string())),
    }
}

fn check_url(raw: &str) -> Checked {
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !raw.contains(char::is_whitespace) => {
            Checked::ok(Value::Text(raw.to_string()))
        }
        _ => Checked::invalid(format!("\"{raw}\" is not an http:// or https:// URL")),
    }
}

fn check_time_zone(raw: &str) -> Checked {
    if time_zone_offset(raw).is_some() {
        if raw == "HST" {
            // Table 3-9 lists HST at GMT+08:00 (Hong Kong) although Hawaii is also called HST.
            return Checked::adjusted(
                Value::Text(raw.to_string()),
                "HST is GMT+08:00 (Hong Kong) in the guide's table; Hawaii is AHST".to_string(),
            );
        }
        return Checked::ok(Value::Text(raw.to_string()));
    }
    let upper = raw.to_ascii_uppercase();
    if time_zone_offset(&upper).is_some() {
        return Checked::invalid(format!(
            "time zone abbreviations are case sensitive: write \"{upper}\""
        ));
    }
    if let Some((_, meant)) = TIME_ZONE_HINTS.iter().find(|(n, _)| *n == upper) {
        return Checked::invalid(format!(
            "\"{raw}\" is not an abbreviation of Table 3-9; \"{meant}\" has that offset (use dst_* for summer time)"
        ));
    }
    Checked::invalid(format!(
        "\"{raw}\" is not a time zone abbreviation of Table 3-9"
    ))
}

fn check_tftp_dir(raw: &str) -> Checked {
    let unified = raw.replace('\\', "/");
    let mut parts = Vec::new();
    for p in unified.split('/') {
        match p {
            p if p.trim().is_empty() || p == "." => {}
            ".." => {
                return Checked::invalid(format!(
                    "\"{raw}\" leaves the TFTP root (..); use a path below it"
                ))
            }
            p if p.trim() != p => {
                return Checked::invalid(format!(
                    "\"{raw}\": a directory name starts or ends with a blank"
                ))
            }
            p => parts.push(p),
        }
    }
    let dir = if parts.is_empty() {
        "./".to_string()
    } else {
        format!("{}/", parts.join("/"))
    };
    if unified != raw {
        return Checked::adjusted(
            Value::Text(dir),
            format!("\"{raw}\": backslashes read as '/'"),
        );
    }
    Checked::ok(Value::Text(dir))
}

/// Joins a `tftp_cfg_dir` value and a file name into the path the phone requests.
pub fn tftp_path(dir: Option<&str>, file: &str) -> String {
    match dir {
        None | Some("./") | Some("") => file.to_string(),
        Some(d) => format!("{d}{file}"),
    }
}

/// Strict dotted-quad IPv4 (no leading zeros tricks, no short forms).
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
pub fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        // All-numeric names are typos of addresses ("10.0.0"), not host names.
        && !s.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit()))
}

pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// 1..=12 from a month name, its three-letter form or its number.
pub fn month_number(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (1..=12).contains(&n).then_some(n);
    }
    name_index(s, &MONTHS).map(|i| i as u8 + 1)
}

/// 1..=7 (1 = Sunday) from a day name, its three-letter form or its number.
pub fn weekday_number(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (1..=7).contains(&n).then_some(n);
    }
    name_index(s, &WEEKDAYS).map(|i| i as u8 + 1)
}

fn name_index(s: &str, names: &[&str]) -> Option<usize> {
    let l = s.to_ascii_lowercase();
    names.iter().position(|n| {
        let n = n.to_ascii_lowercase();
        l == n || (l.len() == 3 && n.starts_with(&l))
    })
}

/// `02/00`, `02:00`, `2` -> (hour, minute).
pub fn parse_clock_time(s: &str) -> Option<(u8, u8)> {
    let (h, m) = match s.split_once(['/', ':']) {
        Some((h, m)) => (h, m),
        None => (s, "0"),
    };
    let h: u8 = small_number(h)?;
    let m: u8 = small_number(m)?;
    (h < 24 && m < 60).then_some((h, m))
}

/// `01/00`, `-01/00`, `+1`, `1`, `01:30` -> signed minutes.
pub fn parse_offset_minutes(s: &str) -> Option<i32> {
    let s = s.replace('\u{2013}', "-"); // the guide's own text uses an en dash for minus
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r.to_string()),
        None => (1, s.strip_prefix('+').unwrap_or(&s).to_string()),
    };
    let (h, m) = match rest.split_once(['/', ':']) {
        Some((h, m)) => (h.to_string(), m.to_string()),
        None => (rest.clone(), "0".to_string()),
    };
    let h: u8 = small_number(&h)?;
    let m: u8 = small_number(&m)?;
    (h <= 12 && m < 60).then_some(sign * (h as i32 * 60 + m as i32))
}

pub fn format_offset(total: i32) -> String {
    let sign = if total < 0 { "-" } else { "" };
    let a = total.abs();
    format!("{sign}{:02}/{:02}", a / 60, a % 60)
}

fn small_number(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The 0-3 preference scale of anonymous_call_block, callerid_blocking, call_hold_ringback,
/// call_waiting, dnd_control and time_format_24hr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preference {
    /// The setting is in effect.
    pub on: bool,
    /// The user may toggle it on the Call Preferences / Time and Date menus.
    pub user_may_change: bool,
}

impl Preference {
    pub fn from_level(level: i64) -> Preference {
        Preference {
            on: level == 1 || level == 3,
            user_may_change: level == 0 || level == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{id, lookup};

    fn chk(name: &str, raw: &str) -> Checked {
        check(lookup(name).unwrap().def(), raw)
    }

    #[test]
    fn dtmf_avt_payload_above_127_falls_back_to_101() {
        let c = chk("dtmf_avt_payload", "130");
        assert_eq!(c.value, Some(Value::Int(101)));
        assert!(c.note.unwrap().contains("101"));
        assert_eq!(chk("dtmf_avt_payload", "127").value, Some(Value::Int(127)));
        assert_eq!(chk("dtmf_avt_payload", "96").value, Some(Value::Int(96)));
        assert_eq!(chk("dtmf_avt_payload", "95").value, None);
    }

    #[test]
    fn media_ports_and_control_port_ranges() {
        assert_eq!(
            chk("start_media_port", "16384").value,
            Some(Value::Int(16384))
        );
        assert_eq!(chk("start_media_port", "16383").value, None);
        assert_eq!(
            chk("end_media_port", "32766").value,
            Some(Value::Int(32766))
        );
        assert_eq!(chk("end_media_port", "32767").value, None);
        assert_eq!(chk("voip_control_port", "1024").value, None);
        assert_eq!(
            chk("voip_control_port", "1025").value,
            Some(Value::Int(1025))
        );
        assert_eq!(
            chk("voip_control_port", "65535").value,
            Some(Value::Int(65535))
        );
        assert_eq!(chk("voip_control_port", "65536").value, None);
        assert_eq!(chk("voip_control_port", "50x").value, None);
    }

    #[test]
    fn phone_label_is_cut_to_eleven_characters_and_sync_to_32_refused() {
        let c = chk("phone_label", "John Doe's phone");
        assert_eq!(c.value, Some(Value::Text("John Doe's".into())));
        assert!(c.note.is_some());
        assert_eq!(
            chk("phone_label", "jdoe4X").value,
            Some(Value::Text("jdoe4X".into()))
        );
        assert!(chk("sync", &"x".repeat(32)).value.is_some());
        assert!(chk("sync", &"x".repeat(33)).value.is_none());
    }

    #[test]
    fn preference_scale() {
        for (lvl, on, may) in [
            (0, false, true),
            (1, true, true),
            (2, false, false),
            (3, true, false),
        ] {
            assert_eq!(
                chk("dnd_control", &lvl.to_string()).value,
                Some(Value::Int(lvl))
            );
            assert_eq!(
                Preference::from_level(lvl),
                Preference {
                    on,
                    user_may_change: may
                }
            );
        }
        assert_eq!(chk("call_waiting", "4").value, None);
    }

    #[test]
    fn choices_fold_case_and_accept_the_menu_spelling() {
        assert_eq!(
            chk("network_media_type", "auto").value,
            Some(Value::Text("Auto".into()))
        );
        assert_eq!(
            chk("network_media_type", "Full-100").value,
            Some(Value::Text("Full100".into()))
        );
        assert_eq!(
            chk("network_media_type", "half10").value,
            Some(Value::Text("Half10".into()))
        );
        assert_eq!(
            chk("dtmf_outofband", "AVT_ALWAYS").value,
            Some(Value::Text("avt_always".into()))
        );
        let g729 = chk("preferred_codec", "g729");
        assert_eq!(g729.value, Some(Value::Text("g729a".into())));
        assert!(g729.note.is_some());
        assert_eq!(
            chk("date_format", "Y-M-D").value,
            Some(Value::Text("Y-M-D".into()))
        );
        assert_eq!(
            chk("date_format", "YY-M-D").value,
            Some(Value::Text("YY-M-D".into()))
        );
        assert_eq!(
            chk("date_format", "Y/M/D").value,
            Some(Value::Text("Y/M/D".into()))
        );
        assert_eq!(
            chk("network_port2_type", "pc").value,
            Some(Value::Text("PC".into()))
        );
        assert!(chk("user_info", "sometimes").value.is_none());
    }

    #[test]
    fn flags_accept_words_with_a_note() {
        assert_eq!(chk("enable_vad", "1").note, None);
        let c = chk("enable_vad", "yes");
        assert_eq!(c.value, Some(Value::Int(1)));
        assert!(c.note.is_some());
        assert!(chk("enable_vad", "2").value.is_none());
    }

    #[test]
    fn addresses() {
        assert!(chk("dyn_tftp_addr", "10.1.2.3").value.is_some());
        assert!(chk("dyn_tftp_addr", "tftp.example.com").value.is_none());
        assert!(chk("proxy1_address", "proxy.company.com").value.is_some());
        assert!(chk("proxy1_address", "1.2.3.4").value.is_some());
        assert!(chk("proxy1_address", "1.2.3").value.is_none());
        assert!(chk("proxy1_address", "bad host!").value.is_none());
        assert!(chk("logo_url", "http://www.company.com/phone/logo.bmp")
            .value
            .is_some());
        assert!(chk("logo_url", "www.company.com/logo.bmp").value.is_none());
    }

    #[test]
    fn time_zones_are_upper_case_abbreviations_of_table_3_9() {
        assert_eq!(
            chk("time_zone", "EST").value,
            Some(Value::Text("EST".into()))
        );
        assert_eq!(
            chk("time_zone", "NST").value,
            Some(Value::Text("NST".into()))
        );
        let lower = chk("time_zone", "est");
        assert!(lower.value.is_none());
        assert!(lower.note.unwrap().contains("EST"));
        let pdt = chk("time_zone", "PDT");
        assert!(pdt.value.is_none() && pdt.note.unwrap().contains("PST"));
        assert!(chk("time_zone", "HST").note.unwrap().contains("AHST"));
        // Table 3-9 has 32 rows, from IDL (GMT-12:00) to NZST (GMT+12:00).
        assert_eq!(crate::table::TIME_ZONES.len(), 32);
    }

    #[test]
    fn dst_fields() {
        assert_eq!(
            chk("dst_start_month", "april").value,
            Some(Value::Text("April".into()))
        );
        assert_eq!(
            chk("dst_stop_month", "Oct").value,
            Some(Value::Text("October".into()))
        );
        assert_eq!(
            chk("dst_stop_month", "10").value,
            Some(Value::Text("October".into()))
        );
        assert!(chk("dst_stop_month", "13").value.is_none());
        assert_eq!(
            chk("dst_start_day_of_week", "Sun").value,
            Some(Value::Text("Sunday".into()))
        );
        assert_eq!(
            chk("dst_start_day_of_week", "7").value,
            Some(Value::Text("Saturday".into()))
        );
        assert_eq!(
            chk("dst_start_day_of_week", "SATURDAY").value,
            Some(Value::Text("Saturday".into()))
        );
        assert!(chk("dst_start_day_of_week", "Sundays").value.is_none());
        assert_eq!(
            chk("dst_stop_week_of_month", "8").value,
            Some(Value::Int(8))
        );
        assert!(chk("dst_stop_week_of_month", "7").value.is_none());
        assert_eq!(chk("dst_start_day", "0").value, Some(Value::Int(0)));
        assert!(chk("dst_start_day", "32").value.is_none());
        for t in ["02/00", "02:00", "02", "2"] {
            assert_eq!(
                chk("dst_start_time", t).value,
                Some(Value::Text("02/00".into())),
                "{t}"
            );
        }
        assert_eq!(
            chk("dst_stop_time", "14:30").value,
            Some(Value::Text("14/30".into()))
        );
        assert!(chk("dst_stop_time", "24").value.is_none());
        for (raw, want) in [
            ("1", "01/00"),
            ("+1", "01/00"),
            ("-1", "-01/00"),
            ("01/00", "01/00"),
            ("-00/30", "-00/30"),
            ("\u{2013}1", "-01/00"),
            ("01:30", "01/30"),
        ] {
            assert_eq!(
                chk("dst_offset", raw).value,
                Some(Value::Text(want.into())),
                "{raw}"
            );
        }
        assert!(chk("dst_offset", "1h").value.is_none());
    }

    #[test]
    fn tftp_directory_is_normalised() {
        assert_eq!(
            chk("tftp_cfg_dir", "./").value,
            Some(Value::Text("./".into()))
        );
        assert_eq!(
            chk("tftp_cfg_dir", "/phones").value,
            Some(Value::Text("phones/".into()))
        );
        assert_eq!(
            chk("tftp_cfg_dir", "./a/b/").value,
            Some(Value::Text("a/b/".into()))
        );
        assert!(chk("tftp_cfg_dir", "a\\b").note.is_some());
        assert!(chk("tftp_cfg_dir", "../etc").value.is_none());
        assert_eq!(tftp_path(Some("phones/"), "SIPX.cnf"), "phones/SIPX.cnf");
        assert_eq!(tftp_path(Some("./"), "SIPX.cnf"), "SIPX.cnf");
        assert_eq!(tftp_path(None, "SIPX.cnf"), "SIPX.cnf");
    }

    #[test]
    fn clearing_words() {
        assert!(is_clear(""));
        assert!(is_clear("  "));
        assert!(is_clear("UNPROVISIONED"));
        assert!(is_clear("unprovisioned"));
        assert!(!is_clear("0"));
        let _ = id("timer_t1");
    }
}
