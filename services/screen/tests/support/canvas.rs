//! A plain in-memory RGB display for tests and benchmarks. It counts pixels drawn outside it
//! instead of dropping them silently, so tests can assert that none are.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

pub struct Canvas {
    pub size: Size,
    pub pixels: Vec<Rgb888>,
    /// Pixels drawn at a point outside the canvas.
    pub outside: usize,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            size: Size::new(width, height),
            pixels: vec![Rgb888::BLACK; (width * height) as usize],
            outside: 0,
        }
    }

    pub fn get(&self, x: u32, y: u32) -> Rgb888 {
        self.pixels[(y * self.size.width + x) as usize]
    }

    /// Every point with its colour, row by row.
    pub fn points(&self) -> impl Iterator<Item = (Point, Rgb888)> + '_ {
        let w = self.size.width;
        self.pixels
            .iter()
            .enumerate()
            .map(move |(i, c)| (Point::new((i as u32 % w) as i32, (i as u32 / w) as i32), *c))
    }

    /// Points where `self` and `other` (same size) differ.
    pub fn diff<'a>(&'a self, other: &'a Canvas) -> impl Iterator<Item = Point> + 'a {
        self.points()
            .zip(other.pixels.iter())
            .filter(|((_, a), b)| a != *b)
            .map(|((p, _), _)| p)
    }

    pub fn rgb_bytes(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|c| [c.r(), c.g(), c.b()])
            .collect()
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        let (w, h) = (self.size.width as i32, self.size.height as i32);
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                self.pixels[(p.y * w + p.x) as usize] = c;
            } else {
                self.outside += 1;
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Self::Error> {
        let inside = area.intersection(&self.bounding_box());
        let drawn = inside.size.width as usize * inside.size.height as usize;
        self.outside += area.size.width as usize * area.size.height as usize - drawn;
        let w = self.size.width as usize;
        for y in inside.rows() {
            let start = y as usize * w + inside.top_left.x as usize;
            self.pixels[start..start + inside.size.width as usize].fill(color);
        }
        Ok(())
    }
}
