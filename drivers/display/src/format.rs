//! Packing RGB888 into the pixel layout a framebuffer describes.

use core::fmt;

use embedded_graphics_core::pixelcolor::Rgb888;

/// Where one colour channel sits in a pixel value: `length` bits from bit `offset` (bit 0 is
/// the least significant), as the kernel's `fb_bitfield` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Channel {
    pub offset: u8,
    pub length: u8,
}

impl Channel {
    pub const fn new(offset: u8, length: u8) -> Channel {
        Channel { offset, length }
    }

    const NONE: Channel = Channel::new(0, 0);

    fn mask(self) -> u32 {
        if self.length == 0 {
            0
        } else {
            (u32::MAX >> (32 - u32::from(self.length))) << self.offset
        }
    }

    /// Scales an 8-bit value to `length` bits and shifts it into place: narrower channels keep
    /// the high bits (as every RGB565 converter does), wider ones repeat the high bits into the
    /// low ones so that 0xff stays full scale.
    #[inline(always)]
    fn place(self, value: u32) -> u32 {
        let length = u32::from(self.length);
        let down = 8u32.saturating_sub(length);
        let up = length.saturating_sub(8);
        // With `up == 0`, `value >> 8` is 0 for an 8-bit value: no branch needed.
        (((value >> down) << up) | (value >> (8 - up))) << self.offset
    }
}

/// A true-colour pixel layout: bits per pixel and where red, green, blue (and, if the device
/// has one, transparency) sit in the pixel value.
///
/// The value is stored in the CPU's byte order, as fbdev does; on the little-endian targets of
/// this firmware `XRGB8888` is the bytes B, G, R, X in memory and packed 24-bit `RGB888` is
/// B, G, R. Names follow the DRM fourcc convention, which describes the value, not the bytes.
/// Transparency bits, when present, are set to opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PixelFormat {
    bits_per_pixel: u8,
    red: Channel,
    green: Channel,
    blue: Channel,
    transp: Channel,
}

/// Why a framebuffer's pixel layout cannot be drawn on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{0} bits per pixel is not supported (only 16, 24 and 32)")]
    Depth(u32),
    #[error("{name} channel at bit {offset}, {length} bits, does not fit in {bits_per_pixel} bits per pixel")]
    ChannelOutOfRange {
        name: &'static str,
        offset: u32,
        length: u32,
        bits_per_pixel: u32,
    },
    #[error("{name} channel has no bits")]
    MissingChannel { name: &'static str },
    #[error("{name} channel is {length} bits wide; at most 16 are supported")]
    ChannelTooWide { name: &'static str, length: u32 },
    #[error("{0} and {1} channels overlap")]
    Overlap(&'static str, &'static str),
    #[error("{name} channel is stored most significant bit right, which is not supported")]
    MsbRight { name: &'static str },
    #[error("grayscale or FOURCC framebuffer modes are not supported")]
    Grayscale,
    #[error("visual type {0} is not true colour (palette framebuffers are not supported)")]
    Visual(u32),
}

/// A channel as the kernel reports it, before it is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bitfield {
    pub offset: u32,
    pub length: u32,
    pub msb_right: u32,
}

impl PixelFormat {
    pub const RGB565: PixelFormat = PixelFormat::known(
        16,
        Channel::new(11, 5),
        Channel::new(5, 6),
        Channel::new(0, 5),
    );
    pub const BGR565: PixelFormat = PixelFormat::known(
        16,
        Channel::new(0, 5),
        Channel::new(5, 6),
        Channel::new(11, 5),
    );
    pub const RGB888: PixelFormat = PixelFormat::known(
        24,
        Channel::new(16, 8),
        Channel::new(8, 8),
        Channel::new(0, 8),
    );
    pub const BGR888: PixelFormat = PixelFormat::known(
        24,
        Channel::new(0, 8),
        Channel::new(8, 8),
        Channel::new(16, 8),
    );
    pub const XRGB8888: PixelFormat = PixelFormat::known(
        32,
        Channel::new(16, 8),
        Channel::new(8, 8),
        Channel::new(0, 8),
    );
    pub const XBGR8888: PixelFormat = PixelFormat::known(
        32,
        Channel::new(0, 8),
        Channel::new(8, 8),
        Channel::new(16, 8),
    );
    pub const ARGB8888: PixelFormat = PixelFormat {
        transp: Channel::new(24, 8),
        ..PixelFormat::XRGB8888
    };

    const fn known(bits_per_pixel: u8, red: Channel, green: Channel, blue: Channel) -> Self {
        PixelFormat {
            bits_per_pixel,
            red,
            green,
            blue,
            transp: Channel::NONE,
        }
    }

    /// A format from the var screeninfo fields, checked: 16, 24 or 32 bits per pixel, red,
    /// green and blue present, inside the pixel, not overlapping, at most 16 bits each.
    pub fn from_bitfields(
        bits_per_pixel: u32,
        red: Bitfield,
        green: Bitfield,
        blue: Bitfield,
        transp: Bitfield,
    ) -> Result<PixelFormat, FormatError> {
        if !matches!(bits_per_pixel, 16 | 24 | 32) {
            return Err(FormatError::Depth(bits_per_pixel));
        }
        let check = |name: &'static str, field: Bitfield, required: bool| {
            if field.length == 0 {
                return if required {
                    Err(FormatError::MissingChannel { name })
                } else {
                    Ok(Channel::NONE)
                };
            }
            if field
                .offset
                .checked_add(field.length)
                .is_none_or(|end| end > bits_per_pixel)
            {
                return Err(FormatError::ChannelOutOfRange {
                    name,
                    offset: field.offset,
                    length: field.length,
                    bits_per_pixel,
                });
            }
            if field.length > 16 {
                return Err(FormatError::ChannelTooWide {
                    name,
                    length: field.length,
                });
            }
            if field.msb_right != 0 {
                return Err(FormatError::MsbRight { name });
            }
            // Both fit in a u8: offset + length <= 32.
            Ok(Channel::new(field.offset as u8, field.length as u8))
        };
        let channels = [
            ("red", check("red", red, true)?),
            ("green", check("green", green, true)?),
            ("blue", check("blue", blue, true)?),
            ("transparency", check("transparency", transp, false)?),
        ];
        for (i, (a_name, a)) in channels.iter().enumerate() {
            for (b_name, b) in &channels[i + 1..] {
                if a.mask() & b.mask() != 0 {
                    return Err(FormatError::Overlap(a_name, b_name));
                }
            }
        }
        Ok(PixelFormat {
            bits_per_pixel: bits_per_pixel as u8,
            red: channels[0].1,
            green: channels[1].1,
            blue: channels[2].1,
            transp: channels[3].1,
        })
    }

    pub fn bits_per_pixel(&self) -> u32 {
        u32::from(self.bits_per_pixel)
    }

    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    pub fn red(&self) -> Channel {
        self.red
    }

    pub fn green(&self) -> Channel {
        self.green
    }

    pub fn blue(&self) -> Channel {
        self.blue
    }

    pub fn transparency(&self) -> Channel {
        self.transp
    }

    /// The pixel value for `color`.
    pub fn pack(&self, color: Rgb888) -> u32 {
        self.pack_word(crate::frame::to_word(color))
    }

    /// Writes `color` into `out`, which holds exactly [`Self::bytes_per_pixel`] bytes.
    ///
    /// Returns false (and writes nothing) if `out` has another length.
    pub fn write(&self, color: Rgb888, out: &mut [u8]) -> bool {
        if out.len() != self.bytes_per_pixel() {
            return false;
        }
        self.write_row(&[crate::frame::to_word(color)], out);
        true
    }

    /// The usual name of the layout, if it has one.
    pub fn name(&self) -> Option<&'static str> {
        [
            (PixelFormat::RGB565, "RGB565"),
            (PixelFormat::BGR565, "BGR565"),
            (PixelFormat::RGB888, "RGB888"),
            (PixelFormat::BGR888, "BGR888"),
            (PixelFormat::XRGB8888, "XRGB8888"),
            (PixelFormat::XBGR8888, "XBGR8888"),
            (PixelFormat::ARGB8888, "ARGB8888"),
        ]
        .into_iter()
        .find_map(|(format, name)| (format == *self).then_some(name))
    }

    /// Packs a `0x00RRGGBB` word.
    #[inline(always)]
    pub(crate) fn pack_word(&self, word: u32) -> u32 {
        self.red.place((word >> 16) & 0xff)
            | self.green.place((word >> 8) & 0xff)
            | self.blue.place(word & 0xff)
            | self.transp.mask()
    }

    /// Packs a row of `0x00RRGGBB` words into `out` (`src.len() * bytes_per_pixel` bytes).
    /// This is the one place pixels reach device memory, for every backend.
    pub(crate) fn write_row(&self, src: &[u32], out: &mut [u8]) {
        debug_assert_eq!(out.len(), src.len() * self.bytes_per_pixel());
        match self.bits_per_pixel {
            16 => {
                for (word, px) in src.iter().zip(out.chunks_exact_mut(2)) {
                    px.copy_from_slice(&(self.pack_word(*word) as u16).to_ne_bytes());
                }
            }
            24 => {
                for (word, px) in src.iter().zip(out.chunks_exact_mut(3)) {
                    let bytes = self.pack_word(*word).to_ne_bytes();
                    // The low three bytes of the value, in memory order.
                    let low = if cfg!(target_endian = "big") {
                        &bytes[1..]
                    } else {
                        &bytes[..3]
                    };
                    px.copy_from_slice(low);
                }
            }
            _ => {
                for (word, px) in src.iter().zip(out.chunks_exact_mut(4)) {
                    px.copy_from_slice(&self.pack_word(*word).to_ne_bytes());
                }
            }
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.name() {
            return f.write_str(name);
        }
        let c = |c: Channel| format!("{}@{}", c.length, c.offset);
        write!(
            f,
            "{}bpp r{} g{} b{}",
            self.bits_per_pixel,
            c(self.red),
            c(self.green),
            c(self.blue)
        )?;
        if self.transp.length > 0 {
            write!(f, " a{}", c(self.transp))?;
        }
        Ok(())
    }
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use embedded_graphics_core::pixelcolor::RgbColor;

    fn field(offset: u32, length: u32) -> Bitfield {
        Bitfield {
            offset,
            length,
            msb_right: 0,
        }
    }

    fn bytes(format: PixelFormat, color: Rgb888) -> Vec<u8> {
        let mut out = vec![0xAA; format.bytes_per_pixel()];
        assert!(format.write(color, &mut out));
        out
    }

    // A colour whose channels are told apart by their high bits.
    const ORANGE: Rgb888 = Rgb888::new(0xF8, 0x84, 0x10);

    #[test]
    fn rgb565_and_bgr565() {
        // r=0x1f g=0x21 b=0x02.
        assert_eq!(PixelFormat::RGB565.pack(ORANGE), 0xFC22);
        assert_eq!(bytes(PixelFormat::RGB565, ORANGE), [0x22, 0xFC]);
        assert_eq!(
            PixelFormat::BGR565.pack(ORANGE),
            (0x02 << 11) | (0x21 << 5) | 0x1f
        );
        assert_eq!(PixelFormat::RGB565.pack(Rgb888::WHITE), 0xFFFF);
    }

    #[test]
    fn thirty_two_bit_layouts() {
        assert_eq!(
            bytes(PixelFormat::XRGB8888, ORANGE),
            [0x10, 0x84, 0xF8, 0x00]
        );
        assert_eq!(
            bytes(PixelFormat::XBGR8888, ORANGE),
            [0xF8, 0x84, 0x10, 0x00]
        );
        // Alpha is opaque.
        assert_eq!(
            bytes(PixelFormat::ARGB8888, ORANGE),
            [0x10, 0x84, 0xF8, 0xFF]
        );
    }

    #[test]
    fn packed_24_bit_layouts() {
        assert_eq!(bytes(PixelFormat::RGB888, ORANGE), [0x10, 0x84, 0xF8]);
        assert_eq!(bytes(PixelFormat::BGR888, ORANGE), [0xF8, 0x84, 0x10]);
    }

    #[test]
    fn bitfields_name_the_known_layouts() {
        let f = PixelFormat::from_bitfields(
            16,
            field(11, 5),
            field(5, 6),
            field(0, 5),
            Bitfield::default(),
        )
        .unwrap();
        assert_eq!(f, PixelFormat::RGB565);
        assert_eq!(f.to_string(), "RGB565");
        let f =
            PixelFormat::from_bitfields(32, field(0, 8), field(8, 8), field(16, 8), field(24, 8))
                .unwrap();
        assert_eq!(f.to_string(), "32bpp r8@0 g8@8 b8@16 a8@24");
        assert_eq!(bytes(f, ORANGE), [0xF8, 0x84, 0x10, 0xFF]);
    }

    #[test]
    fn wide_channels_keep_full_scale() {
        // XRGB2101010.
        let f = PixelFormat::from_bitfields(
            32,
            field(20, 10),
            field(10, 10),
            field(0, 10),
            Bitfield::default(),
        )
        .unwrap();
        assert_eq!(f.pack(Rgb888::WHITE), 0x3FFF_FFFF);
        assert_eq!(f.pack(Rgb888::new(0x80, 0, 0)), 0x202 << 20);
    }

    #[test]
    fn bad_bitfields_are_refused_with_a_reason() {
        let none = Bitfield::default();
        let rgb = (field(11, 5), field(5, 6), field(0, 5));
        assert_eq!(
            PixelFormat::from_bitfields(8, rgb.0, rgb.1, rgb.2, none),
            Err(FormatError::Depth(8))
        );
        assert_eq!(
            PixelFormat::from_bitfields(16, field(12, 5), rgb.1, rgb.2, none),
            Err(FormatError::ChannelOutOfRange {
                name: "red",
                offset: 12,
                length: 5,
                bits_per_pixel: 16
            })
        );
        assert_eq!(
            PixelFormat::from_bitfields(16, rgb.0, field(4, 6), rgb.2, none),
            Err(FormatError::Overlap("green", "blue"))
        );
        assert_eq!(
            PixelFormat::from_bitfields(16, rgb.0, none, rgb.2, none),
            Err(FormatError::MissingChannel { name: "green" })
        );
        let flipped = Bitfield {
            msb_right: 1,
            ..rgb.0
        };
        assert_eq!(
            PixelFormat::from_bitfields(16, flipped, rgb.1, rgb.2, none),
            Err(FormatError::MsbRight { name: "red" })
        );
        assert_eq!(
            PixelFormat::from_bitfields(32, field(u32::MAX, 8), rgb.1, rgb.2, none)
                .unwrap_err()
                .to_string(),
            format!(
                "red channel at bit {}, 8 bits, does not fit in 32 bits per pixel",
                u32::MAX
            )
        );
    }

    #[test]
    fn write_refuses_a_wrong_length() {
        let mut out = [0u8; 3];
        assert!(!PixelFormat::XRGB8888.write(Rgb888::WHITE, &mut out));
        assert_eq!(out, [0; 3]);
    }
}
