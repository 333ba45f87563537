//! The off-screen image every frame is composed in.

use core::convert::Infallible;

use embedded_graphics_core::draw_target::DrawTarget;
use embedded_graphics_core::geometry::{OriginDimensions, Point, Size};
use embedded_graphics_core::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics_core::primitives::Rectangle;
use embedded_graphics_core::Pixel;

use crate::rect::Area;

/// An off-screen RGB888 image, `width x height`, drawn with `embedded-graphics`.
///
/// Pixels are kept as `0x00RRGGBB` words, one per pixel, row after row: comparing two rows
/// is a `memcmp`, and packing into a 32 bpp framebuffer needs no shuffling.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

impl Frame {
    /// A black frame.
    ///
    /// # Panics
    /// If `width * height` does not fit in memory (as a `Vec` would).
    pub fn new(size: Size) -> Frame {
        Frame::filled(size, Rgb888::BLACK)
    }

    /// A frame filled with `color`.
    ///
    /// # Panics
    /// If `width * height` does not fit in memory (as a `Vec` would).
    pub fn filled(size: Size, color: Rgb888) -> Frame {
        let count = (size.width as usize)
            .checked_mul(size.height as usize)
            .expect("frame size overflows the address space");
        Frame {
            width: size.width,
            height: size.height,
            pixels: vec![to_word(color); count],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at (`x`, `y`), or `None` outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb888> {
        (x < self.width && y < self.height).then(|| to_color(self.pixels[self.index(x, y)]))
    }

    /// Sets one pixel; a point outside the frame is ignored, as drawing clips.
    pub fn set_pixel(&mut self, x: u32, y: u32, color: Rgb888) {
        if x < self.width && y < self.height {
            let i = self.index(x, y);
            self.pixels[i] = to_word(color);
        }
    }

    /// Fills the whole frame with `color`.
    pub fn clear(&mut self, color: Rgb888) {
        self.pixels.fill(to_word(color));
    }

    /// Row `y` as `0x00RRGGBB` words.
    pub(crate) fn row(&self, y: u32) -> &[u32] {
        let start = self.index(0, y);
        &self.pixels[start..start + self.width as usize]
    }

    /// Copies `area` (which must lie inside both frames, of equal size) from `other`.
    pub(crate) fn copy_area_from(&mut self, other: &Frame, area: Area) {
        debug_assert_eq!(self.size(), other.size());
        for y in area.y0..area.y1 {
            let start = self.index(area.x0, y);
            let end = start + area.width() as usize;
            self.pixels[start..end].copy_from_slice(&other.pixels[start..end]);
        }
    }

    pub(crate) fn bounds(&self) -> Area {
        Area::of_size(self.size())
    }

    fn index(&self, x: u32, y: u32) -> usize {
        y as usize * self.width as usize + x as usize
    }

    fn fill_area(&mut self, area: Area, word: u32) {
        for y in area.y0..area.y1 {
            let start = self.index(area.x0, y);
            self.pixels[start..start + area.width() as usize].fill(word);
        }
    }
}

impl core::fmt::Debug for Frame {
    // A frame has tens of thousands of pixels; printing them helps nobody.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Frame {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        for Pixel(point, color) in pixels {
            if let (Ok(x), Ok(y)) = (u32::try_from(point.x), u32::try_from(point.y)) {
                self.set_pixel(x, y, color);
            }
        }
        Ok(())
    }

    fn fill_contiguous<I>(&mut self, area: &Rectangle, colors: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Rgb888>,
    {
        let Some(clipped) = Area::clip(area, self.bounds()) else {
            return Ok(());
        };
        let mut colors = colors.into_iter();
        if clipped.to_rectangle() == *area {
            // Wholly inside: the colours run row by row over exactly the target slices.
            for y in clipped.y0..clipped.y1 {
                let start = self.index(clipped.x0, y);
                let row = &mut self.pixels[start..start + clipped.width() as usize];
                for (dst, color) in row.iter_mut().zip(colors.by_ref()) {
                    *dst = to_word(color);
                }
            }
            return Ok(());
        }
        // Partly outside: walk every point of `area` to keep the colours in step.
        let points = area
            .rows()
            .flat_map(|y| area.columns().map(move |x| Point::new(x, y)));
        for (point, color) in points.zip(colors) {
            if clipped.contains(point) {
                let i = self.index(point.x as u32, point.y as u32);
                self.pixels[i] = to_word(color);
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Infallible> {
        if let Some(clipped) = Area::clip(area, self.bounds()) {
            self.fill_area(clipped, to_word(color));
        }
        Ok(())
    }

    fn clear(&mut self, color: Rgb888) -> Result<(), Infallible> {
        Frame::clear(self, color);
        Ok(())
    }
}

pub(crate) fn to_word(color: Rgb888) -> u32 {
    (u32::from(color.r()) << 16) | (u32::from(color.g()) << 8) | u32::from(color.b())
}

pub(crate) fn to_color(word: u32) -> Rgb888 {
    Rgb888::new((word >> 16) as u8, (word >> 8) as u8, word as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::mono_font::ascii::FONT_6X10;
    use embedded_graphics::mono_font::MonoTextStyle;
    use embedded_graphics::prelude::*;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
    use embedded_graphics::text::Text;

    fn count(frame: &Frame, color: Rgb888) -> usize {
        let mut n = 0;
        for y in 0..frame.height() {
            for x in 0..frame.width() {
                n += usize::from(frame.pixel(x, y) == Some(color));
            }
        }
        n
    }

    #[test]
    fn fill_solid_clips_to_the_frame() {
        let mut frame = Frame::new(Size::new(10, 8));
        Rectangle::new(Point::new(-3, 6), Size::new(5, 10))
            .into_styled(PrimitiveStyle::with_fill(Rgb888::RED))
            .draw(&mut frame)
            .unwrap();
        // Columns 0..2, rows 6..8 remain.
        assert_eq!(count(&frame, Rgb888::RED), 4);
        assert_eq!(frame.pixel(1, 7), Some(Rgb888::RED));
        assert_eq!(frame.pixel(2, 7), Some(Rgb888::BLACK));
        assert_eq!(frame.pixel(1, 5), Some(Rgb888::BLACK));
    }

    #[test]
    fn fill_contiguous_inside_and_partly_outside_keeps_colours_in_step() {
        let colors: Vec<Rgb888> = (0..12).map(|i| Rgb888::new(i, 0, 0)).collect();
        let mut inside = Frame::new(Size::new(8, 8));
        let area = Rectangle::new(Point::new(2, 3), Size::new(4, 3));
        inside.fill_contiguous(&area, colors.clone()).unwrap();
        assert_eq!(inside.pixel(2, 3), Some(Rgb888::new(0, 0, 0)));
        assert_eq!(inside.pixel(5, 3), Some(Rgb888::new(3, 0, 0)));
        assert_eq!(inside.pixel(2, 4), Some(Rgb888::new(4, 0, 0)));
        assert_eq!(inside.pixel(5, 5), Some(Rgb888::new(11, 0, 0)));

        let mut clipped = Frame::new(Size::new(8, 8));
        let area = Rectangle::new(Point::new(-1, 6), Size::new(4, 3));
        clipped.fill_contiguous(&area, colors).unwrap();
        // (0,6) is the second colour of the first row, (2,7) the last of the second.
        assert_eq!(clipped.pixel(0, 6), Some(Rgb888::new(1, 0, 0)));
        assert_eq!(clipped.pixel(2, 7), Some(Rgb888::new(7, 0, 0)));
    }

    #[test]
    fn draw_iter_ignores_points_outside() {
        let mut frame = Frame::new(Size::new(4, 4));
        frame
            .draw_iter([
                Pixel(Point::new(-1, 0), Rgb888::WHITE),
                Pixel(Point::new(4, 0), Rgb888::WHITE),
                Pixel(Point::new(3, 3), Rgb888::WHITE),
            ])
            .unwrap();
        assert_eq!(count(&frame, Rgb888::WHITE), 1);
        assert_eq!(frame.pixel(3, 3), Some(Rgb888::WHITE));
        assert_eq!(frame.pixel(4, 0), None);
    }

    #[test]
    fn text_draws_into_the_frame() {
        let mut frame = Frame::new(Size::new(64, 16));
        let style = MonoTextStyle::new(&FONT_6X10, Rgb888::GREEN);
        Text::new("Line 1", Point::new(0, 10), style)
            .draw(&mut frame)
            .unwrap();
        assert!(count(&frame, Rgb888::GREEN) > 20);
        frame.clear(Rgb888::BLUE);
        assert_eq!(count(&frame, Rgb888::BLUE), 64 * 16);
    }

    #[test]
    fn colour_words_round_trip() {
        let c = Rgb888::new(0x12, 0x34, 0x56);
        assert_eq!(to_word(c), 0x0012_3456);
        assert_eq!(to_color(to_word(c)), c);
    }
}
