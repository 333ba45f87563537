//! deskphone-flash: the phone's "flash", a small durable key→bytes store in one directory.
//!
//! The provisioning agent keeps here what must survive a reboot or a power cut: the persistent
//! configuration (local edits and the last good provisioning values), the last good copies of
//! the provisioning files, call history and the like. Entries are small (a full configuration
//! is about 16 KiB) and are always read and written whole.
//!
//! ```no_run
//! use deskphone_flash::FlashStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let flash = FlashStore::open("/data/flash")?;
//! flash.write("config", b"proxy1_address: 10.0.0.1\n")?;
//! assert_eq!(flash.read("config")?.as_deref(), Some(&b"proxy1_address: 10.0.0.1\n"[..]));
//! flash.remove("config")?;
//! assert_eq!(flash.read("config")?, None);
//! # Ok(())
//! # }
//! ```
//!
//! # How a write survives a power cut
//!
//! Each entry is one file, `<dir>/<name>`. [`FlashStore::write`] never modifies that file in
//! place; it builds the new version beside it and swaps it in with one atomic rename:
//!
//! 1. create `<dir>/.<name>.tmp-<pid>-<counter>` with `O_CREAT|O_EXCL`, mode 0600;
//! 2. write the header and the payload;
//! 3. `fsync` the temporary file, so its data is on the device *before* any name points to it;
//! 4. `rename` it over `<dir>/<name>`: the name points either to the whole old file or to the
//!    whole new one, there is no moment in between;
//! 5. `fsync` the directory, which makes the rename itself durable.
//!
//! If any step fails the temporary file is removed and the error returned; the old version is
//! untouched, unless the failure is the directory `fsync` of step 5, after which the entry holds
//! the new version but may fall back to the old one if power is lost before the next directory
//! sync. A temporary file left behind by a crash is never read; [`FlashStore::open`] deletes it.
//! [`FlashStore::remove`] unlinks and then `fsync`s the directory.
//!
//! One process owns a store (in the phone, `provd`), as the design says of every service's
//! state. Within that process a [`FlashStore`] may be shared between threads: concurrent
//! writes of one entry each land whole, the last rename wins, and readers see one of them.
//! A second process opening the same directory would delete the first one's temporary files
//! and make its writes fail (never corrupt anything), so don't.
//!
//! # On-disk format (version 1)
//!
//! Every entry file is a 20-byte header, the entry name, then the payload. Integers are
//! little-endian.
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic, the bytes `DPFL` |
//! | 4 | 2 | format version, `1` |
//! | 6 | 2 | `n`: length of the entry name in bytes |
//! | 8 | 8 | `p`: length of the payload in bytes |
//! | 16 | 4 | CRC-32 (IEEE 802.3, as computed by `crc32fast`, zlib and `cksum -a crc32b`) of bytes 0..16, the name and the payload |
//! | 20 | `n` | the entry name, which must equal the file name |
//! | 20 + `n` | `p` | the payload |
//!
//! The file must be exactly `20 + n + p` bytes long. [`FlashStore::read`] checks, in this
//! order, the length of the header, the magic, the version, the total length, the checksum
//! and the name, and reports the first failure as [`FlashError::Corrupt`] with a
//! [`Corruption`] saying which check failed; it never returns damaged bytes. This catches
//! truncation, bit rot (every single-bit error and every error burst up to 32 bits), a file
//! from something else, and an entry file copied by hand under another entry's name. A later
//! format keeps the magic and the version at the same offsets so that this reader can refuse
//! it by version.
//!
//! Entry names are 1 to [`MAX_NAME_LEN`] bytes of `A-Z a-z 0-9 . _ -` and may not begin with
//! a dot (reserved for temporary files), so there are no subdirectories, no `.` or `..`, and
//! a name is always a valid file name. Other files in the directory are ignored.
//!
//! # What the crash tests prove, and what they do not
//!
//! The tests in `tests/crash.rs` kill a writing process: at every step of the sequence above
//! (`abort()` from a hook), and with `SIGKILL` at random moments while a child rewrites a
//! 256 KiB entry in a loop. After each kill the entry must read back as exactly the old or
//! exactly the new version, and `open` must remove the leftover temporary file. That shows
//! that every state the *directory* can be left in by an interrupted sequence of system calls
//! is handled: no window in which the entry is missing, partial or mixed, and no reader that
//! trips over a leftover.
//!
//! A process kill is not a power cut. The kernel's page cache survives the kill, so data
//! that was written but never `fsync`ed is still there afterwards: those tests would pass
//! even without steps 3 and 5. That the `fsync`s are present and ordered is shown by reading
//! the code above and by the step hook (which fires after each of them), not by the kills.
//! Neither can catch storage that acknowledges a flush it has not done (some SD cards and USB
//! sticks do). The real thing comes with the end-to-end QEMU tests (a later issue), which can
//! cut power to a whole virtual machine, throwing away the guest's page cache and the
//! virtual disk's unflushed writes.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The first four bytes of every entry file.
pub const MAGIC: [u8; 4] = *b"DPFL";
/// The on-disk format this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the fixed header that precedes the name and the payload.
pub const HEADER_LEN: usize = 20;
/// Longest entry name, in bytes. Keeps the temporary file name well below `NAME_MAX` (255).
pub const MAX_NAME_LEN: usize = 128;

/// Part of every temporary file name, after `.<name>`.
const TMP_MARKER: &str = ".tmp-";

/// Makes temporary names unique between the threads (and stores) of one process; the pid
/// makes them unique between processes.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An error from the flash store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlashError {
    /// The entry name is not allowed (see the crate documentation).
    #[error("invalid flash entry name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    /// The entry file exists but fails the format checks; its contents were not returned.
    #[error("flash entry {name:?} is corrupt: {reason}")]
    Corrupt { name: String, reason: Corruption },
    /// A system call failed.
    #[error("flash store: cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Which check an entry file failed; see the on-disk format in the crate documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// Shorter than the header.
    TooShort { len: u64 },
    /// Does not start with [`MAGIC`].
    BadMagic { found: [u8; 4] },
    /// A format version this build cannot read.
    UnsupportedVersion { found: u16 },
    /// The file length disagrees with the lengths in the header (truncated or extended).
    LengthMismatch {
        name_len: u16,
        payload_len: u64,
        file_len: u64,
    },
    /// The CRC-32 does not match the contents.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// A valid entry, but of another name: the file was copied or renamed by hand.
    NameMismatch { found: String },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TooShort { len } => {
                write!(
                    f,
                    "{len} bytes long, shorter than the {HEADER_LEN}-byte header"
                )
            }
            Corruption::BadMagic { found } => {
                write!(
                    f,
                    "bad magic {found:02x?}, expected {MAGIC:02x?} (\"DPFL\")"
                )
            }
            Corruption::UnsupportedVersion { found } => write!(
                f,
                "format version {found}, this build reads version {FORMAT_VERSION}"
            ),
            Corruption::LengthMismatch {
                name_len,
                payload_len,
                file_len,
            } => write!(
                f,
                "header announces a {name_len}-byte name and a {payload_len}-byte payload \
                 but the file is {file_len} bytes long (truncated or extended)"
            ),
            Corruption::ChecksumMismatch { stored, computed } => write!(
                f,
                "CRC-32 mismatch: stored {stored:08x}, computed {computed:08x}"
            ),
            Corruption::NameMismatch { found } => {
                write!(f, "file holds entry {found:?} (copied or renamed by hand?)")
            }
        }
    }
}

/// The steps of [`FlashStore::write`], reported to the hook of
/// [`FlashStore::write_with_hook`] just after each has completed. For the crash tests only.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriteStep {
    /// The temporary file exists, empty.
    TempCreated,
    /// The header and the first half of the payload are written.
    PartlyWritten,
    /// Everything is written, not yet synced.
    Written,
    /// The temporary file is synced.
    Synced,
    /// The temporary file is renamed over the entry.
    Renamed,
    /// The directory is synced: the write is complete.
    DirSynced,
}

impl WriteStep {
    /// Every step, in order.
    pub const ALL: [WriteStep; 6] = [
        WriteStep::TempCreated,
        WriteStep::PartlyWritten,
        WriteStep::Written,
        WriteStep::Synced,
        WriteStep::Renamed,
        WriteStep::DirSynced,
    ];
}

/// The store: a directory of entry files. Cheap to share between threads (`&self` methods).
#[derive(Debug)]
pub struct FlashStore {
    dir: PathBuf,
}

impl FlashStore {
    /// Opens the store in `dir`, creating the directory (mode 0700, and its missing parents)
    /// if needed, and removes the temporary files of interrupted writes. The mode of an
    /// existing directory is left alone.
    ///
    /// Failing to remove a temporary file is only logged: a read-only data partition must
    /// still let the phone read its last configuration.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<FlashStore> {
        let dir = dir.as_ref().to_path_buf();
        let context = |op: &str, path: &Path, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("flash store: cannot {op} {}: {e}", path.display()),
            )
        };
        let existed = dir.is_dir();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| context("create directory", &dir, e))?;
        if !existed {
            // Make the new directory's own name durable too.
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            sync_dir(parent).map_err(|e| context("sync directory", parent, e))?;
        }
        let entries = fs::read_dir(&dir).map_err(|e| context("list directory", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| context("list directory", &dir, e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && is_temp_name(&entry.file_name().to_string_lossy()) {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => log::info!("removed {} left by an interrupted write", path.display()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => log::warn!("cannot remove {}: {e}", path.display()),
                }
            }
        }
        // No directory sync here: a removal that is lost in a power cut is simply redone.
        Ok(FlashStore { dir })
    }

    /// Opens an existing store for reading only: nothing is created or removed, so another
    /// process (the phone's provd) may own it at the same time. Writes through a store opened
    /// this way work like any other; the caller decides not to make them.
    pub fn open_read_only(dir: impl AsRef<Path>) -> io::Result<FlashStore> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("flash store: {} is not a directory", dir.display()),
            ));
        }
        Ok(FlashStore { dir })
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads an entry; `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, FlashError> {
        validate_name(name)?;
        let path = self.dir.join(name);
        let mut bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", &path, e)),
        };
        let payload = decode(name, &bytes).map_err(|reason| FlashError::Corrupt {
            name: name.to_owned(),
            reason,
        })?;
        // Reuse the buffer rather than copying the payload out of it.
        bytes.truncate(payload.end);
        bytes.drain(..payload.start);
        Ok(Some(bytes))
    }

    /// Replaces an entry (or creates it) atomically and durably: after a crash or power cut
    /// at any moment the entry reads as the old or the new version, never anything else.
    pub fn write(&self, name: &str, data: &[u8]) -> Result<(), FlashError> {
        self.write_with_hook(name, data, |_| {})
    }

    /// [`FlashStore::write`], calling `hook` after each [`WriteStep`]. `write` is exactly
    /// this with a hook that does nothing, so the crash tests run the production code.
    #[doc(hidden)]
    pub fn write_with_hook(
        &self,
        name: &str,
        data: &[u8],
        mut hook: impl FnMut(WriteStep),
    ) -> Result<(), FlashError> {
        validate_name(name)?;
        let target = self.dir.join(name);
        let header = encode_header(name, data);
        let (mut temp, mut file) = self.create_temp(name)?;
        hook(WriteStep::TempCreated);

        // Two payload writes so that the crash tests can stop between them.
        let (first, second) = data.split_at(data.len() / 2);
        file.write_all(&header)
            .and_then(|()| file.write_all(first))
            .map_err(|e| io_error("write", temp.path(), e))?;
        hook(WriteStep::PartlyWritten);
        file.write_all(second)
            .map_err(|e| io_error("write", temp.path(), e))?;
        hook(WriteStep::Written);
        file.sync_all()
            .map_err(|e| io_error("sync", temp.path(), e))?;
        hook(WriteStep::Synced);
        drop(file);

        fs::rename(temp.path(), &target).map_err(|e| io_error("rename", temp.path(), e))?;
        temp.disarm();
        hook(WriteStep::Renamed);
        sync_dir(&self.dir).map_err(|e| io_error("sync directory", &self.dir, e))?;
        hook(WriteStep::DirSynced);
        Ok(())
    }

    /// Removes an entry durably (unlink, then sync of the directory). Removing an entry that
    /// does not exist is not an error.
    pub fn remove(&self, name: &str) -> Result<(), FlashError> {
        validate_name(name)?;
        let path = self.dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &path, e)),
        }
        // Also when it was already gone: an earlier removal may have been interrupted
        // before its directory sync.
        sync_dir(&self.dir).map_err(|e| io_error("sync directory", &self.dir, e))
    }

    /// The names of all entries, sorted. Only regular files with valid entry names count;
    /// temporary files and anything else in the directory are left out.
    pub fn names(&self) -> Result<Vec<String>, FlashError> {
        let list_error = |e| io_error("list directory", &self.dir, e);
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(list_error)? {
            let entry = entry.map_err(list_error)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if validate_name(&name).is_ok() && entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(name);
            }
        }
        names.sort_unstable();
        Ok(names)
    }

    fn create_temp(&self, name: &str) -> Result<(TempFile, File), FlashError> {
        let pid = std::process::id();
        let mut attempts = 0;
        loop {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = self.dir.join(format!(".{name}{TMP_MARKER}{pid}-{n}"));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => return Ok((TempFile { path, armed: true }, file)),
                // Only a stale file of a dead process with our pid can be in the way; the
                // next counter value avoids it.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(e) => return Err(io_error("create", &path, e)),
            }
        }
    }
}

/// A temporary file that is removed when dropped (on an error return or a panic), unless
/// disarmed after it has been renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = fs::remove_file(&self.path) {
                log::warn!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

fn io_error(op: &'static str, path: &Path, source: io::Error) -> FlashError {
    FlashError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn is_temp_name(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TMP_MARKER)
}

fn validate_name(name: &str) -> Result<(), FlashError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_NAME_LEN {
        "longer than 128 bytes"
    } else if name.starts_with('.') {
        "begins with '.', which is reserved for temporary files"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        "only the characters A-Z a-z 0-9 . _ - are allowed"
    } else {
        return Ok(());
    };
    Err(FlashError::BadName {
        name: name.to_owned(),
        reason,
    })
}

/// The header and the name: everything of the entry file before the payload.
fn encode_header(name: &str, payload: &[u8]) -> Vec<u8> {
    // validate_name keeps names far below u16::MAX.
    let name_len = name.len() as u16;
    let mut out = Vec::with_capacity(HEADER_LEN + name.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out);
    crc.update(name.as_bytes());
    crc.update(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// Checks an entry file; returns where its payload is.
fn decode(name: &str, file: &[u8]) -> Result<Range<usize>, Corruption> {
    if file.len() < HEADER_LEN {
        return Err(Corruption::TooShort {
            len: file.len() as u64,
        });
    }
    let (header, rest) = file.split_at(HEADER_LEN);
    let magic = [header[0], header[1], header[2], header[3]];
    if magic != MAGIC {
        return Err(Corruption::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(Corruption::UnsupportedVersion { found: version });
    }
    let name_len = u16::from_le_bytes([header[6], header[7]]);
    let mut payload_len = [0; 8];
    payload_len.copy_from_slice(&header[8..16]);
    let payload_len = u64::from_le_bytes(payload_len);
    // Compared without adding, so that a huge length from a damaged header cannot overflow.
    if (rest.len() as u64).checked_sub(u64::from(name_len)) != Some(payload_len) {
        return Err(Corruption::LengthMismatch {
            name_len,
            payload_len,
            file_len: file.len() as u64,
        });
    }
    let stored = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..16]);
    crc.update(rest);
    let computed = crc.finalize();
    if stored != computed {
        return Err(Corruption::ChecksumMismatch { stored, computed });
    }
    let (found, _) = rest.split_at(usize::from(name_len));
    if found != name.as_bytes() {
        return Err(Corruption::NameMismatch {
            found: String::from_utf8_lossy(found).into_owned(),
        });
    }
    Ok(HEADER_LEN + usize::from(name_len)..file.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(name: &str, payload: &[u8]) -> Vec<u8> {
        let mut file = encode_header(name, payload);
        file.extend_from_slice(payload);
        file
    }

    #[test]
    fn header_layout_matches_the_documentation() {
        let file = encode("cfg", b"hello");
        assert_eq!(&file[0..4], b"DPFL");
        assert_eq!(&file[4..6], &[1, 0]);
        assert_eq!(&file[6..8], &[3, 0]);
        assert_eq!(&file[8..16], &[5, 0, 0, 0, 0, 0, 0, 0]);
        // CRC-32/IEEE computed independently of crc32fast's streaming API.
        let mut covered = file[..16].to_vec();
        covered.extend_from_slice(b"cfghello");
        assert_eq!(&file[16..20], &crc32_bitwise(&covered).to_le_bytes());
        assert_eq!(&file[20..23], b"cfg");
        assert_eq!(&file[23..], b"hello");
        assert_eq!(decode("cfg", &file), Ok(23..28));
    }

    /// Textbook bit-at-a-time CRC-32 (reflected, polynomial 0xEDB88320).
    fn crc32_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc_reference_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32_bitwise(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn huge_lengths_in_the_header_do_not_overflow() {
        let mut file = encode("a", b"xyz");
        file[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
        file[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode("a", &file),
            Err(Corruption::LengthMismatch { .. })
        ));
    }

    #[test]
    fn names() {
        for good in [
            "a",
            "config",
            "SIPDefault.cnf",
            "a..b",
            "x-y_z.9",
            &"n".repeat(128),
        ] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a b",
            "é",
            "a\0b",
            "a\\b",
            &"n".repeat(129),
        ] {
            assert!(
                matches!(validate_name(bad), Err(FlashError::BadName { .. })),
                "{bad:?}"
            );
        }
        assert!(is_temp_name(".config.tmp-12-3"));
        assert!(!is_temp_name("config.tmp-12-3"));
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(payload in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let file = encode("entry", &payload);
            let range = decode("entry", &file).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&file[range], &payload[..]);
        }

        /// CRC-32 plus the structural checks catch every single-bit error, wherever it is.
        #[test]
        fn every_bit_flip_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..512),
            bit in any::<proptest::sample::Index>(),
        ) {
            let mut file = encode("entry", &payload);
            let bit = bit.index(file.len() * 8);
            file[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode("entry", &file).is_err());
        }

        #[test]
        fn every_truncation_or_extension_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 0..512),
            cut in any::<proptest::sample::Index>(),
            extra in proptest::collection::vec(any::<u8>(), 1..16),
        ) {
            let file = encode("entry", &payload);
            let cut = cut.index(file.len());
            prop_assert!(decode("entry", &file[..cut]).is_err());
            let mut longer = file.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(decode("entry", &longer).is_err());
        }

        #[test]
        fn decode_never_panics(file in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode("entry", &file);
        }
    }
}
