//! netd: applies the phone's network settings and keeps its clock (see the crate docs).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use deskphone_ipc::RuntimeDir;
use deskphone_netd::apply::{first_ethernet, mac_of};
use deskphone_netd::service::{run, Options};

#[derive(Parser, Debug)]
#[command(
    name = "netd",
    version,
    about = "deskphone network and clock: Table 3-1 applied to Linux, DHCP, SNTP"
)]
struct Args {
    /// Where the services' sockets are.
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// The Ethernet port (default: the first Ethernet interface).
    #[arg(long)]
    interface: Option<String>,
    /// Persistent state (the last lease's address).
    #[arg(long, default_value = "/var/lib/deskphone/netd")]
    state: PathBuf,
    /// The resolv.conf to write (the image links /etc/resolv.conf to it).
    #[arg(long, default_value = "/run/deskphone/net/resolv.conf")]
    resolv_conf: PathBuf,
    /// Leave the system clock alone: SNTP samples are only reported (development machines).
    #[arg(long)]
    no_clock: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Sets the host name to SIP<MAC> (the guide's Host Name) and exits; the unit runs it
    /// with the one privilege it needs before netd itself starts.
    Hostname,
}

fn port(args: &Args) -> anyhow::Result<String> {
    args.interface
        .clone()
        .or_else(first_ethernet)
        .ok_or_else(|| anyhow::anyhow!("no Ethernet interface found; name one with --interface"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    deskphone_ipc::systemd::run_service(async move {
        let port = port(&args)?;
        if let Some(Cmd::Hostname) = args.command {
            let mac =
                mac_of(&port).ok_or_else(|| anyhow::anyhow!("{port} has no hardware address"))?;
            let name = deskphone_dhcp::cisco_hostname(mac);
            nix::unistd::sethostname(&name)?;
            log::info!("host name {name}");
            return Ok(0);
        }
        run(Options {
            runtime: RuntimeDir::new(args.runtime),
            port,
            state_dir: args.state,
            resolv_conf: args.resolv_conf,
            set_clock: !args.no_clock,
        })
        .await?;
        Ok(0)
    })
}
