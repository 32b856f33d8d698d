"""Motion encoder of the HRTF renderer (arXiv 2510.26819 stage 2, "motion encoder").

Frame [B,3,128,128] (canonical aligned crop) -> holistic motion latent m [B,D] =
[lips | expression | eyes | head_pose] (layout: models/motion_latent.py). Learnt from images only:
cross-frame reconstruction (identity from frame i + motion of frame j -> frame j) plus weak
landmark targets available for real video too (training/train_renderer.py). Each part is read
from its own region: lips and eyes heads attention-pool features inside the canonical mouth / eye
regions, expression pools over the whole face, head pose reads a coarse 4x4 spatial map (pose
needs position, pooling would lose it). Small bottleneck: no room for the identity to leak in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from .motion_latent import MotionLatentSpec
from .render_blocks import Down, ResBlock, part_masks


@dataclass
class MotionEncoderConfig:
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # latent layout
    ch: tuple[int, int, int] = (16, 32, 64)  # channels at 64², 32², 16²
    hidden: int = 128  # MLP width of the part heads


class AttnPool(nn.Module):
    """Attention pooling over a region: softmax(logits + log(prior mask)) weighted sums, 2 heads."""

    def __init__(self, ch: int, heads: int = 2):
        super().__init__()
        self.logits = nn.Conv2d(ch, heads, 1)
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)

    def forward(self, x: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """x [B,C,H,W], prior [1,1,H,W] in (0,1] -> [B, heads*C]."""
        a = self.logits(x) + prior.clamp_min(1e-4).log()  # [B,h,H,W]
        a = a.flatten(2).softmax(-1)  # [B,h,HW]
        return torch.einsum("bhn,bcn->bhc", a, x.flatten(2)).flatten(1)


class MotionEncoder(nn.Module):
    def __init__(self, cfg: MotionEncoderConfig = MotionEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.ch
        self.trunk = nn.Sequential(
            Down(3, c1), Down(c1, c2), ResBlock(c2), Down(c2, c3), ResBlock(c3), ResBlock(c3))  # -> [B,c3,16,16]
        # prior masks of the regions on the 16² grid (canonical layout)
        lin = torch.linspace(-1 + 1 / 16, 1 - 1 / 16, 16)
        yy, xx = torch.meshgrid(lin, lin, indexing="ij")
        coords = torch.stack([xx, yy], -1)[None]  # [1,16,16,2]
        for name, mask in part_masks(coords).items():
            self.register_buffer(f"prior_{name}", mask, persistent=False)
        self.pool = nn.ModuleDict({n: AttnPool(c3) for n in ("lips", "eyes", "expression")})
        s, h = cfg.spec, cfg.hidden

        def head(cin: int, cout: int) -> nn.Sequential:
            lin_out = nn.Linear(h, cout)
            nn.init.zeros_(lin_out.weight)
            nn.init.zeros_(lin_out.bias)
            return nn.Sequential(nn.Linear(cin, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), lin_out)

        self.heads = nn.ModuleDict({
            "lips": head(2 * c3, s.lips),
            "eyes": head(2 * c3, s.eyes),
            "expression": head(2 * c3, s.expression),
            "head_pose": head(16 * c3, s.head_pose),
        })

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """img [B,3,128,128] 0..1 -> m [B,D]."""
        x = self.trunk(img * 2 - 1)  # [B,c3,16,16]
        parts = {n: self.heads[n](self.pool[n](x, getattr(self, f"prior_{n}"))) for n in ("lips", "eyes", "expression")}
        parts["head_pose"] = self.heads["head_pose"](F.adaptive_avg_pool2d(x, 4).flatten(1))
        return self.cfg.spec.join(parts)
