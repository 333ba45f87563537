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
//!
//! # Failover to `proxy_backup`
//!
//! A line may have a backup registrar ([`Registration::with_backup`]): `proxy_backup` and
//! `proxy_backup_port` (default 5060), resolved like the proxies. The phone has one backup for
//! all its lines; the [`UserAgent`](crate::UserAgent) shares what one line learns about a
//! primary with every other line that registers with the same one. With an
//! `outbound_proxy` there is no failover: the outbound proxy is the only next hop and the
//! sipd plan gives the lines no backup. A backup that resolves to the primary's own address
//! is no backup either.
//!
//! - **Only the destination changes.** The Request-URI, To and From keep the line's
//!   `proxyN_address` (the address of record does not move, and the digest realm a registrar
//!   derives from the To domain stays the same); Call-ID and From tag stay, CSeq keeps counting
//!   up, so registrars that share one location table see one orderly sequence. The digest
//!   answers cached for one server are dropped on a switch: the other server challenges with
//!   its own nonce.
//! - **An outage** is a REGISTER (first, refresh or retry) that gets no final response (timer
//!   F, or the request could not be sent), or that is answered 408 or 5xx (503 included).
//!   Any other failure (401/403/404, 423 unanswerable, a refused password, 6xx) is a
//!   configuration problem the other server would share: it backs off as without a backup.
//! - **Switching is immediate.** When the primary is out, the same attempt goes on at once with
//!   a REGISTER to the backup, without a back-off wait; the line shows `Registering` until the
//!   backup answers. While a line is on the backup its refreshes and new calls
//!   ([`Registration::destination`]) go there. When one line finds its primary out, every
//!   other line registered with that primary switches at once too.
//! - **Both out.** An *attempt* tries the server in use and, after an outage, the other one
//!   once. When both failed, the line backs off as above and the next attempt starts again
//!   with the primary (primary first, not alternating: the primary is where the
//!   administrator wants the phones, and every attempt still reaches both). The reason then
//!   names both failures (`primary: ...; backup: ...`).
//! - **Back to the primary.** While registered with the backup, the line probes the primary
//!   with OPTIONS every [`probe_period`] (two whole non-INVITE transactions, 64 s with the
//!   default timers, at least 10 s), so a probe is over before the next starts and the
//!   backup's own refreshes never wait for the dead primary (a REGISTER probe at each refresh
//!   would delay them by a whole timeout, and with the default 3600 s expiry would keep the
//!   phones on the backup for up to an hour). Any final answer but 408 and 5xx (a 404 or 405
//!   to OPTIONS included) means the primary is back: the line first unregisters its binding at
//!   the backup (Expires 0, whatever the answer) and then registers with the primary, so
//!   registrars that share a location table never see the removal after the new binding, and
//!   separate ones do not keep routing calls to the phone for the rest of the expiry. The gap
//!   is one round trip; the line stays `Registered` through it. If the primary fails the
//!   REGISTER, the line goes back to the backup at once. A binding left behind at a server
//!   that stopped answering is left to expire.

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
    /// Expires 0 at the backup before registering with the primary again.
    LeaveBackup,
}

/// Which registrar a line uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The line's `proxyN_address` (or the outbound proxy).
    Primary,
    /// `proxy_backup`.
    Backup,
}

impl Server {
    pub fn as_str(self) -> &'static str {
        match self {
            Server::Primary => "primary",
            Server::Backup => "backup",
        }
    }
}

/// What a line learnt about its primary, for the other lines that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryNews {
    /// A REGISTER to it met an outage: lines registered there move to the backup now.
    Down,
    /// It answered a probe: lines registered with the backup return now.
    Back,
}

/// The least time between two probes of the primary.
const MIN_PROBE_PERIOD: Duration = Duration::from_secs(10);

/// How often a line on the backup probes its primary: two whole non-INVITE transactions
/// (64 s with the default timers), at least 10 s.
pub fn probe_period(timers: &crate::config::Timers) -> Duration {
    timers
        .non_invite_timeout()
        .saturating_mul(2)
        .max(MIN_PROBE_PERIOD)
}

/// Whether a final response to REGISTER (or a probe) says the server is out.
fn outage(code: u16) -> bool {
    code == 408 || (500..=599).contains(&code)
}

/// The registration state machine of one line.
pub struct Registration {
    line: LineSettings,
    settings: Settings,
    contact_host: String,
    contact_port: u16,
    primary: SocketAddr,
    backup: Option<SocketAddr>,
    /// Where REGISTERs go now.
    using: Server,
    /// Where the binding is, while registered.
    registered_with: Server,
    /// The attempt in progress already switched server once (after this failure it backs off).
    switched: Option<String>,
    /// The next OPTIONS probe of the primary (registered with the backup only).
    probe_at: Option<Instant>,
    /// The Call-ID of the probe in flight.
    probing: Option<String>,
    /// The Contact to remove with the next REGISTER (nat_received_processing moved us).
    stale_contact: Option<String>,
    news: VecDeque<PrimaryNews>,
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
    outbox: VecDeque<(Message, SocketAddr)>,
    changes: VecDeque<RegState>,
    rng: fastrand::Rng,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("line", &self.line.line)
            .field("state", &self.state)
            .field("using", &self.using)
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
        let call_id: String = token(&mut rng, 20);
        Ok(Registration {
            contact_host: settings
                .nat_address
                .clone()
                .unwrap_or_else(|| host_text(local)),
            contact_port: local.port(),
            primary: destination,
            backup: None,
            using: Server::Primary,
            registered_with: Server::Primary,
            switched: None,
            probe_at: None,
            probing: None,
            stale_contact: None,
            news: VecDeque::new(),
            request_uri,
            call_id: format!("{call_id}@{}", host_text(local)),
            from_tag: token(&mut rng, 10),
            cseq: 0,
            expires: settings.register_expires,
            auth: authenticator(&line),
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

    /// The backup registrar (`proxy_backup`): see the module documentation. Not with an
    /// outbound proxy, and not the primary's own address.
    pub fn with_backup(mut self, backup: Option<SocketAddr>) -> Registration {
        self.backup = backup.filter(|b| *b != self.primary);
        self
    }

    /// Where this line's REGISTERs and new calls go now: the primary or the backup.
    pub fn destination(&self) -> SocketAddr {
        match self.using {
            Server::Backup => self.backup.unwrap_or(self.primary),
            Server::Primary => self.primary,
        }
    }

    /// The primary registrar (the resolved proxy, or the outbound proxy).
    pub fn primary(&self) -> SocketAddr {
        self.primary
    }

    pub fn backup(&self) -> Option<SocketAddr> {
        self.backup
    }

    /// The server in use: the one holding the binding while registered, else the one
    /// being tried.
    pub fn using(&self) -> Server {
        match self.state {
            RegState::Registered { .. } => self.registered_with,
            _ => self.using,
        }
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
        self.switched = None;
        self.switch(Server::Primary);
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
        self.probe_at = None;
        let may_be_registered = matches!(self.state, RegState::Registered { .. })
            || self.awaiting.is_some_and(|(_, p)| p != Purpose::Unregister);
        let registering = self.awaiting.is_some_and(|(_, p)| p == Purpose::Register);
        if !registering && matches!(self.state, RegState::Registered { .. }) {
            // Unregister where the binding is (the backup also while leaving it).
            self.switch(self.registered_with);
        }
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
            Purpose::Unregister | Purpose::LeaveBackup => 0,
        };
        let request = self.build(expires);
        self.awaiting = Some((self.cseq, purpose));
        let to = self.destination();
        self.outbox.push_back((request, to));
    }

    /// Where REGISTERs go from now on; the digest answers cached for the other server go.
    fn switch(&mut self, to: Server) {
        if self.using != to {
            self.using = to;
            self.auth = authenticator(&self.line);
        }
    }

    /// The line's address of record: To and From of its REGISTERs and SUBSCRIBEs.
    pub(crate) fn aor(&self) -> String {
        format!(
            "sip:{}@{}{}",
            self.line.name,
            self.line.proxy,
            self.user_param()
        )
    }

    /// From without its tag: the display name (quotes and backslashes dropped) and the AOR.
    pub(crate) fn local_uri(&self) -> String {
        let aor = self.aor();
        match &self.line.display_name {
            Some(d) => format!("\"{}\" <{aor}>", d.replace(['"', '\\'], "")),
            None => format!("<{aor}>"),
        }
    }

    /// OPTIONS to the primary: is it back?
    fn probe(&mut self) {
        let token =
            |rng: &mut fastrand::Rng, n| -> String { (0..n).map(|_| rng.alphanumeric()).collect() };
        let call_id = format!("{}@{}", token(&mut self.rng, 20), self.contact_host);
        let tag = token(&mut self.rng, 10);
        let ctx = PrintCtx {
            method: Some(&Method::OPTIONS),
            uri: Some(UriContext::ReqUri),
        };
        let uri = self.request_uri.print_ctx(ctx).to_string();
        let mut m = Message::request("OPTIONS", uri.clone());
        m.push(Name::FROM, format!("<{}>;tag={tag}", self.aor()));
        m.push(Name::TO, format!("<{uri}>"));
        m.push(Name::CALL_ID, call_id.clone());
        m.push(Name::CSEQ, "1 OPTIONS");
        m.push(Name::MAX_FORWARDS, "70");
        m.push(Name::CONTACT, format!("<{}>", self.contact_uri()));
        m.push(Name::ACCEPT, "application/sdp");
        m.push(Name::USER_AGENT, self.settings.user_agent.clone());
        self.probing = Some(call_id);
        self.outbox.push_back((m, self.primary));
    }

    fn build(&mut self, expires: u32) -> Message {
        let aor = self.aor();
        let ctx = PrintCtx {
            method: Some(&Method::REGISTER),
            uri: Some(UriContext::ReqUri),
        };
        let uri = self.request_uri.print_ctx(ctx).to_string();
        let mut m = Message::request("REGISTER", uri);
        m.push(
            Name::FROM,
            format!("{};tag={}", self.local_uri(), self.from_tag),
        );
        m.push(Name::TO, format!("<{aor}>"));
        m.push(Name::CALL_ID, self.call_id.clone());
        m.push(Name::CSEQ, format!("{} REGISTER", self.cseq));
        m.push(Name::MAX_FORWARDS, "70");
        m.push(Name::CONTACT, format!("<{}>", self.contact_uri()));
        if let Some(old) = &self.stale_contact {
            // nat_received_processing: the binding of the address we had is removed in the
            // same request that adds the new one.
            m.push(Name::CONTACT, format!("<{old}>;expires=0"));
        }
        m.push(Name::EXPIRES, expires.to_string());
        m.push(Name::USER_AGENT, self.settings.user_agent.clone());
        self.auth.authorize_request(&mut m.headers);
        m
    }

    /// The next request to send (a REGISTER, or an OPTIONS probe of the primary) and where
    /// to.
    pub fn poll_request(&mut self) -> Option<(Message, SocketAddr)> {
        self.outbox.pop_front()
    }

    /// What this line learnt about its primary, for the other lines that use it.
    pub fn poll_news(&mut self) -> Option<PrimaryNews> {
        self.news.pop_front()
    }

    /// Another line found the primary out: a line registered there moves to the backup now.
    pub fn primary_down(&mut self) {
        if self.backup.is_some()
            && self.awaiting.is_none()
            && self.using == Server::Primary
            && matches!(self.state, RegState::Registered { .. })
        {
            self.timer = None;
            self.challenges = 0;
            self.interval_raised = false;
            self.switched = Some("primary: out (seen on another line)".into());
            self.switch(Server::Backup);
            self.send(Purpose::Register);
            self.set_state(RegState::Registering);
        }
    }

    /// Another line found the primary back: a line registered with the backup returns now.
    pub fn primary_back(&mut self) {
        if self.awaiting.is_none()
            && self.registered_with == Server::Backup
            && matches!(self.state, RegState::Registered { .. })
        {
            self.leave_backup();
        }
    }

    fn leave_backup(&mut self) {
        self.probe_at = None;
        self.challenges = 0;
        self.send(Purpose::LeaveBackup);
    }

    /// The next change of state, to publish.
    pub fn poll_change(&mut self) -> Option<RegState> {
        self.changes.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer.into_iter().chain(self.probe_at).min()
    }

    /// Refresh, retry and probe timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.probe_at.is_some_and(|t| t <= now) {
            self.probe_at = None;
            if self.probing.is_none() {
                self.probe();
            }
            // The next one a period after this one started: a probe is over by then.
            self.probe_at = Some(now + probe_period(&self.settings.timers));
        }
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            if self.awaiting.is_none() {
                self.challenges = 0;
                self.interval_raised = false;
                self.switched = None;
                self.send(Purpose::Register);
                if matches!(self.state, RegState::Failed { .. }) {
                    self.set_state(RegState::Registering);
                }
            }
        }
    }

    /// A final or provisional response to a REGISTER of this line.
    pub fn handle_response(&mut self, now: Instant, response: &Message) {
        if response
            .cseq()
            .is_some_and(|c| c.method.eq_ignore_ascii_case("OPTIONS"))
        {
            return self.probe_response(response);
        }
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
                    Purpose::LeaveBackup => self.failed(now, purpose, String::new(), false),
                }
            }
            401 | 407 => {
                self.awaiting = None;
                match self.answer_challenge(response) {
                    Ok(()) => self.send(purpose),
                    Err(reason) => self.failed(now, purpose, reason, false),
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
                    None => self.failed(
                        now,
                        purpose,
                        "423 without a larger Min-Expires".into(),
                        false,
                    ),
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
                self.failed(now, purpose, reason, outage(code));
            }
        }
    }

    /// The REGISTER in flight got no final response (timer F).
    pub fn handle_request_timeout(&mut self, now: Instant) {
        if let Some((_, purpose)) = self.awaiting.take() {
            self.failed(now, purpose, "no response from the registrar".into(), true);
        }
    }

    /// The OPTIONS probe of the primary got no final response: still out.
    pub fn handle_probe_timeout(&mut self) {
        self.probing = None;
    }

    fn probe_response(&mut self, response: &Message) {
        let code = response.code().unwrap_or_default();
        if code < 200 || self.probing.as_deref() != response.call_id() {
            return;
        }
        self.probing = None;
        if outage(code) {
            return;
        }
        self.news.push_back(PrimaryNews::Back);
        self.primary_back();
    }

    fn answer_challenge(&mut self, response: &Message) -> Result<(), String> {
        self.challenges += 1;
        if self.challenges > 2 {
            return Err(self.refused());
        }
        let uri = self.request_uri.clone();
        answer_digest(&mut self.auth, Method::REGISTER, uri, response).map_err(|e| match e {
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
        self.stale_contact = None;
        // nat_received_processing: the registrar saw us at another address (a NAT): that
        // address goes in Contact from now on, and the old binding is removed at once.
        if self.settings.nat_received_processing {
            let received = response
                .top_via()
                .and_then(|v| v.params.get_val("received").map(|r| r.to_string()))
                .filter(|r| r.parse::<std::net::IpAddr>().is_ok());
            if let Some(received) = received.filter(|r| *r != self.contact_host) {
                self.stale_contact = Some(self.contact_uri());
                self.contact_host = received;
                self.send(Purpose::Register);
                return;
            }
        }
        let granted = self.granted_expiry(response);
        if granted == 0 {
            self.failed(
                now,
                Purpose::Register,
                "the registrar kept no binding".into(),
                false,
            );
            return;
        }
        self.failures = 0;
        self.switched = None;
        self.registered_with = self.using;
        // Refreshes at the backup keep the probe schedule (and a probe in flight).
        match self.using {
            Server::Backup => {
                let first = now + probe_period(&self.settings.timers);
                self.probe_at = Some(self.probe_at.unwrap_or(first));
            }
            Server::Primary => {
                self.probing = None;
                self.probe_at = None;
            }
        }
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

    fn failed(&mut self, now: Instant, purpose: Purpose, reason: String, out: bool) {
        match purpose {
            Purpose::Unregister => {
                // Nothing to retry: the binding expires on its own.
                self.set_state(RegState::Unregistered);
                return;
            }
            Purpose::LeaveBackup => {
                // Answered or not, the line goes back to the primary.
                self.challenges = 0;
                self.switched = None;
                self.switch(Server::Primary);
                self.send(Purpose::Register);
                return;
            }
            Purpose::Register => {}
        }
        self.probe_at = None;
        let server = self.using;
        let reason = match (&self.switched, self.backup) {
            (Some(first), _) => format!("{first}; {}: {reason}", server.as_str()),
            (None, Some(_)) => format!("{}: {reason}", server.as_str()),
            (None, None) => reason,
        };
        if out && self.backup.is_some() && self.switched.is_none() {
            // Out: the same attempt goes on at once with the other server.
            if server == Server::Primary {
                self.news.push_back(PrimaryNews::Down);
            }
            self.switched = Some(reason);
            self.challenges = 0;
            self.interval_raised = false;
            self.switch(match server {
                Server::Primary => Server::Backup,
                Server::Backup => Server::Primary,
            });
            self.send(Purpose::Register);
            self.set_state(RegState::Registering);
            return;
        }
        // Every attempt after a back-off starts with the primary.
        self.switched = None;
        self.switch(Server::Primary);
        self.failures = self.failures.saturating_add(1);
        let retry = now + self.backoff();
        self.timer = Some(retry);
        self.set_state(RegState::Failed { reason, retry });
    }

    fn backoff(&mut self) -> Duration {
        backoff(self.failures, &mut self.rng)
    }

    fn set_state(&mut self, state: RegState) {
        if self.state != state {
            self.state = state.clone();
            self.changes.push_back(state);
        }
    }
}

/// Answers a 401/407 to a request of `method` to `uri` with `auth`'s credentials; the next
/// request it authorizes carries the answer. Digest covers method and Request-URI (and the
/// body only for auth-int, which nothing here is asked for).
pub(crate) fn answer_digest(
    auth: &mut DigestAuthenticator,
    method: Method,
    uri: SipUri,
    response: &Message,
) -> Result<(), DigestError> {
    let line = RequestLine { method, uri };
    let status = StatusLine {
        code: StatusCode::from(response.code().unwrap_or_default()),
        reason: None,
    };
    auth.handle_rejection(
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
}

/// The wait after the `failures`-th failure in a row: 30 s · 2^(n-1), at most 1800 s, times
/// a factor in [0.5, 1] (see the module documentation).
pub(crate) fn backoff(failures: u32, rng: &mut fastrand::Rng) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    let full = (30u64 << exp).min(1800);
    let factor = 0.5 + 0.5 * rng.f64();
    Duration::from_secs_f64(full as f64 * factor)
}

/// How long before the granted expiry the refresh starts (see the module documentation).
pub fn refresh_margin(granted: Duration, transaction: Duration) -> Duration {
    transaction.max(granted / 10).min(granted / 2)
}

/// The digest state of a line: its credentials, no answer cached.
/// The digest answers of a line: `lineN_authname`/`lineN_password` for every realm.
pub(crate) fn authenticator(line: &LineSettings) -> DigestAuthenticator {
    let mut credentials = DigestCredentials::new();
    if let (Some(user), Some(password)) = (&line.authname, &line.password) {
        credentials.set_default(DigestUser::new(user.as_str(), password.as_bytes()));
    }
    DigestAuthenticator::new(credentials)
}

fn host_text(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}
