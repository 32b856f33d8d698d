"""Gaussian diffusion for stage-1 portrait latents: noise schedule, training loss, DDIM sampler.

* Cosine schedule (Nichol & Dhariwal 2021) over T = 1000 discrete steps, v-prediction
  (Salimans & Ho 2022): the network predicts v = √ᾱ·ε − √(1−ᾱ)·x0.
* Training: x0 is the prior residual r = z − β·μ (models/face_prior.py); the speech condition is
  replaced by the null condition with probability `cond_drop` (classifier-free guidance).
* Sampling: deterministic DDIM (η = 0) over `steps` evenly spaced steps, classifier-free
  guidance v = v_∅ + g·(v_c − v_∅) (conditional and unconditional in one batch). The only
  randomness is the initial noise, drawn per sample from its own generator seeded with
  seed + i, so sample i of seed s is the same whatever the batch size or run.
* Prior guidance (optional): each step's clean estimate x̂0 is pulled toward a target by
  w·(1 − ᾱ_t)^p (w per sample and channel, p = `pull_power`): fully at the first, noisiest
  step, hardly at all in the last ones, so the prior shapes the coarse face and the late steps
  keep their detail. ε̂ is then recomputed from x_t and the pulled x̂0, so the DDIM update stays
  consistent. p = 3 was chosen on the validation speakers (weights/scfp_default.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass
class DiffusionConfig:
    timesteps: int = 1000  # discrete training steps T
    cosine_s: float = 0.008  # cosine schedule offset
    cond_drop: float = 0.1  # probability of training on the null condition (CFG)
    default_steps: int = 20  # DDIM steps used when the caller does not say
    default_guidance: float = 2.0  # CFG scale used when the caller does not say
    pull_power: float = 3.0  # prior-guidance schedule: the pull at step t is w·(1 − ᾱ_t)^pull_power


def cosine_alpha_bar(cfg: DiffusionConfig) -> torch.Tensor:
    """ᾱ_t for t = 0..T (ᾱ_0 = 1), float64 [T + 1]."""
    t = torch.arange(cfg.timesteps + 1, dtype=torch.float64) / cfg.timesteps
    f = torch.cos((t + cfg.cosine_s) / (1 + cfg.cosine_s) * math.pi / 2) ** 2
    ab = f / f[0]
    betas = (1 - ab[1:] / ab[:-1]).clamp(max=0.999)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


class Diffusion(nn.Module):
    def __init__(self, cfg: DiffusionConfig = DiffusionConfig()):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("alpha_bar", cosine_alpha_bar(cfg).float(), persistent=False)  # [T+1]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x0 [B, ...], t [B] int in 1..T -> (x_t, v target)."""
        ab = self.alpha_bar[t].view(-1, *[1] * (x0.dim() - 1))
        a, s = ab.sqrt(), (1 - ab).sqrt()
        return a * x0 + s * noise, a * noise - s * x0

    def loss(self, model: Callable, x0: torch.Tensor, cond: dict, generator: torch.Generator | None = None) -> torch.Tensor:
        """v-prediction MSE. `cond` = {utterance [B, D], tokens [B, M, D], beta [B, C], null: (u0, tok0)}."""
        b = x0.shape[0]
        dev = x0.device
        t = torch.randint(1, self.cfg.timesteps + 1, (b,), device=dev, generator=generator)
        noise = torch.randn(x0.shape, device=dev, generator=generator)
        x_t, v = self.q_sample(x0, t, noise)
        drop = (torch.rand(b, device=dev, generator=generator) < self.cfg.cond_drop)
        u0, tok0 = cond["null"]
        utt = torch.where(drop[:, None], u0, cond["utterance"])
        tok = torch.where(drop[:, None, None], tok0, cond["tokens"])
        pred = model(x_t, t.float(), utt, tok, cond["beta"])
        return (pred - v).pow(2).mean()

    @staticmethod
    def initial_noise(shape: tuple, seeds: list[int], device=None, dtype=torch.float32) -> torch.Tensor:
        """[len(seeds), *shape] standard normal noise, sample i from torch.Generator(seed_i) (CPU, then moved)."""
        out = [torch.randn(shape, generator=torch.Generator().manual_seed(int(s) & 0x7FFF_FFFF_FFFF_FFFF)) for s in seeds]
        return torch.stack(out).to(device=device, dtype=dtype)

    def timesteps_for(self, steps: int) -> list[int]:
        """Decreasing DDIM timesteps T .. ≥1 (`steps` of them)."""
        steps = max(1, min(int(steps), self.cfg.timesteps))
        ts = torch.linspace(self.cfg.timesteps, 1, steps).round().long().tolist()
        return list(dict.fromkeys(ts))

    @torch.no_grad()
    def sample(self, model: Callable, x_T: torch.Tensor, utterance: torch.Tensor, tokens: torch.Tensor,
               beta: torch.Tensor, null: tuple[torch.Tensor, torch.Tensor], steps: int, guidance: float,
               progress: Callable[[int, int], None] | None = None,
               pull: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Deterministic DDIM with CFG from x_T [B, C, h, w] -> x0 estimate [B, C, h, w].

        pull: optional (target [B, C, h, w], weight [B, C]) prior guidance (module doc).
        """
        b = x_T.shape[0]
        ts = self.timesteps_for(steps)
        x = x_T
        use_cfg = guidance != 1.0
        u0, tok0 = null
        for i, t in enumerate(ts):
            ab = self.alpha_bar[t].to(x.dtype)
            tt = torch.full((b,), float(t), device=x.device, dtype=x.dtype)
            if use_cfg:
                v_both = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([utterance, u0]),
                               torch.cat([tokens, tok0]), torch.cat([beta, beta]))
                v_c, v_u = v_both.chunk(2)
                v = v_u + guidance * (v_c - v_u)
            else:
                v = model(x, tt, utterance, tokens, beta)
            a, s = ab.sqrt(), (1 - ab).sqrt()
            x0 = a * x - s * v
            eps = s * x + a * v
            if pull is not None:
                target, w = pull
                x0 = x0 + (1 - ab) ** self.cfg.pull_power * w[:, :, None, None] * (target - x0)
                eps = (x - a * x0) / s
            t_next = ts[i + 1] if i + 1 < len(ts) else 0
            ab_next = self.alpha_bar[t_next].to(x.dtype)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
            if progress is not None:
                progress(i + 1, len(ts))
        return x
