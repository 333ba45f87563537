//! Property tests through the files on disk.

use std::fs;

use deskphone_flash::{FlashError, FlashStore, FORMAT_VERSION, MAGIC};
use proptest::prelude::*;

/// Entry files that get past the first checks often enough to exercise the later ones:
/// random bytes, or a valid magic and version followed by random bytes.
fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let prefixed = proptest::collection::vec(any::<u8>(), 0..200).prop_map(|rest| {
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        file.extend(rest);
        file
    });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), prefixed]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn payloads_round_trip(
        payload in proptest::collection::vec(any::<u8>(), 0..20_000),
        name in "[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}",
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let store = FlashStore::open(tmp.path()).unwrap();
        store.write(&name, &payload).unwrap();
        prop_assert_eq!(store.read(&name).unwrap(), Some(payload.clone()));
        // And again after reopening, as after a reboot.
        let store = FlashStore::open(tmp.path()).unwrap();
        prop_assert_eq!(store.read(&name).unwrap(), Some(payload));
        prop_assert_eq!(store.names().unwrap(), vec![name]);
    }

    #[test]
    fn arbitrary_file_contents_read_as_ok_or_corrupt(bytes in file_bytes()) {
        let tmp = tempfile::tempdir().unwrap();
        let store = FlashStore::open(tmp.path()).unwrap();
        fs::write(tmp.path().join("config"), &bytes).unwrap();
        match store.read("config") {
            Ok(Some(_)) | Err(FlashError::Corrupt { .. }) => {}
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
