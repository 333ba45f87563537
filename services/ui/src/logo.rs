//! The idle screen's logo (`logo_url`): a Windows 256-colour bitmap, scaled down to fit the
//! 90x56 space the phone gives it, in grey like the rest of the LCD.

use deskphone_screen::Image;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use tinybmp::{Bmp, Bpp};

/// The room for the logo on the idle screen.
pub const LOGO_WIDTH: u32 = 90;
pub const LOGO_HEIGHT: u32 = 56;
/// The largest bitmap read: the guide recommends 5 to 15 KB files.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// Decodes the bitmap; anything but an 8-bit (256-colour) BMP is refused, as on the 7940.
/// A larger picture is scaled down (keeping its proportions) by averaging; a smaller one is
/// shown as it is.
pub fn decode_logo(data: &[u8]) -> Result<Image, String> {
    let bmp = Bmp::<Rgb888>::from_slice(data).map_err(|e| format!("not a BMP image ({e:?})"))?;
    let bpp = bmp.as_raw().header().bpp;
    if bpp != Bpp::Bits8 {
        return Err(format!(
            "a {}-bit BMP; the logo must be a 256-colour (8-bit) BMP",
            bpp.bits()
        ));
    }
    let size = bmp.bounding_box().size;
    let (w, h) = (size.width as usize, size.height as usize);
    if w == 0 || h == 0 || w > 4096 || h > 4096 {
        return Err(format!("a {w}x{h} BMP cannot be a logo"));
    }
    let mut grey = vec![255u8; w * h];
    for Pixel(p, c) in bmp.pixels() {
        if let (Ok(x), Ok(y)) = (usize::try_from(p.x), usize::try_from(p.y)) {
            if x < w && y < h {
                grey[y * w + x] = luma(c);
            }
        }
    }
    let scale = f64::min(
        1.0,
        f64::min(
            f64::from(LOGO_WIDTH) / w as f64,
            f64::from(LOGO_HEIGHT) / h as f64,
        ),
    );
    let (tw, th) = (
        ((w as f64 * scale).round() as usize).max(1),
        ((h as f64 * scale).round() as usize).max(1),
    );
    if (tw, th) == (w, h) {
        return Ok(Image {
            width: w as u32,
            height: h as u32,
            grey,
        });
    }
    // Each target pixel is the mean of the source pixels it covers.
    let mut out = Vec::with_capacity(tw * th);
    for ty in 0..th {
        let (y0, y1) = (ty * h / th, ((ty + 1) * h / th).max(ty * h / th + 1));
        for tx in 0..tw {
            let (x0, x1) = (tx * w / tw, ((tx + 1) * w / tw).max(tx * w / tw + 1));
            let mut sum = 0u32;
            for y in y0..y1.min(h) {
                for x in x0..x1.min(w) {
                    sum += u32::from(grey[y * w + x]);
                }
            }
            let n = ((y1.min(h) - y0) * (x1.min(w) - x0)) as u32;
            out.push((sum / n.max(1)) as u8);
        }
    }
    Ok(Image {
        width: tw as u32,
        height: th as u32,
        grey: out,
    })
}

fn luma(c: Rgb888) -> u8 {
    ((299 * u32::from(c.r()) + 587 * u32::from(c.g()) + 114 * u32::from(c.b())) / 1000) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bottom-up 8-bit BMP of `w`x`h` whose pixel (x, y) has palette index `f(x, y)`;
    /// the palette is a grey ramp (index i is grey i).
    pub fn bmp8(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let row = (w as usize + 3) & !3;
        let data_offset = 14 + 40 + 256 * 4;
        let size = data_offset + row * h as usize;
        let mut b = Vec::with_capacity(size);
        b.extend_from_slice(b"BM");
        b.extend_from_slice(&(size as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&(data_offset as u32).to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&(w as i32).to_le_bytes());
        b.extend_from_slice(&(h as i32).to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // BI_RGB
        b.extend_from_slice(&((row * h as usize) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&256u32.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for i in 0..=255u8 {
            b.extend_from_slice(&[i, i, i, 0]);
        }
        for y in (0..h).rev() {
            let start = b.len();
            for x in 0..w {
                b.push(f(x, y));
            }
            b.resize(start + row, 0);
        }
        b
    }

    #[test]
    fn a_small_logo_is_shown_as_it_is() {
        let img =
            decode_logo(&bmp8(40, 20, |x, y| if x < 20 && y < 10 { 0 } else { 200 })).unwrap();
        assert_eq!((img.width, img.height), (40, 20));
        assert_eq!(img.grey[0], 0);
        assert_eq!(img.grey[39], 200);
        assert_eq!(img.grey[19 * 40], 200);
    }

    #[test]
    fn a_large_logo_is_scaled_down_into_90_by_56_keeping_its_shape() {
        // 180x56: twice as wide as the room, so 90x28.
        let img = decode_logo(&bmp8(180, 56, |x, _| if x % 2 == 0 { 0 } else { 200 })).unwrap();
        assert_eq!((img.width, img.height), (90, 28));
        // Two columns, black and light, average to 100.
        assert!(img.grey.iter().all(|g| *g == 100), "{:?}", &img.grey[..8]);
        let tall = decode_logo(&bmp8(100, 112, |_, _| 50)).unwrap();
        assert_eq!((tall.width, tall.height), (50, 56));
    }

    #[test]
    fn other_formats_are_refused_with_a_reason() {
        assert!(decode_logo(b"GIF89a").unwrap_err().contains("not a BMP"));
        let mut b = bmp8(4, 4, |_, _| 0);
        b[28] = 24; // bits per pixel
        let e = decode_logo(&b).unwrap_err();
        assert!(e.contains("256-colour") || e.contains("not a BMP"), "{e}");
    }
}
