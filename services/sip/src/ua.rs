//! The user agent core: one [`Endpoint`] (transactions), one [`Registration`] per line, the
//! [`Calls`] and the message-waiting [`Subscription`]s, wired together, with OPTIONS answered
//! here. What none of them takes (a NOTIFY outside our subscriptions, such as an unsolicited
//! message-summary or a check-sync, SUBSCRIBE, ...) goes up as [`UaEvent::Transaction`].
//!
//! Each line registers with its primary and, given one, fails over to the backup
//! (`proxy_backup`) and back as [`crate::register`] describes; new calls of a line go where
//! its registration goes ([`Registration::destination`]). What one line learns about its
//! primary (out, or back) moves at once every other line registered with the same address.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::Name;

use crate::call::{
    CallError, CallEvent, CallId, CallInfo, CallSettings, Calls, DialExtras, LineIdentity, Route,
};
use crate::config::{LineSettings, Settings};
use crate::message::{response_to, Message};
use crate::mwi::MessageSummary;
use crate::register::{PrimaryNews, RegState, Registration, Server};
use crate::subscription::{SubState, Subscription};
use crate::transaction::{ClientTx, Endpoint, Error, Event, ServerTx, Transmit};
use crate::transfer::TransferTarget;

pub use crate::call::ALLOW;

#[derive(Debug, Clone)]
pub enum UaEvent {
    /// A line's registration changed.
    Registration { line: u8, state: RegState },
    /// Something about a call.
    Call(CallEvent),
    /// Something for the layers above the registrations and calls.
    Transaction(Event),
    /// A line's message-waiting subscription changed ([`UserAgent::subscribe_mwi`]).
    Subscription { line: u8, state: SubState },
    /// A NOTIFY of a line's message-waiting subscription told the mailbox state (it has been
    /// answered already). Unsolicited message-summary NOTIFYs still come as
    /// [`UaEvent::Transaction`].
    MessageSummary { line: u8, summary: MessageSummary },
}

#[derive(Debug)]
pub struct UserAgent {
    settings: Settings,
    local: SocketAddr,
    endpoint: Endpoint,
    lines: Vec<Registration>,
    /// The line of each client transaction of the registrations, and whether it is an OPTIONS
    /// probe of the primary.
    tx_line: HashMap<ClientTx, (u8, bool)>,
    /// The message-waiting subscriptions, one per line at most.
    subs: Vec<Subscription>,
    /// The line of each client transaction of the subscriptions.
    tx_sub: HashMap<ClientTx, u8>,
    calls: Calls,
    rng: fastrand::Rng,
    events: VecDeque<UaEvent>,
}

impl UserAgent {
    /// `local` is the bound SIP socket (`voip_control_port`); `seed` feeds every random
    /// token (give it fresh entropy in the service, a constant in tests).
    pub fn new(settings: Settings, local: SocketAddr, seed: u64) -> UserAgent {
        let host = match (&settings.nat_address, local) {
            (Some(nat), _) => nat.clone(),
            (None, SocketAddr::V4(a)) => a.ip().to_string(),
            (None, SocketAddr::V6(a)) => format!("[{}]", a.ip()),
        };
        let mut rng = fastrand::Rng::with_seed(seed);
        let endpoint = Endpoint::new(
            settings.timers,
            format!("{host}:{}", local.port()),
            rng.u64(..),
        );
        let call_settings = CallSettings::from_config(
            &deskphone_config::Config::new(deskphone_config::Mac([0; 6])),
            &host,
            None,
        );
        let calls = Calls::new(call_settings, settings.timers, rng.u64(..));
        UserAgent {
            settings,
            local,
            endpoint,
            lines: Vec::new(),
            tx_line: HashMap::new(),
            subs: Vec::new(),
            tx_sub: HashMap::new(),
            calls,
            rng,
            events: VecDeque::new(),
        }
    }

    /// Adds a line; its REGISTERs go to `destination` (the resolved proxy, or the outbound
    /// proxy). Replaces a line of the same number.
    pub fn add_line(&mut self, line: LineSettings, destination: SocketAddr) -> Result<(), String> {
        self.add_line_with_backup(line, destination, None)
    }

    /// [`UserAgent::add_line`] with a backup registrar (`proxy_backup`) the line fails over to
    /// when `destination` is out (see [`crate::register`]). Every line whose primary is the
    /// same address moves with the others.
    pub fn add_line_with_backup(
        &mut self,
        line: LineSettings,
        destination: SocketAddr,
        backup: Option<SocketAddr>,
    ) -> Result<(), String> {
        let number = line.line;
        let reg = Registration::new(
            line,
            &self.settings,
            self.local,
            destination,
            self.rng.u64(..),
        )?
        .with_backup(backup);
        self.lines.retain(|r| r.line() != number);
        // Answers to the replaced registration's requests are not the new one's.
        self.tx_line.retain(|_, (l, _)| *l != number);
        // So does its subscription (other credentials, maybe another server): subscribe again.
        self.subs.retain(|s| s.line() != number);
        self.tx_sub.retain(|_, l| *l != number);
        self.lines.push(reg);
        Ok(())
    }

    pub fn registration(&self, line: u8) -> Option<&RegState> {
        self.lines
            .iter()
            .find(|r| r.line() == line)
            .map(Registration::state)
    }

    /// Which registrar a line uses: the one holding its binding while registered, else the
    /// one it is trying.
    pub fn using(&self, line: u8) -> Option<Server> {
        self.lines
            .iter()
            .find(|r| r.line() == line)
            .map(Registration::using)
    }

    /// Where a line's REGISTERs and new calls go now.
    pub fn destination(&self, line: u8) -> Option<SocketAddr> {
        self.lines
            .iter()
            .find(|r| r.line() == line)
            .map(Registration::destination)
    }

    /// Starts registering a line (`proxy_register` 1).
    pub fn register(&mut self, now: Instant, line: u8) {
        if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
            r.start();
        }
        self.pump(now);
    }

    /// Unregisters a line (`proxy_register` 0).
    pub fn unregister(&mut self, now: Instant, line: u8) {
        if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
            r.stop();
        }
        self.pump(now);
    }

    /// Subscribes a line to its own message-waiting state (`message-summary`, RFC 3842) at
    /// the server it registers with, and keeps the subscription up (see
    /// [`crate::subscription`]). Summaries then come as [`UaEvent::MessageSummary`], changes
    /// as [`UaEvent::Subscription`]. Asked again, it refreshes at once, or starts over after
    /// the subscription stopped. Nothing for an unknown line.
    pub fn subscribe_mwi(&mut self, now: Instant, line: u8) {
        let Some(reg) = self.lines.iter().find(|r| r.line() == line) else {
            return;
        };
        if !self.subs.iter().any(|s| s.line() == line) {
            let sub = Subscription::new(reg.settings(), &self.settings, self.rng.u64(..));
            self.subs.push(sub);
        }
        if let Some(s) = self.subs.iter_mut().find(|s| s.line() == line) {
            s.start(now);
        }
        self.pump(now);
    }

    /// Ends a line's message-waiting subscription: SUBSCRIBE with Expires 0 if one may
    /// exist, and the dialog is forgotten.
    pub fn unsubscribe_mwi(&mut self, now: Instant, line: u8) {
        if let Some(s) = self.subs.iter_mut().find(|s| s.line() == line) {
            s.stop(now);
        }
        self.pump(now);
    }

    /// Where a line's message-waiting subscription stands; `None` if it was never asked for.
    pub fn mwi_subscription(&self, line: u8) -> Option<&SubState> {
        self.subs
            .iter()
            .find(|s| s.line() == line)
            .map(Subscription::state)
    }

    /// The call settings in effect (policies, codecs, media ports).
    pub fn set_call_settings(&mut self, settings: CallSettings) {
        self.calls.set_settings(settings);
    }

    pub fn call_settings(&self) -> &CallSettings {
        self.calls.settings()
    }

    /// Who we are on each line, for the calls.
    fn identities(&self) -> Vec<LineIdentity> {
        self.lines
            .iter()
            .map(|r| LineIdentity {
                settings: r.settings().clone(),
                contact: r.contact_uri(),
                destination: r.destination(),
                user_param: r.user_param(),
            })
            .collect()
    }

    /// Who we are on the line of `call`.
    fn identity_of(&self, call: CallId) -> Result<LineIdentity, CallError> {
        let line = self
            .calls
            .list()
            .iter()
            .find(|c| c.id == call)
            .map(|c| c.line)
            .ok_or(CallError::NoSuchCall)?;
        self.identity(line)
    }

    fn identity(&self, line: u8) -> Result<LineIdentity, CallError> {
        self.identities()
            .into_iter()
            .find(|l| l.settings.line == line)
            .ok_or(CallError::NoSuchLine)
    }

    /// Places a call from `line` to `target` (a number, or a `sip:` URI).
    pub fn dial(&mut self, now: Instant, line: u8, target: &str) -> Result<CallId, CallError> {
        self.dial_routed(now, line, target, Route::default())
    }

    /// [`UserAgent::dial`] the way a dial-plan rule asks (`User=`, `Route=`).
    pub fn dial_routed(
        &mut self,
        now: Instant,
        line: u8,
        target: &str,
        route: Route,
    ) -> Result<CallId, CallError> {
        let identity = self.identity(line)?;
        let extras = DialExtras {
            route,
            ..DialExtras::default()
        };
        let r = self
            .calls
            .dial_with(now, &mut self.endpoint, &identity, target, extras);
        self.pump(now);
        r
    }

    /// Answers a ringing call.
    pub fn answer(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        let identity = self.identity_of(call)?;
        let r = self.calls.answer(now, &mut self.endpoint, &identity, call);
        self.pump(now);
        r
    }

    /// Ends a call: BYE, CANCEL or a decline, as its state needs. Hanging up a conference
    /// call leaves the conference (the other two are joined with `cnf_join_enable`).
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        let ids = self.identities();
        let r = match self
            .calls
            .leave_conference(now, &mut self.endpoint, &ids, call)
        {
            Ok(true) => Ok(()),
            Ok(false) => self.calls.hangup(now, &mut self.endpoint, call),
            Err(e) => Err(e),
        };
        self.pump(now);
        r
    }

    /// Transfers a call (blind to a number, attended or semi-attended to another call).
    pub fn transfer(
        &mut self,
        now: Instant,
        call: CallId,
        target: TransferTarget,
    ) -> Result<(), CallError> {
        let identity = self.identity_of(call)?;
        let r = self
            .calls
            .transfer(now, &mut self.endpoint, &identity, call, target);
        self.pump(now);
        r
    }

    /// Mixes two calls in a local three-way conference.
    pub fn conference(&mut self, now: Instant, a: CallId, b: CallId) -> Result<(), CallError> {
        let ids = self.identities();
        let r = self.calls.conference(now, &mut self.endpoint, &ids, a, b);
        self.pump(now);
        r
    }

    /// Holds (`true`) or resumes (`false`) a call.
    pub fn hold(&mut self, now: Instant, call: CallId, hold: bool) -> Result<(), CallError> {
        let identity = self.identity_of(call)?;
        let r = self
            .calls
            .hold(now, &mut self.endpoint, &identity, call, hold);
        self.pump(now);
        r
    }

    /// The calls, oldest first.
    pub fn calls(&self) -> Vec<CallInfo> {
        self.calls.list()
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Answers a request handed up in [`UaEvent::Transaction`].
    pub fn respond(&mut self, now: Instant, tx: ServerTx, response: Message) -> Result<(), Error> {
        self.endpoint.respond(now, tx, response)
    }

    /// Sends a request of the layers above in its own client transaction.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        destination: SocketAddr,
    ) -> Result<ClientTx, Error> {
        self.endpoint.send_request(now, request, destination)
    }

    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.endpoint.handle_datagram(now, source, data);
        self.pump(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.calls.handle_timeout(now, &mut self.endpoint);
        for r in &mut self.lines {
            r.handle_timeout(now);
        }
        for s in &mut self.subs {
            s.handle_timeout(now);
        }
        self.pump(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let lines = self.lines.iter().filter_map(Registration::poll_timeout);
        let subs = self.subs.iter().filter_map(Subscription::poll_timeout);
        lines
            .chain(subs)
            .chain(self.endpoint.poll_timeout())
            .chain(self.calls.poll_timeout())
            .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Moves everything between the endpoint and the registrations until both are quiet.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(event) = self.endpoint.poll_event() {
                busy = true;
                self.route(now, event);
            }
            let ids = self.identities();
            self.calls.flush(now, &mut self.endpoint, &ids);
            while let Some(event) = self.calls.poll_event() {
                self.events.push_back(UaEvent::Call(event));
            }
            let mut news = Vec::new();
            for r in &mut self.lines {
                while let Some((request, destination)) = r.poll_request() {
                    busy = true;
                    let probe = request.method() == Some("OPTIONS");
                    match self.endpoint.send_request(now, request, destination) {
                        Ok(tx) => {
                            self.tx_line.insert(tx, (r.line(), probe));
                        }
                        Err(_) if probe => r.handle_probe_timeout(),
                        Err(_) => r.handle_request_timeout(now),
                    }
                }
                while let Some(n) = r.poll_news() {
                    news.push((r.line(), r.primary(), n));
                }
                while let Some(state) = r.poll_change() {
                    self.events.push_back(UaEvent::Registration {
                        line: r.line(),
                        state,
                    });
                }
            }
            for s in &mut self.subs {
                // Where the line registers now: the subscription follows a failover.
                let Some(reg) = self.lines.iter().find(|r| r.line() == s.line()) else {
                    continue;
                };
                while let Some(request) = s.poll_request(reg) {
                    busy = true;
                    match self.endpoint.send_request(now, request, reg.destination()) {
                        Ok(tx) => {
                            self.tx_sub.insert(tx, s.line());
                        }
                        Err(_) => s.handle_request_timeout(now),
                    }
                }
                while let Some(state) = s.poll_change() {
                    self.events.push_back(UaEvent::Subscription {
                        line: s.line(),
                        state,
                    });
                }
                while let Some(summary) = s.poll_summary() {
                    self.events.push_back(UaEvent::MessageSummary {
                        line: s.line(),
                        summary,
                    });
                }
            }
            // What one line learnt about a primary moves the others that use it.
            for (from, primary, n) in news {
                busy = true;
                for r in &mut self.lines {
                    if r.line() != from && r.primary() == primary {
                        match n {
                            PrimaryNews::Down => r.primary_down(),
                            PrimaryNews::Back => r.primary_back(),
                        }
                    }
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn route(&mut self, now: Instant, event: Event) {
        match event {
            Event::Response { tx, response } if self.tx_line.contains_key(&tx) => {
                let (line, _) = self.tx_line[&tx];
                if response.code().is_some_and(|c| c >= 200) {
                    self.tx_line.remove(&tx);
                }
                if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
                    r.handle_response(now, &response);
                }
            }
            Event::Timeout { tx } if self.tx_line.contains_key(&tx) => {
                let (line, probe) = self.tx_line.remove(&tx).unwrap_or_default();
                if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
                    if probe {
                        r.handle_probe_timeout();
                    } else {
                        r.handle_request_timeout(now);
                    }
                }
            }
            Event::Response { tx, response } if self.tx_sub.contains_key(&tx) => {
                let line = self.tx_sub[&tx];
                if response.code().is_some_and(|c| c >= 200) {
                    self.tx_sub.remove(&tx);
                }
                if let Some(s) = self.subs.iter_mut().find(|s| s.line() == line) {
                    s.handle_response(now, &response);
                }
            }
            Event::Timeout { tx } if self.tx_sub.contains_key(&tx) => {
                let line = self.tx_sub.remove(&tx).unwrap_or_default();
                if let Some(s) = self.subs.iter_mut().find(|s| s.line() == line) {
                    s.handle_request_timeout(now);
                }
            }
            Event::Response { tx, response } => {
                let ids = self.identities();
                self.calls
                    .handle_response(now, &mut self.endpoint, &ids, tx, &response);
            }
            Event::Timeout { tx } => {
                self.calls
                    .handle_request_timeout(now, &mut self.endpoint, tx);
            }
            Event::Ack { request, .. } => {
                self.calls.handle_ack(&request);
            }
            Event::Request {
                tx,
                request,
                source,
            } => {
                let ids = self.identities();
                if let Some((tx, request, source)) =
                    self.calls
                        .handle_request(now, &mut self.endpoint, &ids, tx, request, source)
                {
                    self.request(now, tx, request, source);
                }
            }
            other => self.events.push_back(UaEvent::Transaction(other)),
        }
    }

    /// A request outside any call.
    fn request(&mut self, now: Instant, tx: ServerTx, request: Message, source: SocketAddr) {
        if let Some(s) = self.subs.iter_mut().find(|s| s.owns(&request)) {
            let answer = s.handle_notify(now, &request);
            // The transaction was just opened by this request: it takes a final answer.
            let _ = self.endpoint.respond(now, tx, answer);
            return;
        }
        match request.method() {
            Some("OPTIONS") => {
                let tag = self.endpoint.random_token(10);
                let mut ok = response_to(&request, 200, "OK", &tag);
                ok.push(Name::ALLOW, ALLOW);
                ok.push(Name::ACCEPT, "application/sdp");
                ok.push(Name::USER_AGENT, self.settings.user_agent.clone());
                // The transaction was just opened by this request: it takes a final answer.
                let _ = self.endpoint.respond(now, tx, ok);
            }
            _ => self.events.push_back(UaEvent::Transaction(Event::Request {
                tx,
                request,
                source,
            })),
        }
    }
}
