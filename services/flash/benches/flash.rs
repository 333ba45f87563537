//! Durable write and read of a 16 KiB entry, the size of a full configuration.
//!
//! The store lives under Cargo's target directory (a real disk, where `fsync` costs what it
//! costs), or in `DESKPHONE_FLASH_BENCH_DIR` to measure another filesystem, e.g. the phone's
//! data partition.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deskphone_flash::FlashStore;

const ENTRY_LEN: usize = 16 * 1024;

fn bench(c: &mut Criterion) {
    let base = std::env::var_os("DESKPHONE_FLASH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let tmp = tempfile::tempdir_in(base).unwrap();
    let store = FlashStore::open(tmp.path().join("flash")).unwrap();
    let data: Vec<u8> = (0..ENTRY_LEN).map(|i| (i % 251) as u8).collect();

    let mut group = c.benchmark_group("flash_16KiB");
    group.throughput(Throughput::Bytes(ENTRY_LEN as u64));
    // Two fsyncs per write: fewer, longer samples than criterion's default.
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("write_durable", |b| {
        b.iter(|| store.write("config", black_box(&data)).unwrap())
    });
    group.bench_function("read", |b| {
        b.iter(|| black_box(store.read(black_box("config")).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
