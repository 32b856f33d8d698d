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

from .processing import SPEECH_RATE, mix_to_mono, resample


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
    """wave [B, T] at `sample_rate` -> log-mel [B, n_mels, T // hop + 1]."""

    def __init__(self, cfg: FrontEndConfig | None = None):
        super().__init__()
        import torchaudio
        self.cfg = cfg or FrontEndConfig()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.cfg.sample_rate, n_fft=self.cfg.n_fft, win_length=self.cfg.win_length,
            hop_length=self.cfg.hop_length, f_min=self.cfg.f_min, f_max=self.cfg.f_max,
            n_mels=self.cfg.n_mels, power=2.0, center=True, norm="slaney", mel_scale="slaney")

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        short = self.cfg.n_fft // 2 + 1 - n
        if short > 0:  # centred frames reflect-pad n_fft/2 samples, which needs a longer wave: pad with silence
            wave = torch.nn.functional.pad(wave, (0, short))
        mel = self.mel(wave.float())[..., : n // self.cfg.hop_length + 1]
        return torch.log(mel.clamp_min(self.cfg.log_floor))


def speech_from_audio(waveform: torch.Tensor, sample_rate: int, cfg: FrontEndConfig | None = None) -> torch.Tensor:
    """Core AUDIO waveform [B, C, T] or [C, T] -> mono float32 [T] at the front end's rate (item 0)."""
    cfg = cfg or FrontEndConfig()
    if waveform.ndim == 3:
        waveform = waveform[0]
    if waveform.ndim != 2:
        raise ValueError(f"expected a waveform [B, C, T] or [C, T], got shape {tuple(waveform.shape)}")
    mono = mix_to_mono(waveform.float())
    return resample(mono, int(sample_rate), cfg.sample_rate)[0].contiguous()


def video_frames(n_samples: int, cfg: FrontEndConfig | None = None) -> int:
    """Number of video frames that cover `n_samples` of speech (the last one may be partial)."""
    cfg = cfg or FrontEndConfig()
    return max(1, math.ceil(n_samples * cfg.fps / cfg.sample_rate - 1e-9))


def mel_for_frames(mel: torch.Tensor, n_frames: int, cfg: FrontEndConfig | None = None) -> torch.Tensor:
    """[..., n_mels, F] -> [..., n_frames, mel_per_frame * n_mels]: mel frames grouped per video frame.

    Pads with the log floor (silence) past the end, so every video frame gets exactly 4 mel frames.
    """
    cfg = cfg or FrontEndConfig()
    k = cfg.mel_per_frame
    need = n_frames * k
    if mel.shape[-1] < need:
        pad = mel.new_full((*mel.shape[:-1], need - mel.shape[-1]), math.log(cfg.log_floor))
        mel = torch.cat([mel, pad], dim=-1)
    mel = mel[..., :need]  # [..., n_mels, n_frames * k]
    mel = mel.reshape(*mel.shape[:-1], n_frames, k)  # [..., n_mels, n_frames, k]
    return mel.movedim(-3, -2).flatten(-2)  # [..., n_frames, n_mels * k], ordered (mel bin, sub-frame)
