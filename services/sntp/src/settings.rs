//! The two configuration parameters, `sntp_mode` and `sntp_server`.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// `sntp_mode`: how the phone looks for time (the columns of Tables 3-7 and 3-8).
///
/// Also used for the mode *in effect*, which differs from the configured one after the
/// switches the tables describe (anycast becomes unicast, directedbroadcast becomes multicast).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    Unicast,
    Multicast,
    Anycast,
    /// The guide's default.
    #[default]
    DirectedBroadcast,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::Unicast,
        Mode::Multicast,
        Mode::Anycast,
        Mode::DirectedBroadcast,
    ];

    /// The spelling of the configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Unicast => "unicast",
            Mode::Multicast => "multicast",
            Mode::Anycast => "anycast",
            Mode::DirectedBroadcast => "directedbroadcast",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value the configuration may not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("sntp_mode {0:?} is none of unicast, multicast, anycast, directedbroadcast")]
    Mode(String),
    #[error("sntp_server {0:?} is not an IPv4 address")]
    NotAnAddress(String),
    #[error("sntp_server {0} is a multicast or broadcast address, not a server")]
    NotAServer(Ipv4Addr),
}

impl FromStr for Mode {
    type Err = SettingsError;

    /// The four configuration spellings, in any letter case.
    fn from_str(s: &str) -> Result<Mode, SettingsError> {
        let s = s.trim();
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| SettingsError::Mode(s.to_string()))
    }
}

/// What the configuration says about time: `sntp_mode` and `sntp_server`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Settings {
    pub mode: Mode,
    /// `None` for the guide's 0.0.0.0, "no server known".
    pub server: Option<Ipv4Addr>,
}

impl Settings {
    pub fn new(mode: Mode, server: Option<Ipv4Addr>) -> Settings {
        Settings { mode, server }.normalised()
    }

    /// Reads the two parameters as they appear in SIPDefault.cnf (`sntp_server` may be empty,
    /// which is the same as 0.0.0.0).
    pub fn from_config(mode: &str, server: &str) -> Result<Settings, SettingsError> {
        let mode = mode.parse()?;
        let server = server.trim();
        let server = if server.is_empty() {
            None
        } else {
            let addr: Ipv4Addr = server
                .parse()
                .map_err(|_| SettingsError::NotAnAddress(server.to_string()))?;
            if addr.is_multicast() || addr.is_broadcast() {
                return Err(SettingsError::NotAServer(addr));
            }
            Some(addr)
        };
        Ok(Settings::new(mode, server))
    }

    /// 0.0.0.0 given as `Some` means the same as `None`.
    pub(crate) fn normalised(self) -> Settings {
        Settings {
            mode: self.mode,
            server: self.server.filter(|a| !a.is_unspecified()),
        }
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = self.server.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(f, "sntp_mode={} sntp_server={server}", self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_guides() {
        let d = Settings::default();
        assert_eq!(d.mode, Mode::DirectedBroadcast);
        assert_eq!(d.server, None);
        assert_eq!(
            d.to_string(),
            "sntp_mode=directedbroadcast sntp_server=0.0.0.0"
        );
    }

    #[test]
    fn config_values_parse() {
        assert_eq!(
            Settings::from_config("anycast", "172.16.10.150"),
            Ok(Settings::new(
                Mode::Anycast,
                Some(Ipv4Addr::new(172, 16, 10, 150))
            ))
        );
        assert_eq!(
            Settings::from_config("DirectedBroadcast", "0.0.0.0"),
            Ok(Settings::new(Mode::DirectedBroadcast, None))
        );
        assert_eq!(
            Settings::from_config("unicast", " ").map(|s| s.server),
            Ok(None)
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert_eq!(
            Settings::from_config("broadcast", "0.0.0.0"),
            Err(SettingsError::Mode("broadcast".into()))
        );
        assert_eq!(
            Settings::from_config("unicast", "ntp.example"),
            Err(SettingsError::NotAnAddress("ntp.example".into()))
        );
        assert_eq!(
            Settings::from_config("unicast", "224.0.1.1"),
            Err(SettingsError::NotAServer(Ipv4Addr::new(224, 0, 1, 1)))
        );
    }

    #[test]
    fn explicit_zero_server_means_none() {
        let s = Settings::new(Mode::Unicast, Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.server, None);
    }
}
