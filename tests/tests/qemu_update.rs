//! Firmware updates in the booted image (QEMU): `image_version` names a signed RAUC bundle on
//! the TFTP server, provd downloads, verifies and installs it into the other slot and reboots;
//! the new slot stays only once it is confirmed healthy.
//!
//! - an upgrade boots the other slot with the new version, is confirmed once its line is
//!   registered (to Kamailio on the host), and stays there after a power cut;
//! - a bundle signed by a foreign key, and one whose version is not its name, are refused;
//! - a version whose services never become healthy is rolled back by the boot deadline
//!   (`deskphone-boot-check.service`) and not tried again;
//! - a power cut while downloading and while RAUC writes the slot leaves a phone that boots
//!   the old slot and updates at the next boot;
//! - `phonectl resync` reboots only when syncinfo.xml's sync value changes, and that reboot
//!   picks up a new `image_version` as a power-on does.
//!
//! The tests share the image build of the run (and xtask's cache of the bundles' root
//! filesystems) and boot one phone at a time: QEMU under TCG on two cores is the bottleneck,
//! and the phone's own timers (boot deadline, TFTP, watchdog) should not run on a starved
//! machine. Each test reports its phases and its duration.

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deskphone_e2e::qemu::{bundle_into, image, report, QemuPhone, HOST_ADDR, REBOOT_PATTERN};
use deskphone_e2e::sip::Kamailio;
use deskphone_e2e::write_tree;
use serde_json::Value;
use xtask::build::{Signer, Variant};

/// The version the test image runs.
const V1: &str = xtask::DEFAULT_VERSION;
/// A newer image (the same software, another version).
const V2: &str = "deskphone-e2e-v2";
/// An image whose provd exits at once: nothing ever confirms its boot.
const BROKEN: &str = "deskphone-e2e-broken";
/// The boot deadline of the broken image (the shipped default is 300 s).
const BROKEN_DEADLINE: u32 = 60;

/// TCG emulation on two cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// Download (~100 MiB over QEMU's TFTP), verification, installation, restart.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(600);

/// One QEMU phone at a time (see the module documentation).
fn one_phone_at_a_time() -> MutexGuard<'static, ()> {
    static QEMU: Mutex<()> = Mutex::new(());
    QEMU.lock().unwrap_or_else(|p| p.into_inner())
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The provisioning files: `image_version` and whatever else the test needs.
fn sip_default(tree: &Path, image_version: &str, extra: &str) {
    write_tree(
        tree,
        &[(
            "SIPDefault.cnf",
            &format!("# qemu_update test\nimage_version: {image_version}\nproxy1_address: 10.0.2.99\n{extra}"),
        )],
    );
}

/// Waits for provd's start (provisioning and the firmware decision done), logged in on the
/// serial console; reports and returns the time from power-on (or restart) to then.
fn up(phone: &mut QemuPhone, what: &str) -> Duration {
    let (kernel, t) = phone.wait_ready(BOOT_TIMEOUT);
    report(&format!(
        "{what}: start to provisioning done: {} (kernel after {})",
        secs(t),
        secs(kernel)
    ));
    t
}

fn firmware_messages(s: &Value) -> Vec<String> {
    s["status_messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect()
}

fn has_message(s: &Value, needle: &str) -> bool {
    firmware_messages(s).iter().any(|m| m.contains(needle))
}

/// RAUC's view: the booted slot and each slot's boot status, by bootname.
fn slots(phone: &mut QemuPhone) -> (String, Vec<(String, String)>) {
    let out = phone.sh_ok("rauc status --detailed --output-format=json 2>/dev/null");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut slots: Vec<(String, String)> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_object()?.values().next().cloned())
        .map(|s| {
            (
                s["bootname"].as_str().unwrap_or("?").to_string(),
                s["boot_status"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    slots.sort();
    (v["booted"].as_str().unwrap_or("?").to_string(), slots)
}

fn boot_status(slots: &[(String, String)], name: &str) -> String {
    slots
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

/// The slot named on the kernel command line, and the image's version file.
fn running(phone: &mut QemuPhone) -> (String, String) {
    let cmdline = phone.sh_ok("cat /proc/cmdline");
    let slot = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rauc.slot="))
        .unwrap_or("?")
        .to_string();
    let version = phone
        .sh_ok("cat /etc/deskphone/image_version")
        .trim()
        .to_string();
    (slot, version)
}

/// Firmware states while an update is under way.
/// (`trial`: a new version's first boot, until provd confirms it healthy.)
const BUSY: &[&str] = &[
    "starting",
    "downloading",
    "verifying",
    "installing",
    "trial",
];

/// The line `Firmware update  STATE [N %]: MESSAGE` of `phonectl status` (small: polled).
fn firmware_state(line: &str) -> String {
    line.split_whitespace()
        .nth(2)
        .unwrap_or("?")
        .trim_end_matches(':')
        .to_string()
}

/// Follows an update from provd's start to the restart into the new slot, polling
/// `phonectl status`. Panics if the update ends any other way. Reports the phases as seen
/// from the outside (to a second or so).
fn follow_update(phone: &mut QemuPhone, bundle: &str) {
    let start = Instant::now();
    let mut seen: Vec<(String, Duration)> = Vec::new();
    let mut last = String::new();
    while let Some(out) = phone.sh_unless_reboot(
        "phonectl status 2>&1 | grep '^Firmware update' || true",
        Duration::from_secs(60),
    ) {
        let line = out.output.trim().to_string();
        let state = firmware_state(&line);
        if !line.is_empty() && !seen.iter().any(|(s, _)| *s == state) {
            seen.push((state.clone(), start.elapsed()));
        }
        if !line.is_empty() && !BUSY.contains(&state.as_str()) && state != "rebooting" {
            panic!("the update of {bundle} ended in {state:?}: {line}");
        }
        last = line;
        assert!(
            start.elapsed() < UPDATE_TIMEOUT,
            "no restart after {UPDATE_TIMEOUT:?}; last: {last}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let total = start.elapsed();
    let at = |s: &str| seen.iter().find(|(x, _)| x == s).map(|(_, t)| *t);
    let phases = match (at("downloading"), at("verifying").or(at("installing"))) {
        (Some(d), Some(v)) => format!(
            "download {} (first seen downloading at {}), check + install + restart {}",
            secs(v.saturating_sub(d)),
            secs(d),
            secs(total.saturating_sub(v))
        ),
        _ => format!("states seen: {seen:?}"),
    };
    report(&format!(
        "update to {bundle}: restart {} after provd started ({phases}); last state: {last}",
        secs(total)
    ));
}

/// Polls `phonectl status --json` until the firmware state is no longer busy; the phone must
/// not restart meanwhile.
fn settled_firmware(phone: &mut QemuPhone) -> Value {
    let start = Instant::now();
    loop {
        let out = phone
            .sh_unless_reboot("phonectl status --json", Duration::from_secs(60))
            .unwrap_or_else(|| panic!("the phone restarted; it should not have"));
        if out.status == 0 {
            let s: Value = serde_json::from_str(&out.output)
                .unwrap_or_else(|e| panic!("phonectl status: {e}: {}", out.output));
            let state = s["firmware"]["state"].as_str().unwrap_or("?");
            if !BUSY.contains(&state) {
                return s;
            }
        }
        assert!(
            start.elapsed() < UPDATE_TIMEOUT,
            "the firmware state did not settle: {}",
            out.output
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn boot_id(phone: &mut QemuPhone) -> String {
    phone
        .sh_ok("cat /proc/sys/kernel/random/boot_id")
        .trim()
        .to_string()
}

/// A key pair the phone does not trust.
fn foreign_signer(dir: &Path) -> Signer {
    let key = dir.join("foreign.key.pem");
    let cert = dir.join("foreign.cert.pem");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args([
            "-days",
            "30",
            "-subj",
            "/O=somebody else/CN=not the phone's key",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Signer { key, cert }
}

#[test]
fn upgrade_boots_the_other_slot_with_the_new_version_and_stays_there() {
    let _one = one_phone_at_a_time();
    let test_start = Instant::now();
    image();
    let tree = tempfile::tempdir().unwrap();
    sip_default(tree.path(), V2, "");
    // A line that registers to Kamailio on the host: the new version is healthy only once it
    // is registered.
    let kam = Kamailio::start(&[("1001", "secret1001")]);
    write_tree(
        tree.path(),
        &[(
            "SIP525400123456.cnf",
            &format!(
                "proxy1_address: {HOST_ADDR}\nproxy1_port: {}\nproxy_register: 1\nline1_name: 1001\nline1_authname: 1001\nline1_password: secret1001\n",
                kam.addr.port()
            ),
        )],
    );
    bundle_into(tree.path(), V2, Variant::default(), None);
    let mut phone = QemuPhone::new("qemu_update_upgrade", tree.path());

    phone.boot();
    up(&mut phone, "boot 1 (V1, slot A)");
    follow_update(&mut phone, V2);

    up(&mut phone, "boot 2 (V2, slot B)");
    let s = settled_firmware(&mut phone);
    let fw = &s["firmware"];
    assert_eq!(fw["running"], V2, "{s:#}");
    assert_eq!(fw["wanted"], V2, "{s:#}");
    assert_eq!(fw["state"], "up_to_date", "{s:#}");
    assert_eq!(s["versions"]["firmware"], V2);
    assert!(
        has_message(
            &s,
            &format!("firmware {V2} started and is healthy (provisioned, line 1 registered)")
        ),
        "{:#?}",
        firmware_messages(&s)
    );
    assert!(
        kam.contacts().iter().any(|c| c.aor == "1001"),
        "{:?}",
        kam.contacts()
    );
    assert_eq!(running(&mut phone), ("B".into(), V2.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "B");
    assert_eq!(boot_status(&states, "B"), "good", "{states:?}");
    assert_eq!(
        boot_status(&states, "A"),
        "good",
        "the old slot stays as the fallback"
    );
    // The boot deadline saw the confirmation and left.
    phone.wait_console("deskphone-boot-check: slot B confirmed", BOOT_TIMEOUT);
    assert!(!phone.console_has("not confirmed"), "{}", phone.console());

    // A power cut right away (no sync of our own): the confirmation is already durable, and
    // the phone comes back on V2 without fetching anything.
    phone.power_cut();
    phone.boot();
    up(&mut phone, "boot 3 (after a power cut)");
    let s = phone.wait_provisioned(Duration::from_secs(60));
    assert_eq!(s["firmware"]["running"], V2, "{s:#}");
    assert_eq!(s["firmware"]["state"], "up_to_date", "{s:#}");
    assert_eq!(running(&mut phone), ("B".into(), V2.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "B");
    assert_eq!(boot_status(&states, "B"), "good", "{states:?}");

    report(&format!("test upgrade: {}", secs(test_start.elapsed())));
}

#[test]
fn a_foreign_signature_or_a_version_that_is_not_its_name_is_refused() {
    let _one = one_phone_at_a_time();
    let test_start = Instant::now();
    image();
    let tree = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    sip_default(tree.path(), V2, "");
    bundle_into(
        tree.path(),
        V2,
        Variant::default(),
        Some(foreign_signer(keys.path())),
    );
    let mut phone = QemuPhone::new("qemu_update_refusals", tree.path());

    // 1. Signed by a key the phone does not trust.
    phone.boot();
    up(&mut phone, "boot 1 (foreign signature)");
    let boot = boot_id(&mut phone);
    let s = settled_firmware(&mut phone);
    let fw = &s["firmware"];
    assert_eq!(fw["state"], "refused", "{s:#}");
    let msg = fw["message"].as_str().unwrap();
    assert!(msg.contains(&format!("{V2}.bin refused")), "{msg}");
    assert!(msg.contains("signature"), "{msg}");
    assert!(msg.contains(&format!("keeping {V1}")), "{msg}");
    assert!(has_message(&s, msg), "{:#?}", firmware_messages(&s));
    report(&format!("refusal 1: {msg}"));
    assert_eq!(fw["running"], V1);
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "A");
    assert_eq!(boot_status(&states, "A"), "good");
    assert_ne!(boot_status(&states, "B"), "good", "nothing was installed");
    assert_eq!(boot_id(&mut phone), boot, "no reboot");
    assert!(!phone.console_has(REBOOT_PATTERN));
    assert_eq!(
        phone
            .sh_ok("ls -A /var/lib/deskphone/provd/firmware")
            .trim(),
        "",
        "the refused bundle is not kept"
    );

    // 2. A good V2 bundle offered as V3: its version is not its name.
    let v3 = "deskphone-e2e-v3";
    let good = bundle_into(keys.path(), V2, Variant::default(), None);
    std::fs::copy(&good.path, tree.path().join(format!("{v3}.bin"))).unwrap();
    std::fs::remove_file(tree.path().join(format!("{V2}.bin"))).unwrap();
    sip_default(tree.path(), v3, "");
    phone.power_cut();
    phone.boot();
    up(&mut phone, "boot 2 (version mismatch)");
    let boot = boot_id(&mut phone);
    let s = settled_firmware(&mut phone);
    let fw = &s["firmware"];
    assert_eq!(fw["state"], "refused", "{s:#}");
    let msg = fw["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("carries version {V2}, not {v3}")),
        "{msg}"
    );
    assert!(has_message(&s, msg), "{:#?}", firmware_messages(&s));
    report(&format!("refusal 2: {msg}"));
    assert_eq!(fw["running"], V1);
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "A");
    assert_ne!(boot_status(&states, "B"), "good", "nothing was installed");
    assert_eq!(boot_id(&mut phone), boot, "no reboot");
    assert!(!phone.console_has(REBOOT_PATTERN));

    report(&format!("test refusals: {}", secs(test_start.elapsed())));
}

#[test]
fn a_version_that_never_becomes_healthy_falls_back_and_is_not_tried_again() {
    let _one = one_phone_at_a_time();
    let test_start = Instant::now();
    image();
    let tree = tempfile::tempdir().unwrap();
    sip_default(tree.path(), BROKEN, "");
    bundle_into(
        tree.path(),
        BROKEN,
        Variant {
            break_services: true,
            boot_deadline: Some(BROKEN_DEADLINE),
        },
        None,
    );
    let mut phone = QemuPhone::new("qemu_update_rollback", tree.path());

    phone.boot();
    up(&mut phone, "boot 1 (V1, slot A)");
    follow_update(&mut phone, BROKEN);

    // The trial boot: slot B, where provd fails, so nothing confirms the boot...
    phone.wait_console("rauc.slot=B", BOOT_TIMEOUT);
    // ...until the boot deadline marks the slot bad and restarts the phone.
    phone.wait_console(
        &format!(
            "deskphone-boot-check: slot B not confirmed within {BROKEN_DEADLINE} s of boot; marking it bad and rebooting into slot A"
        ),
        BOOT_TIMEOUT,
    );
    let t = phone.since_boot();
    phone.wait_reboot(Duration::from_secs(120));
    report(&format!(
        "boot 2 ({BROKEN}, slot B): fallback decided {} after the restart into it",
        secs(t)
    ));

    // Back on slot A, which says why.
    up(&mut phone, "boot 3 (back on V1, slot A)");
    let s = phone.wait_provisioned(Duration::from_secs(60));
    let fw = &s["firmware"];
    assert_eq!(fw["running"], V1, "{s:#}");
    assert_eq!(fw["state"], "skipped", "{s:#}");
    let why = format!("firmware {BROKEN} did not become healthy; the phone went back to {V1}");
    assert!(has_message(&s, &why), "{:#?}", firmware_messages(&s));
    assert!(
        fw["message"].as_str().unwrap().contains(&why),
        "{}",
        fw["message"]
    );
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "A");
    assert_eq!(boot_status(&states, "A"), "good", "{states:?}");
    assert_eq!(boot_status(&states, "B"), "bad", "{states:?}");
    report(&format!("fallback reported: {}", fw["message"]));

    // The next boot does not try that version again.
    phone.power_cut();
    phone.boot();
    up(&mut phone, "boot 4 (after a power cut)");
    let s = phone.wait_provisioned(Duration::from_secs(60));
    let fw = &s["firmware"];
    assert_eq!(fw["state"], "skipped", "{s:#}");
    assert!(
        fw["message"].as_str().unwrap().contains(&format!(
            "image_version {BROKEN} failed on this phone before"
        )),
        "{}",
        fw["message"]
    );
    assert!(
        !has_message(&s, &format!("fetching {BROKEN}.bin")),
        "{:#?}",
        firmware_messages(&s)
    );
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    assert!(!phone.console_has(REBOOT_PATTERN));

    report(&format!("test rollback: {}", secs(test_start.elapsed())));
}

#[test]
fn a_power_cut_while_downloading_or_installing_boots_the_old_slot_and_updates_later() {
    let _one = one_phone_at_a_time();
    let test_start = Instant::now();
    image();
    let tree = tempfile::tempdir().unwrap();
    sip_default(tree.path(), V2, "");
    let bundle = bundle_into(tree.path(), V2, Variant::default(), None);
    let mut phone = QemuPhone::new("qemu_update_power_cuts", tree.path());

    // 1. While downloading: once a third of the bundle is on the data partition.
    phone.boot();
    up(&mut phone, "boot 1 (V1)");
    let third = bundle.size / 3;
    let got = phone.sh_timeout(
        &format!(
            "f=/var/lib/deskphone/provd/firmware/{V2}.bin; \
             while [ \"$(stat -c %s $f 2>/dev/null || echo 0)\" -lt {third} ]; do sleep 0.1; done; \
             stat -c %s $f; phonectl status | grep '^Firmware update'"
        ),
        UPDATE_TIMEOUT,
    );
    phone.power_cut();
    assert_eq!(got.status, 0, "{}", got.output);
    assert!(got.output.contains("downloading"), "{}", got.output);
    report(&format!(
        "power cut 1 while downloading: {} of {} bytes ({})",
        got.output.lines().next().unwrap_or("?"),
        bundle.size,
        got.output.lines().nth(1).unwrap_or("?")
    ));

    // 2. While RAUC writes slot B: once 8 MiB went to its partition. (A busy loop of shell
    // builtins: the write takes a few seconds, and the cut must come before its end.)
    phone.boot();
    up(&mut phone, "boot 2 (after cut 1)");
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    let got = phone.sh_timeout(
        "s=/sys/class/block/$(basename \"$(readlink -f /dev/disk/by-partlabel/rootfs-b)\")/stat; \
         w=0; while [ \"$w\" -lt 16384 ]; do read -r _ _ _ _ _ _ w _ < $s; done; echo $w",
        UPDATE_TIMEOUT,
    );
    phone.power_cut();
    assert_eq!(got.status, 0, "{}", got.output);
    let written_mib = got.output.trim().parse::<u64>().unwrap() / 2048;
    let image_mib = std::fs::metadata(&bundle.path).unwrap().len() / 1048576;
    assert!(
        written_mib < image_mib * 3 / 4,
        "the cut came late: {written_mib} MiB of about {image_mib} MiB were written"
    );
    report(&format!(
        "power cut 2 while RAUC wrote slot B: {written_mib} MiB of about {image_mib} MiB written"
    ));

    // The old slot boots; the half-written one is not bootable; the update starts again.
    phone.boot();
    up(&mut phone, "boot 3 (after cut 2)");
    assert_eq!(running(&mut phone), ("A".into(), V1.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "A");
    assert_eq!(boot_status(&states, "A"), "good", "{states:?}");
    assert_eq!(
        boot_status(&states, "B"),
        "bad",
        "a half-written slot must not boot: {states:?}"
    );
    follow_update(&mut phone, V2);

    up(&mut phone, "boot 4 (V2, slot B)");
    let s = settled_firmware(&mut phone);
    assert_eq!(s["firmware"]["running"], V2, "{s:#}");
    assert_eq!(s["firmware"]["state"], "up_to_date", "{s:#}");
    assert_eq!(running(&mut phone), ("B".into(), V2.into()));
    let (booted, states) = slots(&mut phone);
    assert_eq!(booted, "B");
    assert_eq!(boot_status(&states, "B"), "good", "{states:?}");

    report(&format!("test power cuts: {}", secs(test_start.elapsed())));
}

/// `phonectl resync` where no reboot is expected: waits for provd's check-sync to finish and
/// returns its result.
fn resync(phone: &mut QemuPhone) -> String {
    let asked = Instant::now();
    phone.sh_ok("phonectl resync");
    loop {
        let s = phone.status();
        if s["resync"]["state"] == "idle" && !s["resync"]["last_result"].is_null() {
            return s["resync"]["last_result"].as_str().unwrap().to_string();
        }
        assert!(asked.elapsed() < Duration::from_secs(120), "{s:#}");
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn resync_reboots_only_for_a_new_sync_value_and_the_reboot_picks_up_image_version() {
    let _one = one_phone_at_a_time();
    let test_start = Instant::now();
    image();
    let tree = tempfile::tempdir().unwrap();
    let syncinfo = |sync: &str| {
        format!("<SYNCINFO>\n  <IMAGE VERSION=\"other-image\" SYNC=\"9\"/>\n  <IMAGE VERSION=\"*\" SYNC=\"{sync}\"/>\n</SYNCINFO>\n")
    };
    sip_default(tree.path(), V1, "");
    write_tree(tree.path(), &[("syncinfo.xml", &syncinfo("1"))]);
    let mut phone = QemuPhone::new("qemu_update_resync", tree.path());

    phone.boot();
    up(&mut phone, "boot 1 (V1)");
    let s = phone.wait_provisioned(Duration::from_secs(60));
    assert_eq!(s["firmware"]["state"], "up_to_date", "{s:#}");
    assert_eq!(s["resync"]["sync"], "1", "{s:#}");
    let boot = boot_id(&mut phone);

    // The same sync value: the idle wait, syncinfo.xml, no reboot.
    let asked = Instant::now();
    let result = resync(&mut phone);
    let waited = asked.elapsed();
    assert!(result.contains("sync value 1 unchanged"), "{result}");
    assert!(result.contains("no reboot"), "{result}");
    assert!(
        waited >= Duration::from_secs(20),
        "the 20 s idle wait: {waited:?}"
    );
    assert_eq!(boot_id(&mut phone), boot, "no reboot");
    assert!(!phone.console_has(REBOOT_PATTERN));
    report(&format!(
        "resync 1 (same sync): {} after phonectl resync: {result}",
        secs(waited)
    ));

    // A new sync value, and meanwhile a new image_version: the check-sync reboot fetches the
    // configuration again, as a power-on does, and updates.
    write_tree(tree.path(), &[("syncinfo.xml", &syncinfo("2"))]);
    sip_default(tree.path(), V2, "");
    bundle_into(tree.path(), V2, Variant::default(), None);
    let asked = Instant::now();
    phone.sh_ok("phonectl resync");
    let restart = phone.wait_reboot(Duration::from_secs(180));
    assert!(
        restart >= Duration::from_secs(20),
        "the 20 s idle wait: {restart:?}"
    );
    report(&format!(
        "resync 2 (new sync): restart {} after phonectl resync",
        secs(asked.elapsed())
    ));
    up(&mut phone, "boot 2 (after the check-sync reboot)");
    let s = phone.wait_provisioned(Duration::from_secs(60));
    assert_eq!(s["resync"]["sync"], "2", "{s:#}");
    assert_eq!(s["firmware"]["wanted"], V2, "{s:#}");
    follow_update(&mut phone, V2);

    up(&mut phone, "boot 3 (V2, slot B)");
    let s = settled_firmware(&mut phone);
    assert_eq!(s["firmware"]["running"], V2, "{s:#}");
    assert_eq!(s["firmware"]["state"], "up_to_date", "{s:#}");
    assert_eq!(running(&mut phone), ("B".into(), V2.into()));

    // syncinfo.xml unchanged since: no reboot.
    let boot = boot_id(&mut phone);
    let result = resync(&mut phone);
    assert!(result.contains("sync value 2 unchanged"), "{result}");
    assert_eq!(boot_id(&mut phone), boot, "no reboot");

    report(&format!("test resync: {}", secs(test_start.elapsed())));
}
