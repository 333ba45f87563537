//! The tokio I/O shell around [`SntpClient`]: sockets, timers, and the clock.
//!
//! Two UDP sockets:
//! - the *client socket*, on an ephemeral port, sends every request and receives the replies.
//!   A random port makes blind spoofing harder and needs no privilege;
//! - the *listener*, on port 123 with `SO_REUSEADDR`, `SO_BROADCAST` and `IP_PKTINFO`, member
//!   of 224.0.1.1 on the interface, exists only while the mode in effect receives broadcasts
//!   (multicast, and directedbroadcast). `IP_PKTINFO` gives each datagram's destination address,
//!   which tells a broadcast from a multicast from a unicast.
//!
//! Samples are applied through [`Clock`]: stepped above [`ShellOptions::step_threshold`],
//! slewed below it. Events go out on an `mpsc` channel without waiting (a full channel drops the
//! event: a slow reader must not delay the timestamps of the next reply), the [`Status`] on a
//! `watch`. Settings arrive on a `watch`; dropping its sender stops the shell.

use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{self as nix_socket, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::client::{Destination, Event, SntpClient, Status, Timing, NTP_MULTICAST};
use crate::packet::{Offset, NTP_PORT};
use crate::settings::Settings;

/// The local clock as the shell sees it.
pub trait Clock: Send + Sync {
    /// The wall clock now.
    fn now(&self) -> SystemTime;
    /// Jump by `by` at once.
    fn step(&self, by: Offset) -> io::Result<()>;
    /// Run faster or slower until `by` is absorbed.
    fn slew(&self, by: Offset) -> io::Result<()>;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
    fn step(&self, by: Offset) -> io::Result<()> {
        (**self).step(by)
    }
    fn slew(&self, by: Offset) -> io::Result<()> {
        (**self).slew(by)
    }
}

/// The system's `CLOCK_REALTIME`: `clock_settime` to step, `adjtime` to slew. Needs
/// `CAP_SYS_TIME`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn step(&self, by: Offset) -> io::Result<()> {
        use nix::sys::time::{TimeSpec, TimeValLike};
        use nix::time::{clock_gettime, clock_settime, ClockId};
        let now = clock_gettime(ClockId::CLOCK_REALTIME)?;
        clock_settime(
            ClockId::CLOCK_REALTIME,
            now + TimeSpec::nanoseconds(by.as_nanos()),
        )?;
        Ok(())
    }

    fn slew(&self, by: Offset) -> io::Result<()> {
        let nanos = by.as_nanos();
        let delta = libc::timeval {
            tv_sec: nanos.div_euclid(1_000_000_000) as libc::time_t,
            tv_usec: (nanos.rem_euclid(1_000_000_000) / 1000) as libc::suseconds_t,
        };
        // SAFETY: `delta` is a valid timeval for the duration of the call, and adjtime(3)
        // accepts a null pointer for the previous adjustment it would otherwise report.
        let rc = unsafe { libc::adjtime(&delta, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// A clock that runs a fixed error away from the system clock and never touches it: steps
/// and slews change only the error (a slew applies at once). For tests and the simulator.
#[derive(Debug, Default)]
pub struct VirtualClock {
    error_nanos: AtomicI64,
    steps: AtomicU32,
    slews: AtomicU32,
}

impl VirtualClock {
    /// A clock reading the system time plus `error`.
    pub fn new(error: Offset) -> VirtualClock {
        VirtualClock {
            error_nanos: AtomicI64::new(error.as_nanos()),
            ..VirtualClock::default()
        }
    }

    /// How far this clock is from the system clock now.
    pub fn error(&self) -> Offset {
        Offset::from_nanos(self.error_nanos.load(Ordering::SeqCst))
    }

    pub fn steps(&self) -> u32 {
        self.steps.load(Ordering::SeqCst)
    }

    pub fn slews(&self) -> u32 {
        self.slews.load(Ordering::SeqCst)
    }

    fn shift(&self, by: Offset) {
        let _ = self
            .error_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| {
                Some(e.saturating_add(by.as_nanos()))
            });
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        let real = SystemTime::now();
        self.error().apply(real).unwrap_or(real)
    }

    fn step(&self, by: Offset) -> io::Result<()> {
        self.shift(by);
        self.steps.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn slew(&self, by: Offset) -> io::Result<()> {
        self.shift(by);
        self.slews.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// How the shell runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellOptions {
    /// The interface whose broadcast address is asked and listened to, which joins 224.0.1.1,
    /// and to which both sockets are bound (`SO_BINDTODEVICE`). `None`: the first interface
    /// that is up, not loopback, and has an IPv4 broadcast address; sockets are not bound.
    pub interface: Option<String>,
    pub timing: Timing,
    /// Offsets larger than this are stepped, smaller ones slewed: 128 ms, ntpd's threshold.
    pub step_threshold: Duration,
}

impl Default for ShellOptions {
    fn default() -> ShellOptions {
        ShellOptions {
            interface: None,
            timing: Timing::default(),
            step_threshold: Duration::from_millis(128),
        }
    }
}

/// How often the interface's addresses are read again (they change with DHCP), and how soon a
/// listener that could not be opened is tried again.
const REFRESH: Duration = Duration::from_secs(5);

/// Runs the SNTP client until `control`'s sender is dropped.
///
/// Settings come from `control` (its current value at start, then every change), samples are
/// applied to `clock`, every [`Event`] is offered to `events`, and `status` always holds the
/// latest [`Status`]. Fails only when the client socket cannot be opened.
pub async fn run<C: Clock>(
    options: ShellOptions,
    clock: C,
    mut control: watch::Receiver<Settings>,
    events: mpsc::Sender<Event>,
    status: watch::Sender<Status>,
) -> io::Result<()> {
    let wanted = options.interface.as_deref();
    let mut iface = Interface::lookup(wanted);
    let settings = *control.borrow_and_update();
    let mut core = SntpClient::with_timing(
        settings,
        iface.as_ref().and_then(|i| i.broadcast),
        options.timing,
        Instant::now(),
    );
    let client = open_client_socket(wanted)?;
    let client_port = client.local_addr()?.port();
    let mut listener: Option<UdpSocket> = None;
    let mut listener_retry_at = Instant::now();
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reply_buf = [0u8; 1024];
    let mut broadcast_buf = [0u8; 1024];
    log::info!("sntp: started with {settings}");

    loop {
        // Events before transmits: a step must not fall between a request's T1 and its T4.
        while let Some(event) = core.poll_event() {
            if let Event::Sample(sample) = event {
                apply(&clock, sample.offset, options.step_threshold);
            }
            log::debug!("sntp: {event:?}");
            if let Err(mpsc::error::TrySendError::Full(event)) = events.try_send(event) {
                log::warn!("sntp: event channel full, dropped {event:?}");
            }
        }
        while let Some(transmit) = core.poll_transmit(Instant::now(), clock.now()) {
            if let Err(e) = client.send_to(&transmit.bytes, transmit.to).await {
                // The request times out like a lost one and is sent again.
                log::warn!("sntp: sending to {}: {e}", transmit.to);
            }
        }
        if !core.listens() {
            listener = None;
        } else if listener.is_none() && Instant::now() >= listener_retry_at {
            match open_listener(wanted, iface.as_ref()) {
                Ok(socket) => listener = Some(socket),
                Err(e) => {
                    log::warn!("sntp: cannot listen on port {NTP_PORT}: {e}");
                    listener_retry_at = Instant::now() + REFRESH;
                }
            }
        }
        status.send_replace(core.status());

        tokio::select! {
            () = sleep_until(core.poll_timeout()) => core.handle_timeout(Instant::now()),
            received = client.recv_from(&mut reply_buf) => match received {
                Ok((len, std::net::SocketAddr::V4(from))) => {
                    let wall = clock.now();
                    let verdict = core.handle_datagram(
                        Instant::now(), wall, from, Destination::Unicast, &reply_buf[..len]);
                    if let Err(why) = verdict {
                        log::debug!("sntp: discarded datagram from {from}: {why}");
                    }
                }
                Ok(_) => {}
                Err(e) => log::warn!("sntp: receiving: {e}"),
            },
            received = recv_with_destination(listener.as_ref(), &mut broadcast_buf) => {
                match received {
                    Ok(datagram) => {
                        let wall = clock.now();
                        let own = iface.as_ref().map(|i| SocketAddrV4::new(i.address, client_port));
                        let to = classify(datagram.to, iface.as_ref().and_then(|i| i.broadcast));
                        // Our own broadcast request comes back to port 123; it is no news.
                        if let (Some(to), false) = (to, Some(datagram.from) == own) {
                            let verdict = core.handle_datagram(Instant::now(), wall, datagram.from,
                                to, &broadcast_buf[..datagram.len]);
                            if let Err(why) = verdict {
                                log::debug!("sntp: discarded datagram from {}: {why}", datagram.from);
                            }
                        }
                    }
                    Err(e) => {
                        log::warn!("sntp: receiving on port {NTP_PORT}: {e}");
                        listener = None;
                        listener_retry_at = Instant::now() + REFRESH;
                    }
                }
            }
            _ = refresh.tick() => {
                iface = Interface::lookup(wanted);
                core.set_broadcast_address(iface.as_ref().and_then(|i| i.broadcast));
            }
            changed = control.changed() => match changed {
                Ok(()) => {
                    let settings = *control.borrow_and_update();
                    log::info!("sntp: settings changed to {settings}");
                    core.set_settings(Instant::now(), settings);
                }
                Err(_) => return Ok(()),
            },
        }
    }
}

fn apply<C: Clock>(clock: &C, offset: Offset, step_threshold: Duration) {
    let (how, result) = if offset.magnitude() > step_threshold {
        ("step", clock.step(offset))
    } else {
        ("slew", clock.slew(offset))
    };
    match result {
        Ok(()) => log::debug!("sntp: {how} by {offset}"),
        Err(e) => log::warn!("sntp: cannot {how} the clock by {offset}: {e}"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// How a datagram was addressed; `None` for a multicast group other than NTP's.
fn classify(to: Ipv4Addr, broadcast: Option<Ipv4Addr>) -> Option<Destination> {
    if to == NTP_MULTICAST {
        Some(Destination::Multicast)
    } else if to.is_multicast() {
        None
    } else if to.is_broadcast() || Some(to) == broadcast {
        Some(Destination::Broadcast)
    } else {
        Some(Destination::Unicast)
    }
}

/// One IPv4 address of the interface in use.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Interface {
    index: u32,
    address: Ipv4Addr,
    broadcast: Option<Ipv4Addr>,
}

impl Interface {
    fn lookup(name: Option<&str>) -> Option<Interface> {
        use nix::net::if_::InterfaceFlags;
        let addrs = nix::ifaddrs::getifaddrs().ok()?;
        for ifa in addrs {
            let wanted = match name {
                Some(name) => ifa.interface_name == name,
                None => {
                    ifa.flags.contains(InterfaceFlags::IFF_UP)
                        && !ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK)
                        && ifa.flags.contains(InterfaceFlags::IFF_BROADCAST)
                }
            };
            let address = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in());
            let (true, Some(address)) = (wanted, address) else {
                continue;
            };
            let broadcast = ifa
                .broadcast
                .as_ref()
                .and_then(|b| b.as_sockaddr_in())
                .map(|b| b.ip())
                .filter(|b| !b.is_unspecified());
            let index = nix::net::if_::if_nametoindex(ifa.interface_name.as_str()).unwrap_or(0);
            return Some(Interface {
                index,
                address: address.ip(),
                broadcast,
            });
        }
        None
    }
}

fn udp_socket(interface: Option<&str>) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_broadcast(true)?;
    if let Some(name) = interface {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    Ok(socket)
}

fn into_tokio(socket: Socket) -> io::Result<UdpSocket> {
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

fn open_client_socket(interface: Option<&str>) -> io::Result<UdpSocket> {
    let socket = udp_socket(interface)?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into())?;
    into_tokio(socket)
}

fn open_listener(name: Option<&str>, iface: Option<&Interface>) -> io::Result<UdpSocket> {
    let socket = udp_socket(name)?;
    // Shares port 123 with anything else that also asks to (a local NTP daemon, a sniffer).
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, NTP_PORT).into())?;
    nix_socket::setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
    let index = iface.map_or(0, |i| i.index);
    if let Err(e) =
        socket.join_multicast_v4_n(&NTP_MULTICAST, &InterfaceIndexOrAddress::Index(index))
    {
        // Broadcasts still arrive; multicast needs a route or an interface with an address.
        log::warn!("sntp: cannot join {NTP_MULTICAST}: {e}");
    }
    into_tokio(socket)
}

struct Received {
    len: usize,
    from: SocketAddrV4,
    /// The destination address of the IP header.
    to: Ipv4Addr,
}

/// `recvmsg` with `IP_PKTINFO`; never completes while there is no listener.
async fn recv_with_destination(socket: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<Received> {
    let Some(socket) = socket else {
        return std::future::pending().await;
    };
    loop {
        let received = socket
            .async_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(buf)];
                let mut space = nix::cmsg_space!(libc::in_pktinfo);
                let msg = nix_socket::recvmsg::<SockaddrIn>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::empty(),
                )?;
                let to = msg.cmsgs()?.find_map(|c| match c {
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)))
                    }
                    _ => None,
                });
                let from = msg.address.map(|a| SocketAddrV4::new(a.ip(), a.port()));
                Ok((msg.bytes, from, to))
            })
            .await?;
        // Without an address or IP_PKTINFO the datagram cannot be judged; wait for the next.
        if let (len, Some(from), Some(to)) = received {
            return Ok(Received { len, from, to });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_told_apart() {
        let bcast = Some(Ipv4Addr::new(10, 0, 0, 255));
        assert_eq!(classify(NTP_MULTICAST, bcast), Some(Destination::Multicast));
        assert_eq!(classify(Ipv4Addr::new(239, 1, 1, 1), bcast), None);
        assert_eq!(
            classify(Ipv4Addr::new(10, 0, 0, 255), bcast),
            Some(Destination::Broadcast)
        );
        assert_eq!(
            classify(Ipv4Addr::BROADCAST, None),
            Some(Destination::Broadcast)
        );
        assert_eq!(
            classify(Ipv4Addr::new(10, 0, 0, 7), bcast),
            Some(Destination::Unicast)
        );
    }

    #[test]
    fn the_virtual_clock_moves_only_itself() {
        let clock = VirtualClock::new(Offset::from_secs(-1000));
        let ahead = Offset::between(clock.now(), SystemTime::now());
        assert!((ahead.as_secs_f64() - 1000.0).abs() < 1.0, "{ahead}");
        clock.step(Offset::from_secs(999)).unwrap();
        clock.slew(Offset::from_secs(1)).unwrap();
        assert_eq!(clock.error(), Offset::ZERO);
        assert_eq!((clock.steps(), clock.slews()), (1, 1));
    }

    #[test]
    fn small_offsets_are_slewed_and_large_ones_stepped() {
        let clock = VirtualClock::default();
        let threshold = Duration::from_millis(128);
        apply(&clock, Offset::from_nanos(-100_000_000), threshold);
        apply(&clock, Offset::from_nanos(200_000_000), threshold);
        assert_eq!((clock.steps(), clock.slews()), (1, 1));
        assert_eq!(clock.error(), Offset::from_nanos(100_000_000));
    }
}
