//! `phonectl`: what administrators (and the tests) use to look at and drive a phone.
//!
//! `phonectl lint` needs no phone: it evaluates a TFTP tree with provd's own code. Every
//! other command talks to a running phone's sockets in `--runtime` (on the image
//! `/run/deskphone`). Exit status: 0 done, 1 refused or failed, 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use deskphone_config::Mac;
use deskphone_ipc::client::{Client, Provd, Sipd};
use deskphone_ipc::provd::{Event, Reply, Request};
use deskphone_ipc::RuntimeDir;
use deskphone_ipc::{mediad, sipd, ui};

#[derive(Parser, Debug)]
#[command(version, about = "Look at and drive a deskphone")]
struct Args {
    /// The phone's runtime directory (its sockets).
    #[arg(long, global = true, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate a TFTP root exactly as the phone would: effective configuration and diagnostics.
    Lint {
        /// The TFTP root directory.
        root: PathBuf,
        /// The phone's MAC address (names SIP<MAC>.cnf).
        #[arg(long)]
        mac: Mac,
        /// A flash store directory to start from (a phone's STATE/flash).
        #[arg(long)]
        flash: Option<PathBuf>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Versions, provisioning, configuration sources, status messages, and the lines with
    /// their registrations when sipd runs (`lines` in the JSON; absent without sipd).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Start a check-sync: syncinfo.xml is read once the phone has been idle for 20 s.
    Resync,
    /// The effective configuration as JSON.
    Config,
    /// One parameter's effective value and source.
    Get { name: String },
    /// Change a setting as the phone's menus would (network and SIP settings need --password).
    Set {
        name: String,
        /// The new value; omit it to erase the setting back to its default.
        value: Option<String>,
        /// phone_password, to unlock the configuration first.
        #[arg(long)]
        password: Option<String>,
    },
    /// Erase the local network settings (re-enables DHCP) or every SIP setting.
    Erase {
        what: EraseWhat,
        #[arg(long)]
        password: String,
    },
    /// Tell the phone it is in use or idle (the check-sync waits for an idle phone).
    Activity { state: ActivityState },
    /// Restart the phone.
    Reboot,
    /// Print the phone's events as JSON lines until interrupted.
    Events,
    /// Place a call to a number (sent to the line's proxy) or a sip: URI.
    Dial {
        /// The line to call from (default: the first configured line).
        #[arg(long)]
        line: Option<u8>,
        number: String,
    },
    /// Answer a ringing call (default: the one that rang first).
    Answer { call: Option<u32> },
    /// Hang up, cancel, or decline a call (default: the newest call).
    Hangup { call: Option<u32> },
    /// Put a call on hold (default: the connected call).
    Hold { call: Option<u32> },
    /// Take a call off hold (default: the held call).
    Resume { call: Option<u32> },
    /// Transfer a call: blind to NUMBER (a number or sip: URI), or to the other party of
    /// --to-call (attended; semi-attended while that call still rings). Without either, and
    /// with two calls, the held call goes to the other one.
    Transfer {
        /// The call to transfer (default: the connected call, or the held one).
        #[arg(long)]
        call: Option<u32>,
        /// Attended: the call whose other party takes over.
        #[arg(long, conflicts_with = "number")]
        to_call: Option<u32>,
        number: Option<String>,
    },
    /// Mix two calls in a local three-way conference (default: the two calls there are).
    Conference { calls: Vec<u32> },
    /// The audio as the UI sets it: path, its volume, mute, a tone of the tone plan, the
    /// ringer. Each option is an order to mediad; without options, prints the audio state.
    Audio {
        /// handset, speaker or headset.
        #[arg(long, value_parser = ["handset", "speaker", "headset"])]
        path: Option<String>,
        /// The volume of the path (the one given, else the current one), 0-10, 5 nominal.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10))]
        volume: Option<u8>,
        #[arg(long, value_parser = ["on", "off"])]
        mute: Option<String>,
        /// dial, secondary_dial, stutter_dial, ringback, busy, reorder, call_waiting,
        /// confirmation, or off.
        #[arg(long)]
        tone: Option<String>,
        /// standard, double, short_short_long, or off.
        #[arg(long)]
        ring: Option<String>,
    },
    /// Press the phone's keys in order: 0-9, star, pound, soft1-soft4, up, down, settings,
    /// services, directories, messages, info, volup, voldown, speaker, mute, headset,
    /// line1-line6, offhook, onhook (the hook switch).
    Key {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Write what the screen shows now to a PNG file.
    Screenshot { file: PathBuf },
    /// Send DTMF digits (0-9 * # A-D) on a call, as the keypad would during a call.
    Dtmf {
        /// The call (default: the connected one).
        #[arg(long)]
        call: Option<u32>,
        digits: String,
    },
}

#[derive(ValueEnum, Clone, Debug)]
enum EraseWhat {
    Network,
    Sip,
}

#[derive(ValueEnum, Clone, Debug)]
enum ActivityState {
    Busy,
    Idle,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("phonectl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<u8> {
    let runtime = RuntimeDir::new(&args.runtime);
    match args.command {
        Command::Lint {
            root,
            mac,
            flash,
            json,
        } => {
            if !root.is_dir() {
                eprintln!("phonectl: {} is not a directory", root.display());
                return Ok(2);
            }
            if let Some(f) = &flash {
                if !f.is_dir() {
                    eprintln!("phonectl: {} is not a directory", f.display());
                    return Ok(2);
                }
            }
            let report = deskphone_provd::lint::lint(&root, mac, flash.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(report.exit_code() as u8)
        }
        Command::Status { json } => {
            let mut c = connect(&runtime).await?;
            let Reply::Status(status) = ok(c.request(&Request::Status).await?)? else {
                anyhow::bail!("unexpected reply");
            };
            let mut status = serde_json::to_value(&status)?;
            // sipd's lines join provd's status; without sipd the key is absent.
            let sip = sipd_status(&runtime).await;
            // mediad's figures join each call as its "rtp" object (absent without mediad
            // or before the call has media).
            let media = mediad_status(&runtime).await;
            if let (Ok(sip), Some(obj)) = (&sip, status.as_object_mut()) {
                obj.insert("lines".into(), serde_json::to_value(&sip.lines)?);
                let mut calls = serde_json::to_value(&sip.calls)?;
                if let (Ok(m), Some(list)) = (&media, calls.as_array_mut()) {
                    for call in list {
                        let id = call["id"].as_u64();
                        if let Some(s) = m.sessions.iter().find(|s| Some(u64::from(s.call)) == id) {
                            call["rtp"] = serde_json::to_value(&s.rtp)?;
                        }
                    }
                }
                obj.insert("calls".into(), calls);
            }
            if let (Ok(m), Some(obj)) = (&media, status.as_object_mut()) {
                obj.insert(
                    "audio".into(),
                    serde_json::json!({"path": m.path, "muted": m.muted, "volumes": m.volumes, "device_error": m.device_error}),
                );
            }
            // The UI's screen, lamps and audio path (absent without the UI).
            if let (Ok(u), Some(obj)) = (ui_status(&runtime).await, status.as_object_mut()) {
                obj.insert("screen".into(), serde_json::to_value(&u.screen)?);
                obj.insert(
                    "ui".into(),
                    serde_json::json!({"display": u.display, "inputs": u.inputs, "lamps": u.lamps, "audio_path": u.audio_path}),
                );
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
                print_lines(&sip);
            }
            Ok(0)
        }
        Command::Resync => simple(&runtime, Request::Resync).await,
        Command::Reboot => simple(&runtime, Request::Reboot).await,
        Command::Activity { state } => {
            simple(
                &runtime,
                Request::Activity {
                    busy: matches!(state, ActivityState::Busy),
                },
            )
            .await
        }
        Command::Config => {
            let mut c = connect(&runtime).await?;
            let Reply::Config { parameters } = ok(c.request(&Request::Config).await?)? else {
                anyhow::bail!("unexpected reply");
            };
            println!("{}", serde_json::to_string_pretty(&parameters)?);
            Ok(0)
        }
        Command::Get { name } => {
            let mut c = connect(&runtime).await?;
            let Reply::Config { parameters } = ok(c.request(&Request::Config).await?)? else {
                anyhow::bail!("unexpected reply");
            };
            match parameters.get(&name) {
                Some(p) => {
                    println!("{}", serde_json::to_string(p)?);
                    Ok(0)
                }
                None => {
                    eprintln!("phonectl: no parameter named {name}");
                    Ok(1)
                }
            }
        }
        Command::Set {
            name,
            value,
            password,
        } => {
            let mut c = connect(&runtime).await?;
            if let Some(p) = password {
                ok(c.request(&Request::Unlock { password: p }).await?)?;
            }
            let reply = ok(c.request(&Request::Set { name, value }).await?)?;
            if let Reply::Set { name, value } = reply {
                println!("{name} = {value}");
            }
            Ok(0)
        }
        Command::Erase { what, password } => {
            let mut c = connect(&runtime).await?;
            ok(c.request(&Request::Unlock { password }).await?)?;
            let req = match what {
                EraseWhat::Network => Request::EraseNetwork,
                EraseWhat::Sip => Request::EraseSip,
            };
            ok(c.request(&req).await?)?;
            Ok(0)
        }
        Command::Dial { line, number } => {
            call_command(&runtime, sipd::Request::Dial { line, number }).await
        }
        Command::Answer { call } => call_command(&runtime, sipd::Request::Answer { call }).await,
        Command::Hangup { call } => call_command(&runtime, sipd::Request::Hangup { call }).await,
        Command::Hold { call } => call_command(&runtime, sipd::Request::Hold { call }).await,
        Command::Resume { call } => call_command(&runtime, sipd::Request::Resume { call }).await,
        Command::Transfer {
            call,
            to_call,
            number,
        } => {
            call_command(
                &runtime,
                sipd::Request::Transfer {
                    call,
                    to: number,
                    to_call,
                },
            )
            .await
        }
        Command::Conference { calls } => {
            if !(calls.is_empty() || calls.len() == 2) {
                eprintln!("phonectl: give two calls, or none");
                return Ok(2);
            }
            call_command(&runtime, sipd::Request::Conference { calls }).await
        }
        Command::Dtmf { call, digits } => dtmf(&runtime, call, &digits).await,
        Command::Key { keys } => {
            let mut parsed = Vec::new();
            for k in &keys {
                match k.parse::<deskphone_ipc::ui::Key>() {
                    Ok(key) => parsed.push(key),
                    Err(e) => {
                        eprintln!("phonectl: {e}");
                        return Ok(2);
                    }
                }
            }
            let mut c = ui_client(&runtime).await?;
            match c.request(&ui::Request::Keys { keys: parsed }).await? {
                ui::Reply::Ok => Ok(0),
                ui::Reply::Error { message } => {
                    eprintln!("phonectl: {message}");
                    Ok(1)
                }
                other => anyhow::bail!("unexpected reply from the UI: {other:?}"),
            }
        }
        Command::Screenshot { file } => {
            let mut c = ui_client(&runtime).await?;
            match c.request(&ui::Request::Screenshot).await? {
                ui::Reply::Screenshot { png_base64, .. } => {
                    use base64::Engine as _;
                    let png = base64::engine::general_purpose::STANDARD
                        .decode(png_base64.as_bytes())
                        .context("the UI sent a screenshot that is not base64")?;
                    std::fs::write(&file, png)
                        .with_context(|| format!("writing {}", file.display()))?;
                    Ok(0)
                }
                ui::Reply::Error { message } => {
                    eprintln!("phonectl: {message}");
                    Ok(1)
                }
                other => anyhow::bail!("unexpected reply from the UI: {other:?}"),
            }
        }
        Command::Audio {
            path,
            volume,
            mute,
            tone,
            ring,
        } => audio(&runtime, path, volume, mute, tone, ring).await,
        Command::Events => {
            let mut c = connect(&runtime).await?;
            ok(c.request(&Request::Subscribe).await?)?;
            while let Some(e) = c.next_event().await? {
                println!("{}", serde_json::to_string(&e)?);
                if matches!(e, Event::Rebooting { .. }) {
                    break;
                }
            }
            Ok(0)
        }
    }
}

/// A call command to sipd; prints the call it concerns as JSON.
async fn call_command(runtime: &RuntimeDir, request: sipd::Request) -> anyhow::Result<u8> {
    let mut c = Client::<Sipd>::connect(runtime, "phonectl")
        .await
        .context("is sipd running? (--runtime)")?;
    match c.request(&request).await? {
        sipd::Reply::Call { call } => {
            println!("{}", serde_json::to_string(&call)?);
            Ok(0)
        }
        sipd::Reply::Ok => Ok(0),
        sipd::Reply::Error { message } => {
            eprintln!("phonectl: {message}");
            Ok(1)
        }
        other => anyhow::bail!("unexpected reply from sipd: {other:?}"),
    }
}

async fn ui_client(runtime: &RuntimeDir) -> anyhow::Result<Client<deskphone_ipc::client::Ui>> {
    Client::<deskphone_ipc::client::Ui>::connect(runtime, "phonectl")
        .await
        .context("is the UI running? (--runtime)")
}

/// The UI's status, or why there is none.
async fn ui_status(runtime: &RuntimeDir) -> anyhow::Result<ui::Status> {
    let mut c = Client::<deskphone_ipc::client::Ui>::connect(runtime, "phonectl").await?;
    match c.request(&ui::Request::Status).await? {
        ui::Reply::Status(s) => Ok(*s),
        ui::Reply::Error { message } => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected reply from the UI: {other:?}"),
    }
}

/// mediad's status, or why there is none.
async fn mediad_status(runtime: &RuntimeDir) -> anyhow::Result<mediad::Status> {
    let mut c = Client::<deskphone_ipc::client::Mediad>::connect(runtime, "phonectl").await?;
    match c.request(&mediad::Request::Status).await? {
        mediad::Reply::Status(s) => Ok(*s),
        mediad::Reply::Error { message } => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected reply from mediad: {other:?}"),
    }
}

/// `phonectl audio`: the orders, in a sensible order (path first), then the audio state.
async fn audio(
    runtime: &RuntimeDir,
    path: Option<String>,
    volume: Option<u8>,
    mute: Option<String>,
    tone: Option<String>,
    ring: Option<String>,
) -> anyhow::Result<u8> {
    // The names are the JSON spellings of the protocol's enums.
    fn named<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> anyhow::Result<Option<T>> {
        if name == "off" {
            return Ok(None);
        }
        serde_json::from_value(serde_json::Value::String(name.to_string()))
            .map(Some)
            .map_err(|_| anyhow::anyhow!("no {what} named {name}"))
    }
    let mut orders = Vec::new();
    let path: Option<mediad::AudioPath> = match &path {
        Some(p) => named("audio path", p)?,
        None => None,
    };
    if let Some(p) = path {
        orders.push(mediad::Request::Path { path: p });
    }
    let mut c = Client::<deskphone_ipc::client::Mediad>::connect(runtime, "phonectl")
        .await
        .context("is mediad running?")?;
    if let Some(level) = volume {
        let path = match path {
            Some(p) => p,
            None => match c.request(&mediad::Request::Status).await? {
                mediad::Reply::Status(s) => s.path,
                other => anyhow::bail!("unexpected reply from mediad: {other:?}"),
            },
        };
        orders.push(mediad::Request::Volume { path, level });
    }
    if let Some(m) = mute {
        orders.push(mediad::Request::Mute { muted: m == "on" });
    }
    if let Some(t) = tone {
        orders.push(mediad::Request::Tone {
            tone: named("tone", &t)?,
        });
    }
    if let Some(r) = ring {
        orders.push(mediad::Request::Ring {
            pattern: named("ring pattern", &r)?,
        });
    }
    for o in &orders {
        if let mediad::Reply::Error { message } = c.request(o).await? {
            eprintln!("phonectl: {message}");
            return Ok(1);
        }
    }
    if let mediad::Reply::Status(s) = c.request(&mediad::Request::Status).await? {
        println!(
            "{}",
            serde_json::json!({"path": s.path, "muted": s.muted, "volumes": s.volumes, "device_error": s.device_error})
        );
    }
    Ok(0)
}

/// Sends digits one by one to mediad on the call sipd says is connected (or the one given).
async fn dtmf(runtime: &RuntimeDir, call: Option<u32>, digits: &str) -> anyhow::Result<u8> {
    if let Some(bad) = digits
        .chars()
        .find(|d| !(d.is_ascii_digit() || "*#ABCDabcd".contains(*d)))
    {
        eprintln!("phonectl: {bad:?} is not a DTMF digit (0-9 * # A-D)");
        return Ok(2);
    }
    let call = match call {
        Some(c) => c,
        None => {
            let sip = sipd_status(runtime).await.context("is sipd running?")?;
            match sip.calls.iter().find(|c| c.state == "connected") {
                Some(c) => c.id,
                None => {
                    eprintln!("phonectl: no connected call");
                    return Ok(1);
                }
            }
        }
    };
    let mut c = Client::<deskphone_ipc::client::Mediad>::connect(runtime, "phonectl")
        .await
        .context("is mediad running?")?;
    for digit in digits.chars() {
        let digit = digit.to_ascii_uppercase();
        if let mediad::Reply::Error { message } =
            c.request(&mediad::Request::Dtmf { call, digit }).await?
        {
            eprintln!("phonectl: {message}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// sipd's status, or why there is none (not running, refused).
async fn sipd_status(runtime: &RuntimeDir) -> anyhow::Result<deskphone_ipc::sipd::Status> {
    let mut c = Client::<Sipd>::connect(runtime, "phonectl").await?;
    match c.request(&sipd::Request::Status).await? {
        sipd::Reply::Status(s) => Ok(*s),
        sipd::Reply::Error { message } => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected reply from sipd: {other:?}"),
    }
}

fn print_lines(sip: &anyhow::Result<deskphone_ipc::sipd::Status>) {
    print!("{}", lines_text(sip));
}

/// The SIP part of the text status.
fn lines_text(sip: &anyhow::Result<deskphone_ipc::sipd::Status>) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\n");
    let s = match sip {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "Lines            sipd is not running ({e:#})");
            return out;
        }
    };
    let state = match &s.reason {
        Some(r) => format!("{}: {r}", s.state),
        None => s.state.clone(),
    };
    let _ = writeln!(
        out,
        "SIP              {state}, on {}",
        s.sip_address.as_deref().unwrap_or("-")
    );
    if s.lines.is_empty() {
        let _ = writeln!(out, "Lines            none configured (no lineN_name)");
    }
    for l in &s.lines {
        let mut what = l.state.clone();
        if let Some(e) = l.expires_in {
            what.push_str(&format!(" ({e} s left)"));
        }
        if let Some(r) = &l.reason {
            what.push_str(&format!(": {r}"));
        }
        if let Some(r) = l.retry_in {
            what.push_str(&format!("; next attempt in {r} s"));
        }
        if let (Some(b), "backup") = (&l.backup, l.using.as_str()) {
            what.push_str(&format!(" (on the backup {b})"));
        }
        if l.messages_waiting {
            match l.voice_messages {
                Some(v) => what.push_str(&format!(", messages waiting ({} new)", v.new)),
                None => what.push_str(", messages waiting"),
            }
        }
        let _ = writeln!(
            out,
            "Line {}           {} at {}  {what}",
            l.line, l.name, l.proxy
        );
    }
    for c in &s.calls {
        let _ = writeln!(
            out,
            "Call {:<11} line {}, {} {} {}{}",
            c.id,
            c.line,
            c.state,
            c.direction,
            c.remote,
            c.conditions()
        );
    }
    out
}

async fn connect(runtime: &RuntimeDir) -> anyhow::Result<Client<Provd>> {
    Client::<Provd>::connect(runtime, "phonectl")
        .await
        .context("is the phone running? (--runtime)")
}

fn ok(reply: Reply) -> anyhow::Result<Reply> {
    match reply {
        Reply::Error { message } => anyhow::bail!("{message}"),
        r => Ok(r),
    }
}

async fn simple(runtime: &RuntimeDir, req: Request) -> anyhow::Result<u8> {
    let mut c = connect(runtime).await?;
    ok(c.request(&req).await?)?;
    Ok(0)
}

fn print_status(s: &serde_json::Value) {
    if let Some(screen) = s.get("screen") {
        let keys: Vec<&str> = screen["softkeys"]
            .as_array()
            .map(|a| a.iter().filter_map(|k| k.as_str()).collect())
            .unwrap_or_default();
        println!(
            "Screen           {} \"{}\" [{}]",
            screen["name"].as_str().unwrap_or("?"),
            screen["title"].as_str().unwrap_or(""),
            keys.join("|")
        );
    }
    let p = &s["provisioning"];
    println!("MAC              {}", s["mac"].as_str().unwrap_or("?"));
    println!(
        "Firmware         {}",
        s["versions"]["firmware"].as_str().unwrap_or("?")
    );
    println!(
        "Provisioning     {} from {}",
        p["state"].as_str().unwrap_or("?"),
        p["server"].as_str().unwrap_or("-")
    );
    if let Some(files) = p["files"].as_array() {
        for f in files {
            let found = if f["found"].as_bool() == Some(true) {
                "found"
            } else {
                "not found"
            };
            println!("  {:<30} {found}", f["name"].as_str().unwrap_or("?"));
        }
    }
    let fw = &s["firmware"];
    let progress = fw["progress_percent"]
        .as_u64()
        .map(|p| format!(" {p} %"))
        .unwrap_or_default();
    println!(
        "Firmware update  {}{progress}: {}",
        fw["state"].as_str().unwrap_or("?"),
        fw["message"].as_str().unwrap_or("")
    );
    println!(
        "Check-sync       {} (sync {})",
        s["resync"]["state"].as_str().unwrap_or("?"),
        s["resync"]["sync"].as_str().unwrap_or("-")
    );
    for line in network_and_clock_text(s) {
        println!("{line}");
    }
    println!("\nStatus messages:");
    for m in s["status_messages"].as_array().into_iter().flatten() {
        println!(
            "  {}  {}",
            m["time"].as_str().unwrap_or(""),
            m["text"].as_str().unwrap_or("")
        );
    }
}

/// The lines of netd's reports (absent where no netd runs, as in the simulator).
fn network_and_clock_text(s: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let n = &s["network"];
    if n.is_object() {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
        let list = |v: &serde_json::Value| {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "-".into())
        };
        out.push(format!(
            "Network          {} {} on {} (link {}), routers {}, DNS {}",
            text(&n["addressing"]),
            text(&n["address"]),
            text(&n["interface"]),
            text(&n["link"]),
            list(&n["routers"]),
            list(&n["dns_servers"])
        ));
        if n["dhcp"].is_object() {
            out.push(format!(
                "DHCP             from {}, TFTP option 150 {} / option 66 {}",
                text(&n["dhcp"]["server"]),
                list(&n["dhcp"]["tftp_servers"]),
                text(&n["dhcp"]["tftp_server_name"])
            ));
        }
        for p in n["problems"].as_array().into_iter().flatten() {
            out.push(format!("  problem: {}", p.as_str().unwrap_or("?")));
        }
    }
    let t = &s["time"];
    if t.is_object() {
        out.push(format!(
            "Clock            {} ({} in effect{}), last sync {}",
            t["state"].as_str().unwrap_or("?"),
            t["mode_in_effect"].as_str().unwrap_or("?"),
            t["server"]
                .as_str()
                .map(|x| format!(", server {x}"))
                .unwrap_or_default(),
            t["last_sync"].as_str().unwrap_or("never")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskphone_ipc::sipd::{LineStatus, Status};

    #[test]
    fn the_text_status_shows_the_network_and_the_clock_when_netd_reports_them() {
        let s = serde_json::json!({
            "network": {
                "interface": "eth0", "addressing": "dhcp", "link": "up",
                "address": "10.0.2.15/24", "routers": ["10.0.2.2"], "dns_servers": [],
                "dhcp": {"server": "10.0.2.2", "tftp_servers": [], "tftp_server_name": "10.0.2.2"},
                "problems": ["default router 10.9.9.9 is outside 10.0.2.15/24; not used"]
            },
            "time": {"state": "synchronised", "mode_in_effect": "unicast",
                     "server": "10.0.2.2", "last_sync": "2026-11-25T02:00:00Z"}
        });
        let text = network_and_clock_text(&s).join("\n");
        assert_eq!(
            text,
            "Network          dhcp 10.0.2.15/24 on eth0 (link up), routers 10.0.2.2, DNS -\n\
             DHCP             from 10.0.2.2, TFTP option 150 - / option 66 10.0.2.2\n  \
             problem: default router 10.9.9.9 is outside 10.0.2.15/24; not used\n\
             Clock            synchronised (unicast in effect, server 10.0.2.2), last sync \
             2026-11-25T02:00:00Z"
        );
        assert!(network_and_clock_text(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn the_text_status_shows_each_line_or_that_sipd_is_not_running() {
        let line = |n: u8, registered: bool| LineStatus {
            line: n,
            name: format!("100{n}"),
            registered,
            proxy: "10.0.0.5:5060".into(),
            state: if registered { "registered" } else { "failed" }.into(),
            reason: (!registered).then(|| "no response from the registrar".into()),
            retry_in: (!registered).then_some(25),
            expires_in: registered.then_some(3500),
            failures: u32::from(!registered),
            using: "primary".into(),
            backup: None,
            messages_waiting: false,
            voice_messages: None,
        };
        let status = Status {
            sipd: "0.1.0".into(),
            protocol: 1,
            state: "running".into(),
            reason: None,
            sip_address: Some("0.0.0.0:5060".into()),
            lines: vec![line(1, true), line(2, false), {
                let mut l = line(3, true);
                l.using = "backup".into();
                l.backup = Some("10.0.0.6:5060".into());
                l
            }],
            calls: vec![],
        };
        let text = lines_text(&Ok(status));
        assert!(
            text.contains(
                "Line 3           1003 at 10.0.0.5:5060  registered (3500 s left) \
                 (on the backup 10.0.0.6:5060)"
            ),
            "{text}"
        );
        assert!(
            text.contains("SIP              running, on 0.0.0.0:5060"),
            "{text}"
        );
        assert!(
            text.contains("Line 1           1001 at 10.0.0.5:5060  registered (3500 s left)"),
            "{text}"
        );
        assert!(
            text.contains(
                "Line 2           1002 at 10.0.0.5:5060  failed: no response from the \
                 registrar; next attempt in 25 s"
            ),
            "{text}"
        );
        let down = lines_text(&Err(anyhow::anyhow!("cannot reach sipd")));
        assert!(down.contains("sipd is not running"), "{down}");
    }
}
