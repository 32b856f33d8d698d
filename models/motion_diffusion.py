"""Motion diffusion: a transformer denoiser over motion-latent windows (HRTF, arXiv 2510.26819).

The paper generates the holistic motion latent (lips | expression | eyes | head pose) from speech
with a diffusion model; ours works window by window so any audio length runs in bounded memory:

    tokens (one per frame):  [ context C | new W | lookahead L ]
      context   : the previous window's last C generated frames (clean), or "missing" at the start
      new       : the W frames being denoised
      lookahead : audio only (the next L frames), so the end of a window anticipates coarticulation
    token = in(motion or 0) + role embedding + audio(content_t or null) + position
    conditioning: diffusion time + identity vector through adaptive LayerNorm (DiT adaLN-zero)

The denoiser predicts the clean window x0 (for the new frames). Training drops the audio (classifier
-free guidance) and the context (so the first window works). Sampling is DDIM (eta 0) on a cosine
schedule with a seeded noise generator per window: the same seed gives the same motion for any
way the windows are consumed. Sizes come from the config (motion_dim, content_dim, identity_dim);
nothing is hard-coded to one motion latent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

ROLE_CONTEXT, ROLE_NEW, ROLE_LOOKAHEAD, ROLE_MISSING = 0, 1, 2, 3


@dataclass
class MotionDiffusionConfig:
    motion_dim: int = 18  # D of the (normalised) motion latent
    content_dim: int = 128  # content feature width (ContentEncoderConfig.dim)
    identity_dim: int = 0  # identity vector width (0 = no identity conditioning)
    width: int = 128  # transformer width
    depth: int = 4  # transformer blocks
    heads: int = 4  # attention heads
    mlp_ratio: float = 3.0  # MLP hidden = width * mlp_ratio
    dropout: float = 0.05  # attention/MLP dropout (training only)
    context: int = 10  # C: previous-window frames given as clean context
    window: int = 40  # W: new frames generated per window
    lookahead: int = 5  # L: future audio-only frames
    train_steps: int = 1000  # diffusion timesteps of the training schedule
    audio_drop: float = 0.1  # p(drop audio) in training, for classifier-free guidance
    context_drop: float = 0.2  # p(drop context) in training, so the first window works

    @property
    def span(self) -> int:
        return self.context + self.window + self.lookahead


def cosine_alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """Continuous cosine schedule (Nichol & Dhariwal): t in [0, 1] -> alpha_bar(t)."""
    s = 0.008
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (f / math.cos(s / (1 + s) * math.pi / 2) ** 2).clamp(1e-5, 1.0)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t [B] in [0, 1] -> sinusoidal [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-zero modulation from the conditioning vector."""

    def __init__(self, cfg: MotionDiffusionConfig):
        super().__init__()
        w = cfg.width
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(w, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(hidden, w))
        self.ada = nn.Linear(w, 6 * w)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # x [B, S, w], c [B, w]
        s1, b1, g1, s2, b2, g2 = self.ada(F.silu(c))[:, None].chunk(6, -1)
        h = self.norm1(x) * (1 + s1) + b1
        x = x + g1 * self.attn(h, h, h, need_weights=False)[0]
        h = self.norm2(x) * (1 + s2) + b2
        return x + g2 * self.mlp(h)


class MotionDenoiser(nn.Module):
    """(noisy window, context, audio, t, identity) -> predicted clean new frames x0."""

    def __init__(self, cfg: MotionDiffusionConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.motion_in = nn.Linear(cfg.motion_dim, w)
        self.role = nn.Embedding(4, w)
        self.audio_in = nn.Sequential(nn.LayerNorm(cfg.content_dim), nn.Linear(cfg.content_dim, w))
        self.null_audio = nn.Parameter(torch.zeros(w))
        self.pos = nn.Parameter(torch.randn(cfg.span, w) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.identity_in = (nn.Sequential(nn.LayerNorm(cfg.identity_dim), nn.Linear(cfg.identity_dim, w))
                            if cfg.identity_dim > 0 else None)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(w, elementwise_affine=False)
        self.out = nn.Linear(w, cfg.motion_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor,
                audio: torch.Tensor, audio_mask: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        """x_t [B, W, D] noisy new frames; t [B] in [0, 1]; context [B, C, D] (clean previous frames);
        context_mask [B, C] bool (False = missing); audio [B, S, content_dim] for the whole span;
        audio_mask [B, S] bool (False = no audio / dropped for guidance); identity [B, identity_dim].
        Returns x0 [B, W, D]."""
        cfg = self.cfg
        B = x_t.shape[0]
        zeros = x_t.new_zeros(B, cfg.lookahead, cfg.motion_dim)
        motion = torch.cat([context * context_mask[..., None], x_t, zeros], 1)  # [B, S, D]
        role = torch.cat([
            torch.where(context_mask, ROLE_CONTEXT, ROLE_MISSING),
            torch.full((B, cfg.window), ROLE_NEW, device=x_t.device),
            torch.full((B, cfg.lookahead), ROLE_LOOKAHEAD, device=x_t.device)], 1).long()  # [B, S]
        a = self.audio_in(audio)
        a = torch.where(audio_mask[..., None], a, self.null_audio.to(a.dtype))
        h = self.motion_in(motion) + self.role(role) + a + self.pos[None]
        c = self.time_mlp(timestep_embedding(t, cfg.width).to(h.dtype))
        if self.identity_in is not None:  # no identity given = a zero vector ("unknown speaker")
            if identity is None:
                identity = h.new_zeros(B, cfg.identity_dim)
            c = c + self.identity_in(identity.to(h.dtype))
        for block in self.blocks:
            h = block(h, c)
        return self.out(self.norm(h))[:, cfg.context:cfg.context + cfg.window]


class MotionDiffusion(nn.Module):
    """Training loss and DDIM sampling of one window around a MotionDenoiser."""

    def __init__(self, cfg: MotionDiffusionConfig):
        super().__init__()
        self.cfg = cfg
        self.denoiser = MotionDenoiser(cfg)

    # -- training -------------------------------------------------------------------------
    def loss(self, x0: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor, audio: torch.Tensor,
             audio_mask: torch.Tensor, loss_mask: torch.Tensor, identity: torch.Tensor | None = None,
             dim_weight: torch.Tensor | None = None, velocity_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """x0 [B, W, D] target new frames; loss_mask [B, W] (False past the clip end);
        dim_weight [D] per-dimension loss weights. Drops audio/context at the configured rates."""
        cfg = self.cfg
        B = x0.shape[0]
        dev = x0.device
        drop_audio = torch.rand(B, device=dev) < cfg.audio_drop
        audio_mask = audio_mask & ~drop_audio[:, None]
        drop_ctx = torch.rand(B, device=dev) < cfg.context_drop
        context_mask = context_mask & ~drop_ctx[:, None]
        t = torch.rand(B, device=dev).clamp(1e-3, 1.0)
        ab = cosine_alpha_bar(t)[:, None, None]
        noise = torch.randn_like(x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        pred = self.denoiser(x_t, t, context, context_mask, audio, audio_mask, identity)
        w = dim_weight if dim_weight is not None else torch.ones(cfg.motion_dim, device=dev)
        m = loss_mask.float()[..., None]
        denom = (m.sum() * w.sum()).clamp_min(1.0)
        mse = ((pred - x0) ** 2 * w * m).sum() / denom
        # velocity: frame-to-frame differences, incl. the step from the last context frame (seams)
        full_p = torch.cat([context[:, -1:], pred], 1)
        full_x = torch.cat([context[:, -1:], x0], 1)
        vm = torch.cat([context_mask[:, -1:], loss_mask], 1)
        vm = (vm[:, 1:] & vm[:, :-1]).float()[..., None]
        vel = (((full_p.diff(dim=1) - full_x.diff(dim=1)) ** 2) * w * vm).sum() / (vm.sum() * w.sum()).clamp_min(1.0)
        return {"loss": mse + velocity_weight * vel, "mse": mse, "velocity": vel}

    # -- sampling -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, context: torch.Tensor, context_mask: torch.Tensor, audio: torch.Tensor, audio_mask: torch.Tensor,
               identity: torch.Tensor | None, steps: int, guidance: float, generator: torch.Generator,
               clip: float = 6.0, guidance_mask: torch.Tensor | None = None) -> torch.Tensor:
        """DDIM (eta 0) with classifier-free guidance on audio. Returns new frames x0 [B, W, D].

        guidance_mask [D] (1 = guided, 0 = conditional prediction only) limits guidance to the dims
        that follow the audio (the lips): guiding head pose or blinks only amplifies their noise."""
        cfg = self.cfg
        B = audio.shape[0]
        x = torch.randn((B, cfg.window, cfg.motion_dim), generator=generator, device="cpu").to(audio.device, audio.dtype)
        ts = torch.linspace(1.0, 0.0, steps + 1, device=audio.device)
        guided = guidance != 1.0
        no_audio = torch.zeros_like(audio_mask)
        for i in range(steps):
            t, t_next = ts[i], ts[i + 1]
            tb = t.expand(B)
            if guided:  # one batched pass for conditional + unconditional
                x0 = self.denoiser(torch.cat([x, x]), tb.repeat(2), context.repeat(2, 1, 1), context_mask.repeat(2, 1),
                                   audio.repeat(2, 1, 1), torch.cat([audio_mask, no_audio]),
                                   None if identity is None else identity.repeat(2, 1))
                cond, uncond = x0.chunk(2)
                g = (guidance - 1.0) * (guidance_mask.to(cond) if guidance_mask is not None else 1.0)
                x0 = cond + g * (cond - uncond)
            else:
                x0 = self.denoiser(x, tb, context, context_mask, audio, audio_mask, identity)
            x0 = x0.clamp(-clip, clip)
            ab, ab_next = cosine_alpha_bar(t), cosine_alpha_bar(t_next) if i < steps - 1 else torch.tensor(1.0)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-4)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return x
