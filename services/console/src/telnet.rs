//! The telnet layer (RFC 854), sans-IO: bytes from the socket in, the user's data and the
//! negotiation replies out.
//!
//! The server offers two options and refuses every other one:
//!
//! - `WILL ECHO`: the server echoes, so the client stops echoing locally and the password is
//!   not shown;
//! - `WILL SUPPRESS-GO-AHEAD`: with ECHO, the standard `telnet` client switches to
//!   character-at-a-time mode, which the line editor of the session needs.
//!
//! A client that asks for anything else gets `WONT`/`DONT`. Replies are sent only when an
//! option changes state, so two peers cannot loop acknowledging each other. Subnegotiations
//! are skipped without being buffered, so a peer cannot make the server hold memory.
//!
//! Why not a crate: the two maintained telnet crates did not fit. `nectar` is a tokio codec
//! for MUD servers that assembles whole lines itself (the console needs each byte for echo
//! and password masking); `libtelnet-rs` 2.0 hands an IAC sequence split across two reads
//! to the application as data, keeps `IAC IAC` doubled and buffers subnegotiations without
//! a bound. The part needed here is this small state machine.

/// Interpret As Command.
pub const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const EL: u8 = 248;
const EC: u8 = 247;
const AYT: u8 = 246;
const IP: u8 = 244;
const SE: u8 = 240;

/// The ECHO option (RFC 857).
pub const OPT_ECHO: u8 = 1;
/// The SUPPRESS-GO-AHEAD option (RFC 858).
pub const OPT_SGA: u8 = 3;

/// Where one of our options stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionState {
    /// Off; a `DO` turns it on.
    Off,
    /// We sent `WILL` and wait for the answer.
    Offered,
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    Data,
    Iac,
    /// After `IAC WILL|WONT|DO|DONT`: the option byte comes next.
    Negotiate(u8),
    /// Inside `IAC SB ... IAC SE`.
    Sub,
    SubIac,
}

/// What one call of [`Telnet::decode`] produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The user's bytes, `IAC IAC` made one 255; interrupt, erase-character and
    /// erase-line become Ctrl-C, backspace and Ctrl-U for the line editor.
    pub data: Vec<u8>,
    /// To send back to the client as it is (already telnet-encoded).
    pub reply: Vec<u8>,
}

/// The telnet state of one connection.
#[derive(Debug, Clone)]
pub struct Telnet {
    parse: Parse,
    echo: OptionState,
    sga: OptionState,
    /// The client's SUPPRESS-GO-AHEAD: accepted (it changes nothing here) to spare
    /// clients a refusal.
    remote_sga: bool,
}

impl Default for Telnet {
    fn default() -> Self {
        Telnet::new()
    }
}

impl Telnet {
    pub fn new() -> Telnet {
        Telnet {
            parse: Parse::Data,
            echo: OptionState::Off,
            sga: OptionState::Off,
            remote_sga: false,
        }
    }

    /// The first bytes to send: `IAC WILL ECHO IAC WILL SUPPRESS-GO-AHEAD`.
    pub fn greeting(&mut self) -> Vec<u8> {
        self.echo = OptionState::Offered;
        self.sga = OptionState::Offered;
        vec![IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA]
    }

    /// Whether the server should echo what the user types: until the client refuses
    /// `WILL ECHO`, it does (the client then does not echo by itself).
    pub fn server_echoes(&self) -> bool {
        self.echo != OptionState::Off
    }

    /// Parses bytes from the client; never fails, whatever the bytes.
    pub fn decode(&mut self, input: &[u8]) -> Decoded {
        let mut out = Decoded::default();
        for &b in input {
            self.parse = match self.parse {
                Parse::Data if b == IAC => Parse::Iac,
                Parse::Data => {
                    out.data.push(b);
                    Parse::Data
                }
                Parse::Iac => self.command(b, &mut out),
                Parse::Negotiate(verb) => {
                    self.negotiate(verb, b, &mut out.reply);
                    Parse::Data
                }
                Parse::Sub if b == IAC => Parse::SubIac,
                Parse::Sub => Parse::Sub,
                Parse::SubIac => match b {
                    SE => Parse::Data,
                    // An escaped 255 inside the subnegotiation.
                    IAC => Parse::Sub,
                    // IAC and a command without SE: the subnegotiation was cut short.
                    other => self.command(other, &mut out),
                },
            };
        }
        out
    }

    fn command(&mut self, b: u8, out: &mut Decoded) -> Parse {
        match b {
            IAC => {
                out.data.push(IAC);
                Parse::Data
            }
            WILL | WONT | DO | DONT => Parse::Negotiate(b),
            SB => Parse::Sub,
            IP => {
                out.data.push(0x03);
                Parse::Data
            }
            EC => {
                out.data.push(0x08);
                Parse::Data
            }
            EL => {
                out.data.push(0x15);
                Parse::Data
            }
            AYT => {
                out.reply.extend_from_slice(b"\r\n[yes]\r\n");
                Parse::Data
            }
            // NOP, GA, DM, BRK, AO, a stray SE or a byte that is no command: nothing to do.
            _ => Parse::Data,
        }
    }

    fn negotiate(&mut self, verb: u8, option: u8, reply: &mut Vec<u8>) {
        match verb {
            DO | DONT => {
                let state = match option {
                    OPT_ECHO => &mut self.echo,
                    OPT_SGA => &mut self.sga,
                    _ => {
                        if verb == DO {
                            reply.extend_from_slice(&[IAC, WONT, option]);
                        }
                        return;
                    }
                };
                match (verb, *state) {
                    (DO, OptionState::Off) => {
                        *state = OptionState::On;
                        reply.extend_from_slice(&[IAC, WILL, option]);
                    }
                    (DO, _) => *state = OptionState::On,
                    (_, OptionState::On) => {
                        *state = OptionState::Off;
                        reply.extend_from_slice(&[IAC, WONT, option]);
                    }
                    // The refusal of our offer, or already off.
                    _ => *state = OptionState::Off,
                }
            }
            _ => match (verb, option) {
                (WILL, OPT_SGA) if !self.remote_sga => {
                    self.remote_sga = true;
                    reply.extend_from_slice(&[IAC, DO, OPT_SGA]);
                }
                (WILL, OPT_SGA) => {}
                (WILL, _) => reply.extend_from_slice(&[IAC, DONT, option]),
                (_, OPT_SGA) if self.remote_sga => {
                    self.remote_sga = false;
                    reply.extend_from_slice(&[IAC, DONT, OPT_SGA]);
                }
                // WONT of something that is off anyway.
                _ => {}
            },
        }
    }
}

/// Data for the client: each 255 byte doubled so it is not read as a command.
pub fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 8);
    for &b in data {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_standard_clients_answers_settle_without_more_replies() {
        let mut t = Telnet::new();
        assert_eq!(t.greeting(), [IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA]);
        // What Linux telnet answers, plus its own offers of terminal type and window size.
        let d = t.decode(&[
            IAC, DO, OPT_ECHO, IAC, DO, OPT_SGA, IAC, WILL, 24, IAC, WILL, 31, IAC, WILL, OPT_SGA,
        ]);
        assert!(d.data.is_empty());
        assert_eq!(d.reply, [IAC, DONT, 24, IAC, DONT, 31, IAC, DO, OPT_SGA]);
        assert!(t.server_echoes());
        // Saying it again changes nothing and is not answered (no negotiation loop).
        let d = t.decode(&[IAC, DO, OPT_ECHO, IAC, WILL, OPT_SGA]);
        assert!(d.reply.is_empty());
    }

    #[test]
    fn everything_else_is_refused_and_a_refused_echo_stops_the_server_echo() {
        let mut t = Telnet::new();
        t.greeting();
        let d = t.decode(&[IAC, DO, 34, IAC, DONT, OPT_ECHO]);
        assert_eq!(d.reply, [IAC, WONT, 34]);
        assert!(!t.server_echoes());
        // Asked again later: turned on and acknowledged.
        let d = t.decode(&[IAC, DO, OPT_ECHO]);
        assert_eq!(d.reply, [IAC, WILL, OPT_ECHO]);
        assert!(t.server_echoes());
        // Turned off after being on: acknowledged once.
        let d = t.decode(&[IAC, DONT, OPT_ECHO, IAC, DONT, OPT_ECHO]);
        assert_eq!(d.reply, [IAC, WONT, OPT_ECHO]);
    }

    #[test]
    fn data_commands_and_sequences_split_across_reads() {
        let mut t = Telnet::new();
        t.greeting();
        let mut data = Vec::new();
        let mut reply = Vec::new();
        // "ab", IAC IAC, IAC DO ECHO split in three, a subnegotiation (NAWS) with an escaped
        // 255, IAC EC, IAC IP, then "c".
        for chunk in [
            &b"ab"[..],
            &[IAC],
            &[IAC, IAC],
            &[DO],
            &[OPT_ECHO, IAC, SB, 31, 0, 80, IAC],
            &[IAC, 0, 24, IAC, SE, IAC, EC, IAC, IP, b'c'],
        ] {
            let d = t.decode(chunk);
            data.extend(d.data);
            reply.extend(d.reply);
        }
        assert_eq!(data, [b'a', b'b', 255, 0x08, 0x03, b'c']);
        assert!(reply.is_empty(), "{reply:?}");
    }

    #[test]
    fn output_doubles_iac() {
        assert_eq!(encode(&[1, 255, 2]), [1, 255, 255, 2]);
        assert_eq!(encode(b"ok\r\n"), b"ok\r\n");
    }

    proptest! {
        /// Whatever a client sends: no panic, and replies only ever negotiate.
        #[test]
        fn random_bytes_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut t = Telnet::new();
            t.greeting();
            for c in chunks {
                let d = t.decode(&c);
                prop_assert!(d.data.len() <= c.len());
            }
        }

        /// Plain data (no 255) comes through unchanged however it is split.
        #[test]
        fn plain_data_passes(data in proptest::collection::vec(0u8..255, 0..200), cut in 0usize..200) {
            let mut t = Telnet::new();
            let cut = cut.min(data.len());
            let mut got = t.decode(&data[..cut]).data;
            got.extend(t.decode(&data[cut..]).data);
            prop_assert_eq!(got, data);
        }
    }
}
