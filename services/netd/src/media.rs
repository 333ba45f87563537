//! `network_media_type` on the Ethernet port: speed, duplex and autonegotiation through the
//! kernel's ethtool ioctl (SIOCETHTOOL with ETHTOOL_GSET/SSET).
//!
//! Written here, not taken from a crate: the maintained ethtool crates read link modes but
//! cannot set them, and the legacy command is a single 44-byte structure that every driver
//! with link settings accepts (the kernel converts it to the link-ksettings form).

use std::io;
use std::os::fd::AsRawFd as _;

use crate::plan::MediaType;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSET: u32 = 0x1;
const ETHTOOL_SSET: u32 = 0x2;
const DUPLEX_HALF: u8 = 0;
const DUPLEX_FULL: u8 = 1;
const DUPLEX_UNKNOWN: u8 = 0xff;
const AUTONEG_DISABLE: u8 = 0;
const AUTONEG_ENABLE: u8 = 1;
const SUPPORTED_AUTONEG: u32 = 1 << 6;
/// The 10/100/1000 link modes of the legacy bit map (half and full of each).
const LEGACY_SPEED_MODES: u32 = 0b11_1111 | (1 << 5);

/// `struct ethtool_cmd` of linux/ethtool.h.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

#[repr(C)]
struct IfreqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// The link as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkMode {
    /// Mb/s; `None` when unknown (no carrier, or a virtual link that does not say).
    pub speed: Option<u32>,
    pub full_duplex: Option<bool>,
    pub autoneg: bool,
    pub autoneg_supported: bool,
}

impl LinkMode {
    pub fn describe(&self) -> String {
        let speed = self
            .speed
            .map(|s| format!("{s} Mb/s"))
            .unwrap_or_else(|| "unknown speed".into());
        let duplex = match self.full_duplex {
            Some(true) => "full duplex",
            Some(false) => "half duplex",
            None => "unknown duplex",
        };
        let neg = if self.autoneg { ", autonegotiated" } else { "" };
        format!("{speed}, {duplex}{neg}")
    }
}

fn ioctl(interface: &str, cmd: &mut EthtoolCmd) -> io::Result<()> {
    if interface.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    let sock = std::net::UdpSocket::bind("0.0.0.0:0")?;
    let mut req = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data: (cmd as *mut EthtoolCmd).cast(),
        _pad: [0; 16],
    };
    for (d, s) in req.name.iter_mut().zip(interface.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: `req` names the interface and points at a live `ethtool_cmd` of the size the
    // kernel expects for GSET/SSET; both outlive the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn get(interface: &str) -> io::Result<EthtoolCmd> {
    let mut cmd = EthtoolCmd {
        cmd: ETHTOOL_GSET,
        ..EthtoolCmd::default()
    };
    ioctl(interface, &mut cmd)?;
    Ok(cmd)
}

pub fn link_mode(interface: &str) -> io::Result<LinkMode> {
    let c = get(interface)?;
    let speed = (u32::from(c.speed_hi) << 16) | u32::from(c.speed);
    Ok(LinkMode {
        speed: (speed != 0 && speed != u32::MAX).then_some(speed),
        full_duplex: match c.duplex {
            DUPLEX_FULL => Some(true),
            DUPLEX_HALF => Some(false),
            _ => None,
        },
        autoneg: c.autoneg == AUTONEG_ENABLE,
        autoneg_supported: c.supported & SUPPORTED_AUTONEG != 0,
    })
}

/// Sets the port to `media`; what it did, for the status (`Full-100`, or why not).
pub fn apply(interface: &str, media: MediaType) -> Result<String, String> {
    let mut c = get(interface).map_err(|e| explain(interface, media, &e))?;
    c.cmd = ETHTOOL_SSET;
    match media.fixed() {
        Some((speed, full)) => {
            c.autoneg = AUTONEG_DISABLE;
            c.speed = speed;
            c.speed_hi = 0;
            c.duplex = if full { DUPLEX_FULL } else { DUPLEX_HALF };
        }
        None if c.supported & SUPPORTED_AUTONEG != 0 => {
            c.autoneg = AUTONEG_ENABLE;
            c.advertising =
                c.supported & LEGACY_SPEED_MODES | (c.advertising & !LEGACY_SPEED_MODES);
        }
        // A link without autonegotiation (a virtual NIC): back to what it reports itself.
        None => {
            c.speed = u16::MAX;
            c.speed_hi = u16::MAX;
            c.duplex = DUPLEX_UNKNOWN;
        }
    }
    ioctl(interface, &mut c).map_err(|e| explain(interface, media, &e))?;
    let now = link_mode(interface)
        .map(|m| m.describe())
        .unwrap_or_default();
    Ok(format!("{} ({now})", media.name()))
}

fn explain(interface: &str, media: MediaType, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => format!(
            "{} not applied: {interface} cannot set its speed and duplex",
            media.name()
        ),
        Some(libc::EPERM) => format!(
            "{} not applied: no permission to set {interface}'s speed (CAP_NET_ADMIN)",
            media.name()
        ),
        Some(libc::EINVAL) => format!(
            "{} not applied: {interface} refuses that speed and duplex",
            media.name()
        ),
        _ => format!("{} not applied on {interface}: {e}", media.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_has_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<EthtoolCmd>(), 44);
    }

    #[test]
    fn loopback_cannot_set_speed_and_says_so() {
        // lo has no link settings: a clear refusal, never a panic.
        let e = apply("lo", MediaType::Full100).unwrap_err();
        assert!(e.starts_with("Full-100 not applied"), "{e}");
        assert!(apply("no-such-if0", MediaType::Auto).is_err());
        assert!(apply("a-name-far-too-long-for-linux", MediaType::Auto).is_err());
    }

    #[test]
    fn modes_read_like_ethtool_prints_them() {
        let m = LinkMode {
            speed: Some(100),
            full_duplex: Some(false),
            autoneg: false,
            autoneg_supported: false,
        };
        assert_eq!(m.describe(), "100 Mb/s, half duplex");
    }
}
