//! What the phone's screen shows, and drawing it on a display of any size.
//!
//! # Design
//!
//! The screen is data first. The UI's menu state machine builds a [`Screen`] ([`model`]):
//! the status bar, the line key labels, a title, body rows, a picture, an edit field, a
//! prompt and four soft key labels, as plain strings and [`Icon`]s, with no pixel in sight.
//! The same value is what `phonectl status --json` prints and what tests assert on.
//!
//! [`render::render`] turns a `Screen` into pixels on any embedded-graphics
//! `DrawTarget<Color = Rgb888>`: the Linux framebuffer on the phone, an in-memory frame in
//! tests and on a development machine. It is a pure function of the screen, the target's
//! size and a [`render::Theme`] — no state between frames, no clock, no I/O — so a key press
//! is "build the next `Screen`, render it", and the output can be compared pixel for pixel.
//!
//! [`render::layout`] decides where things go from the display size alone, in the shape of a
//! Cisco 7940/7960: status bar on top, line key labels down the right beside the buttons,
//! title bar, body, edit field, prompt line, and soft key tabs along the bottom. The font is
//! the largest that keeps about 14 lines and 40 columns, so a 320x240 LCD and a 1024x768
//! framebuffer show the same screen at different scales.
//!
//! ```
//! use deskphone_screen::render::{render, Theme};
//! use deskphone_screen::{Row, Screen};
//! # use embedded_graphics::{mock_display::MockDisplay, pixelcolor::Rgb888};
//! let screen = Screen { rows: vec![Row::text("Settings")], ..Screen::default() };
//! # let mut display = MockDisplay::<Rgb888>::new();
//! # display.set_allow_overdraw(true);
//! render(&screen, &mut display, &Theme::LCD).unwrap();
//! ```

pub mod model;
pub mod render;

pub use model::*;
