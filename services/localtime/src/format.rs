//! Date and time as the idle screen shows them.

use std::fmt;

use deskphone_config::value::{self, Preference};

use crate::rule::LocalTime;

/// `date_format`: the order of the fields, and whether the year has two digits (`Y`) or
/// four (`YY`, per the guide's "4-digit year" for `YY-M-D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateFormat {
    /// `M/D/Y`, the default: 11/24/26.
    #[default]
    MonthDayYear,
    /// `D/M/Y`: 24/11/26.
    DayMonthYear,
    /// `Y/M/D`: 26/11/24.
    YearMonthDay,
    /// `Y/D/M`: 26/24/11.
    YearDayMonth,
    /// `Y-M-D`: 26-11-24.
    YearMonthDayDashed,
    /// `YY-M-D`: 2026-11-24.
    FullYearMonthDayDashed,
}

impl DateFormat {
    const ALL: [DateFormat; 6] = [
        DateFormat::MonthDayYear,
        DateFormat::DayMonthYear,
        DateFormat::YearMonthDay,
        DateFormat::YearDayMonth,
        DateFormat::YearMonthDayDashed,
        DateFormat::FullYearMonthDayDashed,
    ];

    /// The guide's spelling, as the configuration holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            DateFormat::MonthDayYear => "M/D/Y",
            DateFormat::DayMonthYear => "D/M/Y",
            DateFormat::YearMonthDay => "Y/M/D",
            DateFormat::YearDayMonth => "Y/D/M",
            DateFormat::YearMonthDayDashed => "Y-M-D",
            DateFormat::FullYearMonthDayDashed => "YY-M-D",
        }
    }

    /// Reads a `date_format` value with the configuration table's own check (so case and
    /// the aliases it knows do not matter). `None` for anything else; the caller then uses
    /// [`DateFormat::default`], as the phone does for an unusable value.
    pub fn from_config_value(text: &str) -> Option<DateFormat> {
        let def = deskphone_config::lookup("date_format")?.def();
        let canonical = value::check(def, text).value?.to_string();
        DateFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == canonical)
    }
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The date for the idle screen. Month and day always have two digits, as a 7940 shows them
/// (`03/05/26`); the year has two digits except in `YY-M-D`.
pub fn format_date(local: &LocalTime, format: DateFormat) -> String {
    let (m, d) = (local.month, local.day);
    let yy = local.year.rem_euclid(100);
    match format {
        DateFormat::MonthDayYear => format!("{m:02}/{d:02}/{yy:02}"),
        DateFormat::DayMonthYear => format!("{d:02}/{m:02}/{yy:02}"),
        DateFormat::YearMonthDay => format!("{yy:02}/{m:02}/{d:02}"),
        DateFormat::YearDayMonth => format!("{yy:02}/{d:02}/{m:02}"),
        DateFormat::YearMonthDayDashed => format!("{yy:02}-{m:02}-{d:02}"),
        DateFormat::FullYearMonthDayDashed => format!("{:04}-{m:02}-{d:02}", local.year),
    }
}

/// The time for the idle screen: `14:05` and `09:05` on the 24-hour clock; `2:05p`,
/// `9:05a`, `12:00a` (midnight) and `12:00p` (noon) on the 12-hour clock, the compact
/// 7940 style that leaves room for the date on the status line.
pub fn format_time(local: &LocalTime, h24: bool) -> String {
    let (h, m) = (local.hour, local.minute);
    if h24 {
        return format!("{h:02}:{m:02}");
    }
    let suffix = if h < 12 { 'a' } else { 'p' };
    let h12 = match h % 12 {
        0 => 12,
        h => h,
    };
    format!("{h12}:{m:02}{suffix}")
}

/// Whether the clock shows 24 hours, from `time_format_24hr` (0-3) and the choice the user
/// made on the Time and Date menu (`None` if never). 0: 12-hour unless the user chose
/// otherwise; 1: 24-hour unless the user chose otherwise; 2: always 12-hour; 3: always
/// 24-hour. A level outside 0..=3 counts as the parameter's default (1).
pub fn clock_24h(time_format_24hr: i64, user_choice: Option<bool>) -> bool {
    let level = if (0..=3).contains(&time_format_24hr) {
        time_format_24hr
    } else {
        deskphone_config::lookup("time_format_24hr")
            .and_then(|id| id.def().default.as_ref()?.as_int())
            .unwrap_or(1)
    };
    let preference = Preference::from_level(level);
    match user_choice {
        Some(choice) if preference.user_may_change => choice,
        _ => preference.on,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::Weekday;

    fn at(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> LocalTime {
        LocalTime {
            year,
            month,
            day,
            hour,
            minute,
            second: 0,
            weekday: Weekday::Sunday,
            dst: false,
            offset_seconds: 0,
        }
    }

    #[test]
    fn every_date_format() {
        let nov = at(2026, 11, 24, 0, 0);
        let march = at(2005, 3, 5, 0, 0);
        for (format, november, early) in [
            ("M/D/Y", "11/24/26", "03/05/05"),
            ("D/M/Y", "24/11/26", "05/03/05"),
            ("Y/M/D", "26/11/24", "05/03/05"),
            ("Y/D/M", "26/24/11", "05/05/03"),
            ("Y-M-D", "26-11-24", "05-03-05"),
            ("YY-M-D", "2026-11-24", "2005-03-05"),
        ] {
            let f = DateFormat::from_config_value(format).unwrap();
            assert_eq!(f.as_str(), format);
            assert_eq!(format_date(&nov, f), november, "{format}");
            assert_eq!(format_date(&march, f), early, "{format}");
        }
        assert_eq!(DateFormat::default(), DateFormat::MonthDayYear);
    }

    #[test]
    fn two_digit_years_wrap_at_the_century() {
        let f = DateFormat::MonthDayYear;
        assert_eq!(format_date(&at(2000, 1, 1, 0, 0), f), "01/01/00");
        assert_eq!(format_date(&at(1999, 12, 31, 0, 0), f), "12/31/99");
        assert_eq!(format_date(&at(2107, 7, 4, 0, 0), f), "07/04/07");
        assert_eq!(
            format_date(&at(987, 7, 4, 0, 0), DateFormat::FullYearMonthDayDashed),
            "0987-07-04"
        );
    }

    #[test]
    fn date_format_values_are_read_like_the_config_reads_them() {
        assert_eq!(
            DateFormat::from_config_value("y-m-d"),
            Some(DateFormat::YearMonthDayDashed)
        );
        assert_eq!(
            DateFormat::from_config_value("yy-m-d"),
            Some(DateFormat::FullYearMonthDayDashed)
        );
        assert_eq!(DateFormat::from_config_value("D.M.Y"), None);
        assert_eq!(DateFormat::from_config_value(""), None);
    }

    #[test]
    fn times_on_both_clocks() {
        for (h, m, h24, h12) in [
            (0, 0, "00:00", "12:00a"),
            (0, 5, "00:05", "12:05a"),
            (9, 5, "09:05", "9:05a"),
            (11, 59, "11:59", "11:59a"),
            (12, 0, "12:00", "12:00p"),
            (14, 5, "14:05", "2:05p"),
            (23, 59, "23:59", "11:59p"),
        ] {
            let t = at(2026, 11, 24, h, m);
            assert_eq!(format_time(&t, true), h24);
            assert_eq!(format_time(&t, false), h12);
        }
    }

    #[test]
    fn time_format_24hr_levels() {
        // (level, user choice, 24-hour clock?)
        for (level, choice, want) in [
            (0, None, false),
            (0, Some(true), true),
            (0, Some(false), false),
            (1, None, true),
            (1, Some(false), false),
            (1, Some(true), true),
            (2, None, false),
            (2, Some(true), false),
            (3, None, true),
            (3, Some(false), true),
            (7, None, true),
            (-1, Some(false), false),
        ] {
            assert_eq!(
                clock_24h(level, choice),
                want,
                "level {level}, choice {choice:?}"
            );
        }
    }
}
