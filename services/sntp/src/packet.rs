//! The NTP packet header (RFC 5905 §7.3, as SNTP uses it in RFC 4330), NTP timestamps, and the
//! signed clock [`Offset`].
//!
//! Only the 48-byte header matters to SNTP; anything after it (extension fields, a MAC) is
//! ignored on reception and never sent.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of the NTP header; every request we send is exactly this long.
pub const HEADER_LEN: usize = 48;

/// The NTP port, on which servers answer and broadcast.
pub const NTP_PORT: u16 = 123;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const NTP_UNIX_OFFSET_SECS: i128 = 2_208_988_800;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Association modes of the header's low three bits (RFC 5905 Figure 10).
pub mod mode {
    /// A client request.
    pub const CLIENT: u8 = 3;
    /// A server's reply to a client request.
    pub const SERVER: u8 = 4;
    /// A broadcast (or multicast) server's unsolicited packet.
    pub const BROADCAST: u8 = 5;
}

/// Leap indicator 3: the server's clock is not synchronised.
pub const LEAP_UNSYNCHRONISED: u8 = 3;

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, the fraction in the low 32.
///
/// Era-ambiguous by design (it wraps in 2036); differences between two timestamps are taken
/// modulo 2^64 and read as signed, which is right while the clocks are within 68 years of each
/// other (RFC 5905 §6). A phone without a battery-backed clock that boots in 1970 is 56 years
/// off, so it still synchronises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NtpTimestamp(u64);

impl NtpTimestamp {
    /// The all-zero timestamp, which RFC 5905 reserves for "unknown".
    pub const ZERO: NtpTimestamp = NtpTimestamp(0);

    pub const fn from_bits(bits: u64) -> Self {
        NtpTimestamp(bits)
    }

    pub const fn to_bits(self) -> u64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The timestamp of a wall-clock reading (any `SystemTime`, also before 1970).
    pub fn from_system_time(t: SystemTime) -> Self {
        let unix_nanos: i128 = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        let ntp_nanos = unix_nanos + NTP_UNIX_OFFSET_SECS * NANOS_PER_SEC;
        let secs = ntp_nanos.div_euclid(NANOS_PER_SEC);
        let nanos = ntp_nanos.rem_euclid(NANOS_PER_SEC);
        // Round the fraction to the nearest 2^-32 s so that a round trip through
        // `to_system_time` is exact to the nanosecond.
        let frac = ((nanos << 32) + NANOS_PER_SEC / 2) / NANOS_PER_SEC;
        let bits = (secs << 32) + frac;
        NtpTimestamp(bits.rem_euclid(1 << 64) as u64)
    }

    /// `self - earlier` as a signed offset (modulo 2^64, so across an era boundary too).
    pub fn since(self, earlier: NtpTimestamp) -> Offset {
        let fixed = self.0.wrapping_sub(earlier.0) as i64;
        // 32.32 fixed point to nanoseconds, rounded to nearest.
        let nanos = ((fixed as i128) * NANOS_PER_SEC + (1 << 31)) >> 32;
        Offset::from_nanos(nanos as i64)
    }
}

/// A signed clock correction: how far to move the local clock to agree with the server
/// (positive = the local clock is behind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset {
    nanos: i64,
}

impl Offset {
    pub const ZERO: Offset = Offset { nanos: 0 };

    pub const fn from_nanos(nanos: i64) -> Self {
        Offset { nanos }
    }

    /// Whole seconds, for building offsets by hand.
    pub const fn from_secs(secs: i64) -> Self {
        Offset {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    pub fn as_secs_f64(self) -> f64 {
        self.nanos as f64 / 1e9
    }

    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The size of the correction, whatever its sign.
    pub fn magnitude(self) -> Duration {
        Duration::from_nanos(self.nanos.unsigned_abs())
    }

    /// `t` moved by this offset; `None` where `SystemTime` cannot represent the result.
    pub fn apply(self, t: SystemTime) -> Option<SystemTime> {
        if self.is_negative() {
            t.checked_sub(self.magnitude())
        } else {
            t.checked_add(self.magnitude())
        }
    }

    /// The offset that takes `from` to `to`, saturating at about ±292 years.
    pub fn between(from: SystemTime, to: SystemTime) -> Offset {
        let nanos = match to.duration_since(from) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Offset { nanos }
    }

    pub fn saturating_add(self, other: Offset) -> Offset {
        Offset {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }
}

impl std::ops::Neg for Offset {
    type Output = Offset;
    fn neg(self) -> Offset {
        Offset {
            nanos: self.nanos.saturating_neg(),
        }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { '-' } else { '+' };
        let m = self.magnitude();
        write!(f, "{sign}{}.{:09} s", m.as_secs(), m.subsec_nanos())
    }
}

/// The datagram is shorter than an NTP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes is shorter than the {HEADER_LEN}-byte NTP header")]
pub struct TooShort(pub usize);

/// The fields of an NTP header, as on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    /// Leap indicator, 0..=3.
    pub leap: u8,
    /// Version number, 0..=7.
    pub version: u8,
    /// Association mode, 0..=7 (see [`mode`]).
    pub mode: u8,
    /// 0 for a kiss-o'-death, 1 primary, 2..=15 secondary, 16 unsynchronised.
    pub stratum: u8,
    pub poll: i8,
    pub precision: i8,
    /// Root delay, NTP short format (16.16 seconds).
    pub root_delay: u32,
    /// Root dispersion, NTP short format (16.16 seconds).
    pub root_dispersion: u32,
    /// Reference ID; the ASCII kiss code when `stratum` is 0.
    pub reference_id: [u8; 4],
    pub reference: NtpTimestamp,
    /// T1 as echoed by a server: the transmit timestamp of the request this answers.
    pub originate: NtpTimestamp,
    /// T2: when the server received the request.
    pub receive: NtpTimestamp,
    /// T3: when the server sent this packet.
    pub transmit: NtpTimestamp,
}

impl Packet {
    /// A client request as RFC 4330 §5 describes it: version 4, mode 3, every field zero but
    /// the transmit timestamp.
    pub fn request(transmit: NtpTimestamp) -> Packet {
        Packet {
            version: 4,
            mode: mode::CLIENT,
            transmit,
            ..Packet::default()
        }
    }

    /// Reads a header; bytes after the first 48 are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Packet, TooShort> {
        let h: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(TooShort(bytes.len()))?;
        let u32_at = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let ts_at =
            |i: usize| NtpTimestamp((u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4)));
        Ok(Packet {
            leap: h[0] >> 6,
            version: (h[0] >> 3) & 0x7,
            mode: h[0] & 0x7,
            stratum: h[1],
            poll: h[2] as i8,
            precision: h[3] as i8,
            root_delay: u32_at(4),
            root_dispersion: u32_at(8),
            reference_id: [h[12], h[13], h[14], h[15]],
            reference: ts_at(16),
            originate: ts_at(24),
            receive: ts_at(32),
            transmit: ts_at(40),
        })
    }

    /// The 48-byte header. Out-of-range `leap`, `version` and `mode` are masked to their bits.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = ((self.leap & 0x3) << 6) | ((self.version & 0x7) << 3) | (self.mode & 0x7);
        b[1] = self.stratum;
        b[2] = self.poll as u8;
        b[3] = self.precision as u8;
        b[4..8].copy_from_slice(&self.root_delay.to_be_bytes());
        b[8..12].copy_from_slice(&self.root_dispersion.to_be_bytes());
        b[12..16].copy_from_slice(&self.reference_id);
        for (at, ts) in [
            (16, self.reference),
            (24, self.originate),
            (32, self.receive),
            (40, self.transmit),
        ] {
            b[at..at + 8].copy_from_slice(&ts.0.to_be_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_ntp_second_2208988800() {
        let ts = NtpTimestamp::from_system_time(UNIX_EPOCH);
        assert_eq!(ts.to_bits(), 2_208_988_800u64 << 32);
    }

    #[test]
    fn half_a_second_is_half_the_fraction() {
        let ts = NtpTimestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(ts.to_bits(), ((2_208_988_801u64) << 32) | (1 << 31));
    }

    #[test]
    fn differences_work_across_the_2036_era_boundary() {
        // 2036-02-07 06:28:16 UTC is where the seconds field wraps to 0.
        let wrap = UNIX_EPOCH + Duration::from_secs(2_085_978_496);
        let before = NtpTimestamp::from_system_time(wrap - Duration::from_secs(10));
        let after = NtpTimestamp::from_system_time(wrap + Duration::from_secs(5));
        assert!(after.to_bits() < before.to_bits(), "the counter wrapped");
        assert_eq!(after.since(before), Offset::from_secs(15));
        assert_eq!(before.since(after), Offset::from_secs(-15));
    }

    #[test]
    fn a_clock_at_1970_still_measures_an_offset_to_today() {
        let today = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let t =
            NtpTimestamp::from_system_time(today).since(NtpTimestamp::from_system_time(UNIX_EPOCH));
        assert_eq!(t, Offset::from_secs(1_780_000_000));
    }

    #[test]
    fn offsets_keep_nanosecond_precision() {
        let a = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let b = a + Duration::new(3, 987_654_321);
        let d = NtpTimestamp::from_system_time(b).since(NtpTimestamp::from_system_time(a));
        assert!((d.as_nanos() - 3_987_654_321).abs() <= 1, "{d}");
    }

    #[test]
    fn header_round_trips() {
        let p = Packet {
            leap: 1,
            version: 4,
            mode: mode::SERVER,
            stratum: 2,
            poll: 6,
            precision: -20,
            root_delay: 0x0001_8000,
            root_dispersion: 7,
            reference_id: *b"GPS\0",
            reference: NtpTimestamp::from_bits(1),
            originate: NtpTimestamp::from_bits(2),
            receive: NtpTimestamp::from_bits(u64::MAX),
            transmit: NtpTimestamp::from_bits(0x0123_4567_89ab_cdef),
        };
        assert_eq!(Packet::parse(&p.to_bytes()), Ok(p));
    }

    #[test]
    fn a_request_has_only_version_mode_and_transmit() {
        let b = Packet::request(NtpTimestamp::from_bits(0xdead_beef_0000_0001)).to_bytes();
        assert_eq!(b[0], 0b00_100_011);
        assert!(b[1..40].iter().all(|&x| x == 0));
        assert_eq!(&b[40..], &0xdead_beef_0000_0001u64.to_be_bytes());
    }

    #[test]
    fn short_datagrams_are_refused_and_trailers_ignored() {
        assert_eq!(Packet::parse(&[0u8; 47]), Err(TooShort(47)));
        let mut long = Packet::request(NtpTimestamp::from_bits(9))
            .to_bytes()
            .to_vec();
        long.extend_from_slice(&[0xff; 20]);
        assert_eq!(Packet::parse(&long).map(|p| p.transmit.to_bits()), Ok(9));
    }

    #[test]
    fn offset_display_and_apply() {
        assert_eq!(
            Offset::from_nanos(-1_500_000_000).to_string(),
            "-1.500000000 s"
        );
        let t = UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(
            Offset::from_secs(-40).apply(t),
            Some(UNIX_EPOCH + Duration::from_secs(60))
        );
        assert_eq!(Offset::between(t, UNIX_EPOCH), Offset::from_secs(-100));
    }
}
