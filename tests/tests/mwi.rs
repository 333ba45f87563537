//! Message waiting by subscription (`mwi_subscribe: 1`): the running phone registers its
//! line at Kamailio, which hands the line's message-summary SUBSCRIBE to SIPp playing the
//! voice-mail server; the NOTIFY SIPp sends inside that subscription lights the lamp
//! (`messages_waiting` with the counts in `phonectl status --json`). A PBX without voice
//! mail refuses the subscription: one status message, no retries.

use std::time::Duration;

use deskphone_e2e::sip::{Kamailio, Sipp};
use deskphone_e2e::{wait_for, SimPhone};

const MAC: &str = "525400123477";

/// The notifier: 200 to the SUBSCRIBE, then a NOTIFY in the subscription's dialog
/// (From/To swapped, to the SUBSCRIBE's Contact along the recorded route) saying 2 new and 8 old voice
/// messages, which the phone must answer 200.
const VOICEMAIL: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="voicemail">
  <recv request="SUBSCRIBE" rrs="true">
    <action>
      <ereg regexp="sip:[^&gt;;]*" search_in="hdr" header="Contact:" assign_to="contact" />
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from" />
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to" />
      <ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="callid" />
    </action>
  </recv>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]mwi
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:voicemail@[local_ip]:[local_port]>
Expires: 600
Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
NOTIFY [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$to];tag=[pid]mwi
To: [$from]
Call-ID: [$callid]
CSeq: 1 NOTIFY
[routes]
Contact: <sip:voicemail@[local_ip]:[local_port]>
Max-Forwards: 70
Event: message-summary
Subscription-State: active;expires=600
Content-Type: application/simple-message-summary
Content-Length: [len]

Messages-Waiting: yes
Message-Account: sip:1001@[local_ip]
Voice-Message: 2/8 (0/0)
    ]]>
  </send>
  <recv response="200" />
</scenario>
"#;

fn start_phone(registrar: u16) -> SimPhone {
    let default = format!(
        "proxy1_address: \"127.0.0.1\"\nproxy1_port: \"{registrar}\"\nproxy_register: \"1\"\n\
         mwi_subscribe: \"1\"\nline1_authname: \"1001\"\nline1_password: \"secret1001\"\n"
    );
    let specific_name = format!("SIP{MAC}.cnf");
    SimPhone::start(
        MAC,
        &[
            ("SIPDefault.cnf", default.as_str()),
            (specific_name.as_str(), "line1_name: \"1001\"\n"),
        ],
    )
}

#[test]
fn a_subscribed_line_lights_the_lamp_from_the_voicemail_servers_notify() {
    let mut sipp = Sipp::start(VOICEMAIL);
    let kam = Kamailio::start_with_voicemail(&[("1001", "secret1001")], Some(sipp.addr));
    let phone = start_phone(kam.addr.port());
    let outcome = sipp.wait(Duration::from_secs(30));
    assert_eq!(
        outcome,
        Some(0),
        "SIPp's scenario: SUBSCRIBE answered, NOTIFY answered 200; SIPp saw:\n{}\nthe phone logged:\n{}",
        sipp.messages()
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>()
            .join("\n----\n"),
        phone.log_text()
    );
    let line = wait_for("the lamp", Duration::from_secs(5), || {
        let l = phone.lines().into_iter().next()?;
        (l["messages_waiting"] == true).then_some(l)
    });
    assert_eq!(line["registered"], true, "{line}");
    assert_eq!(line["voice_messages"]["new"], 2, "{line}");
    assert_eq!(line["voice_messages"]["old"], 8, "{line}");
    let subscribe = sipp
        .messages()
        .into_iter()
        .find(|m| m.received && m.text.starts_with("SUBSCRIBE "))
        .expect("the SUBSCRIBE");
    for header in [
        "Event: message-summary",
        "Accept: application/simple-message-summary",
        "From: ",
    ] {
        assert!(
            subscribe.text.contains(header),
            "{header}: {}",
            subscribe.text
        );
    }
}

#[test]
fn a_pbx_without_voicemail_refuses_once_and_is_not_asked_again() {
    let kam = Kamailio::start(&[("1001", "secret1001")]);
    let phone = start_phone(kam.addr.port());
    let refusals = |p: &SimPhone| {
        p.log_text()
            .lines()
            .filter(|l| l.contains("message-waiting subscription refused"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let refused = wait_for("the refusal", Duration::from_secs(20), || {
        refusals(&phone).into_iter().next()
    });
    assert!(refused.contains("404"), "{refused}");
    assert_eq!(phone.lines()[0]["registered"], true);
    assert_eq!(phone.lines()[0]["messages_waiting"], false);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(refusals(&phone).len(), 1, "refused once, not asked again");
}
