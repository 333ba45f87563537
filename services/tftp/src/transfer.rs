//! The sans-IO state machine of one read transfer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::packet::{self, code, Packet};
use crate::{ClientConfig, TftpError};

/// Block size when the server ignores or declines the blksize option (RFC 1350).
const CLASSIC_BLKSIZE: usize = 512;
/// Most memory reserved ahead on the strength of an announced tsize.
const RESERVE_LIMIT: u64 = 16 * 1024 * 1024;
/// Limits of the blksize option (RFC 2348).
pub(crate) const MIN_BLKSIZE: u16 = 8;
pub(crate) const MAX_BLKSIZE: u16 = 65464;

/// Where a [`Transmit`] must be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The server's well-known port, i.e. the address the caller asked to fetch from.
    /// Only the read request goes there.
    Server,
    /// An exact address: the server's transfer ID once locked on, or a stranger
    /// that is told "Unknown transfer ID".
    Addr(SocketAddr),
}

/// A datagram the I/O shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// RRQ sent; waiting for the first reply (OACK, DATA 1 or ERROR).
    Requesting,
    /// Locked onto the server's transfer ID; receiving DATA.
    Receiving,
    /// The outcome is decided; only queued transmits remain to be sent.
    Done,
}

/// One TFTP read transfer as a pure state machine.
///
/// It never touches a socket or a clock: datagrams and the current time go in
/// through `handle_*`, datagrams to send, the next deadline and the outcome come
/// out through `poll_*`. See the crate documentation for the run loop.
#[derive(Debug)]
pub struct Transfer {
    state: State,
    filename: String,
    config: ClientConfig,
    /// blksize actually requested (the configured one, clamped to RFC 2348 limits).
    requested_blksize: u16,
    /// Value of the RFC 2349 timeout option if we request it.
    requested_timeout: Option<u64>,
    /// Whether the RRQ in flight carries options (dropped after an ERROR 8).
    options_sent: bool,
    /// The server's transfer ID, fixed by its first reply.
    peer: Option<SocketAddr>,
    /// An OACK was accepted and ACK 0 sent; a repeated OACK is answered again.
    oack_accepted: bool,
    blksize: usize,
    tsize: Option<u64>,
    /// Received bytes not yet taken with [`Transfer::take_data`].
    data: Vec<u8>,
    /// All bytes received, taken or not.
    total: u64,
    next_block: u16,
    last_acked: Option<u16>,
    /// The packet resent on timeout: the RRQ, then the latest ACK.
    last_sent: Option<Transmit>,
    transmits: VecDeque<Transmit>,
    deadline: Instant,
    retransmits: u32,
    outcome: Option<Result<Vec<u8>, TftpError>>,
}

impl Transfer {
    /// Starts a read of `filename` (may contain `/`). The RRQ is immediately
    /// available from [`poll_transmit`](Self::poll_transmit).
    ///
    /// `config.blksize` is clamped to 8..=65464. An empty file name or one
    /// containing NUL ends the transfer at once with
    /// [`TftpError::InvalidFilename`], without sending anything.
    pub fn new(filename: &str, config: &ClientConfig, now: Instant) -> Transfer {
        let requested_timeout = config
            .timeout_option
            // RFC 2349: whole seconds, 1..=255; round up so the server never
            // retransmits before we would.
            .then(|| config.timeout.as_secs_f64().ceil().clamp(1.0, 255.0) as u64);
        let mut t = Transfer {
            state: State::Requesting,
            filename: filename.to_owned(),
            config: config.clone(),
            requested_blksize: config.blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE),
            requested_timeout,
            options_sent: true,
            peer: None,
            oack_accepted: false,
            blksize: CLASSIC_BLKSIZE,
            tsize: None,
            data: Vec::new(),
            total: 0,
            next_block: 1,
            last_acked: None,
            last_sent: None,
            transmits: VecDeque::new(),
            deadline: now + config.timeout,
            retransmits: 0,
            outcome: None,
        };
        if filename.is_empty() || filename.contains('\0') {
            t.fail(
                TftpError::InvalidFilename(filename.escape_default().to_string()),
                None,
            );
        } else {
            t.send_request(now);
        }
        t
    }

    /// The next datagram to send, if any. Call until it returns `None`.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next;
    /// `None` once the transfer is finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.state != State::Done).then_some(self.deadline)
    }

    /// The result, once: the file contents or why the transfer failed.
    /// Drain [`poll_transmit`](Self::poll_transmit) too: the final ACK or an
    /// ERROR for the server may still be queued.
    pub fn poll_outcome(&mut self) -> Option<Result<Vec<u8>, TftpError>> {
        self.outcome.take()
    }

    /// Whether the outcome is decided (it may already have been taken).
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The block size in use: 512 until the server accepts the blksize option.
    pub fn blksize(&self) -> usize {
        self.blksize
    }

    /// The file size announced by the server (tsize option), if any.
    pub fn tsize(&self) -> Option<u64> {
        self.tsize
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.total
    }

    /// Takes the bytes received so far, so that a large file (a firmware bundle) can go to
    /// disk as it arrives; the outcome then holds only the rest.
    pub fn take_data(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }

    /// Feeds the time; retransmits the last packet if the deadline has passed,
    /// or gives up with [`TftpError::Timeout`] once the retries are spent.
    /// Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Done || now < self.deadline {
            return;
        }
        if self.retransmits >= self.config.retries {
            self.fail(TftpError::Timeout, None);
            return;
        }
        self.retransmits += 1;
        // From `now`, not the old deadline: a late shell must not cause a burst.
        self.deadline = now + self.config.timeout;
        if let Some(t) = self.last_sent.clone() {
            self.transmits.push_back(t);
        }
    }

    /// Feeds one received datagram and the address it came from.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.state == State::Done {
            return;
        }
        let packet = packet::parse(data);
        if let Some(peer) = self.peer {
            if peer != from {
                // RFC 1350 section 4: tell the stranger, leave the transfer alone.
                // Never answer an ERROR, so two confused hosts cannot ping-pong.
                if !matches!(packet, Some(Packet::Error { .. })) {
                    self.transmits.push_back(Transmit {
                        to: Peer::Addr(from),
                        payload: packet::error(code::UNKNOWN_TID, "Unknown transfer ID"),
                    });
                }
                return;
            }
        }
        // Unparseable datagrams are ignored: a timeout recovers if it mattered.
        let Some(packet) = packet else { return };
        match self.state {
            State::Requesting => self.on_first_reply(now, from, packet),
            State::Receiving => self.on_packet(now, packet),
            State::Done => {}
        }
    }

    fn on_first_reply(&mut self, now: Instant, from: SocketAddr, packet: Packet<'_>) {
        match packet {
            Packet::Error {
                code: code::OPTION_NEGOTIATION,
                ..
            } if self.options_sent => {
                // RFC 2347: a server that rejects the options may be asked again
                // without them. Its TID is not locked: the new RRQ gets a new one.
                self.options_sent = false;
                self.send_request(now);
            }
            Packet::Error { code, message } => self.fail(server_error(code, message), None),
            Packet::Oack { body } if self.options_sent => {
                self.peer = Some(from);
                self.on_oack(now, body);
            }
            Packet::Data { block: 1, payload } => {
                // The server ignored the options: RFC 1350 defaults apply.
                self.peer = Some(from);
                self.state = State::Receiving;
                self.on_data(now, 1, payload);
            }
            other => {
                self.peer = Some(from);
                self.fail(
                    TftpError::Protocol(format!("unexpected {} as first reply", other.kind())),
                    Some((code::ILLEGAL_OPERATION, "Illegal TFTP operation")),
                );
            }
        }
    }

    fn on_oack(&mut self, now: Instant, body: &[u8]) {
        let Some(options) = packet::parse_options(body) else {
            return self.reject_options("malformed OACK".into());
        };
        // Options the server leaves out are declined (RFC 2347): 512-byte blocks.
        let mut blksize = CLASSIC_BLKSIZE;
        let mut tsize = None;
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &options {
            if seen.contains(&name.as_str()) {
                return self.reject_options(format!("option {name} repeated in OACK"));
            }
            seen.push(name);
            let number = packet::parse_number(value);
            let acceptable = match name.as_str() {
                // RFC 2348: the server may only lower the size we asked for.
                "blksize" => match number {
                    Some(n)
                        if (u64::from(MIN_BLKSIZE)..=u64::from(self.requested_blksize))
                            .contains(&n) =>
                    {
                        blksize = n as usize;
                        true
                    }
                    _ => false,
                },
                "tsize" => {
                    tsize = number;
                    number.is_some()
                }
                // RFC 2349: the server must echo the timeout we asked for.
                "timeout" if self.requested_timeout.is_some() => number == self.requested_timeout,
                _ => return self.reject_options(format!("unrequested option {name} in OACK")),
            };
            if !acceptable {
                return self.reject_options(format!("bad value {value:?} for option {name}"));
            }
        }
        if let Some(size) = tsize {
            if size > self.config.max_size {
                return self.too_large();
            }
            // Capped: a lying tsize must not make us allocate up front.
            self.data.reserve_exact(size.min(RESERVE_LIMIT) as usize);
        }
        self.blksize = blksize;
        self.tsize = tsize;
        self.oack_accepted = true;
        self.state = State::Receiving;
        self.send_to_peer(packet::ack(0));
        self.arm(now);
    }

    fn on_packet(&mut self, now: Instant, packet: Packet<'_>) {
        match packet {
            Packet::Data { block, payload } if block == self.next_block => {
                self.on_data(now, block, payload);
            }
            // Our ACK was lost and the server retransmitted: ACK again, once per
            // duplicate, without touching the timer (no sorcerer's apprentice).
            Packet::Data { block, .. } if Some(block) == self.last_acked => {
                self.queue_to_peer(packet::ack(block));
            }
            Packet::Oack { .. } if self.oack_accepted && self.last_acked.is_none() => {
                self.queue_to_peer(packet::ack(0));
            }
            // Older duplicates and late OACKs are stale, not errors.
            Packet::Data { .. } | Packet::Oack { .. } => {}
            Packet::Error { code, message } => self.fail(server_error(code, message), None),
            other => self.fail(
                TftpError::Protocol(format!("unexpected {} during transfer", other.kind())),
                Some((code::ILLEGAL_OPERATION, "Illegal TFTP operation")),
            ),
        }
    }

    fn on_data(&mut self, now: Instant, block: u16, payload: &[u8]) {
        if payload.len() > self.blksize {
            return self.fail(
                TftpError::Protocol(format!(
                    "DATA block {block} carries {} bytes, blksize is {}",
                    payload.len(),
                    self.blksize
                )),
                Some((code::ILLEGAL_OPERATION, "Block larger than blksize")),
            );
        }
        if self.total + payload.len() as u64 > self.config.max_size {
            return self.too_large();
        }
        self.data.extend_from_slice(payload);
        self.total += payload.len() as u64;
        self.send_to_peer(packet::ack(block));
        self.last_acked = Some(block);
        // RFC 1350 numbers are 16 bits; like tftpd-hpa we roll over to 0.
        self.next_block = block.wrapping_add(1);
        if payload.len() == self.blksize {
            self.arm(now);
            return;
        }
        // A short block ends the transfer; the server has it ACKed either way.
        match self.tsize {
            Some(size) if size != self.total => self.fail(
                TftpError::Protocol(format!(
                    "server announced {size} bytes but sent {}",
                    self.total
                )),
                None,
            ),
            _ => {
                self.state = State::Done;
                self.outcome = Some(Ok(std::mem::take(&mut self.data)));
            }
        }
    }

    fn send_request(&mut self, now: Instant) {
        let options: Vec<(&str, String)> = if self.options_sent {
            let mut o = vec![
                ("blksize", self.requested_blksize.to_string()),
                ("tsize", "0".to_owned()),
            ];
            if let Some(secs) = self.requested_timeout {
                o.push(("timeout", secs.to_string()));
            }
            o
        } else {
            Vec::new()
        };
        let t = Transmit {
            to: Peer::Server,
            payload: packet::rrq(&self.filename, &options),
        };
        self.last_sent = Some(t.clone());
        self.transmits.push_back(t);
        self.arm(now);
    }

    /// Sends to the locked peer and remembers it for retransmission.
    fn send_to_peer(&mut self, payload: Vec<u8>) {
        if let Some(peer) = self.peer {
            let t = Transmit {
                to: Peer::Addr(peer),
                payload,
            };
            self.last_sent = Some(t.clone());
            self.transmits.push_back(t);
        }
    }

    /// Sends to the locked peer without changing what a timeout retransmits.
    fn queue_to_peer(&mut self, payload: Vec<u8>) {
        if let Some(peer) = self.peer {
            self.transmits.push_back(Transmit {
                to: Peer::Addr(peer),
                payload,
            });
        }
    }

    /// Progress was made: a fresh timeout and a fresh retry budget.
    fn arm(&mut self, now: Instant) {
        self.deadline = now + self.config.timeout;
        self.retransmits = 0;
    }

    fn reject_options(&mut self, why: String) {
        self.fail(
            TftpError::Protocol(why),
            Some((code::OPTION_NEGOTIATION, "Option negotiation failed")),
        );
    }

    fn too_large(&mut self) {
        let limit = self.config.max_size;
        self.fail(
            TftpError::TooLarge { limit },
            Some((code::DISK_FULL, "File too large")),
        );
    }

    fn fail(&mut self, error: TftpError, reply: Option<(u16, &str)>) {
        if let Some((code, message)) = reply {
            self.queue_to_peer(packet::error(code, message));
        }
        self.state = State::Done;
        self.data = Vec::new();
        self.outcome = Some(Err(error));
    }
}

fn server_error(code: u16, message: String) -> TftpError {
    if code == code::FILE_NOT_FOUND {
        TftpError::NotFound
    } else {
        TftpError::Server { code, message }
    }
}

#[cfg(test)]
mod tests;
