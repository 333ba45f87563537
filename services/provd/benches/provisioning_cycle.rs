//! A full provisioning cycle (SIPDefault.cnf, SIP<MAC>.cnf, dial plan, parse, merge, checks)
//! against a real tftpd-hpa on loopback, and the same cycle over a directory (the lint).
//!
//! Needs `/usr/sbin/in.tftpd` (tftpd-hpa) and root (its --secure chroot).

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use deskphone_config::{FlashConfig, Mac};
use deskphone_provd::cycle::Cycle;
use deskphone_provd::provision::run_cycle;
use deskphone_provd::source::FileSource;
use deskphone_tftp::ClientConfig;

fn sample_tree() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tftp"))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mac: Mac = "525400123456".parse().unwrap();

    let dir = FileSource::Directory(sample_tree().to_path_buf());
    c.bench_function("cycle over a directory (lint)", |b| {
        b.iter(|| {
            let cycle = Cycle::new(
                mac,
                FlashConfig::default(),
                vec![FileSource::DIRECTORY_SERVER],
                false,
            );
            let o = rt.block_on(run_cycle(cycle, &dir));
            assert!(o.server.is_some());
        })
    });

    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut tftpd = match Command::new("/usr/sbin/in.tftpd")
        .args([
            "--foreground",
            "--address",
            &addr.to_string(),
            "--secure",
            "--user",
            "root",
        ])
        .arg(sample_tree())
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED the TFTP cycle: cannot start in.tftpd: {e}");
            return;
        }
    };
    while UdpSocket::bind(addr).is_ok() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let tftp = FileSource::Tftp(ClientConfig::default());
    c.bench_function("cycle from tftpd-hpa on loopback", |b| {
        b.iter(|| {
            let cycle = Cycle::new(mac, FlashConfig::default(), vec![addr], true);
            let o = rt.block_on(run_cycle(cycle, &tftp));
            assert_eq!(o.server, Some(addr));
            assert!(o.files.iter().all(|f| f.found));
        })
    });
    let _ = tftpd.kill();
    let _ = tftpd.wait();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
