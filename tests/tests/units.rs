//! The systemd units the image installs: valid, and each service least-privileged.

use std::process::Command;

use deskphone_e2e::{bin_dir, workspace};

const OVERLAY: &str = "buildroot-overlay/rootfs-overlay";
/// Socket-activated services: `NAME.socket`, `NAME.service`, run as `deskphone-NAME`.
const SERVICES: &[&str] = &["provd", "sipd", "mediad", "ui"];
/// Other units of the image that run a program of ours: (unit, its user, the program).
const HELPERS: &[(&str, &str, &str)] = &[(
    "deskphone-boot-check.service",
    "deskphone-bootcheck",
    "/usr/lib/deskphone/boot-check",
)];

fn units() -> std::path::PathBuf {
    workspace().join(OVERLAY).join("usr/lib/systemd/system")
}

fn overlay_file(path: &str) -> String {
    std::fs::read_to_string(workspace().join(OVERLAY).join(path)).unwrap()
}

fn sysusers() -> String {
    overlay_file("usr/lib/sysusers.d/deskphone.conf")
}

fn preset() -> String {
    overlay_file("usr/lib/systemd/system-preset/50-deskphone.preset")
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
    verify(&args);
}

/// `systemd-analyze verify` of the units: no error, no warning.
fn verify(units: &[std::path::PathBuf]) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
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
    assert_exposure_at_most(unit, 20);
}

/// Exposure at most `tenths` / 10.
fn assert_exposure_at_most(unit: &str, tenths: u32) {
    let root = workspace().join(OVERLAY);
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--threshold={tenths}"))
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
        "{unit}: exposure above {}.{}: {overall}\n{text}",
        tenths / 10,
        tenths % 10
    );
}

#[test]
fn every_service_is_locked_down() {
    for svc in SERVICES {
        assert_locked_down(&format!("{svc}.service"));
        let unit = std::fs::read_to_string(units().join(format!("{svc}.service"))).unwrap();
        assert!(
            unit.contains(&format!("User=deskphone-{svc}\n")),
            "{svc} must run as its own user"
        );
        for line in ["Type=notify", "WatchdogSec=30", "Restart=on-failure"] {
            assert!(unit.contains(&format!("{line}\n")), "{svc}.service: {line}");
        }
        assert!(
            unit.contains(&format!("Requires={svc}.socket\n")),
            "{svc}.service takes its socket from {svc}.socket"
        );
        let socket = std::fs::read_to_string(units().join(format!("{svc}.socket"))).unwrap();
        for line in [
            format!("ListenStream=/run/deskphone/{svc}.sock"),
            format!("SocketUser=deskphone-{svc}"),
            "SocketGroup=deskphone".to_string(),
            "SocketMode=0660".to_string(),
        ] {
            assert!(
                socket.contains(&format!("{line}\n")),
                "{svc}.socket: {line}"
            );
        }
        let sysusers = sysusers();
        for line in [
            format!("u deskphone-{svc} "),
            format!("m deskphone-{svc} deskphone\n"),
        ] {
            assert!(sysusers.contains(&line), "sysusers.d: {line}");
        }
        for unit in [format!("{svc}.socket"), format!("{svc}.service")] {
            assert!(
                preset().lines().any(|l| l == format!("enable {unit}")),
                "{unit} enabled by the preset"
            );
        }
    }
    for (unit, user, _) in HELPERS {
        assert_locked_down(unit);
        let text = std::fs::read_to_string(units().join(unit)).unwrap();
        assert!(
            text.contains(&format!("User={user}\n")),
            "{unit} must run as {user}"
        );
        assert!(
            sysusers()
                .lines()
                .any(|l| l.starts_with(&format!("u {user} "))),
            "{user} in sysusers.d"
        );
        assert!(
            preset().lines().any(|l| l == format!("enable {unit}")),
            "{unit} enabled by the preset"
        );
    }
}

/// The sandbox of a unit: its `[Service]` settings that restrict the process.
fn sandbox(unit: &str) -> Vec<String> {
    const KEYS: &[&str] = &[
        "NoNewPrivileges",
        "CapabilityBoundingSet",
        "AmbientCapabilities",
        "Protect",
        "Private",
        "Restrict",
        "LockPersonality",
        "MemoryDenyWriteExecute",
        "SystemCall",
        "ProcSubset",
        "UMask",
        "Device",
        "RemoveIPC",
    ];
    unit.lines()
        .filter(|l| KEYS.iter().any(|k| l.starts_with(k)))
        .map(str::to_string)
        .collect()
}

/// mediad needs the sound card, so its sandbox differs from sipd's in exactly that: the
/// host's /dev (a private one would hide /dev/snd, or miss a card that comes later) with a
/// device allow list of ALSA's devices, and its user in the audio group. Everything else of
/// sipd's sandbox it keeps.
#[test]
fn mediad_reaches_the_sound_card_and_is_otherwise_sandboxed_like_sipd() {
    let mediad = std::fs::read_to_string(units().join("mediad.service")).unwrap();
    let sipd = std::fs::read_to_string(units().join("sipd.service")).unwrap();
    let mediad_sandbox = sandbox(&mediad);
    for line in sandbox(&sipd) {
        if line == "PrivateDevices=yes" {
            continue;
        }
        assert!(
            mediad_sandbox.contains(&line),
            "mediad.service lacks sipd's {line}"
        );
    }
    for line in [
        "PrivateDevices=no",
        "DevicePolicy=closed",
        "DeviceAllow=char-alsa rw",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ] {
        assert!(
            mediad_sandbox.iter().any(|l| l == line),
            "mediad.service: {line}"
        );
    }
    assert!(
        mediad
            .contains("ExecStart=/usr/bin/mediad --runtime /run/deskphone --alsa-device default\n"),
        "the image's mediad drives the sound card"
    );
    assert!(
        sysusers().lines().any(|l| l == "m deskphone-mediad audio"),
        "deskphone-mediad in the audio group (/dev/snd/*)"
    );
}

/// The services that are not socket-activated: netd (the network and the clock) and
/// consoled (telnet). Each runs as its own user with exactly the capabilities its job needs,
/// and verifies.
#[test]
fn netd_and_consoled_hold_only_the_capabilities_of_their_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (svc, bin, caps, exposure) in [
        (
            "netd",
            "netd",
            "CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SYS_TIME",
            // Its job is the network itself: no private network, netlink, NET_ADMIN.
            25,
        ),
        ("consoled", "consoled", "CAP_NET_BIND_SERVICE", 20),
    ] {
        let unit_name = format!("{svc}.service");
        assert_exposure_at_most(&unit_name, exposure);
        let unit = std::fs::read_to_string(units().join(&unit_name)).unwrap();
        assert!(
            unit.contains(&format!("User=deskphone-{svc}\n")),
            "{svc} must run as its own user"
        );
        for line in [
            format!("AmbientCapabilities={caps}"),
            format!("CapabilityBoundingSet={caps}"),
            "NoNewPrivileges=yes".to_string(),
            "Type=notify".to_string(),
            "Restart=on-failure".to_string(),
        ] {
            assert!(unit.contains(&format!("{line}\n")), "{unit_name}: {line}");
        }
        assert!(
            sysusers().contains(&format!("m deskphone-{svc} deskphone\n")),
            "deskphone-{svc} in sysusers.d"
        );
        assert!(
            preset().lines().any(|l| l == format!("enable {unit_name}")),
            "{unit_name} enabled by the preset"
        );
        let unit = unit.replace(
            &format!("/usr/bin/{bin} "),
            &format!("{} ", bin_dir().join(bin).display()),
        );
        std::fs::write(tmp.path().join(&unit_name), unit).unwrap();
        args.push(tmp.path().join(&unit_name));
    }
    verify(&args);
}
