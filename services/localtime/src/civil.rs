//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! Days are counted from 1970-01-01 (day 0), like Unix time. The conversions are Howard
//! Hinnant's `days_from_civil` / `civil_from_days`, which work on whole 400-year eras and so
//! need no tables and no loops. Every function is total for the years this crate accepts
//! (see [`crate::MIN_UTC`] and [`crate::MAX_UTC`]): no overflow, no panic.

use std::fmt;

pub const SECONDS_PER_DAY: i64 = 86_400;

/// A day of the week, numbered as the guide numbers `dst_*_day_of_week`: 1 = Sunday .. 7 = Saturday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Sunday = 1,
    Monday = 2,
    Tuesday = 3,
    Wednesday = 4,
    Thursday = 5,
    Friday = 6,
    Saturday = 7,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Sunday,
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
    ];

    /// The guide's number: 1 = Sunday .. 7 = Saturday.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// From the guide's number (1 = Sunday .. 7 = Saturday).
    pub fn from_number(n: u8) -> Option<Weekday> {
        Weekday::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The English name, as the configuration files spell it ("Sunday").
    pub fn name(self) -> &'static str {
        deskphone_config::value::WEEKDAYS[usize::from(self.number() - 1)]
    }

    /// Days from Sunday: 0 = Sunday .. 6 = Saturday.
    fn days_after_sunday(self) -> i64 {
        i64::from(self.number()) - 1
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Length of a month (1..=12) of a year; 0 for a month number outside 1..=12.
pub fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date. `month` is 1..=12 and `day` 1..=31; a day past the
/// month's end simply counts on into the next month.
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    // Years start in March so that the leap day is the last day of the year.
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let shifted_month = (m + 9) % 12; // March = 0 .. February = 11
    let day_of_year = (153 * shifted_month + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both fit: month is 1..=12 and day 1..=31 by construction.
    (year, month as u8, day as u8)
}

/// The weekday of a day count since 1970-01-01 (a Thursday).
pub fn weekday_from_days(days: i64) -> Weekday {
    let days_after_sunday = (days + 4).rem_euclid(7);
    Weekday::ALL[days_after_sunday as usize]
}

/// Day of the month (1..=31) of the `nth` (1-based) `weekday` of a month. When the month has
/// fewer such weekdays, the last one is used: that is how weeks 5 and 6 of the guide read
/// (see the crate documentation).
pub fn nth_weekday_of_month(year: i64, month: u8, weekday: Weekday, nth: u8) -> u8 {
    let first_dow = weekday_from_days(days_from_civil(year, month, 1));
    let first =
        1 + (weekday.days_after_sunday() - first_dow.days_after_sunday()).rem_euclid(7) as u8;
    let last_day = days_in_month(year, month);
    let mut day = first + 7 * nth.saturating_sub(1).min(5);
    while day > last_day && day > 7 {
        day -= 7;
    }
    day
}

/// Day of the month of the last `weekday` of a month.
pub fn last_weekday_of_month(year: i64, month: u8, weekday: Weekday) -> u8 {
    let last_day = days_in_month(year, month);
    let last_dow = weekday_from_days(days_from_civil(year, month, last_day));
    last_day - (last_dow.days_after_sunday() - weekday.days_after_sunday()).rem_euclid(7) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday_from_days(0), Weekday::Thursday);
        // 2000-02-29 is day 11016 and a Tuesday.
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(weekday_from_days(11_016), Weekday::Tuesday);
        // Before the epoch.
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(1900, 3, 1), -25_508);
        assert_eq!(
            civil_from_days(days_from_civil(-4713, 11, 24)),
            (-4713, 11, 24)
        );
    }

    #[test]
    fn round_trip_over_several_eras() {
        let mut expected = (1600_i64, 1_u8, 1_u8);
        for days in days_from_civil(1600, 1, 1)..days_from_civil(2401, 1, 1) {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2100));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2026, 2), 28);
        assert_eq!(days_in_month(2026, 13), 0);
    }

    #[test]
    fn weekday_numbers_follow_the_guide() {
        assert_eq!(Weekday::from_number(1), Some(Weekday::Sunday));
        assert_eq!(Weekday::from_number(7), Some(Weekday::Saturday));
        assert_eq!(Weekday::from_number(0), None);
        assert_eq!(Weekday::from_number(8), None);
        assert_eq!(Weekday::Wednesday.name(), "Wednesday");
    }

    #[test]
    fn nth_and_last_weekdays() {
        // March 2026 starts on a Sunday and has five Sundays: 1, 8, 15, 22, 29.
        assert_eq!(nth_weekday_of_month(2026, 3, Weekday::Sunday, 1), 1);
        assert_eq!(nth_weekday_of_month(2026, 3, Weekday::Sunday, 2), 8);
        assert_eq!(nth_weekday_of_month(2026, 3, Weekday::Sunday, 5), 29);
        assert_eq!(nth_weekday_of_month(2026, 3, Weekday::Sunday, 6), 29);
        assert_eq!(last_weekday_of_month(2026, 3, Weekday::Sunday), 29);
        // October 2026 starts on a Thursday: Sundays 4, 11, 18, 25; no fifth.
        assert_eq!(nth_weekday_of_month(2026, 10, Weekday::Sunday, 1), 4);
        assert_eq!(nth_weekday_of_month(2026, 10, Weekday::Sunday, 5), 25);
        assert_eq!(last_weekday_of_month(2026, 10, Weekday::Sunday), 25);
        assert_eq!(last_weekday_of_month(2026, 10, Weekday::Saturday), 31);
        assert_eq!(nth_weekday_of_month(2026, 10, Weekday::Thursday, 1), 1);
        // February 2015: exactly four of every weekday.
        assert_eq!(nth_weekday_of_month(2015, 2, Weekday::Sunday, 4), 22);
        assert_eq!(nth_weekday_of_month(2015, 2, Weekday::Saturday, 5), 28);
        assert_eq!(last_weekday_of_month(2015, 2, Weekday::Saturday), 28);
    }
}
