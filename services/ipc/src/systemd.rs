//! What every service does the same way with systemd: log to the journal (or stderr off the
//! image), take its socket from socket activation (or make it off the image), and feed the
//! watchdog.

use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use tokio::net::UnixListener;

use crate::{RuntimeDir, Service};

/// The service's socket: the one systemd passed (socket activation on the image), else
/// `service`'s path in `runtime`, made here (a stale one from a crash is replaced), mode 0660.
pub fn listen(runtime: &RuntimeDir, service: Service) -> io::Result<UnixListener> {
    if let Ok(mut fds) = sd_notify::listen_fds() {
        if let Some(fd) = fds.next() {
            use std::os::fd::FromRawFd as _;
            // SAFETY: systemd passed this descriptor to us and nothing else owns it.
            let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
            std_listener.set_nonblocking(true)?;
            return UnixListener::from_std(std_listener);
        }
    }
    let path = runtime.socket(service);
    let context = |what: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(runtime.path()).map_err(|e| context("creating the directory of", e))?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(context("removing the stale", e)),
    }
    let listener = UnixListener::bind(&path).map_err(|e| context("binding", e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| context("setting the mode of", e))?;
    Ok(listener)
}

/// Feeds systemd's watchdog (`WatchdogSec=`) from the runtime at twice its rate, if it is on.
/// A hung runtime stops feeding it, and systemd restarts the service.
pub fn spawn_watchdog() {
    let mut usec = 0;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        let period = Duration::from_micros(usec) / 2;
        tokio::spawn(async move {
            loop {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                tokio::time::sleep(period).await;
            }
        });
    }
}

/// Logs to the journal when systemd runs the service, else to stderr (`RUST_LOG`, default
/// `info`).
pub fn init_logging() {
    if systemd_journal_logger::connected_to_journal() {
        if let Ok(l) = systemd_journal_logger::JournalLog::new() {
            if l.install().is_ok() {
                log::set_max_level(log::LevelFilter::Info);
                return;
            }
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Runs a service's main future on a single-threaded runtime and turns its outcome into the
/// exit status: its own code, or 1 with the error logged.
pub fn run_service<F>(service: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<i32>>,
{
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(service));
    match result {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            log::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
