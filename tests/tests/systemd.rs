//! provd's systemd integration, off the image: readiness and watchdog over NOTIFY_SOCKET, and
//! socket activation through systemd's own systemd-socket-activate.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskphone_e2e::{bin_dir, serve_tree, wait_for, Guard, TftpServer};

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
