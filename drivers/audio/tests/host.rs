//! The host backends as mediad uses them: opened by name, paced in real time.

use std::time::{Duration, Instant};

use deskphone_audio::{open_capture, open_playback, AudioError, FRAME_20MS};

#[test]
fn wav_loopback_in_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mic.wav");
    let output = dir.path().join("speaker.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&input, spec).unwrap();
    for i in 0..800i32 {
        w.write_sample((i * 37 % 2000 - 1000) as i16).unwrap();
    }
    w.finalize().unwrap();

    let mut mic = open_capture(&format!("wav:{}", input.display()), FRAME_20MS).unwrap();
    let mut spk = open_playback(&format!("wav:{}", output.display()), FRAME_20MS).unwrap();
    let t0 = Instant::now();
    let mut frame = [0i16; FRAME_20MS];
    for _ in 0..10 {
        mic.read(&mut frame).unwrap();
        spk.write(&frame).unwrap();
    }
    // 10 frames of 20 ms: the first is immediate, nine periods follow.
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(180), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");

    // Read while the sink is still open: two loops of the input so far.
    let got: Vec<i16> = hound::WavReader::open(&output)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let want: Vec<i16> = hound::WavReader::open(&input)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 1600);
    assert_eq!(got[..800], want[..]);
    assert_eq!(got[800..], want[..]);
    assert!(spk.queued().unwrap() <= FRAME_20MS);
}

#[test]
fn missing_wav_is_a_status_not_a_crash() {
    match open_capture("wav:/nonexistent/dir/mic.wav", FRAME_20MS) {
        Err(e @ AudioError::Missing { .. }) => {
            assert_eq!(
                e.to_string(),
                "audio device 'wav:/nonexistent/dir/mic.wav' is not present"
            )
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a missing file"),
    }
}
