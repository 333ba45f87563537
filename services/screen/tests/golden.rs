//! Golden images: representative screens drawn pixel-exactly as before. With
//! `UPDATE_GOLDEN=1` the images under `tests/golden/` are written anew; otherwise a screen
//! that differs is written next to its golden image as `NAME.actual.png` and the test fails.

#[path = "support/canvas.rs"]
#[allow(dead_code)]
mod canvas;
#[path = "support/screens.rs"]
mod screens;

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use canvas::Canvas;
use deskphone_screen::render::{render, Theme};
use deskphone_screen::Screen;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn write_png(path: &Path, canvas: &Canvas) {
    let file = BufWriter::new(File::create(path).expect("create png"));
    let mut encoder = png::Encoder::new(file, canvas.size.width, canvas.size.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("png header");
    writer
        .write_image_data(&canvas.rgb_bytes())
        .expect("png data");
}

/// Width, height and RGB bytes of a PNG, or why it could not be read.
fn read_png(path: &Path) -> Result<(u32, u32, Vec<u8>), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut reader = png::Decoder::new(file)
        .read_info()
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "not 8-bit RGB: {:?} {:?}",
            info.color_type, info.bit_depth
        ));
    }
    buf.truncate(info.buffer_size());
    Ok((info.width, info.height, buf))
}

fn check(name: &str, screen: &Screen, width: u32, height: u32) {
    let mut canvas = Canvas::new(width, height);
    render(screen, &mut canvas, &Theme::LCD).unwrap();
    assert_eq!(
        canvas.outside, 0,
        "{name}: pixels drawn outside the display"
    );

    let golden = golden_dir().join(format!("{name}.png"));
    let actual = golden_dir().join(format!("{name}.actual.png"));
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        write_png(&golden, &canvas);
        let _ = fs::remove_file(&actual);
        return;
    }
    let problem = match read_png(&golden) {
        Err(e) => format!("cannot read it: {e}"),
        Ok((w, h, _)) if (w, h) != (width, height) => format!("it is {w}x{h}"),
        Ok((_, _, bytes)) => {
            let differing = bytes
                .chunks(3)
                .zip(canvas.rgb_bytes().chunks(3))
                .filter(|(a, b)| a != b)
                .count();
            if differing == 0 {
                let _ = fs::remove_file(&actual);
                return;
            }
            format!("{differing} pixels differ")
        }
    };
    write_png(&actual, &canvas);
    panic!(
        "{name}: the drawing does not match {} ({problem}); it was written to {}. \
         If the change is intended, run the tests with UPDATE_GOLDEN=1.",
        golden.display(),
        actual.display()
    );
}

#[test]
fn idle_with_two_lines_and_a_message_waiting() {
    check("idle_320x240", &screens::idle(), 320, 240);
}

#[test]
fn settings_menu_numbered_selected_and_locked() {
    check("settings_320x240", &screens::settings(), 320, 240);
}

#[test]
fn connected_call_with_timer() {
    check("call_320x240", &screens::call(), 320, 240);
}

#[test]
fn edit_field_with_cursor_and_mode() {
    check("edit_320x240", &screens::edit(), 320, 240);
}

#[test]
fn long_list_scrolled_to_the_selection() {
    check("directory_320x240", &screens::long_list(30, 17), 320, 240);
}

#[test]
fn every_icon_on_a_vga_framebuffer() {
    check("icons_640x480", &screens::icons(), 640, 480);
}

#[test]
fn idle_on_a_large_framebuffer() {
    check("idle_1024x768", &screens::idle(), 1024, 768);
}
