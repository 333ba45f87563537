//! The core driven with hand-made packets and simulated time: no sockets, no sleeping.

use super::*;
use std::time::Duration;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn tid() -> SocketAddr {
    addr("192.0.2.1:40000")
}
fn stranger() -> SocketAddr {
    addr("192.0.2.1:40001")
}

fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 3];
    p.extend_from_slice(&block.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn oack(options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, 6];
    for (n, v) in options {
        p.extend_from_slice(n.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

fn error(code: u16, msg: &str) -> Vec<u8> {
    packet::error(code, msg)
}

fn ack_to(block: u16) -> Transmit {
    Transmit {
        to: Peer::Addr(tid()),
        payload: packet::ack(block),
    }
}

fn error_to(to: SocketAddr, code: u16) -> Box<dyn Fn(&Transmit) -> bool> {
    Box::new(move |t: &Transmit| {
        t.to == Peer::Addr(to) && t.payload.len() >= 4 && t.payload[..4] == [0, 5, 0, code as u8]
    })
}

/// A transfer plus a simulated clock.
struct Sim {
    t: Transfer,
    now: Instant,
}

impl Sim {
    fn new(filename: &str, config: &ClientConfig) -> Sim {
        let now = Instant::now();
        Sim {
            t: Transfer::new(filename, config, now),
            now,
        }
    }

    /// Starts a transfer and checks that exactly one RRQ is queued.
    fn started(config: &ClientConfig) -> Sim {
        let mut s = Sim::new("SIPDefault.cnf", config);
        let sent = s.drain();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, Peer::Server);
        assert_eq!(&sent[0].payload[..2], &[0, 1]);
        s
    }

    fn recv(&mut self, from: SocketAddr, d: &[u8]) -> Vec<Transmit> {
        self.t.handle_datagram(self.now, from, d);
        self.drain()
    }

    fn server_sends(&mut self, d: &[u8]) -> Vec<Transmit> {
        self.recv(tid(), d)
    }

    fn advance(&mut self, by: Duration) -> Vec<Transmit> {
        self.now += by;
        self.t.handle_timeout(self.now);
        self.drain()
    }

    /// Jumps to the deadline and fires it.
    fn expire(&mut self) -> Vec<Transmit> {
        self.now = self.t.poll_timeout().expect("deadline");
        self.t.handle_timeout(self.now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.t.poll_transmit()).collect()
    }

    fn ok(&mut self) -> Vec<u8> {
        assert!(self.t.is_finished());
        assert_eq!(self.t.poll_timeout(), None);
        match self.t.poll_outcome() {
            Some(Ok(v)) => v,
            other => panic!("expected success, got {other:?}"),
        }
    }

    fn err(&mut self) -> TftpError {
        assert!(self.t.is_finished());
        assert_eq!(self.t.poll_timeout(), None);
        match self.t.poll_outcome() {
            Some(Err(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn running(&mut self) {
        assert!(!self.t.is_finished());
        assert!(self.t.poll_outcome().is_none());
        assert!(self.t.poll_timeout().is_some());
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn config() -> ClientConfig {
    ClientConfig::default()
}

fn small_blocks(blksize: u16) -> ClientConfig {
    ClientConfig {
        blksize,
        ..ClientConfig::default()
    }
}

#[test]
fn rrq_requests_octet_blksize_and_tsize() {
    let mut s = Sim::new("dir/sub/SIP001122334455.cnf", &config());
    let sent = s.drain();
    assert_eq!(
        sent,
        vec![Transmit {
            to: Peer::Server,
            payload: b"\x00\x01dir/sub/SIP001122334455.cnf\0octet\0blksize\x001428\0tsize\x000\0"
                .to_vec()
        }]
    );
    s.running();
}

#[test]
fn options_negotiated() {
    let file = pattern(1428 * 2 + 144);
    let mut s = Sim::started(&config());
    let size = file.len().to_string();
    assert_eq!(
        s.server_sends(&oack(&[("blksize", "1428"), ("tsize", &size)])),
        vec![ack_to(0)]
    );
    assert_eq!(s.t.blksize(), 1428);
    assert_eq!(s.t.tsize(), Some(file.len() as u64));
    for (i, chunk) in file.chunks(1428).enumerate() {
        let block = i as u16 + 1;
        assert_eq!(s.server_sends(&data(block, chunk)), vec![ack_to(block)]);
    }
    assert_eq!(s.ok(), file);
    assert_eq!(
        s.t.poll_outcome().map(|_| ()),
        None,
        "outcome is given once"
    );
}

#[test]
fn option_names_are_case_insensitive() {
    let mut s = Sim::started(&config());
    assert_eq!(
        s.server_sends(&oack(&[("BLKSIZE", "1000"), ("TSize", "3")])),
        vec![ack_to(0)]
    );
    assert_eq!(s.t.blksize(), 1000);
    s.server_sends(&data(1, b"abc"));
    assert_eq!(s.ok(), b"abc");
}

#[test]
fn server_ignoring_options_gets_512_byte_blocks() {
    let file = pattern(512 + 10);
    let mut s = Sim::started(&config());
    assert_eq!(s.server_sends(&data(1, &file[..512])), vec![ack_to(1)]);
    assert_eq!(s.t.blksize(), 512);
    assert_eq!(s.t.tsize(), None);
    s.running();
    assert_eq!(s.server_sends(&data(2, &file[512..])), vec![ack_to(2)]);
    assert_eq!(s.ok(), file);
}

#[test]
fn oack_may_lower_blksize() {
    let file = pattern(1024 + 1);
    let mut s = Sim::started(&config());
    assert_eq!(
        s.server_sends(&oack(&[("blksize", "1024")])),
        vec![ack_to(0)]
    );
    assert_eq!(s.t.blksize(), 1024);
    assert_eq!(s.server_sends(&data(1, &file[..1024])), vec![ack_to(1)]);
    s.running();
    s.server_sends(&data(2, &file[1024..]));
    assert_eq!(s.ok(), file);
}

#[test]
fn oack_without_blksize_means_512() {
    let mut s = Sim::started(&config());
    assert_eq!(s.server_sends(&oack(&[("tsize", "600")])), vec![ack_to(0)]);
    assert_eq!(s.t.blksize(), 512);
    s.server_sends(&data(1, &pattern(512)));
    s.running();
    s.server_sends(&data(2, &pattern(88)));
    assert_eq!(s.ok().len(), 600);
}

#[test]
fn empty_oack_declines_everything() {
    let mut s = Sim::started(&config());
    assert_eq!(s.server_sends(&oack(&[])), vec![ack_to(0)]);
    assert_eq!(s.t.blksize(), 512);
    s.server_sends(&data(1, b"x"));
    assert_eq!(s.ok(), b"x");
}

#[test]
fn oack_with_bad_blksize_is_refused_with_error_8() {
    for bad in ["1429", "65465", "7", "0", "", "abc", "-1", "1e3", " 512"] {
        let mut s = Sim::started(&config());
        let sent = s.server_sends(&oack(&[("blksize", bad)]));
        assert_eq!(sent.len(), 1, "{bad:?}");
        assert!(error_to(tid(), 8)(&sent[0]), "{bad:?}: {sent:?}");
        assert!(matches!(s.err(), TftpError::Protocol(_)), "{bad:?}");
    }
}

#[test]
fn blksize_limits_are_accepted_when_asked() {
    for (asked, offered) in [(65464, "65464"), (8, "8"), (1428, "8")] {
        let mut s = Sim::started(&small_blocks(asked));
        assert_eq!(
            s.server_sends(&oack(&[("blksize", offered)])),
            vec![ack_to(0)]
        );
        assert_eq!(s.t.blksize(), offered.parse::<usize>().unwrap());
    }
}

#[test]
fn configured_blksize_is_clamped() {
    let mut s = Sim::new("f", &small_blocks(2));
    let rrq = s.drain().remove(0).payload;
    assert!(rrq.ends_with(b"blksize\x008\0tsize\x000\0"), "{rrq:?}");
    let mut s = Sim::new("f", &small_blocks(u16::MAX));
    let rrq = s.drain().remove(0).payload;
    assert!(rrq.ends_with(b"blksize\x0065464\0tsize\x000\0"), "{rrq:?}");
}

#[test]
fn oack_with_unknown_option_is_refused_with_error_8() {
    let mut s = Sim::started(&config());
    let sent = s.server_sends(&oack(&[("blksize", "512"), ("windowsize", "4")]));
    assert_eq!(sent.len(), 1);
    assert!(error_to(tid(), 8)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(m) if m.contains("windowsize")));
}

#[test]
fn oack_with_unrequested_timeout_is_refused() {
    let mut s = Sim::started(&config());
    let sent = s.server_sends(&oack(&[("timeout", "1")]));
    assert!(error_to(tid(), 8)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(_)));
}

#[test]
fn oack_with_repeated_or_malformed_options_is_refused() {
    for body in [
        oack(&[("blksize", "512"), ("blksize", "512")]),
        b"\x00\x06blksize\x00512".to_vec(),
        b"\x00\x06blksize\0".to_vec(),
        oack(&[("tsize", "lots")]),
    ] {
        let mut s = Sim::started(&config());
        let sent = s.server_sends(&body);
        assert_eq!(sent.len(), 1, "{body:?}");
        assert!(error_to(tid(), 8)(&sent[0]), "{body:?}");
        assert!(matches!(s.err(), TftpError::Protocol(_)));
    }
}

#[test]
fn timeout_option_is_requested_and_must_be_echoed() {
    let cfg = ClientConfig {
        timeout: Duration::from_millis(2500),
        timeout_option: true,
        ..config()
    };
    let mut s = Sim::new("f", &cfg);
    let rrq = s.drain().remove(0).payload;
    assert!(rrq.ends_with(b"tsize\x000\0timeout\x003\0"), "{rrq:?}");
    assert_eq!(s.server_sends(&oack(&[("timeout", "3")])), vec![ack_to(0)]);

    let mut s = Sim::started(&cfg);
    let sent = s.server_sends(&oack(&[("timeout", "5")]));
    assert!(error_to(tid(), 8)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(_)));
}

#[test]
fn server_rejecting_options_is_asked_again_without() {
    let mut s = Sim::started(&config());
    let sent = s.recv(addr("192.0.2.1:50000"), &error(8, "no options"));
    assert_eq!(
        sent,
        vec![Transmit {
            to: Peer::Server,
            payload: b"\x00\x01SIPDefault.cnf\0octet\0".to_vec()
        }]
    );
    s.running();
    // The new request gets a new transfer ID.
    assert_eq!(s.server_sends(&data(1, b"hello")), vec![ack_to(1)]);
    assert_eq!(s.ok(), b"hello");
}

#[test]
fn second_error_8_ends_the_transfer() {
    let mut s = Sim::started(&config());
    s.server_sends(&error(8, "no"));
    assert!(s.server_sends(&error(8, "still no")).is_empty());
    assert!(matches!(s.err(), TftpError::Server { code: 8, .. }));
}

#[test]
fn wrong_tid_gets_error_5_and_does_not_disturb() {
    let mut s = Sim::started(&config());
    s.server_sends(&oack(&[("blksize", "8")]));
    s.server_sends(&data(1, b"12345678"));

    let sent = s.recv(stranger(), &data(2, b"evil"));
    assert_eq!(sent.len(), 1);
    assert!(error_to(stranger(), 5)(&sent[0]));
    // Same IP, other port; and same port, other IP: both strangers.
    let sent = s.recv(addr("192.0.2.2:40000"), &data(2, b"evil"));
    assert!(error_to(addr("192.0.2.2:40000"), 5)(&sent[0]));
    // Garbage from a stranger is answered too, an ERROR from a stranger is not.
    assert_eq!(s.recv(stranger(), b"\xff").len(), 1);
    assert!(s.recv(stranger(), &error(0, "go away")).is_empty());
    s.running();

    assert_eq!(s.server_sends(&data(2, b"abc")), vec![ack_to(2)]);
    assert_eq!(s.ok(), b"12345678abc");
}

#[test]
fn duplicate_data_is_acked_again_without_retransmitting_anything_else() {
    let mut s = Sim::started(&small_blocks(8));
    s.server_sends(&oack(&[("blksize", "8")]));
    s.advance(Duration::from_millis(300));
    assert_eq!(s.server_sends(&data(1, b"aaaaaaaa")), vec![ack_to(1)]);
    let deadline = s.t.poll_timeout().unwrap();
    s.advance(Duration::from_millis(300));
    // Each duplicate gets exactly one ACK, and the timer is left alone.
    assert_eq!(s.server_sends(&data(1, b"aaaaaaaa")), vec![ack_to(1)]);
    assert_eq!(s.server_sends(&data(1, b"aaaaaaaa")), vec![ack_to(1)]);
    assert_eq!(s.t.poll_timeout(), Some(deadline));
    // Older duplicates (the OACK's ACK 0 was already superseded) are ignored.
    assert!(s.server_sends(&oack(&[("blksize", "8")])).is_empty());
    assert_eq!(s.server_sends(&data(2, b"bbbbbbbb")), vec![ack_to(2)]);
    assert!(s.server_sends(&data(1, b"aaaaaaaa")).is_empty());
    // A block from the future is not ours to ACK.
    assert!(s.server_sends(&data(9, b"zz")).is_empty());
    s.server_sends(&data(3, b""));
    assert_eq!(s.ok(), b"aaaaaaaabbbbbbbb");
}

#[test]
fn repeated_oack_gets_ack_0_again() {
    let mut s = Sim::started(&config());
    assert_eq!(
        s.server_sends(&oack(&[("blksize", "512")])),
        vec![ack_to(0)]
    );
    assert_eq!(
        s.server_sends(&oack(&[("blksize", "512")])),
        vec![ack_to(0)]
    );
    s.server_sends(&data(1, b"x"));
    assert_eq!(s.ok(), b"x");
}

#[test]
fn lost_ack_is_retransmitted_on_timeout_only() {
    let cfg = config();
    let mut s = Sim::started(&cfg);
    s.server_sends(&oack(&[("blksize", "512")]));
    assert_eq!(s.server_sends(&data(1, &pattern(512))), vec![ack_to(1)]);
    // Nothing before the deadline...
    assert!(s.advance(cfg.timeout - Duration::from_millis(1)).is_empty());
    // ...the last ACK at it...
    assert_eq!(s.advance(Duration::from_millis(1)), vec![ack_to(1)]);
    // ...and the next one a full timeout later.
    assert!(s.advance(cfg.timeout / 2).is_empty());
    assert_eq!(s.advance(cfg.timeout / 2), vec![ack_to(1)]);
    assert_eq!(s.server_sends(&data(2, b"end")), vec![ack_to(2)]);
    assert_eq!(s.ok().len(), 515);
}

#[test]
fn silent_server_times_out_after_the_configured_retries() {
    let cfg = ClientConfig {
        timeout: Duration::from_millis(250),
        retries: 3,
        ..config()
    };
    let start = Instant::now();
    let mut s = Sim {
        t: Transfer::new("f", &cfg, start),
        now: start,
    };
    let rrq = s.drain();
    for _ in 0..cfg.retries {
        assert_eq!(s.expire(), rrq, "the RRQ is repeated");
        s.running();
    }
    assert!(s.expire().is_empty());
    assert!(matches!(s.err(), TftpError::Timeout));
    assert_eq!(s.now - start, cfg.timeout * (cfg.retries + 1));
}

#[test]
fn retries_are_counted_per_packet() {
    let cfg = ClientConfig {
        retries: 2,
        ..config()
    };
    let mut s = Sim::started(&cfg);
    s.expire();
    s.expire();
    // Progress resets the budget: two more retransmissions of ACK 0 are allowed.
    s.server_sends(&oack(&[]));
    assert_eq!(s.expire(), vec![ack_to(0)]);
    assert_eq!(s.expire(), vec![ack_to(0)]);
    s.running();
    assert!(s.expire().is_empty());
    assert!(matches!(s.err(), TftpError::Timeout));
}

#[test]
fn early_handle_timeout_does_nothing() {
    let mut s = Sim::started(&config());
    for _ in 0..10 {
        assert!(s.advance(Duration::from_millis(10)).is_empty());
    }
    s.running();
}

#[test]
fn error_packets_end_the_transfer_with_typed_errors() {
    let mut s = Sim::started(&config());
    assert!(s.server_sends(&error(1, "File not found")).is_empty());
    assert!(matches!(s.err(), TftpError::NotFound));

    let mut s = Sim::started(&config());
    s.server_sends(&error(2, "Access violation"));
    assert!(
        matches!(s.err(), TftpError::Server { code: 2, message } if message == "Access violation")
    );

    // Mid-transfer, and without a trailing NUL.
    let mut s = Sim::started(&config());
    s.server_sends(&data(1, &pattern(512)));
    assert!(s.server_sends(b"\x00\x05\x00\x03disk gone").is_empty());
    assert!(matches!(s.err(), TftpError::Server { code: 3, message } if message == "disk gone"));
}

#[test]
fn file_of_exactly_n_blocks_ends_with_an_empty_data() {
    let file = pattern(3 * 8);
    let mut s = Sim::started(&small_blocks(8));
    s.server_sends(&oack(&[("blksize", "8"), ("tsize", "24")]));
    for (i, chunk) in file.chunks(8).enumerate() {
        assert_eq!(
            s.server_sends(&data(i as u16 + 1, chunk)),
            vec![ack_to(i as u16 + 1)]
        );
        s.running();
    }
    assert_eq!(s.server_sends(&data(4, b"")), vec![ack_to(4)]);
    assert_eq!(s.ok(), file);
}

#[test]
fn zero_length_file() {
    let mut s = Sim::started(&config());
    s.server_sends(&oack(&[("blksize", "1428"), ("tsize", "0")]));
    assert_eq!(s.server_sends(&data(1, b"")), vec![ack_to(1)]);
    assert!(s.ok().is_empty());

    let mut s = Sim::started(&config());
    assert_eq!(s.server_sends(&data(1, b"")), vec![ack_to(1)]);
    assert!(s.ok().is_empty());
}

#[test]
fn block_numbers_roll_over_to_zero() {
    // 65535 + 3 full blocks of 8 bytes and a short one: blocks 1..=65535, 0, 1, 2, 3.
    let blocks = 65_535usize + 4;
    let len = (blocks - 1) * 8 + 5;
    let mut s = Sim::started(&small_blocks(8));
    s.server_sends(&oack(&[("blksize", "8"), ("tsize", &len.to_string())]));
    let mut block: u16 = 1;
    for i in 0..blocks {
        let size = if i == blocks - 1 { 5 } else { 8 };
        // Content derived from the absolute index, so a misplaced block shows.
        let payload = [(i % 251) as u8; 8];
        let sent = s.server_sends(&data(block, &payload[..size]));
        assert_eq!(sent, vec![ack_to(block)], "block index {i}");
        if block == 0 {
            // The duplicate of block 65535 is stale now, block 0 is the latest.
            assert!(s.server_sends(&data(65535, &[0; 8])).is_empty());
            assert_eq!(s.server_sends(&data(0, &payload)), vec![ack_to(0)]);
        }
        block = block.wrapping_add(1);
    }
    let file = s.ok();
    assert_eq!(file.len(), len);
    for (i, chunk) in file.chunks(8).enumerate() {
        assert!(
            chunk.iter().all(|&b| b == (i % 251) as u8),
            "block index {i}"
        );
    }
}

#[test]
fn too_large_by_tsize() {
    let cfg = ClientConfig {
        max_size: 100,
        ..config()
    };
    let mut s = Sim::started(&cfg);
    let sent = s.server_sends(&oack(&[("blksize", "512"), ("tsize", "101")]));
    assert_eq!(sent.len(), 1);
    assert!(error_to(tid(), 3)(&sent[0]));
    assert!(matches!(s.err(), TftpError::TooLarge { limit: 100 }));

    // Exactly the limit is fine.
    let mut s = Sim::started(&cfg);
    assert_eq!(s.server_sends(&oack(&[("tsize", "100")])), vec![ack_to(0)]);
    s.server_sends(&data(1, &pattern(100)));
    assert_eq!(s.ok().len(), 100);
}

#[test]
fn absurd_tsize_is_too_large_not_an_allocation() {
    let mut s = Sim::started(&config());
    s.server_sends(&oack(&[("tsize", "18446744073709551615")]));
    assert!(matches!(s.err(), TftpError::TooLarge { .. }));
}

#[test]
fn too_large_by_data() {
    let cfg = ClientConfig {
        max_size: 1000,
        ..config()
    };
    let mut s = Sim::started(&cfg);
    s.server_sends(&data(1, &pattern(512)));
    let sent = s.server_sends(&data(2, &pattern(512)));
    assert_eq!(sent.len(), 1);
    assert!(error_to(tid(), 3)(&sent[0]), "{sent:?}");
    assert!(matches!(s.err(), TftpError::TooLarge { limit: 1000 }));
}

#[test]
fn tsize_mismatch_is_a_protocol_error_after_the_final_ack() {
    let mut s = Sim::started(&config());
    s.server_sends(&oack(&[("tsize", "100")]));
    assert_eq!(s.server_sends(&data(1, &pattern(50))), vec![ack_to(1)]);
    assert!(matches!(s.err(), TftpError::Protocol(m) if m.contains("100")));
}

#[test]
fn oversized_data_block_is_a_protocol_error() {
    let mut s = Sim::started(&config());
    s.server_sends(&oack(&[("blksize", "512")]));
    let sent = s.server_sends(&data(1, &pattern(513)));
    assert!(error_to(tid(), 4)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(_)));
}

#[test]
fn illegal_packets_from_the_server_are_protocol_errors() {
    // As a first reply.
    for bad in [
        packet::ack(0),
        data(2, b"x"),
        data(0, b"x"),
        b"\x00\x01f\0octet\0".to_vec(),
    ] {
        let mut s = Sim::started(&config());
        let sent = s.server_sends(&bad);
        assert_eq!(sent.len(), 1, "{bad:?}");
        assert!(error_to(tid(), 4)(&sent[0]), "{bad:?}");
        assert!(matches!(s.err(), TftpError::Protocol(_)));
    }
    // In the middle of the transfer.
    let mut s = Sim::started(&config());
    s.server_sends(&data(1, &pattern(512)));
    let sent = s.server_sends(&packet::ack(1));
    assert!(error_to(tid(), 4)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(_)));
}

#[test]
fn oack_without_options_requested_is_refused() {
    let mut s = Sim::started(&config());
    s.server_sends(&error(8, "no options"));
    let sent = s.server_sends(&oack(&[("blksize", "512")]));
    assert!(error_to(tid(), 4)(&sent[0]));
    assert!(matches!(s.err(), TftpError::Protocol(_)));
}

#[test]
fn garbage_is_ignored() {
    let garbage: [&[u8]; 6] = [
        b"",
        b"\x00",
        b"\x00\x03\x00",
        b"\x00\x04",
        b"\x00\x09abc",
        b"\xff\xff\xff\xff",
    ];
    let mut s = Sim::started(&config());
    // Before the lock: ignored, and nobody gets locked onto.
    for g in garbage {
        assert!(s.recv(stranger(), g).is_empty());
        assert!(s.server_sends(g).is_empty());
    }
    s.running();
    s.server_sends(&oack(&[("blksize", "512")]));
    // After the lock, from the server: ignored.
    for g in garbage {
        assert!(s.server_sends(g).is_empty());
    }
    s.running();
    s.server_sends(&data(1, b"ok"));
    assert_eq!(s.ok(), b"ok");
}

#[test]
fn invalid_filename_fails_without_sending() {
    for name in ["", "a\0b"] {
        let mut s = Sim::new(name, &config());
        assert!(s.drain().is_empty());
        assert!(matches!(s.err(), TftpError::InvalidFilename(_)));
    }
}

#[test]
fn finished_transfer_ignores_everything() {
    let mut s = Sim::started(&config());
    s.server_sends(&data(1, b"x"));
    assert_eq!(s.ok(), b"x");
    assert!(s.server_sends(&data(1, b"x")).is_empty());
    assert!(s.recv(stranger(), &data(1, b"x")).is_empty());
    assert!(s.advance(Duration::from_secs(60)).is_empty());
    assert!(s.t.poll_outcome().is_none());
}
