//! `fetch` against dnsmasq's TFTP server: a second, independent implementation.
//!
//! dnsmasq 2.90 has no option for the TFTP listening port, so this runs on
//! 127.0.0.1:69 and skips (with a printed reason) when that port is unavailable.
//! Everything is in one test so that only one dnsmasq needs port 69.

mod common;

use std::time::Duration;

use common::{drive, random_bytes, skip, Server, Tree};
use deskphone_tftp::{fetch, ClientConfig, TftpError};

#[tokio::test]
async fn dnsmasq_serves_files() {
    let tree = Tree::new();
    let cnf = b"line1_name: 1001\n".to_vec();
    let big = random_bytes(300_000, 42);
    let exact = random_bytes(1428 * 4, 43);
    tree.put("SIP001122334455.cnf", &cnf);
    tree.put("firmware/P0S3-08-4-00.sbn", &big);
    tree.put("exact.bin", &exact);
    let server = match Server::dnsmasq(tree.path()) {
        Ok(s) => s,
        Err(reason) => return skip(&format!("dnsmasq_serves_files: {reason}")),
    };
    let config = ClientConfig::default();
    let get = |name: &'static str, config: ClientConfig| async move {
        tokio::time::timeout(Duration::from_secs(120), fetch(server.addr, name, &config))
            .await
            .expect("fetch did not finish within 120 s")
    };
    assert_eq!(
        get("SIP001122334455.cnf", config.clone()).await.unwrap(),
        cnf
    );
    assert!(
        get("firmware/P0S3-08-4-00.sbn", config.clone())
            .await
            .unwrap()
            == big
    );
    assert_eq!(get("exact.bin", config.clone()).await.unwrap(), exact);
    // dnsmasq accepts both options (loopback's MTU allows 1428-byte blocks).
    let addr = server.addr;
    let seen =
        tokio::task::spawn_blocking(move || drive(addr, "exact.bin", &ClientConfig::default()))
            .await
            .unwrap();
    assert_eq!(seen.result.unwrap(), exact);
    assert_eq!((seen.blksize, seen.tsize), (1428, Some(exact.len() as u64)));
    let got = get("missing.cnf", config.clone()).await;
    assert!(matches!(got, Err(TftpError::NotFound)), "{got:?}");
    let tiny = ClientConfig {
        max_size: 1000,
        ..config
    };
    let got = get("firmware/P0S3-08-4-00.sbn", tiny).await;
    assert!(matches!(got, Err(TftpError::TooLarge { .. })), "{got:?}");
}
