//! `cargo xtask image`: the bootable test image.
//!
//! x86_64 disk (GPT, 1 MiB aligned):
//!
//! | partition | label | content |
//! | --- | --- | --- |
//! | 1 | `esp` | FAT: `EFI/BOOT/BOOTX64.EFI` (GRUB), `grub.cfg`, `grubenv` (RAUC's boot state) |
//! | 2 | `rootfs-a` | squashfs: the root filesystem with its own `/boot/vmlinuz` and initramfs |
//! | 3 | `rootfs-b` | empty until the first update installs into it (`B_OK=0`) |
//! | 4 | `data` | ext4, mounted at `/var/lib/deskphone`: flash store, RAUC status, bundles |
//!
//! The root filesystems are squashfs: read-only by construction (nothing can remount them
//! writable, no fsck or journal replay after a power cut), about a third of the size of the
//! files, which also makes update bundles small, and the same format the Buildroot image uses.
//! gzip rather than xz or zstd because GRUB reads the kernel from it and GRUB 2.06 reads
//! squashfs only with gzip, xz or lzo, and gzip is the cheapest of those to decompress under
//! TCG emulation.
//!
//! aarch64: the Raspberry Pi SD card of [`crate::raspi`] (the same root filesystem steps, the
//! binaries cross-built with Debian's rustc-web, the Pi board's overlay).
//!
//! Steps, each cached under `target/image/` by a hash of its inputs:
//! release binaries (cargo) → Debian base tarball (mmdebstrap; keyed on the package list and
//! the hook scripts) → root filesystem (base + overlays + binaries + version + keyring) →
//! ESP (GRUB from the base, `grub.cfg` from the board directory) → data → disk.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};

use crate::sh::{self, step};
use crate::{image_dir, target_dir, workspace, Arch};

/// Debian release the images are built from.
const SUITE: &str = "bookworm";

/// Where the packages come from: the release with its updates and security updates.
const SOURCES: &[&str] = &[
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
];

/// Packages on top of `minbase` (x86_64). The services need rauc (with D-Bus) for updates,
/// polkit for provd's reboot, libasound2 for mediad's sound card (netd is the DHCP client); grub-common carries `grub-editenv`, which RAUC's grub backend calls.
const PACKAGES_X86_64: &[&str] = &[
    "systemd-sysv",
    "udev",
    "kmod",
    "iproute2",
    "dbus",
    "polkitd",
    "rauc",
    // RAUC's D-Bus service and systemd unit (Debian ships them apart from the binary).
    "rauc-service",
    // mediad (built with the alsa feature); with it come alsa.conf and the cards' profiles.
    "libasound2",
    "e2fsprogs",
    "grub-common",
    "grub-efi-amd64-bin",
    "linux-image-amd64",
    // Lets customize.sh purge usrmerge (and perl): the root is merged-/usr from the start.
    "usr-is-merged",
    // Test image only: the QEMU tests make uinput keypads and hook switches with it (a test
    // backend of the evdev path); a production image (Buildroot) has no such tool.
    "evemu-tools",
];

/// Packages on top of `minbase` (aarch64, the raspi3b image): those of x86_64 but GRUB (the
/// Pi's firmware boots it, and RAUC's tryboot backend needs no grub-editenv), with Debian's
/// arm64 kernel (it carries the Pi 3's device tree).
const PACKAGES_AARCH64: &[&str] = &[
    "systemd-sysv",
    "udev",
    "kmod",
    "iproute2",
    "dbus",
    "polkitd",
    "rauc",
    "rauc-service",
    "libasound2",
    "e2fsprogs",
    "linux-image-arm64",
    "usr-is-merged",
];

/// The Rust target of the aarch64 image, built by Debian's rustc-web (rustup here has only
/// the host's standard library), in a target directory of its own so that the two compilers
/// never invalidate each other's builds.
const AARCH64_TARGET: &str = "aarch64-unknown-linux-gnu";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const CROSS_TARGET_DIR: &str = "cross-aarch64";

/// Bump when the aarch64-only steps of [`rootfs`] change.
const RECIPE_AARCH64: &str = "rootfs-aarch64-1";

/// The binaries installed to /usr/bin, from their cargo packages.
const BINARIES: &[(&str, &str)] = &[
    ("deskphone-provd", "provd"),
    ("deskphone-sipd", "sipd"),
    ("deskphone-mediad", "mediad"),
    ("deskphone-ui", "ui"),
    ("deskphone-netd", "netd"),
    ("deskphone-console", "consoled"),
    ("phonectl", "phonectl"),
];

/// Cargo features of the image's build: mediad drives the sound card through ALSA (its unit
/// runs it with `--alsa-device default`).
const FEATURES: &str = "deskphone-mediad/alsa";

/// Where Debian's multiarch arm64 libraries keep their pkg-config files (alsa-sys asks
/// pkg-config for libasound; `libasound2-dev:arm64`).
const AARCH64_PKG_CONFIG_LIBDIR: &str = "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig";

/// Bump when the recipe below changes in a way the input hashes cannot see.
const RECIPE: &str = "rootfs-1";

const MIB: u64 = 1024 * 1024;
/// Partition sizes in MiB. A slot leaves room for images larger than today's.
const ESP_MIB: u64 = 32;
const SLOT_MIB: u64 = 512;
const DATA_MIB: u64 = 256;

/// GPT partition type GUIDs.
const TYPE_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const TYPE_LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// Where GRUB's EFI binary is left in the base by `image/debian/customize.sh`.
const GRUB_EFI_IN_BASE: &str = "usr/lib/deskphone/grub/BOOTX64.EFI";

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    pub arch: Arch,
    /// The firmware version (`/etc/deskphone/image_version`).
    pub version: String,
    /// Test-only changes (none for a normal image).
    pub variant: Variant,
}

impl Options {
    /// The normal image of `version`.
    pub fn new(arch: Arch, version: &str) -> Options {
        Options {
            arch,
            version: version.to_string(),
            variant: Variant::default(),
        }
    }
}

/// Test-only changes to an image, for the update tests: never in a release. An image with a
/// variant builds in its own directory (`<version>@<variant>`), beside the normal one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    /// `/usr/bin/provd` is a program that exits 1: the phone's services never become healthy,
    /// nothing confirms the boot, and only the boot deadline falls back (the rollback test).
    pub break_services: bool,
    /// The boot deadline of `deskphone-boot-check.service` in seconds (a drop-in), instead of
    /// the unit's default, so that a test does not wait minutes for a fallback.
    pub boot_deadline: Option<u32>,
}

impl Variant {
    /// `""` for the normal image, else `@...` (never part of a version: `@` is not allowed).
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        if self.break_services {
            s.push_str("@broken-services");
        }
        if let Some(d) = self.boot_deadline {
            s.push_str(&format!("@boot-deadline-{d}"));
        }
        s
    }
}

/// The contents of `/usr/bin/provd` in an image with [`Variant::break_services`].
const BROKEN_PROVD: &str = "#!/bin/sh\n\
# Test image (cargo xtask --break-services): the provisioning agent never starts.\n\
echo \"provd: broken on purpose (test image built with --break-services)\" >&2\n\
exit 1\n";

/// Where a boot deadline drop-in of [`Variant::boot_deadline`] goes in the image.
const BOOT_DEADLINE_DROP_IN: &str =
    "usr/lib/systemd/system/deskphone-boot-check.service.d/50-test-deadline.conf";

/// A built image.
#[derive(Debug, Clone)]
pub struct Image {
    pub arch: Arch,
    pub version: String,
    /// The whole disk (raw). Boot copies of it, never it.
    pub disk: PathBuf,
    /// Slot A's root filesystem (squashfs): what an update bundle carries.
    pub rootfs: PathBuf,
    /// The boot partition: the ESP on x86_64, slot A's boot partition on aarch64.
    pub esp: PathBuf,
}

impl Image {
    /// The directory of this image's files.
    pub fn dir(&self) -> &Path {
        self.disk.parent().expect("image dir")
    }
}

impl Image {
    /// Where the image of `opts` is (built or not).
    pub fn locate(opts: &Options) -> Image {
        let dir = image_dir().join(opts.arch.name()).join(format!(
            "{}{}",
            opts.version,
            opts.variant.suffix()
        ));
        let esp = match opts.arch {
            Arch::X86_64 => dir.join("esp.img"),
            Arch::Aarch64 => dir.join("boot-a.vfat"),
        };
        Image {
            arch: opts.arch,
            version: opts.version.clone(),
            disk: dir.join("disk.img"),
            rootfs: dir.join("rootfs.squashfs"),
            esp,
        }
    }
}

/// Builds (or finds up to date) the image, holding `target/image/.lock` meanwhile so that
/// parallel builds (several test binaries) wait for one another instead of racing.
pub fn build(opts: &Options) -> Result<Image> {
    check(opts)?;
    let _lock = lock(&image_dir().join(".lock"))?;
    let start = Instant::now();
    let (image, rootfs_key, base) = build_rootfs_locked(opts)?;
    if opts.arch == Arch::Aarch64 {
        let files = crate::raspi::sd_card(&image, &rootfs_key, &base)?;
        log_sizes(opts, start, &files)?;
        return Ok(image);
    }
    let esp_key = step("EFI system partition", || esp(&base, &image.esp))?;
    let data = image.dir().join("data.img");
    let data_key = step("data partition", || data_partition(&data))?;
    step("disk", || {
        disk(
            &image.disk,
            &[
                (&image.esp, &esp_key),
                (&image.rootfs, &rootfs_key),
                (&data, &data_key),
            ],
        )
    })?;

    log_sizes(
        opts,
        start,
        &[
            ("root filesystem (slot A)", image.rootfs.clone()),
            ("ESP", image.esp.clone()),
            ("disk", image.disk.clone()),
        ],
    )?;
    Ok(image)
}

/// The end of a build: its time and the sizes of its outputs.
fn log_sizes(opts: &Options, start: Instant, files: &[(&str, PathBuf)]) -> Result<()> {
    sh::log(&format!(
        "image {}{} ({}) ready in {}:",
        opts.version,
        opts.variant.suffix(),
        opts.arch,
        sh::secs(start.elapsed())
    ));
    for (what, path) in files {
        let m = fs::metadata(path)?;
        sh::log(&format!(
            "  {what:<26} {:>10} ({} allocated)  {}",
            sh::mib(m.len()),
            sh::mib(m.blocks() * 512),
            path.display()
        ));
    }
    Ok(())
}

/// The version must name a file here and on the TFTP server (`<version>.bin`); the host
/// tools must be there.
pub(crate) fn check(opts: &Options) -> Result<()> {
    let v = &opts.version;
    if v.is_empty()
        || v.starts_with(['-', '.'])
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
    {
        bail!("--version {v:?}: letters, digits and . _ + - only, not first . or -");
    }
    sh::require_tools(&[
        ("mmdebstrap", "mmdebstrap"),
        ("mksquashfs", "squashfs-tools"),
        ("mkfs.vfat", "dosfstools"),
        ("mcopy", "mtools"),
        ("mmd", "mtools"),
        ("sfdisk", "fdisk"),
        ("mkfs.ext4", "e2fsprogs"),
        ("openssl", "openssl"),
        ("systemd-sysusers", "systemd"),
        ("systemctl", "systemd"),
        // alsa-sys (mediad's alsa feature) finds libasound with it.
        ("pkg-config", "pkg-config"),
    ])?;
    if opts.arch == Arch::Aarch64 {
        sh::require_tools(&[
            ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
            ("aarch64-linux-gnu-strip", "binutils-aarch64-linux-gnu"),
            ("update-binfmts", "binfmt-support"),
            ("qemu-aarch64-static", "qemu-user-static"),
            // mmdebstrap checks with it that arm64 binaries can run here.
            ("arch-test", "arch-test"),
            ("fdtput", "device-tree-compiler"),
        ])?;
        let std = Path::new("/usr/lib/rustlib").join(AARCH64_TARGET);
        if !Path::new(DEBIAN_RUSTC).is_file() || !std.is_dir() {
            bail!(
                "the aarch64 image needs Debian's rustc-web and libstd-rust-web-dev:arm64 \
                 ({DEBIAN_RUSTC}, {}); run ./scripts/setup-host as root",
                std.display()
            );
        }
        let alsa =
            Path::new(AARCH64_PKG_CONFIG_LIBDIR.split(':').next().expect("dir")).join("alsa.pc");
        if !alsa.is_file() {
            bail!(
                "mediad for aarch64 links the arm64 libasound: no {} (libasound2-dev:arm64); \
                 run ./scripts/setup-host as root",
                alsa.display()
            );
        }
        crate::raspi::ensure_binfmt()?;
    }
    fs::create_dir_all(image_dir())?;
    Ok(())
}

/// The steps up to the root filesystem (all an update bundle needs), with the build lock
/// held by the caller. Returns the image's paths, the root filesystem's input key and the
/// Debian base.
pub(crate) fn build_rootfs_locked(opts: &Options) -> Result<(Image, String, PathBuf)> {
    let image = Image::locate(opts);
    fs::create_dir_all(image.dir())?;
    let bins_step = || {
        step("release binaries (cargo build --release)", || {
            build_binaries(opts.arch)
        })
    };
    let base_step = || step("Debian base (mmdebstrap)", || base_tarball(opts.arch));
    let (bins, base) = if opts.arch == Arch::Aarch64 {
        // An arm64 base is mostly dpkg under qemu-user, on one core: the cross build takes the
        // other one meanwhile (their logs interleave).
        let (bins, base) = std::thread::scope(|s| {
            let bins = s.spawn(bins_step);
            let base = base_step();
            (bins.join().expect("the cargo build thread"), base)
        });
        (bins?, base?)
    } else {
        (bins_step()?, base_step()?)
    };
    let signer = step("development signing key", dev_key)?;
    let rootfs_key = step("root filesystem (squashfs)", || {
        rootfs(&base, &bins, &signer.cert, opts, &image.rootfs)
    })?;
    Ok((image, rootfs_key, base))
}

/// An exclusive `flock` held until dropped.
pub(crate) fn lock(path: &Path) -> Result<nix::fcntl::Flock<fs::File>> {
    use nix::fcntl::{Flock, FlockArg};
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(l),
        Err((file, _)) => {
            sh::log(&format!(
                "waiting for another image build ({})",
                path.display()
            ));
            Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))
        }
    }
}

/// A hash of a step's inputs.
pub(crate) struct Key(Sha256);

impl Key {
    pub(crate) fn new(what: &str) -> Key {
        let mut k = Key(Sha256::new());
        k.str(what);
        k
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    pub(crate) fn file(&mut self, path: &Path) -> Result<&mut Self> {
        let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(self.bytes(&data))
    }

    /// Every entry below `dir`: its path, kind, mode and content or link target.
    fn tree(&mut self, dir: &Path) -> Result<&mut Self> {
        let mut entries = Vec::new();
        walk(dir, dir, &mut entries)?;
        entries.sort();
        for rel in entries {
            let p = dir.join(&rel);
            let m = fs::symlink_metadata(&p)?;
            self.str(&rel.to_string_lossy());
            self.str(&format!("{:o}", m.permissions().mode()));
            if m.file_type().is_symlink() {
                self.str(&fs::read_link(&p)?.to_string_lossy());
            } else if m.is_file() {
                self.file(&p)?;
            }
        }
        Ok(self)
    }

    pub(crate) fn finish(&self) -> String {
        let d = self.0.clone().finalize();
        d.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let p = e.path();
        out.push(p.strip_prefix(root)?.to_path_buf());
        if e.file_type()?.is_dir() {
            walk(root, &p, out)?;
        }
    }
    Ok(())
}

fn key_file(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".key");
    PathBuf::from(s)
}

/// True when `output` exists and was made from inputs hashing to `key`.
pub(crate) fn fresh(output: &Path, key: &str) -> bool {
    output.exists() && fs::read_to_string(key_file(output)).is_ok_and(|k| k.trim() == key)
}

pub(crate) fn seal(output: &Path, key: &str) -> Result<()> {
    fs::write(key_file(output), format!("{key}\n"))?;
    Ok(())
}

pub(crate) fn tmp_path(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn overlays(arch: Arch) -> Vec<PathBuf> {
    let w = workspace();
    // This board: partitions, RAUC's grub (x86_64) or tryboot (Pi) backend.
    let board = match arch {
        Arch::X86_64 => "buildroot-overlay/board/qemu-x86_64/rootfs-overlay",
        Arch::Aarch64 => "buildroot-overlay/board/raspberrypi/rootfs-overlay",
    };
    vec![
        // Shared with the Buildroot image, copied as is.
        w.join("buildroot-overlay/rootfs-overlay"),
        w.join(board),
        // The test image only (root autologin on the serial console).
        w.join("image/test-overlay"),
    ]
}

/// `cargo build --release` of the phone's binaries; returns their paths.
fn build_binaries(arch: Arch) -> Result<Vec<(String, PathBuf)>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked"]);
    for (pkg, _) in BINARIES {
        cmd.args(["-p", pkg]);
    }
    cmd.args(["--features", FEATURES]);
    cmd.current_dir(workspace());
    let out = match arch {
        Arch::X86_64 => target_dir().join("release"),
        Arch::Aarch64 => {
            // Debian's compiler for this build only (the linker is in .cargo/config.toml).
            let dir = target_dir().join(CROSS_TARGET_DIR);
            // pkg-config answers for the host unless told otherwise; these names (suffixed
            // with the target) reach only the target's build scripts.
            let target_env = AARCH64_TARGET.replace('-', "_");
            cmd.args(["--target", AARCH64_TARGET])
                .env("RUSTC", DEBIAN_RUSTC)
                .env("CARGO_TARGET_DIR", &dir)
                .env(format!("PKG_CONFIG_ALLOW_CROSS_{target_env}"), "1")
                .env(
                    format!("PKG_CONFIG_LIBDIR_{target_env}"),
                    AARCH64_PKG_CONFIG_LIBDIR,
                )
                .env_remove("RUSTC_WRAPPER")
                .env_remove("RUSTC_WORKSPACE_WRAPPER");
            sh::log(&format!(
                "+ RUSTC={DEBIAN_RUSTC} CARGO_TARGET_DIR={} \
                 PKG_CONFIG_ALLOW_CROSS_{target_env}=1 \
                 PKG_CONFIG_LIBDIR_{target_env}={AARCH64_PKG_CONFIG_LIBDIR}",
                dir.display()
            ));
            dir.join(AARCH64_TARGET).join("release")
        }
    };
    sh::run(&mut cmd)?;
    Ok(BINARIES
        .iter()
        .map(|(_, bin)| (bin.to_string(), out.join(bin)))
        .collect())
}

/// The Debian base root filesystem as a tarball, cached under `target/image/cache/` by a hash
/// of everything that goes into it (so a changed package list builds a new one).
fn base_tarball(arch: Arch) -> Result<PathBuf> {
    let debian = workspace().join("image/debian");
    let setup = debian.join("setup.sh");
    let customize = debian.join("customize.sh");
    let (debian_arch, packages) = match arch {
        Arch::X86_64 => ("amd64", PACKAGES_X86_64),
        Arch::Aarch64 => ("arm64", PACKAGES_AARCH64),
    };
    let mut args: Vec<String> = vec![
        "--variant=minbase".into(),
        format!("--architectures={debian_arch}"),
        "--format=tar".into(),
        format!("--include={}", packages.join(",")),
        "--aptopt=Acquire::Languages \"none\"".into(),
    ];
    // Documentation and translations never reach the disk (copyright files do).
    for opt in [
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
    ] {
        args.push(format!("--dpkgopt={opt}"));
    }
    let mut key = Key::new("base");
    key.str(arch.name()).str(SUITE);
    for a in args
        .iter()
        .map(String::as_str)
        .chain(SOURCES.iter().copied())
    {
        key.str(a);
    }
    key.file(&setup)?.file(&customize)?;
    let key = key.finish();
    let cache = image_dir().join("cache");
    fs::create_dir_all(&cache)?;
    let name = format!("debian-{SUITE}-{}-", arch.name());
    let out = cache.join(format!("{name}{key}.tar"));
    if out.exists() {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(out);
    }
    let tmp = tmp_path(&out);
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(&args)
        .arg(format!("--setup-hook={}", setup.display()))
        .arg(format!("--customize-hook={}", customize.display()))
        .arg(SUITE)
        .arg(&tmp)
        .args(SOURCES);
    sh::run(&mut cmd)?;
    fs::rename(&tmp, &out)?;
    // Older bases of this arch are dead weight (hundreds of MB each).
    for e in fs::read_dir(&cache)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&name) && e.path() != out {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(out)
}

/// A key and certificate that sign RAUC bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub key: PathBuf,
    pub cert: PathBuf,
}

/// A development signing key and certificate for RAUC bundles, made once per checkout under
/// `target/image/keys/` (never committed). The image trusts the certificate.
pub fn dev_key() -> Result<Signer> {
    let dir = image_dir().join("keys");
    let key = dir.join("dev.key.pem");
    let cert = dir.join("dev.cert.pem");
    if key.exists() && cert.exists() {
        sh::log(&format!("cached: {}", cert.display()));
        return Ok(Signer { key, cert });
    }
    fs::create_dir_all(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    sh::run(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "3650", "-subj"])
            .arg("/O=deskphone/CN=deskphone development key")
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    )?;
    Ok(Signer { key, cert })
}

/// Slot A's root filesystem: the base, the overlays, the binaries, the version and the
/// keyring (and a test variant's changes), as a squashfs. Returns its input key.
fn rootfs(
    base: &Path,
    bins: &[(String, PathBuf)],
    cert: &Path,
    opts: &Options,
    out: &Path,
) -> Result<String> {
    let version = opts.version.as_str();
    let mut key = Key::new(RECIPE);
    if opts.arch == Arch::Aarch64 {
        key.str(RECIPE_AARCH64).str(&crate::raspi::rootfs_inputs());
    }
    key.str(&opts.variant.suffix());
    key.str(&base.file_name().expect("name").to_string_lossy());
    for o in overlays(opts.arch) {
        key.str(&o.to_string_lossy()).tree(&o)?;
    }
    for (name, path) in bins {
        key.str(name).file(path)?;
    }
    key.file(cert)?.str(version);
    let key = key.finish();
    if fresh(out, &key) {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(key);
    }

    let root = out.with_extension("d");
    if root.exists() {
        fs::remove_dir_all(&root)?;
    }
    fs::create_dir_all(&root)?;
    sh::run(
        Command::new("tar")
            .args(["--extract", "--numeric-owner", "--same-permissions"])
            .args(["--xattrs", "--xattrs-include=*", "--file"])
            .arg(base)
            .arg("--directory")
            .arg(&root),
    )?;
    for o in overlays(opts.arch) {
        // Contents only, symlinks as symlinks; new files belong to root (not preserved).
        sh::run(
            Command::new("cp")
                .args([
                    "-R",
                    "-P",
                    "--preserve=mode,timestamps",
                    "--remove-destination",
                ])
                .arg(format!("{}/.", o.display()))
                .arg(&root),
        )?;
    }
    for (name, path) in bins {
        let mut install = Command::new("install");
        install.args(["-m", "0755", "--strip"]);
        if opts.arch == Arch::Aarch64 {
            install.arg("--strip-program=aarch64-linux-gnu-strip");
        }
        sh::run(install.arg(path).arg(root.join("usr/bin").join(name)))?;
    }
    if opts.variant.break_services {
        let provd = root.join("usr/bin/provd");
        fs::write(&provd, BROKEN_PROVD)?;
        fs::set_permissions(&provd, fs::Permissions::from_mode(0o755))?;
    }
    if let Some(secs) = opts.variant.boot_deadline {
        let drop_in = root.join(BOOT_DEADLINE_DROP_IN);
        fs::create_dir_all(drop_in.parent().expect("drop-in dir"))?;
        fs::write(
            &drop_in,
            format!("# Test image (cargo xtask --boot-deadline {secs})\n[Service]\nEnvironment=DESKPHONE_BOOT_DEADLINE={secs}\n"),
        )?;
    }
    fs::create_dir_all(root.join("etc/deskphone"))?;
    fs::write(
        root.join("etc/deskphone/image_version"),
        format!("{version}\n"),
    )?;
    fs::create_dir_all(root.join("etc/rauc"))?;
    fs::copy(cert, root.join("etc/rauc/keyring.pem"))?;
    // Mount points of the ESP and the data partition (fstab).
    if opts.arch == Arch::X86_64 {
        fs::create_dir_all(root.join("efi"))?;
    }
    fs::create_dir_all(root.join("var/lib/deskphone"))?;
    if opts.arch == Arch::Aarch64 {
        crate::raspi::adapt_rootfs(&root)?;
    }
    // /etc is read-only on the phone: users and enabled units are made here, not at boot.
    sh::run(Command::new("systemd-sysusers").arg(format!("--root={}", root.display())))?;
    let units = preset_units(&root.join("usr/lib/systemd/system-preset"))?;
    if !units.is_empty() {
        sh::run(
            Command::new("systemctl")
                .arg(format!("--root={}", root.display()))
                .arg("preset")
                .args(&units),
        )?;
    }
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    sh::run(
        Command::new("mksquashfs")
            .arg(&root)
            .arg(&tmp)
            .args(["-noappend", "-comp", "gzip", "-Xcompression-level", "6"])
            .args(["-no-progress", "-quiet"]),
    )?;
    let size = fs::metadata(&tmp)?.len();
    if size > SLOT_MIB * MIB {
        bail!(
            "the root filesystem ({}) does not fit a {SLOT_MIB} MiB slot",
            sh::mib(size)
        );
    }
    fs::rename(&tmp, out)?;
    fs::remove_dir_all(&root)?;
    seal(out, &key)?;
    Ok(key)
}

/// Units named by `enable` lines of the project's preset files (`deskphone` in the name):
/// only those are preset, so Debian's own defaults stay as its packages left them.
fn preset_units(dir: &Path) -> Result<Vec<String>> {
    let mut units = Vec::new();
    let mut files: Vec<_> = fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("deskphone"))
        })
        .collect();
    files.sort();
    for f in files {
        for line in fs::read_to_string(&f)?.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("enable") {
                if let Some(u) = words.next() {
                    units.push(u.to_string());
                }
            }
        }
    }
    Ok(units)
}

/// The initial grubenv: slot A good and first, slot B empty. GRUB's environment block is
/// exactly 1024 bytes: a header, `NAME=value` lines, `#` padding.
fn grubenv() -> Vec<u8> {
    let mut s = String::from("# GRUB Environment Block\n");
    for v in ["ORDER=A B", "A_OK=1", "A_TRY=0", "B_OK=0", "B_TRY=0"] {
        s.push_str(v);
        s.push('\n');
    }
    let mut b = s.into_bytes();
    b.resize(1024, b'#');
    b
}

/// The ESP: GRUB (built into the base by customize.sh), grub.cfg, grubenv.
fn esp(base: &Path, out: &Path) -> Result<String> {
    let cfg = workspace().join("buildroot-overlay/board/qemu-x86_64/grub.cfg");
    let mut key = Key::new("esp-1");
    key.str(&base.file_name().expect("name").to_string_lossy())
        .file(&cfg)?
        .bytes(&grubenv())
        .str(&ESP_MIB.to_string());
    let key = key.finish();
    if fresh(out, &key) {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(key);
    }
    let work = out.with_extension("d");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    sh::run(
        Command::new("tar")
            .arg("--extract")
            .arg("--file")
            .arg(base)
            .arg("--directory")
            .arg(&work)
            .arg(format!("./{GRUB_EFI_IN_BASE}")),
    )?;
    fs::write(work.join("grubenv"), grubenv())?;
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    sh::run(
        Command::new("mkfs.vfat")
            .args(["-C", "-n", "ESP"])
            .arg(&tmp)
            .arg((ESP_MIB * 1024).to_string()),
    )?;
    let img = format!("{}", tmp.display());
    sh::run(Command::new("mmd").args(["-i", &img, "::/EFI", "::/EFI/BOOT"]))?;
    for (src, dst) in [
        (work.join(GRUB_EFI_IN_BASE), "::/EFI/BOOT/BOOTX64.EFI"),
        (cfg.clone(), "::/EFI/BOOT/grub.cfg"),
        (work.join("grubenv"), "::/EFI/BOOT/grubenv"),
    ] {
        sh::run(Command::new("mcopy").args(["-i", &img]).arg(&src).arg(dst))?;
    }
    fs::rename(&tmp, out)?;
    fs::remove_dir_all(&work)?;
    seal(out, &key)?;
    Ok(key)
}

/// An empty ext4 data partition, its inode tables written now rather than by the phone's
/// kernel in the background at first boot.
fn data_partition(out: &Path) -> Result<String> {
    let key = Key::new(&format!("data-1-{DATA_MIB}")).finish();
    if fresh(out, &key) {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(key);
    }
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    sh::run(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "data"])
            .args(["-E", "lazy_itable_init=0,lazy_journal_init=0"])
            .arg(&tmp)
            .arg(format!("{DATA_MIB}M")),
    )?;
    fs::rename(&tmp, out)?;
    seal(out, &key)?;
    Ok(key)
}

/// The GPT disk: partitions as laid out in the module documentation.
fn disk(out: &Path, parts: &[(&PathBuf, &String); 3]) -> Result<()> {
    let [(esp, esp_key), (rootfs, rootfs_key), (data, data_key)] = *parts;
    let mut key = Key::new("disk-1");
    key.str(esp_key).str(rootfs_key).str(data_key);
    let key = key.finish();
    if fresh(out, &key) {
        sh::log(&format!("cached: {}", out.display()));
        return Ok(());
    }
    // (label, type, size MiB, content)
    let layout: [(&str, &str, u64, Option<&Path>); 4] = [
        ("esp", TYPE_ESP, ESP_MIB, Some(esp)),
        ("rootfs-a", TYPE_LINUX, SLOT_MIB, Some(rootfs)),
        ("rootfs-b", TYPE_LINUX, SLOT_MIB, None),
        ("data", TYPE_LINUX, DATA_MIB, Some(data)),
    ];
    let total_mib = 1 + layout.iter().map(|p| p.2).sum::<u64>() + 1;
    let tmp = tmp_path(out);
    let _ = fs::remove_file(&tmp);
    fs::File::create(&tmp)?.set_len(total_mib * MIB)?;
    let mut script = String::from("label: gpt\nunit: sectors\nfirst-lba: 2048\n");
    let mut start_mib = 1;
    for (label, ty, size, _) in &layout {
        script.push_str(&format!(
            "start={}, size={}, type={ty}, name=\"{label}\"\n",
            start_mib * 2048,
            size * 2048
        ));
        start_mib += size;
    }
    run_with_input(
        Command::new("sfdisk")
            .args(["--quiet", "--no-reread", "--no-tell-kernel"])
            .arg(&tmp),
        &script,
    )?;
    let mut start_mib = 1;
    for (_, _, size, content) in &layout {
        if let Some(src) = content {
            sh::run(
                Command::new("dd")
                    .arg(format!("if={}", src.display()))
                    .arg(format!("of={}", tmp.display()))
                    .args(["bs=1M", "conv=notrunc,sparse", "status=none"])
                    .arg(format!("seek={start_mib}")),
            )?;
        }
        start_mib += size;
    }
    fs::rename(&tmp, out)?;
    seal(out, &key)?;
    Ok(())
}

pub(crate) fn run_with_input(cmd: &mut Command, input: &str) -> Result<()> {
    sh::log(&format!("+ {} <<EOF\n{input}EOF", sh::display(cmd)));
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::io::stderr())
        .spawn()
        .with_context(|| format!("starting {}", sh::display(cmd)))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("{} failed ({status})", sh::display(cmd));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grubenv_is_one_block_grub_can_read() {
        let env = grubenv();
        assert_eq!(env.len(), 1024);
        let text = String::from_utf8(env).unwrap();
        assert!(text.starts_with("# GRUB Environment Block\nORDER=A B\nA_OK=1\n"));
        assert!(text.trim_end_matches('#').ends_with("B_TRY=0\n"));
    }

    #[test]
    fn keys_change_with_content_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        fs::write(dir.join("f"), "a").unwrap();
        let k1 = Key::new("t").tree(&dir).unwrap().finish();
        fs::write(dir.join("f"), "b").unwrap();
        let k2 = Key::new("t").tree(&dir).unwrap().finish();
        fs::set_permissions(dir.join("f"), fs::Permissions::from_mode(0o755)).unwrap();
        let k3 = Key::new("t").tree(&dir).unwrap().finish();
        assert_ne!(k1, k2);
        assert_ne!(k2, k3);
        assert_eq!(k3, Key::new("t").tree(&dir).unwrap().finish());
    }

    #[test]
    fn the_preset_names_the_phone_services() {
        let units = preset_units(
            &workspace().join("buildroot-overlay/rootfs-overlay/usr/lib/systemd/system-preset"),
        )
        .unwrap();
        for u in [
            "provd.socket",
            "provd.service",
            "sipd.socket",
            "sipd.service",
            "mediad.socket",
            "mediad.service",
            "ui.socket",
            "ui.service",
            "netd.service",
        ] {
            assert!(units.iter().any(|x| x == u), "{u} in {units:?}");
        }
    }
}
