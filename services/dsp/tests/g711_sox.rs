//! Bit-exactness of `g711` against sox, an independent G.711 implementation.
//! sox must be installed: a missing sox fails the test rather than skipping it.

use deskphone_dsp::g711;
use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deskphone-dsp-g711-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir.join(name)
}

fn sox(args: &[&str]) {
    let out = Command::new("sox").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `sox` ({e}): install it (Debian package `sox`); this test needs it as the G.711 reference")
    });
    assert!(
        out.status.success(),
        "sox {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn all_samples_raw() -> (Vec<i16>, Vec<u8>) {
    let samples: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let bytes = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    (samples, bytes)
}

fn check_encode(encoding: &str, tag: &str, encode: fn(i16) -> u8) {
    let (samples, raw) = all_samples_raw();
    let input = scratch(&format!("enc-{tag}.s16"));
    let output = scratch(&format!("enc-{tag}.g711"));
    std::fs::write(&input, raw).unwrap();
    // -D: no dither, so sox maps each sample deterministically.
    sox(&[
        "-D",
        "-t",
        "raw",
        "-r",
        "8000",
        "-e",
        "signed",
        "-b",
        "16",
        "-c",
        "1",
        "-L",
        input.to_str().unwrap(),
        "-t",
        "raw",
        "-e",
        encoding,
        "-b",
        "8",
        output.to_str().unwrap(),
    ]);
    let reference = std::fs::read(&output).unwrap();
    assert_eq!(reference.len(), samples.len());
    let mut mismatches = 0;
    for (s, r) in samples.iter().zip(&reference) {
        if encode(*s) != *r {
            mismatches += 1;
            if mismatches < 10 {
                eprintln!("{tag}: sample {s}: ours {:#04x}, sox {r:#04x}", encode(*s));
            }
        }
    }
    assert_eq!(mismatches, 0, "{tag} encode differs from sox");
}

fn check_decode(encoding: &str, tag: &str, decode: fn(u8) -> i16) {
    let codes: Vec<u8> = (0..=255).collect();
    let input = scratch(&format!("dec-{tag}.g711"));
    let output = scratch(&format!("dec-{tag}.s16"));
    std::fs::write(&input, &codes).unwrap();
    sox(&[
        "-D",
        "-t",
        "raw",
        "-r",
        "8000",
        "-e",
        encoding,
        "-b",
        "8",
        "-c",
        "1",
        input.to_str().unwrap(),
        "-t",
        "raw",
        "-e",
        "signed",
        "-b",
        "16",
        "-L",
        output.to_str().unwrap(),
    ]);
    let reference = std::fs::read(&output).unwrap();
    assert_eq!(reference.len(), 512);
    for (i, &c) in codes.iter().enumerate() {
        let r = i16::from_le_bytes([reference[2 * i], reference[2 * i + 1]]);
        assert_eq!(decode(c), r, "{tag} decode of {c:#04x}");
    }
}

#[test]
fn ulaw_encode_matches_sox_for_every_sample() {
    check_encode("u-law", "ulaw", g711::ulaw_encode);
}

#[test]
fn alaw_encode_matches_sox_for_every_sample() {
    check_encode("a-law", "alaw", g711::alaw_encode);
}

#[test]
fn ulaw_decode_matches_sox_for_every_code() {
    check_decode("u-law", "ulaw", g711::ulaw_decode);
}

#[test]
fn alaw_decode_matches_sox_for_every_code() {
    check_decode("a-law", "alaw", g711::alaw_decode);
}
