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
//!
//! The device tree is Debian's with the changes the Pi firmware would make ([`dt_edits`]),
//! among them the `simple-framebuffer` node through which Linux finds the firmware's
//! framebuffer: QEMU's raspi3b shows [`FRAMEBUFFER`] from reset, in the VideoCore's memory at
//! the top of RAM, which QEMU already leaves out of the memory node it writes.

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
rootfstype=squashfs ro rootwait rauc.slot=A panic=5 vt.global_cursor_default=0";

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

/// The VC4 display driver's node. QEMU emulates none of what vc4 drives (HVS, pixel valves,
/// HDMI), and vc4 removes the firmware's framebuffer before it finds that out: disabled.
const DTB_VC4: &str = "/soc/gpu";

/// The board's memory in MiB: a Pi 3 has 1 GiB (`qemu::Machine::raspi3b` gives QEMU as much;
/// a test holds the two together).
pub const MEMORY_MIB: u32 = 1024;

/// The VideoCore's share of the memory, at its top: QEMU's raspi3b (7.2) puts it at RAM size
/// minus `vcram-size` (`hw/arm/bcm2835_peripherals.c`), 64 MiB unless told otherwise
/// (`DEFAULT_VCRAM_SIZE` of `hw/display/bcm2835_fb.c`), and tells Linux only of the memory
/// below it (`hw/arm/raspi.c`). A Pi's firmware splits the memory the same way (`gpu_mem`).
pub const VCRAM_SIZE: u32 = 64 << 20;
pub const VCRAM_BASE: u32 = (MEMORY_MIB << 20) - VCRAM_SIZE;

/// A framebuffer in memory, as a `simple-framebuffer` node describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framebuffer {
    /// Physical address of the first pixel.
    pub base: u32,
    pub width: u32,
    pub height: u32,
    pub bytes_per_pixel: u32,
    /// The pixel layout as the simple-framebuffer binding names it.
    pub format: &'static str,
}

impl Framebuffer {
    /// Bytes from one line to the next (no padding).
    pub const fn stride(&self) -> u32 {
        self.width * self.bytes_per_pixel
    }

    pub const fn size(&self) -> u32 {
        self.stride() * self.height
    }
}

/// The framebuffer QEMU's raspi3b shows from reset, before any mailbox call (QEMU 7.2,
/// `hw/display/bcm2835_fb.c`: the `xres`, `yres`, `bpp` and `pixo` properties' defaults, at
/// `vcram_base + BCM2835_FB_OFFSET`): 640x480, 16 bits per pixel, red in the top bits
/// (`pixo` 1 is RGB). A real Pi's firmware sets its framebuffer up the same way before the
/// kernel starts, and describes it in the device tree; here [`dt_edits`] does.
pub const FRAMEBUFFER: Framebuffer = Framebuffer {
    base: VCRAM_BASE + (1 << 20),
    width: 640,
    height: 480,
    bytes_per_pixel: 2,
    format: "r5g6b5",
};

/// One change to the device tree: the options and arguments of an `fdtput` run, the file
/// going between them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DtEdit {
    options: &'static [&'static str],
    args: Vec<String>,
}

fn dt_edit(options: &'static [&'static str], args: &[&str]) -> DtEdit {
    DtEdit {
        options,
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

/// What the Pi firmware would change in Debian's device tree before starting the kernel, and
/// what QEMU needs beyond that:
///
/// - the PL011 freed from Bluetooth ([`DTB_NO_BT_ON_PL011`]);
/// - vc4 disabled ([`DTB_VC4`]);
/// - [`FRAMEBUFFER`] as a `simple-framebuffer` node under `/chosen` (made a bus for it, as
///   the binding's example does), which Debian's built-in simplefb driver turns into
///   `/dev/fb0`;
/// - the VideoCore's memory as a `no-map` reserved region: QEMU's memory node already ends
///   below it, but the device tree itself should not let Linux use the pixels QEMU shows.
fn dt_edits() -> Vec<DtEdit> {
    let fb = FRAMEBUFFER;
    let node = format!("/chosen/framebuffer@{:x}", fb.base);
    let vcram = format!("/reserved-memory/vcram@{VCRAM_BASE:x}");
    let hex = |v: u32| format!("{v:x}");
    let dec = |v: u32| v.to_string();
    vec![
        dt_edit(&["-r"], &[DTB_NO_BT_ON_PL011]),
        dt_edit(&["-t", "s"], &[DTB_VC4, "status", "disabled"]),
        dt_edit(&["-t", "u"], &["/chosen", "#address-cells", "1"]),
        dt_edit(&["-t", "u"], &["/chosen", "#size-cells", "1"]),
        dt_edit(&[], &["/chosen", "ranges"]),
        dt_edit(&["-c"], &[&node]),
        dt_edit(&["-t", "s"], &[&node, "compatible", "simple-framebuffer"]),
        dt_edit(
            &["-t", "x"],
            &[&node, "reg", &hex(fb.base), &hex(fb.size())],
        ),
        dt_edit(&["-t", "u"], &[&node, "width", &dec(fb.width)]),
        dt_edit(&["-t", "u"], &[&node, "height", &dec(fb.height)]),
        dt_edit(&["-t", "u"], &[&node, "stride", &dec(fb.stride())]),
        dt_edit(&["-t", "s"], &[&node, "format", fb.format]),
        dt_edit(&["-c"], &[&vcram]),
        dt_edit(
            &["-t", "x"],
            &[&vcram, "reg", &hex(VCRAM_BASE), &hex(VCRAM_SIZE)],
        ),
        dt_edit(&[], &[&vcram, "no-map"]),
    ]
}

/// Lines added to the board's fstab in this Debian image. Buildroot mounts all of `/var` as a
/// tmpfs filled from `/usr/share/factory` (the root is read-only); Debian's `/var` is on the
/// read-only root, so what is written there at run time gets a tmpfs of its own, as in the
/// x86_64 board's fstab (logind's state, the random seed, logs, temporary files).
const FSTAB_VAR: &str = "\
# cargo xtask (Debian test image): Debian's /var is on the read-only root; Buildroot's is a tmpfs.
tmpfs            /var/tmp             tmpfs  mode=1777,nosuid,nodev,size=16m               0      0
tmpfs            /var/log             tmpfs  mode=0755,nosuid,nodev,size=16m               0      0
tmpfs            /var/lib/systemd     tmpfs  mode=0755,nosuid,nodev,size=8m                0      0
";

/// Files the test image adds for QEMU (path below the root, content): QEMU's display stands in
/// for the phone's SPI LCD, and the UI starts without the lamps board.
///
/// - The board's udev rule names the LCD `/dev/deskphone-lcd`, which the board's UI drop-in
///   draws on; here that name goes to the framebuffer QEMU shows ([`FRAMEBUFFER`], simplefb).
/// - The board's UI drop-in lets the UI write the lamps' sysfs directory, which exists only
///   with the lamps overlay; systemd refuses to start a unit whose `ReadWritePaths=` is
///   missing, unless the path has a `-` in front. (Sorts after the board's `raspberrypi.conf`.)
const QEMU_FILES: &[(&str, &str)] = &[
    (
        "etc/udev/rules.d/71-deskphone-qemu-lcd.rules",
        "# cargo xtask (QEMU raspi3b test image): QEMU's display, the firmware framebuffer the\n\
         # device tree describes, is the phone's LCD.\n\
         SUBSYSTEM==\"graphics\", KERNEL==\"fb[0-9]*\", DRIVERS==\"simple-framebuffer\", \
         SYMLINK+=\"deskphone-lcd\"\n",
    ),
    (
        "etc/systemd/system/ui.service.d/zz-qemu-raspi3b.conf",
        "# cargo xtask (QEMU raspi3b test image): no lamps board, so no deskphone-lamps device.\n\
         [Service]\n\
         ReadWritePaths=\n\
         ReadWritePaths=-/sys/devices/platform/deskphone-lamps\n",
    ),
];

/// What [`adapt_rootfs`] adds, for the root filesystem's cache key.
pub(crate) fn rootfs_inputs() -> String {
    format!("{FSTAB_VAR}{QEMU_FILES:?}")
}

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

/// Applies `edits` to the device tree blob `dtb` in place.
fn edit_dtb(dtb: &Path, edits: &[DtEdit]) -> Result<()> {
    for edit in edits {
        sh::run(
            Command::new("fdtput")
                .args(edit.options)
                .arg(dtb)
                .args(&edit.args),
        )
        .context("changing the Pi 3 device tree (fdtput, package device-tree-compiler)")?;
    }
    Ok(())
}

/// Slot A's boot files: the kernel, initramfs and Pi 3 device tree (with [`dt_edits`]) of the
/// base's linux-image-arm64, `config.txt` and `cmdline.txt`.
fn boot_files(base: &Path, out: &Path) -> Result<String> {
    let edits = dt_edits();
    let mut key = Key::new("raspi-boot-2");
    key.str(&base.file_name().expect("name").to_string_lossy())
        .str(CMDLINE)
        .str(CONFIG_TXT)
        .str(&format!("{edits:?}"));
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
        edit_dtb(&out.join(DTB), &edits)?;
        fs::write(out.join("cmdline.txt"), format!("{CMDLINE}\n"))?;
        fs::write(out.join("config.txt"), CONFIG_TXT)?;
        fs::remove_dir_all(&work)?;
        Ok(())
    })
}

/// What the aarch64 root filesystem needs beyond the overlays: the kernel, initramfs and
/// device trees live in the boot partitions, not in the root; `/var`'s writable directories
/// get a tmpfs ([`FSTAB_VAR`]); QEMU's display is the LCD ([`QEMU_FILES`]).
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
    for (path, content) in QEMU_FILES {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("below the root"))?;
        fs::write(&path, content)?;
    }
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
    fn the_framebuffer_is_qemus_at_the_top_of_the_memory() {
        let fb = FRAMEBUFFER;
        assert_eq!((fb.stride(), fb.size()), (1280, 614_400));
        assert_eq!(VCRAM_BASE, 0x3c00_0000);
        assert_eq!(fb.base, 0x3c10_0000);
        assert!(fb.base + fb.size() <= VCRAM_BASE + VCRAM_SIZE);
        // QEMU's memory is the board's: the VideoCore's share sits where this says.
        let boot = crate::qemu::DirectBoot {
            kernel: PathBuf::new(),
            dtb: PathBuf::new(),
            initrd: PathBuf::new(),
            cmdline: String::new(),
        };
        let machine = crate::qemu::Machine::raspi3b(PathBuf::new(), boot, PathBuf::new());
        assert_eq!(machine.memory_mib, MEMORY_MIB);
    }

    /// Runs `cmd`, returns its output; `None` if it failed.
    fn output(cmd: &mut Command) -> Option<String> {
        let out = cmd.output().expect("device-tree-compiler installed");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    #[test]
    fn the_device_tree_edits_describe_the_framebuffer() {
        // The nodes of Debian's Pi 3 device tree the edits touch.
        let dts = "/dts-v1/;\n/ {\n#address-cells = <1>; #size-cells = <1>;\n\
            chosen { stdout-path = \"serial1:115200n8\"; };\n\
            reserved-memory { #address-cells = <1>; #size-cells = <1>; ranges; };\n\
            soc { serial@7e201000 { bluetooth { compatible = \"brcm,bcm43438-bt\"; }; };\n\
            gpu { compatible = \"brcm,bcm2835-vc4\"; }; };\n};\n";
        let dir = tempfile::tempdir().unwrap();
        let (source, dtb) = (dir.path().join("pi.dts"), dir.path().join("pi.dtb"));
        fs::write(&source, dts).unwrap();
        sh::run(
            Command::new("dtc")
                .args(["-q", "-I", "dts", "-O", "dtb", "-o"])
                .arg(&dtb)
                .arg(&source),
        )
        .unwrap();
        edit_dtb(&dtb, &dt_edits()).unwrap();

        let get = |args: &[&str]| {
            output(
                Command::new("fdtget")
                    .args(&args[..1])
                    .arg(&dtb)
                    .args(&args[1..]),
            )
        };
        let fb = "/chosen/framebuffer@3c100000";
        assert_eq!(
            get(&["-ts", fb, "compatible"]).as_deref(),
            Some("simple-framebuffer")
        );
        assert_eq!(get(&["-tx", fb, "reg"]).as_deref(), Some("3c100000 96000"));
        assert_eq!(get(&["-tu", fb, "width"]).as_deref(), Some("640"));
        assert_eq!(get(&["-tu", fb, "height"]).as_deref(), Some("480"));
        assert_eq!(get(&["-tu", fb, "stride"]).as_deref(), Some("1280"));
        assert_eq!(get(&["-ts", fb, "format"]).as_deref(), Some("r5g6b5"));
        // /chosen translates its children's addresses one to one.
        assert_eq!(
            get(&["-tu", "/chosen", "#address-cells"]).as_deref(),
            Some("1")
        );
        assert_eq!(
            get(&["-tu", "/chosen", "#size-cells"]).as_deref(),
            Some("1")
        );
        assert_eq!(get(&["-tx", "/chosen", "ranges"]).as_deref(), Some(""));
        let vcram = "/reserved-memory/vcram@3c000000";
        assert_eq!(
            get(&["-tx", vcram, "reg"]).as_deref(),
            Some("3c000000 4000000")
        );
        assert_eq!(get(&["-tx", vcram, "no-map"]).as_deref(), Some(""));
        assert_eq!(
            get(&["-ts", DTB_VC4, "status"]).as_deref(),
            Some("disabled")
        );
        assert_eq!(get(&["-l", "/soc/serial@7e201000"]).as_deref(), Some(""));
    }

    #[test]
    fn qemus_display_is_the_lcd_the_boards_ui_draws_on() {
        let board = workspace().join("buildroot-overlay/board/raspberrypi/rootfs-overlay");
        let dropins = board.join("usr/lib/systemd/system/ui.service.d");
        let (rule, ui) = (QEMU_FILES[0], QEMU_FILES[1]);
        assert!(rule.1.contains("SYMLINK+=\"deskphone-lcd\""));
        let mut fbdev = None;
        for e in fs::read_dir(&dropins).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Drop-ins apply in file-name order whatever their directory: the test image's
            // ReadWritePaths= reset comes after the board's.
            assert!(
                *ui.0.rsplit('/').next().unwrap() > *name,
                "{} sorts before {name}",
                ui.0
            );
            let text = fs::read_to_string(e.path()).unwrap();
            if let Some(at) = text.find("--fbdev ") {
                fbdev = text[at + 8..].split_whitespace().next().map(str::to_string);
            }
        }
        assert_eq!(fbdev.as_deref(), Some("/dev/deskphone-lcd"));
        assert!(ui.0.starts_with("etc/systemd/system/ui.service.d/"));
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
