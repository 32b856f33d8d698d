"""Motion encoder of the HRTF renderer (arXiv 2510.26819 stage 2, "motion encoder").

Frame [B,3,128,128] (canonical aligned crop) -> holistic motion latent m [B,D] =
[lips | expression | eyes | head_pose] (layout: models/motion_latent.py). Learnt from images only:
cross-frame reconstruction (identity from frame i + motion of frame j -> frame j) plus weak
landmark targets available for real video too (training/train_renderer.py). Each part is read
from its own region of the 16² feature map, keeping the layout: lips and eyes heads read the
feature cells of a fixed window around the canonical mouth / eyes (faces are aligned, so the
window holds the part), expression and head pose read the whole face pooled to 4x4. Small
bottleneck: no room for the identity to leak in.

Why windows and not pooling: mouth opening and blinks are *shapes* (a dark gap between lips, a
lid over the iris), and an average or attention pool over the region throws the layout away. With
pooled lips/eyes heads the renderer's encoder never learnt the landmark lip/eye targets (loss =
target variance for 3,850 steps; the bundled renderer rendered a static mouth). Readouts compared
on the corpus by benchmarks/motion_readout_probe.py (figures in weights/renderer_default.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from .motion_latent import MotionLatentSpec
from .render_blocks import REGIONS, Down, ResBlock


@dataclass
class MotionEncoderConfig:
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # latent layout
    ch: tuple[int, int, int] = (16, 32, 64)  # channels at 64², 32², 16²
    hidden: int = 128  # MLP width of the expression / head-pose heads


def region_window(region: str, grid: int) -> tuple[slice, slice]:
    """Rows and columns of a grid x grid feature map covering the bounding box of a canonical
    region (render_blocks.REGIONS, union over its centres)."""
    centres, (rx, ry) = REGIONS[region]
    x0, x1 = min(c[0] for c in centres) - rx, max(c[0] for c in centres) + rx
    y0, y1 = min(c[1] for c in centres) - ry, max(c[1] for c in centres) + ry
    clip = lambda v: min(max(v, 0), grid)  # noqa: E731
    return (slice(clip(math.floor(y0 * grid)), clip(math.ceil(y1 * grid))),
            slice(clip(math.floor(x0 * grid)), clip(math.ceil(x1 * grid))))


class MotionEncoder(nn.Module):
    def __init__(self, cfg: MotionEncoderConfig = MotionEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.ch
        self.trunk = nn.Sequential(
            Down(3, c1), Down(c1, c2), ResBlock(c2), Down(c2, c3), ResBlock(c3), ResBlock(c3))  # -> [B,c3,16,16]
        self.windows = {n: region_window(n, 16) for n in ("lips", "eyes")}  # rows, cols of the 16² map
        cells = {n: (w[0].stop - w[0].start) * (w[1].stop - w[1].start) for n, w in self.windows.items()}
        s, h = cfg.spec, cfg.hidden

        def mlp(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(cin, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, cout))

        # Window heads are linear (the trunk is the non-linearity; few weights for a small corpus).
        # No head is zero-initialised: a zero last layer kept the lips/eyes heads from ever
        # learning their landmark targets (benchmarks/motion_readout_probe.py).
        self.heads = nn.ModuleDict({
            "lips": nn.Linear(cells["lips"] * c3, s.lips),  # mouth window (5x6 cells by default)
            "eyes": nn.Linear(cells["eyes"] * c3, s.eyes),  # both-eyes window (3x8 cells)
            "expression": mlp(16 * c3, s.expression),  # whole face at 4x4
            "head_pose": mlp(16 * c3, s.head_pose),  # whole face at 4x4 (pose needs position)
        })

    def window(self, x: torch.Tensor, part: str) -> torch.Tensor:
        """Trunk features x [B,c3,16,16] -> the input of `part`'s window head [B, c3*cells]."""
        rows, cols = self.windows[part]
        return x[:, :, rows, cols].flatten(1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """img [B,3,128,128] 0..1 -> m [B,D]."""
        x = self.trunk(img * 2 - 1)  # [B,c3,16,16]
        parts = {n: self.heads[n](self.window(x, n)) for n in self.windows}
        face = F.adaptive_avg_pool2d(x, 4).flatten(1)  # [B,16*c3]
        parts["expression"] = self.heads["expression"](face)
        parts["head_pose"] = self.heads["head_pose"](face)
        return self.cfg.spec.join(parts)
