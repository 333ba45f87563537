//! `cargo xtask bundle`: the signed RAUC update bundle `<version>.bin` of a test image.
//!
//! The bundle carries the image's root filesystem (the squashfs slot A boots) as the image
//! of the `rootfs` slot class, with the manifest the phone checks before installing:
//!
//! ```ini
//! [update]
//! compatible=deskphone-qemu-x86_64
//! version=<version>
//!
//! [bundle]
//! format=verity
//!
//! [image.rootfs]
//! filename=rootfs.img
//! ```
//!
//! — the same manifest the Buildroot tree writes (`board/common/deskphone.sh`, `dp_bundle`).
//! `verity` bundles are checked block by block as RAUC reads them (dm-verity), so nothing is
//! installed from a bundle that changed after its signature was checked. The root filesystem
//! is already compressed: the bundle's own squashfs does not compress it again.
//!
//! Signed with the development key (`target/image/keys/`, the image's keyring) unless another
//! key is given: the tests make bundles signed by a foreign key that the phone must refuse.
//! Cached like the image: `target/image/<arch>/<version>[@variant]/<version>.bin` with its
//! input key beside it; bundles signed by another key go to `.../other-key/<version>.bin`
//! (one at a time, rebuilt when that key changes).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::build::{self, Key, Options, Signer};
use crate::sh::{self, step};
use crate::{image_dir, Arch};

/// RAUC's `compatible` of a machine: the `compatible=` of the `/etc/rauc/system.conf` its
/// board overlay installs.
pub fn compatible(arch: Arch) -> Result<String> {
    if arch != Arch::X86_64 {
        bail!("bundles for {arch}: not implemented yet (only x86_64 for now)");
    }
    let conf = crate::workspace()
        .join("buildroot-overlay/board/qemu-x86_64/rootfs-overlay/etc/rauc/system.conf");
    let text = fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("compatible="))
        .map(|c| c.trim().to_string())
        .with_context(|| format!("no compatible= in {}", conf.display()))
}

/// Extra options for RAUC's `mksquashfs`: the root filesystem inside is squashfs (gzip)
/// already, compressing it again only costs time.
const MKSQUASHFS_ARGS: &str = "-noI -noD -noF -noX";

/// What to bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The image whose root filesystem the bundle carries (built if needed).
    pub image: Options,
    /// Signs the bundle; `None`: the development key, which the images trust.
    pub signer: Option<Signer>,
    /// Also copy the bundle here (as `<version>.bin`).
    pub out: Option<PathBuf>,
}

/// A built bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub version: String,
    /// The bundle in the cache (or in `out` when one was given).
    pub path: PathBuf,
    pub size: u64,
}

/// The manifest of a bundle of `version` for a machine of `compatible`.
pub fn manifest(compatible: &str, version: &str) -> String {
    format!(
        "[update]\ncompatible={compatible}\nversion={version}\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.img\n"
    )
}

/// Builds the image's root filesystem if needed, then the bundle (or finds it up to date).
pub fn bundle(opts: &BundleOptions) -> Result<Bundle> {
    build::check(&opts.image)?;
    sh::require_tools(&[("rauc", "rauc"), ("mksquashfs", "squashfs-tools")])?;
    let start = Instant::now();
    let lock = build::lock(&image_dir().join(".lock"))?;
    let (image, rootfs_key, _) = build::build_rootfs_locked(&opts.image)?;
    let dev = build::dev_key()?;
    let (signer, dir) = match &opts.signer {
        None => (dev.clone(), image.dir().to_path_buf()),
        Some(s) => (s.clone(), image.dir().join("other-key")),
    };
    let version = &opts.image.version;
    let cached = dir.join(format!("{version}.bin"));
    let compatible = compatible(opts.image.arch)?;
    let manifest = manifest(&compatible, version);
    step("update bundle (rauc bundle)", || {
        let mut key = Key::new("bundle-1");
        key.str(&rootfs_key)
            .str(&manifest)
            .str(MKSQUASHFS_ARGS)
            .file(&signer.cert)?
            .file(&signer.key)?;
        let key = key.finish();
        if build::fresh(&cached, &key) {
            sh::log(&format!("cached: {}", cached.display()));
            return Ok(());
        }
        fs::create_dir_all(&dir)?;
        let content = dir.join("bundle.d");
        if content.exists() {
            fs::remove_dir_all(&content)?;
        }
        fs::create_dir_all(&content)?;
        fs::write(content.join("manifest.raucm"), &manifest)?;
        let img = content.join("rootfs.img");
        if fs::hard_link(&image.rootfs, &img).is_err() {
            fs::copy(&image.rootfs, &img)?;
        }
        let tmp = build::tmp_path(&cached);
        let _ = fs::remove_file(&tmp);
        let mut cmd = Command::new("rauc");
        cmd.arg("bundle")
            .arg(format!("--cert={}", signer.cert.display()))
            .arg(format!("--key={}", signer.key.display()))
            .arg(format!("--mksquashfs-args={MKSQUASHFS_ARGS}"));
        if opts.signer.is_none() {
            // A development bundle must verify against the keyring the images carry.
            cmd.arg(format!("--keyring={}", dev.cert.display()));
        }
        sh::run(cmd.arg(&content).arg(&tmp))?;
        fs::rename(&tmp, &cached)?;
        fs::remove_dir_all(&content)?;
        build::seal(&cached, &key)
    })?;
    drop(lock);

    let path = match &opts.out {
        None => cached,
        Some(out) => {
            fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            let dest = out.join(format!("{version}.bin"));
            copy(&cached, &dest)?;
            dest
        }
    };
    let size = fs::metadata(&path)?.len();
    sh::log(&format!(
        "bundle {version}{} ({}, {}) ready in {}: {}",
        opts.image.variant.suffix(),
        compatible,
        sh::mib(size),
        sh::secs(start.elapsed()),
        path.display()
    ));
    Ok(Bundle {
        version: version.clone(),
        path,
        size,
    })
}

/// Copies through a temporary file, so that a TFTP server never serves half a bundle.
fn copy(from: &Path, to: &Path) -> Result<()> {
    let tmp = build::tmp_path(to);
    fs::copy(from, &tmp).with_context(|| format!("copying to {}", tmp.display()))?;
    fs::rename(&tmp, to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_the_version_and_the_machine() {
        let c = compatible(Arch::X86_64).unwrap();
        assert_eq!(c, "deskphone-qemu-x86_64");
        let m = manifest(&c, "v2");
        assert!(m.starts_with("[update]\ncompatible=deskphone-qemu-x86_64\nversion=v2\n"));
        assert!(m.contains("[bundle]\nformat=verity\n"));
        assert!(m.contains("[image.rootfs]\nfilename=rootfs.img\n"));
    }
}
