//! A half-open pixel rectangle in frame coordinates, for the arithmetic inside the crate.
//!
//! The public API speaks embedded-graphics `Rectangle` (signed origin, size); inside, damage
//! and copies are easier to get right with unsigned `x0..x1, y0..y1` ranges.

use embedded_graphics_core::geometry::{Point, Size};
use embedded_graphics_core::primitives::Rectangle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Area {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Area {
    pub fn of_size(size: Size) -> Area {
        Area {
            x0: 0,
            y0: 0,
            x1: size.width,
            y1: size.height,
        }
    }

    /// The part of `rect` inside `bounds`, or `None` if nothing is.
    pub fn clip(rect: &Rectangle, bounds: Area) -> Option<Area> {
        let clamp = |v: i64, lo: u32, hi: u32| v.clamp(i64::from(lo), i64::from(hi)) as u32;
        let left = i64::from(rect.top_left.x);
        let top = i64::from(rect.top_left.y);
        let area = Area {
            x0: clamp(left, bounds.x0, bounds.x1),
            y0: clamp(top, bounds.y0, bounds.y1),
            x1: clamp(left + i64::from(rect.size.width), bounds.x0, bounds.x1),
            y1: clamp(top + i64::from(rect.size.height), bounds.y0, bounds.y1),
        };
        (!area.is_empty()).then_some(area)
    }

    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    pub fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    pub fn pixel_count(&self) -> u64 {
        u64::from(self.width()) * u64::from(self.height())
    }

    pub fn contains(&self, p: Point) -> bool {
        p.x >= 0 && p.y >= 0 && {
            let (x, y) = (p.x as u32, p.y as u32);
            x >= self.x0 && x < self.x1 && y >= self.y0 && y < self.y1
        }
    }

    pub fn union(&self, other: &Area) -> Area {
        Area {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    pub fn intersects(&self, other: &Area) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    pub fn to_rectangle(self) -> Rectangle {
        // Frames are at most u32 wide; coordinates past i32::MAX cannot be drawn anyway.
        let x = i32::try_from(self.x0).unwrap_or(i32::MAX);
        let y = i32::try_from(self.y0).unwrap_or(i32::MAX);
        Rectangle::new(Point::new(x, y), Size::new(self.width(), self.height()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_only_the_inside() {
        let bounds = Area::of_size(Size::new(10, 10));
        let r = Rectangle::new(Point::new(-5, 8), Size::new(7, 9));
        assert_eq!(
            Area::clip(&r, bounds),
            Some(Area {
                x0: 0,
                y0: 8,
                x1: 2,
                y1: 10
            })
        );
        let outside = Rectangle::new(Point::new(10, 0), Size::new(3, 3));
        assert_eq!(Area::clip(&outside, bounds), None);
        let huge = Rectangle::new(Point::new(i32::MAX, 0), Size::new(u32::MAX, 1));
        assert_eq!(Area::clip(&huge, bounds), None);
    }
}
