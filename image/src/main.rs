//! `cargo xtask image | run`: build the deskphone test image, boot it in QEMU.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use xtask::build::{self, Image, Options};
use xtask::qemu::{self, Display, Machine};
use xtask::{image_dir, sh, Arch, DEFAULT_VERSION};

#[derive(Parser, Debug)]
#[command(about = "deskphone test images: build them from Debian packages, boot them in QEMU")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Build the bootable disk image under target/image/ (cached step by step).
    Image {
        #[arg(long, value_enum, default_value_t = Arch::X86_64)]
        arch: Arch,
        /// Firmware version the image carries (/etc/deskphone/image_version).
        #[arg(long, default_value = DEFAULT_VERSION)]
        version: String,
    },
    /// Boot the image in QEMU (building it first if needed); runs until killed.
    Run {
        #[arg(long, value_enum, default_value_t = Arch::X86_64)]
        arch: Arch,
        /// Directory served to the phone over TFTP (DHCP option 66: 10.0.2.2).
        #[arg(long, value_name = "DIR")]
        tftp_root: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Display::None)]
        display: Display,
        /// Keep the disk between runs (target/image/ARCH/persist) instead of a fresh copy.
        #[arg(long)]
        persist: bool,
        /// Host UDP port (on 127.0.0.1) forwarded to the phone's SIP port 5060.
        #[arg(long, default_value_t = 15060)]
        sip_port: u16,
    },
}

fn main() -> std::process::ExitCode {
    match real_main(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            sh::log(&format!("error: {e:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Image { arch, version } => {
            build::build(&Options { arch, version })?;
            Ok(())
        }
        Cmd::Run {
            arch,
            tftp_root,
            display,
            persist,
            sip_port,
        } => run(arch, tftp_root, display, persist, sip_port),
    }
}

fn run(
    arch: Arch,
    tftp_root: Option<PathBuf>,
    display: Display,
    persist: bool,
    sip_port: u16,
) -> Result<()> {
    let image: Image = build::build(&Options {
        arch,
        version: DEFAULT_VERSION.to_string(),
    })?;
    let arch_dir = image_dir().join(arch.name());
    let (disk, vars, dir) = if persist {
        let dir = arch_dir.join("persist");
        let disk = dir.join("disk.img");
        let vars = dir.join("OVMF_VARS.fd");
        let stale = match (disk.metadata(), image.disk.metadata()) {
            (Ok(d), Ok(i)) => i.modified()? > d.modified()?,
            _ => true,
        };
        if stale || !vars.exists() {
            // A new image starts a new persistent disk.
            sh::log(&format!("new persistent disk in {}", dir.display()));
            let (d, v) = qemu::fresh_disk(&image.disk, &dir)?;
            (d, v, dir)
        } else {
            sh::log(&format!("reusing the persistent disk {}", disk.display()));
            (disk, vars, dir)
        }
    } else {
        let dir = arch_dir.join("run");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let (d, v) = qemu::fresh_disk(&image.disk, &dir)?;
        (d, v, dir)
    };
    let mut m = Machine::new(arch, disk, vars, dir.join("qmp.sock"));
    if let Some(t) = tftp_root {
        m.tftp_root = t;
    }
    m.display = display;
    m.sip_host_port = sip_port;
    let mut cmd = m.command()?;
    sh::log(&format!(
        "phone {}: TFTP {} at {}, SIP 127.0.0.1:{sip_port}/udp -> 5060, QMP {}",
        m.mac,
        m.tftp_root.display(),
        qemu::HOST_ADDR,
        m.qmp.display()
    ));
    if display == Display::Vnc {
        sh::log("display: VNC on 127.0.0.1:5900");
    }
    sh::log(&format!("+ {}", sh::display(&cmd)));
    // QEMU takes over this process: the serial console is this terminal until it is killed.
    let err = cmd.exec();
    Err(err).context("starting qemu-system-x86_64 (package qemu-system-x86)")
}
