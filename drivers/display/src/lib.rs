//! The phone's screen: an off-screen frame, the Linux framebuffer and host backends.
//!
//! # Design
//!
//! The UI never draws on the screen. It composes each frame off-screen in a [`Frame`], an
//! RGB888 image that is an `embedded-graphics` [`DrawTarget`](embedded_graphics_core::draw_target::DrawTarget),
//! and hands the finished frame to a [`Display`]:
//!
//! ```text
//!   UI ──draw──▶ Frame ──present──▶ Display ──▶ Damage::between(last, new) ──▶ copy rects
//!                                     │                                          │
//!                                     └── remembers the frame it last showed ◀───┘
//! ```
//!
//! 1. **Compose off-screen.** Drawing happens at memory speed in one simple layout, whatever
//!    the panel's format, and the screen never shows a half-drawn frame.
//! 2. **Diff.** Each display keeps a copy of what it last presented. [`Damage::between`]
//!    compares rows with `memcmp`, gathers changed pixels into 16x16 tiles with exact bounds,
//!    joins neighbouring tiles into regions and merges those into at most [`MAX_RECTS`]
//!    disjoint rectangles. An unchanged frame costs one pass over memory and copies nothing.
//! 3. **Copy the damaged rectangles.** Only those pixels are converted to the device format
//!    and written. The first present (and the first after [`FbDisplay::invalidate`]) copies
//!    everything, because the display cannot know what is on the glass.
//!
//! [`Display::present`] returns a [`PresentReport`] saying which rectangles were copied and how
//! many bytes that took, so tests can assert that a key press redraws one line and not the
//! whole screen.
//!
//! ```
//! use deskphone_display::{Display, Frame, MemoryDisplay};
//! use embedded_graphics::pixelcolor::Rgb888;
//! use embedded_graphics::prelude::*;
//! use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // On the phone: `let mut display = FbDisplay::open("/dev/fb0")?;`
//! let mut display = MemoryDisplay::new(Size::new(320, 240));
//! let mut frame = Frame::new(display.size());
//! Rectangle::new(Point::zero(), Size::new(320, 20))
//!     .into_styled(PrimitiveStyle::with_fill(Rgb888::BLUE))
//!     .draw(&mut frame)?;
//! let first = display.present(&frame)?;
//! assert_eq!(first.rects, [frame.bounding_box()]);
//!
//! frame.set_pixel(10, 100, Rgb888::WHITE);
//! let second = display.present(&frame)?;
//! assert_eq!(second.rects, [Rectangle::new(Point::new(10, 100), Size::new(1, 1))]);
//! # Ok(())
//! # }
//! ```
//!
//! # Backends
//!
//! - [`FbDisplay`]: Linux fbdev (`/dev/fb0`), opened with [`FbDisplay::open`], which maps the
//!   device through the `framebuffer` crate. [`FbDisplay::on_memory`] runs the very same code
//!   on any byte buffer with a given [`FbLayout`], which is how the copy is tested here without
//!   a device. [`FbDisplay::with_viewport`] centres a smaller UI on a larger screen.
//! - [`MemoryDisplay`]: the screen is the last presented frame; a screenshot is exact.
//! - [`PngFileDisplay`]: a memory display that also writes each changed frame to a PNG file,
//!   atomically, for the simulator.
//!
//! # Pixel formats
//!
//! A framebuffer describes its pixels in the var screeninfo: bits per pixel, and for red,
//! green, blue and transparency an offset and a length inside the pixel value. [`PixelFormat`]
//! is built from exactly those fields ([`PixelFormat::from_bitfields`]) and packs an RGB888
//! colour by keeping the top `length` bits of each channel (repeating bits for channels wider
//! than 8) and shifting them to `offset`; transparency bits are set to opaque. So RGB565,
//! BGR565, packed 24-bit RGB888/BGR888, XRGB8888, XBGR8888, ARGB8888 and any other true-colour
//! layout of 16, 24 or 32 bits are one code path, unit-tested per layout. The value is stored
//! in CPU byte order, as fbdev expects. Palette, grayscale and 1/8 bpp modes are refused with a
//! clear [`FormatError`].
//!
//! Rows are `line_length` bytes apart, which may be more than `width * bytes_per_pixel`, and the
//! visible area starts at (`xoffset`, `yoffset`) inside the virtual resolution, so a display
//! panned for double buffering is drawn where it is visible.
//!
//! # Golden images
//!
//! [`golden::compare`], [`golden::diff_png`] and [`golden::check_golden`] let other crates
//! test what their screens look like against PNG files, and leave an `.actual.png` and a
//! `.diff.png` to look at when a test fails.

mod damage;
mod fb;
mod format;
mod frame;
pub mod golden;
mod image;
mod memory;
mod rect;

use std::io;
use std::path::PathBuf;

pub use embedded_graphics_core;
pub use embedded_graphics_core::geometry::Size;
pub use embedded_graphics_core::pixelcolor::Rgb888;
pub use embedded_graphics_core::primitives::Rectangle;

pub use damage::{Damage, MAX_RECTS};
pub use fb::{FbDevice, FbDisplay, FbLayout};
pub use format::{Bitfield, Channel, FormatError, PixelFormat};
pub use frame::Frame;
pub use image::ImageError;
pub use memory::{MemoryDisplay, PngFileDisplay};

/// A screen that shows frames.
pub trait Display {
    /// The size of the frames it takes.
    fn size(&self) -> Size;

    /// One line for logs: backend, device, size, pixel format.
    fn describe(&self) -> String;

    /// Shows `frame`, copying only what changed since the last present (everything the first
    /// time). The frame must be [`Display::size`].
    fn present(&mut self, frame: &Frame) -> Result<PresentReport, DisplayError>;
}

impl<D: Display + ?Sized> Display for Box<D> {
    fn size(&self) -> Size {
        (**self).size()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn present(&mut self, frame: &Frame) -> Result<PresentReport, DisplayError> {
        (**self).present(frame)
    }
}

/// What a present copied.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PresentReport {
    /// The frame rectangles copied to the screen; empty when nothing changed.
    pub rects: Vec<Rectangle>,
    /// Bytes written to the screen's memory (including any border painted around a viewport).
    pub bytes: usize,
}

/// Why a display could not be opened or could not show a frame.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("cannot open framebuffer {}: {source}{}", path.display(), open_hint(source))]
    Open { path: PathBuf, source: io::Error },
    #[error("{} is not a usable framebuffer: {details}", path.display())]
    Device { path: PathBuf, details: String },
    #[error("bad framebuffer layout: {0}")]
    Layout(String),
    #[error(
        "viewport {}x{} does not fit the {}x{} screen",
        viewport.width, viewport.height, screen.width, screen.height
    )]
    Viewport { viewport: Size, screen: Size },
    #[error(
        "frame is {}x{} but the display is {}x{}",
        frame.width, frame.height, display.width, display.height
    )]
    FrameSize { frame: Size, display: Size },
    #[error("cannot write the screen image: {0}")]
    Image(#[from] ImageError),
}

fn open_hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::NotFound => " (is the display driver or overlay loaded?)",
        io::ErrorKind::PermissionDenied => " (run as root or as a member of the video group)",
        _ => "",
    }
}
