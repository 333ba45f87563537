//! Shared helpers for the end-to-end tests: the real peers (tftpd-hpa, dnsmasq; Kamailio and
//! SIPp in [`sip`]; baresip as a second phone in [`baresip`]), the phone as `deskphone-sim`
//! runs it, and `phonectl`.
//!
//! The phone's binaries are built once per test run with the same cargo and profile as the
//! tests themselves.
//!
//! [`qemu`] boots the real image (`cargo xtask image`) in QEMU instead; [`sound`] gives its
//! sound card a speaker and a microphone on the host.

pub mod baresip;
pub mod ntp;
pub mod qemu;
pub mod sip;
pub mod sound;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// Directory of the workspace's built binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The test executable lives in target/<profile>/deps.
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let release = dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "deskphone-provd",
            "-p",
            "phonectl",
            "-p",
            "deskphone-sim",
            "-p",
            "deskphone-sipd",
            "-p",
            "deskphone-mediad",
            "-p",
            "deskphone-ui",
            "-p",
            "deskphone-netd",
            "-p",
            "deskphone-console",
        ]);
        if release {
            cmd.arg("--release");
        }
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
        let status = cmd
            .status()
            .expect("running cargo build for the phone's binaries");
        assert!(status.success(), "building the phone's binaries failed");
        dir
    })
}

/// The workspace root.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

/// A free UDP port on loopback (bound and released: good enough for tests that start at once).
pub fn free_udp_port(ip: &str) -> u16 {
    UdpSocket::bind((ip, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Moves the calling thread, and the threads and processes it starts from then on, into a
/// network namespace of its own: loopback up, with the IPv4 addresses `addrs` on it too.
/// Other tests' threads stay where they were. Needs root.
///
/// For peers that a QEMU guest and the host must both reach at one address: the guest
/// cannot reach the host's 127.0.0.1 (it is 10.0.2.2 there), while what it sends to any other
/// address leaves from the host's own sockets. Private addresses of a namespace serve that
/// without touching the host's network.
pub fn private_network(addrs: &[&str]) {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("a network namespace of the test's own (unshare needs root)");
    run_ip(&["link", "set", "lo", "up"]);
    for a in addrs {
        run_ip(&["address", "add", &format!("{a}/32"), "dev", "lo"]);
    }
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_child(child: &mut Child) {
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// tftpd-hpa serving a directory on a loopback address and a high port.
pub struct TftpServer {
    pub addr: SocketAddr,
    pub root: PathBuf,
    child: Option<Child>,
}

impl TftpServer {
    /// Starts in.tftpd on `ip` (e.g. 127.0.0.1) and a free port.
    pub fn start(ip: &str, root: &Path) -> TftpServer {
        let port = free_udp_port(ip);
        Self::start_on(format!("{ip}:{port}").parse().expect("address"), root)
    }

    pub fn start_on(addr: SocketAddr, root: &Path) -> TftpServer {
        let mut s = TftpServer {
            addr,
            root: root.to_path_buf(),
            child: None,
        };
        s.restart();
        s
    }

    /// Starts the daemon again (after [`stop`](Self::stop)) on the same address.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("/usr/sbin/in.tftpd")
            .args(["--foreground", "--address"])
            .arg(self.addr.to_string())
            .args(["--secure", "--user", "root", "--verbosity", "0"])
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting /usr/sbin/in.tftpd (apt-get install tftpd-hpa)");
        self.child = Some(child);
        // Ready once its socket is bound: binding the same address then fails.
        wait_for("in.tftpd to listen", Duration::from_secs(10), || {
            UdpSocket::bind(self.addr).is_err().then_some(())
        });
    }

    /// The server goes away (its address stops answering).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c);
        }
    }
}

impl Drop for TftpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A phone run by `deskphone-sim`, with its own state and runtime directories.
pub struct Phone {
    pub mac: String,
    pub state: PathBuf,
    pub runtime: PathBuf,
    pub log: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Phone {
    /// Options after `--mac/--state/--runtime`, e.g. `["--tftp", "127.0.0.1:1234"]`.
    pub fn new(mac: &str, args: &[&str]) -> Phone {
        let dir = tempfile::tempdir().expect("tempdir");
        Phone {
            mac: mac.to_string(),
            state: dir.path().join("state"),
            runtime: dir.path().join("run"),
            log: dir.path().join("sim.log"),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            _dir: dir,
        }
    }

    /// Starts the simulator and waits until provd has finished its first provisioning.
    pub fn start(&mut self) -> &mut Self {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(bin_dir().join("deskphone-sim"))
            .arg("--mac")
            .arg(&self.mac)
            .arg("--state")
            .arg(&self.state)
            .arg("--runtime")
            .arg(&self.runtime)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting deskphone-sim");
        self.child = Some(child);
        self.wait_provisioned();
        self
    }

    /// `phonectl reboot`, then waits for the restarted services to finish provisioning.
    pub fn reboot(&self) {
        let before = self.boots();
        self.ok(&["reboot"]);
        wait_for("the reboot", Duration::from_secs(30), || {
            (self.boots() > before).then_some(())
        });
        self.wait_provisioned();
    }

    /// Waits until the (possibly restarted) provd reports a finished provisioning.
    pub fn wait_provisioned(&self) -> Value {
        wait_for(
            "the phone to finish provisioning",
            Duration::from_secs(60),
            || {
                let s = self.try_status()?;
                (s["provisioning"]["state"] != "starting").then_some(s)
            },
        )
    }

    /// SIGTERM to the simulator; returns how it ended (`None` if it was not running).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        stop_child(&mut c);
        c.wait().ok()
    }

    /// Runs `phonectl --runtime RUNTIME ARGS...`.
    pub fn phonectl(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("phonectl"))
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args)
            .output()
            .expect("running phonectl")
    }

    fn try_status(&self) -> Option<Value> {
        let out = self.phonectl(&["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// `phonectl ARGS...`, which must succeed.
    pub fn ok(&self, args: &[&str]) {
        let out = self.phonectl(args);
        assert!(
            out.status.success(),
            "phonectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `phonectl status --json`, which must succeed.
    pub fn status(&self) -> Value {
        let out = self.phonectl(&["status", "--json"]);
        assert!(
            out.status.success(),
            "phonectl status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status is JSON")
    }

    /// `(value, source)` of a parameter in the running phone.
    pub fn param(&self, name: &str) -> (Value, String) {
        let s = self.status();
        let p = &s["configuration"][name];
        (
            p["value"].clone(),
            p["source"].as_str().unwrap_or_default().to_string(),
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// sipd's process id.
    pub fn sipd_pid(&self) -> u32 {
        self.service_pid("sipd")
    }

    /// The process id of one of the phone's services (the simulator runs each with
    /// `--runtime RUNTIME`).
    pub fn service_pid(&self, service: &str) -> u32 {
        let runtime = self.runtime.to_string_lossy().into_owned();
        let suffix = format!("/{service}");
        wait_for(
            &format!("{service} to run"),
            Duration::from_secs(10),
            || {
                processes_mentioning(&runtime).into_iter().find(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| {
                            let argv0 = c.split(|b| *b == 0).next().unwrap_or_default().to_vec();
                            String::from_utf8_lossy(&argv0).ends_with(&suffix)
                        })
                        .unwrap_or(false)
                })
            },
        )
    }

    /// Number of boots the simulator has logged (a reboot restarts the services).
    pub fn boots(&self) -> usize {
        1 + self.log_text().matches("phone rebooting").count()
    }
}

/// A phone under `deskphone-sim` provisioned from `files` (name, text) served by a real
/// tftpd-hpa, its SIP socket on 127.0.0.1 and a free port: what the SIP tests start.
pub struct SimPhone {
    pub phone: Phone,
    pub sip_port: u16,
    pub tftp: TftpServer,
    _root: tempfile::TempDir,
}

impl SimPhone {
    pub fn start(mac: &str, files: &[(&str, &str)]) -> SimPhone {
        SimPhone::start_with(mac, files, &[])
    }

    /// [`SimPhone::start`] with more `deskphone-sim` options.
    pub fn start_with(mac: &str, files: &[(&str, &str)], options: &[&str]) -> SimPhone {
        let (root, tftp) = serve_tree(files);
        let sip_port = free_udp_port("127.0.0.1");
        let server = tftp.addr.to_string();
        let port = sip_port.to_string();
        let mut args = vec![
            "--tftp",
            &server,
            "--sip-port",
            &port,
            "--sip-bind",
            "127.0.0.1",
        ];
        args.extend_from_slice(options);
        let mut phone = Phone::new(mac, &args);
        phone.start();
        SimPhone {
            phone,
            sip_port,
            tftp,
            _root: root,
        }
    }

    /// `lines` of `phonectl status --json` (empty if absent).
    pub fn lines(&self) -> Vec<Value> {
        self.phone.status()["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `calls` of `phonectl status --json` (empty if absent).
    pub fn calls(&self) -> Vec<Value> {
        self.phone.status()["calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl std::ops::Deref for SimPhone {
    type Target = Phone;
    fn deref(&self) -> &Phone {
        &self.phone
    }
}

impl std::ops::DerefMut for SimPhone {
    fn deref_mut(&mut self) -> &mut Phone {
        &mut self.phone
    }
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    // In clock ticks of USER_HZ, 100 on every Linux architecture the tests run on.
    Duration::from_millis(ticks * 10)
}

/// Resident memory of a process, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Processes whose command line mentions `needle` (to find leftovers of a stopped phone).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) {
                found.push(pid);
            }
        }
    }
    found
}

/// Runs `phonectl` without a phone (lint).
pub fn phonectl(args: &[&str]) -> Output {
    Command::new(bin_dir().join("phonectl"))
        .args(args)
        .output()
        .expect("running phonectl")
}

/// A temporary TFTP root holding `files`, served by tftpd-hpa on 127.0.0.1.
pub fn serve_tree(files: &[(&str, &str)]) -> (tempfile::TempDir, TftpServer) {
    let root = tempfile::tempdir().expect("tempdir");
    write_tree(root.path(), files);
    let server = TftpServer::start("127.0.0.1", root.path());
    (root, server)
}

/// Writes `files` (path, contents) below `root`, creating directories.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, contents).expect("write");
    }
}

/// A peer process that is stopped (SIGTERM, then SIGKILL) when the test ends, even when it
/// fails.
pub struct Guard(pub Child);

impl Guard {
    /// Stops the process and returns how it ended.
    pub fn stop(mut self) -> std::process::ExitStatus {
        stop_child(&mut self.0);
        self.0.wait().expect("wait")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            stop_child(&mut self.0);
        }
    }
}

/// A network namespace made for one test, deleted when dropped (also when the test fails).
pub struct Netns(pub String);

impl Netns {
    /// A fresh namespace with loopback up; `tag` and the process id make its name unique.
    pub fn new(tag: &str) -> Netns {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "dp-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        run_ip(&["netns", "add", &name]);
        let ns = Netns(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`; panics with ip's message when it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run_ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (apt-get install iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
