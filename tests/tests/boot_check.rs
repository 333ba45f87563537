//! The image's boot deadline (`usr/lib/deskphone/boot-check`, run by
//! `deskphone-boot-check.service`), on the host with stand-ins for `rauc` and `systemctl` and
//! a clock that advances with every look at RAUC: when it leaves a confirmed boot alone, when
//! it marks an unconfirmed one bad and reboots, and when it cannot fall back. (The QEMU
//! rollback test runs it for real against RAUC's grub backend.)

use std::path::{Path, PathBuf};
use std::process::Command;

use deskphone_e2e::workspace;

const SCRIPT: &str = "buildroot-overlay/rootfs-overlay/usr/lib/deskphone/boot-check";

/// `rauc status --detailed --output-format=shell` of a two-slot phone booted from `booted`.
fn rauc_status(booted: &str, a: &str, b: &str) -> String {
    format!(
        "RAUC_SYSTEM_COMPATIBLE='deskphone-qemu-x86_64'\n\
         RAUC_SYSTEM_VARIANT=''\n\
         RAUC_SYSTEM_BOOTED_BOOTNAME='{booted}'\n\
         RAUC_BOOT_PRIMARY='rootfs.0'\n\
         RAUC_SYSTEM_SLOTS='rootfs.1 rootfs.0'\n\
         RAUC_SLOTS='1 2'\n\
         RAUC_SLOT_STATE_1='inactive'\n\
         RAUC_SLOT_CLASS_1='rootfs'\n\
         RAUC_SLOT_DEVICE_1='/dev/disk/by-partlabel/rootfs-b'\n\
         RAUC_SLOT_TYPE_1='raw'\n\
         RAUC_SLOT_BOOTNAME_1='B'\n\
         RAUC_SLOT_PARENT_1=''\n\
         RAUC_SLOT_BOOT_STATUS_1='{b}'\n\
         RAUC_SLOT_STATE_2='booted'\n\
         RAUC_SLOT_CLASS_2='rootfs'\n\
         RAUC_SLOT_DEVICE_2='/dev/disk/by-partlabel/rootfs-a'\n\
         RAUC_SLOT_TYPE_2='raw'\n\
         RAUC_SLOT_BOOTNAME_2='A'\n\
         RAUC_SLOT_PARENT_2=''\n\
         RAUC_SLOT_BOOT_STATUS_2='{a}'\n"
    )
}

/// A run of the script: what it printed, its exit status, and what the stand-ins saw.
struct Run {
    status: i32,
    output: String,
    /// `rauc` command lines, one a line.
    rauc: String,
    /// `systemctl` command lines.
    systemctl: String,
    /// The clock when the script ended.
    uptime: u64,
}

/// Runs the script. `statuses[i]` answers the i-th `rauc status` (the last one repeats;
/// `None`: rauc fails); every `rauc status` advances the clock by `step` seconds from
/// `uptime`.
fn run(deadline: &str, uptime: u64, step: u64, statuses: &[Option<String>]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (i, s) in statuses.iter().enumerate() {
        if let Some(s) = s {
            std::fs::write(d.join(format!("status.{i}")), s).unwrap();
        }
    }
    std::fs::write(d.join("uptime"), format!("{uptime}.42 17.00\n")).unwrap();
    script(
        &bin.join("rauc"),
        &format!(
            r#"#!/bin/sh
d={d}
echo "$*" >> $d/rauc.log
if [ "$1 $2" = "status mark-bad" ]; then exit 0; fi
n=$(cat $d/calls 2>/dev/null || echo 0)
echo $((n + 1)) > $d/calls
read -r up _ < $d/uptime
echo "$((${{up%%.*}} + {step})).00 1.00" > $d/uptime
last={last}
[ "$n" -gt "$last" ] && n=$last
if [ -f $d/status.$n ]; then cat $d/status.$n; else echo "rauc: D-Bus error" >&2; exit 1; fi
"#,
            d = d.display(),
            last = statuses.len() - 1,
        ),
    );
    script(
        &bin.join("systemctl"),
        &format!("#!/bin/sh\necho \"$*\" >> {}/systemctl.log\n", d.display()),
    );
    // `sleep` does not wait: the clock is the stand-in's.
    script(&bin.join("sleep"), "#!/bin/sh\nexit 0\n");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new("sh")
        .arg(workspace().join(SCRIPT))
        .env_clear()
        .env("PATH", path)
        .env("DESKPHONE_BOOT_DEADLINE", deadline)
        .env("DESKPHONE_BOOT_CHECK_INTERVAL", "10")
        .env("DESKPHONE_UPTIME", d.join("uptime"))
        .output()
        .unwrap();
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let uptime = read(d.join("uptime"))
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        rauc: read(d.join("rauc.log")),
        systemctl: read(d.join("systemctl.log")),
        uptime,
    }
}

fn script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn a_confirmed_boot_is_left_alone() {
    let r = run("300", 20, 5, &[Some(rauc_status("A", "good", "bad"))]);
    assert_eq!(r.status, 0, "{}", r.output);
    assert!(
        r.output
            .contains("deskphone-boot-check: slot A confirmed (20 s after boot)"),
        "{}",
        r.output
    );
    assert!(!r.rauc.contains("mark"), "{}", r.rauc);
    assert_eq!(r.systemctl, "");
}

#[test]
fn it_waits_for_the_confirmation_and_then_leaves() {
    // Booted from B after an update; provd confirms it on the third look.
    let trial = rauc_status("B", "good", "bad");
    let r = run(
        "300",
        20,
        10,
        &[
            Some(trial.clone()),
            Some(trial),
            Some(rauc_status("B", "good", "good")),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.output);
    assert!(
        r.output.contains("slot B confirmed (40 s after boot)"),
        "{}",
        r.output
    );
    assert!(!r.rauc.contains("mark"), "{}", r.rauc);
    assert_eq!(r.systemctl, "");
}

#[test]
fn an_unconfirmed_boot_is_marked_bad_at_the_deadline_and_the_phone_reboots() {
    let r = run("60", 20, 10, &[Some(rauc_status("B", "good", "bad"))]);
    assert_eq!(r.status, 0, "{}", r.output);
    assert!(
        r.output.contains(
            "slot B not confirmed within 60 s of boot; marking it bad and rebooting into slot A"
        ),
        "{}",
        r.output
    );
    assert!(
        r.rauc.lines().any(|l| l == "status mark-bad booted"),
        "{}",
        r.rauc
    );
    assert_eq!(r.systemctl.trim(), "reboot");
    // Not before the deadline: the last look was at 60 s or later.
    assert!(r.uptime >= 60, "decided at {} s", r.uptime);
    assert!(r.uptime <= 80, "decided late, at {} s", r.uptime);
}

#[test]
fn without_a_good_slot_to_fall_back_to_it_stays() {
    // A phone whose only slot never gets confirmed: rebooting would only loop.
    let r = run("60", 20, 10, &[Some(rauc_status("A", "bad", "bad"))]);
    assert_eq!(r.status, 1, "{}", r.output);
    assert!(
        r.output.contains("no other slot is good; staying on it"),
        "{}",
        r.output
    );
    assert!(!r.rauc.contains("mark"), "{}", r.rauc);
    assert_eq!(r.systemctl, "");
}

#[test]
fn when_rauc_cannot_tell_it_does_nothing() {
    let r = run("60", 20, 10, &[None]);
    assert_eq!(r.status, 1, "{}", r.output);
    assert!(r.output.contains("rauc status failed"), "{}", r.output);
    assert!(r.output.contains("slot state unknown"), "{}", r.output);
    assert!(!r.rauc.contains("mark"), "{}", r.rauc);
    assert_eq!(r.systemctl, "");
}

#[test]
fn a_deadline_that_is_not_a_number_is_the_default() {
    let r = run("soon", 250, 10, &[Some(rauc_status("B", "good", "bad"))]);
    assert!(
        r.output
            .contains("DESKPHONE_BOOT_DEADLINE=soon is not a number of seconds; using 300"),
        "{}",
        r.output
    );
    assert_eq!(r.systemctl.trim(), "reboot");
    assert!((300..=320).contains(&r.uptime), "decided at {} s", r.uptime);
}

#[test]
fn the_script_passes_shellcheck() {
    let out = Command::new("shellcheck")
        .arg(workspace().join(SCRIPT))
        .output()
        .expect("shellcheck (package shellcheck)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
