"""Mouth layout of the HRTF renderer (arXiv 2510.26819 stage 2, HR decoder; our addition).

Driving motion latent m [B,D] -> the 20 iBUG lip points (48-67) in the frame, and from them two soft
masks at the decoder's 128² stage: the mouth's interior (inside the inner-lip polygon) and the lips
(inside the outer polygon, outside the inner one). The HR decoder reads them where it paints the
mouth (hr_decoder.py, ``layout_ch``).

Why: the decoder otherwise learns where the mouth is open only from warped features at 32²/64², a
few cells for a whole mouth; trained with pixel losses it paints an open mouth as a pink blur with
no dark gap or teeth, on training faces as on held-out ones (renderer card, 2026-12-07). The points
are regressed from the motion latent with the corpus's landmarks (training/train_renderer.py,
``--mouth-layout``), so at render time they come from the motion alone: a generated or edited
motion moves the layout the same way.

Points are predicted in canonical coordinates (a template mouth plus an offset from the latent) and
carried into the frame by the driving head-pose affine (motion_latent.pose_matrix), so the layout
follows the head like the warp does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from ..data.canonical import CANONICAL_5
from .motion_latent import MotionLatentSpec, pose_matrix

OUTER, INNER = 12, 8  # iBUG 48-59 (outer lip, clockwise from the image-left corner), 60-67 (inner lip)


@dataclass
class MouthLayoutConfig:
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # latent layout (input)
    hidden: int = 128  # MLP width
    softness: float = 0.75  # edge width of the masks, in pixels of the map they are drawn at


def template_points() -> torch.Tensor:
    """A closed mouth at the canonical mouth corners: [20,2] in [-1,1] (x right, y down), iBUG order."""
    (lx, ly), (rx, ry) = CANONICAL_5[3], CANONICAL_5[4]
    cx, cy, half = float(lx + rx) - 1.0, float(ly + ry) - 1.0, float(rx - lx)  # centre and half width in [-1,1]
    def ellipse(n: int, a: float, b: float) -> list[tuple[float, float]]:
        # k = 0: image-left corner, then along the upper lip (y up), right corner, lower lip
        return [(cx - a * math.cos(2 * math.pi * k / n), cy - b * math.sin(2 * math.pi * k / n)) for k in range(n)]
    return torch.tensor(ellipse(OUTER, half, 0.35 * half) + ellipse(INNER, 0.8 * half, 0.05 * half), dtype=torch.float32)


def polygon_mask(poly: torch.Tensor, size: int, softness: float = 0.75) -> torch.Tensor:
    """Closed polygons poly [B,K,2] in [-1,1] (x, y) -> soft inside masks [B,1,size,size]: the signed
    distance of each pixel centre to the outline (crossing-number inside test), through a sigmoid of
    width `softness` pixels. A polygon flattened to a line (a closed mouth) gives a thin line of 0.5."""
    b = poly.shape[0]
    c = (torch.arange(size, device=poly.device, dtype=poly.dtype) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    p = torch.stack([xx, yy], -1).reshape(1, -1, 1, 2)  # [1,P,1,2]
    a = poly[:, None]  # [B,1,K,2] edge starts
    e = torch.roll(poly, -1, dims=1)[:, None] - a  # [B,1,K,2] edge vectors
    ap = p - a  # [B,P,K,2]
    t = ((ap * e).sum(-1) / (e * e).sum(-1).clamp_min(1e-12)).clamp(0, 1)  # [B,P,K]
    dist = (ap - t[..., None] * e).norm(dim=-1).amin(-1)  # [B,P] to the nearest edge
    ay, by, py = a[..., 1], a[..., 1] + e[..., 1], p[..., 1]
    crosses = (ay > py) != (by > py)  # [B,P,K] the edge spans the pixel's row
    x_at = a[..., 0] + (py - ay) * e[..., 0] / torch.where(e[..., 1] == 0, torch.ones_like(ay), e[..., 1])
    inside = (crosses & (p[..., 0] < x_at)).sum(-1) % 2 == 1  # [B,P]
    signed = torch.where(inside, dist, -dist) * (size / 2)  # pixels
    return torch.sigmoid(signed / softness).reshape(b, 1, size, size)


class MouthLayout(nn.Module):
    def __init__(self, cfg: MouthLayoutConfig = MouthLayoutConfig()):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.net = nn.Sequential(nn.Linear(cfg.spec.dim, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(),
                                 nn.Linear(h, 2 * (OUTER + INNER)))
        nn.init.zeros_(self.net[-1].weight)  # starts at the template mouth
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("template", template_points(), persistent=False)  # [20,2]

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        """m [B,D] -> lip points 48-67 in the frame [B,20,2], [-1,1] (x, y)."""
        canon = self.template + self.net(m).view(-1, OUTER + INNER, 2)  # [B,20,2] canonical
        a = pose_matrix(self.cfg.spec.split(m)["head_pose"])  # [B,2,3] canonical -> frame
        return canon @ a[:, :, :2].transpose(1, 2) + a[:, None, :, 2]

    def draw(self, points: torch.Tensor, size: int) -> torch.Tensor:
        """points [B,20,2] -> [B,2,size,size]: (mouth interior, lips)."""
        s = self.cfg.softness
        inner = polygon_mask(points[:, OUTER:], size, s)
        outer = polygon_mask(points[:, :OUTER], size, s)
        return torch.cat([inner, (outer - inner).clamp_min(0)], 1)


def layout_loss(points: torch.Tensor, landmarks: torch.Tensor, size: int) -> torch.Tensor:
    """points [B,20,2] in [-1,1] vs the frame's iBUG landmarks [B,68,2] (pixels of a crop of side
    `size`) -> mean L1 distance per lip point, in [-1,1] units."""
    target = landmarks[:, 48:68].to(points.dtype) / size * 2 - 1
    return (points - target).abs().sum(-1).mean()
