"""Waveform utilities on `[C, T]` float tensors: mix-down, loudness normalisation, resampling.

Loudness follows ITU-R BS.1770 (K-weighted, gated) through `torchaudio.functional.loudness`;
clips shorter than its 400 ms block fall back to plain RMS so a short clip still gets a level.
"""

from __future__ import annotations

import math

import torch

SPEECH_RATE = 16_000  # the rate every model of the pack consumes


def mix_to_mono(wave: torch.Tensor) -> torch.Tensor:
    """[C, T] -> [1, T] by averaging channels."""
    return wave.mean(dim=0, keepdim=True) if wave.shape[0] > 1 else wave


def loudness_lufs(wave: torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness in LUFS (BS.1770); -inf for digital silence."""
    if float(wave.abs().max()) == 0.0:
        return -math.inf
    if wave.shape[-1] >= int(0.4 * sample_rate):
        import torchaudio.functional as AF
        value = float(AF.loudness(wave.to(torch.float32), sample_rate))
        if math.isfinite(value):
            return value
    rms = float(wave.pow(2).mean().sqrt())
    return 20 * math.log10(max(rms, 1e-12)) - 0.691  # BS.1770 offset, no K-weighting


def normalize_loudness(wave: torch.Tensor, sample_rate: int, target_lufs: float = -20.0,
                       peak: float = 0.99) -> torch.Tensor:
    """Scale to `target_lufs`, then down again if needed so no sample exceeds `peak`.

    Silence is returned unchanged (there is nothing to scale).
    """
    level = loudness_lufs(wave, sample_rate)
    if not math.isfinite(level):
        return wave
    gain = 10 ** ((target_lufs - level) / 20)
    top = float(wave.abs().max()) * gain
    if top > peak:
        gain *= peak / top
    return wave * gain


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's windowed sinc); identity if the rates match."""
    if orig_rate == new_rate:
        return wave
    import torchaudio.functional as AF
    return AF.resample(wave, orig_rate, new_rate)
