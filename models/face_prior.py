"""Statistical face prior of stage 1 (See the Speaker, arXiv 2510.26819: "statistical face prior").

μ is the mean portrait latent over the training set (stored in the checkpoint as a buffer, like
the latent scale). β weighs the prior, from SAW (models/saw.py), a fixed β⁰ (the paper's
ablation; the training-set mean of β*(z) below) or 0 (no prior). It acts twice:

* the diffusion generates the residual r = z − β·μ and sampling returns r̂ + β·μ. On its own
  this cannot change the portraits: with ᾱ_T ≈ 0 the first DDIM state carries no β, and an exact
  denoiser would return the same z for every β from the same seed;
* prior guidance (models/diffusion.py): every DDIM step pulls the clean estimate toward μ by
  β·(1 − ᾱ_t)^p, so the prior shapes the coarse face early and the late steps keep the detail.
  This is what makes the prior matter (weights/scfp_default.md: consistency 0.422 -> 0.387 on the test speakers).

`beta_target(z)` is the per-sample, per-channel weight that makes the residual smallest
(least-squares projection of z on μ, clipped into (0, 1)): β⁰ is its training mean, and the
target SAW learns jointly with the denoiser (the bundled SAW is refitted to a calibrated weight,
models/saw.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class FacePriorConfig:
    channels: int = 4  # latent channels
    size: int = 32  # latent side
    beta_min: float = 0.02  # clip range of β targets (β lives in (0, 1))
    beta_max: float = 0.98


class FacePrior(nn.Module):
    def __init__(self, cfg: FacePriorConfig = FacePriorConfig()):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mu", torch.zeros(cfg.channels, cfg.size, cfg.size))  # mean scaled latent
        self.register_buffer("beta0", torch.full((cfg.channels,), 0.5))  # fixed β⁰ per channel
        self.register_buffer("latent_scale", torch.ones(()))  # z_scaled = z_ae / latent_scale
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, latents: torch.Tensor) -> None:
        """latents [N, C, h, w] (unscaled AE means) -> sets latent_scale, mu and beta0."""
        scale = latents.float().std().clamp_min(1e-6)
        z = latents.float() / scale
        self.latent_scale.copy_(scale)
        self.mu.copy_(z.mean(0))
        self.beta0.copy_(self.beta_target(z).mean(0))
        self.fitted.fill_(True)

    def beta_target(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, C, h, w] (scaled) -> β* [B, C] = clip(<z_c, μ_c> / <μ_c, μ_c>)."""
        num = (z * self.mu).flatten(2).sum(-1)
        den = (self.mu * self.mu).flatten(1).sum(-1).clamp_min(1e-6)
        return (num / den).clamp(self.cfg.beta_min, self.cfg.beta_max)

    def offset(self, beta: torch.Tensor) -> torch.Tensor:
        """β [B, C] -> β·μ [B, C, h, w]."""
        return beta[:, :, None, None] * self.mu
