//! Real TFTP servers for the tests: tftpd-hpa and dnsmasq, started on loopback
//! with a temporary tree, stopped in Drop.

// Each test binary (and the benchmark) uses a different part of this module.
#![allow(dead_code)]

use std::fs;
use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deskphone_tftp::{ClientConfig, Peer, TftpError, Transfer};
use tempfile::TempDir;

pub const TFTPD: &str = "/usr/sbin/in.tftpd";
pub const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// Generous: the machine may be busy with other builds.
const STARTUP: Duration = Duration::from_secs(20);

/// Says why a test did not run, visibly even when libtest captures output.
pub fn skip(reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

/// A served directory, readable by the unprivileged user the servers drop to.
pub struct Tree {
    pub dir: TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Tree { dir }
    }

    pub fn put(&self, name: &str, contents: &[u8]) {
        let path = self.dir.path().join(name);
        let mut dir = path.parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        while dir != self.dir.path() {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
            dir = dir.parent().unwrap();
        }
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Deterministic pseudo-random bytes (xorshift), so corruption cannot hide in
/// a repeating pattern.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A UDP port on `ip` that is free right now, below the kernel's ephemeral range
/// (32768..) so that client sockets of parallel tests never take it.
pub fn free_port(ip: IpAddr) -> u16 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut x = u64::from(nanos)
        ^ (u64::from(std::process::id()) << 20)
        ^ (u64::from(COUNTER.fetch_add(1, Ordering::Relaxed)) << 40);
    for _ in 0..1000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let port = 20000 + ((x >> 33) % 12000) as u16;
        if UdpSocket::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no free UDP port found");
}

/// A server process; its whole process group (tftpd-hpa forks one child per
/// transfer) is stopped on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Files of the server itself (pid file), removed after it stops.
    _scratch: Option<TempDir>,
}

impl Drop for Server {
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

impl Server {
    /// Starts `command`, then waits until a read request gets an answer.
    /// `None` if the process exits first (e.g. the port was taken meanwhile).
    fn start(mut command: Command, addr: SocketAddr) -> Option<Server> {
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let mut server = Server {
            child,
            addr,
            _scratch: None,
        };
        let probe = UdpSocket::bind((addr.ip(), 0)).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let deadline = Instant::now() + STARTUP;
        let mut buf = [0u8; 1024];
        while Instant::now() < deadline {
            if server.child.try_wait().unwrap().is_some() {
                return None;
            }
            // Any ERROR reply (file not found) proves the server is listening.
            let _ = probe.send_to(b"\x00\x01deskphone-probe-missing\0octet\0", addr);
            match probe.recv_from(&mut buf) {
                Ok((n, _)) if n >= 4 && buf[..2] == [0, 5] => return Some(server),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                // ICMP port unreachable surfaces here on Linux: not up yet.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("probing {addr}: {e}"),
            }
        }
        panic!("TFTP server at {addr} did not answer within {STARTUP:?}");
    }

    /// tftpd-hpa chrooted (`--secure`) into `root` on 127.0.0.1.
    pub fn tftpd_hpa(root: &Path, extra: &[&str]) -> Server {
        Self::tftpd_hpa_on(IpAddr::V4(Ipv4Addr::LOCALHOST), root, extra)
    }

    pub fn tftpd_hpa_on(ip: IpAddr, root: &Path, extra: &[&str]) -> Server {
        assert!(
            Path::new(TFTPD).exists(),
            "{TFTPD} is missing: apt-get install tftpd-hpa"
        );
        for _ in 0..10 {
            let addr = SocketAddr::new(ip, free_port(ip));
            let mut cmd = Command::new(TFTPD);
            cmd.arg("--foreground")
                .arg("--address")
                .arg(addr.to_string())
                .args(extra)
                .arg("--secure")
                .arg(root);
            if let Some(server) = Server::start(cmd, addr) {
                return server;
            }
        }
        panic!("tftpd-hpa did not start (it needs root for --secure)");
    }

    /// dnsmasq's TFTP server on 127.0.0.1:69, the only port it can use.
    /// `Err` says why it cannot run here.
    pub fn dnsmasq(root: &Path) -> Result<Server, String> {
        if !Path::new(DNSMASQ).exists() {
            return Err(format!(
                "{DNSMASQ} is missing (apt-get install dnsmasq-base)"
            ));
        }
        let addr: SocketAddr = "127.0.0.1:69".parse().unwrap();
        if let Err(e) = UdpSocket::bind(addr) {
            return Err(format!(
                "dnsmasq can only serve TFTP on port 69 and {addr} is not available: {e}"
            ));
        }
        let scratch = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(DNSMASQ);
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--enable-tftp",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--user=nobody",
            "--group=nogroup",
        ])
        .arg(format!("--tftp-root={}", root.display()))
        .arg(format!(
            "--pid-file={}",
            scratch.path().join("dnsmasq.pid").display()
        ));
        let mut server = Server::start(cmd, addr)
            .ok_or_else(|| "dnsmasq exited at startup (port 69 taken?)".to_string())?;
        server._scratch = Some(scratch);
        Ok(server)
    }
}

/// What the blocking driver saw of a finished transfer.
pub struct Driven {
    pub result: Result<Vec<u8>, TftpError>,
    pub blksize: usize,
    pub tsize: Option<u64>,
}

/// Drives the sans-IO core with a blocking std socket, to observe the
/// negotiated options, which `fetch` does not expose.
pub fn drive(server: SocketAddr, filename: &str, config: &ClientConfig) -> Driven {
    let socket = UdpSocket::bind((server.ip(), 0)).unwrap();
    let mut transfer = Transfer::new(filename, config, Instant::now());
    let mut buf = vec![0u8; 65536];
    let result = loop {
        while let Some(t) = transfer.poll_transmit() {
            let to = match t.to {
                Peer::Server => server,
                Peer::Addr(a) => a,
            };
            socket.send_to(&t.payload, to).unwrap();
        }
        if let Some(outcome) = transfer.poll_outcome() {
            break outcome;
        }
        let wait = transfer
            .poll_timeout()
            .unwrap()
            .saturating_duration_since(Instant::now());
        socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => transfer.handle_datagram(Instant::now(), from, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                transfer.handle_timeout(Instant::now())
            }
            Err(e) => panic!("recv: {e}"),
        }
    };
    Driven {
        result,
        blksize: transfer.blksize(),
        tsize: transfer.tsize(),
    }
}
