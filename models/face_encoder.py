"""Face encoder of stage 1 (ConRe face side; See the Speaker, arXiv 2510.26819, §SCFP).

Aligned portrait [B, 3, H, W] in 0..1 -> identity embedding [B, D]. Trained with the speech
encoder by a speaker-level contrastive loss (training/train_scfp.py, phase "conre"): faces and
voices of one speaker are positives. The face is looked at at 64² (identity lives in the
geometry and colours, not in fine texture), which keeps ConRe cheap on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FaceEncoderConfig:
    dim: int = 128  # embedding width D (same as the speech encoder)
    size: int = 64  # input side the portrait is resized to
    channels: tuple = (32, 64, 128, 192)  # conv widths at size/2, /4, /8, /16


class FaceEncoder(nn.Module):
    def __init__(self, cfg: FaceEncoderConfig = FaceEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 2, cfg.dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image [B, 3, H, W] 0..1 -> [B, D]."""
        if image.shape[-1] != self.cfg.size or image.shape[-2] != self.cfg.size:
            image = F.interpolate(image, size=(self.cfg.size, self.cfg.size), mode="area")
        h = self.body(image * 2 - 1)  # [B, C, s/16, s/16]
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=-1))
