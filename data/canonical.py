"""Canonical aligned face crop: the reference points every face crop in the project is mapped onto.

One definition shared by the synthetic renderer (which draws faces directly in this frame), the
real-video preprocessing and the FaceAlign / paste-back nodes (which map detected faces onto it
with :func:`similarity_transform`).

* ``CANONICAL_5``: five reference points (eye centres, nose tip, mouth corners) in fractions of
  the crop side, for a frontal neutral face at pose zero. "Left"/"right" mean image left/right.
* 68-point landmarks follow the iBUG-300W / dlib order (see ``LANDMARK_GROUPS``).
"""

from __future__ import annotations

import numpy as np

# Default side of the square aligned crop, in pixels.
CANONICAL_SIZE = 256

# [5, 2] float32: left eye centre, right eye centre, nose tip, left mouth corner, right mouth
# corner, as fractions of the crop side (x right, y down). Image-left / image-right.
CANONICAL_5 = np.array(
    [[0.375, 0.42], [0.625, 0.42], [0.5, 0.56], [0.41, 0.70], [0.59, 0.70]], dtype=np.float32
)

# Index ranges (start, stop) of the 68-point iBUG-300W layout, in dlib order.
LANDMARK_GROUPS: dict[str, tuple[int, int]] = {
    "jaw": (0, 17),          # image-left ear level -> chin (8) -> image-right ear level
    "brow_left": (17, 22),   # image-left brow, outer -> inner
    "brow_right": (22, 27),  # image-right brow, inner -> outer
    "nose_bridge": (27, 31),  # top of bridge -> nose tip (30)
    "nose_base": (31, 36),   # nostril base, image left -> right
    "eye_left": (36, 42),    # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid
    "eye_right": (42, 48),   # 42 inner corner, 43-44 upper lid, 45 outer corner, 46-47 lower lid
    "lips_outer": (48, 60),  # 48 left corner, 49-53 upper, 54 right corner, 55-59 lower
    "lips_inner": (60, 68),  # 60 left corner, 61-63 upper (62 middle), 64 right, 65-67 lower (66 middle)
}

NOSE_TIP = 30
MOUTH_LEFT = 48
MOUTH_RIGHT = 54
INNER_LIP_UPPER = 62
INNER_LIP_LOWER = 66


def canonical_points(size: int = CANONICAL_SIZE) -> np.ndarray:
    """CANONICAL_5 in pixels of a ``size``-px crop -> float32 [5, 2]."""
    return CANONICAL_5 * np.float32(size)


def landmarks68_to_5(lm: np.ndarray) -> np.ndarray:
    """68-point landmarks [..., 68, 2] -> the 5 canonical points [..., 5, 2] (same units).

    Eye centres are the means of the six eye-contour points; nose tip is point 30; mouth corners
    are the outer-lip corners 48 and 54.
    """
    lm = np.asarray(lm, dtype=np.float32)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"expected landmarks [..., 68, 2], got {lm.shape}")
    eye_l = lm[..., 36:42, :].mean(axis=-2)
    eye_r = lm[..., 42:48, :].mean(axis=-2)
    return np.stack(
        [eye_l, eye_r, lm[..., NOSE_TIP, :], lm[..., MOUTH_LEFT, :], lm[..., MOUTH_RIGHT, :]], axis=-2
    ).astype(np.float32)


def similarity_transform(src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation + uniform scale + translation) mapping src onto dst.

    Umeyama's closed form (no reflection). ``src_pts``, ``dst_pts``: [N, 2], N >= 2.
    Returns a float64 [2, 3] matrix ``M`` such that ``dst ~= src @ M[:, :2].T + M[:, 2]``;
    usable directly with ``cv2.warpAffine``.
    """
    src = np.asarray(src_pts, dtype=np.float64)
    dst = np.asarray(dst_pts, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"need matching [N>=2, 2] point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("source points are degenerate (all equal)")
    cov = d0.T @ s0 / len(src)  # [2, 2]
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0  # forbid reflections
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def apply_transform(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a [2, 3] affine matrix to points [..., 2] -> [..., 2] (float64)."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]


def invert_transform(m: np.ndarray) -> np.ndarray:
    """Inverse of a [2, 3] affine matrix (e.g. crop -> original image for paste-back)."""
    a = np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(a)[:2]


def alignment_transform(lm5: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """[2, 3] transform taking an image with 5 detected points ``lm5`` [5, 2] (pixels) to the
    canonical ``size``-px crop: ``cv2.warpAffine(img, M, (size, size))``."""
    return similarity_transform(lm5, canonical_points(size))
