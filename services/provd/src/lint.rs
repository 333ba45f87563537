//! `phonectl lint`: evaluate a TFTP root exactly as the phone would.

use std::fmt::Write as _;
use std::path::Path;

use deskphone_config::{Diagnostic, FlashConfig, Mac, Severity};
use deskphone_flash::FlashStore;
use serde_json::json;

use crate::cycle::{Cycle, FileRecord, Outcome};
use crate::files::parse_syncinfo;
use crate::provision::{load_flash, run_cycle};
use crate::source::FileSource;

pub struct LintReport {
    pub mac: Mac,
    pub outcome: Outcome,
    /// Files beyond the configuration cycle: syncinfo.xml and the firmware bundle.
    pub extra_files: Vec<FileRecord>,
}

/// Lints `root` for the phone `mac`, with the flash store in `flash_dir` if given.
pub async fn lint(root: &Path, mac: Mac, flash_dir: Option<&Path>) -> anyhow::Result<LintReport> {
    anyhow::ensure!(root.is_dir(), "{} is not a directory", root.display());
    let (flash, flash_diags) = match flash_dir {
        Some(dir) => load_flash(&FlashStore::open_read_only(dir)?),
        None => (FlashConfig::default(), Vec::new()),
    };
    let source = FileSource::Directory(root.to_path_buf());
    let cycle = Cycle::new(mac, flash, vec![FileSource::DIRECTORY_SERVER], false);
    let mut outcome = run_cycle(cycle, &source).await;
    outcome.diagnostics.splice(0..0, flash_diags);

    let mut extra_files = Vec::new();
    let server = FileSource::DIRECTORY_SERVER;
    match source.fetch(server, "syncinfo.xml").await {
        crate::cycle::Fetched::Found(d) => {
            extra_files.push(FileRecord {
                name: "syncinfo.xml".into(),
                found: true,
            });
            outcome
                .diagnostics
                .extend(parse_syncinfo("syncinfo.xml", &d).1);
        }
        _ => extra_files.push(FileRecord {
            name: "syncinfo.xml".into(),
            found: false,
        }),
    }
    if let Some(version) = outcome.config.text("image_version").map(str::to_string) {
        let bundle = crate::bundle_file_name(&version);
        let found = matches!(
            source.fetch(server, &bundle).await,
            crate::cycle::Fetched::Found(_)
        );
        if !found {
            outcome.diagnostics.push(Diagnostic::warning(
                &bundle,
                0,
                format!("image_version {version} names {bundle}, which is not in the tree; the phone keeps running its firmware"),
            ));
        }
        extra_files.push(FileRecord {
            name: bundle,
            found,
        });
    }
    Ok(LintReport {
        mac,
        outcome,
        extra_files,
    })
}

impl LintReport {
    /// 0: the phone comes up provisioned from this tree (warnings allowed); 1: it does not.
    pub fn exit_code(&self) -> i32 {
        if self
            .outcome
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            1
        } else {
            0
        }
    }

    fn files(&self) -> impl Iterator<Item = &FileRecord> {
        self.outcome.files.iter().chain(&self.extra_files)
    }

    /// The `--json` object (a contract: fields are added, never renamed).
    pub fn to_json(&self) -> serde_json::Value {
        let unknown: serde_json::Map<String, serde_json::Value> = self
            .outcome
            .config
            .unknown()
            .iter()
            .map(|(k, u)| {
                (
                    k.clone(),
                    json!({"value": u.value, "source": u.source.to_string()}),
                )
            })
            .collect();
        json!({
            "mac": self.mac.to_string(),
            "files": self.files().map(|f| json!({"name": f.name, "found": f.found})).collect::<Vec<_>>(),
            "parameters": self.outcome.config.parameters_json(true),
            "diagnostics": self.outcome.diagnostics,
            "unknown_parameters": unknown,
            "notes": self.outcome.notes,
        })
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Phone {} ({})", self.mac, self.mac.config_file_name());
        let _ = writeln!(out, "\nFiles:");
        for f in self.files() {
            let _ = writeln!(
                out,
                "  {:<32} {}",
                f.name,
                if f.found { "found" } else { "not found" }
            );
        }
        let _ = writeln!(out, "\nEffective configuration:");
        for (def, s) in self.outcome.config.iter() {
            let v = match &s.value {
                Some(v) => format!("{v}"),
                None => "(unprovisioned)".to_string(),
            };
            let _ = writeln!(out, "  {:<28} {:<34} {}", def.name, v, s.source);
        }
        for (k, u) in self.outcome.config.unknown() {
            let _ = writeln!(
                out,
                "  {:<28} {:<34} {} (unknown, unused)",
                k, u.value, u.source
            );
        }
        if !self.outcome.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:");
            for n in &self.outcome.notes {
                let _ = writeln!(out, "  {n}");
            }
        }
        let (e, w) = self
            .outcome
            .diagnostics
            .iter()
            .fold((0, 0), |(e, w), d| match d.severity {
                Severity::Error => (e + 1, w),
                Severity::Warning => (e, w + 1),
            });
        let _ = writeln!(out, "\nDiagnostics: {e} error(s), {w} warning(s)");
        for d in &self.outcome.diagnostics {
            let _ = writeln!(out, "  {d}");
        }
        out
    }
}
