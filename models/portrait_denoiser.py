"""Portrait denoiser of stage 1: a small UNet on portrait latents (See the Speaker, arXiv 2510.26819).

    x_t [B, 4, 32, 32] --+-- ResBlock(64)  @32² ------------------------------- skip --+
                         +-- ResBlock(128) @16² + cross-attn(speech tokens) --- skip --+
                         +-- ResBlock(192) @8²  + self-attn + cross-attn ------ skip --+
                         +-- mid: ResBlock + self-attn + cross-attn + ResBlock @8²     |
                         up path mirrors the down path (concat skips) -> v̂ [B, 4, 32, 32]

Conditioning (classifier-free guidance drops both to learned null values):
* the utterance embedding, the diffusion time and the prior weight β (so one network serves
  the three prior modes: adaptive / fixed β⁰ / none) are summed into one vector that drives
  adaptive group norm (scale, shift) in every ResBlock;
* speech tokens (pooled to `n_tokens` fixed segments, models/speech_encoder.pool_segments) are
  attended to at 16² and 8².
Most compute sits at 16² and 8² (DESIGN §6: CPU first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DenoiserConfig:
    in_channels: int = 4  # latent channels
    channels: tuple = (64, 128, 192)  # widths at 32², 16², 8²
    cond_dim: int = 128  # speech embedding width D (utterance and tokens)
    emb_dim: int = 256  # conditioning vector width
    heads: int = 4  # attention heads
    n_tokens: int = 16  # speech token segments attended to
    attn_levels: tuple = (1, 2)  # levels (0 = 32²) with cross-attention
    self_attn_levels: tuple = (2,)  # levels with self-attention


def timestep_features(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """t [B] (continuous, 0..1000) -> [B, dim] sinusoidal features."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv x2 with adaptive (scale, shift) from the conditioning vector."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, c_out)
        self.ada = nn.Linear(emb_dim, 2 * c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.ada(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Attention(nn.Module):
    """Pre-norm multi-head attention on a feature map; keys from the map (self) or from tokens (cross)."""

    def __init__(self, c: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.norm = nn.GroupNorm(8, c)
        self.ctx_norm = nn.LayerNorm(context_dim) if context_dim else None
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True, kdim=context_dim or c, vdim=context_dim or c)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, x, context=None):
        b, c, h, w = x.shape
        q = self.norm(x).flatten(2).transpose(1, 2)  # [B, hw, C]
        kv = q if context is None else self.ctx_norm(context)
        out, _ = self.attn(q, kv, kv, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, c, h, w)


class Level(nn.Module):
    def __init__(self, c_in, c_out, cfg: DenoiserConfig, cross: bool, self_attn: bool):
        super().__init__()
        self.res = ResBlock(c_in, c_out, cfg.emb_dim)
        self.self_attn = Attention(c_out, cfg.heads) if self_attn else None
        self.cross = Attention(c_out, cfg.heads, cfg.cond_dim) if cross else None

    def forward(self, x, emb, tokens):
        x = self.res(x, emb)
        if self.self_attn is not None:
            x = self.self_attn(x)
        if self.cross is not None:
            x = self.cross(x, tokens)
        return x


class PortraitDenoiser(nn.Module):
    def __init__(self, cfg: DenoiserConfig = DenoiserConfig()):
        super().__init__()
        self.cfg = cfg
        ch, e = cfg.channels, cfg.emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], e), nn.SiLU(), nn.Linear(e, e))
        self.utt_mlp = nn.Sequential(nn.LayerNorm(cfg.cond_dim), nn.Linear(cfg.cond_dim, e), nn.SiLU(), nn.Linear(e, e))
        self.beta_mlp = nn.Sequential(nn.Linear(cfg.in_channels, e), nn.SiLU(), nn.Linear(e, e))
        self.null_utterance = nn.Parameter(torch.zeros(cfg.cond_dim))
        self.null_tokens = nn.Parameter(torch.zeros(cfg.n_tokens, cfg.cond_dim))
        self.stem = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(Level(c_prev, c, cfg, i in cfg.attn_levels, i in cfg.self_attn_levels))
            self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(ch) - 1 else nn.Identity())
            c_prev = c
        self.mid1 = Level(ch[-1], ch[-1], cfg, True, True)
        self.mid2 = ResBlock(ch[-1], ch[-1], e)
        self.up = nn.ModuleList()
        for i in reversed(range(len(ch))):
            c_out = ch[i - 1] if i > 0 else ch[0]
            self.up.append(Level(c_prev + ch[i], c_out, cfg, i in cfg.attn_levels, i in cfg.self_attn_levels))
            c_prev = c_out
        self.out = nn.Sequential(nn.GroupNorm(8, c_prev), nn.SiLU(), nn.Conv2d(c_prev, cfg.in_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def null_condition(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The unconditional (dropped) speech condition for a batch of b."""
        return self.null_utterance.expand(b, -1), self.null_tokens.expand(b, -1, -1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, utterance: torch.Tensor, tokens: torch.Tensor,
                beta: torch.Tensor) -> torch.Tensor:
        """x [B, 4, 32, 32], t [B] in 0..1000, utterance [B, D], tokens [B, n_tokens, D], beta [B, 4] -> [B, 4, 32, 32]."""
        emb = (self.time_mlp(timestep_features(t, self.cfg.channels[0])) + self.utt_mlp(utterance)
               + self.beta_mlp(beta))
        h = self.stem(x)
        skips = []
        for level, down in zip(self.down, self.downsample):
            h = level(h, emb, tokens)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid1(h, emb, tokens), emb)
        for i, level in enumerate(self.up):
            skip = skips.pop()
            if h.shape[-1] != skip.shape[-1]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = level(torch.cat([h, skip], dim=1), emb, tokens)
        return self.out(h)
