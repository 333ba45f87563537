//! The phone's SNTP client: how it gets the time, exactly as the guide's Tables 3-7 and 3-8
//! describe for `sntp_mode` and `sntp_server`.
//!
//! # Design
//!
//! Two layers, in the style of str0m and quinn-proto:
//!
//! - [`SntpClient`], a sans-IO state machine. It owns no socket, reads no clock and starts no
//!   thread: **all time is input**. The monotonic `Instant` drives its timers; the wall-clock
//!   `SystemTime` is what it measures, and it is handed in at the two moments that matter, when
//!   a request leaves (T1) and when a packet arrives (T4). Tests therefore run hours of polling
//!   in microseconds, and every rule below is tested without a network.
//! - [`shell::run`], a thin tokio loop that owns the UDP sockets, the timer and the [`Clock`],
//!   feeds the core and carries out what it asks. The network daemon hosts it.
//!
//! ## The run loop
//!
//! Inputs, each a `handle_…`/`set_…` call on `&mut self`:
//! - [`SntpClient::handle_datagram`]: a datagram, with the local clock at arrival and how it was
//!   addressed ([`Destination`]: to the phone, to the broadcast address, or to 224.0.1.1);
//! - [`SntpClient::handle_timeout`]: the time asked for by `poll_timeout` has come;
//! - [`SntpClient::set_settings`] and [`SntpClient::set_broadcast_address`]: configuration and
//!   network changes at run time.
//!
//! Outputs, drained after every input:
//! - [`SntpClient::poll_transmit`]: a request to send. The shell passes the wall clock as it
//!   sends; the core writes it into the transmit timestamp and keeps it, because the answer must
//!   echo it as its originate timestamp;
//! - [`SntpClient::poll_event`]: an [`Event`]: a clock sample to apply, a mode switch, a
//!   kiss-o'-death, a missing answer;
//! - [`SntpClient::poll_timeout`]: when to call `handle_timeout` next.
//!
//! [`SntpClient::status`] is the snapshot for the Status screen and `phonectl status`.
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use std::time::{Duration, Instant, SystemTime};
//! use deskphone_sntp::{packet::{mode, Packet}, Destination, Event, Mode, NtpTimestamp, Settings, SntpClient};
//!
//! let server = Ipv4Addr::new(192, 168, 1, 9);
//! let (now, wall) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000));
//! let mut client = SntpClient::new(Settings::new(Mode::Unicast, Some(server)), None, now);
//!
//! // The first request goes at once, stamped with the wall clock.
//! let request = client.poll_transmit(now, wall).expect("a request is due");
//! assert_eq!(request.to, SocketAddrV4::new(server, 123));
//!
//! // The server's clock is 5 s ahead; its answer echoes our transmit timestamp.
//! let t1 = Packet::parse(&request.bytes).unwrap().transmit;
//! let server_time = NtpTimestamp::from_system_time(wall + Duration::from_secs(5));
//! let reply = Packet { version: 4, mode: mode::SERVER, stratum: 2, originate: t1,
//!                      receive: server_time, transmit: server_time, ..Packet::default() };
//! client.handle_datagram(now, wall, SocketAddrV4::new(server, 123), Destination::Unicast,
//!                        &reply.to_bytes()).unwrap();
//!
//! let Some(Event::Sample(sample)) = client.poll_event() else { panic!() };
//! assert_eq!(sample.offset.as_secs_f64(), 5.0);
//! // The next poll is a minute away.
//! assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(64)));
//! ```
//!
//! # The tables
//!
//! | `sntp_mode` | `sntp_server` | asks | accepts | switches |
//! | --- | --- | --- | --- | --- |
//! | unicast | 0.0.0.0 | nobody | nothing | — |
//! | unicast | server | the server | its replies only | — |
//! | multicast | 0.0.0.0 | nobody | broadcasts (224.0.1.1 and the local broadcast address) from any server | — |
//! | multicast | server | nobody | broadcasts from the server only | — |
//! | anycast | 0.0.0.0 | the local broadcast address | the first reply, from anyone | to unicast with the first responder |
//! | anycast | server | the server | its replies only | — (it is unicast) |
//! | directedbroadcast | 0.0.0.0 | the local broadcast address | replies and broadcasts from any server | to multicast after the first answer |
//! | directedbroadcast | server | the server | its replies and broadcasts only | to multicast after the first answer |
//!
//! ## Where the tables are silent
//!
//! These are choices a careful administrator would expect; each is tested.
//!
//! - **multicast with a server** accepts that server's broadcasts alone. Table 3-8 drops the
//!   "from any server" of Table 3-7, and its other three columns all ignore other servers; a
//!   configured server is a statement of trust.
//! - **anycast with a server** is reported as unicast in effect from the start: Table 3-8 has it
//!   send a request to the server and ignore others, which is unicast. No switch is reported.
//! - **directedbroadcast** also listens before its first answer (its "Receives" row lists
//!   broadcasts), and a broadcast that arrives first counts as the first answer: once
//!   broadcasts flow, asking is pointless.
//! - **Silence.** A server found by anycast that misses [`Timing::learned_server_attempts`]
//!   requests in a row is dropped and the broadcast address asked again (switch back to
//!   anycast). Directedbroadcast that hears nothing for [`Timing::listen_silence`] after its
//!   switch asks again (switch back to directedbroadcast). Multicast can only wait; it reports
//!   [`Event::NoAnswer`] each silent period.
//! - **Kiss-o'-death.** RATE doubles the poll interval (up to [`Timing::max_poll_interval`]).
//!   DENY or RSTR from the configured server stops all requests until the settings change
//!   ([`SyncState::Refused`]); in directedbroadcast it stops the requests but keeps listening.
//!   From a server found by anycast, or one of several answering a broadcast request, it
//!   removes that server from the candidates; the others may still answer.
//! - **No broadcast address known** (no IPv4 address yet): nothing is sent until the shell
//!   learns one.
//! - **Settings changed at run time** start the tables over at once: the outstanding request
//!   is forgotten (its late answer is refused), the state is unsynchronised until a sample
//!   arrives under the new settings; the last sample stays in the status.
//!
//! # SNTP rules (RFC 4330, RFC 5905)
//!
//! - A request is version 4, mode 3, all zero but the transmit timestamp, which is the wall
//!   clock when it leaves (kept unique per request).
//! - A reply is accepted only if it is mode 4, version 3 or 4, sent from port 123 to the phone
//!   itself, by a server whose answers are accepted, with an originate timestamp equal to the
//!   outstanding request's transmit timestamp: that refuses stale, duplicated and blind-spoofed
//!   answers. Leap indicator 3 and stratum 16 and above (no time to give) are refused, as are
//!   zero timestamps. Stratum 0 is a kiss-o'-death, acted on only when it too echoes the request.
//! - A broadcast is mode 5, arrives by broadcast or multicast, and gives `offset = T3 − T4`
//!   (short by the one-way delay, which a broadcast cannot measure; the delay is `None`).
//! - A reply gives `offset = ((T2 − T1) + (T3 − T4)) / 2` and
//!   `delay = (T4 − T1) − (T3 − T2)`. Timestamps are subtracted modulo 2^64 as signed 32.32
//!   fixed point, so the 2036 era rollover and a clock that booted at 1970 both work.
//! - Anything else is counted ([`Counters`]) and returned as a [`Discard`]; nothing panics.
//!
//! # Timers ([`Timing`])
//!
//! A request is sent at start. Unanswered, it is sent again after 1 s, then 2, 4, 8 … s up to
//! 1024 s. Once answered, the phone polls every 64 s (RFC 4330 forbids under 15 s; 64 s is
//! NTP's default minimum). Only the first few retries at boot are faster than 15 s, and only
//! while nothing answers.
//!
//! # The shell
//!
//! See [`shell`]: an ephemeral-port socket for requests and replies, a port-123 listener with
//! `IP_PKTINFO` (joined to 224.0.1.1) only while the mode in effect listens, samples applied
//! through [`shell::Clock`] (stepped above 128 ms, slewed below), events on an `mpsc`
//! channel, the status on a `watch`, settings from a `watch` whose sender stops the shell when
//! dropped. [`shell::VirtualClock`] is the clock of tests: it never touches the host's.

pub mod client;
pub mod packet;
pub mod settings;
pub mod shell;

pub use client::{
    Counters, Destination, Discard, Event, Kiss, Sample, SntpClient, Status, SyncState, Timing,
    Transmit, NTP_MULTICAST,
};
pub use packet::{NtpTimestamp, Offset};
pub use settings::{Mode, Settings, SettingsError};
pub use shell::Clock;
