"""HR decoder of the HRTF renderer (arXiv 2510.26819 stage 2, "HR decoder"; CodeFormer's
controllable feature transformation, Zhou et al. 2022).

Codebook features [B,code_dim,16,16] -> frames [B,3,out,out], out = 128·2^n (default 256², i.e.
2× the 128² internal resolution; 512²/1024² with more pixel-shuffle stages, for GPU training).
At 32² and 64² the warped portrait features are fused in with the fidelity weight w:

    h <- h + w · (h ⊙ α + β),   (α, β) = conv([h, warped])

w = 0 renders purely from the codebook (a clean corpus-like face), w = 1 follows the warped
portrait (identity and an artist's edits survive); in between blends the two. Most compute sits at
16²–32²; above 64² only thin pixel-shuffle stages run (DESIGN §6).

Pixel path (``pixel_path``; off in bundles trained before 2026-12-07): the portrait's own pixels,
moved by the warp's grid at the output size, plus the warp's visibility map ([B,4,out,out],
motion_warp.warp_image) are fused in at 128² the same way, and a blend mask m (from the last
features, times the visibility) mixes them into the output:

    out <- out + w · m · (warped pixels - out)

At 32²/64² a mouth is 2–4 cells, and a decoder that sees the warp only there paints over the
motion its grid makes (renderer card, 2026-12-07); the pixel path carries that motion, and the
portrait's detail, at full resolution, while the decoder still paints what the portrait does not
show (mouth interior, uncovered background) where m is low.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .render_blocks import ResBlock, Up, conv3


@dataclass
class HRDecoderConfig:
    code_dim: int = 64  # input channels at 16² (VQConfig.code_dim)
    ch: tuple[int, int, int, int] = (96, 48, 24, 12)  # channels at 32², 64², 128², 256² (sized for 2 CPU cores)
    blocks16: int = 1  # residual blocks at 16²
    blocks32: int = 2  # residual blocks at 32²
    feat_ch: int = 96  # warped appearance channels at 32² (fused)
    skip_ch: int = 32  # warped skip channels at 64² (fused)
    fuse_hidden: tuple[int, int] = (48, 24)  # hidden width of the fusion convs at 32², 64²
    out_size: int = 256  # native output side: 256, 512 or 1024
    pixel_path: bool = False  # fuse + blend the warped portrait pixels (module doc); False = older bundles
    pixel_hidden: int = 12  # hidden width of the 128² pixel fusion conv


class Fuse(nn.Module):
    """CodeFormer-style controllable feature transformation: h + w·(h⊙α + β)."""

    def __init__(self, ch: int, enc_ch: int, hidden: int):
        super().__init__()
        # 3x3 conv to a narrow hidden width, then a 1x1 to (α, β): a third of a full-width CFT's cost
        self.net = nn.Sequential(conv3(ch + enc_ch, hidden), nn.SiLU(), nn.Conv2d(hidden, 2 * ch, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h: torch.Tensor, enc: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """h [B,C,H,W], enc [B,E,H,W], w [B,1,1,1] -> [B,C,H,W]."""
        alpha, beta = self.net(torch.cat([h, enc], 1)).chunk(2, 1)
        # fused, in place on a fresh tensor: α/β are channel slices, the plain expression costs 3× on
        # a CPU (benchmarks/render_speed.py); autograd-safe while w needs no gradient (it never does)
        return torch.addcmul(beta, h, alpha).mul_(w).add_(h)


class HRDecoder(nn.Module):
    def __init__(self, cfg: HRDecoderConfig = HRDecoderConfig()):
        super().__init__()
        if cfg.out_size not in (256, 512, 1024):
            raise ValueError(f"out_size must be 256, 512 or 1024, got {cfg.out_size}")
        self.cfg = cfg
        c32, c64, c128, c256 = cfg.ch
        self.inp = conv3(cfg.code_dim, c32)
        self.b16 = nn.Sequential(*[ResBlock(c32) for _ in range(cfg.blocks16)])
        self.up32 = Up(c32, c32)
        self.fuse32 = Fuse(c32, cfg.feat_ch, cfg.fuse_hidden[0])
        self.b32 = nn.Sequential(*[ResBlock(c32) for _ in range(cfg.blocks32)])
        self.up64 = Up(c32, c64)
        self.fuse64 = Fuse(c64, cfg.skip_ch, cfg.fuse_hidden[1])
        self.up128 = Up(c64, c128)
        ups, c = [], c128
        for _ in range({256: 1, 512: 2, 1024: 3}[cfg.out_size]):
            ups.append(Up(c, c256))
            c = c256
        self.ups = nn.Sequential(*ups)
        self.to_rgb = conv3(c256, 3)
        if cfg.pixel_path:
            self.fuse128 = Fuse(c128, 4, cfg.pixel_hidden)
            self.blend = conv3(c256, 1)  # blend-mask logit; zero init: m = 0.5 · visibility at the start
            nn.init.zeros_(self.blend.weight)
            nn.init.zeros_(self.blend.bias)

    def forward(self, codes: torch.Tensor, warped: torch.Tensor | None = None, skip: torch.Tensor | None = None,
                fidelity: float | torch.Tensor = 1.0, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """codes [B,code_dim,16,16], warped [B,F,32,32], skip [B,S,64,64], pixels [B,4,out,out] (warped
        portrait RGB + visibility; used only with the pixel path) -> [B,3,out,out] (≈0..1)."""
        b = codes.shape[0]
        w = torch.as_tensor(fidelity, dtype=codes.dtype, device=codes.device).reshape(-1, 1, 1, 1).expand(b, 1, 1, 1)
        h = self.up32(self.b16(self.inp(codes)))  # [B,c32,32,32]
        if warped is not None:
            h = self.fuse32(h, warped, w)
        h = self.up64(self.b32(h))  # [B,c64,64,64]
        if skip is not None:
            h = self.fuse64(h, skip, w)
        h = self.up128(h)  # [B,c128,128,128]
        use_pixels = self.cfg.pixel_path and pixels is not None
        if use_pixels:
            h = self.fuse128(h, F.interpolate(pixels, size=h.shape[-2:], mode="area"), w)
        h = self.ups(h)  # [B,c256,out,out]
        out = self.to_rgb(h) + 0.5  # [B,3,out,out]
        if use_pixels:
            m = torch.sigmoid(self.blend(h)) * pixels[:, 3:]  # [B,1,out,out]: trust in the warped pixels
            out = torch.lerp(out, pixels[:, :3], w * m)  # out + w·m·(pixels - out), one pass
        return out
