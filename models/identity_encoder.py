"""Identity encoder of the HRTF renderer (arXiv 2510.26819 stage 2, "identity encoder").

Portrait [B,3,128,128] -> appearance features (what the motion warper moves and the HR decoder
renders) + an identity vector (a pooled, l2-normalised summary the motion diffusion model is
conditioned on). The appearance keeps everything the portrait shows — hair, clothes, background,
an artist's edits — because frames are rendered from it, not from a learned identity prior.

    portrait 128² ─stem─ 64²×skip_ch ─┬─────────────────────────────► skip   [B,S,64,64]
                                      └─Down─ 32²×feat_ch ─ResBlocks─► feat  [B,F,32,32]
                                                           └─pool─MLP─► identity [B,id_dim]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .render_blocks import Down, ResBlock, conv3


@dataclass
class IdentityEncoderConfig:
    skip_ch: int = 32  # channels of the 64² skip features (fine detail: hair strands, edges)
    feat_ch: int = 96  # channels of the 32² appearance features
    blocks: int = 2  # residual blocks at 32²
    id_dim: int = 128  # identity vector size


@dataclass
class Appearance:
    """Encoded portrait: the renderer's per-portrait state (computed once, reused for every frame)."""

    feat: torch.Tensor  # [B,F,32,32]
    skip: torch.Tensor  # [B,S,64,64]
    image: torch.Tensor | None = None  # [B,3,out,out] the portrait's pixels (decoders with a pixel path)

    def expand(self, n: int) -> "Appearance":
        """Batch-1 appearance repeated to n frames (views, no copy)."""
        image = None if self.image is None else self.image.expand(n, -1, -1, -1)
        return Appearance(self.feat.expand(n, -1, -1, -1), self.skip.expand(n, -1, -1, -1), image)

    def take(self, idx: torch.Tensor | slice) -> "Appearance":
        return Appearance(self.feat[idx], self.skip[idx], None if self.image is None else self.image[idx])


class IdentityEncoder(nn.Module):
    def __init__(self, cfg: IdentityEncoderConfig = IdentityEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(conv3(3, 16), nn.SiLU(), Down(16, cfg.skip_ch), ResBlock(cfg.skip_ch))
        self.down = Down(cfg.skip_ch, cfg.feat_ch)
        self.blocks = nn.Sequential(*[ResBlock(cfg.feat_ch) for _ in range(cfg.blocks)])
        self.id_head = nn.Sequential(nn.Linear(2 * cfg.feat_ch, 256), nn.SiLU(), nn.Linear(256, cfg.id_dim))

    def forward(self, img: torch.Tensor) -> tuple[Appearance, torch.Tensor]:
        """img [B,3,128,128] in 0..1 -> (Appearance, identity [B,id_dim] unit norm)."""
        skip = self.stem(img * 2 - 1)  # [B,S,64,64]
        feat = self.blocks(self.down(skip))  # [B,F,32,32]
        pooled = torch.cat([feat.mean((2, 3)), feat.amax((2, 3))], dim=1)  # [B,2F]
        identity = F.normalize(self.id_head(pooled), dim=-1)
        return Appearance(feat, skip), identity
