//! How well do the SIP message libraries on crates.io read the RFC 4475 torture messages?
//!
//! For every candidate and every file of `../shared/testdata/rfc4475/` (or the directory given
//! as the first argument) this asks two questions:
//!
//! - *frame*: does the library's own message parser accept the datagram?
//! - *core*: does it also give the typed headers a transaction layer cannot do without: the
//!   top Via (sent-by and branch), From and To (URI and tag), Call-ID and CSeq (number and
//!   method)? This is what a user agent needs before it can even answer 400, so it is the
//!   figure that decides.
//!
//! A valid message (RFC 4475 section 3.1.1) should pass both; an invalid one (3.1.2) should
//! fail at least *core* (the RFC does not expect every defect to be caught by a parser; the
//! element's own checks catch the rest). The time is the mean of *core* over all 49 files,
//! measured over many rounds. Run with `cargo run --release`.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The classes of the README of the test data.
const VALID: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];
const INVALID: &[&str] = &[
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
];

type Parse = fn(&[u8]) -> Result<(), String>;

struct Candidate {
    name: &'static str,
    frame: Parse,
    core: Parse,
}

fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            name: "ezk-sip-types 0.6.5",
            frame: ezk::frame,
            core: ezk::core,
        },
        Candidate {
            name: "rsip 0.4.0",
            frame: rsip_::frame,
            core: rsip_::core,
        },
        Candidate {
            name: "rsipstack 0.7.14 (sip module)",
            frame: rsipstack_::frame,
            core: rsipstack_::core,
        },
        Candidate {
            name: "rvoip-sip-core 0.4.0",
            frame: rvoip::frame,
            core: rvoip::core,
        },
        Candidate {
            name: "rsiprtp 0.4.1 (sip module)",
            frame: rsiprtp_::frame,
            core: rsiprtp_::core,
        },
        Candidate {
            name: "deskphone-sip `inspect` (ezk-sip-types + own checks)",
            frame: ours,
            core: ours,
        },
    ]
}

/// The end result: accepted means handed on; rejected means answered with an error status or
/// dropped. The 4 invalid messages RFC 4475 lets an element accept liberally (lwsstart, trws,
/// escruri, baddate) are accepted on purpose, and 9 of the other 17 are meant to be answered
/// with 400/406/415/416/420/483 (tests/rfc4475.rs checks each status).
fn ours(data: &[u8]) -> Result<(), String> {
    match deskphone_sip::inspect(data) {
        deskphone_sip::Verdict::Request(_) | deskphone_sip::Verdict::Response(_) => Ok(()),
        deskphone_sip::Verdict::Reject(r) => Err(format!("{} {}", r.status, r.problem)),
        deskphone_sip::Verdict::Drop(p) => Err(p),
    }
}

mod ezk {
    use bytes::Bytes;
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    /// The library has no one-call message parser; this is how its own transport layer
    /// (ezk-sip-core) assembles a datagram: lines, start line, raw headers, Content-Length.
    fn parse(data: &[u8]) -> Result<(MessageLine, Headers), String> {
        let buffer = Bytes::copy_from_slice(data);
        let mut lines = PullParser::new(&buffer, 0);
        let mut start = None;
        let mut headers = Headers::new();
        for line in &mut lines {
            let line = line.map_err(|_| "incomplete head".to_string())?;
            let line = std::str::from_utf8(line).map_err(|e| e.to_string())?;
            if start.is_none() {
                let (_, l) = MessageLine::parse(&buffer)(line).map_err(|e| e.to_string())?;
                start = Some(l);
            } else {
                let (_, l) = Line::parse(&buffer, line).map_err(|e| e.to_string())?;
                headers.insert(l.name, l.value);
            }
        }
        let head_end = lines.head_end();
        if let Some(len) = headers.try_get_named::<ContentLength>() {
            let len = len.map_err(|e| e.to_string())?;
            if buffer.len() < head_end + len.0 {
                return Err("body shorter than Content-Length".into());
            }
        }
        Ok((start.ok_or("no start line")?, headers))
    }

    pub fn frame(data: &[u8]) -> Result<(), String> {
        parse(data).map(|_| ())
    }

    pub fn core(data: &[u8]) -> Result<(), String> {
        let (_, h) = parse(data)?;
        let vias = h.get_named::<Vec<Via>>().map_err(|e| e.to_string())?;
        let top = vias.first().ok_or("no Via")?;
        let _ = (&top.sent_by, top.params.get_val("branch"));
        let from: FromTo = h.get(Name::FROM).map_err(|e| e.to_string())?;
        let to: FromTo = h.get(Name::TO).map_err(|e| e.to_string())?;
        let _ = (from.tag, to.tag, from.uri, to.uri);
        h.get_named::<CallID>().map_err(|e| e.to_string())?;
        h.get_named::<CSeq>().map_err(|e| e.to_string())?;
        Ok(())
    }
}

mod rsip_ {
    use rsip::prelude::*;

    pub fn frame(data: &[u8]) -> Result<(), String> {
        rsip::SipMessage::try_from(data)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn core(data: &[u8]) -> Result<(), String> {
        let m = rsip::SipMessage::try_from(data).map_err(|e| e.to_string())?;
        let via = m.via_header().map_err(|e| e.to_string())?;
        let via = via.typed().map_err(|e| e.to_string())?;
        let _ = via.branch();
        m.from_header()
            .and_then(|h| h.typed())
            .map_err(|e| e.to_string())?;
        m.to_header()
            .and_then(|h| h.typed())
            .map_err(|e| e.to_string())?;
        m.call_id_header().map_err(|e| e.to_string())?;
        m.cseq_header()
            .and_then(|h| h.typed())
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

mod rsipstack_ {
    use rsipstack::sip::prelude::*;
    use rsipstack::sip::SipMessage;

    pub fn frame(data: &[u8]) -> Result<(), String> {
        SipMessage::try_from(data)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn core(data: &[u8]) -> Result<(), String> {
        let m = SipMessage::try_from(data).map_err(|e| e.to_string())?;
        let check = |via: Result<(), rsipstack::sip::Error>| via.map_err(|e| e.to_string());
        match &m {
            SipMessage::Request(r) => check(core_of(r))?,
            SipMessage::Response(r) => check(core_of(r))?,
        }
        Ok(())
    }

    fn core_of<M: HeadersExt>(m: &M) -> Result<(), rsipstack::sip::Error> {
        let via = m.via_header()?.typed()?;
        let _ = via.branch();
        m.from_header()?.typed()?;
        m.to_header()?.typed()?;
        m.call_id_header()?;
        m.cseq_header()?.typed()?;
        Ok(())
    }
}

mod rvoip {
    use rvoip_sip_core::{parse_message, Message};

    pub fn frame(data: &[u8]) -> Result<(), String> {
        parse_message(data).map(|_| ()).map_err(|e| e.to_string())
    }

    pub fn core(data: &[u8]) -> Result<(), String> {
        let m = parse_message(data).map_err(|e| e.to_string())?;
        let ok = match &m {
            Message::Request(r) => {
                r.first_via().is_some()
                    && r.from().is_some()
                    && r.to().is_some()
                    && r.call_id().is_some()
                    && r.cseq().is_some()
            }
            Message::Response(r) => {
                r.first_via().is_some()
                    && r.from().is_some()
                    && r.to().is_some()
                    && r.call_id().is_some()
                    && r.cseq().is_some()
            }
        };
        if ok {
            Ok(())
        } else {
            Err("a core header is missing or untyped".into())
        }
    }
}

mod rsiprtp_ {
    use rsiprtp::sip::SipMessage;

    pub fn frame(data: &[u8]) -> Result<(), String> {
        SipMessage::parse(data)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn core(data: &[u8]) -> Result<(), String> {
        let m = SipMessage::parse(data).map_err(|e| e.to_string())?;
        let e = |e: rsiprtp::core::Error| e.to_string();
        if let Some(r) = m.as_request() {
            r.via_branch().map_err(e)?;
            r.from_tag_and_uri().map_err(e)?;
            r.to_uri().map_err(e)?;
            r.call_id().map_err(e)?;
            r.cseq().map_err(e)?;
            r.cseq_method().map_err(e)?;
        } else if let Some(r) = m.as_response() {
            r.via_branch().map_err(e)?;
            r.from_tag().map_err(e)?;
            r.call_id().map_err(e)?;
            r.cseq().map_err(e)?;
            r.cseq_method().map_err(e)?;
        }
        Ok(())
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/testdata/rfc4475")
        });
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    println!("{} files from {}", files.len(), dir.display());
    let verbose = std::env::var_os("VERBOSE").is_some();

    println!(
        "\n| library | valid parsed (frame / core) | invalid rejected (frame / core) | other 17 parsed (core) | time per message |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for c in candidates() {
        let (mut vf, mut vc, mut iff, mut ic, mut oc) = (0, 0, 0, 0, 0);
        for (name, data) in &files {
            // A candidate that panics on a torture message counts as failing it.
            let frame = std::panic::catch_unwind(|| (c.frame)(data))
                .unwrap_or_else(|_| Err("panicked".into()));
            let core = std::panic::catch_unwind(|| (c.core)(data))
                .unwrap_or_else(|_| Err("panicked".into()));
            if VALID.contains(&name.as_str()) {
                vf += frame.is_ok() as u32;
                vc += core.is_ok() as u32;
            } else if INVALID.contains(&name.as_str()) {
                iff += frame.is_err() as u32;
                ic += core.is_err() as u32;
            } else {
                oc += core.is_ok() as u32;
            }
            if verbose {
                eprintln!(
                    "{:30} {:12} frame {:5} core {}",
                    c.name,
                    name,
                    frame.is_ok(),
                    match &core {
                        Ok(()) => "ok".to_string(),
                        Err(e) => e.chars().take(90).collect(),
                    }
                );
            }
        }
        let rounds = 300;
        let start = Instant::now();
        for _ in 0..rounds {
            for (_, data) in &files {
                let _ = std::hint::black_box(
                    std::panic::catch_unwind(|| (c.core)(std::hint::black_box(data))).is_ok(),
                );
            }
        }
        let per = start.elapsed() / (rounds * files.len() as u32);
        println!(
            "| {} | {vf} / {vc} of {} | {iff} / {ic} of {} | {oc} of {} | {:.1} µs |",
            c.name,
            VALID.len(),
            INVALID.len(),
            files.len() - VALID.len() - INVALID.len(),
            per.as_secs_f64() * 1e6
        );
    }
}
