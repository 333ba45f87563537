//! Text in embedded-graphics' Latin-1 bitmap fonts, drawn at an integer scale and clipped to a
//! box with an ellipsis.
//!
//! embedded-graphics' own text renderer cannot scale, so glyphs are read once per font into a
//! table of row bit masks and then streamed to the target as one `draw_iter` per string: no
//! allocation per glyph or per string.

use std::str::Chars;
use std::sync::OnceLock;

use embedded_graphics::image::GetPixel;
use embedded_graphics::mono_font::iso_8859_1 as latin1;
use embedded_graphics::mono_font::mapping::GlyphMapping;
use embedded_graphics::mono_font::MonoFont;
use embedded_graphics::pixelcolor::{BinaryColor, Rgb888};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

/// A bitmap face, one of embedded-graphics' ISO 8859-1 fonts (so `José` and `Müller` render;
/// characters outside Latin-1 become `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Font5x7,
    Font6x10,
    Font7x13,
    Font9x15,
    Font10x20,
}

impl Face {
    /// The unscaled character cell.
    pub const fn cell(self) -> Size {
        match self {
            Face::Font5x7 => Size::new(5, 7),
            Face::Font6x10 => Size::new(6, 10),
            Face::Font7x13 => Size::new(7, 13),
            Face::Font9x15 => Size::new(9, 15),
            Face::Font10x20 => Size::new(10, 20),
        }
    }

    /// The font and its slot in the glyph table cache. Only 7x13 and 9x15 have a bold cut;
    /// the others fall back to the regular one.
    fn mono(self, bold: bool) -> (&'static MonoFont<'static>, usize) {
        match (self, bold) {
            (Face::Font5x7, _) => (&latin1::FONT_5X7, 0),
            (Face::Font6x10, _) => (&latin1::FONT_6X10, 1),
            (Face::Font7x13, false) => (&latin1::FONT_7X13, 2),
            (Face::Font7x13, true) => (&latin1::FONT_7X13_BOLD, 3),
            (Face::Font9x15, false) => (&latin1::FONT_9X15, 4),
            (Face::Font9x15, true) => (&latin1::FONT_9X15_BOLD, 5),
            (Face::Font10x20, _) => (&latin1::FONT_10X20, 6),
        }
    }
}

/// A face at an integer scale: what the layout picked for a display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Font {
    pub face: Face,
    pub scale: u32,
}

impl Font {
    /// One character cell on the display, scaled.
    pub const fn cell(self) -> Size {
        let cell = self.face.cell();
        Size::new(cell.width * self.scale, cell.height * self.scale)
    }
}

/// How a string sits in its box horizontally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Centre,
    Right,
}

/// One font's glyphs as row bit masks (bit `width - 1` is the leftmost pixel).
struct GlyphTable {
    cell: Size,
    baseline: u32,
    rows: Vec<u16>,
    mapping: &'static dyn GlyphMapping,
}

/// The glyph used for a character the font does not have.
const REPLACEMENT: char = '?';

impl GlyphTable {
    fn load(font: &'static MonoFont<'static>) -> GlyphTable {
        let cell = font.character_size;
        let image = font.image;
        let per_row = image.size().width / cell.width.max(1);
        let glyph_rows = image.size().height / cell.height.max(1);
        let count = per_row * glyph_rows;
        let mut rows = Vec::with_capacity((count * cell.height) as usize);
        for index in 0..count {
            let left = (index % per_row) * cell.width;
            let top = (index / per_row) * cell.height;
            for y in 0..cell.height {
                let mut bits = 0u16;
                for x in 0..cell.width {
                    let at = Point::new((left + x) as i32, (top + y) as i32);
                    if image.pixel(at) == Some(BinaryColor::On) {
                        bits |= 1 << (cell.width - 1 - x);
                    }
                }
                rows.push(bits);
            }
        }
        GlyphTable {
            cell,
            baseline: font.baseline,
            rows,
            mapping: font.glyph_mapping,
        }
    }

    fn glyph(&self, c: char) -> &[u16] {
        let height = self.cell.height as usize;
        let start = self.mapping.index(c) * height;
        match self.rows.get(start..start + height) {
            Some(rows) => rows,
            None => {
                let start = self.mapping.index(REPLACEMENT) * height;
                self.rows.get(start..start + height).unwrap_or(&[])
            }
        }
    }
}

fn table(face: Face, bold: bool) -> &'static GlyphTable {
    static TABLES: [OnceLock<GlyphTable>; 7] = [const { OnceLock::new() }; 7];
    let (font, slot) = face.mono(bold);
    TABLES[slot].get_or_init(|| GlyphTable::load(font))
}

/// The ink pixels of a string, scaled, left to right, limited to `clip`.
struct TextPixels<'a> {
    table: &'static GlyphTable,
    chars: Chars<'a>,
    glyph: &'static [u16],
    scale: u32,
    /// Top-left of the current character cell.
    origin: Point,
    /// Position inside the current scaled cell.
    x: u32,
    y: u32,
    clip: Rectangle,
    color: Rgb888,
}

impl Iterator for TextPixels<'_> {
    type Item = Pixel<Rgb888>;

    fn next(&mut self) -> Option<Pixel<Rgb888>> {
        let width = self.table.cell.width;
        let cell_w = width * self.scale;
        let cell_h = self.table.cell.height * self.scale;
        loop {
            if self.y >= cell_h || self.glyph.is_empty() {
                if !self.glyph.is_empty() {
                    self.origin.x += cell_w as i32;
                }
                let c = self.chars.next()?;
                self.glyph = self.table.glyph(c);
                self.x = 0;
                self.y = 0;
            }
            let (x, y) = (self.x, self.y);
            self.x += 1;
            if self.x == cell_w {
                self.x = 0;
                self.y += 1;
            }
            let bits = self.glyph[(y / self.scale) as usize];
            if bits >> (width - 1 - x / self.scale) & 1 == 1 {
                let at = self.origin + Point::new(x as i32, y as i32);
                if self.clip.contains(at) {
                    return Some(Pixel(at, self.color));
                }
            }
        }
    }
}

/// The first `count` characters of `s`.
fn prefix(s: &str, count: usize) -> &str {
    match s.char_indices().nth(count) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// How many character cells `s` takes at most in `width` pixels (with the ellipsis when cut).
pub(crate) fn fitted_cells(s: &str, font: Font, width: u32) -> u32 {
    let fits = width / font.cell().width.max(1);
    (s.chars().count() as u32).min(fits)
}

/// Draws `s` in `area`, vertically centred, cut to the characters that fit with an ellipsis
/// in the last cell when it is too long. Nothing is drawn outside `area`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_text<D: DrawTarget<Color = Rgb888>>(
    target: &mut D,
    font: Font,
    bold: bool,
    s: &str,
    area: Rectangle,
    align: Align,
    color: Rgb888,
) -> Result<(), D::Error> {
    let cell = font.cell();
    if s.is_empty() || cell.width == 0 || area.size.width < cell.width {
        return Ok(());
    }
    let fits = (area.size.width / cell.width) as usize;
    let count = s.chars().count();
    let (shown, cut) = if count <= fits {
        (s, false)
    } else {
        (prefix(s, fits - 1), true)
    };
    let cells = if cut { fits } else { count } as u32;
    let spare = area.size.width - cells * cell.width;
    let dx = match align {
        Align::Left => 0,
        Align::Centre => spare / 2,
        Align::Right => spare,
    };
    let dy = area.size.height.saturating_sub(cell.height) / 2;
    let origin = area.top_left + Point::new(dx as i32, dy as i32);
    let table = table(font.face, bold);
    target.draw_iter(TextPixels {
        table,
        chars: shown.chars(),
        glyph: &[],
        scale: font.scale,
        origin,
        x: 0,
        y: 0,
        clip: area,
        color,
    })?;
    if cut {
        let last = origin + Point::new(((cells - 1) * cell.width) as i32, 0);
        draw_ellipsis(target, font, table.baseline, last, area, color)?;
    }
    Ok(())
}

/// Three dots on the baseline of one cell: Latin-1 has no `…`.
fn draw_ellipsis<D: DrawTarget<Color = Rgb888>>(
    target: &mut D,
    font: Font,
    baseline: u32,
    cell_origin: Point,
    clip: Rectangle,
    color: Rgb888,
) -> Result<(), D::Error> {
    let cell = font.cell();
    let dot = (cell.width / 5).max(1);
    let y = (baseline + 1) * font.scale;
    for i in 0..3 {
        // Centred in sixths 1, 3 and 5 of the cell.
        let x = (cell.width * (2 * i + 1) / 6).saturating_sub(dot / 2);
        let at = cell_origin + Point::new(x as i32, y.saturating_sub(dot) as i32);
        let square = Rectangle::new(at, Size::new(dot, dot)).intersection(&clip);
        target.fill_solid(&square, color)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_has_latin1_letters_and_a_replacement() {
        for face in [
            Face::Font5x7,
            Face::Font6x10,
            Face::Font7x13,
            Face::Font9x15,
            Face::Font10x20,
        ] {
            for bold in [false, true] {
                let t = table(face, bold);
                assert_eq!(t.glyph('ü').len(), face.cell().height as usize);
                assert!(t.glyph('ü').iter().any(|r| *r != 0), "{face:?} has ü");
                assert_ne!(t.glyph('ü'), t.glyph('u'), "{face:?}");
                assert_eq!(t.glyph('名'), t.glyph('?'), "{face:?}");
                assert!(t.glyph(' ').iter().all(|r| *r == 0));
            }
        }
    }

    #[test]
    fn prefix_counts_characters_not_bytes() {
        assert_eq!(prefix("Müller", 2), "Mü");
        assert_eq!(prefix("ab", 5), "ab");
        assert_eq!(prefix("", 0), "");
    }
}
