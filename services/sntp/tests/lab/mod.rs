//! A small LAN of network namespaces with real chronyd servers, and the phone's shell running
//! inside it on a test clock.
//!
//! ```text
//!   phone namespace: br0 10.123.0.1/24 (bcast 10.123.0.255)
//!        ├── s0 ── eth0 10.123.0.2  server namespace 0 (chronyd)
//!        └── s1 ── eth0 10.123.0.3  server namespace 1 (chronyd)
//! ```
//!
//! Every namespace is named after the process and a counter, so parallel tests never meet, and
//! is deleted on drop (also when a test panics). chronyd runs with `-x`: it never touches the
//! host's clock.

#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use deskphone_sntp::packet::{mode, Packet};
use deskphone_sntp::shell::{self, ShellOptions, VirtualClock};
use deskphone_sntp::{Event, NtpTimestamp, Offset, Sample, Settings, Status, Timing};
use tokio::sync::{mpsc, watch};

pub const PHONE: Ipv4Addr = Ipv4Addr::new(10, 123, 0, 1);
pub const SUBNET_BROADCAST: Ipv4Addr = Ipv4Addr::new(10, 123, 0, 255);
pub const PHONE_INTERFACE: &str = "br0";

/// The phone's clock starts this far from true time: 1000 s behind.
pub const CLOCK_ERROR_SECS: i64 = -1000;

/// How close a measured offset must come to the true one. Everything runs on one host over
/// veth links, so the error is the one-way delay plus scheduling: well under a millisecond
/// when idle, more on a loaded 2-core CI machine.
pub const TOLERANCE: Duration = Duration::from_millis(20);

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!(
            "dp-sntp-{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> ...`
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// Loads an nftables ruleset into the namespace.
    pub fn nft(&self, ruleset: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.name));
        std::fs::write(&path, ruleset).unwrap();
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.name,
                "nft",
                "-f",
                path.to_str().unwrap(),
            ],
        );
        let _ = std::fs::remove_file(path);
    }

    /// Runs `f` on a thread that has entered this namespace (sockets it opens live here).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = PathBuf::from("/var/run/netns").join(&self.name);
        thread::spawn(move || {
            let ns = File::open(&path).expect("namespace file");
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub struct Server {
    pub ns: Netns,
    pub addr: Ipv4Addr,
}

impl Server {
    /// chronyd never answers a request sent to a broadcast address: it replies from the
    /// address the request was sent to, which the kernel refuses for a broadcast address
    /// (ENETUNREACH). This stateless rewrite of incoming broadcast requests to the server's own
    /// address lets the real chronyd answer them, as the servers that Cisco's anycast and
    /// directedbroadcast modes expect do.
    pub fn answer_broadcast_requests(&self) {
        self.ns.nft(&format!(
            "table ip sntp_test_bcast {{
               chain prerouting {{
                 type filter hook prerouting priority raw; policy accept;
                 ip daddr {SUBNET_BROADCAST} udp dport 123 notrack ip daddr set {}
               }}
             }}",
            self.addr
        ));
    }

    /// From now on this server's replies leave with `other` as their source address, as if
    /// another server had sent them.
    pub fn reply_as(&self, other: Ipv4Addr) {
        self.ns.nft(&format!(
            "table ip sntp_test_spoof {{
               chain output {{
                 type filter hook output priority raw; policy accept;
                 ip saddr {} udp sport 123 notrack ip saddr set {other}
               }}
             }}",
            self.addr
        ));
    }
}

/// The phone's namespace and its servers on one bridge.
pub struct Lab {
    pub phone: Netns,
    pub servers: Vec<Server>,
}

impl Lab {
    pub fn new(servers: usize) -> Lab {
        let phone = Netns::new("phone");
        phone.ip(&[
            "link",
            "add",
            PHONE_INTERFACE,
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ]);
        phone.ip(&[
            "addr",
            "add",
            "10.123.0.1/24",
            "brd",
            "+",
            "dev",
            PHONE_INTERFACE,
        ]);
        phone.ip(&["link", "set", PHONE_INTERFACE, "up"]);
        let mut lab = Lab {
            phone,
            servers: Vec::new(),
        };
        for i in 0..servers {
            let ns = Netns::new(&format!("srv{i}"));
            let port = format!("s{i}");
            let addr = Ipv4Addr::new(10, 123, 0, 2 + i as u8);
            run(
                "ip",
                &[
                    "link",
                    "add",
                    &port,
                    "netns",
                    &lab.phone.name,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    &ns.name,
                ],
            );
            lab.phone
                .ip(&["link", "set", &port, "master", PHONE_INTERFACE, "up"]);
            ns.ip(&[
                "addr",
                "add",
                &format!("{addr}/24"),
                "brd",
                "+",
                "dev",
                "eth0",
            ]);
            ns.ip(&["link", "set", "eth0", "up"]);
            // chronyd's broadcasts to 224.0.1.1 leave by this route.
            ns.ip(&["route", "add", "224.0.0.0/4", "dev", "eth0"]);
            lab.servers.push(Server { ns, addr });
        }
        lab
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        self.servers[i].addr
    }

    /// Waits until the server answers a unicast request with usable time.
    pub fn wait_until_serving(&self, i: usize) {
        let server = SocketAddrV4::new(self.addr(i), 123);
        let ready = self.phone.spawn(move || {
            let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let t1 = NtpTimestamp::from_system_time(SystemTime::now());
                let _ = socket.send_to(&Packet::request(t1).to_bytes(), server);
                let mut buf = [0u8; 128];
                if let Ok((n, _)) = socket.recv_from(&mut buf) {
                    if let Ok(p) = Packet::parse(&buf[..n]) {
                        if p.mode == mode::SERVER && (1..16).contains(&p.stratum) && p.leap != 3 {
                            return true;
                        }
                    }
                }
                thread::sleep(Duration::from_millis(100));
            }
            false
        });
        assert!(ready.join().unwrap(), "chronyd at {server} never answered");
    }
}

/// A real chronyd in a server namespace, killed on drop.
pub struct Chrony {
    child: Child,
    dir: tempfile::TempDir,
}

impl Chrony {
    /// Serves its own clock at stratum 8 to anyone, and sends NTP broadcasts every second to
    /// each of `broadcasts`.
    pub fn start(server: &Server, broadcasts: &[Ipv4Addr]) -> Chrony {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let mut conf = format!(
            "local stratum 8\nallow\ncmdport 0\nbindcmdaddress /\n\
             pidfile {d}/chronyd.pid\ndriftfile {d}/drift\n"
        );
        for b in broadcasts {
            conf.push_str(&format!("broadcast 1 {b}\n"));
        }
        let conf_path = dir.path().join("chrony.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = File::create(dir.path().join("chronyd.log")).unwrap();
        // -x: never touch the clock; -d: stay in the foreground; -u root: the temporary
        // directory stays private, no need to hand it to _chrony.
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &server.ns.name,
                "chronyd",
                "-x",
                "-d",
                "-u",
                "root",
                "-f",
            ])
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("chronyd (Debian package chrony) must be installed");
        let mut chrony = Chrony { child, dir };
        let pidfile = chrony.dir.path().join("chronyd.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pidfile.exists() {
            if let Ok(Some(status)) = chrony.child.try_wait() {
                panic!("chronyd exited ({status}):\n{}", chrony.log());
            }
            assert!(
                Instant::now() < deadline,
                "chronyd did not start:\n{}",
                chrony.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        chrony
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_default()
    }
}

impl Drop for Chrony {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The timers of the lab: one-second polls instead of 64 s, so a test takes seconds.
pub fn quick_timing() -> Timing {
    Timing {
        poll_interval: Duration::from_secs(1),
        first_retry: Duration::from_millis(250),
        max_retry: Duration::from_secs(2),
        max_poll_interval: Duration::from_secs(4),
        learned_server_attempts: 6,
        listen_silence: Duration::from_secs(30),
    }
}

/// The shell running in the phone's namespace on a [`VirtualClock`].
pub struct Phone {
    pub clock: Arc<VirtualClock>,
    control: Option<watch::Sender<Settings>>,
    events: mpsc::Receiver<Event>,
    status: watch::Receiver<Status>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// Every event received so far.
    pub seen: Vec<Event>,
}

impl Phone {
    pub fn start(lab: &Lab, settings: Settings) -> Phone {
        let clock = Arc::new(VirtualClock::new(Offset::from_secs(CLOCK_ERROR_SECS)));
        let (control, control_rx) = watch::channel(settings);
        let (events_tx, events) = mpsc::channel(256);
        let (status_tx, status) = watch::channel(
            deskphone_sntp::SntpClient::new(settings, None, std::time::Instant::now()).status(),
        );
        let shell_clock = Arc::clone(&clock);
        let thread = lab.phone.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let options = ShellOptions {
                interface: Some(PHONE_INTERFACE.to_string()),
                timing: quick_timing(),
                ..ShellOptions::default()
            };
            runtime.block_on(shell::run(
                options,
                shell_clock,
                control_rx,
                events_tx,
                status_tx,
            ))
        });
        Phone {
            clock,
            control: Some(control),
            events,
            status,
            thread: Some(thread),
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for an event that `pred` accepts; every event is kept in `seen`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.seen.push(event);
                if pred(&event) {
                    return Some(event);
                }
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                let result = self.thread.take().unwrap().join();
                panic!("the shell stopped: {result:?}");
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_sample(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Sample) -> bool,
    ) -> Sample {
        match self.wait_for(timeout, |e| matches!(e, Event::Sample(s) if pred(s))) {
            Some(Event::Sample(s)) => s,
            _ => panic!(
                "no such sample within {timeout:?}; events: {:#?}",
                self.seen
            ),
        }
    }

    /// Collects events for `d`.
    pub fn watch(&mut self, d: Duration) {
        let _ = self.wait_for(d, |_| false);
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Sample(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// The configuration changes, as provd would publish it.
    pub fn set_settings(&self, settings: Settings) {
        self.control.as_ref().unwrap().send_replace(settings);
    }

    pub fn status(&self) -> Status {
        *self.status.borrow()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        // Dropping the settings sender stops the shell.
        self.control.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The offset measured must be the clock's error, reversed, within [`TOLERANCE`].
pub fn assert_corrects_the_clock_error(sample: &Sample) {
    let expected = -CLOCK_ERROR_SECS as f64;
    let off = sample.offset.as_secs_f64() - expected;
    eprintln!(
        "{} via {:?} ({:?}): offset {}, {off:+.6} s from the truth, delay {:?}",
        sample.server, sample.arrived_as, sample.mode, sample.offset, sample.delay
    );
    assert!(
        off.abs() < TOLERANCE.as_secs_f64(),
        "offset {} is {off:+.6} s from {expected} s",
        sample.offset
    );
}
