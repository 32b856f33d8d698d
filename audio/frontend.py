"""The shared audio front end: speech at 16 kHz mono -> log-mel frames aligned to 25 fps video.

Every model of the pack listens through this front end (DESIGN §3): 80 log-mel bins, 25 ms
window, 10 ms hop, so 4 mel frames per video frame at 25 fps. Mel frame k is centred at k·10 ms
(`center=True`), so video frame t, covering [t/25, (t+1)/25) s, owns mel frames 4t .. 4t+3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .processing import SPEECH_RATE, convert


@dataclass
class FrontEndConfig:
    sample_rate: int = SPEECH_RATE  # Hz; input is resampled to this
    n_fft: int = 512  # FFT size (zero-padded 25 ms window)
    win_length: int = 400  # 25 ms analysis window
    hop_length: int = 160  # 10 ms hop -> 100 mel frames per second
    n_mels: int = 80  # mel bins
    f_min: float = 55.0  # Hz, below the lowest voice F0
    f_max: float = 7600.0  # Hz, just under Nyquist
    log_floor: float = 1e-5  # log(max(mel, floor))
    fps: float = 25.0  # video frame rate the features are aligned to

    @property
    def mel_per_frame(self) -> int:
        """Mel frames per video frame (4 at 10 ms hop and 25 fps)."""
        ratio = self.sample_rate / self.hop_length / self.fps
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"hop {self.hop_length} at {self.sample_rate} Hz does not divide {self.fps} fps frames")
        return int(round(ratio))


class LogMel(nn.Module):
    """wave [..., T] at `sample_rate` -> log-mel [..., n_mels, T // hop + 1], computed in blocks.

    The result is torchaudio's centred MelSpectrogram (reflect padding at the ends) of the whole
    wave, but never held as one STFT: frames are made `block_frames` at a time from the samples they
    cover (a block's frames read n_fft/2 samples beyond it on each side, reflected at the file's
    ends exactly as `center=True` does), so memory is the output plus one block's STFT (~12 MB) for
    any length. Blocks agree with the one-shot transform within float rounding (tests)."""

    def __init__(self, cfg: FrontEndConfig | None = None, block_frames: int = 3000):
        super().__init__()
        import torchaudio
        self.cfg = cfg or FrontEndConfig()
        self.block_frames = max(2, int(block_frames))
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.cfg.sample_rate, n_fft=self.cfg.n_fft, win_length=self.cfg.win_length,
            hop_length=self.cfg.hop_length, f_min=self.cfg.f_min, f_max=self.cfg.f_max,
            n_mels=self.cfg.n_mels, power=2.0, center=False, norm="slaney", mel_scale="slaney")

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        n, lead = wave.shape[-1], wave.shape[:-1]
        x = wave.reshape(math.prod(lead), n)
        half = cfg.n_fft // 2
        short = half + 1 - n
        if short > 0:  # centred frames reflect n_fft/2 samples, which needs a longer wave: pad with silence
            x = torch.nn.functional.pad(x.float(), (0, short))
        length = x.shape[-1]
        frames, total = n // cfg.hop_length + 1, length // cfg.hop_length + 1  # kept, computable (>= 2)
        out = torch.empty(x.shape[0], cfg.n_mels, frames)
        for k0 in range(0, frames, self.block_frames):
            k1 = min(k0 + self.block_frames, frames)
            c0 = max(0, min(k0, k1 - 2))  # compute >= 2 frames: reflection needs more samples than it mirrors
            c1 = min(total, max(k1, c0 + 2))
            lo, hi = c0 * cfg.hop_length - half, (c1 - 1) * cfg.hop_length + half  # samples frames c0..c1-1 read
            seg = x[:, max(lo, 0):min(hi, length)].float()
            if lo < 0 or hi > length:
                seg = torch.nn.functional.pad(seg[:, None], (max(0, -lo), max(0, hi - length)), mode="reflect")[:, 0]
            mel = self.mel(seg)[..., k0 - c0:k1 - c0]  # [B, n_mels, k1 - k0]
            out[..., k0:k1] = mel.clamp_min_(cfg.log_floor).log_()
        return out.reshape(*lead, cfg.n_mels, frames)


def speech_from_audio(waveform: torch.Tensor, sample_rate: int, cfg: FrontEndConfig | None = None) -> torch.Tensor:
    """Core AUDIO waveform [B, C, T] or [C, T] -> mono float32 [T] at the front end's rate (item 0).

    Mix-down and resampling are streamed (processing.convert); 16 kHz mono float32 input is
    returned as a view, without a copy."""
    cfg = cfg or FrontEndConfig()
    if waveform.ndim == 3:
        waveform = waveform[0]
    if waveform.ndim != 2:
        raise ValueError(f"expected a waveform [B, C, T] or [C, T], got shape {tuple(waveform.shape)}")
    return convert(waveform, int(sample_rate), cfg.sample_rate, mono=True)[0].contiguous()


def video_frames(n_samples: int, cfg: FrontEndConfig | None = None) -> int:
    """Number of video frames that cover `n_samples` of speech (the last one may be partial)."""
    cfg = cfg or FrontEndConfig()
    return max(1, math.ceil(n_samples * cfg.fps / cfg.sample_rate - 1e-9))


def mel_for_frames(mel: torch.Tensor, n_frames: int, cfg: FrontEndConfig | None = None) -> torch.Tensor:
    """[..., n_mels, F] -> [..., n_frames, mel_per_frame * n_mels]: mel frames grouped per video frame.

    Pads with the log floor (silence) past the end, so every video frame gets exactly 4 mel frames.
    Written straight into the result (no padded or transposed copy of the input).
    """
    cfg = cfg or FrontEndConfig()
    k = cfg.mel_per_frame
    n_mels, have = mel.shape[-2], mel.shape[-1]
    out = mel.new_full((*mel.shape[:-2], n_frames, n_mels, k), math.log(cfg.log_floor))
    full = min(n_frames, have // k)  # video frames whose 4 mel frames all exist
    out[..., :full, :, :] = mel[..., :full * k].unflatten(-1, (full, k)).movedim(-3, -2)
    if full < n_frames and have > full * k:  # a partly covered frame: its existing sub-frames
        part = min(have, (full + 1) * k) - full * k
        out[..., full, :, :part] = mel[..., full * k:full * k + part]
    return out.flatten(-2)  # [..., n_frames, n_mels * k], ordered (mel bin, sub-frame)
