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


def pitch_shift(x: torch.Tensor, semitones: float, n_fft: int = 512, hop: int = 128) -> torch.Tensor:
    """Shift the pitch of x [N] by `semitones`, keeping its duration: phase-vocoder time stretch by
    2^(s/12), then linear resampling back to N samples. Fast (torchaudio's pitch_shift builds a huge
    polyphase filter for irrational ratios and takes ~10 s per 4 s clip); good enough for augmentation."""
    rate = 2.0 ** (semitones / 12.0)
    win = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=win, return_complex=True)  # [F, frames]
    phase_advance = torch.linspace(0, torch.pi * hop, spec.shape[0])[..., None]
    stretched = torchaudio.functional.phase_vocoder(spec, 1.0 / rate, phase_advance)
    y = torch.istft(stretched, n_fft, hop, window=win)  # ~N * rate samples
    return torch.nn.functional.interpolate(y[None, None], size=x.shape[0], mode="linear", align_corners=False)[0, 0]


def augment_wave(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 [N] at 16 kHz -> an augmented copy of the same length (deterministic given rng)."""
    x = torch.from_numpy(np.asarray(wave, np.float32).copy())
    if rng.random() < 0.7:
        x = pitch_shift(x, float(rng.uniform(-4, 4)))
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
