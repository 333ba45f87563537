//! What sipd does around the SIP core, still without I/O: which lines are registered with
//! which [`UserAgent`], what a configuration change means for them, how requests the core
//! hands up are answered, and the per-line status the socket publishes. The service
//! ([`crate::service`]) only moves datagrams, time, plans and events in and out.
//!
//! A configuration change that alters how the lines register (a line's name, proxy or
//! credentials, timers, NAT, the local address) builds a new [`UserAgent`]. The old one is
//! kept *retiring* while it unregisters the bindings the new one does not take over (same
//! address of record, contact and registrar: the new REGISTER simply replaces the binding,
//! RFC 3261 section 10.3). Responses go to every user agent (each drops what is not its
//! own), requests only to the current one. A change of `proxy_register` alone unregisters or
//! registers the lines of the current user agent.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskphone_dialplan::{Route as DialRoute, UserTag};
use deskphone_ipc::mediad::SessionOrder;
use deskphone_ipc::sipd::{CallStatus, LineStatus, VoiceMessages};
use deskphone_sip::challenge::{Challenger, Refusal};
use deskphone_sip::mwi::{parse_message_summary, MessageSummary};
use deskphone_sip::ua::ALLOW;
use deskphone_sip::{
    response_to, CallEvent, CallId, CallInfo, CallState, Event, Message, Name, RegState, Server,
    ServerTx, SubState, Transmit, UaEvent, UserAgent,
};
use deskphone_sip::{Route as SipRoute, TransferTarget};

use crate::plan::Plan;

/// How long a retiring user agent may take to unregister before it is dropped: one whole
/// non-INVITE transaction with a challenge is at most about 2 x 32 s.
const RETIRE_DEADLINE: Duration = Duration::from_secs(70);

/// What the service must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellEvent {
    /// A line's published status changed.
    Line(u8),
    /// A check-sync NOTIFY from a configured proxy, answered 200: provd should resync.
    CheckSync { source: SocketAddr, event: String },
    /// A check-sync NOTIFY refused with 403: from an address that is no configured proxy,
    /// or more than [`CHECK_SYNC_BURST`] within [`CHECK_SYNC_WINDOW`].
    CheckSyncRefused {
        source: SocketAddr,
        event: String,
        why: String,
    },
    /// A call appeared or changed.
    Call(CallStatus),
    /// A call ended.
    CallEnded {
        call: CallStatus,
        reason: String,
        missed: bool,
    },
    /// An incoming call was refused by a policy or because the phone was busy.
    CallRefused {
        line: u8,
        remote: String,
        status: u16,
        why: String,
    },
    /// A transfer this phone asked for ended.
    Transfer {
        call: u32,
        ok: bool,
        outcome: String,
    },
    /// Something for the Status Messages screen and the log.
    StatusMessage(String),
    /// An order for mediad: a call's media started or changed, ended, or calls are mixed.
    Media(MediaOrder),
    /// The phone went from idle to having calls (`true`) or back: provd's check-sync
    /// waits for an idle phone.
    Busy(bool),
}

/// What mediad must do for the calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOrder {
    Session(SessionOrder),
    Stop {
        call: u32,
    },
    /// Mix these calls with the local party (empty: no conference).
    Conference {
        calls: Vec<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum View {
    Unregistered,
    Registering,
    Registered { until: Instant },
    Failed { retry: Option<Instant> },
}

#[derive(Debug, Clone)]
struct LineView {
    name: String,
    proxy: String,
    /// `proxy_backup:proxy_backup_port` when the line may fail over to it.
    backup: Option<String>,
    view: View,
    reason: Option<String>,
    failures: u32,
}

struct Current {
    ua: UserAgent,
    plan: Plan,
}

struct Retiring {
    ua: UserAgent,
    /// Lines still unregistering.
    pending: BTreeSet<u8>,
    deadline: Instant,
}

/// The shell's state: see the module documentation.
pub struct Shell {
    current: Option<Current>,
    retiring: Vec<Retiring>,
    lines: BTreeMap<u8, LineView>,
    events: VecDeque<ShellEvent>,
    rng: fastrand::Rng,
    stopping: bool,
    /// A plan that would rebuild the user agent, kept until the calls are over.
    deferred: Option<Plan>,
    /// When each call was connected, and how it looked last (for CallEnded).
    connected: BTreeMap<CallId, Instant>,
    last_seen: BTreeMap<CallId, CallInfo>,
    busy: bool,
    /// When the check-syncs of the last [`CHECK_SYNC_WINDOW`] were taken.
    check_syncs: VecDeque<Instant>,
    /// The last message-summary per line; kept across configuration changes.
    mwi: BTreeMap<u8, MessageSummary>,
    /// mediad speaks G.729 (learnt from its status).
    g729: bool,
    /// Digest challenges for check-sync (`check_sync_auth`), per realm.
    challenger: Option<(String, Challenger)>,
}

const NOT_REGISTERING: &str = "proxy_register is 0";

/// At most this many check-syncs are taken within [`CHECK_SYNC_WINDOW`]: a resync fetches
/// files and may reboot, so a flood (or a loop in a PBX) must not turn into a storm of them.
pub const CHECK_SYNC_BURST: usize = 3;
pub const CHECK_SYNC_WINDOW: Duration = Duration::from_secs(60);

impl Shell {
    /// `seed` feeds every user agent's random tokens (fresh entropy in the service, a
    /// constant in tests).
    pub fn new(seed: u64) -> Shell {
        Shell {
            current: None,
            retiring: Vec::new(),
            lines: BTreeMap::new(),
            events: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            stopping: false,
            deferred: None,
            connected: BTreeMap::new(),
            last_seen: BTreeMap::new(),
            busy: false,
            check_syncs: VecDeque::new(),
            mwi: BTreeMap::new(),
            g729: false,
            challenger: None,
        }
    }

    pub fn plan(&self) -> Option<&Plan> {
        self.current.as_ref().map(|c| &c.plan)
    }

    /// Takes a new plan (the first, or after a configuration change).
    pub fn apply(&mut self, now: Instant, mut plan: Plan) {
        if self.stopping {
            return;
        }
        plan.calls.media.g729 = self.g729;
        match &mut self.current {
            Some(cur) if cur.plan == plan => self.deferred = None,
            Some(cur) if cur.plan.same_registrations(&plan) => {
                self.deferred = None;
                let toggled = cur.plan.register() != plan.register();
                cur.ua.set_call_settings(plan.calls.clone());
                cur.plan = plan;
                if toggled {
                    let register = cur.plan.register();
                    for l in &cur.plan.lines {
                        if l.destination.is_ok() {
                            if register {
                                cur.ua.register(now, l.settings.line);
                            } else {
                                cur.ua.unsubscribe_mwi(now, l.settings.line);
                                cur.ua.unregister(now, l.settings.line);
                            }
                        }
                    }
                    self.refresh_unresolved();
                }
            }
            // A new user agent would drop the calls: wait until they are over.
            Some(cur) if !cur.ua.calls().is_empty() => {
                log::info!("configuration change waits for the calls to end");
                self.deferred = Some(plan);
            }
            _ => self.rebuild(now, plan),
        }
        self.drain(now);
    }

    fn rebuild(&mut self, now: Instant, plan: Plan) {
        let mut ua = UserAgent::new(plan.settings.clone(), plan.local, self.rng.u64(..));
        ua.set_call_settings(plan.calls.clone());
        let mut views = BTreeMap::new();
        for l in &plan.lines {
            let mut view = LineView {
                name: l.settings.name.clone(),
                proxy: l.proxy(),
                backup: l.backup.as_ref().map(|b| b.target.to_string()),
                view: View::Unregistered,
                reason: None,
                failures: 0,
            };
            match &l.destination {
                Ok(d) => {
                    let added = ua.add_line_with_backup(l.settings.clone(), *d, l.backup_address());
                    if let Err(e) = added {
                        view.view = View::Failed { retry: None };
                        view.reason = Some(e);
                    }
                }
                Err(e) => {
                    view.view = View::Failed { retry: None };
                    view.reason = Some(e.clone());
                }
            }
            views.insert(l.settings.line, view);
        }
        if let Some(old) = self.current.take() {
            self.retire(now, old, &plan);
        }
        let gone: Vec<u8> = self
            .lines
            .keys()
            .filter(|n| !views.contains_key(n))
            .copied()
            .collect();
        self.lines = views;
        self.events.extend(gone.into_iter().map(ShellEvent::Line));
        self.events
            .extend(self.lines.keys().copied().map(ShellEvent::Line));
        let register = plan.register();
        let numbers: Vec<u8> = plan
            .lines
            .iter()
            .filter(|l| l.destination.is_ok())
            .map(|l| l.settings.line)
            .collect();
        self.current = Some(Current { ua, plan });
        if register {
            if let Some(cur) = &mut self.current {
                for n in numbers {
                    cur.ua.register(now, n);
                }
            }
        }
        self.refresh_unresolved();
    }

    /// Unregisters what the new plan does not take over, and keeps the old user agent until
    /// that is done.
    fn retire(&mut self, now: Instant, mut old: Current, new: &Plan) {
        let mut pending = BTreeSet::new();
        let same_contact = old.plan.local == new.local
            && old.plan.settings.nat_address == new.settings.nat_address
            && old.plan.settings.user_info == new.settings.user_info;
        for l in &old.plan.lines {
            let n = l.settings.line;
            let active = matches!(
                old.ua.registration(n),
                Some(RegState::Registered { .. } | RegState::Registering)
            );
            let taken_over = new.register()
                && same_contact
                && new.lines.iter().any(|m| {
                    m.settings.name == l.settings.name
                        && m.settings.proxy == l.settings.proxy
                        && m.settings.proxy_port == l.settings.proxy_port
                        && m.destination == l.destination
                });
            // The new user agent subscribes again once its lines register.
            old.ua.unsubscribe_mwi(now, n);
            if active && !taken_over {
                old.ua.unregister(now, n);
                if old.ua.registration(n) != Some(&RegState::Unregistered) {
                    pending.insert(n);
                }
            }
        }
        // What it reported before retiring no longer concerns the lines; what it has to
        // send (the unregistrations) goes out through `poll_transmit`.
        while old.ua.poll_event().is_some() {}
        if !pending.is_empty() {
            self.retiring.push(Retiring {
                ua: old.ua,
                pending,
                deadline: now + RETIRE_DEADLINE,
            });
        }
    }

    /// Lines whose proxy does not resolve, or that are not to register: their reason.
    fn refresh_unresolved(&mut self) {
        let Some(cur) = &self.current else { return };
        for l in &cur.plan.lines {
            let Some(v) = self.lines.get_mut(&l.settings.line) else {
                continue;
            };
            let before = (v.view.clone(), v.reason.clone());
            if let Err(e) = &l.destination {
                if cur.plan.register() {
                    v.view = View::Failed { retry: None };
                    v.reason = Some(e.clone());
                } else {
                    v.view = View::Unregistered;
                    v.reason = Some(NOT_REGISTERING.into());
                }
            } else if !cur.plan.register() && v.view == View::Unregistered {
                v.reason = Some(NOT_REGISTERING.into());
            }
            if before != (v.view.clone(), v.reason.clone()) {
                self.events.push_back(ShellEvent::Line(l.settings.line));
            }
        }
    }

    /// A datagram on the SIP socket.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        if data.starts_with(b"SIP/") {
            // A response: whichever user agent sent the request takes it.
            for r in &mut self.retiring {
                r.ua.handle_datagram(now, source, data);
            }
        }
        if let Some(cur) = &mut self.current {
            cur.ua.handle_datagram(now, source, data);
        }
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(cur) = &mut self.current {
            cur.ua.handle_timeout(now);
        }
        for r in &mut self.retiring {
            r.ua.handle_timeout(now);
        }
        self.drain(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let cur = self.current.as_ref().and_then(|c| c.ua.poll_timeout());
        let old = self.retiring.iter().map(|r| {
            r.ua.poll_timeout()
                .map_or(r.deadline, |t| t.min(r.deadline))
        });
        cur.into_iter().chain(old).min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        for r in &mut self.retiring {
            if let Some(t) = r.ua.poll_transmit() {
                return Some(t);
            }
        }
        self.current.as_mut().and_then(|c| c.ua.poll_transmit())
    }

    pub fn poll_event(&mut self) -> Option<ShellEvent> {
        self.events.pop_front()
    }

    /// Whether mediad can do G.729: offered and accepted only then.
    pub fn set_g729(&mut self, g729: bool) {
        self.g729 = g729;
        if let Some(cur) = &mut self.current {
            if cur.plan.calls.media.g729 != g729 {
                cur.plan.calls.media.g729 = g729;
                cur.ua.set_call_settings(cur.plan.calls.clone());
            }
        }
    }

    /// Unregisters every line (sipd is stopping); [`Shell::is_quiet`] says when that is done.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        if let Some(cur) = &mut self.current {
            for c in cur.ua.calls() {
                let _ = cur.ua.hangup(now, c.id);
            }
            for l in &cur.plan.lines {
                if l.destination.is_ok() {
                    cur.ua.unsubscribe_mwi(now, l.settings.line);
                    cur.ua.unregister(now, l.settings.line);
                }
            }
        }
        self.drain(now);
    }

    /// No registration is left to end (after [`Shell::shutdown`]).
    pub fn is_quiet(&self) -> bool {
        let current = self.current.as_ref().is_none_or(|c| {
            c.plan.lines.iter().all(|l| {
                matches!(
                    c.ua.registration(l.settings.line),
                    None | Some(RegState::Unregistered)
                )
            })
        });
        current && self.retiring.is_empty()
    }

    /// Every line as the socket publishes it.
    pub fn lines(&self, now: Instant) -> Vec<LineStatus> {
        self.lines
            .keys()
            .filter_map(|n| self.line(now, *n))
            .collect()
    }

    /// One line as the socket publishes it; `None` if the configuration has no such line.
    pub fn line(&self, now: Instant, line: u8) -> Option<LineStatus> {
        let v = self.lines.get(&line)?;
        let secs = |t: Instant| t.saturating_duration_since(now).as_secs();
        let (state, registered, retry_in, expires_in) = match &v.view {
            View::Unregistered => ("unregistered", false, None, None),
            View::Registering => ("registering", false, None, None),
            View::Registered { until } => ("registered", true, None, Some(secs(*until))),
            View::Failed { retry } => ("failed", false, retry.map(secs), None),
        };
        Some(LineStatus {
            line,
            name: v.name.clone(),
            registered,
            proxy: v.proxy.clone(),
            state: state.into(),
            reason: v.reason.clone(),
            retry_in,
            expires_in,
            failures: v.failures,
            using: self
                .current
                .as_ref()
                .and_then(|c| c.ua.using(line))
                .unwrap_or(Server::Primary)
                .as_str()
                .into(),
            backup: v.backup.clone(),
            messages_waiting: self.mwi.get(&line).is_some_and(|m| m.waiting),
            voice_messages: self
                .mwi
                .get(&line)
                .and_then(|m| m.voice)
                .map(|(new, old)| VoiceMessages { new, old }),
        })
    }

    /// Moves what the user agents reported into the line views and answers requests.
    fn drain(&mut self, now: Instant) {
        let mut reported = Vec::new();
        if let Some(cur) = &mut self.current {
            while let Some(e) = cur.ua.poll_event() {
                reported.push(e);
            }
        }
        for e in reported {
            match e {
                UaEvent::Registration { line, state } => self.registration(now, line, state),
                UaEvent::MessageSummary { line, summary } => self.set_mwi(line, summary),
                UaEvent::Subscription { line, state } => match state {
                    SubState::Stopped { reason } => {
                        let text =
                            format!("line {line}: message-waiting subscription refused: {reason}");
                        log::warn!("{text}");
                        self.events.push_back(ShellEvent::StatusMessage(text));
                    }
                    other => log::debug!("line {line}: message-waiting subscription {other:?}"),
                },
                UaEvent::Transaction(Event::Request {
                    tx,
                    request,
                    source,
                }) => self.answer_request(now, tx, &request, source),
                UaEvent::Transaction(Event::Rejected {
                    status,
                    problem,
                    source,
                }) => log::debug!("answered {status} to {source}: {problem}"),
                UaEvent::Transaction(Event::Dropped { problem, source }) => {
                    log::debug!("dropped a datagram from {source}: {problem}")
                }
                UaEvent::Transaction(_) => {}
                UaEvent::Call(e) => self.call_event(now, e),
            }
        }
        let busy = self
            .current
            .as_ref()
            .is_some_and(|c| !c.ua.calls().is_empty());
        if busy != self.busy {
            self.busy = busy;
            self.events.push_back(ShellEvent::Busy(busy));
        }
        if !busy && !self.stopping {
            if let Some(plan) = self.deferred.take() {
                self.rebuild(now, plan);
                // The new user agent's first events.
                return self.drain(now);
            }
        }
        for r in &mut self.retiring {
            while let Some(e) = r.ua.poll_event() {
                if let UaEvent::Registration {
                    line,
                    state: RegState::Unregistered | RegState::Failed { .. },
                } = e
                {
                    r.pending.remove(&line);
                }
            }
        }
        self.retiring
            .retain(|r| !r.pending.is_empty() && r.deadline > now);
    }

    fn registration(&mut self, now: Instant, line: u8, state: RegState) {
        let register = self.current.as_ref().is_some_and(|c| c.plan.register());
        // mwi_subscribe: subscribe once a line is registered (not at every refresh, and not
        // again after the server refused: a new configuration asks again).
        if let (RegState::Registered { .. }, Some(cur)) = (&state, &mut self.current) {
            if cur.plan.mwi_subscribe
                && matches!(
                    cur.ua.mwi_subscription(line),
                    None | Some(SubState::Unsubscribed)
                )
            {
                cur.ua.subscribe_mwi(now, line);
            }
        }
        let stopping = self.stopping;
        let Some(v) = self.lines.get_mut(&line) else {
            return;
        };
        match state {
            RegState::Unregistered => {
                v.view = View::Unregistered;
                v.reason = if stopping {
                    Some("sipd is stopping".into())
                } else if !register {
                    Some(NOT_REGISTERING.into())
                } else {
                    None
                };
            }
            RegState::Registering => {
                v.view = View::Registering;
                // The reason of the last failure stays while the line tries again.
                if v.failures == 0 {
                    v.reason = None;
                }
            }
            RegState::Registered { until, .. } => {
                v.view = View::Registered { until };
                v.reason = None;
                v.failures = 0;
            }
            RegState::Failed { reason, retry } => {
                v.view = View::Failed { retry: Some(retry) };
                v.reason = Some(reason);
                v.failures = v.failures.saturating_add(1);
            }
        }
        self.events.push_back(ShellEvent::Line(line));
    }

    fn call_event(&mut self, now: Instant, e: CallEvent) {
        match e {
            CallEvent::State { call, state } => {
                if matches!(state, CallState::Connected) {
                    self.connected.entry(call).or_insert(now);
                }
                if state != CallState::Ended {
                    if let Some(c) = self.call(now, call) {
                        self.events.push_back(ShellEvent::Call(c));
                    }
                }
            }
            CallEvent::Incoming { call, .. } => {
                // The Ringing state event follows and carries the call.
                let _ = call;
            }
            CallEvent::Media {
                call,
                local_port,
                negotiated,
                early,
            } => {
                let Some(cur) = &self.current else { return };
                let media = cur.plan.media;
                let order = SessionOrder {
                    call: call.0,
                    local_port,
                    remote_rtp: negotiated.remote_rtp,
                    codec: negotiated.codec.encoding_name().to_string(),
                    payload_type: negotiated.payload_type,
                    telephone_event: negotiated.telephone_event,
                    send: negotiated.local_direction.sends(),
                    receive: negotiated.local_direction.receives(),
                    ptime_ms: negotiated.ptime_ms,
                    inband_dtmf: media.dtmf_inband && negotiated.send_inband_dtmf,
                    dtmf_level: media.dtmf_level,
                    tos: media.tos,
                    vad: media.vad,
                    early,
                    comfort_noise: negotiated.comfort_noise,
                    g729_annexb: negotiated.g729_annexb,
                    behind_nat: media.nat,
                };
                self.events
                    .push_back(ShellEvent::Media(MediaOrder::Session(order)));
            }
            CallEvent::RemoteHold { call, .. } => {
                if let Some(c) = self.call(now, call) {
                    self.events.push_back(ShellEvent::Call(c));
                }
            }
            CallEvent::Ended {
                call,
                reason,
                missed,
            } => {
                let since = self.connected.remove(&call);
                self.events
                    .push_back(ShellEvent::Media(MediaOrder::Stop { call: call.0 }));
                if let Some(info) = self.last_seen.remove(&call) {
                    let mut status = call_status(&info, since, now);
                    status.state = CallState::Ended.as_str().into();
                    self.events.push_back(ShellEvent::CallEnded {
                        call: status,
                        reason,
                        missed,
                    });
                }
            }
            CallEvent::Transfer { call, ok, outcome } => {
                if let Some(c) = self.call(now, call) {
                    self.events.push_back(ShellEvent::Call(c));
                }
                self.events.push_back(ShellEvent::Transfer {
                    call: call.0,
                    ok,
                    outcome,
                });
            }
            CallEvent::Referred {
                call,
                new_call,
                target,
            } => log::info!(
                "call {call}: the other party transfers us to {target} (call {new_call})"
            ),
            CallEvent::Replaced { replaced, by } => {
                log::info!("call {by} replaces call {replaced} (attended transfer)")
            }
            CallEvent::Conference { calls } => {
                let ids: Vec<String> = calls.iter().map(|c| c.to_string()).collect();
                log::info!("conference of calls {}", ids.join(" and "));
                self.events
                    .push_back(ShellEvent::Media(MediaOrder::Conference {
                        calls: calls.iter().map(|c| c.0).collect(),
                    }));
                for call in calls {
                    if let Some(c) = self.call(now, call) {
                        self.events.push_back(ShellEvent::Call(c));
                    }
                }
            }
            CallEvent::Refused {
                line,
                remote,
                status,
                why,
            } => self.events.push_back(ShellEvent::CallRefused {
                line,
                remote: remote.display(),
                status,
                why,
            }),
        }
    }

    /// One call as the socket publishes it (and remembered for its end).
    fn call(&mut self, now: Instant, id: CallId) -> Option<CallStatus> {
        let info = self
            .current
            .as_ref()?
            .ua
            .calls()
            .into_iter()
            .find(|c| c.id == id)?;
        let status = call_status(&info, self.connected.get(&id).copied(), now);
        self.last_seen.insert(id, info);
        Some(status)
    }

    /// Every call, oldest first.
    pub fn calls(&self, now: Instant) -> Vec<CallStatus> {
        let Some(cur) = &self.current else {
            return Vec::new();
        };
        cur.ua
            .calls()
            .iter()
            .map(|c| call_status(c, self.connected.get(&c.id).copied(), now))
            .collect()
    }

    /// The call a command without an id means: the first ringing one for answer, the
    /// connected one for hold, the newest held one for resume, the newest for hangup.
    fn pick(&self, id: Option<u32>, want: Pick) -> Result<CallId, String> {
        let calls = self
            .current
            .as_ref()
            .map(|c| c.ua.calls())
            .unwrap_or_default();
        if let Some(id) = id {
            return calls
                .iter()
                .find(|c| c.id.0 == id)
                .map(|c| c.id)
                .ok_or_else(|| format!("no call {id}"));
        }
        let found = match want {
            Pick::Ringing => calls.iter().find(|c| c.state == CallState::Ringing),
            Pick::Connected => calls.iter().rev().find(|c| c.state == CallState::Connected),
            Pick::Held => calls.iter().rev().find(|c| c.state == CallState::Held),
            Pick::Newest => calls.last(),
        };
        found.map(|c| c.id).ok_or_else(|| {
            match want {
                Pick::Ringing => "no call is ringing",
                Pick::Connected => "no call is connected",
                Pick::Held => "no call is on hold",
                Pick::Newest => "there is no call",
            }
            .to_string()
        })
    }

    /// `phonectl dial`: a call on `line` (default: the first configured line).
    pub fn dial(
        &mut self,
        now: Instant,
        line: Option<u8>,
        number: &str,
    ) -> Result<CallStatus, String> {
        let line = match line {
            Some(l) => l,
            None => *self.lines.keys().next().ok_or("no line is configured")?,
        };
        let cur = self
            .current
            .as_mut()
            .ok_or("sipd has no configuration yet")?;
        let (target, route) = routed(&cur.plan, number);
        let id = cur
            .ua
            .dial_routed(now, line, &target, route)
            .map_err(|e| e.to_string())?;
        self.drain(now);
        self.call(now, id)
            .ok_or_else(|| "the call ended at once".into())
    }

    pub fn answer(&mut self, now: Instant, id: Option<u32>) -> Result<CallStatus, String> {
        let id = self.pick(id, Pick::Ringing)?;
        let cur = self.current.as_mut().ok_or("no configuration")?;
        cur.ua.answer(now, id).map_err(|e| e.to_string())?;
        self.drain(now);
        self.call(now, id).ok_or_else(|| "the call ended".into())
    }

    pub fn hangup(&mut self, now: Instant, id: Option<u32>) -> Result<(), String> {
        let id = self.pick(id, Pick::Newest)?;
        let cur = self.current.as_mut().ok_or("no configuration")?;
        cur.ua.hangup(now, id).map_err(|e| e.to_string())?;
        self.drain(now);
        Ok(())
    }

    /// Hold (`true`) or resume.
    pub fn hold(
        &mut self,
        now: Instant,
        id: Option<u32>,
        hold: bool,
    ) -> Result<CallStatus, String> {
        let id = self.pick(id, if hold { Pick::Connected } else { Pick::Held })?;
        let cur = self.current.as_mut().ok_or("no configuration")?;
        cur.ua.hold(now, id, hold).map_err(|e| e.to_string())?;
        self.drain(now);
        self.call(now, id).ok_or_else(|| "the call ended".into())
    }

    /// An unsolicited message-waiting NOTIFY (voice-mail systems send them to phones of the
    /// 7940/7960 generation without a subscription). Like check-sync it is taken only from the
    /// configured proxies' addresses (or anywhere with `check_sync_any_source`): a spoofed
    /// one would light the lamp of every phone. The line is the one named by the
    /// Message-Account or Request-URI user, else line 1.
    fn message_summary(&mut self, request: &Message, source: SocketAddr) -> (u16, &'static str) {
        let Some(cur) = &self.current else {
            return (500, "Server Internal Error");
        };
        if !cur.plan.check_sync_any_source && !cur.plan.trusted.contains(&source.ip()) {
            log::warn!("message-summary NOTIFY from {source} refused: not a configured proxy");
            return (403, "Forbidden");
        }
        let Some(summary) = parse_message_summary(&request.body) else {
            return (400, "Bad message-summary Body");
        };
        let account = std::str::from_utf8(&request.body).ok().and_then(|b| {
            b.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("message-account")
                    .then(|| v.trim().to_string())
            })
        });
        // The mailbox named in the body first: a voice-mail system may address the NOTIFY
        // to the phone's contact rather than to the line.
        let users = [
            account
                .as_deref()
                .and_then(deskphone_sip::uri::user)
                .map(str::to_string),
            request
                .uri()
                .and_then(deskphone_sip::uri::user)
                .map(str::to_string),
        ];
        let line = users
            .iter()
            .flatten()
            .find_map(|u| {
                self.lines
                    .iter()
                    .find(|(_, v)| &v.name == u)
                    .map(|(n, _)| *n)
            })
            .or_else(|| self.lines.keys().next().copied());
        let Some(line) = line else {
            return (404, "Not Found");
        };
        self.set_mwi(line, summary);
        (200, "OK")
    }

    /// A line's message-summary, from a NOTIFY of its subscription or an unsolicited one.
    fn set_mwi(&mut self, line: u8, summary: MessageSummary) {
        if self.mwi.get(&line) != Some(&summary) {
            log::info!(
                "line {line}: messages waiting {}{}",
                if summary.waiting { "yes" } else { "no" },
                summary
                    .voice
                    .map(|(n, o)| format!(" ({n} new, {o} old)"))
                    .unwrap_or_default()
            );
            self.mwi.insert(line, summary);
            self.events.push_back(ShellEvent::Line(line));
        }
    }

    /// `phonectl transfer`: see [`deskphone_ipc::sipd::Request::Transfer`] for the defaults.
    pub fn transfer(
        &mut self,
        now: Instant,
        call: Option<u32>,
        to: Option<String>,
        to_call: Option<u32>,
    ) -> Result<CallStatus, String> {
        let calls = self
            .current
            .as_ref()
            .map(|c| c.ua.calls())
            .unwrap_or_default();
        let target_call = to_call
            .map(|id| self.pick(Some(id), Pick::Newest))
            .transpose()?;
        let id = match (call, &to, target_call) {
            (Some(id), _, _) => self.pick(Some(id), Pick::Newest)?,
            // Attended: the held call goes to the other party of the target call.
            (None, None, Some(t)) => calls
                .iter()
                .find(|c| c.id != t && c.state == CallState::Held)
                .or_else(|| calls.iter().find(|c| c.id != t))
                .map(|c| c.id)
                .ok_or("there is no other call to transfer")?,
            (None, Some(_), _) => self
                .pick(None, Pick::Connected)
                .or_else(|_| self.pick(None, Pick::Held))?,
            (None, None, None) => {
                let held = calls.iter().find(|c| c.state == CallState::Held);
                let other = calls.iter().find(|c| {
                    Some(c.id) != held.map(|h| h.id)
                        && matches!(
                            c.state,
                            CallState::Connected | CallState::Ringback | CallState::Calling
                        )
                });
                match (held, other) {
                    (Some(h), Some(o)) => {
                        return self.transfer(now, Some(h.id.0), None, Some(o.id.0));
                    }
                    _ => {
                        return Err("say where to: a number, or the call to transfer to \
                                    (with two calls, the held one goes to the other)"
                            .into())
                    }
                }
            }
        };
        let target = match (to, target_call) {
            (Some(n), None) => TransferTarget::Number(n),
            (None, Some(t)) => TransferTarget::Call(t),
            (Some(_), Some(_)) => return Err("either a number or a call, not both".into()),
            (None, None) => return Err("say where to".into()),
        };
        let cur = self.current.as_mut().ok_or("no configuration")?;
        cur.ua
            .transfer(now, id, target)
            .map_err(|e| e.to_string())?;
        self.drain(now);
        self.call(now, id)
            .ok_or_else(|| "the call ended (transferred)".into())
    }

    /// `phonectl conference`: mixes two calls (default: the two there are).
    pub fn conference(&mut self, now: Instant, ids: &[u32]) -> Result<Vec<CallStatus>, String> {
        let calls = self
            .current
            .as_ref()
            .map(|c| c.ua.calls())
            .unwrap_or_default();
        let (a, b) = match ids {
            [a, b] => (
                self.pick(Some(*a), Pick::Newest)?,
                self.pick(Some(*b), Pick::Newest)?,
            ),
            [] => {
                let up: Vec<CallId> = calls
                    .iter()
                    .filter(|c| matches!(c.state, CallState::Connected | CallState::Held))
                    .map(|c| c.id)
                    .collect();
                match up[..] {
                    [a, b] => (a, b),
                    _ => {
                        return Err("a conference needs exactly two connected or held calls".into())
                    }
                }
            }
            _ => return Err("give two calls, or none".into()),
        };
        let cur = self.current.as_mut().ok_or("no configuration")?;
        cur.ua.conference(now, a, b).map_err(|e| e.to_string())?;
        self.drain(now);
        Ok([a, b].iter().filter_map(|id| self.call(now, *id)).collect())
    }

    /// With `check_sync_auth` 1, whether a check-sync fails digest authentication with the
    /// lines' credentials (realm: `proxy1_address`); `challenge` is then set when it should be
    /// asked again (no or stale credentials) and left empty when they were wrong.
    fn check_sync_auth_fails(
        &mut self,
        now: Instant,
        request: &Message,
        challenge: &mut Option<String>,
    ) -> bool {
        let Some(cur) = &self.current else {
            return false;
        };
        if !cur.plan.check_sync_auth {
            return false;
        }
        let realm = cur
            .plan
            .lines
            .first()
            .map(|l| l.settings.proxy.clone())
            .unwrap_or_default();
        let users: Vec<(String, String)> = cur
            .plan
            .lines
            .iter()
            .filter_map(|l| {
                let s = &l.settings;
                let user = s.authname.clone().unwrap_or_else(|| s.name.clone());
                s.password.clone().map(|p| (user, p))
            })
            .collect();
        let challenger = match &mut self.challenger {
            Some(c) if c.0 == realm => &mut c.1,
            slot => {
                *slot = Some((realm.clone(), Challenger::new(realm, self.rng.u64(..))));
                &mut slot.as_mut().expect("just set").1
            }
        };
        match challenger.verify(now, "NOTIFY", request.header(&Name::AUTHORIZATION), &users) {
            Ok(user) => {
                log::info!("check-sync authenticated as {user}");
                false
            }
            Err(Refusal::Missing) => {
                *challenge = Some(challenger.challenge(now, false));
                true
            }
            Err(Refusal::Stale) => {
                *challenge = Some(challenger.challenge(now, true));
                true
            }
            Err(Refusal::Wrong(why)) => {
                log::warn!("check-sync credentials refused: {why}");
                true
            }
        }
    }

    /// Requests the core hands up (the calls took theirs): check-sync NOTIFY, and the
    /// answer that tells the sender what the phone does not do.
    fn answer_request(
        &mut self,
        now: Instant,
        tx: ServerTx,
        request: &Message,
        source: SocketAddr,
    ) {
        let Some(cur) = &self.current else { return };
        let trusted = cur.plan.check_sync_any_source || cur.plan.trusted.contains(&source.ip());
        let method = request.method().unwrap_or_default();
        let mut authenticate = None;
        let (code, reason) = match method {
            "NOTIFY" => match check_sync_event(request) {
                Some(event) if !trusted => {
                    self.events.push_back(ShellEvent::CheckSyncRefused {
                        source,
                        event,
                        why: "not a configured proxy".into(),
                    });
                    (403, "Forbidden")
                }
                Some(event) if self.check_sync_auth_fails(now, request, &mut authenticate) => {
                    match &authenticate {
                        Some(_) => (401, "Unauthorized"),
                        None => {
                            self.events.push_back(ShellEvent::CheckSyncRefused {
                                source,
                                event,
                                why: "wrong credentials".into(),
                            });
                            (403, "Forbidden")
                        }
                    }
                }
                Some(event) => {
                    while self
                        .check_syncs
                        .front()
                        .is_some_and(|t| now.saturating_duration_since(*t) >= CHECK_SYNC_WINDOW)
                    {
                        self.check_syncs.pop_front();
                    }
                    if self.check_syncs.len() >= CHECK_SYNC_BURST {
                        self.events.push_back(ShellEvent::CheckSyncRefused {
                            source,
                            event,
                            why: format!(
                                "more than {CHECK_SYNC_BURST} within {} s",
                                CHECK_SYNC_WINDOW.as_secs()
                            ),
                        });
                        (403, "Forbidden")
                    } else {
                        self.check_syncs.push_back(now);
                        self.events
                            .push_back(ShellEvent::CheckSync { source, event });
                        (200, "OK")
                    }
                }
                None if is_message_summary(request) => self.message_summary(request, source),
                None => (489, "Bad Event"),
            },
            "BYE" | "CANCEL" | "REFER" => (481, "Call/Transaction Does Not Exist"),
            "REGISTER" | "SUBSCRIBE" | "PUBLISH" | "MESSAGE" | "INFO" | "UPDATE" | "PRACK" => {
                (405, "Method Not Allowed")
            }
            _ => (501, "Not Implemented"),
        };
        let tag: String = (0..10).map(|_| self.rng.alphanumeric()).collect();
        let mut response = response_to(request, code, reason, &tag);
        match code {
            405 | 501 => response.push(Name::ALLOW, ALLOW),
            489 => response.push(Name::ALLOW_EVENTS, "check-sync, message-summary"),
            _ => {}
        }
        if let Some(challenge) = authenticate {
            response.push(Name::WWW_AUTHENTICATE, challenge);
        }
        let Some(cur) = &mut self.current else { return };
        if let Err(e) = cur.ua.respond(now, tx, response) {
            log::debug!("could not answer {method} from {source}: {e}");
        }
    }
}

/// Whether a NOTIFY is of the `message-summary` package (RFC 3842).
fn is_message_summary(request: &Message) -> bool {
    request.header(&Name::EVENT).is_some_and(|e| {
        e.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("message-summary")
    })
}

/// The event package of a check-sync NOTIFY: `check-sync` (also with `;reboot=...`) or
/// `resync`, as PBXs send them; `None` for any other NOTIFY.
pub fn check_sync_event(request: &Message) -> Option<String> {
    let value = request.header(&Name::EVENT)?.trim();
    let package = value.split(';').next().unwrap_or_default().trim();
    (package.eq_ignore_ascii_case("check-sync") || package.eq_ignore_ascii_case("resync"))
        .then(|| value.to_string())
}

#[derive(Debug, Clone, Copy)]
enum Pick {
    Ringing,
    Connected,
    Held,
    Newest,
}

fn call_status(c: &CallInfo, connected: Option<Instant>, now: Instant) -> CallStatus {
    CallStatus {
        id: c.id.0,
        line: c.line,
        state: c.state.as_str().into(),
        remote: c.remote.display(),
        remote_uri: c.remote.uri.clone(),
        direction: if c.outgoing { "outgoing" } else { "incoming" }.into(),
        remote_held: c.remote_held,
        local_port: c.local_port,
        connected_for: connected.map_or(0, |t| now.saturating_duration_since(t).as_secs()),
        conference: c.conference,
        transferring: c.transferring,
    }
}

/// What the dial plan makes of a dialled number, as pressing Dial with these keys would: the
/// rule's rewrite, `User=` and `Route=`. A `sip:` URI goes as it is. A route that cannot be
/// followed (no `proxy_emergency`, a host that does not resolve) falls back to the line's
/// proxy: an emergency call must leave the phone one way or another.
fn routed(plan: &Plan, number: &str) -> (String, SipRoute) {
    if number.starts_with("sip:") || number.starts_with("sips:") {
        return (number.to_string(), SipRoute::default());
    }
    let Some(call) = plan.dial_plan.dial(number) else {
        return (number.to_string(), SipRoute::default());
    };
    let via = match &call.route {
        DialRoute::Default => None,
        DialRoute::Emergency => match &plan.emergency {
            Some(Ok(a)) => Some(*a),
            Some(Err(e)) => {
                log::warn!("{number}: emergency route, but {e}; using the line's proxy");
                None
            }
            None => {
                log::warn!("{number}: emergency route, but proxy_emergency is not set; using the line's proxy");
                None
            }
        },
        DialRoute::Host(h) => match plan.route_hosts.get(h) {
            Some(Ok(a)) => Some(*a),
            other => {
                log::warn!("{number}: route to {h} unusable ({other:?}); using the line's proxy");
                None
            }
        },
    };
    if let Some(v) = via {
        log::info!("{number}: routed to {v} by the dial plan");
    }
    let route = SipRoute {
        user_param: call.user.map(|u| match u {
            UserTag::Phone => ";user=phone",
            UserTag::Ip => ";user=ip",
        }),
        via,
    };
    (call.number, route)
}
