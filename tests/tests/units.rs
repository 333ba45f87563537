//! The systemd units the image installs: valid, and each service least-privileged.

use std::process::Command;

use deskphone_e2e::{bin_dir, workspace};

const OVERLAY: &str = "buildroot-overlay/rootfs-overlay";
/// Socket-activated services: `NAME.socket`, `NAME.service`, run as `deskphone-NAME`.
const SERVICES: &[&str] = &["provd", "sipd"];
/// Other units of the image that run a program of ours: (unit, its user, the program).
const HELPERS: &[(&str, &str, &str)] = &[(
    "deskphone-boot-check.service",
    "deskphone-bootcheck",
    "/usr/lib/deskphone/boot-check",
)];

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
    for (unit, _, program) in HELPERS {
        let text = std::fs::read_to_string(units().join(unit)).unwrap();
        let text = text.replace(
            &format!("ExecStart={program}"),
            &format!(
                "ExecStart={}",
                workspace()
                    .join(OVERLAY)
                    .join(program.trim_start_matches('/'))
                    .display()
            ),
        );
        std::fs::write(tmp.path().join(unit), text).unwrap();
        args.push(tmp.path().join(unit));
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

/// `systemd-analyze security` of one unit of the overlay: exposure at most 2.0.
fn assert_locked_down(unit: &str) {
    let root = workspace().join(OVERLAY);
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", "--threshold=20"])
        .arg(format!("--root={}", root.display()))
        .arg(unit)
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let overall = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no overall line");
    assert!(
        out.status.success(),
        "{unit}: exposure above 2.0: {overall}\n{text}"
    );
}

#[test]
fn every_service_is_locked_down() {
    for svc in SERVICES {
        assert_locked_down(&format!("{svc}.service"));
        let unit = std::fs::read_to_string(units().join(format!("{svc}.service"))).unwrap();
        assert!(
            unit.contains(&format!("User=deskphone-{svc}")),
            "{svc} must run as its own user"
        );
    }
    for (unit, user, _) in HELPERS {
        assert_locked_down(unit);
        let text = std::fs::read_to_string(units().join(unit)).unwrap();
        assert!(
            text.contains(&format!("User={user}\n")),
            "{unit} must run as {user}"
        );
        let sysusers = std::fs::read_to_string(
            workspace()
                .join(OVERLAY)
                .join("usr/lib/sysusers.d/deskphone.conf"),
        )
        .unwrap();
        assert!(
            sysusers
                .lines()
                .any(|l| l.starts_with(&format!("u {user} "))),
            "{user} in sysusers.d"
        );
        let preset = std::fs::read_to_string(
            workspace()
                .join(OVERLAY)
                .join("usr/lib/systemd/system-preset/50-deskphone.preset"),
        )
        .unwrap();
        assert!(
            preset.lines().any(|l| l == format!("enable {unit}")),
            "{unit} enabled by the preset"
        );
    }
}
