//! Calls: INVITE dialogs (RFC 3261 sections 12-15) with SDP offer/answer (RFC 3264, through
//! deskphone-sdp), the incoming-call policies of the guide, and hold. Sans-IO like the rest:
//! [`Calls`] is driven by the [`UserAgent`](crate::UserAgent), which hands it the endpoint
//! (to send through) and the lines (who we are), and reports [`CallEvent`]s.
//!
//! - Outgoing: INVITE with an offer to the line's proxy (or the outbound proxy), digest
//!   challenges answered with the line's credentials, 18x gives ringback (early media when
//!   it carries SDP), 2xx is acknowledged (again for each retransmission), 3xx-6xx end the
//!   call with the reason. `timer_invite_expires` is sent in Expires and also bounds how long
//!   the phone waits before it cancels by itself.
//! - Incoming: the policies decide first (`dnd_control` 480, `anonymous_call_block` 433,
//!   `call_waiting` off and a call up 486, too many calls 486); a call that gets through is
//!   answered 180 and rings until [`Calls::answer`], CANCEL (487) or its Expires. Our 2xx is
//!   retransmitted until the ACK comes (RFC 3261 section 13.3.1.4); without ACK the call is
//!   ended with BYE. An INVITE without SDP gets our offer in the 2xx and the answer in the ACK.
//! - In the dialog: BYE either way; re-INVITE either way for hold (a=sendonly) and resume;
//!   491 when both ends re-INVITE at once; OPTIONS/INFO answered 200, other methods 501.
//! - Identity: `callerid_blocking` sends "Anonymous" in From (RFC 3323 style, with
//!   Privacy: id); `remote_party_id` adds Remote-Party-ID to what we send and prefers the
//!   peer's Remote-Party-ID over From for the displayed caller.
//!
//! Media ports are handed out here, even numbers from `start_media_port` to `end_media_port`
//! in turn (RTCP takes the next odd one); mediad binds them once it exists.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskphone_sdp::{
    accept_answer, answer as sdp_answer, is_hold, offer as sdp_offer, Codec, Direction,
    DtmfOutOfBand, LocalSession, MediaSettings, Negotiated,
};
use ezk_sip_auth::{ClientAuthenticator, DigestAuthenticator};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name};

use crate::config::{LineSettings, Timers};
use crate::message::{response_to, Message, StartLine};
use crate::syntax::{name_addr, split_list};
use crate::transaction::{ClientTx, Endpoint, ServerTx};
use crate::uri;

/// Remote-Party-ID (draft-ietf-sip-privacy-04, as Cisco phones and PBXs use it).
const REMOTE_PARTY_ID: Name = Name::custom("Remote-Party-ID", &["remote-party-id"]);
/// Privacy (RFC 3323).
const PRIVACY: Name = Name::custom("Privacy", &["privacy"]);

/// The methods the phone answers, for Allow.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, INFO";

/// At most this many calls per line (a seventh caller on a line gets 486). Real 7960s keep
/// two per line; six keeps a conference plus consultation possible without unbounded state.
pub const MAX_CALLS_PER_LINE: usize = 6;
/// And at most this many in all.
pub const MAX_CALLS: usize = 12;

/// A call of this phone: the number `phonectl` and the UI use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u32);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Our INVITE is out, nothing heard but 100.
    Calling,
    /// The far end rings (18x).
    Ringback,
    /// An incoming call rings here.
    Ringing,
    Connected,
    /// We put it on hold.
    Held,
    Ended,
}

impl CallState {
    /// The name `phonectl status --json` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Calling => "calling",
            CallState::Ringback => "ringback",
            CallState::Ringing => "ringing",
            CallState::Connected => "connected",
            CallState::Held => "held",
            CallState::Ended => "ended",
        }
    }
}

/// Who is at the other end, as it should be shown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub uri: String,
    /// Display name without quotes.
    pub name: Option<String>,
    /// The user part (the number).
    pub number: Option<String>,
    /// The far end withheld its identity.
    pub anonymous: bool,
}

impl Party {
    /// From a From/To/Remote-Party-ID value.
    pub fn from_header(value: &str) -> Option<Party> {
        let na = name_addr(value).ok()?;
        let name = na
            .display
            .map(|d| d.trim().trim_matches('"').replace("\\\"", "\""))
            .filter(|d| !d.is_empty());
        let number = uri::user(na.uri).map(str::to_string);
        let host = uri::parts(na.uri).map(|p| p.host.to_ascii_lowercase());
        let anonymous = name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("anonymous"))
            || number
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("anonymous"))
            || host.as_deref() == Some("anonymous.invalid")
            || na
                .param("privacy")
                .is_some_and(|p| !p.eq_ignore_ascii_case("off"));
        Some(Party {
            uri: na.uri.to_string(),
            name,
            number,
            anonymous,
        })
    }

    /// "Name <number>", "number", or "Anonymous", for logs and the status.
    pub fn display(&self) -> String {
        if self.anonymous {
            return "Anonymous".into();
        }
        match (&self.name, &self.number) {
            (Some(n), Some(u)) => format!("{n} <{u}>"),
            (None, Some(u)) => u.clone(),
            (Some(n), None) => n.clone(),
            (None, None) => self.uri.clone(),
        }
    }
}

/// The guide's call settings, as they are in effect (0-3 preferences already resolved with
/// the user's toggles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSettings {
    pub media: MediaSettings,
    /// `start_media_port`..=`end_media_port`.
    pub media_ports: (u16, u16),
    /// The address in SDP c= (`nat_address` when NAT is on, else the phone's address).
    pub media_address: String,
    /// `dnd_control` in effect.
    pub dnd: bool,
    /// `call_waiting` in effect.
    pub call_waiting: bool,
    /// `anonymous_call_block` in effect.
    pub anonymous_call_block: bool,
    /// `callerid_blocking` in effect.
    pub callerid_blocking: bool,
    /// `remote_party_id` 1.
    pub remote_party_id: bool,
    /// `outbound_proxy`, resolved: every request of a call goes there.
    pub outbound_proxy: Option<SocketAddr>,
    pub user_agent: String,
    /// `timer_invite_expires`, seconds.
    pub invite_expires: u32,
    /// `cnf_join_enable`: when this phone leaves its conference, the other two stay joined.
    pub conference_join: bool,
    /// `semi_attended_transfer`: a transfer may complete while the target still rings.
    pub semi_attended_transfer: bool,
}

impl CallSettings {
    /// The settings in effect in `c`. `media_address` is the phone's address (ignored when
    /// NAT is on: `nat_address` goes in SDP then); `outbound_proxy` resolved by the shell.
    pub fn from_config(
        c: &deskphone_config::Config,
        media_address: &str,
        outbound_proxy: Option<SocketAddr>,
    ) -> CallSettings {
        let nat = (c.int("nat_enable") == Some(1))
            .then(|| c.text("nat_address").map(str::trim))
            .flatten()
            .filter(|a| !a.is_empty() && a.parse::<std::net::IpAddr>().is_ok());
        let dtmf_payload = c
            .int("dtmf_avt_payload")
            .filter(|p| (96..=127).contains(p))
            .map(|p| p as u8)
            .unwrap_or(101);
        let dtmf = c
            .text("dtmf_outofband")
            .and_then(DtmfOutOfBand::from_config)
            .unwrap_or_default();
        let port = |name, default: u16| {
            c.int(name)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(default)
        };
        let (lo, hi) = (
            port("start_media_port", 16384),
            port("end_media_port", 32766),
        );
        let (lo, hi) = if lo < hi { (lo, hi) } else { (16384, 32766) };
        CallSettings {
            media: MediaSettings {
                preferred: c.text("preferred_codec").and_then(Codec::from_config),
                // Only when mediad says it has G.729 (its libbcg729 feature): sipd sets it.
                g729: false,
                dtmf_payload,
                dtmf,
                ptime_ms: 20,
                // enable_vad: CN offered and accepted, G.729 with annex B.
                comfort_noise: c.int("enable_vad") == Some(1),
            },
            media_ports: (lo, hi),
            media_address: nat.unwrap_or(media_address).to_string(),
            dnd: c.preference("dnd_control").on,
            call_waiting: c.preference("call_waiting").on,
            anonymous_call_block: c.preference("anonymous_call_block").on,
            callerid_blocking: c.preference("callerid_blocking").on,
            remote_party_id: c.int("remote_party_id") == Some(1),
            outbound_proxy,
            user_agent: format!("deskphone/{}", env!("CARGO_PKG_VERSION")),
            invite_expires: c
                .int("timer_invite_expires")
                .filter(|v| *v > 0)
                .map(|v| v.min(86_400) as u32)
                .unwrap_or(180),
            conference_join: c.int("cnf_join_enable") != Some(0),
            semi_attended_transfer: c.int("semi_attended_transfer") != Some(0),
        }
    }
}

/// What the layers above (sipd, then the UI and mediad) must know.
#[derive(Debug, Clone)]
pub enum CallEvent {
    /// A call rings here.
    Incoming {
        call: CallId,
        line: u8,
        remote: Party,
    },
    /// A call changed state.
    State { call: CallId, state: CallState },
    /// Media was negotiated (again): what mediad must send and receive. `early` while the
    /// far end plays ringback or announcements (183).
    Media {
        call: CallId,
        local_port: u16,
        negotiated: Negotiated,
        early: bool,
    },
    /// The far end put us on hold (`true`) or took us off it.
    RemoteHold { call: CallId, held: bool },
    /// The call is over. `missed` for an incoming call nobody answered here.
    Ended {
        call: CallId,
        reason: String,
        missed: bool,
    },
    /// An incoming call refused by a policy (DND, anonymous block, busy): for the missed
    /// calls directory and the log.
    Refused {
        line: u8,
        remote: Party,
        status: u16,
        why: String,
    },
    /// A transfer we started ended: `ok` when the other party reached the target (the call
    /// is then hung up here), otherwise the call stays as it was and `outcome` says why.
    Transfer {
        call: CallId,
        ok: bool,
        outcome: String,
    },
    /// The other party asked us to call `target` (REFER): the new call is `new_call`.
    Referred {
        call: CallId,
        new_call: CallId,
        target: String,
    },
    /// A new call took the place of `replaced` (INVITE with Replaces: an attended transfer
    /// completed by the far ends).
    Replaced { replaced: CallId, by: CallId },
    /// Calls mixed together in a local three-way conference (mediad mixes them).
    Conference { calls: Vec<CallId> },
}

/// How a call leaves the phone when the dial plan says more than the number: its rule's
/// `User=` and `Route=` (the emergency proxy, or a named host, resolved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route {
    /// `;user=phone` or `;user=ip` instead of the line's `user_info`.
    pub user_param: Option<&'static str>,
    /// Where the INVITE and the rest of the call go instead of the line's proxy.
    pub via: Option<SocketAddr>,
}

/// What a call placed by [`Calls::dial_with`] carries beyond the number.
#[derive(Debug, Clone, Default)]
pub(crate) struct DialExtras {
    /// Headers of the initial INVITE only (Replaces, Referred-By).
    pub(crate) headers: Vec<(Name, String)>,
    /// The call whose REFER asked for this one.
    pub(crate) referred_from: Option<CallId>,
    pub(crate) route: Route,
}

/// Who we are on a line, as the user agent knows it.
#[derive(Debug, Clone)]
pub struct LineIdentity {
    pub settings: LineSettings,
    /// Our Contact URI on this line.
    pub contact: String,
    /// Where the line's requests go (the proxy, resolved).
    pub destination: SocketAddr,
    /// `;user=phone` or `;user=ip` for our URIs, else empty.
    pub user_param: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    ReInvite,
    Cancel,
    Bye,
    Refer,
    Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    None,
    Holding,
}

/// Our 2xx to an INVITE, sent again until the ACK comes.
#[derive(Debug, Clone)]
struct PendingOk {
    tx: ServerTx,
    response: Message,
    cseq: u32,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    pub(crate) remote_tag: Option<String>,
    /// Our From/To value without tag.
    pub(crate) local_uri: String,
    pub(crate) remote_uri: String,
    pub(crate) local_cseq: u32,
    pub(crate) remote_cseq: Option<u32>,
    /// The far end's Contact.
    pub(crate) remote_target: String,
    /// Record-Route, in the order our requests carry it.
    pub(crate) route_set: Vec<String>,
}

impl Dialog {
    /// A request inside the dialog (RFC 3261 section 12.2.1.1); without a remote tag yet, the
    /// dialog-creating request itself (To without tag, Request-URI the remote target).
    pub(crate) fn request(&mut self, method: &str) -> Message {
        let d = self;
        d.local_cseq += 1;
        let loose = d
            .route_set
            .first()
            .and_then(|r| name_addr(r).ok().map(|a| uri::param(a.uri, "lr").is_some()))
            .unwrap_or(true);
        let (ruri, routes): (String, Vec<String>) = if loose {
            (d.remote_target.clone(), d.route_set.clone())
        } else {
            // A strict router: its URI becomes the Request-URI, the target goes last.
            let first = name_addr(&d.route_set[0])
                .map(|a| a.uri.to_string())
                .unwrap_or_default();
            let mut rest: Vec<String> = d.route_set[1..].to_vec();
            rest.push(format!("<{}>", d.remote_target));
            (first, rest)
        };
        let mut m = Message::request(method, ruri);
        m.push(Name::FROM, format!("{};tag={}", d.local_uri, d.local_tag));
        m.push(
            Name::TO,
            match &d.remote_tag {
                Some(t) => format!("{};tag={t}", d.remote_uri),
                None => d.remote_uri.clone(),
            },
        );
        m.push(Name::CALL_ID, d.call_id.clone());
        m.push(Name::CSEQ, format!("{} {method}", d.local_cseq));
        m.push(Name::MAX_FORWARDS, "70");
        for r in routes {
            m.push(Name::ROUTE, r);
        }
        m
    }
}

pub(crate) struct Call {
    pub(crate) id: CallId,
    pub(crate) line: u8,
    pub(crate) outgoing: bool,
    pub(crate) state: CallState,
    pub(crate) remote: Party,
    pub(crate) remote_held: bool,
    pub(crate) hold: Hold,
    pub(crate) dialog: Dialog,
    /// Our INVITE (initial or re-INVITE) in flight.
    invite_tx: Option<ClientTx>,
    provisional_seen: bool,
    cancel_wanted: bool,
    /// The far end's INVITE (initial or re-INVITE) we have not answered finally.
    pending_invite: Option<(ServerTx, Message)>,
    pending_ok: Option<PendingOk>,
    /// The ACK for the far end's last 2xx to our INVITE, for its retransmissions.
    last_ack: Option<(u32, Message, SocketAddr)>,
    sdp: LocalSession,
    /// The offer we sent last and still wait an answer to.
    our_offer: Option<String>,
    local_port: u16,
    auth: DigestAuthenticator,
    challenges: u32,
    /// When an unanswered outgoing call is cancelled, or an incoming one stops ringing.
    ring_deadline: Option<Instant>,
    /// Where in-dialog requests go.
    pub(crate) next_hop: SocketAddr,
    /// Headers only the initial INVITE carries (Replaces, Referred-By of a transfer).
    initial_headers: Vec<(Name, String)>,
    /// A transfer of this call we asked for (REFER sent).
    pub(crate) refer: Option<crate::transfer::Refer>,
    /// This call was placed because the far end of that call referred us (REFER received):
    /// its progress is reported there with NOTIFY.
    pub(crate) referred_from: Option<CallId>,
    /// The final response to our INVITE, for the NOTIFY of a referred call that failed.
    pub(crate) last_final: Option<(u16, String)>,
    /// Mixed with other calls in a local conference.
    pub(crate) conference: bool,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.id)
            .field("line", &self.line)
            .field("state", &self.state)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// A call as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub id: CallId,
    pub line: u8,
    pub outgoing: bool,
    pub state: CallState,
    pub remote: Party,
    pub remote_held: bool,
    pub local_port: u16,
    /// Part of a local three-way conference.
    pub conference: bool,
    /// A transfer of this call is under way.
    pub transferring: bool,
}

/// Why a command on a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    NoSuchCall,
    NoSuchLine,
    WrongState(&'static str),
    TooManyCalls,
    BadTarget(String),
    Transaction(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NoSuchCall => f.write_str("no such call"),
            CallError::NoSuchLine => {
                f.write_str("no such line (it needs a lineN_name and a proxy)")
            }
            CallError::WrongState(s) => f.write_str(s),
            CallError::TooManyCalls => f.write_str("too many calls"),
            CallError::BadTarget(t) => write!(f, "cannot call {t}"),
            CallError::Transaction(e) => write!(f, "SIP: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Every call of the user agent.
pub struct Calls {
    pub(crate) settings: CallSettings,
    pub(crate) timers: Timers,
    pub(crate) calls: Vec<Call>,
    next_id: u32,
    next_port: u16,
    pub(crate) client: HashMap<ClientTx, (CallId, Purpose)>,
    pub(crate) events: VecDeque<CallEvent>,
    pub(crate) rng: fastrand::Rng,
    /// NOTIFYs owed to the far end of a call that referred us: (that call, sipfrag status
    /// line, final). Sent by [`Calls::flush`].
    pub(crate) owed_notifies: Vec<(CallId, String, bool)>,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls")
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

fn token(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.alphanumeric()).collect()
}

fn quote(display: &str) -> String {
    format!("\"{}\"", display.replace(['"', '\\'], ""))
}

fn reason_of(m: &Message) -> String {
    match &m.start {
        StartLine::Response { code, reason } => format!("{code} {reason}"),
        StartLine::Request { method, .. } => method.clone(),
    }
}

impl Calls {
    pub fn new(settings: CallSettings, timers: Timers, seed: u64) -> Calls {
        let next_port = settings.media_ports.0;
        Calls {
            settings,
            timers,
            calls: Vec::new(),
            next_id: 0,
            next_port,
            client: HashMap::new(),
            events: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            owed_notifies: Vec::new(),
        }
    }

    pub fn settings(&self) -> &CallSettings {
        &self.settings
    }

    /// New settings (a toggled preference, new codecs): they apply to calls from now on.
    pub fn set_settings(&mut self, settings: CallSettings) {
        if settings.media_ports != self.settings.media_ports {
            self.next_port = settings.media_ports.0;
        }
        self.settings = settings;
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn list(&self) -> Vec<CallInfo> {
        self.calls
            .iter()
            .map(|c| CallInfo {
                id: c.id,
                line: c.line,
                outgoing: c.outgoing,
                state: c.state,
                remote: c.remote.clone(),
                remote_held: c.remote_held,
                local_port: c.local_port,
                conference: c.conference,
                transferring: c.refer.is_some(),
            })
            .collect()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .iter()
            .flat_map(|c| {
                [
                    c.ring_deadline,
                    c.pending_ok.as_ref().map(|p| p.next),
                    c.refer.as_ref().map(|r| r.deadline),
                ]
            })
            .flatten()
            .min()
    }

    fn media_port(&mut self) -> u16 {
        let (lo, hi) = self.settings.media_ports;
        let lo = lo + (lo % 2);
        let in_use: Vec<u16> = self.calls.iter().map(|c| c.local_port).collect();
        let span = u32::from(hi.saturating_sub(lo)) / 2 + 1;
        for _ in 0..span {
            let mut p = self.next_port + (self.next_port % 2);
            if p < lo || p >= hi {
                p = lo;
            }
            self.next_port = p.saturating_add(2);
            if !in_use.contains(&p) {
                return p;
            }
        }
        lo
    }

    pub(crate) fn call_mut(&mut self, id: CallId) -> Result<&mut Call, CallError> {
        self.calls
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(CallError::NoSuchCall)
    }

    pub(crate) fn emit_state(&mut self, id: CallId, state: CallState) {
        self.events.push_back(CallEvent::State { call: id, state });
        // A call placed for a REFER reports its progress to the referrer.
        let referred = self
            .calls
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.referred_from);
        if let (Some(from), CallState::Connected) = (referred, state) {
            self.owed_notifies
                .push((from, "SIP/2.0 200 OK".into(), true));
            if let Ok(c) = self.call_mut(id) {
                c.referred_from = None;
            }
        }
    }

    pub(crate) fn end(&mut self, id: CallId, reason: String) {
        if let Some(i) = self.calls.iter().position(|c| c.id == id) {
            let c = self.calls.remove(i);
            let missed = !c.outgoing && c.state == CallState::Ringing;
            self.client.retain(|_, (call, _)| *call != id);
            if let Some(from) = c.referred_from {
                let (code, reason) = c
                    .last_final
                    .clone()
                    .unwrap_or((503, "Service Unavailable".into()));
                self.owed_notifies
                    .push((from, format!("SIP/2.0 {code} {reason}"), true));
            }
            // The last one left of a conference is an ordinary call again.
            let left: Vec<usize> = (0..self.calls.len())
                .filter(|i| self.calls[*i].conference)
                .collect();
            if left.len() == 1 {
                self.calls[left[0]].conference = false;
            }
            self.events.push_back(CallEvent::State {
                call: id,
                state: CallState::Ended,
            });
            self.events.push_back(CallEvent::Ended {
                call: id,
                reason,
                missed,
            });
        }
    }

    // ---- commands ----

    /// Places a call on `line` to `target`: a number or user (sent to the line's proxy), or a
    /// whole `sip:` URI.
    pub fn dial(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        target: &str,
    ) -> Result<CallId, CallError> {
        self.dial_with(now, ep, line, target, DialExtras::default())
    }

    /// [`Calls::dial`] with headers for the INVITE (Replaces, Referred-By) and the call whose
    /// REFER asked for it.
    pub(crate) fn dial_with(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        target: &str,
        extras: DialExtras,
    ) -> Result<CallId, CallError> {
        let DialExtras {
            headers: initial_headers,
            referred_from,
            route,
        } = extras;
        let mut line = line.clone();
        if let Some(user) = route.user_param {
            line.user_param = user;
        }
        let line = &line;
        let request_uri = crate::transfer::target_uri(line, target)?;
        if self.calls.len() >= MAX_CALLS
            || self
                .calls
                .iter()
                .filter(|c| c.line == line.settings.line)
                .count()
                >= MAX_CALLS_PER_LINE
        {
            return Err(CallError::TooManyCalls);
        }
        let s = &line.settings;
        if uri::parts(&request_uri).is_none() {
            return Err(CallError::BadTarget(target.to_string()));
        }
        let local_uri = if self.settings.callerid_blocking {
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_string()
        } else {
            let aor = format!("sip:{}@{}{}", s.name, s.proxy, line.user_param);
            match &s.display_name {
                Some(d) => format!("{} <{aor}>", quote(d)),
                None => format!("<{aor}>"),
            }
        };
        let host = uri::parts(&line.contact)
            .map(|p| p.host.to_string())
            .unwrap_or_default();
        let id = self.next_call_id();
        // A dial-plan route (the emergency proxy, a named host) comes before the outbound
        // proxy: it was configured for exactly these numbers.
        let next_hop = route
            .via
            .or(self.settings.outbound_proxy)
            .unwrap_or(line.destination);
        let remote = Party::from_header(&format!("<{request_uri}>")).unwrap_or_default();
        let dialog = Dialog {
            call_id: format!("{}@{host}", token(&mut self.rng, 20)),
            local_tag: token(&mut self.rng, 10),
            remote_tag: None,
            local_uri,
            remote_uri: format!("<{request_uri}>"),
            local_cseq: 0,
            remote_cseq: None,
            remote_target: request_uri,
            route_set: Vec::new(),
        };
        let ring = now + Duration::from_secs(u64::from(self.settings.invite_expires));
        let mut call = self.new_call(id, s, CallState::Calling, remote, dialog, ring, next_hop);
        call.initial_headers = initial_headers;
        call.referred_from = referred_from;
        self.calls.push(call);
        if let Err(e) = self.send_invite(now, ep, line, id, Purpose::Invite) {
            self.calls.retain(|c| c.id != id);
            return Err(e);
        }
        self.emit_state(id, CallState::Calling);
        Ok(id)
    }

    /// A call in its first state, everything else still to come.
    #[allow(clippy::too_many_arguments)]
    fn new_call(
        &mut self,
        id: CallId,
        line: &LineSettings,
        state: CallState,
        remote: Party,
        dialog: Dialog,
        ring_deadline: Instant,
        next_hop: SocketAddr,
    ) -> Call {
        Call {
            id,
            line: line.line,
            outgoing: state != CallState::Ringing,
            state,
            remote,
            remote_held: false,
            hold: Hold::None,
            dialog,
            invite_tx: None,
            provisional_seen: false,
            cancel_wanted: false,
            pending_invite: None,
            pending_ok: None,
            last_ack: None,
            sdp: LocalSession::new(
                u64::from(self.rng.u32(..)),
                "-",
                &self.settings.media_address,
            ),
            our_offer: None,
            local_port: self.media_port(),
            auth: crate::register::authenticator(line),
            challenges: 0,
            ring_deadline: Some(ring_deadline),
            next_hop,
            initial_headers: Vec::new(),
            refer: None,
            referred_from: None,
            last_final: None,
            conference: false,
        }
    }

    pub(crate) fn next_call_id(&mut self) -> CallId {
        self.next_id += 1;
        CallId(self.next_id)
    }

    /// Answers a ringing call.
    pub fn answer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
    ) -> Result<(), CallError> {
        let c = self.call_mut(id)?;
        if c.state != CallState::Ringing {
            return Err(CallError::WrongState("the call is not ringing"));
        }
        let (tx, invite) = c
            .pending_invite
            .take()
            .ok_or(CallError::WrongState("the call is not ringing"))?;
        c.ring_deadline = None;
        c.state = CallState::Connected;
        if self.answer_invite(now, ep, line, id, tx, &invite, true)? {
            self.emit_state(id, CallState::Connected);
        }
        Ok(())
    }

    /// Ends a call whatever its state: BYE, CANCEL, or 486/603 for one that rings here.
    pub fn hangup(&mut self, now: Instant, ep: &mut Endpoint, id: CallId) -> Result<(), CallError> {
        let c = self.call_mut(id)?;
        match c.state {
            CallState::Ringing => {
                let (tx, invite) = c.pending_invite.take().ok_or(CallError::NoSuchCall)?;
                let tag = c.dialog.local_tag.clone();
                let r = response_to(&invite, 603, "Decline", &tag);
                let _ = ep.respond(now, tx, r);
                // Declined by the user: seen, so not a missed call.
                c.state = CallState::Ended;
                self.end(id, "declined".into());
            }
            CallState::Calling | CallState::Ringback => {
                c.cancel_wanted = true;
                if c.provisional_seen {
                    self.send_cancel(now, ep, id);
                }
                // The call ends when the INVITE does (487), or now if it never got anywhere.
                let wait = self.timers.t1x64();
                let c = self.call_mut(id)?;
                if c.invite_tx.is_none() {
                    self.end(id, "hung up".into());
                } else {
                    c.ring_deadline = Some(now + wait);
                }
            }
            CallState::Connected | CallState::Held => {
                self.send_bye(now, ep, id);
                self.end(id, "hung up".into());
            }
            CallState::Ended => {}
        }
        Ok(())
    }

    /// Puts a connected call on hold (`true`) or takes it off (`false`): a re-INVITE with
    /// a=sendonly, or a=sendrecv again.
    pub fn hold(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
        hold: bool,
    ) -> Result<(), CallError> {
        let c = self.call_mut(id)?;
        match (c.state, hold) {
            (CallState::Connected, true) | (CallState::Held, false) => {}
            (CallState::Held, true) => return Ok(()),
            (CallState::Connected, false) => return Ok(()),
            _ => return Err(CallError::WrongState("the call is not connected")),
        }
        if c.invite_tx.is_some() || c.pending_invite.is_some() {
            return Err(CallError::WrongState(
                "an offer/answer exchange is still in progress; try again",
            ));
        }
        c.hold = if hold { Hold::Holding } else { Hold::None };
        self.send_invite(now, ep, line, id, Purpose::ReInvite)
    }

    // ---- sending ----

    fn send_invite(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
        purpose: Purpose,
    ) -> Result<(), CallError> {
        let settings = self.settings.clone();
        let c = self.call_mut(id)?;
        let direction = match c.hold {
            Hold::None => Direction::SendRecv,
            Hold::Holding => Direction::SendOnly,
        };
        let body = sdp_offer(
            &mut c.sdp,
            &settings.media,
            &settings.media_address,
            c.local_port,
            direction,
        );
        c.our_offer = Some(body.clone());
        let mut m = c.request("INVITE");
        m.push(Name::CONTACT, format!("<{}>", line.contact));
        m.push(Name::ALLOW, ALLOW);
        m.push(Name::USER_AGENT, settings.user_agent.clone());
        if purpose == Purpose::Invite {
            for (name, value) in &c.initial_headers {
                m.push(name.clone(), value.clone());
            }
            m.push(Name::EXPIRES, settings.invite_expires.to_string());
            if settings.callerid_blocking {
                m.push(PRIVACY, "id");
            }
            if settings.remote_party_id {
                m.push(
                    REMOTE_PARTY_ID,
                    remote_party_id(
                        &line.settings,
                        line.user_param,
                        "calling",
                        settings.callerid_blocking,
                    ),
                );
            }
        }
        m.push(Name::CONTENT_TYPE, "application/sdp");
        m.body = body.into_bytes().into();
        c.auth.authorize_request(&mut m.headers);
        let next_hop = c.next_hop;
        let tx = ep
            .send_request(now, m, next_hop)
            .map_err(|e| CallError::Transaction(e.to_string()))?;
        c.invite_tx = Some(tx);
        c.provisional_seen = false;
        self.client.insert(tx, (id, purpose));
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, ep: &mut Endpoint, id: CallId) {
        let Ok(c) = self.call_mut(id) else { return };
        let Some(invite) = c.invite_tx else { return };
        if let Ok(tx) = ep.send_cancel(now, invite) {
            self.client.insert(tx, (id, Purpose::Cancel));
        }
    }

    pub(crate) fn send_bye(&mut self, now: Instant, ep: &mut Endpoint, id: CallId) {
        let Ok(c) = self.call_mut(id) else { return };
        let mut m = c.request("BYE");
        m.push(Name::USER_AGENT, self.settings.user_agent.clone());
        let c = self.call_mut(id).expect("just found");
        c.auth.authorize_request(&mut m.headers);
        let next_hop = c.next_hop;
        if let Ok(tx) = ep.send_request(now, m, next_hop) {
            self.client.insert(tx, (id, Purpose::Bye));
        }
    }

    /// Sends our 2xx to the far end's INVITE (initial or re-INVITE), with an answer to its
    /// offer or, if it made none, our offer. An offer we cannot take is refused with 488:
    /// that ends a new call (`initial`), and leaves an established one as it was. `Ok(false)`
    /// when it was refused.
    #[allow(clippy::too_many_arguments)]
    fn answer_invite(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        line: &LineIdentity,
        id: CallId,
        tx: ServerTx,
        invite: &Message,
        initial: bool,
    ) -> Result<bool, CallError> {
        let settings = self.settings.clone();
        let t1 = self.timers.t1;
        let give_up = now + self.timers.t1x64();
        let c = self.call_mut(id)?;
        let direction = match c.hold {
            Hold::None => Direction::SendRecv,
            Hold::Holding => Direction::SendOnly,
        };
        let tag = c.dialog.local_tag.clone();
        let offer = std::str::from_utf8(&invite.body).unwrap_or_default();
        let (body, negotiated) = if offer.trim().is_empty() {
            let body = sdp_offer(
                &mut c.sdp,
                &settings.media,
                &settings.media_address,
                c.local_port,
                direction,
            );
            c.our_offer = Some(body.clone());
            (body, None)
        } else {
            match sdp_answer(
                &mut c.sdp,
                &settings.media,
                offer,
                &settings.media_address,
                c.local_port,
                direction,
            ) {
                Ok((body, n)) => (body, Some(n)),
                Err(e) => {
                    let mut r = response_to(invite, 488, "Not Acceptable Here", &tag);
                    r.push(Name::WARNING, format!("304 deskphone \"{e}\""));
                    let _ = ep.respond(now, tx, r);
                    if initial {
                        self.end(id, format!("no common codec: {e}"));
                    }
                    return Ok(false);
                }
            }
        };
        let mut r = response_to(invite, 200, "OK", &tag);
        for rr in invite.header_values(&Name::RECORD_ROUTE) {
            r.push(Name::RECORD_ROUTE, rr);
        }
        r.push(Name::CONTACT, format!("<{}>", line.contact));
        r.push(Name::ALLOW, ALLOW);
        r.push(Name::USER_AGENT, settings.user_agent.clone());
        if settings.remote_party_id {
            r.push(
                REMOTE_PARTY_ID,
                remote_party_id(
                    &line.settings,
                    line.user_param,
                    "called",
                    settings.callerid_blocking,
                ),
            );
        }
        r.push(Name::CONTENT_TYPE, "application/sdp");
        r.body = body.into_bytes().into();
        ep.respond(now, tx, r.clone())
            .map_err(|e| CallError::Transaction(e.to_string()))?;
        c.pending_ok = Some(PendingOk {
            tx,
            response: r,
            cseq: invite.cseq().map(|s| s.number).unwrap_or_default(),
            next: now + t1,
            interval: t1,
            give_up,
        });
        let port = c.local_port;
        if let Some(n) = negotiated {
            self.events.push_back(CallEvent::Media {
                call: id,
                local_port: port,
                negotiated: n,
                early: false,
            });
        }
        Ok(true)
    }

    // ---- receiving ----

    /// A new request: returns it if it is not for the calls.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_request(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        tx: ServerTx,
        request: Message,
        source: SocketAddr,
    ) -> Option<(ServerTx, Message, SocketAddr)> {
        let method = request.method().unwrap_or_default().to_string();
        if request.to_tag().is_some() {
            let Some(id) = self.find_dialog(&request) else {
                // A transfer's NOTIFY after the call ended here (blind transfer) has no
                // dialog left either; other NOTIFYs (a PBX's check-sync) go up.
                let refer_notify = method == "NOTIFY"
                    && request
                        .header(&Name::EVENT)
                        .is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"));
                if refer_notify || matches!(method.as_str(), "INVITE" | "BYE" | "INFO" | "REFER") {
                    let r = response_to(&request, 481, "Call/Transaction Does Not Exist", "");
                    let _ = ep.respond(now, tx, r);
                    return None;
                }
                return Some((tx, request, source));
            };
            self.in_dialog(now, ep, lines, id, tx, request);
            return None;
        }
        match method.as_str() {
            "INVITE" => {
                self.incoming(now, ep, lines, tx, request, source);
                None
            }
            "CANCEL" => {
                self.cancelled(now, ep, tx, &request);
                None
            }
            _ => Some((tx, request, source)),
        }
    }

    fn find_dialog(&self, request: &Message) -> Option<CallId> {
        let (cid, to, from) = (request.call_id()?, request.to_tag()?, request.from_tag());
        self.calls
            .iter()
            .find(|c| {
                c.dialog.call_id == cid
                    && c.dialog.local_tag == to
                    && (c.dialog.remote_tag.as_deref() == from || from.is_none())
            })
            .map(|c| c.id)
    }

    fn incoming(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        tx: ServerTx,
        invite: Message,
        source: SocketAddr,
    ) {
        // A merged request (the same INVITE forked back to us, RFC 3261 section 8.2.2.2).
        let from_tag = invite.from_tag().unwrap_or_default().to_string();
        let call_id = invite.call_id().unwrap_or_default().to_string();
        if self.calls.iter().any(|c| {
            c.dialog.call_id == call_id && c.dialog.remote_tag.as_deref() == Some(&from_tag)
        }) {
            let r = response_to(&invite, 482, "Loop Detected", "");
            let _ = ep.respond(now, tx, r);
            return;
        }
        let line = pick_line(lines, &invite);
        let Some(line) = line else {
            let r = response_to(&invite, 404, "Not Found", &token(&mut self.rng, 10));
            let _ = ep.respond(now, tx, r);
            return;
        };
        let from_party = invite
            .header(&Name::FROM)
            .and_then(Party::from_header)
            .unwrap_or_default();
        let rpid = invite
            .header(&REMOTE_PARTY_ID)
            .and_then(|v| split_list(v).first().and_then(|v| Party::from_header(v)));
        let privacy = invite.header(&PRIVACY).is_some_and(|p| {
            p.split(';')
                .any(|v| matches!(v.trim(), "id" | "user" | "header"))
        });
        let mut remote = match rpid {
            Some(r) if self.settings.remote_party_id => r,
            _ => from_party,
        };
        remote.anonymous |= privacy;
        let tag = token(&mut self.rng, 10);
        // An attended transfer completed by the far ends: this call takes the place of one
        // we have (RFC 3891), so the policies that keep new callers out do not apply.
        let replaces = match invite.header(&Name::REPLACES) {
            Some(v) => match self.find_replaced(v) {
                Some(id) => Some(id),
                None => {
                    let r = response_to(&invite, 481, "Call/Transaction Does Not Exist", &tag);
                    let _ = ep.respond(now, tx, r);
                    return;
                }
            },
            None => None,
        };
        let busy = self.calls.iter().any(|c| c.state != CallState::Ended);
        let refusal = if replaces.is_some() {
            None
        } else if self.settings.dnd {
            Some((480, "Temporarily Unavailable", "do not disturb"))
        } else if self.settings.anonymous_call_block && remote.anonymous {
            Some((433, "Anonymity Disallowed", "anonymous call blocked"))
        } else if busy && !self.settings.call_waiting {
            Some((486, "Busy Here", "busy (call waiting off)"))
        } else if self.calls.len() >= MAX_CALLS
            || self
                .calls
                .iter()
                .filter(|c| c.line == line.settings.line)
                .count()
                >= MAX_CALLS_PER_LINE
        {
            Some((486, "Busy Here", "busy (too many calls)"))
        } else {
            None
        };
        if let Some((status, reason, why)) = refusal {
            let r = response_to(&invite, status, reason, &tag);
            let _ = ep.respond(now, tx, r);
            self.events.push_back(CallEvent::Refused {
                line: line.settings.line,
                remote,
                status,
                why: why.into(),
            });
            return;
        }
        // RFC 2543 made Contact optional: without one, requests go to the From URI.
        let remote_target = invite
            .header(&Name::CONTACT)
            .or_else(|| invite.header(&Name::FROM))
            .and_then(|c| name_addr(c).ok().map(|a| a.uri.to_string()));
        let Some(remote_target) = remote_target else {
            let r = response_to(&invite, 400, "Bad Contact", &tag);
            let _ = ep.respond(now, tx, r);
            return;
        };
        let route_set: Vec<String> = invite
            .header_values(&Name::RECORD_ROUTE)
            .flat_map(split_list)
            .map(str::to_string)
            .collect();
        let next_hop = dialog_next_hop(
            self.settings.outbound_proxy,
            &route_set,
            &remote_target,
            source,
        );
        let id = self.next_call_id();
        let strip_tag = |v: &str| strip_tag(v);
        let expires = invite
            .header(&Name::EXPIRES)
            .and_then(|e| e.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let s = &line.settings;
        let dialog = Dialog {
            call_id,
            local_tag: tag.clone(),
            remote_tag: Some(from_tag),
            local_uri: invite.header(&Name::TO).map(strip_tag).unwrap_or_default(),
            remote_uri: invite
                .header(&Name::FROM)
                .map(strip_tag)
                .unwrap_or_default(),
            local_cseq: 0,
            remote_cseq: invite.cseq().map(|c| c.number),
            remote_target,
            route_set,
        };
        // Without Expires, `timer_invite_expires` bounds the ringing: a caller that never
        // cancels must not hold one of the few call slots for ever.
        let ring =
            now + expires.unwrap_or(Duration::from_secs(u64::from(self.settings.invite_expires)));
        let mut call = self.new_call(
            id,
            s,
            CallState::Ringing,
            remote.clone(),
            dialog,
            ring,
            next_hop,
        );
        call.pending_invite = Some((tx, invite.clone()));
        if let Some(old) = replaces {
            let line = line.clone();
            self.calls.push(call);
            if self.answer(now, ep, &line, id).is_ok() {
                self.send_bye(now, ep, old);
                self.end(old, "replaced by a transferred call".into());
                self.events.push_back(CallEvent::Replaced {
                    replaced: old,
                    by: id,
                });
            }
            return;
        }
        let mut ringing = response_to(&invite, 180, "Ringing", &tag);
        ringing.push(Name::CONTACT, format!("<{}>", line.contact));
        for rr in invite.header_values(&Name::RECORD_ROUTE) {
            ringing.push(Name::RECORD_ROUTE, rr);
        }
        if self.settings.remote_party_id {
            ringing.push(
                REMOTE_PARTY_ID,
                remote_party_id(
                    s,
                    line.user_param,
                    "called",
                    self.settings.callerid_blocking,
                ),
            );
        }
        let _ = ep.respond(now, tx, ringing);
        let line_no = s.line;
        self.calls.push(call);
        self.events.push_back(CallEvent::Incoming {
            call: id,
            line: line_no,
            remote,
        });
        self.emit_state(id, CallState::Ringing);
    }

    fn cancelled(&mut self, now: Instant, ep: &mut Endpoint, tx: ServerTx, cancel: &Message) {
        let cid = cancel.call_id().unwrap_or_default();
        let from = cancel.from_tag();
        let cseq = cancel.cseq().map(|c| c.number);
        let branch = cancel
            .top_via()
            .and_then(|v| v.params.get_val("branch").map(|b| b.to_string()));
        let found = self.calls.iter_mut().find(|c| {
            c.dialog.call_id == cid
                && c.dialog.remote_tag.as_deref() == from
                && c.pending_invite.as_ref().is_some_and(|(_, inv)| {
                    inv.cseq().map(|c| c.number) == cseq
                        && inv
                            .top_via()
                            .and_then(|v| v.params.get_val("branch").map(|b| b.to_string()))
                            == branch
                })
        });
        let Some(c) = found else {
            let r = response_to(cancel, 481, "Call/Transaction Does Not Exist", "");
            let _ = ep.respond(now, tx, r);
            return;
        };
        let (invite_tx, invite) = c.pending_invite.take().expect("matched above");
        let tag = c.dialog.local_tag.clone();
        let id = c.id;
        let initial = c.state == CallState::Ringing;
        let _ = ep.respond(now, tx, response_to(cancel, 200, "OK", &tag));
        let _ = ep.respond(
            now,
            invite_tx,
            response_to(&invite, 487, "Request Terminated", &tag),
        );
        if initial {
            self.end(id, "cancelled by the caller".into());
        }
    }

    fn in_dialog(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        id: CallId,
        tx: ServerTx,
        request: Message,
    ) {
        let method = request.method().unwrap_or_default().to_string();
        let Ok(c) = self.call_mut(id) else { return };
        let tag = c.dialog.local_tag.clone();
        let cseq = request.cseq().map(|s| s.number).unwrap_or_default();
        if c.dialog.remote_cseq.is_some_and(|last| cseq <= last) && method != "ACK" {
            let r = response_to(&request, 500, "Server Internal Error", &tag);
            let _ = ep.respond(now, tx, r);
            return;
        }
        c.dialog.remote_cseq = Some(cseq);
        match method.as_str() {
            "BYE" => {
                let _ = ep.respond(now, tx, response_to(&request, 200, "OK", &tag));
                // A BYE while our 2xx waits for its ACK, or the far end's INVITE of a
                // re-INVITE is pending: that transaction is answered 487.
                if let Some((itx, inv)) = c.pending_invite.take() {
                    let _ =
                        ep.respond(now, itx, response_to(&inv, 487, "Request Terminated", &tag));
                }
                self.end(id, "the other party hung up".into());
            }
            "INVITE" => {
                if c.invite_tx.is_some() || c.pending_invite.is_some() || c.pending_ok.is_some() {
                    // Both ends re-INVITEd at once (RFC 3261 section 14.2).
                    let mut r = response_to(&request, 491, "Request Pending", &tag);
                    r.push(Name::RETRY_AFTER, "2");
                    let _ = ep.respond(now, tx, r);
                    return;
                }
                if let Some(target) = request
                    .header(&Name::CONTACT)
                    .and_then(|v| name_addr(v).ok().map(|a| a.uri.to_string()))
                {
                    c.dialog.remote_target = target;
                }
                let held = is_hold(std::str::from_utf8(&request.body).unwrap_or_default());
                let line_no = c.line;
                let Some(line) = lines.iter().find(|l| l.settings.line == line_no) else {
                    return;
                };
                let line = line.clone();
                let answered = self.answer_invite(now, ep, &line, id, tx, &request, false);
                if let (Ok(true), Ok(c)) = (answered, self.call_mut(id)) {
                    if c.remote_held != held {
                        c.remote_held = held;
                        self.events
                            .push_back(CallEvent::RemoteHold { call: id, held });
                    }
                }
            }
            "REFER" => self.refer_received(now, ep, lines, id, tx, &request),
            "NOTIFY" => self.notify_received(now, ep, id, tx, &request),
            "OPTIONS" | "INFO" => {
                let _ = ep.respond(now, tx, response_to(&request, 200, "OK", &tag));
            }
            _ => {
                let mut r = response_to(&request, 501, "Not Implemented", &tag);
                r.push(Name::ALLOW, ALLOW);
                let _ = ep.respond(now, tx, r);
            }
        }
    }

    /// An ACK outside any transaction: the ACK of one of our 2xx.
    pub fn handle_ack(&mut self, request: &Message) -> bool {
        let Some(id) = self.find_dialog(request) else {
            return false;
        };
        let settings = self.settings.clone();
        let Ok(c) = self.call_mut(id) else {
            return false;
        };
        let cseq = request.cseq().map(|s| s.number);
        if c.pending_ok.as_ref().map(|p| p.cseq) != cseq {
            return true;
        }
        c.pending_ok = None;
        // An INVITE without an offer: our offer went in the 2xx, the answer comes here.
        if let Some(offer) = c.our_offer.take() {
            let answer = std::str::from_utf8(&request.body).unwrap_or_default();
            if let Ok(n) = accept_answer(&settings.media, &offer, answer) {
                let port = c.local_port;
                self.events.push_back(CallEvent::Media {
                    call: id,
                    local_port: port,
                    negotiated: n,
                    early: false,
                });
            }
        }
        true
    }

    /// A response to one of our requests; `false` if it is not a call's.
    pub fn handle_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        tx: ClientTx,
        response: &Message,
    ) -> bool {
        let Some(&(id, purpose)) = self.client.get(&tx) else {
            return false;
        };
        let code = response.code().unwrap_or_default();
        if code >= 200 && !(200..300).contains(&code) {
            self.client.remove(&tx);
        }
        match purpose {
            Purpose::Cancel | Purpose::Bye | Purpose::Notify => {
                if code >= 200 {
                    self.client.remove(&tx);
                }
            }
            Purpose::Refer => self.refer_response(now, ep, id, tx, response),
            Purpose::Invite => self.invite_response(now, ep, lines, id, tx, response),
            Purpose::ReInvite => self.reinvite_response(now, ep, lines, id, tx, response),
        }
        true
    }

    fn invite_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        lines: &[LineIdentity],
        id: CallId,
        tx: ClientTx,
        response: &Message,
    ) {
        let settings = self.settings.clone();
        let code = response.code().unwrap_or_default();
        let Ok(c) = self.call_mut(id) else {
            // The call is gone (hung up): a late 2xx still needs its ACK, then a BYE.
            if (200..300).contains(&code) {
                ack_and_bye(now, ep, response);
            }
            return;
        };
        if c.invite_tx != Some(tx) {
            c.ack_again(ep, response);
            return;
        }
        match code {
            100 => {}
            101..=199 => {
                c.provisional_seen = true;
                let mut early_media = None;
                if response.to_tag().is_some() {
                    c.learn_dialog(response, true);
                    if !response.body.is_empty() {
                        if let Some(offer) = &c.our_offer {
                            let answer = std::str::from_utf8(&response.body).unwrap_or_default();
                            if let Ok(n) = accept_answer(&settings.media, offer, answer) {
                                early_media = Some(n);
                            }
                        }
                    }
                }
                if let Some(p) = response
                    .header(&REMOTE_PARTY_ID)
                    .and_then(Party::from_header)
                    .filter(|_| settings.remote_party_id)
                {
                    c.remote = p;
                }
                let port = c.local_port;
                let ring = c.state == CallState::Calling;
                if ring {
                    c.state = CallState::Ringback;
                }
                let cancel = c.cancel_wanted;
                if let Some(n) = early_media {
                    self.events.push_back(CallEvent::Media {
                        call: id,
                        local_port: port,
                        negotiated: n,
                        early: true,
                    });
                }
                if ring {
                    self.emit_state(id, CallState::Ringback);
                }
                if cancel {
                    self.send_cancel(now, ep, id);
                }
            }
            200..=299 => {
                c.learn_dialog(response, false);
                c.next_hop = dialog_next_hop(
                    settings.outbound_proxy,
                    &c.dialog.route_set,
                    &c.dialog.remote_target,
                    c.next_hop,
                );
                c.invite_tx = None;
                c.ring_deadline = None;
                let cseq = response.cseq().map(|s| s.number).unwrap_or_default();
                let ack = c.ack(cseq);
                let dest = c.next_hop;
                ep.send_ack(ack.clone(), dest);
                c.last_ack = Some((cseq, ack, dest));
                if c.cancel_wanted {
                    // Answered while we cancelled: the call is up, so hang it up properly.
                    self.send_bye(now, ep, id);
                    self.end(id, "hung up".into());
                    return;
                }
                if let Some(p) = response
                    .header(&REMOTE_PARTY_ID)
                    .and_then(Party::from_header)
                    .filter(|_| settings.remote_party_id)
                {
                    c.remote = p;
                }
                let answer = std::str::from_utf8(&response.body).unwrap_or_default();
                let negotiated = c
                    .our_offer
                    .take()
                    .map(|offer| accept_answer(&settings.media, &offer, answer));
                c.state = CallState::Connected;
                let port = c.local_port;
                match negotiated {
                    Some(Ok(n)) => {
                        self.events.push_back(CallEvent::Media {
                            call: id,
                            local_port: port,
                            negotiated: n,
                            early: false,
                        });
                        self.emit_state(id, CallState::Connected);
                    }
                    Some(Err(e)) => {
                        // Nothing we can play: end it rather than sit in silence.
                        self.send_bye(now, ep, id);
                        self.end(id, format!("the answer's media is unusable: {e}"));
                    }
                    None => self.emit_state(id, CallState::Connected),
                }
            }
            401 | 407 if c.challenges < 2 && !c.cancel_wanted => {
                c.challenges += 1;
                if c.answer_challenge(response).is_ok() {
                    let line_no = c.line;
                    if let Some(line) = lines.iter().find(|l| l.settings.line == line_no) {
                        let line = line.clone();
                        if self
                            .send_invite(now, ep, &line, id, Purpose::Invite)
                            .is_ok()
                        {
                            return;
                        }
                    }
                }
                self.end(id, "authentication refused".into());
            }
            _ => {
                let reason = match code {
                    486 | 600 => "busy".to_string(),
                    487 => "cancelled".to_string(),
                    _ => reason_of(response),
                };
                if let StartLine::Response { code, reason } = &response.start {
                    c.last_final = Some((*code, reason.clone()));
                }
                self.end(id, reason);
            }
        }
    }

    fn reinvite_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        _lines: &[LineIdentity],
        id: CallId,
        tx: ClientTx,
        response: &Message,
    ) {
        let settings = self.settings.clone();
        let code = response.code().unwrap_or_default();
        let Ok(c) = self.call_mut(id) else { return };
        if c.invite_tx != Some(tx) {
            c.ack_again(ep, response);
            return;
        }
        match code {
            100..=199 => {}
            200..=299 => {
                c.invite_tx = None;
                if let Some(target) = response
                    .header(&Name::CONTACT)
                    .and_then(|v| name_addr(v).ok().map(|a| a.uri.to_string()))
                {
                    c.dialog.remote_target = target;
                }
                let cseq = response.cseq().map(|s| s.number).unwrap_or_default();
                let ack = c.ack(cseq);
                let dest = c.next_hop;
                ep.send_ack(ack.clone(), dest);
                c.last_ack = Some((cseq, ack, dest));
                let answer = std::str::from_utf8(&response.body).unwrap_or_default();
                let negotiated = c
                    .our_offer
                    .take()
                    .and_then(|offer| accept_answer(&settings.media, &offer, answer).ok());
                let state = match c.hold {
                    Hold::Holding => CallState::Held,
                    Hold::None => CallState::Connected,
                };
                c.state = state;
                let port = c.local_port;
                if let Some(n) = negotiated {
                    self.events.push_back(CallEvent::Media {
                        call: id,
                        local_port: port,
                        negotiated: n,
                        early: false,
                    });
                }
                self.emit_state(id, state);
            }
            401 | 407 if c.challenges < 4 => {
                c.challenges += 1;
                c.invite_tx = None;
                if c.answer_challenge(response).is_ok() {
                    let line_no = c.line;
                    if let Some(line) = _lines.iter().find(|l| l.settings.line == line_no) {
                        let line = line.clone();
                        let _ = self.send_invite(now, ep, &line, id, Purpose::ReInvite);
                    }
                }
            }
            408 | 481 => {
                // The dialog is gone at the far end (RFC 3261 section 14.1).
                self.send_bye(now, ep, id);
                self.end(id, format!("lost: {}", reason_of(response)));
            }
            _ => {
                // Refused (491 included): the session stays as it was.
                c.invite_tx = None;
                c.our_offer = None;
                c.hold = match c.state {
                    CallState::Held => Hold::Holding,
                    _ => Hold::None,
                };
            }
        }
    }

    /// A request of a call got no final response.
    pub fn handle_request_timeout(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        tx: ClientTx,
    ) -> bool {
        let Some((id, purpose)) = self.client.remove(&tx) else {
            return false;
        };
        match purpose {
            Purpose::Invite => self.end(id, "no response (timeout)".into()),
            Purpose::ReInvite => {
                self.send_bye(now, ep, id);
                self.end(id, "no response to re-INVITE (timeout)".into());
            }
            Purpose::Refer => self.refer_failed(id, "no response to REFER (timeout)".into()),
            Purpose::Cancel | Purpose::Bye | Purpose::Notify => {}
        }
        true
    }

    /// Our 3xx-6xx to an INVITE was never acknowledged (timer H): nothing to do.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        let t2 = self.timers.t2;
        let mut expired = Vec::new();
        let mut no_ack = Vec::new();
        for c in &mut self.calls {
            if let Some(p) = &mut c.pending_ok {
                if now >= p.give_up {
                    no_ack.push(c.id);
                } else if now >= p.next {
                    let _ = ep.respond(now, p.tx, p.response.clone());
                    p.interval = (p.interval * 2).min(t2);
                    p.next = now + p.interval;
                }
            }
            if c.ring_deadline.is_some_and(|d| now >= d) {
                c.ring_deadline = None;
                expired.push(c.id);
            }
        }
        let refer_expired: Vec<CallId> = self
            .calls
            .iter()
            .filter(|c| c.refer.as_ref().is_some_and(|r| now >= r.deadline))
            .map(|c| c.id)
            .collect();
        for id in refer_expired {
            self.refer_timed_out(now, ep, id);
        }
        for id in no_ack {
            if let Ok(c) = self.call_mut(id) {
                c.pending_ok = None;
            }
            self.send_bye(now, ep, id);
            self.end(id, "no ACK for our answer".into());
        }
        for id in expired {
            let Ok(c) = self.call_mut(id) else { continue };
            match c.state {
                CallState::Ringing => {
                    if let Some((tx, invite)) = c.pending_invite.take() {
                        let tag = c.dialog.local_tag.clone();
                        let _ = ep.respond(
                            now,
                            tx,
                            response_to(&invite, 487, "Request Terminated", &tag),
                        );
                    }
                    self.end(id, "no answer".into());
                }
                CallState::Calling | CallState::Ringback if c.cancel_wanted => {
                    self.end(id, "hung up".into());
                }
                CallState::Calling | CallState::Ringback => {
                    c.cancel_wanted = true;
                    if c.provisional_seen {
                        self.send_cancel(now, ep, id);
                        if let Ok(c) = self.call_mut(id) {
                            c.ring_deadline = Some(now + Duration::from_secs(32));
                        }
                    } else {
                        self.end(id, "no answer (timer_invite_expires)".into());
                    }
                }
                _ => {}
            }
        }
    }
}

/// Where in-dialog requests go (RFC 3261 section 12.2.1.1 with the guide's outbound
/// proxy): the outbound proxy, else the first route, else the remote target, when they are
/// addresses; else `fallback` (where the dialog's first request came from or went to).
fn dialog_next_hop(
    outbound: Option<SocketAddr>,
    route_set: &[String],
    remote_target: &str,
    fallback: SocketAddr,
) -> SocketAddr {
    if let Some(o) = outbound {
        return o;
    }
    let first = route_set
        .first()
        .and_then(|r| name_addr(r).ok().map(|a| a.uri.to_string()));
    match first {
        Some(route) => uri::socket_addr(&route).unwrap_or(fallback),
        None => uri::socket_addr(remote_target).unwrap_or(fallback),
    }
}

/// The line an incoming INVITE is for: the one whose name is the Request-URI's user, else
/// the To user, else the first line.
fn pick_line<'a>(lines: &'a [LineIdentity], invite: &Message) -> Option<&'a LineIdentity> {
    let ruri_user = invite.uri().and_then(uri::user);
    let to_user = invite
        .header(&Name::TO)
        .and_then(|t| name_addr(t).ok())
        .and_then(|a| uri::user(a.uri).map(str::to_string));
    lines
        .iter()
        .find(|l| Some(l.settings.name.as_str()) == ruri_user)
        .or_else(|| {
            lines
                .iter()
                .find(|l| Some(&l.settings.name) == to_user.as_ref())
        })
        .or_else(|| lines.first())
}

fn strip_tag(value: &str) -> String {
    match name_addr(value) {
        Ok(na) => {
            let mut out = match na.display {
                Some(d) => format!("{d} <{}>", na.uri),
                None => format!("<{}>", na.uri),
            };
            for (k, v) in na
                .params
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("tag"))
            {
                out.push(';');
                out.push_str(k);
                if let Some(v) = v {
                    out.push('=');
                    out.push_str(v);
                }
            }
            out
        }
        Err(_) => value.to_string(),
    }
}

fn remote_party_id(s: &LineSettings, user_param: &str, party: &str, blocked: bool) -> String {
    let uri = format!("sip:{}@{}{}", s.name, s.proxy, user_param);
    let name = s
        .display_name
        .as_deref()
        .map(|d| format!("{} ", quote(d)))
        .unwrap_or_default();
    let privacy = if blocked { "full" } else { "off" };
    format!("{name}<{uri}>;party={party};screen=no;privacy={privacy}")
}

/// The ACK and BYE for a 2xx that reached a call we already dropped.
fn ack_and_bye(_now: Instant, ep: &mut Endpoint, response: &Message) {
    let Some(contact) = response
        .header(&Name::CONTACT)
        .and_then(|c| name_addr(c).ok().map(|a| a.uri.to_string()))
    else {
        return;
    };
    let Some(dest) = uri::socket_addr(&contact) else {
        return;
    };
    let cseq = response.cseq().map(|s| s.number).unwrap_or(1);
    let mut ack = Message::request("ACK", contact.clone());
    for name in [Name::FROM, Name::TO, Name::CALL_ID] {
        if let Some(v) = response.header(&name) {
            ack.push(name, v);
        }
    }
    ack.push(Name::CSEQ, format!("{cseq} ACK"));
    ack.push(Name::MAX_FORWARDS, "70");
    let mut bye = ack.clone();
    bye.start = StartLine::Request {
        method: "BYE".into(),
        uri: contact,
    };
    bye.set(Name::CSEQ, format!("{} BYE", cseq + 1));
    ep.send_ack(ack, dest);
    // Fire and forget: the call is already over here.
    ep.send_ack(bye, dest);
}

impl Call {
    /// A 2xx retransmission to an INVITE already acknowledged gets the same ACK again
    /// (RFC 3261 section 13.2.2.4).
    fn ack_again(&self, ep: &mut Endpoint, response: &Message) {
        if !response.code().is_some_and(|c| (200..300).contains(&c)) {
            return;
        }
        if let Some((cseq, ack, dest)) = &self.last_ack {
            if response.cseq().map(|s| s.number) == Some(*cseq) {
                ep.send_ack(ack.clone(), *dest);
            }
        }
    }

    /// A request inside the call's dialog.
    pub(crate) fn request(&mut self, method: &str) -> Message {
        self.dialog.request(method)
    }

    fn ack(&mut self, cseq: u32) -> Message {
        // The ACK carries the INVITE's CSeq number, not a new one.
        let saved = self.dialog.local_cseq;
        self.dialog.local_cseq = cseq - 1;
        let mut m = self.request("ACK");
        self.dialog.local_cseq = saved;
        self.auth.authorize_request(&mut m.headers);
        m
    }

    /// Takes the remote tag, target and route set from a response that creates the dialog
    /// (18x with a tag: an early dialog; 2xx: the confirmed one).
    fn learn_dialog(&mut self, response: &Message, early: bool) {
        let d = &mut self.dialog;
        if let Some(tag) = response.to_tag() {
            if d.remote_tag.is_none() || !early {
                d.remote_tag = Some(tag.to_string());
            }
        }
        if let Some(target) = response
            .header(&Name::CONTACT)
            .and_then(|v| name_addr(v).ok().map(|a| a.uri.to_string()))
        {
            d.remote_target = target;
        }
        if d.route_set.is_empty() || !early {
            let mut rs: Vec<String> = response
                .header_values(&Name::RECORD_ROUTE)
                .flat_map(split_list)
                .map(str::to_string)
                .collect();
            rs.reverse();
            if !rs.is_empty() || !early {
                d.route_set = rs;
            }
        }
        if let Some(to) = response.header(&Name::TO) {
            d.remote_uri = strip_tag(to);
        }
    }

    fn answer_challenge(&mut self, response: &Message) -> Result<(), String> {
        let uri: SipUri = self
            .dialog
            .remote_target
            .parse()
            .map_err(|_| "unparsable target".to_string())?;
        crate::register::answer_digest(&mut self.auth, Method::INVITE, uri, response)
            .map_err(|e| e.to_string())
    }
}
