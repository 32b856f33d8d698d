"""Mouth-crop discriminator for training the HRTF renderer (arXiv 2510.26819 stage 2): a small
PatchGAN (Isola et al. 2017) with spectral normalisation (Miyato et al. 2018) and the hinge loss,
judging mouth crops of rendered frames against crops of the true frames.

Why: every reconstruction term is a regression, and a regression on a mouth whose exact lip
positions the renderer is not sure of is minimised by a blurred, averaged mouth (renderer card: the
pixel term alone made the mouth move less; the painter's first run painted a pink smear). A
discriminator penalises the blur itself — Wav2Lip's visual-quality discriminator plays the same role.
Training side only: it is never exported with the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


@dataclass
class MouthDiscriminatorConfig:
    ch: tuple[int, int, int] = (32, 64, 128)  # widths after each stride-2 conv (64² crop -> 8² patches)


class MouthDiscriminator(nn.Module):
    def __init__(self, cfg: MouthDiscriminatorConfig = MouthDiscriminatorConfig()):
        super().__init__()
        layers, cin = [], 3
        for c in cfg.ch:
            layers += [spectral_norm(nn.Conv2d(cin, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = c
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """crops [B,3,H,W] in 0..1 -> patch logits [B,1,H/8,W/8]."""
        return self.net(crops * 2 - 1)


def generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss: -mean D(fake)."""
    return -d_fake.mean()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss: mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
