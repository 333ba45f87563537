//! The ALSA backend against alsa-lib's `null` PCM, which needs no sound
//! hardware: it accepts any configuration and completes every transfer
//! at once.
#![cfg(feature = "alsa")]

use deskphone_audio::{
    open_capture, open_playback, AlsaCapture, AlsaPlayback, AudioError, Capture, Playback,
    FRAME_10MS, FRAME_20MS,
};

#[test]
fn capture_opens_and_reads_from_null() {
    let mut cap = AlsaCapture::open("null", FRAME_20MS).unwrap();
    let p = cap.params();
    assert!(p.period <= FRAME_10MS, "period {} is over 10 ms", p.period);
    assert!(p.buffer >= 2 * FRAME_20MS, "buffer {} too small", p.buffer);
    // alsa-lib's null PCM completes reads without touching the buffer, so
    // only completion (and no xrun) can be checked here.
    let mut frame = [123i16; FRAME_20MS];
    for _ in 0..5 {
        cap.read(&mut frame).unwrap();
    }
    assert_eq!(cap.xruns(), 0);
}

#[test]
fn playback_opens_and_writes_to_null() {
    let mut play = AlsaPlayback::open("null", FRAME_10MS).unwrap();
    let p = play.params();
    assert!(p.period <= FRAME_10MS);
    assert!(p.buffer >= 4 * p.period);
    assert_eq!(p.start_threshold, FRAME_10MS + p.period);
    let tone: Vec<i16> = (0..FRAME_10MS)
        .map(|i| ((i % 16) as i16 - 8) * 1000)
        .collect();
    for _ in 0..10 {
        play.write(&tone).unwrap();
    }
    assert!(play.queued().is_some());
}

#[test]
fn short_frames_get_short_periods() {
    let cap = AlsaCapture::open("null", 40).unwrap();
    assert!(cap.params().period <= 40, "{:?}", cap.params());
}

#[test]
fn open_by_name_uses_alsa() {
    let mut cap = open_capture("null", FRAME_20MS).unwrap();
    let mut frame = [1i16; FRAME_20MS];
    cap.read(&mut frame).unwrap();
    let mut play = open_playback("null", FRAME_20MS).unwrap();
    play.write(&frame).unwrap();
}

#[test]
fn missing_card_is_reported_by_name() {
    for name in ["hw:CARD=NoSuchCard", "plughw:CARD=NoSuchCard"] {
        match AlsaCapture::open(name, FRAME_20MS) {
            Err(e @ AudioError::Missing { .. }) => {
                assert_eq!(e.device(), name);
                assert!(e.to_string().contains(name), "{e}");
            }
            other => panic!("{name}: expected Missing, got {other:?}"),
        }
        assert!(matches!(
            AlsaPlayback::open(name, FRAME_20MS),
            Err(AudioError::Missing { .. })
        ));
    }
}

#[test]
fn unknown_pcm_name_is_missing() {
    let e = AlsaPlayback::open("no_such_pcm_definition", FRAME_20MS).unwrap_err();
    assert!(matches!(e, AudioError::Missing { .. }), "{e:?}");
}
