//! A loudspeaker and a microphone on the host for the sound card of the phone in QEMU:
//! PulseAudio (`apt-get install pulseaudio pulseaudio-utils libasound2-plugins`), one daemon
//! per test in a directory of its own (no configuration of the host's, no D-Bus, no
//! autospawn), with two devices that run in real time:
//!
//! - the null sink `speaker`, whose monitor `parec` records from the start, as raw 8 kHz mono
//!   S16LE (silence while nothing plays, so a sample's index is its time since the start);
//! - the null sink `microphone`, into which PulseAudio's `module-sine` plays a tone of the
//!   test's choice; the card records its monitor. (PulseAudio's sine *source* is no such
//!   microphone: `arecord` got two seconds from it in 9 ms.)
//!
//! QEMU reaches them through its ALSA backend and alsa-lib's `pulse` plugin, as the ALSA PCM
//! `deskphone` of a configuration written here ([`Sound::audio`]).
//!
//! Why not files straight through alsa-lib (its `file` plugin over `null`), which needs no
//! daemon: those take and give data at once, and QEMU's HDA codec follows the pace of its
//! backend, so the guest's sound card ran about a third too fast (the phone sent 561 RTP
//! packets while receiving 421, and its jitter buffer dropped frames all the time). QEMU's
//! own paced backends are `none` (silence) and `wav` (playback only).

use std::io::Read as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use xtask::qemu::Audio;

use crate::{wait_for, Guard};

/// The ALSA PCM QEMU opens.
const PCM: &str = "deskphone";

/// A running PulseAudio with the speaker being recorded; both stop when dropped.
pub struct Sound {
    pub dir: PathBuf,
    // Dropped in this order: the recorder before the daemon it records from.
    _recorder: Guard,
    _daemon: Guard,
}

impl Sound {
    /// Starts the daemon in `dir` (created) with a microphone that hears a sine of
    /// `microphone_hz`, and starts recording the speaker.
    pub fn start(dir: &Path, microphone_hz: u32) -> Sound {
        std::fs::create_dir_all(dir).expect("sound directory");
        let socket = dir.join("native");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::File::create(dir.join("pulseaudio.log")).expect("log");
        let daemon = Command::new("pulseaudio")
            // No default script, no daemon of its own, no idle exit, nothing the host has
            // configured; the warnings about running as root and without D-Bus are harmless.
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .args(["--disable-shm=yes", "--realtime=no", "--high-priority=no"])
            .args(["--log-target=stderr", "--log-level=notice"])
            .arg("-L")
            .arg(format!(
                "module-native-protocol-unix socket={} auth-anonymous=1",
                socket.display()
            ))
            .arg("-L")
            .arg("module-null-sink sink_name=speaker rate=8000 channels=1 format=s16le")
            .arg("-L")
            .arg("module-null-sink sink_name=microphone rate=8000 channels=1 format=s16le")
            .arg("-L")
            .arg(format!(
                "module-sine sink=microphone frequency={microphone_hz}"
            ))
            .envs(
                [
                    "HOME",
                    "XDG_RUNTIME_DIR",
                    "PULSE_RUNTIME_PATH",
                    "PULSE_STATE_PATH",
                ]
                .map(|v| (v, dir)),
            )
            .env_remove("PULSE_SERVER")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting pulseaudio (apt-get install pulseaudio)");
        let mut daemon = Guard(daemon);
        wait_for("PulseAudio to listen", Duration::from_secs(20), || {
            if let Ok(Some(status)) = daemon.0.try_wait() {
                panic!(
                    "pulseaudio exited ({status}):\n{}",
                    std::fs::read_to_string(dir.join("pulseaudio.log")).unwrap_or_default()
                );
            }
            UnixStream::connect(&socket).ok()
        });
        let server = format!("unix:{}", socket.display());
        let speaker = std::fs::File::create(dir.join("speaker.raw")).expect("speaker file");
        let recorder = Guard(
            Command::new("parec")
                .arg(format!("--server={server}"))
                .args(["--device=speaker.monitor", "--raw"])
                .args(["--rate=8000", "--channels=1", "--format=s16le"])
                .stdin(Stdio::null())
                .stdout(speaker)
                .stderr(Stdio::null())
                .spawn()
                .expect("starting parec (apt-get install pulseaudio-utils)"),
        );
        // Both directions of the card on the two devices, through alsa-lib's pulse plugin.
        let quoted = |s: &str| {
            assert!(!s.contains(['"', '\\']), "{s}: quotes in a path");
            format!("\"{s}\"")
        };
        let server = quoted(&server);
        std::fs::write(
            dir.join("asound.conf"),
            format!(
                "# Written by the deskphone end-to-end tests: QEMU's sound card on PulseAudio.\n\
                 pcm.{PCM} {{\n\
                 \x20 type asym\n\
                 \x20 playback.pcm {{ type pulse server {server} device \"speaker\" }}\n\
                 \x20 capture.pcm {{ type pulse server {server} device \"microphone.monitor\" }}\n\
                 }}\n"
            ),
        )
        .expect("ALSA configuration");
        let sound = Sound {
            dir: dir.to_path_buf(),
            _recorder: recorder,
            _daemon: daemon,
        };
        wait_for("the speaker's recording", Duration::from_secs(20), || {
            (!sound.speaker().is_empty()).then_some(())
        });
        sound
    }

    /// The sound card's host side for [`Machine::audio`](xtask::qemu::Machine::audio).
    pub fn audio(&self) -> Audio {
        Audio::Alsa {
            pcm: PCM.to_string(),
            config: self.dir.join("asound.conf"),
        }
    }

    /// What the speaker played so far, 8 kHz mono, from the start (silence included).
    pub fn speaker(&self) -> Vec<i16> {
        let mut data = Vec::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("speaker.raw")) {
            f.read_to_end(&mut data)
                .expect("reading the speaker's recording");
        }
        data.chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// PulseAudio's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pulseaudio.log")).unwrap_or_default()
    }
}
