//! The wire format: requests the client builds and replies it reads, on top of
//! `dhcproto`.
//!
//! Replies are sifted before `dhcproto` 0.14 reads them, because of three
//! properties of its decoder:
//! * it reads option 150 as a single address (RFC 5859 and Cisco allow a
//!   list), and
//! * it stops reading options at the first one it cannot decode, so an
//!   eight-byte option 150 (dnsmasq sends it before 66, 15, 6 and 3) would
//!   hide the rest;
//! * some of its option decoders (bulk lease query, client FQDN, ...) assert
//!   on the length a server sends, which panics in debug builds.
//!
//! [`parse_reply`] therefore walks the raw options itself, takes option 150
//! out, and overwrites every option the client does not read with pad bytes;
//! `dhcproto` decodes the header and the options that remain.

use std::net::Ipv4Addr;

use dhcproto::v4::{
    Decodable, Decoder, DhcpOption, Encodable, Flags, Message, MessageType, Opcode, OptionCode,
};

/// Options the client asks for, in this order (option 55).
pub(crate) const PARAMETER_REQUEST_LIST: [u8; 10] = [1, 3, 6, 15, 28, 51, 58, 59, 66, 150];

/// What the client is willing to receive (option 57): a full Ethernet frame's
/// IP datagram.
pub(crate) const MAX_MESSAGE_SIZE: u16 = 1500;

const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// op .. file: everything before the magic cookie.
const FIXED_HEADER_LEN: usize = 236;
const OPTIONS_START: usize = FIXED_HEADER_LEN + MAGIC_COOKIE.len();
/// BOOTP relays may drop shorter messages (RFC 1542 section 2.1).
const MIN_REQUEST_LEN: usize = 300;
const HLEN_AT: usize = 2;
const CHADDR_START: usize = 28;
const BOOTREPLY: u8 = 2;
const TFTP_SERVER_ADDRESS: u8 = 150;
/// The options `dhcproto` is asked to decode: the ones [`Reply`] holds.
const DECODED_OPTIONS: [u8; 11] = [1, 3, 6, 15, 28, 51, 53, 54, 58, 59, 66];
const PAD: u8 = 0;
const END: u8 = 255;

/// The fields of a request that differ between DISCOVER, the REQUEST variants
/// and RELEASE.
pub(crate) struct Request<'a> {
    pub kind: MessageType,
    pub xid: u32,
    pub secs: u16,
    pub mac: [u8; 6],
    pub client_id: &'a [u8],
    /// `None` for RELEASE, which carries no host name.
    pub hostname: Option<&'a str>,
    /// ciaddr: set when the client owns the address (RENEWING, REBINDING,
    /// RELEASE), which also means the server may answer by unicast.
    pub client_address: Option<Ipv4Addr>,
    /// Option 50.
    pub requested_address: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
}

/// Encodes `request`, padded to the BOOTP minimum of 300 bytes.
pub(crate) fn encode_request(request: &Request<'_>) -> Vec<u8> {
    let mut msg = Message::new_with_id(
        request.xid,
        request.client_address.unwrap_or(Ipv4Addr::UNSPECIFIED),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &request.mac,
    );
    msg.set_opcode(Opcode::BootRequest).set_secs(request.secs);
    // Without an address the client can only receive broadcasts.
    if request.client_address.is_none() {
        msg.set_flags(Flags::default().set_broadcast());
    }
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(request.kind));
    opts.insert(DhcpOption::ClientIdentifier(request.client_id.to_vec()));
    if let Some(hostname) = request.hostname {
        opts.insert(DhcpOption::Hostname(hostname.to_owned()));
    }
    if let Some(address) = request.requested_address {
        opts.insert(DhcpOption::RequestedIpAddress(address));
    }
    if let Some(server) = request.server_id {
        opts.insert(DhcpOption::ServerIdentifier(server));
    }
    if request.kind != MessageType::Release {
        opts.insert(DhcpOption::ParameterRequestList(
            PARAMETER_REQUEST_LIST
                .iter()
                .map(|&code| OptionCode::from(code))
                .collect(),
        ));
        opts.insert(DhcpOption::MaxMessageSize(MAX_MESSAGE_SIZE));
    }
    // Writing into a Vec cannot fail for the option sizes `Config::validate`
    // allows; an empty datagram would be dropped by any server anyway.
    let mut bytes = msg.to_vec().unwrap_or_default();
    if bytes.len() < MIN_REQUEST_LEN {
        bytes.resize(MIN_REQUEST_LEN, PAD);
    }
    bytes
}

/// Why a datagram is not a usable DHCP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    TooShort,
    NotAReply,
    BadCookie,
    Undecodable,
    NoMessageType,
}

/// A decoded BOOTREPLY: the header fields and options the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub kind: MessageType,
    pub xid: u32,
    pub chaddr: [u8; 6],
    pub hlen: u8,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub server_id: Option<Ipv4Addr>,
    pub subnet_mask: Option<Ipv4Addr>,
    pub routers: Vec<Ipv4Addr>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub domain_name: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
    pub lease_secs: Option<u32>,
    pub renewal_secs: Option<u32>,
    pub rebinding_secs: Option<u32>,
    pub tftp_server_name: Option<String>,
    pub tftp_servers: Vec<Ipv4Addr>,
}

/// Decodes a datagram received on port 68.
pub(crate) fn parse_reply(bytes: &[u8]) -> Result<Reply, Malformed> {
    if bytes.len() < OPTIONS_START {
        return Err(Malformed::TooShort);
    }
    if bytes[0] != BOOTREPLY {
        return Err(Malformed::NotAReply);
    }
    if bytes[FIXED_HEADER_LEN..OPTIONS_START] != MAGIC_COOKIE {
        return Err(Malformed::BadCookie);
    }
    let (sifted, tftp_servers) = sift_options(bytes);
    let msg = Message::decode(&mut Decoder::new(&sifted)).map_err(|_| Malformed::Undecodable)?;
    let kind = msg.opts().msg_type().ok_or(Malformed::NoMessageType)?;
    // Read from the raw bytes: `Message::chaddr` slices by the untrusted hlen
    // and panics when it exceeds 16.
    let mut chaddr = [0u8; 6];
    chaddr.copy_from_slice(&bytes[CHADDR_START..CHADDR_START + 6]);
    let mut reply = Reply {
        kind,
        xid: msg.xid(),
        chaddr,
        hlen: bytes[HLEN_AT],
        yiaddr: msg.yiaddr(),
        siaddr: msg.siaddr(),
        server_id: None,
        subnet_mask: None,
        routers: Vec::new(),
        dns_servers: Vec::new(),
        domain_name: None,
        broadcast: None,
        lease_secs: None,
        renewal_secs: None,
        rebinding_secs: None,
        tftp_server_name: None,
        tftp_servers,
    };
    for (_, option) in msg.opts().iter() {
        match option {
            DhcpOption::ServerIdentifier(a) => reply.server_id = Some(*a),
            DhcpOption::SubnetMask(m) => reply.subnet_mask = Some(*m),
            DhcpOption::Router(list) => reply.routers = list.clone(),
            DhcpOption::DomainNameServer(list) => reply.dns_servers = list.clone(),
            DhcpOption::DomainName(name) => reply.domain_name = text(name.as_bytes()),
            DhcpOption::BroadcastAddr(a) => reply.broadcast = Some(*a),
            DhcpOption::AddressLeaseTime(s) => reply.lease_secs = Some(*s),
            DhcpOption::Renewal(s) => reply.renewal_secs = Some(*s),
            DhcpOption::Rebinding(s) => reply.rebinding_secs = Some(*s),
            DhcpOption::TFTPServerName(name) => reply.tftp_server_name = text(name),
            _ => {}
        }
    }
    Ok(reply)
}

/// Text options may carry trailing NULs and surrounding blanks; an empty
/// result is no value.
fn text(bytes: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_owned())
}

/// Returns `bytes` with every option but [`DECODED_OPTIONS`] replaced by pad
/// bytes, and the addresses option 150 held (its instances concatenated
/// first, as RFC 3396 says for a split option; a length that is not a
/// multiple of four voids it). A truncated option ends the walk and is left
/// for `dhcproto` to refuse.
fn sift_options(bytes: &[u8]) -> (Vec<u8>, Vec<Ipv4Addr>) {
    let mut cleaned = bytes.to_vec();
    let mut data = Vec::new();
    let mut i = OPTIONS_START;
    while i < bytes.len() {
        let code = bytes[i];
        if code == PAD {
            i += 1;
            continue;
        }
        if code == END || i + 1 >= bytes.len() {
            break;
        }
        let end = i + 2 + usize::from(bytes[i + 1]);
        if end > bytes.len() {
            break;
        }
        if code == TFTP_SERVER_ADDRESS {
            data.extend_from_slice(&bytes[i + 2..end]);
        }
        if !DECODED_OPTIONS.contains(&code) {
            cleaned[i..end].fill(PAD);
        }
        i = end;
    }
    let servers = if data.len() % 4 == 0 {
        data.chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect()
    } else {
        Vec::new()
    };
    (cleaned, servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6];

    fn discover() -> Vec<u8> {
        encode_request(&Request {
            kind: MessageType::Discover,
            xid: 0x1234_5678,
            secs: 3,
            mac: MAC,
            client_id: &[1, 0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6],
            hostname: Some("SIP003094C2D5E6"),
            client_address: None,
            requested_address: None,
            server_id: None,
        })
    }

    #[test]
    fn discover_is_a_broadcast_bootrequest_with_the_phone_options() {
        let bytes = discover();
        assert!(bytes.len() >= MIN_REQUEST_LEN);
        let msg = Message::decode(&mut Decoder::new(&bytes)).unwrap();
        assert_eq!(msg.opcode(), Opcode::BootRequest);
        assert_eq!(msg.xid(), 0x1234_5678);
        assert_eq!(msg.secs(), 3);
        assert!(msg.flags().broadcast());
        assert_eq!(&msg.chaddr()[..6], &MAC);
        assert_eq!(msg.hlen(), 6);
        let opts = msg.opts();
        assert_eq!(opts.msg_type(), Some(MessageType::Discover));
        assert_eq!(
            opts.get(OptionCode::Hostname),
            Some(&DhcpOption::Hostname("SIP003094C2D5E6".into()))
        );
        let Some(DhcpOption::ParameterRequestList(prl)) =
            opts.get(OptionCode::ParameterRequestList)
        else {
            panic!("no parameter request list");
        };
        let codes: Vec<u8> = prl.iter().map(|&c| u8::from(c)).collect();
        for wanted in [1, 3, 6, 15, 28, 66, 150] {
            assert!(codes.contains(&wanted), "option {wanted} not requested");
        }
    }

    /// A reply with the options given as raw (code, value) pairs.
    pub(crate) fn reply_bytes(kind: u8, xid: u32, raw_options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; OPTIONS_START];
        b[0] = BOOTREPLY;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&xid.to_be_bytes());
        b[16..20].copy_from_slice(&[10, 0, 0, 50]);
        b[20..24].copy_from_slice(&[10, 0, 0, 69]);
        b[28..34].copy_from_slice(&MAC);
        b[FIXED_HEADER_LEN..OPTIONS_START].copy_from_slice(&MAGIC_COOKIE);
        b.extend_from_slice(&[53, 1, kind]);
        for (code, value) in raw_options {
            b.push(*code);
            b.push(value.len() as u8);
            b.extend_from_slice(value);
        }
        b.push(END);
        b
    }

    #[test]
    fn option_150_list_does_not_hide_the_options_after_it() {
        let bytes = reply_bytes(
            2,
            7,
            &[
                (150, &[10, 0, 0, 11, 10, 0, 0, 12]),
                (3, &[10, 0, 0, 1, 10, 0, 0, 2]),
                (66, b"tftp.example.test\0"),
                (54, &[10, 0, 0, 1]),
            ],
        );
        // The library alone loses everything after the eight-byte option 150.
        let plain = Message::decode(&mut Decoder::new(&bytes)).unwrap();
        assert!(plain.opts().get(OptionCode::Router).is_none());

        let reply = parse_reply(&bytes).unwrap();
        assert_eq!(reply.kind, MessageType::Offer);
        assert_eq!(
            reply.tftp_servers,
            [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)]
        );
        assert_eq!(
            reply.routers,
            [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
        assert_eq!(reply.tftp_server_name.as_deref(), Some("tftp.example.test"));
        assert_eq!(reply.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(reply.siaddr, Ipv4Addr::new(10, 0, 0, 69));
    }

    #[test]
    fn split_option_150_is_concatenated_and_a_ragged_one_is_void() {
        let split = reply_bytes(
            5,
            7,
            &[
                (150, &[10, 0, 0, 11]),
                (1, &[255; 4]),
                (150, &[10, 0, 0, 12]),
            ],
        );
        assert_eq!(
            parse_reply(&split).unwrap().tftp_servers,
            [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)]
        );
        let ragged = reply_bytes(5, 7, &[(150, &[10, 0, 0, 11, 10]), (1, &[255; 4])]);
        let reply = parse_reply(&ragged).unwrap();
        assert!(reply.tftp_servers.is_empty());
        assert_eq!(reply.subnet_mask, Some(Ipv4Addr::BROADCAST));
    }

    #[test]
    fn options_the_client_does_not_read_are_not_decoded() {
        // A bulk-lease-query option of the wrong length trips an assertion in
        // `dhcproto`'s decoder (in debug builds); a client FQDN shorter than
        // three bytes underflows there.
        let bytes = reply_bytes(
            5,
            7,
            &[
                (155, &[1, 2]),
                (81, &[1]),
                (54, &[10, 0, 0, 1]),
                (150, &[10, 0, 0, 11]),
            ],
        );
        let reply = parse_reply(&bytes).unwrap();
        assert_eq!(reply.server_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(reply.tftp_servers, [Ipv4Addr::new(10, 0, 0, 11)]);
    }

    #[test]
    fn hardware_address_length_over_16_is_read_without_panicking() {
        // `dhcproto`'s `Message::chaddr` would slice past its 16-byte array.
        let mut bytes = reply_bytes(2, 7, &[(54, &[10, 0, 0, 1])]);
        bytes[HLEN_AT] = 200;
        let reply = parse_reply(&bytes).unwrap();
        assert_eq!((reply.hlen, reply.chaddr), (200, MAC));
    }

    proptest::proptest! {
        /// A well-formed header followed by any option bytes decodes or is
        /// refused, never panics, and option 150 never yields a partial
        /// address.
        #[test]
        fn any_options_area_is_handled(
            options in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            hlen in proptest::prelude::any::<u8>(),
        ) {
            let mut bytes = reply_bytes(2, 7, &[]);
            bytes.truncate(OPTIONS_START);
            bytes[HLEN_AT] = hlen;
            bytes.extend_from_slice(&options);
            if let Ok(reply) = parse_reply(&bytes) {
                proptest::prop_assert_eq!(reply.hlen, hlen);
            }
        }
    }

    #[test]
    fn requests_and_short_or_foreign_datagrams_are_malformed_replies() {
        assert_eq!(parse_reply(&discover()), Err(Malformed::NotAReply));
        assert_eq!(parse_reply(&[2; 100]), Err(Malformed::TooShort));
        let mut bad_cookie = reply_bytes(2, 7, &[]);
        bad_cookie[FIXED_HEADER_LEN] = 0;
        assert_eq!(parse_reply(&bad_cookie), Err(Malformed::BadCookie));
        let mut no_type = reply_bytes(2, 7, &[]);
        no_type.truncate(OPTIONS_START);
        no_type.push(END);
        assert_eq!(parse_reply(&no_type), Err(Malformed::NoMessageType));
    }
}
