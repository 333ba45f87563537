//! The date and time of the status bar, in the configured zone, daylight-saving rule and
//! formats.

use std::collections::BTreeMap;

use deskphone_localtime::{clock_24h, format_date, format_time, DateFormat, ZoneRule};

/// The zone rule and formats, built once per configuration.
#[derive(Debug, Clone)]
pub struct StatusClock {
    zone: ZoneRule,
    date_format: DateFormat,
    h24: bool,
}

impl StatusClock {
    pub fn new(config: &BTreeMap<String, String>) -> StatusClock {
        let (zone, _notes) = ZoneRule::from_lookup(|name| config.get(name).cloned());
        let date_format = config
            .get("date_format")
            .and_then(|v| DateFormat::from_config_value(v))
            .unwrap_or(DateFormat::from_config_value("M/D/Y").expect("the default format"));
        // The user's choice on Time and Date is the parameter itself (0/1 toggled there).
        let level = config
            .get("time_format_24hr")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1);
        StatusClock {
            zone,
            date_format,
            h24: clock_24h(level, None),
        }
    }

    /// `(date, time)` at `unix` seconds.
    pub fn at(&self, unix: i64) -> (String, String) {
        let local = self.zone.to_local(unix);
        (
            format_date(&local, self.date_format),
            format_time(&local, self.h24),
        )
    }
}
