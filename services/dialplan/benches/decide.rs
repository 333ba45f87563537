//! What one key press costs: the sample tree's dial plan deciding on numbers of several
//! lengths, and a pathological rule with many stars against the longest number.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_dialplan::DialPlan;

fn decide(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/tftp/dialplan.xml"
    );
    let data = std::fs::read(path).unwrap();
    let (plan, _) = DialPlan::parse("dialplan.xml", &data);
    for keys in ["9", "1234", "94085551234"] {
        c.bench_function(&format!("sample plan, {keys}"), |b| {
            b.iter(|| plan.decide(black_box(keys)))
        });
    }
    let (stars, _) = DialPlan::parse(
        "dialplan.xml",
        br#"<DIALTEMPLATE><TEMPLATE MATCH="********9" Timeout="0"/></DIALTEMPLATE>"#,
    );
    let long = "1".repeat(64);
    c.bench_function("eight stars, 64 keys", |b| {
        b.iter(|| stars.decide(black_box(&long)))
    });
    c.bench_function("parse the sample plan", |b| {
        b.iter(|| DialPlan::parse("dialplan.xml", black_box(&data)))
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
