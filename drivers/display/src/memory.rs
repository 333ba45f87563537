//! Host backends: a screen in memory, and one that also writes each new frame to a PNG file.

use std::path::{Path, PathBuf};

use embedded_graphics_core::geometry::{OriginDimensions, Size};

use crate::damage::Damage;
use crate::fb::record;
use crate::frame::Frame;
use crate::{Display, DisplayError, PresentReport};

/// A screen that is just memory: what it shows is the last presented frame, so a screenshot
/// is exact. Damage is computed as on the device, so tests can check what a change redraws.
///
/// `bytes` in its reports counts 3 per pixel, as an RGB888 panel would take.
#[derive(Clone, Debug)]
pub struct MemoryDisplay {
    size: Size,
    shown: Option<Frame>,
    presents: u64,
}

impl MemoryDisplay {
    pub fn new(size: Size) -> MemoryDisplay {
        MemoryDisplay {
            size,
            shown: None,
            presents: 0,
        }
    }

    /// What the screen shows now: black before the first present.
    pub fn screenshot(&self) -> Frame {
        self.shown.clone().unwrap_or_else(|| Frame::new(self.size))
    }

    /// What the screen shows now, without a copy; `None` before the first present.
    pub fn shown(&self) -> Option<&Frame> {
        self.shown.as_ref()
    }

    /// How many times [`Display::present`] succeeded.
    pub fn presents(&self) -> u64 {
        self.presents
    }
}

impl Display for MemoryDisplay {
    fn size(&self) -> Size {
        self.size
    }

    fn describe(&self) -> String {
        format!("memory: {}x{} RGB888", self.size.width, self.size.height)
    }

    fn present(&mut self, frame: &Frame) -> Result<PresentReport, DisplayError> {
        if frame.size() != self.size {
            return Err(DisplayError::FrameSize {
                frame: frame.size(),
                display: self.size,
            });
        }
        let damage = match &self.shown {
            Some(shown) => Damage::between(shown, frame),
            None => Damage::full(self.size),
        };
        record(&mut self.shown, frame, &damage);
        self.presents += 1;
        Ok(PresentReport {
            bytes: damage.pixel_count() as usize * 3,
            rects: damage.rects(),
        })
    }
}

/// The simulator's screen: a [`MemoryDisplay`] that also writes the frame to one PNG file
/// whenever it changes, atomically (temporary file, then rename), so a viewer polling the file
/// never reads half an image.
#[derive(Debug)]
pub struct PngFileDisplay {
    screen: MemoryDisplay,
    path: PathBuf,
    /// Whether the file holds what the screen shows; false until written, and after a failed
    /// write so the next present retries even if nothing changed.
    file_current: bool,
}

impl PngFileDisplay {
    pub fn new(path: impl Into<PathBuf>, size: Size) -> PngFileDisplay {
        PngFileDisplay {
            screen: MemoryDisplay::new(size),
            path: path.into(),
            file_current: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn screen(&self) -> &MemoryDisplay {
        &self.screen
    }
}

impl Display for PngFileDisplay {
    fn size(&self) -> Size {
        self.screen.size()
    }

    fn describe(&self) -> String {
        format!(
            "PNG file {}: {}x{} RGB888",
            self.path.display(),
            self.size().width,
            self.size().height
        )
    }

    fn present(&mut self, frame: &Frame) -> Result<PresentReport, DisplayError> {
        let report = self.screen.present(frame)?;
        if !self.file_current || !report.rects.is_empty() {
            self.file_current = false;
            frame.save_png(&self.path)?;
            self.file_current = true;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics_core::geometry::Point;
    use embedded_graphics_core::pixelcolor::{Rgb888, RgbColor};
    use embedded_graphics_core::primitives::Rectangle;

    #[test]
    fn screenshot_is_the_last_presented_frame() {
        let size = Size::new(40, 30);
        let mut display = MemoryDisplay::new(size);
        assert_eq!(display.screenshot(), Frame::new(size));

        let mut frame = Frame::filled(size, Rgb888::BLUE);
        let first = display.present(&frame).unwrap();
        assert_eq!(first.rects, vec![Rectangle::new(Point::zero(), size)]);
        assert_eq!(first.bytes, 40 * 30 * 3);

        frame.set_pixel(5, 6, Rgb888::RED);
        let second = display.present(&frame).unwrap();
        assert_eq!(
            second.rects,
            vec![Rectangle::new(Point::new(5, 6), Size::new(1, 1))]
        );
        assert_eq!(second.bytes, 3);
        assert_eq!(display.screenshot(), frame);
        assert!(display.present(&frame).unwrap().rects.is_empty());
        assert_eq!(display.presents(), 3);
    }

    #[test]
    fn a_frame_of_the_wrong_size_is_refused() {
        let mut display = MemoryDisplay::new(Size::new(40, 30));
        let err = display.present(&Frame::new(Size::new(30, 40))).unwrap_err();
        assert_eq!(err.to_string(), "frame is 30x40 but the display is 40x30");
        assert_eq!(display.presents(), 0);
    }

    #[test]
    fn png_file_follows_the_screen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("screen.png");
        let size = Size::new(16, 8);
        let mut display = PngFileDisplay::new(&path, size);
        assert!(display.describe().contains("screen.png"));

        let mut frame = Frame::new(size);
        display.present(&frame).unwrap();
        assert_eq!(Frame::load_png(&path).unwrap(), frame);

        // Unchanged frames do not rewrite the file.
        std::fs::remove_file(&path).unwrap();
        display.present(&frame).unwrap();
        assert!(!path.exists());

        frame.set_pixel(15, 7, Rgb888::YELLOW);
        display.present(&frame).unwrap();
        assert_eq!(Frame::load_png(&path).unwrap(), frame);
    }

    #[test]
    fn unwritable_png_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/screen.png");
        let mut display = PngFileDisplay::new(&path, Size::new(4, 4));
        let frame = Frame::new(Size::new(4, 4));
        let err = display.present(&frame).unwrap_err();
        assert!(err.to_string().contains("no/such/dir/screen.png"), "{err}");
        // Once the directory exists the same, unchanged frame is written.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        display.present(&frame).unwrap();
        assert_eq!(Frame::load_png(&path).unwrap(), frame);
    }
}
