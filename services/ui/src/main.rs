//! `ui`: the phone's screen, keys, hook switch and lamps.

use std::path::PathBuf;

use clap::Parser;
use deskphone_ipc::RuntimeDir;
use deskphone_ui::service::{run, DisplayChoice, EvdevChoice, Options};
use embedded_graphics::prelude::Size;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "deskphone UI: screens and menus on the display, the keypad and hook switch, the lamps"
)]
struct Args {
    /// Where the services' sockets are (the UI's is made there).
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// Where the call lists and the phone's own preferences are kept.
    #[arg(long, default_value = "/data/ui")]
    data_dir: PathBuf,
    /// Draw on this framebuffer device (e.g. /dev/fb0).
    #[arg(long, conflicts_with = "screen_png")]
    fbdev: Option<PathBuf>,
    /// No device: keep the screen in memory and write it to this PNG file as it changes.
    #[arg(long)]
    screen_png: Option<PathBuf>,
    /// The size of an in-memory screen, WIDTHxHEIGHT.
    #[arg(long, default_value = "320x240", value_parser = parse_size)]
    screen_size: Size,
    /// Read the keys and hook switch from the evdev devices in this directory (/dev/input).
    #[arg(long)]
    evdev: Option<PathBuf>,
    /// The keymap file for the evdev devices (default: the built-in map).
    #[arg(long, requires = "evdev")]
    keymap: Option<PathBuf>,
    /// The lamps' configuration file (default: lamps in memory only).
    #[arg(long)]
    lamps: Option<PathBuf>,
    /// A hook switch wired to a GPIO line, read directly: CHIP:LINE[:low-is-off-hook],
    /// e.g. /dev/gpiochip0:9 (default: the hook switch is an evdev switch or key).
    #[arg(long, value_parser = parse_hook_gpio)]
    hook_gpio: Option<deskphone_input::GpioHookOptions>,
}

fn parse_hook_gpio(s: &str) -> Result<deskphone_input::GpioHookOptions, String> {
    let mut parts = s.split(':');
    let chip = parts
        .next()
        .filter(|c| !c.is_empty())
        .ok_or("give CHIP:LINE")?;
    let line: u32 = parts
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| format!("{s:?}: give CHIP:LINE, e.g. /dev/gpiochip0:9"))?;
    let mut options = deskphone_input::GpioHookOptions::new(chip, line);
    match parts.next() {
        None => {}
        Some("low-is-off-hook") => options.high_is_off_hook = false,
        Some(other) => return Err(format!("{other:?}: the only option is low-is-off-hook")),
    }
    Ok(options)
}

fn parse_size(s: &str) -> Result<Size, String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("{s:?}: give WIDTHxHEIGHT, e.g. 320x240"))?;
    let w: u32 = w.parse().map_err(|_| format!("{s:?}: bad width"))?;
    let h: u32 = h.parse().map_err(|_| format!("{s:?}: bad height"))?;
    if !(64..=4096).contains(&w) || !(48..=4096).contains(&h) {
        return Err(format!("{s:?}: from 64x48 to 4096x4096"));
    }
    Ok(Size::new(w, h))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    let display = match (args.fbdev, args.screen_png) {
        (Some(dev), _) => DisplayChoice::Fbdev(dev),
        (None, Some(png)) => DisplayChoice::Png(png, args.screen_size),
        (None, None) => DisplayChoice::Memory(args.screen_size),
    };
    let opts = Options {
        runtime: RuntimeDir::new(args.runtime),
        data_dir: args.data_dir,
        display,
        evdev: args.evdev.map(|dir| EvdevChoice {
            dir,
            keymap: args.keymap,
        }),
        lamps: args.lamps,
        hook_gpio: args.hook_gpio,
    };
    deskphone_ipc::systemd::run_service(run(opts))
}
