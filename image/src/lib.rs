//! `cargo xtask`: the deskphone test images.
//!
//! `cargo xtask image` assembles a bootable disk from Debian 12 packages (mmdebstrap), the
//! project's release binaries and the rootfs overlays of `buildroot-overlay/` — the same files
//! the production Buildroot image installs, so the two cannot drift. `cargo xtask run` boots it
//! in QEMU. `cargo xtask bundle` turns an image's root filesystem into the signed RAUC update
//! bundle `<version>.bin` the phone fetches. The end-to-end tests (`tests/src/qemu.rs`) use this crate as a library: one image
//! build and one QEMU command line for the command and the tests alike.
//!
//! Everything is built under `target/image/` and cached step by step: each step records a
//! hash of its inputs next to its output and is skipped while they are unchanged (new
//! binaries rebuild the root filesystem and the disk, not the Debian base).

pub mod build;
pub mod bundle;
pub mod qemu;
pub mod raspi;
pub mod sh;

use std::path::{Path, PathBuf};

/// The machines an image is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// UEFI (OVMF) + GRUB, `qemu-system-x86_64`.
    #[value(name = "x86_64")]
    X86_64,
    /// Raspberry Pi 3 (`raspi3b`).
    #[value(name = "aarch64")]
    Aarch64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The firmware version an image carries unless told otherwise (provd's built-in default
/// is the same string).
pub const DEFAULT_VERSION: &str = concat!("deskphone-", env!("CARGO_PKG_VERSION"));

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("image/ lives in the workspace")
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace().join(d)
            }
        }
        _ => workspace().join("target"),
    }
}

/// Where images, caches and runs live: `target/image`.
pub fn image_dir() -> PathBuf {
    target_dir().join("image")
}
