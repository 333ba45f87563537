//! The XML files of the TFTP tree that provd reads: syncinfo.xml and the dial plan.
//!
//! Both are read forgivingly: typographic quotes (the guide prints them in its syncinfo
//! example) are read as straight quotes, and problems become diagnostics.

use deskphone_config::Diagnostic;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One `<IMAGE VERSION="..." SYNC="..."/>` entry of syncinfo.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEntry {
    pub version: String,
    pub sync: String,
}

/// Parses syncinfo.xml; entries with a missing attribute are skipped and reported.
pub fn parse_syncinfo(file: &str, data: &[u8]) -> (Vec<SyncEntry>, Vec<Diagnostic>) {
    let mut entries = Vec::new();
    let mut diags = Vec::new();
    let text = straighten_quotes(file, data, &mut diags);
    let mut problems = Vec::new();
    walk_elements(file, &text, &mut diags, |e, line| {
        if !e.name().as_ref().eq_ignore_ascii_case(b"IMAGE") {
            return;
        }
        match (attr(e, "VERSION"), attr(e, "SYNC")) {
            (Some(version), Some(sync)) => {
                if sync.chars().count() > 32 {
                    problems.push(Diagnostic::warning(
                        file,
                        line,
                        "SYNC is longer than 32 characters",
                    ));
                }
                entries.push(SyncEntry { version, sync });
            }
            _ => problems.push(Diagnostic::warning(
                file,
                line,
                "IMAGE needs both VERSION and SYNC; entry ignored",
            )),
        }
    });
    diags.extend(problems);
    if entries.is_empty() {
        diags.push(Diagnostic::warning(
            file,
            0,
            "no <IMAGE VERSION=\"...\" SYNC=\"...\"/> entry; check-sync never reboots",
        ));
    }
    (entries, diags)
}

/// What a check-sync decides (the guide's steps a to e).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncDecision {
    /// Reboot, and remember `sync` as the phone's new synchronisation value.
    Reboot {
        sync: String,
        matched: String,
    },
    Nothing {
        reason: String,
    },
}

/// Steps a-e: the entry for the running image, else a `*` entry; reboot when its SYNC
/// differs from the phone's `sync` value.
pub fn decide_sync(
    entries: &[SyncEntry],
    running_image: &str,
    current_sync: Option<&str>,
) -> SyncDecision {
    let entry = entries
        .iter()
        .find(|e| e.version == running_image)
        .or_else(|| entries.iter().find(|e| e.version == "*"));
    let Some(entry) = entry else {
        return SyncDecision::Nothing {
            reason: format!("syncinfo.xml lists neither {running_image} nor *"),
        };
    };
    if Some(entry.sync.as_str()) == current_sync {
        SyncDecision::Nothing {
            reason: format!("sync value {} unchanged", entry.sync),
        }
    } else {
        SyncDecision::Reboot {
            sync: entry.sync.clone(),
            matched: entry.version.clone(),
        }
    }
}

/// Checks a dial plan file (deskphone-dialplan reads it: root, rules, patterns, Timeout, User,
/// Rewrite). Returns the number of usable rules.
pub fn check_dialplan(file: &str, data: &[u8]) -> (usize, Vec<Diagnostic>) {
    // The same reader the phone dials with: what the lint reports is what the phone does.
    let (plan, diags) = deskphone_dialplan::DialPlan::parse(file, data);
    (plan.templates.len(), diags)
}

/// Calls `f` with every start or empty element and its line; XML that is not well-formed ends
/// the walk with a warning (what came before it still counts).
fn walk_elements(
    file: &str,
    text: &str,
    diags: &mut Vec<Diagnostic>,
    mut f: impl FnMut(&BytesStart<'_>, u32),
) {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                f(&e, line_at(text, reader.buffer_position() as usize))
            }
            Ok(Event::Eof) => break,
            Err(e) => {
                let line = line_at(text, reader.error_position() as usize);
                diags.push(Diagnostic::warning(
                    file,
                    line,
                    format!("not well-formed XML: {e}"),
                ));
                break;
            }
            Ok(_) => {}
        }
    }
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

fn straighten_quotes(file: &str, data: &[u8], diags: &mut Vec<Diagnostic>) -> String {
    let text = String::from_utf8_lossy(data);
    if text.contains(['\u{201C}', '\u{201D}']) {
        let line = line_at(&text, text.find(['\u{201C}', '\u{201D}']).unwrap_or(0));
        diags.push(Diagnostic::warning(
            file,
            line,
            "typographic quotes read as plain quotes",
        ));
        text.replace(['\u{201C}', '\u{201D}'], "\"")
    } else {
        text.into_owned()
    }
}

fn line_at(text: &str, pos: usize) -> u32 {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(xml: &str) -> Vec<SyncEntry> {
        parse_syncinfo("syncinfo.xml", xml.as_bytes()).0
    }

    #[test]
    fn syncinfo_with_several_images_and_a_wildcard() {
        let e = entries(
            r#"<SYNCINFO><IMAGE VERSION="A" SYNC="2"/><IMAGE VERSION="*" SYNC="5"/></SYNCINFO>"#,
        );
        assert_eq!(e.len(), 2);
        // a: the running image is listed -> c: its sync differs -> e: reboot.
        assert_eq!(
            decide_sync(&e, "A", Some("1")),
            SyncDecision::Reboot {
                sync: "2".into(),
                matched: "A".into()
            }
        );
        // c -> d: same sync, nothing.
        assert!(matches!(
            decide_sync(&e, "A", Some("2")),
            SyncDecision::Nothing { .. }
        ));
        // b: not listed, wildcard present -> c -> e.
        assert_eq!(
            decide_sync(&e, "B", Some("2")),
            SyncDecision::Reboot {
                sync: "5".into(),
                matched: "*".into()
            }
        );
        // b -> d: no wildcard.
        let e = entries(r#"<IMAGE VERSION="A" SYNC="2"/>"#);
        assert!(matches!(
            decide_sync(&e, "B", Some("1")),
            SyncDecision::Nothing { .. }
        ));
    }

    #[test]
    fn the_guides_typographic_quotes_are_read() {
        let (e, d) = parse_syncinfo(
            "syncinfo.xml",
            "<IMAGE VERSION=\u{201D}*\u{201D} SYNC=\u{201D}3\u{201D}/>".as_bytes(),
        );
        assert_eq!(
            e,
            vec![SyncEntry {
                version: "*".into(),
                sync: "3".into()
            }]
        );
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn broken_syncinfo_is_reported_not_fatal() {
        let (e, d) = parse_syncinfo(
            "syncinfo.xml",
            b"<IMAGE VERSION=\"A\" SYNC=\"1\"/>\n<IMAGE VERSION=\"B\"/>\n<IMAGE",
        );
        assert_eq!(e.len(), 1);
        assert!(d.iter().any(|d| d.line == 2));
        assert!(d.iter().any(|d| d.message.contains("well-formed")));
        let (e, d) = parse_syncinfo("syncinfo.xml", b"\x00\xff garbage");
        assert!(e.is_empty() && !d.is_empty());
    }

    #[test]
    fn dialplan_checks() {
        let (n, d) = check_dialplan(
            "dialplan.xml",
            br#"<DIALTEMPLATE>
  <TEMPLATE MATCH="1..." Timeout="0" User="Phone"/>
  <TEMPLATE MATCH="*" Timeout="5"/>
</DIALTEMPLATE>"#,
        );
        assert_eq!((n, d.len()), (2, 0));
        let (n, d) = check_dialplan(
            "dialplan.xml",
            b"<DIALTEMPLATE><TEMPLATE Timeout=\"1\"/></DIALTEMPLATE>",
        );
        assert_eq!(n, 0);
        assert_eq!(d.len(), 2);
        let (_, d) = check_dialplan(
            "dialplan.xml",
            b"<DIALTEMPLATE><TEMPLATE MATCH=\"1\"></DIALTEMPLATE>",
        );
        assert!(d.iter().any(|d| d.message.contains("well-formed")));
    }
}
