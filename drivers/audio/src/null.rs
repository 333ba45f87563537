//! The null backends: silence in, nothing out.

use crate::pacing::{Pacer, Pacing};
use crate::{AudioError, Capture, Playback};

/// A microphone that hears nothing.
#[derive(Debug)]
pub struct NullSource {
    pacer: Pacer,
}

impl NullSource {
    pub fn new(pacing: Pacing) -> Self {
        NullSource {
            pacer: Pacer::new(pacing),
        }
    }
}

impl Capture for NullSource {
    fn read(&mut self, frame: &mut [i16]) -> Result<(), AudioError> {
        self.pacer.advance(frame.len());
        frame.fill(0);
        Ok(())
    }
}

/// A loudspeaker that plays into the void, at the pace of a real one.
#[derive(Debug)]
pub struct NullSink {
    pacer: Pacer,
    written: u64,
}

impl NullSink {
    pub fn new(pacing: Pacing) -> Self {
        NullSink {
            pacer: Pacer::new(pacing),
            written: 0,
        }
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.written
    }
}

impl Playback for NullSink {
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        self.pacer.advance(frame.len());
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
    use std::time::{Duration, Instant};

    #[test]
    fn null_source_gives_silence() {
        let mut s = NullSource::new(Pacing::Unpaced);
        let mut frame = [7i16; 160];
        s.read(&mut frame).unwrap();
        assert_eq!(frame, [0i16; 160]);
    }

    #[test]
    fn null_sink_counts_and_paces() {
        let mut s = NullSink::new(Pacing::RealTime);
        let t0 = Instant::now();
        for _ in 0..6 {
            s.write(&[1; 160]).unwrap();
        }
        assert_eq!(s.samples_written(), 960);
        assert!(t0.elapsed() >= Duration::from_millis(100));
        assert!(s.queued().unwrap() <= 160);
    }
}
