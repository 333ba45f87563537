//! The colours of a screen, in one place so a colour display can use another theme.

use embedded_graphics::pixelcolor::Rgb888;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// The screen behind everything.
    pub background: Rgb888,
    /// Text and icons.
    pub text: Rgb888,
    /// Item numbers, the scroll indicator, the edit field's label.
    pub secondary: Rgb888,
    /// Separators and outlines (status bar rule, line key column edge, soft key tabs).
    pub rule: Rgb888,
    /// The selected row and the edit cursor: inverted.
    pub highlight: Rgb888,
    pub highlight_text: Rgb888,
    /// The title bar of menus.
    pub title: Rgb888,
    pub title_text: Rgb888,
    /// The inside of the edit field's box.
    pub field: Rgb888,
    /// The inside of a soft key tab.
    pub tab: Rgb888,
}

impl Theme {
    /// The 7940/7960's backlit greyscale LCD: dark grey on a light grey-green.
    pub const LCD: Theme = Theme {
        background: Rgb888::new(0xc5, 0xcf, 0xb8),
        text: Rgb888::new(0x26, 0x2d, 0x24),
        secondary: Rgb888::new(0x5d, 0x68, 0x57),
        rule: Rgb888::new(0x6f, 0x7a, 0x68),
        highlight: Rgb888::new(0x35, 0x3e, 0x33),
        highlight_text: Rgb888::new(0xdc, 0xe4, 0xd0),
        title: Rgb888::new(0x5a, 0x66, 0x54),
        title_text: Rgb888::new(0xe8, 0xee, 0xdf),
        field: Rgb888::new(0xe0, 0xe7, 0xd6),
        tab: Rgb888::new(0xd3, 0xdb, 0xc7),
    };
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::LCD
    }
}
