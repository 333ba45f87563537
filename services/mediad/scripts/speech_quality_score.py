#!/usr/bin/env python3
"""Scores the WAVs of the speech_quality example with PESQ (ITU-T P.862, narrowband, 8 kHz).

Usage: speech_quality_score.py DIR   (run by services/mediad/scripts/speech-quality)

DIR holds ref.wav (the reference), codec-only.wav, mediad-lossNN.wav, baresip-lossNN.wav and
results.json from the example. Each output is aligned with the reference before scoring: the
delay that maximises their cross-correlation (searched over 0..2 s; mediad's output starts
with the silence of its jitter buffer and concealer) is cut from its start, then it is cut or
padded with silence to the reference's length. PESQ does its own finer alignment per
utterance on top of that. Prints a table (also written to DIR/table.md) and adds the scores
to DIR/results.json.
"""

import json
import sys
import wave
from pathlib import Path

import numpy as np
from pesq import pesq

RATE = 8000
MAX_DELAY = 2 * RATE


def read_wav(path):
    with wave.open(str(path)) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            sys.exit(f"{path}: want 8000 Hz mono 16-bit")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def delay_of(ref, deg):
    """Samples by which deg lags ref (0..MAX_DELAY), by FFT cross-correlation."""
    n = 1
    while n < len(ref) + len(deg):
        n *= 2
    corr = np.fft.irfft(np.fft.rfft(deg, n) * np.conj(np.fft.rfft(ref, n)), n)
    lags = corr[: min(MAX_DELAY, len(deg)) + 1]
    return int(np.argmax(lags))


def aligned(ref, deg):
    d = delay_of(ref, deg)
    out = deg[d : d + len(ref)]
    if len(out) < len(ref):
        out = np.concatenate([out, np.zeros(len(ref) - len(out))])
    return out, d


def score(ref, path):
    """(MOS-LQO, delay in ms) of one output, or (None, None) if it is missing."""
    if not path.exists():
        return None, None
    deg, d = aligned(ref, read_wav(path))
    try:
        mos = pesq(RATE, ref, deg, "nb")
    except Exception as e:  # pesq raises on silence ("no utterances detected")
        print(f"{path.name}: PESQ failed: {e}", file=sys.stderr)
        return None, 1000.0 * d / RATE
    return round(float(mos), 3), round(1000.0 * d / RATE, 2)


def fmt(x, spec="{:.2f}"):
    return "-" if x is None else spec.format(x)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    ref = read_wav(out / "ref.wav")
    results = json.loads((out / "results.json").read_text())
    ceiling, _ = score(ref, out / "codec-only.wav")
    results["codec_only_mos"] = ceiling
    rows = []
    for c in results["conditions"]:
        tag = c["tag"]
        c["mediad"]["mos"], c["mediad"]["aligned_delay_ms"] = score(ref, out / f"mediad-{tag}.wav")
        if c.get("baresip"):
            c["baresip"]["mos"], c["baresip"]["aligned_delay_ms"] = score(
                ref, out / f"baresip-{tag}.wav"
            )
        m, b, n = c["mediad"], c.get("baresip") or {}, c["network"]
        rows.append(
            "| {:.0f} % ({} of {} lost) | {} | {} | {} | {} | {} | {} |".format(
                c["loss_percent"],
                n["lost"],
                n["packets"],
                fmt(m["mos"]),
                fmt(b.get("mos")),
                m["concealed"],
                m["late"],
                m["adjusted"],
                fmt(m["aligned_delay_ms"], "{:.0f} ms"),
            )
        )
    table = "\n".join(
        [
            f"PESQ MOS-LQO (P.862 narrowband); network delay {results['jitter']}, "
            f"{results['packets']} packets of {results['ptime_ms']} ms; "
            f"G.711 alone (no network): {fmt(ceiling)}",
            "",
            "| loss | mediad | baresip | mediad concealed frames | mediad late packets "
            "| mediad adjusted frames | mediad delay |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        + rows
    )
    print(table)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
