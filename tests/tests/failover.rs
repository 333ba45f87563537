//! Failover to `proxy_backup` against real peers: deskphone-sim's line 1 has a silent SIPp
//! registrar as its primary and a Kamailio (digest, realm = the To domain) as its backup.
//! The REGISTER times out at the primary and the line registers with the backup at once,
//! `phonectl status --json` saying so. Then the primary comes back (a second Kamailio behind
//! the primary's port): the OPTIONS probe finds it, the line unregisters at the backup and
//! registers with the primary.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deskphone_e2e::sip::{Kamailio, Sipp};
use deskphone_e2e::{wait_for, Phone, SimPhone};
use serde_json::Value;

const MAC: &str = "525400123456";

/// A registrar that takes the REGISTER and never answers, then goes away (SIPp ends after
/// the pause and its port falls silent).
const SILENT_REGISTRAR: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="silent registrar">
  <recv request="REGISTER" />
  <pause milliseconds="2000" />
</scenario>
"#;

fn start_phone(files: &[(String, String)]) -> SimPhone {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    SimPhone::start(MAC, &refs)
}

fn line1(p: &Phone) -> Value {
    p.status()["lines"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["line"] == 1).cloned())
        .unwrap_or(Value::Null)
}

/// A UDP relay on `front` to `to`: what arrives on `front` goes to `to` from a socket of its
/// own, and what comes back goes to whoever last sent to `front` (the primary's address
/// served by a registrar on another port).
struct Relay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    fn start(front: UdpSocket, to: SocketAddr) -> Relay {
        let back = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tick = Some(Duration::from_millis(50));
        front.set_read_timeout(tick).unwrap();
        back.set_read_timeout(tick).unwrap();
        let (front, back) = (Arc::new(front), Arc::new(back));
        let stop = Arc::new(AtomicBool::new(false));
        let peer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let mut threads = Vec::new();
        {
            let (front, back, stop, peer) =
                (front.clone(), back.clone(), stop.clone(), peer.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0; 65535];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = front.recv_from(&mut buf) {
                        *peer.lock().unwrap() = Some(from);
                        let _ = back.send_to(&buf[..n], to);
                    }
                }
            }));
        }
        {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0; 65535];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, _)) = back.recv_from(&mut buf) {
                        if let Some(p) = *peer.lock().unwrap() {
                            let _ = front.send_to(&buf[..n], p);
                        }
                    }
                }
            }));
        }
        Relay { stop, threads }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn a_silent_primary_sends_the_line_to_the_backup_and_it_returns_when_the_primary_does() {
    let started = Instant::now();
    let backup = Kamailio::start(&[("1001", "secret")]);
    let returning = Kamailio::start(&[("1001", "secret")]);
    let mut primary = Sipp::start(SILENT_REGISTRAR);
    // Short timers: a REGISTER gives up after 0.8 s (T1 100 ms, T2 400 ms, 3 retransmissions);
    // the primary is probed every 10 s (the least probe period).
    let files = vec![
        (
            "SIPDefault.cnf".to_string(),
            format!(
                "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"1\"\n\
                 proxy_backup: \"127.0.0.1\"\nproxy_backup_port: \"{}\"\n\
                 timer_t1: \"100\"\ntimer_t2: \"400\"\nsip_retx: \"3\"\n",
                primary.addr.port(),
                backup.addr.port()
            ),
        ),
        (
            format!("SIP{MAC}.cnf"),
            "line1_name: \"1001\"\nline1_authname: \"1001\"\nline1_password: \"secret\"\n"
                .to_string(),
        ),
    ];
    let phone = start_phone(&files);

    // 1. The primary is silent: the line registers with the backup.
    let l = wait_for(
        "line 1 to register with the backup",
        Duration::from_secs(20),
        || {
            let l = line1(&phone);
            (l["registered"] == true).then_some(l)
        },
    );
    let on_backup = started.elapsed();
    let backup_text = format!("127.0.0.1:{}", backup.addr.port());
    assert_eq!(l["using"], "backup", "{l}");
    assert_eq!(l["backup"], backup_text.as_str());
    assert_eq!(
        l["proxy"],
        format!("127.0.0.1:{}", primary.addr.port()).as_str(),
        "the configured proxy stays what it is"
    );
    assert_eq!(backup.registered_users(), vec!["1001"]);
    // Digest with the realm of the To domain (proxy1_address): challenged, then accepted.
    let regs = backup.registers();
    assert_eq!(regs.first().map(|r| r.outcome.as_str()), Some("challenged"));
    assert_eq!(
        regs.last().map(|r| (r.outcome.as_str(), r.auth.as_str())),
        Some(("registered", "1001")),
        "{}",
        backup.log_text()
    );
    let text = phone.phonectl(&["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("(on the backup {backup_text})")),
        "{text}"
    );
    // The primary got the REGISTER and its 3 retransmissions, nothing else.
    assert_eq!(primary.wait(Duration::from_secs(20)), Some(0));
    let got: Vec<_> = primary
        .messages()
        .into_iter()
        .filter(|m| m.received)
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got
        .iter()
        .all(|m| m.text.starts_with("REGISTER sip:127.0.0.1:")));

    // 2. The primary comes back on its port.
    let front = wait_for(
        "the primary's port to be free",
        Duration::from_secs(5),
        || UdpSocket::bind(primary.addr).ok(),
    );
    let _relay = Relay::start(front, returning.addr);
    let l = wait_for(
        "line 1 to return to the primary",
        Duration::from_secs(25),
        || {
            let l = line1(&phone);
            (l["registered"] == true && l["using"] == "primary").then_some(l)
        },
    );
    let back = started.elapsed();
    assert_eq!(l["state"], "registered");
    assert_eq!(returning.registered_users(), vec!["1001"]);
    // The binding at the backup was removed (Expires 0) before the return.
    wait_for("the backup binding to go", Duration::from_secs(5), || {
        backup.registered_users().is_empty().then_some(())
    });
    assert!(
        backup
            .registers()
            .iter()
            .any(|r| r.expires == "0" && r.outcome == "registered"),
        "{}",
        backup.log_text()
    );
    eprintln!(
        "figures: registered with the backup {} ms after start, back at the primary {} ms \
         after start",
        on_backup.as_millis(),
        back.as_millis()
    );
}
