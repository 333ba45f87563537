//! Which parts of the screen changed between two frames.

use embedded_graphics_core::geometry::{OriginDimensions, Size};
use embedded_graphics_core::primitives::Rectangle;

use crate::frame::Frame;
use crate::rect::Area;

/// Side of the square tiles changes are gathered in before they are merged.
const TILE: u32 = 16;
/// At most this many rectangles come out; more are merged, cheapest merge first.
pub const MAX_RECTS: usize = 8;
/// Past this many separate changed regions (noise, a full redraw) one bounding box is cheaper
/// to compute and no worse to copy.
const MAX_REGIONS: usize = 32;

/// The changed regions between the frame on the screen and the next one: a few rectangles,
/// disjoint, each the tight bounding box of the changed pixels in one region.
///
/// The frames are compared row by row (a `memcmp` per row, so an unchanged frame costs about
/// one pass over memory); changed rows are split into 16x16 tiles, each changed tile remembers
/// the exact bounds of its changed pixels, neighbouring changed tiles (8-connected) form one
/// region, and regions are merged until they are disjoint and at most [`MAX_RECTS`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Damage {
    areas: Vec<Area>,
}

impl Damage {
    /// Everything: what the first present of a display copies.
    pub fn full(size: Size) -> Damage {
        let all = Area::of_size(size);
        Damage {
            areas: if all.is_empty() { vec![] } else { vec![all] },
        }
    }

    /// What changed from `old` to `new`. Frames of different sizes differ everywhere.
    pub fn between(old: &Frame, new: &Frame) -> Damage {
        if old.size() != new.size() {
            return Damage::full(new.size());
        }
        let grid = TileGrid::changed(old, new);
        let mut areas = grid.regions();
        if areas.len() > MAX_REGIONS {
            areas = vec![bounding_box(&areas)];
        }
        merge_overlapping(&mut areas);
        merge_down_to(&mut areas, MAX_RECTS);
        areas.sort_by_key(|a| (a.y0, a.x0));
        Damage { areas }
    }

    /// The changed rectangles, top to bottom.
    pub fn rects(&self) -> Vec<Rectangle> {
        self.areas.iter().map(|a| a.to_rectangle()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Pixels inside the rectangles (each counted once: they are disjoint).
    pub fn pixel_count(&self) -> u64 {
        self.areas.iter().map(Area::pixel_count).sum()
    }

    pub(crate) fn areas(&self) -> &[Area] {
        &self.areas
    }
}

/// Changed tiles, each with the tight bounds of its changed pixels.
struct TileGrid {
    columns: usize,
    rows: usize,
    tiles: Vec<Option<Area>>,
}

impl TileGrid {
    fn changed(old: &Frame, new: &Frame) -> TileGrid {
        let columns = old.width().div_ceil(TILE) as usize;
        let rows = old.height().div_ceil(TILE) as usize;
        let mut grid = TileGrid {
            columns,
            rows,
            tiles: vec![None; columns * rows],
        };
        for y in 0..old.height() {
            let (before, after) = (old.row(y), new.row(y));
            if before == after {
                continue;
            }
            let tile_row = (y / TILE) as usize;
            for (column, (b, a)) in before
                .chunks(TILE as usize)
                .zip(after.chunks(TILE as usize))
                .enumerate()
            {
                let Some(first) = b.iter().zip(a).position(|(b, a)| b != a) else {
                    continue;
                };
                let last = b.iter().zip(a).rposition(|(b, a)| b != a).unwrap_or(first);
                let x = column as u32 * TILE;
                let span = Area {
                    x0: x + first as u32,
                    y0: y,
                    x1: x + last as u32 + 1,
                    y1: y + 1,
                };
                let tile = &mut grid.tiles[tile_row * columns + column];
                *tile = Some(tile.map_or(span, |t| t.union(&span)));
            }
        }
        grid
    }

    /// One bounding box per 8-connected group of changed tiles.
    fn regions(&self) -> Vec<Area> {
        let mut seen = vec![false; self.tiles.len()];
        let mut regions = Vec::new();
        let mut stack = Vec::new();
        for start in 0..self.tiles.len() {
            if seen[start] || self.tiles[start].is_none() {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut region: Option<Area> = None;
            while let Some(i) = stack.pop() {
                if let Some(tile) = self.tiles[i] {
                    region = Some(region.map_or(tile, |r| r.union(&tile)));
                }
                let (row, column) = (i / self.columns, i % self.columns);
                for n_row in row.saturating_sub(1)..(row + 2).min(self.rows) {
                    for n_column in column.saturating_sub(1)..(column + 2).min(self.columns) {
                        let n = n_row * self.columns + n_column;
                        if !seen[n] && self.tiles[n].is_some() {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
            regions.extend(region);
        }
        regions
    }
}

fn bounding_box(areas: &[Area]) -> Area {
    areas
        .iter()
        .copied()
        .reduce(|a, b| a.union(&b))
        .unwrap_or(Area {
            x0: 0,
            y0: 0,
            x1: 0,
            y1: 0,
        })
}

/// Merges until no two rectangles overlap, so no pixel is copied twice.
fn merge_overlapping(areas: &mut Vec<Area>) {
    'again: loop {
        for i in 0..areas.len() {
            for j in i + 1..areas.len() {
                if areas[i].intersects(&areas[j]) {
                    let other = areas.swap_remove(j);
                    areas[i] = areas[i].union(&other);
                    continue 'again;
                }
            }
        }
        return;
    }
}

/// Merges the pair whose bounding box adds the fewest pixels until at most `limit` remain.
fn merge_down_to(areas: &mut Vec<Area>, limit: usize) {
    while areas.len() > limit {
        let mut best = (u64::MAX, 0, 1);
        for i in 0..areas.len() {
            for j in i + 1..areas.len() {
                let waste = areas[i].union(&areas[j]).pixel_count()
                    - areas[i].pixel_count()
                    - areas[j].pixel_count();
                if waste < best.0 {
                    best = (waste, i, j);
                }
            }
        }
        let (_, i, j) = best;
        let other = areas.swap_remove(j);
        areas[i] = areas[i].union(&other);
        // A merged box can reach over a third one.
        merge_overlapping(areas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::PointsIter;
    use embedded_graphics_core::geometry::Point;
    use embedded_graphics_core::pixelcolor::{Rgb888, RgbColor};

    fn rect(x: i32, y: i32, w: u32, h: u32) -> Rectangle {
        Rectangle::new(Point::new(x, y), Size::new(w, h))
    }

    fn painted(base: &Frame, rects: &[Rectangle]) -> Frame {
        let mut frame = base.clone();
        for r in rects {
            for p in r.points() {
                frame.set_pixel(p.x as u32, p.y as u32, Rgb888::WHITE);
            }
        }
        frame
    }

    fn screen() -> Frame {
        Frame::new(Size::new(320, 240))
    }

    #[test]
    fn unchanged_frame_has_no_damage() {
        let a = screen();
        assert!(Damage::between(&a, &a.clone()).is_empty());
    }

    #[test]
    fn one_pixel_gives_one_pixel() {
        let a = screen();
        let b = painted(&a, &[rect(200, 100, 1, 1)]);
        let damage = Damage::between(&a, &b);
        assert_eq!(damage.rects(), vec![rect(200, 100, 1, 1)]);
        assert_eq!(damage.pixel_count(), 1);
    }

    #[test]
    fn a_region_across_tiles_is_its_exact_bounding_box() {
        let a = screen();
        let b = painted(&a, &[rect(10, 30, 60, 12)]);
        assert_eq!(Damage::between(&a, &b).rects(), vec![rect(10, 30, 60, 12)]);
    }

    #[test]
    fn distant_changes_stay_separate() {
        let a = screen();
        // The clock in a corner and a softkey label at the bottom.
        let b = painted(&a, &[rect(270, 2, 40, 10), rect(5, 225, 50, 10)]);
        assert_eq!(
            Damage::between(&a, &b).rects(),
            vec![rect(270, 2, 40, 10), rect(5, 225, 50, 10)]
        );
    }

    #[test]
    fn scattered_changes_are_merged_to_a_few_disjoint_rects() {
        let a = screen();
        let dots: Vec<Rectangle> = (0..10)
            .flat_map(|i| (0..8).map(move |j| rect(i * 32, j * 30, 1, 1)))
            .collect();
        let b = painted(&a, &dots);
        let damage = Damage::between(&a, &b);
        let areas = damage.areas();
        assert!(areas.len() <= MAX_RECTS, "{areas:?}");
        for (i, x) in areas.iter().enumerate() {
            for y in &areas[i + 1..] {
                assert!(!x.intersects(y), "{x:?} overlaps {y:?}");
            }
        }
        // Every changed pixel is covered.
        for d in &dots {
            assert!(areas.iter().any(|r| r.contains(d.top_left)), "{d:?}");
        }
    }

    #[test]
    fn merging_picks_the_cheapest_pair() {
        let mut areas = vec![
            Area {
                x0: 0,
                y0: 0,
                x1: 10,
                y1: 10,
            },
            Area {
                x0: 12,
                y0: 0,
                x1: 20,
                y1: 10,
            },
            Area {
                x0: 200,
                y0: 200,
                x1: 210,
                y1: 210,
            },
        ];
        merge_down_to(&mut areas, 2);
        areas.sort_by_key(|a| a.x0);
        assert_eq!(
            areas,
            vec![
                Area {
                    x0: 0,
                    y0: 0,
                    x1: 20,
                    y1: 10
                },
                Area {
                    x0: 200,
                    y0: 200,
                    x1: 210,
                    y1: 210
                },
            ]
        );
    }

    #[test]
    fn different_sizes_damage_everything() {
        let a = Frame::new(Size::new(10, 10));
        let b = Frame::new(Size::new(12, 10));
        assert_eq!(Damage::between(&a, &b).rects(), vec![rect(0, 0, 12, 10)]);
        assert!(Damage::full(Size::new(0, 5)).is_empty());
    }
}
