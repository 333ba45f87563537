//! Real sound devices through ALSA (cargo feature `alsa`).
//!
//! Devices are opened by ALSA PCM name (`default`, `plughw:CARD=Device`,
//! ...) and set up for the phone's format: interleaved S16_LE, 8000 Hz, one
//! channel. Hardware that cannot do that directly must be reached through
//! the `plug` layer (`plughw:` or `default`), which converts; a raw `hw:`
//! name that cannot do 8 kHz mono fails with [`AudioError::Format`] saying
//! so.
//!
//! Timing: a period of at most 10 ms (shorter if the caller's frames are),
//! a buffer of at least four periods and two frames. Playback starts once
//! one frame plus one period is queued, a cushion against a frame that comes
//! a little late; capture starts with the first read.
//!
//! Over- and underruns (EPIPE) are recovered by re-preparing the stream, a
//! suspended device (ESTRPIPE) is resumed; both are counted
//! ([`Capture::xruns`], [`Playback::xruns`]) and logged, never returned as
//! errors.

use std::time::Duration;

use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};

use crate::{AudioError, Capture, Playback, FRAME_10MS, SAMPLE_RATE};

/// How a PCM ended up configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlsaParams {
    /// Samples per period.
    pub period: usize,
    /// Samples in the whole ring buffer.
    pub buffer: usize,
    /// Samples queued before a playback stream starts.
    pub start_threshold: usize,
}

fn map_open_error(device: &str, e: alsa::Error) -> AudioError {
    let device = device.to_string();
    match e.errno().abs() {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => AudioError::Missing { device },
        libc::EBUSY => AudioError::Busy { device },
        libc::EACCES | libc::EPERM => AudioError::Device {
            device,
            detail: "permission denied (is the phone's user in the audio group?)".into(),
        },
        _ => AudioError::Device {
            device,
            detail: e.to_string(),
        },
    }
}

fn format_error(device: &str, what: &str, e: alsa::Error) -> AudioError {
    AudioError::Format {
        device: device.to_string(),
        detail: format!("{what} ({e}); use a plughw: or default device to let ALSA convert"),
    }
}

fn open(device: &str, dir: Direction, frame_len: usize) -> Result<(PCM, AlsaParams), AudioError> {
    let pcm = PCM::new(device, dir, false).map_err(|e| map_open_error(device, e))?;
    let frame_len = frame_len.max(1);
    let params = {
        let hwp = HwParams::any(&pcm).map_err(|e| map_open_error(device, e))?;
        hwp.set_access(Access::RWInterleaved)
            .map_err(|e| format_error(device, "no interleaved access", e))?;
        hwp.set_format(Format::S16LE)
            .map_err(|e| format_error(device, "no 16-bit samples", e))?;
        hwp.set_channels(1)
            .map_err(|e| format_error(device, "no mono", e))?;
        // Allow alsa-lib's resampler where the plug layer is in use.
        let _ = hwp.set_rate_resample(true);
        hwp.set_rate(SAMPLE_RATE, ValueOr::Nearest)
            .map_err(|e| format_error(device, "no 8000 Hz", e))?;
        let want_period = frame_len.min(FRAME_10MS) as alsa::pcm::Frames;
        // Cap first, so "near" cannot pick something longer than 10 ms.
        let _ = hwp.set_period_size_max(FRAME_10MS as alsa::pcm::Frames, ValueOr::Nearest);
        let period = hwp
            .set_period_size_near(want_period, ValueOr::Nearest)
            .map_err(|e| format_error(device, "no usable period size", e))?
            as usize;
        let want_buffer = (4 * period).max(2 * frame_len + period);
        let buffer = hwp
            .set_buffer_size_near(want_buffer as alsa::pcm::Frames)
            .map_err(|e| format_error(device, "no usable buffer size", e))?
            as usize;
        pcm.hw_params(&hwp)
            .map_err(|e| format_error(device, "hardware parameters refused", e))?;
        // The device may have rounded; read back what is in force.
        let cur = pcm
            .hw_params_current()
            .map_err(|e| map_open_error(device, e))?;
        let period = cur.get_period_size().map(|p| p as usize).unwrap_or(period);
        let buffer = cur.get_buffer_size().map(|b| b as usize).unwrap_or(buffer);
        let rate = cur.get_rate().unwrap_or(0);
        if rate != SAMPLE_RATE {
            return Err(AudioError::Format {
                device: device.to_string(),
                detail: format!(
                    "runs at {rate} Hz instead of 8000 Hz; use a plughw: or default device"
                ),
            });
        }
        let start_threshold = match dir {
            Direction::Playback => (frame_len + period).min(buffer),
            Direction::Capture => 1,
        };
        let swp = pcm
            .sw_params_current()
            .map_err(|e| map_open_error(device, e))?;
        swp.set_start_threshold(start_threshold as alsa::pcm::Frames)
            .and_then(|_| swp.set_avail_min(period as alsa::pcm::Frames))
            .and_then(|_| pcm.sw_params(&swp))
            .map_err(|e| AudioError::Device {
                device: device.to_string(),
                detail: format!("software parameters refused: {e}"),
            })?;
        AlsaParams {
            period,
            buffer,
            start_threshold,
        }
    };
    log::info!(
        "opened ALSA {} '{device}': period {} samples, buffer {}, start at {}",
        if dir == Direction::Playback {
            "playback"
        } else {
            "capture"
        },
        params.period,
        params.buffer,
        params.start_threshold
    );
    Ok((pcm, params))
}

/// Brings a stream back after an error from readi/writei, or says why it
/// cannot be.
fn recover(pcm: &PCM, device: &str, e: alsa::Error, xruns: &mut u64) -> Result<(), AudioError> {
    match e.errno().abs() {
        libc::EINTR | libc::EAGAIN => Ok(()),
        libc::EPIPE => {
            *xruns += 1;
            log::warn!("audio over/underrun on '{device}' (#{xruns}); restarting the stream");
            pcm.prepare().map_err(|e| AudioError::Device {
                device: device.to_string(),
                detail: format!("cannot restart after an over/underrun: {e}"),
            })
        }
        libc::ESTRPIPE => {
            *xruns += 1;
            log::warn!("audio device '{device}' was suspended; resuming");
            // Resume may need a few tries while the device wakes up; if the
            // driver cannot resume at all, a fresh prepare does the job.
            for _ in 0..100 {
                match pcm.resume() {
                    Ok(()) => return Ok(()),
                    Err(e) if e.errno().abs() == libc::EAGAIN => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
            pcm.prepare().map_err(|e| AudioError::Device {
                device: device.to_string(),
                detail: format!("cannot restart after suspend: {e}"),
            })
        }
        libc::ENODEV | libc::ENOENT => Err(AudioError::Missing {
            device: device.to_string(),
        }),
        libc::EIO => Err(AudioError::Io {
            device: device.to_string(),
            source: std::io::Error::from_raw_os_error(libc::EIO),
        }),
        _ => Err(AudioError::Device {
            device: device.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// A microphone opened through ALSA.
pub struct AlsaCapture {
    pcm: PCM,
    device: String,
    params: AlsaParams,
    xruns: u64,
}

impl std::fmt::Debug for AlsaCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlsaCapture")
            .field("device", &self.device)
            .field("params", &self.params)
            .field("xruns", &self.xruns)
            .finish()
    }
}

impl AlsaCapture {
    /// Opens `device` for capture, sized for reads of `frame_len` samples.
    pub fn open(device: &str, frame_len: usize) -> Result<Self, AudioError> {
        let (pcm, params) = open(device, Direction::Capture, frame_len)?;
        Ok(AlsaCapture {
            pcm,
            device: device.to_string(),
            params,
            xruns: 0,
        })
    }

    /// The configuration in force.
    pub fn params(&self) -> AlsaParams {
        self.params
    }
}

impl Capture for AlsaCapture {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        let mut done = 0;
        while done < frame.len() {
            let io = self.pcm.io_i16().map_err(|e| AudioError::Device {
                device: self.device.clone(),
                detail: e.to_string(),
            })?;
            match io.readi(&mut frame[done..]) {
                Ok(n) => done += n,
                Err(e) => recover(&self.pcm, &self.device, e, &mut self.xruns)?,
            }
        }
        Ok(())
    }

    fn xruns(&self) -> u64 {
        self.xruns
    }
}

/// A loudspeaker or earpiece opened through ALSA.
pub struct AlsaPlayback {
    pcm: PCM,
    device: String,
    params: AlsaParams,
    xruns: u64,
}

impl std::fmt::Debug for AlsaPlayback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlsaPlayback")
            .field("device", &self.device)
            .field("params", &self.params)
            .field("xruns", &self.xruns)
            .finish()
    }
}

impl AlsaPlayback {
    /// Opens `device` for playback, sized for writes of `frame_len` samples.
    pub fn open(device: &str, frame_len: usize) -> Result<Self, AudioError> {
        let (pcm, params) = open(device, Direction::Playback, frame_len)?;
        Ok(AlsaPlayback {
            pcm,
            device: device.to_string(),
            params,
            xruns: 0,
        })
    }

    /// The configuration in force.
    pub fn params(&self) -> AlsaParams {
        self.params
    }
}

impl Playback for AlsaPlayback {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        let mut done = 0;
        while done < frame.len() {
            let io = self.pcm.io_i16().map_err(|e| AudioError::Device {
                device: self.device.clone(),
                detail: e.to_string(),
            })?;
            match io.writei(&frame[done..]) {
                Ok(n) => done += n,
                Err(e) => recover(&self.pcm, &self.device, e, &mut self.xruns)?,
            }
        }
        Ok(())
    }

    fn queued(&self) -> Option<usize> {
        self.pcm.delay().ok().map(|d| d.max(0) as usize)
    }

    fn xruns(&self) -> u64 {
        self.xruns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // alsa-lib's `null` PCM needs no hardware; the errors are made up, as a
    // null stream never runs over or under.
    #[test]
    fn xruns_are_recovered_and_counted() {
        let (pcm, _) = open("null", Direction::Playback, FRAME_10MS).unwrap();
        let mut xruns = 0;
        recover(
            &pcm,
            "null",
            alsa::Error::new("snd_pcm_writei", libc::EPIPE),
            &mut xruns,
        )
        .unwrap();
        assert_eq!(xruns, 1);
        recover(
            &pcm,
            "null",
            alsa::Error::new("snd_pcm_writei", -libc::ESTRPIPE),
            &mut xruns,
        )
        .unwrap();
        assert_eq!(xruns, 2);
        recover(
            &pcm,
            "null",
            alsa::Error::new("snd_pcm_writei", libc::EAGAIN),
            &mut xruns,
        )
        .unwrap();
        assert_eq!(xruns, 2, "a retry is no xrun");
    }

    #[test]
    fn unrecoverable_errors_name_the_device() {
        let (pcm, _) = open("null", Direction::Capture, FRAME_10MS).unwrap();
        let mut xruns = 0;
        let e = recover(
            &pcm,
            "plughw:CARD=Headset",
            alsa::Error::new("snd_pcm_readi", libc::ENODEV),
            &mut xruns,
        )
        .unwrap_err();
        assert!(matches!(e, AudioError::Missing { .. }));
        assert!(e.to_string().contains("plughw:CARD=Headset"));
        let e = recover(
            &pcm,
            "x",
            alsa::Error::new("snd_pcm_readi", libc::EIO),
            &mut xruns,
        )
        .unwrap_err();
        assert!(matches!(e, AudioError::Io { .. }));
    }

    #[test]
    fn open_errors_are_mapped() {
        let busy = map_open_error("hw:0", alsa::Error::new("snd_pcm_open", -libc::EBUSY));
        assert!(matches!(busy, AudioError::Busy { .. }));
        assert_eq!(
            busy.to_string(),
            "audio device 'hw:0' is in use by another program"
        );
        let gone = map_open_error("hw:1", alsa::Error::new("snd_pcm_open", libc::ENODEV));
        assert!(matches!(gone, AudioError::Missing { .. }));
        let other = map_open_error("hw:2", alsa::Error::new("snd_pcm_open", libc::EINVAL));
        assert!(matches!(other, AudioError::Device { .. }));
    }
}
