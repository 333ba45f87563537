//! `cargo xtask image | bundle | run`: build the deskphone test image and its update bundle,
//! boot it in QEMU.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use xtask::build::{self, Image, Options, Signer, Variant};
use xtask::bundle::{self, BundleOptions};
use xtask::qemu::{self, DirectBoot, Display, Machine};
use xtask::{image_dir, raspi, sh, Arch, DEFAULT_VERSION};

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
        #[command(flatten)]
        variant: VariantArgs,
    },
    /// Build the signed RAUC update bundle <VERSION>.bin from the image of that version
    /// (built first if needed; cached under target/image/ARCH/VERSION/).
    Bundle {
        #[arg(long, value_enum, default_value_t = Arch::X86_64)]
        arch: Arch,
        /// Firmware version: the image's /etc/deskphone/image_version, the bundle's manifest
        /// version and its file name.
        #[arg(long, default_value = DEFAULT_VERSION)]
        version: String,
        /// Also copy the bundle into this directory (a TFTP root, say).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Sign with this private key instead of the development key (with --cert).
        #[arg(long, value_name = "PEM", requires = "cert")]
        key: Option<PathBuf>,
        /// The certificate of --key.
        #[arg(long, value_name = "PEM", requires = "key")]
        cert: Option<PathBuf>,
        #[command(flatten)]
        variant: VariantArgs,
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

/// Test-only image variants, for the update tests. Never for a phone in use.
#[derive(Args, Debug)]
struct VariantArgs {
    /// TEST ONLY: provd is replaced by a program that exits 1, so the services never become
    /// healthy (a bundle that must be rolled back).
    #[arg(long)]
    break_services: bool,
    /// TEST ONLY: seconds after boot before an unconfirmed boot falls back to the other slot
    /// (deskphone-boot-check.service; default: the unit's).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(10..))]
    boot_deadline: Option<u32>,
}

impl VariantArgs {
    fn variant(&self) -> Variant {
        Variant {
            break_services: self.break_services,
            boot_deadline: self.boot_deadline,
        }
    }
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
        Cmd::Image {
            arch,
            version,
            variant,
        } => {
            build::build(&Options {
                arch,
                version,
                variant: variant.variant(),
            })?;
            Ok(())
        }
        Cmd::Bundle {
            arch,
            version,
            out,
            key,
            cert,
            variant,
        } => {
            let signer = match (key, cert) {
                (Some(key), Some(cert)) => Some(Signer { key, cert }),
                _ => None,
            };
            let b = bundle::bundle(&BundleOptions {
                image: Options {
                    arch,
                    version,
                    variant: variant.variant(),
                },
                signer,
                out,
            })?;
            println!("{}", b.path.display());
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
    let image: Image = build::build(&Options::new(arch, DEFAULT_VERSION))?;
    let arch_dir = image_dir().join(arch.name());
    let (disk, vars, dir) = if persist {
        let dir = arch_dir.join("persist");
        let disk = dir.join("disk.img");
        let vars = dir.join("OVMF_VARS.fd");
        let stale = match (disk.metadata(), image.disk.metadata()) {
            (Ok(d), Ok(i)) => i.modified()? > d.modified()?,
            _ => true,
        };
        // (raspi3b has no UEFI variables.)
        if stale || (arch == Arch::X86_64 && !vars.exists()) {
            // A new image starts a new persistent disk.
            sh::log(&format!("new persistent disk in {}", dir.display()));
            let (d, v) = fresh_disk(&image, &dir)?;
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
        let (d, v) = fresh_disk(&image, &dir)?;
        (d, v, dir)
    };
    let mut m = match arch {
        Arch::X86_64 => Machine::new(arch, disk, vars, dir.join("qmp.sock")),
        Arch::Aarch64 => Machine::raspi3b(
            disk,
            DirectBoot::from_dir(&raspi::boot_dir(&image))?,
            dir.join("qmp.sock"),
        ),
    };
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
    let package = match arch {
        Arch::X86_64 => "qemu-system-x86",
        Arch::Aarch64 => "qemu-system-arm",
    };
    Err(err).with_context(|| {
        format!(
            "starting {} (package {package})",
            cmd.get_program().to_string_lossy()
        )
    })
}

/// A fresh copy of the image's disk in `dir`, and for x86_64 a fresh UEFI variable store
/// (raspi3b has none: an empty path).
fn fresh_disk(image: &Image, dir: &std::path::Path) -> Result<(PathBuf, PathBuf)> {
    match image.arch {
        Arch::X86_64 => qemu::fresh_disk(&image.disk, dir),
        Arch::Aarch64 => Ok((qemu::copy_disk(&image.disk, dir)?, PathBuf::new())),
    }
}
