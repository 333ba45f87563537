//! The test harness shared by the UI's tests: a [`Phone`] around the core in simulated time.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use deskphone_ipc::mediad::{Request as Media, Tone};
use deskphone_ipc::sipd::{CallStatus, Event, LineStatus, Request as Sip, Status};
use deskphone_ipc::ui::Key;
use deskphone_ui::core::{Output, Prefs, ProvdOrder, UiCore};
use deskphone_ui::history::History;

pub struct Phone {
    pub core: UiCore,
    pub now: Instant,
    pub wall: i64,
    pub out: Vec<Output>,
}

impl Phone {
    pub fn new() -> Phone {
        let now = Instant::now();
        let wall = 1_795_000_000;
        let mut core = UiCore::new(now, wall, History::default(), Prefs::default());
        // Every parameter at its default, as provd reports them, then this phone's own.
        let mut config: BTreeMap<String, String> = deskphone_config::params()
            .iter()
            .map(|d| {
                let v = d
                    .default
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                (d.name.to_string(), v)
            })
            .collect();
        for (k, v) in [
            ("phone_label", "Lobby phone"),
            ("line1_name", "1001"),
            ("line2_name", "1002"),
            ("line2_shortname", "Sales"),
            ("dhcp_enabled", "1"),
            ("proxy_register", "1"),
            ("autocomplete", "1"),
            ("call_waiting", "1"),
            ("dnd_control", "2"),
            ("messages_uri", "8000"),
        ] {
            config.insert(k.to_string(), v.to_string());
        }
        core.set_config(config);
        core.handle_sipd_status(Status {
            sipd: "test".into(),
            protocol: 1,
            state: "running".into(),
            reason: None,
            sip_address: None,
            lines: vec![line(1, "1001"), line(2, "1002")],
            calls: vec![],
        });
        let mut p = Phone {
            core,
            now,
            wall,
            out: Vec::new(),
        };
        p.drain();
        p
    }

    pub fn keys(&mut self, names: &str) -> &mut Self {
        for name in names.split_whitespace() {
            let key: Key = name.parse().unwrap();
            self.now += Duration::from_millis(150);
            self.core.handle_key(key, self.now, self.wall);
            self.drain();
        }
        self
    }

    pub fn wait(&mut self, d: Duration) {
        self.now += d;
        self.wall += d.as_secs() as i64;
        self.core.handle_tick(self.now, self.wall);
        self.drain();
    }

    pub fn event(&mut self, e: Event) {
        self.core.handle_sipd_event(e);
        self.drain();
    }

    pub fn drain(&mut self) {
        while let Some(o) = self.core.poll_output() {
            self.out.push(o);
        }
    }

    pub fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    pub fn screen(&self) -> deskphone_ipc::ui::ScreenStatus {
        self.core.screen_status()
    }
}

pub fn line(n: u8, name: &str) -> LineStatus {
    LineStatus {
        line: n,
        name: name.into(),
        registered: true,
        proxy: "127.0.0.1:5060".into(),
        state: "registered".into(),
        reason: None,
        retry_in: None,
        expires_in: Some(3600),
        failures: 0,
        using: "primary".into(),
        backup: None,
        messages_waiting: false,
        voice_messages: None,
    }
}

pub fn call(id: u32, state: &str, direction: &str) -> CallStatus {
    CallStatus {
        id,
        line: 1,
        state: state.into(),
        remote: format!("Bob <20{id:02}>"),
        remote_uri: format!("sip:20{id:02}@example.com"),
        direction: direction.into(),
        remote_held: false,
        local_port: 16384,
        connected_for: 0,
        conference: false,
        transferring: false,
    }
}

pub fn sip(out: &[Output]) -> Vec<Sip> {
    out.iter()
        .filter_map(|o| match o {
            Output::Sipd(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The orders for provd, but the in-use reports ([`activity`] has those).
pub fn provd(out: &[Output]) -> Vec<ProvdOrder> {
    out.iter()
        .filter_map(|o| match o {
            Output::Provd(ProvdOrder::Activity { .. }) => None,
            Output::Provd(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// What provd is told about the phone being in use.
pub fn activity(out: &[Output]) -> Vec<bool> {
    out.iter()
        .filter_map(|o| match o {
            Output::Provd(ProvdOrder::Activity { busy }) => Some(*busy),
            _ => None,
        })
        .collect()
}

pub fn tones(out: &[Output]) -> Vec<Option<Tone>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Mediad(Media::Tone { tone }) => Some(*tone),
            _ => None,
        })
        .collect()
}
