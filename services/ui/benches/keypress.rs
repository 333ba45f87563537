//! What a key press costs the UI, from the key to changed pixels in the framebuffer's
//! memory: the core handles the key, the screen is rendered off-screen and the display
//! copies what changed (RGB565, as the Pi's SPI LCD). Also a full redraw, and the cost of
//! an unchanged frame (the clock tick that changes nothing).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use deskphone_display::{Display, FbDisplay, FbLayout, Frame, PixelFormat};
use deskphone_ipc::ui::Key;
use deskphone_screen::render::{render, Theme};
use deskphone_ui::core::{Prefs, UiCore};
use deskphone_ui::history::History;
use embedded_graphics::prelude::Size;

fn core() -> UiCore {
    let mut core = UiCore::new(
        Instant::now(),
        1_795_000_000,
        History::default(),
        Prefs::default(),
    );
    let config: BTreeMap<String, String> = deskphone_config::params()
        .iter()
        .map(|d| {
            let v = d
                .default
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default();
            (d.name.to_string(), v)
        })
        .chain([("phone_label".to_string(), "Lobby".to_string())])
        .collect();
    core.set_config(config);
    core
}

fn lcd() -> FbDisplay<Vec<u8>> {
    let layout = FbLayout::new(320, 240, 640, PixelFormat::RGB565);
    FbDisplay::on_memory(layout, vec![0u8; 640 * 240]).unwrap()
}

fn bench(c: &mut Criterion) {
    let theme = Theme::default();
    c.bench_function(
        "key press to pixels (Settings, down), 320x240 RGB565",
        |b| {
            let mut core = core();
            let mut display = lcd();
            let mut frame = Frame::new(Size::new(320, 240));
            let mut now = Instant::now();
            core.handle_key(Key::Settings, now, 1_795_000_000);
            render(&core.screen().0, &mut frame, &theme).unwrap();
            display.present(&frame).unwrap();
            b.iter(|| {
                now += Duration::from_millis(200);
                core.handle_key(Key::Down, now, 1_795_000_000);
                while core.poll_output().is_some() {}
                let (screen, _) = core.screen();
                render(&screen, &mut frame, &theme).unwrap();
                display.present(&frame).unwrap()
            })
        },
    );
    c.bench_function(
        "key press to pixels (dialling a digit), 320x240 RGB565",
        |b| {
            let mut core = core();
            let mut display = lcd();
            let mut frame = Frame::new(Size::new(320, 240));
            let mut now = Instant::now();
            core.handle_key(Key::OffHook, now, 1_795_000_000);
            b.iter(|| {
                now += Duration::from_millis(200);
                // A digit, then << so the number never grows past the dial plan's limit.
                core.handle_key(Key::Digit(5), now, 1_795_000_000);
                let (screen, _) = core.screen();
                render(&screen, &mut frame, &theme).unwrap();
                display.present(&frame).unwrap();
                core.handle_key(Key::Soft(2), now, 1_795_000_000);
                while core.poll_output().is_some() {}
            })
        },
    );
    c.bench_function("full redraw, idle, 320x240 RGB565", |b| {
        let core = core();
        let mut display = lcd();
        let mut frame = Frame::new(Size::new(320, 240));
        b.iter(|| {
            display.invalidate();
            let (screen, _) = core.screen();
            render(&screen, &mut frame, &theme).unwrap();
            display.present(&frame).unwrap()
        })
    });
    c.bench_function("unchanged screen (clock tick), 320x240", |b| {
        let mut core = core();
        let now = Instant::now();
        let (shown, _) = core.screen();
        b.iter(|| {
            core.handle_tick(now, 1_795_000_000);
            core.screen().0 == shown
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
