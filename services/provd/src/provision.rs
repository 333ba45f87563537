//! The I/O shell around [`Cycle`], and what provd keeps in flash.

use deskphone_config::{Diagnostic, FlashConfig};
use deskphone_flash::FlashStore;

use crate::cycle::{Cycle, Outcome};
use crate::source::FileSource;

/// The flash entry holding the configuration.
pub const CONFIG_ENTRY: &str = "config.json";
/// Last good copies of the provisioning files.
pub const LAST_DEFAULT_ENTRY: &str = "last-SIPDefault.cnf";
pub const LAST_PHONE_ENTRY: &str = "last-phone.cnf";
pub const LAST_DIALPLAN_ENTRY: &str = "last-dialplan.xml";

/// Runs a cycle to its end, fetching from `source`.
pub async fn run_cycle(mut cycle: Cycle, source: &FileSource) -> Outcome {
    while let Some(req) = cycle.poll_fetch() {
        let fetched = source.fetch(req.server, &req.path).await;
        log::debug!(
            "{} {}: {:?}",
            source.describe(req.server),
            req.path,
            short(&fetched)
        );
        cycle.handle_fetch(fetched);
    }
    cycle.finish()
}

fn short(f: &crate::cycle::Fetched) -> String {
    match f {
        crate::cycle::Fetched::Found(d) => format!("{} bytes", d.len()),
        other => format!("{other:?}"),
    }
}

/// The configuration in flash; an unreadable entry is reported and treated as empty, so
/// the phone still starts (from defaults and the TFTP files).
pub fn load_flash(store: &FlashStore) -> (FlashConfig, Vec<Diagnostic>) {
    let flash = deskphone_config::config::FLASH;
    match store.read(CONFIG_ENTRY) {
        Ok(None) => (FlashConfig::default(), Vec::new()),
        Ok(Some(bytes)) => match FlashConfig::from_bytes(&bytes) {
            Ok(f) => (f, Vec::new()),
            Err(e) => (FlashConfig::default(), vec![Diagnostic::error(flash, 0, e)]),
        },
        Err(e) => (
            FlashConfig::default(),
            vec![Diagnostic::error(
                flash,
                0,
                format!("{e}; starting from defaults"),
            )],
        ),
    }
}

/// Saves the configuration to flash unless it is unchanged.
pub fn save_flash(
    store: &FlashStore,
    config: &FlashConfig,
) -> Result<bool, deskphone_flash::FlashError> {
    let bytes = config.to_bytes();
    if store.read(CONFIG_ENTRY).ok().flatten().as_deref() == Some(bytes.as_slice()) {
        return Ok(false);
    }
    store.write(CONFIG_ENTRY, &bytes)?;
    Ok(true)
}

/// Keeps the files of a successful cycle as last good copies.
pub fn save_last_good(
    store: &FlashStore,
    outcome: &Outcome,
) -> Result<(), deskphone_flash::FlashError> {
    for (name, data) in &outcome.contents {
        let entry = if name == crate::cycle::DEFAULT_FILE {
            LAST_DEFAULT_ENTRY
        } else if name.ends_with(".cnf") {
            LAST_PHONE_ENTRY
        } else {
            LAST_DIALPLAN_ENTRY
        };
        if store.read(entry).ok().flatten().as_deref() != Some(data.as_slice()) {
            store.write(entry, data)?;
        }
    }
    Ok(())
}
