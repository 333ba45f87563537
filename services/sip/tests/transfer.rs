//! Transfers and the conference between three user agents in simulated time. The phones'
//! proxy address belongs to the test's network, which hands a request sent there to the
//! phone named by its Request-URI user (a stateless proxy without Record-Route, so
//! in-dialog requests go phone to phone); everything else is delivered to its address.

mod common;

use std::net::SocketAddr;

use common::*;
use deskphone_config::cnf::parse as parse_cnf;
use deskphone_config::{Config, FileRole, Mac};
use deskphone_sip::{
    CallEvent, CallId, CallSettings, CallState, LineSettings, Message, Name, Settings,
    TransferTarget, Transmit, UaEvent, UserAgent,
};

const PROXY: &str = "192.0.2.1:5060";
const PHONES: [(&str, &str); 3] = [
    ("1001", "192.0.2.10:5060"),
    ("1002", "192.0.2.20:5060"),
    ("1003", "192.0.2.30:5060"),
];

fn phone(name: &str, me: &str, extra: &str) -> UserAgent {
    let mut c = Config::new("00503EFFD842".parse::<Mac>().unwrap());
    let cnf = format!("proxy1_address: \"192.0.2.1\"\nline1_name: \"{name}\"\n{extra}");
    c.apply_file(
        "SIPDefault.cnf",
        FileRole::Default,
        &parse_cnf("SIPDefault.cnf", cnf.as_bytes()),
    );
    let mut ua = UserAgent::new(Settings::from_config(&c), addr(me), name.len() as u64 + 99);
    ua.add_line(LineSettings::from_config(&c, 1).unwrap(), addr(PROXY))
        .unwrap();
    ua.set_call_settings(CallSettings::from_config(
        &c,
        me.split(':').next().unwrap(),
        None,
    ));
    ua
}

struct Net {
    phones: Vec<UserAgent>,
    clock: Clock,
    now: u64,
    /// "A>INVITE", "B>200", ... with A, B, C the phones 1001, 1002, 1003.
    flow: Vec<String>,
    messages: Vec<Message>,
}

const NAMES: [char; 3] = ['A', 'B', 'C'];

impl Net {
    fn new(extra: [&str; 3]) -> Net {
        Net {
            phones: PHONES
                .iter()
                .zip(extra)
                .map(|((n, a), e)| phone(n, a, e))
                .collect(),
            clock: Clock::new(),
            now: 0,
            flow: Vec::new(),
            messages: Vec::new(),
        }
    }

    fn at(&self) -> std::time::Instant {
        self.clock.at(self.now)
    }

    fn settle(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            for i in 0..3 {
                while let Some(t) = self.phones[i].poll_transmit() {
                    moved = true;
                    self.deliver(i, t);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the phones never stop talking");
    }

    fn deliver(&mut self, from: usize, t: Transmit) {
        let m = parse(&t);
        let what = match m.method() {
            Some(method) => method.to_string(),
            None => m.code().unwrap().to_string(),
        };
        self.flow.push(format!("{}>{what}", NAMES[from]));
        let to = if t.destination == addr(PROXY) {
            let user = m
                .uri()
                .and_then(|u| u.strip_prefix("sip:"))
                .and_then(|u| u.split('@').next())
                .unwrap_or_default()
                .to_string();
            PHONES.iter().position(|(n, _)| *n == user)
        } else {
            PHONES.iter().position(|(_, a)| addr(a) == t.destination)
        };
        self.messages.push(m);
        self.now += 1;
        let now = self.at();
        let source: SocketAddr = addr(PHONES[from].1);
        if let Some(to) = to {
            self.phones[to].handle_datagram(now, source, &t.payload);
        }
    }

    fn run_to(&mut self, ms: u64) {
        loop {
            self.settle();
            let end = self.clock.at(ms);
            let next = self
                .phones
                .iter()
                .filter_map(|p| p.poll_timeout())
                .min()
                .filter(|t| *t <= end);
            let Some(t) = next else { break };
            self.now = self.now.max(self.clock.ms(t));
            for p in &mut self.phones {
                p.handle_timeout(t);
            }
        }
        self.now = self.now.max(ms);
    }

    fn events(&mut self, i: usize) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.phones[i].poll_event())
            .filter_map(|e| match e {
                UaEvent::Call(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// `from` calls `to`'s number and `to` answers.
    fn connect(&mut self, from: usize, to: usize) -> (CallId, CallId) {
        let now = self.at();
        let a = self.phones[from].dial(now, 1, PHONES[to].0).unwrap();
        self.settle();
        let b = incoming(&self.events(to));
        let now = self.at();
        self.phones[to].answer(now, b).unwrap();
        self.settle();
        (a, b)
    }

    fn states(&self, i: usize) -> Vec<(CallState, String)> {
        self.phones[i]
            .calls()
            .iter()
            .map(|c| (c.state, c.remote.number.clone().unwrap_or_default()))
            .collect()
    }
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

fn transfer_outcome(events: &[CallEvent]) -> Option<(bool, String)> {
    events.iter().find_map(|e| match e {
        CallEvent::Transfer { ok, outcome, .. } => Some((*ok, outcome.clone())),
        _ => None,
    })
}

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

#[test]
fn blind_transfer_hands_the_caller_to_the_target() {
    let mut net = Net::new(["", "", ""]);
    let (ab, _) = net.connect(A, B);
    net.events(A);
    net.events(B);
    let before = net.flow.len();
    let now = net.at();
    net.phones[A]
        .transfer(now, ab, TransferTarget::Number("1003".into()))
        .unwrap();
    net.settle();
    let flow = &net.flow[before..];
    let pos = |step: &str| flow.iter().position(|f| f == step);
    assert_eq!(pos("A>REFER"), Some(0), "{flow:?}");
    // A hangs up once B accepted the REFER.
    assert!(pos("B>202").unwrap() < pos("A>BYE").unwrap(), "{flow:?}");
    let refer = &net.messages[before];
    assert_eq!(refer.header(&Name::REFER_TO), Some("<sip:1003@192.0.2.1>"));
    assert!(flow.contains(&"B>INVITE".to_string()), "{flow:?}");
    assert_eq!(
        transfer_outcome(&net.events(A)),
        Some((true, "accepted by the other party".into()))
    );
    assert!(net.phones[A].calls().is_empty());
    // B was referred and calls C, saying who referred it.
    let b_events = net.events(B);
    assert!(b_events.iter().any(
        |e| matches!(e, CallEvent::Referred { target, .. } if target == "sip:1003@192.0.2.1")
    ));
    let invite = net
        .messages
        .iter()
        .rev()
        .find(|m| m.method() == Some("INVITE"))
        .unwrap();
    assert!(invite
        .header(&Name::custom("Referred-By", &["referred-by"]))
        .unwrap()
        .contains("sip:1001@192.0.2.1"));
    let c_call = incoming(&net.events(C));
    let now = net.at();
    net.phones[C].answer(now, c_call).unwrap();
    net.settle();
    assert_eq!(net.states(B), [(CallState::Connected, "1003".to_string())]);
    assert_eq!(net.states(C), [(CallState::Connected, "1002".to_string())]);
}

#[test]
fn attended_transfer_replaces_the_consultation_call() {
    let mut net = Net::new(["", "", ""]);
    let (ab, _) = net.connect(A, B);
    let now = net.at();
    net.phones[A].hold(now, ab, true).unwrap();
    net.settle();
    let (ac, _) = net.connect(A, C);
    net.events(A);
    net.events(B);
    net.events(C);
    let before = net.flow.len();
    let now = net.at();
    net.phones[A]
        .transfer(now, ab, TransferTarget::Call(ac))
        .unwrap();
    net.settle();
    let flow = net.flow[before..].to_vec();
    let refer_to = net.messages[before]
        .header(&Name::REFER_TO)
        .unwrap()
        .to_string();
    assert!(
        refer_to.starts_with("<sip:1003@192.0.2.1?Replaces=") && refer_to.contains("%3Bto-tag%3D"),
        "{refer_to}"
    );
    // B's INVITE carries Replaces; C answers it at once and hangs up its call with A; B
    // reports success to A, which hangs up too.
    let replacing = net
        .messages
        .iter()
        .skip(before)
        .find(|m| m.method() == Some("INVITE"))
        .unwrap();
    assert!(replacing.header(&Name::REPLACES).is_some());
    for step in ["B>202", "B>NOTIFY", "B>INVITE", "C>200", "C>BYE", "A>BYE"] {
        assert!(
            flow.contains(&step.to_string()),
            "{step} missing from {flow:?}"
        );
    }
    assert!(
        net.phones[A].calls().is_empty(),
        "{:?}",
        net.phones[A].calls()
    );
    assert_eq!(net.states(B), [(CallState::Connected, "1003".to_string())]);
    assert_eq!(net.states(C), [(CallState::Connected, "1002".to_string())]);
    assert!(transfer_outcome(&net.events(A)).unwrap().0);
    assert!(net
        .events(C)
        .iter()
        .any(|e| matches!(e, CallEvent::Replaced { .. })));
}

#[test]
fn semi_attended_transfer_cancels_the_ringing_call_and_refers_blind() {
    let mut net = Net::new(["", "", ""]);
    let (ab, _) = net.connect(A, B);
    let now = net.at();
    let ac = net.phones[A].dial(now, 1, "1003").unwrap();
    net.settle();
    incoming(&net.events(C));
    let before = net.flow.len();
    let now = net.at();
    net.phones[A]
        .transfer(now, ab, TransferTarget::Call(ac))
        .unwrap();
    net.settle();
    let flow = net.flow[before..].to_vec();
    for step in [
        "A>CANCEL", "C>487", "A>REFER", "B>202", "A>BYE", "B>INVITE", "C>180",
    ] {
        assert!(
            flow.contains(&step.to_string()),
            "{step} missing from {flow:?}"
        );
    }
    assert!(net.phones[A].calls().is_empty());
    assert_eq!(net.states(C), [(CallState::Ringing, "1002".to_string())]);

    // With semi_attended_transfer 0 the phone refuses and nothing changes.
    let mut net = Net::new(["semi_attended_transfer: 0\n", "", ""]);
    let (ab, _) = net.connect(A, B);
    let now = net.at();
    let ac = net.phones[A].dial(now, 1, "1003").unwrap();
    net.settle();
    let now = net.at();
    let err = net.phones[A]
        .transfer(now, ab, TransferTarget::Call(ac))
        .unwrap_err();
    assert!(
        err.to_string().contains("semi_attended_transfer is 0"),
        "{err}"
    );
    assert_eq!(net.phones[A].calls().len(), 2);
}

#[test]
fn a_failed_attended_transfer_leaves_the_call_on_hold() {
    let mut net = Net::new(["", "", ""]);
    let (ab, _) = net.connect(A, B);
    let now = net.at();
    net.phones[A].hold(now, ab, true).unwrap();
    net.settle();
    let (ac, ca) = net.connect(A, C);
    net.events(A);
    let now = net.at();
    net.phones[A]
        .transfer(now, ab, TransferTarget::Call(ac))
        .unwrap();
    assert!(net.phones[A].calls()[0].transferring);
    // C hangs up the consultation call before B's INVITE arrives: Replaces finds nothing.
    net.phones[C].hangup(now, ca).unwrap();
    net.settle();
    assert!(net.flow.contains(&"C>481".to_string()), "{:?}", net.flow);
    let outcome = transfer_outcome(&net.events(A)).unwrap();
    assert_eq!(outcome, (false, "the target answered 481".to_string()));
    assert_eq!(net.states(A), [(CallState::Held, "1002".to_string())]);
    assert!(!net.phones[A].calls()[0].transferring);
    assert!(net.phones[C].calls().is_empty());
    // A transfer to a call that does not exist is refused at once.
    let now = net.at();
    assert!(net.phones[A]
        .transfer(now, ab, TransferTarget::Call(CallId(999)))
        .is_err());
}

#[test]
fn conference_mixes_two_calls_and_joins_them_when_the_host_leaves() {
    let mut net = Net::new(["", "", ""]);
    let (ab, _) = net.connect(A, B);
    let now = net.at();
    net.phones[A].hold(now, ab, true).unwrap();
    net.settle();
    let (ac, _) = net.connect(A, C);
    net.events(A);
    let now = net.at();
    net.phones[A].conference(now, ab, ac).unwrap();
    net.settle();
    let calls = net.phones[A].calls();
    assert!(
        calls
            .iter()
            .all(|c| c.conference && c.state == CallState::Connected),
        "{calls:?}"
    );
    assert!(net
        .events(A)
        .iter()
        .any(|e| matches!(e, CallEvent::Conference { calls } if calls.len() == 2)));
    // The host hangs up: B and C stay together (cnf_join_enable defaults to 1).
    let now = net.at();
    net.phones[A].hangup(now, ab).unwrap();
    net.settle();
    net.run_to(net.now + 1000);
    assert!(
        net.phones[A].calls().is_empty(),
        "{:?}",
        net.phones[A].calls()
    );
    assert_eq!(net.states(B), [(CallState::Connected, "1003".to_string())]);
    assert_eq!(net.states(C), [(CallState::Connected, "1002".to_string())]);

    // cnf_join_enable 0: everyone is hung up.
    let mut net = Net::new(["cnf_join_enable: 0\n", "", ""]);
    let (ab, _) = net.connect(A, B);
    let (ac, _) = net.connect(A, C);
    let now = net.at();
    net.phones[A].conference(now, ab, ac).unwrap();
    net.settle();
    let now = net.at();
    net.phones[A].hangup(now, ac).unwrap();
    net.settle();
    assert!(net.phones[A].calls().is_empty());
    assert!(net.phones[B].calls().is_empty());
    assert!(net.phones[C].calls().is_empty());
}
