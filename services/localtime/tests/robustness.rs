//! Whatever text the configuration holds and whatever instant SNTP delivers, the rule is
//! built, the clock is in range, and nothing panics.

use std::collections::HashMap;

use deskphone_localtime::{
    clock_24h, format_date, format_time, DateFormat, ZoneRule, MAX_UTC, MIN_UTC, PARAMS,
};
use proptest::prelude::*;

/// Plausible and implausible values alike.
fn value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[0-9]{0,3}".prop_map(Some),
        "[+-]?[0-9]{1,2}[/:][0-9]{1,2}".prop_map(Some),
        prop::sample::select(vec![
            "PST",
            "IST",
            "NST",
            "sun",
            "Saturday",
            "March",
            "Oct",
            "8",
            "0",
            "31",
            "UNPROVISIONED",
        ])
        .prop_map(|s| Some(s.to_string())),
        ".{0,12}".prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_configuration_gives_a_usable_clock(
        values in prop::collection::vec(value(), PARAMS.len()),
        utc in any::<i64>(),
        year in any::<i32>(),
        h24_level in any::<i64>(),
        format in prop::sample::select(vec!["M/D/Y", "D/M/Y", "Y/M/D", "Y/D/M", "Y-M-D", "YY-M-D"]),
    ) {
        let map: HashMap<&str, String> = PARAMS
            .iter()
            .zip(values)
            .filter_map(|(name, v)| Some((*name, v?)))
            .collect();
        let (rule, notes) = ZoneRule::from_lookup(|name| map.get(name).cloned());
        for note in &notes {
            prop_assert!(PARAMS.contains(&note.param), "{}", note);
            prop_assert!(!note.message.is_empty());
        }

        let local = rule.to_local(utc);
        let dst_offset = rule.dst().map_or(0, |d| d.offset_seconds());
        let expected_offset = rule.standard_offset_seconds() + if local.dst { dst_offset } else { 0 };
        prop_assert_eq!(local.offset_seconds, expected_offset);
        prop_assert!((1..=12).contains(&local.month));
        prop_assert!((1..=31).contains(&local.day));
        prop_assert!(local.hour < 24 && local.minute < 60 && local.second < 60);
        prop_assert_eq!(local, rule.to_local(utc.clamp(MIN_UTC, MAX_UTC)));

        if let Some(t) = rule.dst_transitions(year) {
            prop_assert_eq!(t.start.offset_after, t.stop.offset_before);
            prop_assert_eq!(t.start.offset_before, rule.standard_offset_seconds());
        }

        let date = format_date(&local, DateFormat::from_config_value(format).unwrap_or_default());
        prop_assert!(date.len() >= 8);
        let time = format_time(&local, clock_24h(h24_level, None));
        prop_assert!(time.len() >= 5);
    }
}
