//! Comparing frames against golden images, for the screen tests of other crates.

use std::path::{Path, PathBuf};

use embedded_graphics_core::geometry::{OriginDimensions, Size};
use embedded_graphics_core::pixelcolor::Rgb888;
use embedded_graphics_core::primitives::Rectangle;

use crate::frame::Frame;
use crate::image::ImageError;
use crate::rect::Area;

/// Set this environment variable (to anything but `0`) to make [`check_golden`] write the
/// actual frame as the new golden image instead of comparing.
pub const UPDATE_GOLDEN_ENV: &str = "DESKPHONE_UPDATE_GOLDEN";

/// The colour [`diff_image`] paints differing pixels.
pub const DIFF_COLOR: Rgb888 = Rgb888::new(0xFF, 0x00, 0xFF);

/// How two frames differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// Pixels that differ, counting every pixel only one of the frames has.
    pub differing_pixels: u64,
    /// The smallest rectangle holding all differing pixels; `None` when there are none.
    pub bbox: Option<Rectangle>,
    pub expected_size: Size,
    pub actual_size: Size,
}

impl Comparison {
    pub fn is_identical(&self) -> bool {
        self.differing_pixels == 0
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (e, a) = (self.expected_size, self.actual_size);
        if e != a {
            write!(
                f,
                "size {}x{} instead of {}x{}; ",
                a.width, a.height, e.width, e.height
            )?;
        }
        write!(f, "{} pixels differ", self.differing_pixels)?;
        if let Some(b) = self.bbox {
            write!(
                f,
                " within {}x{} at ({}, {})",
                b.size.width, b.size.height, b.top_left.x, b.top_left.y
            )?;
        }
        Ok(())
    }
}

/// Compares `actual` with `expected` pixel by pixel over the area of both.
pub fn compare(expected: &Frame, actual: &Frame) -> Comparison {
    let union = union_size(expected, actual);
    let mut differing_pixels = 0;
    let mut bbox: Option<Area> = None;
    for y in 0..union.height {
        for x in 0..union.width {
            if expected.pixel(x, y) != actual.pixel(x, y) {
                differing_pixels += 1;
                let here = Area {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                };
                bbox = Some(bbox.map_or(here, |b| b.union(&here)));
            }
        }
    }
    Comparison {
        differing_pixels,
        bbox: bbox.map(Area::to_rectangle),
        expected_size: expected.size(),
        actual_size: actual.size(),
    }
}

/// An image of the differences: pixels that match are shown as a dim grey copy of `expected`
/// (so the layout stays recognisable), pixels that differ in [`DIFF_COLOR`].
pub fn diff_image(expected: &Frame, actual: &Frame) -> Frame {
    let mut diff = Frame::new(union_size(expected, actual));
    for y in 0..diff.height() {
        for x in 0..diff.width() {
            let (e, a) = (expected.pixel(x, y), actual.pixel(x, y));
            let color = match (e, a) {
                (Some(e), Some(a)) if e == a => dim(e),
                _ => DIFF_COLOR,
            };
            diff.set_pixel(x, y, color);
        }
    }
    diff
}

/// [`diff_image`] as a PNG.
pub fn diff_png(expected: &Frame, actual: &Frame) -> Result<Vec<u8>, ImageError> {
    diff_image(expected, actual).to_png()
}

/// Why a frame did not match its golden image.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("no golden image {}; run with {UPDATE_GOLDEN_ENV}=1 to create it", .0.display())]
    Missing(PathBuf),
    #[error("golden image {}: {source}", path.display())]
    Image { path: PathBuf, source: ImageError },
    #[error(
        "frame differs from {}: {comparison}; see {} and {}",
        golden.display(),
        actual.display(),
        diff.display()
    )]
    Mismatch {
        golden: PathBuf,
        actual: PathBuf,
        diff: PathBuf,
        comparison: Comparison,
    },
}

/// Checks `actual` against the PNG at `golden`. On a mismatch it writes `<name>.actual.png`
/// and `<name>.diff.png` beside the golden image and names them in the error. With
/// [`UPDATE_GOLDEN_ENV`] set it (re)writes the golden image instead.
pub fn check_golden(actual: &Frame, golden: impl AsRef<Path>) -> Result<(), GoldenError> {
    let golden = golden.as_ref();
    let image_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GoldenError::Image { path, source }
    };
    if std::env::var_os(UPDATE_GOLDEN_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        return actual.save_png(golden).map_err(image_error(golden));
    }
    if !golden.exists() {
        return Err(GoldenError::Missing(golden.to_path_buf()));
    }
    let expected = Frame::load_png(golden).map_err(image_error(golden))?;
    let comparison = compare(&expected, actual);
    if comparison.is_identical() {
        return Ok(());
    }
    let beside = |suffix: &str| {
        let stem = golden.file_stem().unwrap_or_default().to_string_lossy();
        golden.with_file_name(format!("{stem}.{suffix}.png"))
    };
    let (actual_path, diff_path) = (beside("actual"), beside("diff"));
    actual
        .save_png(&actual_path)
        .map_err(image_error(&actual_path))?;
    diff_image(&expected, actual)
        .save_png(&diff_path)
        .map_err(image_error(&diff_path))?;
    Err(GoldenError::Mismatch {
        golden: golden.to_path_buf(),
        actual: actual_path,
        diff: diff_path,
        comparison,
    })
}

fn union_size(a: &Frame, b: &Frame) -> Size {
    Size::new(a.width().max(b.width()), a.height().max(b.height()))
}

fn dim(c: Rgb888) -> Rgb888 {
    use embedded_graphics_core::pixelcolor::RgbColor;
    let luma = (u32::from(c.r()) * 3 + u32::from(c.g()) * 6 + u32::from(c.b())) / 10;
    let v = (luma / 3) as u8;
    Rgb888::new(v, v, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics_core::geometry::Point;
    use embedded_graphics_core::pixelcolor::RgbColor;

    fn base() -> Frame {
        Frame::filled(Size::new(20, 10), Rgb888::WHITE)
    }

    #[test]
    fn identical_frames_compare_equal() {
        let c = compare(&base(), &base());
        assert!(c.is_identical());
        assert_eq!(c.bbox, None);
    }

    #[test]
    fn differences_are_counted_and_boxed() {
        let mut actual = base();
        actual.set_pixel(3, 2, Rgb888::BLACK);
        actual.set_pixel(8, 7, Rgb888::RED);
        let c = compare(&base(), &actual);
        assert_eq!(c.differing_pixels, 2);
        assert_eq!(
            c.bbox,
            Some(Rectangle::new(Point::new(3, 2), Size::new(6, 6)))
        );
        assert_eq!(c.to_string(), "2 pixels differ within 6x6 at (3, 2)");

        let diff = diff_image(&base(), &actual);
        assert_eq!(diff.pixel(3, 2), Some(DIFF_COLOR));
        assert_eq!(diff.pixel(8, 7), Some(DIFF_COLOR));
        let grey = diff.pixel(0, 0).unwrap();
        assert_ne!(grey, DIFF_COLOR);
        assert!(grey.r() < 0x80 && grey.r() == grey.g() && grey.g() == grey.b());
        assert_eq!(
            Frame::from_png(&diff_png(&base(), &actual).unwrap()).unwrap(),
            diff
        );
    }

    #[test]
    fn size_differences_count_the_uncovered_pixels() {
        let wider = Frame::filled(Size::new(22, 10), Rgb888::WHITE);
        let c = compare(&base(), &wider);
        assert_eq!(c.differing_pixels, 20);
        assert_eq!(
            c.bbox,
            Some(Rectangle::new(Point::new(20, 0), Size::new(2, 10)))
        );
        assert!(c.to_string().starts_with("size 22x10 instead of 20x10"));
    }

    // The update variable is left unset by these tests; setting it would race other threads.
    #[test]
    fn golden_check_passes_fails_and_explains() {
        let dir = tempfile::tempdir().unwrap();
        let golden = dir.path().join("idle.png");
        match check_golden(&base(), &golden) {
            Err(GoldenError::Missing(p)) => assert_eq!(p, golden),
            other => panic!("{other:?}"),
        }
        base().save_png(&golden).unwrap();
        check_golden(&base(), &golden).unwrap();

        let mut actual = base();
        actual.set_pixel(1, 1, Rgb888::BLACK);
        let err = check_golden(&actual, &golden).unwrap_err();
        let GoldenError::Mismatch {
            actual: actual_path,
            diff,
            comparison,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(comparison.differing_pixels, 1);
        assert_eq!(actual_path, &dir.path().join("idle.actual.png"));
        assert_eq!(&Frame::load_png(actual_path).unwrap(), &actual);
        assert_eq!(Frame::load_png(diff).unwrap().pixel(1, 1), Some(DIFF_COLOR));
        assert!(err.to_string().contains("idle.diff.png"), "{err}");
    }
}
