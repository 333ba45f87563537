//! Registration of one line (RFC 3261 section 10): REGISTER, refresh, digest challenges,
//! unregister, back-off after failures. Sans-IO like the rest: it makes requests
//! ([`Registration::poll_request`]) and is told their fate ([`Registration::handle_response`],
//! [`Registration::handle_request_timeout`]); the [`UserAgent`](crate::UserAgent) carries them
//! through the transaction layer.
//!
//! - Every REGISTER of a line shares one Call-ID and From tag; CSeq goes up by one each time.
//! - Expires is `timer_register_expires`; a 423 with Min-Expires is obeyed once.
//! - 401 and 407 are answered with ezk-sip-auth (MD5 with or without qop=auth, SHA-256 and
//!   SHA-512/256 of RFC 8760) using `lineN_authname`/`lineN_password`, at most twice per
//!   attempt (a second challenge is normal after a stale nonce; a third means the credentials
//!   are wrong). The answer is cached: refreshes carry it with the next nonce-count.
//! - The refresh starts `margin` before the granted expiry, `margin` being the larger of one
//!   full non-INVITE transaction (all `sip_retx` retransmissions, 32 s by default) and a tenth
//!   of the granted time, but at most half of it: a refresh that needs every retransmission
//!   still lands before the binding lapses, long registrations keep slack for one failed
//!   refresh and its retry, and short ones are not refreshed more than twice per period.
//!   With 3600 s that is after 3240 s; with the guide's sample 180 s after 148 s.
//! - After a failure (error response, no response, challenge not answerable) the line retries
//!   after 30 s · 2^(n-1) for the n-th failure in a row, at most 1800 s, times a random factor
//!   between 0.5 and 1 so a fleet that lost its registrar does not come back in step (the
//!   values of RFC 5626 section 4.5).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ezk_sip_auth::{
    ClientAuthenticator, DigestAuthenticator, DigestCredentials, DigestError, DigestUser,
    RequestParts, ResponseParts,
};
use ezk_sip_types::msg::{RequestLine, StatusLine};
use ezk_sip_types::print::{AppendCtx, PrintCtx, UriContext};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};

use crate::config::{LineSettings, Settings, UserInfo};
use crate::message::Message;
use crate::syntax::{name_addr, split_list};

/// Where a line stands, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegState {
    /// Not registered and not trying (registration off, or unregistered).
    Unregistered,
    /// A REGISTER is on its way and the line is not registered yet.
    Registering,
    /// Registered until `until`; the refresh starts at `refresh`.
    Registered { until: Instant, refresh: Instant },
    /// The last attempt failed; the next one starts at `retry`.
    Failed { reason: String, retry: Instant },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// The registration state machine of one line.
pub struct Registration {
    line: LineSettings,
    settings: Settings,
    contact_host: String,
    contact_port: u16,
    destination: SocketAddr,
    request_uri: SipUri,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    auth: DigestAuthenticator,
    state: RegState,
    /// The request in flight: its CSeq number and why it was sent.
    awaiting: Option<(u32, Purpose)>,
    challenges: u32,
    interval_raised: bool,
    failures: u32,
    /// Refresh or retry time.
    timer: Option<Instant>,
    outbox: VecDeque<Message>,
    changes: VecDeque<RegState>,
    rng: fastrand::Rng,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("line", &self.line.line)
            .field("state", &self.state)
            .field("cseq", &self.cseq)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// `local` is the phone's SIP socket address (its host is replaced by `nat_address`
    /// when NAT is on); `destination` where REGISTER goes (the resolved proxy, or the outbound
    /// proxy). Fails only if the proxy is not a valid host.
    pub fn new(
        line: LineSettings,
        settings: &Settings,
        local: SocketAddr,
        destination: SocketAddr,
        seed: u64,
    ) -> Result<Registration, String> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let token = |rng: &mut fastrand::Rng, n| (0..n).map(|_| rng.alphanumeric()).collect();
        let port = if line.proxy_port == 5060 {
            String::new()
        } else {
            format!(":{}", line.proxy_port)
        };
        let request_uri: SipUri = format!("sip:{}{port}", line.proxy)
            .parse()
            .map_err(|_| format!("proxy address {} is not a host", line.proxy))?;
        let mut credentials = DigestCredentials::new();
        if let (Some(user), Some(password)) = (&line.authname, &line.password) {
            credentials.set_default(DigestUser::new(user.as_str(), password.as_bytes()));
        }
        let call_id: String = token(&mut rng, 20);
        Ok(Registration {
            contact_host: settings
                .nat_address
                .clone()
                .unwrap_or_else(|| host_text(local)),
            contact_port: local.port(),
            destination,
            request_uri,
            call_id: format!("{call_id}@{}", host_text(local)),
            from_tag: token(&mut rng, 10),
            cseq: 0,
            expires: settings.register_expires,
            auth: DigestAuthenticator::new(credentials),
            state: RegState::Unregistered,
            awaiting: None,
            challenges: 0,
            interval_raised: false,
            failures: 0,
            timer: None,
            outbox: VecDeque::new(),
            changes: VecDeque::new(),
            rng,
            line,
            settings: settings.clone(),
        })
    }

    pub fn line(&self) -> u8 {
        self.line.line
    }

    pub fn state(&self) -> &RegState {
        &self.state
    }

    pub fn destination(&self) -> SocketAddr {
        self.destination
    }

    /// The Contact URI this line registers.
    pub fn contact_uri(&self) -> String {
        format!(
            "sip:{}@{}:{}{}",
            self.line.name,
            self.contact_host,
            self.contact_port,
            self.user_param()
        )
    }

    /// The line's settings.
    pub fn settings(&self) -> &LineSettings {
        &self.line
    }

    /// `;user=phone` / `;user=ip` per `user_info`, or nothing.
    pub fn user_param(&self) -> &'static str {
        match self.settings.user_info {
            UserInfo::None => "",
            UserInfo::Phone => ";user=phone",
            UserInfo::Ip => ";user=ip",
        }
    }

    /// Registers (`proxy_register` 1, or back to 1).
    pub fn start(&mut self) {
        self.failures = 0;
        self.challenges = 0;
        self.interval_raised = false;
        self.expires = self.settings.register_expires;
        self.send(Purpose::Register);
        if !matches!(self.state, RegState::Registered { .. }) {
            self.set_state(RegState::Registering);
        }
    }

    /// Unregisters (`proxy_register` 0): REGISTER with Expires 0 if the line is or may be
    /// registered, and no more retries.
    pub fn stop(&mut self) {
        self.timer = None;
        let may_be_registered = matches!(self.state, RegState::Registered { .. })
            || self.awaiting.is_some_and(|(_, p)| p == Purpose::Register);
        if may_be_registered {
            self.challenges = 0;
            self.send(Purpose::Unregister);
        } else {
            self.awaiting = None;
            self.set_state(RegState::Unregistered);
        }
    }

    fn send(&mut self, purpose: Purpose) {
        self.cseq += 1;
        let expires = match purpose {
            Purpose::Register => self.expires,
            Purpose::Unregister => 0,
        };
        let request = self.build(expires);
        self.awaiting = Some((self.cseq, purpose));
        self.outbox.push_back(request);
    }

    fn build(&mut self, expires: u32) -> Message {
        let aor = format!(
            "sip:{}@{}{}",
            self.line.name,
            self.line.proxy,
            self.user_param()
        );
        let ctx = PrintCtx {
            method: Some(&Method::REGISTER),
            uri: Some(UriContext::ReqUri),
        };
        let uri = self.request_uri.print_ctx(ctx).to_string();
        let mut m = Message::request("REGISTER", uri);
        let from = match &self.line.display_name {
            Some(d) => format!("\"{}\" <{aor}>", d.replace(['"', '\\'], "")),
            None => format!("<{aor}>"),
        };
        m.push(Name::FROM, format!("{from};tag={}", self.from_tag));
        m.push(Name::TO, format!("<{aor}>"));
        m.push(Name::CALL_ID, self.call_id.clone());
        m.push(Name::CSEQ, format!("{} REGISTER", self.cseq));
        m.push(Name::MAX_FORWARDS, "70");
        m.push(Name::CONTACT, format!("<{}>", self.contact_uri()));
        m.push(Name::EXPIRES, expires.to_string());
        m.push(Name::USER_AGENT, self.settings.user_agent.clone());
        self.auth.authorize_request(&mut m.headers);
        m
    }

    /// The next REGISTER to send, to [`Registration::destination`].
    pub fn poll_request(&mut self) -> Option<Message> {
        self.outbox.pop_front()
    }

    /// The next change of state, to publish.
    pub fn poll_change(&mut self) -> Option<RegState> {
        self.changes.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Refresh and retry timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            if self.awaiting.is_none() {
                self.challenges = 0;
                self.interval_raised = false;
                self.send(Purpose::Register);
                if matches!(self.state, RegState::Failed { .. }) {
                    self.set_state(RegState::Registering);
                }
            }
        }
    }

    /// A final or provisional response to a REGISTER of this line.
    pub fn handle_response(&mut self, now: Instant, response: &Message) {
        let Some((cseq, purpose)) = self.awaiting else {
            return;
        };
        if response.cseq().map(|c| c.number) != Some(cseq) {
            return; // a response to an earlier REGISTER, superseded
        }
        let code = response.code().unwrap_or_default();
        match code {
            100..=199 => {}
            200..=299 => {
                self.awaiting = None;
                self.challenges = 0;
                match purpose {
                    Purpose::Unregister => self.set_state(RegState::Unregistered),
                    Purpose::Register => self.registered(now, response),
                }
            }
            401 | 407 => {
                self.awaiting = None;
                match self.answer_challenge(response) {
                    Ok(()) => self.send(purpose),
                    Err(reason) => self.failed(now, purpose, reason),
                }
            }
            423 if purpose == Purpose::Register && !self.interval_raised => {
                self.awaiting = None;
                let min = response
                    .header(&Name::MIN_EXPIRES)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.expires);
                match min {
                    Some(min) => {
                        self.interval_raised = true;
                        self.expires = min;
                        self.send(purpose);
                    }
                    None => self.failed(now, purpose, "423 without a larger Min-Expires".into()),
                }
            }
            _ => {
                self.awaiting = None;
                let reason = match &response.start {
                    crate::message::StartLine::Response { reason, .. } => {
                        format!("{code} {reason}")
                    }
                    _ => code.to_string(),
                };
                self.failed(now, purpose, reason);
            }
        }
    }

    /// The REGISTER in flight got no final response (timer F).
    pub fn handle_request_timeout(&mut self, now: Instant) {
        if let Some((_, purpose)) = self.awaiting.take() {
            self.failed(now, purpose, "no response from the registrar".into());
        }
    }

    fn answer_challenge(&mut self, response: &Message) -> Result<(), String> {
        self.challenges += 1;
        if self.challenges > 2 {
            return Err(self.refused());
        }
        let line = RequestLine {
            method: Method::REGISTER,
            uri: self.request_uri.clone(),
        };
        let status = StatusLine {
            code: StatusCode::from(response.code().unwrap_or_default()),
            reason: None,
        };
        self.auth
            .handle_rejection(
                // Digest covers method and Request-URI (and the body for auth-int: REGISTER
                // has none).
                RequestParts {
                    line: &line,
                    headers: &ezk_sip_types::Headers::new(),
                    body: &[],
                },
                ResponseParts {
                    line: &status,
                    headers: &response.headers,
                    body: &response.body,
                },
            )
            .map_err(|e| match e {
                // The same challenge again: the answer to it was refused.
                DigestError::FailedToAuthenticate(_) => self.refused(),
                e => format!("authentication: {e}"),
            })
    }

    /// Said plainly for the Status screen: this is almost always a wrong password.
    fn refused(&self) -> String {
        let user = self.line.authname.as_deref().unwrap_or(&self.line.name);
        format!(
            "authentication refused: the registrar rejected the credentials of {user} \
             (wrong authname or password?)"
        )
    }

    fn registered(&mut self, now: Instant, response: &Message) {
        let granted = self.granted_expiry(response);
        if granted == 0 {
            self.failed(
                now,
                Purpose::Register,
                "the registrar kept no binding".into(),
            );
            return;
        }
        self.failures = 0;
        let granted_d = Duration::from_secs(u64::from(granted));
        let margin = refresh_margin(granted_d, self.settings.timers.non_invite_timeout());
        let refresh = now + (granted_d - margin);
        self.timer = Some(refresh);
        self.set_state(RegState::Registered {
            until: now + granted_d,
            refresh,
        });
    }

    /// The lifetime the registrar granted our binding: the `expires` parameter of our
    /// Contact in the 2xx, else its Expires header, else what was asked.
    fn granted_expiry(&self, response: &Message) -> u32 {
        let ours = self.contact_uri();
        let host_port = format!("@{}:{}", self.contact_host, self.contact_port);
        let contact_expiry = response
            .header_values(&Name::CONTACT)
            .flat_map(split_list)
            .filter_map(|c| name_addr(c).ok())
            .find(|a| a.uri.eq_ignore_ascii_case(&ours) || a.uri.contains(&host_port))
            .and_then(|a| a.param("expires").and_then(|e| e.parse::<u32>().ok()));
        contact_expiry
            .or_else(|| {
                response
                    .header(&Name::EXPIRES)
                    .and_then(|e| e.trim().parse().ok())
            })
            .unwrap_or(self.expires)
    }

    fn failed(&mut self, now: Instant, purpose: Purpose, reason: String) {
        if purpose == Purpose::Unregister {
            // Nothing to retry: the binding expires on its own.
            self.set_state(RegState::Unregistered);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry = now + self.backoff();
        self.timer = Some(retry);
        self.set_state(RegState::Failed { reason, retry });
    }

    /// 30 s · 2^(n-1), at most 1800 s, times a factor in [0.5, 1].
    fn backoff(&mut self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(6);
        let full = (30u64 << exp).min(1800);
        let factor = 0.5 + 0.5 * self.rng.f64();
        Duration::from_secs_f64(full as f64 * factor)
    }

    fn set_state(&mut self, state: RegState) {
        if self.state != state {
            self.state = state.clone();
            self.changes.push_back(state);
        }
    }
}

/// How long before the granted expiry the refresh starts (see the module documentation).
pub fn refresh_margin(granted: Duration, transaction: Duration) -> Duration {
    transaction.max(granted / 10).min(granted / 2)
}

fn host_text(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}
