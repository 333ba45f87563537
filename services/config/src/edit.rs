//! The rules for changing settings on the phone itself (menus, `phonectl set`).

use crate::config::Config;
use crate::table::{Edit, Origin, ParamId};
use crate::value::{check, Value};

/// Why a local edit is refused; the text is what the phone shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0} is set by the configuration files only")]
    FilesOnly(&'static str),
    #[error("{0} cannot be changed")]
    ReadOnly(&'static str),
    #[error("the configuration is locked: unlock it with the phone password first")]
    Locked,
    #[error("{0} can be changed only while DHCP is disabled")]
    DhcpEnabled(&'static str),
    #[error("the TFTP server can be changed only while DHCP is disabled or Alternate TFTP is on")]
    TftpFromDhcp,
    #[error("{0} is fixed by the administrator")]
    Fixed(&'static str),
    #[error("{0}: {1}")]
    BadValue(&'static str, String),
}

/// Whether a person at the phone may change `id` now. `unlocked`: Unlock Config was done
/// with the right `phone_password` in this Settings session.
pub fn may_edit(config: &Config, id: ParamId, unlocked: bool) -> Result<(), Refusal> {
    let def = id.def();
    let dhcp_on = config.int("dhcp_enabled") != Some(0);
    match def.edit {
        Edit::FilesOnly => Err(Refusal::FilesOnly(def.name)),
        Edit::ReadOnly => Err(Refusal::ReadOnly(def.name)),
        Edit::Unlocked if !unlocked => Err(Refusal::Locked),
        Edit::UnlockedDhcpOff if !unlocked => Err(Refusal::Locked),
        Edit::UnlockedDhcpOff if dhcp_on => Err(Refusal::DhcpEnabled(def.name)),
        Edit::UnlockedTftpServer if !unlocked => Err(Refusal::Locked),
        Edit::UnlockedTftpServer if dhcp_on && config.int("alternate_tftp") != Some(1) => {
            Err(Refusal::TftpFromDhcp)
        }
        Edit::Preference if config.value(id).and_then(Value::as_int).unwrap_or(0) > 1 => {
            Err(Refusal::Fixed(def.name))
        }
        _ => Ok(()),
    }
}

/// Checks and applies a local edit; `None` (or empty text) erases the setting back to its
/// default. Returns the value now in effect.
pub fn edit(
    config: &mut Config,
    id: ParamId,
    text: Option<&str>,
    unlocked: bool,
) -> Result<Option<Value>, Refusal> {
    may_edit(config, id, unlocked)?;
    let def = id.def();
    let value = match text.map(str::trim).filter(|t| !crate::value::is_clear(t)) {
        None => None,
        Some(t) => {
            let checked = check(def, t);
            match checked.value {
                // A local edit must be exactly right: no silent fallback on the keypad.
                Some(v) if checked.note.is_none() => Some(v),
                _ => {
                    return Err(Refusal::BadValue(
                        def.name,
                        checked.note.unwrap_or_default(),
                    ))
                }
            }
        }
    };
    if def.edit == Edit::Preference {
        if let Some(Value::Int(n)) = &value {
            if *n > 1 {
                return Err(Refusal::BadValue(
                    def.name,
                    "only 0 (off) or 1 (on) can be chosen on the phone".into(),
                ));
            }
        }
    }
    config.set_local(id, value);
    Ok(config.value(id).cloned())
}

/// "Erase Configuration" of the Network Configuration menu: every network setting back to
/// its default, which re-enables DHCP.
pub fn erase_network(config: &mut Config) {
    for pid in crate::table::ids().filter(|p| p.def().origin == Origin::PhoneOnly) {
        config.set_local(pid, None);
    }
}

/// `erase_protflash`: every provisioned SIP setting back to its default so that the next
/// boot takes everything from the TFTP server.
pub fn erase_sip(config: &mut Config) {
    for pid in crate::table::ids().filter(|p| p.def().origin == Origin::Provisioned) {
        config.set_local(pid, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::id;

    fn cfg() -> Config {
        Config::new("00503EFFD842".parse().unwrap())
    }

    #[test]
    fn sip_and_network_settings_need_unlocking() {
        let mut c = cfg();
        assert_eq!(
            edit(&mut c, id("phone_label"), Some("Lobby"), false),
            Err(Refusal::Locked)
        );
        assert_eq!(
            edit(&mut c, id("phone_label"), Some("Lobby"), true),
            Ok(Some(Value::Text("Lobby".into())))
        );
        assert_eq!(
            edit(&mut c, id("domain_name"), Some("example.com"), false),
            Err(Refusal::Locked)
        );
    }

    #[test]
    fn static_addressing_needs_dhcp_off() {
        let mut c = cfg();
        assert!(matches!(
            edit(&mut c, id("ip_address"), Some("10.0.0.5"), true),
            Err(Refusal::DhcpEnabled(_))
        ));
        edit(&mut c, id("dhcp_enabled"), Some("0"), true).unwrap();
        assert_eq!(
            edit(&mut c, id("ip_address"), Some("10.0.0.5"), true),
            Ok(Some(Value::Text("10.0.0.5".into())))
        );
        assert!(matches!(
            edit(&mut c, id("ip_address"), Some("10.0.0"), true),
            Err(Refusal::BadValue(..))
        ));
        erase_network(&mut c);
        assert_eq!(c.int("dhcp_enabled"), Some(1));
        assert_eq!(c.get("ip_address"), None);
    }

    #[test]
    fn tftp_server_with_alternate_tftp() {
        let mut c = cfg();
        assert_eq!(
            edit(&mut c, id("tftp_server"), Some("10.0.0.1"), true),
            Err(Refusal::TftpFromDhcp)
        );
        edit(&mut c, id("alternate_tftp"), Some("1"), true).unwrap();
        assert!(edit(&mut c, id("tftp_server"), Some("10.0.0.1"), true).is_ok());
    }

    #[test]
    fn preferences_follow_the_0_to_3_scale() {
        let mut c = cfg();
        assert_eq!(
            edit(&mut c, id("dnd_control"), Some("1"), false),
            Ok(Some(Value::Int(1)))
        );
        assert!(matches!(
            edit(&mut c, id("dnd_control"), Some("3"), false),
            Err(Refusal::BadValue(..))
        ));
        c.set_local(id("dnd_control"), Some(Value::Int(2)));
        assert_eq!(
            edit(&mut c, id("dnd_control"), Some("1"), false),
            Err(Refusal::Fixed("dnd_control"))
        );
    }

    #[test]
    fn read_only_and_file_only() {
        let mut c = cfg();
        assert!(matches!(
            edit(&mut c, id("mac_address"), Some("x"), true),
            Err(Refusal::ReadOnly(_))
        ));
        assert!(matches!(
            edit(&mut c, id("timer_t1"), Some("600"), true),
            Err(Refusal::FilesOnly(_))
        ));
    }

    #[test]
    fn erasing_a_sip_setting_returns_it_to_default() {
        let mut c = cfg();
        edit(&mut c, id("voip_control_port"), Some("5070"), true).unwrap();
        assert_eq!(
            edit(&mut c, id("voip_control_port"), None, true),
            Ok(Some(Value::Int(5060)))
        );
        edit(&mut c, id("messages_uri"), Some("8000"), true).unwrap();
        erase_sip(&mut c);
        assert_eq!(c.get("messages_uri"), None);
    }
}
