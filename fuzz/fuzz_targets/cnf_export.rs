//! The export path: an effective configuration printed with `cnf::print` (what `phonectl`
//! exports) and read back by `cnf::parse` is the same configuration.
#![no_main]

use deskphone_config::cnf::{parse, print};
use deskphone_config::{Config, FileRole, Mac};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mac: Mac = "00503EFFD842".parse().expect("a valid MAC");
    let mut c = Config::new(mac);
    let _ = c.apply_file("a.cnf", FileRole::PhoneSpecific, &parse("a.cnf", data));
    let flash = c.to_flash();
    let texts: Vec<(String, String)> = flash
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    let Some(printed) = print(texts.iter().map(|(k, v)| (k.as_str(), v.as_str()))) else {
        return; // a value print declares it cannot carry
    };
    let reparsed = parse("b.cnf", printed.as_bytes());
    assert!(
        reparsed.diagnostics.is_empty(),
        "print wrote text that parse complains about: {:?}\n{printed}",
        reparsed.diagnostics
    );
    let mut d = Config::new(mac);
    let _ = d.apply_file("b.cnf", FileRole::PhoneSpecific, &reparsed);
    assert_eq!(
        d.to_flash(),
        flash,
        "printed configuration reads back differently:\n{printed}"
    );
});
