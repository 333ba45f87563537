//! The store's behaviour through its public API, including damage done to its files from
//! outside.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deskphone_flash::{Corruption, FlashError, FlashStore, WriteStep, HEADER_LEN};

fn store() -> (tempfile::TempDir, FlashStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FlashStore::open(dir.path().join("flash")).unwrap();
    (dir, store)
}

/// Every file in the store directory whose name begins with a dot.
fn dot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn corruption(store: &FlashStore, name: &str) -> Corruption {
    match store.read(name) {
        Err(FlashError::Corrupt { name: n, reason }) => {
            assert_eq!(n, name);
            reason
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn round_trip() {
    let (_tmp, store) = store();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    store.write("config", &data).unwrap();
    assert_eq!(store.read("config").unwrap(), Some(data));
}

#[test]
fn empty_payload_is_not_a_missing_entry() {
    let (_tmp, store) = store();
    store.write("empty", b"").unwrap();
    assert_eq!(store.read("empty").unwrap(), Some(Vec::new()));
    assert_eq!(
        fs::metadata(store.dir().join("empty")).unwrap().len(),
        (HEADER_LEN + "empty".len()) as u64
    );
}

#[test]
fn missing_entry_reads_as_none() {
    let (_tmp, store) = store();
    assert_eq!(store.read("nothing").unwrap(), None);
}

#[test]
fn overwrite_replaces_whole_entry() {
    let (_tmp, store) = store();
    store.write("config", &[1u8; 5000]).unwrap();
    store.write("config", b"short").unwrap();
    assert_eq!(
        store.read("config").unwrap().as_deref(),
        Some(&b"short"[..])
    );
    store.write("config", &[2u8; 7000]).unwrap();
    assert_eq!(store.read("config").unwrap(), Some(vec![2u8; 7000]));
    assert!(dot_files(store.dir()).is_empty());
}

#[test]
fn remove_and_remove_missing() {
    let (_tmp, store) = store();
    store.write("a", b"1").unwrap();
    store.write("b", b"2").unwrap();
    store.remove("a").unwrap();
    assert_eq!(store.read("a").unwrap(), None);
    assert!(!store.dir().join("a").exists());
    assert_eq!(store.read("b").unwrap().as_deref(), Some(&b"2"[..]));
    store.remove("a").unwrap();
    store.remove("never-existed").unwrap();
}

#[test]
fn names_lists_entries_only() {
    let (_tmp, store) = store();
    assert!(store.names().unwrap().is_empty());
    for name in ["SIPDefault.cnf", "config", "calls-missed", "a"] {
        store.write(name, name.as_bytes()).unwrap();
    }
    // Things that are not entries: a leftover temp file, junk names, a directory.
    fs::write(store.dir().join(".config.tmp-1-1"), b"x").unwrap();
    fs::write(store.dir().join("has space"), b"x").unwrap();
    fs::create_dir(store.dir().join("subdir")).unwrap();
    assert_eq!(
        store.names().unwrap(),
        ["SIPDefault.cnf", "a", "calls-missed", "config"]
    );
    store.remove("a").unwrap();
    assert_eq!(
        store.names().unwrap(),
        ["SIPDefault.cnf", "calls-missed", "config"]
    );
}

#[test]
fn bad_names_are_refused_everywhere() {
    let (tmp, store) = store();
    for bad in [
        "",
        ".",
        "..",
        ".config",
        "../escape",
        "a/b",
        "/etc/passwd",
        "sp ace",
        "ü",
    ] {
        let is_bad = |r: Result<(), FlashError>| matches!(r, Err(FlashError::BadName { .. }));
        assert!(is_bad(store.write(bad, b"x")), "write {bad:?}");
        assert!(is_bad(store.remove(bad)), "remove {bad:?}");
        assert!(
            matches!(store.read(bad), Err(FlashError::BadName { .. })),
            "read {bad:?}"
        );
    }
    assert!(store.names().unwrap().is_empty());
    assert!(dot_files(store.dir()).is_empty());
    // Nothing escaped the store directory either.
    let mut outside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    outside.sort();
    assert_eq!(outside, ["flash"]);
}

#[test]
fn bad_name_error_says_why() {
    let (_tmp, store) = store();
    let e = store.write(".x", b"").unwrap_err().to_string();
    assert!(e.contains("\".x\"") && e.contains("reserved"), "{e}");
}

#[test]
fn flipped_byte_in_payload_is_corrupt() {
    let (_tmp, store) = store();
    store.write("config", &[0x55; 1000]).unwrap();
    let path = store.dir().join("config");
    let mut bytes = fs::read(&path).unwrap();
    bytes[HEADER_LEN + "config".len() + 500] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        corruption(&store, "config"),
        Corruption::ChecksumMismatch { .. }
    ));
}

#[test]
fn flipped_byte_in_checksum_is_corrupt() {
    let (_tmp, store) = store();
    store.write("config", b"payload").unwrap();
    let path = store.dir().join("config");
    let mut bytes = fs::read(&path).unwrap();
    bytes[17] ^= 0x80;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        corruption(&store, "config"),
        Corruption::ChecksumMismatch { .. }
    ));
}

#[test]
fn truncation_is_corrupt() {
    let (_tmp, store) = store();
    store.write("config", &[7; 1000]).unwrap();
    let path = store.dir().join("config");
    let full = fs::read(&path).unwrap();
    fs::write(&path, &full[..full.len() - 1]).unwrap();
    assert!(matches!(
        corruption(&store, "config"),
        Corruption::LengthMismatch { .. }
    ));
    fs::write(&path, &full[..HEADER_LEN - 1]).unwrap();
    assert_eq!(
        corruption(&store, "config"),
        Corruption::TooShort {
            len: HEADER_LEN as u64 - 1
        }
    );
    // A zero-length file is what some filesystems leave after a power cut when the data
    // was never synced; it must not read as an empty entry.
    fs::write(&path, b"").unwrap();
    assert_eq!(
        corruption(&store, "config"),
        Corruption::TooShort { len: 0 }
    );
}

#[test]
fn appended_garbage_is_corrupt() {
    let (_tmp, store) = store();
    store.write("config", b"abc").unwrap();
    let path = store.dir().join("config");
    let mut bytes = fs::read(&path).unwrap();
    bytes.push(b'\n');
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        corruption(&store, "config"),
        Corruption::LengthMismatch { .. }
    ));
}

#[test]
fn wrong_magic_is_corrupt() {
    let (_tmp, store) = store();
    // A configuration file dropped in by hand, not written through the store.
    fs::write(
        store.dir().join("config"),
        b"proxy1_address: 10.0.0.1\nline1_name: 1000\n",
    )
    .unwrap();
    assert_eq!(
        corruption(&store, "config"),
        Corruption::BadMagic { found: *b"prox" }
    );
    let message = store.read("config").unwrap_err().to_string();
    assert!(
        message.contains("\"config\"") && message.contains("magic"),
        "{message}"
    );
}

#[test]
fn unknown_version_is_corrupt() {
    let (_tmp, store) = store();
    store.write("config", b"abc").unwrap();
    let path = store.dir().join("config");
    let mut bytes = fs::read(&path).unwrap();
    bytes[4] = 2;
    fs::write(&path, &bytes).unwrap();
    assert_eq!(
        corruption(&store, "config"),
        Corruption::UnsupportedVersion { found: 2 }
    );
}

#[test]
fn entry_copied_under_another_name_is_corrupt() {
    let (_tmp, store) = store();
    store.write("calls", b"history").unwrap();
    fs::copy(store.dir().join("calls"), store.dir().join("config")).unwrap();
    assert_eq!(
        corruption(&store, "config"),
        Corruption::NameMismatch {
            found: "calls".into()
        }
    );
}

#[test]
fn open_removes_leftover_temp_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("flash");
    let store = FlashStore::open(&dir).unwrap();
    store.write("config", b"good").unwrap();
    fs::write(dir.join(".config.tmp-4242-0"), b"half a wri").unwrap();
    fs::write(dir.join(".other.tmp-1-99"), b"").unwrap();
    fs::write(dir.join(".profile"), b"not ours").unwrap();
    fs::write(dir.join("notes.tmp-1-1"), b"an entry, not a temp file").unwrap();
    drop(store);

    let store = FlashStore::open(&dir).unwrap();
    assert_eq!(dot_files(&dir), [".profile"]);
    assert!(dir.join("notes.tmp-1-1").exists());
    assert_eq!(store.read("config").unwrap().as_deref(), Some(&b"good"[..]));
}

#[test]
fn open_creates_private_directory_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").join("flash");
    let store = FlashStore::open(&dir).unwrap();
    assert_eq!(store.dir(), dir);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    store.write("config", b"secret: sip password").unwrap();
    assert_eq!(mode(&dir.join("config")), 0o600);
    // Also when an existing, more open file is replaced.
    fs::set_permissions(dir.join("config"), fs::Permissions::from_mode(0o644)).unwrap();
    store.write("config", b"secret: new sip password").unwrap();
    assert_eq!(mode(&dir.join("config")), 0o600);
}

#[test]
fn open_refuses_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("flash");
    fs::write(&path, b"").unwrap();
    let err = FlashStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("flash"), "{err}");
}

#[test]
fn failed_write_keeps_old_version_and_leaves_no_temp_file() {
    let (_tmp, store) = store();
    store.write("config", b"old").unwrap();
    // A non-empty directory in the way of the entry "blocked" makes the rename fail, the
    // last step before the new version would be visible.
    fs::create_dir(store.dir().join("blocked")).unwrap();
    fs::write(store.dir().join("blocked").join("x"), b"").unwrap();
    let err = store.write("blocked", b"new").unwrap_err();
    assert!(
        matches!(err, FlashError::Io { op: "rename", .. }),
        "{err:?}"
    );
    assert!(dot_files(store.dir()).is_empty());
    assert_eq!(store.read("config").unwrap().as_deref(), Some(&b"old"[..]));
}

#[test]
fn panic_during_write_keeps_old_version_and_leaves_no_temp_file() {
    let (_tmp, store) = store();
    store.write("config", b"old").unwrap();
    for step in [
        WriteStep::TempCreated,
        WriteStep::Written,
        WriteStep::Synced,
    ] {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.write_with_hook("config", b"new", |s| {
                if s == step {
                    panic!("stop at {s:?}");
                }
            })
        }));
        assert!(result.is_err());
        assert!(dot_files(store.dir()).is_empty(), "{step:?}");
        assert_eq!(store.read("config").unwrap().as_deref(), Some(&b"old"[..]));
    }
}

#[test]
fn hook_sees_every_step_in_order() {
    let (_tmp, store) = store();
    let mut seen = Vec::new();
    store
        .write_with_hook("config", b"abcd", |s| seen.push(s))
        .unwrap();
    assert_eq!(seen, WriteStep::ALL);
}

#[test]
fn concurrent_writers_and_readers_see_whole_versions() {
    let (_tmp, store) = store();
    let store = Arc::new(store);
    let version = |v: u8| vec![v; 20_000 + usize::from(v) * 100];
    store.write("config", &version(0)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let data = store.read("config").unwrap().unwrap();
                assert_eq!(data, version(data[0]));
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (1..=3u8)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..10u8 {
                    store.write("config", &version(w * 20 + i)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert!(dot_files(store.dir()).is_empty());
}
