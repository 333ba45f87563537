//! `mediad`: the phone's media daemon.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use deskphone_ipc::RuntimeDir;
use deskphone_mediad::service::{run, AudioChoice, Options};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "deskphone media daemon: RTP for the calls sipd sets up, tones, the sound devices"
)]
struct Args {
    /// Where the services' sockets are (mediad's is made there).
    #[arg(long, default_value = deskphone_ipc::DEFAULT_RUNTIME_DIR)]
    runtime: PathBuf,
    /// The address the media sockets bind.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// What the microphone hears: this WAV file, looped (instead of a sound card).
    #[arg(long)]
    audio_source: Option<PathBuf>,
    /// Where the earpiece/speaker sound goes: this WAV file, written as it plays.
    #[arg(long)]
    audio_sink: Option<PathBuf>,
    /// The ALSA device of the phone's sound card, for every audio path (built with the
    /// `alsa` feature).
    #[arg(long, conflicts_with_all = ["audio_source", "audio_sink"])]
    alsa_device: Option<String>,
    /// The handset's ALSA device, when it is not the --alsa-device.
    #[arg(long, requires = "alsa_device")]
    alsa_handset: Option<String>,
    /// The loudspeaker's (and ringer's) ALSA device, when it is not the --alsa-device.
    #[arg(long, requires = "alsa_device")]
    alsa_speaker: Option<String>,
    /// The headset's ALSA device, when it is not the --alsa-device.
    #[arg(long, requires = "alsa_device")]
    alsa_headset: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    deskphone_ipc::systemd::init_logging();
    let audio = match args.alsa_device {
        Some(device) => AudioChoice::Alsa {
            handset: args.alsa_handset.unwrap_or_else(|| device.clone()),
            speaker: args.alsa_speaker.unwrap_or_else(|| device.clone()),
            headset: args.alsa_headset.unwrap_or(device),
        },
        None => AudioChoice::Files {
            source: args.audio_source,
            sink: args.audio_sink,
        },
    };
    let opts = Options {
        runtime: RuntimeDir::new(args.runtime),
        bind: args.bind,
        audio,
    };
    deskphone_ipc::systemd::run_service(run(opts))
}
