//! Every overlay compiles with `dtc -@` without a warning, and what it compiles to, read
//! back with `dtc -I dtb -O dts`, holds what the rest of the phone relies on: the crate's
//! tables (keymap, hook switch, lamps, pins) and the LCD's firmware file.

mod dts;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use deskphone_ipc::ui::Key;
use deskphone_lamps::{LampConfig, LampSource};
use deskphone_overlays::{
    key_code_name, mipi_dbi, GPIO_PINS, HOOK_SWITCH, KEYPAD_COL_GPIOS, KEYPAD_DEVICE_NAME,
    KEYPAD_KEYMAP, KEYPAD_ROW_GPIOS, LAMP_LEDS, LCD_COMPATIBLE, LCD_FIRMWARE, LCD_FIRMWARE_NAME,
    LCD_INIT_COMMANDS, LCD_SIZE, OVERLAYS,
};
use dts::Node;

const GPIO_ACTIVE_LOW: u32 = 1;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles overlay `name` (warnings are the first test's business) and reads it back.
fn overlay(name: &str) -> Node {
    let tmp = tempfile::tempdir().unwrap();
    let dtbo = tmp.path().join(format!("{name}.dtbo"));
    dts::compile(
        &crate_dir().join("dts").join(format!("{name}-overlay.dts")),
        &dtbo,
    );
    dts::decompile(&dtbo)
}

/// The label of the base tree a fragment is applied to (`target = <&gpio>`), from the
/// overlay's `__fixups__`.
fn fragment_target(tree: &Node, fragment: &str) -> String {
    let wanted = format!("/{fragment}:target:0");
    let fixups = tree.at("/__fixups__");
    let labels: Vec<&String> = fixups
        .props
        .keys()
        .filter(|label| fixups.strings(label).contains(&wanted))
        .collect();
    match labels[..] {
        [label] => label.clone(),
        _ => panic!("{fragment} has no single target: {labels:?}"),
    }
}

/// `(node path, property, GPIO, flags)` of every `<&gpio N flags>` reference of the
/// overlay, found through `__fixups__` (in the compiled overlay the phandle is a
/// placeholder; the fixup says where).
fn soc_gpio_references(tree: &Node) -> Vec<(String, String, u32, u32)> {
    let fixups = tree.at("/__fixups__");
    if !fixups.has("gpio") {
        return Vec::new();
    }
    let mut refs = Vec::new();
    for place in fixups.strings("gpio") {
        let mut parts = place.rsplitn(3, ':');
        let offset: usize = parts.next().unwrap().parse().unwrap();
        let prop = parts.next().unwrap().to_string();
        let path = parts.next().unwrap().to_string();
        if prop == "target" {
            continue;
        }
        let cells = tree.at(&path).cells(&prop);
        let at = offset / 4;
        refs.push((path, prop, cells[at + 1], cells[at + 2]));
    }
    refs
}

/// Every SoC GPIO an overlay claims: pin groups (`brcm,pins`) and GPIO references.
fn claimed_gpios(tree: &Node) -> BTreeSet<u32> {
    let mut pins: BTreeSet<u32> = tree
        .walk()
        .into_iter()
        .filter(|(_, n)| n.has("brcm,pins"))
        .flat_map(|(_, n)| n.cells("brcm,pins"))
        .collect();
    pins.extend(
        soc_gpio_references(tree)
            .into_iter()
            .map(|(_, _, pin, _)| pin),
    );
    pins
}

#[test]
fn every_overlay_compiles_without_warnings_as_a_pi_overlay() {
    // Every .dts in dts/ is one of OVERLAYS: none escapes these tests.
    let on_disk: BTreeSet<String> = std::fs::read_dir(crate_dir().join("dts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = OVERLAYS.iter().map(|o| o.file.to_string()).collect();
    assert_eq!(on_disk, listed);

    let tmp = tempfile::tempdir().unwrap();
    for o in OVERLAYS {
        let dts = crate_dir().join("dts").join(o.file);
        assert_eq!(std::fs::read_to_string(&dts).unwrap(), o.source);
        let dtbo = tmp.path().join(format!("{}.dtbo", o.name));
        let warnings = dts::compile(&dts, &dtbo);
        assert!(warnings.trim().is_empty(), "{}: {warnings}", o.file);
        let tree = dts::decompile(&dtbo);
        assert_eq!(tree.strings("compatible"), ["brcm,bcm2835"], "{}", o.name);
        // An overlay: fixups for the base tree's labels, its own labels exported.
        assert!(tree.child("__fixups__").is_some(), "{}", o.name);
        assert!(tree.child("__symbols__").is_some(), "{}", o.name);
        let fragments: Vec<&(String, Node)> = tree
            .children
            .iter()
            .filter(|(n, _)| n.starts_with("fragment@"))
            .collect();
        assert!(!fragments.is_empty(), "{}", o.name);
        for (name, fragment) in fragments {
            assert!(fragment.child("__overlay__").is_some(), "{}/{name}", o.name);
            if fragment.has("target-path") {
                assert_eq!(fragment.string("target-path"), "/");
            } else {
                fragment_target(&tree, name);
            }
        }
    }
}

#[test]
fn the_keypad_overlay_holds_the_crate_keymap() {
    let tree = overlay("deskphone-keypad");
    assert_eq!(fragment_target(&tree, "fragment@0"), "gpio");
    let keypad = tree.at(&format!("/fragment@1/__overlay__/{KEYPAD_DEVICE_NAME}"));
    assert_eq!(keypad.string("compatible"), "gpio-matrix-keypad");
    assert!(
        keypad.has("gpio-activelow"),
        "every kernel reads the polarity here"
    );

    let keymap: BTreeSet<u32> = keypad.cells("linux,keymap").into_iter().collect();
    let table: BTreeSet<u32> = KEYPAD_KEYMAP
        .iter()
        .map(|&(row, col, code, _)| u32::from(row) << 24 | u32::from(col) << 16 | u32::from(code))
        .collect();
    assert_eq!(keymap, table);
    assert_eq!(keypad.cells("linux,keymap").len(), KEYPAD_KEYMAP.len());

    let lines = |prop: &str| -> Vec<u32> {
        let refs = soc_gpio_references(&tree);
        refs.iter()
            .filter(|(_, p, _, _)| p == prop)
            .map(|&(_, _, pin, flags)| {
                assert_eq!(flags, GPIO_ACTIVE_LOW, "{prop} {pin}");
                pin
            })
            .collect()
    };
    assert_eq!(lines("row-gpios"), KEYPAD_ROW_GPIOS);
    assert_eq!(lines("col-gpios"), KEYPAD_COL_GPIOS);
    for &(row, col, _, name) in KEYPAD_KEYMAP {
        assert!(
            usize::from(row) < KEYPAD_ROW_GPIOS.len() && usize::from(col) < KEYPAD_COL_GPIOS.len(),
            "{name} at {row},{col} is outside the matrix"
        );
    }

    // The rows are read: inputs with pull-ups; the columns float until scanned.
    let pins = tree.at("/fragment@0/__overlay__/deskphone_keypad_pins");
    let pull: BTreeMap<u32, u32> = pins
        .cells("brcm,pins")
        .into_iter()
        .zip(pins.cells("brcm,pull"))
        .collect();
    for row in KEYPAD_ROW_GPIOS {
        assert_eq!(pull[&row], 2, "row GPIO {row}: BCM2835_PUD_UP");
    }
    for col in KEYPAD_COL_GPIOS {
        assert_eq!(pull[&col], 0, "column GPIO {col}: no pull");
    }
    assert!(pins.cells("brcm,function").iter().all(|&f| f == 0));
}

#[test]
fn the_keymap_has_every_key_of_the_phone_once() {
    let mut keys = BTreeSet::new();
    let mut positions = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for &(row, col, code, name) in KEYPAD_KEYMAP {
        let key: Key = name.parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.insert(key), "{name} twice");
        assert!(positions.insert((row, col)), "{row},{col} twice");
        assert!(codes.insert(code), "code {code} twice");
        assert!(
            key_code_name(code).is_some(),
            "{name}: code {code} has no name"
        );
    }
    let buttons: BTreeSet<Key> = Key::all()
        .into_iter()
        .filter(|k| !matches!(k, Key::OffHook | Key::OnHook))
        .collect();
    assert_eq!(keys, buttons, "the hook switch is the only non-key");
}

/// `#define NAME value` of the installed `<linux/input-event-codes.h>` (linux-libc-dev,
/// which libc6-dev pulls in on Debian).
fn input_event_codes() -> BTreeMap<String, u32> {
    let header = Path::new("/usr/include/linux/input-event-codes.h");
    let text = std::fs::read_to_string(header)
        .unwrap_or_else(|e| panic!("{}: {e} (Debian: linux-libc-dev)", header.display()));
    let mut defines = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#define"), Some(name), Some(value)) =
            (words.next(), words.next(), words.next())
        {
            let parsed = match value.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            };
            if let Some(v) = parsed {
                defines.insert(name.to_string(), v);
            }
        }
    }
    defines
}

#[test]
fn the_codes_are_the_kernels() {
    let kernel = input_event_codes();
    for &(_, _, code, name) in KEYPAD_KEYMAP {
        let code_name = key_code_name(code).unwrap();
        assert_eq!(
            kernel.get(code_name),
            Some(&u32::from(code)),
            "{name}: {code_name}"
        );
    }
    assert_eq!(kernel["EV_SW"], u32::from(HOOK_SWITCH.event_type));
    assert_eq!(kernel[HOOK_SWITCH.code_name], u32::from(HOOK_SWITCH.code));
    assert_ne!(
        kernel["SW_LID"],
        u32::from(HOOK_SWITCH.code),
        "logind acts on SW_LID"
    );
    assert_ne!(
        kernel["SW_DOCK"],
        u32::from(HOOK_SWITCH.code),
        "logind acts on SW_DOCK"
    );
}

#[test]
fn the_hook_switch_is_an_ev_sw_switch_on_while_on_hook() {
    let tree = overlay("deskphone-hook");
    let keys = tree.at("/fragment@1/__overlay__/deskphone-hook");
    assert_eq!(keys.string("compatible"), "gpio-keys");
    assert_eq!(keys.string("label"), HOOK_SWITCH.device_name);
    let switch = keys.at("/hook-switch");
    assert_eq!(
        switch.cell("linux,input-type"),
        u32::from(HOOK_SWITCH.event_type)
    );
    assert_eq!(switch.cell("linux,code"), u32::from(HOOK_SWITCH.code));
    assert_eq!(switch.cell("debounce-interval"), HOOK_SWITCH.debounce_ms);
    // The cradle grounds the line: active low, so the switch is set (1) while on hook.
    let refs = soc_gpio_references(&tree);
    assert_eq!(
        refs,
        [(
            "/fragment@1/__overlay__/deskphone-hook/hook-switch".to_string(),
            "gpios".to_string(),
            HOOK_SWITCH.gpio,
            GPIO_ACTIVE_LOW
        )]
    );
    let pins = tree.at("/fragment@0/__overlay__/deskphone_hook_pins");
    assert_eq!(pins.cells("brcm,pins"), [HOOK_SWITCH.gpio]);
    assert_eq!(pins.cells("brcm,pull"), [2], "BCM2835_PUD_UP");
}

#[test]
fn the_lamp_leds_are_the_ones_deskphone_lamps_opens() {
    let tree = overlay("deskphone-lamps");
    assert_eq!(fragment_target(&tree, "fragment@0"), "i2c1");
    let expander = tree.at("/fragment@0/__overlay__/gpio@20");
    assert_eq!(expander.string("compatible"), "nxp,pca9555");
    assert_eq!(expander.cell("reg"), 0x20);
    assert!(expander.has("gpio-controller"));
    assert_eq!(expander.cell("#gpio-cells"), 2);
    let expander_phandle = expander.cell("phandle");

    let leds = tree.at("/fragment@1/__overlay__/deskphone-lamps");
    assert_eq!(leds.string("compatible"), "gpio-leds");
    let found: Vec<(String, u32)> = leds
        .children
        .iter()
        .map(|(name, led)| {
            let [phandle, pin, flags] = led.cells("gpios")[..] else {
                panic!("{name}: gpios is not one reference");
            };
            assert_eq!(phandle, expander_phandle, "{name}: on the expander");
            assert_eq!(flags, GPIO_ACTIVE_LOW, "{name}: the expander sinks the LED");
            assert_eq!(led.string("default-state"), "off");
            (led.string("label"), pin)
        })
        .collect();
    let table: Vec<(String, u32)> = LAMP_LEDS
        .iter()
        .map(|&(_, label, pin)| (label.to_string(), pin))
        .collect();
    assert_eq!(found, table);
    assert_eq!(
        leds.child("message-waiting").unwrap().string("label"),
        "phone:red:message"
    );

    // deskphone-lamps' configuration for this board opens exactly these LEDs.
    let config = LampConfig::parse(LampConfig::RASPBERRY_PI).unwrap();
    let opened: Vec<(String, String)> = config
        .lamps
        .iter()
        .map(|(lamp, source)| match source {
            LampSource::Led { name } => (lamp.to_string(), name.clone()),
            other => panic!("{lamp}: {other} is not an LED"),
        })
        .collect();
    let wanted: Vec<(String, String)> = LAMP_LEDS
        .iter()
        .map(|&(lamp, label, _)| (lamp.to_string(), label.to_string()))
        .collect();
    assert_eq!(opened, wanted);
}

/// The kernel's check of a panel-mipi-dbi firmware file; returns its commands.
fn check_firmware(bin: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert!(bin.len() >= 16 + 2, "at least one command");
    assert_eq!(&bin[..15], b"MIPI DBI\0\0\0\0\0\0\0");
    assert_eq!(bin[15], 1, "file format version");
    let mut commands = Vec::new();
    let mut rest = &bin[16..];
    while !rest.is_empty() {
        let [command, count, ref tail @ ..] = rest[..] else {
            panic!("a command without its parameter count");
        };
        assert!(
            tail.len() >= usize::from(count),
            "command {command:#04x} overflows"
        );
        commands.push((command, tail[..usize::from(count)].to_vec()));
        rest = &tail[usize::from(count)..];
    }
    commands
}

#[test]
fn the_lcd_overlay_and_its_firmware_agree() {
    let tree = overlay("deskphone-lcd");
    let targets: Vec<String> = (0..=6)
        .map(|n| fragment_target(&tree, &format!("fragment@{n}")))
        .collect();
    assert_eq!(
        targets,
        [
            "spi0",
            "spidev0",
            "spidev1",
            "spi0_cs_pins",
            "spi0_pins",
            "gpio",
            "spi0"
        ]
    );
    let display = tree.at("/fragment@6/__overlay__/display@0");
    assert_eq!(
        display.strings("compatible"),
        [LCD_COMPATIBLE, "panel-mipi-dbi-spi"]
    );
    assert_eq!(format!("{LCD_COMPATIBLE}.bin"), LCD_FIRMWARE_NAME);
    assert!(display.has("write-only"), "MISO is the hook switch's");
    assert_eq!(display.cell("reg"), 0, "CE0");
    assert!(
        !display.has("format"),
        "RGB565, the driver's default and the firmware's"
    );
    let timing = display.at("/panel-timing");
    assert_eq!((timing.cell("hactive"), timing.cell("vactive")), LCD_SIZE);
    for unused in ["hfront-porch", "hsync-len", "vfront-porch", "vsync-len"] {
        assert_eq!(
            timing.cell(unused),
            0,
            "{unused}: the driver refuses other values"
        );
    }
    // MISO (9) released for the hook switch, CE1 (7) for the keypad.
    assert_eq!(
        tree.at("/fragment@4/__overlay__").cells("brcm,pins"),
        [10, 11]
    );
    assert_eq!(tree.at("/fragment@3/__overlay__").cells("brcm,pins"), [8]);

    // The committed firmware is the text compiled, and the kernel would take it.
    let committed = std::fs::read(crate_dir().join("firmware").join(LCD_FIRMWARE_NAME)).unwrap();
    assert_eq!(committed, LCD_FIRMWARE);
    assert_eq!(mipi_dbi::compile(LCD_INIT_COMMANDS).unwrap(), committed);
    let commands = check_firmware(&committed);
    let params = |cmd: u8| -> Vec<u8> {
        let found: Vec<&Vec<u8>> = commands
            .iter()
            .filter(|(c, _)| *c == cmd)
            .map(|(_, p)| p)
            .collect();
        assert_eq!(found.len(), 1, "command {cmd:#04x} once");
        found[0].clone()
    };
    assert_eq!(params(0x3a), [0x55], "COLMOD: 16 bits per pixel");
    let madctl = params(0x36)[0];
    let exchanged = madctl & 0x20 != 0;
    assert_eq!(
        exchanged,
        LCD_SIZE.0 > LCD_SIZE.1,
        "MADCTL MV gives the landscape picture"
    );
    assert_eq!(
        commands.last().unwrap(),
        &(0x00, vec![20]),
        "ends waiting after display on"
    );
    assert!(
        commands.iter().any(|(c, p)| *c == 0x29 && p.is_empty()),
        "display on"
    );
}

#[test]
fn the_codec_is_a_wm8960_card_on_i2c1_and_i2s() {
    let tree = overlay("deskphone-codec");
    assert_eq!(fragment_target(&tree, "fragment@0"), "i2s");
    assert_eq!(fragment_target(&tree, "fragment@2"), "i2c1");
    let codec = tree.at("/fragment@2/__overlay__/codec@1a");
    assert_eq!(codec.string("compatible"), "wlf,wm8960");
    assert_eq!(codec.cell("reg"), 0x1a);
    let mclk = tree.at("/fragment@1/__overlay__/deskphone-codec-mclk");
    assert_eq!(codec.cell("clocks"), mclk.cell("phandle"));

    let card = tree.at("/fragment@3/__overlay__/deskphone-sound");
    assert_eq!(card.string("compatible"), "simple-audio-card");
    assert_eq!(card.string("simple-audio-card,name"), "deskphone");
    let codec_link = card.at("/simple-audio-card,codec");
    assert_eq!(codec_link.cell("sound-dai"), codec.cell("phandle"));
    for master in [
        "simple-audio-card,bitclock-master",
        "simple-audio-card,frame-master",
    ] {
        assert_eq!(card.cell(master), codec_link.cell("phandle"), "{master}");
    }
    // Every routed sink or source is a board widget or a WM8960 pin.
    let widgets = card.strings("simple-audio-card,widgets");
    let board: BTreeSet<&String> = widgets.iter().skip(1).step_by(2).collect();
    let wm8960_pins = [
        "HP_L", "HP_R", "SPK_LP", "SPK_LN", "SPK_RP", "SPK_RN", "OUT3", "LINPUT1", "LINPUT2",
        "LINPUT3", "RINPUT1", "RINPUT2", "RINPUT3", "MICB",
    ];
    let routing = card.strings("simple-audio-card,routing");
    assert_eq!(routing.len() % 2, 0, "sink, source pairs");
    for end in &routing {
        assert!(
            board.contains(end) || wm8960_pins.contains(&end.as_str()),
            "routing names {end:?}"
        );
    }
}

#[test]
fn no_two_parts_share_a_gpio() {
    let mut owners: BTreeMap<u32, &str> = BTreeMap::new();
    for &(pin, who, what) in GPIO_PINS {
        assert!(
            (2..=27).contains(&pin),
            "GPIO {pin} ({what}) is not on the header's 2-27"
        );
        if let Some(before) = owners.insert(pin, who) {
            panic!("GPIO {pin} is {before}'s and {who}'s");
        }
    }
    for o in OVERLAYS {
        let claimed = claimed_gpios(&overlay(o.name));
        let listed: BTreeSet<u32> = GPIO_PINS
            .iter()
            .filter(|(_, who, _)| *who == o.name)
            .map(|(pin, _, _)| *pin)
            .collect();
        assert_eq!(claimed, listed, "{}: GPIOs claimed vs GPIO_PINS", o.name);
    }
}

#[test]
fn the_readme_tables_are_the_crates() {
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).unwrap();
    // | row | column | key | code | value |
    let keymap_rows: BTreeSet<(u8, u8, String, String, u16)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [row, col, key, name, value] = cells[..] else {
                return None;
            };
            let key = key.trim_matches('`').to_string();
            Some((
                row.parse().ok()?,
                col.parse().ok()?,
                key,
                name.trim_matches('`').to_string(),
                value.parse().ok()?,
            ))
        })
        .collect();
    let table: BTreeSet<(u8, u8, String, String, u16)> = KEYPAD_KEYMAP
        .iter()
        .map(|&(row, col, code, key)| {
            (
                row,
                col,
                key.to_string(),
                key_code_name(code).unwrap().to_string(),
                code,
            )
        })
        .collect();
    assert_eq!(keymap_rows, table, "README.md keymap table");

    // | GPIO | used by | for |
    let pin_rows: BTreeSet<(u32, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [pin, who, _] = cells[..] else {
                return None;
            };
            Some((pin.parse().ok()?, who.trim_matches('`').to_string()))
        })
        .collect();
    let pins: BTreeSet<(u32, String)> = GPIO_PINS
        .iter()
        .map(|&(p, w, _)| (p, w.to_string()))
        .collect();
    assert_eq!(pin_rows, pins, "README.md pin map");
}
