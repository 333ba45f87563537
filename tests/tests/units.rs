//! The systemd units the image installs: valid, and each service least-privileged.

use std::process::Command;

use deskphone_e2e::{bin_dir, workspace};

const OVERLAY: &str = "buildroot-overlay/rootfs-overlay";
const SERVICES: &[&str] = &["provd"];

fn units() -> std::path::PathBuf {
    workspace().join(OVERLAY).join("usr/lib/systemd/system")
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for svc in SERVICES {
        // verify checks that ExecStart exists: point it at the binary just built.
        let unit = std::fs::read_to_string(units().join(format!("{svc}.service"))).unwrap();
        let unit = unit.replace(
            &format!("/usr/bin/{svc} "),
            &format!("{} ", bin_dir().join(svc).display()),
        );
        std::fs::write(tmp.path().join(format!("{svc}.service")), unit).unwrap();
        std::fs::copy(
            units().join(format!("{svc}.socket")),
            tmp.path().join(format!("{svc}.socket")),
        )
        .unwrap();
        args.push(tmp.path().join(format!("{svc}.socket")));
        args.push(tmp.path().join(format!("{svc}.service")));
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&args)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

#[test]
fn every_service_is_locked_down() {
    let root = workspace().join(OVERLAY);
    for svc in SERVICES {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager", "--threshold=20"])
            .arg(format!("--root={}", root.display()))
            .arg(format!("{svc}.service"))
            .output()
            .expect("systemd-analyze");
        let text = String::from_utf8_lossy(&out.stdout);
        let overall = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or("no overall line");
        assert!(
            out.status.success(),
            "{svc}: exposure above 2.0: {overall}\n{text}"
        );
        let unit = std::fs::read_to_string(units().join(format!("{svc}.service"))).unwrap();
        assert!(
            unit.contains(&format!("User=deskphone-{svc}")),
            "{svc} must run as its own user"
        );
    }
}
