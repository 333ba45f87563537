//! The zone rule and what it computes: local time and the year's DST transitions.

use std::fmt;

use crate::civil::{
    civil_from_days, days_from_civil, days_in_month, last_weekday_of_month, nth_weekday_of_month,
    weekday_from_days, Weekday, SECONDS_PER_DAY,
};

/// Earliest instant [`ZoneRule::to_local`] computes (about 32,900 BC); earlier ones are clamped.
pub const MIN_UTC: i64 = -(1 << 40);
/// Latest instant [`ZoneRule::to_local`] computes (about AD 36,800); later ones are clamped.
pub const MAX_UTC: i64 = 1 << 40;

/// `dst_*_week_of_month`: which occurrence of the weekday in the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekOfMonth {
    /// 1..=6 as configured. A month has four or five of each weekday; 5 and 6 fall back to
    /// the last one when the month has no such occurrence.
    Nth(u8),
    /// 8: the last occurrence in the month.
    Last,
}

/// Which day of its month a DST change happens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// Absolute rule (`dst_*_day` 1..=31). A day past the month's end means its last day.
    DayOfMonth(u8),
    /// Relative rule (`dst_*_day` 0): weekday and week of the month.
    Weekday { weekday: Weekday, week: WeekOfMonth },
}

/// When, in local wall-clock time, DST starts or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstBoundary {
    pub(crate) month: u8,
    pub(crate) day: DayRule,
    /// Minutes after midnight on the clock as it reads just before the change.
    pub(crate) minute_of_day: u16,
}

impl DstBoundary {
    /// 1 = January .. 12 = December.
    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> DayRule {
        self.day
    }

    /// (hour, minute) on the clock just before the change.
    pub fn time(&self) -> (u8, u8) {
        (
            (self.minute_of_day / 60) as u8,
            (self.minute_of_day % 60) as u8,
        )
    }

    /// The day of the month this boundary falls on in `year`.
    pub fn day_in(&self, year: i32) -> u8 {
        self.day_in_year(i64::from(year))
    }

    fn day_in_year(&self, year: i64) -> u8 {
        match self.day {
            DayRule::DayOfMonth(d) => d.min(days_in_month(year, self.month)),
            DayRule::Weekday {
                weekday,
                week: WeekOfMonth::Nth(n),
            } => nth_weekday_of_month(year, self.month, weekday, n),
            DayRule::Weekday {
                weekday,
                week: WeekOfMonth::Last,
            } => last_weekday_of_month(year, self.month, weekday),
        }
    }

    /// Local wall-clock seconds since 1970-01-01 00:00 of this boundary in `year`.
    fn wall_seconds(&self, year: i64) -> i64 {
        days_from_civil(year, self.month, self.day_in_year(year)) * SECONDS_PER_DAY
            + i64::from(self.minute_of_day) * 60
    }
}

impl fmt::Display for DstBoundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = deskphone_config::value::MONTHS[usize::from(self.month - 1)];
        let (h, m) = self.time();
        match self.day {
            DayRule::DayOfMonth(d) => write!(f, "{month} {d}")?,
            DayRule::Weekday { weekday, week } => {
                let which = match week {
                    WeekOfMonth::Nth(1) => "first",
                    WeekOfMonth::Nth(2) => "second",
                    WeekOfMonth::Nth(3) => "third",
                    WeekOfMonth::Nth(4) => "fourth",
                    WeekOfMonth::Nth(5) => "fifth (else last)",
                    WeekOfMonth::Nth(_) | WeekOfMonth::Last => "last",
                };
                write!(f, "{which} {weekday} of {month}")?
            }
        }
        write!(f, " {h:02}:{m:02}")
    }
}

/// Daylight saving time: how much the clock moves and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstRule {
    pub(crate) offset_seconds: i32,
    pub(crate) start: DstBoundary,
    pub(crate) stop: DstBoundary,
}

impl DstRule {
    /// `dst_offset` in seconds; negative moves the clock back while DST is in effect.
    pub fn offset_seconds(&self) -> i32 {
        self.offset_seconds
    }

    /// The start, in local standard time.
    pub fn start(&self) -> DstBoundary {
        self.start
    }

    /// The stop, in local daylight time (the clock as it reads while DST is in effect).
    pub fn stop(&self) -> DstBoundary {
        self.stop
    }
}

/// The phone's time zone: a Table 3-9 zone and, unless `dst_auto_adjust` is 0, a DST rule.
///
/// Build it with [`ZoneRule::from_lookup`] or [`ZoneRule::from_config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneRule {
    pub(crate) zone: &'static str,
    pub(crate) std_offset_seconds: i32,
    pub(crate) dst: Option<DstRule>,
}

/// A moment on the phone's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1 = January .. 12 = December.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub weekday: Weekday,
    /// Whether the rule's DST period is in effect (also when `dst_offset` is zero).
    pub dst: bool,
    /// Local time minus UTC, DST included.
    pub offset_seconds: i32,
}

impl LocalTime {
    fn from_wall_seconds(wall: i64, dst: bool, offset_seconds: i32) -> LocalTime {
        let days = wall.div_euclid(SECONDS_PER_DAY);
        let second_of_day = wall.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        LocalTime {
            // The clamp to MIN_UTC..=MAX_UTC keeps years far inside i32.
            year: year as i32,
            month,
            day,
            hour: (second_of_day / 3600) as u8,
            minute: (second_of_day / 60 % 60) as u8,
            second: (second_of_day % 60) as u8,
            weekday: weekday_from_days(days),
            dst,
            offset_seconds,
        }
    }
}

/// One change of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The first second (Unix time) with the new offset.
    pub utc: i64,
    pub offset_before: i32,
    pub offset_after: i32,
}

/// The two changes of one calendar year, named by what they do. For a southern-hemisphere
/// rule (start month after stop month) `stop` comes first in the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DstTransitions {
    pub start: Transition,
    pub stop: Transition,
}

impl ZoneRule {
    /// A zone without daylight saving time.
    pub(crate) fn standard(zone: &'static str, std_offset_seconds: i32) -> ZoneRule {
        ZoneRule {
            zone,
            std_offset_seconds,
            dst: None,
        }
    }

    /// The Table 3-9 abbreviation ("PST").
    pub fn zone(&self) -> &'static str {
        self.zone
    }

    /// Standard time minus UTC, in seconds.
    pub fn standard_offset_seconds(&self) -> i32 {
        self.std_offset_seconds
    }

    /// The DST rule; `None` when `dst_auto_adjust` is 0 or the rule could not take effect.
    pub fn dst(&self) -> Option<&DstRule> {
        self.dst.as_ref()
    }

    /// The phone's clock at `utc` (Unix seconds). Instants outside [`MIN_UTC`]..=[`MAX_UTC`]
    /// are clamped to that range.
    pub fn to_local(&self, utc: i64) -> LocalTime {
        let utc = utc.clamp(MIN_UTC, MAX_UTC);
        let dst = self.dst_in_effect(utc);
        let offset =
            self.std_offset_seconds + self.dst.filter(|_| dst).map_or(0, |r| r.offset_seconds);
        LocalTime::from_wall_seconds(utc + i64::from(offset), dst, offset)
    }

    /// The DST start and stop whose dates fall in `year`; `None` without DST.
    pub fn dst_transitions(&self, year: i32) -> Option<DstTransitions> {
        let rule = self.dst?;
        let (start, stop) = self.transition_instants(&rule, i64::from(year));
        let standard = self.std_offset_seconds;
        let daylight = standard + rule.offset_seconds;
        Some(DstTransitions {
            start: Transition {
                utc: start,
                offset_before: standard,
                offset_after: daylight,
            },
            stop: Transition {
                utc: stop,
                offset_before: daylight,
                offset_after: standard,
            },
        })
    }

    /// UTC instants of a year's start and stop. The start time is read on the standard clock
    /// and the stop time on the daylight clock: each is the clock as it reads just before the
    /// change, which is what makes the guide's US defaults (02:00 both ways) right.
    fn transition_instants(&self, rule: &DstRule, year: i64) -> (i64, i64) {
        let standard = i64::from(self.std_offset_seconds);
        let daylight = standard + i64::from(rule.offset_seconds);
        (
            rule.start.wall_seconds(year) - standard,
            rule.stop.wall_seconds(year) - daylight,
        )
    }

    /// DST is in effect when the latest change at or before `utc` is a start. Looking at the
    /// neighbouring years too covers rules that span New Year (southern hemisphere) and
    /// changes a few hours away from the UTC year boundary.
    fn dst_in_effect(&self, utc: i64) -> bool {
        let Some(rule) = self.dst else {
            return false;
        };
        let local_standard = utc + i64::from(self.std_offset_seconds);
        let (year, _, _) = civil_from_days(local_standard.div_euclid(SECONDS_PER_DAY));
        let mut latest: Option<(i64, bool)> = None;
        for y in year - 1..=year + 1 {
            let (start, stop) = self.transition_instants(&rule, y);
            for (at, starts) in [(start, true), (stop, false)] {
                if at <= utc && latest.is_none_or(|(t, _)| at >= t) {
                    latest = Some((at, starts));
                }
            }
        }
        latest.is_some_and(|(_, starts)| starts)
    }
}

impl fmt::Display for ZoneRule {
    /// "PST (GMT-08:00), DST +01:00 from first Sunday of April 02:00 to last Sunday of October 02:00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (GMT{})",
            self.zone,
            signed_hh_mm(self.std_offset_seconds)
        )?;
        match &self.dst {
            None => f.write_str(", no DST"),
            Some(r) => write!(
                f,
                ", DST {} from {} to {}",
                signed_hh_mm(r.offset_seconds),
                r.start,
                r.stop
            ),
        }
    }
}

fn signed_hh_mm(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    fn utc(y: i64, mo: u8, d: u8, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * HOUR + mi * 60
    }

    fn boundary(month: u8, day: DayRule, hour: u16) -> DstBoundary {
        DstBoundary {
            month,
            day,
            minute_of_day: hour * 60,
        }
    }

    fn sundays(week: WeekOfMonth) -> DayRule {
        DayRule::Weekday {
            weekday: Weekday::Sunday,
            week,
        }
    }

    /// US rule since 2007 in Pacific time.
    fn us_pacific() -> ZoneRule {
        ZoneRule {
            zone: "PST",
            std_offset_seconds: -8 * 3600,
            dst: Some(DstRule {
                offset_seconds: 3600,
                start: boundary(3, sundays(WeekOfMonth::Nth(2)), 2),
                stop: boundary(11, sundays(WeekOfMonth::Nth(1)), 2),
            }),
        }
    }

    #[test]
    fn spring_forward_skips_an_hour_and_fall_back_repeats_one() {
        let zone = us_pacific();
        // 2026: March 8 and November 1.
        let start = utc(2026, 3, 8, 10, 0);
        let before = zone.to_local(start - 1);
        assert_eq!(
            (before.hour, before.minute, before.second, before.dst),
            (1, 59, 59, false)
        );
        let after = zone.to_local(start);
        assert_eq!(
            (after.day, after.hour, after.minute, after.dst),
            (8, 3, 0, true)
        );
        assert_eq!(after.offset_seconds, -7 * 3600);

        let stop = utc(2026, 11, 1, 9, 0);
        let before = zone.to_local(stop - 1);
        assert_eq!(
            (before.hour, before.minute, before.second, before.dst),
            (1, 59, 59, true)
        );
        let after = zone.to_local(stop);
        assert_eq!((after.hour, after.minute, after.dst), (1, 0, false));
        assert_eq!(after.weekday, Weekday::Sunday);

        let t = zone.dst_transitions(2026).unwrap();
        assert_eq!(t.start.utc, start);
        assert_eq!(t.stop.utc, stop);
        assert_eq!(
            (t.start.offset_before, t.start.offset_after),
            (-28_800, -25_200)
        );
        assert_eq!(
            (t.stop.offset_before, t.stop.offset_after),
            (-25_200, -28_800)
        );
    }

    #[test]
    fn southern_rule_spans_new_year() {
        // Sydney: first Sunday of October 02:00 standard to first Sunday of April 03:00 daylight.
        let zone = ZoneRule {
            zone: "EAST",
            std_offset_seconds: 10 * 3600,
            dst: Some(DstRule {
                offset_seconds: 3600,
                start: boundary(10, sundays(WeekOfMonth::Nth(1)), 2),
                stop: boundary(4, sundays(WeekOfMonth::Nth(1)), 3),
            }),
        };
        let new_year = zone.to_local(utc(2026, 1, 1, 0, 0));
        assert!(new_year.dst);
        assert_eq!((new_year.hour, new_year.offset_seconds), (11, 11 * 3600));
        assert!(!zone.to_local(utc(2026, 7, 1, 0, 0)).dst);
        let t = zone.dst_transitions(2026).unwrap();
        // 2026-04-05 03:00 AEDT = 04-04 16:00 UTC; 2026-10-04 02:00 AEST = 10-03 16:00 UTC.
        assert_eq!(t.stop.utc, utc(2026, 4, 4, 16, 0));
        assert_eq!(t.start.utc, utc(2026, 10, 3, 16, 0));
        assert!(zone.to_local(t.stop.utc - 1).dst);
        assert!(!zone.to_local(t.stop.utc).dst);
        assert!(!zone.to_local(t.start.utc - 1).dst);
        assert!(zone.to_local(t.start.utc).dst);
    }

    #[test]
    fn a_change_near_new_year_is_found_from_either_side() {
        // DST from December 31 23:00 to January 1 01:00 (a silly but valid rule) in NZST.
        let zone = ZoneRule {
            zone: "NZST",
            std_offset_seconds: 12 * 3600,
            dst: Some(DstRule {
                offset_seconds: 1800,
                start: boundary(12, DayRule::DayOfMonth(31), 23),
                stop: boundary(1, DayRule::DayOfMonth(1), 1),
            }),
        };
        let start = utc(2026, 12, 31, 11, 0);
        assert!(!zone.to_local(start - 1).dst);
        let at = zone.to_local(start);
        assert!(at.dst);
        assert_eq!(
            (at.year, at.month, at.day, at.hour, at.minute),
            (2026, 12, 31, 23, 30)
        );
        let stop = utc(2026, 12, 31, 12, 30); // 2027-01-01 01:00 on the daylight clock
        assert!(zone.to_local(stop - 1).dst);
        let after = zone.to_local(stop);
        assert!(!after.dst);
        assert_eq!(
            (after.year, after.month, after.day, after.hour),
            (2027, 1, 1, 0)
        );
    }

    #[test]
    fn negative_dst_offset_moves_the_clock_back() {
        let zone = ZoneRule {
            zone: "GMT",
            std_offset_seconds: 0,
            dst: Some(DstRule {
                offset_seconds: -3600,
                start: boundary(10, sundays(WeekOfMonth::Last), 2),
                stop: boundary(3, sundays(WeekOfMonth::Last), 1),
            }),
        };
        let winter = zone.to_local(utc(2026, 1, 15, 12, 0));
        assert!(winter.dst);
        assert_eq!((winter.hour, winter.offset_seconds), (11, -3600));
        assert!(!zone.to_local(utc(2026, 7, 15, 12, 0)).dst);
    }

    #[test]
    fn extreme_instants_are_clamped_not_overflowed() {
        let zone = us_pacific();
        let far = zone.to_local(i64::MAX);
        assert_eq!(far, zone.to_local(MAX_UTC));
        assert!(far.year > 30_000);
        let early = zone.to_local(i64::MIN);
        assert_eq!(early, zone.to_local(MIN_UTC));
        assert!(early.year < -30_000);
        assert!(zone.dst_transitions(i32::MAX).is_some());
        assert!(zone.dst_transitions(i32::MIN).is_some());
    }

    #[test]
    fn display_names_the_rule() {
        assert_eq!(
            us_pacific().to_string(),
            "PST (GMT-08:00), DST +01:00 from second Sunday of March 02:00 to first Sunday of November 02:00"
        );
        assert_eq!(
            ZoneRule::standard("NST", -(3 * 3600 + 1800)).to_string(),
            "NST (GMT-03:30), no DST"
        );
    }
}
