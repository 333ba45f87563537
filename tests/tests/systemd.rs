//! provd's and mediad's systemd integration, off the image: readiness and watchdog over
//! NOTIFY_SOCKET, and socket activation through systemd's own systemd-socket-activate.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskphone_e2e::{bin_dir, serve_tree, wait_for, Guard, TftpServer};
use deskphone_ipc::client::{Client, Mediad};
use deskphone_ipc::{mediad, RuntimeDir};

fn tree() -> (tempfile::TempDir, TftpServer) {
    serve_tree(&[("SIPDefault.cnf", "proxy1_address: 10.0.0.5\n")])
}

#[test]
fn provd_reports_ready_after_provisioning_and_feeds_the_watchdog() {
    let (_root, server) = tree();
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // systemd names the watched process in WATCHDOG_PID; exec keeps the shell's pid.
    let provd = Command::new("sh")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$@\"")
        .arg("sh")
        .arg(bin_dir().join("provd"))
        .args([
            "--mac",
            "00503EFFD842",
            "--tftp-server",
            &server.addr.to_string(),
        ])
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--runtime")
        .arg(dir.path().join("run"))
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let provd = Guard(provd);
    let mut buf = [0u8; 512];
    let mut got = Vec::new();
    let start = Instant::now();
    while got
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 3
    {
        let n = notify.recv(&mut buf).expect("a notification from provd");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        assert!(start.elapsed() < Duration::from_secs(20));
    }
    let ready = got
        .iter()
        .position(|m| m.contains("READY=1"))
        .expect("READY=1 sent");
    // The socket answers once READY=1 is out: provisioning is over by then.
    let out = Command::new(bin_dir().join("phonectl"))
        .arg("--runtime")
        .arg(dir.path().join("run"))
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["provisioning"]["state"], "provisioned");
    assert!(ready < got.len());
    let status = provd.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

#[test]
fn provd_uses_the_socket_systemd_passes() {
    let (_root, server) = tree();
    let dir = tempfile::tempdir().unwrap();
    let activated = dir.path().join("activated");
    std::fs::create_dir(&activated).unwrap();
    let activator = Command::new("systemd-socket-activate")
        .arg("--listen")
        .arg(activated.join("provd.sock"))
        .arg(bin_dir().join("provd"))
        .args([
            "--mac",
            "00503EFFD842",
            "--tftp-server",
            &server.addr.to_string(),
        ])
        .arg("--state")
        .arg(dir.path().join("state"))
        // Its own runtime directory stays empty: the socket comes from systemd.
        .arg("--runtime")
        .arg(dir.path().join("unused"))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (package systemd)");
    let activator = Guard(activator);
    wait_for("the activation socket", Duration::from_secs(10), || {
        activated.join("provd.sock").exists().then_some(())
    });
    let status = wait_for(
        "provd to answer on the passed socket",
        Duration::from_secs(30),
        || {
            let out = Command::new(bin_dir().join("phonectl"))
                .arg("--runtime")
                .arg(&activated)
                .args(["status", "--json"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
        },
    );
    assert_eq!(status["mac"], "00503EFFD842");
    assert!(!dir.path().join("unused/provd.sock").exists());
    activator.stop();
}

/// On the image provd reboots with `systemctl reboot`, which returns at once; systemd then
/// stops provd with SIGTERM on the way down. provd must exit then, or every reboot (after an
/// update or a check-sync) waits for the unit's stop timeout (90 s).
#[test]
fn provd_stops_on_sigterm_once_it_has_asked_for_a_reboot() {
    let (_root, server) = tree();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("reboot-asked");
    let provd = Command::new(bin_dir().join("provd"))
        .args([
            "--mac",
            "00503EFFD842",
            "--tftp-server",
            &server.addr.to_string(),
        ])
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--runtime")
        .arg(dir.path().join("run"))
        .arg("--reboot-command")
        .arg(format!("touch {}", marker.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let provd = Guard(provd);
    let phonectl = |args: &[&str]| {
        Command::new(bin_dir().join("phonectl"))
            .arg("--runtime")
            .arg(dir.path().join("run"))
            .args(args)
            .output()
            .unwrap()
    };
    wait_for("provd to answer", Duration::from_secs(30), || {
        phonectl(&["status", "--json"])
            .status
            .success()
            .then_some(())
    });
    assert!(phonectl(&["reboot"]).status.success());
    wait_for("the reboot command", Duration::from_secs(10), || {
        marker.exists().then_some(())
    });
    let asked = Instant::now();
    let status = provd.stop();
    assert!(
        status.success(),
        "SIGTERM after the reboot command must end provd cleanly: {status}"
    );
    assert!(asked.elapsed() < Duration::from_secs(5));
}

/// mediad's status from its socket in `runtime`, if it answers.
fn mediad_status(runtime: &Path) -> Option<mediad::Status> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Client::<Mediad>::connect(&RuntimeDir::new(runtime), "test")
            .await
            .ok()?;
        match c.request(&mediad::Request::Status).await.ok()? {
            mediad::Reply::Status(s) => Some(*s),
            _ => None,
        }
    })
}

/// mediad as mediad.service runs it: on the socket systemd passes, READY=1 once it answers,
/// the watchdog fed, a clean stop on SIGTERM.
#[test]
fn mediad_uses_the_socket_systemd_passes_and_feeds_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let activated = dir.path().join("activated");
    std::fs::create_dir(&activated).unwrap();
    // systemd-socket-activate execs mediad in its own process at the first connection, with
    // only the environment -E names; the shell's pid is the one both execs keep.
    let activator = Command::new("sh")
        .arg("-c")
        .arg("exec systemd-socket-activate -E WATCHDOG_PID=$$ \"$@\"")
        .arg("sh")
        .arg("--listen")
        .arg(activated.join("mediad.sock"))
        .arg(format!("-ENOTIFY_SOCKET={}", notify_path.display()))
        .arg("-EWATCHDOG_USEC=400000")
        .arg(bin_dir().join("mediad"))
        // Its own runtime directory stays empty: the socket comes from systemd.
        .arg("--runtime")
        .arg(dir.path().join("unused"))
        .args(["--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (package systemd)");
    let activator = Guard(activator);
    wait_for("the activation socket", Duration::from_secs(10), || {
        activated.join("mediad.sock").exists().then_some(())
    });
    let status = wait_for(
        "mediad to answer on the passed socket",
        Duration::from_secs(30),
        || mediad_status(&activated),
    );
    assert_eq!(status.device_error, None, "no sound device asked for");
    assert!(status.sessions.is_empty());
    assert!(!dir.path().join("unused/mediad.sock").exists());

    let mut buf = [0u8; 512];
    let mut got = Vec::new();
    let start = Instant::now();
    while got
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 3
    {
        let n = notify.recv(&mut buf).expect("a notification from mediad");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        assert!(start.elapsed() < Duration::from_secs(20));
    }
    assert!(got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    let status = activator.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

/// On the image mediad runs with `--alsa-device default` whether or not a sound card is
/// there: without one it keeps running and says why in its status (calls keep their RTP).
#[test]
fn mediad_without_its_sound_card_keeps_running_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("run");
    let mediad = Command::new(bin_dir().join("mediad"))
        .arg("--runtime")
        .arg(&runtime)
        .args(["--bind", "127.0.0.1"])
        .args(["--alsa-device", "plughw:CARD=NoSuchDeskphoneCard"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut mediad = Guard(mediad);
    // (Its first answers may come before the audio thread has tried the device.)
    let status = wait_for(
        "mediad to report its missing sound card",
        Duration::from_secs(30),
        || mediad_status(&runtime).filter(|s| s.device_error.is_some()),
    );
    let error = status.device_error.unwrap();
    assert!(error.contains("NoSuchDeskphoneCard"), "{error}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        mediad.0.try_wait().unwrap().is_none(),
        "mediad must keep running without its sound card"
    );
    assert!(mediad_status(&runtime).is_some());
    let status = mediad.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}
