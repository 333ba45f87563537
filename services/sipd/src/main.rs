//! `sipd`: the SIP user agent service.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use deskphone_ipc::RuntimeDir;
use deskphone_sipd::service::{run, Options};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "deskphone SIP user agent: registers the lines the configuration names"
)]
struct Args {
    /// Where the services' sockets are (provd's is read, sipd's is made).
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// The UDP port of SIP instead of voip_control_port (0: any free port).
    #[arg(long)]
    sip_port: Option<u16>,
    /// The address the SIP socket binds.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    let opts = Options {
        runtime: RuntimeDir::new(args.runtime),
        bind: args.bind,
        sip_port: args.sip_port,
        started,
    };
    deskphone_ipc::systemd::run_service(run(opts))
}
