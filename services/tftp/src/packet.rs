//! Wire format of the TFTP packets a read client sends and receives
//! (RFC 1350 section 5, RFC 2347 OACK).

pub(crate) const OP_RRQ: u16 = 1;
pub(crate) const OP_WRQ: u16 = 2;
pub(crate) const OP_DATA: u16 = 3;
pub(crate) const OP_ACK: u16 = 4;
pub(crate) const OP_ERROR: u16 = 5;
pub(crate) const OP_OACK: u16 = 6;

/// TFTP error codes (RFC 1350 appendix, RFC 2347).
pub(crate) mod code {
    pub(crate) const FILE_NOT_FOUND: u16 = 1;
    pub(crate) const DISK_FULL: u16 = 3;
    pub(crate) const ILLEGAL_OPERATION: u16 = 4;
    pub(crate) const UNKNOWN_TID: u16 = 5;
    pub(crate) const OPTION_NEGOTIATION: u16 = 8;
}

/// A decoded packet; borrowed from the datagram so DATA is never copied twice.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// RRQ or WRQ: a server never sends these to a client.
    Request,
    Data {
        block: u16,
        payload: &'a [u8],
    },
    Ack {
        block: u16,
    },
    Error {
        code: u16,
        message: String,
    },
    /// The raw option list; decoded by [`parse_options`] only when an OACK is expected.
    Oack {
        body: &'a [u8],
    },
}

impl Packet<'_> {
    /// Short name for error messages (never the payload).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Packet::Request => "RRQ/WRQ",
            Packet::Data { .. } => "DATA",
            Packet::Ack { .. } => "ACK",
            Packet::Error { .. } => "ERROR",
            Packet::Oack { .. } => "OACK",
        }
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Decodes a datagram; `None` means garbage (too short or unknown opcode).
pub(crate) fn parse(d: &[u8]) -> Option<Packet<'_>> {
    if d.len() < 2 {
        return None;
    }
    let rest = &d[2..];
    match be16(d) {
        OP_RRQ | OP_WRQ => Some(Packet::Request),
        OP_DATA if rest.len() >= 2 => Some(Packet::Data {
            block: be16(rest),
            payload: &rest[2..],
        }),
        OP_ACK if rest.len() >= 2 => Some(Packet::Ack { block: be16(rest) }),
        OP_ERROR if rest.len() >= 2 => {
            // Lenient: a missing NUL terminator still yields the message, since the
            // error is what matters to the caller.
            let text = &rest[2..];
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            Some(Packet::Error {
                code: be16(rest),
                message: String::from_utf8_lossy(&text[..end]).into_owned(),
            })
        }
        OP_OACK => Some(Packet::Oack { body: rest }),
        _ => None,
    }
}

/// Splits an OACK body into (lower-case name, value) pairs.
/// `None` if it is not a sequence of NUL-terminated name/value strings.
pub(crate) fn parse_options(body: &[u8]) -> Option<Vec<(String, String)>> {
    if body.is_empty() {
        return Some(Vec::new());
    }
    let inner = body.strip_suffix(&[0])?;
    let fields: Vec<&[u8]> = inner.split(|&b| b == 0).collect();
    if !fields.len().is_multiple_of(2) {
        return None;
    }
    fields
        .chunks(2)
        .map(|pair| {
            let name = std::str::from_utf8(pair[0]).ok()?.to_ascii_lowercase();
            let value = std::str::from_utf8(pair[1]).ok()?.to_owned();
            Some((name, value))
        })
        .collect()
}

/// Parses an option value: plain ASCII decimal digits only (no sign, no blanks).
pub(crate) fn parse_number(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// RRQ in octet mode with the given options (RFC 2347 section "Packet Format").
pub(crate) fn rrq(filename: &str, options: &[(&str, String)]) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + filename.len() + 7 + options.len() * 16);
    p.extend_from_slice(&OP_RRQ.to_be_bytes());
    p.extend_from_slice(filename.as_bytes());
    p.push(0);
    p.extend_from_slice(b"octet\0");
    for (name, value) in options {
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(value.as_bytes());
        p.push(0);
    }
    p
}

pub(crate) fn ack(block: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(4);
    p.extend_from_slice(&OP_ACK.to_be_bytes());
    p.extend_from_slice(&block.to_be_bytes());
    p
}

pub(crate) fn error(code: u16, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(5 + message.len());
    p.extend_from_slice(&OP_ERROR.to_be_bytes());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(message.as_bytes());
    p.push(0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_layout() {
        let p = rrq("dir/SIPDefault.cnf", &[("blksize", "1428".into())]);
        assert_eq!(p, b"\x00\x01dir/SIPDefault.cnf\0octet\0blksize\x001428\0");
    }

    #[test]
    fn parse_known_packets() {
        assert_eq!(
            parse(b"\x00\x03\x01\x02abc"),
            Some(Packet::Data {
                block: 0x0102,
                payload: b"abc"
            })
        );
        assert_eq!(
            parse(b"\x00\x04\xff\xff"),
            Some(Packet::Ack { block: 0xffff })
        );
        assert_eq!(
            parse(b"\x00\x05\x00\x01nope\0"),
            Some(Packet::Error {
                code: 1,
                message: "nope".into()
            })
        );
        assert_eq!(
            parse(b"\x00\x05\x00\x02unterminated"),
            Some(Packet::Error {
                code: 2,
                message: "unterminated".into()
            })
        );
        assert_eq!(parse(b"\x00\x01x\0octet\0"), Some(Packet::Request));
        assert_eq!(parse(b"\x00\x06"), Some(Packet::Oack { body: b"" }));
    }

    #[test]
    fn parse_garbage() {
        for g in [
            &b""[..],
            b"\x00",
            b"\x00\x03\x00",
            b"\x00\x04",
            b"\x00\x05\x00",
            b"\x00\x07",
            b"\xff\xff",
        ] {
            assert_eq!(parse(g), None, "{g:?}");
        }
    }

    #[test]
    fn options() {
        assert_eq!(
            parse_options(b"BlkSize\x00512\0tsize\x0042\0"),
            Some(vec![
                ("blksize".into(), "512".into()),
                ("tsize".into(), "42".into())
            ])
        );
        assert_eq!(parse_options(b""), Some(vec![]));
        assert_eq!(parse_options(b"blksize\x00512"), None, "unterminated");
        assert_eq!(parse_options(b"blksize\0"), None, "name without value");
        assert_eq!(parse_options(b"\xff\x001\0"), None, "not UTF-8");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1428"), Some(1428));
        assert_eq!(parse_number("0"), Some(0));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x10",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }
}
