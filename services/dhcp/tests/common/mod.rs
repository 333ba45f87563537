//! A real dnsmasq DHCP server in one network namespace, the client shell in a
//! second one, joined by a veth pair. Everything is removed in Drop, also
//! when a test fails.

use std::fs;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deskphone_dhcp::shell::{self, Command as ClientCommand};
use deskphone_dhcp::{DhcpClient, Event, Status};
use tempfile::TempDir;
use tokio::sync::{mpsc, oneshot};

pub const DNSMASQ: &str = "/usr/sbin/dnsmasq";
pub const SERVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// Generous: the machine may be busy with other builds.
const STARTUP: Duration = Duration::from_secs(20);

/// Says why a test did not run, visibly even when libtest captures output.
pub fn skip(reason: &str) {
    let _ = writeln!(io::stderr(), "SKIPPED: {reason}");
}

/// Why the real-peer tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new(DNSMASQ).exists() {
        return Some(format!(
            "{DNSMASQ} is missing (apt-get install dnsmasq-base)"
        ));
    }
    if !nix::unistd::Uid::effective().is_root() {
        return Some("network namespaces need root".into());
    }
    None
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces: the server's, with `SERVER_ADDRESS/24` on its veth end,
/// and the client's, whose veth end is up with no address (as at boot).
pub struct Network {
    pub server_ns: String,
    pub client_ns: String,
    pub server_if: String,
    pub client_if: String,
}

impl Network {
    pub fn new() -> Network {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // Interface names are limited to 15 bytes.
        let net = Network {
            server_ns: format!("dhcp-test-s-{pid}-{n}"),
            client_ns: format!("dhcp-test-c-{pid}-{n}"),
            server_if: format!("dhs{pid}x{n}"),
            client_if: format!("dhc{pid}x{n}"),
        };
        // Drop cleans up whatever part of the set-up succeeded.
        ip(&["netns", "add", &net.server_ns]);
        ip(&["netns", "add", &net.client_ns]);
        ip(&[
            "link",
            "add",
            &net.server_if,
            "type",
            "veth",
            "peer",
            "name",
            &net.client_if,
        ]);
        ip(&["link", "set", &net.server_if, "netns", &net.server_ns]);
        ip(&["link", "set", &net.client_if, "netns", &net.client_ns]);
        let server_cidr = format!("{SERVER_ADDRESS}/24");
        ip(&[
            "-n",
            &net.server_ns,
            "addr",
            "add",
            &server_cidr,
            "dev",
            &net.server_if,
        ]);
        ip(&["-n", &net.server_ns, "link", "set", &net.server_if, "up"]);
        ip(&["-n", &net.server_ns, "link", "set", "lo", "up"]);
        ip(&["-n", &net.client_ns, "link", "set", &net.client_if, "up"]);
        ip(&["-n", &net.client_ns, "link", "set", "lo", "up"]);
        net
    }

    /// What netd does with a lease: put the address on the interface.
    pub fn apply(&self, address: Ipv4Addr, prefix_len: u8) {
        let cidr = format!("{address}/{prefix_len}");
        ip(&[
            "-n",
            &self.client_ns,
            "addr",
            "add",
            &cidr,
            "dev",
            &self.client_if,
        ]);
    }

    pub fn remove(&self, address: Ipv4Addr, prefix_len: u8) {
        let cidr = format!("{address}/{prefix_len}");
        ip(&[
            "-n",
            &self.client_ns,
            "addr",
            "del",
            &cidr,
            "dev",
            &self.client_if,
        ]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and its peer;
        // the link is deleted first in case the set-up failed before moving it.
        let _ = Command::new("ip")
            .args(["link", "del", &self.server_if])
            .stderr(Stdio::null())
            .status();
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// dnsmasq as the DHCP server only (`--port=0`), in the server namespace,
/// with its own lease, pid and log files.
pub struct Dnsmasq {
    child: Child,
    dir: TempDir,
}

impl Dnsmasq {
    /// Starts dnsmasq with `extra` options on `net`'s server side and waits
    /// until it serves DHCP.
    pub fn start(net: &Network, extra: &[&str]) -> Dnsmasq {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new("ip")
            .args(["netns", "exec", &net.server_ns, DNSMASQ])
            .arg("--keep-in-foreground")
            .arg("--conf-file=/dev/null")
            .arg("--port=0")
            .arg("--user=root")
            .arg("--group=root")
            .arg(format!("--interface={}", net.server_if))
            .arg("--bind-interfaces")
            .arg(format!(
                "--dhcp-leasefile={}",
                dir.path().join("leases").display()
            ))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-facility={}",
                dir.path().join("log").display()
            ))
            .arg("--log-dhcp")
            .args(extra)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dnsmasq: {e}"));
        let mut server = Dnsmasq { child, dir };
        let deadline = Instant::now() + STARTUP;
        while !server.log().contains("DHCP, IP range") {
            if let Some(status) = server.child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut pipe) = server.child.stderr.take() {
                    let _ = io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("dnsmasq exited with {status}: {stderr}{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq did not start: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// The lease file's lines: expiry, MAC, address, host name, client id.
    pub fn leases(&self) -> Vec<Vec<String>> {
        fs::read_to_string(self.lease_file())
            .unwrap_or_default()
            .lines()
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    pub fn lease_file(&self) -> PathBuf {
        self.dir.path().join("leases")
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        // The group id is the child's pid (process_group(0) at spawn).
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client shell running on a thread inside the client namespace.
pub struct Client {
    pub commands: mpsc::Sender<ClientCommand>,
    events: mpsc::Receiver<Event>,
    thread: Option<JoinHandle<io::Result<DhcpClient>>>,
}

impl Client {
    pub fn spawn(net: &Network, client: DhcpClient) -> Client {
        let (commands, command_rx) = mpsc::channel(8);
        let (event_tx, events) = mpsc::channel(8);
        let ns_path = format!("/var/run/netns/{}", net.client_ns);
        let interface = net.client_if.clone();
        let thread = std::thread::spawn(move || {
            let ns = fs::File::open(&ns_path)?;
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let socket = shell::bind_socket(&interface)?;
                shell::run(socket, client, command_rx, event_tx).await
            })
        });
        Client {
            commands,
            events,
            thread: Some(thread),
        }
    }

    pub async fn send(&self, command: ClientCommand) {
        self.commands
            .send(command)
            .await
            .expect("the client shell stopped");
    }

    pub async fn next_event(&mut self, within: Duration) -> Event {
        match tokio::time::timeout(within, self.events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the client shell stopped: {:?}", self.join()),
            Err(_) => panic!("no event within {within:?}: {:#?}", self.status().await),
        }
    }

    /// No event arrives for `quiet`.
    pub async fn expect_no_event(&mut self, quiet: Duration) {
        if let Ok(event) = tokio::time::timeout(quiet, self.events.recv()).await {
            panic!("unexpected event {event:?}");
        }
    }

    pub async fn status(&self) -> Status {
        let (tx, rx) = oneshot::channel();
        self.send(ClientCommand::Status(tx)).await;
        rx.await.expect("no status")
    }

    fn join(&mut self) -> Option<io::Result<DhcpClient>> {
        // A shell waiting to deliver an event stops when the channel closes.
        self.events.close();
        let _ = self.commands.try_send(ClientCommand::Stop);
        self.thread
            .take()
            .map(|t| t.join().expect("client thread panicked"))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(Err(e)) = self.join() {
            if !std::thread::panicking() {
                panic!("client shell failed: {e}");
            }
        }
    }
}
