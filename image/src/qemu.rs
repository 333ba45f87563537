//! The QEMU machine the test image boots on: one command line for `cargo xtask run` and the
//! end-to-end tests.
//!
//! x86_64: `qemu-system-x86_64 -accel tcg` (KVM guests hang on the machines this runs on),
//! q35 with OVMF, the disk on virtio-blk, user networking (DHCP with option 66, TFTP from a
//! host directory, the phone's SIP port forwarded to the host), a QMP socket, the serial
//! console on stdio, and the phone's hardware as a Pi would have it: a framebuffer
//! (bochs-display: `/dev/fb0`), an evdev keyboard (virtio), a sound card (HDA) and an RNG.
//! For the tests the user network can also forward the phone's media ports from another host
//! address (a NAT router with a public address), and the sound card can have a host side
//! ([`Audio::Alsa`]).
//!
//! aarch64: `qemu-system-aarch64 -machine raspi3b` (TCG; the board has 1 GiB and four A53
//! cores, both fixed), the SD card image on the board's SD controller, the same user network
//! on a USB network adapter (`usb-net`, the Pi 3's Ethernet is on USB too), a USB keyboard,
//! QMP and the serial console (PL011, `ttyAMA0`) as above. QEMU cannot run the Pi's GPU
//! firmware, which would load the kernel from the boot partition: QEMU loads slot A's kernel,
//! device tree and initramfs itself ([`DirectBoot`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};

use crate::{sh, Arch};

/// UEFI firmware (package ovmf). The code is shared read-only; each machine gets its own copy
/// of the variable store.
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";

/// QEMU's default NIC address; examples/tftp has SIP525400123456.cnf for it.
pub const DEFAULT_MAC: &str = "52:54:00:12:34:56";

/// The raspi3b phone's NIC address: globally administered (the Raspberry Pi OUI a Pi 3's
/// Ethernet has), because usbnet names a USB adapter with a locally administered address (bit
/// 0x02 of the first octet, as in QEMU's 52:54:00:...) `usb0`, and the image brings up `eth0`
/// as on a real Pi 3. The phone-specific file is SIPB827EB123456.cnf.
pub const RASPI_MAC: &str = "b8:27:eb:12:34:56";

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
    /// Host UDP port forwarded to the phone's SIP port 5060 (on
    /// [`forward_addr`](Self::forward_addr)).
    pub sip_host_port: u16,
    /// Host address the forwarded ports listen on (127.0.0.1). Another address of the host
    /// makes QEMU's user network a NAT router with that public address: what the phone sends
    /// from a forwarded port leaves from it.
    pub forward_addr: String,
    /// Guest UDP ports forwarded one to one from [`forward_addr`](Self::forward_addr) (the
    /// phone's `start_media_port`..=`end_media_port`: RTP and RTCP), none by default. The
    /// same numbers on both sides, because the phone's SDP names one port.
    pub media_ports: Option<(u16, u16)>,
    /// The host side of the sound card.
    pub audio: Audio,
    pub display: Display,
    pub mac: String,
    pub memory_mib: u32,
    pub cpus: u32,
    /// QEMU exits when the guest resets (`-no-reboot`) instead of resetting the machine:
    /// for a harness that starts it again, quicker than QEMU 7.2's warm reset of OVMF under
    /// TCG (about 30 s before the firmware runs again).
    pub exit_on_reboot: bool,
    /// aarch64 (raspi3b): the kernel, device tree, initramfs and command line QEMU boots, in
    /// place of the Pi firmware. Unused on x86_64 (OVMF and GRUB boot from the disk).
    pub direct_boot: Option<DirectBoot>,
}

/// The host side of the sound card (QEMU's `-audiodev`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Audio {
    /// What the phone plays is discarded, its microphone hears silence (`-audiodev none`).
    #[default]
    None,
    /// QEMU's ALSA backend on the host's PCM `pcm` (both directions), with alsa-lib
    /// configured by `config` alone (`ALSA_CONFIG_PATH`: the host's own sound settings do
    /// not matter). The PCM must run in real time: QEMU's HDA codec follows the backend's
    /// pace, so a PCM that takes and gives data at once (alsa-lib's `null` or `file`) makes
    /// the guest's sound card run fast (a third too fast, measured). 8 kHz mono on the host
    /// side, the phone's own format: QEMU converts from and to the guest's rate.
    Alsa { pcm: String, config: PathBuf },
}

impl Audio {
    /// The `-audiodev` value, and the ALSA configuration QEMU must get, if any.
    pub fn audiodev(&self, id: &str) -> (String, Option<&Path>) {
        match self {
            Audio::None => (format!("none,id={id}"), None),
            Audio::Alsa { pcm, config } => {
                // QEMU's audio timer drives the backend (no polling). Without a period length
                // the guest's card starved and overran in turns (measured on PulseAudio): 10 ms
                // periods bring the host's data in small steps, and 200 ms of buffer are slack
                // for the host's scheduling delays while TCG takes both cores.
                let side = |d: &str| {
                    format!(
                        "{d}.dev={pcm},{d}.frequency=8000,{d}.channels=1,{d}.format=s16,\
                         {d}.try-poll=off,{d}.period-length=10000,{d}.buffer-length=200000"
                    )
                };
                (
                    format!("alsa,id={id},{},{}", side("out"), side("in")),
                    Some(config.as_path()),
                )
            }
        }
    }
}

/// What the Pi firmware would load from a slot's boot partition, for QEMU to load instead
/// (`-kernel`, `-dtb`, `-initrd`, `-append`): QEMU cannot run the Pi's GPU firmware.
#[derive(Debug, Clone)]
pub struct DirectBoot {
    pub kernel: PathBuf,
    pub dtb: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
}

impl DirectBoot {
    /// The boot files of a slot as `cargo xtask image --arch aarch64` leaves them beside the
    /// card (`boot-a/`: the files of the boot partition, `cmdline.txt` included).
    pub fn from_dir(dir: &Path) -> Result<DirectBoot> {
        let cmdline = std::fs::read_to_string(dir.join("cmdline.txt"))
            .with_context(|| format!("reading {}/cmdline.txt", dir.display()))?;
        let boot = DirectBoot {
            kernel: dir.join(crate::raspi::KERNEL),
            dtb: dir.join(crate::raspi::DTB),
            initrd: dir.join(crate::raspi::INITRD),
            cmdline: cmdline.trim().to_string(),
        };
        for f in [&boot.kernel, &boot.dtb, &boot.initrd] {
            anyhow::ensure!(f.is_file(), "{} missing", f.display());
        }
        Ok(boot)
    }
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
            forward_addr: "127.0.0.1".to_string(),
            media_ports: None,
            audio: Audio::None,
            display: Display::None,
            mac: DEFAULT_MAC.to_string(),
            memory_mib: 1024,
            cpus: 2,
            exit_on_reboot: false,
            direct_boot: None,
        }
    }

    /// A raspi3b phone booting the SD card `sd` (a copy of the image's disk, see
    /// [`copy_disk`]) with `boot`'s kernel. The board's memory and cores are fixed.
    pub fn raspi3b(sd: PathBuf, boot: DirectBoot, qmp: PathBuf) -> Machine {
        let mut m = Machine::new(Arch::Aarch64, sd, PathBuf::new(), qmp);
        m.mac = RASPI_MAC.to_string();
        m.memory_mib = 1024;
        m.cpus = 4;
        m.direct_boot = Some(boot);
        m
    }

    /// QEMU's user network: DHCP with option 66 = the host, which serves the TFTP root, and
    /// the phone's SIP port (and media ports, if any) forwarded from the host.
    fn user_netdev(&self, tftp: &Path) -> String {
        let addr = &self.forward_addr;
        let mut netdev = format!(
            "user,id=net0,net=10.0.2.0/24,host={HOST_ADDR},tftp={},tftp-server-name={HOST_ADDR},hostfwd=udp:{addr}:{}-:5060",
            tftp.display(),
            self.sip_host_port
        );
        // One rule per port: QEMU's hostfwd takes no ranges.
        if let Some((first, last)) = self.media_ports {
            for port in first..=last {
                netdev.push_str(&format!(",hostfwd=udp:{addr}:{port}-:{port}"));
            }
        }
        netdev
    }

    /// The QEMU command line. The serial console is QEMU's stdin/stdout; Ctrl-C on a terminal
    /// stops QEMU.
    pub fn command(&self) -> Result<Command> {
        if self.arch == Arch::Aarch64 {
            return self.raspi3b_command();
        }
        let tftp = self
            .tftp_root
            .canonicalize()
            .with_context(|| format!("TFTP root {}", self.tftp_root.display()))?;
        let (audiodev, alsa_config) = self.audio.audiodev("audio0");
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
            .arg(self.user_netdev(&tftp))
            .arg("-device")
            .arg(format!("virtio-net-pci,netdev=net0,mac={}", self.mac))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", self.qmp.display()))
            .args(["-chardev", "stdio,id=console,signal=on"])
            .args(["-serial", "chardev:console"])
            .args(["-device", "bochs-display"])
            .args(["-device", "virtio-keyboard-pci"])
            // A free PCIe slot: a keypad can be plugged in while the phone runs (QMP
            // device_add ...,bus=keypad-slot), as a USB keypad would be on the Pi.
            .args(["-device", "pcie-root-port,id=keypad-slot,chassis=9"])
            .args(["-audiodev", &audiodev])
            .args([
                "-device",
                "intel-hda",
                "-device",
                "hda-duplex,audiodev=audio0",
            ])
            .args(["-device", "virtio-rng-pci"]);
        if let Some(config) = alsa_config {
            c.env("ALSA_CONFIG_PATH", config);
        }
        if self.exit_on_reboot {
            c.arg("-no-reboot");
        }
        match self.display {
            Display::None => c.args(["-display", "none"]),
            Display::Gtk => c.args(["-display", "gtk"]),
            Display::Vnc => c.args(["-display", "vnc=127.0.0.1:0"]),
        };
        Ok(c)
    }

    /// raspi3b: the kernel booted directly, the SD card, USB network and keyboard.
    fn raspi3b_command(&self) -> Result<Command> {
        let boot = self
            .direct_boot
            .as_ref()
            .context("raspi3b boots its kernel directly: the machine has no boot files")?;
        let tftp = self
            .tftp_root
            .canonicalize()
            .with_context(|| format!("TFTP root {}", self.tftp_root.display()))?;
        let mut c = Command::new("qemu-system-aarch64");
        c.args(["-accel", "tcg", "-machine", "raspi3b"])
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .args(["-nodefaults", "-no-user-config"])
            .arg("-kernel")
            .arg(&boot.kernel)
            .arg("-dtb")
            .arg(&boot.dtb)
            .arg("-initrd")
            .arg(&boot.initrd)
            .arg("-append")
            .arg(&boot.cmdline)
            // cache=unsafe: as for x86_64, completed writes survive killing QEMU.
            .arg("-drive")
            .arg(format!(
                "if=sd,index=0,format=raw,cache=unsafe,file={}",
                self.disk.display()
            ))
            .arg("-netdev")
            .arg(self.user_netdev(&tftp))
            .arg("-device")
            .arg(format!("usb-net,netdev=net0,mac={}", self.mac))
            .args(["-device", "usb-kbd"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", self.qmp.display()))
            .args(["-chardev", "stdio,id=console,signal=on"])
            .args(["-serial", "chardev:console"]);
        if self.exit_on_reboot {
            c.arg("-no-reboot");
        }
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
    let disk = copy_disk(image, dir)?;
    let vars = dir.join("OVMF_VARS.fd");
    std::fs::copy(OVMF_VARS, &vars).with_context(|| format!("copying {OVMF_VARS}"))?;
    Ok((disk, vars))
}

/// A fresh sparse copy of `image` as `dir/disk.img` (the raspi3b's SD card: it has no UEFI
/// variables).
pub fn copy_disk(image: &Path, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let disk = dir.join("disk.img");
    sh::run(
        Command::new("cp")
            .args(["--sparse=always", "--reflink=auto"])
            .arg(image)
            .arg(&disk),
    )?;
    Ok(disk)
}
