//! Makes Linux match a [`Plan`] over rtnetlink: the admin VLAN's sub-interface, the
//! link up, exactly the planned IPv4 address, and the default routers in order.
//!
//! Routers 1-5 are installed as default routes of one metric, the first added and the
//! others appended: for such alternatives the kernel's IPv4 dead-gateway detection
//! (`fib_select_default`) uses the first whose neighbour entry has not failed, which is
//! the guide's "tried in order" without a user-space prober.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt as _;
use rtnetlink::packet_core::{
    NetlinkMessage, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST,
};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVlan, LinkAttribute, LinkInfo};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, LinkUnspec, LinkVlan, RouteMessageBuilder};

use crate::plan::Plan;

/// The metric of the phone's default routes (all alike, see the module docs).
pub const DEFAULT_ROUTE_METRIC: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("no network interface named {0}")]
    NoInterface(String),
    #[error("{what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },
}

fn nl(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Netlink { what, source }
}

/// A netlink connection; its driver runs as a task of the current runtime.
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    pub fn connect() -> std::io::Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn index_of(&self, name: &str) -> Result<Option<u32>, ApplyError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(l)) => Ok(Some(l.header.index)),
            Ok(None) => Ok(None),
            // ENODEV comes back as an error for a name that does not exist.
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Ok(None),
            Err(e) => Err(nl(format!("looking up {name}"))(e)),
        }
    }

    async fn require(&self, name: &str) -> Result<u32, ApplyError> {
        self.index_of(name)
            .await?
            .ok_or_else(|| ApplyError::NoInterface(name.to_string()))
    }

    pub async fn set_up(&self, index: u32) -> Result<(), ApplyError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(nl("setting the link up"))
    }

    /// VLAN sub-interfaces of `parent`: `(index, name, vlan id)`.
    async fn vlans_of(&self, parent: u32) -> Result<Vec<(u32, String, u16)>, ApplyError> {
        let mut out = Vec::new();
        let mut links = self.handle.link().get().execute();
        while let Some(l) = links.try_next().await.map_err(nl("listing links"))? {
            let mut name = None;
            let mut lower = None;
            let mut vid = None;
            for a in &l.attributes {
                match a {
                    LinkAttribute::IfName(n) => name = Some(n.clone()),
                    LinkAttribute::Link(i) => lower = Some(*i),
                    LinkAttribute::LinkInfo(infos) => {
                        let is_vlan = infos
                            .iter()
                            .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Vlan)));
                        for i in infos {
                            if let LinkInfo::Data(InfoData::Vlan(v)) = i {
                                for x in v {
                                    if let InfoVlan::Id(id) = x {
                                        if is_vlan {
                                            vid = Some(*id);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let (Some(n), Some(p), Some(v)) = (name, lower, vid) {
                if p == parent {
                    out.push((l.header.index, n, v));
                }
            }
        }
        Ok(out)
    }

    /// Makes `plan.interface` exist and be up; removes the phone's other VLANs on `port`.
    /// Returns the index of the interface to address.
    pub async fn ensure_link(&self, port: &str, plan: &Plan) -> Result<u32, ApplyError> {
        let parent = self.require(port).await?;
        self.set_up(parent).await?;
        for (index, name, vid) in self.vlans_of(parent).await? {
            if plan.vlan != Some(vid) || name != plan.interface {
                log::info!("removing VLAN interface {name}");
                self.handle
                    .link()
                    .del(index)
                    .execute()
                    .await
                    .map_err(nl(format!("removing {name}")))?;
            }
        }
        let Some(vid) = plan.vlan else {
            return Ok(parent);
        };
        // The untagged port carries no address of the phone's once the VLAN does.
        self.sync_address(parent, None).await?;
        let index = match self.index_of(&plan.interface).await? {
            Some(i) => i,
            None => {
                log::info!("creating VLAN interface {} (id {vid})", plan.interface);
                self.handle
                    .link()
                    .add(LinkVlan::new(&plan.interface, parent, vid).build())
                    .execute()
                    .await
                    .map_err(nl(format!("creating {}", plan.interface)))?;
                self.require(&plan.interface).await?
            }
        };
        self.set_up(index).await?;
        Ok(index)
    }

    /// IPv4 addresses of the interface: `(address, prefix)`.
    pub async fn addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>, ApplyError> {
        Ok(self
            .address_messages(index)
            .await?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    async fn address_messages(
        &self,
        index: u32,
    ) -> Result<Vec<(AddressMessage, (Ipv4Addr, u8))>, ApplyError> {
        let mut out = Vec::new();
        let mut addrs = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        while let Some(m) = addrs.try_next().await.map_err(nl("listing addresses"))? {
            if m.header.family != AddressFamily::Inet {
                continue;
            }
            let this = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(IpAddr::V4(v4)) => Some((*v4, m.header.prefix_len)),
                _ => None,
            });
            if let Some(a) = this {
                out.push((m, a));
            }
        }
        Ok(out)
    }

    /// Leaves exactly `want` (or no IPv4 address) on the interface.
    pub async fn sync_address(
        &self,
        index: u32,
        want: Option<(Ipv4Addr, u8)>,
    ) -> Result<(), ApplyError> {
        let mut have = false;
        for (m, a) in self.address_messages(index).await? {
            if Some(a) == want {
                have = true;
                continue;
            }
            self.handle
                .address()
                .del(m)
                .execute()
                .await
                .map_err(nl("removing an old address"))?;
        }
        if let (Some((a, p)), false) = (want, have) {
            self.handle
                .address()
                .add(index, IpAddr::V4(a), p)
                .execute()
                .await
                .map_err(nl(format!("adding {a}/{p}")))?;
        }
        Ok(())
    }

    /// IPv4 default routes of the main table, in the kernel's order: `(gateway, oif)`.
    pub async fn default_routes(&self) -> Result<Vec<(Option<Ipv4Addr>, Option<u32>)>, ApplyError> {
        let mut out = Vec::new();
        for m in self.default_route_messages().await? {
            let mut gw = None;
            let mut oif = None;
            for a in &m.attributes {
                match a {
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => gw = Some(*g),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    _ => {}
                }
            }
            out.push((gw, oif));
        }
        Ok(out)
    }

    async fn default_route_messages(&self) -> Result<Vec<RouteMessage>, ApplyError> {
        let mut out = Vec::new();
        let mut routes = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute();
        while let Some(m) = routes.try_next().await.map_err(nl("listing routes"))? {
            let main = m.header.table == RouteMessage::default().header.table
                || m.attributes
                    .iter()
                    .any(|a| matches!(a, RouteAttribute::Table(254)))
                || m.header.table == 254;
            if m.header.destination_prefix_length == 0 && main {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Replaces every IPv4 default route with `routers` through `index`, in order.
    pub async fn sync_default_routes(
        &self,
        index: u32,
        routers: &[Ipv4Addr],
    ) -> Result<(), ApplyError> {
        let current = self.default_routes().await?;
        let wanted: Vec<(Option<Ipv4Addr>, Option<u32>)> =
            routers.iter().map(|r| (Some(*r), Some(index))).collect();
        if current == wanted {
            return Ok(());
        }
        for m in self.default_route_messages().await? {
            self.handle
                .route()
                .del(m)
                .execute()
                .await
                .map_err(nl("removing an old default route"))?;
        }
        for r in routers {
            let msg = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(*r)
                .output_interface(index)
                .priority(DEFAULT_ROUTE_METRIC)
                .build();
            // `ip route append`: an alternative of the same metric after the ones before.
            let mut req = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(msg));
            req.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND;
            let mut handle = self.handle.clone();
            let mut answers = handle
                .request(req)
                .map_err(nl(format!("adding default router {r}")))?;
            while let Some(m) = futures::StreamExt::next(&mut answers).await {
                if let rtnetlink::packet_core::NetlinkPayload::Error(e) = m.payload {
                    if e.code.is_some() {
                        return Err(ApplyError::Netlink {
                            what: format!("adding default router {r}"),
                            source: rtnetlink::Error::NetlinkError(e),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies the plan's link, address and routes; returns the interface index.
    pub async fn apply(&self, port: &str, plan: &Plan) -> Result<u32, ApplyError> {
        let index = self.ensure_link(port, plan).await?;
        self.sync_address(index, plan.address).await?;
        self.sync_default_routes(index, &plan.routers).await?;
        Ok(index)
    }
}

/// `up`, `down` or `unknown`, from sysfs.
pub fn link_state(interface: &str) -> String {
    match std::fs::read_to_string(format!("/sys/class/net/{interface}/operstate")) {
        Ok(s) => match s.trim() {
            "up" => "up".into(),
            "down" | "lowerlayerdown" | "notpresent" => "down".into(),
            _ => "unknown".into(),
        },
        Err(_) => "unknown".into(),
    }
}

/// The interface's hardware address.
pub fn mac_of(interface: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{interface}/address")).ok()?;
    let mut out = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The first Ethernet interface (what the phone's port is when none is named).
pub fn first_ethernet() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let base = format!("/sys/class/net/{n}");
            std::fs::read_to_string(format!("{base}/type")).is_ok_and(|t| t.trim() == "1")
                && std::path::Path::new(&format!("{base}/device")).exists()
        })
        .collect();
    names.sort();
    names.into_iter().next()
}
