//! The telnet console (`consoled`) of a running phone (deskphone-sim) over a real TCP
//! connection: the login with its delay, the prompt and `show` commands answered with
//! provd's values, privileged commands refused at telnet_level 1 and confirmed at 2, and
//! telnet_level 0 leaving nothing listening.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskphone_e2e::{bin_dir, serve_tree, wait_for, Guard, Phone};
use serde_json::Value;

const MAC: &str = "00503EFFD843";
const IAC: u8 = 255;
const WILL: u8 = 251;
const DO: u8 = 253;
const ECHO: u8 = 1;
const SGA: u8 = 3;

/// `consoled`, built with the phone's other binaries.
fn consoled() -> PathBuf {
    bin_dir().join("consoled")
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn cnf(level: u8) -> String {
    format!(
        "proxy1_address: 10.0.0.5\ntelnet_level: {level}\nphone_password: s3cret\n\
         phone_prompt: Lab7\n"
    )
}

/// A minimal telnet client: answers the server's two offers as Linux telnet does and keeps
/// the text with the negotiation taken out.
struct TelnetClient {
    stream: TcpStream,
    raw: Vec<u8>,
    text: String,
    negotiation: Vec<[u8; 3]>,
    closed: bool,
}

impl TelnetClient {
    fn connect(addr: SocketAddr) -> Option<TelnetClient> {
        let stream = TcpStream::connect(addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Some(TelnetClient {
            stream,
            raw: Vec::new(),
            text: String::new(),
            negotiation: Vec::new(),
            closed: false,
        })
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.closed = true,
        }
        // Take out complete negotiations; keep a cut one for the next read.
        let mut i = 0;
        while i < self.raw.len() {
            if self.raw[i] != IAC {
                self.text.push(self.raw[i] as char);
                i += 1;
                continue;
            }
            if i + 2 >= self.raw.len() {
                break;
            }
            let n = [self.raw[i], self.raw[i + 1], self.raw[i + 2]];
            if n == [IAC, WILL, ECHO] || n == [IAC, WILL, SGA] {
                let answer = [IAC, DO, n[2]];
                self.stream.write_all(&answer).expect("answer");
            }
            self.negotiation.push(n);
            i += 3;
        }
        self.raw.drain(..i);
    }

    /// The text up to and including `needle` (taken from what was received).
    fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(at) = self.text.find(needle) {
                let rest = self.text.split_off(at + needle.len());
                return std::mem::replace(&mut self.text, rest);
            }
            assert!(
                !self.closed && start.elapsed() < timeout,
                "no {needle:?} from the console (closed: {}); got {:?}",
                self.closed,
                self.text
            );
            self.pump();
        }
    }

    fn line(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("send");
    }

    /// Sends a command and returns its answer (up to the next prompt).
    fn command(&mut self, line: &str) -> String {
        self.line(line);
        self.read_until("Lab7> ", Duration::from_secs(10))
    }

    fn wait_closed(&mut self, timeout: Duration) -> String {
        let start = Instant::now();
        while !self.closed {
            assert!(start.elapsed() < timeout, "still open: {:?}", self.text);
            self.pump();
        }
        std::mem::take(&mut self.text)
    }
}

#[test]
fn telnet_login_show_commands_privileged_levels_and_telnet_off() {
    let (root, tftp) = serve_tree(&[("SIPDefault.cnf", &cnf(1))]);
    let tftp_addr = tftp.addr.to_string();
    let mut p = Phone::new(MAC, &["--tftp", &tftp_addr]);
    p.start();

    let port = free_tcp_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log_path = p.log.with_file_name("consoled.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let _consoled = Guard(
        Command::new(consoled())
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--runtime")
            .arg(&p.runtime)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting consoled"),
    );
    let consoled_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let mut t = wait_for("consoled to listen", Duration::from_secs(20), || {
        TelnetClient::connect(addr)
    });
    t.read_until("Password: ", Duration::from_secs(5));
    assert_eq!(
        t.negotiation[..2],
        [[IAC, WILL, ECHO], [IAC, WILL, SGA]],
        "the server echoes (the password stays hidden) and suppresses go-ahead"
    );

    // A wrong password: refused, and the next prompt waits (provd's check, then the
    // console's own 2 s).
    t.line("cisco");
    let sent = Instant::now();
    t.read_until("Wrong password.", Duration::from_secs(10));
    t.read_until("Password: ", Duration::from_secs(10));
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "the next try came after {:?}",
        sent.elapsed()
    );
    wait_for(
        "the failed login in the log",
        Duration::from_secs(5),
        || {
            let l = consoled_log();
            (l.contains("console 127.0.0.1:") && l.contains("wrong password (failed login 1)"))
                .then_some(())
        },
    );

    // The right one: the prompt is phone_prompt.
    t.line("s3cret");
    let welcome = t.read_until("Lab7> ", Duration::from_secs(10));
    assert!(!welcome.contains("s3cret"), "password echoed: {welcome:?}");

    let prompt = t.command("show config phone_prompt");
    assert!(
        prompt.contains("phone_prompt                 = Lab7  (SIPDefault.cnf:4)"),
        "{prompt}"
    );
    let password = t.command("show config phone_password");
    assert!(password.contains("= ********"), "{password}");
    assert!(!password.contains("s3cret"));
    let all = t.command("sh conf");
    assert!(all.contains("telnet_level                 = 1  (SIPDefault.cnf:2)"));
    assert!(all.contains("proxy1_address               = 10.0.0.5"));

    let network = t.command("show network");
    assert!(network.contains("DHCP Enabled"), "{network}");
    let in_use = network
        .lines()
        .find(|l| l.starts_with("TFTP server in use"))
        .unwrap_or_default();
    assert!(in_use.contains(&tftp_addr), "{network}");
    let firmware = p.status()["versions"]["firmware"]
        .as_str()
        .expect("firmware version")
        .to_string();
    let version = t.command("show version");
    assert!(
        version.contains(&format!("Firmware          {firmware}")),
        "{version}"
    );
    let messages = t.command("show messages");
    assert!(
        messages.contains("Unlock Config: wrong password"),
        "{messages}"
    );
    let unknown = t.command("format flash");
    assert!(unknown.contains("error: unknown command \"format\""));

    // Level 1: no privileged commands.
    let refused = t.command("erase protflash");
    assert!(
        refused.contains("erase protflash is a privileged command; telnet_level is 1"),
        "{refused}"
    );
    assert_eq!(p.param("phone_prompt").1, "SIPDefault.cnf:4");

    // Level 2 (a files-only parameter: the file changes and the phone restarts); the open
    // session follows.
    std::fs::write(root.path().join("SIPDefault.cnf"), cnf(2)).expect("write");
    p.reboot();
    wait_for(
        "the console to follow telnet_level 2",
        Duration::from_secs(20),
        || {
            let help = t.command("help");
            (!help.contains("needs telnet_level 2")).then_some(())
        },
    );
    t.line("erase protflash");
    t.read_until("[y/N] ", Duration::from_secs(10));
    t.line("y");
    let erased = t.read_until("Lab7> ", Duration::from_secs(10));
    assert!(erased.contains("SIP configuration erased"), "{erased}");
    let status = p.status();
    assert_eq!(
        p.param("telnet_level"),
        (Value::from(0), "default".to_string())
    );
    assert_eq!(p.param("phone_prompt").1, "default");
    assert!(status["status_messages"]
        .as_array()
        .expect("messages")
        .iter()
        .any(|m| m["text"]
            .as_str()
            .unwrap_or("")
            .contains("SIP settings erased")));
    assert!(consoled_log().contains("erase protflash confirmed"));

    // The erase took telnet_level back to 0: the session ends and nothing listens.
    let bye = t.wait_closed(Duration::from_secs(10));
    assert!(bye.contains("telnet_level 0"), "{bye:?}");
    wait_for("the listener to close", Duration::from_secs(10), || {
        TcpStream::connect(addr).is_err().then_some(())
    });
}

/// The serial console: the same CLI on stdin/stdout (`consoled --stdio`, which the image's
/// console port runs instead of a login shell), at telnet_level 0 too, and never a shell.
#[test]
fn the_serial_console_logs_in_answers_and_runs_no_shell() {
    let (_root, tftp) = serve_tree(&[("SIPDefault.cnf", &cnf(0))]);
    let tftp_addr = tftp.addr.to_string();
    let mut p = Phone::new("00503EFFD844", &["--tftp", &tftp_addr]);
    p.start();
    let mut child = Command::new(consoled())
        .arg("--stdio")
        .arg("--runtime")
        .arg(&p.runtime)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("consoled --stdio");
    let mut stdin = child.stdin.take().unwrap();
    // One line at a time, as a person types: each waits for the answer before the next.
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    // Reads until `what` shows after byte `from` of what the console printed.
    let until = |what: &str, from: usize, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !seen[from..].contains(what) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("no {what:?} on the console; it showed:\n{seen}"),
            }
        }
    };
    until("Password", 0, &mut seen);
    stdin.write_all(b"s3cret\n").unwrap();
    until("Lab7> ", 0, &mut seen);
    stdin.write_all(b"show version\n").unwrap();
    let version = p.status()["versions"]["firmware"]
        .as_str()
        .unwrap()
        .to_string();
    until(&version, 0, &mut seen);
    // Whatever is typed, nothing runs but the CLI's own commands.
    let before = seen.len();
    stdin.write_all(b"sh -c id\n").unwrap();
    stdin.write_all(b"/bin/sh\n").unwrap();
    stdin.write_all(b"show version\n").unwrap();
    // A pipe does not echo what was typed: the answer to the last line marks the end.
    until("IPC protocol", before, &mut seen);
    let after = &seen[before..];
    assert!(after.contains("unknown command \"sh -c id\""), "{after}");
    assert!(after.contains("unknown command \"/bin/sh\""), "{after}");
    assert!(!after.contains("uid="), "a shell ran:\n{after}");
    stdin.write_all(b"exit\n").unwrap();
    let status = wait_for("consoled to end", Duration::from_secs(10), || {
        child.try_wait().ok().flatten()
    });
    assert!(status.success(), "consoled --stdio ended with {status}");
}
