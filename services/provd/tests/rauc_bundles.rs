//! Bundle checks with the real `rauc` (Debian package rauc) and keys made by openssl for the
//! test: signature, tampering, version against name.

use std::path::Path;
use std::process::Command;

use deskphone_provd::firmware::{check_bundle, Rauc};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key_pair(dir: &Path, name: &str) {
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
        ])
        .arg(format!("/O=deskphone test/CN={name}"))
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key.pem")))
        .arg("-out")
        .arg(dir.join(format!("{name}.cert.pem"))));
}

fn bundle(dir: &Path, signer: &str, version: &str, file: &str) {
    let content = dir.join(format!("content-{file}"));
    std::fs::create_dir_all(&content).unwrap();
    // RAUC wants more than one squashfs block of payload after compression: noise.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let payload: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(content.join("rootfs.img"), payload).unwrap();
    std::fs::write(
        content.join("manifest.raucm"),
        format!("[update]\ncompatible=deskphone-test\nversion={version}\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.img\n"),
    )
    .unwrap();
    run(Command::new("rauc")
        .arg("bundle")
        .arg(format!(
            "--cert={}",
            dir.join(format!("{signer}.cert.pem")).display()
        ))
        .arg(format!(
            "--key={}",
            dir.join(format!("{signer}.key.pem")).display()
        ))
        .arg(&content)
        .arg(dir.join(file)));
}

fn rauc(dir: &Path, keyring: &str) -> Rauc {
    Rauc {
        keyring: Some(dir.join(format!("{keyring}.cert.pem"))),
        ..Rauc::default()
    }
}

#[tokio::test]
async fn signed_bundle_is_read_and_its_version_checked_against_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pair(d, "release");
    bundle(d, "release", "deskphone-2.0.0", "deskphone-2.0.0.bin");
    let info = rauc(d, "release")
        .inspect(&d.join("deskphone-2.0.0.bin"))
        .await
        .unwrap();
    assert_eq!(info.version, "deskphone-2.0.0");
    assert_eq!(info.compatible, "deskphone-test");
    assert!(check_bundle(&info, "deskphone-2.0.0", Some("deskphone-test")).is_ok());

    // Renamed on the server to pass for another version: the guide's header check refuses it.
    std::fs::copy(d.join("deskphone-2.0.0.bin"), d.join("deskphone-3.0.0.bin")).unwrap();
    let info = rauc(d, "release")
        .inspect(&d.join("deskphone-3.0.0.bin"))
        .await
        .unwrap();
    let err = check_bundle(&info, "deskphone-3.0.0", Some("deskphone-test")).unwrap_err();
    assert!(err.contains("carries version deskphone-2.0.0"), "{err}");
}

#[tokio::test]
async fn foreign_signatures_and_tampering_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_pair(d, "release");
    key_pair(d, "attacker");
    bundle(d, "attacker", "deskphone-2.0.0", "evil.bin");
    let err = rauc(d, "release")
        .inspect(&d.join("evil.bin"))
        .await
        .unwrap_err();
    assert!(err.contains("signature"), "{err}");

    bundle(d, "release", "deskphone-2.0.0", "good.bin");
    // A changed byte in the signed part (the manifest and signature at the end of the
    // bundle) fails the check. (Changed payload bytes are caught by dm-verity when RAUC
    // installs, which only the image can show.)
    let mut bytes = std::fs::read(d.join("good.bin")).unwrap();
    let n = bytes.len();
    bytes[n - 200] ^= 0xff;
    std::fs::write(d.join("tampered.bin"), bytes).unwrap();
    assert!(rauc(d, "release")
        .inspect(&d.join("tampered.bin"))
        .await
        .is_err());

    let err = rauc(d, "release")
        .inspect(&d.join("missing.bin"))
        .await
        .unwrap_err();
    assert!(!err.is_empty());
}
