"""Discrete face codebook of the HRTF renderer's HR decoder (arXiv 2510.26819 stage 2,
"pre-trained transformer-based discrete codebook"; VQ-VAE/VQGAN, CodeFormer).

* :class:`CodebookEncoder`: image [B,3,128,128] -> continuous features [B,code_dim,16,16]
  (the codebook autoencoder's encoder; in later phases a frozen teacher that gives target codes
  and a feature space for feature matching).
* :class:`VectorQuantizer`: factorised, l2-normalised codes (Yu et al., "Vector-quantized image
  modeling with improved VQGAN"): features are projected to a small lookup space (lookup_dim),
  normalised, matched to the nearest of n_codes unit vectors by cosine similarity, and projected
  back; straight-through gradients, codebook + commitment losses, and dead-code restarts (codes
  unused for a while are re-seeded from current encoder outputs) keep the codebook in use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .render_blocks import Down, ResBlock


@dataclass
class VQConfig:
    code_dim: int = 64  # feature channels at 16² (decoder input)
    n_codes: int = 512  # codebook size
    lookup_dim: int = 16  # factorised lookup space
    beta: float = 0.25  # commitment weight
    usage_decay: float = 0.9  # EMA of per-code usage (fast: restarts within ~10 steps)
    dead_threshold: float = 0.1  # codes below dead_threshold / n_codes EMA usage are restarted
    enc_ch: tuple[int, int, int] = (32, 64, 128)  # encoder channels at 64², 32², 16²


class CodebookEncoder(nn.Module):
    def __init__(self, cfg: VQConfig = VQConfig()):
        super().__init__()
        c1, c2, c3 = cfg.enc_ch
        self.net = nn.Sequential(Down(3, c1), Down(c1, c2), ResBlock(c2), Down(c2, c3), ResBlock(c3),
                                 nn.Conv2d(c3, cfg.code_dim, 1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """img [B,3,128,128] 0..1 -> [B,code_dim,16,16]."""
        return self.net(img * 2 - 1)


@dataclass
class VQOutput:
    quantized: torch.Tensor  # [B,code_dim,H,W] (straight-through in training)
    indices: torch.Tensor  # [B,H,W] int64
    loss: torch.Tensor  # codebook + beta * commitment
    perplexity: torch.Tensor  # exp(entropy) of the batch's code usage


class VectorQuantizer(nn.Module):
    def __init__(self, cfg: VQConfig = VQConfig()):
        super().__init__()
        self.cfg = cfg
        self.proj_in = nn.Conv2d(cfg.code_dim, cfg.lookup_dim, 1, bias=False)
        self.proj_out = nn.Conv2d(cfg.lookup_dim, cfg.code_dim, 1)
        self.codes = nn.Parameter(F.normalize(torch.randn(cfg.n_codes, cfg.lookup_dim), dim=1))
        self.register_buffer("usage", torch.full((cfg.n_codes,), 1.0 / cfg.n_codes))
        self.register_buffer("initialized", torch.zeros(()))  # 1 once the codes were seeded from data

    def normalized_codes(self) -> torch.Tensor:
        return F.normalize(self.codes, dim=1)  # [K,l]

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """indices [B,H,W] -> decoder features [B,code_dim,H,W]."""
        z = self.normalized_codes()[indices]  # [B,H,W,l]
        return self.proj_out(z.permute(0, 3, 1, 2))

    def soft_lookup(self, probs: torch.Tensor) -> torch.Tensor:
        """probs [B,H,W,K] -> features [B,code_dim,H,W] (expected code, differentiable)."""
        z = probs @ self.normalized_codes()  # [B,H,W,l]
        return self.proj_out(z.permute(0, 3, 1, 2))

    def forward(self, feats: torch.Tensor) -> VQOutput:
        """feats [B,code_dim,H,W] -> VQOutput."""
        z = self.proj_in(feats)
        z = F.normalize(z - z.mean(1, keepdim=True), dim=1)  # [B,l,H,W] centred over channels, unit norm
        b, l, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, l)  # [N,l]
        if self.training and not bool(self.initialized):
            self._seed_codes(flat.detach())
        codes = self.normalized_codes()
        idx = (flat @ codes.t()).argmax(1)  # [N] nearest by cosine
        zq = codes[idx]  # [N,l]
        loss = F.mse_loss(zq, flat.detach()) + self.cfg.beta * F.mse_loss(flat, zq.detach())
        zq = flat + (zq - flat).detach()  # straight-through
        counts = torch.bincount(idx, minlength=self.cfg.n_codes).float()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * (p + 1e-10).log()).sum())
        if self.training:
            self._restart_dead(p, flat.detach())
        quantized = self.proj_out(zq.view(b, h, w, l).permute(0, 3, 1, 2))
        return VQOutput(quantized, idx.view(b, h, w), loss, perplexity)

    @torch.no_grad()
    def _seed_codes(self, flat: torch.Tensor) -> None:
        """First training batch: codes = random encoder outputs (avoids the all-one-code start)."""
        pick = torch.randint(0, flat.shape[0], (self.cfg.n_codes,), device=flat.device)
        new = F.normalize(flat[pick] + 0.05 * torch.randn_like(flat[pick]), dim=1)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(new, 0)
        self.codes.data.copy_(new)
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def _restart_dead(self, p: torch.Tensor, flat: torch.Tensor) -> None:
        """EMA usage; codes below dead_threshold get re-seeded from random batch vectors."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(p)
            p /= torch.distributed.get_world_size()
        self.usage.mul_(self.cfg.usage_decay).add_(p, alpha=1 - self.cfg.usage_decay)
        dead = ((self.usage < self.cfg.dead_threshold / self.cfg.n_codes) & (p == 0)).nonzero().flatten()
        if dead.numel() == 0:
            return
        pick = torch.randint(0, flat.shape[0], (dead.numel(),), device=flat.device)
        new = flat[pick] + 0.001 * torch.randn_like(flat[pick])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(new, 0)
        self.codes.data[dead] = F.normalize(new, dim=1)
        self.usage[dead] = 1.0 / self.cfg.n_codes
