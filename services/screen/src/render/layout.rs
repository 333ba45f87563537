//! Where each part of a screen goes on a display of a given size.
//!
//! Everything scales from one choice: the largest font (face and integer scale) that still
//! gives about [`MIN_LINES`] lines and [`MIN_COLUMNS`] columns, so a 320x240 LCD, a 640x480
//! framebuffer and a 1024x768 one show the same screen with the same proportions. Line
//! height, margins, rule thickness and icon size all derive from the font's cell.

use embedded_graphics::geometry::{Point, Size};
use embedded_graphics::primitives::Rectangle;

use super::icons::{LARGE as LARGE_ICON, SMALL as SMALL_ICON};
use super::text::{Face, Font};
use crate::model::{Row, Screen};

/// A display should show at least this many lines of text...
pub const MIN_LINES: u32 = 14;
/// ...and this many characters across.
pub const MIN_COLUMNS: u32 = 40;

/// The fonts to choose from, smallest first.
const FONTS: [Font; 9] = [
    Font {
        face: Face::Font5x7,
        scale: 1,
    },
    Font {
        face: Face::Font6x10,
        scale: 1,
    },
    Font {
        face: Face::Font7x13,
        scale: 1,
    },
    Font {
        face: Face::Font9x15,
        scale: 1,
    },
    Font {
        face: Face::Font10x20,
        scale: 1,
    },
    Font {
        face: Face::Font9x15,
        scale: 2,
    },
    Font {
        face: Face::Font10x20,
        scale: 2,
    },
    Font {
        face: Face::Font9x15,
        scale: 3,
    },
    Font {
        face: Face::Font10x20,
        scale: 3,
    },
];

/// Line keys on a 7960.
pub const LINE_KEY_SLOTS: usize = 6;

/// Characters a line key label gets before it is cut (a `lineN_shortname`).
const LINE_KEY_CHARS: u32 = 13;

/// The rectangles of a screen on a display of one size. [`layout`] gives the full frame (a
/// line key column, a title bar and an edit field all present); [`Layout::for_screen`] gives
/// the one a given [`Screen`] is drawn with, where absent parts give their room to the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub size: Size,
    pub font: Font,
    /// The height of one line of text (status bar, title, body row, prompt).
    pub line_height: u32,
    /// Horizontal space between a box's edge and its text, and between columns.
    pub margin: u32,
    /// Thickness of rules and outlines.
    pub unit: u32,
    /// Side of a drawn icon; 0 when icons do not fit a line (tiny displays).
    pub icon_size: u32,
    /// The factor pictures are scaled up by on big displays.
    pub image_scale: u32,
    pub status_bar: Rectangle,
    /// The column of line key labels down the right side (zero width when there are none).
    pub line_keys: Rectangle,
    pub title_bar: Rectangle,
    pub body: Rectangle,
    pub edit: Rectangle,
    pub prompt: Rectangle,
    /// The soft key labels, one quarter of the width each.
    pub softkeys: [Rectangle; 4],
}

/// Where the parts of one body row go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowColumns {
    pub icon: Rectangle,
    pub number: Rectangle,
    pub text: Rectangle,
    pub value: Rectangle,
}

fn rect(x: u32, y: u32, width: u32, height: u32) -> Rectangle {
    Rectangle::new(Point::new(x as i32, y as i32), Size::new(width, height))
}

fn line_height_of(font: Font) -> u32 {
    let glyph = font.cell().height;
    glyph + (glyph / 4).max(2)
}

/// The full frame of a display of `size`.
pub fn layout(size: Size) -> Layout {
    // Beyond any real display; keeps the arithmetic below from overflowing.
    const MAX_SIDE: u32 = 1 << 15;
    let (w, h) = (size.width.min(MAX_SIDE), size.height.min(MAX_SIDE));
    let font = FONTS
        .iter()
        .rev()
        .find(|f| w >= MIN_COLUMNS * f.cell().width && h >= MIN_LINES * line_height_of(**f))
        .copied()
        .unwrap_or(FONTS[0]);
    let cell = font.cell();
    let line = line_height_of(font);
    let unit = (cell.height / 14).max(1);
    let margin = (cell.width / 2).max(unit);
    let icon_size = match ((cell.height + 6) / LARGE_ICON).min(line / LARGE_ICON) {
        0 if line >= SMALL_ICON => SMALL_ICON,
        scale => LARGE_ICON * scale,
    };

    let status_h = (line + unit).min(h);
    let softkey_h = (line + 2 * unit).min(h - status_h);
    let softkey_y = h - softkey_h;
    let prompt_h = line.min(softkey_y - status_h);
    let prompt_y = softkey_y - prompt_h;
    let middle_h = prompt_y - status_h;

    let column_w = (2 * margin + LINE_KEY_CHARS * cell.width + margin + icon_size).min(w * 2 / 5);
    let main_w = w - column_w;
    let title_h = line.min(middle_h);
    let edit_h = (2 * line + 2 * unit).min(middle_h - title_h);
    let body_y = status_h + title_h;
    let edit_y = prompt_y - edit_h;

    let quarter = |i: u32| rect(w * i / 4, softkey_y, w * (i + 1) / 4 - w * i / 4, softkey_h);
    Layout {
        size,
        font,
        line_height: line,
        margin,
        unit,
        icon_size,
        image_scale: (w / 320).min(h / 240).max(1),
        status_bar: rect(0, 0, w, status_h),
        line_keys: rect(main_w, status_h, column_w, middle_h),
        title_bar: rect(0, status_h, main_w, title_h),
        body: rect(0, body_y, main_w, edit_y - body_y),
        edit: rect(0, edit_y, main_w, edit_h),
        prompt: rect(0, prompt_y, w, prompt_h),
        softkeys: [quarter(0), quarter(1), quarter(2), quarter(3)],
    }
}

impl Layout {
    /// The frame a given screen is drawn with: without line keys the main area takes the full
    /// width; without a title or an edit field the body takes their room.
    pub fn for_screen(&self, screen: &Screen) -> Layout {
        let mut out = *self;
        if screen.line_keys.is_empty() {
            let full = self.size.width;
            out.line_keys = rect(
                full,
                self.line_keys.top_left.y as u32,
                0,
                self.line_keys.size.height,
            );
            out.title_bar.size.width = full;
            out.body.size.width = full;
            out.edit.size.width = full;
        }
        if screen.title.is_none() {
            out.body.top_left.y = out.title_bar.top_left.y;
            out.body.size.height += out.title_bar.size.height;
            out.title_bar.size.height = 0;
        }
        if screen.edit.is_none() {
            out.body.size.height += out.edit.size.height;
            out.edit.top_left.y += out.edit.size.height as i32;
            out.edit.size.height = 0;
        }
        out
    }

    /// The box beside line key `index` (0-based): the column cut in six, one per button; on a
    /// display too short for that, one line each from the top, as many as fit (the others
    /// are empty).
    pub fn line_key_slot(&self, index: usize) -> Rectangle {
        let column = self.line_keys;
        let h = column.size.height;
        let slots = LINE_KEY_SLOTS as u32;
        let line = self.line_height;
        let (top, bottom) = match index as u32 {
            i if i >= slots => (h, h),
            i if h / slots >= line => (h * i / slots, h * (i + 1) / slots),
            i if (i + 1) * line <= h => (i * line, (i + 1) * line),
            _ => (h, h),
        };
        let y = column.top_left.y + top as i32;
        Rectangle::new(
            Point::new(column.top_left.x, y),
            Size::new(column.size.width, bottom - top),
        )
    }

    /// How many body rows fit.
    pub fn visible_rows(&self) -> usize {
        (self.body.size.height / self.line_height.max(1)) as usize
    }

    /// The first row shown: rows scroll by pages, so the selected row is always on screen and
    /// a screen drawn twice with the same data looks the same.
    pub fn first_visible_row(&self, rows: usize, selected: Option<usize>) -> usize {
        let page = self.visible_rows();
        match selected {
            Some(s) if s < rows && page > 0 => s / page * page,
            _ => 0,
        }
    }

    /// Whether a scroll indicator is drawn: the rows do not all fit.
    pub fn scrolls(&self, rows: usize) -> bool {
        rows > self.visible_rows()
    }

    /// The scroll indicator's track at the right edge of the body.
    pub fn scroll_track(&self) -> Rectangle {
        let w = (self.font.cell().width / 2).max(3 * self.unit);
        let body = self.body;
        let x = (body.top_left.x as u32 + body.size.width).saturating_sub(w + self.unit);
        rect(
            x,
            body.top_left.y as u32 + self.unit,
            w,
            body.size.height.saturating_sub(2 * self.unit),
        )
    }

    /// The `n`th row on screen (0 is the top of the body), narrowed for the scroll indicator
    /// when `scrolls`.
    pub fn row(&self, n: usize, scrolls: bool) -> Rectangle {
        let body = self.body;
        let width = if scrolls {
            (self.scroll_track().top_left.x - body.top_left.x).max(0) as u32
        } else {
            body.size.width
        };
        let y = body.top_left.y + (n as u32 * self.line_height) as i32;
        Rectangle::new(
            Point::new(body.top_left.x, y),
            Size::new(width, self.line_height),
        )
    }

    /// Splits a body row into icon, number, text and value columns. `icons` and
    /// `number_digits` are the same for every row of a screen so the columns line up; the value
    /// is right-aligned and gets at most half of what remains, the text the rest.
    pub fn row_columns(
        &self,
        area: Rectangle,
        row: &Row,
        icons: bool,
        number_digits: u32,
    ) -> RowColumns {
        let cell = self.font.cell();
        let left = area.top_left.x as u32 + self.margin;
        let right = (area.top_left.x as u32 + area.size.width).saturating_sub(self.margin);
        let y = area.top_left.y as u32;
        let h = area.size.height;
        let mut x = left;

        let icon_w = if icons { self.icon_size } else { 0 };
        let icon_y = y + h.saturating_sub(icon_w) / 2;
        let icon = rect(x, icon_y, icon_w, icon_w);
        if icon_w > 0 {
            x += icon_w + self.margin;
        }
        let number = rect(x, y, number_digits * cell.width, h);
        if number_digits > 0 {
            x += (number_digits + 1) * cell.width;
        }
        let x = x.min(right);
        let room = right - x;
        let value_w = match &row.value {
            Some(v) if !v.is_empty() => {
                let half = room / 2 / cell.width.max(1) * cell.width;
                (v.chars().count() as u32 * cell.width).min(half)
            }
            _ => 0,
        };
        let value = rect(right - value_w, y, value_w, h);
        let gap = if value_w > 0 { cell.width } else { 0 };
        let text = rect(x, y, room.saturating_sub(value_w + gap), h);
        RowColumns {
            icon,
            number,
            text,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TitleBar;

    fn inside(outer: Size, r: &Rectangle) -> bool {
        let br = r.top_left + r.size;
        r.top_left.x >= 0
            && r.top_left.y >= 0
            && br.x <= outer.width as i32
            && br.y <= outer.height as i32
    }

    fn bottom(r: &Rectangle) -> i32 {
        r.top_left.y + r.size.height as i32
    }

    fn right(r: &Rectangle) -> i32 {
        r.top_left.x + r.size.width as i32
    }

    fn all(l: &Layout) -> Vec<Rectangle> {
        let mut v = vec![
            l.status_bar,
            l.line_keys,
            l.title_bar,
            l.body,
            l.edit,
            l.prompt,
        ];
        v.extend(l.softkeys);
        v.extend((0..LINE_KEY_SLOTS).map(|i| l.line_key_slot(i)));
        v
    }

    #[test]
    fn the_frame_tiles_a_320x240_lcd() {
        let l = layout(Size::new(320, 240));
        assert_eq!(
            l.font,
            Font {
                face: Face::Font7x13,
                scale: 1
            }
        );
        assert_eq!(l.status_bar, rect(0, 0, 320, l.line_height + l.unit));
        // Soft keys: four quarters side by side along the bottom.
        assert_eq!(l.softkeys[0].top_left.x, 0);
        for pair in l.softkeys.windows(2) {
            assert_eq!(right(&pair[0]), pair[1].top_left.x);
            assert_eq!(pair[0].size.width, 80);
        }
        assert_eq!(right(&l.softkeys[3]), 320);
        assert_eq!(bottom(&l.softkeys[3]), 240);
        // Prompt right above the soft keys, full width.
        assert_eq!(bottom(&l.prompt), l.softkeys[0].top_left.y);
        assert_eq!(l.prompt.size.width, 320);
        // Line keys down the right side, between the status bar and the prompt.
        assert_eq!(right(&l.line_keys), 320);
        assert_eq!(l.line_keys.top_left.y, bottom(&l.status_bar));
        assert_eq!(bottom(&l.line_keys), l.prompt.top_left.y);
        assert!(l.line_keys.size.width >= 90 && l.line_keys.size.width <= 128);
        // Title, body and edit stacked left of the column.
        assert_eq!(l.title_bar.top_left.y, bottom(&l.status_bar));
        assert_eq!(l.body.top_left.y, bottom(&l.title_bar));
        assert_eq!(l.edit.top_left.y, bottom(&l.body));
        assert_eq!(bottom(&l.edit), l.prompt.top_left.y);
        for r in [l.title_bar, l.body, l.edit] {
            assert_eq!(right(&r), l.line_keys.top_left.x);
        }
        // A ten-item menu fits without scrolling once the edit field is not there.
        let menu = Screen {
            title: Some(TitleBar {
                text: "Settings".into(),
                icon: None,
                position: None,
            }),
            ..Screen::default()
        };
        assert!(l.for_screen(&menu).visible_rows() >= 10);
    }

    #[test]
    fn the_font_grows_with_the_display() {
        let font = |w, h| layout(Size::new(w, h)).font;
        let f = |face, scale| Font { face, scale };
        assert_eq!(font(128, 64), f(Face::Font5x7, 1));
        assert_eq!(font(320, 240), f(Face::Font7x13, 1));
        assert_eq!(font(640, 480), f(Face::Font10x20, 1));
        assert_eq!(font(800, 600), f(Face::Font9x15, 2));
        assert_eq!(font(1024, 768), f(Face::Font10x20, 2));
        let sizes = [
            (160, 120),
            (320, 240),
            (480, 360),
            (640, 480),
            (800, 600),
            (1024, 768),
            (1920, 1080),
        ];
        let heights: Vec<u32> = sizes
            .iter()
            .map(|(w, h)| font(*w, *h).cell().height)
            .collect();
        assert!(heights.windows(2).all(|p| p[0] <= p[1]), "{heights:?}");
        // Icons grow too and always fit a line: the small set on lines under 12 pixels.
        for (w, h) in sizes {
            let l = layout(Size::new(w, h));
            assert!(l.icon_size <= l.line_height);
            assert!(l.icon_size >= SMALL_ICON, "{w}x{h}");
        }
        assert_eq!(layout(Size::new(128, 64)).icon_size, SMALL_ICON);
        assert_eq!(layout(Size::new(320, 240)).icon_size, LARGE_ICON);
        assert_eq!(layout(Size::new(640, 480)).icon_size, 2 * LARGE_ICON);
        assert_eq!(layout(Size::new(320, 240)).image_scale, 1);
        assert_eq!(layout(Size::new(640, 480)).image_scale, 2);
        assert_eq!(layout(Size::new(1024, 768)).image_scale, 3);
    }

    #[test]
    fn every_size_gives_rectangles_inside_the_display() {
        for w in (0..700).step_by(13) {
            for h in (0..500).step_by(11) {
                let size = Size::new(w, h);
                let l = layout(size);
                for r in all(&l) {
                    assert!(inside(size, &r), "{w}x{h}: {r:?} in {l:?}");
                }
                assert!(l.visible_rows() as u32 * l.line_height <= l.body.size.height);
            }
        }
        let huge = layout(Size::new(u32::MAX, u32::MAX));
        assert_eq!(huge.font.scale, 3);
    }

    #[test]
    fn parts_a_screen_lacks_give_their_room_to_the_body() {
        let full = layout(Size::new(320, 240));
        let bare = full.for_screen(&Screen::default());
        assert_eq!(bare.body.size.width, 320);
        assert_eq!(bare.body.top_left.y, full.title_bar.top_left.y);
        assert_eq!(bottom(&bare.body), full.prompt.top_left.y);
        assert_eq!(bare.line_keys.size.width, 0);
        assert_eq!(bare.title_bar.size.height, 0);
        assert_eq!(bare.edit.size.height, 0);

        let with_keys = Screen {
            line_keys: vec![crate::model::LineKey {
                label: "1001".into(),
                icon: crate::model::Icon::LineIdle,
            }],
            ..Screen::default()
        };
        assert_eq!(
            full.for_screen(&with_keys).body.size.width,
            full.body.size.width
        );
    }

    #[test]
    fn pages_keep_the_selected_row_on_screen() {
        let l = layout(Size::new(320, 240));
        let page = l.visible_rows();
        for rows in [0, 1, page, page + 1, 30, 100] {
            for s in 0..rows {
                let first = l.first_visible_row(rows, Some(s));
                assert!(
                    first <= s && s < first + page,
                    "{rows} rows, selected {s}: first {first}"
                );
                assert_eq!(first % page, 0);
            }
            assert_eq!(l.first_visible_row(rows, None), 0);
            assert_eq!(l.first_visible_row(rows, Some(rows + 3)), 0);
        }
        assert!(!l.scrolls(page) && l.scrolls(page + 1));
    }

    #[test]
    fn line_key_slots_cut_the_column_in_six() {
        let l = layout(Size::new(320, 240));
        let mut y = l.line_keys.top_left.y;
        for i in 0..LINE_KEY_SLOTS {
            let slot = l.line_key_slot(i);
            assert_eq!(slot.top_left.y, y);
            assert_eq!(slot.size.width, l.line_keys.size.width);
            assert!(slot.size.height >= l.line_height);
            y = bottom(&slot);
        }
        assert_eq!(y, bottom(&l.line_keys));
    }

    #[test]
    fn row_columns_line_up_and_never_overlap() {
        let l = layout(Size::new(320, 240));
        let area = l.row(0, false);
        let row = Row {
            icon: Some(crate::model::Icon::Folder),
            number: Some(12),
            value: Some("a value far too long to take more than half of the row".into()),
            ..Row::text("text")
        };
        let c = l.row_columns(area, &row, true, 2);
        assert!(right(&c.icon) < c.number.top_left.x);
        assert!(right(&c.number) < c.text.top_left.x);
        assert!(right(&c.text) < c.value.top_left.x);
        assert_eq!(right(&c.value), right(&area) - l.margin as i32);
        assert!(c.value.size.width <= (right(&area) - c.text.top_left.x) as u32 / 2);
        // Without a value the text runs to the right margin.
        let plain = l.row_columns(area, &Row::text("text"), true, 2);
        assert_eq!(right(&plain.text), right(&area) - l.margin as i32);
        assert_eq!(plain.text.top_left.x, c.text.top_left.x);
    }
}
