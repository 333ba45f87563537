//! The `.cnf` file syntax: `name: value` lines, as forgiving as a real phone and as precise as
//! a linter.
//!
//! Accepted: optional blanks around `:`; values unquoted, in straight quotes or in typographic
//! quotes (the guide's own samples use “ ”); `#` comment lines; a trailing `; comment` (or
//! `# comment`) after a value; tabs; CRLF; a UTF-8 byte-order mark; files saved as
//! Windows-1252. Oddities are reported as warnings with their line and the line is used where
//! its meaning is clear (a missing closing quote) or skipped where it is not (no `:`).
//! This layer knows nothing of parameter names: [`crate::config`] checks names and values.

use crate::diag::Diagnostic;

/// One `name: value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnfEntry {
    /// 1-based line number.
    pub line: u32,
    pub key: String,
    /// The value with quotes and trailing comment removed, blanks trimmed.
    pub value: String,
}

/// A parsed file: its entries in file order and what was odd about its syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedCnf {
    pub entries: Vec<CnfEntry>,
    pub diagnostics: Vec<Diagnostic>,
}

const DOUBLE_QUOTES: &[char] = &[
    '"', '\u{201C}', '\u{201D}', '\u{201E}', '\u{201F}', '\u{2033}', '\u{00AB}', '\u{00BB}',
];
const SINGLE_QUOTES: &[char] = &['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Parses the bytes of a `.cnf` file named `file` (the name is only used in diagnostics).
pub fn parse(file: &str, data: &[u8]) -> ParsedCnf {
    let mut out = ParsedCnf::default();
    if data.contains(&0) {
        out.diagnostics.push(Diagnostic::error(
            file,
            0,
            "not a text file (it contains NUL bytes); nothing in it is used",
        ));
        return out;
    }
    let text = decode(file, data, &mut out.diagnostics);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);

    for (i, raw_line) in text.split('\n').enumerate() {
        let n = i as u32 + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let Some((key_part, value_part)) = trimmed.split_once(':') else {
            out.diagnostics.push(Diagnostic::warning(
                file,
                n,
                format!(
                    "\"{}\" is not a `name: value` line (a comment needs # at the start); line ignored",
                    shorten(trimmed)
                ),
            ));
            continue;
        };
        let key = key_part.trim();
        if key.is_empty() {
            out.diagnostics.push(Diagnostic::warning(
                file,
                n,
                "no parameter name before ':'; line ignored",
            ));
            continue;
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            out.diagnostics.push(Diagnostic::warning(
                file,
                n,
                format!("\"{}\" is not a parameter name; line ignored", shorten(key)),
            ));
            continue;
        }
        let value = parse_value(file, n, value_part.trim(), &mut out.diagnostics);
        out.entries.push(CnfEntry {
            line: n,
            key: key.to_string(),
            value,
        });
    }
    out
}

fn parse_value(file: &str, n: u32, v: &str, diags: &mut Vec<Diagnostic>) -> String {
    let Some(open) = v
        .chars()
        .next()
        .filter(|c| DOUBLE_QUOTES.contains(c) || SINGLE_QUOTES.contains(c))
    else {
        return strip_trailing_comment(v).to_string();
    };
    let family = if DOUBLE_QUOTES.contains(&open) {
        DOUBLE_QUOTES
    } else {
        SINGLE_QUOTES
    };
    let body = &v[open.len_utf8()..];
    let close_at = body.char_indices().find(|(_, c)| family.contains(c));
    let (inner, close) = match close_at {
        Some((i, c)) => (&body[..i], Some((i, c))),
        None => {
            diags.push(Diagnostic::warning(
                file,
                n,
                "missing closing quote; the value runs to the end of the line",
            ));
            (strip_trailing_comment(body), None)
        }
    };
    if (open != '"' && open != '\'') || close.is_some_and(|(_, c)| c != '"' && c != '\'') {
        diags.push(Diagnostic::warning(
            file,
            n,
            "typographic quotes read as plain quotes; other phones take them as part of the value, write \" instead",
        ));
    }
    if let Some((i, c)) = close {
        let rest = body[i + c.len_utf8()..].trim();
        if !rest.is_empty() && !rest.starts_with(';') && !rest.starts_with('#') {
            diags.push(Diagnostic::warning(
                file,
                n,
                format!(
                    "text after the closing quote is ignored: \"{}\"",
                    shorten(rest)
                ),
            ));
        }
    }
    inner.trim().to_string()
}

/// Cuts an unquoted value at a `;` or `#` that starts a comment (at the start or after a blank,
/// so URLs and URIs with `;param` or `#fragment` survive).
fn strip_trailing_comment(v: &str) -> &str {
    let mut prev_blank = true;
    for (i, c) in v.char_indices() {
        if (c == ';' || c == '#') && prev_blank {
            return v[..i].trim_end();
        }
        prev_blank = c == ' ' || c == '\t';
    }
    v.trim_end()
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

/// UTF-8, else Windows-1252 (what Notepad saved on older Windows), with a note.
fn decode(file: &str, data: &[u8], diags: &mut Vec<Diagnostic>) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(e) => {
            let line = data[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32
                + 1;
            diags.push(Diagnostic::warning(
                file,
                line,
                "the file is not UTF-8; read as Windows-1252",
            ));
            data.iter().map(|&b| windows_1252(b)).collect()
        }
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{FFFD}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{FFFD}',
        '\u{017D}', '\u{FFFD}', '\u{FFFD}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{FFFD}', '\u{017E}', '\u{0178}',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// Writes `name: "value"` lines that [`parse`] reads back to the same entries.
/// Returns `None` for a value that the format cannot carry (a double quote, straight or
/// typographic, or a control character).
pub fn print<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let mut out = String::new();
    for (key, value) in entries {
        // Any double quote of the family parse() accepts would end the value early.
        if value.contains(DOUBLE_QUOTES) || value.chars().any(|c| c.is_control() && c != '\t') {
            return None;
        }
        out.push_str(key);
        out.push_str(": \"");
        out.push_str(value);
        out.push_str("\"\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;

    fn one(line: &str) -> (Option<CnfEntry>, Vec<Diagnostic>) {
        let p = parse("t.cnf", line.as_bytes());
        (p.entries.into_iter().next(), p.diagnostics)
    }

    fn value_of(line: &str) -> String {
        one(line).0.expect("an entry").value
    }

    #[test]
    fn spacing_and_quotes() {
        assert_eq!(value_of("proxy1_port:\"5060\""), "5060");
        assert_eq!(value_of("cnf_join_enable : 1"), "1");
        assert_eq!(value_of("\tline1_name:\t\"43\"  "), "43");
        assert_eq!(value_of("enable_vad: 0"), "0");
        assert_eq!(value_of("phone_label: 'Front desk'"), "Front desk");
        let (e, d) = one("image_version: \u{201C}P0S3-08-12-00\u{201D}");
        assert_eq!(e.unwrap().value, "P0S3-08-12-00");
        assert_eq!(d.len(), 1, "typographic quotes are reported");
    }

    #[test]
    fn comments() {
        assert_eq!(
            value_of("timer_t1: \"500\"                   ; Default 500 ms"),
            "500"
        );
        assert_eq!(value_of("timer_t1: 500 ; Default 500 ms"), "500");
        assert_eq!(value_of("timer_t1: 500 # half a second"), "500");
        assert_eq!(
            value_of("messages_uri: sip:vm@example.com;user=phone"),
            "sip:vm@example.com;user=phone"
        );
        assert_eq!(value_of("services_url: http://h/x#frag"), "http://h/x#frag");
        let p = parse(
            "t.cnf",
            b"# comment\n  # indented comment\n; semicolon comment\n\n",
        );
        assert!(p.entries.is_empty() && p.diagnostics.is_empty());
    }

    #[test]
    fn crlf_bom_and_empty_values() {
        let p = parse("t.cnf", b"\xEF\xBB\xBFa: 1\r\nb:\r\nc: \"\"\r\n");
        assert_eq!(p.entries.len(), 3);
        assert_eq!(p.entries[0].key, "a");
        assert_eq!(p.entries[1].value, "");
        assert_eq!(p.entries[2].value, "");
        assert_eq!(p.entries[2].line, 3);
        assert!(p.diagnostics.is_empty());
    }

    #[test]
    fn missing_closing_quote_keeps_the_value() {
        let (e, d) = one("proxy_backup: \"1.2.3.4");
        assert_eq!(e.unwrap().value, "1.2.3.4");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("closing quote"));
        assert_eq!(d[0].line, 1);
    }

    #[test]
    fn text_after_closing_quote_is_reported() {
        let (e, d) = one("phone_label: \"a\" b");
        assert_eq!(e.unwrap().value, "a");
        assert!(d[0].message.contains("after the closing quote"));
    }

    #[test]
    fn lines_without_colon_are_skipped_and_reported() {
        let p = parse("SIPDefault.cnf", b"a: 1\navt )\nb: 2\n");
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].line, 2);
        assert_eq!(p.diagnostics[0].file, "SIPDefault.cnf");
        assert_eq!(p.diagnostics[0].severity, Severity::Warning);
    }

    #[test]
    fn binary_and_windows_1252() {
        let p = parse("t.cnf", b"a: 1\0");
        assert!(p.entries.is_empty());
        assert_eq!(p.diagnostics[0].severity, Severity::Error);
        let p = parse("t.cnf", b"a: 1\nphone_label: \x93Caf\xe9\x94\n");
        assert_eq!(p.entries[1].value, "Caf\u{e9}");
        assert_eq!(p.diagnostics[0].line, 2);
    }

    #[test]
    fn print_round_trips() {
        let text = print([("a", "1"), ("b", ""), ("c", "x y; z")]).unwrap();
        let p = parse("t", text.as_bytes());
        let got: Vec<(&str, &str)> = p
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(got, vec![("a", "1"), ("b", ""), ("c", "x y; z")]);
        assert!(print([("a", "say \"hi\"")]).is_none());
        // Found by the fuzzer: a typographic quote inside would close the value.
        assert!(print([("messages_uri", "x\u{201C}")]).is_none());
    }
}
