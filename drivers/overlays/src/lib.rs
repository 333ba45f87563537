//! Device-tree overlays for the phone's hardware on a Raspberry Pi (keypad, hook switch,
//! LCD, audio codec, lamps), and the facts about them that other crates reuse.
//!
//! # Design
//!
//! The overlays are plain `.dts` sources in `dts/`, one per part, each loaded by the Pi
//! firmware's `dtoverlay=deskphone-<part>` from `config.txt`. They are written for plain
//! `dtc -@ -I dts -O dtb`: no C preprocessor, so no `dt-bindings` headers; numbers are
//! written out with the name of the constant beside them. `README.md` explains each
//! choice (key codes, switch code, LCD driver, codec, I/O expander) and has the pin map.
//!
//! What the rest of the phone must agree with is also here as Rust constants, and the tests
//! compile every overlay with `dtc`, decompile the result and check it against them:
//!
//! - [`KEYPAD_KEYMAP`]: the matrix position and Linux key code of every key, with the
//!   phone's name for it (the names of `phonectl key` and of the keymap files). The default
//!   keymap of `drivers/input` is built from it.
//! - [`HOOK_SWITCH`]: the event the hook switch sends.
//! - [`LAMP_LEDS`]: the LED names the lamps get in `/sys/class/leds`, which
//!   `deskphone-lamps` opens.
//! - [`GPIO_PINS`]: who uses which SoC GPIO, so that no two parts share one.
//! - The LCD's controller set-up, a firmware file of the `panel-mipi-dbi-spi` driver:
//!   [`LCD_INIT_COMMANDS`] (text) compiles with [`mipi_dbi::compile`] to
//!   [`LCD_FIRMWARE`], which the image installs as `/lib/firmware/`[`LCD_FIRMWARE_NAME`].

pub mod mipi_dbi;

/// One overlay: its name for `dtoverlay=` (and the `.dtbo` file name) and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlay {
    /// `deskphone-keypad`: `config.txt` says `dtoverlay=deskphone-keypad`, the firmware
    /// loads `overlays/deskphone-keypad.dtbo`.
    pub name: &'static str,
    /// The file in `dts/`: `<name>-overlay.dts`.
    pub file: &'static str,
    pub source: &'static str,
}

macro_rules! overlay {
    ($name:literal) => {
        Overlay {
            name: $name,
            file: concat!($name, "-overlay.dts"),
            source: include_str!(concat!("../dts/", $name, "-overlay.dts")),
        }
    };
}

/// Every overlay of the phone, in the order `config.txt` loads them.
pub const OVERLAYS: &[Overlay] = &[
    overlay!("deskphone-hook"),
    overlay!("deskphone-keypad"),
    overlay!("deskphone-lcd"),
    overlay!("deskphone-codec"),
    overlay!("deskphone-lamps"),
];

/// The keypad matrix: `(row, column, Linux key code, phone key name)` for each of the 34
/// keys. The phone key names are those of `deskphone_ipc::ui::Key` (`phonectl key`, keymap
/// files); the overlay's `linux,keymap` holds exactly these entries.
pub const KEYPAD_KEYMAP: &[(u8, u8, u16, &str)] = &[
    (0, 0, 2, "1"),               // KEY_1
    (0, 1, 3, "2"),               // KEY_2
    (0, 2, 4, "3"),               // KEY_3
    (0, 3, 59, "soft1"),          // KEY_F1
    (0, 4, 183, "line1"),         // KEY_F13
    (0, 5, 0x1ac, "messages"),    // KEY_VOICEMAIL
    (1, 0, 5, "4"),               // KEY_4
    (1, 1, 6, "5"),               // KEY_5
    (1, 2, 7, "6"),               // KEY_6
    (1, 3, 60, "soft2"),          // KEY_F2
    (1, 4, 184, "line2"),         // KEY_F14
    (1, 5, 0x1ad, "directories"), // KEY_ADDRESSBOOK
    (2, 0, 8, "7"),               // KEY_7
    (2, 1, 9, "8"),               // KEY_8
    (2, 2, 10, "9"),              // KEY_9
    (2, 3, 61, "soft3"),          // KEY_F3
    (2, 4, 185, "line3"),         // KEY_F15
    (2, 5, 0x166, "info"),        // KEY_INFO
    (3, 0, 0x20a, "star"),        // KEY_NUMERIC_STAR
    (3, 1, 11, "0"),              // KEY_0
    (3, 2, 0x20b, "pound"),       // KEY_NUMERIC_POUND
    (3, 3, 62, "soft4"),          // KEY_F4
    (3, 4, 186, "line4"),         // KEY_F16
    (3, 5, 141, "settings"),      // KEY_SETUP
    (4, 0, 103, "up"),            // KEY_UP
    (4, 1, 108, "down"),          // KEY_DOWN
    (4, 2, 248, "mute"),          // KEY_MICMUTE
    (4, 3, 114, "voldown"),       // KEY_VOLUMEDOWN
    (4, 4, 187, "line5"),         // KEY_F17
    (4, 5, 139, "services"),      // KEY_MENU
    (5, 0, 189, "headset"),       // KEY_F19
    (5, 1, 190, "speaker"),       // KEY_F20
    (5, 2, 115, "volup"),         // KEY_VOLUMEUP
    (5, 4, 188, "line6"),         // KEY_F18
];

/// The `<linux/input-event-codes.h>` name of each code [`KEYPAD_KEYMAP`] uses.
pub fn key_code_name(code: u16) -> Option<&'static str> {
    Some(match code {
        2 => "KEY_1",
        3 => "KEY_2",
        4 => "KEY_3",
        5 => "KEY_4",
        6 => "KEY_5",
        7 => "KEY_6",
        8 => "KEY_7",
        9 => "KEY_8",
        10 => "KEY_9",
        11 => "KEY_0",
        59 => "KEY_F1",
        60 => "KEY_F2",
        61 => "KEY_F3",
        62 => "KEY_F4",
        103 => "KEY_UP",
        108 => "KEY_DOWN",
        114 => "KEY_VOLUMEDOWN",
        115 => "KEY_VOLUMEUP",
        139 => "KEY_MENU",
        141 => "KEY_SETUP",
        183 => "KEY_F13",
        184 => "KEY_F14",
        185 => "KEY_F15",
        186 => "KEY_F16",
        187 => "KEY_F17",
        188 => "KEY_F18",
        189 => "KEY_F19",
        190 => "KEY_F20",
        248 => "KEY_MICMUTE",
        0x166 => "KEY_INFO",
        0x1ac => "KEY_VOICEMAIL",
        0x1ad => "KEY_ADDRESSBOOK",
        0x20a => "KEY_NUMERIC_STAR",
        0x20b => "KEY_NUMERIC_POUND",
        _ => return None,
    })
}

/// The matrix rows (read, pulled up) and columns (driven), by SoC GPIO, in matrix order.
pub const KEYPAD_ROW_GPIOS: [u32; 6] = [4, 5, 6, 12, 13, 16];
pub const KEYPAD_COL_GPIOS: [u32; 6] = [17, 22, 23, 26, 27, 7];

/// The evdev event of the hook switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchEvent {
    /// `EV_SW`.
    pub event_type: u16,
    pub code: u16,
    pub code_name: &'static str,
    /// The SoC GPIO of the switch (active low: the cradle grounds it).
    pub gpio: u32,
    pub debounce_ms: u32,
    /// The input device's name (`EVIOCGNAME`).
    pub device_name: &'static str,
}

/// The hook switch: `SW_MACHINE_COVER` is 1 while the handset is on hook (the handset covers
/// the cradle), 0 while it is lifted.
pub const HOOK_SWITCH: SwitchEvent = SwitchEvent {
    event_type: 5,
    code: 0x10,
    code_name: "SW_MACHINE_COVER",
    gpio: 9,
    debounce_ms: 20,
    device_name: "deskphone-hook",
};

/// The input device name of the keypad matrix (the node name of its overlay).
pub const KEYPAD_DEVICE_NAME: &str = "deskphone-keypad";

/// `(lamp, LED name, expander pin)`: the lamps overlay's LEDs, by the lamp names of
/// `deskphone-lamps` (`message_waiting`, `line1`...).
pub const LAMP_LEDS: &[(&str, &str, u32)] = &[
    ("message_waiting", "phone:red:message", 0),
    ("line1", "phone:green:line1", 1),
    ("line2", "phone:green:line2", 2),
    ("line3", "phone:green:line3", 3),
    ("line4", "phone:green:line4", 4),
    ("line5", "phone:green:line5", 5),
    ("line6", "phone:green:line6", 6),
];

/// `(GPIO, who, what)` for every SoC GPIO the phone uses. "who" is the overlay that claims
/// the pin, or the `config.txt` line for pins the Pi's own overlays set up.
pub const GPIO_PINS: &[(u32, &str, &str)] = &[
    (2, "dtparam=i2c_arm=on", "I2C1 SDA: codec, lamp expander"),
    (3, "dtparam=i2c_arm=on", "I2C1 SCL: codec, lamp expander"),
    (4, "deskphone-keypad", "keypad row 0"),
    (5, "deskphone-keypad", "keypad row 1"),
    (6, "deskphone-keypad", "keypad row 2"),
    (7, "deskphone-keypad", "keypad column 5"),
    (8, "deskphone-lcd", "SPI0 CE0: LCD chip select"),
    (9, "deskphone-hook", "hook switch"),
    (10, "deskphone-lcd", "SPI0 MOSI: LCD data"),
    (11, "deskphone-lcd", "SPI0 SCLK: LCD clock"),
    (12, "deskphone-keypad", "keypad row 3"),
    (13, "deskphone-keypad", "keypad row 4"),
    (14, "enable_uart=1", "UART TX: serial console"),
    (15, "enable_uart=1", "UART RX: serial console"),
    (16, "deskphone-keypad", "keypad row 5"),
    (17, "deskphone-keypad", "keypad column 0"),
    (18, "dtparam=i2s=on", "I2S BCLK: codec"),
    (19, "dtparam=i2s=on", "I2S LRCLK: codec"),
    (20, "dtparam=i2s=on", "I2S DIN: codec ADC"),
    (21, "dtparam=i2s=on", "I2S DOUT: codec DAC"),
    (22, "deskphone-keypad", "keypad column 1"),
    (23, "deskphone-keypad", "keypad column 2"),
    (24, "deskphone-lcd", "LCD D/C"),
    (25, "deskphone-lcd", "LCD reset"),
    (26, "deskphone-keypad", "keypad column 3"),
    (27, "deskphone-keypad", "keypad column 4"),
];

/// The LCD's first compatible, which names its firmware file.
pub const LCD_COMPATIBLE: &str = "deskphone,ili9341";
/// The firmware file `panel-mipi-dbi-spi` loads for the LCD, under `/lib/firmware/`.
pub const LCD_FIRMWARE_NAME: &str = "deskphone,ili9341.bin";
/// The LCD controller's set-up, in the text format [`mipi_dbi::compile`] reads.
pub const LCD_INIT_COMMANDS: &str = include_str!("../firmware/deskphone,ili9341.txt");
/// [`LCD_INIT_COMMANDS`] compiled: the committed `firmware/deskphone,ili9341.bin`.
pub const LCD_FIRMWARE: &[u8] = include_bytes!("../firmware/deskphone,ili9341.bin");
/// The picture, landscape: the overlay's `panel-timing`.
pub const LCD_SIZE: (u32, u32) = (320, 240);
