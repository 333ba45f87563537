//! Message waiting by subscription: SUBSCRIBE/NOTIFY (RFC 6665, which replaced RFC 3265)
//! with the `message-summary` event package (RFC 3842), one subscription per line. Sans-IO
//! like [`crate::register`]: a [`Subscription`] makes requests and is told their fate; the
//! [`UserAgent`](crate::UserAgent) carries them and hands it the NOTIFYs of its dialog.
//!
//! - **Who and where.** The SUBSCRIBE goes to the line's own address of record (Request-URI
//!   and To), From and Contact as in the line's REGISTER, to where the line registers now
//!   ([`Registration::destination`], so the backup proxy after a failover). Event
//!   `message-summary`, Accept `application/simple-message-summary`, Expires
//!   [`Settings::mwi_expires`] (3600 s by default, at least 60).
//! - **Digest.** 401 and 407 are answered with `lineN_authname`/`lineN_password` by the same
//!   helpers as registration, at most twice per attempt.
//! - **Refresh.** Inside the dialog, at the same point of the granted time as a registration
//!   ([`refresh_margin`]): after 3240 s of 3600. The granted time is the Expires of the 2xx,
//!   or the `expires` of a NOTIFY's Subscription-State (the notifier may shorten it later),
//!   never more than asked.
//! - **The dialog.** Our From tag; the remote tag, target and route set from the 2xx or from
//!   the first NOTIFY, which may arrive before the 2xx (RFC 6665 section 4.1.2.4). A NOTIFY
//!   from a second (forked) notifier is refused with 481, which ends that extra subscription.
//!   NOTIFYs are answered 200 and their body becomes a message summary; a body that is not a
//!   valid `message-summary` gets 400 and changes nothing. A NOTIFY of no subscription here
//!   is not taken: the user agent hands it up like any other request.
//! - **The server ends it** (`Subscription-State: terminated`): `deactivated` or `timeout`
//!   re-subscribe at once; any `retry-after` is obeyed; `probation`, `giveup`, no reason or
//!   an unknown one wait like a failure; `rejected` and `noresource` stop.
//! - **Failures.** 403, 404, 405, 489, 501 and 6xx say the server does not offer this to the
//!   line: the subscription stops ([`SubState::Stopped`], reported once) until it is asked
//!   for again. 481 to a refresh (the server forgot us) starts a new subscription at once.
//!   Anything else (408, 5xx, no response, a refused password, ...) backs off like
//!   registration: 30 s · 2^(n-1), at most 1800 s, times a random factor in [0.5, 1].
//! - **Guard.** A server that ends each new subscription at once is re-subscribed to at once
//!   only the first time; after that until the next refresh or retry time it waits a back-off.
//! - **Unsubscribe**: Expires 0 inside the dialog (if one may exist), then the dialog is
//!   forgotten. For 64·T1 after the answer the final NOTIFY is still answered 200 (without an
//!   event); later ones get 481.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ezk_sip_auth::{ClientAuthenticator, DigestAuthenticator, DigestError};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name};

use crate::call::Dialog;
use crate::config::{LineSettings, Settings};
use crate::message::{response_to, Message, StartLine};
use crate::mwi::{parse_message_summary, MessageSummary};
use crate::register::{answer_digest, authenticator, backoff, refresh_margin, Registration};
use crate::syntax::{name_addr, params, split_list};

/// The event package (RFC 3842).
pub const EVENT_PACKAGE: &str = "message-summary";
/// The body type of the package.
pub const CONTENT_TYPE: &str = "application/simple-message-summary";

/// The least Expires asked for: a shorter one (0 above all, a one-off fetch) would keep the
/// refresh going round in a loop.
const MIN_EXPIRES: u32 = 60;

/// The longest `retry-after` obeyed: a day (a larger one would stop MWI for good without
/// saying so).
const MAX_RETRY_AFTER: u32 = 86_400;

/// Where a line's message-waiting subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubState {
    /// A SUBSCRIBE is on its way and no subscription is known to exist yet.
    Subscribing,
    /// Accepted but not yet authorized by the server (`Subscription-State: pending`).
    Pending { until: Instant, refresh: Instant },
    /// Active until `until`; the refresh starts at `refresh`.
    Active { until: Instant, refresh: Instant },
    /// The last attempt failed or the server ended the subscription; the next attempt starts
    /// at `retry` (a subscription whose refresh failed lives on until its expiry).
    Retrying { reason: String, retry: Instant },
    /// The server does not offer message waiting to this line; no more attempts until it is
    /// asked for again.
    Stopped { reason: String },
    /// Unsubscribed on request.
    Unsubscribed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Subscribe,
    Unsubscribe,
}

/// The SUBSCRIBE in flight.
#[derive(Debug, Clone)]
struct Awaiting {
    call_id: String,
    cseq: u32,
    purpose: Purpose,
    /// Its Request-URI, which the digest answer covers.
    uri: String,
}

/// What a NOTIFY's Subscription-State says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notified {
    Active {
        expires: Option<u32>,
    },
    Pending {
        expires: Option<u32>,
    },
    Terminated {
        reason: Option<String>,
        retry_after: Option<u32>,
    },
}

/// Reads a Subscription-State value. Lenient where the RFC leaves room: a NOTIFY without
/// one, or with a state not defined, is taken as active.
pub(crate) fn subscription_state(value: Option<&str>) -> Notified {
    let Some(value) = value else {
        return Notified::Active { expires: None };
    };
    let (state, rest) = value.split_once(';').unwrap_or((value, ""));
    let rest = format!(";{rest}");
    let list = params(&rest).unwrap_or_default();
    let get = |name: &str| {
        list.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| *v)
            .map(|v| v.trim_matches('"').to_string())
    };
    let number = |name: &str| get(name).and_then(|v| v.parse::<u32>().ok());
    match state.trim().to_ascii_lowercase().as_str() {
        "terminated" => Notified::Terminated {
            reason: get("reason").map(|r| r.to_ascii_lowercase()),
            retry_after: number("retry-after"),
        },
        "pending" => Notified::Pending {
            expires: number("expires"),
        },
        _ => Notified::Active {
            expires: number("expires"),
        },
    }
}

/// Whether a request is of the `message-summary` package.
fn is_message_summary(request: &Message) -> bool {
    request.header(&Name::EVENT).is_some_and(|e| {
        e.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case(EVENT_PACKAGE)
    })
}

/// The message-waiting subscription of one line.
pub struct Subscription {
    line: u8,
    settings: Settings,
    state: SubState,
    /// The dialog: made at the first SUBSCRIBE, confirmed by a remote tag.
    dialog: Option<Dialog>,
    /// When the subscription at the server lapses, while it may exist.
    until: Option<Instant>,
    /// The last NOTIFY said `pending`.
    pending: bool,
    /// Expires asked for (raised once by a 423).
    expires: u32,
    interval_raised: bool,
    auth: DigestAuthenticator,
    challenges: u32,
    awaiting: Option<Awaiting>,
    /// A request to build at the next poll.
    want: Option<Purpose>,
    /// Refresh or retry time.
    timer: Option<Instant>,
    /// When an unsubscribed dialog is dropped.
    forget_at: Option<Instant>,
    failures: u32,
    /// A new subscription was started at once (481, or ended by the server) since the last
    /// timer: the next such start waits a back-off.
    renewed: bool,
    rng: fastrand::Rng,
    changes: VecDeque<SubState>,
    summaries: VecDeque<MessageSummary>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("line", &self.line)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub fn new(line: &LineSettings, settings: &Settings, seed: u64) -> Subscription {
        Subscription {
            line: line.line,
            settings: settings.clone(),
            state: SubState::Unsubscribed,
            dialog: None,
            until: None,
            pending: false,
            expires: settings.mwi_expires.max(MIN_EXPIRES),
            interval_raised: false,
            auth: authenticator(line),
            challenges: 0,
            awaiting: None,
            want: None,
            timer: None,
            forget_at: None,
            failures: 0,
            renewed: false,
            rng: fastrand::Rng::with_seed(seed),
            changes: VecDeque::new(),
            summaries: VecDeque::new(),
        }
    }

    pub fn line(&self) -> u8 {
        self.line
    }

    pub fn state(&self) -> &SubState {
        &self.state
    }

    /// Subscribes, or refreshes at once a subscription that is up. Does nothing while a
    /// SUBSCRIBE is already on its way.
    pub(crate) fn start(&mut self, now: Instant) {
        if self
            .awaiting
            .as_ref()
            .is_some_and(|a| a.purpose == Purpose::Subscribe)
        {
            return;
        }
        self.failures = 0;
        self.challenges = 0;
        self.interval_raised = false;
        self.renewed = false;
        self.expires = self.settings.mwi_expires.max(MIN_EXPIRES);
        self.forget_at = None;
        self.timer = None;
        if !self.alive(now) {
            self.fresh();
        }
        self.want = Some(Purpose::Subscribe);
        if !matches!(
            self.state,
            SubState::Active { .. } | SubState::Pending { .. }
        ) {
            self.set_state(SubState::Subscribing);
        }
    }

    /// Unsubscribes: Expires 0 if a subscription may exist, and no more attempts.
    pub(crate) fn stop(&mut self, now: Instant) {
        let may_exist = self.dialog.is_some()
            && (self.awaiting.is_some() || self.until.is_some_and(|u| now < u));
        self.timer = None;
        self.until = None;
        self.pending = false;
        self.awaiting = None;
        self.want = None;
        if may_exist {
            self.challenges = 0;
            self.want = Some(Purpose::Unsubscribe);
        } else {
            self.dialog = None;
        }
        self.set_state(SubState::Unsubscribed);
    }

    /// A confirmed dialog whose subscription has not lapsed: refreshes go inside it.
    fn alive(&self, now: Instant) -> bool {
        self.dialog.as_ref().is_some_and(|d| d.remote_tag.is_some())
            && self.until.is_some_and(|u| now < u)
    }

    /// The next SUBSCRIBE starts a new dialog.
    fn fresh(&mut self) {
        self.dialog = None;
        self.until = None;
        self.pending = false;
    }

    /// The next request to send; it goes to [`Registration::destination`] of the line.
    pub(crate) fn poll_request(&mut self, reg: &Registration) -> Option<Message> {
        let purpose = self.want.take()?;
        if self.dialog.is_none() {
            let token = |rng: &mut fastrand::Rng, n| -> String {
                (0..n).map(|_| rng.alphanumeric()).collect()
            };
            self.dialog = Some(Dialog {
                call_id: token(&mut self.rng, 20),
                local_tag: token(&mut self.rng, 10),
                remote_tag: None,
                local_uri: reg.local_uri(),
                remote_uri: format!("<{}>", reg.aor()),
                local_cseq: 0,
                remote_cseq: None,
                remote_target: reg.aor(),
                route_set: Vec::new(),
            });
        }
        let dialog = self.dialog.as_mut()?;
        let mut m = dialog.request("SUBSCRIBE");
        m.push(Name::CONTACT, format!("<{}>", reg.contact_uri()));
        m.push(Name::EVENT, EVENT_PACKAGE);
        m.push(Name::ACCEPT, CONTENT_TYPE);
        let expires = match purpose {
            Purpose::Subscribe => self.expires,
            Purpose::Unsubscribe => 0,
        };
        m.push(Name::EXPIRES, expires.to_string());
        m.push(Name::USER_AGENT, self.settings.user_agent.clone());
        self.auth.authorize_request(&mut m.headers);
        self.awaiting = Some(Awaiting {
            call_id: dialog.call_id.clone(),
            cseq: dialog.local_cseq,
            purpose,
            uri: m.uri().unwrap_or_default().to_string(),
        });
        Some(m)
    }

    /// The next change of state, to publish.
    pub(crate) fn poll_change(&mut self) -> Option<SubState> {
        self.changes.pop_front()
    }

    /// The next message summary a NOTIFY brought.
    pub(crate) fn poll_summary(&mut self) -> Option<MessageSummary> {
        self.summaries.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timer.into_iter().chain(self.forget_at).min()
    }

    /// Refresh, retry and the end of an unsubscribed dialog.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.forget_at.is_some_and(|t| t <= now) {
            self.forget_at = None;
            if self.state == SubState::Unsubscribed && self.awaiting.is_none() {
                self.dialog = None;
            }
        }
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            self.renewed = false;
            if self.awaiting.is_none()
                && self.want.is_none()
                && !matches!(
                    self.state,
                    SubState::Stopped { .. } | SubState::Unsubscribed
                )
            {
                self.challenges = 0;
                self.interval_raised = false;
                if !self.alive(now) {
                    self.fresh();
                }
                self.want = Some(Purpose::Subscribe);
                if matches!(self.state, SubState::Retrying { .. }) {
                    self.set_state(SubState::Subscribing);
                }
            }
        }
    }

    /// A response to one of this subscription's SUBSCRIBEs.
    pub(crate) fn handle_response(&mut self, now: Instant, response: &Message) {
        let current = self.awaiting.as_ref().is_some_and(|a| {
            response.call_id() == Some(a.call_id.as_str())
                && response.cseq().map(|c| c.number) == Some(a.cseq)
        });
        let code = response.code().unwrap_or_default();
        if !current || code < 200 {
            return; // provisional, or the answer to a superseded request
        }
        let Some(sent) = self.awaiting.take() else {
            return;
        };
        if sent.purpose == Purpose::Unsubscribe {
            if matches!(code, 401 | 407) && self.answer_challenge(&sent, response).is_ok() {
                self.want = Some(Purpose::Unsubscribe);
            } else {
                self.forget_at = Some(now + self.settings.timers.t1x64());
            }
            return;
        }
        let reason = match &response.start {
            StartLine::Response { reason, .. } if !reason.is_empty() => format!("{code} {reason}"),
            _ => code.to_string(),
        };
        match code {
            200..=299 => self.accepted(now, response),
            401 | 407 => match self.answer_challenge(&sent, response) {
                Ok(()) => self.want = Some(Purpose::Subscribe),
                Err(reason) => self.retry_later(now, reason),
            },
            423 if !self.interval_raised => {
                let min = response
                    .header(&Name::MIN_EXPIRES)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.expires);
                match min {
                    Some(min) => {
                        self.interval_raised = true;
                        self.expires = min;
                        self.want = Some(Purpose::Subscribe);
                    }
                    None => self.retry_later(now, reason),
                }
            }
            481 if !self.renewed => {
                // The server lost the subscription: a new one, once.
                self.renewed = true;
                self.fresh();
                self.want = Some(Purpose::Subscribe);
                self.set_state(SubState::Subscribing);
            }
            403 | 404 | 405 | 489 | 501 | 600..=699 => self.stopped(reason),
            _ => self.retry_later(now, reason),
        }
    }

    /// The SUBSCRIBE in flight got no final response.
    pub(crate) fn handle_request_timeout(&mut self, now: Instant) {
        match self.awaiting.take().map(|a| a.purpose) {
            Some(Purpose::Subscribe) => self.retry_later(now, "no response from the server".into()),
            Some(Purpose::Unsubscribe) => {
                self.forget_at = Some(now + self.settings.timers.t1x64());
            }
            None => {}
        }
    }

    /// Whether a request belongs to this subscription's dialog (its Call-ID, and our tag in
    /// To).
    pub(crate) fn owns(&self, request: &Message) -> bool {
        self.dialog.as_ref().is_some_and(|d| {
            request.call_id() == Some(d.call_id.as_str())
                && request.to_tag() == Some(d.local_tag.as_str())
        })
    }

    /// A NOTIFY of this subscription's dialog ([`Subscription::owns`]): returns the answer.
    pub(crate) fn handle_notify(&mut self, now: Instant, request: &Message) -> Message {
        let answer = |code, reason: &str| response_to(request, code, reason, "");
        if request.method() != Some("NOTIFY") {
            let mut r = answer(405, "Method Not Allowed");
            r.push(Name::ALLOW, "NOTIFY");
            return r;
        }
        if !is_message_summary(request) {
            let mut r = answer(489, "Bad Event");
            r.push(Name::ALLOW_EVENTS, EVENT_PACKAGE);
            return r;
        }
        let Some(d) = self.dialog.as_mut() else {
            return answer(481, "Subscription Does Not Exist");
        };
        let from_tag = request.from_tag().map(str::to_string);
        if d.remote_tag.is_some() && d.remote_tag != from_tag {
            return answer(481, "Subscription Does Not Exist");
        }
        let cseq = request.cseq().map(|c| c.number);
        if let (Some(last), Some(n)) = (d.remote_cseq, cseq) {
            if n < last {
                return answer(500, "Out of Order");
            }
        }
        if self.state == SubState::Unsubscribed {
            // The notifier's last word after our unsubscribe.
            return answer(200, "OK");
        }
        let summary = if request.body.iter().all(u8::is_ascii_whitespace) {
            None // a pending or final NOTIFY may carry no state
        } else {
            match parse_message_summary(&request.body) {
                Some(s) => Some(s),
                None => return answer(400, "Bad message-summary Body"),
            }
        };
        if d.remote_tag.is_none() {
            // This NOTIFY confirms the dialog (before the 2xx): its Record-Route, as received.
            d.remote_tag = from_tag;
            d.route_set = request
                .header_values(&Name::RECORD_ROUTE)
                .flat_map(split_list)
                .map(str::to_string)
                .collect();
        }
        d.remote_cseq = cseq.or(d.remote_cseq);
        if let Some(target) = contact_uri(request) {
            d.remote_target = target;
        }
        if let Some(s) = summary {
            self.summaries.push_back(s);
        }
        match subscription_state(request.header(&Name::SUBSCRIPTION_STATE)) {
            Notified::Active { expires } => {
                self.pending = false;
                self.notified_expiry(now, expires);
            }
            Notified::Pending { expires } => {
                self.pending = true;
                self.notified_expiry(now, expires);
            }
            Notified::Terminated {
                reason,
                retry_after,
            } => self.terminated(now, reason, retry_after),
        }
        answer(200, "OK")
    }

    /// An active or pending NOTIFY: its `expires` is the time left; without one the timing
    /// stays (or, before any, is what was asked).
    fn notified_expiry(&mut self, now: Instant, expires: Option<u32>) {
        match (expires.filter(|e| *e > 0), self.until) {
            (Some(e), _) => self.granted(now, e),
            (None, Some(until)) => {
                let refresh = self.timer.unwrap_or(until);
                self.set_state(self.up_state(until, refresh));
            }
            (None, None) => self.granted(now, self.expires),
        }
    }

    fn terminated(&mut self, now: Instant, reason: Option<String>, retry_after: Option<u32>) {
        // Whatever was in flight belongs to the ended subscription.
        self.awaiting = None;
        self.want = None;
        self.timer = None;
        self.fresh();
        let said = format!(
            "ended by the server ({})",
            reason.as_deref().unwrap_or("no reason")
        );
        match (reason.as_deref(), retry_after) {
            (Some("rejected" | "noresource"), _) => self.stopped(said),
            (_, Some(secs)) => {
                let retry = now + Duration::from_secs(u64::from(secs.min(MAX_RETRY_AFTER)));
                self.timer = Some(retry);
                self.set_state(SubState::Retrying {
                    reason: said,
                    retry,
                });
            }
            (Some("deactivated" | "timeout"), None) if !self.renewed => {
                self.renewed = true;
                self.challenges = 0;
                self.interval_raised = false;
                self.want = Some(Purpose::Subscribe);
                self.set_state(SubState::Subscribing);
            }
            _ => self.retry_later(now, said),
        }
    }

    fn accepted(&mut self, now: Instant, response: &Message) {
        self.challenges = 0;
        self.failures = 0;
        if let Some(d) = self.dialog.as_mut() {
            if d.remote_tag.is_none() {
                d.remote_tag = response.to_tag().map(str::to_string);
                let mut rs: Vec<String> = response
                    .header_values(&Name::RECORD_ROUTE)
                    .flat_map(split_list)
                    .map(str::to_string)
                    .collect();
                rs.reverse();
                d.route_set = rs;
            }
            if let Some(target) = contact_uri(response) {
                d.remote_target = target;
            }
        }
        let granted = response
            .header(&Name::EXPIRES)
            .and_then(|e| e.trim().parse::<u32>().ok())
            .unwrap_or(self.expires);
        if granted == 0 {
            // Accepted and ended at once: a NOTIFY says why; without one this is a failure.
            self.fresh();
            self.retry_later(now, "the server granted no time".into());
            return;
        }
        self.granted(now, granted);
    }

    /// The subscription lasts `secs` from now (at most what was asked): refresh as a
    /// registration would.
    fn granted(&mut self, now: Instant, secs: u32) {
        let d = Duration::from_secs(u64::from(secs.min(self.expires)));
        let margin = refresh_margin(d, self.settings.timers.non_invite_timeout());
        let until = now + d;
        let refresh = now + (d - margin);
        self.until = Some(until);
        self.timer = Some(refresh);
        self.set_state(self.up_state(until, refresh));
    }

    fn up_state(&self, until: Instant, refresh: Instant) -> SubState {
        if self.pending {
            SubState::Pending { until, refresh }
        } else {
            SubState::Active { until, refresh }
        }
    }

    fn answer_challenge(&mut self, sent: &Awaiting, response: &Message) -> Result<(), String> {
        self.challenges += 1;
        if self.challenges > 2 {
            return Err("authentication refused (wrong authname or password?)".into());
        }
        let uri: SipUri = sent
            .uri
            .parse()
            .map_err(|_| format!("authentication: cannot answer for {}", sent.uri))?;
        answer_digest(&mut self.auth, Method::SUBSCRIBE, uri, response).map_err(|e| match e {
            DigestError::FailedToAuthenticate(_) => {
                "authentication refused (wrong authname or password?)".to_string()
            }
            e => format!("authentication: {e}"),
        })
    }

    fn retry_later(&mut self, now: Instant, reason: String) {
        self.failures = self.failures.saturating_add(1);
        let retry = now + backoff(self.failures, &mut self.rng);
        self.timer = Some(retry);
        self.set_state(SubState::Retrying { reason, retry });
    }

    fn stopped(&mut self, reason: String) {
        self.timer = None;
        self.want = None;
        self.fresh();
        self.set_state(SubState::Stopped { reason });
    }

    fn set_state(&mut self, state: SubState) {
        if self.state != state {
            self.state = state.clone();
            self.changes.push_back(state);
        }
    }
}

/// The URI of a message's Contact.
fn contact_uri(m: &Message) -> Option<String> {
    m.header(&Name::CONTACT)
        .and_then(|v| name_addr(v).ok().map(|a| a.uri.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_state_values() {
        assert_eq!(
            subscription_state(Some("active;expires=3599")),
            Notified::Active {
                expires: Some(3599)
            }
        );
        assert_eq!(
            subscription_state(Some("Pending ; expires = 60")),
            Notified::Pending { expires: Some(60) }
        );
        assert_eq!(
            subscription_state(Some("terminated;reason=Probation;retry-after=90")),
            Notified::Terminated {
                reason: Some("probation".into()),
                retry_after: Some(90)
            }
        );
        assert_eq!(
            subscription_state(Some("terminated")),
            Notified::Terminated {
                reason: None,
                retry_after: None
            }
        );
        assert_eq!(subscription_state(None), Notified::Active { expires: None });
        // A broken number is no number.
        assert_eq!(
            subscription_state(Some("active;expires=soon")),
            Notified::Active { expires: None }
        );
    }
}
