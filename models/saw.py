"""SAW — sample-adaptive weighting of the face prior (See the Speaker, arXiv 2510.26819).

A small MLP on the utterance embedding gives β ∈ (0, 1) per latent channel: how much of the
statistical face prior μ (models/face_prior.py) this speaker's portrait is expected to carry.
It is trained to regress the least-squares weight β*(z) of the speaker's true portrait latents
(FacePrior.beta_target): how typical a face this voice is expected to have. Sampling uses β as
the prior's weight (the residual offset and the prior-guidance pull, models/face_prior.py).
Trained jointly with the denoiser it can learn the training voices; training/fit_saw.py refits
it with the weight decay chosen by cross-validation over speakers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SAWConfig:
    in_dim: int = 128  # utterance embedding width
    hidden: int = 64  # MLP width
    channels: int = 4  # one β per latent channel


class SAW(nn.Module):
    def __init__(self, cfg: SAWConfig = SAWConfig()):
        super().__init__()
        self.cfg = cfg
        self.net = nn.Sequential(nn.LayerNorm(cfg.in_dim), nn.Linear(cfg.in_dim, cfg.hidden), nn.SiLU(),
                                 nn.Linear(cfg.hidden, cfg.channels))

    def forward(self, utterance: torch.Tensor) -> torch.Tensor:
        """utterance [B, D] -> β [B, C] in (0, 1)."""
        return torch.sigmoid(self.net(utterance))
