//! The effective configuration and the precedence of its layers.
//!
//! Lowest first: built-in defaults, flash (the last good provisioning plus local edits),
//! SIPDefault.cnf, SIP<MAC>.cnf. Each setting remembers where its value came from so the
//! lint and the Status screen can say so. Clearing (`""`, blank, `UNPROVISIONED`) returns a
//! parameter to its built-in default (for most text parameters: unprovisioned).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cnf::ParsedCnf;
use crate::diag::Diagnostic;
use crate::mac::Mac;
use crate::table::{self, id, lookup, params, suggest, Origin, ParamDef, ParamId};
use crate::value::{check, is_clear, Preference, Value};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    Flash,
    File {
        name: String,
        line: u32,
    },
    /// Learned from the DHCP lease (address, routers, DNS, ...): shown while DHCP is on,
    /// never kept in flash.
    Dhcp,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Flash => f.write_str("flash"),
            Source::Dhcp => f.write_str("dhcp"),
            Source::File { name, line } => write!(f, "{name}:{line}"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One parameter's effective state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `None`: unprovisioned.
    pub value: Option<Value>,
    pub source: Source,
    /// A file cleared it; the value is the built-in default and is not written to flash.
    pub cleared: bool,
}

/// A key this firmware does not know (later releases add parameters): kept, reported, unused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownSetting {
    pub value: String,
    pub source: Source,
}

/// Which configuration file a [`ParsedCnf`] is, for the checks that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// SIPDefault.cnf, shared by every phone.
    Default,
    /// SIP<MAC>.cnf.
    PhoneSpecific,
}

/// The effective configuration of one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    settings: Vec<Setting>,
    unknown: BTreeMap<String, UnknownSetting>,
}

impl Config {
    /// Built-in defaults, plus the values the phone knows about itself.
    pub fn new(mac: Mac) -> Config {
        let settings = params()
            .iter()
            .map(|d| Setting {
                value: d.default.clone(),
                source: Source::Default,
                cleared: false,
            })
            .collect();
        let mut c = Config {
            settings,
            unknown: BTreeMap::new(),
        };
        c.set_runtime(id("mac_address"), Some(Value::Text(mac.to_string())));
        c.set_runtime(id("host_name"), Some(Value::Text(mac.host_name())));
        c
    }

    pub fn setting(&self, id: ParamId) -> &Setting {
        &self.settings[id.index()]
    }

    pub fn value(&self, id: ParamId) -> Option<&Value> {
        self.settings[id.index()].value.as_ref()
    }

    /// Value by name; `None` for unknown names and unprovisioned parameters.
    pub fn get(&self, name: &str) -> Option<&Value> {
        lookup(name).and_then(|i| self.value(i))
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_int)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_text)
    }

    /// A 0-3 preference (anonymous_call_block, dnd_control, ...).
    pub fn preference(&self, name: &str) -> Preference {
        Preference::from_level(self.int(name).unwrap_or(0))
    }

    pub fn unknown(&self) -> &BTreeMap<String, UnknownSetting> {
        &self.unknown
    }

    /// Values measured at run time (DHCP server, operational VLAN).
    pub fn set_runtime(&mut self, id: ParamId, value: Option<Value>) {
        self.settings[id.index()] = Setting {
            value,
            source: Source::Default,
            cleared: false,
        };
    }

    /// A value learned from the DHCP lease, for display: the caller applies these to a copy
    /// of the configuration it shows, so the static settings in flash stay as they were.
    pub fn set_learned(&mut self, id: ParamId, value: Value) {
        self.settings[id.index()] = Setting {
            value: Some(value),
            source: Source::Dhcp,
            cleared: false,
        };
    }

    /// A local edit (menu, phonectl). The caller checks the lock rules first
    /// ([`crate::edit::may_edit`]); the value has been checked with [`check`].
    /// `None` erases the setting: it returns to its default.
    pub fn set_local(&mut self, id: ParamId, value: Option<Value>) {
        let def = id.def();
        self.settings[id.index()] = match value {
            Some(v) => Setting {
                value: Some(v),
                source: Source::Flash,
                cleared: false,
            },
            None => Setting {
                value: def.default.clone(),
                source: Source::Default,
                cleared: false,
            },
        };
    }

    /// Applies what flash holds. Entries this firmware does not know or no longer accepts are
    /// skipped and reported (a downgrade must not brick the phone).
    pub fn apply_flash(&mut self, flash: &FlashConfig) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for (name, value) in &flash.values {
            let Some(pid) = lookup(name) else {
                diags.push(Diagnostic::warning(
                    FLASH,
                    0,
                    format!("{name}: unknown to this firmware; ignored"),
                ));
                continue;
            };
            let def = pid.def();
            if !def.stored_in_flash() {
                continue;
            }
            // Valid means: the rule still yields exactly the stored value (a note, such as
            // the one HST gets, is advice, not a refusal).
            let checked = check(def, &value.to_string());
            match checked.value {
                Some(v) if v == *value => {
                    self.settings[pid.index()] = Setting {
                        value: Some(v),
                        source: Source::Flash,
                        cleared: false,
                    };
                }
                _ => diags.push(Diagnostic::warning(
                    FLASH,
                    0,
                    format!("{name}: stored value \"{value}\" is not valid any more; ignored"),
                )),
            }
        }
        diags
    }

    /// Applies one parsed configuration file on top of what is there.
    pub fn apply_file(
        &mut self,
        file: &str,
        role: FileRole,
        parsed: &ParsedCnf,
    ) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let mut first_line: HashMap<&str, u32> = HashMap::new();
        let mut unknown_seen = 0usize;
        for e in &parsed.entries {
            if let Some(first) = first_line.get(e.key.as_str()) {
                diags.push(Diagnostic::warning(
                    file,
                    e.line,
                    format!(
                        "{} is set again (first on line {first}); the last value wins",
                        e.key
                    ),
                ));
            } else {
                first_line.insert(&e.key, e.line);
            }
            let source = Source::File {
                name: file.to_string(),
                line: e.line,
            };
            let Some(pid) = lookup(&e.key) else {
                // Hints cost a comparison with every name: only for the first few unknown keys.
                unknown_seen += 1;
                let hint = match (unknown_seen <= MAX_HINTS)
                    .then(|| suggest(&e.key))
                    .flatten()
                {
                    Some(s) => format!("; did you mean {s}?"),
                    None => String::new(),
                };
                diags.push(Diagnostic::warning(
                    file,
                    e.line,
                    format!(
                        "unknown parameter {} (kept, but this firmware does not use it){hint}",
                        e.key
                    ),
                ));
                self.unknown.insert(
                    e.key.clone(),
                    UnknownSetting {
                        value: e.value.clone(),
                        source,
                    },
                );
                continue;
            };
            let def = pid.def();
            match def.origin {
                Origin::PhoneOnly => {
                    diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!("{} is set on the phone (Network Configuration menu), not by configuration files; line ignored", def.name),
                    ));
                    continue;
                }
                Origin::Runtime => {
                    diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!(
                            "{} is determined by the phone itself; line ignored",
                            def.name
                        ),
                    ));
                    continue;
                }
                Origin::Provisioned | Origin::Dynamic => {}
            }
            if def.phone_specific && role == FileRole::Default && !is_clear(&e.value) {
                diags.push(Diagnostic::warning(
                    file,
                    e.line,
                    format!(
                        "{} belongs in the phone-specific file; here it applies to every phone",
                        def.name
                    ),
                ));
            }
            if is_clear(&e.value) {
                self.settings[pid.index()] = Setting {
                    value: def.default.clone(),
                    source,
                    cleared: true,
                };
                continue;
            }
            let checked = check(def, &e.value);
            match (checked.value, checked.note) {
                (Some(v), note) => {
                    if let Some(n) = note {
                        diags.push(Diagnostic::warning(
                            file,
                            e.line,
                            format!("{}: {n}", def.name),
                        ));
                    }
                    self.settings[pid.index()] = Setting {
                        value: Some(v),
                        source,
                        cleared: false,
                    };
                }
                (None, note) => {
                    let why = note.unwrap_or_else(|| "invalid value".into());
                    diags.push(Diagnostic::warning(
                        file,
                        e.line,
                        format!(
                            "{}: {why}; line ignored, {}",
                            def.name,
                            self.describe_current(pid)
                        ),
                    ));
                }
            }
        }
        diags
    }

    fn describe_current(&self, pid: ParamId) -> String {
        let s = self.setting(pid);
        match (&s.value, &s.source) {
            (Some(v), Source::Default) if !pid.def().is_secret() => {
                format!("the default {v} stays")
            }
            (Some(v), src) if !pid.def().is_secret() => format!("{v} (from {src}) stays"),
            (None, _) => "it stays unprovisioned".to_string(),
            _ => "the previous value stays".to_string(),
        }
    }

    /// Rules that involve several parameters; run once all layers are applied.
    /// `default_file` and `phone_file` name where a missing required parameter belongs.
    pub fn check_consistency(&mut self, default_file: &str, phone_file: &str) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        let t1 = id("timer_t1");
        let t2 = id("timer_t2");
        let (v1, v2) = (
            self.int("timer_t1").unwrap_or(500),
            self.int("timer_t2").unwrap_or(4000),
        );
        if v2 <= v1 {
            let (file, line) = self.locate(t2, default_file);
            if 4000 > v1 {
                diags.push(Diagnostic::warning(
                    &file,
                    line,
                    format!("timer_t2 ({v2}) must be greater than timer_t1 ({v1}); using 4000"),
                ));
                self.reset_to_default(t2);
            } else {
                diags.push(Diagnostic::warning(
                    &file,
                    line,
                    format!(
                        "timer_t2 ({v2}) must be greater than timer_t1 ({v1}); using 500 and 4000"
                    ),
                ));
                self.reset_to_default(t1);
                self.reset_to_default(t2);
            }
        }
        let (start, end) = (id("start_media_port"), id("end_media_port"));
        let (vs, ve) = (
            self.int("start_media_port").unwrap_or(16384),
            self.int("end_media_port").unwrap_or(32766),
        );
        // One call needs an even RTP port and the RTCP port after it.
        if ve < vs + 1 {
            let (file, line) = self.locate(end, default_file);
            diags.push(Diagnostic::warning(
                &file,
                line,
                format!("the media port range {vs}-{ve} holds no RTP/RTCP pair; using 16384-32766"),
            ));
            self.reset_to_default(start);
            self.reset_to_default(end);
        }
        for (day, month) in [
            ("dst_start_day", "dst_start_month"),
            ("dst_stop_day", "dst_stop_month"),
        ] {
            let d = self.int(day).unwrap_or(0);
            let m = self
                .text(month)
                .and_then(crate::value::month_number)
                .unwrap_or(1);
            let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            if d > longest {
                let (file, line) = self.locate(id(day), default_file);
                diags.push(Diagnostic::warning(
                    &file,
                    line,
                    format!(
                        "{day} {d} does not exist in {}; DST would never switch",
                        self.text(month).unwrap_or("?")
                    ),
                ));
            }
        }
        if self.value(id("image_version")).is_none() {
            diags.push(Diagnostic::warning(
                default_file,
                0,
                "image_version is required; without it the phone keeps the firmware it runs",
            ));
        }
        if self.value(id("proxy1_address")).is_none() {
            diags.push(Diagnostic::warning(
                default_file,
                0,
                "proxy1_address is required; without it no line can register or call",
            ));
        }
        if self.int("proxy_register") == Some(1)
            && self.value(table::line_param(1, "name")).is_none()
        {
            diags.push(Diagnostic::warning(
                phone_file,
                0,
                "proxy_register is 1 but line1_name is not set; nothing registers",
            ));
        }
        if self.int("nat_enable") == Some(1) && self.value(id("nat_address")).is_none() {
            let (file, line) = self.locate(id("nat_enable"), default_file);
            diags.push(Diagnostic::warning(&file, line, "nat_enable is 1 but nat_address is not set; Contact and SDP carry the phone's own address"));
        }
        diags
    }

    fn locate(&self, pid: ParamId, fallback: &str) -> (String, u32) {
        match &self.setting(pid).source {
            Source::File { name, line } => (name.clone(), *line),
            Source::Flash => (FLASH.to_string(), 0),
            Source::Default | Source::Dhcp => (fallback.to_string(), 0),
        }
    }

    fn reset_to_default(&mut self, pid: ParamId) {
        self.settings[pid.index()] = Setting {
            value: pid.def().default.clone(),
            source: Source::Default,
            cleared: false,
        };
    }

    /// What goes to flash: every flash-stored parameter that was set by a file or locally
    /// and not cleared. Dynamic and run-time values never go to flash.
    pub fn to_flash(&self) -> FlashConfig {
        let mut values = BTreeMap::new();
        for pid in table::ids() {
            let s = self.setting(pid);
            let kept = !matches!(s.source, Source::Default | Source::Dhcp);
            if pid.def().stored_in_flash() && kept && !s.cleared {
                if let Some(v) = &s.value {
                    values.insert(pid.name().to_string(), v.clone());
                }
            }
        }
        FlashConfig {
            format: FlashConfig::FORMAT,
            values,
        }
    }

    /// `{NAME: {"value": V, "source": S}}` for every parameter, in table order.
    /// Secrets are shown as `"********"` unless `reveal_secrets`.
    pub fn parameters_json(
        &self,
        reveal_secrets: bool,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for pid in table::ids() {
            let s = self.setting(pid);
            let value = match &s.value {
                Some(_) if pid.def().is_secret() && !reveal_secrets => {
                    serde_json::Value::from("********")
                }
                Some(v) => serde_json::to_value(v).expect("values serialise"),
                None => serde_json::Value::Null,
            };
            out.insert(
                pid.name().to_string(),
                serde_json::json!({"value": value, "source": s.source.to_string()}),
            );
        }
        out
    }

    /// Iterates `(definition, setting)` in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static ParamDef, &Setting)> {
        params().iter().zip(self.settings.iter())
    }
}

/// Unknown keys per file that get a "did you mean" hint.
const MAX_HINTS: usize = 32;

/// The name diagnostics use for the flash store.
pub const FLASH: &str = "flash";

/// The flash copy of the configuration, as stored (JSON, one object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashConfig {
    pub format: u32,
    pub values: BTreeMap<String, Value>,
}

impl FlashConfig {
    pub const FORMAT: u32 = 1;

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("flash config serialises");
        v.push(b'\n');
        v
    }

    pub fn from_bytes(data: &[u8]) -> Result<FlashConfig, String> {
        let f: FlashConfig = serde_json::from_slice(data)
            .map_err(|e| format!("unreadable configuration in flash: {e}"))?;
        if f.format != Self::FORMAT {
            return Err(format!(
                "configuration in flash has format {}, this firmware reads {}",
                f.format,
                Self::FORMAT
            ));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnf::parse;
    use crate::diag::Severity;

    fn mac() -> Mac {
        "00503EFFD842".parse().unwrap()
    }

    fn apply(c: &mut Config, file: &str, role: FileRole, text: &str) -> Vec<Diagnostic> {
        let p = parse(file, text.as_bytes());
        let mut d = p.diagnostics.clone();
        d.extend(c.apply_file(file, role, &p));
        d
    }

    #[test]
    fn defaults_of_the_guide() {
        let c = Config::new(mac());
        for (name, v) in [
            ("timer_t1", 500),
            ("timer_t2", 4000),
            ("sip_retx", 10),
            ("sip_invite_retx", 6),
            ("timer_invite_expires", 180),
            ("timer_register_expires", 3600),
            ("voip_control_port", 5060),
            ("start_media_port", 16384),
            ("end_media_port", 32766),
            ("dtmf_avt_payload", 101),
            ("dtmf_db_level", 3),
            ("dtmf_inband", 1),
            ("tos_media", 5),
            ("call_waiting", 1),
            ("time_format_24hr", 1),
            ("autocomplete", 1),
            ("cnf_join_enable", 1),
            ("semi_attended_transfer", 1),
            ("proxy_register", 0),
            ("telnet_level", 0),
            ("http_proxy_port", 80),
            ("proxy1_port", 5060),
            ("proxy6_port", 5060),
            ("dhcp_enabled", 1),
        ] {
            assert_eq!(c.int(name), Some(v), "{name}");
        }
        assert_eq!(c.text("phone_password"), Some("cisco"));
        assert_eq!(c.text("phone_prompt"), Some("SIP Phone"));
        assert_eq!(c.text("dtmf_outofband"), Some("avt"));
        assert_eq!(c.text("preferred_codec"), Some("g711ulaw"));
        assert_eq!(c.text("date_format"), Some("M/D/Y"));
        assert_eq!(c.text("network_media_type"), Some("Auto"));
        assert_eq!(c.text("host_name"), Some("SIP00503EFFD842"));
        assert_eq!(c.get("line1_name"), None);
    }

    #[test]
    fn phone_specific_beats_default_beats_flash_beats_builtin() {
        let mut c = Config::new(mac());
        let mut flash = FlashConfig::default();
        flash.values.insert("timer_t1".into(), Value::Int(600));
        flash.values.insert("sip_retx".into(), Value::Int(7));
        flash.values.insert("sip_invite_retx".into(), Value::Int(3));
        assert!(c.apply_flash(&flash).is_empty());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "sip_retx: 8\nsip_invite_retx: 4\n",
        );
        apply(
            &mut c,
            "SIP00503EFFD842.cnf",
            FileRole::PhoneSpecific,
            "sip_invite_retx: 5\n",
        );
        assert_eq!(c.int("timer_t1"), Some(600));
        assert_eq!(c.setting(id("timer_t1")).source, Source::Flash);
        assert_eq!(c.int("sip_retx"), Some(8));
        assert_eq!(
            c.setting(id("sip_retx")).source.to_string(),
            "SIPDefault.cnf:1"
        );
        assert_eq!(c.int("sip_invite_retx"), Some(5));
        assert_eq!(
            c.setting(id("sip_invite_retx")).source.to_string(),
            "SIP00503EFFD842.cnf:1"
        );
        assert_eq!(c.setting(id("timer_t2")).source, Source::Default);
    }

    #[test]
    fn clearing_returns_to_default_and_leaves_flash() {
        let mut c = Config::new(mac());
        let mut flash = FlashConfig::default();
        flash
            .values
            .insert("proxy2_address".into(), Value::Text("10.0.0.2".into()));
        flash.values.insert("proxy2_port".into(), Value::Int(5070));
        c.apply_flash(&flash);
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "proxy2_address: \"\"\nproxy2_port: UNPROVISIONED\n",
        );
        assert_eq!(c.get("proxy2_address"), None);
        assert_eq!(c.int("proxy2_port"), Some(5060));
        assert!(c.setting(id("proxy2_port")).cleared);
        let f = c.to_flash();
        assert!(!f.values.contains_key("proxy2_address"));
        assert!(!f.values.contains_key("proxy2_port"));
    }

    #[test]
    fn a_removed_line_keeps_the_value_from_flash() {
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "messages_uri: 9195551000\n",
        );
        let flash = c.to_flash();
        let mut next_boot = Config::new(mac());
        next_boot.apply_flash(&FlashConfig::from_bytes(&flash.to_bytes()).unwrap());
        apply(
            &mut next_boot,
            "SIPDefault.cnf",
            FileRole::Default,
            "# the line is gone\n",
        );
        assert_eq!(next_boot.text("messages_uri"), Some("9195551000"));
        assert_eq!(next_boot.setting(id("messages_uri")).source, Source::Flash);
    }

    #[test]
    fn unknown_keys_are_kept_and_warned_with_a_suggestion() {
        let mut c = Config::new(mac());
        let d = apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "dst_stop_autoadjust : 1\nfuture_feature: on\n",
        );
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|d| d.severity == Severity::Warning));
        assert!(d[0].message.contains("dst_auto_adjust"), "{}", d[0].message);
        assert_eq!(c.unknown()["future_feature"].value, "on");
        assert_eq!(
            c.unknown()["future_feature"].source.to_string(),
            "SIPDefault.cnf:2"
        );
    }

    #[test]
    fn repeated_keys_last_wins_with_warning() {
        let mut c = Config::new(mac());
        let d = apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "tos_media: 3\ntos_media: 4\n",
        );
        assert_eq!(c.int("tos_media"), Some(4));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, 2);
        assert!(d[0].message.contains("line 1"));
    }

    #[test]
    fn invalid_value_keeps_the_lower_layer_and_names_it() {
        let mut c = Config::new(mac());
        let d = apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "voip_control_port: 80\n",
        );
        assert_eq!(c.int("voip_control_port"), Some(5060));
        assert!(d[0].message.contains("1025 to 65535"), "{}", d[0].message);
        assert!(d[0].message.contains("default 5060"), "{}", d[0].message);
    }

    #[test]
    fn network_settings_cannot_come_from_files() {
        let mut c = Config::new(mac());
        let d = apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "dhcp_enabled: 0\nhost_name: x\n",
        );
        assert_eq!(c.int("dhcp_enabled"), Some(1));
        assert_eq!(c.text("host_name"), Some("SIP00503EFFD842"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn phone_specific_parameters_in_the_default_file_are_flagged() {
        let mut c = Config::new(mac());
        let d = apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "line1_name: 43\n",
        );
        assert_eq!(c.text("line1_name"), Some("43"));
        assert_eq!(d.len(), 1);
        let d = apply(
            &mut c,
            "SIP00503EFFD842.cnf",
            FileRole::PhoneSpecific,
            "line1_name: 44\n",
        );
        assert!(d.is_empty());
    }

    #[test]
    fn timer_t2_must_exceed_timer_t1() {
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "timer_t1: 1000\ntimer_t2: 900\n",
        );
        let d = c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        assert_eq!(
            (c.int("timer_t1"), c.int("timer_t2")),
            (Some(1000), Some(4000))
        );
        assert!(d
            .iter()
            .any(|d| d.line == 2 && d.message.contains("timer_t2")));
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "timer_t1: 5000\ntimer_t2: 4500\n",
        );
        c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        assert_eq!(
            (c.int("timer_t1"), c.int("timer_t2")),
            (Some(500), Some(4000))
        );
    }

    #[test]
    fn media_port_range_must_hold_a_pair() {
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "start_media_port: 30000\nend_media_port: 20000\n",
        );
        let d = c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        assert_eq!(
            (c.int("start_media_port"), c.int("end_media_port")),
            (Some(16384), Some(32766))
        );
        assert!(d.iter().any(|d| d.message.contains("media port range")));
    }

    #[test]
    fn local_edits_and_erase() {
        let mut c = Config::new(mac());
        c.set_local(id("phone_label"), Some(Value::Text("Desk".into())));
        assert_eq!(c.setting(id("phone_label")).source, Source::Flash);
        assert_eq!(
            c.to_flash().values["phone_label"],
            Value::Text("Desk".into())
        );
        c.set_local(id("phone_label"), None);
        assert_eq!(c.get("phone_label"), None);
        assert!(!c.to_flash().values.contains_key("phone_label"));
    }

    #[test]
    fn dynamic_values_never_reach_flash() {
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "dyn_tftp_addr: 10.0.0.9\ndyn_dns_addr_1: 10.0.0.53\n",
        );
        assert_eq!(c.text("dyn_tftp_addr"), Some("10.0.0.9"));
        assert!(c.to_flash().values.is_empty());
    }

    #[test]
    fn values_accepted_with_advice_survive_flash() {
        // Found by the fuzzer: HST is accepted with a note and must come back from flash.
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIPDefault.cnf",
            FileRole::Default,
            "time_zone: HST\npreferred_codec: g729\n",
        );
        let mut again = Config::new(mac());
        assert!(again.apply_flash(&c.to_flash()).is_empty());
        assert_eq!(again.text("time_zone"), Some("HST"));
        assert_eq!(again.text("preferred_codec"), Some("g729a"));
    }

    #[test]
    fn flash_with_stale_entries_is_tolerated() {
        let raw =
            br#"{"format": 1, "values": {"timer_t1": 700, "removed_param": 1, "tos_media": 9}}"#;
        let f = FlashConfig::from_bytes(raw).unwrap();
        let mut c = Config::new(mac());
        let d = c.apply_flash(&f);
        assert_eq!(c.int("timer_t1"), Some(700));
        assert_eq!(c.int("tos_media"), Some(5));
        assert_eq!(d.len(), 2);
        assert!(FlashConfig::from_bytes(b"{").is_err());
        assert!(FlashConfig::from_bytes(br#"{"format": 9, "values": {}}"#).is_err());
    }

    #[test]
    fn every_parameter_appears_in_json_with_secrets_masked() {
        let mut c = Config::new(mac());
        apply(
            &mut c,
            "SIP00503EFFD842.cnf",
            FileRole::PhoneSpecific,
            "line1_password: s3cret\n",
        );
        let j = c.parameters_json(false);
        assert_eq!(j.len(), params().len());
        assert_eq!(j["line1_password"]["value"], "********");
        assert_eq!(c.parameters_json(true)["line1_password"]["value"], "s3cret");
        assert_eq!(j["timer_t1"]["value"], 500);
        assert_eq!(j["timer_t1"]["source"], "default");
        assert_eq!(j["line1_password"]["source"], "SIP00503EFFD842.cnf:1");
        assert!(j["line2_name"]["value"].is_null());
    }
}
