//! The phone as a QEMU machine booting the test image (`cargo xtask image`).
//!
//! - [`image`] builds or reuses the image once per test run: once per test binary through a
//!   `OnceLock`, and across test binaries through xtask's lock on `target/image/.lock` and its
//!   step cache (the second binary finds everything up to date).
//! - [`QemuPhone`] boots a fresh copy-on-write copy of the disk with a test-chosen TFTP tree
//!   (QEMU's user network: DHCP with option 66 = 10.0.2.2, TFTP from the tree), logs the
//!   serial console to `target/image/tests/NAME/serial.log`, waits for console patterns, runs
//!   commands in the root shell the test image has on its serial console, talks QMP (keys,
//!   screenshots), cuts the power and boots the same disk again.
//! - Calls with media: [`QemuPhone::behind_nat`] makes QEMU's user network a NAT router with
//!   a public address and forwarded SIP and media ports, and [`QemuPhone::sound`] gives the
//!   sound card a speaker and a microphone on the host ([`crate::sound`]).
//! - Both machines: x86_64 ([`image`], [`QemuPhone::new`]) and the raspi3b with the aarch64 SD
//!   card ([`image_of`], [`QemuPhone::with_arch`]). On the raspi3b systemd stops printing unit
//!   states on the console once the serial getty runs there, which is before provd is ready:
//!   ask the phone (`systemctl`, `phonectl`) rather than wait for a console line.
//!
//! Commands run as `sh(...)`: the harness types a line that runs the command, then prints
//! its output base64-encoded between two markers made from a sequence number. The markers
//! never appear in the typed line itself, so the echo of the input cannot be mistaken for
//! output, and a console line from the kernel or systemd cannot corrupt a result unnoticed
//! (the base64 would not decode).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use xtask::build::{Image, Options, Signer, Variant};
use xtask::bundle::{Bundle, BundleOptions};
use xtask::qemu::{DirectBoot, Machine};

pub use xtask::qemu::{DEFAULT_MAC, HOST_ADDR, RASPI_MAC};
pub use xtask::Arch;

/// What the kernel prints last when the phone restarts itself (an emergency-level message:
/// it reaches the console even after `dmesg -n 1`).
pub const REBOOT_PATTERN: &str = "reboot: Restarting system";

/// What the guest kernel prints when one of its CPUs sleeps forever because its timer
/// interrupt never came. Seen (rarely) under QEMU 7.2's TCG on a loaded two-core host, early
/// in a boot, never on hardware: the emulator's fault, not the phone's, so
/// [`QemuPhone::wait_ready`] powers such a boot off and on again rather than fail the test.
pub const EMULATOR_STALL: &str = "rcu_preempt kthread timer wakeup didn't happen";

/// agetty's line when the test image logs root in on the serial console.
const AUTOLOGIN: &str = "login: root (automatic login)";

/// The x86_64 test image of this checkout, built (or found up to date) once per test run.
pub fn image() -> &'static Image {
    image_of(Arch::X86_64)
}

/// The test image of `arch` (aarch64: the raspi3b SD card), built (or found up to date) once
/// per test run.
pub fn image_of(arch: Arch) -> &'static Image {
    static X86_64: OnceLock<Image> = OnceLock::new();
    static AARCH64: OnceLock<Image> = OnceLock::new();
    let cell = match arch {
        Arch::X86_64 => &X86_64,
        Arch::Aarch64 => &AARCH64,
    };
    cell.get_or_init(|| {
        let start = Instant::now();
        let image = xtask::build::build(&Options::new(arch, xtask::DEFAULT_VERSION))
            .unwrap_or_else(|e| panic!("building the {arch} test image: {e:#}"));
        report(&format!(
            "test image {} ready in {:.1} s",
            image.disk.display(),
            start.elapsed().as_secs_f64()
        ));
        image
    })
}

/// The update bundle `<version>.bin` of a test image of `version` (built, or found up to date
/// in xtask's cache), copied into the TFTP tree `tree`. `signer`: another key than the
/// development key the images trust.
pub fn bundle_into(tree: &Path, version: &str, variant: Variant, signer: Option<Signer>) -> Bundle {
    let start = Instant::now();
    let b = xtask::bundle::bundle(&BundleOptions {
        image: Options {
            arch: Arch::X86_64,
            version: version.to_string(),
            variant,
        },
        signer,
        out: Some(tree.to_path_buf()),
    })
    .unwrap_or_else(|e| panic!("building the bundle {version}: {e:#}"));
    report(&format!(
        "bundle {} ({:.1} MiB) ready in {:.1} s",
        b.path.display(),
        b.size as f64 / 1048576.0,
        start.elapsed().as_secs_f64()
    ));
    b
}

/// A measurement for the test log: written straight to stderr, so it shows even when the
/// test harness captures the test's output.
pub fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "[qemu] {line}");
}

/// Serial console output without terminal escape sequences and carriage returns (systemd
/// colours unit names, OVMF and GRUB draw screens), shared with the thread that reads it.
/// The log file keeps the raw bytes.
struct Console {
    text: Mutex<Vec<u8>>,
    grew: Condvar,
}

impl Console {
    fn len(&self) -> usize {
        self.text.lock().unwrap().len()
    }

    fn bytes_since(&self, offset: usize) -> Vec<u8> {
        let t = self.text.lock().unwrap();
        t[offset.min(t.len())..].to_vec()
    }

    fn since(&self, offset: usize) -> String {
        String::from_utf8_lossy(&self.bytes_since(offset)).into_owned()
    }
}

/// Output of a command run in the phone's shell.
#[derive(Debug, Clone)]
pub struct ShOutput {
    pub status: i32,
    pub output: String,
}

/// One phone booting the test image in QEMU.
pub struct QemuPhone {
    /// `target/image/tests/NAME`: the disk, UEFI variables, QMP socket, serial log.
    pub dir: PathBuf,
    pub machine: Machine,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    console: Arc<Console>,
    /// Console offset where the current boot began.
    boot_offset: usize,
    boot_started: Instant,
    seq: u32,
    /// Boots so far (power-on counts).
    pub boots: u32,
}

impl QemuPhone {
    /// An x86_64 phone with a fresh copy of the image's disk, served `tftp_root`. `name`
    /// names its directory under `target/image/tests/` (kept after the test, for the serial
    /// log).
    pub fn new(name: &str, tftp_root: &Path) -> QemuPhone {
        QemuPhone::with_arch(Arch::X86_64, name, tftp_root)
    }

    /// A phone of `arch` (aarch64: a raspi3b with the SD card image) with a fresh copy of the
    /// image's disk, served `tftp_root`, as [`new`](Self::new).
    pub fn with_arch(arch: Arch, name: &str, tftp_root: &Path) -> QemuPhone {
        let image = image_of(arch);
        let dir = xtask::image_dir().join("tests").join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("removing the old test directory");
        }
        let mut machine = match arch {
            Arch::X86_64 => {
                let (disk, vars) =
                    xtask::qemu::fresh_disk(&image.disk, &dir).expect("a fresh copy of the disk");
                Machine::new(arch, disk, vars, dir.join("qmp.sock"))
            }
            Arch::Aarch64 => {
                let sd =
                    xtask::qemu::copy_disk(&image.disk, &dir).expect("a fresh copy of the card");
                let boot = DirectBoot::from_dir(&xtask::raspi::boot_dir(image))
                    .unwrap_or_else(|e| panic!("slot A's boot files: {e:#}"));
                Machine::raspi3b(sd, boot, dir.join("qmp.sock"))
            }
        };
        machine.tftp_root = tftp_root.to_path_buf();
        machine.sip_host_port = crate::free_udp_port("127.0.0.1");
        // A restart of the guest ends QEMU, and the harness powers it on again: QEMU's warm
        // reset of an OVMF machine under TCG spends about 30 s before the firmware runs again.
        machine.exit_on_reboot = true;
        QemuPhone {
            dir,
            machine,
            child: None,
            stdin: None,
            console: Arc::new(Console {
                text: Mutex::new(Vec::new()),
                grew: Condvar::new(),
            }),
            boot_offset: 0,
            boot_started: Instant::now(),
            seq: 0,
            boots: 0,
        }
    }

    /// The host's UDP port QEMU forwards to the phone's SIP port (5060): what reaches the
    /// phone through it on 127.0.0.1 comes from 10.0.2.2, the host as the phone sees it.
    pub fn sip_host_port(&self) -> u16 {
        self.machine.sip_host_port
    }

    /// Puts the phone (before it boots) behind a NAT router whose public address is `public`,
    /// one of the host's (see [`private_network`](crate::private_network)), as the guide's
    /// `nat_address` expects: UDP `public:sip_port` is forwarded to the phone's 5060 and each
    /// port of `media` (the phone's `start_media_port`..=`end_media_port`) to the same port of
    /// the phone. What the phone sends from those ports leaves from `public`, with the same
    /// port; what it receives keeps its real source address.
    pub fn behind_nat(&mut self, public: &str, sip_port: u16, media: (u16, u16)) {
        self.machine.forward_addr = public.to_string();
        self.machine.sip_host_port = sip_port;
        self.machine.media_ports = Some(media);
    }

    /// Gives the sound card (before the phone boots) a speaker and a microphone on the host:
    /// `sound`'s.
    pub fn sound(&mut self, sound: &crate::sound::Sound) {
        self.machine.audio = sound.audio();
    }

    pub fn serial_log(&self) -> PathBuf {
        self.dir.join("serial.log")
    }

    /// Powers the phone on (starts QEMU on the same disk as before, if any).
    pub fn boot(&mut self) -> &mut Self {
        self.start("power on")
    }

    /// The phone restarted itself (its console showed [`REBOOT_PATTERN`]): QEMU ends with
    /// the guest's reset (`-no-reboot`), so start it again on the same disk, which the guest
    /// left as cleanly as a real phone's reboot does. What follows is a new boot.
    fn restarted(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Still running after a minute: the reset did not happen; cut the power instead.
        self.power_cut();
        self.start("restart");
    }

    fn start(&mut self, why: &str) -> &mut Self {
        assert!(self.child.is_none(), "already running");
        let mut cmd = self.machine.command().expect("QEMU command line");
        let _ = std::fs::remove_file(&self.machine.qmp);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} (./scripts/setup-host installs it): {e}",
                    cmd.get_program().to_string_lossy()
                )
            });
        self.boot_started = Instant::now();
        self.boot_offset = self.console.len();
        self.boots += 1;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.serial_log())
            .expect("serial log");
        let _ = writeln!(log, "\n===== {why} (boot {}) =====", self.boots);
        let console = Arc::clone(&self.console);
        let mut out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut clean = Cleaner::default();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&buf[..n]);
                let mut t = console.text.lock().unwrap();
                clean.push(&buf[..n], &mut t);
                drop(t);
                console.grew.notify_all();
            }
            console.grew.notify_all();
        });
        // QEMU's own complaints (bad options, host forwarding taken) end up in the log too.
        let console = Arc::clone(&self.console);
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let l = format!("\n[qemu stderr] {line}\n");
                console.text.lock().unwrap().extend_from_slice(l.as_bytes());
                console.grew.notify_all();
            }
        });
        self.stdin = child.stdin.take();
        self.child = Some(child);
        self
    }

    /// Cuts the power: QEMU is killed, nothing in the phone gets to shut down.
    pub fn power_cut(&mut self) {
        self.stdin = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Time since the current boot's power-on.
    pub fn since_boot(&self) -> Duration {
        self.boot_started.elapsed()
    }

    /// The console output of the current boot.
    pub fn console(&self) -> String {
        self.console.since(self.boot_offset)
    }

    fn tail(&self) -> String {
        let c = self.console();
        let start = c.len().saturating_sub(4000);
        let start = (start..c.len())
            .find(|i| c.is_char_boundary(*i))
            .unwrap_or(0);
        format!(
            "--- last console output (all of it: {}) ---\n{}",
            self.serial_log().display(),
            &c[start..]
        )
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Waits until the console of this boot (from `offset`) contains `pattern`; returns the
    /// offset just past it.
    fn wait_from(&mut self, offset: usize, pattern: &str, timeout: Duration) -> usize {
        self.wait_any(offset, &[pattern], timeout).1
    }

    /// Waits until the console (from `offset`) contains one of `patterns`; returns which one
    /// (the earliest on the console) and the offset just past it.
    fn wait_any(&mut self, offset: usize, patterns: &[&str], timeout: Duration) -> (usize, usize) {
        let deadline = Instant::now() + timeout;
        // QEMU may exit (-no-reboot) before its last words have been read from its output:
        // one more look once it has stopped.
        let mut stopped = false;
        loop {
            {
                let t = self.console.text.lock().unwrap();
                let from = offset.min(t.len());
                let found = patterns
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| find(&t[from..], p.as_bytes()).map(|at| (at, i)))
                    .min();
                if let Some((at, i)) = found {
                    return (i, from + at + patterns[i].len());
                }
                let now = Instant::now();
                if now < deadline {
                    let _ = self
                        .console
                        .grew
                        .wait_timeout(t, (deadline - now).min(Duration::from_millis(500)))
                        .unwrap();
                }
            }
            if !self.running() {
                if !stopped {
                    stopped = true;
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                panic!(
                    "QEMU stopped while waiting for {patterns:?}\n{}",
                    self.tail()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {patterns:?} on the console\n{}",
                    self.tail()
                );
            }
        }
    }

    /// Whether this boot's console shows `pattern` (so far).
    pub fn console_has(&self, pattern: &str) -> bool {
        self.console().contains(pattern)
    }

    /// Waits until the phone restarts itself (the kernel's last words on the way down), and
    /// counts what follows as a new boot: [`console`](Self::console) and
    /// [`wait_console`](Self::wait_console) then look at it, [`since_boot`](Self::since_boot)
    /// counts from the restart, and the shell must be logged in again. Returns the time from
    /// the call to the restart.
    pub fn wait_reboot(&mut self, timeout: Duration) -> Duration {
        let start = Instant::now();
        let offset = self.boot_offset;
        self.wait_from(offset, REBOOT_PATTERN, timeout);
        let took = start.elapsed();
        self.restarted();
        took
    }

    /// Waits until this boot's console shows `pattern`; returns the time since power-on.
    pub fn wait_console(&mut self, pattern: &str, timeout: Duration) -> Duration {
        let offset = self.boot_offset;
        self.wait_from(offset, pattern, timeout);
        self.since_boot()
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the phone is running");
        stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.flush())
            .expect("writing to the serial console");
    }

    /// Waits for the root shell on the serial console (the test image logs root in there
    /// automatically) and makes it quiet: no echo, no prompt, no kernel messages.
    pub fn login(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let offset = self.console.len();
        loop {
            // The marker only appears once the shell has run the line (its echo has $((...))).
            self.type_line("echo @@ready-$((6*7))@@\n");
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) {
                if self.console.since(offset).contains("@@ready-42@@") {
                    self.type_line(
                        "stty -echo; dmesg -n 1; export PS1= PS2= TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0\n",
                    );
                    // Settle: the probes typed while the shell started may still echo.
                    self.sh("true");
                    return;
                }
                if !self.running() {
                    panic!("QEMU stopped before the shell came up\n{}", self.tail());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                Instant::now() < deadline,
                "no shell on the serial console after {timeout:?}\n{}",
                self.tail()
            );
        }
    }

    /// Runs `cmd` in the phone's root shell (after [`login`](Self::login)).
    pub fn sh(&mut self, cmd: &str) -> ShOutput {
        self.sh_timeout(cmd, Duration::from_secs(60))
    }

    pub fn sh_timeout(&mut self, cmd: &str, timeout: Duration) -> ShOutput {
        self.run_sh(cmd, timeout, false)
            .expect("only a reboot-aware run returns nothing")
    }

    /// Runs `cmd` like [`sh_timeout`](Self::sh_timeout), but returns `None` when the phone
    /// restarts before the command's output arrives (an update or a check-sync reboots it
    /// while the test polls): then the restart has begun a new boot, as after
    /// [`wait_reboot`](Self::wait_reboot).
    pub fn sh_unless_reboot(&mut self, cmd: &str, timeout: Duration) -> Option<ShOutput> {
        self.run_sh(cmd, timeout, true)
    }

    fn run_sh(&mut self, cmd: &str, timeout: Duration, reboot_ends: bool) -> Option<ShOutput> {
        // A console line from the kernel or systemd could land inside the output: then the
        // base64 does not decode, and the command runs again (callers use queries).
        for _attempt in 0..3 {
            self.seq += 1;
            let id = self.seq;
            let offset = self.console.len();
            self.type_line(&format!(
                "__o=$( {{ {cmd}\n}} 2>&1 ); __r=$?; printf '\\n@@%s:B@@\\n%s\\n@@%s:E:%s@@\\n' {id} \"$(printf '%s' \"$__o\" | base64 -w0)\" {id} \"$__r\"\n"
            ));
            let end_marker = format!("@@{id}:E:");
            let patterns: &[&str] = if reboot_ends {
                &[&end_marker, REBOOT_PATTERN]
            } else {
                &[&end_marker]
            };
            let (which, after_end) = self.wait_any(offset, patterns, timeout);
            if which == 1 {
                self.restarted();
                return None;
            }
            // The exit status and the closing "@@" may arrive in a later read.
            self.wait_from(after_end, "@@", Duration::from_secs(10));
            let text = self.console.bytes_since(offset);
            let end_at = after_end - offset - end_marker.len();
            let begin_marker = format!("@@{id}:B@@");
            let Some(b) = rfind(&text[..end_at], begin_marker.as_bytes()) else {
                continue;
            };
            let status: Option<i32> = String::from_utf8_lossy(&text[after_end - offset..])
                .split("@@")
                .next()
                .and_then(|s| s.trim().parse().ok());
            let payload: Vec<u8> = text[b + begin_marker.len()..end_at]
                .iter()
                .copied()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            if let (Some(status), Ok(bytes)) = (
                status,
                base64::engine::general_purpose::STANDARD.decode(&payload),
            ) {
                return Some(ShOutput {
                    status,
                    output: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
        }
        panic!("could not read the output of {cmd:?}\n{}", self.tail());
    }

    /// Runs `cmd`, which must succeed; returns its output.
    pub fn sh_ok(&mut self, cmd: &str) -> String {
        let out = self.sh(cmd);
        assert_eq!(out.status, 0, "`{cmd}` failed in the phone: {}", out.output);
        out.output
    }

    /// Waits for this boot's kernel, logs in on the console and waits until provd is ready
    /// (its first provisioning and firmware decision done). Returns the time from power-on
    /// (or restart) to the kernel's start as seen on the console, and to provd's readiness
    /// (the kernel's start plus the guest's clock). Panics if the phone restarts first.
    ///
    /// A boot in which the emulator lost a timer interrupt (see [`EMULATOR_STALL`]) is
    /// powered off and on again, once, and said so in the test log.
    pub fn wait_ready(&mut self, timeout: Duration) -> (Duration, Duration) {
        let mut kernel = self.wait_console("Command line:", timeout);
        let offset = self.boot_offset;
        let (which, _) = self.wait_any(offset, &[AUTOLOGIN, EMULATOR_STALL], timeout);
        if which == 1 {
            report(&format!(
                "boot {}: QEMU lost a timer interrupt ({EMULATOR_STALL:?} on the console); \
                 powering on again (console: {})",
                self.boots,
                self.serial_log().display()
            ));
            self.power_cut();
            self.start("power on again after an emulator stall");
            kernel = self.wait_console("Command line:", timeout);
        }
        self.login(timeout);
        let ready = self
            .wait_active("provd.service", timeout)
            .unwrap_or_else(|| panic!("the phone restarted before provd was ready"));
        (kernel, kernel + ready)
    }

    /// Waits (logged in on the console) until systemd reports `unit` active, and returns
    /// when that happened in the guest's clock: the time from the kernel's start (systemd's
    /// monotonic activation timestamp). `None`: the phone restarted first, and a new boot has
    /// begun. (The console's "Started ..." lines are no signal: systemd stops writing them
    /// once the serial getty owns the console, which races with a unit's start.)
    pub fn wait_active(&mut self, unit: &str, timeout: Duration) -> Option<Duration> {
        let deadline = Instant::now() + timeout;
        let cmd = format!("systemctl show -p ActiveState -p ActiveEnterTimestampMonotonic {unit}");
        loop {
            let out = self.sh_unless_reboot(&cmd, Duration::from_secs(60))?;
            // NAME=value lines, in systemd's order rather than the order asked.
            let value = |name: &str| {
                out.output
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("")
            };
            let state = value("ActiveState");
            let since_kernel_us = value("ActiveEnterTimestampMonotonic").parse::<u64>().ok();
            if state == "active" {
                if let Some(us) = since_kernel_us.filter(|us| *us > 0) {
                    return Some(Duration::from_micros(us));
                }
            }
            assert!(
                Instant::now() < deadline,
                "{unit} not active after {timeout:?} (last: {:?})\n{}",
                out.output,
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `phonectl status --json` in the phone.
    pub fn status(&mut self) -> Value {
        let out = self.sh_ok("phonectl status --json");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("phonectl status is not JSON ({e}): {out}"))
    }

    /// Polls `phonectl status` until provisioning has finished (any state but `starting`).
    pub fn wait_provisioned(&mut self, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.sh("phonectl status --json");
            if out.status == 0 {
                if let Ok(s) = serde_json::from_str::<Value>(&out.output) {
                    if s["provisioning"]["state"] != "starting" {
                        return s;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "provisioning did not finish within {timeout:?}: {}",
                out.output
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `phonectl status` once the UI's screen is `name` (polled; fails after `wait`).
    pub fn wait_screen(&mut self, name: &str, wait: Duration) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status();
            if s["screen"]["name"] == name {
                return s;
            }
            assert!(
                start.elapsed() < wait,
                "no {name} screen: {:#}",
                s["screen"]
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// What QEMU's display shows now, also kept as `NAME.ppm` in the machine's directory.
    pub fn screendump(&mut self, name: &str) -> Screendump {
        let path = self.dir.join(format!("{name}.ppm"));
        self.qmp().screendump(&path).unwrap();
        let data = std::fs::read(&path).unwrap();
        Screendump::from_ppm(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A QMP connection to this machine's QEMU.
    pub fn qmp(&self) -> Qmp {
        Qmp::connect(&self.machine.qmp)
            .unwrap_or_else(|e| panic!("QMP {}: {e}", self.machine.qmp.display()))
    }
}

impl Drop for QemuPhone {
    fn drop(&mut self) {
        self.power_cut();
    }
}

/// Drops ANSI escape sequences (`ESC [ params final`, `ESC x`) and `\r` from a byte stream
/// that may split a sequence between two reads.
#[derive(Default)]
struct Cleaner {
    state: EscState,
}

#[derive(Default, PartialEq)]
enum EscState {
    #[default]
    Text,
    Esc,
    Csi,
}

impl Cleaner {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            self.state = match (&self.state, b) {
                (EscState::Text, 0x1b) => EscState::Esc,
                (EscState::Text, b'\r') => EscState::Text,
                (EscState::Text, b) => {
                    out.push(b);
                    EscState::Text
                }
                (EscState::Esc, b'[') => EscState::Csi,
                (EscState::Esc, _) => EscState::Text,
                (EscState::Csi, 0x40..=0x7e) => EscState::Text,
                (EscState::Csi, _) => EscState::Csi,
            };
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// A screenshot of QEMU's display (QMP `screendump`): RGB, 8 bits a channel, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screendump {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Screendump {
    /// Reads the binary PPM (`P6`, maximum 255) QEMU writes.
    pub fn from_ppm(data: &[u8]) -> Result<Screendump, String> {
        // Header: "P6", width, height, maximum, each followed by one whitespace byte.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while data.get(at).is_some_and(u8::is_ascii_whitespace) {
                at += 1;
            }
            let start = at;
            while data.get(at).is_some_and(|b| !b.is_ascii_whitespace()) {
                at += 1;
            }
            if start == at {
                return Err(format!(
                    "PPM header cut short after {} fields",
                    fields.len()
                ));
            }
            fields.push(String::from_utf8_lossy(&data[start..at]).into_owned());
            at += 1;
        }
        if fields[0] != "P6" || fields[3] != "255" {
            return Err(format!("not an 8-bit binary PPM: {fields:?}"));
        }
        let number = |s: &str| {
            s.parse::<usize>()
                .map_err(|e| format!("PPM size {s:?}: {e}"))
        };
        let (width, height) = (number(&fields[1])?, number(&fields[2])?);
        let rgb = data.get(at.min(data.len())..).unwrap_or_default();
        if rgb.len() != width * height * 3 {
            return Err(format!(
                "{width}x{height} PPM with {} bytes of pixels",
                rgb.len()
            ));
        }
        Ok(Screendump {
            width,
            height,
            rgb: rgb.to_vec(),
        })
    }

    /// The share of the pixels that are exactly `colour`.
    pub fn share_of(&self, colour: [u8; 3]) -> f64 {
        let n = self.rgb.chunks_exact(3).filter(|p| *p == colour).count();
        n as f64 / (self.width * self.height).max(1) as f64
    }

    /// How many pixels differ from `other`'s (all of them when the sizes differ).
    pub fn pixels_differing(&self, other: &Screendump) -> usize {
        if (self.width, self.height) != (other.width, other.height) {
            return self.width * self.height;
        }
        self.rgb
            .chunks_exact(3)
            .zip(other.rgb.chunks_exact(3))
            .filter(|(a, b)| a != b)
            .count()
    }
}

/// A QMP client: JSON lines over QEMU's Unix socket. Three commands are all the tests need,
/// so this is a few lines of serde_json rather than a crate that generates bindings for the
/// whole QAPI schema of one QEMU version.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    pub fn connect(path: &Path) -> Result<Qmp, String> {
        let stream = UnixStream::connect(path).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = q.read()?;
        if greeting.get("QMP").is_none() {
            return Err(format!("not a QMP greeting: {greeting}"));
        }
        q.execute("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("QMP connection closed".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))
    }

    /// Runs a command; returns its `return` value, or its error's description.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let msg = json!({"execute": command, "arguments": arguments});
        writeln!(self.writer, "{msg}").map_err(|e| e.to_string())?;
        loop {
            let v = self.read()?;
            if v.get("event").is_some() {
                continue;
            }
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                return Err(format!("{command}: {}", e["desc"]));
            }
        }
    }

    /// Presses and releases one key (a QEMU `QKeyCode`: "a", "1", "ret", "f1", ...).
    pub fn press_key(&mut self, qcode: &str) -> Result<(), String> {
        for down in [true, false] {
            self.execute(
                "input-send-event",
                json!({"events": [{"type": "key", "data": {
                    "down": down, "key": {"type": "qcode", "data": qcode}}}]}),
            )?;
        }
        Ok(())
    }

    /// A screenshot of the display, as a PPM file.
    pub fn screendump(&mut self, path: &Path) -> Result<(), String> {
        self.execute("screendump", json!({"filename": path.to_string_lossy()}))
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screendumps_read_qemus_ppm() {
        // 2x1: a background pixel whose bytes include whitespace values, then black.
        let mut ppm = b"P6\n2 1\n255\n".to_vec();
        ppm.extend([0x0a, 0x20, 0x09, 0, 0, 0]);
        let shot = Screendump::from_ppm(&ppm).unwrap();
        assert_eq!((shot.width, shot.height), (2, 1));
        assert_eq!(shot.share_of([0x0a, 0x20, 0x09]), 0.5);
        assert_eq!(shot.share_of([1, 2, 3]), 0.0);

        let mut other = shot.clone();
        assert_eq!(shot.pixels_differing(&other), 0);
        other.rgb[5] = 1;
        assert_eq!(shot.pixels_differing(&other), 1);
        other.width = 1;
        assert_eq!(shot.pixels_differing(&other), 2);
    }

    #[test]
    fn broken_screendumps_are_errors() {
        for (ppm, why) in [
            (&b"P6\n2 1\n"[..], "cut short"),
            (&b"P5\n1 1\n255\n\0"[..], "not an 8-bit binary PPM"),
            (
                &b"P6\n1 1\n65535\n\0\0\0\0\0\0"[..],
                "not an 8-bit binary PPM",
            ),
            (&b"P6\nx 1\n255\n\0\0\0"[..], "PPM size"),
            (&b"P6\n2 2\n255\n\0\0\0"[..], "bytes of pixels"),
        ] {
            let e = Screendump::from_ppm(ppm).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
