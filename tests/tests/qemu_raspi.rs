//! The aarch64 test image on QEMU's raspi3b: the Pi-class smoke boot (issue 3, test 7).
//!
//! The SD card of `cargo xtask image --arch aarch64` boots with slot A's kernel, device tree
//! and initramfs (QEMU stands in for the Pi firmware), gets DHCP and TFTP over the USB network
//! adapter, and provd provisions from the test's tree. Then: the phone's services are active,
//! the root is slot A's squashfs, the data partition is the card's seventh, provd confirmed
//! the boot to RAUC through the board's tryboot backend, and the USB keyboard is an evdev
//! device that receives keys sent through QMP. The screen: QEMU's raspi3b shows the
//! framebuffer the Pi firmware would set up, which the image's device tree describes
//! (`simple-framebuffer`, see `image/src/raspi.rs`); it is `/dev/fb0`, the test image names it
//! the phone's LCD, and the UI draws its idle screen there, which QMP's screendump sees, and
//! changes it for the Settings key pressed on the USB keyboard.

use std::time::{Duration, Instant};

use deskphone_e2e::qemu::{image_of, report, Arch, QemuPhone, Screendump, HOST_ADDR};
use deskphone_e2e::write_tree;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use serde_json::Value;
use xtask::raspi::FRAMEBUFFER;

/// TCG emulates the Pi's four cores on two host cores, possibly while other tests run.
const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

/// The phone-specific file of xtask's raspi3b MAC (`RASPI_MAC`).
const PHONE_FILE: &str = "SIPB827EB123456.cnf";

fn param(status: &Value, name: &str) -> (Value, String) {
    let p = &status["configuration"][name];
    (
        p["value"].clone(),
        p["source"].as_str().unwrap_or_default().to_string(),
    )
}

/// `(type, code, value)` of the input events in `od -An -v -tu2 -w24` output of an evdev
/// device (24-byte events on a 64-bit kernel: the time, then u16 type, u16 code, s32 value).
fn events(od: &str) -> Vec<(u16, u16, i32)> {
    od.lines()
        .filter_map(|l| {
            let w: Vec<u16> = l
                .split_whitespace()
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            (w.len() == 12).then(|| {
                (
                    w[8],
                    w[9],
                    (u32::from(w[11]) << 16 | u32::from(w[10])) as i32,
                )
            })
        })
        .collect()
}

/// `colour` as QEMU shows it from an RGB565 framebuffer: the display driver keeps each
/// channel's top bits (5, 6, 5), QEMU's bcm2835_fb shifts them back up with zeros below.
fn as_rgb565_shows(colour: Rgb888) -> [u8; 3] {
    [colour.r() & 0xf8, colour.g() & 0xfc, colour.b() & 0xf8]
}

/// The `(start, end)` of every `System RAM` range in `/proc/iomem` (as root: real addresses).
fn system_ram(iomem: &str) -> Vec<(u64, u64)> {
    iomem
        .lines()
        .filter(|l| l.trim_end().ends_with(": System RAM"))
        .filter_map(|l| {
            let (start, end) = l.trim().split(' ').next()?.split_once('-')?;
            Some((
                u64::from_str_radix(start, 16).ok()?,
                u64::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

/// When provd became ready (Type=notify: its first provisioning done), counted from QEMU's
/// start: systemd's monotonic timestamp of it, plus the time from QEMU's start to the kernel's
/// (from the uptime; the command's own run time makes this an upper bound).
fn provisioning_done(phone: &mut QemuPhone) -> Duration {
    let out = phone.sh_ok(
        "cut -d' ' -f1 /proc/uptime; systemctl show -P ActiveEnterTimestampMonotonic provd.service",
    );
    let after = phone.since_boot().as_secs_f64();
    let mut lines = out.lines().map(str::trim);
    let uptime: f64 = lines.next().and_then(|l| l.parse().ok()).expect(&out);
    let ready_us: u64 = lines.next().and_then(|l| l.parse().ok()).expect(&out);
    assert!(ready_us > 0, "provd never became active: {out}");
    Duration::from_secs_f64((after - uptime).max(0.0) + ready_us as f64 / 1e6)
}

#[test]
fn raspi3b_smoke_boot_the_services_start() {
    let test_start = Instant::now();
    let image = image_of(Arch::Aarch64);
    let built = test_start.elapsed();
    let tree = tempfile::tempdir().unwrap();
    write_tree(
        tree.path(),
        &[
            (
                "SIPDefault.cnf",
                "# qemu_raspi test\nproxy1_address: 10.0.2.98\nmessages_uri: 4343\n",
            ),
            (PHONE_FILE, "line1_name: \"raspi-7001\"\n"),
        ],
    );
    let mut phone = QemuPhone::with_arch(Arch::Aarch64, "qemu_raspi", tree.path());

    // systemd stops printing unit states on the console once the serial getty runs there,
    // which here is before provd is ready: log in and ask the phone instead.
    phone.boot();
    phone.login(BOOT_TIMEOUT);
    // phonectl would wait on provd's socket until provd answers, which is only once its
    // first provisioning is done: ask systemd first, which does not block.
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        let state = phone.sh("systemctl is-active provd.service").output;
        if state.trim() == "active" {
            break;
        }
        assert!(
            Instant::now() < deadline && ["activating", "inactive"].contains(&state.trim()),
            "provd.service: {state}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let s = phone.wait_provisioned(Duration::from_secs(60));
    let provisioned = provisioning_done(&mut phone);
    report(&format!(
        "raspi3b: QEMU start to provisioning done: {:.1} s",
        provisioned.as_secs_f64()
    ));
    assert_eq!(s["provisioning"]["state"], "provisioned", "{s:#}");
    assert_eq!(s["mac"], "B827EB123456");
    assert!(
        s["provisioning"]["server"]
            .as_str()
            .is_some_and(|v| v.contains(HOST_ADDR)),
        "server from DHCP option 66: {}",
        s["provisioning"]["server"]
    );
    assert_eq!(
        param(&s, "messages_uri"),
        ("4343".into(), "SIPDefault.cnf:3".into())
    );
    assert_eq!(
        param(&s, "proxy1_address"),
        ("10.0.2.98".into(), "SIPDefault.cnf:2".into())
    );
    assert_eq!(
        param(&s, "line1_name"),
        ("raspi-7001".into(), format!("{PHONE_FILE}:1"))
    );
    assert_eq!(s["versions"]["firmware"], image.version.as_str());

    // The Pi 3's Ethernet is a USB adapter too: QEMU's usb-net is eth0 (cdc_ether or
    // rndis_host on usbnet), brought up by the image's netd.
    let driver = phone.sh_ok("basename \"$(readlink /sys/class/net/eth0/device/driver)\"");
    assert!(
        ["cdc_ether", "rndis_host"].contains(&driver.trim()),
        "eth0's driver: {driver}"
    );
    assert_eq!(s["network"]["interface"], "eth0", "{:#}", s["network"]);
    assert_eq!(
        s["network"]["dhcp"]["tftp_server_name"], HOST_ADDR,
        "{:#}",
        s["network"]
    );

    // The phone's services are up; so is everything else.
    let active =
        phone.sh("systemctl is-active provd.socket provd.service netd.service dbus.service");
    assert_eq!(active.status, 0, "inactive services:\n{}", active.output);
    let state = phone.sh_timeout("systemctl is-system-running --wait", BOOT_TIMEOUT);
    let failed = phone.sh_ok("systemctl --failed --no-legend --plain");
    assert_eq!(state.output.trim(), "running", "failed units: {failed}");
    // mediad too, though raspi3b has no sound card for it; and the UI.
    let active = phone.sh("systemctl is-active sipd.service mediad.service ui.service");
    assert_eq!(active.status, 0, "inactive services:\n{}", active.output);

    // Slot A's read-only squashfs from the card, the data partition at its seventh partition.
    let cmdline = phone.sh_ok("cat /proc/cmdline");
    assert!(cmdline.contains("rauc.slot=A"), "{cmdline}");
    assert!(cmdline.contains("root=/dev/mmcblk0p5"), "{cmdline}");
    let root = phone.sh_ok("findmnt -n -o SOURCE,FSTYPE,OPTIONS /");
    let root: Vec<&str> = root.split_whitespace().collect();
    assert_eq!(root[..2], ["/dev/mmcblk0p5", "squashfs"], "{root:?}");
    assert!(root[2].split(',').any(|o| o == "ro"), "{root:?}");
    let data = phone.sh_ok("findmnt -n -o SOURCE,FSTYPE /var/lib/deskphone");
    assert_eq!(
        data.split_whitespace().collect::<Vec<_>>(),
        ["/dev/mmcblk0p7", "ext4"]
    );
    assert_ne!(
        phone.sh_ok("ls /var/lib/deskphone/provd/flash").trim(),
        "",
        "provd's flash store is on the data partition"
    );

    // provd confirmed the healthy boot; RAUC asked the tryboot backend, which knows the slot
    // from rauc.slot= on the command line (no firmware reports the boot partition here) and
    // keeps the states in autoboot.txt on the first partition.
    let rauc = phone.sh_ok("rauc status --detailed --output-format=json 2>/dev/null");
    let rauc: Value = serde_json::from_str(&rauc).unwrap();
    assert_eq!(rauc["booted"], "A", "{rauc:#}");
    assert_eq!(rauc["boot_primary"], "rootfs.0", "{rauc:#}");
    assert_eq!(rauc["compatible"], "deskphone-rpi");
    let slot = |bootname: &str| {
        rauc["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.as_object()?.values().next())
            .find(|s| s["bootname"] == bootname)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(slot("A")["boot_status"], "good", "{rauc:#}");
    assert_eq!(slot("B")["boot_status"], "bad", "slot B is empty: {rauc:#}");
    let autoboot = phone
        .sh_ok("d=$(mktemp -d) && mount -o ro /dev/mmcblk0p1 $d && cat $d/autoboot.txt; umount $d");
    assert!(autoboot.contains("boot_partition=2"), "{autoboot}");
    assert!(autoboot.contains("deskphone_slot_a=good"), "{autoboot}");

    // The USB keyboard is an evdev device, and keys sent through QMP arrive there.
    let kbd = phone
        .sh_ok("grep -l 'USB Keyboard' /sys/class/input/event*/device/name")
        .lines()
        .next()
        .unwrap_or_default()
        .replace("/device/name", "")
        .replace("/sys/class/input/", "/dev/input/");
    assert!(kbd.starts_with("/dev/input/event"), "{kbd}");
    phone.sh_ok(&format!(
        "rm -f /tmp/keys; (timeout 60 cat {kbd} >/tmp/keys 2>/dev/null </dev/null &)"
    ));
    let mut qmp = phone.qmp();
    // KEY_A (30) pressed (value 1) and released (0); the reader may start late: press again.
    let mut got = Vec::new();
    for _ in 0..20 {
        qmp.press_key("a").unwrap();
        std::thread::sleep(Duration::from_millis(700));
        got = events(&phone.sh_ok("od -An -v -tu2 -w24 /tmp/keys"));
        if got.contains(&(1, 30, 1)) && got.contains(&(1, 30, 0)) {
            break;
        }
    }
    assert!(
        got.contains(&(1, 30, 1)) && got.contains(&(1, 30, 0)),
        "KEY_A from QMP on {kbd}: {got:?}"
    );

    // QEMU's QMP socket takes one client at a time.
    drop(qmp);
    screen(&mut phone);

    let sizes: Vec<String> = [
        ("root filesystem", &image.rootfs),
        ("boot partition", &image.esp),
        ("SD card", &image.disk),
    ]
    .iter()
    .map(|(what, p)| {
        let m = std::fs::metadata(p).unwrap();
        format!(
            "{what} {:.1} MiB ({:.1} MiB allocated)",
            m.len() as f64 / 1048576.0,
            std::os::unix::fs::MetadataExt::blocks(&m) as f64 * 512.0 / 1048576.0
        )
    })
    .collect();
    report(&format!(
        "raspi3b image: {}; image ready in {:.1} s; test took {:.1} s",
        sizes.join(", "),
        built.as_secs_f64(),
        test_start.elapsed().as_secs_f64()
    ));
}

/// QEMU's framebuffer is `/dev/fb0` with the figures of the device tree, outside the memory
/// Linux uses, and the phone's LCD; the UI draws its idle screen there (what QEMU shows is
/// mostly the LCD background), and the Settings key (F5 on a PC keyboard, the built-in
/// keymap) changes screen and picture.
fn screen(phone: &mut QemuPhone) {
    let fb = FRAMEBUFFER;
    let sysfs = phone.sh_ok(
        "cd /sys/class/graphics/fb0 && cat name virtual_size bits_per_pixel stride && \
         readlink -f /dev/deskphone-lcd",
    );
    assert_eq!(
        sysfs.split_whitespace().collect::<Vec<_>>(),
        [
            "simple",
            &format!("{},{}", fb.width, fb.height),
            &(fb.bytes_per_pixel * 8).to_string(),
            &fb.stride().to_string(),
            "/dev/fb0",
        ],
        "fb0 (name, size, depth, stride) and the LCD's link"
    );
    let ram = system_ram(&phone.sh_ok("cat /proc/iomem"));
    let (fb_start, fb_end) = (u64::from(fb.base), u64::from(fb.base + fb.size()));
    assert!(!ram.is_empty(), "no System RAM in /proc/iomem");
    assert!(
        ram.iter().all(|&(s, e)| e < fb_start || s >= fb_end),
        "Linux uses the framebuffer's memory: {ram:x?}"
    );

    let wait = Duration::from_secs(120);
    let s = phone.wait_screen("idle", wait);
    let ui = &s["ui"];
    let display = ui["display"].as_str().unwrap_or_default();
    assert!(
        display.contains("/dev/deskphone-lcd") && display.contains("RGB565"),
        "the UI draws on the LCD, QEMU's framebuffer: {ui:#}"
    );
    assert!(
        ui["inputs"].as_array().is_some_and(|i| !i.is_empty()),
        "the UI reads the keyboard: {ui:#}"
    );
    let idle = phone.screendump("screen-idle");
    assert_eq!(
        (idle.width, idle.height),
        (fb.width as usize, fb.height as usize)
    );
    let background = as_rgb565_shows(deskphone_screen::render::Theme::LCD.background);
    let idle_bg = idle.share_of(background);
    assert!(
        idle_bg > 0.5,
        "QEMU's display shows the UI's idle screen: {idle_bg:.3} background {background:?}"
    );

    let pressed = Instant::now();
    phone.qmp().press_key("f5").unwrap();
    phone.wait_screen("settings", wait);
    let to_settings = pressed.elapsed();
    let settings: Screendump = phone.screendump("screen-settings");
    let changed = idle.pixels_differing(&settings);
    // More than a text cursor's worth: the picture is the settings menu now.
    assert!(
        changed > idle.width * idle.height / 100,
        "the display changed for the settings screen: {changed} pixels"
    );
    report(&format!(
        "raspi3b screen: /dev/fb0 simplefb {}x{} {} ({} bpp, stride {} B) at {:#x}, {} KiB; \
         UI: {display}; idle {idle_bg:.3} background; F5 to the settings screen in {:.1} s \
         (as phonectl polled it), {changed} pixels changed",
        fb.width,
        fb.height,
        fb.format,
        fb.bytes_per_pixel * 8,
        fb.stride(),
        fb.base,
        fb.size() / 1024,
        to_settings.as_secs_f64()
    ));
}

#[test]
fn system_ram_is_read_from_iomem() {
    let iomem = "00000000-3bffffff : System RAM\n  00210000-0154ffff : Kernel code\n\
                 3c100000-3c195fff : 3c100000.framebuffer\n3f000000-3f000fff : System RAM\n";
    assert_eq!(
        system_ram(iomem),
        vec![(0, 0x3bff_ffff), (0x3f00_0000, 0x3f00_0fff)]
    );
}

#[test]
fn rgb565_keeps_the_top_bits() {
    assert_eq!(
        as_rgb565_shows(Rgb888::new(0xc5, 0xcf, 0xb8)),
        [0xc0, 0xcc, 0xb8]
    );
}

#[test]
fn evdev_events_decode() {
    // KEY_A down, then a sync report, as `od -An -v -tu2 -w24` prints them.
    let od = " 1 0 0 0 2 0 0 0 1 30 1 0\n 1 0 0 0 2 0 0 0 0 0 0 0\n";
    assert_eq!(events(od), vec![(1, 30, 1), (0, 0, 0)]);
    assert_eq!(
        events(" 1 0 0 0 2 0 0 0 3 0 65535 65535\n"),
        vec![(3, 0, -1)]
    );
}
