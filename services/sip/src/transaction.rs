//! The transaction layer over UDP (RFC 3261 section 17, with the Accepted states of RFC 6026):
//! client and server, INVITE and non-INVITE, and the response routing of section 18.2.2,
//! RFC 3581 (rport) and the guide's `received=` rules.
//!
//! [`Endpoint`] owns every transaction. Datagrams go in through [`Endpoint::handle_datagram`],
//! the transaction user's requests and responses through [`Endpoint::send_request`] and
//! [`Endpoint::respond`]; datagrams to send come out of [`Endpoint::poll_transmit`], what the
//! transaction user must know out of [`Endpoint::poll_event`].
//!
//! Timers, with T1 = `timer_t1`, T2 = `timer_t2`, T4 = 5 s (see [`Timers`] for the counts):
//!
//! | timer | transaction | what | here |
//! | --- | --- | --- | --- |
//! | A | INVITE client | retransmit the INVITE | T1, 2·T1, 4·T1, ... `sip_invite_retx` times |
//! | B | INVITE client | give up, no response | T1 after the last retransmission |
//! | D | INVITE client | absorb final response retransmissions | 32 s |
//! | E | non-INVITE client | retransmit the request | T1, 2·T1, ... capped at T2 (T2 once a 1xx came), `sip_retx` times |
//! | F | non-INVITE client | give up, no final response | T1 after the last retransmission |
//! | G | INVITE server | retransmit a 3xx-6xx | T1, 2·T1, ... capped at T2, `sip_retx` times |
//! | H | INVITE server | give up waiting for the ACK | T1 after the last retransmission |
//! | I | INVITE server | absorb ACK retransmissions | T4 |
//! | J | non-INVITE server | absorb request retransmissions | 64·T1 |
//! | K | non-INVITE client | absorb response retransmissions | T4 |
//! | L, M | INVITE server, client | absorb retransmissions after a 2xx (RFC 6026) | 64·T1 |
//!
//! Matching: a response belongs to the client transaction with its top Via branch and CSeq
//! method. A request belongs to a server transaction by branch, sent-by and method (ACK
//! matching INVITE) when its branch carries the magic cookie `z9hG4bK` and more; otherwise
//! by the RFC 2543 rules: Request-URI, From tag, Call-ID, CSeq number, top Via and method
//! (RFC 4475 `badbranch`, a branch that is only the cookie, is matched that way).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ezk_sip_types::header::typed::Via;
use ezk_sip_types::host::Host;
use ezk_sip_types::Name;

use crate::check::{inspect, Rejection, Verdict};
use crate::config::Timers;
use crate::message::{is_rfc3261_branch, parse_via, response_to, Message, MAGIC_COOKIE};

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
}

/// A client transaction (a request this endpoint sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTx(u64);

/// A server transaction (a request this endpoint received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTx(u64);

/// What the transaction user must know.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new request, not a retransmission: answer it with [`Endpoint::respond`]. An INVITE
    /// has already been answered with 100 Trying.
    Request {
        tx: ServerTx,
        request: Message,
        source: SocketAddr,
    },
    /// An ACK outside any transaction (the ACK of a 2xx).
    Ack {
        request: Message,
        source: SocketAddr,
    },
    /// A response to a request sent with [`Endpoint::send_request`]: provisional or final,
    /// and, for INVITE, each retransmitted 2xx (the transaction user acknowledges every one).
    Response { tx: ClientTx, response: Message },
    /// No final response came (timer B or F).
    Timeout { tx: ClientTx },
    /// The ACK for a 3xx-6xx to an INVITE never came (timer H).
    NoAck { tx: ServerTx },
    /// A request was answered with an error by the checks, or with 503 because the
    /// transaction table is full.
    Rejected {
        status: u16,
        problem: String,
        source: SocketAddr,
    },
    /// A datagram was dropped: malformed response, stray response, keep-alive.
    Dropped { problem: String, source: SocketAddr },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No such transaction (it ended, or it never existed).
    NoTransaction,
    /// The transaction cannot send this response any more (a final one was sent).
    WrongState,
    /// Not a response / not a request / no CSeq.
    NotAllowed(&'static str),
    /// The transaction table is full.
    Busy,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoTransaction => f.write_str("no such transaction"),
            Error::WrongState => f.write_str("the transaction has sent its final response"),
            Error::NotAllowed(what) => f.write_str(what),
            Error::Busy => f.write_str("too many transactions"),
        }
    }
}

impl std::error::Error for Error {}

/// At most this many transactions of each side; past it, requests get 503.
pub const MAX_TRANSACTIONS: usize = 512;

/// A retransmission schedule: `left` more copies, the next after `interval`, intervals
/// doubling up to `cap`; give up one T1 after the last copy.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    interval: Duration,
    cap: Duration,
    left: u32,
    t1: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Retransmit (A, E, G).
    Retransmit,
    /// Give up (B, F, H).
    GiveUp,
    /// Stop absorbing retransmissions and end (D, I, J, K, L, M).
    End,
}

impl Schedule {
    fn new(t: &Timers, left: u32, cap: Duration) -> Schedule {
        Schedule {
            interval: t.t1,
            cap,
            left,
            t1: t.t1,
        }
    }

    /// The timer to arm after a copy was sent at `at`.
    fn arm(&self, at: Instant) -> (Instant, Timer) {
        if self.left > 0 {
            (at + self.interval, Timer::Retransmit)
        } else {
            (at + self.t1, Timer::GiveUp)
        }
    }

    /// One more copy went out.
    fn sent(&mut self) {
        self.left = self.left.saturating_sub(1);
        self.interval = self.interval.saturating_mul(2).min(self.cap);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    /// Calling (INVITE) or Trying (non-INVITE).
    Trying,
    Proceeding,
    Completed,
    /// RFC 6026: after a 2xx to INVITE.
    Accepted,
}

#[derive(Debug)]
struct Client {
    key: (String, String),
    invite: bool,
    request: Message,
    payload: Vec<u8>,
    destination: SocketAddr,
    state: ClientState,
    schedule: Schedule,
    pending: Option<(Instant, Timer)>,
    /// The ACK of a 3xx-6xx, sent again for each retransmission of that response.
    ack: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerKey {
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: String,
    },
    Rfc2543 {
        uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        via: String,
        method: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026: after a 2xx to INVITE.
    Accepted,
}

#[derive(Debug)]
struct Server {
    key: ServerKey,
    invite: bool,
    request: Message,
    destination: SocketAddr,
    state: ServerState,
    last_response: Option<Vec<u8>>,
    schedule: Schedule,
    pending: Option<(Instant, Timer)>,
}

/// The transaction layer of one UDP socket.
#[derive(Debug)]
pub struct Endpoint {
    timers: Timers,
    sent_by: String,
    rng: fastrand::Rng,
    next_id: u64,
    clients: HashMap<ClientTx, Client>,
    client_keys: HashMap<(String, String), ClientTx>,
    servers: HashMap<ServerTx, Server>,
    server_keys: HashMap<ServerKey, ServerTx>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Endpoint {
    /// `sent_by` is the `host:port` this endpoint puts in its Via (the phone's address, or
    /// `nat_address`, and `voip_control_port`); `seed` feeds the branches and tags.
    pub fn new(timers: Timers, sent_by: impl Into<String>, seed: u64) -> Endpoint {
        Endpoint {
            timers: timers.sanitized(),
            sent_by: sent_by.into(),
            rng: fastrand::Rng::with_seed(seed),
            next_id: 1,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    pub fn sent_by(&self) -> &str {
        &self.sent_by
    }

    /// A random token for tags, branches and Call-IDs.
    pub fn random_token(&mut self, len: usize) -> String {
        (0..len).map(|_| self.rng.alphanumeric()).collect()
    }

    /// How many transactions are alive (client, server).
    pub fn transaction_count(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a request in a new client transaction to `destination`. The endpoint puts its
    /// own Via on top (new branch, `rport`). Not for ACK: see [`Endpoint::send_ack`].
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Message,
        destination: SocketAddr,
    ) -> Result<ClientTx, Error> {
        let method = request
            .method()
            .ok_or(Error::NotAllowed("not a request"))?
            .to_string();
        if method == "ACK" {
            return Err(Error::NotAllowed("ACK has no client transaction"));
        }
        if self.clients.len() >= MAX_TRANSACTIONS {
            return Err(Error::Busy);
        }
        let branch = self.push_via(&mut request);
        Ok(self.start_client(now, request, method, branch, destination))
    }

    /// Cancels a pending INVITE (RFC 3261 section 9.1): a CANCEL with the INVITE's
    /// Request-URI, top Via (same branch), From, To, Call-ID, Route and CSeq number, in its
    /// own non-INVITE client transaction to the same destination. Send it only once a
    /// provisional response came; the INVITE then ends with 487 (acknowledged here).
    pub fn send_cancel(&mut self, now: Instant, invite: ClientTx) -> Result<ClientTx, Error> {
        let c = self.clients.get(&invite).ok_or(Error::NoTransaction)?;
        if !c.invite || !matches!(c.state, ClientState::Trying | ClientState::Proceeding) {
            return Err(Error::WrongState);
        }
        if self.clients.len() >= MAX_TRANSACTIONS {
            return Err(Error::Busy);
        }
        let invite_request = &c.request;
        let mut cancel = Message::request("CANCEL", invite_request.uri().unwrap_or_default());
        if let Some(via) = invite_request.vias().first() {
            cancel.push(Name::VIA, *via);
        }
        for name in [Name::FROM, Name::TO, Name::CALL_ID] {
            if let Some(v) = invite_request.header(&name) {
                cancel.push(name, v);
            }
        }
        if let Some(cseq) = invite_request.cseq() {
            cancel.push(Name::CSEQ, format!("{} CANCEL", cseq.number));
        }
        for route in invite_request.header_values(&Name::ROUTE) {
            cancel.push(Name::ROUTE, route);
        }
        cancel.push(Name::MAX_FORWARDS, "70");
        let branch = c.key.0.clone();
        let destination = c.destination;
        Ok(self.start_client(now, cancel, "CANCEL".into(), branch, destination))
    }

    fn start_client(
        &mut self,
        now: Instant,
        request: Message,
        method: String,
        branch: String,
        destination: SocketAddr,
    ) -> ClientTx {
        let invite = method == "INVITE";
        let t = self.timers;
        let (count, cap) = if invite {
            (t.invite_retx, t.invite_cap())
        } else {
            (t.retx, t.t2)
        };
        let schedule = Schedule::new(&t, count, cap);
        let payload = request.to_bytes();
        let tx = ClientTx(self.id());
        let key = (branch, method);
        self.transmits.push_back(Transmit {
            destination,
            payload: payload.clone(),
        });
        self.client_keys.insert(key.clone(), tx);
        self.clients.insert(
            tx,
            Client {
                key,
                invite,
                request,
                payload,
                destination,
                state: ClientState::Trying,
                schedule,
                pending: Some(schedule.arm(now)),
                ack: None,
            },
        );
        tx
    }

    /// Sends an ACK for a 2xx (its own transaction, RFC 3261 section 13.2.2.4): no
    /// retransmission, no state. The endpoint puts its Via on top.
    pub fn send_ack(&mut self, mut ack: Message, destination: SocketAddr) {
        self.push_via(&mut ack);
        self.transmits.push_back(Transmit {
            destination,
            payload: ack.to_bytes(),
        });
    }

    fn push_via(&mut self, request: &mut Message) -> String {
        let branch = format!("{MAGIC_COOKIE}{}", self.random_token(16));
        let via = format!("SIP/2.0/UDP {};branch={branch};rport", self.sent_by);
        request.headers.insert_front(Name::VIA, via);
        branch
    }

    /// Answers the request of a server transaction. The response must carry the request's
    /// Via, From, To (with a tag), Call-ID and CSeq: see [`response_to`].
    pub fn respond(&mut self, now: Instant, tx: ServerTx, response: Message) -> Result<(), Error> {
        let code = response.code().ok_or(Error::NotAllowed("not a response"))?;
        let t = self.timers;
        let s = self.servers.get_mut(&tx).ok_or(Error::NoTransaction)?;
        let payload = response.to_bytes();
        use ServerState::*;
        let next = match (s.invite, s.state, code) {
            (_, Trying | Proceeding, 100..=199) => Proceeding,
            (false, Trying | Proceeding, _) => {
                s.pending = Some((now + t.t1x64(), Timer::End)); // J
                Completed
            }
            (true, Proceeding, 200..=299) | (true, Accepted, 200..=299) => {
                if s.state == Proceeding {
                    s.pending = Some((now + t.t1x64(), Timer::End)); // L
                }
                Accepted
            }
            (true, Proceeding, _) => {
                s.schedule = Schedule::new(&t, t.retx, t.t2);
                s.pending = Some(s.schedule.arm(now)); // G, then H
                Completed
            }
            _ => return Err(Error::WrongState),
        };
        s.state = next;
        s.last_response = Some(payload.clone());
        self.transmits.push_back(Transmit {
            destination: s.destination,
            payload,
        });
        Ok(())
    }

    /// The request that opened a server transaction.
    pub fn server_request(&self, tx: ServerTx) -> Option<&Message> {
        self.servers.get(&tx).map(|s| &s.request)
    }

    /// The request (with this endpoint's Via) of a client transaction.
    pub fn client_request(&self, tx: ClientTx) -> Option<&Message> {
        self.clients.get(&tx).map(|c| &c.request)
    }

    /// A received datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        match inspect(data) {
            Verdict::Request(request) => self.handle_request(now, source, request),
            Verdict::Response(response) => self.handle_response(now, source, response),
            Verdict::Reject(rejection) => self.reject(now, source, rejection),
            Verdict::Drop(problem) => self.events.push_back(Event::Dropped { problem, source }),
        }
    }

    fn handle_request(&mut self, now: Instant, source: SocketAddr, mut request: Message) {
        let destination = amend_via(&mut request, source);
        let Some(key) = server_key(&request) else {
            // Cannot happen after the checks (Via and CSeq are typed there); drop rather
            // than guess.
            self.events.push_back(Event::Dropped {
                problem: "no transaction key".into(),
                source,
            });
            return;
        };
        let is_ack = request.method() == Some("ACK");
        if let Some(&tx) = self.server_keys.get(&key) {
            self.retransmission(now, tx, is_ack, request, source);
            return;
        }
        if is_ack {
            self.events.push_back(Event::Ack { request, source });
            return;
        }
        if !self.make_room() {
            let tag = self.random_token(10);
            let mut r = response_to(&request, 503, "Service Unavailable", &tag);
            r.push(Name::RETRY_AFTER, "5");
            self.transmits.push_back(Transmit {
                destination,
                payload: r.to_bytes(),
            });
            self.events.push_back(Event::Rejected {
                status: 503,
                problem: "transaction table full".into(),
                source,
            });
            return;
        }
        let invite = request.method() == Some("INVITE");
        let tx = self.new_server(key, invite, request.clone(), destination);
        if invite {
            let trying = response_to(&request, 100, "Trying", "");
            // Cannot fail: the transaction was just made, in Proceeding.
            let _ = self.respond(now, tx, trying);
        }
        self.events.push_back(Event::Request {
            tx,
            request,
            source,
        });
    }

    /// Whether a new server transaction fits. When the table is full, the finished one
    /// (final answer sent, only absorbing retransmissions or waiting for an ACK) that would
    /// end soonest makes room: otherwise anyone sending 16 new requests a second would keep
    /// the table full of answered junk for 64·T1 each and lock out a real caller. Losing one
    /// only means a late retransmission is handled again. Live transactions (no final answer
    /// yet, or an accepted INVITE) are never dropped; with all of them live, 503.
    fn make_room(&mut self) -> bool {
        if self.servers.len() < MAX_TRANSACTIONS {
            return true;
        }
        let victim = self
            .servers
            .iter()
            .filter(|(_, s)| matches!(s.state, ServerState::Completed | ServerState::Confirmed))
            .min_by_key(|(_, s)| s.pending.map(|(t, _)| t))
            .map(|(tx, _)| *tx);
        match victim {
            Some(tx) => {
                if let Some(s) = self.servers.remove(&tx) {
                    self.server_keys.remove(&s.key);
                }
                true
            }
            None => false,
        }
    }

    fn new_server(
        &mut self,
        key: ServerKey,
        invite: bool,
        request: Message,
        destination: SocketAddr,
    ) -> ServerTx {
        let tx = ServerTx(self.id());
        self.server_keys.insert(key.clone(), tx);
        self.servers.insert(
            tx,
            Server {
                key,
                invite,
                request,
                destination,
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                last_response: None,
                schedule: Schedule::new(&self.timers, 0, self.timers.t2),
                pending: None,
            },
        );
        tx
    }

    /// A request that matched a server transaction: a retransmission, or the ACK of a
    /// 3xx-6xx.
    fn retransmission(
        &mut self,
        now: Instant,
        tx: ServerTx,
        is_ack: bool,
        request: Message,
        source: SocketAddr,
    ) {
        let t4 = self.timers.t4;
        let Some(s) = self.servers.get_mut(&tx) else {
            return;
        };
        match (is_ack, s.state) {
            (true, ServerState::Completed) => {
                s.state = ServerState::Confirmed;
                s.pending = Some((now + t4, Timer::End)); // I
            }
            // RFC 2543 peers' ACK of a 2xx matches the INVITE: it is the user's.
            (true, ServerState::Accepted) => self.events.push_back(Event::Ack { request, source }),
            (true, _) => {}
            (false, ServerState::Proceeding | ServerState::Completed) => {
                if let Some(payload) = &s.last_response {
                    self.transmits.push_back(Transmit {
                        destination: s.destination,
                        payload: payload.clone(),
                    });
                }
            }
            (false, _) => {}
        }
    }

    fn reject(&mut self, now: Instant, source: SocketAddr, r: Rejection) {
        let Rejection {
            status,
            reason,
            problem,
            mut request,
            extra,
        } = r;
        let destination = amend_via(&mut request, source);
        let tag = self.random_token(10);
        let mut response = response_to(&request, status, reason, &tag);
        for (name, value) in extra {
            response.push(name, value);
        }
        self.events.push_back(Event::Rejected {
            status,
            problem,
            source,
        });
        // Answer inside a server transaction when the request can be keyed, so that
        // retransmissions get the same answer and an INVITE's ACK is absorbed.
        let key = server_key(&request).filter(|_| request.method() != Some("ACK"));
        let known = key.as_ref().and_then(|k| self.server_keys.get(k)).copied();
        match key {
            Some(_) if known.is_some() => {
                if let Some(tx) = known {
                    self.retransmission(now, tx, false, request, source);
                }
            }
            Some(key) if self.make_room() => {
                let invite = request.method() == Some("INVITE");
                let tx = self.new_server(key, invite, request, destination);
                let _ = self.respond(now, tx, response);
            }
            _ if request.method() == Some("ACK") => {}
            _ => self.transmits.push_back(Transmit {
                destination,
                payload: response.to_bytes(),
            }),
        }
    }

    fn handle_response(&mut self, now: Instant, source: SocketAddr, response: Message) {
        let key = response
            .top_via()
            .and_then(|v| v.params.get_val("branch").map(|b| b.to_string()))
            .zip(response.cseq().map(|c| c.method));
        let Some(&tx) = key.as_ref().and_then(|k| self.client_keys.get(k)) else {
            self.events.push_back(Event::Dropped {
                problem: "response matches no transaction".into(),
                source,
            });
            return;
        };
        let code = response.code().unwrap_or_default();
        let t = self.timers;
        let Some(c) = self.clients.get_mut(&tx) else {
            return;
        };
        use ClientState::*;
        let deliver = match (c.invite, c.state, code) {
            (_, Trying | Proceeding, 100..=199) => {
                c.state = Proceeding;
                if c.invite {
                    c.pending = None;
                } else {
                    c.schedule.interval = t.t2;
                }
                true
            }
            (true, Trying | Proceeding, 200..=299) => {
                c.state = Accepted;
                c.pending = Some((now + t.t1x64(), Timer::End)); // M
                true
            }
            (true, Accepted, 200..=299) => true,
            (true, Trying | Proceeding, _) => {
                let ack = ack_for(&c.request, &response).to_bytes();
                self.transmits.push_back(Transmit {
                    destination: c.destination,
                    payload: ack.clone(),
                });
                c.ack = Some(ack);
                c.state = Completed;
                c.pending = Some((now + t.timer_d(), Timer::End)); // D
                true
            }
            (true, Completed, 300..) => {
                if let Some(ack) = &c.ack {
                    self.transmits.push_back(Transmit {
                        destination: c.destination,
                        payload: ack.clone(),
                    });
                }
                false
            }
            (false, Trying | Proceeding, _) => {
                c.state = Completed;
                c.pending = Some((now + t.t4, Timer::End)); // K
                true
            }
            _ => false,
        };
        if deliver {
            self.events.push_back(Event::Response { tx, response });
        }
    }

    /// The earliest moment [`Endpoint::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.clients.values().filter_map(|c| c.pending.map(|p| p.0));
        let s = self.servers.values().filter_map(|s| s.pending.map(|p| p.0));
        c.chain(s).min()
    }

    /// Fires every timer due at `now`. Each timer is re-armed from the moment it was due,
    /// so intervals stay exact even when the caller is late.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            let due_client = self
                .clients
                .iter()
                .filter_map(|(tx, c)| c.pending.filter(|p| p.0 <= now).map(|p| (p, *tx)))
                .min_by_key(|(p, _)| p.0);
            let due_server = self
                .servers
                .iter()
                .filter_map(|(tx, s)| s.pending.filter(|p| p.0 <= now).map(|p| (p, *tx)))
                .min_by_key(|(p, _)| p.0);
            match (due_client, due_server) {
                (Some((c, ctx)), Some((s, _))) if c.0 <= s.0 => self.fire_client(ctx, c),
                (_, Some((s, stx))) => self.fire_server(stx, s),
                (Some((c, ctx)), None) => self.fire_client(ctx, c),
                (None, None) => return,
            }
        }
    }

    fn fire_client(&mut self, tx: ClientTx, (at, timer): (Instant, Timer)) {
        let Some(c) = self.clients.get_mut(&tx) else {
            return;
        };
        match timer {
            Timer::Retransmit => {
                self.transmits.push_back(Transmit {
                    destination: c.destination,
                    payload: c.payload.clone(),
                });
                c.schedule.sent();
                c.pending = Some(c.schedule.arm(at));
            }
            Timer::GiveUp => {
                self.remove_client(tx);
                self.events.push_back(Event::Timeout { tx });
            }
            Timer::End => self.remove_client(tx),
        }
    }

    fn fire_server(&mut self, tx: ServerTx, (at, timer): (Instant, Timer)) {
        let Some(s) = self.servers.get_mut(&tx) else {
            return;
        };
        match timer {
            Timer::Retransmit => {
                if let Some(payload) = &s.last_response {
                    self.transmits.push_back(Transmit {
                        destination: s.destination,
                        payload: payload.clone(),
                    });
                }
                s.schedule.sent();
                s.pending = Some(s.schedule.arm(at));
            }
            Timer::GiveUp => {
                self.remove_server(tx);
                self.events.push_back(Event::NoAck { tx });
            }
            Timer::End => self.remove_server(tx),
        }
    }

    fn remove_client(&mut self, tx: ClientTx) {
        if let Some(c) = self.clients.remove(&tx) {
            self.client_keys.remove(&c.key);
        }
    }

    fn remove_server(&mut self, tx: ServerTx) {
        if let Some(s) = self.servers.remove(&tx) {
            self.server_keys.remove(&s.key);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The ACK of a 3xx-6xx, built inside the INVITE client transaction (RFC 3261 section
/// 17.1.1.3): same Request-URI, Call-ID, From, top Via and Route, the response's To, CSeq
/// number with method ACK.
fn ack_for(invite: &Message, response: &Message) -> Message {
    let mut ack = Message::request("ACK", invite.uri().unwrap_or_default());
    if let Some(via) = invite.vias().first() {
        ack.push(Name::VIA, *via);
    }
    for name in [Name::FROM, Name::CALL_ID] {
        if let Some(v) = invite.header(&name) {
            ack.push(name, v);
        }
    }
    if let Some(to) = response.header(&Name::TO) {
        ack.push(Name::TO, to);
    }
    if let Some(cseq) = invite.cseq() {
        ack.push(Name::CSEQ, format!("{} ACK", cseq.number));
    }
    for route in invite.header_values(&Name::ROUTE) {
        ack.push(Name::ROUTE, route);
    }
    ack.push(Name::MAX_FORWARDS, "70");
    ack
}

fn server_key(request: &Message) -> Option<ServerKey> {
    let via = request.top_via()?;
    let cseq = request.cseq()?;
    let mut method = request.method()?.to_string();
    if method == "ACK" {
        method = "INVITE".into();
    }
    match via
        .params
        .get_val("branch")
        .filter(|b| is_rfc3261_branch(b))
    {
        Some(branch) => Some(ServerKey::Rfc3261 {
            branch: branch.to_string(),
            sent_by: sent_by(&via),
            method,
        }),
        None => Some(ServerKey::Rfc2543 {
            uri: request.uri()?.to_string(),
            from_tag: request.from_tag().unwrap_or_default().to_string(),
            call_id: request.call_id()?.to_string(),
            cseq: cseq.number,
            via: request.vias().first()?.to_string(),
            method,
        }),
    }
}

fn sent_by(via: &Via) -> String {
    let host = match &via.sent_by.host {
        Host::Name(n) => n.to_ascii_lowercase(),
        Host::IP4(ip) => ip.to_string(),
        Host::IP6(ip) => ip.to_string(),
    };
    format!("{host}:{}", via.sent_by.port.unwrap_or(5060))
}

/// Marks the top Via with where the request really came from and returns where responses
/// go (RFC 3261 section 18.2, RFC 3581, the guide's rules): `received=` is added when the
/// source address differs from the Via host, `rport=` filled in when asked for. Responses go
/// to the `received=` address (the Via address when it is the source), to the `rport` port,
/// else the Via port or 5060. A request whose top Via cannot be read is answered to its
/// source.
fn amend_via(request: &mut Message, source: SocketAddr) -> SocketAddr {
    let Some(raw) = request.vias().first().map(|v| v.to_string()) else {
        return source;
    };
    let Some(via) = parse_via(&raw) else {
        return source;
    };
    let mut amended = raw.clone();
    let received = via
        .params
        .get_val("received")
        .and_then(|r| r.parse::<IpAddr>().ok());
    if received.is_none() && via.sent_by.ip() != Some(source.ip()) {
        amended.push_str(&format!(";received={}", source.ip()));
    }
    let wants_rport = via.params.get("rport").is_some_and(|p| p.value.is_none());
    if wants_rport {
        // Replace the bare `rport` with `rport=<port>`.
        amended = fill_rport(&amended, source.port());
    }
    if amended != raw {
        request.set_top_via(&amended);
    }
    let ip = received.unwrap_or(match via.sent_by.ip() {
        Some(ip) if ip == source.ip() => ip,
        _ => source.ip(),
    });
    let port = if wants_rport {
        source.port()
    } else {
        via.params
            .get_val("rport")
            .and_then(|p| p.parse().ok())
            .or(via.sent_by.port)
            .unwrap_or(5060)
    };
    SocketAddr::new(ip, port)
}

fn fill_rport(via: &str, port: u16) -> String {
    let mut out = String::with_capacity(via.len() + 6);
    let mut filled = false;
    for (i, part) in via.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        if !filled && i > 0 && part.trim().eq_ignore_ascii_case("rport") {
            out.push_str(&format!("rport={port}"));
            filled = true;
        } else {
            out.push_str(part);
        }
    }
    out
}
