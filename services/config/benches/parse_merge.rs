//! How long reading and evaluating the configuration takes.
//!
//! - `parse/*`: [`cnf::parse`] of the guide's SIPDefault.cnf sample and of a file that sets
//!   every parameter.
//! - `evaluate/full`: the boot-time evaluation of a full configuration — built-in defaults,
//!   the flash of a previous run, a SIPDefault.cnf that sets every parameter a file may set,
//!   a SIP<MAC>.cnf for six lines, the consistency rules, and the new flash contents.
//! - `evaluate/full_from_bytes`: the same, starting from the bytes of both files and of the
//!   flash store and ending with the bytes written back to flash.
//!
//! - `apply_file/1000_unknown_keys`: a file of 1000 lines with names this firmware does not
//!   know (each one is compared with every parameter name for a "did you mean" hint).
//!
//! `cargo bench -p deskphone-config --bench parse_merge -- --quick` gives quick figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use deskphone_config::cnf::{self, ParsedCnf};
use deskphone_config::{params, Config, FileRole, FlashConfig, Kind, Mac, ParamDef, Source};

const GUIDE_DEFAULT: &[u8] = include_bytes!("../tests/data/guide-SIPDefault.cnf");
const DEFAULT_FILE: &str = "SIPDefault.cnf";
const PHONE_FILE: &str = "SIP00503EFFD842.cnf";

fn mac() -> Mac {
    "00503EFFD842".parse().unwrap()
}

/// A valid value for `def` in file text: its default where it has one, else one that fits
/// its kind. `n` makes line values differ from line to line (1..=6; 0 for the default file).
fn value_for(def: &ParamDef, n: u8) -> String {
    let line = def.line.unwrap_or(n.max(1));
    if n == 0 {
        if let Some(d) = &def.default {
            return d.to_string();
        }
    }
    let text = if def.name.ends_with("_name") || def.name.ends_with("_authname") {
        format!("10{line}")
    } else if def.name.contains("displayname") || def.name.contains("shortname") {
        format!("Desk {line}")
    } else {
        format!("x{line}")
    };
    match def.kind {
        Kind::Flag => "1".into(),
        Kind::Preference => "1".into(),
        Kind::Integer { min, max, .. } => (min + i64::from(line) - 1).min(max).to_string(),
        Kind::Choice(choices) => choices[0].canonical.into(),
        Kind::Text { max_chars, .. } => match max_chars {
            Some(m) => text.chars().take(m).collect(),
            None => text,
        },
        Kind::Secret => format!("secret{line}"),
        Kind::Ipv4 | Kind::Host => format!("10.0.0.{line}"),
        Kind::Url => "http://x/y".into(),
        Kind::TimeZone => "EST".into(),
        Kind::Month => "April".into(),
        Kind::Weekday => "Sunday".into(),
        Kind::WeekOfMonth => "1".into(),
        Kind::DayOfMonth => "0".into(),
        Kind::ClockTime => "02/00".into(),
        Kind::DstOffset => "01/00".into(),
        Kind::TftpDir => "./".into(),
    }
}

fn print(entries: &[(&str, String)]) -> String {
    cnf::print(entries.iter().map(|(k, v)| (*k, v.as_str()))).expect("printable values")
}

/// SIPDefault.cnf setting every parameter a file may set.
fn full_default_file() -> String {
    let entries: Vec<(&str, String)> = params()
        .iter()
        .filter(|d| d.settable_by_file())
        .map(|d| (d.name, value_for(d, 0)))
        .collect();
    print(&entries)
}

/// SIP<MAC>.cnf setting every parameter of lines 1..=6.
fn phone_file() -> String {
    let entries: Vec<(&str, String)> = params()
        .iter()
        .filter(|d| d.settable_by_file())
        .filter_map(|d| d.line.map(|n| (d.name, value_for(d, n))))
        .collect();
    print(&entries)
}

/// The evaluation the benchmark times; returns what goes to flash.
fn evaluate(flash: &FlashConfig, default: &ParsedCnf, phone: &ParsedCnf) -> FlashConfig {
    let mut c = Config::new(mac());
    let mut diags = c.apply_flash(flash);
    diags.extend(c.apply_file(DEFAULT_FILE, FileRole::Default, default));
    diags.extend(c.apply_file(PHONE_FILE, FileRole::PhoneSpecific, phone));
    diags.extend(c.check_consistency(DEFAULT_FILE, PHONE_FILE));
    black_box(diags);
    c.to_flash()
}

struct Full {
    default_text: String,
    phone_text: String,
    default: ParsedCnf,
    phone: ParsedCnf,
    flash: FlashConfig,
    flash_bytes: Vec<u8>,
}

fn full() -> Full {
    let default_text = full_default_file();
    let phone_text = phone_file();
    let default = cnf::parse(DEFAULT_FILE, default_text.as_bytes());
    let phone = cnf::parse(PHONE_FILE, phone_text.as_bytes());
    assert!(default.diagnostics.is_empty() && phone.diagnostics.is_empty());

    // Every value is accepted: each settable parameter ends up set by one of the files.
    let mut c = Config::new(mac());
    c.apply_file(DEFAULT_FILE, FileRole::Default, &default);
    c.apply_file(PHONE_FILE, FileRole::PhoneSpecific, &phone);
    for (def, s) in c.iter().filter(|(d, _)| d.settable_by_file()) {
        assert!(
            matches!(s.source, Source::File { .. }),
            "{} = {:?} was refused",
            def.name,
            value_for(def, def.line.unwrap_or(0))
        );
    }

    // The flash of a previous run: the same configuration.
    let flash = evaluate(&FlashConfig::default(), &default, &phone);
    let flash_bytes = flash.to_bytes();
    Full {
        default_text,
        phone_text,
        default,
        phone,
        flash,
        flash_bytes,
    }
}

fn benches(c: &mut Criterion) {
    let f = full();

    let mut g = c.benchmark_group("parse");
    g.bench_function("guide_SIPDefault", |b| {
        b.iter(|| cnf::parse(DEFAULT_FILE, black_box(GUIDE_DEFAULT)))
    });
    g.bench_function("full_SIPDefault", |b| {
        b.iter(|| cnf::parse(DEFAULT_FILE, black_box(f.default_text.as_bytes())))
    });
    g.finish();

    let mut g = c.benchmark_group("evaluate");
    g.bench_function("full", |b| {
        b.iter(|| evaluate(black_box(&f.flash), &f.default, &f.phone))
    });
    g.bench_function("full_from_bytes", |b| {
        b.iter(|| {
            let flash = FlashConfig::from_bytes(black_box(&f.flash_bytes)).unwrap();
            let default = cnf::parse(DEFAULT_FILE, black_box(f.default_text.as_bytes()));
            let phone = cnf::parse(PHONE_FILE, black_box(f.phone_text.as_bytes()));
            evaluate(&flash, &default, &phone).to_bytes()
        })
    });
    g.finish();

    let unknown: String = (0..1000)
        .map(|i| format!("vendor_option_{i}: {i}\n"))
        .collect();
    let unknown = cnf::parse(DEFAULT_FILE, unknown.as_bytes());
    let mut g = c.benchmark_group("apply_file");
    g.sample_size(20);
    g.bench_function("1000_unknown_keys", |b| {
        b.iter(|| {
            let mut c = Config::new(mac());
            c.apply_file(DEFAULT_FILE, FileRole::Default, black_box(&unknown))
        })
    });
    g.finish();
}

criterion_group! {
    name = parse_merge;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(parse_merge);
