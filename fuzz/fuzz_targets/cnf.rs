//! Arbitrary bytes through the `.cnf` parser and the configuration model.
//!
//! The bytes are read as SIPDefault.cnf, then again as the phone-specific file; the
//! consistency rules run; the result goes to flash and back. Properties:
//! - nothing panics (parser, per-kind checks, consistency rules, flash store);
//! - what `to_flash` stores is accepted again by `apply_flash` without complaint and gives
//!   back the same flash contents (the next boot starts where this one ended);
//! - the same bytes read as a flash image either fail cleanly or load and round-trip.
#![no_main]

use deskphone_config::cnf::parse;
use deskphone_config::{Config, FileRole, FlashConfig, Mac};
use libfuzzer_sys::fuzz_target;

const DEFAULT_FILE: &str = "SIPDefault.cnf";
const PHONE_FILE: &str = "SIP00503EFFD842.cnf";

fn mac() -> Mac {
    "00503EFFD842".parse().expect("a valid MAC")
}

/// Stores `flash` as bytes, reads it back into a fresh configuration and checks that the
/// configuration writes the same flash contents.
fn assert_flash_round_trip(flash: &FlashConfig, what: &str) {
    let bytes = flash.to_bytes();
    let read = FlashConfig::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{what}: flash written by to_bytes is unreadable: {e}"));
    assert_eq!(
        &read, flash,
        "{what}: to_bytes/from_bytes changed the flash"
    );
    let mut again = Config::new(mac());
    let diags = again.apply_flash(&read);
    assert!(
        diags.is_empty(),
        "{what}: apply_flash refuses what to_flash stored: {diags:?}"
    );
    assert_eq!(
        &again.to_flash(),
        flash,
        "{what}: a configuration re-applied from flash stores something else"
    );
}

fuzz_target!(|data: &[u8]| {
    // The configuration files.
    let parsed_default = parse(DEFAULT_FILE, data);
    let parsed_phone = parse(PHONE_FILE, data);
    assert_eq!(
        parsed_default.entries, parsed_phone.entries,
        "the file name changes what is parsed"
    );
    let mut c = Config::new(mac());
    let _ = c.apply_file(DEFAULT_FILE, FileRole::Default, &parsed_default);
    let _ = c.apply_file(PHONE_FILE, FileRole::PhoneSpecific, &parsed_phone);
    let _ = c.check_consistency(DEFAULT_FILE, PHONE_FILE);
    let _ = c.parameters_json(false);
    assert_flash_round_trip(&c.to_flash(), "cnf");

    // The same bytes as a flash image.
    if let Ok(flash) = FlashConfig::from_bytes(data) {
        let mut c = Config::new(mac());
        let _ = c.apply_flash(&flash);
        let _ = c.check_consistency(DEFAULT_FILE, PHONE_FILE);
        assert_flash_round_trip(&c.to_flash(), "flash image");
    }
});
