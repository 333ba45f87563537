//! The sockets of one call's media: RTP on an even port and RTCP on the next, both marked
//! with `tos_media`, and sending from the same ports they receive on (symmetric RTP: the
//! far end and any NAT between see the port the SDP advertised).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// One call's pair of sockets (blocking std sockets: the engine sends, clones receive).
#[derive(Debug)]
pub struct MediaSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

/// The IP type-of-service byte for the guide's IP precedence 0-5 (routine .. critical):
/// precedence is the top three bits.
pub fn tos_byte(precedence: u8) -> u32 {
    u32::from(precedence.min(7)) << 5
}

impl MediaSockets {
    pub fn bind(ip: IpAddr, rtp_port: u16, precedence: u8) -> io::Result<MediaSockets> {
        if rtp_port % 2 == 1 || rtp_port == u16::MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("RTP port {rtp_port} must be even with a free port above it for RTCP"),
            ));
        }
        let rtp = bind_one(SocketAddr::new(ip, rtp_port), precedence)?;
        let rtcp = bind_one(SocketAddr::new(ip, rtp_port + 1), precedence)?;
        Ok(MediaSockets { rtp, rtcp })
    }

    /// Marks both sockets again (a changed `tos_media` during a call).
    pub fn set_precedence(&self, precedence: u8) -> io::Result<()> {
        for s in [&self.rtp, &self.rtcp] {
            socket2::SockRef::from(s).set_tos(tos_byte(precedence))?;
        }
        Ok(())
    }
}

fn bind_one(addr: SocketAddr, precedence: u8) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv4() {
        s.set_tos(tos_byte(precedence))?;
    }
    s.bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind media port {addr}: {e}")))?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sockets_carry_the_precedence_of_tos_media() {
        let s = MediaSockets::bind("127.0.0.1".parse().unwrap(), free_even_port(), 5).unwrap();
        let tos = socket2::SockRef::from(&s.rtp).tos().unwrap();
        assert_eq!(tos, 0xa0, "precedence 5 (critical) is 101 in the top bits");
        s.set_precedence(3).unwrap();
        assert_eq!(socket2::SockRef::from(&s.rtcp).tos().unwrap(), 0x60);
    }

    #[test]
    fn rtp_leaves_from_the_port_it_is_received_on() {
        let s = MediaSockets::bind("127.0.0.1".parse().unwrap(), free_even_port(), 0).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.rtp.send_to(b"x", peer.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 8];
        let (_, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(from, s.rtp.local_addr().unwrap());
        assert_eq!(
            s.rtcp.local_addr().unwrap().port(),
            from.port() + 1,
            "RTCP sits on the next port"
        );
    }

    #[test]
    fn an_odd_port_is_refused_with_a_reason() {
        let e = MediaSockets::bind("127.0.0.1".parse().unwrap(), 16385, 0).unwrap_err();
        assert!(e.to_string().contains("even"), "{e}");
    }

    fn free_even_port() -> u16 {
        loop {
            let p = UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if p.is_multiple_of(2) && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
                return p;
            }
        }
    }
}
