//! Calls between two user agents wired back to back in simulated time: each one's line
//! "proxy" is the other phone, so INVITEs go straight across. Covers set-up, answer, hang-up
//! either way, CANCEL, the incoming-call policies, hold and resume, lost messages.

mod common;

use std::net::SocketAddr;

use common::*;
use deskphone_config::cnf::parse as parse_cnf;
use deskphone_config::{Config, FileRole, Mac};
use deskphone_sip::{
    CallEvent, CallId, CallSettings, CallState, LineSettings, Message, Name, Settings, Transmit,
    UaEvent, UserAgent,
};

const A: &str = "192.0.2.10:5060";
const B: &str = "192.0.2.20:5060";

fn config(cnf: &str) -> Config {
    let mut c = Config::new("00503EFFD842".parse::<Mac>().unwrap());
    let parsed = parse_cnf("SIPDefault.cnf", cnf.as_bytes());
    c.apply_file("SIPDefault.cnf", FileRole::Default, &parsed);
    c
}

/// A phone at `me` whose line 1 is `name` with the other phone as its proxy.
fn phone(me: &str, name: &str, peer: &str, extra: &str) -> UserAgent {
    let peer_ip = peer.split(':').next().unwrap();
    let c = config(&format!(
        "proxy1_address: \"{peer_ip}\"\nline1_name: \"{name}\"\nline1_displayname: \"Phone {name}\"\n{extra}"
    ));
    let mut ua = UserAgent::new(Settings::from_config(&c), addr(me), name.len() as u64 + 7);
    ua.add_line(LineSettings::from_config(&c, 1).unwrap(), addr(peer))
        .unwrap();
    ua.set_call_settings(CallSettings::from_config(
        &c,
        me.split(':').next().unwrap(),
        None,
    ));
    ua
}

struct Net {
    a: UserAgent,
    b: UserAgent,
    clock: Clock,
    now: u64,
    /// Every message that crossed, in order, as (from A?, message).
    log: Vec<(bool, Message)>,
    /// Drop the next message whose first line starts with this.
    drop_next: Option<String>,
}

impl Net {
    fn new(a_extra: &str, b_extra: &str) -> Net {
        Net {
            a: phone(A, "1001", B, a_extra),
            b: phone(B, "1002", A, b_extra),
            clock: Clock::new(),
            now: 0,
            log: Vec::new(),
            drop_next: None,
        }
    }

    /// Delivers datagrams back and forth (1 ms per hop) until both are quiet.
    fn settle(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                self.deliver(true, t.destination, t.payload);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                self.deliver(false, t.destination, t.payload);
            }
            if !moved {
                return;
            }
        }
        panic!("the phones never stop talking");
    }

    fn deliver(&mut self, from_a: bool, to: SocketAddr, payload: Vec<u8>) {
        let m = parse(&Transmit {
            destination: to,
            payload: payload.clone(),
        });
        let first = String::from_utf8_lossy(&payload)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        if let Some(d) = &self.drop_next {
            if first.starts_with(d.as_str()) {
                self.drop_next = None;
                return;
            }
        }
        self.log.push((from_a, m));
        self.now += 1;
        let now = self.clock.at(self.now);
        if from_a {
            assert_eq!(to, addr(B));
            self.b.handle_datagram(now, addr(A), &payload);
        } else {
            assert_eq!(to, addr(A));
            self.a.handle_datagram(now, addr(B), &payload);
        }
    }

    /// Runs both phones' timers up to `ms`, delivering what they send.
    fn run_to(&mut self, ms: u64) {
        loop {
            self.settle();
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= self.clock.at(ms));
            let Some(t) = next else { break };
            self.now = self.now.max(self.clock.ms(t));
            self.a.handle_timeout(t);
            self.b.handle_timeout(t);
        }
        self.now = self.now.max(ms);
    }

    fn at(&self) -> std::time::Instant {
        self.clock.at(self.now)
    }

    /// The first lines of what crossed, "A>" or "B<" marking the sender.
    fn flow(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|(from_a, m)| {
                let line = match m.method() {
                    Some(method) => method.to_string(),
                    None => m.code().unwrap().to_string(),
                };
                format!("{}{line}", if *from_a { "A>" } else { "B>" })
            })
            .collect()
    }
}

fn call_events(ua: &mut UserAgent) -> Vec<CallEvent> {
    std::iter::from_fn(|| ua.poll_event())
        .filter_map(|e| match e {
            UaEvent::Call(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn states(events: &[CallEvent]) -> Vec<CallState> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn incoming(events: &[CallEvent]) -> CallId {
    events
        .iter()
        .find_map(|e| match e {
            CallEvent::Incoming { call, .. } => Some(*call),
            _ => None,
        })
        .expect("an incoming call")
}

fn ended(events: &[CallEvent]) -> Option<(String, bool)> {
    events.iter().find_map(|e| match e {
        CallEvent::Ended { reason, missed, .. } => Some((reason.clone(), *missed)),
        _ => None,
    })
}

/// A calls B and B answers: both connected, with media.
fn connected_call(net: &mut Net) -> (CallId, CallId) {
    let a_call = net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let b_events = call_events(&mut net.b);
    let b_call = incoming(&b_events);
    net.b.answer(net.at(), b_call).unwrap();
    net.settle();
    (a_call, b_call)
}

#[test]
fn a_call_is_set_up_answered_and_hung_up() {
    let mut net = Net::new("", "");
    let a_call = net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let b_events = call_events(&mut net.b);
    let b_call = incoming(&b_events);
    let from = b_events
        .iter()
        .find_map(|e| match e {
            CallEvent::Incoming { remote, line, .. } => Some((remote.clone(), *line)),
            _ => None,
        })
        .unwrap();
    assert_eq!(from.1, 1);
    assert_eq!(from.0.number.as_deref(), Some("1001"));
    assert_eq!(from.0.name.as_deref(), Some("Phone 1001"));
    assert_eq!(
        states(&call_events(&mut net.a)),
        [CallState::Calling, CallState::Ringback]
    );
    assert_eq!(net.flow(), ["A>INVITE", "B>100", "B>180"]);

    // The INVITE says what the configuration says.
    let invite = &net.log[0].1;
    assert_eq!(invite.uri(), Some("sip:1002@192.0.2.20"));
    assert_eq!(invite.header(&Name::EXPIRES), Some("180"));
    assert!(invite
        .header(&Name::FROM)
        .unwrap()
        .starts_with("\"Phone 1001\" <sip:1001@192.0.2.20>;tag="));
    assert_eq!(
        invite.header(&Name::CONTACT),
        Some("<sip:1001@192.0.2.10:5060>")
    );
    let sdp = String::from_utf8_lossy(&invite.body).to_string();
    assert!(sdp.contains("c=IN IP4 192.0.2.10"), "{sdp}");
    assert!(sdp.contains("m=audio 16384 RTP/AVP 0 8 101"), "{sdp}");

    net.b.answer(net.at(), b_call).unwrap();
    net.settle();
    assert_eq!(
        net.flow()[3..],
        ["B>200", "A>ACK"],
        "the 2xx is acknowledged end to end"
    );
    let a_events = call_events(&mut net.a);
    assert_eq!(states(&a_events), [CallState::Connected]);
    let media = a_events
        .iter()
        .find_map(|e| match e {
            CallEvent::Media { negotiated, .. } => Some(negotiated.clone()),
            _ => None,
        })
        .expect("media for A");
    assert_eq!(media.codec.encoding_name(), "PCMU");
    assert_eq!(media.remote_rtp, Some("192.0.2.20:16384".parse().unwrap()));
    assert_eq!(media.telephone_event, Some(101));
    assert_eq!(states(&call_events(&mut net.b)), [CallState::Connected]);
    assert_eq!(net.a.calls()[0].state, CallState::Connected);

    // Nothing more is sent once the ACK arrived (no 2xx retransmission).
    let before = net.log.len();
    net.run_to(40_000);
    assert_eq!(net.log.len(), before, "{:?}", &net.flow()[before..]);

    net.a.hangup(net.at(), a_call).unwrap();
    net.settle();
    assert_eq!(net.flow()[before..], ["A>BYE", "B>200"]);
    assert_eq!(ended(&call_events(&mut net.a)).unwrap().0, "hung up");
    assert_eq!(
        ended(&call_events(&mut net.b)).unwrap(),
        ("the other party hung up".to_string(), false)
    );
    assert!(net.a.calls().is_empty() && net.b.calls().is_empty());
}

#[test]
fn the_caller_cancels_and_the_callee_logs_a_missed_call() {
    let mut net = Net::new("", "");
    let a_call = net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    incoming(&call_events(&mut net.b));
    net.a.hangup(net.at(), a_call).unwrap();
    net.settle();
    assert_eq!(
        net.flow(),
        ["A>INVITE", "B>100", "B>180", "A>CANCEL", "B>200", "B>487", "A>ACK"]
    );
    // The CANCEL matches the INVITE's transaction: same branch and CSeq number.
    let (invite, cancel) = (&net.log[0].1, &net.log[3].1);
    assert_eq!(invite.vias()[0], cancel.vias()[0]);
    assert_eq!(cancel.cseq().unwrap().number, invite.cseq().unwrap().number);
    assert_eq!(ended(&call_events(&mut net.a)).unwrap().0, "cancelled");
    assert_eq!(
        ended(&call_events(&mut net.b)).unwrap(),
        ("cancelled by the caller".to_string(), true)
    );
}

#[test]
fn the_callee_declines() {
    let mut net = Net::new("", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let b_call = incoming(&call_events(&mut net.b));
    net.b.hangup(net.at(), b_call).unwrap();
    net.settle();
    assert_eq!(net.flow()[3..], ["B>603", "A>ACK"]);
    assert_eq!(ended(&call_events(&mut net.a)).unwrap().0, "603 Decline");
    // Declined, not missed: the user saw it ring.
    assert_eq!(
        ended(&call_events(&mut net.b)).unwrap(),
        ("declined".to_string(), false)
    );
}

#[test]
fn do_not_disturb_refuses_with_480_and_reports_the_caller() {
    let mut net = Net::new("", "dnd_control: 1\n");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    assert_eq!(net.flow(), ["A>INVITE", "B>100", "B>480", "A>ACK"]);
    let refused = call_events(&mut net.b);
    assert!(
        matches!(&refused[..], [CallEvent::Refused { status: 480, remote, why, .. }]
            if remote.number.as_deref() == Some("1001") && why == "do not disturb"),
        "{refused:?}"
    );
    assert!(net.b.calls().is_empty());
    assert!(ended(&call_events(&mut net.a))
        .unwrap()
        .0
        .starts_with("480"));
}

#[test]
fn dnd_level_2_is_off_and_3_is_on() {
    let mut net = Net::new("", "dnd_control: 2\n");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    assert_eq!(net.flow()[2], "B>180");
    let mut net = Net::new("", "dnd_control: 3\n");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    assert_eq!(net.flow()[2], "B>480");
}

#[test]
fn anonymous_callers_are_blocked_when_asked() {
    // A withholds its identity; B blocks anonymous calls.
    let mut net = Net::new("callerid_blocking: 1\n", "anonymous_call_block: 1\n");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let invite = &net.log[0].1;
    assert!(invite
        .header(&Name::FROM)
        .unwrap()
        .starts_with("\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag="));
    assert_eq!(net.flow()[2], "B>433");
    // Without the block the call rings, shown as Anonymous.
    let mut net = Net::new("callerid_blocking: 1\n", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    assert_eq!(net.flow()[2], "B>180");
    let id = incoming(&call_events(&mut net.b));
    let call = net.b.calls().into_iter().find(|c| c.id == id).unwrap();
    assert_eq!(call.remote.display(), "Anonymous");
}

#[test]
fn call_waiting_off_makes_a_second_caller_busy() {
    let mut net = Net::new("", "call_waiting: 0\n");
    connected_call(&mut net);
    let before = net.log.len();
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    assert_eq!(
        net.flow()[before..],
        ["A>INVITE", "B>100", "B>486", "A>ACK"]
    );
    assert_eq!(ended(&call_events(&mut net.a)).unwrap().0, "busy");

    // With call waiting (the default) the second call rings while the first goes on.
    let mut net = Net::new("", "");
    connected_call(&mut net);
    call_events(&mut net.b);
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let second = incoming(&call_events(&mut net.b));
    let calls = net.b.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].id, second);
    assert_eq!(calls[1].state, CallState::Ringing);
    assert_eq!(calls[0].state, CallState::Connected);
    assert_ne!(
        calls[0].local_port, calls[1].local_port,
        "each call has its own media port"
    );
}

#[test]
fn hold_and_resume_renegotiate_the_direction() {
    let mut net = Net::new("", "");
    let (a_call, _) = connected_call(&mut net);
    call_events(&mut net.a);
    call_events(&mut net.b);
    let before = net.log.len();
    net.a.hold(net.at(), a_call, true).unwrap();
    net.settle();
    assert_eq!(
        net.flow()[before..],
        ["A>INVITE", "B>100", "B>200", "A>ACK"]
    );
    let reinvite = String::from_utf8_lossy(&net.log[before].1.body).to_string();
    assert!(reinvite.contains("a=sendonly"), "{reinvite}");
    let answer = String::from_utf8_lossy(&net.log[before + 2].1.body).to_string();
    assert!(answer.contains("a=recvonly"), "{answer}");
    assert_eq!(states(&call_events(&mut net.a)), [CallState::Held]);
    let b_events = call_events(&mut net.b);
    assert!(b_events
        .iter()
        .any(|e| matches!(e, CallEvent::RemoteHold { held: true, .. })));
    assert!(net.b.calls()[0].remote_held);

    net.a.hold(net.at(), a_call, false).unwrap();
    net.settle();
    let resume = String::from_utf8_lossy(&net.log[before + 4].1.body).to_string();
    assert!(resume.contains("a=sendrecv"), "{resume}");
    assert_eq!(states(&call_events(&mut net.a)), [CallState::Connected]);
    assert!(!net.b.calls()[0].remote_held);
    // The session version went up with each new offer (RFC 3264 section 8).
    let version = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("o="))
            .unwrap()
            .split(' ')
            .nth(2)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let first = String::from_utf8_lossy(&net.log[0].1.body).to_string();
    assert!(version(&first) < version(&reinvite));
    assert!(version(&reinvite) < version(&resume));
}

#[test]
fn a_lost_ack_makes_the_callee_repeat_its_200_and_the_caller_acknowledges_again() {
    let mut net = Net::new("", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let b_call = incoming(&call_events(&mut net.b));
    net.drop_next = Some("ACK".into());
    net.b.answer(net.at(), b_call).unwrap();
    net.settle();
    let before = net.log.len();
    let t = net.now;
    net.run_to(t + 600);
    assert_eq!(net.flow()[before..], ["B>200", "A>ACK"]);
    // Both stay connected, and B stops repeating.
    net.run_to(t + 40_000);
    assert_eq!(net.log.len(), before + 2);
    assert_eq!(net.b.calls()[0].state, CallState::Connected);
}

#[test]
fn without_any_ack_the_callee_gives_up_with_bye_after_64_t1() {
    let mut net = Net::new("", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let b_call = incoming(&call_events(&mut net.b));
    // A vanishes after the INVITE: B talks to nobody.
    net.b.answer(net.at(), b_call).unwrap();
    let start = net.now;
    let first = drain(&mut net.b, start);
    assert!(first[0].1.payload.starts_with(b"SIP/2.0 200"));
    let sent = run_until(&mut net.b, net.clock, start + 40_000);
    let oks: Vec<u64> = sent
        .iter()
        .filter(|(_, t)| t.payload.starts_with(b"SIP/2.0 200"))
        .map(|(ms, _)| ms - start)
        .collect();
    // T1 doubling up to T2: 500, 1500, 3500, 7500, 11500, ... until 32 s.
    assert_eq!(&oks[..4], [500, 1500, 3500, 7500], "{oks:?}");
    assert!(sent.iter().any(|(_, t)| t.payload.starts_with(b"BYE ")));
    assert_eq!(
        ended(&call_events(&mut net.b)).unwrap().0,
        "no ACK for our answer"
    );
}

#[test]
fn an_unanswered_call_is_cancelled_after_timer_invite_expires() {
    let mut net = Net::new("timer_invite_expires: 30\n", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    net.run_to(29_000);
    assert_eq!(net.flow(), ["A>INVITE", "B>100", "B>180"]);
    net.run_to(31_000);
    assert_eq!(net.flow()[3..], ["A>CANCEL", "B>200", "B>487", "A>ACK"]);
    assert_eq!(net.log[0].1.header(&Name::EXPIRES), Some("30"));
    assert!(net.a.calls().is_empty());
    assert!(net.b.calls().is_empty());
}

#[test]
fn the_preferred_codec_comes_first_and_is_chosen() {
    let mut net = Net::new("preferred_codec: g711alaw\n", "");
    connected_call(&mut net);
    let offer = String::from_utf8_lossy(&net.log[0].1.body).to_string();
    assert!(offer.contains("m=audio 16384 RTP/AVP 8 0 101"), "{offer}");
    let codec = call_events(&mut net.b)
        .iter()
        .find_map(|e| match e {
            CallEvent::Media { negotiated, .. } => Some(negotiated.codec.encoding_name()),
            _ => None,
        })
        .unwrap();
    assert_eq!(codec, "PCMA");
}

#[test]
fn remote_party_id_is_sent_and_preferred_when_enabled() {
    let mut net = Net::new("remote_party_id: 1\n", "remote_party_id: 1\n");
    net.a.dial(net.at(), 1, "1002").unwrap();
    net.settle();
    let rpid = net.log[0]
        .1
        .header(&Name::custom("Remote-Party-ID", &["remote-party-id"]))
        .unwrap()
        .to_string();
    assert_eq!(
        rpid,
        "\"Phone 1001\" <sip:1001@192.0.2.20>;party=calling;screen=no;privacy=off"
    );
    let remote = call_events(&mut net.b)
        .into_iter()
        .find_map(|e| match e {
            CallEvent::Incoming { remote, .. } => Some(remote),
            _ => None,
        })
        .unwrap();
    assert_eq!(remote.display(), "Phone 1001 <1001>");
    // Off (the default): not sent.
    let mut net = Net::new("", "");
    net.a.dial(net.at(), 1, "1002").unwrap();
    assert!(net
        .a
        .poll_transmit()
        .map(|t| !String::from_utf8_lossy(&t.payload).contains("Remote-Party-ID"))
        .unwrap());
}

#[test]
fn bad_targets_and_unknown_lines_are_refused() {
    let mut net = Net::new("", "");
    assert!(net.a.dial(net.at(), 1, "").is_err());
    assert!(net.a.dial(net.at(), 1, "12 34").is_err());
    assert!(net.a.dial(net.at(), 4, "1002").is_err());
    assert!(net.a.calls().is_empty());
}

#[test]
fn a_bye_for_an_unknown_dialog_gets_481() {
    let mut net = Net::new("", "");
    let (a_call, _) = connected_call(&mut net);
    // B forgets the call (a reboot): A's BYE finds no dialog.
    net.b = phone(B, "1002", A, "");
    let before = net.log.len();
    net.a.hangup(net.at(), a_call).unwrap();
    net.settle();
    assert_eq!(net.flow()[before..], ["A>BYE", "B>481"]);
}

#[test]
fn a_dial_plan_route_sends_the_call_to_the_emergency_proxy() {
    let mut a = phone(A, "1001", B, "");
    let mut settings = a.call_settings().clone();
    settings.outbound_proxy = Some(addr("192.0.2.99:5060"));
    a.set_call_settings(settings);
    let clock = Clock::new();
    let emergency = addr("198.51.100.9:5060");
    let route = deskphone_sip::Route {
        user_param: Some(";user=phone"),
        via: Some(emergency),
    };
    a.dial_routed(clock.at(0), 1, "911", route).unwrap();
    let t = a.poll_transmit().unwrap();
    // Before the outbound proxy: the rule asked for this proxy.
    assert_eq!(t.destination, emergency);
    let invite = parse(&t);
    assert_eq!(invite.uri(), Some("sip:911@192.0.2.20;user=phone"));
    // Without a route the outbound proxy takes it.
    a.dial(clock.at(1), 1, "1002").unwrap();
    assert_eq!(
        a.poll_transmit().unwrap().destination,
        addr("192.0.2.99:5060")
    );
}
