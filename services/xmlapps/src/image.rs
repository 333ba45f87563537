//! Unpacking the `Data` of `CiscoIPPhoneImage`.

use thiserror::Error;

/// Why an image's data cannot be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImageError {
    #[error("image depth {0} is not supported (only 1 and 2 bits per pixel)")]
    UnsupportedDepth(u8),
    #[error("image data has {0} hex digits, an odd number")]
    OddLength(usize),
    #[error("image data has a non-hex character {found:?} at digit {index}")]
    NotHex { index: usize, found: char },
    #[error("image data is {found} bytes but {width}x{height} at depth {depth} needs {expected}")]
    WrongLength {
        width: u16,
        height: u16,
        depth: u8,
        expected: usize,
        found: usize,
    },
}

/// Unpacks hex `Data` into `width * height` grey levels, 0 black .. 255 white.
///
/// The pixels are one stream scanned left to right, top to bottom, with no
/// padding between rows; only the very end is padded with zero pixels to a
/// whole byte. Each byte holds four 2-bit pixels, the *first* (leftmost) in
/// the *least* significant bits: pixels 1, 3, 2, 0 pack to `0b00_10_11_01`,
/// written `2D`. The value is darkness: 0 is white (so the zero padding is
/// blank), 1 light grey, 2 dark grey, 3 black. Depth 1 is read the same way,
/// eight pixels a byte, 1 black.
///
/// Whitespace inside the hex is ignored (servers wrap long lines). The data
/// must be exactly as long as the size needs, rounded up to a whole byte.
pub fn decode_pixels(hex: &str, width: u16, height: u16, depth: u8) -> Result<Vec<u8>, ImageError> {
    // Grey level of each darkness value, white first.
    let levels: &[u8] = match depth {
        1 => &[255, 0],
        2 => &[255, 170, 85, 0],
        _ => return Err(ImageError::UnsupportedDepth(depth)),
    };
    let packed = unhex(hex)?;
    let count = usize::from(width) * usize::from(height);
    let expected = (count * usize::from(depth)).div_ceil(8);
    if packed.len() != expected {
        return Err(ImageError::WrongLength {
            width,
            height,
            depth,
            expected,
            found: packed.len(),
        });
    }
    let per_byte = 8 / usize::from(depth);
    let mask = (1u8 << depth) - 1;
    Ok((0..count)
        .map(|i| {
            let shift = (i % per_byte) * usize::from(depth);
            levels[usize::from((packed[i / per_byte] >> shift) & mask)]
        })
        .collect())
}

fn unhex(hex: &str) -> Result<Vec<u8>, ImageError> {
    let digits: Vec<(usize, char)> = hex
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .enumerate()
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(ImageError::OddLength(digits.len()));
    }
    let value = |(index, c): (usize, char)| {
        c.to_digit(16)
            .map(|d| d as u8)
            .ok_or(ImageError::NotHex { index, found: c })
    };
    digits
        .chunks(2)
        .map(|pair| Ok(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_unpacks_to_1_3_2_0() {
        // Darkness 1, 3, 2, 0 = light grey, black, dark grey, white.
        assert_eq!(decode_pixels("2D", 4, 1, 2).unwrap(), [170, 0, 85, 255]);
    }

    #[test]
    fn rows_run_on_without_padding_and_only_the_end_is_padded() {
        // 3x2: darkness 3,0,1 / 2,3,0 -> 3,0,1,2 | 3,0,(pad),(pad)
        // byte 0 = 2<<6 | 1<<4 | 0<<2 | 3 = 0x93, byte 1 = 0<<2 | 3 = 0x03
        assert_eq!(
            decode_pixels("93 0\n3", 3, 2, 2).unwrap(),
            [0, 255, 170, 85, 0, 255]
        );
    }

    #[test]
    fn depth_one_is_eight_pixels_per_byte_lsb_first() {
        assert_eq!(
            decode_pixels("81", 8, 1, 1).unwrap(),
            [0, 255, 255, 255, 255, 255, 255, 0]
        );
    }

    #[test]
    fn bad_data_is_refused_with_the_reason() {
        assert_eq!(
            decode_pixels("2D00", 4, 1, 2).unwrap_err(),
            ImageError::WrongLength {
                width: 4,
                height: 1,
                depth: 2,
                expected: 1,
                found: 2
            }
        );
        assert_eq!(
            decode_pixels("2D0", 4, 1, 2).unwrap_err(),
            ImageError::OddLength(3)
        );
        assert_eq!(
            decode_pixels("2G", 4, 1, 2).unwrap_err(),
            ImageError::NotHex {
                index: 1,
                found: 'G'
            }
        );
        assert_eq!(
            decode_pixels("", 0, 0, 4).unwrap_err(),
            ImageError::UnsupportedDepth(4)
        );
    }
}
