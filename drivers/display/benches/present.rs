//! What presenting a 320x240 phone screen costs.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use deskphone_display::{Damage, Display, FbDisplay, FbLayout, Frame, PixelFormat};
use embedded_graphics::mono_font::ascii::FONT_6X12;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

const SIZE: Size = Size::new(320, 240);

/// Something like the idle screen: a header bar, a few lines of text, soft key labels.
fn idle_screen() -> Frame {
    let mut frame = Frame::filled(SIZE, Rgb888::WHITE);
    Rectangle::new(Point::zero(), Size::new(320, 20))
        .into_styled(PrimitiveStyle::with_fill(Rgb888::new(0, 0x40, 0x80)))
        .draw(&mut frame)
        .unwrap();
    let text = MonoTextStyle::new(&FONT_6X12, Rgb888::BLACK);
    for (i, line) in ["Line 1  4001", "Line 2  4002", "10:42 03/14/25"]
        .iter()
        .enumerate()
    {
        Text::with_baseline(line, Point::new(8, 40 + 16 * i as i32), text, Baseline::Top)
            .draw(&mut frame)
            .unwrap();
    }
    for (i, key) in ["redial", "newcall", "cfwd"].iter().enumerate() {
        Text::with_baseline(
            key,
            Point::new(10 + 100 * i as i32, 224),
            text,
            Baseline::Top,
        )
        .draw(&mut frame)
        .unwrap();
    }
    frame
}

/// The idle screen with a 60x12 text region redrawn (the clock ticking).
fn with_clock(frame: &Frame, clock: &str) -> Frame {
    let mut frame = frame.clone();
    let area = Rectangle::new(Point::new(250, 4), Size::new(60, 12));
    frame.fill_solid(&area, Rgb888::new(0, 0x40, 0x80)).unwrap();
    Text::with_baseline(
        clock,
        area.top_left,
        MonoTextStyle::new(&FONT_6X12, Rgb888::WHITE),
        Baseline::Top,
    )
    .draw(&mut frame)
    .unwrap();
    frame
}

fn memory_display(format: PixelFormat) -> FbDisplay<Vec<u8>> {
    let stride = 320 * format.bytes_per_pixel();
    let layout = FbLayout::new(320, 240, stride, format);
    FbDisplay::on_memory(layout, vec![0; stride * 240]).unwrap()
}

fn present(c: &mut Criterion) {
    let frame = idle_screen();
    for (name, format) in [
        ("16bpp", PixelFormat::RGB565),
        ("32bpp", PixelFormat::XRGB8888),
    ] {
        let mut display = memory_display(format);
        c.bench_function(&format!("full present 320x240 {name}"), |b| {
            b.iter(|| {
                display.invalidate();
                black_box(display.present(black_box(&frame)).unwrap())
            })
        });
    }

    let ticks = [
        with_clock(&frame, "10:42:07"),
        with_clock(&frame, "10:42:08"),
    ];
    let mut display = memory_display(PixelFormat::RGB565);
    display.present(&ticks[0]).unwrap();
    let mut i = 0;
    c.bench_function("present 60x12 text change 16bpp", |b| {
        b.iter(|| {
            i ^= 1;
            black_box(display.present(black_box(&ticks[i])).unwrap())
        })
    });

    let same = frame.clone();
    c.bench_function("damage of unchanged 320x240", |b| {
        b.iter(|| black_box(Damage::between(black_box(&frame), black_box(&same))))
    });

    c.bench_function("to_png 320x240", |b| {
        b.iter(|| black_box(frame.to_png().unwrap()))
    });
}

criterion_group!(benches, present);
criterion_main!(benches);
