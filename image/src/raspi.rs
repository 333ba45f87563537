//! The aarch64 test image: a Raspberry Pi SD card for QEMU's `raspi3b`.
//!
//! The card has the layout of the production image
//! (`buildroot-overlay/board/raspberrypi/genimage.cfg`), so that the board's own rootfs overlay
//! (`fstab`, RAUC's `system.conf` with the tryboot backend) is used unchanged:
//!
//! | partition | what |
//! | --- | --- |
//! | 1 `autoboot` | FAT: `autoboot.txt`, RAUC's slot states, as the tryboot backend writes it |
//! | 2 `boot-a` | FAT: slot A's kernel, initramfs, device tree, `config.txt`, `cmdline.txt` |
//! | 3 `boot-b` | FAT, empty until an update installs into slot B (marked bad meanwhile) |
//! | 4 | extended |
//! | 5 `rootfs-a` | squashfs: slot A's root filesystem |
//! | 6 `rootfs-b` | empty until an update installs into it |
//! | 7 `data` | ext4 at `/var/lib/deskphone` |
//!
//! Differences from the production card, because QEMU cannot run the Pi's GPU firmware and
//! Debian's kernel is not the Buildroot one: QEMU loads slot A's boot files itself
//! (`-kernel`/`-dtb`/`-initrd`/`-append`, see [`crate::qemu::DirectBoot`]); the boot
//! partitions hold no firmware; and the root filesystem is mounted without dm-verity, which
//! the production command line sets up with `dm-mod.create` before any module can load, while
//! Debian builds `dm-mod` as a module. QEMU's SD card must be a power of two in size: the card
//! is padded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context as _, Result};

use crate::build::{fresh, run_with_input, seal, tmp_path, Image, Key};
use crate::sh::{self, step};
use crate::workspace;

/// The files QEMU boots, as they are named in the boot partition.
pub const KERNEL: &str = "vmlinuz";
pub const INITRD: &str = "initrd.img";
pub const DTB: &str = "bcm2837-rpi-3-b.dtb";

/// The test image's kernel command line for slot A. The production one
/// (`board/raspberrypi/cmdline.txt`) has `console=serial0` (an alias the firmware resolves)
/// and a dm-verity root; here the console is the PL011 QEMU connects to the serial port, and
/// the squashfs is the root itself. `net.ifnames=0` keeps the kernel's `eth0`.
pub const CMDLINE: &str = "console=ttyAMA0,115200 net.ifnames=0 root=/dev/mmcblk0p5 \
rootfstype=squashfs ro rootwait rauc.slot=A panic=5";

/// `config.txt` of the test image's boot partition: what the firmware would be told. QEMU
/// does not read it.
const CONFIG_TXT: &str =
    "# deskphone test image (cargo xtask image --arch aarch64): QEMU's raspi3b loads these\n\
# files directly; a real Pi would also need the GPU firmware, which this card does not have.\n\
arm_64bit=1\n\
kernel=vmlinuz\n\
initramfs initrd.img followkernel\n\
device_tree=bcm2837-rpi-3-b.dtb\n\
enable_uart=1\n";

/// The device-tree change `dtoverlay=miniuart-bt` in the board's config.txt has the firmware
/// make: the PL011 (`ttyAMA0`) is the serial console rather than the Bluetooth UART. Without
/// it, the Bluetooth node below the PL011 makes the kernel hand the port to serdev, and there
/// is no `/dev/ttyAMA0` for a getty. (This image has no Bluetooth driver anyway.)
const DTB_NO_BT_ON_PL011: &str = "/soc/serial@7e201000/bluetooth";

/// Lines added to the board's fstab in this Debian image. Buildroot mounts all of `/var` as a
/// tmpfs filled from `/usr/share/factory` (the root is read-only); Debian's `/var` is on the
/// read-only root, so what is written there at run time gets a tmpfs of its own, as in the
/// x86_64 board's fstab (logind's state, the random seed, logs, temporary files).
pub(crate) const FSTAB_VAR: &str = "\
# cargo xtask (Debian test image): Debian's /var is on the read-only root; Buildroot's is a tmpfs.
tmpfs            /var/tmp             tmpfs  mode=1777,nosuid,nodev,size=16m               0      0
tmpfs            /var/log             tmpfs  mode=0755,nosuid,nodev,size=16m               0      0
tmpfs            /var/lib/systemd     tmpfs  mode=0755,nosuid,nodev,size=8m                0      0
";

/// Where Debian's kernel package puts the Pi 3's device tree.
const DTB_IN_BASE: &str = "./usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b.dtb";

/// The tryboot backend, run here to write the first autoboot.txt (as the Buildroot
/// post-image script does).
const BACKEND: &str =
    "buildroot-overlay/board/raspberrypi/rootfs-overlay/usr/libexec/deskphone/rauc-tryboot";

const MIB: u64 = 1024 * 1024;
/// Sizes in MiB and alignment, as in genimage.cfg (checked by a test below).
const ALIGN_MIB: u64 = 4;
const AUTOBOOT_MIB: u64 = 8;
const BOOT_MIB: u64 = 64;
const ROOTFS_MIB: u64 = 384;
const DATA_MIB: u64 = 256;
/// The data partition's label (genimage.cfg).
const DATA_LABEL: &str = "deskphone-data";

/// MBR partition types: FAT32 (LBA), extended (LBA), Linux.
const TYPE_FAT: &str = "c";
const TYPE_EXTENDED: &str = "f";
const TYPE_LINUX: &str = "83";

/// The boot files of slot A, beside the card (QEMU boots them): `<image dir>/boot-a/`.
pub fn boot_dir(image: &Image) -> PathBuf {
    image.dir().join("boot-a")
}

/// The SD card of `image`, from the root filesystem already built (`rootfs_key`) and the
/// Debian base (kernel, initramfs, device tree). Returns the files to report.
pub(crate) fn sd_card(
    image: &Image,
    rootfs_key: &str,
    base: &Path,
) -> Result<Vec<(&'static str, PathBuf)>> {
    let dir = image.dir();
    let boot = boot_dir(image);
    let boot_key = step("boot files (kernel, initramfs, device tree)", || {
        boot_files(base, &boot)
    })?;
    let boot_a = image.esp.clone();
    let boot_a_key = step("boot partition A", || {
        vfat(&boot_a, "BOOT_A", BOOT_MIB, Some(&boot), &boot_key)
    })?;
    let boot_b = dir.join("boot-b.vfat");
    let boot_b_key = step("boot partition B (empty)", || {
        vfat(&boot_b, "BOOT_B", BOOT_MIB, None, "empty")
    })?;
    let autoboot = dir.join("autoboot.vfat");
    let autoboot_key = step("autoboot partition", || autoboot_partition(&autoboot))?;
    let data = dir.join("data.img");
    let data_key = step("data partition", || data_partition(&data))?;
    step("SD card", || {
        card(
            &image.disk,
            &[
                (&autoboot, &autoboot_key),
                (&boot_a, &boot_a_key),
                (&boot_b, &boot_b_key),
                (&image.rootfs, rootfs_key),
                (&data, &data_key),
            ],
        )
    })?;
    Ok(vec![
        ("root filesystem (slot A)", image.rootfs.clone()),
        ("boot partition (slot A)", image.esp.clone()),
        ("initramfs", boot.join(INITRD)),
        ("kernel", boot.join(KERNEL)),
        ("SD card", image.disk.clone()),
    ])
}

/// Slot A's boot files: the kernel, initramfs and Pi 3 device tree of the base's
/// linux-image-arm64, `config.txt` and `cmdline.txt`.
fn boot_files(base: &Path, out: &Path) -> Result<String> {
    let mut key = Key::new("raspi-boot-1");
    key.str(&base.file_name().expect("name").to_string_lossy())
        .str(CMDLINE)
        .str(CONFIG_TXT)
        .str(DTB_NO_BT_ON_PL011);
    cached(out, key.finish(), || {
        let work = out.with_extension("d");
        for d in [&work, &out.to_path_buf()] {
            if d.exists() {
                fs::remove_dir_all(d)?;
            }
        }
        fs::create_dir_all(&work)?;
        sh::run(
            Command::new("tar")
                .args(["--extract", "--wildcards", "--file"])
                .arg(base)
                .arg("--directory")
                .arg(&work)
                .args(["./boot", DTB_IN_BASE]),
        )?;
        fs::create_dir_all(out)?;
        // customize.sh leaves /boot/vmlinuz and /boot/initrd.img as links to the versioned
        // files.
        for (link, name) in [("boot/vmlinuz", KERNEL), ("boot/initrd.img", INITRD)] {
            let src = fs::canonicalize(work.join(link))
                .with_context(|| format!("{link} in the Debian base"))?;
            fs::copy(&src, out.join(name))?;
        }
        let dtb = fs::read_dir(work.join("usr/lib"))?
            .flatten()
            .map(|e| e.path().join("broadcom").join(DTB))
            .find(|p| p.is_file())
            .context("the Pi 3 device tree in the Debian base")?;
        fs::copy(dtb, out.join(DTB))?;
        sh::run(
            Command::new("fdtput")
                .arg("-r")
                .arg(out.join(DTB))
                .arg(DTB_NO_BT_ON_PL011),
        )?;
        fs::write(out.join("cmdline.txt"), format!("{CMDLINE}\n"))?;
        fs::write(out.join("config.txt"), CONFIG_TXT)?;
        fs::remove_dir_all(&work)?;
        Ok(())
    })
}

/// What the aarch64 root filesystem needs beyond the overlays: the kernel, initramfs and
/// device trees live in the boot partitions, not in the root; `/var`'s writable directories
/// get a tmpfs ([`FSTAB_VAR`]).
pub(crate) fn adapt_rootfs(root: &Path) -> Result<()> {
    for d in [root.join("boot"), root.join("usr/lib")] {
        for e in fs::read_dir(&d)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if d.ends_with("boot") || n.starts_with("linux-image-") {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(&p)?;
                } else {
                    fs::remove_file(&p)?;
                }
            }
        }
    }
    let fstab = root.join("etc/fstab");
    let mut text = fs::read_to_string(&fstab).context("the board's fstab")?;
    text.push_str(FSTAB_VAR);
    fs::write(&fstab, text)?;
    Ok(())
}

/// Runs `make` unless `out` was made from inputs hashing to `key`; returns the key.
fn cached(out: &Path, key: String, make: impl FnOnce() -> Result<()>) -> Result<String> {
    if fresh(out, &key) {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(key);
    }
    make()?;
    seal(out, &key)?;
    Ok(key)
}

/// A FAT partition image of `mib` MiB with the files of `dir` (none: empty). `content_key`
/// stands for the files.
fn vfat(
    out: &Path,
    label: &str,
    mib: u64,
    dir: Option<&Path>,
    content_key: &str,
) -> Result<String> {
    let mut key = Key::new("raspi-vfat-1");
    key.str(label).str(&mib.to_string()).str(content_key);
    cached(out, key.finish(), || make_vfat(out, label, mib, dir))
}

fn make_vfat(out: &Path, label: &str, mib: u64, dir: Option<&Path>) -> Result<()> {
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    sh::run(
        Command::new("mkfs.vfat")
            .args(["-C", "-n", label])
            .arg(&tmp)
            .arg((mib * 1024).to_string()),
    )?;
    if let Some(dir) = dir {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        sh::run(
            Command::new("mcopy")
                .arg("-i")
                .arg(&tmp)
                .args(&files)
                .arg("::/"),
        )?;
    }
    fs::rename(&tmp, out)?;
    Ok(())
}

/// The autoboot partition: `autoboot.txt` written by the board's own tryboot backend — slot A
/// primary and good, slot B bad (it is empty: nothing may fall back to it).
fn autoboot_partition(out: &Path) -> Result<String> {
    let backend = workspace().join(BACKEND);
    let mut key = Key::new("raspi-autoboot-1");
    key.file(&backend)?.str(&AUTOBOOT_MIB.to_string());
    cached(out, key.finish(), || {
        let work = out.with_extension("d");
        if work.exists() {
            fs::remove_dir_all(&work)?;
        }
        fs::create_dir_all(&work)?;
        for args in [&["set-primary", "A"][..], &["set-state", "B", "bad"][..]] {
            sh::run(
                Command::new("sh")
                    .arg(&backend)
                    .args(args)
                    .env("TRYBOOT_BOOT_DIR", &work)
                    .env("TRYBOOT_DT_DIR", work.join("none"))
                    .env("TRYBOOT_CMDLINE", "/dev/null")
                    .env("TRYBOOT_REBOOT_PARAM", work.join("reboot-param")),
            )?;
        }
        let _ = fs::remove_file(work.join("reboot-param"));
        make_vfat(out, "AUTOBOOT", AUTOBOOT_MIB, Some(&work))?;
        fs::remove_dir_all(&work)?;
        Ok(())
    })
}

/// An empty ext4 data partition with genimage.cfg's label, its inode tables written now.
fn data_partition(out: &Path) -> Result<String> {
    let key = Key::new(&format!("raspi-data-1-{DATA_MIB}-{DATA_LABEL}")).finish();
    cached(out, key, || {
        let tmp = tmp_path(out);
        let _ = fs::remove_file(&tmp);
        sh::run(
            Command::new("mkfs.ext4")
                .args(["-q", "-F", "-L", DATA_LABEL])
                .args(["-E", "lazy_itable_init=0,lazy_journal_init=0"])
                .arg(&tmp)
                .arg(format!("{DATA_MIB}M")),
        )?;
        fs::rename(&tmp, out)?;
        Ok(())
    })
}

/// One partition of the card: MBR type, start and size in MiB, content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    ty: &'static str,
    start: u64,
    size: u64,
    bootable: bool,
}

/// The card's partitions in table order (1-3 primary, 4 extended, 5-7 logical), every start
/// aligned like genimage's `align = 4M`; a logical partition leaves the alignment gap before
/// it for its extended boot record. Returns them and the card's size in MiB (a power of two).
fn layout() -> (Vec<Part>, u64) {
    let mut parts = Vec::new();
    let mut at = ALIGN_MIB;
    for (size, bootable) in [(AUTOBOOT_MIB, true), (BOOT_MIB, false), (BOOT_MIB, false)] {
        parts.push(Part {
            ty: TYPE_FAT,
            start: at,
            size,
            bootable,
        });
        at += size.next_multiple_of(ALIGN_MIB);
    }
    let extended_start = at;
    let mut logical = Vec::new();
    for (ty, size) in [
        (TYPE_LINUX, ROOTFS_MIB),
        (TYPE_LINUX, ROOTFS_MIB),
        (TYPE_LINUX, DATA_MIB),
    ] {
        at += ALIGN_MIB;
        logical.push(Part {
            ty,
            start: at,
            size,
            bootable: false,
        });
        at += size.next_multiple_of(ALIGN_MIB);
    }
    parts.push(Part {
        ty: TYPE_EXTENDED,
        start: extended_start,
        size: at - extended_start,
        bootable: false,
    });
    parts.extend(logical);
    (parts, at.next_power_of_two())
}

/// The sfdisk script of [`layout`].
fn sfdisk_script(parts: &[Part]) -> String {
    // A fixed disk identifier: the same inputs make the same card.
    let mut s = String::from("label: dos\nlabel-id: 0x6465736b\nunit: sectors\n");
    for p in parts {
        s.push_str(&format!(
            "start={}, size={}, type={}{}\n",
            p.start * MIB / 512,
            p.size * MIB / 512,
            p.ty,
            if p.bootable { ", bootable" } else { "" }
        ));
    }
    s
}

/// The SD card: the MBR of [`layout`] and the partition images (slot B's root filesystem
/// stays empty), padded to a power of two for QEMU.
fn card(out: &Path, parts: &[(&PathBuf, &str); 5]) -> Result<()> {
    let mut key = Key::new("raspi-card-1");
    for (_, k) in parts {
        key.str(k);
    }
    cached(out, key.finish(), || make_card(out, parts)).map(|_| ())
}

fn make_card(out: &Path, parts: &[(&PathBuf, &str); 5]) -> Result<()> {
    let [(autoboot, _), (boot_a, _), (boot_b, _), (rootfs, _), (data, _)] = *parts;
    let rootfs_len = fs::metadata(rootfs)?.len();
    ensure!(
        rootfs_len <= ROOTFS_MIB * MIB,
        "the root filesystem ({}) does not fit a {ROOTFS_MIB} MiB slot",
        sh::mib(rootfs_len)
    );
    let (layout, total_mib) = layout();
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    fs::File::create(&tmp)?.set_len(total_mib * MIB)?;
    run_with_input(
        Command::new("sfdisk")
            .args(["--quiet", "--no-reread", "--no-tell-kernel"])
            .arg(&tmp),
        &sfdisk_script(&layout),
    )?;
    // Table order: 1 autoboot, 2 boot-a, 3 boot-b, 4 extended, 5 rootfs-a, 6 rootfs-b, 7 data.
    let contents: [Option<&Path>; 7] = [
        Some(autoboot),
        Some(boot_a),
        Some(boot_b),
        None,
        Some(rootfs),
        None,
        Some(data),
    ];
    for (p, content) in layout.iter().zip(contents) {
        if let Some(src) = content {
            sh::run(
                Command::new("dd")
                    .arg(format!("if={}", src.display()))
                    .arg(format!("of={}", tmp.display()))
                    .args(["bs=1M", "conv=notrunc,sparse", "status=none"])
                    .arg(format!("seek={}", p.start)),
            )?;
        }
    }
    fs::rename(&tmp, out)?;
    Ok(())
}

/// Lets the arm64 packages' maintainer scripts run during mmdebstrap: binfmt_misc mounted and
/// qemu-user-static's aarch64 interpreter enabled (neither survives a reboot of the host).
pub(crate) fn ensure_binfmt() -> Result<()> {
    let dir = Path::new("/proc/sys/fs/binfmt_misc");
    if !dir.join("status").exists() {
        sh::run(
            Command::new("mount")
                .args(["-t", "binfmt_misc", "binfmt_misc"])
                .arg(dir),
        )
        .context("mounting binfmt_misc (as root)")?;
    }
    if !dir.join("qemu-aarch64").exists() {
        sh::run(Command::new("update-binfmts").args(["--enable", "qemu-aarch64"]))
            .context("enabling qemu-aarch64 (packages qemu-user-static, binfmt-support)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `size = N` of every `image NAME {` and `partition NAME {` block of genimage.cfg, and
    /// the hdimage's `align`.
    fn genimage_sizes() -> Vec<(String, String)> {
        let cfg = fs::read_to_string(
            workspace().join("buildroot-overlay/board/raspberrypi/genimage.cfg"),
        )
        .unwrap();
        let mut out = Vec::new();
        let mut block = String::new();
        for line in cfg.lines().map(str::trim) {
            if let Some(name) = line
                .strip_suffix('{')
                .map(str::trim)
                .filter(|l| l.starts_with("image ") || l.starts_with("partition "))
            {
                block = name.to_string();
            }
            for k in ["size", "align"] {
                if let Some(v) = line
                    .strip_prefix(k)
                    .and_then(|r| r.trim().strip_prefix('='))
                {
                    out.push((
                        format!("{block} {k}"),
                        v.trim().trim_matches('"').to_string(),
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn the_layout_is_genimages() {
        let sizes = genimage_sizes();
        let get = |k: &str| {
            sizes
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{k} in {sizes:?}"))
        };
        assert_eq!(get("image autoboot.vfat size"), format!("{AUTOBOOT_MIB}M"));
        assert_eq!(get("image boot-a.vfat size"), format!("{BOOT_MIB}M"));
        assert_eq!(get("image boot-b.vfat size"), format!("{BOOT_MIB}M"));
        assert_eq!(get("image data.ext4 size"), format!("{DATA_MIB}M"));
        assert_eq!(get("partition rootfs-a size"), format!("{ROOTFS_MIB}M"));
        assert_eq!(get("partition rootfs-b size"), format!("{ROOTFS_MIB}M"));
        assert_eq!(get("image sdcard.img align"), format!("{ALIGN_MIB}M"));
        let cfg = fs::read_to_string(
            workspace().join("buildroot-overlay/board/raspberrypi/genimage.cfg"),
        )
        .unwrap();
        assert!(cfg.contains(&format!("label = \"{DATA_LABEL}\"")));
    }

    #[test]
    fn partitions_are_where_the_board_overlay_expects_them() {
        let (parts, total) = layout();
        assert_eq!(parts.len(), 7);
        assert!(total.is_power_of_two());
        // p5 rootfs-a, p6 rootfs-b, p7 data as named in system.conf and fstab.
        assert_eq!(parts[4].size, ROOTFS_MIB);
        assert_eq!(parts[5].size, ROOTFS_MIB);
        assert_eq!(parts[6].size, DATA_MIB);
        assert_eq!(parts[3].ty, TYPE_EXTENDED);
        let ext_end = parts[3].start + parts[3].size;
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.start % ALIGN_MIB, 0, "partition {}", i + 1);
            if i >= 4 {
                // Inside the extended partition, with room for the boot record before it.
                assert!(p.start > parts[i - 1].start, "partition {}", i + 1);
                assert!(p.start + p.size <= ext_end);
            }
            if i > 0 && i != 4 {
                assert!(p.start >= parts[i - 1].start + parts[i - 1].size);
            }
        }
        assert!(parts[4].start > parts[3].start);
        let board = workspace().join("buildroot-overlay/board/raspberrypi/rootfs-overlay");
        let conf = fs::read_to_string(board.join("etc/rauc/system.conf")).unwrap();
        for dev in [
            "/dev/mmcblk0p5",
            "/dev/mmcblk0p6",
            "/dev/mmcblk0p2",
            "/dev/mmcblk0p3",
        ] {
            assert!(conf.contains(&format!("device={dev}")), "{dev}");
        }
        let fstab = fs::read_to_string(board.join("etc/fstab")).unwrap();
        assert!(fstab.contains("/dev/mmcblk0p7"));
        assert!(CMDLINE.contains("root=/dev/mmcblk0p5 ") && CMDLINE.contains("rauc.slot=A"));
    }

    #[test]
    fn the_sfdisk_script_names_every_partition() {
        let (parts, _) = layout();
        let s = sfdisk_script(&parts);
        assert!(s.starts_with("label: dos\n"));
        assert_eq!(s.lines().filter(|l| l.starts_with("start=")).count(), 7);
        assert!(s.contains("start=8192, size=16384, type=c, bootable\n"));
    }
}
