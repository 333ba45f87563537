//! Character sets and entities, the forgiving way the phones read them.

use std::borrow::Cow;

/// The character sets a document may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    Utf8,
    /// Windows-1252, which is also what `ISO-8859-1`, `latin1` and `US-ASCII`
    /// mean in practice (the WHATWG encoding standard maps them to it).
    Windows1252,
}

/// Turns the document's bytes into text.
///
/// A declared encoding wins. Without one, or with a UTF-8 one that the bytes
/// do not honour (a Latin-1 database behind a page that says UTF-8), the text
/// is read as Windows-1252, where every byte is some character.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, String> {
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err("UTF-16".to_string());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let declared = match declared_encoding(bytes) {
        None => Charset::Utf8,
        Some(label) => charset(&label).ok_or(label)?,
    };
    match declared {
        Charset::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Cow::Borrowed(s)),
            Err(_) => Ok(Cow::Owned(windows_1252(bytes))),
        },
        Charset::Windows1252 => Ok(Cow::Owned(windows_1252(bytes))),
    }
}

fn charset(label: &str) -> Option<Charset> {
    match label.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => Some(Charset::Utf8),
        "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "l1" | "us-ascii" | "ascii"
        | "windows-1252" | "cp1252" | "x-cp1252" => Some(Charset::Windows1252),
        _ => None,
    }
}

/// The `encoding="..."` of a leading `<?xml ...?>` declaration.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = bytes[start..].strip_prefix(b"<?xml")?;
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

/// Code points of bytes 0x80..=0x9F in Windows-1252; the five unassigned
/// bytes keep their C1 code point, as browsers do.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn windows_1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Decodes `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;`, `&#NN;` and `&#xHH;`.
///
/// Anything else that starts with `&` stays as written: service pages often
/// put a bare `&` in a URL (`?a=1&b=2`), and the phones took it literally.
pub(crate) fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match entity(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character of the entity at the start of `s` (which starts with `&`)
/// and the entity's length in bytes.
fn entity(s: &str) -> Option<(char, usize)> {
    // The longest entity we decode is `&#x10FFFF;` or `&#1114111;`.
    let semi = s.bytes().take(12).position(|b| b == b';')?;
    let name = &s[1..semi];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code)?
        }
    };
    Some((c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_latin1_is_read_as_latin1_even_when_valid_utf8() {
        // "Ã©" in Latin-1 is the UTF-8 encoding of "é": the declaration decides.
        let doc = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xC3\xA9</a>";
        assert_eq!(
            decode(doc).unwrap(),
            "<?xml version='1.0' encoding='ISO-8859-1'?><a>Ã©</a>"
        );
    }

    #[test]
    fn undeclared_invalid_utf8_falls_back_to_windows_1252() {
        assert_eq!(decode(b"<a>Caf\xE9 \x80</a>").unwrap(), "<a>Café €</a>");
    }

    #[test]
    fn utf8_with_bom_is_read_as_utf8() {
        assert_eq!(decode("\u{FEFF}<a>é</a>".as_bytes()).unwrap(), "<a>é</a>");
    }

    #[test]
    fn other_declared_encodings_are_refused_by_name() {
        let doc = br#"<?xml version="1.0" encoding="Shift_JIS"?><a/>"#;
        assert_eq!(decode(doc).unwrap_err(), "Shift_JIS");
        assert_eq!(decode(b"\xFF\xFE<\0a\0/\0>\0").unwrap_err(), "UTF-16");
    }

    #[test]
    fn entities_are_decoded_and_bare_ampersands_kept() {
        assert_eq!(unescape("a &amp; b &lt;c&gt; &#65;&#x42;"), "a & b <c> AB");
        assert_eq!(unescape("/x.asp?a=1&b=2&c"), "/x.asp?a=1&b=2&c");
        assert_eq!(
            unescape("&nbsp;&#xD800;&#99999999;"),
            "&nbsp;&#xD800;&#99999999;"
        );
    }
}
