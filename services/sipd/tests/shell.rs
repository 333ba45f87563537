//! The shell in simulated time against a registrar played by the test: plans applied,
//! `proxy_register` toggled, lines changed while registered, requests the core hands up,
//! check-sync trust, and the stop.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use deskphone_sip::{
    inspect, CallSettings, LineSettings, Message, Name, Settings, Transmit, Verdict,
};
use deskphone_sipd::plan::{MediaOptions, Plan, PlannedLine};
use deskphone_sipd::shell::{Shell, ShellEvent};

const PHONE: &str = "192.0.2.20:5060";
const PROXY: &str = "192.0.2.1:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn line(n: u8, name: &str) -> PlannedLine {
    PlannedLine {
        settings: LineSettings {
            line: n,
            name: name.into(),
            authname: Some(name.into()),
            password: Some("secret".into()),
            display_name: None,
            proxy: "192.0.2.1".into(),
            proxy_port: 5060,
        },
        destination: Ok(addr(PROXY)),
        backup: None,
    }
}

fn plan(register: bool, lines: Vec<PlannedLine>) -> Plan {
    Plan {
        dial_plan: Default::default(),
        emergency: None,
        route_hosts: Default::default(),
        settings: Settings {
            register,
            ..Settings::default()
        },
        local: addr(PHONE),
        lines,
        trusted: vec![IpAddr::from([192, 0, 2, 1])],
        check_sync_any_source: false,
        check_sync_auth: false,
        calls: CallSettings::from_config(
            &deskphone_config::Config::new(deskphone_config::Mac([0; 6])),
            "192.0.2.20",
            None,
        ),
        media: MediaOptions::from_config(&deskphone_config::Config::new(deskphone_config::Mac(
            [0; 6],
        ))),
        mwi_subscribe: false,
    }
}

fn sent(shell: &mut Shell) -> Vec<Transmit> {
    std::iter::from_fn(|| shell.poll_transmit()).collect()
}

fn parse(t: &Transmit) -> Message {
    match inspect(&t.payload) {
        Verdict::Request(m) | Verdict::Response(m) => m,
        other => panic!("{other:?}"),
    }
}

fn events(shell: &mut Shell) -> Vec<ShellEvent> {
    std::iter::from_fn(|| shell.poll_event()).collect()
}

/// The registrar's answer to `request`: 200 with the Contact and its expiry.
fn ok(request: &Message) -> Vec<u8> {
    let expires: u32 = request
        .header(&Name::EXPIRES)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut s = String::from("SIP/2.0 200 OK\r\n");
    for via in request.vias() {
        s.push_str(&format!("Via: {via}\r\n"));
    }
    for (text, name) in [
        ("From", Name::FROM),
        ("Call-ID", Name::CALL_ID),
        ("CSeq", Name::CSEQ),
    ] {
        s.push_str(&format!("{text}: {}\r\n", request.header(&name).unwrap()));
    }
    s.push_str(&format!(
        "To: {};tag=reg\r\n",
        request.header(&Name::TO).unwrap()
    ));
    if expires > 0 {
        let contact = request.header(&Name::CONTACT).unwrap();
        s.push_str(&format!("Contact: {contact};expires={expires}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

fn registers(shell: &mut Shell) -> Vec<Message> {
    sent(shell)
        .iter()
        .filter(|t| t.destination == addr(PROXY))
        .map(parse)
        .filter(|m| m.method() == Some("REGISTER"))
        .collect()
}

fn answer_all(shell: &mut Shell, now: Instant, requests: &[Message]) {
    for r in requests {
        shell.handle_datagram(now, addr(PROXY), &ok(r));
    }
}

fn state_of(shell: &Shell, now: Instant, n: u8) -> (String, bool, Option<String>) {
    let l = shell.line(now, n).expect("line");
    (l.state, l.registered, l.reason)
}

#[test]
fn registers_toggles_with_proxy_register_and_stops_cleanly() {
    let t0 = Instant::now();
    let mut shell = Shell::new(1);
    shell.apply(t0, plan(true, vec![line(1, "1001"), line(2, "1002")]));
    let regs = registers(&mut shell);
    assert_eq!(regs.len(), 2);
    assert_eq!(state_of(&shell, t0, 1).0, "registering");
    answer_all(&mut shell, t0, &regs);
    for n in [1, 2] {
        assert_eq!(state_of(&shell, t0, n), ("registered".into(), true, None));
    }
    let l = shell.line(t0, 1).unwrap();
    assert_eq!(l.proxy, "192.0.2.1:5060");
    assert_eq!(l.expires_in, Some(3600));
    assert!(events(&mut shell).contains(&ShellEvent::Line(2)));

    // proxy_register 0: Expires 0 for each line, then unregistered with the reason.
    let t1 = t0 + Duration::from_secs(10);
    shell.apply(t1, plan(false, vec![line(1, "1001"), line(2, "1002")]));
    let unregs = registers(&mut shell);
    assert_eq!(unregs.len(), 2);
    assert!(unregs.iter().all(|m| m.header(&Name::EXPIRES) == Some("0")));
    // Same Call-ID as the registration: the registrar removes that binding.
    assert_eq!(unregs[0].call_id(), regs[0].call_id());
    answer_all(&mut shell, t1, &unregs);
    assert_eq!(
        state_of(&shell, t1, 1),
        (
            "unregistered".into(),
            false,
            Some("proxy_register is 0".into())
        )
    );
    // Nothing more is sent while unregistered, however long it stays so.
    let end = t1 + Duration::from_secs(7200);
    while let Some(t) = shell.poll_timeout().filter(|t| *t <= end) {
        shell.handle_timeout(t);
        assert!(sent(&mut shell).is_empty());
    }

    // Back to 1: registered again.
    let t2 = t1 + Duration::from_secs(10);
    shell.apply(t2, plan(true, vec![line(1, "1001"), line(2, "1002")]));
    let again = registers(&mut shell);
    assert_eq!(again.len(), 2);
    assert!(again
        .iter()
        .all(|m| m.header(&Name::EXPIRES) == Some("3600")));
    answer_all(&mut shell, t2, &again);
    assert!(shell.line(t2, 2).unwrap().registered);

    // Stopping unregisters every line.
    shell.shutdown(t2);
    assert!(!shell.is_quiet());
    let last = registers(&mut shell);
    assert_eq!(last.len(), 2);
    answer_all(&mut shell, t2, &last);
    assert!(shell.is_quiet());
    assert_eq!(
        state_of(&shell, t2, 1).2.as_deref(),
        Some("sipd is stopping")
    );
}

#[test]
fn a_renamed_line_unregisters_the_old_binding_and_registers_the_new() {
    let t0 = Instant::now();
    let mut shell = Shell::new(2);
    shell.apply(t0, plan(true, vec![line(1, "1001"), line(2, "1002")]));
    let regs = registers(&mut shell);
    answer_all(&mut shell, t0, &regs);

    // Line 2 changes its name; line 1 only its password (the binding is taken over).
    let mut l1 = line(1, "1001");
    l1.settings.password = Some("changed".into());
    shell.apply(t0, plan(true, vec![l1, line(2, "2002")]));
    let out = registers(&mut shell);
    let by = |user: &str, expires: &str| {
        out.iter()
            .filter(|m| {
                m.header(&Name::TO).unwrap().contains(user)
                    && m.header(&Name::EXPIRES) == Some(expires)
            })
            .count()
    };
    assert_eq!(by("1002", "0"), 1, "the old name is unregistered");
    assert_eq!(by("2002", "3600"), 1);
    assert_eq!(by("1001", "3600"), 1);
    assert_eq!(by("1001", "0"), 0, "a taken-over binding is not removed");
    assert_eq!(out.len(), 3);
    assert_eq!(shell.line(t0, 2).unwrap().name, "2002");
    answer_all(&mut shell, t0, &out);
    assert!(shell.line(t0, 1).unwrap().registered);
    assert!(shell.line(t0, 2).unwrap().registered);
    // The retiring user agent is gone once its unregistration was answered.
    shell.shutdown(t0);
    let last = registers(&mut shell);
    answer_all(&mut shell, t0, &last);
    assert!(shell.is_quiet());
}

#[test]
fn an_unresolved_proxy_is_a_reason_not_a_failure_of_the_others() {
    let t0 = Instant::now();
    let mut shell = Shell::new(3);
    let mut bad = line(2, "1002");
    bad.destination = Err("cannot resolve pbx.invalid: no such host".into());
    shell.apply(t0, plan(true, vec![line(1, "1001"), bad.clone()]));
    assert_eq!(registers(&mut shell).len(), 1);
    let (state, registered, reason) = state_of(&shell, t0, 2);
    assert_eq!((state.as_str(), registered), ("failed", false));
    assert!(reason.unwrap().contains("pbx.invalid"));
    shell.apply(t0, plan(false, vec![line(1, "1001"), bad]));
    assert_eq!(
        state_of(&shell, t0, 2).2.as_deref(),
        Some("proxy_register is 0")
    );
}

fn request(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\nContent-Length: 0\r\n\r\n");
    s.into_bytes()
}

fn notify(branch: &str, event: &str, from: &str) -> Vec<u8> {
    request(&[
        "NOTIFY sip:1001@192.0.2.20:5060 SIP/2.0",
        &format!("Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch}"),
        "From: <sip:pbx@192.0.2.1>;tag=p1",
        "To: <sip:1001@192.0.2.20>",
        &format!("Call-ID: {branch}@pbx"),
        "CSeq: 1 NOTIFY",
        "Max-Forwards: 70",
        &format!("Event: {event}"),
    ])
}

fn answers(shell: &mut Shell) -> Vec<(SocketAddr, u16, Message)> {
    sent(shell)
        .iter()
        .map(|t| {
            let m = parse(t);
            (t.destination, m.code().unwrap(), m)
        })
        .collect()
}

#[test]
fn check_sync_only_from_the_proxies_and_other_requests_get_plain_answers() {
    let t0 = Instant::now();
    let mut shell = Shell::new(4);
    shell.apply(t0, plan(false, vec![line(1, "1001")]));
    events(&mut shell);

    shell.handle_datagram(t0, addr(PROXY), &notify("cs1", "check-sync", "192.0.2.1"));
    let a = answers(&mut shell);
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].0, a[0].1), (addr(PROXY), 200));
    assert_eq!(
        events(&mut shell),
        vec![ShellEvent::CheckSync {
            source: addr(PROXY),
            event: "check-sync".into()
        }]
    );
    // The PBX spellings with a parameter count too.
    shell.handle_datagram(
        t0,
        addr(PROXY),
        &notify("cs2", "check-sync;reboot=false", "192.0.2.1"),
    );
    assert_eq!(answers(&mut shell)[0].1, 200);
    assert!(matches!(
        events(&mut shell)[..],
        [ShellEvent::CheckSync { .. }]
    ));

    let stranger = addr("198.51.100.9:5060");
    shell.handle_datagram(t0, stranger, &notify("cs3", "check-sync", "198.51.100.9"));
    let a = answers(&mut shell);
    assert_eq!((a[0].0, a[0].1), (stranger, 403));
    assert!(matches!(
        events(&mut shell)[..],
        [ShellEvent::CheckSyncRefused { .. }]
    ));
    // A retransmission gets the same answer and is not handed on twice.
    shell.handle_datagram(t0, stranger, &notify("cs3", "check-sync", "198.51.100.9"));
    assert_eq!(answers(&mut shell)[0].1, 403);
    assert!(events(&mut shell).is_empty());

    shell.handle_datagram(t0, addr(PROXY), &notify("pres", "presence", "192.0.2.1"));
    let a = answers(&mut shell);
    assert_eq!(a[0].1, 489);
    assert_eq!(
        a[0].2.header(&Name::ALLOW_EVENTS),
        Some("check-sync, message-summary")
    );

    let invite = request(&[
        "INVITE sip:1001@192.0.2.20:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.9:5070;branch=z9hG4bKinv1",
        "From: <sip:caller@198.51.100.9>;tag=c1",
        "To: <sip:1001@192.0.2.20>",
        "Call-ID: inv1@caller",
        "CSeq: 1 INVITE",
        "Max-Forwards: 70",
        "Contact: <sip:caller@198.51.100.9:5070>",
    ]);
    shell.handle_datagram(t0, stranger, &invite);
    let codes: Vec<u16> = answers(&mut shell).iter().map(|a| a.1).collect();
    assert_eq!(codes, vec![100, 180], "an INVITE rings");
    let ev = events(&mut shell);
    assert!(
        ev.iter().any(
            |e| matches!(e, ShellEvent::Call(c) if c.state == "ringing" && c.remote == "caller")
        ),
        "{ev:?}"
    );
    assert_eq!(ev.last(), Some(&ShellEvent::Busy(true)));
    assert_eq!(shell.calls(t0).len(), 1);

    let odd = request(&[
        "FROBNICATE sip:1001@192.0.2.20:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.9:5070;branch=z9hG4bKodd1",
        "From: <sip:caller@198.51.100.9>;tag=c1",
        "To: <sip:1001@192.0.2.20>",
        "Call-ID: odd1@caller",
        "CSeq: 1 FROBNICATE",
        "Max-Forwards: 70",
    ]);
    shell.handle_datagram(t0, stranger, &odd);
    let a = answers(&mut shell);
    assert_eq!(a[0].1, 501);
    assert!(a[0].2.header(&Name::ALLOW).unwrap().contains("OPTIONS"));
    // The Via port is where answers go (no rport asked).
    assert_eq!(a[0].0, addr("198.51.100.9:5070"));
}

#[test]
fn check_syncs_are_rate_limited_and_any_source_can_be_allowed() {
    let t0 = Instant::now();
    let mut shell = Shell::new(5);
    shell.apply(t0, plan(false, vec![line(1, "1001")]));
    events(&mut shell);
    let at = |s: u64| t0 + Duration::from_secs(s);
    // Three within a minute are taken, the fourth is refused and says why.
    for (i, s) in [0, 10, 20].iter().enumerate() {
        shell.handle_datagram(
            at(*s),
            addr(PROXY),
            &notify(&format!("r{i}"), "check-sync", "192.0.2.1"),
        );
        assert_eq!(answers(&mut shell)[0].1, 200);
        assert!(matches!(
            events(&mut shell)[..],
            [ShellEvent::CheckSync { .. }]
        ));
    }
    shell.handle_datagram(
        at(30),
        addr(PROXY),
        &notify("r3", "check-sync", "192.0.2.1"),
    );
    assert_eq!(answers(&mut shell)[0].1, 403);
    let e = events(&mut shell);
    assert!(
        matches!(&e[..], [ShellEvent::CheckSyncRefused { why, .. }] if why == "more than 3 within 60 s"),
        "{e:?}"
    );
    // A minute after the first, one is taken again.
    shell.handle_datagram(
        at(61),
        addr(PROXY),
        &notify("r4", "check-sync", "192.0.2.1"),
    );
    assert_eq!(answers(&mut shell)[0].1, 200);

    // check_sync_any_source 1: the old phone's behaviour, from anywhere.
    let mut shell = Shell::new(6);
    let mut open = plan(false, vec![line(1, "1001")]);
    open.check_sync_any_source = true;
    shell.apply(t0, open);
    events(&mut shell);
    let stranger = addr("198.51.100.9:5060");
    shell.handle_datagram(t0, stranger, &notify("any", "check-sync", "198.51.100.9"));
    assert_eq!(answers(&mut shell)[0].1, 200);
    assert!(matches!(
        events(&mut shell)[..],
        [ShellEvent::CheckSync { .. }]
    ));
}

#[test]
fn the_status_says_which_registrar_a_line_uses_and_names_the_backup() {
    use deskphone_sipd::plan::{Backup, Target};
    const BACKUP: &str = "192.0.2.2:5070";
    let t0 = Instant::now();
    let mut shell = Shell::new(1);
    let mut l = line(1, "1001");
    l.backup = Some(Backup {
        target: Target {
            host: "backup.example.net".into(),
            port: 5070,
        },
        address: Ok(addr(BACKUP)),
    });
    shell.apply(t0, plan(true, vec![l]));
    assert_eq!(registers(&mut shell).len(), 1);
    let status = shell.line(t0, 1).unwrap();
    assert_eq!(status.using, "primary");
    assert_eq!(status.backup.as_deref(), Some("backup.example.net:5070"));
    // The primary stays silent: at timer F (32 s) the REGISTER goes to the backup.
    let mut now = t0;
    let mut to_backup = Vec::new();
    while let Some(t) = shell.poll_timeout() {
        if t > t0 + Duration::from_secs(33) || !to_backup.is_empty() {
            break;
        }
        now = t;
        shell.handle_timeout(now);
        to_backup.extend(
            sent(&mut shell)
                .iter()
                .filter(|t| t.destination == addr(BACKUP))
                .map(parse),
        );
    }
    assert_eq!(to_backup.len(), 1);
    assert_eq!(now, t0 + Duration::from_secs(32), "at timer F, no back-off");
    assert_eq!(shell.line(now, 1).unwrap().using, "backup");
    assert_eq!(state_of(&shell, now, 1).0, "registering");
    events(&mut shell);
    shell.handle_datagram(now, addr(BACKUP), &ok(&to_backup[0]));
    assert!(events(&mut shell).contains(&ShellEvent::Line(1)));
    let status = shell.line(now, 1).unwrap();
    assert_eq!(
        (status.state.as_str(), status.registered),
        ("registered", true)
    );
    assert_eq!(status.using, "backup");
    // An outbound proxy (or no proxy_backup) gives the line no backup.
    let mut shell = Shell::new(2);
    shell.apply(t0, plan(true, vec![line(1, "1001")]));
    let status = shell.line(t0, 1).unwrap();
    assert_eq!((status.using.as_str(), status.backup), ("primary", None));
}

/// A NOTIFY with a body.
fn notify_with_body(branch: &str, event: &str, from: &str, body: &str) -> Vec<u8> {
    let mut lines = vec![
        "NOTIFY sip:1001@192.0.2.20:5060 SIP/2.0".to_string(),
        format!("Via: SIP/2.0/UDP {from};branch=z9hG4bK{branch}"),
        "From: <sip:vm@192.0.2.1>;tag=v1".into(),
        "To: <sip:1001@192.0.2.20>".into(),
        format!("Call-ID: {branch}@vm"),
        "CSeq: 1 NOTIFY".into(),
        "Max-Forwards: 70".into(),
        format!("Event: {event}"),
        "Content-Type: application/simple-message-summary".into(),
    ];
    lines.push(format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    lines.join("\r\n").into_bytes()
}

#[test]
fn message_waiting_lights_the_line_from_the_proxy_only() {
    let t0 = Instant::now();
    let mut shell = Shell::new(7);
    shell.apply(t0, plan(false, vec![line(1, "1001"), line(2, "1002")]));
    events(&mut shell);
    let body =
        "Messages-Waiting: yes\r\nMessage-Account: sip:1002@192.0.2.1\r\nVoice-Message: 3/1\r\n";
    // From a stranger: refused, nothing lit.
    let stranger = addr("198.51.100.9:5060");
    shell.handle_datagram(
        t0,
        stranger,
        &notify_with_body("m0", "message-summary", "198.51.100.9", body),
    );
    assert_eq!(answers(&mut shell)[0].1, 403);
    assert!(shell.lines(t0).iter().all(|l| !l.messages_waiting));
    // From the proxy: the line of the Message-Account (1002) lights up.
    shell.handle_datagram(
        t0,
        addr(PROXY),
        &notify_with_body("m1", "message-summary", "192.0.2.1", body),
    );
    assert_eq!(answers(&mut shell)[0].1, 200);
    assert_eq!(events(&mut shell), vec![ShellEvent::Line(2)]);
    let lines = shell.lines(t0);
    assert!(!lines[0].messages_waiting);
    assert!(lines[1].messages_waiting);
    assert_eq!(
        lines[1].voice_messages.map(|v| (v.new, v.old)),
        Some((3, 1))
    );
    // It survives a configuration change that rebuilds the user agent.
    shell.apply(
        t0,
        plan(
            false,
            vec![line(1, "1001"), line(2, "1002"), line(3, "1003")],
        ),
    );
    assert!(shell.lines(t0)[1].messages_waiting);
    // Read: the lamp goes out. A body without Messages-Waiting is a 400.
    shell.handle_datagram(
        t0,
        addr(PROXY),
        &notify_with_body(
            "m2",
            "message-summary",
            "192.0.2.1",
            "Messages-Waiting: no\r\nMessage-Account: sip:1002@192.0.2.1\r\n",
        ),
    );
    assert_eq!(answers(&mut shell)[0].1, 200);
    assert!(!shell.lines(t0)[1].messages_waiting);
    shell.handle_datagram(
        t0,
        addr(PROXY),
        &notify_with_body("m3", "message-summary", "192.0.2.1", "hello"),
    );
    assert_eq!(answers(&mut shell)[0].1, 400);
}

#[test]
fn g729_is_offered_only_once_mediad_says_it_has_it() {
    let now = Instant::now();
    let offer = |shell: &mut Shell, number: &str| {
        shell.dial(now, Some(1), number).expect("dial");
        let invite = sent(shell)
            .iter()
            .map(parse)
            .find(|m| m.method() == Some("INVITE"))
            .expect("an INVITE");
        String::from_utf8_lossy(&invite.body).into_owned()
    };
    let mut shell = Shell::new(7);
    shell.apply(now, plan(false, vec![line(1, "1001")]));
    let _ = sent(&mut shell);
    let sdp = offer(&mut shell, "2000");
    assert!(!sdp.contains("G729"), "{sdp}");
    // mediad answered with its codecs: G.729 among them.
    shell.set_g729(true);
    let sdp = offer(&mut shell, "2001");
    assert!(sdp.contains("a=rtpmap:18 G729/8000"), "{sdp}");
    // A new configuration keeps what mediad said.
    shell.apply(now, plan(true, vec![line(1, "1001")]));
    let _ = sent(&mut shell);
    let sdp = offer(&mut shell, "2002");
    assert!(sdp.contains("G729"), "{sdp}");
}

/// The plan of `plan(false, line 1)` with `cnf` as the configuration's SIPDefault.cnf.
fn plan_with(cnf: &str) -> Plan {
    let mut c = deskphone_config::Config::new(deskphone_config::Mac([0; 6]));
    let parsed = deskphone_config::cnf::parse("SIPDefault.cnf", cnf.as_bytes());
    c.apply_file(
        "SIPDefault.cnf",
        deskphone_config::FileRole::Default,
        &parsed,
    );
    Plan {
        calls: CallSettings::from_config(&c, "192.0.2.20", None),
        media: MediaOptions::from_config(&c),
        ..plan(false, vec![line(1, "1001")])
    }
}

/// The far end's 200 to `invite`, with `sdp` as its answer.
fn answered(invite: &Message, sdp: &str) -> Vec<u8> {
    let mut s = String::from("SIP/2.0 200 OK\r\n");
    for via in invite.vias() {
        s.push_str(&format!("Via: {via}\r\n"));
    }
    for (text, name) in [
        ("From", Name::FROM),
        ("Call-ID", Name::CALL_ID),
        ("CSeq", Name::CSEQ),
    ] {
        s.push_str(&format!("{text}: {}\r\n", invite.header(&name).unwrap()));
    }
    s.push_str(&format!(
        "To: {};tag=far\r\nContact: <sip:2000@192.0.2.9:5060>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        invite.header(&Name::TO).unwrap(),
        sdp.len()
    ));
    s.into_bytes()
}

#[test]
fn enable_vad_offers_comfort_noise_and_mediad_uses_it_only_if_the_far_end_took_it_and_knows_of_the_nat(
) {
    let now = Instant::now();
    let call = |cnf: &str, answer_formats: &str| {
        let mut shell = Shell::new(7);
        shell.apply(now, plan_with(cnf));
        let _ = sent(&mut shell);
        shell.dial(now, Some(1), "2000").expect("dial");
        let invite = sent(&mut shell)
            .iter()
            .map(parse)
            .find(|m| m.method() == Some("INVITE"))
            .expect("an INVITE");
        let offer = String::from_utf8_lossy(&invite.body).into_owned();
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
             m=audio 7000 RTP/AVP {answer_formats}\r\n"
        );
        shell.handle_datagram(now, addr(PROXY), &answered(&invite, &sdp));
        let order = events(&mut shell)
            .into_iter()
            .find_map(|e| match e {
                ShellEvent::Media(deskphone_sipd::shell::MediaOrder::Session(o)) => Some(o),
                _ => None,
            })
            .expect("a session order for mediad");
        (offer, order)
    };
    let (offer, order) = call("enable_vad: 1\n", "0 13");
    assert!(offer.contains("a=rtpmap:13 CN/8000\r\n"), "{offer}");
    assert!(order.vad);
    assert_eq!(order.comfort_noise, Some(13));
    assert!(!order.behind_nat);
    // The far end did not take CN: mediad is told so, and sends no SID.
    let (_, order) = call("enable_vad: 1\n", "0");
    assert!(order.vad);
    assert_eq!(order.comfort_noise, None);
    // enable_vad 0: no CN offered, none taken even if the far end answers with it.
    let (offer, order) = call(
        "enable_vad: 0\nnat_enable: 1\nnat_address: 198.51.100.1\n",
        "0 13",
    );
    assert!(!offer.contains("CN/8000"), "{offer}");
    assert!(!order.vad);
    assert_eq!(order.comfort_noise, None);
    // nat_enable: mediad may learn the far end's address as our NAT rewrites it.
    assert!(order.behind_nat);
}
