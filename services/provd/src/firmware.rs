//! Firmware updates by `image_version`, the guide's upgrade procedure made safe.
//!
//! On a Cisco phone, a configured `image_version` that differs from the running image makes
//! the phone fetch `<image_version>.bin` from the TFTP root, check that the version inside
//! the file matches its name, write it to flash and reboot. Here the `.bin` is a signed RAUC
//! bundle and the phone has two root filesystems:
//!
//! 1. [`plan`] decides whether to update (and refuses a version that already failed here).
//! 2. provd downloads the bundle to the data partition, [`Rauc::inspect`]s it (signature,
//!    then [`check_bundle`]: its version must be its name, its compatible this phone's),
//!    [`Rauc::install`]s it into the inactive slot and records a [`Pending`] trial before
//!    rebooting.
//! 3. After the reboot, [`boot_verdict`] tells provd whether this boot is that trial; once the
//!    phone is healthy it marks the slot good. A trial that does not become healthy in time is
//!    marked bad and the phone reboots into the old slot, which then sees from the record that
//!    the new firmware failed and does not try it again until `image_version` changes.
//!
//! The decisions are plain functions over the [`FirmwareRecord`] kept in flash; [`Rauc`] is
//! the thin shell around the `rauc` command.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The flash entry of the [`FirmwareRecord`].
pub const RECORD_ENTRY: &str = "firmware.json";

/// An update that was installed and has not yet proven itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub version: String,
    /// The version that installed it (where a fallback lands).
    pub previous: String,
    /// RFC 3339.
    pub installed: String,
}

/// A version that failed on this phone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub version: String,
    pub reason: String,
    pub when: String,
}

/// What provd remembers about firmware across reboots and slot switches (on the data
/// partition, shared by both slots).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareRecord {
    pub pending: Option<Pending>,
    pub failed: Vec<Failed>,
}

impl FirmwareRecord {
    pub fn from_bytes(data: &[u8]) -> Result<FirmwareRecord, String> {
        serde_json::from_slice(data).map_err(|e| format!("unreadable firmware record: {e}"))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("record serialises")
    }

    pub fn failure_of(&self, version: &str) -> Option<&Failed> {
        self.failed.iter().rev().find(|f| f.version == version)
    }

    /// Remembers a failure; only the last few versions are kept.
    pub fn record_failure(&mut self, version: &str, reason: String, when: String) {
        self.failed.retain(|f| f.version != version);
        self.failed.push(Failed {
            version: version.to_string(),
            reason,
            when,
        });
        if self.failed.len() > 8 {
            self.failed.remove(0);
        }
    }
}

/// What to do about `image_version` at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No `image_version` configured: keep what runs.
    NotConfigured,
    UpToDate,
    /// Fetch and install this bundle.
    Update {
        version: String,
        bundle: String,
    },
    /// That version failed here before; not again until `image_version` changes.
    Skip {
        version: String,
        reason: String,
    },
}

pub fn plan(image_version: Option<&str>, running: &str, record: &FirmwareRecord) -> Plan {
    match image_version {
        None => Plan::NotConfigured,
        Some(v) if v == running => Plan::UpToDate,
        Some(v) => match record.failure_of(v) {
            Some(f) => Plan::Skip {
                version: v.to_string(),
                reason: format!("{} ({})", f.reason, f.when),
            },
            None => Plan::Update {
                version: v.to_string(),
                bundle: crate::bundle_file_name(v),
            },
        },
    }
}

/// What this boot is, given the record and the running version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootVerdict {
    Normal,
    /// The first boots of a newly installed version: mark it good once healthy.
    Trial {
        version: String,
    },
    /// The phone runs the old version again: the new one did not prove itself.
    FellBack {
        version: String,
    },
}

/// How long a trial boot may take to become healthy before provd gives up on it (the boot
/// deadline of `deskphone-boot-check.service`, 300 s, then takes the phone back): room for a
/// registrar that answers slowly, or a first REGISTER lost and retransmitted.
pub const TRIAL_HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(240);

/// Whether a trial boot has proved itself, beyond provd being up with provisioning done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Keep this version; what proved it.
    Healthy(String),
    /// Not yet; why.
    Waiting(String),
}

/// The SIP part of a trial boot's health: with `proxy_register` 1 every line sipd knows must
/// be registered; otherwise sipd must merely be running. `sipd`: its status, or why it could
/// not be had.
pub fn trial_health(
    proxy_register: bool,
    sipd: Result<&deskphone_ipc::sipd::Status, String>,
) -> Health {
    let status = match sipd {
        Ok(s) => s,
        Err(e) => return Health::Waiting(format!("sipd does not answer ({e})")),
    };
    if status.state != "running" {
        let why = status.reason.as_deref().unwrap_or("");
        return Health::Waiting(format!("sipd is {} {why}", status.state).trim().to_string());
    }
    if !proxy_register || status.lines.is_empty() {
        return Health::Healthy(if status.lines.is_empty() {
            "provisioned, sipd running, no line to register".into()
        } else {
            "provisioned, sipd running, registration off (proxy_register 0)".into()
        });
    }
    let waiting: Vec<String> = status
        .lines
        .iter()
        .filter(|l| !l.registered)
        .map(|l| match &l.reason {
            Some(r) => format!("line {} ({r})", l.line),
            None => format!("line {}", l.line),
        })
        .collect();
    if waiting.is_empty() {
        let lines: Vec<String> = status.lines.iter().map(|l| l.line.to_string()).collect();
        Health::Healthy(format!(
            "provisioned, line{} {} registered",
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        ))
    } else {
        Health::Waiting(format!("not registered yet: {}", waiting.join(", ")))
    }
}

pub fn boot_verdict(record: &FirmwareRecord, running: &str) -> BootVerdict {
    match &record.pending {
        Some(p) if p.version == running => BootVerdict::Trial {
            version: p.version.clone(),
        },
        Some(p) => BootVerdict::FellBack {
            version: p.version.clone(),
        },
        None => BootVerdict::Normal,
    }
}

/// What a bundle says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BundleInfo {
    pub compatible: String,
    pub version: String,
}

/// The guide: the version inside the file must match the name it was asked for by; and the
/// bundle must be for this kind of phone.
pub fn check_bundle(
    info: &BundleInfo,
    wanted: &str,
    compatible: Option<&str>,
) -> Result<(), String> {
    if info.version != wanted {
        return Err(format!(
            "the bundle {} carries version {}, not {wanted}; refused",
            crate::bundle_file_name(wanted),
            info.version
        ));
    }
    if let Some(c) = compatible {
        if info.compatible != c {
            return Err(format!(
                "the bundle is for {}, this phone is {c}; refused",
                info.compatible
            ));
        }
    }
    Ok(())
}

/// The `rauc` command.
#[derive(Debug, Clone)]
pub struct Rauc {
    pub program: PathBuf,
    /// Keyring to verify with; `None` uses the system configuration's (on the phone).
    pub keyring: Option<PathBuf>,
}

impl Default for Rauc {
    fn default() -> Self {
        Rauc {
            program: PathBuf::from("rauc"),
            keyring: None,
        }
    }
}

impl Rauc {
    async fn run(&self, args: &[&str], bundle: Option<&Path>) -> Result<String, String> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args);
        if let Some(k) = &self.keyring {
            cmd.arg(format!("--keyring={}", k.display()));
        }
        if let Some(b) = bundle {
            cmd.arg(b);
        }
        let out = cmd
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            // RAUC's last line says what went wrong ("signature verification failed: ...").
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| format!("ended with {}", out.status));
            Err(format!("rauc {}: {last}", args.first().unwrap_or(&"")))
        }
    }

    /// Verifies the bundle's signature and reads its manifest.
    pub async fn inspect(&self, bundle: &Path) -> Result<BundleInfo, String> {
        let json = self
            .run(&["info", "--output-format=json"], Some(bundle))
            .await?;
        serde_json::from_str(&json).map_err(|e| format!("rauc info: unexpected output: {e}"))
    }

    /// Installs into the inactive slot and makes it the next boot's (RAUC verifies again).
    pub async fn install(&self, bundle: &Path) -> Result<(), String> {
        self.run(&["install"], Some(bundle)).await?;
        sync_all().await;
        Ok(())
    }

    /// Marks the booted slot good (keeps it) or bad (the next boot takes the other).
    pub async fn mark(&self, good: bool) -> Result<(), String> {
        let what = if good { "mark-good" } else { "mark-bad" };
        // mark-* take no keyring; run without it.
        let plain = Rauc {
            keyring: None,
            ..self.clone()
        };
        plain.run(&["status", what], None).await?;
        sync_all().await;
        Ok(())
    }
}

/// Writes every filesystem's dirty pages out (sync(2)). RAUC's bootloader state (GRUB's
/// grubenv on the ESP) is a file written through the page cache: a power cut in the seconds
/// after `mark-good` or an install would otherwise undo it, and the next boot would take the
/// wrong slot (fall back from a confirmed update, or never try an installed one).
async fn sync_all() {
    let _ = tokio::task::spawn_blocking(nix::unistd::sync).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sipd(state: &str, lines: &[(u8, bool)]) -> deskphone_ipc::sipd::Status {
        deskphone_ipc::sipd::Status {
            sipd: "test".into(),
            protocol: 1,
            state: state.into(),
            reason: None,
            sip_address: None,
            calls: Vec::new(),
            lines: lines
                .iter()
                .map(|&(line, registered)| deskphone_ipc::sipd::LineStatus {
                    line,
                    name: format!("10{line:02}"),
                    registered,
                    proxy: "192.0.2.1:5060".into(),
                    state: if registered {
                        "registered"
                    } else {
                        "registering"
                    }
                    .into(),
                    reason: (!registered).then(|| "no answer from 192.0.2.1:5060".into()),
                    retry_in: None,
                    expires_in: None,
                    failures: 0,
                    using: "primary".into(),
                    backup: None,
                    messages_waiting: false,
                    voice_messages: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_trial_is_healthy_once_every_line_is_registered() {
        let h = trial_health(true, Ok(&sipd("running", &[(1, true), (2, false)])));
        assert_eq!(
            h,
            Health::Waiting("not registered yet: line 2 (no answer from 192.0.2.1:5060)".into())
        );
        let h = trial_health(true, Ok(&sipd("running", &[(1, true), (2, true)])));
        assert_eq!(
            h,
            Health::Healthy("provisioned, lines 1, 2 registered".into())
        );
        // Registration off, or no line: sipd running is enough.
        assert!(matches!(
            trial_health(false, Ok(&sipd("running", &[(1, false)]))),
            Health::Healthy(_)
        ));
        assert!(matches!(
            trial_health(true, Ok(&sipd("running", &[]))),
            Health::Healthy(_)
        ));
        // sipd not there or not running: not healthy, whatever the lines.
        assert!(matches!(
            trial_health(false, Err("connection refused".into())),
            Health::Waiting(_)
        ));
        assert!(matches!(
            trial_health(false, Ok(&sipd("waiting_for_provd", &[]))),
            Health::Waiting(_)
        ));
    }

    fn record_with_failure(v: &str) -> FirmwareRecord {
        let mut r = FirmwareRecord::default();
        r.record_failure(
            v,
            "did not become healthy".into(),
            "2026-01-01T00:00:00Z".into(),
        );
        r
    }

    #[test]
    fn plans() {
        let r = FirmwareRecord::default();
        assert_eq!(plan(None, "a", &r), Plan::NotConfigured);
        assert_eq!(plan(Some("a"), "a", &r), Plan::UpToDate);
        assert_eq!(
            plan(Some("b"), "a", &r),
            Plan::Update {
                version: "b".into(),
                bundle: "b.bin".into()
            }
        );
        let r = record_with_failure("b");
        assert!(matches!(plan(Some("b"), "a", &r), Plan::Skip { .. }));
        // A new image_version is tried, whatever failed before.
        assert!(matches!(plan(Some("c"), "a", &r), Plan::Update { .. }));
    }

    #[test]
    fn verdicts() {
        let mut r = FirmwareRecord::default();
        assert_eq!(boot_verdict(&r, "a"), BootVerdict::Normal);
        r.pending = Some(Pending {
            version: "b".into(),
            previous: "a".into(),
            installed: "t".into(),
        });
        assert_eq!(
            boot_verdict(&r, "b"),
            BootVerdict::Trial {
                version: "b".into()
            }
        );
        assert_eq!(
            boot_verdict(&r, "a"),
            BootVerdict::FellBack {
                version: "b".into()
            }
        );
    }

    #[test]
    fn bundle_checks() {
        let info = BundleInfo {
            compatible: "deskphone-qemu-x86_64".into(),
            version: "v2".into(),
        };
        assert!(check_bundle(&info, "v2", Some("deskphone-qemu-x86_64")).is_ok());
        assert!(check_bundle(&info, "v3", None)
            .unwrap_err()
            .contains("carries version v2"));
        assert!(check_bundle(&info, "v2", Some("deskphone-rpi4"))
            .unwrap_err()
            .contains("is for"));
    }

    #[test]
    fn failures_are_bounded_and_latest_wins() {
        let mut r = FirmwareRecord::default();
        for i in 0..20 {
            r.record_failure(&format!("v{i}"), "x".into(), "t".into());
        }
        r.record_failure("v19", "again".into(), "t2".into());
        assert_eq!(r.failed.len(), 8);
        assert_eq!(r.failure_of("v19").unwrap().reason, "again");
        assert!(r.failure_of("v0").is_none());
        assert_eq!(FirmwareRecord::from_bytes(&r.to_bytes()).unwrap(), r);
    }
}
