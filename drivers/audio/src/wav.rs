//! WAV file backends for development machines and tests.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::pacing::{Pacer, Pacing};
use crate::{resample, AudioError, Capture, Playback, SAMPLE_RATE};

fn device_name(path: &Path) -> String {
    format!("{}{}", crate::WAV_PREFIX, path.display())
}

fn map_hound(device: String, e: hound::Error) -> AudioError {
    match e {
        hound::Error::IoError(source) if source.kind() == std::io::ErrorKind::NotFound => {
            AudioError::Missing { device }
        }
        hound::Error::IoError(source) => AudioError::Io { device, source },
        other => AudioError::Format {
            device,
            detail: other.to_string(),
        },
    }
}

/// A microphone that plays a WAV file, looped forever.
///
/// Accepts 16-bit integer PCM, mono or multi-channel (averaged to mono), at
/// any sample rate (resampled to 8 kHz once, when opened).
#[derive(Debug)]
pub struct WavSource {
    samples: Vec<i16>,
    pos: usize,
    pacer: Pacer,
}

impl WavSource {
    /// Reads and converts the whole file.
    pub fn open(path: impl AsRef<Path>, pacing: Pacing) -> Result<Self, AudioError> {
        let path = path.as_ref();
        let device = device_name(path);
        let reader = hound::WavReader::open(path).map_err(|e| map_hound(device.clone(), e))?;
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
            return Err(AudioError::Format {
                device,
                detail: format!(
                    "only 16-bit integer PCM is supported, the file has {}-bit {:?}",
                    spec.bits_per_sample, spec.sample_format
                ),
            });
        }
        let raw = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| map_hound(device.clone(), e))?;
        let samples = resample::to_phone_format(&raw, usize::from(spec.channels), spec.sample_rate)
            .map_err(|detail| AudioError::Format {
                device: device.clone(),
                detail,
            })?;
        if samples.is_empty() {
            return Err(AudioError::Format {
                device,
                detail: "the file holds no audio".into(),
            });
        }
        Ok(Self::from_samples(samples, pacing))
    }

    /// A looping source over samples already in the phone's format.
    ///
    /// # Panics
    /// If `samples` is empty (nothing to loop).
    pub fn from_samples(samples: Vec<i16>, pacing: Pacing) -> Self {
        assert!(!samples.is_empty(), "a looping source needs audio");
        WavSource {
            samples,
            pos: 0,
            pacer: Pacer::new(pacing),
        }
    }

    /// Length of one loop, in samples at 8 kHz.
    pub fn loop_len(&self) -> usize {
        self.samples.len()
    }
}

impl Capture for WavSource {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        self.pacer.advance(frame.len());
        let mut filled = 0;
        while filled < frame.len() {
            let n = (frame.len() - filled).min(self.samples.len() - self.pos);
            frame[filled..filled + n].copy_from_slice(&self.samples[self.pos..self.pos + n]);
            filled += n;
            self.pos = (self.pos + n) % self.samples.len();
        }
        Ok(())
    }
}

/// A loudspeaker that records what it plays into an 8 kHz mono 16-bit WAV
/// file.
///
/// The header is rewritten and the file flushed after every write (hound's
/// `WavWriter::flush` checkpoints the header), so the file is a valid WAV
/// holding everything played so far at any moment between writes, even if
/// the process is killed.
pub struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    pacer: Pacer,
    written: u64,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink")
            .field("path", &self.path)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl WavSink {
    /// Creates (or truncates) the file, which is immediately a valid, empty
    /// WAV.
    pub fn create(path: impl AsRef<Path>, pacing: Pacing) -> Result<Self, AudioError> {
        let path = path.as_ref().to_path_buf();
        let device = device_name(&path);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer =
            hound::WavWriter::create(&path, spec).map_err(|e| map_hound(device.clone(), e))?;
        writer.flush().map_err(|e| map_hound(device, e))?;
        Ok(WavSink {
            writer,
            path,
            pacer: Pacer::new(pacing),
            written: 0,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.written
    }
}

impl Playback for WavSink {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        self.pacer.advance(frame.len());
        let device = || device_name(&self.path);
        let mut w = self.writer.get_i16_writer(frame.len() as u32);
        for &s in frame {
            w.write_sample(s);
        }
        w.flush().map_err(|e| map_hound(device(), e))?;
        self.writer.flush().map_err(|e| map_hound(device(), e))?;
        self.written += frame.len() as u64;
        Ok(())
    }

    fn queued(&self) -> Option<usize> {
        Some(self.pacer.ahead())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    fn read_wav(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        (spec, r.into_samples::<i16>().map(Result::unwrap).collect())
    }

    #[test]
    fn source_loops_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.wav");
        let data: Vec<i16> = (1..=100).collect();
        write_wav(&p, 8000, 1, &data);
        let mut s = WavSource::open(&p, Pacing::Unpaced).unwrap();
        assert_eq!(s.loop_len(), 100);
        let mut frame = [0i16; 80];
        s.read(&mut frame).unwrap();
        assert_eq!(frame[..], data[..80]);
        s.read(&mut frame).unwrap();
        // 20 samples of the end, then the start again.
        assert_eq!(frame[..20], data[80..]);
        assert_eq!(frame[20..], data[..60]);
    }

    #[test]
    fn source_downmixes_and_resamples() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.wav");
        // 16 kHz stereo, left constant 1000, right constant 3000: 1 s.
        let data: Vec<i16> = (0..16_000).flat_map(|_| [1000i16, 3000]).collect();
        write_wav(&p, 16_000, 2, &data);
        let mut s = WavSource::open(&p, Pacing::Unpaced).unwrap();
        assert_eq!(s.loop_len(), 8000);
        let mut frame = [0i16; 160];
        for _ in 0..20 {
            s.read(&mut frame).unwrap();
        }
        // Away from the edges the level is the average of both channels.
        assert!(frame.iter().all(|&v| (v - 2000).abs() <= 20), "{frame:?}");
    }

    #[test]
    fn source_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.wav");
        match WavSource::open(&missing, Pacing::Unpaced) {
            Err(AudioError::Missing { device }) => assert!(device.ends_with("nope.wav")),
            other => panic!("expected Missing, got {other:?}"),
        }
        let p = dir.path().join("float.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        w.write_sample(0.5f32).unwrap();
        w.finalize().unwrap();
        let e = WavSource::open(&p, Pacing::Unpaced).unwrap_err();
        assert!(matches!(e, AudioError::Format { .. }), "{e:?}");
        assert!(e.to_string().contains("float.wav"));

        let p = dir.path().join("garbage.wav");
        std::fs::write(&p, b"this is not a wav file at all").unwrap();
        assert!(matches!(
            WavSource::open(&p, Pacing::Unpaced),
            Err(AudioError::Format { .. })
        ));

        let p = dir.path().join("empty.wav");
        write_wav(&p, 8000, 1, &[]);
        assert!(matches!(
            WavSource::open(&p, Pacing::Unpaced),
            Err(AudioError::Format { .. })
        ));
    }

    #[test]
    fn sink_file_is_valid_after_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.wav");
        let mut sink = WavSink::create(&p, Pacing::Unpaced).unwrap();
        let (spec, got) = read_wav(&p);
        assert_eq!(
            (spec.sample_rate, spec.channels, spec.bits_per_sample),
            (8000, 1, 16)
        );
        assert!(got.is_empty());
        let mut expect = Vec::new();
        for k in 0..5i16 {
            let frame: Vec<i16> = (0..160).map(|i| i * 10 + k).collect();
            sink.write(&frame).unwrap();
            expect.extend_from_slice(&frame);
            // Read while the sink is still open: everything so far is there.
            let (_, got) = read_wav(&p);
            assert_eq!(got, expect);
        }
        assert_eq!(sink.samples_written(), 800);
        // Simulate a killed process: the sink is never dropped.
        std::mem::forget(sink);
        let (_, got) = read_wav(&p);
        assert_eq!(got.len(), 800);
    }

    #[test]
    fn sink_in_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/out.wav");
        let e = WavSink::create(&p, Pacing::Unpaced).unwrap_err();
        assert!(e.to_string().contains("out.wav"), "{e}");
    }
}
