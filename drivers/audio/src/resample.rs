//! Conversion of whole recordings to the phone's format.
//!
//! WAV sources are short prompts and test signals, so the whole file is
//! converted once when it is opened (rubato's FFT resampler, which has a
//! proper anti-aliasing filter) and the result is looped; nothing is
//! resampled on the audio thread.

use rubato::{FftFixedIn, Resampler};

use crate::SAMPLE_RATE;

/// Input chunk given to the FFT resampler; any size works, this one keeps
/// the FFTs small.
const CHUNK: usize = 1024;

/// Downmixes interleaved 16-bit audio to mono and resamples it to
/// [`SAMPLE_RATE`].
pub(crate) fn to_phone_format(
    interleaved: &[i16],
    channels: usize,
    rate: u32,
) -> Result<Vec<i16>, String> {
    if channels == 0 {
        return Err("the file has no channels".into());
    }
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|f| f.iter().map(|&s| f32::from(s)).sum::<f32>() / channels as f32)
        .collect();
    let out = if rate == SAMPLE_RATE {
        mono
    } else {
        resample(&mono, rate as usize, SAMPLE_RATE as usize)?
    };
    Ok(out
        .into_iter()
        .map(|s| s.round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn resample(input: &[f32], from: usize, to: usize) -> Result<Vec<f32>, String> {
    let mut r = FftFixedIn::<f32>::new(from, to, CHUNK, 2, 1)
        .map_err(|e| format!("cannot resample from {from} Hz: {e}"))?;
    let wanted = (input.len() as u64 * to as u64).div_ceil(from as u64) as usize;
    let delay = r.output_delay();
    let mut out = Vec::with_capacity(wanted + delay + CHUNK);
    let mut pos = 0;
    while input.len() - pos >= r.input_frames_next() {
        let n = r.input_frames_next();
        let chunk = r
            .process(&[&input[pos..pos + n]], None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk[0]);
        pos += n;
    }
    // The tail, then zeros until the filter delay has come out too.
    if pos < input.len() {
        let chunk = r
            .process_partial(Some(&[&input[pos..]]), None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk[0]);
    }
    while out.len() < wanted + delay {
        let chunk = r
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk[0]);
    }
    Ok(out[delay..delay + wanted].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f32, secs: f32, amp: f32) -> Vec<i16> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| {
                (amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
            })
            .collect()
    }

    /// Correlates with a reference tone to find its amplitude, ignoring
    /// edges.
    fn amplitude_at(x: &[i16], freq: f32) -> f32 {
        let x = &x[400..x.len() - 400];
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for (i, &v) in x.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * f64::from(freq) * i as f64 / 8000.0;
            s += f64::from(v) * ph.sin();
            c += f64::from(v) * ph.cos();
        }
        (2.0 * (s * s + c * c).sqrt() / x.len() as f64) as f32
    }

    #[test]
    fn resamples_48k_keeping_length_and_tone() {
        let input = tone(48_000, 1000.0, 1.0, 10_000.0);
        let out = to_phone_format(&input, 1, 48_000).unwrap();
        assert_eq!(out.len(), 8000);
        let a = amplitude_at(&out, 1000.0);
        assert!((a - 10_000.0).abs() < 300.0, "amplitude {a}");
    }

    #[test]
    fn removes_content_above_4k() {
        // 6 kHz cannot exist at 8 kHz; it must be filtered, not aliased to 2 kHz.
        let input = tone(44_100, 6000.0, 0.5, 10_000.0);
        let out = to_phone_format(&input, 1, 44_100).unwrap();
        assert_eq!(out.len(), 4000);
        assert!(amplitude_at(&out, 2000.0) < 200.0);
    }

    #[test]
    fn downmixes_stereo_by_averaging() {
        let input = [100i16, 300, -200, -400, 32767, 32767];
        let out = to_phone_format(&input, 2, 8000).unwrap();
        assert_eq!(out, vec![200, -300, 32767]);
    }
}
