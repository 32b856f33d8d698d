"""SAW — sample-adaptive weighting of the face prior (See the Speaker, arXiv 2510.26819).

A small MLP on the utterance embedding gives β ∈ (0, 1) per latent channel: how much of the
statistical face prior μ (models/face_prior.py) this speaker's portrait should carry. Sampling uses
β as the prior's weight (the residual offset and the prior-guidance pull, models/face_prior.py).

Two targets, two stages. Trained jointly with the denoiser (training/train_scfp.py) it regresses
β*(z), the least-squares weight of the speaker's true latent on μ: that gives the denoiser a
spread of voice-dependent β to learn from. The bundled SAW is then refitted
(training/fit_saw.py) to the weight that sampling actually needs, measured on speakers the
denoiser never saw: k*(speech quality)·β⁰ (training/saw_calibration.py), so noisy, less
telling speech leans harder on the prior.
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
