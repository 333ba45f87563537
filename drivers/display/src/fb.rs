//! The Linux framebuffer backend, and the copy code it shares with its memory-backed twin.

use std::fs::OpenOptions;
use std::path::Path;

use embedded_graphics_core::geometry::{OriginDimensions, Size};
use embedded_graphics_core::primitives::Rectangle;
use framebuffer::{FixScreeninfo, Framebuffer, VarScreeninfo};

use crate::damage::Damage;
use crate::format::{Bitfield, FormatError, PixelFormat};
use crate::frame::Frame;
use crate::rect::Area;
use crate::{Display, DisplayError, PresentReport};

/// `FB_VISUAL_TRUECOLOR` and `FB_VISUAL_DIRECTCOLOR` from `linux/fb.h`.
const VISUAL_TRUECOLOR: u32 = 2;
const VISUAL_DIRECTCOLOR: u32 = 4;

/// Where the visible screen lies in framebuffer memory and how its pixels are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FbLayout {
    /// Visible pixels per row.
    pub width: u32,
    /// Visible rows.
    pub height: u32,
    /// Bytes from one row to the next (`line_length`); may exceed `width * bytes_per_pixel`.
    pub stride: usize,
    /// Byte offset of the visible top-left pixel (non-zero when the display is panned inside
    /// a larger virtual resolution).
    pub offset: usize,
    pub format: PixelFormat,
}

impl FbLayout {
    /// A layout starting at the first byte, rows `stride` bytes apart.
    pub fn new(width: u32, height: u32, stride: usize, format: PixelFormat) -> FbLayout {
        FbLayout {
            width,
            height,
            stride,
            offset: 0,
            format,
        }
    }

    /// The layout the kernel reports: visible resolution, `line_length`, the pan offsets
    /// (`xoffset`, `yoffset`) into the virtual resolution, and the colour bitfields.
    pub fn from_screeninfo(
        var: &VarScreeninfo,
        fix: &FixScreeninfo,
    ) -> Result<FbLayout, FormatError> {
        if var.grayscale != 0 {
            return Err(FormatError::Grayscale);
        }
        if fix.visual != VISUAL_TRUECOLOR && fix.visual != VISUAL_DIRECTCOLOR {
            return Err(FormatError::Visual(fix.visual));
        }
        let field = |b: &framebuffer::Bitfield| Bitfield {
            offset: b.offset,
            length: b.length,
            msb_right: b.msb_right,
        };
        let format = PixelFormat::from_bitfields(
            var.bits_per_pixel,
            field(&var.red),
            field(&var.green),
            field(&var.blue),
            field(&var.transp),
        )?;
        let bytes_per_pixel = format.bytes_per_pixel();
        // A few old drivers leave line_length at 0; their rows are then packed.
        let stride = match fix.line_length {
            0 => var.xres_virtual as usize * bytes_per_pixel,
            n => n as usize,
        };
        Ok(FbLayout {
            width: var.xres,
            height: var.yres,
            stride,
            offset: var.yoffset as usize * stride + var.xoffset as usize * bytes_per_pixel,
            format,
        })
    }

    /// Bytes of memory the visible screen reaches into, or `None` if the stride is shorter than
    /// a row or the sum overflows.
    pub fn required_len(&self) -> Option<usize> {
        let row = (self.width as usize).checked_mul(self.format.bytes_per_pixel())?;
        if row > self.stride {
            return None;
        }
        if self.height == 0 {
            return Some(self.offset);
        }
        (self.height as usize - 1)
            .checked_mul(self.stride)?
            .checked_add(row)?
            .checked_add(self.offset)
    }

    fn check(&self, memory_len: usize) -> Result<(), DisplayError> {
        let row = self.width as usize * self.format.bytes_per_pixel();
        if row > self.stride {
            return Err(DisplayError::Layout(format!(
                "stride of {} bytes is shorter than a row of {} pixels ({row} bytes)",
                self.stride, self.width
            )));
        }
        match self.required_len() {
            Some(needed) if needed <= memory_len => Ok(()),
            needed => Err(DisplayError::Layout(format!(
                "{}x{} screen at offset {} with stride {} needs {} bytes of memory, have {memory_len}",
                self.width,
                self.height,
                self.offset,
                self.stride,
                needed.map_or_else(|| "more than usize".into(), |n| n.to_string()),
            ))),
        }
    }

    /// Writes `area` of `frame` to the screen, shifted by (`at_x`, `at_y`). Returns the bytes
    /// written. Callers keep everything inside the checked layout.
    fn write_rows(
        &self,
        memory: &mut [u8],
        frame: &Frame,
        area: Area,
        (at_x, at_y): (u32, u32),
    ) -> usize {
        for y in area.y0..area.y1 {
            let src = &frame.row(y)[area.x0 as usize..area.x1 as usize];
            let dst = self.row_bytes(memory, at_x + area.x0, at_y + y, area.width());
            self.format.write_row(src, dst);
        }
        area.pixel_count() as usize * self.format.bytes_per_pixel()
    }

    /// Paints `area` of the screen in one colour (a `0x00RRGGBB` word).
    fn fill(&self, memory: &mut [u8], area: Area, word: u32) -> usize {
        let row = vec![word; area.width() as usize];
        for y in area.y0..area.y1 {
            let dst = self.row_bytes(memory, area.x0, y, area.width());
            self.format.write_row(&row, dst);
        }
        area.pixel_count() as usize * self.format.bytes_per_pixel()
    }

    /// The bytes of `width` pixels from screen position (`x`, `y`).
    fn row_bytes<'m>(&self, memory: &'m mut [u8], x: u32, y: u32, width: u32) -> &'m mut [u8] {
        let bpp = self.format.bytes_per_pixel();
        let start = self.offset + y as usize * self.stride + x as usize * bpp;
        &mut memory[start..start + width as usize * bpp]
    }
}

/// An open `/dev/fbN` with its memory mapped.
#[derive(Debug)]
pub struct FbDevice {
    fb: Framebuffer,
}

impl AsRef<[u8]> for FbDevice {
    fn as_ref(&self) -> &[u8] {
        &self.fb.frame
    }
}

impl AsMut<[u8]> for FbDevice {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.fb.frame
    }
}

/// A framebuffer display: the kernel's `/dev/fbN` ([`FbDisplay::open`]) or any byte buffer laid
/// out like one ([`FbDisplay::on_memory`]). Both run the same damage and copy code.
///
/// It keeps a copy of the last presented frame (reading device memory back is slow on many
/// panels, and a console may have scribbled on it) and copies only what changed since.
#[derive(Debug)]
pub struct FbDisplay<M = FbDevice> {
    memory: M,
    screen: FbLayout,
    /// Where frames go on the screen: all of it, or a centred part ([`Self::with_viewport`]).
    viewport: Area,
    last: Option<Frame>,
    name: String,
}

impl FbDisplay<FbDevice> {
    /// Opens and maps a framebuffer device such as `/dev/fb0`, drawing to its visible area.
    pub fn open(path: impl AsRef<Path>) -> Result<FbDisplay<FbDevice>, DisplayError> {
        let path = path.as_ref();
        // Open it here first: the framebuffer crate turns "no such file" and "permission
        // denied" into bare strings, and those two are what an operator needs to tell apart.
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| DisplayError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let device_error = |details: String| DisplayError::Device {
            path: path.to_path_buf(),
            details,
        };
        let fb = Framebuffer::new(path).map_err(|e| device_error(e.details))?;
        let layout = FbLayout::from_screeninfo(&fb.var_screen_info, &fb.fix_screen_info)
            .map_err(|e| device_error(e.to_string()))?;
        let id = device_id(&fb.fix_screen_info);
        let mut display = FbDisplay::on_memory(layout, FbDevice { fb })
            .map_err(|e| device_error(e.to_string()))?;
        display.name = format!("{} ({id})", path.display());
        Ok(display)
    }
}

impl<M: AsMut<[u8]>> FbDisplay<M> {
    /// A display drawing into `memory` laid out as `layout`: for tests and benchmarks, and for
    /// any mapping obtained another way.
    pub fn on_memory(layout: FbLayout, mut memory: M) -> Result<FbDisplay<M>, DisplayError> {
        layout.check(memory.as_mut().len())?;
        Ok(FbDisplay {
            memory,
            screen: layout,
            viewport: Area::of_size(Size::new(layout.width, layout.height)),
            last: None,
            name: "memory framebuffer".to_string(),
        })
    }

    /// Shows frames of `size` centred on a larger screen (a 320x240 UI on a 1024x768 QEMU
    /// console); the border is painted black on the next present.
    pub fn with_viewport(mut self, size: Size) -> Result<FbDisplay<M>, DisplayError> {
        if size.width > self.screen.width || size.height > self.screen.height {
            return Err(DisplayError::Viewport {
                viewport: size,
                screen: Size::new(self.screen.width, self.screen.height),
            });
        }
        let x0 = (self.screen.width - size.width) / 2;
        let y0 = (self.screen.height - size.height) / 2;
        self.viewport = Area {
            x0,
            y0,
            x1: x0 + size.width,
            y1: y0 + size.height,
        };
        self.last = None;
        Ok(self)
    }

    /// Forgets what the screen shows, so the next present copies everything (after a VT
    /// switch, or when something else drew on the framebuffer).
    pub fn invalidate(&mut self) {
        self.last = None;
    }

    pub fn layout(&self) -> &FbLayout {
        &self.screen
    }

    pub fn memory(&self) -> &M {
        &self.memory
    }

    pub fn into_memory(self) -> M {
        self.memory
    }

    /// Paints everything outside the viewport black.
    fn clear_border(&mut self) -> usize {
        let screen = Area::of_size(Size::new(self.screen.width, self.screen.height));
        let v = self.viewport;
        if v == screen {
            return 0;
        }
        let bands = [
            Area { y1: v.y0, ..screen },
            Area { y0: v.y1, ..screen },
            Area {
                x0: screen.x0,
                x1: v.x0,
                ..v
            },
            Area {
                x0: v.x1,
                x1: screen.x1,
                ..v
            },
        ];
        let memory = self.memory.as_mut();
        bands
            .into_iter()
            .filter(|band| !band.is_empty())
            .map(|band| self.screen.fill(memory, band, 0))
            .sum()
    }
}

impl<M: AsMut<[u8]>> Display for FbDisplay<M> {
    fn size(&self) -> Size {
        Size::new(self.viewport.width(), self.viewport.height())
    }

    fn describe(&self) -> String {
        let s = &self.screen;
        let mut text = format!(
            "fbdev {}: {}x{} {} ({} bpp), stride {} bytes",
            self.name,
            s.width,
            s.height,
            s.format,
            s.format.bits_per_pixel(),
            s.stride
        );
        if s.offset != 0 {
            text.push_str(&format!(", visible area at byte {}", s.offset));
        }
        let v = self.viewport;
        if self.size() != Size::new(s.width, s.height) {
            text.push_str(&format!(
                ", viewport {}x{} at ({}, {})",
                v.width(),
                v.height(),
                v.x0,
                v.y0
            ));
        }
        text
    }

    fn present(&mut self, frame: &Frame) -> Result<PresentReport, DisplayError> {
        let size = self.size();
        if frame.size() != size {
            return Err(DisplayError::FrameSize {
                frame: frame.size(),
                display: size,
            });
        }
        let mut bytes = 0;
        let damage = match &self.last {
            Some(last) => Damage::between(last, frame),
            None => {
                bytes += self.clear_border();
                Damage::full(size)
            }
        };
        let memory = self.memory.as_mut();
        for area in damage.areas() {
            bytes +=
                self.screen
                    .write_rows(memory, frame, *area, (self.viewport.x0, self.viewport.y0));
        }
        record(&mut self.last, frame, &damage);
        Ok(PresentReport {
            rects: damage.rects(),
            bytes,
        })
    }
}

/// Brings the copy of the screen up to date with `frame`.
pub(crate) fn record(last: &mut Option<Frame>, frame: &Frame, damage: &Damage) {
    match last {
        Some(last) if last.size() == frame.size() => {
            for area in damage.areas() {
                last.copy_area_from(frame, *area);
            }
        }
        _ => *last = Some(frame.clone()),
    }
}

/// The driver's name from `fb_fix_screeninfo.id`, e.g. `bochs-drmdrmfb`.
fn device_id(fix: &FixScreeninfo) -> String {
    let end = fix.id.iter().position(|&b| b == 0).unwrap_or(fix.id.len());
    String::from_utf8_lossy(&fix.id[..end]).into_owned()
}

impl<M> FbDisplay<M> {
    /// The rectangle of the screen a frame lands on, in screen coordinates.
    pub fn viewport(&self) -> Rectangle {
        self.viewport.to_rectangle()
    }

    /// The device path (or "memory framebuffer"), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use embedded_graphics_core::geometry::Point;
    use embedded_graphics_core::pixelcolor::Rgb888;

    const GUARD: u8 = 0xEE;

    /// A frame whose every pixel is a different colour.
    fn gradient(size: Size) -> Frame {
        let mut frame = Frame::new(size);
        for y in 0..size.height {
            for x in 0..size.width {
                frame.set_pixel(
                    x,
                    y,
                    Rgb888::new(
                        (x as u8).wrapping_mul(40),
                        (y as u8).wrapping_mul(50),
                        x as u8 ^ 0x80,
                    ),
                );
            }
        }
        frame
    }

    fn pixel_bytes(format: PixelFormat, color: Rgb888) -> Vec<u8> {
        let mut out = vec![0; format.bytes_per_pixel()];
        assert!(format.write(color, &mut out));
        out
    }

    /// Checks every byte: pixels of `frame` where the layout puts them, `GUARD` elsewhere.
    fn assert_lands_exactly(memory: &[u8], layout: &FbLayout, frame: &Frame) {
        let bpp = layout.format.bytes_per_pixel();
        let mut expected = vec![GUARD; memory.len()];
        for y in 0..frame.height() {
            for x in 0..frame.width() {
                let at = layout.offset + y as usize * layout.stride + x as usize * bpp;
                let px = pixel_bytes(layout.format, frame.pixel(x, y).unwrap());
                expected[at..at + bpp].copy_from_slice(&px);
            }
        }
        assert_eq!(memory, &expected[..], "{}", layout.format);
    }

    fn formats() -> [PixelFormat; 4] {
        [
            PixelFormat::RGB565,
            PixelFormat::RGB888,
            PixelFormat::XRGB8888,
            PixelFormat::XBGR8888,
        ]
    }

    #[test]
    fn a_frame_lands_at_the_right_bytes_with_a_wide_stride() {
        for format in formats() {
            let size = Size::new(5, 3);
            // Padding at the end of each row, and a bit of memory past the screen.
            let stride = 5 * format.bytes_per_pixel() + 7;
            let layout = FbLayout::new(5, 3, stride, format);
            let memory = vec![GUARD; stride * 3 + 9];
            let mut display = FbDisplay::on_memory(layout, memory).unwrap();
            let frame = gradient(size);
            let report = display.present(&frame).unwrap();
            assert_eq!(report.rects, vec![Rectangle::new(Point::zero(), size)]);
            assert_eq!(report.bytes, 15 * format.bytes_per_pixel());
            assert_lands_exactly(display.memory(), &layout, &frame);
        }
    }

    #[test]
    fn a_second_present_touches_only_the_changed_pixel() {
        for format in formats() {
            let bpp = format.bytes_per_pixel();
            let size = Size::new(40, 20);
            let stride = 40 * bpp + 12;
            let layout = FbLayout::new(40, 20, stride, format);
            let mut display = FbDisplay::on_memory(layout, vec![0; stride * 20]).unwrap();
            let mut frame = gradient(size);
            display.present(&frame).unwrap();

            // Guard every byte, then change one pixel: only its bytes may be written.
            let mut memory = display.into_memory();
            memory.fill(GUARD);
            let mut display = FbDisplay::on_memory(layout, memory).unwrap();
            display.last = Some(frame.clone());
            frame.set_pixel(33, 17, Rgb888::new(1, 255, 3));
            let report = display.present(&frame).unwrap();
            assert_eq!(
                report.rects,
                vec![Rectangle::new(Point::new(33, 17), Size::new(1, 1))]
            );
            assert_eq!(report.bytes, bpp);

            let at = 17 * stride + 33 * bpp;
            let memory = display.memory();
            assert_eq!(
                memory[at..at + bpp],
                pixel_bytes(format, Rgb888::new(1, 255, 3))[..]
            );
            let untouched = memory
                .iter()
                .enumerate()
                .filter(|(i, _)| !(at..at + bpp).contains(i))
                .all(|(_, b)| *b == GUARD);
            assert!(untouched, "{format}: bytes outside the pixel were written");
        }
    }

    #[test]
    fn an_unchanged_frame_copies_nothing_and_invalidate_copies_all() {
        let layout = FbLayout::new(8, 4, 32, PixelFormat::XRGB8888);
        let mut display = FbDisplay::on_memory(layout, vec![0; 128]).unwrap();
        let frame = gradient(Size::new(8, 4));
        display.present(&frame).unwrap();
        assert_eq!(display.present(&frame).unwrap(), PresentReport::default());
        display.invalidate();
        assert_eq!(display.present(&frame).unwrap().bytes, 128);
    }

    fn screeninfo(bpp: u32, rgb: [(u32, u32); 3]) -> (VarScreeninfo, FixScreeninfo) {
        let field = |(offset, length)| framebuffer::Bitfield {
            offset,
            length,
            msb_right: 0,
        };
        let mut var = VarScreeninfo::default();
        (var.xres, var.yres, var.xres_virtual, var.yres_virtual) = (320, 240, 320, 240);
        var.bits_per_pixel = bpp;
        (var.red, var.green, var.blue) = (field(rgb[0]), field(rgb[1]), field(rgb[2]));
        let fix = FixScreeninfo {
            visual: VISUAL_TRUECOLOR,
            line_length: 320 * bpp / 8,
            ..FixScreeninfo::default()
        };
        (var, fix)
    }

    #[test]
    fn layouts_from_screeninfo() {
        // fbtft / panel-mipi-dbi panels: RGB565.
        let (var, fix) = screeninfo(16, [(11, 5), (5, 6), (0, 5)]);
        let layout = FbLayout::from_screeninfo(&var, &fix).unwrap();
        assert_eq!(layout, FbLayout::new(320, 240, 640, PixelFormat::RGB565));

        // DRM fbdev emulation (bochs-drm): XRGB8888 with rows padded to 1344 bytes.
        let (var, mut fix) = screeninfo(32, [(16, 8), (8, 8), (0, 8)]);
        fix.line_length = 1344;
        let layout = FbLayout::from_screeninfo(&var, &fix).unwrap();
        assert_eq!(layout.format, PixelFormat::XRGB8888);
        assert_eq!(layout.stride, 1344);

        // A driver that leaves line_length at 0 has packed rows.
        let (var, mut fix) = screeninfo(24, [(0, 8), (8, 8), (16, 8)]);
        fix.line_length = 0;
        let layout = FbLayout::from_screeninfo(&var, &fix).unwrap();
        assert_eq!((layout.stride, layout.format), (960, PixelFormat::BGR888));
    }

    #[test]
    fn palette_and_grayscale_modes_are_refused() {
        let (var, mut fix) = screeninfo(16, [(11, 5), (5, 6), (0, 5)]);
        fix.visual = 3; // FB_VISUAL_PSEUDOCOLOR
        assert_eq!(
            FbLayout::from_screeninfo(&var, &fix),
            Err(FormatError::Visual(3))
        );
        let (mut var, fix) = screeninfo(16, [(11, 5), (5, 6), (0, 5)]);
        var.grayscale = 1;
        assert_eq!(
            FbLayout::from_screeninfo(&var, &fix),
            Err(FormatError::Grayscale)
        );
        let (var, fix) = screeninfo(8, [(0, 3), (3, 3), (6, 2)]);
        assert_eq!(
            FbLayout::from_screeninfo(&var, &fix),
            Err(FormatError::Depth(8))
        );
    }

    #[test]
    fn a_panned_display_is_drawn_in_its_visible_half() {
        // Double-buffered virtual screen, panned to the second page.
        let (mut var, fix) = screeninfo(16, [(11, 5), (5, 6), (0, 5)]);
        (var.xres, var.yres, var.xres_virtual, var.yres_virtual) = (4, 3, 6, 6);
        var.yoffset = 3;
        var.xoffset = 1;
        let fix = FixScreeninfo {
            line_length: 12,
            ..fix
        };
        let layout = FbLayout::from_screeninfo(&var, &fix).unwrap();
        assert_eq!(layout.offset, 3 * 12 + 2);
        let mut display = FbDisplay::on_memory(layout, vec![GUARD; 72]).unwrap();
        let frame = gradient(Size::new(4, 3));
        display.present(&frame).unwrap();
        assert_lands_exactly(display.memory(), &layout, &frame);
        assert!(display.describe().contains("visible area at byte 38"));
    }

    #[test]
    fn memory_too_small_or_stride_too_short_is_an_error() {
        let layout = FbLayout::new(10, 10, 20, PixelFormat::RGB565);
        let err = FbDisplay::on_memory(layout, vec![0; 199]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad framebuffer layout: 10x10 screen at offset 0 with stride 20 needs 200 bytes of memory, have 199"
        );
        let layout = FbLayout::new(10, 10, 19, PixelFormat::RGB565);
        let err = FbDisplay::on_memory(layout, vec![0; 1000]).unwrap_err();
        assert!(err.to_string().contains("stride of 19 bytes"), "{err}");
        let huge = FbLayout {
            offset: usize::MAX,
            ..FbLayout::new(1, 1, 2, PixelFormat::RGB565)
        };
        assert!(FbDisplay::on_memory(huge, vec![0; 10]).is_err());
    }

    #[test]
    fn a_viewport_is_centred_and_framed_in_black() {
        let format = PixelFormat::RGB565;
        let layout = FbLayout::new(8, 6, 16, format);
        let mut display = FbDisplay::on_memory(layout, vec![GUARD; 96])
            .unwrap()
            .with_viewport(Size::new(4, 2))
            .unwrap();
        assert_eq!(display.size(), Size::new(4, 2));
        assert_eq!(
            display.viewport(),
            Rectangle::new(Point::new(2, 2), Size::new(4, 2))
        );
        let frame = Frame::filled(Size::new(4, 2), Rgb888::new(255, 255, 255));
        let report = display.present(&frame).unwrap();
        assert_eq!(report.bytes, 96);
        let memory = display.memory();
        for y in 0..6 {
            for x in 0..8 {
                let inside = (2..6).contains(&x) && (2..4).contains(&y);
                let want: &[u8] = if inside { &[0xFF, 0xFF] } else { &[0, 0] };
                assert_eq!(&memory[y * 16 + x * 2..][..2], want, "({x}, {y})");
            }
        }
        let err = display.with_viewport(Size::new(9, 2)).unwrap_err();
        assert_eq!(err.to_string(), "viewport 9x2 does not fit the 8x6 screen");
    }

    #[test]
    fn a_frame_of_another_size_is_refused() {
        let layout = FbLayout::new(8, 4, 32, PixelFormat::XRGB8888);
        let mut display = FbDisplay::on_memory(layout, vec![GUARD; 128]).unwrap();
        let err = display.present(&Frame::new(Size::new(4, 8))).unwrap_err();
        assert!(matches!(err, DisplayError::FrameSize { .. }));
        assert!(display.memory().iter().all(|b| *b == GUARD));
    }

    #[test]
    fn open_errors_name_the_path() {
        let err = FbDisplay::open("/nonexistent/fb7").unwrap_err();
        assert!(
            matches!(&err, DisplayError::Open { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot open framebuffer /nonexistent/fb7: "),
            "{text}"
        );
        assert!(text.contains("driver or overlay"), "{text}");

        // A file that is not a framebuffer fails at the screeninfo ioctl.
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = FbDisplay::open(file.path()).unwrap_err();
        assert!(matches!(err, DisplayError::Device { .. }), "{err:?}");
        let prefix = format!("{} is not a usable framebuffer", file.path().display());
        assert!(err.to_string().starts_with(&prefix), "{err}");
    }
}
