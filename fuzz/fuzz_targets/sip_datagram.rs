//! Arbitrary bytes as a datagram arriving at the phone's SIP port.
//!
//! The bytes go through `inspect` (the RFC 4475 verdicts) and into a user agent with a
//! registered-looking line, whose responses and events are drained. Properties:
//! - nothing panics, whatever the bytes;
//! - a verdict that answers carries a status between 400 and 699;
//! - the same datagram, retransmitted, leaves the agent just as able to answer (no growth
//!   beyond what one transaction holds: transmissions after the second copy are bounded).
#![no_main]

use std::time::{Duration, Instant};

use deskphone_sip::check::{inspect, Verdict};
use deskphone_sip::{LineSettings, Settings, UserAgent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Verdict::Reject(r) = inspect(data) {
        assert!((400..700).contains(&r.status), "status {}", r.status);
    }
    let local = "192.0.2.20:5060".parse().unwrap();
    let proxy = "192.0.2.1:5060".parse().unwrap();
    let mut ua = UserAgent::new(Settings::default(), local, 7);
    let line = LineSettings {
        line: 1,
        name: "1001".into(),
        authname: None,
        password: None,
        display_name: None,
        proxy: "192.0.2.1".into(),
        proxy_port: 5060,
    };
    ua.add_line(line, proxy).unwrap();
    let now = Instant::now();
    ua.register(now, 1);
    for copy in 0..2 {
        ua.handle_datagram(now + Duration::from_millis(copy), proxy, data);
        let mut sent = 0;
        while ua.poll_transmit().is_some() {
            sent += 1;
            assert!(sent < 16, "one datagram made {sent} transmissions");
        }
        while ua.poll_event().is_some() {}
    }
    ua.handle_timeout(now + Duration::from_secs(64));
    while ua.poll_transmit().is_some() {}
});
