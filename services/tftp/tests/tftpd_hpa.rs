//! `fetch` and the core against the real tftpd-hpa daemon.

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{drive, free_port, random_bytes, skip, Server, Tree};
use deskphone_tftp::{fetch, ClientConfig, TftpError};

/// Bounds every fetch so a hang fails the test instead of stalling the run.
async fn fetch_bounded(
    server: SocketAddr,
    name: &str,
    config: &ClientConfig,
) -> Result<Vec<u8>, TftpError> {
    tokio::time::timeout(Duration::from_secs(120), fetch(server, name, config))
        .await
        .expect("fetch did not finish within 120 s")
}

#[tokio::test]
async fn small_file() {
    let tree = Tree::new();
    let cnf = b"image_version: P0S3-08-4-00\nproxy1_address: 192.0.2.5\n";
    tree.put("SIPDefault.cnf", cnf);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(server.addr, "SIPDefault.cnf", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), cnf);
}

#[tokio::test]
async fn multi_block_file_with_default_blksize_negotiated() {
    let tree = Tree::new();
    let file = random_bytes(10_000, 1);
    tree.put("multi.bin", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    assert_eq!(
        fetch_bounded(server.addr, "multi.bin", &ClientConfig::default())
            .await
            .unwrap(),
        file
    );
    // The same through the blocking driver, to see what was negotiated.
    let seen = drive(server.addr, "multi.bin", &ClientConfig::default());
    assert_eq!(seen.result.unwrap(), file);
    assert_eq!(seen.blksize, 1428);
    assert_eq!(seen.tsize, Some(file.len() as u64));
}

#[tokio::test]
async fn exact_multiple_of_the_block_size() {
    let tree = Tree::new();
    let file = random_bytes(1428 * 5, 2);
    tree.put("exact.bin", &file);
    let small = random_bytes(64 * 3, 3);
    tree.put("exact64.bin", &small);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(server.addr, "exact.bin", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), file);
    let config = ClientConfig {
        blksize: 64,
        ..ClientConfig::default()
    };
    assert_eq!(
        fetch_bounded(server.addr, "exact64.bin", &config)
            .await
            .unwrap(),
        small
    );
}

#[tokio::test]
async fn zero_length_file() {
    let tree = Tree::new();
    tree.put("empty.cnf", b"");
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(server.addr, "empty.cnf", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), b"");
}

#[tokio::test]
async fn large_file_integrity() {
    let tree = Tree::new();
    let file = random_bytes(4 * 1024 * 1024 + 17, 4);
    tree.put("P0S3-08-4-00.sbn", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(server.addr, "P0S3-08-4-00.sbn", &ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(got.len(), file.len());
    assert!(got == file, "contents differ");
}

#[tokio::test]
async fn large_file_streamed_to_disk_with_progress() {
    let tree = Tree::new();
    // Above the in-memory default limit: only the streaming path may take it.
    let file = random_bytes(17 * 1024 * 1024 + 5, 6);
    tree.put("deskphone-1.2.3.bin", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let config = ClientConfig {
        max_size: 64 * 1024 * 1024,
        ..ClientConfig::default()
    };
    let dest = tree.path().join("downloaded");
    let mut seen = Vec::new();
    let n = tokio::time::timeout(
        Duration::from_secs(120),
        deskphone_tftp::fetch_to_file(
            server.addr,
            "deskphone-1.2.3.bin",
            &config,
            &dest,
            |got, total| seen.push((got, total)),
        ),
    )
    .await
    .expect("fetch_to_file did not finish within 120 s")
    .unwrap();
    assert_eq!(n, file.len() as u64);
    assert!(std::fs::read(&dest).unwrap() == file, "contents differ");
    assert!(seen.len() > 100, "progress is reported as data arrives");
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "progress only grows"
    );
    assert!(seen.iter().all(|(_, t)| *t == Some(file.len() as u64)));
    // The default limit still refuses it in memory.
    let r = fetch_bounded(server.addr, "deskphone-1.2.3.bin", &ClientConfig::default()).await;
    assert!(matches!(r, Err(TftpError::TooLarge { .. })), "{r:?}");
}

#[tokio::test]
async fn block_number_rollover() {
    // 8-byte blocks: more than 65536 of them forces the block number past 65535.
    let tree = Tree::new();
    let file = random_bytes(8 * 65_536 + 8 * 3 + 5, 5);
    tree.put("rollover.bin", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let config = ClientConfig {
        blksize: 8,
        ..ClientConfig::default()
    };
    let seen = drive(server.addr, "rollover.bin", &config);
    assert_eq!(seen.blksize, 8);
    assert!(seen.result.unwrap() == file, "contents differ");
}

#[tokio::test]
async fn file_in_a_subdirectory() {
    let tree = Tree::new();
    tree.put("cisco/dialplan/dialplan.xml", b"<DIALTEMPLATE/>\n");
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(
        server.addr,
        "cisco/dialplan/dialplan.xml",
        &ClientConfig::default(),
    )
    .await;
    assert_eq!(got.unwrap(), b"<DIALTEMPLATE/>\n");
}

#[tokio::test]
async fn missing_file_is_not_found() {
    let tree = Tree::new();
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let got = fetch_bounded(server.addr, "SIP001122334455.cnf", &ClientConfig::default()).await;
    assert!(matches!(got, Err(TftpError::NotFound)), "{got:?}");
}

#[tokio::test]
async fn server_refusing_options_falls_back_to_512_byte_blocks() {
    let tree = Tree::new();
    let file = random_bytes(512 * 7 + 100, 6);
    tree.put("fallback.bin", &file);
    let exact = random_bytes(512 * 2, 7);
    tree.put("fallback-exact.bin", &exact);
    let server = Server::tftpd_hpa(tree.path(), &["--refuse", "blksize", "--refuse", "tsize"]);

    let got = fetch_bounded(server.addr, "fallback.bin", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), file);
    let got = fetch_bounded(server.addr, "fallback-exact.bin", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), exact);

    let seen = drive(server.addr, "fallback.bin", &ClientConfig::default());
    assert_eq!(seen.result.unwrap(), file);
    assert_eq!(seen.blksize, 512);
    assert_eq!(seen.tsize, None);
}

#[tokio::test]
async fn timeout_option_is_accepted() {
    let tree = Tree::new();
    let file = random_bytes(3000, 8);
    tree.put("t.bin", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let config = ClientConfig {
        timeout_option: true,
        timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    };
    assert_eq!(
        fetch_bounded(server.addr, "t.bin", &config).await.unwrap(),
        file
    );
}

#[tokio::test]
async fn too_large_by_announced_tsize() {
    let tree = Tree::new();
    tree.put("big.bin", &random_bytes(100_000, 9));
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let config = ClientConfig {
        max_size: 50_000,
        ..ClientConfig::default()
    };
    let got = fetch_bounded(server.addr, "big.bin", &config).await;
    assert!(
        matches!(got, Err(TftpError::TooLarge { limit: 50_000 })),
        "{got:?}"
    );
}

#[tokio::test]
async fn too_large_while_receiving_when_tsize_is_refused() {
    let tree = Tree::new();
    tree.put("big.bin", &random_bytes(100_000, 10));
    let server = Server::tftpd_hpa(tree.path(), &["--refuse", "tsize"]);
    let config = ClientConfig {
        max_size: 50_000,
        ..ClientConfig::default()
    };
    let got = fetch_bounded(server.addr, "big.bin", &config).await;
    assert!(
        matches!(got, Err(TftpError::TooLarge { limit: 50_000 })),
        "{got:?}"
    );
    // The server was told (ERROR 3) and is still serving.
    tree.put("small.bin", b"still here");
    let got = fetch_bounded(server.addr, "small.bin", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), b"still here");
}

#[tokio::test]
async fn concurrent_fetches_from_one_server() {
    let tree = Tree::new();
    let files: Vec<Vec<u8>> = (0..6)
        .map(|i| random_bytes(20_000 + i * 999, 20 + i as u64))
        .collect();
    for (i, f) in files.iter().enumerate() {
        tree.put(&format!("SIP00000000000{i}.cnf"), f);
    }
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let tasks: Vec<_> = (0..files.len())
        .map(|i| {
            let addr = server.addr;
            tokio::spawn(async move {
                fetch_bounded(
                    addr,
                    &format!("SIP00000000000{i}.cnf"),
                    &ClientConfig::default(),
                )
                .await
            })
        })
        .collect();
    for (task, file) in tasks.into_iter().zip(&files) {
        assert_eq!(&task.await.unwrap().unwrap(), file);
    }
}

#[tokio::test]
async fn ipv6_loopback() {
    let ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    if let Err(e) = UdpSocket::bind((ip, 0)) {
        return skip(&format!("ipv6_loopback: no IPv6 loopback here ({e})"));
    }
    let tree = Tree::new();
    let file = random_bytes(5000, 11);
    tree.put("v6.bin", &file);
    let server = Server::tftpd_hpa_on(ip, tree.path(), &[]);
    assert!(server.addr.is_ipv6());
    let got = fetch_bounded(server.addr, "v6.bin", &ClientConfig::default()).await;
    assert_eq!(got.unwrap(), file);
}

fn quick_config() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_millis(200),
        retries: 3,
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn server_not_running_times_out_after_the_retries() {
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let addr = SocketAddr::new(ip, free_port(ip));
    let config = quick_config();
    let start = Instant::now();
    let got = fetch_bounded(addr, "SIPDefault.cnf", &config).await;
    let elapsed = start.elapsed();
    assert!(matches!(got, Err(TftpError::Timeout)), "{got:?}");
    let expected = config.timeout * (config.retries + 1);
    assert!(elapsed >= expected, "gave up after {elapsed:?}");
    assert!(
        elapsed < expected + Duration::from_secs(10),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn silent_server_sees_the_request_once_per_retry() {
    // A socket that reads requests and never answers.
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    hole.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let addr = hole.local_addr().unwrap();
    let counter = std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut requests = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            match hole.recv_from(&mut buf) {
                Ok((n, _)) if n >= 2 && buf[..2] == [0, 1] => requests.push(Instant::now()),
                Ok((1, _)) => break, // end marker from the test
                _ => {}
            }
        }
        requests
    });
    let config = quick_config();
    let got = fetch_bounded(addr, "SIPDefault.cnf", &config).await;
    assert!(matches!(got, Err(TftpError::Timeout)), "{got:?}");
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"x", addr)
        .unwrap();
    let requests = counter.join().unwrap();
    assert_eq!(requests.len() as u32, config.retries + 1);
    for pair in requests.windows(2) {
        // Spaced by the timeout (minus a little scheduling jitter), never a burst.
        assert!(pair[1] - pair[0] >= config.timeout - Duration::from_millis(20));
    }
}
