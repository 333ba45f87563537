//! The dial plan as a user meets it: the sample tree's dialplan.xml, rule priority, timeouts in
//! simulated time, rewrites, the secondary dial tone, and files with mistakes.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskphone_dialplan::{Call, Decision, DialPlan, Dialer, UserTag};
use proptest::prelude::*;

fn plan(xml: &str) -> DialPlan {
    let (plan, diags) = DialPlan::parse("dialplan.xml", xml.as_bytes());
    assert!(diags.is_empty(), "{diags:?}");
    plan
}

/// The sample tree administrators start from (examples/tftp/, a contract).
fn sample() -> DialPlan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tftp/dialplan.xml");
    let data = std::fs::read(&path).unwrap();
    let (plan, diags) = DialPlan::parse("dialplan.xml", &data);
    assert!(diags.is_empty(), "{diags:?}");
    plan
}

fn sent(d: Decision) -> Option<(Option<Duration>, String)> {
    match d {
        Decision::SendNow(c) => Some((None, c.number)),
        Decision::SendAfter(t, c) => Some((Some(t), c.number)),
        Decision::Wait => None,
    }
}

#[test]
fn the_sample_plan_dials_extensions_and_emergency_numbers_at_once() {
    let p = sample();
    assert_eq!(p.templates.len(), 6);
    // Emergency numbers: at once, user=phone.
    match p.decide("911") {
        Decision::SendNow(c) => {
            assert_eq!(c.number, "911");
            assert_eq!(c.user, Some(UserTag::Phone));
        }
        other => panic!("911: {other:?}"),
    }
    assert_eq!(sent(p.decide("9911")), Some((None, "9911".into())));
    // A four-digit extension is not sent before its fourth digit: the partial 1... holds
    // back the catch-all, which still sends after its five seconds if no digit comes.
    for partial in ["1", "12", "123"] {
        assert_eq!(
            sent(p.decide(partial)),
            Some((Some(Duration::from_secs(5)), partial.into())),
            "{partial}"
        );
    }
    assert_eq!(sent(p.decide("1234")), Some((None, "1234".into())));
    assert_eq!(sent(p.decide("8000")), Some((None, "8000".into())));
    // An outside line: 9 and ten digits, at once once they are all there.
    assert_eq!(
        sent(p.decide("9408555")),
        Some((Some(Duration::from_secs(5)), "9408555".into()))
    );
    assert_eq!(
        sent(p.decide("94085551234")),
        Some((None, "94085551234".into()))
    );
    // Anything else: five seconds after the last key.
    assert_eq!(
        sent(p.decide("5")),
        Some((Some(Duration::from_secs(5)), "5".into()))
    );
    assert_eq!(
        sent(p.decide("12345")),
        Some((Some(Duration::from_secs(5)), "12345".into()))
    );
    // Nothing dialled, nothing sent.
    assert_eq!(p.decide(""), Decision::Wait);
}

#[test]
fn literal_matches_decide_and_periods_do_not_count() {
    let p = plan(
        r#"<DIALTEMPLATE>
             <TEMPLATE MATCH="1..." Timeout="0"/>
             <TEMPLATE MATCH="12.." Timeout="0" User="IP"/>
           </DIALTEMPLATE>"#,
    );
    // Both match 1234 completely; 12.. has two literal matches, 1... one.
    match p.decide("1234") {
        Decision::SendNow(c) => {
            assert_eq!(c.rule, Some(1));
            assert_eq!(c.user, Some(UserTag::Ip));
        }
        other => panic!("{other:?}"),
    }
    // Only 1... matches 1334.
    match p.decide("1334") {
        Decision::SendNow(c) => assert_eq!(c.rule, Some(0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_longer_rule_holds_back_a_complete_one_until_its_timeout() {
    let p = plan(
        r#"<DIALTEMPLATE>
             <TEMPLATE MATCH="100" Timeout="0"/>
             <TEMPLATE MATCH="1000" Timeout="3"/>
             <TEMPLATE MATCH="200" Timeout="2"/>
             <TEMPLATE MATCH="2000" Timeout="0"/>
             <TEMPLATE MATCH="300" Timeout="0"/>
             <TEMPLATE MATCH="3000" Timeout="0"/>
           </DIALTEMPLATE>"#,
    );
    // 100 is complete, but 1000 could still come: wait as long as 1000 would.
    assert_eq!(
        sent(p.decide("100")),
        Some((Some(Duration::from_secs(3)), "100".into()))
    );
    // 200's own timeout when it has one.
    assert_eq!(
        sent(p.decide("200")),
        Some((Some(Duration::from_secs(2)), "200".into()))
    );
    // Neither has a timeout: only the Dial key sends 300.
    assert_eq!(p.decide("300"), Decision::Wait);
    assert_eq!(p.dial("300").unwrap().number, "300");
    assert_eq!(sent(p.decide("3000")), Some((None, "3000".into())));
}

#[test]
fn star_matches_one_or_more_keys_and_escaped_star_is_the_key() {
    let p = plan(
        r#"<DIALTEMPLATE>
             <TEMPLATE MATCH="7*" Timeout="0"/>
             <TEMPLATE MATCH="\*67*" Timeout="0"/>
           </DIALTEMPLATE>"#,
    );
    // 7 alone: * needs a key more.
    assert_eq!(p.decide("7"), Decision::Wait);
    assert_eq!(sent(p.decide("71")), Some((None, "71".into())));
    assert_eq!(sent(p.decide("7123")), Some((None, "7123".into())));
    // *67 then a number: the star key is literal here.
    assert_eq!(p.decide("*67"), Decision::Wait);
    assert_eq!(
        sent(p.decide("*675551234")),
        Some((None, "*675551234".into()))
    );
    assert_eq!(p.decide("867"), Decision::Wait);
}

#[test]
fn rewrite_user_and_secondary_dial_tone() {
    let p = plan(
        r#"<DIALTEMPLATE>
             <TEMPLATE MATCH="9,1.........." Timeout="0" User="phone" Rewrite="+1%1"/>
             <TEMPLATE MATCH="ab..cd..ef*" Timeout="1" Rewrite="X%2Y%1Z..."/>
           </DIALTEMPLATE>"#,
    );
    assert!(!p.secondary_tone(""));
    assert!(p.secondary_tone("9"), "outside line: tone after the 9");
    assert!(!p.secondary_tone("91"));
    assert!(!p.secondary_tone("8"), "no rule matches 8");
    match p.decide("914085551234") {
        Decision::SendNow(c) => {
            assert_eq!(c.number, "+14085551234");
            assert_eq!(c.dialled, "914085551234");
            assert_eq!(c.user, Some(UserTag::Phone));
        }
        other => panic!("{other:?}"),
    }
    match p.decide("ab12cd34ef5678") {
        Decision::SendAfter(t, c) => {
            assert_eq!(t, Duration::from_secs(1));
            assert_eq!(c.number, "X34Y12Z123");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_dialer_sends_at_the_right_instant_in_simulated_time() {
    let p = Arc::new(sample());
    let t0 = Instant::now();
    let mut d = Dialer::new(p.clone());
    // "5": the catch-all sends five seconds after the last key.
    assert_eq!(d.press(t0, '5'), None);
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    // Another key restarts the wait.
    let t1 = t0 + Duration::from_secs(3);
    assert_eq!(d.press(t1, '5'), None);
    assert_eq!(d.handle_timeout(t0 + Duration::from_secs(5)), None);
    assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    let call = d.handle_timeout(t1 + Duration::from_secs(5)).unwrap();
    assert_eq!(call.number, "55");
    // Done: nothing more happens.
    assert_eq!(d.poll_timeout(), None);
    assert_eq!(d.press(t1 + Duration::from_secs(6), '1'), None);
    assert_eq!(d.dial(), None);

    // An extension is sent on its fourth key, without waiting.
    let mut d = Dialer::new(p.clone());
    for k in "100".chars() {
        assert_eq!(d.press(t0, k), None, "1... holds back the catch-all");
    }
    let call: Call = d.press(t0, '7').unwrap();
    assert_eq!(call.number, "1007");
    assert_eq!(call.rule, Some(2));

    // << takes a key back, and the Dial key sends what is there.
    let mut d = Dialer::new(p);
    for k in "12".chars() {
        d.press(t0, k);
    }
    d.backspace(t0);
    assert_eq!(d.keys(), "1");
    let call = d.dial().unwrap();
    assert_eq!(call.number, "1");
    assert_eq!(call.rule, Some(5), "the catch-all matches 1");
}

#[test]
fn backspace_restarts_the_wait_for_what_is_left() {
    let t0 = Instant::now();
    let mut d = Dialer::new(Arc::new(sample()));
    d.press(t0, '5');
    d.press(t0, '5');
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    let t1 = t0 + Duration::from_secs(2);
    d.backspace(t1);
    assert_eq!(d.keys(), "5");
    assert_eq!(d.poll_timeout(), Some(t1 + Duration::from_secs(5)));
    d.backspace(t1);
    assert_eq!(d.keys(), "");
    assert_eq!(d.poll_timeout(), None, "nothing left to send");
    assert_eq!(d.dial(), None);
    // Still usable: the next keys count.
    assert_eq!(d.press(t1, '9').map(|c| c.number), None);
    d.press(t1, '1');
    assert_eq!(d.press(t1, '1').map(|c| c.number).as_deref(), Some("911"));
}

#[test]
fn mistakes_become_diagnostics_with_lines_and_the_rest_still_works() {
    let xml = "<DIALTEMPLATE>\n\
               <TEMPLATE Timeout=\"0\"/>\n\
               <TEMPLATE MATCH=\"\" Timeout=\"0\"/>\n\
               <TEMPLATE MATCH=\"5...\" Timeout=\"soon\"/>\n\
               <TEMPLATE MATCH=\"6...\" Timeout=\"0\" User=\"sip\"/>\n\
               <TEMPLATE MATCH=\u{201C}7...\u{201D} Timeout=\"0\"/>\n\
               <TEMPLATE MATCH=\"8...\"/>\n\
               </DIALTEMPLATE>\n";
    let (p, diags) = DialPlan::parse("dialplan.xml", xml.as_bytes());
    let lines: Vec<(u32, &str)> = diags.iter().map(|d| (d.line, d.message.as_str())).collect();
    let has = |line: u32, text: &str| lines.iter().any(|(l, m)| *l == line && m.contains(text));
    assert!(has(2, "without MATCH"), "{lines:?}");
    assert!(has(3, "matches nothing"), "{lines:?}");
    assert!(has(4, "not a number of seconds"), "{lines:?}");
    assert!(has(5, "neither Phone nor IP"), "{lines:?}");
    assert!(has(6, "typographic quotes"), "{lines:?}");
    assert!(has(7, "no Timeout"), "{lines:?}");
    // 5... 6... 7... 8... remain; 5... and 8... never send by themselves.
    assert_eq!(p.templates.len(), 4);
    assert_eq!(p.decide("5123"), Decision::Wait);
    assert_eq!(sent(p.decide("6123")), Some((None, "6123".into())));
    assert_eq!(sent(p.decide("7123")), Some((None, "7123".into())));
    assert_eq!(p.dial("8123").unwrap().rule, Some(3));

    // Broken XML: the rules before the break count.
    let (p, diags) = DialPlan::parse(
        "dialplan.xml",
        b"<DIALTEMPLATE>\n<TEMPLATE MATCH=\"1\" Timeout=\"0\"/>\n<TEMPLATE MATCH=\"2\" Timeout=\"0\">\n</DIALTEMPLATE>\n",
    );
    assert_eq!(p.templates.len(), 2);
    assert!(
        diags.iter().any(|d| d.message.contains("not well-formed")),
        "{diags:?}"
    );

    // Nothing usable at all.
    let (p, diags) = DialPlan::parse("dialplan.xml", b"<DIALTEMPLATE></DIALTEMPLATE>");
    assert!(p.templates.is_empty());
    assert!(diags
        .iter()
        .any(|d| d.message.contains("no usable TEMPLATE")));
    assert_eq!(p.decide("123"), Decision::Wait);
}

/// A plain reference for complete matches: the pattern as a regular expression over the keys.
fn reference_complete(pattern: &str, keys: &str) -> bool {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '.' => re.push('.'),
            '*' => re.push_str(".+"),
            ',' => {}
            c => re.push_str(&regex_escape(c)),
        }
    }
    re.push('$');
    simple_match(&re, keys)
}

fn regex_escape(c: char) -> String {
    if c.is_ascii_digit() {
        c.to_string()
    } else {
        format!("\\{c}")
    }
}

/// Matches the tiny regular expressions of `reference_complete` (literals, `.`, `.+`)
/// by backtracking: slow, obviously right.
fn simple_match(re: &str, s: &str) -> bool {
    fn go(re: &[char], s: &[char]) -> bool {
        match re {
            ['$'] => s.is_empty(),
            ['.', '+', rest @ ..] => (1..=s.len()).any(|k| go(rest, &s[k..])),
            ['.', rest @ ..] => !s.is_empty() && go(rest, &s[1..]),
            ['\\', c, rest @ ..] | [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
            [] => s.is_empty(),
        }
    }
    let re: Vec<char> = re.trim_start_matches('^').chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&re, &s)
}

proptest! {
    /// Whatever the file, parsing never panics, and deciding on any keys never panics.
    #[test]
    fn any_file_and_any_keys_are_safe(
        data in proptest::collection::vec(any::<u8>(), 0..400),
        keys in "[0-9*#a-d]{0,70}",
    ) {
        let (p, _) = DialPlan::parse("dialplan.xml", &data);
        let _ = p.decide(&keys);
        let _ = p.dial(&keys);
        let _ = p.secondary_tone(&keys);
    }

    /// A one-rule plan sends (at once, Timeout 0) exactly when the keys match the pattern as
    /// a regular expression would say.
    #[test]
    fn complete_matches_agree_with_a_reference(
        pattern in "[0-9.*]{1,8}",
        keys in "[0-9]{1,10}",
    ) {
        let xml = format!(r#"<DIALTEMPLATE><TEMPLATE MATCH="{pattern}" Timeout="0"/></DIALTEMPLATE>"#);
        let (p, _) = DialPlan::parse("dialplan.xml", xml.as_bytes());
        let sends = matches!(p.decide(&keys), Decision::SendNow(_));
        prop_assert_eq!(sends, reference_complete(&pattern, &keys), "{} {}", pattern, keys);
    }
}

#[test]
fn route_sends_a_rule_to_the_emergency_proxy_or_a_named_host() {
    use deskphone_dialplan::Route;
    let p = plan(
        r#"<DIALTEMPLATE>
  <TEMPLATE MATCH="911" Timeout="0" User="Phone" Route="emergency"/>
  <TEMPLATE MATCH="8...." Timeout="0" Route="gw1.example.com"/>
  <TEMPLATE MATCH="1..." Timeout="0" Route="Default"/>
</DIALTEMPLATE>"#,
    );
    let route = |keys: &str| p.dial(keys).unwrap().route;
    assert_eq!(route("911"), Route::Emergency);
    assert_eq!(route("81234"), Route::Host("gw1.example.com".into()));
    assert_eq!(route("1234"), Route::Default);
    // Keys no rule matches: the line's proxy.
    assert_eq!(route("55"), Route::Default);
    let (_, diags) = DialPlan::parse(
        "dialplan.xml",
        br#"<DIALTEMPLATE><TEMPLATE MATCH="9" Timeout="0" Route="not a host!"/></DIALTEMPLATE>"#,
    );
    assert!(
        diags[0].message.contains("Route \"not a host!\""),
        "{diags:?}"
    );
}
