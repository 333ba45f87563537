//! Building a [`ZoneRule`] from the configuration parameters.
//!
//! Every value goes through the configuration crate's own check for its parameter
//! ([`deskphone_config::value::check`]), so this crate accepts exactly the spellings the
//! `.cnf` parser and `phonectl lint` accept, and falls back to the same table defaults.

use std::fmt;

use deskphone_config::table::TIME_ZONES;
use deskphone_config::value::{
    self, month_number, parse_clock_time, parse_offset_minutes, weekday_number, Value,
};
use deskphone_config::Config;

use crate::civil::Weekday;
use crate::rule::{DayRule, DstBoundary, DstRule, WeekOfMonth, ZoneRule};

/// A value the rule could not use as given: ignored (the default is used instead) or read in
/// an adjusted way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleNote {
    /// The parameter, e.g. `dst_start_month`.
    pub param: &'static str,
    /// The text as the lookup returned it.
    pub value: String,
    /// Why it was not taken as is.
    pub message: String,
    /// What the rule uses instead.
    pub used: String,
}

impl fmt::Display for RuleNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; using {}", self.param, self.message, self.used)
    }
}

/// The parameters of one end of the DST period.
struct BoundaryParams {
    month: &'static str,
    day: &'static str,
    weekday: &'static str,
    week: &'static str,
    time: &'static str,
}

const START: BoundaryParams = BoundaryParams {
    month: "dst_start_month",
    day: "dst_start_day",
    weekday: "dst_start_day_of_week",
    week: "dst_start_week_of_month",
    time: "dst_start_time",
};

const STOP: BoundaryParams = BoundaryParams {
    month: "dst_stop_month",
    day: "dst_stop_day",
    weekday: "dst_stop_day_of_week",
    week: "dst_stop_week_of_month",
    time: "dst_stop_time",
};

/// Every parameter the rule reads.
pub const PARAMS: [&str; 13] = [
    "time_zone",
    "dst_auto_adjust",
    "dst_offset",
    START.month,
    START.day,
    START.weekday,
    START.week,
    START.time,
    STOP.month,
    STOP.day,
    STOP.weekday,
    STOP.week,
    STOP.time,
];

impl ZoneRule {
    /// Builds the rule from parameter values looked up by name, e.g. from the effective
    /// configuration the UI holds. `None`, blank and `UNPROVISIONED` mean "not set": the
    /// parameter's default applies. Values that do not pass the parameter's check are
    /// ignored (default used) and reported in the notes; so are absolute days a month
    /// does not always have.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (ZoneRule, Vec<RuleNote>) {
        let mut reader = Reader {
            lookup: &lookup,
            notes: Vec::new(),
        };
        let rule = reader.zone_rule();
        (rule, reader.notes)
    }

    /// Builds the rule from the effective configuration.
    pub fn from_config(config: &Config) -> (ZoneRule, Vec<RuleNote>) {
        ZoneRule::from_lookup(|name| config.get(name).map(Value::to_string))
    }
}

impl Default for ZoneRule {
    /// The rule of a phone with no date/time parameters set: the configuration table's
    /// defaults (PST with the guide's US rule, first Sunday of April to last Sunday of October).
    fn default() -> Self {
        ZoneRule::from_lookup(|_| None).0
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    notes: Vec<RuleNote>,
}

impl Reader<'_> {
    fn zone_rule(&mut self) -> ZoneRule {
        let (zone, minutes) = self
            .read("time_zone", |v| {
                let text = v.to_string();
                TIME_ZONES
                    .iter()
                    .find(|(abbrev, _)| *abbrev == text)
                    .copied()
            })
            .unwrap_or(("GMT", 0));
        let mut rule = ZoneRule::standard(zone, minutes * 60);
        if self.read("dst_auto_adjust", |v| v.as_int()) == Some(1) {
            rule.dst = self.dst_rule();
        }
        rule
    }

    fn dst_rule(&mut self) -> Option<DstRule> {
        let offset_minutes = self.read("dst_offset", |v| parse_offset_minutes(&v.to_string()))?;
        let start = self.boundary(&START)?;
        let stop = self.boundary(&STOP)?;
        if start == stop {
            self.notes.push(RuleNote {
                param: STOP.month,
                value: stop.to_string(),
                message: "DST would stop at the same time and day it starts".to_string(),
                used: "no DST".to_string(),
            });
            return None;
        }
        Some(DstRule {
            offset_seconds: offset_minutes * 60,
            start,
            stop,
        })
    }

    fn boundary(&mut self, names: &BoundaryParams) -> Option<DstBoundary> {
        let month = self.read(names.month, |v| month_number(&v.to_string()))?;
        let day_of_month = self.read(names.day, |v| {
            v.to_string().parse::<u8>().ok().filter(|d| *d <= 31)
        })?;
        let day = if day_of_month == 0 {
            let weekday = self.read(names.weekday, |v| {
                weekday_number(&v.to_string()).and_then(Weekday::from_number)
            })?;
            let week = self.read(names.week, |v| match v.to_string().parse::<u8>() {
                Ok(8) => Some(WeekOfMonth::Last),
                Ok(n @ 1..=6) => Some(WeekOfMonth::Nth(n)),
                _ => None,
            })?;
            DayRule::Weekday { weekday, week }
        } else {
            self.note_short_month(names.day, month, day_of_month);
            DayRule::DayOfMonth(day_of_month)
        };
        let (hour, minute) = self.read(names.time, |v| parse_clock_time(&v.to_string()))?;
        Some(DstBoundary {
            month,
            day,
            minute_of_day: u16::from(hour) * 60 + u16::from(minute),
        })
    }

    /// An absolute day some years' month does not have is read as the month's last day.
    fn note_short_month(&mut self, param: &'static str, month: u8, day: u8) {
        let name = value::MONTHS[usize::from(month - 1)];
        let (longest, shortest) = match month {
            2 => (29, 28),
            4 | 6 | 9 | 11 => (30, 30),
            _ => (31, 31),
        };
        let message = if day > longest {
            format!("{name} has {longest} days at most")
        } else if day > shortest {
            format!("{name} {day} exists only in leap years")
        } else {
            return;
        };
        self.notes.push(RuleNote {
            param,
            value: day.to_string(),
            message,
            used: format!("the last day of {name} when day {day} is missing"),
        });
    }

    /// The value of `name`: as looked up if it passes the configuration table's check for
    /// that parameter, else the table's default. `None` only if the table lacks the
    /// parameter or its default (a bug the tests rule out).
    fn read<T>(&mut self, name: &'static str, parse: impl Fn(&Value) -> Option<T>) -> Option<T> {
        let def = deskphone_config::lookup(name)?.def();
        let default = def.default.as_ref();
        let Some(raw) = (self.lookup)(name).filter(|raw| !value::is_clear(raw)) else {
            return default.and_then(&parse);
        };
        let checked = value::check(def, &raw);
        let used = checked.value.as_ref().and_then(|v| Some((v, parse(v)?)));
        match used {
            Some((v, parsed)) => {
                if let Some(message) = checked.note {
                    self.notes.push(RuleNote {
                        param: name,
                        value: raw,
                        message,
                        used: v.to_string(),
                    });
                }
                Some(parsed)
            }
            None => {
                self.notes.push(RuleNote {
                    param: name,
                    value: raw.clone(),
                    message: checked
                        .note
                        .unwrap_or_else(|| format!("\"{raw}\" is not usable here")),
                    used: default.map_or("nothing".to_string(), |d| format!("the default {d}")),
                });
                default.and_then(&parse)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::civil::{days_from_civil, SECONDS_PER_DAY};

    fn rule(pairs: &[(&str, &str)]) -> (ZoneRule, Vec<RuleNote>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ZoneRule::from_lookup(|name| map.get(name).cloned())
    }

    fn clean(pairs: &[(&str, &str)]) -> ZoneRule {
        let (r, notes) = rule(pairs);
        assert!(notes.is_empty(), "{pairs:?}: {notes:?}");
        r
    }

    fn noted(pairs: &[(&str, &str)], param: &str) -> (ZoneRule, RuleNote) {
        let (r, notes) = rule(pairs);
        assert_eq!(notes.len(), 1, "{pairs:?}: {notes:?}");
        assert_eq!(notes[0].param, param);
        (r, notes[0].clone())
    }

    fn utc(y: i64, mo: u8, d: u8, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60
    }

    fn dst(r: &ZoneRule) -> DstRule {
        *r.dst().expect("a DST rule")
    }

    #[test]
    fn every_parameter_is_in_the_configuration_table_with_a_default() {
        for name in PARAMS {
            let id = deskphone_config::lookup(name).unwrap_or_else(|| panic!("{name}"));
            assert!(id.def().default.is_some(), "{name} has no default");
        }
    }

    #[test]
    fn defaults_are_pst_with_the_guides_us_rule() {
        let r = clean(&[]);
        assert_eq!(r, ZoneRule::default());
        assert_eq!((r.zone(), r.standard_offset_seconds()), ("PST", -8 * 3600));
        let d = dst(&r);
        assert_eq!(d.offset_seconds(), 3600);
        assert_eq!(d.start().month(), 4);
        assert_eq!(
            d.start().day(),
            DayRule::Weekday {
                weekday: Weekday::Sunday,
                week: WeekOfMonth::Nth(1)
            }
        );
        assert_eq!(d.start().time(), (2, 0));
        assert_eq!(d.stop().month(), 10);
        assert_eq!(
            d.stop().day(),
            DayRule::Weekday {
                weekday: Weekday::Sunday,
                week: WeekOfMonth::Last
            }
        );
        assert_eq!(d.stop().time(), (2, 0));
        // 2005 under those defaults: April 3 02:00 PST and October 30 02:00 PDT.
        let t = r.dst_transitions(2005).unwrap();
        assert_eq!(t.start.utc, utc(2005, 4, 3, 10, 0));
        assert_eq!(t.stop.utc, utc(2005, 10, 30, 9, 0));
    }

    #[test]
    fn every_table_3_9_zone_has_its_offset() {
        for &(abbrev, minutes) in TIME_ZONES {
            let (r, notes) = rule(&[("time_zone", abbrev), ("dst_auto_adjust", "0")]);
            // Only HST gets a note (it is Hong Kong, not Hawaii); see the next test.
            assert_eq!(notes.is_empty(), abbrev != "HST", "{abbrev}: {notes:?}");
            assert_eq!(r.zone(), abbrev);
            assert_eq!(r.standard_offset_seconds(), minutes * 60, "{abbrev}");
            assert!(r.dst().is_none());
        }
        // The half-hour zones, spelled out.
        for (abbrev, seconds) in [
            ("IMT", -(9 * 3600 + 1800)),
            ("NST", -(3 * 3600 + 1800)),
            ("IT", 3 * 3600 + 1800),
            ("AFG", 4 * 3600 + 1800),
            ("IST", 5 * 3600 + 1800),
            ("SUM", 6 * 3600 + 1800),
            ("CAST", 9 * 3600 + 1800),
        ] {
            let r = clean(&[("time_zone", abbrev), ("dst_auto_adjust", "0")]);
            assert_eq!(r.standard_offset_seconds(), seconds, "{abbrev}");
            let noon = r.to_local(utc(2026, 6, 1, 12, 0));
            assert_eq!(
                i64::from(noon.hour) * 3600 + i64::from(noon.minute) * 60,
                12 * 3600 + i64::from(seconds)
            );
        }
    }

    #[test]
    fn bad_time_zones_fall_back_to_the_default_with_a_note() {
        let (r, note) = noted(&[("time_zone", "pst")], "time_zone");
        assert_eq!(r.zone(), "PST");
        assert!(note.message.contains("case sensitive"), "{note}");
        let (r, note) = noted(&[("time_zone", "EDT")], "time_zone");
        assert_eq!(r.zone(), "PST");
        assert!(note.message.contains("EST"), "{note}");
        assert_eq!(
            note.to_string(),
            "time_zone: \"EDT\" is not an abbreviation of Table 3-9; \"EST\" has that offset \
             (use dst_* for summer time); using the default PST"
        );
        // HST is valid (Hong Kong) but easy to mistake for Hawaii: kept, with a note.
        let (r, note) = noted(&[("time_zone", "HST")], "time_zone");
        assert_eq!(r.standard_offset_seconds(), 8 * 3600);
        assert_eq!(note.used, "HST");
    }

    #[test]
    fn dst_auto_adjust() {
        assert!(clean(&[("dst_auto_adjust", "1")]).dst().is_some());
        let off = clean(&[("dst_auto_adjust", "0")]);
        assert!(off.dst().is_none());
        assert!(off.dst_transitions(2026).is_none());
        let july = off.to_local(utc(2026, 7, 4, 20, 0));
        assert_eq!(
            (july.hour, july.dst, july.offset_seconds),
            (12, false, -8 * 3600)
        );
        let (r, _) = noted(&[("dst_auto_adjust", "2")], "dst_auto_adjust");
        assert!(r.dst().is_some(), "default 1 applies");
    }

    #[test]
    fn dst_offset_formats() {
        for (text, seconds) in [
            ("01/00", 3600),
            ("1:00", 3600),
            ("01:00", 3600),
            ("1", 3600),
            ("+1", 3600),
            ("+01/00", 3600),
            ("00/30", 1800),
            ("0:30", 1800),
            ("02/00", 7200),
            ("-1", -3600),
            ("-01/30", -5400),
            ("\u{2013}1", -3600),
        ] {
            let r = clean(&[("dst_offset", text)]);
            assert_eq!(dst(&r).offset_seconds(), seconds, "{text}");
        }
        for bad in ["1h", "01/60", "13", "one"] {
            let (r, _) = noted(&[("dst_offset", bad)], "dst_offset");
            assert_eq!(dst(&r).offset_seconds(), 3600, "{bad}");
        }
    }

    #[test]
    fn month_formats() {
        for (text, month) in [
            ("January", 1),
            ("february", 2),
            ("MARCH", 3),
            ("Apr", 4),
            ("may", 5),
            ("6", 6),
            ("07", 7),
            ("August", 8),
            ("sep", 9),
            ("October", 10),
            ("Nov", 11),
            ("12", 12),
        ] {
            let r = clean(&[
                ("dst_start_month", text),
                ("dst_stop_month", text),
                ("dst_stop_day", "20"),
            ]);
            assert_eq!(dst(&r).start().month(), month, "{text}");
            assert_eq!(dst(&r).stop().month(), month, "{text}");
        }
        for bad in ["13", "0", "Smarch", "Janu"] {
            let (r, note) = noted(&[("dst_stop_month", bad)], "dst_stop_month");
            assert_eq!(dst(&r).stop().month(), 10, "{bad}");
            assert_eq!(note.used, "the default October");
        }
    }

    #[test]
    fn day_of_month_zero_is_relative_else_absolute() {
        let r = clean(&[("dst_start_day", "0"), ("dst_stop_day", "")]);
        assert!(matches!(dst(&r).start().day(), DayRule::Weekday { .. }));
        assert!(matches!(dst(&r).stop().day(), DayRule::Weekday { .. }));
        for day in 1..=28u8 {
            let r = clean(&[("dst_start_day", &day.to_string())]);
            assert_eq!(dst(&r).start().day(), DayRule::DayOfMonth(day));
        }
        let (r, _) = noted(&[("dst_start_day", "32")], "dst_start_day");
        assert!(matches!(dst(&r).start().day(), DayRule::Weekday { .. }));
        let (_, _) = noted(&[("dst_stop_day", "-1")], "dst_stop_day");
    }

    #[test]
    fn absolute_days_past_a_months_end_mean_its_last_day() {
        let (r, note) = noted(
            &[("dst_start_month", "4"), ("dst_start_day", "31")],
            "dst_start_day",
        );
        assert!(note.message.contains("30 days"), "{note}");
        assert_eq!(dst(&r).start().day_in(2026), 30);
        let (r, note) = noted(
            &[("dst_start_month", "February"), ("dst_start_day", "29")],
            "dst_start_day",
        );
        assert!(note.message.contains("leap"), "{note}");
        assert_eq!(dst(&r).start().day_in(2024), 29);
        assert_eq!(dst(&r).start().day_in(2026), 28);
        clean(&[("dst_start_month", "1"), ("dst_start_day", "31")]);
    }

    #[test]
    fn weekday_formats_number_sunday_as_one() {
        let names = [
            ["Sunday", "Sun", "1", "SUNDAY"],
            ["Monday", "mon", "2", "MONDAY"],
            ["Tuesday", "Tue", "3", "tuesday"],
            ["Wednesday", "WED", "4", "wednesday"],
            ["Thursday", "thu", "5", "Thursday"],
            ["Friday", "Fri", "6", "friday"],
            ["Saturday", "sat", "7", "SATURDAY"],
        ];
        for (i, spellings) in names.iter().enumerate() {
            let want = Weekday::from_number(i as u8 + 1).unwrap();
            for text in spellings {
                let r = clean(&[
                    ("dst_start_day_of_week", text),
                    ("dst_stop_day_of_week", text),
                ]);
                for b in [dst(&r).start(), dst(&r).stop()] {
                    let DayRule::Weekday { weekday, .. } = b.day() else {
                        panic!("relative rule expected");
                    };
                    assert_eq!(weekday, want, "{text}");
                }
            }
        }
        for bad in ["0", "8", "Sundays", "Su"] {
            noted(&[("dst_start_day_of_week", bad)], "dst_start_day_of_week");
        }
    }

    #[test]
    fn week_of_month_formats() {
        for (text, week) in [
            ("1", WeekOfMonth::Nth(1)),
            ("2", WeekOfMonth::Nth(2)),
            ("3", WeekOfMonth::Nth(3)),
            ("4", WeekOfMonth::Nth(4)),
            ("5", WeekOfMonth::Nth(5)),
            ("6", WeekOfMonth::Nth(6)),
            ("8", WeekOfMonth::Last),
        ] {
            let r = clean(&[
                ("dst_start_week_of_month", text),
                ("dst_stop_week_of_month", text),
            ]);
            for b in [dst(&r).start(), dst(&r).stop()] {
                let DayRule::Weekday { week: got, .. } = b.day() else {
                    panic!("relative rule expected");
                };
                assert_eq!(got, week, "{text}");
            }
        }
        for bad in ["0", "7", "9", "last"] {
            noted(&[("dst_stop_week_of_month", bad)], "dst_stop_week_of_month");
        }
    }

    #[test]
    fn weeks_five_six_and_eight_all_reach_the_last_weekday() {
        // October 2026 has four Sundays (the last is the 25th); March 2026 has five (the 29th).
        for week in ["5", "6", "8"] {
            let r = clean(&[
                ("dst_start_month", "March"),
                ("dst_start_week_of_month", week),
                ("dst_stop_week_of_month", week),
            ]);
            assert_eq!(dst(&r).start().day_in(2026), 29, "week {week}");
            assert_eq!(dst(&r).stop().day_in(2026), 25, "week {week}");
        }
        let r = clean(&[("dst_stop_week_of_month", "4")]);
        assert_eq!(dst(&r).stop().day_in(2026), 25);
        assert_eq!(dst(&r).stop().day_in(2020), 25); // October 2020 had five Sundays
        let r = clean(&[("dst_stop_week_of_month", "8")]);
        assert_eq!(dst(&r).stop().day_in(2020), 25);
        let r = clean(&[
            ("dst_stop_week_of_month", "8"),
            ("dst_stop_month", "February"),
        ]);
        assert_eq!(dst(&r).stop().day_in(2032), 29); // a leap February ending on a Sunday
    }

    #[test]
    fn time_formats() {
        for (text, time) in [
            ("02/00", (2, 0)),
            ("02:00", (2, 0)),
            ("02", (2, 0)),
            ("2", (2, 0)),
            ("2:30", (2, 30)),
            ("14:30", (14, 30)),
            ("00/00", (0, 0)),
            ("23/59", (23, 59)),
        ] {
            let r = clean(&[("dst_start_time", text), ("dst_stop_time", text)]);
            assert_eq!(dst(&r).start().time(), time, "{text}");
            assert_eq!(dst(&r).stop().time(), time, "{text}");
        }
        for bad in ["24", "2:60", "2pm", "0200"] {
            let (r, _) = noted(&[("dst_stop_time", bad)], "dst_stop_time");
            assert_eq!(dst(&r).stop().time(), (2, 0), "{bad}");
        }
    }

    #[test]
    fn the_guides_absolute_sample() {
        let r = clean(&[
            ("time_zone", "PST"),
            ("dst_offset", "01/00"),
            ("dst_start_month", "April"),
            ("dst_start_day", "1"),
            ("dst_start_time", "02/00"),
            ("dst_stop_month", "October"),
            ("dst_stop_day", "1"),
            ("dst_stop_time", "02/00"),
            ("dst_auto_adjust", "1"),
        ]);
        let t = r.dst_transitions(2026).unwrap();
        assert_eq!(t.start.utc, utc(2026, 4, 1, 10, 0));
        assert_eq!(t.stop.utc, utc(2026, 10, 1, 9, 0));
        let t = r.dst_transitions(2004).unwrap();
        assert_eq!(t.start.utc, utc(2004, 4, 1, 10, 0));
    }

    #[test]
    fn the_guides_relative_sample() {
        let r = clean(&[
            ("time_zone", "PST"),
            ("dst_offset", "01/00"),
            ("dst_start_month", "April"),
            ("dst_start_day", "0"),
            ("dst_start_day_of_week", "Sunday"),
            ("dst_start_week_of_month", "1"),
            ("dst_start_time", "02/00"),
            ("dst_stop_month", "October"),
            ("dst_stop_day", "0"),
            ("dst_stop_day_of_week", "Sunday"),
            ("dst_stop_week_of_month", "8"),
            ("dst_stop_time", "02/00"),
            ("dst_auto_adjust", ""),
        ]);
        assert_eq!(r, ZoneRule::default());
        // 2006, the last year of that US rule: April 2 and October 29.
        let t = r.dst_transitions(2006).unwrap();
        assert_eq!(t.start.utc, utc(2006, 4, 2, 10, 0));
        assert_eq!(t.stop.utc, utc(2006, 10, 29, 9, 0));
    }

    #[test]
    fn the_sample_sipdefault_cnf() {
        // The guide's sample SIPDefault.cnf: EST, "1", "Sun", "02", "Oct", "Sunday", "8", "2".
        let r = clean(&[
            ("time_zone", "EST"),
            ("dst_offset", "1"),
            ("dst_start_month", "April"),
            ("dst_start_day", ""),
            ("dst_start_day_of_week", "Sun"),
            ("dst_start_week_of_month", "1"),
            ("dst_start_time", "02"),
            ("dst_stop_month", "Oct"),
            ("dst_stop_day", ""),
            ("dst_stop_day_of_week", "Sunday"),
            ("dst_stop_week_of_month", "8"),
            ("dst_stop_time", "2"),
            ("dst_auto_adjust", "1"),
        ]);
        let t = r.dst_transitions(2004).unwrap();
        assert_eq!(t.start.utc, utc(2004, 4, 4, 7, 0));
        assert_eq!(t.stop.utc, utc(2004, 10, 31, 6, 0));
    }

    #[test]
    fn identical_start_and_stop_mean_no_dst() {
        let (r, note) = noted(
            &[
                ("dst_start_month", "October"),
                ("dst_start_week_of_month", "8"),
            ],
            "dst_stop_month",
        );
        assert!(r.dst().is_none());
        assert_eq!(note.used, "no DST");
    }

    #[test]
    fn unprovisioned_means_default() {
        let r = clean(&[("time_zone", "UNPROVISIONED"), ("dst_offset", "  ")]);
        assert_eq!(r, ZoneRule::default());
    }

    #[test]
    fn from_the_effective_configuration() {
        use deskphone_config::{cnf, FileRole, Mac};
        let mac: Mac = "00112233AABB".parse().unwrap();
        let mut config = Config::new(mac);
        let text =
            b"time_zone: \"CET\"\ndst_start_month: \"March\"\ndst_start_week_of_month: \"8\"\n\
                     dst_stop_week_of_month: \"8\"\ndst_stop_time: \"03:00\"\n";
        let parsed = cnf::parse("SIPDefault.cnf", text);
        let diags = config.apply_file("SIPDefault.cnf", FileRole::Default, &parsed);
        assert!(diags.is_empty(), "{diags:?}");
        let (r, notes) = ZoneRule::from_config(&config);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(r.zone(), "CET");
        let t = r.dst_transitions(2026).unwrap();
        // The EU changes at 01:00 UTC: March 29 and October 25, 2026.
        assert_eq!(t.start.utc, utc(2026, 3, 29, 1, 0));
        assert_eq!(t.stop.utc, utc(2026, 10, 25, 1, 0));
        assert_eq!(
            ZoneRule::from_config(&Config::new(mac)).0,
            ZoneRule::default()
        );
    }
}
