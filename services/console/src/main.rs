//! `consoled`: the phone's telnet and serial console (see the crate documentation).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use deskphone_console::shell::{
    follow_settings, run_session, Listen, Server, SessionContext, Transport,
};
use deskphone_console::Limits;
use deskphone_ipc::RuntimeDir;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "deskphone console: the telnet (telnet_level 1 or 2) and serial-console CLI"
)]
struct Args {
    /// Where telnet listens while telnet_level is 1 or 2. A socket passed by systemd
    /// (LISTEN_FDS) is used instead when there is one.
    #[arg(long, default_value = "[::]:23", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// One session on stdin/stdout (the serial console), no telnet, then exit.
    #[arg(long)]
    stdio: bool,
    /// Where the services' sockets are.
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// Telnet sessions at once; more connections are told to try later.
    #[arg(long, default_value_t = 4)]
    max_sessions: usize,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    deskphone_ipc::systemd::run_service(run(args))
}

async fn run(args: Args) -> anyhow::Result<i32> {
    let runtime = RuntimeDir::new(&args.runtime);
    let (tx, rx) = watch::channel(None);
    tokio::spawn(follow_settings(runtime.clone(), tx));
    let limits = Limits::default();
    if args.stdio {
        return serial_console(runtime, limits, rx).await;
    }
    let listen = match inherited_listener()? {
        Some(l) => Listen::Inherited(l),
        None => Listen::Bind(args.listen),
    };
    let server = Server::new(runtime, limits, rx, args.max_sessions.max(1));
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        served = server.serve(listen) => served.map(|()| 0),
        _ = sigterm.recv() => Ok(0),
    }
}

/// The TCP socket systemd passed, if it passed one.
fn inherited_listener() -> anyhow::Result<Option<std::net::TcpListener>> {
    use std::os::fd::FromRawFd as _;
    let Some(fd) = sd_notify::listen_fds()?.next() else {
        return Ok(None);
    };
    // SAFETY: systemd passed this descriptor to this process and nothing else owns it.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    let addr = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("the socket systemd passed is not a TCP socket: {e}"))?;
    log::info!("telnet on the socket systemd passed ({addr})");
    Ok(Some(listener))
}

/// One session on the serial console. A terminal is put in raw mode so that the session
/// does the echo (and hides the password); a pipe is left alone.
async fn serial_console(
    runtime: RuntimeDir,
    limits: Limits,
    mut settings: watch::Receiver<Option<deskphone_console::shell::Settings>>,
) -> anyhow::Result<i32> {
    let terminal = std::io::stdin().is_terminal();
    let raw = if terminal {
        Some(RawMode::enable()?)
    } else {
        None
    };
    // The first prompt should be the configured one: wait a little for provd.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        settings.wait_for(Option::is_some),
    )
    .await;
    let ctx = SessionContext {
        runtime,
        peer: "serial".into(),
        limits,
        settings,
        console: true,
    };
    let result = run_session(
        tokio::io::stdin(),
        tokio::io::stdout(),
        Transport::Plain { echo: terminal },
        ctx,
    )
    .await;
    drop(raw);
    if let Err(e) = result {
        log::error!("serial console: {e}");
        std::process::exit(1);
    }
    // tokio's stdin reader may be blocked in read(2): a runtime shutdown would wait for it.
    std::process::exit(0);
}

/// The terminal's settings, restored when dropped.
struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    fn enable() -> anyhow::Result<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let saved = tcgetattr(std::io::stdin())?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(std::io::stdin(), SetArg::TCSANOW, &raw)?;
        Ok(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.0);
    }
}
