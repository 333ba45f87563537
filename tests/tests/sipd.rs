//! sipd against real peers: deskphone-sim provisioned over TFTP registers its lines with a
//! real Kamailio (digest authentication, in-memory location table), fails plainly with a
//! wrong password and backs off, unregisters and registers again with `proxy_register`,
//! survives the RFC 4475 torture messages, and retransmits REGISTER to a silent SIPp
//! registrar on the T1/T2 schedule with `sip_retx` copies.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use deskphone_e2e::sip::{check_sync_scenario, Kamailio, Sipp};
use deskphone_e2e::{bin_dir, rss_kib, wait_for, workspace, Guard, Phone, SimPhone};
use serde_json::Value;

const MAC: &str = "525400123456";

/// The sample tree of examples/tftp with the proxy port of `registrar` (the sample's
/// proxy1_address is already 127.0.0.1), plus `extra` lines at the end of SIPDefault.cnf.
fn sample_tree(registrar: SocketAddr, extra: &str) -> Vec<(String, String)> {
    let dir = workspace().join("examples/tftp");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("examples/tftp") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut text = std::fs::read_to_string(&path).expect("read");
        if name == "SIPDefault.cnf" {
            assert!(
                text.contains("proxy1_port: \"5060\""),
                "the sample's proxy port"
            );
            text = text.replace(
                "proxy1_port: \"5060\"",
                &format!("proxy1_port: \"{}\"", registrar.port()),
            );
            text.push_str(extra);
        }
        files.push((name, text));
    }
    files
}

fn start_phone(files: &[(String, String)]) -> SimPhone {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    SimPhone::start(MAC, &refs)
}

/// `lines` of `phonectl status --json` (empty if absent).
fn lines(p: &Phone) -> Vec<Value> {
    p.status()["lines"].as_array().cloned().unwrap_or_default()
}

fn line(p: &Phone, n: u64) -> Value {
    lines(p)
        .into_iter()
        .find(|l| l["line"] == n)
        .unwrap_or(Value::Null)
}

fn wait_registered(p: &Phone, numbers: &[u64]) {
    wait_for(
        &format!("lines {numbers:?} to register"),
        Duration::from_secs(30),
        || {
            let ls = lines(p);
            numbers
                .iter()
                .all(|n| {
                    ls.iter()
                        .any(|l| l["line"] == *n && l["registered"] == true)
                })
                .then_some(())
        },
    );
}

/// A number sipd logged as "`what` N ms after start".
fn logged_ms(p: &Phone, what: &str) -> Option<u64> {
    let log = p.log_text();
    let rest = log.split(what).nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn the_sample_tree_registers_both_lines_with_digest_authentication() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let mut phone = start_phone(&sample_tree(kam.addr, ""));
    wait_registered(&phone, &[1, 2]);

    let ls = lines(&phone);
    assert_eq!(ls.len(), 2, "{ls:?}");
    let proxy = format!("127.0.0.1:{}", kam.addr.port());
    for (l, name) in ls.iter().zip(["1001", "1002"]) {
        assert_eq!(l["name"], name);
        assert_eq!(l["registered"], true);
        assert_eq!(l["proxy"], proxy.as_str());
        assert_eq!(l["state"], "registered");
        assert_eq!(l["reason"], Value::Null);
    }

    // Kamailio's location table has both contacts, at sipd's port.
    let contacts = kam.contacts();
    for user in ["1001", "1002"] {
        let c = contacts
            .iter()
            .find(|c| c.aor == user)
            .unwrap_or_else(|| panic!("no binding for {user}: {contacts:?}"));
        assert_eq!(
            c.address,
            format!("sip:{user}@127.0.0.1:{}", phone.sip_port)
        );
        assert!(c.expires.is_some_and(|e| e > 3500), "{c:?}");
    }
    // Digest: challenged without credentials first, registered with them.
    let regs: Vec<_> = kam
        .registers()
        .into_iter()
        .filter(|r| r.user == "1001")
        .collect();
    assert_eq!(
        regs.first().map(|r| r.outcome.as_str()),
        Some("challenged"),
        "{}",
        kam.log_text()
    );
    assert_eq!(regs.first().map(|r| r.auth.as_str()), Some("<null>"));
    let last = regs.last().expect("a REGISTER of 1001");
    assert_eq!(
        (last.outcome.as_str(), last.auth.as_str()),
        ("registered", "1001")
    );

    // The text status shows the lines too.
    let text = phone.phonectl(&["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("Line 1           1001 at {proxy}  registered")),
        "{text}"
    );

    let sent = logged_ms(&phone, "first REGISTER sent ");
    let registered = logged_ms(&phone, "first line registered ");
    eprintln!(
        "figures: sipd start -> first REGISTER sent {sent:?} ms, -> first line registered \
         {registered:?} ms (debug build); sipd RSS {} KiB with 2 lines",
        rss_kib(phone.sipd_pid())
    );
    assert!(
        sent.is_some() && registered.is_some(),
        "{}",
        phone.log_text()
    );

    // Stopping the phone unregisters its lines.
    phone.stop();
    wait_for("the bindings to go", Duration::from_secs(5), || {
        kam.contacts().is_empty().then_some(())
    });
}

#[test]
fn a_wrong_password_is_said_plainly_and_retried_with_back_off() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let mut files = sample_tree(kam.addr, "");
    for (name, text) in &mut files {
        if name.starts_with("SIP5254") {
            *text = text.replace("secret1001", "wrong-password");
        }
    }
    let phone = start_phone(&files);
    wait_registered(&phone, &[2]);
    let first = wait_for("line 1 to fail", Duration::from_secs(20), || {
        let l = line(&phone, 1);
        (l["state"] == "failed").then_some(l)
    });
    assert_eq!(first["registered"], false);
    let reason = first["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("authentication refused") && reason.contains("password"),
        "{first}"
    );
    assert_eq!(first["failures"], 1);
    // First back-off: 30 s times 0.5-1.
    let retry = first["retry_in"].as_u64().expect("retry_in");
    assert!((13..=30).contains(&retry), "{first}");
    assert!(!kam.registered_users().contains(&"1001".to_string()));

    // The second attempt comes after the back-off, fails the same way, and the next
    // back-off is longer (60 s times 0.5-1).
    let second = wait_for(
        "the second attempt to fail",
        Duration::from_secs(45),
        || {
            let l = line(&phone, 1);
            (l["failures"] == 2 && l["state"] == "failed").then_some(l)
        },
    );
    let retry = second["retry_in"].as_u64().expect("retry_in");
    assert!((28..=60).contains(&retry), "{second}");
    assert!(second["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("authentication refused"));
    // Kamailio saw two bursts of REGISTERs for 1001, 15 to 30 s apart.
    let times: Vec<f64> = kam
        .registers()
        .into_iter()
        .filter(|r| r.user == "1001")
        .map(|r| r.time)
        .collect();
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|g| *g > 5.0)
        .collect();
    assert_eq!(gaps.len(), 1, "{times:?}");
    assert!((14.5..=31.0).contains(&gaps[0]), "back-off {gaps:?}");
    assert!(line(&phone, 2)["registered"] == true);
}

#[test]
fn proxy_register_zero_unregisters_and_one_registers_again() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let phone = start_phone(&sample_tree(kam.addr, ""));
    wait_registered(&phone, &[1, 2]);
    assert_eq!(kam.registered_users(), vec!["1001", "1002"]);
    let pid = phone.sipd_pid();
    let registered_rss = rss_kib(pid);

    phone.ok(&["set", "proxy_register", "0", "--password", "cisco"]);
    wait_for(
        "Kamailio to drop both bindings",
        Duration::from_secs(10),
        || kam.contacts().is_empty().then_some(()),
    );
    wait_for(
        "both lines to show unregistered",
        Duration::from_secs(5),
        || {
            lines(&phone)
                .iter()
                .all(|l| {
                    l["state"] == "unregistered"
                        && l["registered"] == false
                        && l["reason"] == "proxy_register is 0"
                })
                .then_some(())
        },
    );
    let unregs = kam
        .registers()
        .into_iter()
        .filter(|r| r.expires == "0" && r.outcome == "registered")
        .count();
    assert_eq!(unregs, 2, "one Expires: 0 accepted per line");
    eprintln!(
        "figures: sipd RSS {registered_rss} KiB with 2 lines registered, {} KiB unregistered",
        rss_kib(pid)
    );

    phone.ok(&["set", "proxy_register", "1", "--password", "cisco"]);
    wait_registered(&phone, &[1, 2]);
    wait_for(
        "Kamailio to have both again",
        Duration::from_secs(5),
        || (kam.registered_users() == ["1001", "1002"]).then_some(()),
    );
}

#[test]
fn six_lines_register_and_memory_stays_small() {
    let users: Vec<(String, String)> = (1..=6)
        .map(|n| (format!("100{n}"), format!("pw-100{n}")))
        .collect();
    let refs: Vec<(&str, &str)> = users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let kam = Kamailio::start(&refs);
    let mut phone_file = String::new();
    for (n, (u, p)) in users.iter().enumerate() {
        let n = n + 1;
        phone_file.push_str(&format!(
            "line{n}_name: \"{u}\"\nline{n}_authname: \"{u}\"\nline{n}_password: \"{p}\"\n"
        ));
    }
    let files = vec![
        (
            "SIPDefault.cnf".to_string(),
            format!(
                "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"0\"\n",
                kam.addr.port()
            ),
        ),
        (format!("SIP{MAC}.cnf"), phone_file),
    ];
    let phone = start_phone(&files);
    wait_for("six unregistered lines", Duration::from_secs(10), || {
        (lines(&phone).len() == 6).then_some(())
    });
    let pid = phone.sipd_pid();
    let idle = rss_kib(pid);
    phone.ok(&["set", "proxy_register", "1", "--password", "cisco"]);
    wait_registered(&phone, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(kam.registered_users().len(), 6);
    let six = rss_kib(pid);
    eprintln!("figures: sipd RSS {idle} KiB idle (six lines, proxy_register 0), {six} KiB with six registered");
    // A debug build; the point is that six registrations cost little, not the exact figure.
    assert!(six < idle + 2048, "{idle} KiB -> {six} KiB");
}

/// The RFC 4475 README's verdicts (as in services/sip/tests/rfc4475.rs).
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Handled: a final answer that is not 400 (OPTIONS: 200).
    Accept,
    Status(u16),
    /// May be accepted liberally, else this status.
    Liberal(u16),
    /// A response (malformed or stray): never answered.
    Silent,
}

const TORTURE: &[(&str, Expect)] = {
    use Expect::*;
    &[
        ("wsinv", Accept),
        ("intmeth", Accept),
        ("esc01", Accept),
        ("escnull", Accept),
        ("esc02", Accept),
        ("lwsdisp", Accept),
        ("longreq", Accept),
        ("dblreq", Accept),
        ("semiuri", Accept),
        ("transports", Accept),
        ("mpart01", Accept),
        ("unreason", Silent),
        ("noreason", Silent),
        ("badinv01", Status(400)),
        ("clerr", Status(400)),
        ("ncl", Status(400)),
        ("scalar02", Status(400)),
        ("scalarlg", Silent),
        ("quotbal", Status(400)),
        ("ltgtruri", Status(400)),
        ("lwsruri", Status(400)),
        ("lwsstart", Liberal(400)),
        ("trws", Liberal(400)),
        ("escruri", Liberal(400)),
        ("baddate", Liberal(400)),
        ("regbadct", Status(400)),
        ("badaspec", Status(400)),
        ("baddn", Status(400)),
        ("badvers", Status(505)),
        ("mismatch01", Status(400)),
        ("mismatch02", Status(400)),
        ("bigcode", Silent),
        ("badbranch", Accept),
        ("insuf", Status(400)),
        ("unkscm", Status(416)),
        ("novelsc", Status(416)),
        ("unksm2", Accept),
        ("bext01", Status(420)),
        ("invut", Status(415)),
        ("regaut01", Accept),
        ("multi01", Status(400)),
        ("mcl01", Status(400)),
        ("bcast", Silent),
        ("zeromf", Status(483)),
        ("cparam01", Accept),
        ("cparam02", Accept),
        ("regescrt", Accept),
        ("sdp01", Status(406)),
        ("inv2543", Accept),
    ]
};

/// Pairs with the same branch, sent-by and method: one server transaction (RFC 3261
/// section 17.2.3), so the second is answered as a retransmission of the first.
const TWINS: &[(&str, &str)] = &[
    ("cparam02", "cparam01"),
    ("regescrt", "escnull"),
    ("novelsc", "unkscm"),
];

/// The first Call-ID (`Call-ID` or `i`) of a message, unfolded and trimmed.
fn call_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").skip(1).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        (name == "call-id" || name == "i").then(|| value.trim().to_string())
    })
}

fn status_code(data: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(data);
    let first = text.split("\r\n").next()?;
    first.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Two sockets on a loopback address of our own (127.0.0.X): 5060, where most torture
/// messages' Via sends the answers (and where we send from), and 5050 (quotbal's Via port).
fn torture_sockets() -> (UdpSocket, UdpSocket) {
    for x in 2..=254u8 {
        let ip = format!("127.0.0.{x}");
        if let (Ok(a), Ok(b)) = (
            UdpSocket::bind((ip.as_str(), 5060)),
            UdpSocket::bind((ip.as_str(), 5050)),
        ) {
            for s in [&a, &b] {
                s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            }
            return (a, b);
        }
    }
    panic!("no free 127.0.0.X with ports 5060 and 5050");
}

/// Sends `data`, then an OPTIONS probe, and returns every datagram that arrived before the
/// probe's 200 (sipd answers in order, so everything it had to say about `data` is there).
fn exchange(
    sockets: &(UdpSocket, UdpSocket),
    sipd: SocketAddr,
    data: &[u8],
    probe: usize,
) -> Vec<Vec<u8>> {
    let me = sockets.0.local_addr().unwrap();
    sockets.0.send_to(data, sipd).unwrap();
    let probe_id = format!("probe-{probe}@{}", me.ip());
    let options = format!(
        "OPTIONS sip:1001@{sipd} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKprobe{probe};rport\r\n\
         From: <sip:probe@{}>;tag=p{probe}\r\nTo: <sip:1001@{sipd}>\r\nCall-ID: {probe_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        me.ip()
    );
    sockets.0.send_to(options.as_bytes(), sipd).unwrap();
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = vec![0u8; 65535];
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sipd did not answer OPTIONS probe {probe}"
        );
        for s in [&sockets.0, &sockets.1] {
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                let d = buf[..n].to_vec();
                if call_id(&d).as_deref() == Some(probe_id.as_str()) {
                    assert_eq!(
                        status_code(&d),
                        Some(200),
                        "{}",
                        String::from_utf8_lossy(&d)
                    );
                    // Loopback delivers at once: what sipd sent before this answer is
                    // already queued on the other socket.
                    sockets.1.set_nonblocking(true).unwrap();
                    while let Ok((n, _)) = sockets.1.recv_from(&mut buf) {
                        got.push(buf[..n].to_vec());
                    }
                    sockets.1.set_nonblocking(false).unwrap();
                    return got;
                }
                got.push(d);
            }
        }
    }
}

#[test]
fn every_rfc4475_message_is_answered_and_sipd_stays_registered() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let phone = start_phone(&sample_tree(kam.addr, ""));
    wait_registered(&phone, &[1, 2]);
    let sipd: SocketAddr = format!("127.0.0.1:{}", phone.sip_port).parse().unwrap();
    let dir = workspace().join("../shared/testdata/rfc4475");
    let files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    assert_eq!(files.len(), 49);
    let sockets = torture_sockets();
    let mut wrong = Vec::new();
    // In the RFC's order (the table's), so twins come after the message they repeat.
    for (i, (name, expect)) in TORTURE.iter().enumerate() {
        let data = &files[*name];
        let got = exchange(&sockets, sipd, data, i);
        let mut ids = vec![call_id(data)];
        if let Some((_, twin)) = TWINS.iter().find(|(n, _)| n == name) {
            ids.push(call_id(&files[*twin]));
        }
        // Retransmitted answers to earlier messages (timer G) are not this one's.
        let finals: Vec<u16> = got
            .iter()
            .filter(|d| ids.contains(&call_id(d)))
            .filter_map(|d| status_code(d))
            .filter(|c| *c >= 200)
            .collect();
        let is_options = data.starts_with(b"OPTIONS ");
        // A valid new INVITE rings (180) and waits for someone to answer it.
        let rings = data.starts_with(b"INVITE ")
            && finals.is_empty()
            && got
                .iter()
                .filter(|d| ids.contains(&call_id(d)))
                .any(|d| status_code(d) == Some(180));
        let ok = match expect {
            Expect::Silent => finals.is_empty(),
            Expect::Status(s) => finals == [*s],
            Expect::Liberal(s) => {
                finals == [*s] || (finals.len() == 1 && finals[0] != 400) || rings
            }
            Expect::Accept if is_options => finals == [200],
            Expect::Accept => (finals.len() == 1 && finals[0] != 400) || rings,
        };
        if !ok {
            wrong.push(format!("{name}: expected {expect:?}, answered {finals:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The INVITEs that ring are calls now; declining them leaves none.
    let ringing = phone.status()["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !ringing.is_empty() && ringing.iter().all(|c| c["state"] == "ringing"),
        "{ringing:?}"
    );
    for _ in &ringing {
        phone.ok(&["hangup"]);
    }
    assert_eq!(phone.status()["calls"], serde_json::json!([]));
    // Still registered, at Kamailio too, and still answering (the last probe was answered).
    let ls = lines(&phone);
    assert!(ls.iter().all(|l| l["registered"] == true), "{ls:?}");
    assert_eq!(kam.registered_users(), vec!["1001", "1002"]);
    let again = exchange(&sockets, sipd, b"\r\n\r\n", TORTURE.len());
    assert!(again.iter().all(|d| status_code(d).is_some()));
}

/// A registrar that takes REGISTERs and never answers.
const SILENT_REGISTRAR: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="silent registrar">
  <recv request="REGISTER" />
  <pause milliseconds="9000" />
</scenario>
"#;

#[test]
fn register_is_retransmitted_on_the_t1_t2_schedule_to_a_silent_registrar() {
    let mut sipp = Sipp::start(SILENT_REGISTRAR);
    // Short timers so the schedule runs in 4 s: T1 200 ms, T2 800 ms, 6 retransmissions.
    let files = vec![
        (
            "SIPDefault.cnf".to_string(),
            format!(
                "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"1\"\n\
                 timer_t1: \"200\"\ntimer_t2: \"800\"\nsip_retx: \"6\"\n",
                sipp.addr.port()
            ),
        ),
        (
            format!("SIP{MAC}.cnf"),
            "line1_name: \"1001\"\nline1_authname: \"1001\"\nline1_password: \"x\"\n".to_string(),
        ),
    ];
    let phone = start_phone(&files);
    let failed = wait_for("line 1 to give up", Duration::from_secs(20), || {
        let l = line(&phone, 1);
        (l["state"] == "failed").then_some(l)
    });
    assert_eq!(failed["reason"], "no response from the registrar");
    assert_eq!(sipp.wait(Duration::from_secs(20)), Some(0));
    let registers: Vec<_> = sipp
        .messages()
        .into_iter()
        .filter(|m| m.received && m.text.starts_with("REGISTER "))
        .collect();
    assert_eq!(
        registers.len(),
        7,
        "the REGISTER and sip_retx = 6 retransmissions"
    );
    // Every copy is the same request (same branch and CSeq).
    assert!(registers.iter().all(|m| m.text == registers[0].text));
    let intervals: Vec<u64> = registers
        .windows(2)
        .map(|w| ((w[1].time - w[0].time) * 1000.0).round() as u64)
        .collect();
    let expected = [200u64, 400, 800, 800, 800, 800];
    for (got, want) in intervals.iter().zip(expected) {
        assert!(
            got.abs_diff(want) <= 120,
            "intervals {intervals:?}, expected {expected:?}"
        );
    }
    eprintln!("figures: REGISTER retransmission intervals {intervals:?} ms (T1 200, T2 800)");
}

#[test]
fn check_sync_is_taken_from_the_proxy_address_only_and_handed_to_provd() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let phone = start_phone(&sample_tree(kam.addr, ""));
    wait_registered(&phone, &[1, 2]);
    let sipd = format!("127.0.0.1:{}", phone.sip_port);
    let requested = |p: &Phone| {
        p.status()["status_messages"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| {
                m["text"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("check-sync requested")
            })
    };

    // From an address that is no configured proxy: 403, provd not asked.
    let mut stranger = Sipp::start_on("127.0.0.3", &check_sync_scenario(403), &[&sipd]);
    assert_eq!(
        stranger.wait(Duration::from_secs(20)),
        Some(0),
        "403 expected"
    );
    wait_for("sipd to log the refusal", Duration::from_secs(5), || {
        phone.log_text().contains("from 127.0.0.3").then_some(())
    });
    assert!(phone.log_text().contains("refused: not a configured proxy"));
    assert!(!requested(&phone));
    assert_eq!(phone.status()["resync"]["state"], "idle");

    // From proxy1_address (127.0.0.1): 200, and provd starts its check-sync (waiting for
    // 20 s of idle phone).
    let mut pbx = Sipp::start_on("127.0.0.1", &check_sync_scenario(200), &[&sipd]);
    assert_eq!(pbx.wait(Duration::from_secs(20)), Some(0), "200 expected");
    wait_for(
        "provd to start the check-sync",
        Duration::from_secs(10),
        || requested(&phone).then_some(()),
    );
    assert_eq!(phone.status()["resync"]["state"], "waiting_for_idle_phone");
    assert!(lines(&phone).iter().all(|l| l["registered"] == true));
}

#[test]
fn without_sipd_the_status_has_no_lines_and_says_so() {
    // provd alone (as on an image where sipd failed): the status still works.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tftp");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("SIPDefault.cnf"),
        "proxy1_address: 127.0.0.1\nline1_name: 1001\n",
    )
    .unwrap();
    let runtime = dir.path().join("run");
    let _provd = Guard(
        std::process::Command::new(bin_dir().join("provd"))
            .args(["--mac", MAC, "--reboot-exit-code", "3"])
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--runtime")
            .arg(&runtime)
            .arg("--tftp-root")
            .arg(&root)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("provd"),
    );
    let phonectl = |args: &[&str]| {
        std::process::Command::new(bin_dir().join("phonectl"))
            .arg("--runtime")
            .arg(&runtime)
            .args(args)
            .output()
            .unwrap()
    };
    let json = wait_for("provd to answer", Duration::from_secs(20), || {
        let out = phonectl(&["status", "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap())
            .filter(|s| s["provisioning"]["state"] != "starting")
    });
    assert!(json.get("lines").is_none(), "{json}");
    assert_eq!(json["configuration"]["line1_name"]["value"], "1001");
    let text = phonectl(&["status"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("sipd is not running"));
}

/// A PBX sending check-sync that answers the phone's digest challenge with `password`,
/// expecting `status` in the end.
fn authenticated_check_sync(password: &str, status: u16) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="check-sync with digest">
  <send retrans="500"><![CDATA[
NOTIFY sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:pbx@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 NOTIFY
Max-Forwards: 70
Event: check-sync
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
NOTIFY sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:pbx@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 NOTIFY
Max-Forwards: 70
Event: check-sync
[authentication username=1001 password={password}]
Content-Length: 0

]]></send>
  <recv response="{status}"/>
</scenario>
"#
    )
}

#[test]
fn check_sync_auth_asks_for_a_lines_digest_credentials() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("1002", "secret1002")]);
    let phone = start_phone(&sample_tree(kam.addr, "check_sync_auth: \"1\"\n"));
    wait_registered(&phone, &[1, 2]);
    let sipd = format!("127.0.0.1:{}", phone.sip_port);
    let requested = |p: &Phone| p.status()["resync"]["state"] == "waiting_for_idle_phone";

    // Without credentials: only a challenge, provd is not asked.
    let mut bare = Sipp::start_on("127.0.0.1", &check_sync_scenario(401), &[&sipd]);
    assert_eq!(bare.wait(Duration::from_secs(20)), Some(0), "401 expected");
    // A wrong password: refused.
    let mut wrong = Sipp::start_on(
        "127.0.0.1",
        &authenticated_check_sync("guess", 403),
        &[&sipd],
    );
    assert_eq!(wrong.wait(Duration::from_secs(20)), Some(0), "403 expected");
    assert!(!requested(&phone));
    wait_for("sipd to log the refusal", Duration::from_secs(5), || {
        phone
            .log_text()
            .contains("check-sync credentials refused: wrong password for 1001")
            .then_some(())
    });
    // Line 1's credentials, computed by SIPp: taken and handed to provd.
    let mut good = Sipp::start_on(
        "127.0.0.1",
        &authenticated_check_sync("secret1001", 200),
        &[&sipd],
    );
    assert_eq!(good.wait(Duration::from_secs(20)), Some(0), "200 expected");
    wait_for(
        "provd to start the check-sync",
        Duration::from_secs(10),
        || requested(&phone).then_some(()),
    );
    assert!(phone
        .log_text()
        .contains("check-sync authenticated as 1001"));
}
