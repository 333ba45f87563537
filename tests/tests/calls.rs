//! Calls of the running phone (deskphone-sim: provd + sipd) on loopback. With SIPp as the
//! other end: the phone calls (SIPp answers, then the phone hangs up), the phone is called
//! (answered with `phonectl answer`, SIPp hangs up), the phone cancels while SIPp rings,
//! declines, and refuses with Do Not Disturb. With baresip as a second phone, both
//! registered to Kamailio (which record-routes): calls both ways by address of record, hold
//! and resume from either side. Everything on the phone is driven and checked through
//! `phonectl` as an administrator's script would.

use std::time::{Duration, Instant};

use deskphone_e2e::baresip::{Baresip, BaresipOptions};
use deskphone_e2e::sip::{Kamailio, Sipp};
use deskphone_e2e::{free_udp_port, wait_for, Phone, SimPhone};
use serde_json::Value;

const MAC: &str = "525400123456";

/// A phone whose line 1 (1001) uses `proxy_port` on 127.0.0.1 as its proxy, not registering
/// (SIPp plays the far end, not a registrar), with `extra` configuration.
fn start_phone(proxy_port: u16, extra: &str) -> SimPhone {
    start_phone_with(proxy_port, "proxy_register: \"0\"\n", extra)
}

/// The same phone registering line 1 as 1001 (password `secret1001`) with the registrar at
/// `proxy_port`.
fn start_registered_phone(proxy_port: u16) -> SimPhone {
    start_phone_with(
        proxy_port,
        "proxy_register: \"1\"\nline1_authname: \"1001\"\nline1_password: \"secret1001\"\n",
        "",
    )
}

fn start_phone_with(proxy_port: u16, register: &str, extra: &str) -> SimPhone {
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{proxy_port}\"\n{register}\
         start_media_port: \"20000\"\nend_media_port: \"20100\"\n{extra}"
    );
    let specific = "line1_name: \"1001\"\nline1_displayname: \"Reception\"\n";
    let specific_name = format!("SIP{MAC}.cnf");
    let phone = SimPhone::start(
        MAC,
        &[
            ("SIPDefault.cnf", default.as_str()),
            (specific_name.as_str(), specific),
        ],
    );
    wait_for("sipd to run", Duration::from_secs(20), || {
        (!phone.lines().is_empty()).then_some(())
    });
    phone
}

fn calls(p: &Phone) -> Vec<Value> {
    p.status()["calls"].as_array().cloned().unwrap_or_default()
}

fn wait_call_state(p: &Phone, state: &str) -> Value {
    wait_for(
        &format!("a call in state {state}"),
        Duration::from_secs(15),
        || calls(p).into_iter().find(|c| c["state"] == state),
    )
}

fn wait_no_calls(p: &Phone) {
    wait_for("the calls to end", Duration::from_secs(15), || {
        calls(p).is_empty().then_some(())
    });
}

/// `phonectl ARGS`: its JSON output (the call), which must be there.
fn phonectl_call(p: &Phone, args: &[&str]) -> Value {
    let out = p.phonectl(args);
    assert!(
        out.status.success(),
        "phonectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a call as JSON")
}

const SDP_ANSWER: &str = "v=0\r
o=sipp 53655765 2353687637 IN IP4 [local_ip]\r
s=-\r
c=IN IP4 [local_ip]\r
t=0 0\r
m=audio 6000 RTP/AVP 0 101\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
";

/// SIPp as the called party: rings, answers, waits for the phone's BYE.
fn answering_scenario() -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer the phone's call">
  <recv request="INVITE" crlf="true" rrs="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:2000@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:2000@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

{SDP_ANSWER}]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE" timeout="20000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"#
    )
}

/// SIPp as the called party that rings and never answers: the phone's CANCEL ends it.
const RINGING_SCENARIO: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ring until cancelled">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:2000@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <recv request="CANCEL" timeout="20000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"#;

/// SIPp calling the phone's line 1001 and expecting `outcome`: `answer` (then SIPp hangs up
/// after a second), or a final status it acknowledges.
fn calling_scenario(outcome: &str) -> String {
    let invite = r#"
  <send retrans="500"><![CDATA[
INVITE sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Front Desk" <sip:2000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
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
m=audio 6002 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
]]></send>
  <recv response="100" optional="true"/>
"#;
    let rest = match outcome {
        "answer" => r#"
  <recv response="180"/>
  <recv response="200" timeout="20000" rrs="true"/>
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
  <pause milliseconds="1500"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Front Desk" <sip:2000@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
"#
        .to_string(),
        status => format!(
            r#"
  <recv response="180" optional="{}"/>
  <recv response="{status}" timeout="20000"/>
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
"#,
            if status == "603" { "false" } else { "true" }
        ),
    };
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call the phone">{invite}{rest}</scenario>
"#
    )
}

fn received(sipp: &Sipp, start: &str) -> Vec<deskphone_e2e::sip::SippMessage> {
    sipp.messages()
        .into_iter()
        .filter(|m| m.received && m.text.starts_with(start))
        .collect()
}

#[test]
fn the_phone_calls_sipp_which_answers_and_the_phone_hangs_up() {
    let mut sipp = Sipp::start(&answering_scenario());
    let phone = start_phone(sipp.addr.port(), "");
    let dialled = Instant::now();
    let call = phonectl_call(&phone, &["dial", "2000"]);
    assert_eq!(call["line"], 1);
    assert_eq!(call["direction"], "outgoing");
    assert_eq!(call["remote"], "2000");
    let connected = wait_call_state(&phone, "connected");
    let setup = dialled.elapsed();
    assert_eq!(connected["id"], call["id"]);
    let port = connected["local_port"].as_u64().unwrap();
    assert!(
        (20000..=20100).contains(&port) && port.is_multiple_of(2),
        "{port}"
    );

    let invite = &received(&sipp, "INVITE ")[0].text;
    assert!(invite.starts_with("INVITE sip:2000@127.0.0.1:"), "{invite}");
    assert!(
        invite.contains("From: \"Reception\" <sip:1001@127.0.0.1"),
        "{invite}"
    );
    assert!(
        invite.contains(&format!("m=audio {port} RTP/AVP 0 8 101")),
        "{invite}"
    );
    assert!(
        invite.contains("a=rtpmap:101 telephone-event/8000"),
        "{invite}"
    );
    // The negotiated media went to mediad: the call has its RTP session.
    let rtp = wait_for("the call's RTP session", Duration::from_secs(5), || {
        calls(&phone)
            .into_iter()
            .find(|c| c["id"] == call["id"] && c["rtp"]["codec"] == "PCMU")
            .map(|c| c["rtp"].clone())
    });
    assert_eq!(rtp["local_port"], port, "{rtp}");

    phone.ok(&["hangup"]);
    assert_eq!(
        sipp.wait(Duration::from_secs(20)),
        Some(0),
        "SIPp got its BYE"
    );
    wait_no_calls(&phone);
    let m = sipp.messages();
    let t = |start: &str| {
        m.iter()
            .find(|x| x.received && x.text.starts_with(start))
            .unwrap()
            .time
    };
    eprintln!(
        "figures: call setup, phonectl dial to connected as phonectl status sees it: {} ms; \
         SIPp's 200 to the phone's ACK: {:.1} ms",
        setup.as_millis(),
        (t("ACK ")
            - m.iter()
                .find(|x| !x.received && x.text.starts_with("SIP/2.0 200"))
                .unwrap()
                .time)
            * 1000.0
    );
}

#[test]
fn the_phone_cancels_a_call_that_still_rings() {
    let mut sipp = Sipp::start(RINGING_SCENARIO);
    let phone = start_phone(sipp.addr.port(), "");
    phonectl_call(&phone, &["dial", "2000"]);
    wait_call_state(&phone, "ringback");
    phone.ok(&["hangup"]);
    assert_eq!(
        sipp.wait(Duration::from_secs(20)),
        Some(0),
        "CANCEL, 487, ACK"
    );
    wait_no_calls(&phone);
    let cancel = &received(&sipp, "CANCEL ")[0].text;
    let invite = &received(&sipp, "INVITE ")[0].text;
    let via = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("Via:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(via(cancel), via(invite), "the CANCEL matches the INVITE");
}

#[test]
fn sipp_calls_the_phone_which_rings_until_answered() {
    let dummy = free_udp_port("127.0.0.1");
    let phone = start_phone(dummy, "");
    let sip_port = phone.sip_port;
    let target = format!("127.0.0.1:{sip_port}");
    let mut sipp = Sipp::start_on("127.0.0.1", &calling_scenario("answer"), &[&target]);
    let ringing = wait_call_state(&phone, "ringing");
    assert_eq!(ringing["direction"], "incoming");
    assert_eq!(ringing["remote"], "Front Desk <2000>");
    assert_eq!(ringing["line"], 1);
    // Nothing is sent but 100 and 180 while it rings.
    std::thread::sleep(Duration::from_millis(700));
    let answered = phonectl_call(&phone, &["answer"]);
    assert_eq!(answered["state"], "connected");
    assert_eq!(
        sipp.wait(Duration::from_secs(20)),
        Some(0),
        "200, then SIPp's BYE answered"
    );
    wait_no_calls(&phone);
    let ok = sipp
        .messages()
        .into_iter()
        .find(|m| m.received && m.text.starts_with("SIP/2.0 200"))
        .unwrap()
        .text;
    // The answer takes the caller's first codec (RFC 3264: the offerer's order).
    assert!(
        ok.contains("m=audio ") && ok.contains(" RTP/AVP 8 101"),
        "{ok}"
    );
    assert!(ok.contains("Contact: <sip:1001@127.0.0.1:"), "{ok}");
    let ended = phone.log_text();
    assert!(ended.contains("ended: the other party hung up"), "{ended}");
}

#[test]
fn a_declined_call_gets_603_and_dnd_gets_480() {
    let dummy = free_udp_port("127.0.0.1");
    let phone = start_phone(dummy, "");
    let sip_port = phone.sip_port;
    let target = format!("127.0.0.1:{sip_port}");
    let mut sipp = Sipp::start_on("127.0.0.1", &calling_scenario("603"), &[&target]);
    wait_call_state(&phone, "ringing");
    phone.ok(&["hangup"]);
    assert_eq!(sipp.wait(Duration::from_secs(20)), Some(0), "603 Decline");
    wait_no_calls(&phone);
    drop(phone);

    let phone = start_phone(dummy, "dnd_control: \"1\"\n");
    let sip_port = phone.sip_port;
    let target = format!("127.0.0.1:{sip_port}");
    let mut sipp = Sipp::start_on("127.0.0.1", &calling_scenario("480"), &[&target]);
    assert_eq!(sipp.wait(Duration::from_secs(20)), Some(0), "480 for DND");
    assert!(calls(&phone).is_empty());
    let log = phone.log_text();
    assert!(
        log.contains("call from Front Desk <2000> on line 1 refused with 480: do not disturb"),
        "{log}"
    );
}

const WAIT: Duration = Duration::from_secs(10);

fn registered(p: &Phone) {
    wait_for("line 1 to register", Duration::from_secs(20), || {
        (p.status()["lines"][0]["registered"] == true).then_some(())
    });
}

#[test]
fn the_phone_and_baresip_call_each_other_through_kamailio_and_hold() {
    let kam = Kamailio::start(&[("1001", "secret1001"), ("bob", "secret-b")]);
    let bob = Baresip::start(BaresipOptions {
        password: Some("secret-b".into()),
        registrar: Some(kam.addr),
        auto_answer: true,
        ..BaresipOptions::new("bob")
    });
    let phone = start_registered_phone(kam.addr.port());
    registered(&phone);

    // The phone calls bob by name: Kamailio finds bob's binding and relays, record-routing.
    let call = phonectl_call(&phone, &["dial", "bob"]);
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    let connected = wait_call_state(&phone, "connected");
    assert_eq!(connected["id"], call["id"]);
    // Held by the phone: bob gets a new offer; resumed.
    let id = call["id"].to_string();
    let held = phonectl_call(&phone, &["hold", &id]);
    assert_eq!(held["id"], call["id"]);
    wait_call_state(&phone, "held");
    bob.wait_event("CALL_REMOTE_SDP", WAIT);
    phonectl_call(&phone, &["resume"]);
    wait_call_state(&phone, "connected");
    // bob hangs up: the BYE comes back along the route set.
    bob.hangup();
    bob.wait_event("CALL_CLOSED", WAIT);
    wait_no_calls(&phone);
    assert!(phone.log_text().contains("ended: the other party hung up"));

    // bob calls the phone by its address of record.
    bob.dial(&format!("sip:1001@127.0.0.1:{}", kam.addr.port()));
    let ringing = wait_call_state(&phone, "ringing");
    assert_eq!(ringing["direction"], "incoming");
    assert!(
        ringing["remote_uri"]
            .as_str()
            .unwrap()
            .starts_with("sip:bob@"),
        "{ringing}"
    );
    bob.wait_event("CALL_RINGING", WAIT);
    phonectl_call(&phone, &["answer"]);
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    wait_call_state(&phone, "connected");
    // bob holds: the phone shows it; bob resumes.
    bob.hold();
    wait_for("the phone to see the hold", WAIT, || {
        (calls(&phone)[0]["remote_held"] == true).then_some(())
    });
    bob.resume();
    wait_for("the phone to see the resume", WAIT, || {
        (calls(&phone)[0]["remote_held"] == false).then_some(())
    });
    // The phone hangs up.
    phone.ok(&["hangup"]);
    bob.wait_event("CALL_CLOSED", WAIT);
    wait_no_calls(&phone);
}

/// Kamailio with the phone (1001), bob and carol registered, both baresips answering at once.
fn phone_bob_and_carol() -> (Kamailio, Baresip, Baresip, SimPhone) {
    let kam = Kamailio::start(&[
        ("1001", "secret1001"),
        ("bob", "secret-b"),
        ("carol", "secret-c"),
    ]);
    let baresip = |user: &str, password: &str| {
        Baresip::start(BaresipOptions {
            password: Some(password.into()),
            registrar: Some(kam.addr),
            auto_answer: true,
            ..BaresipOptions::new(user)
        })
    };
    let bob = baresip("bob", "secret-b");
    let carol = baresip("carol", "secret-c");
    let phone = start_registered_phone(kam.addr.port());
    registered(&phone);
    (kam, bob, carol, phone)
}

#[test]
fn transfers_with_baresip_both_ways() {
    let (_kam, bob, carol, phone) = phone_bob_and_carol();

    // The phone transfers bob to carol (blind): bob is told, calls carol, the phone is out.
    phonectl_call(&phone, &["dial", "bob"]);
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    wait_call_state(&phone, "connected");
    phonectl_call(&phone, &["transfer", "carol"]);
    let transfer = bob.wait_event("TRANSFER", WAIT);
    assert!(
        transfer["param"]
            .as_str()
            .unwrap()
            .trim_start_matches('<')
            .starts_with("sip:carol@"),
        "{transfer}"
    );
    carol.wait_event("CALL_ESTABLISHED", WAIT);
    wait_no_calls(&phone);
    assert!(phone.log_text().contains("ended: transferred"));
    bob.hangup();
    carol.wait_event("CALL_CLOSED", WAIT);

    // bob transfers the phone to carol: the phone accepts the REFER and calls carol.
    phonectl_call(&phone, &["dial", "bob"]);
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    wait_call_state(&phone, "connected");
    bob.transfer(&carol.aor);
    let to_carol = wait_for("the phone to call carol", WAIT, || {
        calls(&phone).into_iter().find(|c| {
            c["remote_uri"]
                .as_str()
                .unwrap_or_default()
                .starts_with("sip:carol@")
                && c["state"] == "connected"
        })
    });
    assert_eq!(to_carol["direction"], "outgoing");
    assert!(phone.log_text().contains("transfers us to sip:carol@"));
    // bob leaves once the phone reported success; the phone stays with carol.
    bob.wait_event("CALL_CLOSED", WAIT);
    wait_for("bob's call to end at the phone", WAIT, || {
        (calls(&phone).len() == 1).then_some(())
    });
    phone.ok(&["hangup"]);
    carol.wait_event("CALL_CLOSED", WAIT);
    wait_no_calls(&phone);
}

#[test]
fn an_emergency_number_goes_to_the_emergency_proxy_as_the_dial_plan_says() {
    // The line's proxy is a SIPp that must see nothing; the emergency proxy answers.
    let mut emergency = Sipp::start(&answering_scenario());
    let dummy = free_udp_port("127.0.0.1");
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{dummy}\"\nproxy_register: \"0\"\n\
         proxy_emergency: \"127.0.0.1\"\nproxy_emergency_port: \"{}\"\n",
        emergency.addr.port()
    );
    let specific_name = format!("SIP{MAC}.cnf");
    let phone = SimPhone::start(
        MAC,
        &[
            ("SIPDefault.cnf", default.as_str()),
            (specific_name.as_str(), "line1_name: \"1001\"\n"),
            (
                "dialplan.xml",
                "<DIALTEMPLATE>\n  <TEMPLATE MATCH=\"911\" Timeout=\"0\" User=\"Phone\" \
                 Route=\"emergency\"/>\n  <TEMPLATE MATCH=\"*\" Timeout=\"5\"/>\n</DIALTEMPLATE>\n",
            ),
        ],
    );
    wait_for("sipd to run", Duration::from_secs(20), || {
        (!phone.lines().is_empty()).then_some(())
    });
    phonectl_call(&phone, &["dial", "911"]);
    wait_call_state(&phone, "connected");
    let invite = &received(&emergency, "INVITE ")[0].text;
    assert!(
        invite.starts_with("INVITE sip:911@127.0.0.1:") && invite.contains(";user=phone SIP/2.0"),
        "{invite}"
    );
    assert!(phone.log_text().contains("911: routed to 127.0.0.1:"));
    phone.ok(&["hangup"]);
    assert_eq!(emergency.wait(Duration::from_secs(20)), Some(0));
}

#[test]
fn a_check_sync_waits_while_the_phone_has_a_call() {
    let mut sipp = Sipp::start(&answering_scenario());
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{}\"\nproxy_register: \"0\"\n",
        sipp.addr.port()
    );
    let specific_name = format!("SIP{MAC}.cnf");
    let phone = SimPhone::start_with(
        MAC,
        &[
            ("SIPDefault.cnf", default.as_str()),
            (specific_name.as_str(), "line1_name: \"1001\"\n"),
        ],
        &["--resync-idle-secs", "1"],
    );
    wait_for("sipd to run", Duration::from_secs(20), || {
        (!phone.lines().is_empty()).then_some(())
    });
    phonectl_call(&phone, &["dial", "2000"]);
    wait_call_state(&phone, "connected");
    // sipd told provd the phone is busy: the check-sync waits past its idle time.
    phone.ok(&["resync"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(phone.status()["resync"]["state"], "waiting_for_idle_phone");
    // Hung up: idle again, and the check-sync goes ahead a second later.
    phone.ok(&["hangup"]);
    assert_eq!(sipp.wait(Duration::from_secs(20)), Some(0));
    wait_for("the check-sync to run", Duration::from_secs(10), || {
        phone.status()["resync"]["last_result"]
            .as_str()
            .map(str::to_string)
    });
}

/// The phone transfers bob to carol after consulting her (attended: REFER with Replaces).
#[test]
fn an_attended_transfer_sends_bob_to_carol_replacing_the_consultation() {
    let (_kam, bob, carol, phone) = phone_bob_and_carol();
    let to_bob = phonectl_call(&phone, &["dial", "bob"]);
    bob.wait_event("CALL_ESTABLISHED", WAIT);
    wait_call_state(&phone, "connected");
    phonectl_call(&phone, &["hold"]);
    wait_call_state(&phone, "held");
    let to_carol = phonectl_call(&phone, &["dial", "carol"]);
    carol.wait_event("CALL_ESTABLISHED", WAIT);
    wait_for("carol connected", WAIT, || {
        calls(&phone)
            .into_iter()
            .find(|c| c["id"] == to_carol["id"] && c["state"] == "connected")
    });
    let out = phonectl_call(
        &phone,
        &[
            "transfer",
            "--call",
            &to_bob["id"].to_string(),
            "--to-call",
            &to_carol["id"].to_string(),
        ],
    );
    assert_eq!(out["transferring"], true, "{out}");
    // bob is told to call carol replacing the phone's call with her.
    let transfer = bob.wait_event("TRANSFER", WAIT);
    let target = transfer["param"].as_str().unwrap_or_default().to_string();
    assert!(target.contains("sip:carol@"), "{transfer}");
    assert!(target.contains("?Replaces="), "{transfer}");
    // bob's call to carol succeeds: the phone hears so (NOTIFY 200) and leaves bob.
    wait_for("the transfer to complete", WAIT, || {
        phone
            .log_text()
            .contains("with bob ended: transferred")
            .then_some(())
    });
    assert!(calls(&phone).iter().all(|c| c["id"] != to_bob["id"]));
    // baresip 1.0.0 as the target does not apply Replaces (it takes bob's call as a new one
    // and keeps the consultation call): the phone hangs that one up itself here.
    phone.ok(&["hangup"]);
    wait_no_calls(&phone);
}
