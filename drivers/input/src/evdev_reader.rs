//! The evdev shell: opens the chosen devices, follows hot plug, and runs every event through one
//! [`KeypadDecoder`]. All decisions are in the tested core ([`crate::discovery`],
//! [`crate::decoder`]); this file only does I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::decoder::{DecoderOptions, KeypadDecoder, RawEvent};
use crate::discovery::{assess, event_nodes, open_error, DeviceCaps, DeviceReport, Verdict};
use crate::keymap::{InputCode, Keymap};
use crate::{monotonic_now, InputEvent};

/// How often `/dev/input` is rescanned when inotify cannot watch it (no such directory yet, or
/// no inotify).
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvdevOptions {
    /// The directory of the event nodes, [`crate::INPUT_DIR`] on a phone.
    pub dir: PathBuf,
    pub decoder: DecoderOptions,
}

impl Default for EvdevOptions {
    fn default() -> EvdevOptions {
        EvdevOptions {
            dir: PathBuf::from(crate::INPUT_DIR),
            decoder: DecoderOptions::default(),
        }
    }
}

/// The running evdev reader. Dropping it stops the reader and closes the devices.
#[derive(Debug)]
pub struct InputHandle {
    devices: Arc<Mutex<BTreeMap<PathBuf, DeviceReport>>>,
    task: tokio::task::JoinHandle<()>,
}

impl InputHandle {
    /// Every event node seen at the last scan, used or not, and why.
    pub fn devices(&self) -> Vec<DeviceReport> {
        lock(&self.devices).values().cloned().collect()
    }

    /// The devices being read, in words (for the UI's status `inputs`).
    pub fn inputs(&self) -> Vec<String> {
        lock(&self.devices)
            .values()
            .filter(|r| r.is_used())
            .map(|r| r.to_string())
            .collect()
    }
}

impl Drop for InputHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere leaves the report usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts reading every evdev device that reports a code of `keymap`, now and when plugged in
/// later, and sends the decoded events to `events`. Stops when `events` is closed or the handle
/// dropped. Needs a Tokio runtime (an error otherwise).
pub fn spawn_evdev(
    keymap: Keymap,
    options: EvdevOptions,
    events: mpsc::Sender<InputEvent>,
) -> io::Result<InputHandle> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("spawn_evdev needs a Tokio runtime"))?;
    let devices = Arc::new(Mutex::new(BTreeMap::new()));
    let reader = Reader {
        decoder: KeypadDecoder::new(keymap, options.decoder),
        dir: options.dir,
        devices: devices.clone(),
        open: BTreeSet::new(),
    };
    let task = runtime.spawn(reader.run(events));
    Ok(InputHandle { devices, task })
}

/// Lists the evdev devices of [`crate::INPUT_DIR`] and why each is used or not.
pub fn evdev_devices_report(keymap: &Keymap) -> Vec<String> {
    crate::discovery::scan(Path::new(crate::INPUT_DIR), keymap, &crate::EvdevProbe)
        .iter()
        .map(|r| r.to_string())
        .collect()
}

/// What device tasks tell the reader.
enum Message {
    Event(RawEvent),
    Gone(PathBuf, io::Error),
}

struct Reader {
    decoder: KeypadDecoder,
    dir: PathBuf,
    devices: Arc<Mutex<BTreeMap<PathBuf, DeviceReport>>>,
    /// Nodes with a running device task.
    open: BTreeSet<PathBuf>,
}

impl Reader {
    async fn run(mut self, events: mpsc::Sender<InputEvent>) {
        let (tx, mut rx) = mpsc::channel::<Message>(256);
        // Dropping the set (when this task ends or is aborted) stops every device task.
        let mut device_tasks = JoinSet::new();
        let mut hotplug = Hotplug::watch(&self.dir);
        self.rescan(&tx, &mut device_tasks);
        loop {
            let sleep = self
                .decoder
                .poll_timeout()
                .map(|deadline| deadline.saturating_sub(monotonic_now()));
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Message::Event(raw)) => self.decoder.handle_event(raw),
                    Some(Message::Gone(path, error)) => self.forget(path, &error),
                    None => return,
                },
                () = tokio::time::sleep(sleep.unwrap_or_default()), if sleep.is_some() => {
                    self.decoder.handle_timeout(monotonic_now());
                }
                () = hotplug.changed(&self.dir) => self.rescan(&tx, &mut device_tasks),
                () = events.closed() => return,
            }
            // Reap finished device tasks so the set does not grow with every unplug.
            while device_tasks.try_join_next().is_some() {}
            while let Some(event) = self.decoder.poll_event() {
                if events.send(event).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Opens the event nodes not open yet; refreshes the reports of all.
    fn rescan(&mut self, tx: &mpsc::Sender<Message>, tasks: &mut JoinSet<()>) {
        let nodes = match event_nodes(&self.dir) {
            Ok(nodes) => nodes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => vec![],
            Err(e) => {
                log::warn!("cannot list {}: {}", self.dir.display(), open_error(&e));
                return;
            }
        };
        let mut reports = BTreeMap::new();
        for path in nodes {
            if self.open.contains(&path) {
                if let Some(report) = lock(&self.devices).get(&path) {
                    reports.insert(path, report.clone());
                }
                continue;
            }
            let report = match self.open_device(&path) {
                Ok((report, Some(stream))) => {
                    self.open.insert(path.clone());
                    tasks.spawn(read_device(path.clone(), stream, tx.clone()));
                    report
                }
                Ok((report, None)) => report,
                // Gone again before it could be opened: nothing to say.
                Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(19) => {
                    continue
                }
                Err(e) => DeviceReport {
                    path: path.clone(),
                    name: String::new(),
                    verdict: Verdict::Unreadable(open_error(&e)),
                },
            };
            // Say it once per change, not at every rescan.
            if lock(&self.devices).get(&path) != Some(&report) {
                match report.verdict {
                    Verdict::Used { .. } => log::info!("{report}"),
                    Verdict::Unused => log::debug!("{report}"),
                    Verdict::Unreadable(_) => log::warn!("{report}"),
                }
            }
            reports.insert(path, report);
        }
        *lock(&self.devices) = reports;
    }

    /// Opens a node; returns its report and, if it is used, its event stream.
    fn open_device(
        &mut self,
        path: &Path,
    ) -> io::Result<(DeviceReport, Option<evdev::EventStream>)> {
        let device = evdev::Device::open(path)?;
        let caps = DeviceCaps::of(&device);
        let verdict = assess(self.decoder.keymap(), &caps);
        let report = DeviceReport {
            path: path.to_path_buf(),
            name: caps.name.clone(),
            verdict,
        };
        if !report.is_used() {
            return Ok((report, None));
        }
        // Kernel timestamps on the monotonic clock, so that an NTP step cannot stall debouncing.
        set_monotonic_clock(&device)?;
        self.feed_hook_state(&device, &caps)?;
        Ok((report, Some(device.into_event_stream()?)))
    }

    /// Tells the decoder where the device's hook switches are now (the kernel only reports
    /// changes after the open).
    fn feed_hook_state(&mut self, device: &evdev::Device, caps: &DeviceCaps) -> io::Result<()> {
        let codes: Vec<InputCode> = self
            .decoder
            .keymap()
            .hook_switches()
            .filter(|c| caps.has(*c))
            .collect();
        if codes.is_empty() {
            return Ok(());
        }
        let keys = device.get_key_state()?;
        let switches = device.get_switch_state()?;
        let now = monotonic_now();
        for code in codes {
            let on = match code {
                InputCode::Key(c) => keys.contains(evdev::KeyCode(c)),
                InputCode::Switch(c) => switches.contains(evdev::SwitchCode(c)),
            };
            self.decoder
                .handle_event(RawEvent::new(code, on.into(), now));
        }
        Ok(())
    }

    fn forget(&mut self, path: PathBuf, error: &io::Error) {
        self.open.remove(&path);
        lock(&self.devices).remove(&path);
        // ENODEV is an unplug: expected, and said once.
        if error.raw_os_error() == Some(19) {
            log::info!("{}: removed", path.display());
        } else {
            log::warn!("{}: stopped reading: {error}", path.display());
        }
    }
}

/// Reads one device until it fails (unplugged), passing its key and switch events on.
async fn read_device(path: PathBuf, mut stream: evdev::EventStream, tx: mpsc::Sender<Message>) {
    let key = evdev::EventType::KEY.0;
    let switch = evdev::EventType::SWITCH.0;
    loop {
        match stream.next_event().await {
            Ok(event) => {
                let event_type = event.event_type().0;
                if event_type != key && event_type != switch {
                    continue;
                }
                let time = event
                    .timestamp()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let raw = RawEvent {
                    event_type,
                    code: event.code(),
                    value: event.value(),
                    time,
                };
                if tx.send(Message::Event(raw)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = tx.send(Message::Gone(path, error)).await;
                return;
            }
        }
    }
}

nix::ioctl_write_ptr!(eviocsclockid, b'E', 0xa0, std::ffi::c_int);

fn set_monotonic_clock(device: &evdev::Device) -> io::Result<()> {
    let clock: std::ffi::c_int = nix::libc::CLOCK_MONOTONIC;
    // SAFETY: EVIOCSCLOCKID reads one int through the pointer, which outlives the call; the fd
    // is the open evdev device's.
    unsafe { eviocsclockid(device.as_raw_fd(), &clock) }.map_err(io::Error::from)?;
    Ok(())
}

/// New event nodes: inotify on the directory, or a periodic rescan where that is impossible.
enum Hotplug {
    Inotify(inotify::EventStream<Vec<u8>>),
    Poll(tokio::time::Interval),
}

impl Hotplug {
    fn watch(dir: &Path) -> Hotplug {
        match Self::inotify(dir) {
            Ok(stream) => Hotplug::Inotify(stream),
            Err(e) => {
                log::info!(
                    "not watching {} ({e}): rescanning every {:?}",
                    dir.display(),
                    RESCAN_INTERVAL
                );
                Self::poll()
            }
        }
    }

    fn inotify(dir: &Path) -> io::Result<inotify::EventStream<Vec<u8>>> {
        let inotify = inotify::Inotify::init()?;
        // CREATE: a node appears; ATTRIB: udev then grants access to it.
        inotify
            .watches()
            .add(dir, inotify::WatchMask::CREATE | inotify::WatchMask::ATTRIB)?;
        inotify.into_event_stream(vec![0; 1024])
    }

    fn poll() -> Hotplug {
        let mut interval = tokio::time::interval(RESCAN_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Hotplug::Poll(interval)
    }

    /// Resolves when the directory may have new nodes.
    async fn changed(&mut self, dir: &Path) {
        match self {
            Hotplug::Inotify(stream) => match stream.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    log::warn!(
                        "watching {} failed ({e}): rescanning instead",
                        dir.display()
                    );
                    *self = Self::poll();
                }
                // The directory went away; it is rescanned until it is back.
                None => *self = Self::poll(),
            },
            Hotplug::Poll(interval) => {
                interval.tick().await;
                // Back to inotify once the directory exists.
                if let Ok(stream) = Self::inotify(dir) {
                    *self = Hotplug::Inotify(stream);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn wait_for(handle: &InputHandle, count: usize) -> Vec<DeviceReport> {
        for _ in 0..200 {
            let devices = handle.devices();
            if devices.len() >= count {
                return devices;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        handle.devices()
    }

    #[tokio::test]
    async fn new_nodes_are_found_without_waiting_for_a_rescan() {
        // No uinput here: plain files stand in for nodes and are reported as no input devices.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("event0"), b"").unwrap();
        let (tx, _rx) = mpsc::channel(8);
        let options = EvdevOptions {
            dir: dir.path().to_path_buf(),
            ..EvdevOptions::default()
        };
        let handle = spawn_evdev(Keymap::builtin(), options, tx).unwrap();
        let devices = wait_for(&handle, 1).await;
        assert_eq!(devices.len(), 1);
        assert_eq!(
            devices[0].verdict,
            Verdict::Unreadable("not an evdev device".into())
        );
        assert_eq!(handle.inputs(), Vec::<String>::new());

        // Plugged in: inotify sees it long before RESCAN_INTERVAL.
        std::fs::write(dir.path().join("event7"), b"").unwrap();
        let started = std::time::Instant::now();
        let devices = wait_for(&handle, 2).await;
        let paths: Vec<PathBuf> = devices.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths,
            vec![dir.path().join("event0"), dir.path().join("event7")]
        );
        assert!(started.elapsed() < RESCAN_INTERVAL / 2);
    }

    #[tokio::test]
    async fn the_reader_stops_when_the_receiver_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = mpsc::channel(8);
        let options = EvdevOptions {
            dir: dir.path().to_path_buf(),
            ..EvdevOptions::default()
        };
        let handle = spawn_evdev(Keymap::builtin(), options, tx).unwrap();
        drop(rx);
        for _ in 0..200 {
            if handle.task.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the reader still runs with nobody listening");
    }

    #[test]
    fn spawning_outside_a_runtime_is_an_error() {
        let (tx, _rx) = mpsc::channel(8);
        let error = spawn_evdev(Keymap::builtin(), EvdevOptions::default(), tx).unwrap_err();
        assert!(error.to_string().contains("Tokio runtime"), "{error}");
    }
}
