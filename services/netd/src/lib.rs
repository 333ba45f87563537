//! netd: the phone's network and clock, as the guide's Table 3-1 and its SNTP tables say.
//!
//! provd owns the settings; netd is the one service with the privileges to apply them
//! (CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SYS_TIME) and nothing else. It
//! reads the effective configuration from provd, follows its changes, and reports back
//! what it applied (the lease, with the TFTP servers of options 150 and 66) so that provd
//! can provision and show it.
//!
//! Applied through rtnetlink, not systemd-networkd: the phone needs DHCP option 150 (a list
//! of TFTP servers), which networkd's client does not hand out, a DHCP release that lasts
//! until the administrator says otherwise, and the guide's order of DNS servers with the
//! dynamic ones first. So netd runs its own DHCP client ([`deskphone_dhcp`]) and SNTP client
//! ([`deskphone_sntp`]) and sets addresses and routes itself ([`apply`]).
//!
//! - [`plan`]: settings and lease in, the network to apply out (pure).
//! - [`apply`]: the admin VLAN's sub-interface, the address, the default routers in order.
//! - [`media`]: `network_media_type` as speed and duplex.
//! - [`resolv`]: resolv.conf in the guide's DNS order.
//! - [`service`]: the loop that ties them to provd, DHCP and SNTP.

pub mod apply;
pub mod media;
pub mod plan;
pub mod resolv;
pub mod service;
