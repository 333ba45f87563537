//! DHCP client: a sans-IO core (options 66 and 150, release and stay released)
//! and its UDP shell.
//!
//! The phone's network daemon (`netd`) uses this crate to obtain an address
//! the way a Cisco 7940/7960 does: it sends host name `SIP<MAC>` (option 12),
//! asks for the TFTP servers of option 150 (a list of addresses) and option 66
//! (a name), keeps the BOOTP next server (siaddr) as the last fallback, keeps
//! Default Routers and DNS Servers in the server's order, reports the DHCP
//! Server for the Network Configuration menu, and implements "DHCP Address
//! Released" of the guide's Table 3-1: give the address back and stay silent
//! until told to start again.
//!
//! # Design: sans-IO
//!
//! The protocol lives in [`DhcpClient`], a state machine that owns no socket,
//! no clock, no thread and no random source. All time is external input,
//! randomness comes from a seed, so tests drive an exchange, its
//! retransmissions and a whole lease lifetime in simulated time. The thin
//! [`shell`] runs the same core on a tokio UDP socket.
//!
//! The client never touches the interface. It reports [`Event`]s, and the
//! caller applies the [`Lease`] (address, prefix, routes, DNS) through
//! netlink, or removes it.
//!
//! # The run loop
//!
//! ```no_run
//! use std::time::Instant;
//! use deskphone_dhcp::{Config, DhcpClient, Event};
//!
//! # fn recv(_: std::time::Duration) -> Option<Vec<u8>> { None }
//! # fn send(_: deskphone_dhcp::Transmit) {}
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::for_mac([0x00, 0x30, 0x94, 0xc2, 0xd5, 0xe6]);
//! let mut client = DhcpClient::new(config, Instant::now(), 0x5eed)?;
//! client.start(Instant::now());
//! loop {
//!     // 1. Send everything the core wants sent (port 68 to port 67).
//!     while let Some(transmit) = client.poll_transmit() {
//!         send(transmit);
//!     }
//!     // 2. Act on what happened.
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Bound(lease) | Event::Renewed(lease) => println!("apply {lease:?}"),
//!             Event::Lost | Event::Released => println!("remove the address"),
//!         }
//!     }
//!     // 3. Wait for a datagram or the deadline, whichever comes first.
//!     let wait = client
//!         .poll_timeout()
//!         .map(|t| t.saturating_duration_since(Instant::now()))
//!         .unwrap_or(std::time::Duration::from_secs(3600));
//!     match recv(wait) {
//!         Some(datagram) => client.handle_datagram(Instant::now(), &datagram),
//!         None => client.handle_timeout(Instant::now()),
//!     }
//! }
//! # }
//! ```
//!
//! # Inputs
//!
//! * [`DhcpClient::new`]: the [`Config`] (MAC, host name, client identifier,
//!   the address of the last lease), the time and a seed. Nothing is sent yet.
//! * [`DhcpClient::start`]: INIT-REBOOT when an address is remembered (a NAK
//!   or silence falls back to DISCOVER), otherwise DISCOVER. Also the only way
//!   out of Released: "stay released across restarts" is the caller not
//!   calling `start` until the user says so.
//! * [`DhcpClient::release`]: DHCPRELEASE to the lease's server, then silence.
//! * [`DhcpClient::link_changed`]: carrier lost (stop sending, keep the lease
//!   until it expires) or back (confirm the lease with INIT-REBOOT, as the
//!   phone may have been moved).
//! * [`DhcpClient::handle_datagram`]: every datagram received on port 68.
//!   Replies are matched by xid and chaddr; everything else is counted in
//!   [`Counters`] and dropped, never a panic.
//! * [`DhcpClient::handle_timeout`]: when [`DhcpClient::poll_timeout`] says.
//!
//! # Outputs
//!
//! * [`DhcpClient::poll_transmit`]: [`Transmit`]s to 255.255.255.255:67 or to
//!   a server's address, port 67. While the client has no address it sets
//!   the BROADCAST flag, so replies reach a socket bound to 0.0.0.0:68.
//! * [`DhcpClient::poll_timeout`]: the next retransmission, T1, T2 or expiry.
//! * [`DhcpClient::poll_event`]: [`Event::Bound`], [`Event::Renewed`],
//!   [`Event::Lost`] (expired or NAKed: remove the address) and
//!   [`Event::Released`].
//! * [`DhcpClient::status`]: a [`Status`] snapshot for the phone's screens.
//!
//! # Protocol behaviour (RFC 2131)
//!
//! * DISCOVER / OFFER / REQUEST / ACK; the first usable OFFER wins. The
//!   REQUEST keeps the DISCOVER's xid; every other exchange gets a new one.
//! * Retransmission after 4, 8, 16, 32, 64, 64, ... seconds, each moved by up
//!   to a second either way. DISCOVER goes on for ever; a REQUEST after an
//!   OFFER is sent four times before starting over; INIT-REBOOT twice (about
//!   12 s in all) before falling back to the unexpired lease or DISCOVER.
//! * T1 (option 58, else half the lease): RENEWING, unicast to the server.
//!   T2 (option 59, else 7/8): REBINDING, broadcast. Retries at half the
//!   remaining time, at least a minute apart. Expiry: [`Event::Lost`] and
//!   DISCOVER. T1 and T2 carry no random fuzz.
//! * NAK: [`Event::Lost`] if an address was held, then DISCOVER at once;
//!   consecutive NAKs back off like retransmissions.
//! * Not implemented: DHCPDECLINE (no ARP probe of the offered address: the
//!   client does not own the interface), DHCPINFORM, option overload (52),
//!   choosing among several OFFERs.
//!
//! # Wire format
//!
//! Messages are built and read with `dhcproto`. Replies are sifted first:
//! this crate extracts option 150 itself (`dhcproto` 0.14 reads it as a
//! single address and, on a list, stops reading the options that follow) and
//! hands `dhcproto` only the options the client uses, since some of its other
//! option decoders panic on bad lengths in debug builds.

mod client;
mod lease;
mod message;
pub mod shell;

pub use client::{
    cisco_hostname, ClientState, Config, ConfigError, Counters, Destination, DhcpClient, Event,
    Status, Transmit,
};
pub use lease::{Lease, TftpServer};

/// Servers listen here.
pub const SERVER_PORT: u16 = 67;
/// The client sends from and listens on this port.
pub const CLIENT_PORT: u16 = 68;
