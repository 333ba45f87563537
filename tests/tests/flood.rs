//! sipd under a flood: six lines registered with Kamailio for 60 s (Kamailio's `min_expires`,
//! so the phone refreshes after 30 s: the margin is half the granted time, see
//! `refresh_margin`), and 3,000 datagrams a second for about 30 s from three loopback
//! addresses of their own. First 6 s of junk (random bytes, keep-alives, responses that
//! match nothing: no state in sipd), then the mix: junk, truncated requests, and
//! valid-looking OPTIONS, REGISTER, NOTIFY, BYE, MESSAGE, re-INVITEs of unknown dialogs and
//! a ringing INVITE a second (Expires 4, to lines 2-6), every one a new transaction, enough
//! to fill the 512 server transactions many times over. Meanwhile the refresh of every line
//! must reach Kamailio, a legitimate INVITE from SIPp to line 1 must ring the phone
//! (`phonectl status`) under either flood, and sipd's memory must stay bounded. Also sipd's
//! memory with six lines registered, idle and with four calls up. The figures are printed
//! as `figures: ...`.
//!
//! The two tests take turns (a lock): the flood would disturb the other's figures.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deskphone_e2e::sip::{Kamailio, Sipp};
use deskphone_e2e::{rss_kib, wait_for, Phone, SimPhone};
use serde_json::Value;

const MAC: &str = "525400123456";

/// One test at a time in this file.
static TURN: Mutex<()> = Mutex::new(());

/// Flood datagrams a second, in all, and how many sending threads share them.
const FLOOD_RATE: u64 = 3000;
const FLOOD_THREADS: u64 = 3;
/// The flood's hard limit, whatever happens to the test.
const FLOOD_MAX: Duration = Duration::from_secs(45);

/// sipd's RSS must stay below this (a debug build).
const RSS_LIMIT_KIB: u64 = 64 * 1024;

fn users() -> Vec<(String, String)> {
    (1..=6)
        .map(|n| (format!("100{n}"), format!("pw-100{n}")))
        .collect()
}

/// Kamailio with 1001..1006 and a phone registering its six lines there for
/// `timer_register_expires` 60 s.
fn six_line_phone() -> (Kamailio, SimPhone) {
    let users = users();
    let refs: Vec<(&str, &str)> = users
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let kam = Kamailio::start(&refs);
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"1\"\n\
         timer_register_expires: \"60\"\nstart_media_port: \"20000\"\nend_media_port: \"20100\"\n",
        kam.addr.port()
    );
    let mut specific = String::new();
    for (n, (u, p)) in users.iter().enumerate() {
        let n = n + 1;
        specific.push_str(&format!(
            "line{n}_name: \"{u}\"\nline{n}_authname: \"{u}\"\nline{n}_password: \"{p}\"\n"
        ));
    }
    let specific_name = format!("SIP{MAC}.cnf");
    let phone = SimPhone::start(
        MAC,
        &[
            ("SIPDefault.cnf", default.as_str()),
            (specific_name.as_str(), specific.as_str()),
        ],
    );
    wait_for("six registered lines", Duration::from_secs(30), || {
        let ls = phone.lines();
        (ls.len() == 6 && ls.iter().all(|l| l["registered"] == true)).then_some(())
    });
    (kam, phone)
}

fn lines(p: &Phone) -> Vec<Value> {
    p.status()["lines"].as_array().cloned().unwrap_or_default()
}

fn calls(p: &Phone) -> Vec<Value> {
    p.status()["calls"].as_array().cloned().unwrap_or_default()
}

/// Polls `f` until it gives `Some` or `timeout` passes (`None`: the caller reports it).
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// SIPp calling line `user` of the phone: INVITE, then 180 and `then`.
fn calling_scenario(user: &str, then: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call the phone">
  <send retrans="500"><![CDATA[
INVITE sip:{user}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Front Desk" <sip:2000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:2000@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio 6002 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>{then}</scenario>
"#
    )
}

/// ... the phone declines (603), SIPp acknowledges.
const DECLINED: &str = r#"
  <recv response="603" timeout="30000"/>
  <send><![CDATA[
ACK sip:1001@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: "Front Desk" <sip:2000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
"#;

/// ... the phone answers, SIPp acknowledges and waits for the phone's BYE.
const ANSWERED: &str = r#"
  <recv response="200" timeout="30000" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Front Desk" <sip:2000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv request="BYE" timeout="30000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"#;

/// The call from SIPp (Front Desk) ringing on `line`.
fn ringing_from_sipp(p: &Phone, line: u64) -> Option<Value> {
    calls(p).into_iter().find(|c| {
        c["line"] == line
            && c["state"] == "ringing"
            && c["remote"].as_str().unwrap_or_default().contains("2000")
    })
}

/// INVITE sent to the first 180 received, in ms, from SIPp's message log.
fn invite_to_180_ms(sipp: &Sipp) -> Option<f64> {
    let m = sipp.messages();
    let invite = m
        .iter()
        .find(|x| !x.received && x.text.starts_with("INVITE "))?;
    let ringing = m
        .iter()
        .find(|x| x.received && x.text.starts_with("SIP/2.0 180"))?;
    Some((ringing.time - invite.time) * 1000.0)
}

/// The status lines SIPp received, in order.
fn sipp_statuses(sipp: &Sipp) -> Vec<String> {
    sipp.messages()
        .into_iter()
        .filter(|m| m.received && m.text.starts_with("SIP/2.0 "))
        .map(|m| m.text.lines().next().unwrap_or_default().trim().to_string())
        .collect()
}

/// A legitimate call to line 1 that must ring; the phone declines it. The INVITE -> 180
/// latency, or what went wrong.
fn legitimate_call(phone: &Phone, sip_port: u16) -> Result<f64, String> {
    let target = format!("127.0.0.1:{sip_port}");
    let mut sipp = Sipp::start_on("127.0.0.1", &calling_scenario("1001", DECLINED), &[&target]);
    // Ringing, or refused (a final status), or nothing within 10 s.
    let rang = poll(Duration::from_secs(10), || {
        if let Some(call) = ringing_from_sipp(phone, 1) {
            return Some(Some(call));
        }
        let refused = sipp_statuses(&sipp)
            .iter()
            .any(|s| !s.starts_with("SIP/2.0 1"));
        refused.then_some(None)
    });
    let Some(Some(call)) = rang else {
        return Err(format!(
            "the legitimate INVITE did not ring: SIPp received {:?}; calls {:?}",
            sipp_statuses(&sipp),
            calls(phone)
        ));
    };
    let latency = poll(Duration::from_secs(5), || invite_to_180_ms(&sipp));
    let id = call["id"].to_string();
    let out = phone.phonectl(&["hangup", &id]);
    if !out.status.success() {
        return Err(format!(
            "phonectl hangup {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match sipp.wait(Duration::from_secs(15)) {
        Some(0) => {}
        other => {
            return Err(format!(
                "SIPp ended with {other:?} (603 expected), received {:?}",
                sipp_statuses(&sipp)
            ))
        }
    }
    latency.ok_or_else(|| "no INVITE/180 pair in SIPp's log".to_string())
}

/// A tiny xorshift generator: the flood needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FLOOD_SDP: &str = "v=0\r\no=x 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n\
                         m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A valid-looking request with a new branch, Call-ID and From tag.
fn flood_request(
    rng: &mut Rng,
    me: SocketAddr,
    sipd: SocketAddr,
    method: &str,
    user: &str,
    extra: &str,
    body: &str,
) -> String {
    let r = rng.next();
    let n = rng.next();
    format!(
        "{method} sip:{user}@{sipd} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK{r:x};rport\r\n\
         From: <sip:flood@{ip}>;tag={n:x}\r\n\
         To: <sip:{user}@{sipd}>{extra}\r\n\
         Call-ID: {n:x}{r:x}@{ip}\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         Contact: <sip:flood@{me}>\r\n\
         Content-Length: {len}\r\n\r\n{body}",
        ip = me.ip(),
        cseq = 1 + r % 1000,
        len = body.len(),
    )
}

/// A datagram of the junk phase: nothing sipd keeps a transaction for (random bytes,
/// keep-alives, responses that match no transaction).
fn junk_datagram(rng: &mut Rng, me: SocketAddr, sipd: SocketAddr) -> Vec<u8> {
    match rng.below(100) {
        0..=59 => {
            let len = 1 + rng.below(1200) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        }
        60..=69 => b"\r\n\r\n".to_vec(),
        _ => {
            let r = rng.next();
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {sipd};branch=z9hG4bK{r:x}\r\n\
                 From: <sip:1001@{sipd}>;tag={r:x}\r\nTo: <sip:1001@{sipd}>;tag=x{r:x}\r\n\
                 Call-ID: stray{r:x}@{ip}\r\nCSeq: {cseq} REGISTER\r\nContent-Length: 0\r\n\r\n",
                ip = me.ip(),
                cseq = r % 1000,
            )
            .into_bytes()
        }
    }
}

/// A datagram of the mixed phase. Ringing INVITEs (Expires 4, to lines 2-6) are sent apart,
/// one a second; here: junk and requests that do not ring, each a new transaction.
fn flood_datagram(rng: &mut Rng, me: SocketAddr, sipd: SocketAddr) -> Vec<u8> {
    let user = format!("100{}", 1 + rng.below(6));
    let pick = rng.below(100);
    match pick {
        // Random bytes.
        0..=19 => {
            let len = 1 + rng.below(1200) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        }
        // A valid request cut short.
        20..=29 => {
            let full = flood_request(rng, me, sipd, "OPTIONS", &user, "", "");
            let cut = 1 + rng.below(full.len() as u64 - 1) as usize;
            full.as_bytes()[..cut].to_vec()
        }
        30..=49 => flood_request(rng, me, sipd, "OPTIONS", &user, "", "").into_bytes(),
        50..=61 => flood_request(rng, me, sipd, "REGISTER", &user, "", "").into_bytes(),
        62..=71 => {
            flood_request(rng, me, sipd, "NOTIFY", &user, "\r\nEvent: presence", "").into_bytes()
        }
        // A check-sync from an address that is no proxy: 403 and a status message.
        72..=73 => {
            flood_request(rng, me, sipd, "NOTIFY", &user, "\r\nEvent: check-sync", "").into_bytes()
        }
        74..=83 => flood_request(rng, me, sipd, "BYE", &user, ";tag=nodialog", "").into_bytes(),
        84..=89 => flood_request(rng, me, sipd, "MESSAGE", &user, "", "hello, phone").into_bytes(),
        // A re-INVITE of a dialog that does not exist.
        _ => {
            let extra = format!(";tag=gone{:x}\r\nContent-Type: application/sdp", rng.next());
            flood_request(rng, me, sipd, "INVITE", &user, &extra, FLOOD_SDP).into_bytes()
        }
    }
}

/// What one flood thread did.
#[derive(Debug, Default)]
struct FloodCount {
    sent: u64,
    ringing_invites: u64,
    /// Answers that came back, by status code.
    answers: BTreeMap<u16, u64>,
}

/// The flood: threads sending at a fixed rate from 127.0.0.(20+i) until stopped (or
/// [`FLOOD_MAX`]), junk only until [`Flood::mix`]. Dropping it stops them.
struct Flood {
    stop: Arc<AtomicBool>,
    mixed: Arc<AtomicBool>,
    threads: Vec<JoinHandle<FloodCount>>,
}

impl Flood {
    fn start(sipd: SocketAddr) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let mixed = Arc::new(AtomicBool::new(false));
        let per_thread = FLOOD_RATE / FLOOD_THREADS;
        let threads = (0..FLOOD_THREADS)
            .map(|i| {
                let stop = stop.clone();
                let mixed = mixed.clone();
                let socket = UdpSocket::bind((format!("127.0.0.{}", 20 + i).as_str(), 0))
                    .expect("a flood socket");
                socket.set_nonblocking(true).unwrap();
                std::thread::spawn(move || flood_thread(socket, sipd, per_thread, i, &stop, &mixed))
            })
            .collect();
        Flood {
            stop,
            mixed,
            threads,
        }
    }

    /// From now on valid-looking requests too.
    fn mix(&self) {
        self.mixed.store(true, Ordering::SeqCst);
    }

    fn finish(mut self) -> FloodCount {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = FloodCount::default();
        for t in self.threads.drain(..) {
            let c = t.join().expect("flood thread");
            total.sent += c.sent;
            total.ringing_invites += c.ringing_invites;
            for (code, n) in c.answers {
                *total.answers.entry(code).or_default() += n;
            }
        }
        total
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn flood_thread(
    socket: UdpSocket,
    sipd: SocketAddr,
    rate: u64,
    seed: u64,
    stop: &AtomicBool,
    mixed: &AtomicBool,
) -> FloodCount {
    let me = socket.local_addr().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut count = FloodCount::default();
    let mut buf = vec![0u8; 65535];
    let start = Instant::now();
    let mut next_ring = start;
    while !stop.load(Ordering::SeqCst) && start.elapsed() < FLOOD_MAX {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        let mix = mixed.load(Ordering::SeqCst);
        while count.sent < due {
            let d = if mix {
                flood_datagram(&mut rng, me, sipd)
            } else {
                junk_datagram(&mut rng, me, sipd)
            };
            let _ = socket.send_to(&d, sipd);
            count.sent += 1;
        }
        if !mix {
            next_ring = Instant::now();
        } else if seed == 0 && Instant::now() >= next_ring {
            // A call that rings: to lines 2-6, gone by itself after its Expires.
            let user = format!("100{}", 2 + rng.below(5));
            let invite = flood_request(
                &mut rng,
                me,
                sipd,
                "INVITE",
                &user,
                "\r\nExpires: 4\r\nContent-Type: application/sdp",
                FLOOD_SDP,
            );
            let _ = socket.send_to(invite.as_bytes(), sipd);
            count.ringing_invites += 1;
            next_ring += Duration::from_secs(1);
        }
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            if let Some(code) = buf[..n]
                .strip_prefix(b"SIP/2.0 ")
                .and_then(|r| std::str::from_utf8(r.get(..3)?).ok())
                .and_then(|c| c.parse().ok())
            {
                *count.answers.entry(code).or_default() += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    count
}

/// sipd's RSS every 250 ms until stopped: (seconds since start, KiB).
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(f64, u64)>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut out = Vec::new();
            while !s.load(Ordering::SeqCst) && start.elapsed() < FLOOD_MAX {
                out.push((start.elapsed().as_secs_f64(), rss_kib(pid)));
                std::thread::sleep(Duration::from_millis(250));
            }
            out
        });
        RssSampler { stop, thread }
    }

    fn finish(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("RSS sampler")
    }
}

/// Datagrams the kernel dropped on 127.0.0.1:`port` (its receive buffer was full), from
/// /proc/net/udp.
fn udp_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()))
            .then(|| fields.last()?.parse().ok())
            .flatten()
    })
}

/// A new OPTIONS from an address of its own: the status line of the answer.
fn options_probe(sipd: SocketAddr) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.30:0").ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let me = socket.local_addr().ok()?;
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let options = flood_request(&mut rng, me, sipd, "OPTIONS", "1001", "", "");
    socket.send_to(options.as_bytes(), sipd).ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().map(str::to_string)
}

/// Per user, the times of the REGISTERs Kamailio accepted after `since` (Unix seconds).
fn accepted_since(kam: &Kamailio, since: f64) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in kam.registers() {
        if r.outcome == "registered" && r.time > since && r.expires != "0" {
            out.entry(r.user).or_default().push(r.time);
        }
    }
    out
}

#[test]
fn a_flood_does_not_stop_refreshes_or_a_real_call_ringing() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (kam, phone) = six_line_phone();
    let sip_port = phone.sip_port;
    let sipd: SocketAddr = format!("127.0.0.1:{sip_port}").parse().unwrap();
    let pid = phone.sipd_pid();
    // The last REGISTER of the first registration: the refreshes come 30 s after it.
    let registered_at = kam
        .registers()
        .iter()
        .filter(|r| r.outcome == "registered")
        .map(|r| r.time)
        .fold(0.0, f64::max);
    let granted: Vec<Value> = lines(&phone)
        .iter()
        .map(|l| l["expires_in"].clone())
        .collect();
    let idle_rss = rss_kib(pid);

    // Without the flood first: the INVITE -> 180 latency to compare with.
    let quiet = legitimate_call(&phone, sip_port).expect("a call without the flood rings");

    let flood_start = unix_now();
    let flooding = Instant::now();
    let sampler = RssSampler::start(pid);
    let flood = Flood::start(sipd);
    let mut problems = Vec::new();

    // A legitimate call under the junk flood (3 s in), then two under the mixed flood (from
    // 6 s on: at 11 s and 20 s).
    let mut under_junk = Vec::new();
    let mut under_mix = Vec::new();
    for at in [3, 11, 20] {
        let wait = Duration::from_secs(at).saturating_sub(flooding.elapsed());
        std::thread::sleep(wait);
        let t = flooding.elapsed().as_secs_f64();
        match legitimate_call(&phone, sip_port) {
            Ok(ms) if at > 6 => under_mix.push(ms),
            Ok(ms) => under_junk.push(ms),
            Err(e) => problems.push(format!("{t:.1} s into the flood: {e}")),
        }
        if at == 3 {
            std::thread::sleep(Duration::from_secs(6).saturating_sub(flooding.elapsed()));
            flood.mix();
        }
    }
    // The flood goes on until every line has refreshed (due 30 s after the registration),
    // at least 20 s, at most until 45 s after the registration.
    let refresh_deadline = registered_at + 45.0;
    let refreshed = poll(
        Duration::from_secs_f64((refresh_deadline - unix_now()).max(1.0)),
        || {
            let a = accepted_since(&kam, flood_start);
            (a.len() == 6 && flooding.elapsed() >= Duration::from_secs(20)).then_some(a)
        },
    );
    let flood_secs = flooding.elapsed().as_secs_f64();
    let flood_end = unix_now();
    let count = flood.finish();
    let dropped = udp_drops(sip_port);
    let status_at_end = lines(&phone);
    let calls_at_end = calls(&phone);
    std::thread::sleep(Duration::from_secs(2));
    let probe = options_probe(sipd);
    let samples = sampler.finish();
    let after_rss = rss_kib(pid);
    let peak = samples
        .iter()
        .map(|s| s.1)
        .max()
        .unwrap_or(0)
        .max(after_rss);

    let refreshes = accepted_since(&kam, flood_start);
    let refresh_offsets: BTreeMap<&String, Vec<String>> = refreshes
        .iter()
        .map(|(u, ts)| {
            (
                u,
                ts.iter()
                    .map(|t| format!("{:.1}", t - registered_at))
                    .collect(),
            )
        })
        .collect();
    let rss_trace: Vec<String> = samples
        .iter()
        .step_by(4)
        .map(|(t, k)| format!("{t:.0}s:{}", k / 1024))
        .collect();
    eprintln!(
        "figures: flood {} datagrams in {flood_secs:.1} s ({:.0}/s) plus {} ringing INVITEs; \
         answers by status {:?}; dropped by the kernel (sipd's receive buffer full): {dropped:?}",
        count.sent,
        count.sent as f64 / flood_secs,
        count.ringing_invites,
        count.answers
    );
    eprintln!(
        "figures: INVITE -> 180 {quiet:.1} ms without the flood, {under_junk:.1?} ms under \
         the junk flood, {under_mix:.1?} ms under the mixed flood; a new OPTIONS 2 s after \
         the flood: {probe:?}"
    );
    eprintln!(
        "figures: granted expires {granted:?}; REGISTERs accepted during the flood, s after \
         the registration: {refresh_offsets:?}"
    );
    eprintln!(
        "figures: sipd RSS {idle_rss} KiB idle (six lines registered), peak {peak} KiB under \
         the flood, {after_rss} KiB 2 s after it; MiB over time {rss_trace:?}"
    );

    if refreshed.is_none() {
        problems.push(format!(
            "not every line refreshed during the flood: {refresh_offsets:?}"
        ));
    }
    for (user, times) in &refreshes {
        if !times.iter().any(|t| *t < flood_end) {
            problems.push(format!("{user} refreshed only after the flood: {times:?}"));
        }
    }
    if !status_at_end.iter().all(|l| l["registered"] == true) || status_at_end.len() != 6 {
        problems.push(format!("lines at the end of the flood: {status_at_end:?}"));
    }
    let bound = kam.registered_users();
    if bound.len() != 6 {
        problems.push(format!("Kamailio's bindings after the flood: {bound:?}"));
    }
    if peak >= RSS_LIMIT_KIB {
        problems.push(format!("sipd's RSS reached {peak} KiB"));
    }
    // The flood's ringing calls go by their Expires: never more than the core's limit.
    if calls_at_end.len() > 12 {
        problems.push(format!(
            "{} calls at the end of the flood",
            calls_at_end.len()
        ));
    }
    // sipd kept answering the flood.
    let answered: u64 = count.answers.values().sum();
    if answered == 0 {
        problems.push("sipd answered nothing of the flood".into());
    }
    // Still alive and well after it: the status answers and the lines are registered.
    assert!(
        lines(&phone).iter().all(|l| l["registered"] == true),
        "{:?}",
        lines(&phone)
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn memory_with_six_lines_registered_idle_and_with_four_calls() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (_kam, phone) = six_line_phone();
    let sip_port = phone.sip_port;
    let pid = phone.sipd_pid();
    // Settled: the registration's transactions are still around for a while; the figure
    // is what a phone sitting there costs.
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(pid);
    let target = format!("127.0.0.1:{sip_port}");
    let mut sipps = Vec::new();
    for line in 1..=4u64 {
        let user = format!("100{line}");
        let sipp = Sipp::start_on("127.0.0.1", &calling_scenario(&user, ANSWERED), &[&target]);
        let call = wait_for(
            &format!("the call on line {line} to ring"),
            Duration::from_secs(10),
            || ringing_from_sipp(&phone, line),
        );
        let out = phone.phonectl(&["answer", &call["id"].to_string()]);
        assert!(
            out.status.success(),
            "answer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sipps.push(sipp);
    }
    let connected = wait_for("four connected calls", Duration::from_secs(10), || {
        let c = calls(&phone);
        (c.len() == 4 && c.iter().all(|c| c["state"] == "connected")).then_some(c)
    });
    let lines_of: Vec<&Value> = connected.iter().map(|c| &c["line"]).collect();
    assert_eq!(lines_of, [1, 2, 3, 4], "{connected:?}");
    let four = rss_kib(pid);
    for c in &connected {
        phone.ok(&["hangup", &c["id"].to_string()]);
    }
    for s in &mut sipps {
        assert_eq!(s.wait(Duration::from_secs(15)), Some(0), "SIPp got its BYE");
    }
    wait_for("the calls to end", Duration::from_secs(10), || {
        calls(&phone).is_empty().then_some(())
    });
    let after = rss_kib(pid);
    eprintln!(
        "figures: sipd RSS {idle} KiB idle with six lines registered, {four} KiB with four \
         calls up, {after} KiB after they ended (debug build)"
    );
    assert!(
        lines(&phone).iter().all(|l| l["registered"] == true),
        "{:?}",
        lines(&phone)
    );
    // Four calls cost little; a debug build, so the bound is loose.
    assert!(four < idle + 4096, "{idle} KiB -> {four} KiB");
    assert!(four < RSS_LIMIT_KIB && after < RSS_LIMIT_KIB);
}
