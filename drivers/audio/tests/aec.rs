//! Echo cancellation in a simulated room.
//!
//! Far-end "speech" (noise shaped by a resonant filter and a syllable-rate
//! envelope) is played into a simulated room: a 30 ms acoustic delay
//! followed by a 40 ms exponentially decaying reverberant tail. The
//! microphone hears that echo plus a little noise, and, in the double-talk
//! part, a near-end talker.

use deskphone_audio::{Aec3Canceller, EchoCanceller, PassThrough, FRAME_20MS};

const RATE: usize = 8000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        // xorshift64*: deterministic, good enough for test noise.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        v as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// Speech-like signal: noise through a two-pole resonance at `formant` Hz,
/// gated by an envelope at `syllables` Hz so it has pauses like speech.
fn talker(seed: u64, len: usize, formant: f32, syllables: f32, level: f32) -> Vec<f32> {
    let mut rng = Rng(seed);
    let r = 0.95f32;
    let w = 2.0 * std::f32::consts::PI * formant / RATE as f32;
    let (a1, a2) = (2.0 * r * w.cos(), -r * r);
    let (mut y1, mut y2) = (0.0f32, 0.0f32);
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let y = rng.next() + a1 * y1 + a2 * y2;
        y2 = y1;
        y1 = y;
        let t = i as f32 / RATE as f32;
        let env = (0.5 - 0.5 * (2.0 * std::f32::consts::PI * syllables * t).cos()).powf(0.7);
        out.push(y * env);
    }
    let rms = (out.iter().map(|v| v * v).sum::<f32>() / len as f32).sqrt();
    out.iter().map(|v| v / rms * level).collect()
}

/// Loudspeaker-to-microphone impulse response: delay, then decaying taps.
fn room() -> Vec<f32> {
    let delay = 30 * RATE / 1000;
    let tail = 40 * RATE / 1000;
    let mut rng = Rng(7);
    let mut h = vec![0.0f32; delay + tail];
    h[delay] = 0.5;
    for k in 1..tail {
        h[delay + k] = 0.3 * rng.next() * (-(k as f32) / (tail as f32 / 5.0)).exp();
    }
    h
}

fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    (0..x.len())
        .map(|n| {
            h.iter()
                .enumerate()
                .take_while(|(k, _)| *k <= n)
                .map(|(k, hk)| hk * x[n - k])
                .sum()
        })
        .collect()
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn power(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

/// Runs `ec` over the whole signal in 20 ms frames, returns the output.
fn run(ec: &mut dyn EchoCanceller, far: &[i16], mic: &[i16]) -> Vec<i16> {
    let mut out = mic.to_vec();
    for (f, m) in far
        .chunks_exact(FRAME_20MS)
        .zip(out.chunks_exact_mut(FRAME_20MS))
    {
        ec.process(f, m);
    }
    out
}

/// Best normalised correlation of `y` with `x` delayed by 0..max_lag.
fn best_correlation(x: &[i16], y: &[i16], max_lag: usize) -> f64 {
    (0..max_lag)
        .map(|lag| {
            let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
            for i in 0..x.len() - max_lag {
                let (a, b) = (f64::from(x[i]), f64::from(y[i + lag]));
                xy += a * b;
                xx += a * a;
                yy += b * b;
            }
            xy / (xx * yy).sqrt().max(1e-9)
        })
        .fold(f64::MIN, f64::max)
}

struct Scene {
    far: Vec<i16>,
    echo: Vec<i16>,
    near_talker: Vec<i16>,
    mic: Vec<i16>,
}

/// 12 s: far end alone for 9 s, then both talk for 3 s.
fn scene() -> Scene {
    let len = 12 * RATE;
    let double_talk_from = 9 * RATE;
    let far = talker(1, len, 700.0, 3.0, 4000.0);
    let echo = convolve(&far, &room());
    let mut near = talker(2, len, 400.0, 2.3, 2500.0);
    near[..double_talk_from].iter_mut().for_each(|v| *v = 0.0);
    let mut rng = Rng(3);
    let mic: Vec<f32> = (0..len)
        .map(|i| echo[i] + near[i] + 10.0 * rng.next())
        .collect();
    Scene {
        far: to_i16(&far),
        echo: to_i16(&echo),
        near_talker: to_i16(&near),
        mic: to_i16(&mic),
    }
}

#[test]
fn aec3_removes_echo_and_keeps_double_talk() {
    let s = scene();
    let mut ec = Aec3Canceller::new();
    let out = run(&mut ec, &s.far, &s.mic);

    // Echo return loss enhancement over seconds 5..9 (converged, far end alone).
    let (a, b) = (5 * RATE, 9 * RATE);
    let erle = db(power(&s.mic[a..b]) / power(&out[a..b]).max(1.0));
    eprintln!(
        "ERLE after convergence: {erle:.1} dB (AEC3's estimate {:?})",
        ec.erle_db()
    );
    assert!(erle > 15.0, "ERLE only {erle:.1} dB");

    // Double talk, seconds 9.5..12: the near-end talker must come through.
    let (a, b) = (9 * RATE + RATE / 2, 12 * RATE);
    let kept = db(power(&out[a..b]) / power(&s.near_talker[a..b]));
    let corr = best_correlation(&s.near_talker[a..b], &out[a..b], 200);
    let echo_corr = best_correlation(&s.echo[a..b], &out[a..b], 200);
    eprintln!("double talk: near level {kept:.1} dB, correlation with near talker {corr:.2}, with echo {echo_corr:.2}");
    assert!(
        kept > -10.0,
        "near-end talker attenuated by {:.1} dB",
        -kept
    );
    assert!(
        corr > 0.6,
        "output does not follow the near-end talker: {corr:.2}"
    );
    assert!(corr > echo_corr + 0.3, "echo dominates during double talk");
}

#[test]
fn pass_through_leaves_the_echo() {
    // The same scene without cancellation: proves the scene has echo to
    // remove, so the ERLE above is the canceller's doing.
    let s = scene();
    let out = run(&mut PassThrough, &s.far, &s.mic);
    let (a, b) = (5 * RATE, 9 * RATE);
    assert!(db(power(&s.mic[a..b]) / power(&out[a..b])).abs() < 0.01);
    assert!(
        db(power(&s.echo[a..b]) / 100.0) > 40.0,
        "echo is well above the noise"
    );
}
