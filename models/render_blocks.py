"""Small CPU-friendly conv blocks shared by the HRTF renderer's modules (arXiv 2510.26819 stage 2).

No normalisation layers (GroupNorm costs as much as a conv on 2 CPU cores); residual branches end
in a zero-initialised conv so every block starts as the identity and deep stacks train stably.
Upsampling is pixel shuffle (a conv to 4x channels + depth-to-space), the cheapest learned ×2.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def conv3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class ResBlock(nn.Module):
    """x + conv(silu(conv(silu(x)))), the second conv zero-initialised. [B,C,H,W] -> same."""

    def __init__(self, ch: int):
        super().__init__()
        self.c1 = conv3(ch, ch)
        self.c2 = conv3(ch, ch)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(F.silu(self.c1(F.silu(x))))


class Down(nn.Module):
    """Strided 3x3 conv + SiLU: [B,cin,H,W] -> [B,cout,H/2,W/2]."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = conv3(cin, cout, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.conv(x))


class Up(nn.Module):
    """Pixel-shuffle ×2 + SiLU: [B,cin,H,W] -> [B,cout,2H,2W]."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = conv3(cin, cout * 4)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.shuffle(self.conv(x)))


def to_internal(img: torch.Tensor, size: int) -> torch.Tensor:
    """[B,3,H,W] 0..1 -> [B,3,size,size] (area downsampling / bilinear upsampling)."""
    if img.shape[-1] == size and img.shape[-2] == size:
        return img
    mode = "area" if img.shape[-1] > size else "bilinear"
    return F.interpolate(img, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))


def region_mask(coords: torch.Tensor, centres: list[tuple[float, float]], radii: tuple[float, float]) -> torch.Tensor:
    """Soft elliptical mask(s) in canonical crop coordinates.

    coords [B,H,W,2]: canonical position (x, y) of every pixel in [-1, 1]; centres: ellipse
    centres as fractions of the crop side (x, y); radii: half-axes as fractions of the side.
    Returns [B,1,H,W] in (0, 1]: exp(-d^4) of the normalised distance (flat top, soft edge),
    max over the centres.
    """
    out = None
    for cx, cy in centres:
        dx = (coords[..., 0] - (2 * cx - 1)) / (2 * radii[0])
        dy = (coords[..., 1] - (2 * cy - 1)) / (2 * radii[1])
        m = torch.exp(-((dx * dx + dy * dy) ** 2))
        out = m if out is None else torch.maximum(out, m)
    return out.unsqueeze(1)


# Face regions of the canonical crop (data/canonical.py CANONICAL_5: eyes at y 0.42, nose 0.56,
# mouth corners at y 0.70): centres and half-axes as fractions of the crop side.
REGIONS: dict[str, tuple[list[tuple[float, float]], tuple[float, float]]] = {
    "lips": ([(0.5, 0.735)], (0.16, 0.13)),  # mouth + chin movement
    "eyes": ([(0.375, 0.42), (0.625, 0.42)], (0.085, 0.06)),  # both eyes and lids
    "expression": ([(0.5, 0.54)], (0.32, 0.36)),  # whole face: brows, cheeks (mouth excluded below)
}


def part_masks(coords: torch.Tensor) -> dict[str, torch.Tensor]:
    """coords [B,H,W,2] canonical positions -> {lips, eyes, expression: [B,1,H,W]}.

    The expression region is the whole face *minus* the lips region: the mouth belongs to the lips
    part alone. With overlapping regions the first renderer trained let the expression part carry
    the mouth (the lips part changed 7e-5 of the pixels on its own), so lip edits (LipRefine, the
    lips scale) did nothing; exclusive masks make the lips part the only local motion at the mouth.
    Eyes sit inside the expression region on purpose (brows and lids move together).
    """
    out = {n: region_mask(coords, *REGIONS[n]) for n in ("lips", "eyes")}
    out["expression"] = region_mask(coords, *REGIONS["expression"]) * (1 - out["lips"])
    return out
