"""Mouth painter of the HRTF renderer (arXiv 2510.26819 stage 2, "lip-region refinement" on the
image side): a small conditioned UNet that repaints the mouth at the output resolution.

Why: the HR decoder runs 24 / 12 channels at 128² / 256² (it is sized for 2 CPU cores), and the
warp moves the portrait's own pixels, which show a closed mouth. An open mouth's interior (dark
gap, teeth) is therefore painted by the decoder's narrowest layers and comes out as a pink blur
that a landmarker often reads as closed (renderer card). The painter spends its capacity on the
mouth alone, at the output resolution, and reads the lips / expression parts of the motion latent
directly instead of only through the warp.

    out [B,3,S,S] ──crop (oriented by the driving head pose)──► [B,3,c,c] ─┐
    warped pixels + visibility (pixel path) ──crop──► [B,4,c,c] ────────────┼─UNet (FiLM on the
    canonical crop coordinates [2,c,c] ─────────────────────────────────────┘   lips/expression code)
    ──► residual RGB [B,3,c,c] · smooth window ──paste back (inverse affine)──► out + residual

The crop is the canonical mouth box (centre `center`, side `box` of the image) carried by the
driving head-pose affine, so it follows the head. The residual's mean colour over the box is
removed (`zero_mean`): trained without it, the painter corrected the decoder's overall colour error
inside its box only, which showed as a tinted square. The last conv is zero-initialised: a painter
added to a trained renderer leaves its frames bit-identical until trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .motion_latent import MotionLatentSpec, pose_matrix
from .render_blocks import ResBlock, conv3

PAINTER_PARTS = ("lips", "expression")  # the motion parts the painter reads (driving value and change)


@dataclass
class MouthPainterConfig:
    enabled: bool = False  # False in bundles trained before 2026-12-08 (no painter, no weights)
    box: float = 0.32  # crop side as a fraction of the image (training/render_losses.MOUTH_BOX)
    center: tuple[float, float] = (0.5, 0.71)  # canonical crop centre, fractions of the crop (x, y)
    crop: int = 0  # crop resolution in pixels (0 = the crop's own size at the output resolution, a multiple of 4)
    ch: tuple[int, int, int] = (24, 48, 96)  # UNet widths at crop, crop/2, crop/4
    cond: int = 64  # width of the motion code that modulates the UNet (FiLM)
    taper: float = 0.25  # fraction of the crop's half-side over which the pasted residual fades to 0
    zero_mean: bool = True  # remove the residual's (window-weighted) mean colour: no tinted box (module doc)


class _FiLM(nn.Module):
    """x · (1 + γ) + β from a code; zero-initialised (identity at the start). x [B,C,H,W], code [B,K]."""

    def __init__(self, cond: int, ch: int):
        super().__init__()
        self.lin = nn.Linear(cond, 2 * ch)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        g, b = self.lin(code)[:, :, None, None].chunk(2, 1)
        return torch.addcmul(b, x, 1 + g)


class MouthPainter(nn.Module):
    def __init__(self, cfg: MouthPainterConfig, spec: MotionLatentSpec, pixel_channels: int):
        """pixel_channels: channels of the pixel path's warped portrait (4 = RGB + visibility; 0 = none)."""
        super().__init__()
        self.cfg, self.spec, self.pixel_channels = cfg, spec, pixel_channels
        c1, c2, c3 = cfg.ch
        s = spec.sizes()
        n_in = 2 * sum(s[n] for n in PAINTER_PARTS)
        self.code = nn.Sequential(nn.Linear(n_in, cfg.cond), nn.SiLU(), nn.Linear(cfg.cond, cfg.cond), nn.SiLU())
        self.inp = conv3(3 + pixel_channels + 2, c1)  # [B,c1,c,c]
        self.down1 = conv3(c1, c2, stride=2)  # [B,c2,c/2,c/2]
        self.film1 = _FiLM(cfg.cond, c2)
        self.res1 = ResBlock(c2)
        self.down2 = conv3(c2, c3, stride=2)  # [B,c3,c/4,c/4]
        self.film2 = _FiLM(cfg.cond, c3)
        self.res2 = ResBlock(c3)
        self.up2 = conv3(c3, c2)  # after ×2 nearest: [B,c2,c/2,c/2]
        self.film3 = _FiLM(cfg.cond, c2)
        self.up1 = conv3(c2, c1)  # after ×2 nearest: [B,c1,c,c]
        self.out = conv3(c1, 3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def crop_size(self, out_size: int) -> int:
        c = self.cfg.crop or round(self.cfg.box * out_size)
        return max(16, 4 * round(c / 4))

    def crop_theta(self, head_pose: torch.Tensor) -> torch.Tensor:
        """head_pose [B,6] (driving) -> [B,2,3]: crop coordinates [-1,1]² -> frame coordinates [-1,1]²."""
        a = pose_matrix(head_pose)  # canonical -> frame
        lin, t = a[:, :, :2], a[:, :, 2:]
        c0 = torch.tensor([self.cfg.center[0] * 2 - 1, self.cfg.center[1] * 2 - 1], dtype=a.dtype, device=a.device)
        return torch.cat([lin * self.cfg.box, lin @ c0[:, None] + t], 2)

    def window(self, size: int, device, dtype) -> torch.Tensor:
        """[1,1,size,size]: 1 inside, a raised-cosine fade to 0 over the outer `taper` of the half-side."""
        u = (torch.arange(size, device=device, dtype=dtype) + 0.5) / size * 2 - 1  # pixel centres in [-1,1]
        edge = ((1 - u.abs()) / self.cfg.taper).clamp(0, 1)
        w1 = 0.5 - 0.5 * torch.cos(torch.pi * edge)
        return (w1[:, None] * w1[None, :])[None, None]

    def forward(self, out: torch.Tensor, pixels: torch.Tensor | None, m_src: torch.Tensor,
                m_drv: torch.Tensor) -> torch.Tensor:
        """out [B,3,S,S] decoded frames; pixels [B,4,S,S] or None; m_src/m_drv [B,D] -> [B,3,S,S]."""
        b, _, size, _ = out.shape
        c = self.crop_size(size)
        ps, pd = self.spec.split(m_src), self.spec.split(m_drv)
        code = self.code(torch.cat([t for n in PAINTER_PARTS for t in (pd[n], pd[n] - ps[n])], -1))  # [B,cond]
        theta = self.crop_theta(pd["head_pose"])  # [B,2,3]
        grid = F.affine_grid(theta, (b, 1, c, c), align_corners=False)  # [B,c,c,2] frame positions
        x = [out] if pixels is None or self.pixel_channels == 0 else [out, pixels]
        crops = F.grid_sample(torch.cat(x, 1), grid, mode="bilinear", padding_mode="border", align_corners=False)
        u = (torch.arange(c, device=out.device, dtype=out.dtype) + 0.5) / c * 2 - 1
        coords = torch.stack(torch.meshgrid(u, u, indexing="ij"), 0)[None].expand(b, 2, c, c)
        h1 = F.silu(self.inp(torch.cat([crops, coords], 1)))  # [B,c1,c,c]
        h2 = self.res1(F.silu(self.film1(self.down1(h1), code)))  # [B,c2,c/2,c/2]
        h3 = self.res2(F.silu(self.film2(self.down2(h2), code)))  # [B,c3,c/4,c/4]
        d2 = F.silu(self.film3(self.up2(F.interpolate(h3, scale_factor=2.0, mode="nearest")) + h2, code))
        d1 = F.silu(self.up1(F.interpolate(d2, scale_factor=2.0, mode="nearest")) + h1)
        win = self.window(c, out.device, out.dtype)  # [1,1,c,c]
        residual = self.out(d1)  # [B,3,c,c]
        if self.cfg.zero_mean:
            residual = residual - (residual * win).sum((2, 3), keepdim=True) / win.sum()
        residual = residual * win
        # paste back: each frame pixel reads the crop at its inverse-affine position (zeros outside)
        lin, t = theta[:, :, :2], theta[:, :, 2:]
        inv = torch.linalg.inv(lin)
        theta_inv = torch.cat([inv, -inv @ t], 2)
        back = F.affine_grid(theta_inv, (b, 1, size, size), align_corners=False)
        return out + F.grid_sample(residual, back, mode="bilinear", padding_mode="zeros", align_corners=False)
