"""LipRefine: refines the lips part of a motion latent from a local audio window (HRTF, arXiv 2510.26819).

The paper refines the lip region before rendering; ours works in the motion latent: a residual
1-D conv network reads the current lips part and the raw content features over a local window
(receptive field ``layers * (kernel - 1) + 1`` frames) and outputs a correction of the lips part:

    lips' = lips + strength * delta(lips, audio)          strength 0 = off, 1 = as trained

Being local and convolutional it runs on any length (and in chunks) with no seams. Trained
(training/train_motion.py, phase "refine") on imperfect lips (motion-diffusion samples and
corrupted ground truth) with a lip reconstruction loss plus the lip-sync expert's contrastive loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .content_encoder import ConvBlock


@dataclass
class LipRefineConfig:
    audio_dim: int = 384  # raw content feature width (ContentEncoderConfig.raw_dim)
    lips_dim: int = 6  # width of the lips part (normalised latent)
    width: int = 128  # conv width
    layers: int = 4  # residual temporal blocks
    kernel: int = 5  # temporal kernel (frames)
    dropout: float = 0.05  # dropout (training only)


class LipRefine(nn.Module):
    def __init__(self, cfg: LipRefineConfig):
        super().__init__()
        self.cfg = cfg
        self.audio_in = nn.Sequential(nn.LayerNorm(cfg.audio_dim), nn.Linear(cfg.audio_dim, cfg.width))
        self.lips_in = nn.Linear(cfg.lips_dim, cfg.width)
        self.blocks = nn.ModuleList(ConvBlock(cfg.width, cfg.kernel, cfg.dropout) for _ in range(cfg.layers))
        self.out = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, cfg.lips_dim))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    @property
    def halo(self) -> int:
        """Frames of context needed on each side for an exact chunked result."""
        return self.cfg.layers * (self.cfg.kernel // 2)

    def delta(self, lips: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """lips [B, T, lips_dim], audio [B, T, audio_dim] -> correction [B, T, lips_dim]."""
        h = self.lips_in(lips) + self.audio_in(audio)
        for block in self.blocks:
            h = block(h)
        return self.out(h)

    def forward(self, lips: torch.Tensor, audio: torch.Tensor, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        return lips + strength * self.delta(lips, audio)

    @torch.no_grad()
    def refine_sequence(self, lips: torch.Tensor, audio: torch.Tensor, strength: float = 1.0,
                        chunk: int = 2048) -> torch.Tensor:
        """[T, lips_dim] x [T, audio_dim] -> refined [T, lips_dim], in chunks with a halo (exact)."""
        if strength == 0:
            return lips.clone()
        T, h = lips.shape[0], self.halo
        out = torch.empty_like(lips)
        for s in range(0, T, chunk):
            a, b = max(0, s - h), min(T, s + chunk + h)
            d = self.delta(lips[None, a:b], audio[None, a:b])[0]
            out[s:min(T, s + chunk)] = lips[s:min(T, s + chunk)] + strength * d[s - a:s - a + min(chunk, T - s)]
        return out
