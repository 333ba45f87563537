//! The tokio shell: one UDP socket on port 68 of one interface, the core's
//! timers, a command channel in and an event channel out.
//!
//! The shell configures nothing: the caller applies [`Event::Bound`] and
//! friends to the interface (netlink), and must keep the address until
//! [`Event::Released`] arrives, because the DHCPRELEASE before it is sent
//! from that address.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::{Destination, DhcpClient, Event, Status, CLIENT_PORT, SERVER_PORT};

/// Larger than any reply the client asks for (option 57 says 1500).
const RECV_BUFFER: usize = 4096;
/// How long to sleep when the core has no deadline (idle, released).
const IDLE_WAIT: Duration = Duration::from_secs(24 * 3600);

/// What the caller can tell a running client.
#[derive(Debug)]
pub enum Command {
    Start,
    /// "DHCP Address Released".
    Release,
    /// The interface's carrier went down or came back.
    Link {
        up: bool,
    },
    /// Asks for a [`Status`] snapshot.
    Status(oneshot::Sender<Status>),
    /// Ends [`run`] without releasing the lease.
    Stop,
}

/// A UDP socket on 0.0.0.0:68 that sends and receives only on `interface`
/// (SO_BINDTODEVICE), may broadcast, and shares the port with others
/// (SO_REUSEADDR). Needs CAP_NET_RAW (for the device binding) and
/// CAP_NET_BIND_SERVICE, and a tokio runtime.
pub fn bind_socket(interface: &str) -> io::Result<UdpSocket> {
    if interface.is_empty() || interface.len() > 15 || interface.contains(['/', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{interface:?} is not an interface name"),
        ));
    }
    let context = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("DHCP socket on {interface} port {CLIENT_PORT}: {e}"),
        )
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(context)?;
    socket.set_reuse_address(true).map_err(context)?;
    socket.set_broadcast(true).map_err(context)?;
    socket
        .bind_device(Some(interface.as_bytes()))
        .map_err(context)?;
    socket.set_nonblocking(true).map_err(context)?;
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT).into())
        .map_err(context)?;
    UdpSocket::from_std(socket.into()).map_err(context)
}

/// Runs `client` on `socket` until [`Command::Stop`] or either channel is
/// closed, then hands the client back (with its lease and counters).
///
/// A failed send is treated like a lost datagram: the core's retransmission
/// covers it (e.g. a unicast renewal while the caller has not yet applied
/// the address).
pub async fn run(
    socket: UdpSocket,
    mut client: DhcpClient,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
) -> io::Result<DhcpClient> {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        while let Some(transmit) = client.poll_transmit() {
            let to = match transmit.to {
                Destination::Broadcast => SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT),
                Destination::Unicast(server) => SocketAddrV4::new(server, SERVER_PORT),
            };
            if let Err(e) = socket.send_to(&transmit.bytes, to).await {
                log::warn!("DHCP: sending to {to}: {e}");
            }
        }
        while let Some(event) = client.poll_event() {
            if events.send(event).await.is_err() {
                return Ok(client);
            }
        }
        let wake_at = client
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + IDLE_WAIT);
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(Command::Stop) => return Ok(client),
                Some(Command::Start) => client.start(Instant::now()),
                Some(Command::Release) => client.release(Instant::now()),
                Some(Command::Link { up }) => client.link_changed(up, Instant::now()),
                Some(Command::Status(reply)) => {
                    let _ = reply.send(client.status(Instant::now()));
                }
            },
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, _from)) => client.handle_datagram(Instant::now(), &buf[..len]),
                Err(e) => {
                    // Should an error repeat, do not spin on it.
                    log::debug!("DHCP: receiving: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = tokio::time::sleep_until(wake_at.into()) => client.handle_timeout(Instant::now()),
        }
    }
}
