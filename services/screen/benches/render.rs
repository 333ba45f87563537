//! A full render into a memory display: what one key press costs in drawing.

#[path = "../tests/support/canvas.rs"]
#[allow(dead_code)]
mod canvas;
#[path = "../tests/support/screens.rs"]
mod screens;

use canvas::Canvas;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_screen::render::{render, Theme};
use deskphone_screen::Screen;

fn bench(c: &mut Criterion, name: &str, screen: Screen, width: u32, height: u32) {
    let mut canvas = Canvas::new(width, height);
    let theme = Theme::LCD;
    c.bench_function(name, |b| {
        b.iter(|| render(black_box(&screen), &mut canvas, &theme).unwrap())
    });
}

fn renders(c: &mut Criterion) {
    bench(c, "idle 320x240", screens::idle(), 320, 240);
    bench(c, "settings 10 rows 320x240", screens::settings(), 320, 240);
    bench(c, "call 320x240", screens::call(), 320, 240);
    bench(c, "icons 640x480", screens::icons(), 640, 480);
    bench(c, "idle 1024x768", screens::idle(), 1024, 768);
}

criterion_group!(benches, renders);
criterion_main!(benches);
