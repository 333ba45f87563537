//! The call lists of the Directories key (missed, received, placed), kept across reboots,
//! and the autocomplete that reads them.

use std::collections::VecDeque;

use deskphone_flash::{FlashError, FlashStore};
use serde::{Deserialize, Serialize};

/// Calls kept per list, newest first.
pub const KEPT_PER_LIST: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The other party as shown (`Name <number>`, `number`, `Anonymous`).
    pub remote: String,
    /// What dialling it again sends: the number dialled, or the caller's URI.
    pub dial: String,
    pub line: u8,
    /// Unix seconds.
    pub time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Missed,
    Received,
    Placed,
}

impl List {
    pub fn title(self) -> &'static str {
        match self {
            List::Missed => "Missed Calls",
            List::Received => "Received Calls",
            List::Placed => "Placed Calls",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub missed: VecDeque<Entry>,
    pub received: VecDeque<Entry>,
    pub placed: VecDeque<Entry>,
}

impl History {
    pub fn list(&self, list: List) -> &VecDeque<Entry> {
        match list {
            List::Missed => &self.missed,
            List::Received => &self.received,
            List::Placed => &self.placed,
        }
    }

    pub fn add(&mut self, list: List, entry: Entry) {
        let l = match list {
            List::Missed => &mut self.missed,
            List::Received => &mut self.received,
            List::Placed => &mut self.placed,
        };
        l.push_front(entry);
        l.truncate(KEPT_PER_LIST);
    }

    pub fn clear(&mut self) {
        *self = History::default();
    }

    /// `autocomplete`: the newest number dialled or received that starts with what has been
    /// typed (and is longer), so the phone can offer the rest.
    pub fn complete(&self, typed: &str) -> Option<&str> {
        if typed.is_empty() {
            return None;
        }
        self.placed
            .iter()
            .chain(self.received.iter())
            .chain(self.missed.iter())
            .map(|e| e.dial.as_str())
            .find(|d| d.len() > typed.len() && d.starts_with(typed))
    }

    /// Reads the lists from the UI's store; none yet is an empty history, a damaged entry is
    /// reported and replaced by an empty history (the lists are a convenience, never a reason
    /// not to start).
    pub fn load(store: &FlashStore) -> (History, Option<String>) {
        match store.read(ENTRY) {
            Ok(None) => (History::default(), None),
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(h) => (h, None),
                Err(e) => (
                    History::default(),
                    Some(format!("unreadable call history ({e}); starting empty")),
                ),
            },
            Err(e) => (
                History::default(),
                Some(format!("{e}; starting with no call history")),
            ),
        }
    }

    /// Writes the lists; the store keeps the old or the new version through a power cut.
    pub fn save(&self, store: &FlashStore) -> Result<(), FlashError> {
        let json = serde_json::to_vec(self).expect("the call lists serialise");
        store.write(ENTRY, &json)
    }
}

/// The store entry of the call lists.
const ENTRY: &str = "calls";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dial: &str, time: i64) -> Entry {
        Entry {
            remote: dial.into(),
            dial: dial.into(),
            line: 1,
            time,
        }
    }

    #[test]
    fn lists_keep_the_newest_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = FlashStore::open(dir.path()).unwrap();
        let mut h = History::default();
        for i in 0..40 {
            h.add(List::Placed, entry(&format!("10{i:02}"), i));
        }
        h.add(List::Missed, entry("2000", 50));
        assert_eq!(h.placed.len(), KEPT_PER_LIST);
        assert_eq!(h.placed[0].dial, "1039");
        h.save(&store).unwrap();
        let (read, problem) = History::load(&FlashStore::open(dir.path()).unwrap());
        assert_eq!((read, problem), (h, None));
    }

    #[test]
    fn a_damaged_entry_is_reported_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = FlashStore::open(dir.path()).unwrap();
        assert_eq!(History::load(&store).1, None, "no lists yet");
        // Damaged on the medium: the store's checksum catches it.
        store.write(ENTRY, b"{}").unwrap();
        let path = dir.path().join(ENTRY);
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0xff;
        std::fs::write(&path, raw).unwrap();
        let (h, problem) = History::load(&store);
        assert_eq!(h, History::default());
        assert!(problem.unwrap().contains("starting with no call history"));
        // Readable but not call lists.
        store.write(ENTRY, b"{\"missed\": [").unwrap();
        assert!(History::load(&store)
            .1
            .unwrap()
            .contains("unreadable call history"));
    }

    #[test]
    fn autocomplete_offers_the_newest_longer_match() {
        let mut h = History::default();
        h.add(List::Placed, entry("5551212", 1));
        h.add(List::Received, entry("5559999", 2));
        h.add(List::Placed, entry("5553000", 3));
        assert_eq!(h.complete("555"), Some("5553000"));
        assert_eq!(h.complete("5559"), Some("5559999"));
        assert_eq!(h.complete("5553000"), None, "nothing longer to offer");
        assert_eq!(h.complete(""), None);
        assert_eq!(h.complete("4"), None);
    }
}
