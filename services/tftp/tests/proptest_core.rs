//! Arbitrary datagrams, sources and timings never make the core panic, and
//! whatever it emits stays well-formed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use deskphone_tftp::{ClientConfig, Peer, Transfer};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Input {
    Datagram { from: u8, bytes: Vec<u8> },
    Advance(u16),
}

/// Datagrams that mostly start with a real opcode, so the fuzzing reaches the
/// states behind a successful OACK or DATA, not only the parser.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (
            1u16..=7,
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..600)
        )
            .prop_map(|(op, block, tail)| {
                let mut d = op.to_be_bytes().to_vec();
                d.extend_from_slice(&block.to_be_bytes());
                d.extend(tail);
                d
            }),
        (0u16..4, proptest::collection::vec(any::<u8>(), 0..600)).prop_map(|(block, tail)| {
            let mut d = vec![0, 3];
            d.extend_from_slice(&block.to_be_bytes());
            d.extend(tail);
            d
        }),
        proptest::collection::vec(
            prop_oneof![
                Just(b"blksize".to_vec()),
                Just(b"tsize".to_vec()),
                Just(b"timeout".to_vec()),
                Just(b"512".to_vec()),
                Just(b"8".to_vec()),
                Just(b"99999999999999999999".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..6),
            ],
            0..6
        )
        .prop_map(|fields| {
            let mut d = vec![0, 6];
            for f in fields {
                d.extend(f);
                d.push(0);
            }
            d
        }),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0u8..3, datagram()).prop_map(|(from, bytes)| Input::Datagram { from, bytes }),
        1 => any::<u16>().prop_map(Input::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_datagrams_never_panic(
        inputs in proptest::collection::vec(input(), 0..60),
        blksize in 0u16..=u16::MAX,
        timeout_option in any::<bool>(),
        max_size in 0u64..100_000,
    ) {
        let config = ClientConfig {
            blksize,
            timeout_option,
            max_size,
            retries: 3,
            timeout: Duration::from_millis(500),
        };
        let sources: [SocketAddr; 3] = [
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:40001".parse().unwrap(),
            "[::1]:40000".parse().unwrap(),
        ];
        let mut now = Instant::now();
        let mut t = Transfer::new("SIPDefault.cnf", &config, now);
        let mut outcomes = 0;
        for input in inputs {
            match input {
                Input::Datagram { from, bytes } => {
                    t.handle_datagram(now, sources[usize::from(from)], &bytes)
                }
                Input::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    t.handle_timeout(now);
                }
            }
            while let Some(tx) = t.poll_transmit() {
                let op = u16::from_be_bytes([tx.payload[0], tx.payload[1]]);
                match tx.to {
                    Peer::Server => prop_assert_eq!(op, 1, "only the RRQ goes to the well-known port"),
                    Peer::Addr(_) => prop_assert!(op == 4 || op == 5, "ACK or ERROR, got {}", op),
                }
            }
            if let Some(outcome) = t.poll_outcome() {
                outcomes += 1;
                if let Ok(file) = outcome {
                    prop_assert!(file.len() as u64 <= max_size);
                }
            }
            prop_assert_eq!(t.is_finished(), t.poll_timeout().is_none());
            prop_assert!(t.blksize() >= 8 && t.blksize() <= 65464);
        }
        prop_assert!(outcomes <= 1);
    }
}
