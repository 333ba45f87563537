//! The phone's local time: Table 3-9 time zones and the guide's daylight-saving rules.
//!
//! A Cisco SIP phone learns UTC from SNTP and shows local time computed from a handful of
//! parameters (guide section "Setting the Date, Time, and Daylight Saving Time"): a fixed
//! `time_zone` offset from Table 3-9, and one DST rule given by month, day and time of its
//! start and stop. No tz database is involved, on the old phone or here. This crate turns
//! those parameters into a [`ZoneRule`] and answers two questions about it:
//!
//! - [`ZoneRule::to_local`]: the clock for a UTC instant (Unix seconds), as [`LocalTime`];
//! - [`ZoneRule::dst_transitions`]: the instants DST starts and stops in a year.
//!
//! [`format_date`], [`format_time`] and [`clock_24h`] render the result for the idle screen
//! from `date_format` and `time_format_24hr`.
//!
//! # Design
//!
//! All time is input: nothing here reads a clock, the host's time zone or a file. Calendar
//! arithmetic is plain integer code ([`civil`]: Hinnant's day-count conversions), not `jiff`
//! or `time`: the rule the guide describes is not a POSIX TZ string nor an IANA zone
//! (absolute days of the month, weeks 1-6 and 8), so a date library would add a dependency
//! and a tz database to the firmware while the conversion to its terms would still be ours
//! to write. `jiff` with its bundled IANA database is a dev-dependency only: the property
//! tests compare this crate with it for real zones the Cisco model can express.
//!
//! Parameters are read through the configuration crate ([`deskphone_config`]): its table
//! gives the defaults and its `check` decides which spellings are valid, so a value the
//! `.cnf` parser accepts is one this crate accepts. [`ZoneRule::from_lookup`] takes any
//! `name -> text` lookup (the UI's map of effective values), [`ZoneRule::from_config`] a
//! [`deskphone_config::Config`]. A value that fails its check is ignored, the default is
//! used, and a [`RuleNote`] says so; nothing here fails or panics on bad input.
//!
//! # How the guide's parameters are read
//!
//! - `time_zone`: the abbreviations of Table 3-9, case-sensitive, half-hour zones included
//!   (IMT, NST, IT, AFG, IST, SUM, CAST). Default PST.
//! - `dst_auto_adjust`: 0 = never apply DST (standard time all year); 1 (default) = apply the
//!   rule below.
//! - `dst_offset`: `01/00`, `1:00`, `-01/30`, `+1`, `1`, `-1`; default one hour.
//! - `dst_start_month` / `dst_stop_month`: January..December, Jan..Dec or 1..12, any case.
//! - `dst_start_day` / `dst_stop_day`: 1..31 is an absolute day of the month (a day the
//!   month lacks, such as April 31 or February 29 in a common year, means its last day, with a
//!   note); 0 (the default, also what a blank value gives) selects the relative rule below.
//! - `dst_*_day_of_week`: Sunday..Saturday, Sun..Sat, or 1..7 with **1 = Sunday** and
//!   7 = Saturday, as the guide says.
//! - `dst_*_week_of_month`: the Nth such weekday of the month (1 = first Sunday, so the
//!   guide's US default "first Sunday in April" is week 1), 8 = the last one. A month has
//!   four or five of each weekday, so the guide's 5 is the fifth if there is one and
//!   otherwise the last, and 6 always the last; both give the same day as 8. (Reading weeks
//!   as calendar rows would explain "1 to 6" but would make week 1 Sunday fall in the
//!   previous month in most years, contradicting the guide's own US example.)
//! - `dst_start_time` / `dst_stop_time`: `02/00`, `02:00`, `02` or `2`; default 02:00. Each is
//!   the **wall clock just before the change**: the start time on the standard clock, the
//!   stop time on the daylight clock. That is the only reading under which the guide's US
//!   defaults (02:00 both ways) match US law, and it is the POSIX TZ convention too.
//!
//! The DST period runs from the start to the stop. When the start comes later in the year
//! than the stop (southern hemisphere), DST spans New Year: it is in effect whenever the
//! most recent change was a start. A start and stop that are the same day and time give no
//! DST (with a note).
//!
//! # What the Cisco model can and cannot express
//!
//! The defaults are the guide's US rule of its time (first Sunday of April to last Sunday of
//! October, in force 1987-2006). Current rules, written in the parameters:
//!
//! | zone | parameters |
//! | --- | --- |
//! | US (since 2007), `PST` etc. | start March, week 2, Sunday, 02:00; stop November, week 1, Sunday, 02:00 |
//! | EU, `CET` | start March, week 8, Sunday, 02:00; stop October, week 8, Sunday, 03:00 |
//! | EU, `GMT` (UK) / `EET` | as CET with 01:00/02:00, resp. 03:00/04:00 |
//! | Sydney/Melbourne, `EAST` | start October, week 1, Sunday, 02:00; stop April, week 1, Sunday, 03:00 |
//! | Adelaide, `CAST` | as Sydney |
//!
//! The EU changes at 01:00 UTC. The model has no UTC times, but because a zone's offset is
//! fixed, 01:00 UTC is a fixed local time per zone (02:00 CET standard, 03:00 CEST daylight),
//! so the EU rule is exact for each zone. Southern-hemisphere rules are expressible because
//! the stop may come before the start in the year. Not expressible: rules tied to another
//! calendar (Iran, Morocco), days that are not the Nth or last weekday of a month ("the
//! Friday before the last Sunday", Israel; "the Sunday on or after the 2nd"), changes at
//! 24:00 (times stop at 23:59), rules that changed over the years (one rule holds for every
//! year, so the guide's default is wrong for US years since 2007), and zones whose standard
//! offset is not in Table 3-9 (e.g. Nepal, +05:45, or Chatham).

pub mod civil;
mod format;
mod params;
mod rule;

pub use civil::Weekday;
pub use format::{clock_24h, format_date, format_time, DateFormat};
pub use params::{RuleNote, PARAMS};
pub use rule::{
    DayRule, DstBoundary, DstRule, DstTransitions, LocalTime, Transition, WeekOfMonth, ZoneRule,
    MAX_UTC, MIN_UTC,
};
