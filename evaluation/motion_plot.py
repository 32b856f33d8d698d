"""Dependency-free line plots (OpenCV) of motion curves: training samples and the PreviewMotion node."""

from __future__ import annotations

import numpy as np

COLOURS = [(0, 0, 0), (200, 40, 40), (40, 40, 200), (30, 150, 30), (180, 120, 0), (130, 0, 160)]


def plot_curves(curves: list[tuple[str, np.ndarray]], height: int = 200, width: int | None = None) -> np.ndarray:
    """Curves (name, values [T]) on one shared scale -> RGB uint8 image [H, W, 3] with a legend."""
    import cv2
    n = max(len(c) for _, c in curves)
    w = width or max(400, min(2000, 4 * n))
    img = np.full((height + 20 * len(curves), w, 3), 255, np.uint8)
    allv = np.concatenate([np.asarray(c, np.float64) for _, c in curves])
    lo, hi = float(np.nanmin(allv)), float(np.nanmax(allv)) + 1e-9
    for k, (name, c) in enumerate(curves):
        col = COLOURS[k % len(COLOURS)]
        c = np.asarray(c, np.float64)
        pts = np.stack([np.arange(len(c)) * (w - 1) / max(1, n - 1), (height - 10) - (c - lo) / (hi - lo) * (height - 20)], 1)
        cv2.polylines(img, [pts.astype(np.int32)], False, col, 1, cv2.LINE_AA)
        cv2.putText(img, name, (5, height + 15 + 20 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, col, 1, cv2.LINE_AA)
    return img


def save_png(path: str, img: np.ndarray) -> None:
    import os

    import cv2
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    cv2.imwrite(path, img[:, :, ::-1])


def motion_overview(latent: np.ndarray, parts: dict[str, tuple[int, int]], fps: float) -> np.ndarray:
    """Motion [T, D] -> image: per part, the distance of each frame from the sequence's mean (one curve each)."""
    latent = np.asarray(latent, np.float64)
    curves = []
    for name, (a, b) in parts.items():
        x = latent[:, a:b]
        sd = x.std(0) + 1e-6
        curves.append((f"{name} ({b - a} dims)", np.linalg.norm((x - x.mean(0)) / sd, axis=1) / np.sqrt(b - a)))
    img = plot_curves(curves, width=max(400, min(2000, 4 * len(latent))))
    import cv2
    cv2.putText(img, f"{len(latent)} frames @ {fps:g} fps", (img.shape[1] - 200, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (90, 90, 90), 1, cv2.LINE_AA)
    return img
