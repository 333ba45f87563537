//! `provd`: the provisioning agent service.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use deskphone_config::Mac;
use deskphone_ipc::RuntimeDir;
use deskphone_provd::firmware::Rauc;
use deskphone_provd::servers::{DhcpTftp, TFTP_PORT};
use deskphone_provd::service::{run, Installer, Options, RebootAction};
use deskphone_provd::source::FileSource;
use deskphone_tftp::ClientConfig;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "deskphone provisioning agent: TFTP provisioning, flash, check-sync"
)]
struct Args {
    /// The phone's MAC address (default: the first Ethernet interface's).
    #[arg(long)]
    mac: Option<Mac>,
    /// Persistent data (the flash store lives in STATE/flash).
    #[arg(long, default_value = "/var/lib/deskphone")]
    state: PathBuf,
    /// Where the services' sockets are.
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// TFTP servers as DHCP option 150 lists them (HOST[:PORT], repeatable).
    #[arg(long = "tftp-server", value_name = "HOST[:PORT]")]
    tftp_servers: Vec<String>,
    /// The TFTP server of DHCP option 66 (HOST[:PORT]).
    #[arg(long = "dhcp-option-66", value_name = "HOST[:PORT]")]
    option_66: Option<String>,
    /// Read the provisioning files from this directory instead of TFTP.
    #[arg(long, conflicts_with_all = ["tftp_servers", "option_66"])]
    tftp_root: Option<PathBuf>,
    /// The running firmware version (default: the image's /etc/deskphone/image_version).
    #[arg(long)]
    firmware_version: Option<String>,
    /// Exit with this status to reboot (for a supervisor that restarts the services).
    #[arg(long, conflicts_with = "reboot_command")]
    reboot_exit_code: Option<i32>,
    /// Command that reboots the phone.
    #[arg(long, default_value = "systemctl reboot")]
    reboot_command: String,
    /// Wait up to SECS at start for netd to report the network (DHCP's TFTP servers) before
    /// provisioning; later reports naming other servers provision again.
    #[arg(long, value_name = "SECS")]
    network_wait_secs: Option<u64>,
    /// Seconds of idle phone before a check-sync reads syncinfo.xml (the guide: 20).
    #[arg(long, default_value_t = 20)]
    resync_idle_secs: u64,
    /// Install firmware bundles with RAUC when image_version changes (A/B images).
    #[arg(long)]
    rauc: bool,
    /// Keyring to verify bundles with (default: RAUC's system configuration).
    #[arg(long, requires = "rauc")]
    rauc_keyring: Option<PathBuf>,
    /// This phone's RAUC compatible string (default: read from /etc/rauc/system.conf).
    #[arg(long, requires = "rauc")]
    compatible: Option<String>,
    /// TFTP retransmission timeout, milliseconds.
    #[arg(long, default_value_t = 1000)]
    tftp_timeout_ms: u64,
    /// TFTP retransmissions before a server counts as not answering.
    #[arg(long, default_value_t = 4)]
    tftp_retries: u32,
}

fn resolve(spec: &str) -> anyhow::Result<SocketAddr> {
    let with_port = if spec.parse::<SocketAddr>().is_ok()
        || spec
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        spec.to_string()
    } else {
        format!("{spec}:{TFTP_PORT}")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {spec}"))?
        .next()
        .with_context(|| format!("{spec} has no address"))
}

/// The MAC of the first non-loopback interface with one.
fn interface_mac() -> anyhow::Result<Mac> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/class/net")?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        if n == "lo" {
            continue;
        }
        if let Ok(a) =
            std::fs::read_to_string(PathBuf::from("/sys/class/net").join(&n).join("address"))
        {
            if let Ok(m) = a.trim().parse::<Mac>() {
                if m.0 != [0; 6] {
                    return Ok(m);
                }
            }
        }
    }
    anyhow::bail!("no network interface with a MAC address; pass --mac")
}

/// `compatible=` of RAUC's system configuration.
fn system_compatible() -> Option<String> {
    let conf = std::fs::read_to_string("/etc/rauc/system.conf").ok()?;
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("compatible="))
        .map(|c| c.trim().to_string())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    match real_main(args) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            log::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<i32> {
    let mac = match args.mac {
        Some(m) => m,
        None => interface_mac()?,
    };
    let firmware_version = match args.firmware_version {
        Some(v) => v,
        None => std::fs::read_to_string(deskphone_provd::FIRMWARE_VERSION_FILE)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| deskphone_provd::BUILT_IN_FIRMWARE_VERSION.to_string()),
    };
    let source = match &args.tftp_root {
        Some(dir) => FileSource::Directory(dir.clone()),
        None => FileSource::Tftp(ClientConfig {
            timeout: Duration::from_millis(args.tftp_timeout_ms),
            retries: args.tftp_retries,
            ..ClientConfig::default()
        }),
    };
    let dhcp = DhcpTftp {
        option_150: args
            .tftp_servers
            .iter()
            .map(|s| resolve(s))
            .collect::<anyhow::Result<_>>()?,
        option_66: args.option_66.as_deref().map(resolve).transpose()?,
    };
    let reboot = match args.reboot_exit_code {
        Some(code) => RebootAction::Exit(code),
        None => RebootAction::Command(
            args.reboot_command
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        ),
    };
    let opts = Options {
        mac,
        state_dir: args.state,
        runtime: RuntimeDir::new(args.runtime),
        source,
        dhcp,
        firmware_version,
        reboot,
        idle_wait: Duration::from_secs(args.resync_idle_secs),
        network_wait: args.network_wait_secs.map(Duration::from_secs),
        installer: args.rauc.then(|| Installer {
            rauc: Rauc {
                keyring: args.rauc_keyring.clone(),
                ..Rauc::default()
            },
            compatible: args.compatible.clone().or_else(system_compatible),
        }),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(opts))
}
