//! `deskphone-sim`: the whole phone on a development machine.
//!
//! Starts each service of the phone as its own process with the host backends (provd, sipd,
//! mediad, and the UI with its screen in memory or a PNG file and its keys from `phonectl
//! key`), the way systemd starts them on the image. A
//! service that asks for a reboot (exit status 3) makes the simulator restart every service,
//! as the phone would reboot; a service that dies otherwise is restarted after a pause, like
//! `Restart=on-failure`. SIGTERM or SIGINT stops everything cleanly (sipd first, so it can
//! unregister the lines).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use deskphone_config::Mac;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

/// The exit status with which a service asks for a reboot.
const REBOOT_STATUS: i32 = 3;

#[derive(Parser, Debug)]
#[command(version, about = "Run a deskphone on this machine")]
struct Args {
    /// The phone's MAC address (names SIP<MAC>.cnf).
    #[arg(long)]
    mac: Mac,
    /// TFTP server, as DHCP would give it (HOST[:PORT]).
    #[arg(
        long,
        required_unless_present = "tftp_root",
        conflicts_with = "tftp_root"
    )]
    tftp: Option<String>,
    /// Read the TFTP tree from this directory instead of a server.
    #[arg(long)]
    tftp_root: Option<PathBuf>,
    /// Persistent data: the flash store and what else survives a reboot.
    #[arg(long)]
    state: PathBuf,
    /// Where the services' Unix sockets go.
    #[arg(long)]
    runtime: PathBuf,
    /// The firmware version the simulated phone reports.
    #[arg(long)]
    firmware_version: Option<String>,
    /// Seconds of idle phone before a check-sync reads syncinfo.xml (the guide: 20).
    #[arg(long, default_value_t = 20)]
    resync_idle_secs: u64,
    /// TFTP retransmission timeout in milliseconds (passed to provd).
    #[arg(long)]
    tftp_timeout_ms: Option<u64>,
    /// TFTP retransmissions before a server counts as silent (passed to provd).
    #[arg(long)]
    tftp_retries: Option<u32>,
    /// Directory of the service binaries (default: next to this program).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The UDP port of SIP (passed to sipd; default: voip_control_port, 5060; 0: any free
    /// port, which `phonectl status` shows).
    #[arg(long)]
    sip_port: Option<u16>,
    /// The address sipd's SIP socket binds (default: every interface).
    #[arg(long)]
    sip_bind: Option<String>,
    /// What the microphone of the active audio path hears: this WAV file, looped (default:
    /// silence).
    #[arg(long)]
    audio_source: Option<PathBuf>,
    /// What the earpiece or speaker plays: written to this WAV file as it plays (default:
    /// nowhere).
    #[arg(long)]
    audio_sink: Option<PathBuf>,
    /// Write the screen to this PNG file whenever it changes (default: in memory only;
    /// `phonectl screenshot` works either way).
    #[arg(long)]
    screen: Option<PathBuf>,
    /// The size of the screen, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x240")]
    screen_size: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(run(args))?;
    std::process::exit(code);
}

fn provd_command(args: &Args, bin_dir: &Path) -> Command {
    let mut c = Command::new(bin_dir.join("provd"));
    c.arg("--mac").arg(args.mac.to_string());
    c.arg("--state").arg(&args.state);
    c.arg("--runtime").arg(&args.runtime);
    c.arg("--reboot-exit-code").arg(REBOOT_STATUS.to_string());
    c.arg("--resync-idle-secs")
        .arg(args.resync_idle_secs.to_string());
    if let Some(t) = &args.tftp {
        c.arg("--tftp-server").arg(t);
    }
    if let Some(d) = &args.tftp_root {
        c.arg("--tftp-root").arg(d);
    }
    if let Some(t) = args.tftp_timeout_ms {
        c.arg("--tftp-timeout-ms").arg(t.to_string());
    }
    if let Some(r) = args.tftp_retries {
        c.arg("--tftp-retries").arg(r.to_string());
    }
    if let Some(v) = &args.firmware_version {
        c.arg("--firmware-version").arg(v);
    }
    c.stdin(Stdio::null());
    c.kill_on_drop(true);
    c
}

fn sipd_command(args: &Args, bin_dir: &Path) -> Command {
    let mut c = Command::new(bin_dir.join("sipd"));
    c.arg("--runtime").arg(&args.runtime);
    if let Some(p) = args.sip_port {
        c.arg("--sip-port").arg(p.to_string());
    }
    if let Some(b) = &args.sip_bind {
        c.arg("--bind").arg(b);
    }
    c.stdin(Stdio::null());
    c.kill_on_drop(true);
    c
}

fn mediad_command(args: &Args, bin_dir: &Path) -> Command {
    let mut c = Command::new(bin_dir.join("mediad"));
    c.arg("--runtime").arg(&args.runtime);
    if let Some(b) = &args.sip_bind {
        // Media on the address SIP uses, so the SDP's address is one mediad listens on.
        c.arg("--bind").arg(b);
    }
    if let Some(f) = &args.audio_source {
        c.arg("--audio-source").arg(f);
    }
    if let Some(f) = &args.audio_sink {
        c.arg("--audio-sink").arg(f);
    }
    c.stdin(Stdio::null());
    c.kill_on_drop(true);
    c
}

fn ui_command(args: &Args, bin_dir: &Path) -> Command {
    let mut c = Command::new(bin_dir.join("ui"));
    c.arg("--runtime").arg(&args.runtime);
    c.arg("--data-dir").arg(args.state.join("ui"));
    c.arg("--screen-size").arg(&args.screen_size);
    if let Some(png) = &args.screen {
        c.arg("--screen-png").arg(png);
    }
    c.stdin(Stdio::null());
    c.kill_on_drop(true);
    c
}

async fn run(args: Args) -> anyhow::Result<i32> {
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("program directory")?
            .to_path_buf(),
    };
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    std::fs::create_dir_all(&args.runtime)
        .with_context(|| format!("creating {}", args.runtime.display()))?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    eprintln!(
        "deskphone-sim: phone {} starting; talk to it with: phonectl --runtime {} status",
        args.mac,
        args.runtime.display()
    );
    let mut boots = 1u32;
    let mut provd = spawn(provd_command(&args, &bin_dir), "provd")?;
    let mut mediad = spawn(mediad_command(&args, &bin_dir), "mediad")?;
    let mut sipd = spawn(sipd_command(&args, &bin_dir), "sipd")?;
    let mut ui = spawn(ui_command(&args, &bin_dir), "ui")?;
    loop {
        tokio::select! {
            status = provd.wait() => {
                let status = status?;
                if status.code() == Some(REBOOT_STATUS) {
                    boots += 1;
                    eprintln!("deskphone-sim: phone rebooting (boot {boots})");
                    // A reboot restarts every service.
                    stop("ui", &mut ui).await;
                    stop("sipd", &mut sipd).await;
                    stop("mediad", &mut mediad).await;
                    mediad = spawn(mediad_command(&args, &bin_dir), "mediad")?;
                    sipd = spawn(sipd_command(&args, &bin_dir), "sipd")?;
                    ui = spawn(ui_command(&args, &bin_dir), "ui")?;
                } else {
                    eprintln!("deskphone-sim: provd ended ({status}); restarting it");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                provd = spawn(provd_command(&args, &bin_dir), "provd")?;
            }
            status = sipd.wait() => {
                eprintln!("deskphone-sim: sipd ended ({}); restarting it", status?);
                tokio::time::sleep(Duration::from_secs(1)).await;
                sipd = spawn(sipd_command(&args, &bin_dir), "sipd")?;
            }
            status = mediad.wait() => {
                eprintln!("deskphone-sim: mediad ended ({}); restarting it", status?);
                tokio::time::sleep(Duration::from_secs(1)).await;
                mediad = spawn(mediad_command(&args, &bin_dir), "mediad")?;
            }
            status = ui.wait() => {
                eprintln!("deskphone-sim: the UI ended ({}); restarting it", status?);
                tokio::time::sleep(Duration::from_secs(1)).await;
                ui = spawn(ui_command(&args, &bin_dir), "ui")?;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    stop("ui", &mut ui).await;
    stop("sipd", &mut sipd).await;
    stop("mediad", &mut mediad).await;
    stop("provd", &mut provd).await;
    eprintln!("deskphone-sim: stopped");
    Ok(0)
}

fn spawn(mut cmd: Command, name: &str) -> anyhow::Result<Child> {
    cmd.spawn().with_context(|| format!("starting {name}"))
}

/// SIGTERM, then SIGKILL if the service has not ended within five seconds.
async fn stop(name: &str, child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(_) => return,
            Err(_) => eprintln!("deskphone-sim: {name} did not stop; killing it"),
        }
    }
    let _ = child.kill().await;
}
