//! Acoustic echo cancellation for speaker mode.
//!
//! In speaker mode the microphone hears the loudspeaker: without echo
//! cancellation the far-end talker hears themself back. [`EchoCanceller`] takes,
//! for each frame, what was sent to the loudspeaker (`far_end`) and what the
//! microphone captured (`near_end`), and removes the echo from `near_end` in
//! place.
//!
//! [`Aec3Canceller`] wraps the `aec3` crate, a pure-Rust port of WebRTC's
//! AEC3 (adaptive linear filter, delay estimation, residual echo
//! suppression, comfort noise). AEC3 runs at 16 kHz or above, so each 10 ms
//! frame is upsampled from 8 kHz on the way in and downsampled on the way out,
//! with the sinc resamplers that come with the crate. The crate's canceller
//! cannot move between threads, so it runs on a worker thread of its own
//! (see [`Aec3Canceller`]). [`PassThrough`] leaves
//! audio untouched, for the handset and headset paths and for comparisons.

use aec3::api::config::EchoCanceller3Config;
use aec3::api::control::EchoControl;
use aec3::audio_processing::aec3::echo_canceller3::EchoCanceller3;
use aec3::audio_processing::audio_buffer::AudioBuffer;
use aec3::audio_processing::audio_frame::{AudioFrame, SpeechType, VadActivity};

use std::sync::mpsc;
use std::thread;

use crate::{FRAME_10MS, SAMPLE_RATE};

/// Removes the loudspeaker's echo from microphone audio.
pub trait EchoCanceller: Send {
    /// Processes one frame: `far_end` is what was just given to the
    /// loudspeaker, `near_end` what the microphone captured at the same time,
    /// cleaned in place. Both have the same length, a multiple of 10 ms.
    fn process(&mut self, far_end: &[i16], near_end: &mut [i16]);

    /// Forgets everything learnt about the echo path (call after switching
    /// devices or after a long gap).
    fn reset(&mut self) {}

    /// The canceller's own estimate of its echo return loss enhancement,
    /// in dB, if it makes one.
    fn erle_db(&self) -> Option<f64> {
        None
    }
}

/// Leaves the microphone signal as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough;

impl EchoCanceller for PassThrough {
    fn process(&mut self, _far_end: &[i16], _near_end: &mut [i16]) {}
}

/// The rate AEC3 runs at: its lowest.
const AEC_RATE: usize = 16_000;

/// The AEC3 state and its 8 kHz <-> 16 kHz adapters. Not `Send` (the `aec3`
/// crate keeps a boxed trait object without a `Send` bound), so it lives on
/// its own thread, see [`Aec3Canceller`].
struct Aec3Engine {
    ec: EchoCanceller3,
    render: AudioBuffer,
    capture: AudioBuffer,
    frame: AudioFrame,
}

impl Aec3Engine {
    fn new() -> Self {
        let rate = SAMPLE_RATE as usize;
        let buffer = || AudioBuffer::from_sample_rates(rate, 1, AEC_RATE, 1, rate);
        Aec3Engine {
            ec: EchoCanceller3::new(EchoCanceller3Config::default(), AEC_RATE as i32, 1, 1),
            render: buffer(),
            capture: buffer(),
            frame: AudioFrame::new(),
        }
    }

    fn load(frame: &mut AudioFrame, samples: &[i16]) {
        frame.update_frame(
            0,
            samples,
            samples.len(),
            SAMPLE_RATE as i32,
            SpeechType::NormalSpeech,
            VadActivity::Unknown,
            1,
        );
    }

    fn process_10ms(&mut self, far: &[i16], near: &mut [i16]) {
        Self::load(&mut self.frame, far);
        self.render.copy_from_frame(&self.frame);
        self.render.split_into_frequency_bands();
        self.ec.analyze_render(&mut self.render);

        Self::load(&mut self.frame, near);
        self.capture.copy_from_frame(&self.frame);
        self.ec.analyze_capture(&mut self.capture);
        self.capture.split_into_frequency_bands();
        self.ec.process_capture(&mut self.capture, false);
        self.capture.merge_frequency_bands();
        self.capture.copy_to_frame(&mut self.frame);
        near.copy_from_slice(&self.frame.data()[..near.len()]);
    }
}

enum Job {
    Process { far: Vec<i16>, near: Vec<i16> },
    Reset,
}

struct Done {
    far: Vec<i16>,
    near: Vec<i16>,
    erle_db: f64,
}

/// Echo cancellation by WebRTC's AEC3 algorithm (the `aec3` crate).
///
/// The engine runs on a worker thread owned by this value, because the
/// crate's canceller cannot move between threads while this type must
/// (mediad builds it, then hands it to its audio thread). Each
/// [`process`](EchoCanceller::process) call is a synchronous hand-off: no
/// audio is delayed, the cost is two thread wake-ups per frame. The sample
/// buffers travel back and forth, so nothing is allocated per frame.
///
/// If the worker ever dies (a panic inside the crate), audio passes through
/// unprocessed and an error is logged: a call without echo cancellation is
/// better than no call.
pub struct Aec3Canceller {
    jobs: Option<mpsc::SyncSender<Job>>,
    done: mpsc::Receiver<Done>,
    worker: Option<thread::JoinHandle<()>>,
    far: Vec<i16>,
    near: Vec<i16>,
    erle_db: f64,
    warned_length: bool,
}

impl std::fmt::Debug for Aec3Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aec3Canceller")
            .field("running", &self.jobs.is_some())
            .field("erle_db", &self.erle_db)
            .finish_non_exhaustive()
    }
}

impl Default for Aec3Canceller {
    fn default() -> Self {
        Self::new()
    }
}

impl Aec3Canceller {
    /// An AEC3 instance with WebRTC's default tuning, for 8 kHz mono.
    pub fn new() -> Self {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(1);
        let (done_tx, done) = mpsc::sync_channel::<Done>(1);
        let worker = thread::Builder::new().name("aec3".into()).spawn(move || {
            let mut engine = Aec3Engine::new();
            for job in job_rx {
                match job {
                    Job::Reset => engine = Aec3Engine::new(),
                    Job::Process { far, mut near } => {
                        for (f, n) in far
                            .chunks_exact(FRAME_10MS)
                            .zip(near.chunks_exact_mut(FRAME_10MS))
                        {
                            engine.process_10ms(f, n);
                        }
                        let erle_db = engine.ec.metrics().echo_return_loss_enhancement;
                        if done_tx.send(Done { far, near, erle_db }).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let (jobs, worker) = match worker {
            Ok(w) => (Some(jobs), Some(w)),
            Err(e) => {
                log::error!(
                    "cannot start the echo canceller thread ({e}); echo cancellation is off"
                );
                (None, None)
            }
        };
        Aec3Canceller {
            jobs,
            done,
            worker,
            far: Vec::new(),
            near: Vec::new(),
            erle_db: 0.0,
            warned_length: false,
        }
    }

    fn fail(&mut self) {
        log::error!("the echo canceller stopped; audio now passes through unprocessed");
        self.jobs = None;
    }
}

impl EchoCanceller for Aec3Canceller {
    fn process(&mut self, far_end: &[i16], near_end: &mut [i16]) {
        if far_end.len() != near_end.len() || !near_end.len().is_multiple_of(FRAME_10MS) {
            // Cannot happen with mediad's 10/20 ms frames; leaving the audio
            // as it is beats dropping the call.
            if !self.warned_length {
                log::warn!(
                    "echo canceller needs equal 10 ms multiples, got {} and {} samples; passing through",
                    far_end.len(),
                    near_end.len()
                );
                self.warned_length = true;
            }
            return;
        }
        let Some(jobs) = &self.jobs else { return };
        let mut far = std::mem::take(&mut self.far);
        let mut near = std::mem::take(&mut self.near);
        far.clear();
        far.extend_from_slice(far_end);
        near.clear();
        near.extend_from_slice(near_end);
        if jobs.send(Job::Process { far, near }).is_err() {
            return self.fail();
        }
        match self.done.recv() {
            Ok(done) => {
                near_end.copy_from_slice(&done.near);
                self.erle_db = done.erle_db;
                self.far = done.far;
                self.near = done.near;
            }
            Err(_) => self.fail(),
        }
    }

    fn reset(&mut self) {
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job::Reset).is_err() {
                self.fail();
            }
        }
        self.erle_db = 0.0;
    }

    fn erle_db(&self) -> Option<f64> {
        self.jobs.as_ref().map(|_| self.erle_db)
    }
}

impl Drop for Aec3Canceller {
    fn drop(&mut self) {
        // Closing the job channel ends the worker's loop.
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_through_changes_nothing() {
        let far = [1000i16; 160];
        let mut near: Vec<i16> = (0..160).collect();
        PassThrough.process(&far, &mut near);
        assert_eq!(near, (0..160).collect::<Vec<i16>>());
    }

    #[test]
    fn aec3_passes_odd_lengths_through() {
        let mut ec = Aec3Canceller::new();
        let far = [1000i16; 100];
        let mut near = [5i16; 100];
        ec.process(&far, &mut near);
        assert_eq!(near, [5i16; 100]);
    }

    #[test]
    fn aec3_is_send() {
        fn boxed(_: Box<dyn EchoCanceller>) {}
        boxed(Box::new(Aec3Canceller::new()));
    }
}
