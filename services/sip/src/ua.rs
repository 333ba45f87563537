//! The user agent core: one [`Endpoint`] (transactions) and one [`Registration`] per line,
//! wired together, with OPTIONS answered here. Everything else the transaction layer reports
//! goes up as [`UaEvent::Transaction`] to the layers still to come (calls, NOTIFY).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::Name;

use crate::config::{LineSettings, Settings};
use crate::message::{response_to, Message};
use crate::register::{RegState, Registration};
use crate::transaction::{ClientTx, Endpoint, Error, Event, ServerTx, Transmit};

/// The methods sipd answers, for Allow.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER";

#[derive(Debug, Clone)]
pub enum UaEvent {
    /// A line's registration changed.
    Registration { line: u8, state: RegState },
    /// Something for the layers above the registrations.
    Transaction(Event),
}

#[derive(Debug)]
pub struct UserAgent {
    settings: Settings,
    local: SocketAddr,
    endpoint: Endpoint,
    lines: Vec<Registration>,
    tx_line: HashMap<ClientTx, u8>,
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
        UserAgent {
            settings,
            local,
            endpoint,
            lines: Vec::new(),
            tx_line: HashMap::new(),
            rng,
            events: VecDeque::new(),
        }
    }

    /// Adds a line; its REGISTERs go to `destination` (the resolved proxy, or the outbound
    /// proxy). Replaces a line of the same number.
    pub fn add_line(&mut self, line: LineSettings, destination: SocketAddr) -> Result<(), String> {
        let number = line.line;
        let reg = Registration::new(
            line,
            &self.settings,
            self.local,
            destination,
            self.rng.u64(..),
        )?;
        self.lines.retain(|r| r.line() != number);
        // Answers to the replaced registration's requests are not the new one's.
        self.tx_line.retain(|_, l| *l != number);
        self.lines.push(reg);
        Ok(())
    }

    pub fn registration(&self, line: u8) -> Option<&RegState> {
        self.lines
            .iter()
            .find(|r| r.line() == line)
            .map(Registration::state)
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
        for r in &mut self.lines {
            r.handle_timeout(now);
        }
        self.pump(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let lines = self.lines.iter().filter_map(Registration::poll_timeout);
        lines.chain(self.endpoint.poll_timeout()).min()
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
            for r in &mut self.lines {
                while let Some(request) = r.poll_request() {
                    busy = true;
                    match self.endpoint.send_request(now, request, r.destination()) {
                        Ok(tx) => {
                            self.tx_line.insert(tx, r.line());
                        }
                        Err(_) => r.handle_request_timeout(now),
                    }
                }
                while let Some(state) = r.poll_change() {
                    self.events.push_back(UaEvent::Registration {
                        line: r.line(),
                        state,
                    });
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
                let line = self.tx_line[&tx];
                if response.code().is_some_and(|c| c >= 200) {
                    self.tx_line.remove(&tx);
                }
                if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
                    r.handle_response(now, &response);
                }
            }
            Event::Timeout { tx } if self.tx_line.contains_key(&tx) => {
                let line = self.tx_line.remove(&tx).unwrap_or_default();
                if let Some(r) = self.lines.iter_mut().find(|r| r.line() == line) {
                    r.handle_request_timeout(now);
                }
            }
            Event::Request { tx, request, .. } if request.method() == Some("OPTIONS") => {
                let tag = self.endpoint.random_token(10);
                let mut ok = response_to(&request, 200, "OK", &tag);
                ok.push(Name::ALLOW, ALLOW);
                ok.push(Name::ACCEPT, "application/sdp");
                ok.push(Name::USER_AGENT, self.settings.user_agent.clone());
                // The transaction was just opened by this request: it takes a final answer.
                let _ = self.endpoint.respond(now, tx, ok);
            }
            other => self.events.push_back(UaEvent::Transaction(other)),
        }
    }
}
