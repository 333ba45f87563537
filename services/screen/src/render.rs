//! Drawing a [`Screen`] on any embedded-graphics `DrawTarget<Color = Rgb888>` of any size.
//!
//! The drawing is a pure function of the screen, the display size and a [`Theme`]: no state
//! is kept between frames, so the same data always gives the same pixels (which is what the
//! golden-image tests rely on). [`layout`] decides where everything goes from the size alone
//! (see its module for how the font is chosen); [`render`] then paints each element once, in
//! order: background, status bar, line key column, title bar, body rows (or picture), edit
//! field, prompt, soft key tabs. Everything is drawn through a clip of the target's bounds and
//! each string through a clip of its own box, so a tiny display shows what fits and long text
//! ends in an ellipsis instead of running into the next column.
//!
//! Speed: glyphs come from a per-font table of row bit masks built once; a string is one
//! `draw_iter` of its ink pixels, an icon another, a picture one `fill_contiguous`. Nothing is
//! allocated while drawing.

mod icons;
mod layout;
mod text;
mod theme;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{
    PrimitiveStyleBuilder, Rectangle, RoundedRectangle, StrokeAlignment,
};

pub use layout::{layout, Layout, RowColumns, LINE_KEY_SLOTS, MIN_COLUMNS, MIN_LINES};
pub use text::{Face, Font};
pub use theme::Theme;

use crate::model::{EditField, Icon, Image, LineKey, Row, Screen, StatusBar, TitleBar};
use text::{draw_text, fitted_cells, Align};

/// Draws `screen` over the whole of `target`.
pub fn render<D>(screen: &Screen, target: &mut D, theme: &Theme) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb888>,
{
    let bounds = target.bounding_box();
    if bounds.is_zero_sized() {
        return Ok(());
    }
    let frame = layout(bounds.size).for_screen(screen);
    let mut clipped = target.clipped(&bounds);
    let mut origin = clipped.translated(bounds.top_left);
    let mut painter = Painter {
        target: &mut origin,
        layout: &frame,
        theme,
    };
    painter.fill(Rectangle::new(Point::zero(), bounds.size), theme.background)?;
    painter.status_bar(&screen.status_bar)?;
    painter.line_keys(&screen.line_keys)?;
    if let Some(title) = &screen.title {
        painter.title(title)?;
    }
    painter.body(screen)?;
    if let Some(edit) = &screen.edit {
        painter.edit(edit)?;
    }
    if let Some(prompt) = &screen.prompt {
        painter.prompt(prompt)?;
    }
    painter.softkeys(&screen.softkeys)
}

struct Painter<'a, D> {
    target: &'a mut D,
    layout: &'a Layout,
    theme: &'a Theme,
}

/// `area` less `dx` on the left and right.
fn inset_x(area: Rectangle, dx: u32) -> Rectangle {
    Rectangle::new(
        area.top_left + Point::new(dx as i32, 0),
        Size::new(area.size.width.saturating_sub(2 * dx), area.size.height),
    )
}

fn right_edge(area: Rectangle) -> i32 {
    area.top_left.x + area.size.width as i32
}

fn bottom_edge(area: Rectangle) -> i32 {
    area.top_left.y + area.size.height as i32
}

/// The span from `left` to `right` at `area`'s height (empty when they cross).
fn span(area: Rectangle, left: i32, right: i32) -> Rectangle {
    Rectangle::new(
        Point::new(left, area.top_left.y),
        Size::new((right - left).max(0) as u32, area.size.height),
    )
}

/// A mix of `ink` and `paper`: `grey` 0 is all ink, 255 all paper.
fn blend(ink: Rgb888, paper: Rgb888, grey: u8) -> Rgb888 {
    let mix = |i: u8, p: u8| {
        ((i as u32 * (255 - grey as u32) + p as u32 * grey as u32 + 127) / 255) as u8
    };
    Rgb888::new(
        mix(ink.r(), paper.r()),
        mix(ink.g(), paper.g()),
        mix(ink.b(), paper.b()),
    )
}

impl<D: DrawTarget<Color = Rgb888>> Painter<'_, D> {
    fn fill(&mut self, area: Rectangle, color: Rgb888) -> Result<(), D::Error> {
        self.target.fill_solid(&area, color)
    }

    fn text(
        &mut self,
        s: &str,
        area: Rectangle,
        align: Align,
        color: Rgb888,
    ) -> Result<(), D::Error> {
        draw_text(self.target, self.layout.font, false, s, area, align, color)
    }

    /// The width `s` takes, at most `max` pixels.
    fn text_width(&self, s: &str, max: u32) -> u32 {
        fitted_cells(s, self.layout.font, max) * self.layout.font.cell().width
    }

    /// An icon in the square `area`: the big picture scaled by whole pixels to fill it, or
    /// the small one in a square too small for the big.
    fn icon(&mut self, icon: Icon, area: Rectangle, color: Rgb888) -> Result<(), D::Error> {
        let room = area.size.width.min(area.size.height);
        let bitmap = if room >= icons::LARGE {
            icons::LARGE
        } else {
            icons::SMALL
        };
        let scale = room / bitmap;
        if scale == 0 {
            return Ok(());
        }
        let rows = icons::rows_of(icon, bitmap);
        let side = bitmap * scale;
        let origin = area.top_left;
        self.target.draw_iter((0..side * side).filter_map(move |i| {
            let (x, y) = (i % side, i / side);
            let row = rows[(y / scale) as usize];
            (row >> (bitmap - 1 - x / scale) & 1 == 1)
                .then(|| Pixel(origin + Point::new(x as i32, y as i32), color))
        }))
    }

    /// A square for an icon at the right end of `area`, vertically centred.
    fn icon_box_at_right(&self, area: Rectangle) -> Rectangle {
        let side = self.layout.icon_size;
        let x = right_edge(area) - side as i32;
        let y = area.top_left.y + (area.size.height.saturating_sub(side) / 2) as i32;
        Rectangle::new(Point::new(x, y), Size::new(side, side))
    }

    /// Label on the left, date and time on the right, the envelope before them when a
    /// message waits.
    fn status_bar(&mut self, bar: &StatusBar) -> Result<(), D::Error> {
        let l = *self.layout;
        let area = l.status_bar;
        let text_h = area.size.height.saturating_sub(l.unit);
        let rule = Rectangle::new(
            area.top_left + Point::new(0, text_h as i32),
            Size::new(area.size.width, l.unit),
        );
        self.fill(rule, self.theme.rule)?;
        let inner = inset_x(
            Rectangle::new(area.top_left, Size::new(area.size.width, text_h)),
            l.margin,
        );
        let right_w = self.text_width(&bar.right, inner.size.width * 2 / 3);
        let right = span(inner, right_edge(inner) - right_w as i32, right_edge(inner));
        self.text(&bar.right, right, Align::Right, self.theme.text)?;
        let mut left_end = right.top_left.x - l.font.cell().width as i32;
        if bar.message_waiting && l.icon_size > 0 {
            let before = span(inner, inner.top_left.x, right.top_left.x - l.margin as i32);
            let envelope = self.icon_box_at_right(before);
            if envelope.top_left.x >= inner.top_left.x {
                self.icon(Icon::MessageWaiting, envelope, self.theme.text)?;
                left_end = envelope.top_left.x - l.margin as i32;
            }
        }
        let left = span(inner, inner.top_left.x, left_end);
        self.text(&bar.left, left, Align::Left, self.theme.text)
    }

    /// Labels right-aligned beside their buttons, each with its icon nearest the button.
    fn line_keys(&mut self, keys: &[LineKey]) -> Result<(), D::Error> {
        let l = *self.layout;
        let column = l.line_keys;
        if keys.is_empty() || column.size.width == 0 {
            return Ok(());
        }
        self.fill(
            Rectangle::new(column.top_left, Size::new(l.unit, column.size.height)),
            self.theme.rule,
        )?;
        for (i, key) in keys.iter().take(LINE_KEY_SLOTS).enumerate() {
            let slot = l.line_key_slot(i);
            if slot.size.height < l.line_height {
                break;
            }
            let line_y =
                slot.top_left.y + (slot.size.height.saturating_sub(l.line_height) / 2) as i32;
            let line = Rectangle::new(
                Point::new(slot.top_left.x, line_y),
                Size::new(slot.size.width, l.line_height.min(slot.size.height)),
            );
            let inner = inset_x(line, l.margin);
            let inner = span(inner, inner.top_left.x + l.unit as i32, right_edge(inner));
            let mut label_end = right_edge(inner);
            if l.icon_size > 0 {
                let icon = self.icon_box_at_right(inner);
                self.icon(key.icon, icon, self.theme.text)?;
                label_end = icon.top_left.x - l.margin as i32;
            }
            let label = span(inner, inner.top_left.x, label_end);
            self.text(&key.label, label, Align::Right, self.theme.text)?;
        }
        Ok(())
    }

    /// The menu title in a dark bar, the position (`2/14`) and the padlock at its right.
    fn title(&mut self, title: &TitleBar) -> Result<(), D::Error> {
        let l = *self.layout;
        let bar = l.title_bar;
        if bar.is_zero_sized() {
            return Ok(());
        }
        self.fill(bar, self.theme.title)?;
        let inner = inset_x(bar, l.margin);
        let mut end = right_edge(inner);
        if let (Some(icon), true) = (title.icon, l.icon_size > 0) {
            let square = self.icon_box_at_right(inner);
            self.icon(icon, square, self.theme.title_text)?;
            end = square.top_left.x - l.margin as i32;
        }
        if let Some(position) = &title.position {
            let room = span(inner, inner.top_left.x, end);
            let w = self.text_width(position, room.size.width / 2);
            let area = span(inner, end - w as i32, end);
            self.text(position, area, Align::Right, self.theme.title_text)?;
            end = area.top_left.x - l.font.cell().width as i32;
        }
        let area = span(inner, inner.top_left.x, end);
        draw_text(
            self.target,
            l.font,
            true,
            &title.text,
            area,
            Align::Left,
            self.theme.title_text,
        )
    }

    /// The page of rows holding the selected one, or the picture, or both when they fit.
    fn body(&mut self, screen: &Screen) -> Result<(), D::Error> {
        let l = *self.layout;
        let rows = &screen.rows;
        let first = l.first_visible_row(rows.len(), screen.selected);
        let shown = rows.iter().skip(first).take(l.visible_rows());
        let scrolls = l.scrolls(rows.len());
        // Decided over all rows so the columns do not move between pages.
        let icons = l.icon_size > 0 && rows.iter().any(|r| r.icon.is_some());
        let digits = rows
            .iter()
            .filter_map(|r| r.number)
            .max()
            .map_or(0, |n| n.checked_ilog10().unwrap_or(0) + 1);
        let mut used = 0;
        for (n, row) in shown.enumerate() {
            let selected = screen.selected == Some(first + n);
            self.row(row, l.row(n, scrolls), selected, icons, digits)?;
            used = n + 1;
        }
        if scrolls {
            self.scroll_indicator(rows.len(), first)?;
        }
        if let Some(image) = &screen.image {
            let top = l.body.top_left.y + (used as u32 * l.line_height) as i32;
            let area = Rectangle::new(
                Point::new(l.body.top_left.x, top),
                Size::new(l.body.size.width, (bottom_edge(l.body) - top).max(0) as u32),
            );
            self.image(image, area)?;
        }
        Ok(())
    }

    fn row(
        &mut self,
        row: &Row,
        area: Rectangle,
        selected: bool,
        icons: bool,
        digits: u32,
    ) -> Result<(), D::Error> {
        let theme = *self.theme;
        let (ink, number_ink) = if selected {
            self.fill(area, theme.highlight)?;
            (theme.highlight_text, theme.highlight_text)
        } else {
            (theme.text, theme.secondary)
        };
        let columns = self.layout.row_columns(area, row, icons, digits);
        if let Some(icon) = row.icon {
            self.icon(icon, columns.icon, ink)?;
        }
        if let Some(number) = row.number {
            // At most 10 digits: formatted on the stack.
            let mut buffer = [0u8; 10];
            let decimal = format_u32(number, &mut buffer);
            self.text(decimal, columns.number, Align::Right, number_ink)?;
        }
        self.text(&row.text, columns.text, Align::Left, ink)?;
        if let Some(value) = &row.value {
            self.text(value, columns.value, Align::Right, ink)?;
        }
        Ok(())
    }

    /// A thin track at the body's right edge with a thumb for the page shown.
    fn scroll_indicator(&mut self, rows: usize, first: usize) -> Result<(), D::Error> {
        let l = *self.layout;
        let track = l.scroll_track();
        let h = track.size.height;
        let line_x = track.top_left.x + ((track.size.width - l.unit) / 2) as i32;
        self.fill(
            Rectangle::new(Point::new(line_x, track.top_left.y), Size::new(l.unit, h)),
            self.theme.rule,
        )?;
        let page = l.visible_rows().max(1);
        let thumb_h =
            ((h as u64 * page as u64 / rows.max(1) as u64) as u32).clamp((2 * l.unit).min(h), h);
        let last_first = rows.saturating_sub(page).max(1);
        let offset = (h - thumb_h) as u64 * first.min(last_first) as u64 / last_first as u64;
        let thumb = Rectangle::new(
            track.top_left + Point::new(0, offset as i32),
            Size::new(track.size.width, thumb_h),
        );
        self.fill(thumb, self.theme.secondary)
    }

    /// A grey picture centred in `area`, in the theme's ink on its paper, scaled by the
    /// largest whole factor that fits (at most the layout's image scale). A picture whose
    /// pixels do not match its size is not drawn.
    fn image(&mut self, image: &Image, area: Rectangle) -> Result<(), D::Error> {
        let (w, h) = (image.width, image.height);
        let expected = (w as usize).checked_mul(h as usize);
        if w == 0 || h == 0 || expected != Some(image.grey.len()) || area.is_zero_sized() {
            return Ok(());
        }
        let fit = (area.size.width / w).min(area.size.height / h);
        let scale = fit.min(self.layout.image_scale).max(1);
        let size = Size::new(w.saturating_mul(scale), h.saturating_mul(scale));
        let centre = area.center();
        let top_left = centre - Point::new(size.width as i32 / 2, size.height as i32 / 2);
        let (ink, paper) = (self.theme.text, self.theme.background);
        let (sw, total) = (size.width, size.width as u64 * size.height as u64);
        let grey = &image.grey;
        let colours = (0..total).map(move |i| {
            let (x, y) = (
                (i % sw as u64) as u32 / scale,
                (i / sw as u64) as u32 / scale,
            );
            blend(ink, paper, grey[y as usize * w as usize + x as usize])
        });
        self.target
            .clipped(&area)
            .fill_contiguous(&Rectangle::new(top_left, size), colours)
    }

    /// The label on one line; below it the value in a box with a block cursor, and the input
    /// mode in an inverted tag at the right.
    fn edit(&mut self, edit: &EditField) -> Result<(), D::Error> {
        let l = *self.layout;
        let theme = *self.theme;
        let area = l.edit;
        if area.is_zero_sized() {
            return Ok(());
        }
        let cell = l.font.cell();
        let inner = inset_x(area, l.margin);
        let label = Rectangle::new(inner.top_left, Size::new(inner.size.width, l.line_height));
        self.text(&edit.label, label, Align::Left, theme.secondary)?;

        let box_y = inner.top_left.y + l.line_height as i32;
        let box_h = (bottom_edge(area) - box_y).max(0) as u32;
        let line = Rectangle::new(
            Point::new(inner.top_left.x, box_y),
            Size::new(inner.size.width, box_h),
        );
        let mut box_end = right_edge(line);
        if !edit.mode.is_empty() {
            let tag_w = (fitted_cells(&edit.mode, l.font, 4 * cell.width) + 1) * cell.width;
            let tag = span(line, right_edge(line) - tag_w as i32, right_edge(line));
            self.fill(tag, theme.highlight)?;
            self.text(&edit.mode, tag, Align::Centre, theme.highlight_text)?;
            box_end = tag.top_left.x - l.margin as i32;
        }
        let field = span(line, line.top_left.x, box_end);
        if field.size.width <= 2 * l.unit {
            return Ok(());
        }
        let field_style = PrimitiveStyleBuilder::new()
            .fill_color(theme.field)
            .stroke_color(theme.rule)
            .stroke_width(l.unit)
            .stroke_alignment(StrokeAlignment::Inside)
            .build();
        field.into_styled(field_style).draw(self.target)?;

        // Scrolled sideways so the cursor's cell is always in the box.
        let text_area = inset_x(field, l.unit + l.margin);
        let cells = (text_area.size.width / cell.width.max(1)) as usize;
        if cells == 0 {
            return Ok(());
        }
        let count = edit.shown.chars().count();
        let cursor = edit.cursor.min(count);
        let start = (cursor + 1).saturating_sub(cells);
        let before = char_slice(&edit.shown, start, cursor);
        let under = char_slice(&edit.shown, cursor, cursor + 1);
        let after = char_slice(&edit.shown, cursor + 1, start + cells);
        let cell_at = |n: usize| {
            let x = text_area.top_left.x + (n as u32 * cell.width) as i32;
            span(text_area, x, x + cell.width as i32)
        };
        let cursor_cell = cell_at(cursor - start);
        let before_area = span(text_area, text_area.top_left.x, cursor_cell.top_left.x);
        let after_area = span(text_area, right_edge(cursor_cell), right_edge(text_area));
        self.text(before, before_area, Align::Left, theme.text)?;
        let block = Rectangle::new(
            cursor_cell.top_left + Point::new(0, (l.unit * 2) as i32),
            Size::new(
                cell.width,
                cursor_cell.size.height.saturating_sub(l.unit * 4),
            ),
        );
        self.fill(block, theme.highlight)?;
        self.text(under, cursor_cell, Align::Left, theme.highlight_text)?;
        self.text(after, after_area, Align::Left, theme.text)
    }

    fn prompt(&mut self, prompt: &str) -> Result<(), D::Error> {
        let l = *self.layout;
        self.text(
            prompt,
            inset_x(l.prompt, l.margin),
            Align::Left,
            self.theme.text,
        )
    }

    /// Each label centred in its quarter, in a tab with rounded top corners that opens onto
    /// the bottom edge, like the phone's.
    fn softkeys(&mut self, labels: &[String; 4]) -> Result<(), D::Error> {
        let l = *self.layout;
        let theme = *self.theme;
        let radius = l.margin.max(2 * l.unit);
        let style = PrimitiveStyleBuilder::new()
            .fill_color(theme.tab)
            .stroke_color(theme.rule)
            .stroke_width(l.unit)
            .stroke_alignment(StrokeAlignment::Inside)
            .build();
        for (label, quarter) in labels.iter().zip(l.softkeys) {
            if label.is_empty() || quarter.is_zero_sized() {
                continue;
            }
            let gap = l.margin.min(quarter.size.width / 8);
            let tab = Rectangle::new(
                quarter.top_left + Point::new(gap as i32, l.unit as i32),
                // Taller than the quarter: the bottom corners fall outside the clip.
                Size::new(
                    quarter.size.width.saturating_sub(2 * gap),
                    quarter.size.height + radius,
                ),
            );
            RoundedRectangle::with_equal_corners(tab, Size::new(radius, radius))
                .into_styled(style)
                .draw(&mut self.target.clipped(&quarter))?;
            let text_area = Rectangle::new(
                tab.top_left + Point::new(l.unit as i32, l.unit as i32),
                Size::new(
                    tab.size.width.saturating_sub(2 * l.unit),
                    quarter.size.height.saturating_sub(2 * l.unit),
                ),
            );
            self.text(label, text_area, Align::Centre, theme.text)?;
        }
        Ok(())
    }
}

/// The characters `from..to` of `s` (by character, not byte; empty when out of range).
fn char_slice(s: &str, from: usize, to: usize) -> &str {
    let byte = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    if from >= to {
        return "";
    }
    &s[byte(from)..byte(to)]
}

/// `n` in decimal into `buffer`, without allocating.
fn format_u32(mut n: u32, buffer: &mut [u8; 10]) -> &str {
    let mut i = buffer.len();
    loop {
        i -= 1;
        buffer[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[i..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_without_allocating() {
        let mut b = [0u8; 10];
        assert_eq!(format_u32(0, &mut b), "0");
        assert_eq!(format_u32(42, &mut b), "42");
        assert_eq!(format_u32(u32::MAX, &mut b), "4294967295");
    }

    #[test]
    fn char_slices_respect_multibyte_characters() {
        assert_eq!(char_slice("José", 2, 4), "sé");
        assert_eq!(char_slice("José", 3, 9), "é");
        assert_eq!(char_slice("José", 5, 9), "");
        assert_eq!(char_slice("José", 2, 1), "");
    }

    #[test]
    fn pictures_blend_from_ink_to_paper() {
        let (ink, paper) = (Rgb888::new(0, 10, 20), Rgb888::new(200, 210, 220));
        assert_eq!(blend(ink, paper, 0), ink);
        assert_eq!(blend(ink, paper, 255), paper);
        assert_eq!(blend(ink, paper, 128), Rgb888::new(100, 110, 120));
    }
}
