//! The dial plan of the phone: `<dial_template>.xml` (`dialplan.xml` by default), a list of
//! `TEMPLATE` rules that decide when a number being dialled is complete, so that the phone
//! sends it without waiting for the Dial soft key.
//!
//! ```xml
//! <DIALTEMPLATE>
//!   <TEMPLATE MATCH="911" Timeout="0" User="Phone"/>
//!   <TEMPLATE MATCH="9,1.........." Timeout="0" User="Phone"/>
//!   <TEMPLATE MATCH="*" Timeout="5"/>
//! </DIALTEMPLATE>
//! ```
//!
//! # Patterns
//!
//! - a digit, `#` or any other character matches itself; `\` makes the next character literal
//!   (`\*` is a star key);
//! - `.` matches any one key;
//! - `*` matches one or more keys;
//! - `,` matches nothing: the phone plays the secondary dial tone once the keys before it have
//!   been dialled (after a `*` its place is unknown, so it is ignored with a warning).
//!
//! # Which rule wins
//!
//! A rule matches *completely* when the keys dialled so far are exactly what its pattern
//! describes, and *partially* when more keys could still make it match. Among the complete
//! rules the one with the most literal (non-wildcard) matches wins, the first in the file on a
//! tie. It is used only if it has more literal matches than every other rule that matches
//! partially: `8000` beats `*` once all four digits are there, but while only `8` is dialled
//! the partial `8000` holds back the complete `*`.
//!
//! The winning rule's `Timeout` is how long the phone waits for another key before it sends the
//! number: 0 sends at once. A complete rule held back by a longer one sends after its own
//! Timeout if that is not 0, else after the longest Timeout of the rules holding it back, else
//! only with the Dial soft key. A rule without a usable Timeout never sends by itself (the lint
//! says so). Keys that no rule matches wait for the Dial soft key.
//!
//! `Route="emergency"` sends the call's INVITE to `proxy_emergency`, `Route="HOST"` to that
//! host, `"default"` (or no Route) to the line's proxy.
//! `User="Phone"` or `"IP"` asks for `user=phone`/`user=ip` in the request URI. `Rewrite`
//! replaces the number sent: `.` takes the next key matched by a wildcard, `%1`..`%5` a run of
//! consecutive wildcard-matched keys, `%s` or `%0` everything dialled, `%%` a percent sign.
//!
//! # Use
//!
//! [`DialPlan::parse`] reads the file and reports problems as file:line diagnostics, never
//! failing: bad rules are skipped. [`Dialer`] is the sans-IO state machine the UI drives: keys
//! and the current time in, the number to send (a [`Call`]) out, and the instant at which it
//! wants [`Dialer::handle_timeout`] called. It never reads the clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deskphone_config::Diagnostic;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Keys a dialled number may hold; further keys are ignored.
pub const MAX_KEYS: usize = 64;
/// Pattern elements a rule may have; longer rules are skipped with a warning.
pub const MAX_PATTERN: usize = 64;

/// `User=` of a rule: the `user` parameter of the request URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserTag {
    Phone,
    Ip,
}

impl UserTag {
    /// The value of the URI parameter (`user=phone`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserTag::Phone => "phone",
            UserTag::Ip => "ip",
        }
    }
}

/// `Route=` of a rule: which proxy the call's INVITE goes to first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Route {
    /// The line's proxy (or the outbound proxy).
    #[default]
    Default,
    /// `proxy_emergency`:`proxy_emergency_port`.
    Emergency,
    /// A host named in the rule (an address or a DNS name), port 5060.
    Host(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Key(char),
    /// `.`: any one key.
    Any,
    /// `*`: one or more keys.
    Many,
}

/// One `TEMPLATE` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The MATCH attribute as written.
    pub pattern: String,
    /// None: the rule never sends by itself.
    pub timeout: Option<Duration>,
    pub user: Option<UserTag>,
    pub rewrite: Option<String>,
    pub route: Route,
    /// Line in the file, for messages.
    pub line: u32,
    elems: Vec<Elem>,
    /// Number of keys after which the secondary dial tone plays (one per `,`).
    tones: Vec<usize>,
}

/// The number to send and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// What goes into the request URI's user part: the keys, or the rule's rewrite of them.
    pub number: String,
    /// The keys as dialled.
    pub dialled: String,
    /// The rule's `User=`; None: the line's default (`user_info`).
    pub user: Option<UserTag>,
    /// The rule's `Route=`.
    pub route: Route,
    /// The rule that completed the number (its index in [`DialPlan::templates`]); None when
    /// the Dial soft key sent keys no rule matched.
    pub rule: Option<usize>,
}

/// What the dialled keys mean now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A rule with Timeout 0 completes the number: send it now.
    SendNow(Call),
    /// Send this unless another key comes within the time.
    SendAfter(Duration, Call),
    /// Nothing to send by itself: wait for more keys or the Dial soft key.
    Wait,
}

/// The rules of a dial plan file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialPlan {
    pub templates: Vec<Template>,
}

/// How one rule matches the keys.
#[derive(Debug, Clone, Copy)]
struct RuleMatch {
    /// Literal matches of the best complete match.
    complete: Option<u32>,
    /// Literal matches of the best partial match (more keys could still complete it).
    partial: Option<u32>,
}

impl DialPlan {
    /// Reads a dial plan file. Never fails: rules that cannot be used are left out, and every
    /// problem is a diagnostic naming `file` and the line.
    pub fn parse(file: &str, data: &[u8]) -> (DialPlan, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let text = String::from_utf8_lossy(data);
        // Files edited in word processors carry typographic quotes (the guide's own samples).
        let text = if text.contains(['\u{201C}', '\u{201D}']) {
            let at = text.find(['\u{201C}', '\u{201D}']).unwrap_or(0);
            diags.push(Diagnostic::warning(
                file,
                line_at(&text, at),
                "typographic quotes read as plain quotes",
            ));
            text.replace(['\u{201C}', '\u{201D}'], "\"")
        } else {
            text.into_owned()
        };
        let mut plan = DialPlan::default();
        let mut reader = Reader::from_str(&text);
        let mut root_seen = false;
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                    let line = line_at(&text, reader.buffer_position() as usize);
                    let name = e.name().as_ref().to_ascii_uppercase();
                    if !root_seen {
                        root_seen = true;
                        if name != b"DIALTEMPLATE" {
                            diags.push(Diagnostic::warning(
                                file,
                                line,
                                "the root element should be <DIALTEMPLATE>",
                            ));
                        }
                    }
                    if name == b"TEMPLATE" {
                        if let Some(t) = template(file, line, &e, &mut diags) {
                            plan.templates.push(t);
                        }
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => {
                    let line = line_at(&text, reader.error_position() as usize);
                    diags.push(Diagnostic::warning(
                        file,
                        line,
                        format!("not well-formed XML: {e}; the rules after this point are ignored"),
                    ));
                    break;
                }
                Ok(_) => {}
            }
        }
        if plan.templates.is_empty() {
            diags.push(Diagnostic::warning(
                file,
                0,
                "no usable TEMPLATE rule: every number waits for the Dial soft key",
            ));
        }
        (plan, diags)
    }

    /// What the phone does with `keys` dialled so far.
    pub fn decide(&self, keys: &str) -> Decision {
        let keys: Vec<char> = keys.chars().collect();
        if keys.is_empty() {
            return Decision::Wait;
        }
        let matches: Vec<RuleMatch> = self.templates.iter().map(|t| t.matches(&keys)).collect();
        // The best complete rule: most literal matches, first in the file on a tie.
        let mut best: Option<(usize, u32)> = None;
        for (i, m) in matches.iter().enumerate() {
            if let Some(l) = m.complete {
                if best.is_none_or(|(_, b)| l > b) {
                    best = Some((i, l));
                }
            }
        }
        let Some((winner, literals)) = best else {
            return Decision::Wait;
        };
        let call = self.call(winner, &keys);
        // Other rules that could still match with more keys, and as many literals or more.
        let holding_back: Vec<usize> = matches
            .iter()
            .enumerate()
            .filter(|(i, m)| *i != winner && m.partial.is_some_and(|p| p >= literals))
            .map(|(i, _)| i)
            .collect();
        let own = self.templates[winner].timeout;
        if holding_back.is_empty() {
            return match own {
                Some(t) if t.is_zero() => Decision::SendNow(call),
                Some(t) => Decision::SendAfter(t, call),
                None => Decision::Wait,
            };
        }
        let wait = match own {
            Some(t) if !t.is_zero() => Some(t),
            _ => holding_back
                .iter()
                .filter_map(|&i| self.templates[i].timeout)
                .max()
                .filter(|t| !t.is_zero()),
        };
        match wait {
            Some(t) => Decision::SendAfter(t, call),
            None => Decision::Wait,
        }
    }

    /// Whether the secondary dial tone should play after `keys`: a rule that still matches has
    /// a `,` right after them.
    pub fn secondary_tone(&self, keys: &str) -> bool {
        let keys: Vec<char> = keys.chars().collect();
        self.templates.iter().any(|t| {
            t.tones.contains(&keys.len()) && {
                let m = t.matches(&keys);
                m.partial.is_some() || m.complete.is_some()
            }
        })
    }

    /// The number the Dial soft key sends for `keys`: by the best complete rule if there is
    /// one (its rewrite and User=), else as dialled.
    pub fn dial(&self, keys: &str) -> Option<Call> {
        if keys.is_empty() {
            return None;
        }
        let chars: Vec<char> = keys.chars().collect();
        let mut best: Option<(usize, u32)> = None;
        for (i, t) in self.templates.iter().enumerate() {
            if let Some(l) = t.matches(&chars).complete {
                if best.is_none_or(|(_, b)| l > b) {
                    best = Some((i, l));
                }
            }
        }
        Some(match best {
            Some((i, _)) => self.call(i, &chars),
            None => Call {
                number: keys.to_string(),
                dialled: keys.to_string(),
                user: None,
                route: Route::Default,
                rule: None,
            },
        })
    }

    fn call(&self, rule: usize, keys: &[char]) -> Call {
        let t = &self.templates[rule];
        let dialled: String = keys.iter().collect();
        let number = match &t.rewrite {
            Some(r) => {
                let wild = t.wildcard_groups(keys);
                let out = rewrite(r, &dialled, &wild);
                // A rewrite that names groups the pattern does not have yields nothing: sending
                // an empty number helps nobody, the dialled keys at least reach the proxy.
                if out.is_empty() {
                    dialled.clone()
                } else {
                    out
                }
            }
            None => dialled.clone(),
        };
        Call {
            number,
            dialled,
            user: t.user,
            route: t.route.clone(),
            rule: Some(rule),
        }
    }
}

impl Template {
    /// Complete and partial matches of `keys`, as literal-match counts. Memoised over
    /// (pattern position, keys consumed, inside a `*`): patterns with several `*` stay linear
    /// in practice instead of exploring every split.
    fn matches(&self, keys: &[char]) -> RuleMatch {
        let mut memo = Memo::new(self.elems.len(), keys.len());
        RuleMatch {
            complete: walk(&self.elems, keys, 0, 0, false, false, &mut memo.complete),
            partial: walk(&self.elems, keys, 0, 0, false, true, &mut memo.partial),
        }
    }

    /// The keys matched by wildcards, in runs: a literal match between two wildcard matches
    /// starts a new run. (From the best complete match.)
    fn wildcard_groups(&self, keys: &[char]) -> Vec<String> {
        let mut memo = Memo::new(self.elems.len(), keys.len());
        walk(&self.elems, keys, 0, 0, false, false, &mut memo.complete);
        // Follow the memoised best choices from the start.
        let mut groups: Vec<String> = Vec::new();
        let mut run = String::new();
        let (mut pi, mut ki, mut inside) = (0usize, 0usize, false);
        let n = self.elems.len();
        loop {
            if inside {
                // Leave the `*` here, or take one more key into it: whichever keeps the best.
                let leave = memo.complete.get(pi + 1, ki, false);
                let stay = if ki < keys.len() {
                    memo.complete.get(pi, ki + 1, true)
                } else {
                    None
                };
                if stay.is_some() && stay >= leave {
                    run.push(keys[ki]);
                    ki += 1;
                } else {
                    pi += 1;
                    inside = false;
                }
                continue;
            }
            if pi >= n || ki >= keys.len() {
                break;
            }
            match self.elems[pi] {
                Elem::Key(_) => {
                    if !run.is_empty() {
                        groups.push(std::mem::take(&mut run));
                    }
                    pi += 1;
                    ki += 1;
                }
                Elem::Any => {
                    run.push(keys[ki]);
                    pi += 1;
                    ki += 1;
                }
                Elem::Many => {
                    run.push(keys[ki]);
                    ki += 1;
                    inside = true;
                }
            }
        }
        if !run.is_empty() {
            groups.push(run);
        }
        groups
    }
}

/// Best literal counts per state, for one kind of match.
struct Table {
    width: usize,
    cells: Vec<Option<Option<u32>>>,
}

impl Table {
    fn new(patterns: usize, keys: usize) -> Table {
        let width = keys + 1;
        Table {
            width,
            cells: vec![None; (patterns + 2) * width * 2],
        }
    }
    fn index(&self, pi: usize, ki: usize, inside: bool) -> usize {
        (pi * self.width + ki) * 2 + usize::from(inside)
    }
    fn get(&self, pi: usize, ki: usize, inside: bool) -> Option<u32> {
        self.cells
            .get(self.index(pi, ki, inside))
            .copied()
            .flatten()
            .flatten()
    }
}

struct Memo {
    complete: Table,
    partial: Table,
}

impl Memo {
    fn new(patterns: usize, keys: usize) -> Memo {
        Memo {
            complete: Table::new(patterns, keys),
            partial: Table::new(patterns, keys),
        }
    }
}

/// The most literal matches with which `elems[pi..]` matches `keys[ki..]`: completely (every
/// key used, pattern finished) or, with `partial`, as a prefix (every key used and the pattern
/// can take at least one more). `inside`: at a `*` that has taken at least one key.
fn walk(
    elems: &[Elem],
    keys: &[char],
    pi: usize,
    ki: usize,
    inside: bool,
    partial: bool,
    memo: &mut Table,
) -> Option<u32> {
    let slot = memo.index(pi, ki, inside);
    if let Some(done) = memo.cells[slot] {
        return done;
    }
    let result = if inside {
        let stay = if ki < keys.len() {
            walk(elems, keys, pi, ki + 1, true, partial, memo)
        } else if partial {
            // A `*` can always take another key.
            Some(0)
        } else {
            None
        };
        let leave = walk(elems, keys, pi + 1, ki, false, partial, memo);
        stay.max(leave)
    } else if ki == keys.len() {
        if partial {
            // Every key is used; the rest of the pattern wants more keys.
            (pi < elems.len()).then_some(0)
        } else {
            (pi == elems.len()).then_some(0)
        }
    } else if pi == elems.len() {
        None
    } else {
        match elems[pi] {
            Elem::Key(c) => (keys[ki] == c)
                .then(|| walk(elems, keys, pi + 1, ki + 1, false, partial, memo))
                .flatten()
                .map(|l| l + 1),
            Elem::Any => walk(elems, keys, pi + 1, ki + 1, false, partial, memo),
            Elem::Many => walk(elems, keys, pi, ki + 1, true, partial, memo),
        }
    };
    memo.cells[slot] = Some(result);
    result
}

/// The Rewrite attribute applied: `.` takes the next wildcard-matched key, `%1`-`%5` the runs,
/// `%s`/`%0` everything dialled, `%%` a percent sign; anything else is copied.
fn rewrite(rule: &str, dialled: &str, groups: &[String]) -> String {
    let mut wild = groups.iter().flat_map(|g| g.chars());
    let mut out = String::new();
    let mut chars = rule.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => out.extend(wild.next()),
            '%' => match chars.next() {
                Some('s' | 'S' | '0') => out.push_str(dialled),
                Some(d @ '1'..='5') => {
                    let n = d as usize - '1' as usize;
                    out.push_str(groups.get(n).map(String::as_str).unwrap_or(""));
                }
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            },
            other => out.push(other),
        }
    }
    out
}

fn template(
    file: &str,
    line: u32,
    e: &BytesStart<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Template> {
    let Some(pattern) = attr(e, "MATCH") else {
        diags.push(Diagnostic::warning(
            file,
            line,
            "TEMPLATE without MATCH; rule ignored",
        ));
        return None;
    };
    let mut elems = Vec::new();
    let mut tones = Vec::new();
    let mut after_many = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => elems.push(Elem::Any),
            '*' => {
                elems.push(Elem::Many);
                after_many = true;
            }
            ',' if after_many => diags.push(Diagnostic::warning(
                file,
                line,
                format!(
                    "MATCH \"{pattern}\": a , after * has no fixed place; no secondary dial tone"
                ),
            )),
            ',' => tones.push(elems.len()),
            '\\' => match chars.next() {
                Some(l) => elems.push(Elem::Key(l)),
                None => diags.push(Diagnostic::warning(
                    file,
                    line,
                    format!("MATCH \"{pattern}\" ends in \\; ignored"),
                )),
            },
            c if c.is_whitespace() => {}
            c => elems.push(Elem::Key(c)),
        }
    }
    if elems.is_empty() {
        diags.push(Diagnostic::warning(
            file,
            line,
            format!("MATCH \"{pattern}\" matches nothing; rule ignored"),
        ));
        return None;
    }
    if elems.len() > MAX_PATTERN {
        diags.push(Diagnostic::warning(
            file,
            line,
            format!("MATCH longer than {MAX_PATTERN} keys; rule ignored"),
        ));
        return None;
    }
    let timeout = match attr(e, "Timeout") {
        None => {
            diags.push(Diagnostic::warning(
                file,
                line,
                format!(
                    "MATCH \"{pattern}\" has no Timeout: it never dials by itself (Dial soft key)"
                ),
            ));
            None
        }
        Some(t) => match t.trim().parse::<u32>() {
            Ok(s) if s <= 3600 => Some(Duration::from_secs(s.into())),
            _ => {
                diags.push(Diagnostic::warning(
                    file,
                    line,
                    format!("Timeout \"{t}\" is not a number of seconds (0-3600): this rule never dials by itself"),
                ));
                None
            }
        },
    };
    let user = match attr(e, "User") {
        None => None,
        Some(u) if u.eq_ignore_ascii_case("phone") => Some(UserTag::Phone),
        Some(u) if u.eq_ignore_ascii_case("ip") => Some(UserTag::Ip),
        Some(u) => {
            diags.push(Diagnostic::warning(
                file,
                line,
                format!("User \"{u}\" is neither Phone nor IP; ignored"),
            ));
            None
        }
    };
    let route = match attr(e, "Route").map(|r| r.trim().to_string()) {
        None => Route::Default,
        Some(r) if r.is_empty() || r.eq_ignore_ascii_case("default") => Route::Default,
        Some(r) if r.eq_ignore_ascii_case("emergency") => Route::Emergency,
        Some(r)
            if r.len() <= 253
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')) =>
        {
            Route::Host(r.to_ascii_lowercase())
        }
        Some(r) => {
            diags.push(Diagnostic::warning(
                file,
                line,
                format!("Route \"{r}\" is neither default, emergency nor a host; ignored"),
            ));
            Route::Default
        }
    };
    let rewrite = attr(e, "Rewrite").filter(|r| !r.is_empty());
    if let Some(r) = &rewrite {
        let mut chars = r.chars();
        while let Some(c) = chars.next() {
            if c == '%' && !matches!(chars.next(), Some('s' | 'S' | '0'..='5' | '%')) {
                diags.push(Diagnostic::warning(
                    file,
                    line,
                    format!("Rewrite \"{r}\": % is followed by s, 0-5 or %; copied as written"),
                ));
                break;
            }
        }
    }
    Some(Template {
        pattern,
        timeout,
        user,
        rewrite,
        route,
        line,
        elems,
        tones,
    })
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref().eq_ignore_ascii_case(name.as_bytes()))
        .map(|a| {
            a.unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned())
        })
}

fn line_at(text: &str, pos: usize) -> u32 {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

/// The dialling of one number, as the UI drives it: keys, the Dial soft key, `<<`, and time.
/// Sans-IO: it never reads the clock, it says when it wants [`handle_timeout`] called.
///
/// [`handle_timeout`]: Dialer::handle_timeout
#[derive(Debug, Clone)]
pub struct Dialer {
    plan: Arc<DialPlan>,
    keys: String,
    /// When to send what, if no key comes first.
    pending: Option<(Instant, Call)>,
    done: bool,
}

impl Dialer {
    pub fn new(plan: Arc<DialPlan>) -> Dialer {
        Dialer {
            plan,
            keys: String::new(),
            pending: None,
            done: false,
        }
    }

    /// The keys dialled so far.
    pub fn keys(&self) -> &str {
        &self.keys
    }

    /// A key (0-9, `*`, `#`, or a letter entered by multi-tap). Returns the call to place when
    /// a rule with Timeout 0 completes the number.
    pub fn press(&mut self, now: Instant, key: char) -> Option<Call> {
        if self.done || self.keys.chars().count() >= MAX_KEYS {
            return None;
        }
        self.keys.push(key);
        self.reconsider(now, true)
    }

    /// The `<<` soft key: takes the last key back. Never sends by itself at once (a shorter
    /// number that a Timeout 0 rule completes waits for the Dial key or another key).
    pub fn backspace(&mut self, now: Instant) {
        if self.done {
            return;
        }
        self.keys.pop();
        self.reconsider(now, false);
    }

    /// The Dial soft key: sends what is there (see [`DialPlan::dial`]).
    pub fn dial(&mut self) -> Option<Call> {
        if self.done {
            return None;
        }
        let call = self.plan.dial(&self.keys)?;
        self.finish();
        Some(call)
    }

    /// Whether the secondary dial tone should play now.
    pub fn secondary_tone(&self) -> bool {
        !self.done && self.plan.secondary_tone(&self.keys)
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(at, _)| *at)
    }

    /// Sends the pending number once its time has come.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Call> {
        match &self.pending {
            Some((at, _)) if *at <= now => {
                let (_, call) = self.pending.take()?;
                self.finish();
                Some(call)
            }
            _ => None,
        }
    }

    fn reconsider(&mut self, now: Instant, may_send_now: bool) -> Option<Call> {
        self.pending = None;
        match self.plan.decide(&self.keys) {
            Decision::SendNow(call) if may_send_now => {
                self.finish();
                Some(call)
            }
            Decision::SendNow(_) | Decision::Wait => None,
            Decision::SendAfter(after, call) => {
                self.pending = Some((now + after, call));
                None
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_follows_the_guide_example() {
        // MATCH "ab..cd..ef*" and the keys "ab12cd34ef5678": wildcard runs 12, 34, 5678.
        let groups: Vec<String> = ["12", "34", "5678"].iter().map(|s| s.to_string()).collect();
        let d = "ab12cd34ef5678";
        for (rule, out) in [
            ("%s", d),
            ("%0", d),
            ("%1", "12"),
            ("%2", "34"),
            ("%3", "5678"),
            ("%4", ""),
            ("XYZ....", "XYZ1234"),
            ("X.Y.Z...", "X1Y2Z345"),
            ("919%1%2%3", "91912345678"),
            ("AB...X%1X..", "AB123X12X45"),
            ("X%1X%1X%1", "X12X12X12"),
            ("100%%", "100%"),
        ] {
            assert_eq!(rewrite(rule, d, &groups), out, "{rule}");
        }
    }
}
