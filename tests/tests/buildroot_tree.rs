//! The production Buildroot tree (`buildroot-overlay/`), checked without a Buildroot checkout:
//! the device-tree overlays it puts on the Pi's boot partitions (`drivers/overlays/dts`, whose
//! own tests check what is in them) compile and have their drivers in the kernel fragment, the
//! lamps' udev rule hands the LEDs to the UI, the Pi's tryboot RAUC backend keeps its contract
//! on a fake boot partition (power cuts included), the board scripts build real images and
//! signed bundles from stand-in kernels with the real genimage, veritysetup and RAUC, the
//! crates vendor and resolve offline, every script passes shellcheck, and the tree's structure
//! holds together (names, paths, symbols, referenced files, partitions, binaries, no private
//! keys).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use deskphone_e2e::workspace;
use serde_json::Value;

fn tree() -> PathBuf {
    workspace().join("buildroot-overlay")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn defconfigs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(tree().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_defconfig"))
        .collect();
    v.sort();
    v
}

/// `SYM=value` and `# SYM is not set` lines of a defconfig: symbol -> value ("n" when unset),
/// string values without their quotes.
fn defconfig_values(path: &Path) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in read(path).lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            if let Some(sym) = rest.strip_suffix(" is not set") {
                map.insert(sym.to_string(), "n".to_string());
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let (sym, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: not SYM=value: {line}", path.display()));
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        map.insert(sym.to_string(), value.to_string());
    }
    map
}

/// Replaces `$(BR2_EXTERNAL_DESKPHONE_PATH)` with the tree's path.
fn resolve(value: &str) -> PathBuf {
    PathBuf::from(value.replace("$(BR2_EXTERNAL_DESKPHONE_PATH)", tree().to_str().unwrap()))
}

// ---------------------------------------------------------------------------------------------
// Device-tree overlays

/// The overlays `post-image.sh` compiles: they live with the rest of the hardware support.
fn overlay_dir() -> PathBuf {
    workspace().join("drivers/overlays/dts")
}

fn overlays() -> Vec<PathBuf> {
    files_under(&overlay_dir())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("-overlay.dts"))
        .collect()
}

/// The phone's parts, each with its overlay `deskphone-<part>`.
const PHONE_OVERLAYS: [&str; 5] = ["hook", "keypad", "lcd", "codec", "lamps"];

fn compile_overlay(dts: &Path, out: &Path) -> Output {
    run(Command::new("dtc")
        .args(["-@", "-I", "dts", "-O", "dtb", "-o"])
        .arg(out)
        .arg(dts))
}

#[test]
fn overlays_compile_without_warnings() {
    let names: BTreeSet<String> = overlays()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in PHONE_OVERLAYS {
        assert!(
            names.contains(&format!("deskphone-{wanted}-overlay.dts")),
            "no {wanted} overlay in {names:?}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    for dts in overlays() {
        let out = compile_overlay(&dts, &tmp.path().join("o.dtbo"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "dtc -@ {}: {}\n{stderr}",
            dts.display(),
            out.status
        );
        // An overlay: it has fixups for the base tree's labels and exports its own.
        let listing = ok(Command::new("fdtget")
            .args(["-l"])
            .arg(tmp.path().join("o.dtbo"))
            .arg("/"));
        assert!(
            listing.contains("__fixups__") && listing.contains("__symbols__"),
            "{} is not compiled as an overlay: {listing}",
            dts.display()
        );
    }
}

#[test]
fn config_txt_enables_exactly_the_phone_overlays() {
    let config = read(&tree().join("board/raspberrypi/config.txt"));
    let enabled: BTreeSet<String> = config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dtoverlay="))
        .map(|v| v.split(',').next().unwrap().to_string())
        .filter(|n| n.starts_with("deskphone-"))
        .collect();
    let present: BTreeSet<String> = overlays()
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches("-overlay.dts")
                .to_string()
        })
        .collect();
    assert_eq!(
        enabled, present,
        "config.txt dtoverlay= lines vs overlays/*.dts"
    );
    for param in ["dtparam=spi=on", "dtparam=i2s=on", "dtparam=i2c_arm=on"] {
        assert!(config.contains(param), "config.txt lacks {param}");
    }
}

/// An overlay compiled and read back as DTS text.
fn decompiled_overlay(dts: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dtbo = tmp.path().join("o.dtbo");
    let out = compile_overlay(dts, &dtbo);
    assert!(out.status.success(), "dtc {}", dts.display());
    ok(Command::new("dtc")
        .args(["-q", "-I", "dtb", "-O", "dts", "-o", "-"])
        .arg(&dtbo))
}

/// The quoted strings of every `NAME = "a", "b";` property of a decompiled tree.
fn string_properties(dts: &str, name: &str) -> Vec<Vec<String>> {
    dts.lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{name} = ")))
        .map(|v| {
            // dtc writes a string list as "a", "b" or as "a\0b".
            v.trim_end_matches(';')
                .split(", ")
                .flat_map(|s| s.trim_matches('"').split("\\0"))
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// `CONFIG_*` symbols of the Pi's kernel fragment for the phone's hardware.
fn phone_kernel_fragment() -> BTreeMap<String, String> {
    let path = tree().join("board/raspberrypi/linux-phone.fragment");
    let mut symbols = BTreeMap::new();
    for line in read(&path).lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (sym, value) = line
            .strip_prefix("CONFIG_")
            .and_then(|l| l.split_once('='))
            .unwrap_or_else(|| panic!("{}: not CONFIG_SYM=value: {line}", path.display()));
        let previous = symbols.insert(sym.to_string(), value.to_string());
        assert!(previous.is_none(), "{sym} set twice in {}", path.display());
    }
    symbols
}

/// Which kernel options a device of the overlays needs, by its compatible: the driver first,
/// then what the phone needs around it. A device nobody listed here fails the test below, so a
/// new part of an overlay cannot come without its driver in the kernel.
const DRIVERS_BY_COMPATIBLE: &[(&str, &[&str])] = &[
    // The overlays' own root names the board they apply to: not a device.
    ("brcm,bcm2835", &[]),
    ("gpio-keys", &["KEYBOARD_GPIO", "INPUT_EVDEV"]),
    ("gpio-matrix-keypad", &["KEYBOARD_MATRIX", "INPUT_EVDEV"]),
    // The UI draws on /dev/fb*: DRM's fbdev emulation, with the legacy device node.
    (
        "panel-mipi-dbi-spi",
        &[
            "DRM_PANEL_MIPI_DBI",
            "DRM",
            "DRM_FBDEV_EMULATION",
            "FB",
            "FB_DEVICE",
            "SPI",
            "SPI_BCM2835",
        ],
    ),
    ("wlf,wm8960", &["SND_SOC_WM8960", "I2C", "I2C_BCM2835"]),
    (
        "simple-audio-card",
        &[
            "SND_SIMPLE_CARD",
            "SND_BCM2835_SOC_I2S",
            "SND_SOC",
            "SND",
            "SOUND",
        ],
    ),
    ("fixed-clock", &["COMMON_CLK"]),
    ("nxp,pca9555", &["GPIO_PCA953X", "I2C", "I2C_BCM2835"]),
    // deskphone-lamps blinks them with the kernel's timer trigger.
    (
        "gpio-leds",
        &[
            "LEDS_GPIO",
            "LEDS_CLASS",
            "NEW_LEDS",
            "LEDS_TRIGGERS",
            "LEDS_TRIGGER_TIMER",
        ],
    ),
];

#[test]
fn kernel_fragment_has_a_driver_for_every_device_of_the_overlays() {
    let fragment = phone_kernel_fragment();
    let known: BTreeMap<&str, &[&str]> = DRIVERS_BY_COMPATIBLE.iter().copied().collect();
    let mut seen = BTreeSet::new();
    for dts in overlays() {
        let text = decompiled_overlay(&dts);
        for compatible in string_properties(&text, "compatible") {
            // The most specific compatible may name no driver (the LCD's names its firmware
            // file); one of the list must.
            let Some(name) = compatible.iter().find(|c| known.contains_key(c.as_str())) else {
                panic!(
                    "{}: no kernel driver known for {compatible:?}: add it to \
                     DRIVERS_BY_COMPATIBLE and linux-phone.fragment",
                    dts.display()
                );
            };
            seen.insert(name.clone());
            for sym in known[name.as_str()] {
                let value = fragment.get(*sym).map(String::as_str);
                // The LCD's driver loads its firmware file as it probes: built in, it could
                // probe before the root filesystem is there and give up for good.
                let wanted = if *sym == "DRM_PANEL_MIPI_DBI" {
                    "m"
                } else {
                    "y"
                };
                assert_eq!(
                    value,
                    Some(wanted),
                    "{}: {name} needs CONFIG_{sym}={wanted}",
                    dts.display()
                );
            }
        }
    }
    // Every entry of the table is for a device that is there.
    let listed: BTreeSet<String> = known.keys().map(|k| k.to_string()).collect();
    assert_eq!(seen, listed, "compatibles of the overlays vs the table");
    // fbtft was the LCD's driver before panel-mipi-dbi: it lives in staging.
    assert!(
        !fragment.keys().any(|s| s.starts_with("FB_TFT")),
        "{fragment:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The UI's udev rules on the Pi

fn pi_rootfs_overlay() -> PathBuf {
    tree().join("board/raspberrypi/rootfs-overlay")
}

/// The rules of the Pi's udev rules file for the UI, one string each.
fn ui_udev_rules() -> Vec<String> {
    let path = pi_rootfs_overlay().join("usr/lib/udev/rules.d/70-deskphone-ui.rules");
    read(&path)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn rule_for<'a>(rules: &'a [String], key: &str) -> &'a str {
    let found: Vec<&String> = rules.iter().filter(|r| r.contains(key)).collect();
    assert_eq!(found.len(), 1, "one rule with {key}: {rules:?}");
    found[0]
}

#[test]
fn udev_rule_hands_every_lamp_to_the_helper() {
    let rules = ui_udev_rules();
    let rule = rule_for(&rules, r#"SUBSYSTEM=="leds""#);
    // Added, and changed: a trigger change makes delay_on/delay_off.
    for key in [r#"ACTION=="add|change""#, r#"KERNEL=="phone:*""#] {
        assert!(rule.contains(key), "{key} missing: {rule}");
    }
    // The lamps overlay names every LED phone:*.
    let lamps = decompiled_overlay(&overlay_dir().join("deskphone-lamps-overlay.dts"));
    let labels: Vec<String> = string_properties(&lamps, "label")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(labels.len(), 7, "{labels:?}");
    assert!(labels.iter().all(|l| l.starts_with("phone:")), "{labels:?}");

    // RUN: a helper of the overlay, given the LED's sysfs directory.
    let run = rule
        .split("RUN+=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("RUN+=");
    let words: Vec<&str> = run.split_whitespace().collect();
    assert_eq!(words.len(), 2, "{run}");
    assert_eq!(words[1], "%S%p", "the LED's directory under /sys");
    let helper = pi_rootfs_overlay().join(words[0].trim_start_matches('/'));
    assert!(
        fs::metadata(&helper).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0),
        "{} is not an executable of the overlay",
        helper.display()
    );
}

#[test]
fn udev_rule_names_the_lcd_framebuffer_where_the_overlay_puts_the_lcd() {
    let rules = ui_udev_rules();
    let rule = rule_for(&rules, r#"SUBSYSTEM=="graphics""#);
    assert!(rule.contains(r#"SYMLINK+="deskphone-lcd""#), "{rule}");
    // By the SPI device it hangs on (names are there before any attribute).
    let device = rule
        .split("KERNELS==\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("KERNELS==");
    let (bus, chip_select) = device
        .strip_prefix("spi")
        .and_then(|d| d.split_once('.'))
        .unwrap_or_else(|| panic!("{device} is no SPI device name"));

    // The overlay: the panel node display@<cs> in a fragment whose target is spi<bus>.
    let lcd = decompiled_overlay(&overlay_dir().join("deskphone-lcd-overlay.dts"));
    let mut fragment = "";
    let mut panel_fragment = None;
    for line in lcd.lines() {
        let t = line.trim();
        if t.starts_with("fragment@") && t.ends_with('{') {
            fragment = t.trim_end_matches('{').trim();
        }
        if t.starts_with(&format!("display@{chip_select} ")) {
            panel_fragment = Some(fragment.to_string());
        }
    }
    let panel_fragment =
        panel_fragment.unwrap_or_else(|| panic!("no display@{chip_select} in the LCD overlay"));
    // __fixups__: where the overlay refers to the base tree's label spi<bus>.
    let spi_fixups: Vec<String> = string_properties(&lcd, &format!("spi{bus}"))
        .into_iter()
        .flatten()
        .collect();
    assert!(
        spi_fixups.contains(&format!("/{panel_fragment}:target:0")),
        "{panel_fragment} does not target spi{bus}: {spi_fixups:?}"
    );
}

#[test]
fn lamp_access_lets_the_ui_group_write_the_led_attributes_there_are() {
    let tmp = tempfile::tempdir().unwrap();
    let led = tmp.path().join("sys/class/leds/phone:green:line1");
    fs::create_dir_all(&led).unwrap();
    for attr in ["brightness", "trigger", "max_brightness", "uevent"] {
        fs::write(led.join(attr), "0\n").unwrap();
        fs::set_permissions(led.join(attr), fs::Permissions::from_mode(0o644)).unwrap();
    }
    // chgrp to the UI's group, which this machine lacks: a stand-in that notes its calls.
    let bin = tmp.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let log = tmp.path().join("chgrp.log");
    fs::write(
        bin.join("chgrp"),
        format!("#!/bin/sh\necho \"$*\" >>{}\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(bin.join("chgrp"), fs::Permissions::from_mode(0o755)).unwrap();
    let helper = pi_rootfs_overlay().join("usr/libexec/deskphone/lamp-access");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let access = |dir: &Path| run(Command::new(&helper).arg(dir).env("PATH", &path));
    let mode = |attr: &str| fs::metadata(led.join(attr)).unwrap().mode() & 0o777;
    let handed_over = || -> Vec<String> {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| l.replace(&format!("{}/", led.display()), ""))
            .collect()
    };

    // Added: no trigger yet, so no delay_on/delay_off.
    let out = access(&led);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        handed_over(),
        vec!["deskphone-ui brightness", "deskphone-ui trigger"]
    );
    assert_eq!((mode("brightness"), mode("trigger")), (0o664, 0o664));
    assert_eq!(mode("max_brightness"), 0o644, "only what the UI writes");
    assert!(!led.join("delay_on").exists());

    // The timer trigger was chosen: the change event hands over its attributes too.
    for attr in ["delay_on", "delay_off"] {
        fs::write(led.join(attr), "500\n").unwrap();
        fs::set_permissions(led.join(attr), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::remove_file(&log).unwrap();
    assert!(access(&led).status.success());
    assert_eq!(
        handed_over(),
        vec![
            "deskphone-ui brightness",
            "deskphone-ui trigger",
            "deskphone-ui delay_on",
            "deskphone-ui delay_off"
        ]
    );
    assert_eq!((mode("delay_on"), mode("delay_off")), (0o664, 0o664));

    // An LED that went away, or no argument: an error udev logs, not silence.
    for args in [vec![tmp.path().join("gone")], vec![]] {
        let out = run(Command::new(&helper).args(&args).env("PATH", &path));
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("lamp-access"),
            "{args:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The Pi's tryboot backend, on a fake boot partition

fn backend() -> PathBuf {
    tree().join("board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/rauc-tryboot")
}

/// A Raspberry Pi as far as the backend can see: the autoboot partition (a directory), the
/// firmware's device-tree node, /proc/cmdline, /run and a reboot command that only records.
struct FakePi {
    dir: tempfile::TempDir,
    extra_path: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Eq)]
struct Autoboot {
    default: u32,
    tryboot: u32,
    a: String,
    b: String,
}

impl FakePi {
    fn new() -> FakePi {
        let dir = tempfile::tempdir().unwrap();
        for d in ["boot", "dt", "run"] {
            fs::create_dir(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join("cmdline"), "console=serial0,115200 ro\n").unwrap();
        let reboot = dir.path().join("reboot");
        fs::write(
            &reboot,
            format!(
                "#!/bin/sh\necho \"$*\" >>{}\n",
                dir.path().join("reboots").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&reboot, fs::Permissions::from_mode(0o755)).unwrap();
        FakePi {
            dir,
            extra_path: None,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The firmware reports the partition it booted (a big-endian cell).
    fn booted_from(&self, partition: u32) {
        fs::write(self.path("dt/partition"), partition.to_be_bytes()).unwrap();
    }

    /// Power off and on (or any boot): /run starts empty.
    fn power_cycle(&self) {
        let _ = fs::remove_file(self.path("run/reboot-param"));
    }

    /// The firmware's decision at the next reboot: the tryboot partition if the reboot carries
    /// the tryboot flag, else the default.
    fn reboot(&self) -> u32 {
        let before = fs::read_to_string(self.path("reboots")).unwrap_or_default();
        self.ok(&["reboot"]);
        let after = fs::read_to_string(self.path("reboots")).unwrap();
        let args = after[before.len()..].trim().to_string();
        // Without autoboot.txt the firmware boots the first bootable partition: slot A's.
        let ab = if self.path("boot/autoboot.txt").exists() {
            self.autoboot()
        } else {
            Autoboot {
                default: 2,
                tryboot: 2,
                a: "good".into(),
                b: "good".into(),
            }
        };
        let partition = if args == "0 tryboot" {
            ab.tryboot
        } else {
            assert_eq!(args, "", "reboot arguments");
            ab.default
        };
        self.power_cycle();
        self.booted_from(partition);
        partition
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(backend());
        cmd.args(args);
        self.env(&mut cmd);
        cmd
    }

    /// The backend's view of this Pi, for the backend and for programs that call it.
    fn env(&self, cmd: &mut Command) {
        cmd.env("TRYBOOT_BOOT_DIR", self.path("boot"))
            .env("TRYBOOT_DT_DIR", self.path("dt"))
            .env("TRYBOOT_CMDLINE", self.path("cmdline"))
            .env("TRYBOOT_REBOOT_PARAM", self.path("run/reboot-param"))
            .env("TRYBOOT_REBOOT_CMD", self.path("reboot"));
        if let Some(extra) = &self.extra_path {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", extra.display()));
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(&mut self.command(args))
    }

    fn primary(&self) -> String {
        self.ok(&["get-primary"]).trim().to_string()
    }

    fn state(&self, slot: &str) -> String {
        self.ok(&["get-state", slot]).trim().to_string()
    }

    fn autoboot_text(&self) -> String {
        read(&self.path("boot/autoboot.txt"))
    }

    fn autoboot(&self) -> Autoboot {
        parse_autoboot(&self.autoboot_text())
    }

    fn armed(&self) -> bool {
        fs::read_to_string(self.path("run/reboot-param")).is_ok_and(|s| s.trim() == "0 tryboot")
    }

    /// What `rauc install` asks of the backend: mark the target bad, write it, make it primary.
    fn install_into(&self, slot: &str) {
        self.ok(&["set-state", slot, "bad"]);
        self.ok(&["set-primary", slot]);
    }
}

fn parse_autoboot(text: &str) -> Autoboot {
    let mut section = "";
    let mut ab = Autoboot {
        default: 0,
        tryboot: 0,
        a: String::new(),
        b: String::new(),
    };
    let mut tryboot_a_b = false;
    for line in text.lines() {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let (k, v) = line.split_once('=').expect("key=value");
        match (section, k) {
            ("[all]", "tryboot_a_b") => tryboot_a_b = v == "1",
            ("[all]", "boot_partition") => ab.default = v.parse().unwrap(),
            ("[tryboot]", "boot_partition") => ab.tryboot = v.parse().unwrap(),
            ("[none]", "deskphone_slot_a") => ab.a = v.to_string(),
            ("[none]", "deskphone_slot_b") => ab.b = v.to_string(),
            _ => panic!("unexpected line {line} in {section}"),
        }
    }
    assert!(tryboot_a_b, "tryboot_a_b=1 missing:\n{text}");
    // The firmware reads at most 512 bytes of autoboot.txt.
    assert!(text.len() <= 512);
    ab
}

#[test]
fn tryboot_new_card_boots_slot_a_with_both_slots_good() {
    let pi = FakePi::new();
    pi.booted_from(2);
    assert_eq!(pi.primary(), "A");
    assert_eq!(pi.state("A"), "good");
    assert_eq!(pi.state("B"), "good");
    assert_eq!(pi.ok(&["get-current"]), "A\n");
    // A read does not write.
    assert!(!pi.path("boot/autoboot.txt").exists());
    assert_eq!(pi.reboot(), 2);
}

#[test]
fn tryboot_update_is_tried_once_then_committed_when_marked_good() {
    let pi = FakePi::new();
    pi.booted_from(2);
    pi.install_into("B");
    assert_eq!(
        pi.autoboot(),
        Autoboot {
            default: 2,
            tryboot: 3,
            a: "good".into(),
            b: "good".into()
        }
    );
    assert!(pi.armed());
    assert_eq!(pi.primary(), "B");

    // The next reboot is a tryboot reboot into B; the default is still A.
    assert_eq!(pi.reboot(), 3);
    assert_eq!(pi.ok(&["get-current"]), "B\n");
    assert_eq!(pi.primary(), "A", "until B is good, A boots next");

    // provd: healthy, mark-good. B becomes the default.
    pi.ok(&["set-state", "B", "good"]);
    assert_eq!(pi.autoboot().default, 3);
    assert_eq!(pi.autoboot().tryboot, 3);
    assert_eq!(pi.primary(), "B");
    assert_eq!(pi.reboot(), 3);
    assert_eq!(pi.reboot(), 3);

    // And the next update goes back to A the same way.
    pi.install_into("A");
    assert_eq!(pi.reboot(), 2);
    pi.ok(&["set-state", "A", "good"]);
    assert_eq!(pi.autoboot().default, 2);
}

#[test]
fn tryboot_failed_trial_falls_back_to_the_old_slot() {
    let pi = FakePi::new();
    pi.booted_from(2);
    pi.install_into("B");
    assert_eq!(pi.reboot(), 3);
    // provd: not healthy in time, mark-bad, reboot.
    pi.ok(&["set-state", "B", "bad"]);
    assert_eq!(pi.state("B"), "bad");
    assert_eq!(pi.autoboot().tryboot, 2, "a bad slot is not tried");
    assert!(!pi.armed());
    assert_eq!(pi.primary(), "A");
    assert_eq!(pi.reboot(), 2);
    assert_eq!(pi.ok(&["get-current"]), "A\n");
}

#[test]
fn tryboot_hang_or_power_cut_in_a_trial_comes_back_in_the_old_slot() {
    let pi = FakePi::new();
    pi.booted_from(2);
    // Power cut right after the install, before the reboot.
    pi.install_into("B");
    pi.power_cycle();
    pi.booted_from(pi.autoboot().default);
    assert_eq!(pi.ok(&["get-current"]), "A\n");
    assert_eq!(pi.primary(), "A", "a power cut forgets the trial");

    // The trial hangs: the watchdog (or the power) resets the Pi; tryboot lasts one boot.
    pi.install_into("B");
    assert_eq!(pi.reboot(), 3);
    pi.power_cycle();
    pi.booted_from(pi.autoboot().default);
    assert_eq!(pi.ok(&["get-current"]), "A\n");
    assert_eq!(pi.primary(), "A");

    // A new install works from there.
    pi.install_into("B");
    assert_eq!(pi.reboot(), 3);
    pi.ok(&["set-state", "B", "good"]);
    assert_eq!(pi.reboot(), 3);
}

#[test]
fn tryboot_default_slot_marked_bad_hands_over_to_the_good_one() {
    let pi = FakePi::new();
    pi.booted_from(2);
    pi.ok(&["set-state", "A", "bad"]);
    assert_eq!(pi.autoboot().default, 3);
    assert_eq!(pi.primary(), "B");
    // With both bad, something must still boot: the default stays.
    pi.ok(&["set-state", "B", "bad"]);
    assert_eq!(pi.autoboot().default, 3);
    // mark-active makes a slot good and primary.
    pi.booted_from(3);
    pi.ok(&["set-primary", "A"]);
    assert_eq!(pi.state("A"), "good");
    assert_eq!(pi.primary(), "A");
    assert_eq!(pi.reboot(), 2);
}

/// A PATH directory whose `mv` and `sync` log their calls (and `mv` fails if asked).
fn shim(dir: &Path, fail_mv: bool) -> PathBuf {
    let bin = dir.join("shim");
    fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls");
    let mv = if fail_mv {
        format!("#!/bin/sh\necho \"mv $*\" >>{}\nexit 1\n", log.display())
    } else {
        format!(
            "#!/bin/sh\necho \"mv $*\" >>{}\nexec /bin/mv \"$@\"\n",
            log.display()
        )
    };
    fs::write(bin.join("mv"), mv).unwrap();
    fs::write(
        bin.join("sync"),
        format!("#!/bin/sh\necho sync >>{}\n", log.display()),
    )
    .unwrap();
    for f in ["mv", "sync"] {
        fs::set_permissions(bin.join(f), fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[test]
fn tryboot_replaces_autoboot_txt_by_a_synced_rename() {
    let mut pi = FakePi::new();
    pi.booted_from(2);
    pi.ok(&["set-primary", "A"]);
    let inode = fs::metadata(pi.path("boot/autoboot.txt")).unwrap().ino();

    pi.extra_path = Some(shim(pi.dir.path(), false));
    pi.ok(&["set-state", "B", "bad"]);
    let calls = read(&pi.path("calls"));
    let lines: Vec<&str> = calls.lines().collect();
    let mv = lines
        .iter()
        .position(|l| l.starts_with("mv") && l.ends_with("/boot/autoboot.txt"))
        .unwrap_or_else(|| panic!("no rename onto autoboot.txt: {calls}"));
    assert!(lines[mv].contains("/boot/autoboot.new"), "{calls}");
    assert!(
        mv > 0 && lines[mv - 1] == "sync",
        "no sync before the rename: {calls}"
    );
    assert_eq!(
        lines.get(mv + 1),
        Some(&"sync"),
        "no sync after the rename: {calls}"
    );
    assert_ne!(
        fs::metadata(pi.path("boot/autoboot.txt")).unwrap().ino(),
        inode,
        "autoboot.txt was written in place"
    );
    assert!(!pi.path("boot/autoboot.new").exists());
}

#[test]
fn tryboot_power_cut_before_the_rename_leaves_the_old_autoboot_txt() {
    let mut pi = FakePi::new();
    pi.booted_from(2);
    pi.ok(&["set-primary", "A"]);
    let before = pi.autoboot_text();

    // The power goes while the new file is written: it never replaces the old one.
    pi.extra_path = Some(shim(pi.dir.path(), true));
    let out = pi.run(&["set-primary", "B"]);
    assert!(!out.status.success(), "a failed rename must fail the call");
    assert_eq!(
        pi.autoboot_text(),
        before,
        "autoboot.txt changed without the rename"
    );
    assert!(!pi.armed(), "the trial was armed without its autoboot.txt");
    assert_eq!(pi.reboot(), 2);

    // Next time round the left-over is ignored and replaced.
    pi.extra_path = None;
    pi.install_into("B");
    assert_eq!(pi.autoboot().tryboot, 3);
    assert!(!pi.path("boot/autoboot.new").exists());
    assert_eq!(pi.reboot(), 3);
}

#[test]
fn tryboot_reads_a_damaged_autoboot_txt_as_the_firmware_does() {
    let pi = FakePi::new();
    pi.booted_from(2);
    for damaged in [
        "",
        "[all]\ntryboot_a_b=1\nboot_parti",
        "\u{0}\u{0}\u{0}\u{0}",
        "[all]\r\ntryboot_a_b=1\r\nboot_partition=9\r\n",
    ] {
        fs::write(pi.path("boot/autoboot.txt"), damaged).unwrap();
        assert_eq!(pi.primary(), "A", "{damaged:?}");
        assert_eq!(pi.state("B"), "good", "{damaged:?}");
        // The next change writes a whole, valid file.
        pi.ok(&["set-state", "B", "good"]);
        assert_eq!(
            pi.autoboot(),
            Autoboot {
                default: 2,
                tryboot: 2,
                a: "good".into(),
                b: "good".into()
            }
        );
    }
    // CRLF (edited on Windows) still reads right.
    fs::write(
        pi.path("boot/autoboot.txt"),
        "[all]\r\ntryboot_a_b=1\r\nboot_partition=3\r\n[tryboot]\r\nboot_partition=3\r\n",
    )
    .unwrap();
    assert_eq!(pi.primary(), "B");
}

#[test]
fn tryboot_rejects_what_is_not_its_contract() {
    let pi = FakePi::new();
    pi.booted_from(2);
    for args in [
        &[][..],
        &["get-state", "C"][..],
        &["set-state", "A", "ok"][..],
        &["set-state", "A"][..],
        &["set-primary"][..],
        &["get-primary", "A"][..],
        &["frobnicate"][..],
    ] {
        let out = pi.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!out.stderr.is_empty(), "{args:?} failed silently");
    }
    assert!(!pi.path("boot/autoboot.txt").exists());
}

#[test]
fn tryboot_get_current_uses_the_command_line_without_firmware_help() {
    let pi = FakePi::new();
    fs::write(pi.path("cmdline"), "ro rauc.slot=B quiet\n").unwrap();
    assert_eq!(pi.ok(&["get-current"]), "B\n");
    fs::write(pi.path("cmdline"), "ro quiet\n").unwrap();
    assert!(!pi.run(&["get-current"]).status.success());
    // The firmware's word wins over the command line.
    pi.booted_from(2);
    fs::write(pi.path("cmdline"), "rauc.slot=B\n").unwrap();
    assert_eq!(pi.ok(&["get-current"]), "A\n");
}

// ---------------------------------------------------------------------------------------------
// The Pi's RAUC post-install handler

fn post_install() -> PathBuf {
    tree().join("board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/rauc-post-install")
}

/// RAUC's handler environment for the Pi's four slots, with boot.1's device a directory.
fn rauc_env(cmd: &mut Command, boot1: &Path, targets: &str) {
    let slots = [
        ("rootfs.0", "rootfs", "/dev/mmcblk0p5", "A", ""),
        ("rootfs.1", "rootfs", "/dev/mmcblk0p6", "B", ""),
        ("boot.0", "boot", "/dev/mmcblk0p2", "", "rootfs.0"),
        ("boot.1", "boot", boot1.to_str().unwrap(), "", "rootfs.1"),
    ];
    for (i, (name, class, device, bootname, parent)) in slots.iter().enumerate() {
        let n = i + 1;
        cmd.env(format!("RAUC_SLOT_NAME_{n}"), name)
            .env(format!("RAUC_SLOT_CLASS_{n}"), class)
            .env(format!("RAUC_SLOT_DEVICE_{n}"), device)
            .env(format!("RAUC_SLOT_BOOTNAME_{n}"), bootname)
            .env(format!("RAUC_SLOT_PARENT_{n}"), parent);
    }
    cmd.env("RAUC_SLOTS", "1 2 3 4")
        .env("RAUC_TARGET_SLOTS", targets);
}

#[test]
fn post_install_points_the_new_boot_slot_at_its_root_filesystem() {
    let tmp = tempfile::tempdir().unwrap();
    let boot1 = tmp.path().join("boot1");
    fs::create_dir(&boot1).unwrap();
    let template = read(&tree().join("board/raspberrypi/cmdline.txt"));
    // As post-image leaves it: verity filled in, device and slot still open.
    let cmdline_in = template
        .replace("@VERITY_SECTORS@", "16")
        .replace("@VERITY_BLOCKS@", "2")
        .replace("@VERITY_HASH_START@", "2")
        .replace("@VERITY_ROOT_HASH@", "ab")
        .replace("@VERITY_SALT@", "cd");
    fs::write(boot1.join("cmdline.in"), &cmdline_in).unwrap();
    fs::write(boot1.join("cmdline.txt"), "from slot A's build\n").unwrap();

    let mut cmd = Command::new(post_install());
    rauc_env(&mut cmd, &boot1, "2 4");
    cmd.env("TRYBOOT_BACKEND", "/bin/false");
    ok(&mut cmd);
    let cmdline = read(&boot1.join("cmdline.txt"));
    assert_eq!(
        cmdline,
        cmdline_in
            .replace("@ROOTDEV@", "/dev/mmcblk0p6")
            .replace("@SLOT@", "B")
    );
    assert!(cmdline.contains("rauc.slot=B") && !cmdline.contains('@'));
    assert!(cmdline.contains("dm-mod.waitfor=/dev/mmcblk0p6 "));
    assert!(!boot1.join("cmdline.new").exists());
}

#[test]
fn post_install_failure_cancels_the_trial() {
    let pi = FakePi::new();
    pi.booted_from(2);
    pi.install_into("B");
    assert_eq!(pi.autoboot().tryboot, 3);

    // The boot image of the bundle has no cmdline.in: the handler fails and, through the
    // real backend, cancels the trial.
    let boot1 = pi.path("boot1");
    fs::create_dir(&boot1).unwrap();
    let mut handler = Command::new(post_install());
    pi.env(&mut handler);
    rauc_env(&mut handler, &boot1, "2 4");
    handler.env("TRYBOOT_BACKEND", backend());
    let out = run(&mut handler);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cmdline.in"));
    assert_eq!(pi.autoboot().tryboot, 2, "the trial is still armed");
    assert_eq!(pi.state("B"), "bad");
    assert!(!pi.armed());
    assert_eq!(pi.reboot(), 2);
}

// ---------------------------------------------------------------------------------------------
// Board scripts: real images from stand-in Buildroot output

/// A Buildroot output directory as the post-build and post-image scripts see it.
struct FakeBuild {
    dir: tempfile::TempDir,
}

impl FakeBuild {
    fn new(config: &str, system_conf: &str) -> FakeBuild {
        let dir = tempfile::tempdir().unwrap();
        for d in ["images", "target/etc/rauc", "build", "host"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join(".config"), config).unwrap();
        fs::copy(
            tree().join(system_conf),
            dir.path().join("target/etc/rauc/system.conf"),
        )
        .unwrap();
        FakeBuild { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn script(&self, script: &str, arg: &str) -> Output {
        run(Command::new(tree().join(script))
            .arg(self.path(arg))
            .env("BR2_CONFIG", self.path(".config"))
            .env("BASE_DIR", self.dir.path())
            .env("BUILD_DIR", self.path("build"))
            .env("BINARIES_DIR", self.path("images"))
            .env("TARGET_DIR", self.path("target"))
            .env("HOST_DIR", self.path("host"))
            .env("BR2_EXTERNAL_DESKPHONE_PATH", tree())
            .env("SOURCE_DATE_EPOCH", "1767225600"))
    }

    fn script_ok(&self, script: &str, arg: &str) -> String {
        let out = self.script(script, arg);
        assert!(
            out.status.success(),
            "{script}: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn write(&self, p: &str, content: &[u8]) {
        let path = self.path(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// A squashfs root filesystem of some content from the target directory.
    fn squashfs(&self, comp: &str) {
        self.write("target/usr/share/deskphone/blob", &pseudo_random(300_000));
        ok(Command::new("mksquashfs")
            .arg(self.path("target"))
            .arg(self.path("images/rootfs.squashfs"))
            .args(["-noappend", "-quiet", "-comp", comp]));
    }
}

fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Partitions of a disk image as sfdisk sees them: (number, type, size in MiB, name, bootable).
fn partitions(image: &Path) -> Vec<(u32, String, u64, String, bool)> {
    let json: Value = serde_json::from_str(&ok(Command::new("sfdisk").arg("--json").arg(image)))
        .expect("sfdisk --json");
    json["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let node = p["node"].as_str().unwrap();
            let number = node
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (
                number,
                p["type"].as_str().unwrap().to_string(),
                p["size"].as_u64().unwrap() * 512 / (1024 * 1024),
                p["name"].as_str().unwrap_or("").to_string(),
                p["bootable"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn mtype(vfat: &Path, file: &str) -> String {
    ok(Command::new("mtype")
        .arg("-i")
        .arg(vfat)
        .arg(format!("::{file}"))
        .env("MTOOLS_SKIP_CHECK", "1"))
}

fn mdir(vfat: &Path, dir: &str) -> String {
    ok(Command::new("mdir")
        .args(["-b", "-i"])
        .arg(vfat)
        .arg(format!("::{dir}"))
        .env("MTOOLS_SKIP_CHECK", "1"))
}

fn rauc_info(bundle: &Path, keyring: &Path) -> Output {
    run(Command::new("rauc")
        .arg(format!("--keyring={}", keyring.display()))
        .args(["info", "--output-format=json"])
        .arg(bundle))
}

/// A Pi build's inputs: what the kernel, rpi-firmware and the rootfs leave in images/.
fn pi_build(config: &str, pi3: bool) -> FakeBuild {
    let b = FakeBuild::new(
        config,
        "board/raspberrypi/rootfs-overlay/etc/rauc/system.conf",
    );
    let fw = "images/rpi-firmware";
    b.write(
        &format!("{fw}/config.txt"),
        read(&tree().join("board/raspberrypi/config.txt")).as_bytes(),
    );
    b.write(
        &format!("{fw}/cmdline.txt"),
        read(&tree().join("board/raspberrypi/cmdline.txt")).as_bytes(),
    );
    if pi3 {
        b.write(&format!("{fw}/start.elf"), &pseudo_random(4096));
        b.write(&format!("{fw}/fixup.dat"), &pseudo_random(512));
        b.write(&format!("{fw}/bootcode.bin"), &pseudo_random(1024));
    } else {
        b.write(&format!("{fw}/start4.elf"), &pseudo_random(4096));
        b.write(&format!("{fw}/fixup4.dat"), &pseudo_random(512));
    }
    b.write(
        &format!("{fw}/overlays/miniuart-bt.dtbo"),
        &pseudo_random(256),
    );
    b.write("images/Image", &pseudo_random(1 << 20));
    b.write("images/bcm2711-rpi-4-b.dtb", &pseudo_random(2048));
    b
}

const PI4_CONFIG: &str = "BR2_PACKAGE_DESKPHONE=y\n\
    BR2_PACKAGE_DESKPHONE_IMAGE_VERSION=\"\"\n\
    BR2_PACKAGE_DESKPHONE_RAUC_COMPATIBLE=\"deskphone-rpi4\"\n\
    BR2_PACKAGE_DESKPHONE_RAUC_KEY=\"\"\n";

#[test]
fn pi_card_and_bundle_from_a_stand_in_build() {
    let b = pi_build(PI4_CONFIG, false);
    b.script_ok("board/raspberrypi/post-build.sh", "target");

    // post-build: version, compatible, development keyring, clock epoch.
    let version = read(&b.path("target/etc/deskphone/image_version"));
    let version = version.trim();
    let cargo_toml = read(&workspace().join("Cargo.toml"));
    let ws_version = cargo_toml
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .expect("workspace version");
    assert_eq!(version, format!("deskphone-{ws_version}-20260101"));
    let conf = read(&b.path("target/etc/rauc/system.conf"));
    assert!(
        conf.lines().any(|l| l == "compatible=deskphone-rpi4"),
        "{conf}"
    );
    let keys = b.path("deskphone-dev-keys");
    assert_eq!(fs::metadata(&keys).unwrap().mode() & 0o777, 0o700);
    assert_eq!(
        fs::metadata(keys.join("dev.key.pem")).unwrap().mode() & 0o777,
        0o600
    );
    assert_eq!(
        read(&b.path("target/etc/rauc/keyring.pem")),
        read(&keys.join("dev.cert.pem"))
    );
    assert!(!read(&b.path("target/etc/rauc/keyring.pem")).contains("PRIVATE"));
    assert!(b.path("target/usr/lib/clock-epoch").exists());
    // The LCD controller's set-up, where panel-mipi-dbi-spi looks for it (/lib is usr/lib).
    let firmware = b.path("target/usr/lib/firmware/deskphone,ili9341.bin");
    assert_eq!(
        fs::read(&firmware).unwrap(),
        fs::read(workspace().join("drivers/overlays/firmware/deskphone,ili9341.bin")).unwrap()
    );
    assert_eq!(fs::metadata(&firmware).unwrap().mode() & 0o777, 0o644);

    b.squashfs("zstd");
    b.script_ok("board/raspberrypi/post-image.sh", "images");

    // The card: autoboot, boot A/B, extended, rootfs A/B, data.
    let parts = partitions(&b.path("images/sdcard.img"));
    let layout: Vec<(u32, &str, u64, bool)> = parts
        .iter()
        .map(|(n, t, s, _, boot)| (*n, t.as_str(), *s, *boot))
        .collect();
    assert_eq!(
        layout,
        vec![
            (1, "c", 8, true),
            (2, "c", 64, false),
            (3, "c", 64, false),
            (4, "f", layout[3].2, false),
            (5, "83", 384, false),
            (6, "83", 384, false),
            (7, "83", 256, false),
        ]
    );

    // autoboot.txt: slot A first, both good; exactly what the backend writes.
    let autoboot = mtype(&b.path("images/autoboot.vfat"), "autoboot.txt");
    assert_eq!(
        parse_autoboot(&autoboot),
        Autoboot {
            default: 2,
            tryboot: 2,
            a: "good".into(),
            b: "good".into()
        }
    );
    assert!(!mdir(&b.path("images/autoboot.vfat"), "/").contains("bootcode.bin"));

    // Each boot partition: its own command line, the same template, the phone's overlays.
    let mut verity_line = String::new();
    for (slot, vfat, dev) in [
        ("A", "images/boot-a.vfat", "/dev/mmcblk0p5"),
        ("B", "images/boot-b.vfat", "/dev/mmcblk0p6"),
    ] {
        let vfat = b.path(vfat);
        let cmdline = mtype(&vfat, "cmdline.txt");
        let template = mtype(&vfat, "cmdline.in");
        assert_eq!(
            cmdline,
            template.replace("@ROOTDEV@", dev).replace("@SLOT@", slot)
        );
        assert!(!template.contains("@VERITY"), "{template}");
        assert!(cmdline.contains(&format!("rauc.slot={slot} ")), "{cmdline}");
        verity_line = cmdline;
        let files = mdir(&vfat, "/");
        for f in ["Image", "bcm2711-rpi-4-b.dtb", "start4.elf", "config.txt"] {
            assert!(files.contains(f), "{f} missing from boot {slot}: {files}");
        }
        let overlays = mdir(&vfat, "overlays");
        for o in PHONE_OVERLAYS {
            assert!(
                overlays.contains(&format!("deskphone-{o}.dtbo")),
                "{o}: {overlays}"
            );
        }
        assert!(overlays.contains("miniuart-bt.dtbo"));
    }

    // The dm-verity table on the command line verifies the root filesystem image, and a
    // flipped byte in it does not.
    let table = verity_line
        .split("dm-mod.create=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("dm-mod.create");
    let words: Vec<&str> = table
        .split(',')
        .nth(4)
        .unwrap()
        .split_whitespace()
        .collect();
    // 0 <sectors> verity 1 <dev> <dev> 4096 4096 <blocks> <hash_start> sha256 <root> <salt> ...
    assert_eq!(&words[2..4], &["verity", "1"]);
    let (blocks, hash_start, root, salt) = (words[8], words[9], words[11], words[12]);
    let squashfs_len = fs::metadata(b.path("images/rootfs.squashfs"))
        .unwrap()
        .len();
    assert_eq!(words[1].parse::<u64>().unwrap() * 512, squashfs_len);
    assert_eq!(blocks.parse::<u64>().unwrap() * 4096, squashfs_len);
    let verify = |image: &Path| {
        run(Command::new("veritysetup")
            .args(["verify", "--no-superblock", "--hash=sha256"])
            .arg(format!("--data-blocks={blocks}"))
            .arg(format!(
                "--hash-offset={}",
                hash_start.parse::<u64>().unwrap() * 4096
            ))
            .arg(format!("--salt={salt}"))
            .arg(image)
            .arg(image)
            .arg(root))
    };
    let verity = b.path("images/rootfs.verity");
    assert!(verify(&verity).status.success(), "veritysetup verify");
    let mut bytes = fs::read(&verity).unwrap();
    bytes[5000] ^= 1;
    let corrupt = b.path("corrupt.verity");
    fs::write(&corrupt, bytes).unwrap();
    assert!(
        !verify(&corrupt).status.success(),
        "corruption not detected"
    );

    // The bundle: named after the version, signed, for this kind of phone, both slot images.
    let bundle = b.path(&format!("images/{version}.bin"));
    let out = rauc_info(&bundle, &keys.join("dev.cert.pem"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["compatible"], "deskphone-rpi4");
    assert_eq!(info["version"], version);
    let images: BTreeMap<String, u64> = info["images"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i.as_object().unwrap().iter())
        .map(|(k, v)| (k.clone(), v["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        images,
        BTreeMap::from([
            ("rootfs".to_string(), fs::metadata(&verity).unwrap().len()),
            ("boot".to_string(), 64 * 1024 * 1024),
        ])
    );
    // Another key's keyring does not accept it.
    let other = b.path("other");
    fs::create_dir(&other).unwrap();
    ok(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .arg("-keyout")
        .arg(other.join("k.pem"))
        .arg("-out")
        .arg(other.join("c.pem"))
        .args(["-subj", "/CN=other"]));
    assert!(!rauc_info(&bundle, &other.join("c.pem")).status.success());

    // A second build keeps the development key.
    let cert = read(&keys.join("dev.cert.pem"));
    b.script_ok("board/raspberrypi/post-build.sh", "target");
    assert_eq!(read(&keys.join("dev.cert.pem")), cert);
}

#[test]
fn pi3_card_has_bootcode_in_the_autoboot_partition() {
    let config = PI4_CONFIG.replace("deskphone-rpi4", "deskphone-rpi3");
    let b = pi_build(&config, true);
    b.script_ok("board/raspberrypi/post-build.sh", "target");
    b.squashfs("zstd");
    b.script_ok("board/raspberrypi/post-image.sh", "images");
    let autoboot = b.path("images/autoboot.vfat");
    let files = mdir(&autoboot, "/");
    assert!(
        files.contains("bootcode.bin") && files.contains("config.txt"),
        "{files}"
    );
    assert!(!mdir(&b.path("images/boot-a.vfat"), "/").contains("bootcode.bin"));
    assert!(mdir(&b.path("images/boot-a.vfat"), "/").contains("start.elf"));
}

#[test]
fn release_signing_material_replaces_the_development_key() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path();
    // A CA, and a signing key with a certificate it issued.
    ok(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .arg("-keyout")
        .arg(pki.join("ca.key.pem"))
        .arg("-out")
        .arg(pki.join("ca.cert.pem"))
        .args(["-subj", "/CN=deskphone test CA"]));
    ok(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .arg("-keyout")
        .arg(pki.join("release.key.pem"))
        .arg("-out")
        .arg(pki.join("release.csr"))
        .args(["-subj", "/CN=deskphone test release"]));
    ok(Command::new("openssl")
        .args(["x509", "-req", "-days", "30", "-in"])
        .arg(pki.join("release.csr"))
        .arg("-CA")
        .arg(pki.join("ca.cert.pem"))
        .arg("-CAkey")
        .arg(pki.join("ca.key.pem"))
        .args(["-CAcreateserial", "-out"])
        .arg(pki.join("release.cert.pem")));
    let config = format!(
        "BR2_PACKAGE_DESKPHONE=y\n\
         BR2_PACKAGE_DESKPHONE_IMAGE_VERSION=\"P0S3-08-1-00\"\n\
         BR2_PACKAGE_DESKPHONE_RAUC_KEY=\"{}\"\n\
         BR2_PACKAGE_DESKPHONE_RAUC_CERT=\"{}\"\n\
         BR2_PACKAGE_DESKPHONE_RAUC_KEYRING=\"{}\"\n",
        pki.join("release.key.pem").display(),
        pki.join("release.cert.pem").display(),
        pki.join("ca.cert.pem").display()
    );
    let b = FakeBuild::new(
        &config,
        "board/qemu-x86_64/rootfs-overlay/etc/rauc/system.conf",
    );
    b.write("images/bzImage", &pseudo_random(1 << 20));
    b.write("images/efi-part/EFI/BOOT/bootx64.efi", &pseudo_random(8192));
    b.script_ok("board/qemu-x86_64/post-build.sh", "target");
    assert_eq!(
        read(&b.path("target/etc/rauc/keyring.pem")),
        read(&pki.join("ca.cert.pem"))
    );
    assert!(!b.path("deskphone-dev-keys").exists());
    b.squashfs("gzip");
    b.script_ok("board/qemu-x86_64/post-image.sh", "images");
    let bundle = b.path("images/P0S3-08-1-00.bin");
    assert!(rauc_info(&bundle, &pki.join("ca.cert.pem"))
        .status
        .success());

    // A key without its keyring is refused rather than shipping phones that trust nothing.
    let half = config
        .lines()
        .filter(|l| !l.contains("KEYRING"))
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(b.path(".config"), half + "\n").unwrap();
    let out = b.script("board/qemu-x86_64/post-build.sh", "target");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEYRING"));
}

#[test]
fn qemu_disk_and_bundle_from_a_stand_in_build() {
    let b = FakeBuild::new(
        "BR2_PACKAGE_DESKPHONE=y\nBR2_PACKAGE_DESKPHONE_IMAGE_VERSION=\"deskphone-qemu-test\"\n",
        "board/qemu-x86_64/rootfs-overlay/etc/rauc/system.conf",
    );
    let kernel = pseudo_random(1 << 20);
    b.write("images/bzImage", &kernel);
    b.write("images/efi-part/EFI/BOOT/bootx64.efi", &pseudo_random(8192));
    b.write(
        "images/efi-part/EFI/BOOT/grub.cfg",
        b"Buildroot's default\n",
    );
    b.script_ok("board/qemu-x86_64/post-build.sh", "target");

    // What grub.cfg loads from a slot.
    assert_eq!(fs::read(b.path("target/boot/vmlinuz")).unwrap(), kernel);
    let initrd = b.path("target/boot/initrd.img");
    let listing = ok(Command::new("cpio")
        .args(["--quiet", "-t", "-F"])
        .arg(&initrd));
    assert_eq!(listing, "", "the initramfs must be empty");
    assert!(b.path("target/efi").is_dir());
    let grub = read(&tree().join("board/qemu-x86_64/grub.cfg"));
    assert!(grub.contains("/boot/vmlinuz") && grub.contains("/boot/initrd.img"));

    b.squashfs("gzip");
    b.script_ok("board/qemu-x86_64/post-image.sh", "images");
    let parts = partitions(&b.path("images/disk.img"));
    let names: Vec<(u32, &str, u64)> = parts
        .iter()
        .map(|(n, _, s, name, _)| (*n, name.as_str(), *s))
        .collect();
    assert_eq!(
        names,
        vec![
            (1, "esp", 32),
            (2, "rootfs-a", 512),
            (3, "rootfs-b", 512),
            (4, "data", 256)
        ]
    );
    // Partition labels are what system.conf and fstab name.
    let conf = read(&b.path("target/etc/rauc/system.conf"));
    let fstab = read(&tree().join("board/qemu-x86_64/rootfs-overlay/etc/fstab"));
    for (_, name, _) in &names {
        assert!(
            conf.contains(&format!("by-partlabel/{name}"))
                || fstab.contains(&format!("PARTLABEL={name}"))
                || grub.contains(&format!("PARTLABEL={name}")),
            "{name} is named nowhere"
        );
    }

    let esp = b.path("images/esp.vfat");
    assert_eq!(mtype(&esp, "EFI/BOOT/grub.cfg"), grub);
    let env = mtype(&esp, "EFI/BOOT/grubenv");
    assert_eq!(env.len(), 1024);
    assert!(env.starts_with("# GRUB Environment Block\nORDER=A B\nA_OK=1\nA_TRY=0\nB_OK=0\n"));
    assert!(mdir(&esp, "EFI/BOOT").contains("bootx64.efi"));

    let keyring = b.path("deskphone-dev-keys/dev.cert.pem");
    let out = rauc_info(&b.path("images/deskphone-qemu-test.bin"), &keyring);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["compatible"], "deskphone-qemu-x86_64");
    assert_eq!(info["version"], "deskphone-qemu-test");
}

#[test]
fn bad_firmware_versions_are_refused() {
    for bad in ["has space", "../x", "-rf", ".hidden"] {
        let b = FakeBuild::new(
            &format!("BR2_PACKAGE_DESKPHONE_IMAGE_VERSION=\"{bad}\"\n"),
            "board/raspberrypi/rootfs-overlay/etc/rauc/system.conf",
        );
        let out = b.script("board/raspberrypi/post-build.sh", "target");
        assert!(!out.status.success(), "{bad:?} accepted");
        assert!(!b.path("target/etc/deskphone/image_version").exists());
    }
}

// ---------------------------------------------------------------------------------------------
// Vendoring: the local cargo package builds offline

#[test]
fn crates_vendor_into_a_reproducible_tarball_that_resolves_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let vendor = tree().join("package/deskphone/cargo-vendor");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // A build only downloads the crates of its own platform; vendoring takes all of them.
    // Fetch them into this machine's cargo cache (crates.io, unless they are already there).
    let cached = run(Command::new(&cargo)
        .args(["fetch", "--locked", "--offline"])
        .current_dir(workspace()));
    if !cached.status.success() {
        ok(Command::new(&cargo)
            .args(["fetch", "--locked"])
            .current_dir(workspace()));
    }
    let fetch = |dl: &Path| {
        ok(Command::new(&vendor)
            .arg("fetch")
            .arg(workspace())
            .arg(dl)
            .env("CARGO", &cargo)
            // From the cache filled above: vendoring itself needs no network.
            .env("CARGO_NET_OFFLINE", "true"));
        let mut tarballs: Vec<PathBuf> = fs::read_dir(dl)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .collect();
        assert_eq!(tarballs.len(), 1, "{tarballs:?}");
        tarballs.pop().unwrap()
    };
    let dl = tmp.path().join("dl");
    let tarball = fetch(&dl);
    let again = fetch(&tmp.path().join("dl2"));
    assert_eq!(
        fs::read(&tarball).unwrap(),
        fs::read(&again).unwrap(),
        "vendoring is not reproducible"
    );
    // Named after Cargo.lock; one top directory with VENDOR/ and the source replacement.
    let lock_id = &ok(Command::new("sha256sum").arg(workspace().join("Cargo.lock")))[..16];
    let base = format!("deskphone-vendor-{lock_id}");
    assert_eq!(
        tarball.file_name().unwrap().to_string_lossy(),
        format!("{base}.tar.gz")
    );
    let listing = ok(Command::new("tar").arg("tzf").arg(&tarball));
    assert!(listing.lines().all(|l| l.starts_with(&format!("{base}/"))));
    assert!(listing.contains(&format!("{base}/.cargo/config.toml")));
    assert!(listing.contains(&format!("{base}/VENDOR/serde/Cargo.toml")));

    // Buildroot's rsync of the local package, with the package's exclusions.
    let mk = read(&tree().join("package/deskphone/deskphone.mk"));
    let exclusions: Vec<String> = mk
        .split("DESKPHONE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS =")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .map(|l| l.trim().trim_end_matches('\\').trim().to_string())
        .collect();
    assert!(
        exclusions.contains(&"--exclude=/target".to_string()),
        "{exclusions:?}"
    );
    let build = tmp.path().join("build/deskphone-custom");
    fs::create_dir_all(&build).unwrap();
    ok(Command::new("rsync")
        .args(["-au", "--chmod=u=rwX,go=rX", "--exclude", ".git"])
        .args(&exclusions)
        .arg(format!("{}/", workspace().display()))
        .arg(&build));
    assert!(!build.join("target").exists() && build.join("Cargo.lock").exists());

    // The configure hook, twice (a rebuild), then cargo with an empty cargo home: every crate
    // must come from VENDOR.
    for _ in 0..2 {
        ok(Command::new(&vendor)
            .arg("unpack")
            .arg(&build)
            .arg(&dl)
            .env("CARGO", &cargo)
            .env("CARGO_NET_OFFLINE", "true"));
    }
    let config = read(&build.join(".cargo/config.toml"));
    assert_eq!(
        config.matches("[source.vendored-sources]").count(),
        1,
        "{config}"
    );
    let empty_home = tmp.path().join("cargo-home");
    fs::create_dir(&empty_home).unwrap();
    let metadata = ok(Command::new(&cargo)
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .current_dir(&build)
        .env("CARGO_HOME", &empty_home));
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    let sources: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["source"].as_str())
        .collect();
    assert!(!sources.is_empty());
    assert!(
        sources.iter().all(|s| s.starts_with("registry+")),
        "{sources:?}"
    );
    assert!(
        !empty_home.join("registry").exists(),
        "cargo went to the registry"
    );

    // A tarball made from another Cargo.lock is refused.
    let other = tmp.path().join("other");
    fs::create_dir_all(other.join("dl")).unwrap();
    fs::copy(build.join("Cargo.lock"), other.join("Cargo.lock")).unwrap();
    let mut lock = read(&other.join("Cargo.lock"));
    lock.push_str("# changed\n");
    fs::write(other.join("Cargo.lock"), &lock).unwrap();
    let other_id = &ok(Command::new("sha256sum").arg(other.join("Cargo.lock")))[..16];
    fs::copy(
        &tarball,
        other.join(format!("dl/deskphone-vendor-{other_id}.tar.gz")),
    )
    .unwrap();
    let out = run(Command::new(&vendor)
        .arg("unpack")
        .arg(&other)
        .arg(other.join("dl")));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not made from this Cargo.lock"));
}

// ---------------------------------------------------------------------------------------------
// Shell scripts

/// Our shell scripts: files under board/ and package/ that start with a shell shebang (the
/// shared root filesystem overlays belong to the test image's authors and are checked there).
fn shell_scripts() -> Vec<PathBuf> {
    let shared = tree().join("board/qemu-x86_64/rootfs-overlay");
    [tree().join("board"), tree().join("package")]
        .iter()
        .flat_map(|d| files_under(d))
        .filter(|p| !p.starts_with(&shared))
        .filter(|p| {
            fs::read(p).is_ok_and(|b| b.starts_with(b"#!/bin/sh") || b.starts_with(b"#!/bin/bash"))
        })
        .collect()
}

#[test]
fn shell_scripts_pass_shellcheck_and_parse() {
    let scripts = shell_scripts();
    let names: BTreeSet<String> = scripts
        .iter()
        .map(|p| p.strip_prefix(tree()).unwrap().display().to_string())
        .collect();
    for wanted in [
        "board/common/deskphone.sh",
        "board/raspberrypi/post-build.sh",
        "board/raspberrypi/post-image.sh",
        "board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/rauc-tryboot",
        "board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/rauc-post-install",
        "board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/lamp-access",
        "board/qemu-x86_64/post-build.sh",
        "board/qemu-x86_64/post-image.sh",
        "package/deskphone/cargo-vendor",
    ] {
        assert!(names.contains(wanted), "{wanted} not found among {names:?}");
    }
    for script in &scripts {
        // check-package runs plain "shellcheck FILE": no -x, no exclusions.
        let out = run(Command::new("shellcheck").arg(script));
        assert!(
            out.status.success(),
            "shellcheck {}:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        for shell in ["sh", "bash"] {
            let out = run(Command::new(shell).arg("-n").arg(script));
            assert!(
                out.status.success(),
                "{shell} -n {}: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Buildroot and RAUC run them directly; the library is sourced.
        let executable = fs::metadata(script).unwrap().mode() & 0o111 != 0;
        let library = script.ends_with("board/common/deskphone.sh");
        assert_eq!(executable, !library, "{}: executable bit", script.display());
    }
}

// ---------------------------------------------------------------------------------------------
// Structure of the tree

#[test]
fn external_desc_names_the_tree_deskphone() {
    let desc = read(&tree().join("external.desc"));
    let name = desc
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .expect("name: line");
    assert_eq!(name, "DESKPHONE");
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let desc_line = desc
        .lines()
        .find_map(|l| l.strip_prefix("desc: "))
        .expect("desc:");
    assert!(
        !desc_line.is_empty() && desc_line.len() <= 40,
        "{desc_line}"
    );
    assert!(tree().join("Config.in").is_file() && tree().join("external.mk").is_file());
}

/// Symbol values that are not paths on the build machine.
const NOT_HOST_PATHS: &[&str] = &[
    "BR2_LINUX_KERNEL_INTREE_DTS_NAME",
    "BR2_LINUX_KERNEL_CUSTOM_TARBALL_LOCATION",
];

#[test]
fn paths_go_through_br2_external_deskphone_path() {
    let var = "$(BR2_EXTERNAL_DESKPHONE_PATH)/";
    for defconfig in defconfigs() {
        for (sym, value) in defconfig_values(&defconfig) {
            if NOT_HOST_PATHS.contains(&sym.as_str()) {
                continue;
            }
            for word in value.split_whitespace() {
                assert!(
                    !word.starts_with('/'),
                    "{}: {sym}: absolute path {word}",
                    defconfig.display()
                );
                if word.contains('/') {
                    assert!(
                        word.starts_with(var),
                        "{}: {sym}: {word} is not under {var}",
                        defconfig.display()
                    );
                }
            }
        }
    }
    let mk_files: Vec<PathBuf> = files_under(&tree())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mk"))
        .collect();
    assert!(mk_files.len() >= 2);
    for mk in mk_files {
        for (n, line) in read(&mk).lines().enumerate() {
            let code = line.split('#').next().unwrap();
            for word in code.split_whitespace() {
                // "--exclude=/target" is an rsync pattern anchored at the workspace.
                let value =
                    word.split_once('=').map_or(
                        word,
                        |(k, v)| {
                            if k.starts_with("--") {
                                ""
                            } else {
                                v
                            }
                        },
                    );
                assert!(
                    !word.starts_with('/') && !value.starts_with('/'),
                    "{}:{}: absolute path {word}",
                    mk.display(),
                    n + 1
                );
            }
        }
    }
    let external_mk = read(&tree().join("external.mk"));
    assert!(external_mk.contains("$(BR2_EXTERNAL_DESKPHONE_PATH)/package/"));
    // Config.in sources through the kconfig variable and only existing files.
    for config in config_in_files() {
        for line in read(&config).lines() {
            if let Some(rest) = line.trim().strip_prefix("source ") {
                let path = rest.trim_matches('"');
                let rel = path
                    .strip_prefix("$BR2_EXTERNAL_DESKPHONE_PATH/")
                    .unwrap_or_else(|| panic!("{}: source {path}", config.display()));
                assert!(tree().join(rel).is_file(), "{path} does not exist");
            }
        }
    }
}

fn config_in_files() -> Vec<PathBuf> {
    files_under(&tree())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "Config.in"))
        .collect()
}

/// Symbols defined by our Config.in files.
fn our_symbols() -> BTreeSet<String> {
    config_in_files()
        .iter()
        .flat_map(|f| {
            read(f)
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("config ")
                        .or_else(|| l.strip_prefix("menuconfig "))
                        .map(|s| s.trim().to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Buildroot symbols that docs/defconfig-symbols.md records as verified.
fn verified_symbols() -> BTreeSet<String> {
    read(&tree().join("docs/defconfig-symbols.md"))
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

fn br2_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("BR2_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn config_in_symbols_are_defined_here_or_verified() {
    let ours = our_symbols();
    assert!(ours.contains("BR2_PACKAGE_DESKPHONE"));
    let verified = verified_symbols();
    for config in config_in_files() {
        for line in read(&config).lines() {
            let t = line.trim();
            // Help text and comments name symbols in prose.
            if !["depends on", "select", "if ", "default", "imply"]
                .iter()
                .any(|k| t.starts_with(k))
                && !line.starts_with("\t\t")
            {
                continue;
            }
            let code = t.split('#').next().unwrap();
            for sym in br2_words(code) {
                assert!(
                    ours.contains(&sym) || verified.contains(&sym),
                    "{}: {sym} is neither defined here nor in docs/defconfig-symbols.md",
                    config.display()
                );
            }
        }
    }
    // Our symbols are not also Buildroot's, and every one of ours is documented.
    let doc = read(&tree().join("docs/defconfig-symbols.md"));
    for sym in &ours {
        assert!(!verified.contains(sym), "{sym} listed as Buildroot's");
        assert!(doc.contains(&format!("`{sym}`")), "{sym} not documented");
    }
}

#[test]
fn defconfig_symbols_are_verified_and_their_files_exist() {
    let ours = our_symbols();
    let verified = verified_symbols();
    let names: BTreeSet<String> = defconfigs()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "deskphone_qemu_x86_64_defconfig".to_string(),
            "deskphone_rpi3_64_defconfig".to_string(),
            "deskphone_rpi4_64_defconfig".to_string(),
        ])
    );
    for defconfig in defconfigs() {
        let values = defconfig_values(&defconfig);
        for sym in values.keys() {
            assert!(
                ours.contains(sym) || verified.contains(sym),
                "{}: {sym} is not verified in docs/defconfig-symbols.md",
                defconfig.display()
            );
        }
        // What the defconfigs must say (check-package, and the phone's design).
        for (sym, value) in [
            ("BR2_DOWNLOAD_FORCE_CHECK_HASHES", "y"),
            ("BR2_INIT_SYSTEMD", "y"),
            ("BR2_TARGET_GENERIC_REMOUNT_ROOTFS_RW", "n"),
            ("BR2_TARGET_ROOTFS_SQUASHFS", "y"),
            ("BR2_PACKAGE_RAUC", "y"),
            ("BR2_PACKAGE_RAUC_DBUS", "y"),
            ("BR2_PACKAGE_HOST_RAUC", "y"),
            ("BR2_PACKAGE_DESKPHONE", "y"),
        ] {
            assert_eq!(
                values.get(sym).map(String::as_str),
                Some(value),
                "{}: {sym}",
                defconfig.display()
            );
        }
        assert!(
            values["BR2_ROOTFS_OVERLAY"]
                .split_whitespace()
                .next()
                .is_some_and(|o| o == "$(BR2_EXTERNAL_DESKPHONE_PATH)/rootfs-overlay"),
            "{}: the shared overlay comes first",
            defconfig.display()
        );
        // Every path the defconfig names exists in the tree.
        for (sym, value) in &values {
            if NOT_HOST_PATHS.contains(&sym.as_str()) {
                continue;
            }
            for word in value.split_whitespace() {
                if word.starts_with("$(BR2_EXTERNAL_DESKPHONE_PATH)/") {
                    assert!(
                        resolve(word).exists(),
                        "{}: {sym}: {word} does not exist",
                        defconfig.display()
                    );
                }
            }
        }
        for script in [
            "BR2_ROOTFS_POST_BUILD_SCRIPT",
            "BR2_ROOTFS_POST_IMAGE_SCRIPT",
        ] {
            let path = resolve(&values[script]);
            assert!(
                fs::metadata(&path).unwrap().mode() & 0o111 != 0,
                "{} is not executable",
                path.display()
            );
        }
    }
}

#[test]
fn kernel_hashes_match_the_pinned_kernels() {
    for defconfig in defconfigs() {
        let values = defconfig_values(&defconfig);
        let tarball = if let Some(location) = values.get("BR2_LINUX_KERNEL_CUSTOM_TARBALL_LOCATION")
        {
            location.rsplit('/').next().unwrap().to_string()
        } else {
            format!(
                "linux-{}.tar.xz",
                values["BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE"]
            )
        };
        let patches = resolve(&values["BR2_GLOBAL_PATCH_DIR"]);
        for (pkg, hash_file) in [
            ("linux", "linux/linux.hash"),
            ("linux-headers", "linux-headers/linux-headers.hash"),
        ] {
            let hashes = read(&patches.join(hash_file));
            let entry = hashes
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| l.split("  ").collect::<Vec<_>>())
                .find(|f| f.len() == 3 && f[2] == tarball)
                .unwrap_or_else(|| panic!("{}: no {pkg} hash for {tarball}", defconfig.display()));
            assert_eq!(entry[0], "sha256");
            assert!(entry[1].len() == 64 && entry[1].chars().all(|c| c.is_ascii_hexdigit()));
        }
        // The headers series is the kernel's: 6.12.
        assert_eq!(
            values
                .get("BR2_PACKAGE_HOST_LINUX_HEADERS_CUSTOM_6_12")
                .map(String::as_str),
            Some("y")
        );
    }
}

#[test]
fn no_private_key_is_in_the_tree() {
    for file in files_under(&tree()) {
        let name = file.file_name().unwrap().to_string_lossy().to_lowercase();
        assert!(
            !(name.ends_with(".key") || name.contains("key.pem") || name.ends_with(".p12")),
            "{} looks like a private key",
            file.display()
        );
        let bytes = fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("PRIVATE KEY-----"),
            "{} holds a private key",
            file.display()
        );
    }
}

#[test]
fn package_installs_workspace_binaries_and_their_users() {
    let mk = read(&tree().join("package/deskphone/deskphone.mk"));
    let list = |var: &str| -> Vec<String> {
        mk.lines()
            .find_map(|l| l.strip_prefix(&format!("{var} = ")))
            .unwrap_or_else(|| panic!("{var} missing"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    // name:uid[:groups]
    let daemons: Vec<(String, u32)> = list("DESKPHONE_DAEMONS")
        .iter()
        .map(|d| {
            let mut fields = d.split(':');
            let name = fields.next().unwrap();
            let uid = fields.next().expect("name:uid[:groups]");
            fields.next();
            assert!(fields.next().is_none(), "{d}: name:uid[:groups]");
            (name.to_string(), uid.parse().expect("uid"))
        })
        .collect();
    let tools = list("DESKPHONE_TOOLS");
    let bins: BTreeSet<String> = daemons
        .iter()
        .map(|(n, _)| n.clone())
        .chain(tools.iter().cloned())
        .collect();
    for bin in ["provd", "sipd", "mediad", "phonectl"] {
        assert!(bins.contains(bin), "{bin} not installed");
    }
    let uids: BTreeSet<u32> = daemons.iter().map(|(_, u)| *u).collect();
    assert_eq!(uids.len(), daemons.len(), "a uid used twice");

    // Each is a binary target of the workspace.
    let metadata: Value = serde_json::from_str(&ok(Command::new(
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    )
    .args([
        "metadata",
        "--no-deps",
        "--offline",
        "--format-version",
        "1",
    ])
    .current_dir(workspace())))
    .unwrap();
    let workspace_bins: BTreeSet<String> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    for bin in &bins {
        assert!(
            workspace_bins.contains(bin),
            "{bin} is not a workspace binary"
        );
    }

    // Each daemon's unit runs it as the user the package creates.
    let units = workspace().join("buildroot-overlay/rootfs-overlay/usr/lib/systemd/system");
    for (name, _) in &daemons {
        let unit = read(&units.join(format!("{name}.service")));
        assert!(
            unit.contains(&format!("User=deskphone-{name}")),
            "{name}.service"
        );
        assert!(
            unit.contains(&format!("/usr/bin/{name} ")),
            "{name}.service ExecStart"
        );
    }
    assert!(mk.contains("deskphone-$(word 1,$(1)) $(word 2,$(1))"));

    // Every user of the shared overlay's sysusers.d (which the QEMU test image applies) is
    // one the package creates: a daemon's or a helper unit's.
    let helpers: Vec<(String, u32)> = list("DESKPHONE_HELPERS")
        .iter()
        .map(|d| {
            let (name, uid) = d.split_once(':').expect("name:uid");
            (name.to_string(), uid.parse().expect("uid"))
        })
        .collect();
    let all_uids: BTreeSet<u32> = daemons.iter().chain(&helpers).map(|(_, u)| *u).collect();
    assert_eq!(
        all_uids.len(),
        daemons.len() + helpers.len(),
        "a uid used twice"
    );
    let created: BTreeSet<String> = daemons
        .iter()
        .chain(&helpers)
        .map(|(n, _)| format!("deskphone-{n}"))
        .collect();
    let sysusers = read(
        &workspace().join("buildroot-overlay/rootfs-overlay/usr/lib/sysusers.d/deskphone.conf"),
    );
    let wanted: BTreeSet<String> = sysusers
        .lines()
        .filter_map(|l| l.strip_prefix("u "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert_eq!(created, wanted, "users of deskphone.mk and of sysusers.d");
    for (name, _) in &helpers {
        let user = format!("User=deskphone-{name}\n");
        assert!(
            fs::read_dir(&units)
                .unwrap()
                .flatten()
                .any(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&user))),
            "no unit runs as deskphone-{name}"
        );
    }
    assert!(mk.contains("$(call DESKPHONE_HELPER_USER,"));
}

/// The package's variables as GNU make expands them, with the few Buildroot helpers they use
/// (`comma`, `sep` from support/misc/utils.mk) and no cargo infrastructure.
fn package_variables(vars: &[&str]) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut makefile = format!(
        "comma := ,\ndefine sep\n\n\nendef\nBR2_EXTERNAL_DESKPHONE_PATH := {}\n\
         include $(BR2_EXTERNAL_DESKPHONE_PATH)/package/deskphone/deskphone.mk\n",
        tree().display()
    );
    for v in vars {
        makefile.push_str(&format!("$(info @@{v})\n$(info $({v}))\n"));
    }
    makefile.push_str("$(info @@)\nnothing: ;\n");
    fs::write(dir.path().join("Makefile"), makefile).unwrap();
    let out = ok(Command::new("make")
        .args(["--no-print-directory", "-s", "-f"])
        .arg(dir.path().join("Makefile"))
        .arg("nothing"));
    let mut values = BTreeMap::new();
    for part in out.split("@@").skip(1) {
        let (name, value) = part.split_once('\n').unwrap_or((part, ""));
        if !name.is_empty() {
            values.insert(name.to_string(), value.trim_end().to_string());
        }
    }
    values
}

/// The users table that Buildroot's mkusers reads (DESKPHONE_USERS): every daemon in the
/// deskphone group and in the groups its `name:uid:groups` word adds (mediad: audio, for
/// /dev/snd), the same memberships as the shared overlay's sysusers.d gives the QEMU image.
#[test]
fn package_users_table_gives_each_daemon_its_groups() {
    let vars = package_variables(&["DESKPHONE_USERS"]);
    // mkusers: username uid group gid password home shell groups comment
    let users: BTreeMap<String, (String, BTreeSet<String>)> = vars["DESKPHONE_USERS"]
        .lines()
        .map(str::split_whitespace)
        .map(Iterator::collect::<Vec<_>>)
        .filter(|f| !f.is_empty() && f[0] != "-")
        .map(|f| {
            assert!(f.len() >= 9, "users table line {f:?}");
            let groups = match f[7] {
                "-" => BTreeSet::new(),
                g => g.split(',').map(str::to_string).collect(),
            };
            (f[0].to_string(), (f[1].to_string(), groups))
        })
        .collect();
    let sysusers = read(
        &workspace().join("buildroot-overlay/rootfs-overlay/usr/lib/sysusers.d/deskphone.conf"),
    );
    let mut memberships: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in sysusers.lines() {
        if let Some(m) = l.strip_prefix("m ") {
            let (user, group) = m.split_once(' ').expect("m user group");
            memberships
                .entry(user.to_string())
                .or_default()
                .insert(group.trim().to_string());
        }
    }
    for (user, (_, groups)) in &users {
        assert_eq!(
            groups,
            &memberships.get(user).cloned().unwrap_or_default(),
            "{user}: groups of the users table and of sysusers.d"
        );
    }
    let mediad = &users["deskphone-mediad"];
    assert_eq!(mediad.0, "904");
    assert_eq!(
        mediad.1,
        BTreeSet::from(["deskphone".to_string(), "audio".to_string()])
    );
    assert_eq!(
        users["deskphone-sipd"].1,
        BTreeSet::from(["deskphone".to_string()])
    );
}

/// mediad drives the sound card through alsa-lib: the package selects it, builds after it
/// (and host-pkgconf, which alsa-sys asks), and turns on mediad's `alsa` feature.
#[test]
fn package_builds_mediad_with_alsa() {
    let config = read(&tree().join("package/deskphone/Config.in"));
    assert!(
        config.contains("\tselect BR2_PACKAGE_ALSA_LIB"),
        "Config.in selects alsa-lib"
    );
    let vars = package_variables(&["DESKPHONE_DEPENDENCIES", "DESKPHONE_CARGO_BUILD_OPTS"]);
    let deps: Vec<&str> = vars["DESKPHONE_DEPENDENCIES"].split_whitespace().collect();
    assert!(
        deps.contains(&"alsa-lib") && deps.contains(&"host-pkgconf"),
        "{deps:?}"
    );
    let opts: Vec<&str> = vars["DESKPHONE_CARGO_BUILD_OPTS"]
        .split_whitespace()
        .collect();
    let feature = opts
        .windows(2)
        .find(|w| w[0] == "--features")
        .map(|w| w[1])
        .expect("--features in DESKPHONE_CARGO_BUILD_OPTS");
    assert_eq!(feature, "deskphone-mediad/alsa");
    for bin in ["provd", "sipd", "mediad", "phonectl"] {
        assert!(
            opts.windows(2).any(|w| w == ["--bin", bin]),
            "--bin {bin} in {opts:?}"
        );
    }
    // The feature exists in mediad's manifest.
    let metadata: Value = serde_json::from_str(&ok(Command::new(
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    )
    .args([
        "metadata",
        "--no-deps",
        "--offline",
        "--format-version",
        "1",
    ])
    .current_dir(workspace())))
    .unwrap();
    let mediad = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "deskphone-mediad")
        .expect("deskphone-mediad in the workspace");
    assert!(
        mediad["features"]["alsa"].is_array(),
        "mediad has no alsa feature"
    );
}

/// The Pi's partitions in genimage.cfg order, numbered as an MBR numbers them when there are
/// more than four (three primaries, the extended partition, then logical ones from 5).
fn pi_partition_numbers() -> BTreeMap<String, u32> {
    let cfg = read(&tree().join("board/raspberrypi/genimage.cfg"));
    let disk = cfg.split("image sdcard.img").nth(1).expect("sdcard.img");
    let names: Vec<String> = disk
        .lines()
        .filter_map(|l| l.trim().strip_prefix("partition "))
        .map(|l| l.trim_end_matches('{').trim().to_string())
        .collect();
    assert!(names.len() > 4, "{names:?}");
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, if i < 3 { i as u32 + 1 } else { i as u32 + 2 }))
        .collect()
}

#[test]
fn pi_partitions_agree_in_every_file() {
    let p = pi_partition_numbers();
    let dev = |name: &str| format!("/dev/mmcblk0p{}", p[name]);
    assert_eq!(
        p["autoboot"], 1,
        "the firmware reads autoboot.txt from partition 1"
    );

    let conf = read(&tree().join("board/raspberrypi/rootfs-overlay/etc/rauc/system.conf"));
    let slots: BTreeMap<String, String> = conf
        .split("\n[slot.")
        .skip(1)
        .map(|s| {
            let name = s.split(']').next().unwrap().to_string();
            let device = s
                .lines()
                .find_map(|l| l.strip_prefix("device="))
                .unwrap()
                .to_string();
            (name, device)
        })
        .collect();
    assert_eq!(
        slots,
        BTreeMap::from([
            ("boot.0".to_string(), dev("boot-a")),
            ("boot.1".to_string(), dev("boot-b")),
            ("rootfs.0".to_string(), dev("rootfs-a")),
            ("rootfs.1".to_string(), dev("rootfs-b")),
        ])
    );
    let fstab = read(&tree().join("board/raspberrypi/rootfs-overlay/etc/fstab"));
    assert!(
        fstab.lines().any(
            |l| l.starts_with(&format!("{} ", dev("data"))) && l.contains("/var/lib/deskphone")
        ),
        "fstab does not mount {} on /var/lib/deskphone",
        dev("data")
    );
    assert!(conf.contains("data-directory=/var/lib/deskphone/"));

    let post_image = read(&tree().join("board/raspberrypi/post-image.sh"));
    assert!(post_image.contains(&format!("ROOTDEV_A={}\n", dev("rootfs-a"))));
    assert!(post_image.contains(&format!("ROOTDEV_B={}\n", dev("rootfs-b"))));
    let backend = read(&backend());
    assert!(backend.contains(&format!("PART_A=${{TRYBOOT_PART_A:-{}}}", p["boot-a"])));
    assert!(backend.contains(&format!("PART_B=${{TRYBOOT_PART_B:-{}}}", p["boot-b"])));
    assert!(backend.contains(&format!(
        "BOOT_DEV=${{TRYBOOT_BOOT_DEV:-{}}}",
        dev("autoboot")
    )));
    // RAUC calls the backend and the handler where the overlay installs them.
    for (key, file) in [
        ("bootloader-custom-backend=", "rauc-tryboot"),
        ("post-install=", "rauc-post-install"),
    ] {
        let path = conf
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(path, format!("/usr/libexec/deskphone/{file}"));
        assert!(tree()
            .join("board/raspberrypi/rootfs-overlay")
            .join(path.trim_start_matches('/'))
            .is_file());
    }
    assert!(conf.contains("bootloader=custom"));
}

#[test]
fn buildroot_style_of_the_package_files() {
    // The .mk header, as check-package wants it.
    let mk = read(&tree().join("package/deskphone/deskphone.mk"));
    let lines: Vec<&str> = mk.lines().collect();
    let hashes = "#".repeat(80);
    assert_eq!(
        &lines[..6],
        &[
            hashes.as_str(),
            "#",
            "# deskphone",
            "#",
            hashes.as_str(),
            ""
        ]
    );
    for (n, line) in lines.iter().enumerate() {
        let var = line.split(['=', ' ']).next().unwrap();
        if line.contains(" = ") || line.contains(" += ") {
            assert!(
                var.starts_with("DESKPHONE_") || line.starts_with('\t'),
                "deskphone.mk:{}: {var} not prefixed DESKPHONE_",
                n + 1
            );
        }
        assert!(!line.starts_with("ifdef") && !line.starts_with("ifndef"));
    }
    // Kconfig: tabs, help text of at most 62 columns after "<tab><2 spaces>", type first.
    for config in config_in_files() {
        let text = read(&config);
        let mut in_help = false;
        for (n, line) in text.lines().enumerate() {
            let where_ = format!("{}:{}", config.display(), n + 1);
            let t = line.trim();
            if [
                "config ",
                "menuconfig ",
                "comment ",
                "if ",
                "endif",
                "source ",
                "menu ",
                "endmenu",
            ]
            .iter()
            .any(|k| line.starts_with(k))
            {
                in_help = false;
                continue;
            }
            if t == "help" {
                assert_eq!(line, "\thelp", "{where_}");
                in_help = true;
                continue;
            }
            if in_help && !t.is_empty() {
                let body = line
                    .strip_prefix("\t  ")
                    .unwrap_or_else(|| panic!("{where_}: help not indented <tab><2 spaces>"));
                assert!(body.chars().count() <= 62, "{where_}: help line too long");
            } else if !t.is_empty() && !in_help {
                assert!(
                    line.starts_with('\t'),
                    "{where_}: attribute not indented with a tab"
                );
            }
        }
    }
    // Neither may be executable; text files end with a newline and no trailing blanks.
    for file in files_under(&tree().join("package")) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(&file);
        if name.ends_with(".mk") || name == "Config.in" {
            assert_eq!(fs::metadata(&file).unwrap().mode() & 0o111, 0, "{name}");
        }
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{name}: end of file"
        );
        for (n, line) in text.lines().enumerate() {
            assert_eq!(line, line.trim_end(), "{name}:{}: trailing blanks", n + 1);
            assert!(line.is_ascii(), "{name}:{}: not ASCII", n + 1);
        }
    }
}

/// The Pi's UI drop-in reads the lamps file the board installs, every lamp of the phone is
/// in it, and the LED directory it may write is where the lamps overlay's LEDs appear.
#[test]
fn the_pi_ui_drop_in_names_the_lcd_and_the_lamps_file() {
    let board = workspace().join("buildroot-overlay/board/raspberrypi/rootfs-overlay");
    let drop_in =
        std::fs::read_to_string(board.join("usr/lib/systemd/system/ui.service.d/raspberrypi.conf"))
            .unwrap();
    assert!(
        drop_in.contains("--lamps /etc/deskphone/lamps.conf"),
        "{drop_in}"
    );
    assert!(drop_in.contains("--fbdev /dev/deskphone-lcd"), "{drop_in}");
    let rules =
        std::fs::read_to_string(board.join("usr/lib/udev/rules.d/70-deskphone-ui.rules")).unwrap();
    assert!(
        rules.contains("deskphone-lcd"),
        "the udev rule makes /dev/deskphone-lcd"
    );
    let lamps = std::fs::read_to_string(board.join("etc/deskphone/lamps.conf")).unwrap();
    let config = deskphone_lamps::LampConfig::parse(&lamps).unwrap();
    assert_eq!(
        config,
        deskphone_lamps::LampConfig::parse(deskphone_lamps::LampConfig::RASPBERRY_PI).unwrap()
    );
    assert!(drop_in.contains("ReadWritePaths=-/sys/devices/platform/deskphone-lamps"));
    let overlay =
        std::fs::read_to_string(overlay_dir().join("deskphone-lamps-overlay.dts")).unwrap();
    assert!(
        overlay.contains("deskphone-lamps"),
        "the LEDs' platform device name"
    );
}
