//! The QEMU machine the test image boots on: one command line for `cargo xtask run` and the
//! end-to-end tests.
//!
//! x86_64: `qemu-system-x86_64 -accel tcg` (KVM guests hang on the machines this runs on),
//! q35 with OVMF, the disk on virtio-blk, user networking (DHCP with option 66, TFTP from a
//! host directory, the phone's SIP port forwarded to the host), a QMP socket, the serial
//! console on stdio, and the phone's hardware as a Pi would have it: a framebuffer
//! (bochs-display: `/dev/fb0`), an evdev keyboard (virtio), a sound card (HDA) and an RNG.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::{sh, Arch};

/// UEFI firmware (package ovmf). The code is shared read-only; each machine gets its own copy
/// of the variable store.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";

/// QEMU's default NIC address; examples/tftp has SIP525400123456.cnf for it.
pub const DEFAULT_MAC: &str = "52:54:00:12:34:56";

/// The host as the phone sees it on QEMU's user network (also its TFTP server).
pub const HOST_ADDR: &str = "10.0.2.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Display {
    /// No window (screenshots still work through QMP `screendump`).
    None,
    Gtk,
    /// VNC on 127.0.0.1:5900.
    Vnc,
}

/// One phone: its disk, firmware variables, network and sockets.
#[derive(Debug, Clone)]
pub struct Machine {
    pub arch: Arch,
    /// The disk to boot (a copy of the image, see [`fresh_disk`]).
    pub disk: PathBuf,
    /// This machine's UEFI variable store.
    pub efi_vars: PathBuf,
    /// QMP socket QEMU listens on.
    pub qmp: PathBuf,
    /// Directory served over TFTP at 10.0.2.2 (DHCP option 66 names it).
    pub tftp_root: PathBuf,
    /// Host UDP port forwarded to the phone's SIP port 5060 (on 127.0.0.1).
    pub sip_host_port: u16,
    pub display: Display,
    pub mac: String,
    pub memory_mib: u32,
    pub cpus: u32,
}

impl Machine {
    pub fn new(arch: Arch, disk: PathBuf, efi_vars: PathBuf, qmp: PathBuf) -> Machine {
        Machine {
            arch,
            disk,
            efi_vars,
            qmp,
            tftp_root: crate::workspace().join("examples/tftp"),
            sip_host_port: 15060,
            display: Display::None,
            mac: DEFAULT_MAC.to_string(),
            memory_mib: 1024,
            cpus: 2,
        }
    }

    /// The QEMU command line. The serial console is QEMU's stdin/stdout; Ctrl-C on a terminal
    /// stops QEMU.
    pub fn command(&self) -> Result<Command> {
        if self.arch != Arch::X86_64 {
            bail!("QEMU for {}: not implemented yet", self.arch);
        }
        let tftp = self
            .tftp_root
            .canonicalize()
            .with_context(|| format!("TFTP root {}", self.tftp_root.display()))?;
        let mut c = Command::new("qemu-system-x86_64");
        c.args(["-accel", "tcg", "-machine", "q35"])
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .args(["-nodefaults", "-no-user-config"])
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}"
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                self.efi_vars.display()
            ))
            // cache=unsafe: the guest's flushes cost no host fsync; what QEMU has written is in
            // the host's page cache, so killing QEMU still keeps every completed write.
            .arg("-drive")
            .arg(format!(
                "if=none,id=disk0,format=raw,cache=unsafe,file={}",
                self.disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=disk0"])
            .arg("-netdev")
            .arg(format!(
                "user,id=net0,net=10.0.2.0/24,host={HOST_ADDR},tftp={},tftp-server-name={HOST_ADDR},hostfwd=udp:127.0.0.1:{}-:5060",
                tftp.display(),
                self.sip_host_port
            ))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net0,mac={}", self.mac))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", self.qmp.display()))
            .args(["-chardev", "stdio,id=console,signal=on"])
            .args(["-serial", "chardev:console"])
            .args(["-device", "bochs-display"])
            .args(["-device", "virtio-keyboard-pci"])
            .args(["-audiodev", "none,id=audio0"])
            .args(["-device", "intel-hda", "-device", "hda-duplex,audiodev=audio0"])
            .args(["-device", "virtio-rng-pci"]);
        match self.display {
            Display::None => c.args(["-display", "none"]),
            Display::Gtk => c.args(["-display", "gtk"]),
            Display::Vnc => c.args(["-display", "vnc=127.0.0.1:0"]),
        };
        Ok(c)
    }
}

/// A fresh copy of `image` in `dir`, and a fresh UEFI variable store. Returns
/// `(disk, efi_vars)`.
///
/// A plain sparse copy (a tenth of a second): unlike a qcow2 overlay it has no metadata of
/// its own that killing QEMU could lose, so a power cut loses no more than it would on a
/// real phone, whose flash has everything the kernel wrote.
pub fn fresh_disk(image: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let disk = dir.join("disk.img");
    let vars = dir.join("OVMF_VARS.fd");
    sh::run(
        Command::new("cp")
            .args(["--sparse=always", "--reflink=auto"])
            .arg(image)
            .arg(&disk),
    )?;
    std::fs::copy(OVMF_VARS, &vars).with_context(|| format!("copying {OVMF_VARS}"))?;
    Ok((disk, vars))
}
