//! Arbitrary bytes as a dial plan file, and the keys a user could press against it.
//!
//! The input is split at the first 0xff byte: before it the file, after it the keys. Properties:
//! - neither parsing nor deciding panics;
//! - a number sent at once (Timeout 0) is one the Dial soft key would send too, the same way.
#![no_main]

use deskphone_dialplan::{Decision, DialPlan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (file, keys) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let (plan, _) = DialPlan::parse("dialplan.xml", file);
    let keys: String = keys
        .iter()
        .map(|&b| match b % 12 {
            10 => '*',
            11 => '#',
            d => char::from(b'0' + d),
        })
        .take(deskphone_dialplan::MAX_KEYS)
        .collect();
    let _ = plan.secondary_tone(&keys);
    if let Decision::SendNow(call) = plan.decide(&keys) {
        let by_key = plan.dial(&keys).expect("keys were dialled");
        assert_eq!(call, by_key);
    }
});
