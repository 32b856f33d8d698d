"""Audio augmentation for stage-2 motion training: make the corpus voices less like each other.

The content features must carry lip movement for real human speech, not only for the corpus's
espeak voices. One extra, augmented copy of every training clip's features is cached next to the
clean one (training/motion_data.py): random pitch shift (±4 semitones, timing kept), spectral tilt
(low- or high-pass), coloured noise at 10–30 dB SNR and gain. Lip timing is unchanged, so the
ground-truth motion still fits.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

SR = 16000


def augment_wave(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 [N] at 16 kHz -> an augmented copy of the same length (deterministic given rng)."""
    x = torch.from_numpy(np.asarray(wave, np.float32).copy())
    if rng.random() < 0.7:
        x = torchaudio.functional.pitch_shift(x[None], SR, n_steps=float(rng.uniform(-4, 4)))[0]
    r = rng.random()
    if r < 0.33:
        x = torchaudio.functional.lowpass_biquad(x, SR, float(rng.uniform(1500, 4000)))
    elif r < 0.66:
        x = torchaudio.functional.highpass_biquad(x, SR, float(rng.uniform(200, 700)))
    if rng.random() < 0.7:
        n = torch.from_numpy(rng.standard_normal(x.shape[0]).astype(np.float32))
        n = torchaudio.functional.lowpass_biquad(n, SR, float(rng.uniform(2000, 7000)))
        snr = float(rng.uniform(10, 30))
        x = x + n * (x.pow(2).mean().sqrt() / n.pow(2).mean().sqrt().clamp_min(1e-8)) * 10 ** (-snr / 20)
    x = x * float(10 ** (rng.uniform(-10, 6) / 20))
    return x.clamp(-1, 1).numpy()
