"""Mouth layout and mouth-interior compositing of the HRTF renderer (arXiv 2510.26819 stage 2,
lip-region refinement before the output; our addition).

Driving motion latent m [B,D] -> the 20 iBUG lip points (48-67) in the frame -> a soft mask of the
mouth's interior (inside the inner-lip polygon, 60-67) at the output resolution -> the interior is
painted over the decoded frame in a learnt colour:

    out' = out + mask · (profile(depth) - out)

where depth is how far inside the inner lips a pixel lies and profile(depth) the corpus's colour
at that depth (teeth along the lips, the dark gap deeper in).

Why: the HR decoder paints an open mouth as a pink blur with no dark gap, on training faces as on
held-out ones, and several fine-tunes did not teach it to do better (renderer card, "Three more
tries at the open mouth"): the portrait it warps shows no interior, and its thin high-resolution
layers average the interiors they have seen. The layout knows where the mouth is open; painting the
interior from it makes the opening visible to a viewer and to an independent landmarker.

The points are regressed from the motion latent on the corpus landmarks by
training/fit_mouth_layout.py (the renderer's other weights stay frozen, so its motion space and
every motion model trained in it stay valid). At render time they come from the motion alone: a
generated, refined or edited motion moves the painted interior the same way. Points are predicted
in canonical coordinates (a template mouth plus an offset from the latent) and carried into the
frame by the driving head-pose affine (motion_latent.pose_matrix), so the layout follows the head
like the warp does. A closed mouth (inner polygon flattened to a line) is left as the decoder drew it.
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
DRAW_SIZE = 256  # largest side the interior mask is drawn at (polygon_depth keeps [B, window pixels, edges] tensors)


@dataclass
class MouthLayoutConfig:
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # latent layout (input)
    hidden: int = 128  # MLP width
    softness: float = 0.75  # edge width of the masks, in pixels of the map they are drawn at
    profile_bins: int = 8  # interior colour by depth inside the inner lips: 1-pixel bins (the last: deeper)


def template_points() -> torch.Tensor:
    """A closed mouth at the canonical mouth corners: [20,2] in [-1,1] (x right, y down), iBUG order."""
    (lx, ly), (rx, ry) = CANONICAL_5[3], CANONICAL_5[4]
    cx, cy, half = float(lx + rx) - 1.0, float(ly + ry) - 1.0, float(rx - lx)  # centre and half width in [-1,1]
    def ellipse(n: int, a: float, b: float) -> list[tuple[float, float]]:
        # k = 0: image-left corner, then along the upper lip (y up), right corner, lower lip
        return [(cx - a * math.cos(2 * math.pi * k / n), cy - b * math.sin(2 * math.pi * k / n)) for k in range(n)]
    return torch.tensor(ellipse(OUTER, half, 0.35 * half) + ellipse(INNER, 0.8 * half, 0.05 * half), dtype=torch.float32)


def polygon_depth(poly: torch.Tensor, size: int, window: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """Closed polygons poly [B,K,2] in [-1,1] (x, y) -> signed distance of each pixel centre to the
    outline [B,1,size,size], in pixels, positive inside (crossing-number inside test). window =
    (y0, y1, x0, x1) computes only those pixel rows and columns of the size² map -> [B,1,y1-y0,x1-x0]."""
    b = poly.shape[0]
    c = (torch.arange(size, device=poly.device, dtype=poly.dtype) + 0.5) / size * 2 - 1
    y0, y1, x0, x1 = window or (0, size, 0, size)
    yy, xx = torch.meshgrid(c[y0:y1], c[x0:x1], indexing="ij")
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
    return (torch.where(inside, dist, -dist) * (size / 2)).reshape(b, 1, y1 - y0, x1 - x0)


def polygon_mask(poly: torch.Tensor, size: int, softness: float = 0.75) -> torch.Tensor:
    """Closed polygons poly [B,K,2] in [-1,1] -> soft inside masks [B,1,size,size]: the signed
    distance through a sigmoid of width `softness` pixels. A polygon flattened to a line (a closed
    mouth) gives a thin line of 0.5."""
    return torch.sigmoid(polygon_depth(poly, size) / softness)


def profile_at(profile: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """profile [K,3] colours of 1-pixel depth bins (bin k: depth in [k, k+1); the last: deeper) and
    depth [B,1,S,S] in pixels -> colours [B,3,S,S], linear between bin centres."""
    k = profile.shape[0]
    x = (depth - 0.5).clamp(0, k - 1)[:, 0]  # [B,S,S] position in bin-centre units
    lo = x.floor().long()
    hi = (lo + 1).clamp(max=k - 1)
    f = (x - lo)[..., None]
    return (profile[lo] * (1 - f) + profile[hi] * f).permute(0, 3, 1, 2)


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
        # colour painted inside the mouth by depth inside the inner lips, 0..1 RGB per 1-pixel bin
        # (fit_mouth_layout.py sets it from the corpus: teeth near the lips, the dark gap deeper in)
        self.interior_profile = nn.Parameter(torch.full((cfg.profile_bins, 3), 0.2))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        """m [B,D] -> lip points 48-67 in the frame [B,20,2], [-1,1] (x, y)."""
        canon = self.template + self.net(m).view(-1, OUTER + INNER, 2)  # [B,20,2] canonical
        a = pose_matrix(self.cfg.spec.split(m)["head_pose"])  # [B,2,3] canonical -> frame
        return canon @ a[:, :, :2].transpose(1, 2) + a[:, None, :, 2]

    def window(self, points: torch.Tensor, side: int) -> tuple[int, int, int, int]:
        """points [B,20,2] -> (y0, y1, x0, x1): the pixels of a side² map around every inner lip of
        the batch, padded so the interior mask is 0 beyond them (a mouth is ~1 % of the frame, and
        only these pixels are measured and painted)."""
        inner = points[:, OUTER:].detach()
        pad = 2 + 4 * self.cfg.softness  # pixels
        lo = ((inner.amin((0, 1)) + 1) / 2 * side - pad).floor().clamp(0, side).long().tolist()
        hi = ((inner.amax((0, 1)) + 1) / 2 * side + pad).ceil().clamp(0, side).long().tolist()
        return lo[1], max(lo[1], hi[1]), lo[0], max(lo[0], hi[0])

    def _drawn(self, points: torch.Tensor, side: int, win: tuple[int, int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (mask, depth) [B,1,y1-y0,x1-x0] inside the window of a side² map (interior's doc)."""
        depth = polygon_depth(points[:, OUTER:], side, win)
        return (2 * torch.sigmoid(depth / self.cfg.softness) - 1).clamp_min(0), depth

    def interior(self, points: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """points [B,20,2] -> (mask [B,1,size,size], depth [B,1,size,size]) of the mouth's interior.
        The mask is the inside of the inner-lip polygon only (2·inside - 1, clipped), so the outline
        itself gets 0 and a closed mouth, whose polygon is a line, is not painted; depth is the
        distance inside the outline in pixels of the drawn map (outside the window: -side). Drawn
        at most at DRAW_SIZE² (memory grows with pixels × edges) and upsampled bilinearly beyond it."""
        side = min(size, DRAW_SIZE)
        y0, y1, x0, x1 = win = self.window(points, side)
        mask = points.new_zeros(points.shape[0], 1, side, side)
        depth = torch.full_like(mask, -float(side))
        mask[..., y0:y1, x0:x1], depth[..., y0:y1, x0:x1] = self._drawn(points, side, win)
        if side != size:
            up = lambda t: F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)  # noqa: E731
            mask, depth = up(mask), up(depth)
        return mask, depth

    def paint(self, frames: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frames [B,3,S,S] + driving motion m [B,D] -> (frames with the interior painted [B,3,S,S],
        lip points [B,20,2]). Up to DRAW_SIZE only the window around the mouths is computed."""
        points = self(m.to(frames.dtype))
        profile = self.interior_profile.to(frames.dtype)
        size = frames.shape[-1]
        if size > DRAW_SIZE:
            mask, depth = self.interior(points, size)  # [B,1,S,S] each
            return torch.lerp(frames, profile_at(profile, depth), mask), points
        y0, y1, x0, x1 = win = self.window(points, size)
        mask, depth = self._drawn(points, size, win)
        out = frames.clone()
        out[..., y0:y1, x0:x1] = torch.lerp(frames[..., y0:y1, x0:x1], profile_at(profile, depth), mask)
        return out, points


def inner_opening(points: torch.Tensor) -> torch.Tensor:
    """lip points [..., 20, 2] in [-1,1] -> vertical inner-lip opening (y66 - y62) [...] as a fraction
    of the frame's side, the unit of the corpus's landmark mouth opening (motion_data.Clip.mouth)."""
    return (points[..., OUTER + 6, 1] - points[..., OUTER + 2, 1]) / 2


def lip_point_l1(points: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """points, target [B,20,2] in [-1,1] -> mean L1 distance per lip point (in [-1,1] units)."""
    return (points - target.to(points.dtype)).abs().sum(-1).mean()
