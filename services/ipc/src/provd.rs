//! The provisioning agent's socket: requests, replies, events, status.

use deskphone_config::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::Hello;

/// What clients (the UI, sipd, phonectl) ask provd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Hello(Hello),
    /// The status object of `phonectl status --json`.
    Status,
    /// The effective configuration, `{NAME: {"value": V, "source": S}}`, secrets masked.
    Config,
    /// The same with the secrets (line passwords) in clear, answered as [`Reply::Config`];
    /// only for sipd (and root, and provd's own user): other peers get an error. Added
    /// without a protocol bump: the other messages keep their shape, and an older provd
    /// refuses it loudly as an unknown request.
    SipConfig,
    /// Receive [`Event`]s from now on.
    Subscribe,
    /// Start the check-sync procedure (waits for 20 s of idle phone, reads syncinfo.xml).
    Resync,
    /// Unlock Config with `phone_password`, for this connection only.
    Unlock {
        password: String,
    },
    Lock,
    /// A local edit; `value: None` erases the setting back to its default.
    Set {
        name: String,
        value: Option<String>,
    },
    /// Network Configuration > Erase Configuration.
    EraseNetwork,
    /// `erase_protflash`: every SIP setting back to default.
    EraseSip,
    /// The phone is in use (a call, off hook) or idle again; check-sync waits for idle.
    /// Kept per client (the name of its hello): the phone is idle when no client says busy.
    Activity {
        busy: bool,
    },
    /// Restart the phone (reboot on the image, restart of the services in the simulator).
    Reboot,
    /// The dial plan in effect: the last `dial_template`.xml fetched (kept in flash).
    DialPlan,
    /// From netd: the network as applied (addresses, routers, DNS, the DHCP lease with its
    /// TFTP servers). provd shows it (menus, status) and provisions from its TFTP servers.
    /// Only root and provd's own user may send it.
    Network(Box<NetworkReport>),
    /// From netd: where the clock stands (SNTP). Same senders as `Network`.
    Time(TimeReport),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello {
        version: u32,
        service: String,
    },
    Status(Box<Status>),
    Config {
        parameters: serde_json::Map<String, serde_json::Value>,
    },
    /// The value in effect after a `Set` (masked for secrets).
    Set {
        name: String,
        value: serde_json::Value,
    },
    Ok,
    Error {
        message: String,
    },
    /// The dial plan file as fetched; `None` when the phone has none.
    DialPlan {
        xml: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Parameters whose effective value changed (local edit, erase), or `dialplan.xml`
    /// when a check-sync fetched the dial plan again.
    ConfigChanged { names: Vec<String> },
    /// A new line for the Status Messages screen.
    StatusMessage(StatusMessage),
    /// The phone is about to restart.
    Rebooting { reason: String },
}

/// A line of the Status Messages screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMessage {
    /// RFC 3339, UTC.
    pub time: String,
    pub text: String,
}

/// A file of the provisioning cycle and whether the server had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatus {
    pub name: String,
    pub found: bool,
}

/// provd's part of `phonectl status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub versions: Versions,
    pub mac: String,
    pub provisioning: Provisioning,
    pub firmware: FirmwareStatus,
    pub resync: ResyncStatus,
    /// `{NAME: {"value": V, "source": S}}` for every parameter, secrets masked.
    pub configuration: serde_json::Map<String, serde_json::Value>,
    /// Keys of the files this firmware does not know: `{KEY: {"value", "source"}}`.
    pub unknown_parameters: serde_json::Map<String, serde_json::Value>,
    pub status_messages: Vec<StatusMessage>,
    /// The diagnostics of the last provisioning, as `phonectl lint` shows them.
    pub diagnostics: Vec<Diagnostic>,
    /// The network as netd applied it; absent where no netd runs (the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
    /// The clock as netd's SNTP client keeps it; absent where no netd runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeReport>,
}

/// The network of the phone as netd applied it (`"network"` in `phonectl status --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkReport {
    /// The interface that carries the phone's traffic (`eth0`, or `eth0.VID` with an admin VLAN).
    pub interface: String,
    /// `dhcp`, `static`, `released` (DHCP Address Released), `waiting` (DHCP without a lease
    /// yet) or `unconfigured` (DHCP off and no IP address set).
    pub addressing: String,
    /// `up`, `down` or `unknown`.
    pub link: String,
    /// `ADDRESS/PREFIX` in use, if any.
    pub address: Option<String>,
    pub subnet_mask: Option<String>,
    /// Default routers in the order they are tried.
    pub routers: Vec<String>,
    /// DNS servers in the order they are asked (dyn_dns_addr_1/2 first).
    pub dns_servers: Vec<String>,
    pub domain_name: Option<String>,
    pub vlan: Option<u16>,
    /// What `network_media_type` did to the link (`Auto`, `Full-100`, ... or why not).
    pub media: String,
    /// The DHCP lease, while there is one.
    pub dhcp: Option<DhcpReport>,
    /// Problems applying the settings, for the status messages (emptied on success).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// What the DHCP server said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpReport {
    pub server: String,
    pub address: String,
    pub subnet_mask: String,
    pub routers: Vec<String>,
    pub dns_servers: Vec<String>,
    pub domain_name: Option<String>,
    /// Option 150: TFTP server addresses in order.
    pub tftp_servers: Vec<String>,
    /// Option 66: a TFTP server name or address.
    pub tftp_server_name: Option<String>,
    /// The BOOTP next-server, used when neither option is present.
    pub next_server: Option<String>,
    /// Lease length in seconds.
    pub lease_secs: u32,
    /// RFC 3339 time the lease was obtained or last renewed.
    pub since: String,
}

/// The clock (`"time"` in `phonectl status --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeReport {
    /// `sntp_mode` as configured.
    pub mode: String,
    /// The mode in effect after a switch (anycast becomes unicast, directedbroadcast becomes
    /// multicast, once a server answered).
    pub mode_in_effect: String,
    /// The server whose time is used, once known.
    pub server: Option<String>,
    /// `unsynchronised`, `synchronised`, `no_server` (unicast without a server), `refused`.
    pub state: String,
    /// RFC 3339 time of the last accepted sample.
    pub last_sync: Option<String>,
    /// The correction applied by the last sample, in seconds.
    pub last_offset_secs: Option<f64>,
    pub stratum: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// The firmware image the phone runs (compared with `image_version`).
    pub firmware: String,
    pub provd: String,
    pub protocol: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioning {
    /// `provisioned` (files read from a server), `flash` (no server answered; the last good
    /// configuration in flash is used) or `starting`.
    pub state: String,
    /// The TFTP server (or directory) the configuration came from.
    pub server: Option<String>,
    pub files: Vec<FileStatus>,
    /// RFC 3339 time of the last provisioning attempt.
    pub last_attempt: Option<String>,
    /// The `image_version` the configuration asks for.
    pub image_version: Option<String>,
}

/// The firmware: what runs, what the configuration wants, and where an update stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareStatus {
    pub running: String,
    pub wanted: Option<String>,
    /// `not_configured`, `up_to_date`, `unsupported` (no A/B slots: the simulator),
    /// `downloading`, `verifying`, `installing`, `rebooting`, `refused`, `unavailable`
    /// (the bundle could not be fetched), `skipped` (this version failed here before),
    /// `failed`, `trial` (a new version's first boot, confirmed once healthy: provisioned,
    /// sipd running, lines registered where registration is on), `unhealthy` (the trial did
    /// not become healthy in time; the boot deadline takes the phone back).
    pub state: String,
    /// Download or installation progress.
    pub progress_percent: Option<u8>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncStatus {
    /// `idle`, `waiting_for_idle_phone`, `fetching_syncinfo`.
    pub state: String,
    /// The sync value the phone compares syncinfo.xml's SYNC with.
    pub sync: Option<String>,
    /// What the last check-sync decided.
    pub last_result: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_readable_json() {
        let r = Request::Set {
            name: "phone_label".into(),
            value: Some("Lobby".into()),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(
            j,
            r#"{"request":"set","name":"phone_label","value":"Lobby"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&j).unwrap(), r);
        let h: Request =
            serde_json::from_str(r#"{"request":"hello","version":1,"client":"socat"}"#).unwrap();
        assert_eq!(
            h,
            Request::Hello(Hello {
                version: 1,
                client: "socat".into()
            })
        );
        assert!(serde_json::from_str::<Request>(r#"{"request":"format_disk"}"#).is_err());
    }
}
