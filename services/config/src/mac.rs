//! The phone's MAC address, which names its configuration file and its host name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a MAC address (12 hex digits, with or without ':' or '-' or '.')")]
pub struct BadMac(pub String);

impl FromStr for Mac {
    type Err = BadMac;
    fn from_str(s: &str) -> Result<Mac, BadMac> {
        let hex: String = s
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .collect();
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadMac(s.to_string()));
        }
        let mut out = [0u8; 6];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| BadMac(s.to_string()))?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    /// Twelve upper-case hex digits, as the guide names files: `00503EFFD842`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl Mac {
    /// `SIP00503EFFD842.cnf`: upper-case MAC, lower-case extension.
    pub fn config_file_name(&self) -> String {
        format!("SIP{self}.cnf")
    }
    /// `SIP00503EFFD842`, the host name of Table 3-1.
    pub fn host_name(&self) -> String {
        format!("SIP{self}")
    }
    /// `00:50:3e:ff:d8:42`, the Linux spelling.
    pub fn colon_form(&self) -> String {
        self.0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings_and_names_the_file_in_upper_case() {
        for s in [
            "00503effd842",
            "00:50:3E:FF:D8:42",
            "00-50-3e-ff-d8-42",
            "0050.3eff.d842",
        ] {
            let m: Mac = s.parse().unwrap();
            assert_eq!(m.config_file_name(), "SIP00503EFFD842.cnf");
        }
        assert_eq!(
            "00503effd842".parse::<Mac>().unwrap().host_name(),
            "SIP00503EFFD842"
        );
        assert!("00503effd84".parse::<Mac>().is_err());
        assert!("00503effd84g".parse::<Mac>().is_err());
    }
}
