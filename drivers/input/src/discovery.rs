//! Which evdev devices to read: every `/dev/input/event*` node that reports a code the keymap
//! binds. The decision ([`assess`]) and the directory walk ([`scan`]) are separate from opening
//! devices ([`CapabilityProbe`]), so they are tested on a fake directory.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::keymap::{Binding, InputCode, Keymap};

/// Where evdev nodes live.
pub const INPUT_DIR: &str = "/dev/input";

/// What a device reports it can send, as far as choosing it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceCaps {
    pub name: String,
    /// `EV_KEY` codes.
    pub keys: BTreeSet<u16>,
    /// `EV_SW` codes.
    pub switches: BTreeSet<u16>,
}

impl DeviceCaps {
    pub fn has(&self, code: InputCode) -> bool {
        match code {
            InputCode::Key(c) => self.keys.contains(&c),
            InputCode::Switch(c) => self.switches.contains(&c),
        }
    }

    /// The capabilities of an open evdev device.
    pub fn of(device: &evdev::Device) -> DeviceCaps {
        DeviceCaps {
            name: device.name().unwrap_or("unnamed").to_string(),
            keys: device
                .supported_keys()
                .map(|s| s.iter().map(|k| k.0).collect())
                .unwrap_or_default(),
            switches: device
                .supported_switches()
                .map(|s| s.iter().map(|k| k.0).collect())
                .unwrap_or_default(),
        }
    }
}

/// Reads a device's capabilities (injectable for tests).
pub trait CapabilityProbe {
    fn probe(&self, path: &Path) -> io::Result<DeviceCaps>;
}

/// The real probe: opens the node with evdev.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvdevProbe;

impl CapabilityProbe for EvdevProbe {
    fn probe(&self, path: &Path) -> io::Result<DeviceCaps> {
        evdev::Device::open(path).map(|d| DeviceCaps::of(&d))
    }
}

/// Whether a device is read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It reports `keys` bound codes (keys and hook toggles) and these hook switch codes.
    Used {
        keys: usize,
        hook_switches: Vec<InputCode>,
    },
    /// It reports no bound code (a mouse, a power button).
    Unused,
    /// It could not be opened or read; the message says why ([`open_error`]).
    Unreadable(String),
}

/// One device node and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    pub path: PathBuf,
    /// The device's name; empty if it could not be read.
    pub name: String,
    pub verdict: Verdict,
}

impl DeviceReport {
    pub fn is_used(&self) -> bool {
        matches!(self.verdict, Verdict::Used { .. })
    }
}

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if !self.name.is_empty() {
            write!(f, " ({})", self.name)?;
        }
        match &self.verdict {
            Verdict::Used {
                keys,
                hook_switches,
            } => {
                f.write_str(": used")?;
                if *keys > 0 {
                    write!(f, ", {keys} mapped keys")?;
                }
                if !hook_switches.is_empty() {
                    let names: Vec<String> = hook_switches.iter().map(|c| c.to_string()).collect();
                    write!(f, ", hook switch {}", names.join(" "))?;
                }
                Ok(())
            }
            Verdict::Unused => f.write_str(": not used, no mapped keys"),
            Verdict::Unreadable(why) => write!(f, ": cannot open: {why}"),
        }
    }
}

/// Whether a device with these capabilities is worth reading under `keymap`.
pub fn assess(keymap: &Keymap, caps: &DeviceCaps) -> Verdict {
    let mut keys = 0;
    let mut hook_switches = Vec::new();
    for (code, binding) in keymap.iter() {
        if !caps.has(code) {
            continue;
        }
        match binding {
            Binding::Hook { .. } => hook_switches.push(code),
            Binding::Key(_) | Binding::HookToggle => keys += 1,
        }
    }
    if keys == 0 && hook_switches.is_empty() {
        Verdict::Unused
    } else {
        Verdict::Used {
            keys,
            hook_switches,
        }
    }
}

/// The `event<N>` nodes in `dir`, in number order.
pub fn event_nodes(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut nodes: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("event"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(number) = number {
            nodes.push((number, entry.path()));
        }
    }
    nodes.sort();
    Ok(nodes.into_iter().map(|(_, p)| p).collect())
}

/// Why a device node could not be opened, in words for the status screen and the log.
pub fn open_error(error: &io::Error) -> String {
    match (error.kind(), error.raw_os_error()) {
        (io::ErrorKind::PermissionDenied, _) => {
            "permission denied (the UI must run as root or in the `input` group)".to_string()
        }
        // ENOTTY: the evdev ioctls do not apply, so this is no input device.
        (_, Some(25)) => "not an evdev device".to_string(),
        _ => error.to_string(),
    }
}

/// Probes every event node in `dir` and says which to use. Nodes that vanish between the
/// listing and the probe (unplugged) are left out; an unreadable `dir` gives one report for it.
pub fn scan(dir: &Path, keymap: &Keymap, probe: &dyn CapabilityProbe) -> Vec<DeviceReport> {
    let nodes = match event_nodes(dir) {
        Ok(nodes) => nodes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return vec![],
        Err(e) => {
            return vec![DeviceReport {
                path: dir.to_path_buf(),
                name: String::new(),
                verdict: Verdict::Unreadable(open_error(&e)),
            }]
        }
    };
    nodes
        .into_iter()
        .filter_map(|path| match probe.probe(&path) {
            Ok(caps) => Some(DeviceReport {
                verdict: assess(keymap, &caps),
                name: caps.name,
                path,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(19) => None,
            Err(e) => Some(DeviceReport {
                verdict: Verdict::Unreadable(open_error(&e)),
                name: String::new(),
                path,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Capabilities by node file name; a missing name is an error of the given kind.
    struct FakeProbe {
        devices: BTreeMap<&'static str, DeviceCaps>,
        errors: BTreeMap<&'static str, io::Error>,
    }

    impl CapabilityProbe for FakeProbe {
        fn probe(&self, path: &Path) -> io::Result<DeviceCaps> {
            let name = path.file_name().unwrap().to_str().unwrap();
            if let Some(e) = self.errors.get(name) {
                return Err(io::Error::new(e.kind(), e.to_string()));
            }
            self.devices
                .get(name)
                .cloned()
                .ok_or_else(|| io::Error::from_raw_os_error(25))
        }
    }

    fn caps(name: &str, keys: &[&str]) -> DeviceCaps {
        let mut c = DeviceCaps {
            name: name.to_string(),
            ..DeviceCaps::default()
        };
        for k in keys {
            match k.parse::<InputCode>().unwrap() {
                InputCode::Key(code) => c.keys.insert(code),
                InputCode::Switch(code) => c.switches.insert(code),
            };
        }
        c
    }

    #[test]
    fn devices_are_chosen_by_what_they_report() {
        let map = Keymap::builtin();
        let keyboard = caps(
            "AT keyboard",
            &["KEY_1", "KEY_F1", "KEY_SPACE", "KEY_A", "KEY_LEFTSHIFT"],
        );
        assert_eq!(
            assess(&map, &keyboard),
            Verdict::Used {
                keys: 3,
                hook_switches: vec![]
            }
        );
        let hook = caps("deskphone-hook", &["SW_MACHINE_COVER"]);
        assert_eq!(
            assess(&map, &hook),
            Verdict::Used {
                keys: 0,
                hook_switches: vec!["SW_MACHINE_COVER".parse().unwrap()]
            }
        );
        let mouse = caps("Mouse", &["BTN_LEFT", "BTN_RIGHT"]);
        assert_eq!(assess(&map, &mouse), Verdict::Unused);
        let lid = caps("Lid", &["SW_LID"]);
        assert_eq!(assess(&map, &lid), Verdict::Unused);
        let (lid_map, _) = Keymap::parse("SW_LID = hook", "test");
        assert_eq!(
            assess(&lid_map, &lid),
            Verdict::Used {
                keys: 0,
                hook_switches: vec![InputCode::Switch(0)]
            }
        );
    }

    #[test]
    fn scan_of_a_fake_dev_input_reports_each_node() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "event0", "event1", "event2", "event10", "event3", "mouse0", "mice", "js0",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("by-id")).unwrap();
        let probe = FakeProbe {
            devices: BTreeMap::from([
                ("event0", caps("Power Button", &["KEY_POWER"])),
                (
                    "event1",
                    caps("AT keyboard", &["KEY_1", "KEY_2", "KEY_SPACE"]),
                ),
                ("event10", caps("deskphone-hook", &["SW_MACHINE_COVER"])),
            ]),
            errors: BTreeMap::from([
                ("event2", io::Error::from(io::ErrorKind::PermissionDenied)),
                // Unplugged between the listing and the open.
                ("event3", io::Error::from(io::ErrorKind::NotFound)),
            ]),
        };
        let reports = scan(dir.path(), &Keymap::builtin(), &probe);
        let shown: Vec<String> = reports
            .iter()
            .map(|r| {
                r.to_string()
                    .replace(&dir.path().display().to_string(), "/dev/input")
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                "/dev/input/event0 (Power Button): not used, no mapped keys",
                "/dev/input/event1 (AT keyboard): used, 3 mapped keys",
                "/dev/input/event2: cannot open: permission denied \
                 (the UI must run as root or in the `input` group)",
                "/dev/input/event10 (deskphone-hook): used, hook switch SW_MACHINE_COVER",
            ]
        );
        let used: Vec<bool> = reports.iter().map(DeviceReport::is_used).collect();
        assert_eq!(used, vec![false, true, false, true]);
    }

    #[test]
    fn a_missing_input_dir_is_no_devices() {
        let dir = tempfile::tempdir().unwrap();
        let probe = FakeProbe {
            devices: BTreeMap::new(),
            errors: BTreeMap::new(),
        };
        assert_eq!(
            scan(&dir.path().join("input"), &Keymap::builtin(), &probe),
            vec![]
        );
    }

    #[test]
    fn a_node_that_is_no_input_device_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("event0");
        std::fs::write(&node, b"").unwrap();
        // The real probe on a plain file: the evdev ioctls fail.
        let reports = scan(dir.path(), &Keymap::builtin(), &EvdevProbe);
        assert_eq!(reports.len(), 1);
        assert_eq!(
            reports[0].to_string(),
            format!("{}: cannot open: not an evdev device", node.display())
        );
    }
}
