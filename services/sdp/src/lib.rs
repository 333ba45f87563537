//! SDP offer/answer (RFC 3264 over RFC 4566) for the phone's audio calls.
//!
//! The crate is sans-IO: no sockets, no clock, no threads. The SIP core hands
//! it SDP text and the phone's settings, and gets back SDP text to send plus a
//! [`Negotiated`] value saying what mediad must do (codec, payload types, far
//! end's RTP address, directions, DTMF mode, comfort noise). The only state is
//! [`LocalSession`], the phone's `o=` identity for one call, which the caller
//! keeps beside the dialog.
//!
//! - [`offer`] builds an INVITE / re-INVITE body (also used for hold/resume).
//! - [`answer`] answers a received offer, or fails with an [`SdpError`] that
//!   becomes a 488 (or 400 for [`SdpError::Malformed`]).
//! - [`accept_answer`] reads the answer to our offer.
//! - [`is_hold`] tells whether a received offer puts us on hold.
//!
//! Parsing and printing of the SDP lines is done by `sdp-types`, which keeps
//! attributes as plain name/value strings: the audio-specific meaning
//! (`rtpmap`, `fmtp`, `ptime`, direction) is read here, leniently, because the
//! SDP comes from the network and from PBXs of every age. Nothing here panics
//! on any input (there is a proptest for that).
//!
//! ```
//! use deskphone_sdp::{accept_answer, offer, Direction, LocalSession, MediaSettings};
//!
//! let settings = MediaSettings::default();
//! let mut session = LocalSession::new(4242, "phone", "192.0.2.20");
//! let ours = offer(&mut session, &settings, "192.0.2.20", 16384, Direction::SendRecv);
//! let their_answer = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\n\
//!                     t=0 0\r\nm=audio 7000 RTP/AVP 8\r\n";
//! let media = accept_answer(&settings, &ours, their_answer).unwrap();
//! assert_eq!(media.payload_type, 8);
//! assert_eq!(media.remote_rtp, Some("192.0.2.9:7000".parse().unwrap()));
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sdp_types::{AddrType, Attribute, Connection, Media, NetType, Origin, Session, Time};

/// Clock rate of every codec the phone speaks, and of the telephone-event we accept.
pub const CLOCK_RATE: u32 = 8000;

/// DTMF payload type used when `dtmf_avt_payload` is out of the dynamic range.
pub const DEFAULT_DTMF_PAYLOAD: u8 = 101;

/// The static payload type of RFC 3389 comfort noise at 8000 Hz (RFC 3551).
pub const CN_PAYLOAD_TYPE: u8 = 13;

/// Session name (`s=`) we send; Cisco phones say the same.
const SESSION_NAME: &str = "SIP Call";

/// Audio codecs the phone speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.729 (annex A; annex B, its own VAD and comfort noise, only with
    /// [`MediaSettings::comfort_noise`]).
    G729,
}

impl Codec {
    /// All codecs, in the default offer order.
    pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::G729];

    /// Static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G729 => 18,
        }
    }

    /// Encoding name as written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G729 => "G729",
        }
    }

    /// Clock rate (8000 for all of them).
    pub fn clock_rate(self) -> u32 {
        CLOCK_RATE
    }

    /// Value of the configuration guide's `preferred_codec` (`g711ulaw`,
    /// `g711alaw`, `g729a`; `g729` too). `none` and unknown values give `None`.
    pub fn from_config(value: &str) -> Option<Codec> {
        let value = value.trim();
        [
            ("g711ulaw", Codec::Pcmu),
            ("g711alaw", Codec::Pcma),
            ("g729a", Codec::G729),
            ("g729", Codec::G729),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, codec)| codec)
    }

    /// Codec for an `a=rtpmap` encoding name, case-insensitively. `G729A` is
    /// accepted because some gateways write it so.
    pub fn from_encoding_name(name: &str) -> Option<Codec> {
        let name = name.trim();
        [
            ("PCMU", Codec::Pcmu),
            ("PCMA", Codec::Pcma),
            ("G729", Codec::G729),
            ("G729A", Codec::G729),
        ]
        .into_iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map(|(_, codec)| codec)
    }

    /// Codec of a static payload type without `a=rtpmap`.
    pub fn from_static_payload_type(pt: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.payload_type() == pt)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// Media direction of a stream (RFC 3264 section 5.1), from the point of view
/// of whoever wrote the SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Send and receive (the default when no attribute is given).
    #[default]
    SendRecv,
    /// Send only (the far end holds us when its offer says this).
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// What an answer to an offer with this direction says, at most.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// True when this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True when this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Direction from the two flags.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// What both allow: sending only if both send, receiving only if both receive.
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// The attribute name (`sendrecv`, `sendonly`, `recvonly`, `inactive`).
    pub fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Direction of an attribute name, case-insensitively.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.trim().eq_ignore_ascii_case(d.attribute()))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// DTMF mode of the guide's `dtmf_outofband`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DtmfOutOfBand {
    /// `none`: in-band tones only, telephone-event never offered nor accepted.
    None,
    /// `avt`: RFC 2833 events when the far end has them, in-band otherwise.
    #[default]
    Avt,
    /// `avt_always`: RFC 2833 events when the far end has them, never in-band.
    AvtAlways,
}

impl DtmfOutOfBand {
    /// Value of `dtmf_outofband` (`none`, `avt`, `avt_always`).
    pub fn from_config(value: &str) -> Option<DtmfOutOfBand> {
        let value = value.trim();
        [
            ("none", DtmfOutOfBand::None),
            ("avt", DtmfOutOfBand::Avt),
            ("avt_always", DtmfOutOfBand::AvtAlways),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, mode)| mode)
    }
}

/// What the phone offers and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    /// `preferred_codec` (`None` for "none": the default order).
    pub preferred: Option<Codec>,
    /// G.729 available in this build (mediad's feature); never offered nor
    /// accepted when false.
    pub g729: bool,
    /// `dtmf_avt_payload`, 96..=127, else [`DEFAULT_DTMF_PAYLOAD`] is used.
    pub dtmf_payload: u8,
    /// `dtmf_outofband`.
    pub dtmf: DtmfOutOfBand,
    /// Packet time we ask for, in ms (20).
    pub ptime_ms: u32,
    /// `enable_vad`: comfort noise (RFC 3389 `CN`, static payload type
    /// [`CN_PAYLOAD_TYPE`]) is offered and accepted, and G.729 with annex B;
    /// the phone then stops sending speech in silences where the far end
    /// agreed.
    pub comfort_noise: bool,
}

impl Default for MediaSettings {
    /// The guide's defaults; G.729 off because it depends on the build.
    fn default() -> Self {
        MediaSettings {
            preferred: None,
            g729: false,
            dtmf_payload: DEFAULT_DTMF_PAYLOAD,
            dtmf: DtmfOutOfBand::Avt,
            ptime_ms: 20,
            comfort_noise: false,
        }
    }
}

impl MediaSettings {
    /// Codecs in the order we offer them: preferred first, then PCMU, PCMA,
    /// G.729 (only when available).
    pub fn codec_order(&self) -> Vec<Codec> {
        let mut order = Vec::with_capacity(3);
        order.extend(self.preferred);
        order.extend(
            Codec::ALL
                .into_iter()
                .filter(|c| Some(*c) != self.preferred),
        );
        order.retain(|c| self.supports(*c));
        order
    }

    /// True when we may use this codec.
    pub fn supports(&self, codec: Codec) -> bool {
        codec != Codec::G729 || self.g729
    }

    /// The telephone-event payload type we offer: `dtmf_payload` when it is
    /// dynamic (96..=127), else 101.
    pub fn effective_dtmf_payload(&self) -> u8 {
        if (96..=127).contains(&self.dtmf_payload) {
            self.dtmf_payload
        } else {
            DEFAULT_DTMF_PAYLOAD
        }
    }

    /// Our ptime, kept in a range every codec frames well (10..=60 ms).
    fn effective_ptime(&self) -> u32 {
        valid_ptime(self.ptime_ms).unwrap_or(20)
    }

    /// Whether we send in-band DTMF given the negotiated telephone-event.
    fn inband_dtmf(&self, telephone_event: Option<u8>) -> bool {
        match self.dtmf {
            DtmfOutOfBand::None => true,
            DtmfOutOfBand::Avt => telephone_event.is_none(),
            DtmfOutOfBand::AvtAlways => false,
        }
    }
}

/// One side's session identity, kept for the whole call: the `o=` line's
/// session id and version. The version is bumped each time an SDP we send
/// differs from the previous one we sent, and kept when it is identical
/// (RFC 3264 section 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSession {
    session_id: u64,
    version: u64,
    username: String,
    address: String,
    /// Our last SDP with the version left out, to tell whether the next differs.
    last: Option<String>,
}

impl LocalSession {
    /// New identity; `address` is the phone's IP (an `IpAddr` or a string)
    /// for the `o=` line. The first SDP gets version 0.
    pub fn new(session_id: u64, username: &str, address: impl ToString) -> LocalSession {
        // o= fields are space separated: a username with spaces would break it.
        let username: String = username
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        LocalSession {
            session_id,
            version: 0,
            username: if username.is_empty() {
                "-".into()
            } else {
                username
            },
            address: address.to_string().trim().to_string(),
            last: None,
        }
    }

    /// The `o=` session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The `o=` version of the last SDP built (or of the next one if none yet).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Changes the `o=` address (the phone's IP changed); the next SDP then
    /// differs and gets a new version.
    pub fn set_address(&mut self, address: impl ToString) {
        self.address = address.to_string().trim().to_string();
    }

    /// Prints `sdp` with our origin, bumping the version if it differs from
    /// the last one we printed.
    fn render(&mut self, mut sdp: Session) -> String {
        sdp.origin = Origin {
            username: Some(self.username.clone()),
            sess_id: self.session_id.to_string(),
            sess_version: 0,
            nettype: NetType::In,
            addrtype: addr_type(&self.address),
            unicast_address: self.address.clone(),
        };
        let key = write_sdp(&sdp);
        if self.last.as_ref().is_some_and(|last| *last != key) {
            self.version = self.version.wrapping_add(1);
        }
        self.last = Some(key);
        sdp.origin.sess_version = self.version;
        write_sdp(&sdp)
    }
}

/// The result of a negotiation: what mediad must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Codec to send and receive.
    pub codec: Codec,
    /// Payload type to send it with (the far end's number for it).
    pub payload_type: u8,
    /// The far end's telephone-event payload type, if both sides use it.
    pub telephone_event: Option<u8>,
    /// Where to send RTP; `None` when `c=` is 0.0.0.0 (old-style hold).
    pub remote_rtp: Option<SocketAddr>,
    /// What we do: `SendOnly` means we send but don't receive, etc.
    pub local_direction: Direction,
    /// What the far end does; a `c=0.0.0.0` far end counts as not receiving.
    pub remote_direction: Direction,
    /// Packet time to send with: the far end's `a=ptime` if usable, else ours.
    pub ptime_ms: u32,
    /// Whether to send DTMF in-band (false when telephone-event is used, and
    /// always false with `avt_always`).
    pub send_inband_dtmf: bool,
    /// The far end's comfort-noise payload type when both sides agreed on
    /// RFC 3389 CN: only then are silences sent as SID packets instead of
    /// speech.
    pub comfort_noise: Option<u8>,
    /// G.729 with annex B (the codec's own VAD and SID frames): we asked for it
    /// (`comfort_noise`) and the far end did not say `annexb=no`.
    pub g729_annexb: bool,
}

/// Why an SDP could not be used. The text fits a 488/400 reason and the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not parseable as SDP (→ 400 or 488).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// No `m=audio` line at all.
    #[error("no audio stream")]
    NoAudio,
    /// Audio offered only over a transport we don't do (e.g. RTP/SAVP).
    #[error("unsupported audio transport {0}")]
    UnsupportedTransport(String),
    /// No codec both sides have.
    #[error("no common audio codec (offered formats: {offered})")]
    NoCommonCodec {
        /// The audio formats the other side listed, for the log.
        offered: String,
    },
    /// The answer rejected our audio stream (port 0).
    #[error("audio stream rejected by the far end")]
    AudioRejected,
    /// No `c=` line for the audio stream.
    #[error("no connection address for the audio stream")]
    MissingConnection,
    /// `c=` with something that is not an IP address (we don't resolve names).
    #[error("unsupported connection address {0}")]
    UnsupportedAddress(String),
}

/// Builds an offer (INVITE or re-INVITE): an audio m= line on `port` with
/// `address` in `c=`, the codecs in [`MediaSettings::codec_order`], comfort
/// noise (`CN`, payload 13) with [`MediaSettings::comfort_noise`],
/// telephone-event unless DTMF is `None`, `a=ptime` and `a=<direction>`.
/// The text has CRLF line ends.
pub fn offer(
    session: &mut LocalSession,
    settings: &MediaSettings,
    address: &str,
    port: u16,
    direction: Direction,
) -> String {
    let codecs: Vec<(Codec, u8)> = settings
        .codec_order()
        .into_iter()
        .map(|c| (c, c.payload_type()))
        .collect();
    let telephone_event =
        (settings.dtmf != DtmfOutOfBand::None).then(|| settings.effective_dtmf_payload());
    let audio = audio_media(
        port,
        "RTP/AVP",
        &AudioLine {
            codecs: &codecs,
            telephone_event,
            comfort_noise: settings.comfort_noise.then_some(CN_PAYLOAD_TYPE),
            g729_annexb: settings.comfort_noise,
            ptime: settings.effective_ptime(),
            direction,
        },
    );
    session.render(our_session(address, vec![audio]))
}

/// Answers a received offer (RFC 3264 section 6): takes the first codec of the
/// offer's first usable `m=audio` that we support (the offerer's preference
/// wins), telephone-event with the offer's payload type when we do DTMF, and
/// direction = reversed offer direction intersected with `direction` (SendRecv
/// normally, SendOnly when we hold). Every other m= line is rejected with port 0,
/// keeping the order. Errors (→ 488) when no audio codec is common or the offer
/// is malformed.
pub fn answer(
    session: &mut LocalSession,
    settings: &MediaSettings,
    offer: &str,
    address: &str,
    port: u16,
    direction: Direction,
) -> Result<(String, Negotiated), SdpError> {
    let remote = parse(offer)?;
    if !remote.medias.iter().any(is_audio) {
        return Err(SdpError::NoAudio);
    }

    // The first audio stream we can take; remember why others failed, for the error.
    let mut first_error = None;
    let mut chosen = None;
    for (index, media) in remote.medias.iter().enumerate() {
        if !is_audio(media) || media.port == 0 {
            continue;
        }
        match pick_offered(settings, &remote, media) {
            Ok(pick) => {
                chosen = Some((index, pick));
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((chosen_index, pick)) = chosen else {
        // Only disabled audio streams (port 0) gives no error yet: say no audio.
        return Err(first_error.unwrap_or(SdpError::NoAudio));
    };

    let local_direction = pick.remote_direction.reversed().intersect(direction);
    // One codec only: the far end then cannot switch codecs mid-call, which
    // mediad does not follow.
    let codecs = [(pick.codec, pick.payload_type)];
    let medias = remote
        .medias
        .iter()
        .enumerate()
        .map(|(index, media)| {
            if index == chosen_index {
                audio_media(
                    port,
                    &media.proto,
                    &AudioLine {
                        codecs: &codecs,
                        telephone_event: pick.telephone_event,
                        comfort_noise: pick.comfort_noise,
                        g729_annexb: pick.g729_annexb,
                        ptime: settings.effective_ptime(),
                        direction: local_direction,
                    },
                )
            } else {
                rejected_media(media)
            }
        })
        .collect();
    let text = session.render(our_session(address, medias));

    let negotiated = Negotiated {
        codec: pick.codec,
        payload_type: pick.payload_type,
        telephone_event: pick.telephone_event,
        remote_rtp: pick.remote_rtp,
        local_direction,
        remote_direction: pick.remote_direction,
        ptime_ms: pick.ptime.unwrap_or(settings.effective_ptime()),
        send_inband_dtmf: settings.inband_dtmf(pick.telephone_event),
        comfort_noise: pick.comfort_noise,
        g729_annexb: pick.g729_annexb,
    };
    Ok((text, negotiated))
}

/// Reads the answer to our offer. `our_offer` is the text we sent, so that the
/// codec taken is one we offered (answer codecs we never offered are ignored,
/// to get along with UAs that answer with their whole list).
pub fn accept_answer(
    settings: &MediaSettings,
    our_offer: &str,
    answer: &str,
) -> Result<Negotiated, SdpError> {
    let ours = parse(our_offer).map_err(|e| match e {
        SdpError::Malformed(why) => SdpError::Malformed(format!("our offer: {why}")),
        other => other,
    })?;
    let remote = parse(answer)?;

    let (our_index, our_audio) = ours
        .medias
        .iter()
        .enumerate()
        .find(|(_, m)| is_audio(m) && m.port != 0)
        .ok_or(SdpError::NoAudio)?;
    // The answer's m= lines match the offer's one for one; fall back on its
    // first audio line for UAs that drop rejected lines.
    let media = remote
        .medias
        .get(our_index)
        .filter(|m| is_audio(m))
        .or_else(|| remote.medias.iter().find(|m| is_audio(m)))
        .ok_or(SdpError::NoAudio)?;
    if media.port == 0 {
        return Err(SdpError::AudioRejected);
    }

    let offered: Vec<Format> = formats(our_audio).collect();
    let offered_codec = |codec: Codec| {
        settings.supports(codec)
            && offered
                .iter()
                .any(|f| matches!(f.kind, FormatKind::Codec(c) if c == codec))
    };
    let offered_events = offered.iter().any(|f| f.kind == FormatKind::TelephoneEvent);
    let offered_cn = offered.iter().any(|f| f.kind == FormatKind::ComfortNoise);

    let answered: Vec<Format> = formats(media).collect();
    let (codec, payload_type) = answered
        .iter()
        .find_map(|f| match f.kind {
            FormatKind::Codec(c) if offered_codec(c) => Some((c, f.pt)),
            _ => None,
        })
        .ok_or_else(|| SdpError::NoCommonCodec {
            offered: describe_formats(&answered),
        })?;
    let telephone_event = if settings.dtmf != DtmfOutOfBand::None && offered_events {
        answered
            .iter()
            .find(|f| f.kind == FormatKind::TelephoneEvent)
            .map(|f| f.pt)
    } else {
        None
    };

    let comfort_noise = if settings.comfort_noise && offered_cn {
        answered
            .iter()
            .find(|f| f.kind == FormatKind::ComfortNoise && f.pt != payload_type)
            .map(|f| f.pt)
            .filter(|pt| Some(*pt) != telephone_event)
    } else {
        None
    };
    // Annex B only when we asked for it (our offer's fmtp) and the answer did
    // not turn it down.
    let g729_annexb = codec == Codec::G729
        && settings.comfort_noise
        && offered
            .iter()
            .any(|f| f.kind == FormatKind::Codec(Codec::G729) && annexb(our_audio, f.pt))
        && annexb(media, payload_type);

    let (remote_rtp, remote_direction) = remote_endpoint(&remote, media)?;
    let our_direction = media_direction(&ours, our_audio);
    Ok(Negotiated {
        codec,
        payload_type,
        telephone_event,
        remote_rtp,
        local_direction: remote_direction.reversed().intersect(our_direction),
        remote_direction,
        ptime_ms: remote_ptime(&remote, media).unwrap_or(settings.effective_ptime()),
        send_inband_dtmf: settings.inband_dtmf(telephone_event),
        comfort_noise,
        g729_annexb,
    })
}

/// True when a received offer puts us on hold: its audio stream is
/// `a=sendonly` or `a=inactive` (media level, else session level), or its
/// `c=` is 0.0.0.0 (RFC 2543 hold, still sent by old PBXs). False for
/// anything unparseable or without audio.
pub fn is_hold(offer: &str) -> bool {
    let Ok(sdp) = parse(offer) else {
        return false;
    };
    let Some(media) = sdp.medias.iter().find(|m| is_audio(m) && m.port != 0) else {
        return false;
    };
    let direction = media_direction(&sdp, media);
    let unspecified = connection(&sdp, media)
        .and_then(|c| connection_ip(c).ok())
        .is_some_and(|ip| ip.is_unspecified());
    matches!(direction, Direction::SendOnly | Direction::Inactive) || unspecified
}

// ---------------------------------------------------------------------------
// Reading

fn parse(text: &str) -> Result<Session, SdpError> {
    Session::parse(text.trim_start().as_bytes()).map_err(|e| SdpError::Malformed(e.to_string()))
}

fn is_audio(media: &Media) -> bool {
    media.media.eq_ignore_ascii_case("audio")
}

/// What one payload type of an m= line is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatKind {
    Codec(Codec),
    TelephoneEvent,
    /// RFC 3389 comfort noise at 8000 Hz.
    ComfortNoise,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Format {
    pt: u8,
    kind: FormatKind,
}

/// The payload types of an m= line in their order, classified by rtpmap
/// (name case-insensitive, clock 8000, mono) or, without one, by static number.
fn formats(media: &Media) -> impl Iterator<Item = Format> + '_ {
    media
        .fmt
        .split_whitespace()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter(|pt| *pt <= 127)
        .map(move |pt| {
            let kind = match rtpmap(media, pt) {
                Some((name, clock, channels)) if clock == CLOCK_RATE && channels <= 1 => {
                    if name.eq_ignore_ascii_case("telephone-event") {
                        FormatKind::TelephoneEvent
                    } else if name.eq_ignore_ascii_case("CN") {
                        FormatKind::ComfortNoise
                    } else {
                        Codec::from_encoding_name(name).map_or(FormatKind::Other, FormatKind::Codec)
                    }
                }
                Some(_) => FormatKind::Other,
                None if pt == CN_PAYLOAD_TYPE => FormatKind::ComfortNoise,
                None => {
                    Codec::from_static_payload_type(pt).map_or(FormatKind::Other, FormatKind::Codec)
                }
            };
            Format { pt, kind }
        })
}

fn describe_formats(formats: &[Format]) -> String {
    let names: Vec<String> = formats
        .iter()
        .map(|f| match f.kind {
            FormatKind::TelephoneEvent => format!("{} telephone-event", f.pt),
            FormatKind::ComfortNoise => format!("{} CN", f.pt),
            FormatKind::Codec(codec) => format!("{} {codec}", f.pt),
            FormatKind::Other => f.pt.to_string(),
        })
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `a=rtpmap:<pt> <name>/<clock>[/<channels>]` for `pt`: (name, clock, channels
/// or 0 when absent). Unparseable rtpmaps count as absent.
fn rtpmap(media: &Media, pt: u8) -> Option<(&str, u32, u32)> {
    attribute_values(&media.attributes, "rtpmap").find_map(|value| {
        let (number, encoding) = value.trim().split_once(char::is_whitespace)?;
        if number.parse::<u8>().ok()? != pt {
            return None;
        }
        let mut parts = encoding.trim().split('/');
        let name = parts.next()?.trim();
        let clock = parts.next()?.trim().parse().ok()?;
        let channels = match parts.next() {
            Some(c) => c.trim().parse().ok()?,
            None => 0,
        };
        Some((name, clock, channels))
    })
}

/// Whether the `a=fmtp` of G.729 payload `pt` allows annex B: anything but
/// `annexb=no` (RFC 4856: "yes" when the parameter is left out).
fn annexb(media: &Media, pt: u8) -> bool {
    !attribute_values(&media.attributes, "fmtp").any(|value| {
        let Some((number, params)) = value.trim().split_once(char::is_whitespace) else {
            return false;
        };
        number.parse::<u8>().ok() == Some(pt)
            && params.split(';').any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("annexb") && v.trim().eq_ignore_ascii_case("no")
                })
            })
    })
}

fn attribute_values<'a>(
    attributes: &'a [Attribute],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    attributes
        .iter()
        .filter(move |a| a.attribute.trim().eq_ignore_ascii_case(name))
        .filter_map(|a| a.value.as_deref())
}

fn direction_attribute(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::from_attribute(&a.attribute))
}

/// Media-level direction wins over session-level; sendrecv by default.
fn media_direction(sdp: &Session, media: &Media) -> Direction {
    direction_attribute(&media.attributes)
        .or_else(|| direction_attribute(&sdp.attributes))
        .unwrap_or_default()
}

/// Media-level c= wins over session-level.
fn connection<'a>(sdp: &'a Session, media: &'a Media) -> Option<&'a Connection> {
    media.connections.first().or(sdp.connection.as_ref())
}

/// The IP of a c= line, ignoring a multicast `/ttl` or `/count` suffix.
fn connection_ip(conn: &Connection) -> Result<IpAddr, SdpError> {
    let address = conn.connection_address.trim();
    let ip = address.split('/').next().unwrap_or_default();
    ip.parse()
        .map_err(|_| SdpError::UnsupportedAddress(address.to_string()))
}

fn valid_ptime(ptime: u32) -> Option<u32> {
    ((10..=60).contains(&ptime) && ptime.is_multiple_of(10)).then_some(ptime)
}

/// The far end's a=ptime (media level, else session level), if usable.
fn remote_ptime(sdp: &Session, media: &Media) -> Option<u32> {
    attribute_values(&media.attributes, "ptime")
        .chain(attribute_values(&sdp.attributes, "ptime"))
        .find_map(|v| v.trim().parse().ok())
        .and_then(valid_ptime)
}

/// Where to send RTP and the far end's direction, with c=0.0.0.0 meaning
/// that it does not receive (RFC 2543 hold).
fn remote_endpoint(
    sdp: &Session,
    media: &Media,
) -> Result<(Option<SocketAddr>, Direction), SdpError> {
    let conn = connection(sdp, media).ok_or(SdpError::MissingConnection)?;
    let ip = connection_ip(conn)?;
    let direction = media_direction(sdp, media);
    if ip.is_unspecified() {
        Ok((None, Direction::from_flags(direction.sends(), false)))
    } else {
        let rtp = (media.port != 0).then(|| SocketAddr::new(ip, media.port));
        Ok((rtp, direction))
    }
}

/// What we take from an offered audio stream.
struct Pick {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    remote_rtp: Option<SocketAddr>,
    remote_direction: Direction,
    ptime: Option<u32>,
    comfort_noise: Option<u8>,
    g729_annexb: bool,
}

fn pick_offered(settings: &MediaSettings, sdp: &Session, media: &Media) -> Result<Pick, SdpError> {
    // Plain RTP only: SRTP (SAVP) needs keys we don't have; AVPF is AVP plus
    // feedback we'd not send, so answering it as AVP-compatible is wrong too.
    if !media.proto.trim().eq_ignore_ascii_case("RTP/AVP") {
        return Err(SdpError::UnsupportedTransport(media.proto.clone()));
    }
    let offered: Vec<Format> = formats(media).collect();
    let (codec, payload_type) = offered
        .iter()
        .find_map(|f| match f.kind {
            FormatKind::Codec(c) if settings.supports(c) => Some((c, f.pt)),
            _ => None,
        })
        .ok_or_else(|| SdpError::NoCommonCodec {
            offered: describe_formats(&offered),
        })?;
    let telephone_event = if settings.dtmf == DtmfOutOfBand::None {
        None
    } else {
        offered
            .iter()
            .find(|f| f.kind == FormatKind::TelephoneEvent && f.pt != payload_type)
            .map(|f| f.pt)
    };
    let comfort_noise = if settings.comfort_noise {
        offered
            .iter()
            .find(|f| {
                f.kind == FormatKind::ComfortNoise
                    && f.pt != payload_type
                    && Some(f.pt) != telephone_event
            })
            .map(|f| f.pt)
    } else {
        None
    };
    let g729_annexb = codec == Codec::G729 && settings.comfort_noise && annexb(media, payload_type);
    let (remote_rtp, remote_direction) = remote_endpoint(sdp, media)?;
    Ok(Pick {
        codec,
        payload_type,
        telephone_event,
        remote_rtp,
        remote_direction,
        ptime: remote_ptime(sdp, media),
        comfort_noise,
        g729_annexb,
    })
}

// ---------------------------------------------------------------------------
// Writing

fn addr_type(address: &str) -> AddrType {
    // Only an address that parses as IPv6 is IP6; anything else is written as IP4.
    if address.parse::<std::net::Ipv6Addr>().is_ok() {
        AddrType::Ip6
    } else {
        AddrType::Ip4
    }
}

/// Our session skeleton; the origin is filled by [`LocalSession::render`].
fn our_session(address: &str, medias: Vec<Media>) -> Session {
    let address = address.trim();
    Session {
        origin: Origin {
            username: None,
            sess_id: String::new(),
            sess_version: 0,
            nettype: NetType::In,
            addrtype: AddrType::Ip4,
            unicast_address: String::new(),
        },
        session_name: SESSION_NAME.into(),
        session_description: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(Connection {
            nettype: NetType::In,
            addrtype: addr_type(address),
            connection_address: address.to_string(),
        }),
        bandwidths: Vec::new(),
        times: vec![Time {
            start_time: 0,
            stop_time: 0,
            repeats: Vec::new(),
        }],
        time_zones: Vec::new(),
        key: None,
        attributes: Vec::new(),
        medias,
    }
}

/// What our audio m= line carries.
#[derive(Clone, Copy)]
struct AudioLine<'a> {
    codecs: &'a [(Codec, u8)],
    telephone_event: Option<u8>,
    comfort_noise: Option<u8>,
    g729_annexb: bool,
    ptime: u32,
    direction: Direction,
}

fn audio_media(port: u16, proto: &str, line: &AudioLine<'_>) -> Media {
    let AudioLine {
        codecs,
        telephone_event,
        comfort_noise,
        g729_annexb,
        ptime,
        direction,
    } = *line;
    let mut fmt: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    let mut attributes = Vec::new();
    for (codec, pt) in codecs {
        attributes.push(Attribute {
            attribute: "rtpmap".into(),
            value: Some(format!("{pt} {}/{CLOCK_RATE}", codec.encoding_name())),
        });
        if *codec == Codec::G729 {
            // RFC 4856 says a missing annexb means yes: always say which.
            let yes_no = if g729_annexb { "yes" } else { "no" };
            attributes.push(Attribute {
                attribute: "fmtp".into(),
                value: Some(format!("{pt} annexb={yes_no}")),
            });
        }
    }
    if let Some(pt) = comfort_noise {
        fmt.push(pt.to_string());
        attributes.push(Attribute {
            attribute: "rtpmap".into(),
            value: Some(format!("{pt} CN/{CLOCK_RATE}")),
        });
    }
    if let Some(pt) = telephone_event {
        fmt.push(pt.to_string());
        attributes.push(Attribute {
            attribute: "rtpmap".into(),
            value: Some(format!("{pt} telephone-event/{CLOCK_RATE}")),
        });
        attributes.push(Attribute {
            attribute: "fmtp".into(),
            value: Some(format!("{pt} 0-15")),
        });
    }
    attributes.push(Attribute {
        attribute: "ptime".into(),
        value: Some(ptime.to_string()),
    });
    attributes.push(Attribute {
        attribute: direction.attribute().into(),
        value: None,
    });
    Media {
        media: "audio".into(),
        port,
        num_ports: None,
        proto: proto.trim().to_string(),
        fmt: fmt.join(" "),
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes,
    }
}

/// A rejected stream: same media, proto and formats, port 0 (RFC 3264 section 6).
fn rejected_media(media: &Media) -> Media {
    let fmt = if media.fmt.trim().is_empty() {
        "0".to_string()
    } else {
        media.fmt.trim().to_string()
    };
    Media {
        media: media.media.trim().to_string(),
        port: 0,
        num_ports: None,
        proto: media.proto.trim().to_string(),
        fmt,
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

fn write_sdp(sdp: &Session) -> String {
    let mut out = Vec::with_capacity(512);
    // Writing to a Vec cannot fail.
    let _ = sdp.write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
