//! ITU-T G.711 µ-law and A-law sample conversion, hand-written.
//!
//! G.711 defines the companding on 14-bit (µ-law) and 13-bit (A-law) linear
//! values; how a 16-bit sample is brought down to that width is left to the
//! implementation. This module follows sox (the reference the tests compare
//! every byte against): the sample is *rounded* to 14/13 bits (clipping the
//! top value), negative µ-law values take their magnitude by negation and
//! negative A-law values by one's complement, as in the classic public-domain
//! Sun implementation. The ITU's G.191 software truncates instead, so it can
//! pick the neighbouring code for a 16-bit input that lies within half a
//! 14/13-bit step of a decision value; decoding is identical for all codes.
//!
//! Hand-written rather than taken from a crate: the one candidate
//! (`audio-codec-algorithms`) truncates, so its encoder differs from sox for
//! such inputs (e.g. −31612 → µ-law 0x01 where sox gives 0x00), and the whole
//! codec is forty lines.

/// Rounds a 16-bit sample to `bits` bits (half up), clipping the top value.
#[inline]
fn round_to_bits(sample: i16, bits: u32) -> i32 {
    let shift = 16 - bits;
    let max = (1 << (bits - 1)) - 1;
    ((i32::from(sample) + (1 << (shift - 1))) >> shift).min(max)
}

/// Encodes one linear sample to µ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 33;
    const CLIP: i32 = 8158;
    let v = round_to_bits(sample, 14);
    let (mask, mag) = if v < 0 { (0x7F, -v) } else { (0xFF, v) };
    let mag = mag.min(CLIP) + BIAS; // 33..=8191, so the top bit is bit 5..=12
    let seg = (31 - mag.leading_zeros()) as i32 - 5;
    let mant = (mag >> (seg + 1)) & 0x0F;
    (((seg << 4) | mant) ^ mask) as u8
}

/// Decodes one µ-law byte to a linear sample.
#[inline]
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = i32::from(!byte);
    let seg = (b >> 4) & 0x07;
    let mant = b & 0x0F;
    let mag = (((mant << 3) + 0x84) << seg) - 0x84;
    (if b & 0x80 != 0 { -mag } else { mag }) as i16
}

/// Encodes one linear sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let v = round_to_bits(sample, 13);
    let (mask, mag) = if v < 0 { (0x55, !v) } else { (0xD5, v) };
    let raw = if mag > 0x0FFF {
        0x7F
    } else {
        // Segment 0 covers 0..32; segment s >= 1 covers [16 << s, 32 << s).
        let seg = (32 - mag.leading_zeros() as i32 - 5).max(0);
        let mant = (mag >> seg.max(1)) & 0x0F;
        (seg << 4) | mant
    };
    (raw ^ mask) as u8
}

/// Decodes one A-law byte to a linear sample.
#[inline]
pub fn alaw_decode(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let seg = (a >> 4) & 0x07;
    let mant = a & 0x0F;
    // Reconstruct at the middle of the quantisation interval.
    let mag = match seg {
        0 => (mant << 4) + 8,
        _ => ((mant << 4) + 0x108) << (seg - 1),
    };
    (if a & 0x80 != 0 { mag } else { -mag }) as i16
}

/// Appends the µ-law encoding of `pcm` to `out`.
pub fn ulaw_encode_slice(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| ulaw_encode(s)));
}

/// Appends the linear decoding of µ-law `bytes` to `out`.
pub fn ulaw_decode_slice(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| ulaw_decode(b)));
}

/// Appends the A-law encoding of `pcm` to `out`.
pub fn alaw_encode_slice(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| alaw_encode(s)));
}

/// Appends the linear decoding of A-law `bytes` to `out`.
pub fn alaw_decode_slice(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(bytes.iter().map(|&b| alaw_decode(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Silence codes: µ-law 0xFF (positive zero), A-law 0xD5.
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_decode(0xAA), 32256);
    }

    #[test]
    fn decode_encode_round_trip_is_identity() {
        for b in 0..=255u8 {
            // µ-law 0x7F (negative zero) decodes to 0 which encodes as 0xFF.
            if b != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(b)), b, "ulaw {b:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(b)), b, "alaw {b:#x}");
        }
    }
}
