//! Typing on a twelve-key pad: digits, dotted addresses, and letters by multi-tap (press 2
//! once for `a`, twice for `b`, ...), the way the phone's Unlock Config and edit fields take
//! text. Sans-IO: a pending letter is committed by another key or by time, which the caller
//! passes in.

use std::time::{Duration, Instant};

/// How long a multi-tap letter waits for the same key before it is taken.
pub const MULTITAP_TIMEOUT: Duration = Duration::from_millis(1000);

/// What the keys type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMode {
    /// Digits only (ports, numbers of seconds).
    Digits,
    /// A dotted IPv4 address: digits, and `*` types the dot.
    Ip,
    /// Letters, digits and punctuation by multi-tap.
    Text,
}

impl EntryMode {
    /// What the edit field shows as its mode.
    pub fn label(self) -> &'static str {
        match self {
            EntryMode::Digits => "123",
            EntryMode::Ip => "IP",
            EntryMode::Text => "abc",
        }
    }
}

/// The characters each key cycles through in [`EntryMode::Text`]: lower case letters, the
/// digit, then upper case, so every character a password or a host name needs is reachable.
fn multitap(key: char) -> &'static str {
    match key {
        '1' => ".1-_@:/",
        '2' => "abc2ABC",
        '3' => "def3DEF",
        '4' => "ghi4GHI",
        '5' => "jkl5JKL",
        '6' => "mno6MNO",
        '7' => "pqrs7PQRS",
        '8' => "tuv8TUV",
        '9' => "wxyz9WXYZ",
        '0' => "0 +",
        '*' => "*",
        '#' => "#",
        _ => "",
    }
}

/// One field being typed.
#[derive(Debug, Clone)]
pub struct TextEntry {
    text: Vec<char>,
    mode: EntryMode,
    secret: bool,
    max_chars: usize,
    /// The key being multi-tapped, how many times, and when it is taken anyway.
    pending: Option<(char, usize, Instant)>,
}

impl TextEntry {
    pub fn new(initial: &str, mode: EntryMode, secret: bool, max_chars: usize) -> TextEntry {
        TextEntry {
            text: initial.chars().take(max_chars).collect(),
            mode,
            secret,
            max_chars,
            pending: None,
        }
    }

    pub fn mode(&self) -> EntryMode {
        self.mode
    }

    /// A key `0`-`9`, `*` or `#`.
    pub fn press(&mut self, key: char, now: Instant) {
        match self.mode {
            EntryMode::Digits => {
                if key.is_ascii_digit() {
                    self.push(key);
                }
            }
            EntryMode::Ip => match key {
                '0'..='9' => self.push(key),
                '*' | '#' => self.push('.'),
                _ => {}
            },
            EntryMode::Text => {
                let chars = multitap(key);
                if chars.is_empty() {
                    return;
                }
                match self.pending {
                    Some((k, n, at)) if k == key && now < at && chars.chars().count() > 1 => {
                        let next = (n + 1) % chars.chars().count();
                        self.text.pop();
                        self.text.push(chars.chars().nth(next).unwrap_or(key));
                        self.pending = Some((key, next, now + MULTITAP_TIMEOUT));
                    }
                    _ => {
                        if self.text.len() >= self.max_chars {
                            self.pending = None;
                            return;
                        }
                        self.text.push(chars.chars().next().unwrap_or(key));
                        self.pending = Some((key, 0, now + MULTITAP_TIMEOUT));
                    }
                }
            }
        }
    }

    fn push(&mut self, c: char) {
        self.pending = None;
        if self.text.len() < self.max_chars {
            self.text.push(c);
        }
    }

    /// The `<<` soft key.
    pub fn backspace(&mut self) {
        self.pending = None;
        self.text.pop();
    }

    /// When a pending multi-tap letter is taken by time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.map(|(_, _, at)| at)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.pending, Some((_, _, at)) if at <= now) {
            self.pending = None;
        }
    }

    pub fn value(&self) -> String {
        self.text.iter().collect()
    }

    /// What the screen shows: stars for a secret, except the letter still being chosen.
    pub fn shown(&self) -> String {
        if !self.secret {
            return self.value();
        }
        let n = self.text.len();
        self.text
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n && self.pending.is_some() {
                    *c
                } else {
                    '*'
                }
            })
            .collect()
    }

    pub fn cursor(&self) -> usize {
        self.text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(mode: EntryMode, keys: &str, gap_ms: u64) -> String {
        let t0 = Instant::now();
        let mut e = TextEntry::new("", mode, false, 32);
        for (i, k) in keys.chars().enumerate() {
            e.press(k, t0 + Duration::from_millis(gap_ms * i as u64));
        }
        e.value()
    }

    #[test]
    fn multitap_spells_letters_and_digits() {
        // c-i-s-c-o: a pause between two letters on the same key.
        let t0 = Instant::now();
        let mut e = TextEntry::new("", EntryMode::Text, true, 32);
        let mut t = t0;
        for (key, times) in [('2', 3), ('4', 3), ('7', 4), ('2', 3), ('6', 3)] {
            for _ in 0..times {
                e.press(key, t);
                t += Duration::from_millis(100);
            }
            t += MULTITAP_TIMEOUT;
        }
        assert_eq!(e.value(), "cisco");
        e.handle_timeout(t);
        assert_eq!(e.shown(), "*****");
        // The digit comes after the letters, upper case after the digit.
        assert_eq!(typed(EntryMode::Text, "2222", 100), "2");
        assert_eq!(typed(EntryMode::Text, "22222", 100), "A");
        // Different keys in a row need no pause.
        assert_eq!(typed(EntryMode::Text, "23", 100), "ad");
        // The same key after the timeout starts a new letter.
        assert_eq!(typed(EntryMode::Text, "22", 1500), "aa");
        // The cycle wraps.
        assert_eq!(typed(EntryMode::Text, "22222222", 10), "a");
    }

    #[test]
    fn a_secret_shows_only_the_letter_being_chosen() {
        let t0 = Instant::now();
        let mut e = TextEntry::new("", EntryMode::Text, true, 8);
        e.press('2', t0);
        e.press('3', t0);
        assert_eq!(e.shown(), "*d");
        e.handle_timeout(t0 + MULTITAP_TIMEOUT);
        assert_eq!(e.shown(), "**");
        assert_eq!(e.poll_timeout(), None);
    }

    #[test]
    fn addresses_and_digits() {
        assert_eq!(typed(EntryMode::Ip, "10*0*2*15", 10), "10.0.2.15");
        assert_eq!(typed(EntryMode::Digits, "5*0#60", 10), "5060");
        let mut e = TextEntry::new("5060", EntryMode::Digits, false, 5);
        e.backspace();
        e.press('1', Instant::now());
        e.press('2', Instant::now());
        assert_eq!(e.value(), "50612", "limited to five characters");
    }
}
