//! Throughput of `fetch` for a 1 MiB file from a local tftpd-hpa.
//! Criterion prints it as MB/s ("thrpt").

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::{random_bytes, Server, Tree};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deskphone_tftp::{fetch, ClientConfig};

const SIZE: usize = 1024 * 1024;

fn fetch_1mib(c: &mut Criterion) {
    let tree = Tree::new();
    let file = random_bytes(SIZE, 1);
    tree.put("1mib.bin", &file);
    let server = Server::tftpd_hpa(tree.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("tftpd-hpa 1 MiB");
    group.throughput(Throughput::BytesDecimal(SIZE as u64));
    group.sample_size(10);
    for blksize in [512u16, 1428, 8192] {
        let config = ClientConfig {
            blksize,
            ..ClientConfig::default()
        };
        group.bench_function(format!("blksize {blksize}"), |b| {
            b.iter(|| {
                let got = rt
                    .block_on(fetch(server.addr, black_box("1mib.bin"), &config))
                    .unwrap();
                assert_eq!(got.len(), SIZE);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fetch_1mib);
criterion_main!(benches);
