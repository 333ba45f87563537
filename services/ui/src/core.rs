//! The UI as a state machine: keys, the hook switch, sipd's lines and calls, provd's
//! configuration and the time go in; orders for sipd, provd and mediad come out, and
//! [`UiCore::screen`] says what the display shows now. No sockets, no clocks: the service
//! around it passes the time with every input, so tests drive it faster than real time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskphone_config::lookup;
use deskphone_dialplan::{DialPlan, Dialer};
use deskphone_ipc::mediad::{AudioPath, Request as MediadRequest, RingPattern, Tone};
use deskphone_ipc::sipd::{
    CallStatus, Event as SipdEvent, LineStatus, Request as SipdRequest, Status as SipdStatus,
};
use deskphone_ipc::ui::{Key, ScreenStatus};
use deskphone_screen::{EditField, Icon, LineKey, Row, Screen, StatusBar, TitleBar};

use crate::entry::{EntryMode, TextEntry};
use crate::history::{Entry, History, List};
use crate::settings::{self, Change, Item, Page, Values};

/// How long a passing message (`Saved`, `Wrong password`) stays on the prompt line.
const PROMPT_TIME: Duration = Duration::from_secs(4);

/// Something the service must do for the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A request to sipd; its reply comes back through [`UiCore::handle_sipd_reply`].
    Sipd(SipdRequest),
    /// A request to provd; its outcome comes back through [`UiCore::handle_provd_result`].
    Provd(ProvdOrder),
    Mediad(MediadRequest),
    /// The call lists changed: write them to the data partition.
    SaveHistory,
    /// The phone's own preferences (contrast, ring type) changed.
    SavePrefs,
    /// Read the status again (versions, status messages) for the Status pages.
    RefreshStatus,
    /// Fetch a phone XML object over HTTP; the result comes back through
    /// [`UiCore::handle_fetch_result`].
    Fetch(String),
    /// Fetch the idle screen's logo (`logo_url`); the result comes back through
    /// [`UiCore::handle_logo`].
    FetchLogo(String),
}

/// What the UI asks of provd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvdOrder {
    Unlock {
        password: String,
    },
    Lock,
    Set {
        name: String,
        value: Option<String>,
    },
    EraseNetwork,
    /// The phone is in use here (off hook, dialling, in a menu): check-sync waits.
    Activity {
        busy: bool,
    },
}

/// The phone's own settings that are no configuration parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prefs {
    /// 1-15; 8 is the middle.
    pub contrast: u8,
    pub ring: RingPattern,
    /// 0-10 per path, as mediad takes them.
    pub handset_volume: u8,
    pub speaker_volume: u8,
    pub headset_volume: u8,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            contrast: 8,
            ring: RingPattern::Standard,
            handset_volume: 5,
            speaker_volume: 5,
            headset_volume: 5,
        }
    }
}

/// The ring patterns offered on Ring Type, with their names.
pub const RING_TYPES: &[(RingPattern, &str)] = &[
    (RingPattern::Standard, "Standard"),
    (RingPattern::Double, "Double"),
    (RingPattern::ShortShortLong, "Short Short Long"),
];

/// A lamp as the UI wants it lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lamp {
    Off,
    On,
    /// Held calls.
    BlinkSlow,
    /// Ringing.
    BlinkFast,
}

struct Dialing {
    line: u8,
    dialer: Dialer,
}

/// A transfer or conference being set up: the first call is held, a second one dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConsultKind {
    Transfer,
    Conference,
}

#[derive(Debug, Clone, Copy)]
struct Consult {
    kind: ConsultKind,
    held: u32,
    new_call: Option<u32>,
}

struct SettingsSession {
    /// The pages open, the last on top, each with its highlighted row.
    stack: Vec<(Page, usize)>,
    /// Changes made on this visit, saved by Save.
    staged: BTreeMap<&'static str, String>,
    erase_network: bool,
    editing: Option<Editing>,
    /// The last keys pressed, for the `**#` toggle of older releases.
    recent: String,
    /// Unsaved Contrast / Ring Type choice.
    contrast: u8,
    ring: usize,
}

enum Editing {
    Param {
        name: &'static str,
        entry: TextEntry,
    },
    Password(TextEntry),
}

impl Editing {
    fn entry(&mut self) -> &mut TextEntry {
        match self {
            Editing::Param { entry, .. } | Editing::Password(entry) => entry,
        }
    }
    fn entry_ref(&self) -> &TextEntry {
        match self {
            Editing::Param { entry, .. } | Editing::Password(entry) => entry,
        }
    }
}

/// The Directories key's pages.
enum Directory {
    Root(usize),
    List(List, usize),
}

/// A screen opened over the call screens by a feature key.
enum Overlay {
    Directories(Directory),
    Info,
    /// Services, or the external directory: pages of phone XML objects.
    Xml(crate::xml::XmlBrowser, &'static str),
}

pub struct UiCore {
    config: BTreeMap<String, String>,
    logo: Option<deskphone_screen::Image>,
    clock: crate::clock::StatusClock,
    dial_plan: Arc<DialPlan>,
    lines: Vec<LineStatus>,
    calls: Vec<CallStatus>,
    connected_at: HashMap<u32, Instant>,
    selected_call: Option<u32>,
    pub history: History,
    pub prefs: Prefs,
    status_messages: Vec<String>,
    /// `(what, version)` for Firmware Versions.
    versions: Vec<(String, String)>,
    /// `(what, value)` for Network Statistics.
    network: Vec<(String, String)>,
    handset_up: bool,
    /// Speaker or headset mode, which keeps a call going with the handset down.
    hands_free: Option<AudioPath>,
    muted: bool,
    dialing: Option<Dialing>,
    consult: Option<Consult>,
    settings: Option<SettingsSession>,
    unlocked: bool,
    overlay: Option<Overlay>,
    prompt: Option<(String, Instant)>,
    /// Busy or reorder after a failed call, while the handset is still up.
    failure_tone: Option<Tone>,
    /// `call_hold_ringback`: hung up with a call on hold, the phone rings until it is
    /// picked up, which takes the held call back.
    hold_reminder: bool,
    /// What provd was last told about the phone being in use.
    told_busy: Option<bool>,
    ordered_tone: Option<Tone>,
    ordered_ring: Option<RingPattern>,
    ordered_path: Option<AudioPath>,
    outputs: VecDeque<Output>,
    now: Instant,
    wall: i64,
}

impl UiCore {
    pub fn new(now: Instant, wall: i64, history: History, prefs: Prefs) -> UiCore {
        UiCore {
            logo: None,
            clock: crate::clock::StatusClock::new(&BTreeMap::new()),
            config: BTreeMap::new(),
            dial_plan: Arc::new(DialPlan::default()),
            lines: Vec::new(),
            calls: Vec::new(),
            connected_at: HashMap::new(),
            selected_call: None,
            history,
            prefs,
            status_messages: Vec::new(),
            versions: Vec::new(),
            network: Vec::new(),
            handset_up: false,
            hands_free: None,
            muted: false,
            dialing: None,
            consult: None,
            settings: None,
            unlocked: false,
            overlay: None,
            prompt: None,
            failure_tone: None,
            hold_reminder: false,
            told_busy: None,
            ordered_tone: None,
            ordered_ring: None,
            ordered_path: None,
            outputs: VecDeque::new(),
            now,
            wall,
        }
    }

    // ----- inputs -------------------------------------------------------------------------

    /// The effective configuration, `{name: value as text}` (secrets masked by provd).
    pub fn set_config(&mut self, config: BTreeMap<String, String>) {
        self.clock = crate::clock::StatusClock::new(&config);
        let logo_url = config.get("logo_url").cloned().unwrap_or_default();
        if self.config.get("logo_url").cloned().unwrap_or_default() != logo_url
            || self.config.is_empty()
        {
            self.logo = None;
            if !logo_url.is_empty() {
                self.outputs.push_back(Output::FetchLogo(logo_url));
            }
        }
        self.config = config;
    }

    /// The configuration in use (for tests that change one value).
    pub fn config_for_tests(&self) -> BTreeMap<String, String> {
        self.config.clone()
    }

    pub fn set_dial_plan(&mut self, plan: Arc<DialPlan>) {
        self.dial_plan = plan;
    }

    /// What the Status pages show, read from provd (and the other services) by the shell.
    pub fn set_status_pages(
        &mut self,
        messages: Vec<String>,
        versions: Vec<(String, String)>,
        network: Vec<(String, String)>,
    ) {
        self.status_messages = messages;
        self.versions = versions;
        self.network = network;
    }

    pub fn add_status_message(&mut self, text: String) {
        self.status_messages.push(text);
        let excess = self.status_messages.len().saturating_sub(64);
        self.status_messages.drain(..excess);
    }

    pub fn handle_sipd_status(&mut self, status: SipdStatus) {
        self.lines = status.lines;
        for c in status.calls {
            self.update_call(c);
        }
        self.sync_audio();
    }

    pub fn handle_sipd_event(&mut self, event: SipdEvent) {
        match event {
            SipdEvent::Line(l) => match self.lines.iter_mut().find(|x| x.line == l.line) {
                Some(x) => *x = l,
                None => {
                    self.lines.push(l);
                    self.lines.sort_by_key(|x| x.line);
                }
            },
            SipdEvent::Call(c) => self.update_call(c),
            SipdEvent::CallEnded {
                call,
                reason,
                missed,
            } => self.call_ended(call, &reason, missed),
            SipdEvent::Transfer { ok, outcome, .. } => {
                self.say(if ok {
                    "Transferred".to_string()
                } else {
                    format!("Transfer failed: {outcome}")
                });
            }
            SipdEvent::CallRefused { line, remote, .. } => {
                self.history.add(
                    List::Missed,
                    Entry {
                        dial: remote.clone(),
                        remote,
                        line,
                        time: self.wall,
                    },
                );
                self.outputs.push_back(Output::SaveHistory);
            }
            SipdEvent::StatusMessage { text } => self.add_status_message(text),
        }
        self.sync_audio();
    }

    /// The reply to an [`Output::Sipd`] request: the call it acted on, or why it failed.
    pub fn handle_sipd_reply(&mut self, result: Result<Option<CallStatus>, String>) {
        match result {
            Ok(Some(call)) => {
                if let Some(c) = &mut self.consult {
                    if c.new_call.is_none() && call.id != c.held {
                        c.new_call = Some(call.id);
                    }
                }
                self.selected_call = Some(call.id);
                self.update_call(call);
            }
            Ok(None) => {}
            Err(e) => self.say(e),
        }
        self.sync_audio();
    }

    pub fn handle_provd_result(&mut self, order: &ProvdOrder, result: Result<(), String>) {
        match (order, result) {
            (ProvdOrder::Unlock { .. }, Ok(())) => {
                self.unlocked = true;
                self.say("Configuration unlocked");
            }
            (ProvdOrder::Unlock { .. }, Err(_)) => {
                self.unlocked = false;
                self.say("Wrong password");
            }
            (ProvdOrder::Set { .. }, Ok(())) | (ProvdOrder::EraseNetwork, Ok(())) => {}
            (ProvdOrder::Set { name, .. }, Err(e)) => {
                let label = lookup(name)
                    .map(|id| settings::label(id.def()))
                    .unwrap_or(name);
                self.say(format!("{label}: {e}"));
            }
            (_, Err(e)) => self.say(e),
            (ProvdOrder::Lock, Ok(())) | (ProvdOrder::Activity { .. }, Ok(())) => {}
        }
    }

    /// The logo a [`Output::FetchLogo`] brought, or why there is none (a status message).
    pub fn handle_logo(&mut self, result: Result<deskphone_screen::Image, String>) {
        match result {
            Ok(image) => self.logo = Some(image),
            Err(e) => {
                self.logo = None;
                self.add_status_message(format!("logo_url: {e}"));
            }
        }
    }

    /// What a [`Output::Fetch`] brought: the object, or why there is none.
    pub fn handle_fetch_result(&mut self, result: Result<deskphone_xmlapps::PhoneObject, String>) {
        if let Some(Overlay::Xml(browser, _)) = &mut self.overlay {
            browser.loaded(result);
        }
    }

    /// Time passes: dialling timeouts, multi-tap letters, passing messages.
    pub fn handle_tick(&mut self, now: Instant, wall: i64) {
        self.now = now;
        self.wall = wall;
        if let Some(Overlay::Xml(b, _)) = &mut self.overlay {
            b.handle_timeout(now);
        }
        if let Some(d) = &mut self.dialing {
            if let Some(call) = d.dialer.handle_timeout(now) {
                let keys = call.dialled.clone();
                self.place_call(keys);
            }
        }
        if let Some(e) = self.settings.as_mut().and_then(|s| s.editing.as_mut()) {
            e.entry().handle_timeout(now);
        }
        if matches!(&self.prompt, Some((_, until)) if *until <= now) {
            self.prompt = None;
        }
        self.sync_audio();
    }

    /// When [`handle_tick`](Self::handle_tick) must be called next at the latest (the
    /// status bar clock also wants a tick every second).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let dial = self.dialing.as_ref().and_then(|d| d.dialer.poll_timeout());
        let entry = self
            .settings
            .as_ref()
            .and_then(|s| s.editing.as_ref())
            .and_then(|e| e.entry_ref().poll_timeout());
        let prompt = self.prompt.as_ref().map(|(_, t)| *t);
        let xml = match &self.overlay {
            Some(Overlay::Xml(b, _)) => b.poll_timeout(),
            _ => None,
        };
        [dial, entry, prompt, xml].into_iter().flatten().min()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// A key, or the hook switch.
    pub fn handle_key(&mut self, key: Key, now: Instant, wall: i64) {
        self.now = now;
        self.wall = wall;
        // A passing message stays until the next key.
        self.prompt = None;
        match key {
            Key::OffHook => self.off_hook(),
            Key::OnHook => self.on_hook(),
            Key::Speaker => self.hands_free_key(AudioPath::Speaker),
            Key::Headset => self.hands_free_key(AudioPath::Headset),
            Key::Mute => {
                if self.active_call().is_some() {
                    self.muted = !self.muted;
                    self.outputs
                        .push_back(Output::Mediad(MediadRequest::Mute { muted: self.muted }));
                }
            }
            Key::VolumeUp | Key::VolumeDown => self.volume(key == Key::VolumeUp),
            Key::Settings => {
                if self.settings.is_some() {
                    self.leave_settings();
                } else {
                    self.open_settings();
                }
            }
            Key::Directories => {
                self.leave_settings();
                self.overlay = Some(Overlay::Directories(Directory::Root(0)));
            }
            Key::Info => {
                self.leave_settings();
                self.overlay = match self.overlay {
                    Some(Overlay::Info) => None,
                    _ => Some(Overlay::Info),
                };
            }
            Key::Messages => self.messages_key(),
            Key::Services => {
                let url = self.cfg("services_url").to_string();
                if url.is_empty() {
                    self.say("No services configured");
                } else {
                    self.leave_settings();
                    self.overlay = Some(Overlay::Xml(
                        crate::xml::XmlBrowser::loading("Services"),
                        "services",
                    ));
                    self.outputs.push_back(Output::Fetch(url));
                }
            }
            Key::Line(n) => self.line_key(n),
            _ if self.settings.is_some() => self.settings_key(key),
            _ if self.overlay.is_some() => self.overlay_key(key),
            Key::Soft(n) => self.call_softkey(n),
            Key::Up | Key::Down => self.select_call(key == Key::Down),
            _ => {
                if let Some(c) = key.dial_char() {
                    self.dial_key(c);
                }
            }
        }
        self.sync_audio();
    }

    // ----- hook, audio path, tones --------------------------------------------------------

    fn off_hook(&mut self) {
        self.handset_up = true;
        self.hands_free = None;
        if std::mem::take(&mut self.hold_reminder) && self.ringing_call().is_none() {
            if let Some(held) = self.calls.iter().find(|c| c.state == "held") {
                let id = held.id;
                self.outputs
                    .push_back(Output::Sipd(SipdRequest::Resume { call: Some(id) }));
                return;
            }
        }
        if let Some(ringing) = self.ringing_call() {
            if self.active_call().is_none() {
                self.answer(ringing);
                return;
            }
        }
        if self.dialing.is_none() && self.active_call().is_none() && self.held_calls() == 0 {
            self.start_dialing(None);
        }
    }

    fn on_hook(&mut self) {
        self.handset_up = false;
        self.failure_tone = None;
        if self.hands_free.is_some() {
            return;
        }
        let was_active = self.active_call().map(|c| c.id);
        self.hang_up_active();
        let held_left = self
            .calls
            .iter()
            .any(|c| c.state == "held" && Some(c.id) != was_active);
        let level = self.cfg("call_hold_ringback");
        if held_left && (level == "1" || level == "3") {
            self.hold_reminder = true;
        }
    }

    /// The speaker or headset key: takes the call or dial tone to that path, or ends it when
    /// that path was the one in use.
    fn hands_free_key(&mut self, path: AudioPath) {
        if self.hands_free == Some(path) {
            self.hands_free = None;
            if !self.handset_up {
                self.failure_tone = None;
                self.hang_up_active();
            }
            return;
        }
        let was_idle = !self.engaged();
        self.hands_free = Some(path);
        self.handset_up = false;
        if let Some(ringing) = self.ringing_call() {
            if self.active_call().is_none() {
                self.answer(ringing);
                return;
            }
        }
        if was_idle && self.dialing.is_none() && self.active_call().is_none() {
            self.start_dialing(None);
        }
    }

    /// The handset is up, or speaker/headset mode is on.
    fn engaged(&self) -> bool {
        self.handset_up || self.hands_free.is_some()
    }

    fn audio_path(&self) -> Option<AudioPath> {
        if self.handset_up {
            Some(AudioPath::Handset)
        } else {
            self.hands_free
        }
    }

    fn hang_up_active(&mut self) {
        if self.dialing.take().is_some() {
            self.consult_abandoned();
        }
        if let Some(c) = self.active_call() {
            self.outputs
                .push_back(Output::Sipd(SipdRequest::Hangup { call: Some(c.id) }));
        }
    }

    fn volume(&mut self, up: bool) {
        let step = |v: &mut u8| {
            *v = if up {
                (*v + 1).min(10)
            } else {
                v.saturating_sub(1)
            };
            *v
        };
        let path = if self.ringing_call().is_some() && self.active_call().is_none() {
            AudioPath::Speaker
        } else {
            self.audio_path().unwrap_or(AudioPath::Speaker)
        };
        let level = match path {
            AudioPath::Handset => step(&mut self.prefs.handset_volume),
            AudioPath::Speaker => step(&mut self.prefs.speaker_volume),
            AudioPath::Headset => step(&mut self.prefs.headset_volume),
        };
        self.outputs
            .push_back(Output::Mediad(MediadRequest::Volume { path, level }));
        self.outputs.push_back(Output::SavePrefs);
        self.say(format!("Volume {level}"));
    }

    /// Orders mediad's path, tone and ringer to match the phone's state, only on changes;
    /// tells provd when the phone starts or stops being in use here.
    fn sync_audio(&mut self) {
        let busy = self.engaged()
            || self.dialing.is_some()
            || self.settings.is_some()
            || self.overlay.is_some();
        if self.told_busy != Some(busy) {
            self.told_busy = Some(busy);
            self.outputs
                .push_back(Output::Provd(ProvdOrder::Activity { busy }));
        }
        let path = self.audio_path();
        if path.is_some() && path != self.ordered_path {
            self.ordered_path = path;
            self.outputs.push_back(Output::Mediad(MediadRequest::Path {
                path: path.unwrap_or(AudioPath::Handset),
            }));
        }
        let tone = self.wanted_tone();
        if tone != self.ordered_tone {
            self.ordered_tone = tone;
            self.outputs
                .push_back(Output::Mediad(MediadRequest::Tone { tone }));
        }
        let ring = self.wanted_ring();
        if ring != self.ordered_ring {
            self.ordered_ring = ring;
            self.outputs
                .push_back(Output::Mediad(MediadRequest::Ring { pattern: ring }));
        }
    }

    fn wanted_tone(&self) -> Option<Tone> {
        if !self.engaged() {
            return None;
        }
        if let Some(d) = &self.dialing {
            if d.dialer.keys().is_empty() {
                return Some(if self.messages_waiting() {
                    Tone::StutterDial
                } else {
                    Tone::Dial
                });
            }
            return d.dialer.secondary_tone().then_some(Tone::SecondaryDial);
        }
        if self.failure_tone.is_some() && self.calls.is_empty() {
            return self.failure_tone;
        }
        let active = self.active_call();
        if active.is_some_and(|c| c.state == "ringback") {
            return Some(Tone::Ringback);
        }
        if active.is_some_and(|c| c.state == "connected") && self.ringing_call().is_some() {
            return Some(Tone::CallWaiting);
        }
        None
    }

    fn wanted_ring(&self) -> Option<RingPattern> {
        // With the handset up or the speaker on, a second call gets the call-waiting tone.
        let held = self.calls.iter().any(|c| c.state == "held");
        ((self.ringing_call().is_some() || (self.hold_reminder && held)) && !self.engaged())
            .then_some(self.prefs.ring)
    }

    fn messages_waiting(&self) -> bool {
        self.lines.iter().any(|l| l.messages_waiting)
    }

    // ----- calls ----------------------------------------------------------------------------

    fn update_call(&mut self, c: CallStatus) {
        if c.state == "ended" {
            self.calls.retain(|x| x.id != c.id);
            return;
        }
        if c.state == "connected" {
            let since = self.now - Duration::from_secs(c.connected_for);
            self.connected_at.entry(c.id).or_insert(since);
        }
        if c.state == "ringing" && self.selected_call.is_none() {
            self.selected_call = Some(c.id);
        }
        if c.state == "connected" || c.state == "calling" {
            self.failure_tone = None;
        }
        match self.calls.iter_mut().find(|x| x.id == c.id) {
            Some(x) => *x = c,
            None => {
                // A new call shows at once, over any menu.
                if c.state == "ringing" && self.active_call().is_none() {
                    self.selected_call = Some(c.id);
                    self.overlay = None;
                }
                self.calls.push(c);
            }
        }
        if let Some(cons) = &self.consult {
            if !self.calls.iter().any(|x| x.id == cons.held) {
                self.consult = None;
            }
        }
    }

    fn call_ended(&mut self, call: CallStatus, reason: &str, missed: bool) {
        let was_connected = self.connected_at.remove(&call.id).is_some();
        self.calls.retain(|x| x.id != call.id);
        if self.selected_call == Some(call.id) {
            self.selected_call = self.calls.last().map(|c| c.id);
        }
        if let Some(c) = self.consult {
            if c.held == call.id || c.new_call == Some(call.id) {
                self.consult = None;
            }
        }
        let entry = Entry {
            remote: call.remote.clone(),
            dial: dial_string(&call.remote_uri),
            line: call.line,
            time: self.wall,
        };
        if missed {
            self.history.add(List::Missed, entry);
            self.outputs.push_back(Output::SaveHistory);
        } else if call.direction == "incoming" && was_connected {
            self.history.add(List::Received, entry);
            self.outputs.push_back(Output::SaveHistory);
        }
        if call.direction == "outgoing" && !was_connected && self.engaged() {
            self.failure_tone = Some(if reason == "busy" {
                Tone::Busy
            } else {
                Tone::Reorder
            });
            if reason != "hung up" && reason != "busy" {
                self.say(format!("Call failed: {reason}"));
            }
        }
        if self.calls.is_empty() && self.failure_tone.is_none() {
            // The far end hung up: a speakerphone goes back on hook by itself.
            self.hands_free = None;
            self.muted = false;
        }
    }

    /// The call the handset or speaker is talking on: connected, or dialling out.
    fn active_call(&self) -> Option<&CallStatus> {
        self.calls
            .iter()
            .rev()
            .find(|c| matches!(c.state.as_str(), "connected" | "calling" | "ringback"))
    }

    fn ringing_call(&self) -> Option<u32> {
        self.calls
            .iter()
            .find(|c| c.state == "ringing")
            .map(|c| c.id)
    }

    fn held_calls(&self) -> usize {
        self.calls.iter().filter(|c| c.state == "held").count()
    }

    fn selected(&self) -> Option<&CallStatus> {
        self.selected_call
            .and_then(|id| self.calls.iter().find(|c| c.id == id))
            .or_else(|| self.calls.last())
    }

    fn select_call(&mut self, down: bool) {
        if self.calls.is_empty() {
            return;
        }
        let at = self
            .selected()
            .and_then(|s| self.calls.iter().position(|c| c.id == s.id))
            .unwrap_or(0);
        let n = self.calls.len();
        let next = if down { (at + 1) % n } else { (at + n - 1) % n };
        self.selected_call = Some(self.calls[next].id);
    }

    fn answer(&mut self, call: u32) {
        // Answering a second call holds the first, as the phone's call waiting does.
        if let Some(active) = self.active_call().filter(|c| c.state == "connected") {
            let id = active.id;
            self.outputs
                .push_back(Output::Sipd(SipdRequest::Hold { call: Some(id) }));
        }
        if !self.engaged() {
            self.hands_free = Some(AudioPath::Speaker);
        }
        self.selected_call = Some(call);
        self.outputs
            .push_back(Output::Sipd(SipdRequest::Answer { call: Some(call) }));
    }

    fn call_softkey(&mut self, n: u8) {
        if let Some(d) = &mut self.dialing {
            match n {
                1 => {
                    // Dial: what the plan makes of the keys, or the autocompleted number.
                    let keys = d.dialer.keys().to_string();
                    let completed = self.autocompleted(&keys);
                    let d = self.dialing.as_mut().expect("dialing");
                    if let Some(full) = completed {
                        self.place_call(full);
                    } else if let Some(call) = d.dialer.dial() {
                        self.place_call(call.dialled);
                    } else if keys.is_empty() {
                        self.redial();
                    }
                }
                2 => d.dialer.backspace(self.now),
                3 => {
                    self.dialing = None;
                    self.consult_abandoned();
                    if self.calls.is_empty() {
                        self.hands_free = None;
                    }
                }
                4 => {
                    // Transfer before the target answers or even before it is dialled
                    // completely: blind transfer to the keys.
                    if let Some(c) = self.consult.filter(|c| c.kind == ConsultKind::Transfer) {
                        let keys = d.dialer.keys().to_string();
                        if !keys.is_empty() {
                            self.dialing = None;
                            self.consult = None;
                            self.outputs.push_back(Output::Sipd(SipdRequest::Transfer {
                                call: Some(c.held),
                                to: Some(keys),
                                to_call: None,
                            }));
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        let Some(call) = self.selected().cloned() else {
            // Idle: Redial, NewCall.
            match n {
                1 => self.redial(),
                2 => {
                    if !self.engaged() {
                        self.hands_free = Some(AudioPath::Speaker);
                    }
                    self.start_dialing(None);
                }
                _ => {}
            }
            return;
        };
        let labels = self.call_softkeys(&call);
        let label = labels[(n - 1) as usize];
        let id = Some(call.id);
        match label {
            "Answer" => self.answer(call.id),
            "EndCall" => {
                self.outputs
                    .push_back(Output::Sipd(SipdRequest::Hangup { call: id }));
            }
            "Hold" => self
                .outputs
                .push_back(Output::Sipd(SipdRequest::Hold { call: id })),
            "Resume" => {
                if !self.engaged() {
                    self.hands_free = Some(AudioPath::Speaker);
                }
                self.outputs
                    .push_back(Output::Sipd(SipdRequest::Resume { call: id }));
            }
            "NewCall" => {
                if !self.engaged() {
                    self.hands_free = Some(AudioPath::Speaker);
                }
                self.start_dialing(Some(call.line));
            }
            "Transfer" | "Confrn" => {
                let kind = if label == "Transfer" {
                    ConsultKind::Transfer
                } else {
                    ConsultKind::Conference
                };
                match self.consult {
                    Some(c) if c.kind == kind && c.new_call == Some(call.id) => {
                        self.consult = None;
                        let req = match kind {
                            ConsultKind::Transfer => SipdRequest::Transfer {
                                call: Some(c.held),
                                to: None,
                                to_call: Some(call.id),
                            },
                            ConsultKind::Conference => SipdRequest::Conference {
                                calls: vec![c.held, call.id],
                            },
                        };
                        self.outputs.push_back(Output::Sipd(req));
                    }
                    _ => {
                        self.outputs
                            .push_back(Output::Sipd(SipdRequest::Hold { call: id }));
                        self.consult = Some(Consult {
                            kind,
                            held: call.id,
                            new_call: None,
                        });
                        self.start_dialing(Some(call.line));
                    }
                }
            }
            _ => {}
        }
    }

    /// The soft keys of a call, by its state and any transfer or conference being set up.
    fn call_softkeys(&self, call: &CallStatus) -> [&'static str; 4] {
        let consult_target = self
            .consult
            .filter(|c| c.new_call == Some(call.id))
            .map(|c| c.kind);
        match call.state.as_str() {
            "ringing" => ["Answer", "", "EndCall", ""],
            "calling" | "ringback" => match consult_target {
                Some(ConsultKind::Transfer) => ["", "EndCall", "Transfer", ""],
                _ => ["", "", "EndCall", ""],
            },
            "connected" if call.conference => ["Hold", "EndCall", "", ""],
            "connected" => match consult_target {
                Some(ConsultKind::Transfer) => ["Hold", "EndCall", "Transfer", ""],
                Some(ConsultKind::Conference) => ["Hold", "EndCall", "", "Confrn"],
                None => ["Hold", "EndCall", "Transfer", "Confrn"],
            },
            "held" => ["Resume", "EndCall", "NewCall", ""],
            _ => ["", "", "", ""],
        }
    }

    fn consult_abandoned(&mut self) {
        if let Some(c) = self.consult.take() {
            if c.new_call.is_none() {
                self.say("Call on hold");
            }
        }
    }

    fn start_dialing(&mut self, line: Option<u8>) {
        self.failure_tone = None;
        self.overlay = None;
        let line = line.unwrap_or_else(|| self.default_line());
        self.dialing = Some(Dialing {
            line,
            dialer: Dialer::new(self.dial_plan.clone()),
        });
    }

    fn default_line(&self) -> u8 {
        self.lines
            .iter()
            .find(|l| l.registered)
            .or(self.lines.first())
            .map(|l| l.line)
            .unwrap_or(1)
    }

    fn dial_key(&mut self, c: char) {
        let now = self.now;
        if let Some(d) = &mut self.dialing {
            if let Some(call) = d.dialer.press(now, c) {
                self.place_call(call.dialled);
            }
            return;
        }
        if let Some(call) = self.active_call().filter(|c| c.state == "connected") {
            let id = call.id;
            self.outputs
                .push_back(Output::Mediad(MediadRequest::Dtmf { call: id, digit: c }));
            return;
        }
        if self.ringing_call().is_some() {
            return;
        }
        // Keys on the idle phone start a call on the speaker, as the desk phones do.
        if !self.engaged() {
            self.hands_free = Some(AudioPath::Speaker);
        }
        self.start_dialing(None);
        if let Some(d) = &mut self.dialing {
            if let Some(call) = d.dialer.press(now, c) {
                self.place_call(call.dialled);
            }
        }
    }

    fn autocompleted(&self, keys: &str) -> Option<String> {
        if self.cfg("autocomplete") == "0" {
            return None;
        }
        self.history.complete(keys).map(str::to_string)
    }

    fn place_call(&mut self, number: String) {
        let Some(d) = self.dialing.take() else {
            return;
        };
        self.history.add(
            List::Placed,
            Entry {
                remote: number.clone(),
                dial: number.clone(),
                line: d.line,
                time: self.wall,
            },
        );
        self.outputs.push_back(Output::SaveHistory);
        self.outputs.push_back(Output::Sipd(SipdRequest::Dial {
            line: Some(d.line),
            number,
        }));
    }

    fn redial(&mut self) {
        let Some(last) = self.history.placed.front().cloned() else {
            self.say("No number to redial");
            return;
        };
        if !self.engaged() {
            self.hands_free = Some(AudioPath::Speaker);
        }
        self.dialing = Some(Dialing {
            line: last.line,
            dialer: Dialer::new(self.dial_plan.clone()),
        });
        self.place_call(last.dial);
    }

    fn line_key(&mut self, n: u8) {
        if let Some(c) = self
            .calls
            .iter()
            .find(|c| c.line == n && c.state == "ringing")
        {
            let id = c.id;
            self.answer(id);
            return;
        }
        if let Some(c) = self.calls.iter().find(|c| c.line == n) {
            self.selected_call = Some(c.id);
            return;
        }
        if self.active_call().is_none() {
            self.leave_settings();
            if !self.engaged() {
                self.hands_free = Some(AudioPath::Speaker);
            }
            self.start_dialing(Some(n));
        }
    }

    fn messages_key(&mut self) {
        let uri = self.cfg("messages_uri").to_string();
        if uri.is_empty() {
            self.say("No voice mail number");
            return;
        }
        if self.active_call().is_some() {
            return;
        }
        self.leave_settings();
        if !self.engaged() {
            self.hands_free = Some(AudioPath::Speaker);
        }
        self.start_dialing(None);
        self.place_call(uri);
    }

    // ----- Settings -------------------------------------------------------------------------

    fn open_settings(&mut self) {
        self.overlay = None;
        self.settings = Some(SettingsSession {
            stack: vec![(Page::Root, 0)],
            staged: BTreeMap::new(),
            erase_network: false,
            editing: None,
            recent: String::new(),
            contrast: self.prefs.contrast,
            ring: RING_TYPES
                .iter()
                .position(|(p, _)| *p == self.prefs.ring)
                .unwrap_or(0),
        });
        self.outputs.push_back(Output::RefreshStatus);
    }

    /// Leaving the Settings menus relocks the configuration.
    fn leave_settings(&mut self) {
        if self.settings.take().is_some() && self.unlocked {
            self.unlocked = false;
            self.outputs.push_back(Output::Provd(ProvdOrder::Lock));
        }
    }

    fn settings_key(&mut self, key: Key) {
        let Some(s) = self.settings.as_mut() else {
            return;
        };
        if s.editing.is_some() {
            self.edit_key(key);
            return;
        }
        // `**#` toggles the lock as on releases before 4.2. With a phone_password set, provd
        // refuses an unlock without it: the old shortcut cannot bypass the password.
        if let Some(c) = key.dial_char() {
            s.recent.push(c);
            if s.recent.len() > 3 {
                s.recent.remove(0);
            }
            if s.recent == "**#" {
                s.recent.clear();
                self.toggle_lock(String::new());
                return;
            }
        }
        let (page, _) = *s.stack.last().expect("a page");
        let items = settings::items(page);
        match key {
            Key::Up | Key::Down => {
                let n = self.page_len(page);
                if n > 0 {
                    let s = self.settings.as_mut().expect("settings");
                    let sel = &mut s.stack.last_mut().expect("a page").1;
                    *sel = if key == Key::Down {
                        (*sel + 1) % n
                    } else {
                        (*sel + n - 1) % n
                    };
                }
                if page == Page::Contrast {
                    self.contrast_step(key == Key::Up);
                }
            }
            Key::Digit(d) if d >= 1 && (d as usize) <= items.len() => {
                // Items are chosen by their number too.
                let s = self.settings.as_mut().expect("settings");
                s.stack.last_mut().expect("a page").1 = d as usize - 1;
                if matches!(items[d as usize - 1], Item::Open(_) | Item::UnlockConfig) {
                    self.settings_soft("Select");
                }
            }
            Key::Soft(n) => {
                let labels = self.settings_softkeys();
                let label = labels[(n - 1) as usize].clone();
                self.settings_soft(&label);
            }
            _ => {}
        }
    }

    fn page_len(&self, page: Page) -> usize {
        match page {
            Page::StatusMessages => self
                .status_messages
                .iter()
                .map(|m| crate::xml::wrap(m, crate::xml::WRAP_COLUMNS).len())
                .sum(),
            Page::NetworkStatistics => self.network.len(),
            Page::FirmwareVersions => self.versions.len(),
            Page::RingType => RING_TYPES.len(),
            Page::Contrast => 0,
            p => settings::items(p).len(),
        }
    }

    fn contrast_step(&mut self, up: bool) {
        let s = self.settings.as_mut().expect("settings");
        s.contrast = if up {
            (s.contrast + 1).min(15)
        } else {
            s.contrast.saturating_sub(1).max(1)
        };
    }

    fn toggle_lock(&mut self, password: String) {
        if self.unlocked {
            self.unlocked = false;
            self.outputs.push_back(Output::Provd(ProvdOrder::Lock));
            self.say("Configuration locked");
        } else {
            self.outputs
                .push_back(Output::Provd(ProvdOrder::Unlock { password }));
        }
    }

    fn current_item(&self) -> Option<Item> {
        let s = self.settings.as_ref()?;
        let (page, sel) = *s.stack.last()?;
        settings::items(page).get(sel).cloned()
    }

    fn settings_softkeys(&self) -> [String; 4] {
        let Some(s) = self.settings.as_ref() else {
            return Default::default();
        };
        let k = |a: &str, b: &str, c: &str, d: &str| [a.into(), b.into(), c.into(), d.into()];
        if s.editing.is_some() {
            return k("Validate", "<<", "Cancel", "");
        }
        let (page, _) = *s.stack.last().expect("a page");
        let close = if s.stack.len() > 1 { "Back" } else { "Exit" };
        let dirty = !s.staged.is_empty() || s.erase_network;
        match page {
            Page::Root | Page::Status => k("Select", "", "", close),
            Page::StatusMessages | Page::NetworkStatistics | Page::FirmwareVersions => {
                k("", "", "", close)
            }
            Page::Contrast | Page::RingType => {
                let first = if page == Page::RingType { "Select" } else { "" };
                k(first, "", "Save", "Cancel")
            }
            Page::Menu(_) | Page::Line(_) => {
                let end = if page_is_sub(page) {
                    "Back"
                } else if dirty {
                    "Cancel"
                } else {
                    "Exit"
                };
                let save = if dirty { "Save" } else { "" };
                let first: [&str; 2] = match self.current_item() {
                    Some(Item::Open(_)) => ["Select", ""],
                    Some(Item::EraseConfiguration) if self.unlocked => ["Yes", "No"],
                    Some(Item::Param(id)) => {
                        let values = Values {
                            effective: &self.config,
                            staged: &s.staged,
                        };
                        if settings::refusal(id.def(), &values, self.unlocked).is_some() {
                            ["", ""]
                        } else {
                            match settings::change_kind(id.def()) {
                                Change::YesNo => ["Yes", "No"],
                                Change::Cycle => ["Change", ""],
                                Change::Field(_) => ["Edit", ""],
                            }
                        }
                    }
                    _ => ["", ""],
                };
                k(first[0], first[1], save, end)
            }
        }
    }

    fn settings_soft(&mut self, label: &str) {
        let item = self.current_item();
        let s = self.settings.as_mut().expect("settings");
        let (page, sel) = *s.stack.last().expect("a page");
        match label {
            // Exit and Back leave one level; Exit from the Settings list leaves Settings.
            "Exit" | "Back" => {
                s.stack.pop();
                if !s.staged.is_empty() && !s.stack.iter().any(|(p, _)| page_is_config(*p)) {
                    // Leaving the configuration menus without Save drops their changes.
                    s.staged.clear();
                    s.erase_network = false;
                }
                if s.stack.is_empty() {
                    self.leave_settings();
                }
            }
            "Cancel" => {
                if matches!(page, Page::Contrast | Page::RingType) {
                    s.contrast = self.prefs.contrast;
                    self.outputs
                        .push_back(Output::Mediad(MediadRequest::Ring { pattern: None }));
                    self.ordered_ring = None;
                } else {
                    s.staged.clear();
                    s.erase_network = false;
                }
                s.stack.pop();
                if s.stack.is_empty() {
                    self.leave_settings();
                }
            }
            "Select" => match (page, item) {
                (Page::RingType, _) => {
                    s.ring = sel;
                    // Play the chosen ring so it can be judged.
                    let pattern = RING_TYPES[sel].0;
                    self.ordered_ring = Some(pattern);
                    self.outputs.push_back(Output::Mediad(MediadRequest::Ring {
                        pattern: Some(pattern),
                    }));
                }
                (_, Some(Item::Open(p))) => {
                    if p == Page::Status
                        || matches!(
                            p,
                            Page::StatusMessages | Page::NetworkStatistics | Page::FirmwareVersions
                        )
                    {
                        self.outputs.push_back(Output::RefreshStatus);
                    }
                    s.stack.push((p, 0));
                }
                (_, Some(Item::UnlockConfig)) => {
                    if self.unlocked {
                        self.toggle_lock(String::new());
                    } else {
                        s.editing = Some(Editing::Password(TextEntry::new(
                            "",
                            EntryMode::Text,
                            true,
                            31,
                        )));
                    }
                }
                _ => {}
            },
            "Yes" | "No" => match item {
                Some(Item::EraseConfiguration) => s.erase_network = label == "Yes",
                Some(Item::Param(id)) => {
                    s.staged
                        .insert(id.name(), if label == "Yes" { "1" } else { "0" }.into());
                }
                _ => {}
            },
            "Change" => {
                if let Some(Item::Param(id)) = item {
                    let current = Values {
                        effective: &self.config,
                        staged: &s.staged,
                    }
                    .get(id.name())
                    .to_string();
                    s.staged
                        .insert(id.name(), settings::cycled(id.def(), &current));
                }
            }
            "Edit" => {
                if let Some(Item::Param(id)) = item {
                    let def = id.def();
                    if let Change::Field(mode) = settings::change_kind(def) {
                        let current = if def.is_secret() {
                            String::new()
                        } else {
                            Values {
                                effective: &self.config,
                                staged: &s.staged,
                            }
                            .get(def.name)
                            .to_string()
                        };
                        s.editing = Some(Editing::Param {
                            name: def.name,
                            entry: TextEntry::new(
                                &current,
                                mode,
                                def.is_secret(),
                                settings::max_chars(def),
                            ),
                        });
                    }
                }
            }
            "Save" => self.save_settings(),
            _ => {}
        }
    }

    fn save_settings(&mut self) {
        let s = self.settings.as_mut().expect("settings");
        let (page, _) = *s.stack.last().expect("a page");
        match page {
            Page::Contrast => {
                self.prefs.contrast = s.contrast;
                self.outputs.push_back(Output::SavePrefs);
                s.stack.pop();
            }
            Page::RingType => {
                self.prefs.ring = RING_TYPES[s.ring].0;
                self.outputs.push_back(Output::SavePrefs);
                self.outputs
                    .push_back(Output::Mediad(MediadRequest::Ring { pattern: None }));
                self.ordered_ring = None;
                s.stack.pop();
            }
            _ => {
                if s.erase_network {
                    self.outputs
                        .push_back(Output::Provd(ProvdOrder::EraseNetwork));
                }
                // In table order, so DHCP is off before an address that needs it off.
                let mut staged: Vec<(&'static str, String)> =
                    std::mem::take(&mut s.staged).into_iter().collect();
                staged.sort_by_key(|(name, _)| lookup(name).map(|id| id.index()));
                for (name, value) in staged {
                    self.outputs.push_back(Output::Provd(ProvdOrder::Set {
                        name: name.to_string(),
                        value: (!value.is_empty()).then_some(value),
                    }));
                }
                s.erase_network = false;
                // Save leaves the configuration menu for the Settings list.
                s.stack.truncate(1);
                self.say("Saved");
            }
        }
    }

    fn edit_key(&mut self, key: Key) {
        let now = self.now;
        let s = self.settings.as_mut().expect("settings");
        let editing = s.editing.as_mut().expect("editing");
        if let Some(c) = key.dial_char() {
            editing.entry().press(c, now);
            return;
        }
        match key {
            Key::Soft(1) => {
                let done = s.editing.take().expect("editing");
                match done {
                    Editing::Password(entry) => self.toggle_lock(entry.value()),
                    Editing::Param { name, entry } => {
                        let value = entry.value();
                        let def = lookup(name).expect("a parameter").def();
                        let checked = deskphone_config::value::check(def, &value);
                        if value.is_empty() || (checked.value.is_some() && checked.note.is_none()) {
                            s.staged.insert(name, value);
                        } else {
                            let why = checked.note.unwrap_or_else(|| "not a valid value".into());
                            s.editing = Some(Editing::Param { name, entry });
                            self.say(why);
                        }
                    }
                }
            }
            Key::Soft(2) => editing.entry().backspace(),
            Key::Soft(3) => s.editing = None,
            _ => {}
        }
    }

    // ----- Directories and Info ------------------------------------------------------------

    fn overlay_key(&mut self, key: Key) {
        const LISTS: [List; 3] = [List::Missed, List::Received, List::Placed];
        let external = !self.cfg("directory_url").is_empty();
        let entries = if external { 4 } else { 3 };
        let Some(overlay) = self.overlay.as_mut() else {
            return;
        };
        match overlay {
            Overlay::Xml(browser, _) => match browser.key(key, self.now) {
                crate::xml::XmlAction::None => {}
                crate::xml::XmlAction::Fetch(url) => self.outputs.push_back(Output::Fetch(url)),
                crate::xml::XmlAction::Close => self.overlay = None,
                crate::xml::XmlAction::Dial(number) => {
                    self.overlay = None;
                    if self.active_call().is_none() {
                        if !self.engaged() {
                            self.hands_free = Some(AudioPath::Speaker);
                        }
                        self.start_dialing(None);
                        self.place_call(number);
                    }
                }
            },
            Overlay::Info => {
                if matches!(key, Key::Soft(_)) {
                    self.overlay = None;
                }
            }
            Overlay::Directories(Directory::Root(sel)) => {
                let open = match key {
                    Key::Up => {
                        *sel = (*sel + entries - 1) % entries;
                        None
                    }
                    Key::Down => {
                        *sel = (*sel + 1) % entries;
                        None
                    }
                    Key::Digit(d) if d >= 1 && usize::from(d) <= entries => Some(d as usize - 1),
                    Key::Soft(1) => Some(*sel),
                    Key::Soft(4) => {
                        self.overlay = None;
                        None
                    }
                    _ => None,
                };
                match open {
                    Some(3) => {
                        let url = self.cfg("directory_url").to_string();
                        self.overlay = Some(Overlay::Xml(
                            crate::xml::XmlBrowser::loading("External Directory"),
                            "directories",
                        ));
                        self.outputs.push_back(Output::Fetch(url));
                    }
                    Some(i) => {
                        self.overlay = Some(Overlay::Directories(Directory::List(LISTS[i], 0)));
                    }
                    None => {}
                }
            }
            Overlay::Directories(Directory::List(list, sel)) => {
                let (list, n) = (*list, self.history.list(*list).len());
                match key {
                    Key::Up if n > 0 => *sel = (*sel + n - 1) % n,
                    Key::Down if n > 0 => *sel = (*sel + 1) % n,
                    Key::Soft(1) => {
                        if let Some(e) = self.history.list(list).get(*sel).cloned() {
                            self.overlay = None;
                            if !self.engaged() {
                                self.hands_free = Some(AudioPath::Speaker);
                            }
                            self.start_dialing(Some(e.line));
                            self.place_call(e.dial);
                        }
                    }
                    Key::Soft(3) => {
                        match list {
                            List::Missed => self.history.missed.clear(),
                            List::Received => self.history.received.clear(),
                            List::Placed => self.history.placed.clear(),
                        }
                        self.outputs.push_back(Output::SaveHistory);
                    }
                    Key::Soft(4) => {
                        let i = LISTS.iter().position(|l| *l == list).unwrap_or(0);
                        *overlay = Overlay::Directories(Directory::Root(i));
                    }
                    _ => {}
                }
            }
        }
    }

    // ----- helpers ------------------------------------------------------------------------

    fn cfg(&self, name: &str) -> &str {
        self.config.get(name).map(String::as_str).unwrap_or("")
    }

    fn say(&mut self, text: impl Into<String>) {
        self.prompt = Some((text.into(), self.now + PROMPT_TIME));
    }

    /// `http_proxy_addr:http_proxy_port` for the XML services, when one is configured.
    pub fn http_proxy(&self) -> Option<(String, u16)> {
        let host = self.cfg("http_proxy_addr");
        (!host.is_empty()).then(|| {
            (
                host.to_string(),
                self.cfg("http_proxy_port").parse().unwrap_or(80),
            )
        })
    }

    pub fn unlocked(&self) -> bool {
        self.unlocked
    }

    pub fn audio_path_name(&self) -> &'static str {
        match self.audio_path() {
            Some(AudioPath::Handset) => "handset",
            Some(AudioPath::Speaker) => "speaker",
            Some(AudioPath::Headset) => "headset",
            None => "none",
        }
    }

    /// The lamps: `message_waiting` and `line1`..`line6`.
    pub fn lamps(&self) -> BTreeMap<String, Lamp> {
        let mut lamps = BTreeMap::new();
        let ringing = self.ringing_call().is_some();
        lamps.insert(
            "message_waiting".to_string(),
            if ringing {
                Lamp::BlinkFast
            } else if self.messages_waiting() {
                Lamp::On
            } else {
                Lamp::Off
            },
        );
        for l in &self.lines {
            let calls: Vec<&CallStatus> = self.calls.iter().filter(|c| c.line == l.line).collect();
            let lamp = if calls.iter().any(|c| c.state == "ringing") {
                Lamp::BlinkFast
            } else if calls.iter().any(|c| c.state != "held") {
                Lamp::On
            } else if !calls.is_empty() {
                Lamp::BlinkSlow
            } else {
                Lamp::Off
            };
            lamps.insert(format!("line{}", l.line), lamp);
        }
        lamps
    }

    // ----- the screen ---------------------------------------------------------------------

    /// What the display shows now.
    pub fn screen(&self) -> (Screen, &'static str) {
        let (date, time) = self.clock.at(self.wall);
        let label = {
            let l = self.cfg("phone_label");
            if l.is_empty() {
                self.lines
                    .first()
                    .map(|l| l.name.clone())
                    .unwrap_or_default()
            } else {
                l.chars().take(11).collect()
            }
        };
        let mut screen = Screen {
            status_bar: StatusBar {
                left: label,
                right: format!("{time} {date}"),
                message_waiting: self.messages_waiting(),
            },
            line_keys: self.line_keys(),
            ..Screen::default()
        };
        let name = if self.settings.is_some() {
            self.settings_screen(&mut screen);
            "settings"
        } else if let Some(o) = &self.overlay {
            self.overlay_screen(o, &mut screen)
        } else if let Some(d) = &self.dialing {
            self.dialing_screen(d, &mut screen);
            "dialing"
        } else if let Some(call) = self.selected() {
            self.calls_screen(call, &mut screen)
        } else {
            screen.softkeys = [
                "Redial".into(),
                "NewCall".into(),
                String::new(),
                String::new(),
            ];
            screen.image = self.logo.clone();
            screen.prompt = Some(
                if self.cfg("dnd_control") == "1" || self.cfg("dnd_control") == "3" {
                    "Do Not Disturb".into()
                } else {
                    "Your current options".into()
                },
            );
            "idle"
        };
        if let Some((text, _)) = &self.prompt {
            screen.prompt = Some(text.clone());
        }
        (screen, name)
    }

    /// The screen as `phonectl status --json` shows it.
    pub fn screen_status(&self) -> ScreenStatus {
        let (s, name) = self.screen();
        status_of(&s, name)
    }

    fn line_keys(&self) -> Vec<LineKey> {
        self.lines
            .iter()
            .map(|l| {
                let short = self.cfg(&format!("line{}_shortname", l.line));
                let label = if short.is_empty() {
                    l.name.clone()
                } else {
                    short.to_string()
                };
                let calls: Vec<&CallStatus> =
                    self.calls.iter().filter(|c| c.line == l.line).collect();
                let icon = if let Some(c) = calls.last() {
                    call_icon(c)
                } else if self.dialing.as_ref().is_some_and(|d| d.line == l.line) {
                    Icon::OffHook
                } else if l.registered || l.state == "unregistered" && !self.registers(l.line) {
                    Icon::LineIdle
                } else {
                    Icon::LineUnregistered
                };
                LineKey { label, icon }
            })
            .collect()
    }

    fn registers(&self, _line: u8) -> bool {
        self.cfg("proxy_register") == "1"
    }

    fn dialing_screen(&self, d: &Dialing, screen: &mut Screen) {
        let keys = d.dialer.keys();
        let title = match self.consult.map(|c| c.kind) {
            Some(ConsultKind::Transfer) => "Transfer to".to_string(),
            Some(ConsultKind::Conference) => "Conference with".to_string(),
            None => format!("Line {}", d.line),
        };
        screen.title = Some(TitleBar {
            text: title,
            icon: None,
            position: None,
        });
        let completion = self.autocompleted(keys);
        screen.rows = vec![Row {
            icon: Some(Icon::OffHook),
            number: None,
            text: completion.unwrap_or_else(|| keys.to_string()),
            value: None,
        }];
        screen.prompt = Some("Enter number".into());
        let fourth = if self
            .consult
            .is_some_and(|c| c.kind == ConsultKind::Transfer)
        {
            "Transfer"
        } else {
            ""
        };
        screen.softkeys = ["Dial".into(), "<<".into(), "EndCall".into(), fourth.into()];
    }

    fn calls_screen(&self, selected: &CallStatus, screen: &mut Screen) -> &'static str {
        screen.title = Some(TitleBar {
            text: format!("Line {}", selected.line),
            icon: None,
            position: (self.calls.len() > 1).then(|| {
                let at = self
                    .calls
                    .iter()
                    .position(|c| c.id == selected.id)
                    .unwrap_or(0);
                format!("{}/{}", at + 1, self.calls.len())
            }),
        });
        screen.rows = self
            .calls
            .iter()
            .map(|c| Row {
                icon: Some(call_icon(c)),
                number: None,
                text: c.remote.clone(),
                value: Some(self.call_value(c)),
            })
            .collect();
        screen.selected = self.calls.iter().position(|c| c.id == selected.id);
        screen.softkeys = self.call_softkeys(selected).map(String::from);
        if self.muted {
            screen.prompt = Some("Muted".into());
        }
        match selected.state.as_str() {
            "ringing" => "ringing",
            "calling" | "ringback" => "ringout",
            "held" => "held",
            _ => "connected",
        }
    }

    fn call_value(&self, c: &CallStatus) -> String {
        match c.state.as_str() {
            "connected" if c.remote_held => "Remote hold".into(),
            "connected" => {
                let secs = self
                    .connected_at
                    .get(&c.id)
                    .map(|t| self.now.saturating_duration_since(*t).as_secs())
                    .unwrap_or(c.connected_for);
                format!("{:02}:{:02}", secs / 60, secs % 60)
            }
            "ringing" => "Ringing".into(),
            "calling" => "Calling".into(),
            "ringback" => "Ring Out".into(),
            "held" => "Hold".into(),
            s => s.to_string(),
        }
    }

    fn settings_screen(&self, screen: &mut Screen) {
        let s = self.settings.as_ref().expect("settings");
        let (page, sel) = *s.stack.last().expect("a page");
        let position = |n: usize| (n > 0).then(|| format!("{}/{}", sel.min(n - 1) + 1, n));
        let values = Values {
            effective: &self.config,
            staged: &s.staged,
        };
        let lock_icon = if self.unlocked {
            Icon::Unlocked
        } else {
            Icon::Locked
        };
        screen.title = Some(TitleBar {
            text: page.title(),
            icon: page.shows_lock().then_some(lock_icon),
            position: None,
        });
        let numbered = |i: usize, text: String, value: Option<String>, icon: Option<Icon>| Row {
            icon,
            number: Some(i as u32 + 1),
            text,
            value,
        };
        screen.rows = match page {
            // Newest first, each wrapped to the width of the body.
            Page::StatusMessages => self
                .status_messages
                .iter()
                .rev()
                .flat_map(|m| crate::xml::wrap(m, crate::xml::WRAP_COLUMNS))
                .map(Row::text)
                .collect(),
            Page::NetworkStatistics | Page::FirmwareVersions => {
                let v = if page == Page::FirmwareVersions {
                    &self.versions
                } else {
                    &self.network
                };
                v.iter()
                    .map(|(k, val)| Row {
                        text: k.clone(),
                        value: Some(val.clone()),
                        ..Row::default()
                    })
                    .collect()
            }
            Page::Contrast => vec![Row {
                text: "Contrast".into(),
                value: Some(format!(
                    "{} {}",
                    "#".repeat(s.contrast as usize),
                    s.contrast
                )),
                ..Row::default()
            }],
            Page::RingType => RING_TYPES
                .iter()
                .enumerate()
                .map(|(i, (p, name))| {
                    numbered(
                        i,
                        (*name).into(),
                        (*p == self.prefs.ring).then(|| "*".into()),
                        None,
                    )
                })
                .collect(),
            _ => settings::items(page)
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Item::Open(p) => numbered(i, p.item_label(), None, Some(Icon::Folder)),
                    Item::UnlockConfig => numbered(
                        i,
                        if self.unlocked {
                            "Lock Config"
                        } else {
                            "Unlock Config"
                        }
                        .into(),
                        None,
                        Some(lock_icon),
                    ),
                    Item::EraseConfiguration => numbered(
                        i,
                        "Erase Configuration".into(),
                        Some(if s.erase_network { "Yes" } else { "No" }.into()),
                        None,
                    ),
                    Item::Param(id) => {
                        let def = id.def();
                        numbered(
                            i,
                            settings::label(def).into(),
                            Some(settings::shown(def, values.get(def.name))),
                            None,
                        )
                    }
                })
                .collect(),
        };
        if !matches!(page, Page::Contrast) {
            screen.selected = (!screen.rows.is_empty()).then(|| sel.min(screen.rows.len() - 1));
            if let Some(t) = &mut screen.title {
                t.position = position(screen.rows.len());
            }
        }
        screen.softkeys = self.settings_softkeys();
        match &s.editing {
            Some(Editing::Password(e)) => {
                screen.edit = Some(edit_field("Password", e));
                screen.prompt = Some("Enter password".into());
            }
            Some(Editing::Param { name, entry }) => {
                let label = lookup(name)
                    .map(|id| settings::label(id.def()))
                    .unwrap_or(name);
                screen.edit = Some(edit_field(label, entry));
                screen.prompt = Some(match entry.mode() {
                    EntryMode::Ip => "Use * for a dot".into(),
                    _ => "Enter value".into(),
                });
            }
            None => {
                if let Some(Item::Param(id)) = self.current_item() {
                    screen.prompt = settings::refusal(id.def(), &values, self.unlocked);
                }
            }
        }
    }

    fn overlay_screen(&self, overlay: &Overlay, screen: &mut Screen) -> &'static str {
        let k = |a: &str, b: &str, c: &str, d: &str| [a.into(), b.into(), c.into(), d.into()];
        match overlay {
            Overlay::Info => {
                screen.title = Some(TitleBar {
                    text: "Information".into(),
                    icon: None,
                    position: None,
                });
                let mut rows = vec![
                    Row {
                        text: "Settings".into(),
                        value: Some("menus".into()),
                        ..Row::default()
                    },
                    Row {
                        text: "Directories".into(),
                        value: Some("call lists".into()),
                        ..Row::default()
                    },
                    Row {
                        text: "Messages".into(),
                        value: Some("voice mail".into()),
                        ..Row::default()
                    },
                    Row {
                        text: "Line keys".into(),
                        value: Some("new call".into()),
                        ..Row::default()
                    },
                ];
                rows.extend(self.versions.iter().map(|(k, v)| Row {
                    text: k.clone(),
                    value: Some(v.clone()),
                    ..Row::default()
                }));
                screen.rows = rows;
                screen.softkeys = k("", "", "", "Exit");
                "info"
            }
            Overlay::Xml(browser, name) => {
                browser.draw(screen);
                name
            }
            Overlay::Directories(Directory::Root(sel)) => {
                screen.title = Some(TitleBar {
                    text: "Directory".into(),
                    icon: None,
                    position: None,
                });
                let mut titles: Vec<&str> = [List::Missed, List::Received, List::Placed]
                    .iter()
                    .map(|l| l.title())
                    .collect();
                if !self.cfg("directory_url").is_empty() {
                    titles.push("External Directory");
                }
                screen.rows = titles
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Row {
                        icon: Some(Icon::Folder),
                        number: Some(i as u32 + 1),
                        text: (*t).into(),
                        value: None,
                    })
                    .collect();
                screen.selected = Some(*sel);
                screen.softkeys = k("Select", "", "", "Exit");
                "directories"
            }
            Overlay::Directories(Directory::List(list, sel)) => {
                let entries = self.history.list(*list);
                screen.title = Some(TitleBar {
                    text: list.title().into(),
                    icon: None,
                    position: (!entries.is_empty())
                        .then(|| format!("{}/{}", sel + 1, entries.len())),
                });
                let icon = match list {
                    List::Missed => Icon::MissedCall,
                    List::Received => Icon::ReceivedCall,
                    List::Placed => Icon::PlacedCall,
                };
                screen.rows = entries
                    .iter()
                    .map(|e| Row {
                        icon: Some(icon),
                        number: None,
                        text: e.remote.clone(),
                        value: Some(self.short_time(e.time)),
                    })
                    .collect();
                if entries.is_empty() {
                    screen.rows = vec![Row::text("No calls")];
                } else {
                    screen.selected = Some(*sel);
                }
                screen.softkeys = k("Dial", "", "Clear", "Back");
                "directories"
            }
        }
    }

    /// When a listed call was: the time today, else the date.
    fn short_time(&self, unix: i64) -> String {
        let (date, time) = self.clock.at(unix);
        let (today, _) = self.clock.at(self.wall);
        if date == today {
            time
        } else {
            date
        }
    }
}

/// The screen as `phonectl status --json` shows it.
pub fn status_of(s: &Screen, name: &str) -> ScreenStatus {
    let title = s
        .title
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_else(|| s.status_bar.left.clone());
    let mut lines: Vec<String> = s
        .rows
        .iter()
        .map(|r| {
            let mut t = String::new();
            if let Some(n) = r.number {
                t.push_str(&format!("{n} "));
            }
            t.push_str(&r.text);
            if let Some(v) = &r.value {
                t.push_str(&format!(": {v}"));
            }
            t
        })
        .collect();
    if let Some(e) = &s.edit {
        lines.push(format!("{}: {}", e.label, e.shown));
    }
    if let Some(p) = &s.prompt {
        lines.push(p.clone());
    }
    ScreenStatus {
        name: name.into(),
        title,
        softkeys: s.softkeys.to_vec(),
        lines,
        selected: s.selected,
        clock: s.status_bar.right.clone(),
    }
}

fn page_is_config(page: Page) -> bool {
    matches!(page, Page::Menu(_) | Page::Line(_))
}

fn page_is_sub(page: Page) -> bool {
    matches!(page, Page::Line(_))
}

fn edit_field(label: &str, e: &TextEntry) -> EditField {
    EditField {
        label: label.into(),
        shown: e.shown(),
        cursor: e.cursor(),
        mode: e.mode().label().into(),
    }
}

fn call_icon(c: &CallStatus) -> Icon {
    match c.state.as_str() {
        "ringing" => Icon::Ringing,
        "calling" | "ringback" => Icon::Ringout,
        "held" => Icon::Held,
        _ if c.conference => Icon::Conference,
        _ => Icon::Connected,
    }
}

/// What dialling a caller back sends: the user part of a `sip:` URI when it is a number,
/// else the URI.
fn dial_string(uri: &str) -> String {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let user = rest.split(['@', ';', '>']).next().unwrap_or(rest);
    if !user.is_empty() && rest.contains('@') {
        user.to_string()
    } else {
        uri.to_string()
    }
}
