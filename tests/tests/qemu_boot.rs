//! The test image booted in QEMU: DHCP, TFTP provisioning, the phone's services (mediad on the
//! sound card), the read-only root and the data partition, the phone's hardware as the
//! services will see it, and a power cut.

use std::time::{Duration, Instant};

use deskphone_e2e::qemu::{image, report, QemuPhone, HOST_ADDR};
use deskphone_e2e::write_tree;
use serde_json::Value;

/// TCG emulation on two cores, possibly while other tests compile or run.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

fn param(status: &Value, name: &str) -> (Value, String) {
    let p = &status["configuration"][name];
    (
        p["value"].clone(),
        p["source"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn boots_provisions_over_dhcp_and_tftp_and_survives_a_power_cut() {
    let test_start = Instant::now();
    let image = image();
    let tree = tempfile::tempdir().unwrap();
    write_tree(
        tree.path(),
        &[
            (
                "SIPDefault.cnf",
                "# qemu_boot test\nproxy1_address: 10.0.2.99\nmessages_uri: 4242\n",
            ),
            ("SIP525400123456.cnf", "line1_name: \"qemu-7001\"\n"),
        ],
    );
    let mut phone = QemuPhone::new("qemu_boot", tree.path());

    // Power on. provd is Type=notify and ready once its first provisioning is done.
    phone.boot();
    let (_, provisioned) = phone.wait_ready(BOOT_TIMEOUT);
    report(&format!(
        "boot 1: QEMU start to provisioning done: {:.1} s",
        provisioned.as_secs_f64()
    ));

    let s = phone.wait_provisioned(Duration::from_secs(60));
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s:#}");
    assert_eq!(s["mac"], "525400123456");
    assert!(
        s["provisioning"]["server"]
            .as_str()
            .is_some_and(|v| v.contains(HOST_ADDR)),
        "server from DHCP option 66: {}",
        s["provisioning"]["server"]
    );
    assert_eq!(
        param(&s, "messages_uri"),
        ("4242".into(), "SIPDefault.cnf:3".into())
    );
    assert_eq!(
        param(&s, "proxy1_address"),
        ("10.0.2.99".into(), "SIPDefault.cnf:2".into())
    );
    assert_eq!(
        param(&s, "line1_name"),
        ("qemu-7001".into(), "SIP525400123456.cnf:1".into())
    );
    assert_eq!(s["versions"]["firmware"], image.version.as_str());

    // netd's DHCP client handed the server over (option 66 from QEMU's tftp-server-name),
    // applied the lease, wrote the resolver's file and named the phone SIP<MAC>.
    let net = &s["network"];
    assert_eq!(net["addressing"], "dhcp", "{net:#}");
    assert_eq!(net["dhcp"]["tftp_server_name"], HOST_ADDR, "{net:#}");
    assert_eq!(net["dhcp"]["server"], HOST_ADDR, "{net:#}");
    let address = net["address"].as_str().unwrap_or_default().to_string();
    assert!(address.starts_with("10.0.2."), "{net:#}");
    assert_eq!(param(&s, "dhcp_server").0, HOST_ADDR);
    let ip = phone.sh_ok("ip -4 -o addr show dev eth0");
    assert!(ip.contains(&address), "{ip}");
    let resolv = phone.sh_ok("cat /etc/resolv.conf");
    assert!(resolv.contains("nameserver 10.0.2.3"), "{resolv}");
    assert_eq!(phone.sh_ok("hostname").trim(), "SIP525400123456");

    // Every unit came up.
    let state = phone.sh("systemctl is-system-running --wait");
    let failed = phone.sh_ok("systemctl --failed --no-legend --plain");
    assert_eq!(state.output.trim(), "running", "failed units: {failed}");
    let active =
        phone.sh("systemctl is-active provd.service sipd.service mediad.service netd.service");
    assert_eq!(
        active.output.split_whitespace().collect::<Vec<_>>(),
        ["active"; 4],
        "provd, sipd, mediad, netd: {}",
        active.output
    );

    // mediad drives the sound card (QEMU's HDA) from its sandbox, as a member of audio, and
    // phonectl shows its state.
    let groups = phone.sh_ok("id -nG deskphone-mediad");
    assert!(
        groups.split_whitespace().any(|g| g == "audio"),
        "deskphone-mediad's groups: {groups}"
    );
    let audio = phone.status()["audio"].clone();
    assert!(audio.is_object(), "no audio object from mediad: {audio}");
    assert_eq!(audio["path"], "handset", "{audio}");
    assert_eq!(
        audio["device_error"],
        Value::Null,
        "mediad cannot use the sound card: {audio}\n{}",
        phone.sh_ok("journalctl -u mediad.service --no-pager | tail -20")
    );

    // Slot A, root read-only squashfs; provd's state on the data partition.
    let cmdline = phone.sh_ok("cat /proc/cmdline");
    assert!(cmdline.contains("rauc.slot=A"), "{cmdline}");
    assert!(cmdline.contains("root=PARTLABEL=rootfs-a"), "{cmdline}");
    let root = phone.sh_ok("findmnt -n -o FSTYPE,OPTIONS /");
    assert!(root.starts_with("squashfs"), "{root}");
    assert!(root
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split(',')
        .any(|o| o == "ro"));
    assert_ne!(
        phone.sh("touch /usr/bin/x").status,
        0,
        "the root must be read-only"
    );
    let data = phone.sh_ok("findmnt -n -o SOURCE,TARGET,FSTYPE -T /var/lib/deskphone/provd");
    let data: Vec<&str> = data.split_whitespace().collect();
    assert_eq!(data[1..], ["/var/lib/deskphone", "ext4"]);
    assert_eq!(
        phone
            .sh_ok("readlink -f /dev/disk/by-partlabel/data")
            .trim(),
        data[0]
    );
    assert_ne!(
        phone.sh_ok("ls /var/lib/deskphone/provd/flash").trim(),
        "",
        "provd's flash store is on the data partition"
    );
    assert_eq!(
        phone.sh_ok("cat /etc/deskphone/image_version").trim(),
        image.version
    );
    // provd confirmed the healthy boot to the bootloader: slot A is good.
    let rauc = phone.sh_ok("rauc status --detailed --output-format=json 2>/dev/null");
    let rauc: Value = serde_json::from_str(&rauc).unwrap();
    assert_eq!(rauc["booted"], "A", "{rauc:#}");
    assert_eq!(rauc["compatible"], "deskphone-qemu-x86_64");
    let booted_slot = rauc["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_object()?.values().next())
        .find(|s| s["bootname"] == "A")
        .cloned()
        .unwrap_or_default();
    assert_eq!(booted_slot["boot_status"], "good", "{rauc:#}");

    // The hardware the UI and media daemon will use: framebuffer, keyboard, sound card.
    assert_eq!(phone.sh("test -c /dev/fb0").status, 0, "/dev/fb0");
    let cards = phone.sh_ok("cat /proc/asound/cards");
    assert!(cards.contains("HDA-Intel"), "{cards}");
    let kbd = phone
        .sh_ok("grep -l 'QEMU Virtio Keyboard' /sys/class/input/event*/device/name")
        .trim()
        .replace("/device/name", "")
        .replace("/sys/class/input/", "/dev/input/");
    assert!(kbd.starts_with("/dev/input/event"), "{kbd}");
    // A key pressed through QMP reaches evdev: press and release are 2 events of 24 bytes,
    // each followed by a sync event.
    // (All of the reader's descriptors away from the shell's, or sh() would wait for it.)
    phone.sh_ok(&format!(
        "rm -f /tmp/keys; (timeout 60 head -c 96 {kbd} >/tmp/keys 2>/dev/null </dev/null &)"
    ));
    let mut qmp = phone.qmp();
    // The reader may not have opened the device yet when the first key goes: press again
    // until it has its 96 bytes.
    let got = (0..20)
        .map(|_| {
            qmp.press_key("a").unwrap();
            std::thread::sleep(Duration::from_millis(500));
            phone
                .sh_ok("stat -c %s /tmp/keys")
                .trim()
                .parse::<u32>()
                .unwrap()
        })
        .find(|&n| n >= 96);
    assert_eq!(got, Some(96), "key events from QMP on {kbd}");
    let shot = phone.dir.join("screen.ppm");
    qmp.screendump(&shot).unwrap();
    let ppm = std::fs::read(&shot).unwrap();
    assert!(ppm.starts_with(b"P6\n"), "a PPM screenshot");

    // Leave a mark on the data partition (synced, as provd syncs its flash store), then cut
    // the power without any shutdown.
    phone.sh_ok("echo before-the-cut > /var/lib/deskphone/power-cut-marker && sync");
    phone.power_cut();

    // The phone-specific file disappears from the server: line1_name must now come from the
    // flash store that provd wrote on the data partition before the power cut.
    std::fs::remove_file(tree.path().join("SIP525400123456.cnf")).unwrap();
    phone.boot();
    let (_, provisioned) = phone.wait_ready(BOOT_TIMEOUT);
    report(&format!(
        "boot 2 (after the power cut): QEMU start to provisioning done: {:.1} s",
        provisioned.as_secs_f64()
    ));
    let s = phone.wait_provisioned(Duration::from_secs(60));
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s:#}");
    assert_eq!(
        param(&s, "line1_name"),
        ("qemu-7001".into(), "flash".into())
    );
    assert_eq!(
        param(&s, "messages_uri"),
        ("4242".into(), "SIPDefault.cnf:3".into())
    );
    assert_eq!(
        phone
            .sh_ok("cat /var/lib/deskphone/power-cut-marker")
            .trim(),
        "before-the-cut"
    );
    let cmdline = phone.sh_ok("cat /proc/cmdline");
    assert!(cmdline.contains("rauc.slot=A"), "{cmdline}");

    let disk = std::fs::metadata(&image.disk).unwrap();
    let rootfs = std::fs::metadata(&image.rootfs).unwrap();
    report(&format!(
        "image: root filesystem {:.1} MiB, disk {:.0} MiB ({:.1} MiB allocated); test took {:.1} s",
        rootfs.len() as f64 / 1048576.0,
        disk.len() as f64 / 1048576.0,
        std::os::unix::fs::MetadataExt::blocks(&disk) as f64 * 512.0 / 1048576.0,
        test_start.elapsed().as_secs_f64()
    ));
}
