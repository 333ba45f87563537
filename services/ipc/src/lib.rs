//! How the phone's services talk: one Unix stream socket per service in the runtime
//! directory, length-delimited JSON frames, typed messages.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of JSON (readable with
//! `socat` and `jq`). A client opens the socket and sends [`Hello`] with
//! [`PROTOCOL_VERSION`]; a service speaking another version answers with an error and closes,
//! so mismatched builds fail loudly instead of misreading each other. After that every
//! request gets exactly one reply; a client that subscribed also receives events, each
//! frame from the service being a [`ServerFrame`] so the two cannot be confused.

pub mod client;
pub mod frame;
pub mod mediad;
pub mod provd;
pub mod server;
pub mod sipd;
pub mod systemd;
pub mod ui;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use frame::{read_frame, write_frame, FrameError, MAX_FRAME};

/// Bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

/// The runtime directory on the image.
pub const DEFAULT_RUNTIME_DIR: &str = "/run/deskphone";

/// The one place socket paths are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDir(PathBuf);

impl RuntimeDir {
    pub fn new(dir: impl Into<PathBuf>) -> RuntimeDir {
        RuntimeDir(dir.into())
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn socket(&self, service: Service) -> PathBuf {
        self.0.join(format!("{}.sock", service.name()))
    }
}

impl Default for RuntimeDir {
    fn default() -> Self {
        RuntimeDir::new(DEFAULT_RUNTIME_DIR)
    }
}

/// The services of the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Provd,
    Sipd,
    Mediad,
    Ui,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Provd => "provd",
            Service::Sipd => "sipd",
            Service::Mediad => "mediad",
            Service::Ui => "ui",
        }
    }
}

/// The first request on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// Who is asking, for the service's log ("phonectl", "ui", ...).
    pub client: String,
}

/// Everything a service sends: a reply to the last request, or an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", content = "body", rename_all = "snake_case")]
pub enum ServerFrame<R, E> {
    Reply(R),
    Event(E),
}
