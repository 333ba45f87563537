//! Frames to and from PNG (8-bit RGB), for screenshots, the simulator and golden images.

use std::io;
use std::path::{Path, PathBuf};

use embedded_graphics_core::geometry::Size;
use embedded_graphics_core::pixelcolor::Rgb888;

use crate::frame::Frame;

/// Why a frame could not become a PNG or be read from one.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("a {}x{} frame has no pixels; PNG needs at least one", .0.width, .0.height)]
    Empty(Size),
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] png::EncodingError),
    #[error("not a readable PNG: {0}")]
    Decode(#[from] png::DecodingError),
    #[error("PNG with {0} is not supported")]
    Unsupported(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl Frame {
    /// The frame as an 8-bit RGB PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, ImageError> {
        if self.width() == 0 || self.height() == 0 {
            return Err(ImageError::Empty(Size::new(self.width(), self.height())));
        }
        let mut rgb = Vec::with_capacity(self.width() as usize * self.height() as usize * 3);
        for y in 0..self.height() {
            for word in self.row(y) {
                // 0x00RRGGBB: the last three big-endian bytes are R, G, B.
                rgb.extend_from_slice(&word.to_be_bytes()[1..]);
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width(), self.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Screens are flat colour and text: fast deflate is nearly as small and much quicker,
        // which matters when the simulator writes every frame.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
        writer.finish()?;
        Ok(out)
    }

    /// A frame from a PNG of any colour type and depth; alpha is dropped, not blended.
    pub fn from_png(data: &[u8]) -> Result<Frame, ImageError> {
        let mut decoder = png::Decoder::new(data);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info()?;
        let (color, depth) = reader.output_color_type();
        if depth != png::BitDepth::Eight {
            return Err(ImageError::Unsupported(format!("{depth:?} output depth")));
        }
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf)?;
        let channels = match color {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            png::ColorType::Indexed => {
                return Err(ImageError::Unsupported("an unexpanded palette".into()))
            }
        };
        let mut frame = Frame::new(Size::new(info.width, info.height));
        for y in 0..info.height {
            let line = &buf[y as usize * info.line_size..][..info.width as usize * channels];
            for (x, px) in line.chunks_exact(channels).enumerate() {
                let color = if channels < 3 {
                    Rgb888::new(px[0], px[0], px[0])
                } else {
                    Rgb888::new(px[0], px[1], px[2])
                };
                frame.set_pixel(x as u32, y, color);
            }
        }
        Ok(frame)
    }

    /// Writes the frame as a PNG file atomically: a reader (the simulator's viewer) sees the
    /// old image or the new one, never half of one.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<(), ImageError> {
        let path = path.as_ref();
        let data = self.to_png()?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let io_error = |source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::write(&tmp, data).map_err(io_error)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io_error(e)
        })
    }

    /// Reads a PNG file.
    pub fn load_png(path: impl AsRef<Path>) -> Result<Frame, ImageError> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Frame::from_png(&data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics_core::pixelcolor::RgbColor;

    fn sample() -> Frame {
        let mut frame = Frame::new(Size::new(7, 5));
        frame.set_pixel(0, 0, Rgb888::new(1, 2, 3));
        frame.set_pixel(6, 4, Rgb888::WHITE);
        frame.set_pixel(3, 2, Rgb888::new(0xF8, 0x84, 0x10));
        frame
    }

    #[test]
    fn png_round_trips() {
        let frame = sample();
        let png = frame.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(Frame::from_png(&png).unwrap(), frame);
    }

    #[test]
    fn grayscale_and_alpha_pngs_are_read() {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 2, 1);
        encoder.set_color(png::ColorType::GrayscaleAlpha);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[0x40, 0xff, 0x80, 0x00]).unwrap();
        writer.finish().unwrap();
        let frame = Frame::from_png(&out).unwrap();
        assert_eq!(frame.pixel(0, 0), Some(Rgb888::new(0x40, 0x40, 0x40)));
        assert_eq!(frame.pixel(1, 0), Some(Rgb888::new(0x80, 0x80, 0x80)));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            Frame::from_png(b"GIF89a"),
            Err(ImageError::Decode(_))
        ));
        let png = sample().to_png().unwrap();
        assert!(Frame::from_png(&png[..png.len() / 2]).is_err());
        assert!(matches!(
            Frame::new(Size::new(0, 3)).to_png(),
            Err(ImageError::Empty(_))
        ));
    }

    #[test]
    fn save_png_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("screen.png");
        std::fs::write(&path, b"old").unwrap();
        sample().save_png(&path).unwrap();
        assert_eq!(Frame::load_png(&path).unwrap(), sample());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["screen.png"]);
        let err = sample()
            .save_png(dir.path().join("missing/screen.png"))
            .unwrap_err();
        assert!(err.to_string().contains("missing/screen.png"), "{err}");
    }
}
