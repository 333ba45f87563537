//! Properties of the parser and the precedence rules over arbitrary input.

use deskphone_config::cnf::{parse, print};
use deskphone_config::{params, Config, FileRole, FlashConfig, Kind, Mac};
use proptest::prelude::*;

fn mac() -> Mac {
    "00503EFFD842".parse().unwrap()
}

/// What a configuration stores in flash comes back unchanged and without complaint: the next
/// boot starts where this one ended.
fn flash_round_trip(c: &Config) -> Result<(), String> {
    let flash = c.to_flash();
    let read = FlashConfig::from_bytes(&flash.to_bytes())?;
    let mut again = Config::new(mac());
    let diags = again.apply_flash(&read);
    if !diags.is_empty() {
        return Err(format!(
            "apply_flash refuses what to_flash stored: {diags:?}"
        ));
    }
    if again.to_flash() != flash {
        return Err("a configuration re-applied from flash stores something else".into());
    }
    Ok(())
}

/// The fuzzer's seeds, the inputs of failures it found among them, replayed on every test run.
#[test]
fn fuzz_seeds_replay() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/cnf");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let mut c = Config::new(mac());
        c.apply_file(
            "SIPDefault.cnf",
            FileRole::Default,
            &parse("SIPDefault.cnf", &data),
        );
        c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        flash_round_trip(&c).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let printable: Vec<(String, String)> = c
            .to_flash()
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let text = print(printable.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(text) = text {
            let p = parse("export.cnf", text.as_bytes());
            assert!(
                p.diagnostics.is_empty(),
                "{}: {:?}",
                path.display(),
                p.diagnostics
            );
        }
        n += 1;
    }
    assert!(n >= 5, "seeds missing in {dir}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No byte sequence makes the parser or the configuration model panic, and every line
    /// yields at most one entry.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = parse("SIPDefault.cnf", &data);
        let lines = data.split(|&b| b == b'\n').count();
        prop_assert!(p.entries.len() <= lines);
        let mut c = Config::new(mac());
        c.apply_file("SIPDefault.cnf", FileRole::Default, &p);
        c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        let _ = FlashConfig::from_bytes(&data);
    }

    /// Lines built from known names and arbitrary text never panic either (this reaches the
    /// per-kind checks, which random bytes rarely do).
    #[test]
    fn known_names_with_arbitrary_values(
        picks in proptest::collection::vec((0..params().len(), "[ -~\u{201C}\u{201D}\t]{0,40}"), 0..40)
    ) {
        let text: String = picks.iter().map(|(i, v)| format!("{}: {v}\n", params()[*i].name)).collect();
        let p = parse("SIPDefault.cnf", text.as_bytes());
        let mut c = Config::new(mac());
        let _ = c.apply_file("SIPDefault.cnf", FileRole::Default, &p);
        let _ = c.check_consistency("SIPDefault.cnf", "SIPX.cnf");
        // Whatever was accepted survives a trip through flash unchanged.
        if let Err(e) = flash_round_trip(&c) {
            prop_assert!(false, "{}", e);
        }
    }

    /// print then parse gives back the same keys and values.
    #[test]
    fn print_then_parse_round_trips(
        entries in proptest::collection::vec(("[a-z][a-z0-9_]{0,20}", "[^\"\\p{Cc}\u{201C}\u{201D}\u{201E}\u{201F}\u{2033}\u{AB}\u{BB}]{0,40}"), 0..30)
    ) {
        let pairs: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let text = print(pairs.iter().copied()).unwrap();
        let p = parse("t.cnf", text.as_bytes());
        prop_assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let got: Vec<(String, String)> = p.entries.into_iter().map(|e| (e.key, e.value)).collect();
        let want: Vec<(String, String)> = entries.iter().map(|(k, v)| (k.clone(), v.trim().to_string())).collect();
        prop_assert_eq!(got, want);
    }

    /// An effective configuration printed as a .cnf file and read back is the same
    /// configuration (what `phonectl` exports, a phone can import).
    #[test]
    fn effective_config_round_trips_through_cnf(
        picks in proptest::collection::vec((0..params().len(), "[ -!#-~]{0,20}"), 0..40)
    ) {
        let text: String = picks.iter().map(|(i, v)| format!("{}: \"{v}\"\n", params()[*i].name)).collect();
        let mut c = Config::new(mac());
        c.apply_file("a.cnf", FileRole::PhoneSpecific, &parse("a.cnf", text.as_bytes()));
        let flash = c.to_flash();
        let printed = print(flash.values.iter().map(|(k, v)| (k.as_str(), match v {
            deskphone_config::Value::Int(_) => Box::leak(v.to_string().into_boxed_str()) as &str,
            deskphone_config::Value::Text(t) => t.as_str(),
        }))).unwrap();
        let mut d = Config::new(mac());
        d.apply_file("b.cnf", FileRole::PhoneSpecific, &parse("b.cnf", printed.as_bytes()));
        prop_assert_eq!(d.to_flash(), flash);
    }
}

#[test]
fn every_kind_is_covered_by_some_parameter() {
    // Guards the table against a kind that no parameter uses any more (dead rules).
    let kinds = [
        "Flag",
        "Preference",
        "Integer",
        "Choice",
        "Text",
        "Secret",
        "Ipv4",
        "Host",
        "Url",
        "TimeZone",
        "Month",
        "Weekday",
        "WeekOfMonth",
        "DayOfMonth",
        "ClockTime",
        "DstOffset",
        "TftpDir",
    ];
    for k in kinds {
        assert!(
            params()
                .iter()
                .any(|p| format!("{:?}", p.kind).starts_with(k)),
            "no parameter of kind {k}"
        );
    }
    assert!(params().iter().any(|p| matches!(
        p.kind,
        Kind::Integer {
            above_max: Some(101),
            ..
        }
    )));
}
