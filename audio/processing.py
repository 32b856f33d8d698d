"""Waveform utilities on `[C, T]` float tensors: mix-down, loudness normalisation, resampling.

Loudness follows ITU-R BS.1770 (K-weighted, gated), computed as `torchaudio.functional.loudness`
does; clips shorter than its 400 ms block fall back to plain RMS so a short clip still gets a level.

Memory: every function here works through the waveform `CHUNK` samples at a time, so hours of audio
cost the input, the output (when there is one) and one chunk's temporaries — never float64 or
filtered copies of the whole file (torchaudio's one-shot loudness and resampling make several).
"""

from __future__ import annotations

import math

import numpy as np
import torch

SPEECH_RATE = 16_000  # the rate every model of the pack consumes
CHUNK = 1 << 20  # samples per channel handled at once by the streaming passes (~22-65 s)


def mix_to_mono(wave: torch.Tensor) -> torch.Tensor:
    """[C, T] -> [1, T] by averaging channels."""
    return wave.mean(dim=0, keepdim=True) if wave.shape[0] > 1 else wave


def peak(wave: torch.Tensor) -> float:
    """Largest absolute sample (no |wave| copy)."""
    if wave.numel() == 0:
        return 0.0
    lo, hi = torch.aminmax(wave)
    return max(-float(lo), float(hi))


def all_finite(wave: torch.Tensor, chunk: int = CHUNK) -> bool:
    """No NaN or infinite sample (checked chunk by chunk: no whole-file boolean mask)."""
    flat = wave.reshape(-1)
    return all(bool(torch.isfinite(flat[a:a + chunk]).all()) for a in range(0, flat.numel(), chunk))


def rms(wave: torch.Tensor, chunk: int = CHUNK) -> float:
    """Root mean square over all samples (float64 accumulation, chunk by chunk)."""
    flat = wave.reshape(-1)
    if flat.numel() == 0:
        return 0.0
    total = sum(float(flat[a:a + chunk].double().square().sum()) for a in range(0, flat.numel(), chunk))
    return math.sqrt(total / flat.numel())


# --------------------------------------------------------------------------------------------
# loudness (ITU-R BS.1770-4)

_GATE_S, _OVERLAP, _ABS_GATE, _BIAS = 0.4, 0.75, -70.0, -0.691
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs; further channels count 1.0


def _k_weighting(sample_rate: int) -> list[np.ndarray]:
    """The two K-weighting biquads as torchaudio builds them (treble shelf +4 dB at 1500 Hz, Q 1/√2;
    high-pass 38 Hz, Q 0.5), each as one normalised second-order section [b0 b1 b2 1 a1 a2]."""
    w0 = 2 * math.pi * 1500.0 / sample_rate
    A = math.exp(4.0 / 40 * math.log(10))
    alpha = math.sin(w0) / 2 / (1 / math.sqrt(2))
    t1, t2, t3 = 2 * math.sqrt(A) * alpha, (A - 1) * math.cos(w0), (A + 1) * math.cos(w0)
    shelf = [A * ((A + 1) + t2 + t1), -2 * A * ((A - 1) + t3), A * ((A + 1) + t2 - t1),
             (A + 1) - t2 + t1, 2 * ((A - 1) - t3), (A + 1) - t2 - t1]
    w0 = 2 * math.pi * 38.0 / sample_rate
    alpha = math.sin(w0) / 2.0 / 0.5
    c = math.cos(w0)
    high = [(1 + c) / 2, -1 - c, (1 + c) / 2, 1 + alpha, -2 * c, 1 - alpha]
    return [np.array([[b0 / a0, b1 / a0, b2 / a0, 1.0, a1 / a0, a2 / a0]]) for b0, b1, b2, a0, a1, a2 in (shelf, high)]


def _block_energies(wave: torch.Tensor, sample_rate: int, chunk: int) -> np.ndarray:
    """[C, T] -> mean square of the K-weighted signal per 400 ms block (75 % overlap), [C, J] float64.

    The filters run chunk by chunk carrying their state (exactly the one-pass result); each stage's
    output is clipped to [-1, 1] as torchaudio's `lfilter` does. Block sums come from a running
    prefix sum sampled at the block edges, so nothing of the file's length is kept but [C, J]."""
    from scipy.signal import sosfilt

    C, T = wave.shape
    gate = int(round(_GATE_S * sample_rate))
    step = int(round(gate * (1 - _OVERLAP)))
    J = (T - gate) // step + 1 if T >= gate else 0
    starts = np.arange(J, dtype=np.int64) * step
    ends = starts + gate
    at_start, at_end = np.zeros((C, J)), np.zeros((C, J))  # prefix sums S(p) = sum of y^2 over [0, p)
    stages = _k_weighting(sample_rate)
    state = [np.zeros((1, C, 2)) for _ in stages]
    running = np.zeros(C)
    for a in range(0, T, chunk):
        y = wave[:, a:a + chunk].detach().cpu().double().numpy()
        for k, sos in enumerate(stages):
            y, state[k] = sosfilt(sos, y, axis=-1, zi=state[k])
            np.clip(y, -1.0, 1.0, out=y)
        prefix = np.cumsum(np.square(y, out=y), axis=-1, out=y)
        prefix += running[:, None]
        b = a + prefix.shape[1]
        for edges, table in ((starts, at_start), (ends, at_end)):  # prefix sums at the block edges in (a, b]
            lo, hi = np.searchsorted(edges, [a + 1, b + 1])
            table[:, lo:hi] = prefix[:, edges[lo:hi] - a - 1]
        running = prefix[:, -1].copy()
    return (at_end - at_start) / gate


def loudness_lufs(wave: torch.Tensor, sample_rate: int, chunk: int = CHUNK) -> float:
    """Integrated loudness in LUFS (BS.1770, absolute and relative gating); -inf for digital silence."""
    if wave.ndim == 1:
        wave = wave[None]
    if peak(wave) == 0.0:
        return -math.inf
    if wave.shape[-1] >= int(_GATE_S * sample_rate):
        energy = _block_energies(wave, sample_rate, chunk)  # [C, J]
        g = np.array([_CHANNEL_WEIGHTS[c] if c < len(_CHANNEL_WEIGHTS) else 1.0 for c in range(energy.shape[0])])
        with np.errstate(divide="ignore"):
            block = _BIAS + 10 * np.log10(g @ energy)  # [J]
            gated = block > _ABS_GATE
            if gated.any():
                rel = _BIAS + 10 * np.log10(g @ energy[:, gated].mean(1)) - 10
                gated &= block > rel
            value = float(_BIAS + 10 * np.log10(g @ energy[:, gated].mean(1))) if gated.any() else math.nan
        if math.isfinite(value):
            return value
    return 20 * math.log10(max(rms(wave, chunk), 1e-12)) - 0.691  # BS.1770 offset, no K-weighting


def loudness_gain(wave: torch.Tensor, sample_rate: int, target_lufs: float = -20.0, peak_limit: float = 0.99) -> float:
    """The factor that brings `wave` to `target_lufs`, lowered so no sample exceeds `peak_limit`
    (1.0 for silence: there is nothing to scale)."""
    level = loudness_lufs(wave, sample_rate)
    if not math.isfinite(level):
        return 1.0
    gain = 10 ** ((target_lufs - level) / 20)
    top = peak(wave) * gain
    if top > peak_limit:
        gain *= peak_limit / top
    return gain


def normalize_loudness(wave: torch.Tensor, sample_rate: int, target_lufs: float = -20.0,
                       peak: float = 0.99, inplace: bool = False) -> torch.Tensor:
    """Scale to `target_lufs`, then down again if needed so no sample exceeds `peak`.

    Silence is returned unchanged (there is nothing to scale). `inplace` scales `wave` itself
    (no second copy of a long recording)."""
    gain = loudness_gain(wave, sample_rate, target_lufs, peak)
    if gain == 1.0:
        return wave
    return wave.mul_(gain) if inplace else wave * gain


# --------------------------------------------------------------------------------------------
# mix-down + resampling, streamed

def convert(wave: torch.Tensor, orig_rate: int, new_rate: int, mono: bool = False,
            chunk: int = CHUNK) -> torch.Tensor:
    """[C, T] (any float dtype) -> float32 [C or 1, T'] at `new_rate`: optional mix-down, then
    torchaudio's band-limited (windowed sinc) resampling, chunk by chunk.

    Chunks start on multiples of the rate ratio's period and see the filter's full reach of real
    samples on both sides, so every output sample is computed from exactly the inputs and weights of
    the one-shot `torchaudio.functional.resample` (equal within float rounding of the convolution).
    Memory: input + output + one chunk. Returns `wave` itself when nothing is to be done."""
    orig_rate, new_rate = int(orig_rate), int(new_rate)
    mix = mono and wave.shape[0] > 1
    if orig_rate == new_rate and not mix and wave.dtype == torch.float32:
        return wave
    C, T = (1 if mono else wave.shape[0]), wave.shape[-1]
    if orig_rate == new_rate:
        period, out_period, reach, resampler = 1, 1, 0, None
        n_out = T
    else:
        import torchaudio
        g = math.gcd(orig_rate, new_rate)
        period, out_period = orig_rate // g, new_rate // g  # `period` inputs -> `out_period` outputs
        resampler = torchaudio.transforms.Resample(orig_rate, new_rate, dtype=torch.float32)
        reach = period * (math.ceil(resampler.width / period) + 1)  # context each side, whole periods
        n_out = math.ceil(out_period * T / period)
    out = torch.empty(C, n_out)
    step = period * max(1, chunk // period)
    for a in range(0, T, step):
        b = min(a + step, T)
        s, e = max(0, a - reach), min(T, b + reach)  # s is a multiple of `period`
        seg = wave[:, s:e].float()
        if mix:
            seg = mix_to_mono(seg)
        if resampler is None:
            out[:, a:b] = seg[:, a - s:b - s]
            continue
        y = resampler(seg)  # y[j] is output sample j + (s / period) * out_period
        lo, hi = a // period * out_period, min(n_out, math.ceil(b * out_period / period))
        off = s // period * out_period
        out[:, lo:hi] = y[:, lo - off:hi - off]
    return out


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling (torchaudio's windowed sinc, streamed); identity if the rates match."""
    if orig_rate == new_rate:
        return wave
    return convert(wave, orig_rate, new_rate)
