"""Procedural talking-face renderer: identity attributes + per-frame motion -> aligned RGB crop.

The face is a small 3D model in *head coordinates* (unit = crop side, x right, y down, z toward
the camera, origin at crop point ``(0.5, HEAD_Y0)``): a skull ellipsoid, a jaw contour, eyes on
the face surface, a protruding nose, lips, brows, ears, hair shells and a neck. Every feature is
built as 3D points/contours from the :class:`FaceIdentity` and the motion vector, rotated by
yaw/pitch/roll about a pivot behind the face, and projected with a mild perspective. Depths are
chosen so that at pose zero every point lands exactly where its frontal design puts it; the
default identity's eyes, nose tip and mouth corners land on ``CANONICAL_5``.

Drawing is flat-coloured, anti-aliased OpenCV polygons (``LINE_AA`` with sub-pixel ``shift``),
then one multiplicative luminance map gives the soft shading: Lambert on the head ellipsoid plus
blurred shadows (eye sockets, under nose, lower lip, chin, hairline, nasolabial folds) and
highlights (nose bridge, cheeks, lower lip). The luminance map is computed at half resolution.

Public API (see ``docs/corpus_contract.md``): :class:`FaceIdentity`, :data:`MOTION_FIELDS`,
:func:`neutral_motion`, :func:`render_face`, :func:`render_clip`, :func:`mouth_opening`, plus
:class:`Scene` (background, clothing, light; not part of identity).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar

import cv2
import numpy as np

from ..canonical import CANONICAL_5, INNER_LIP_LOWER, INNER_LIP_UPPER

# ----------------------------------------------------------------------------------------------
# Identity
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FaceIdentity:
    """Identity attributes of one synthetic person. All floats; ranges in the comments.

    ``[-1, 1]`` fields are signed deviations from an average face (0 = average);
    ``[0, 1]`` fields are amounts or positions along a palette / category list.
    The all-default identity is the canonical average face (lands on ``CANONICAL_5``).
    """

    # --- head and face shape (geometry) ---
    face_width: float = 0.0        # [-1, 1] narrow .. wide skull and cheeks (±10 %)
    face_length: float = 0.0       # [-1, 1] short .. long lower face (chin height)
    jaw_width: float = 0.0         # [-1, 1] V-shaped .. broad square jaw (gonion width)
    jaw_square: float = 0.0        # [-1, 1] round .. angular jaw corner
    chin_width: float = 0.0        # [-1, 1] pointed .. broad flat chin
    cheek_fullness: float = 0.0    # [-1, 1] hollow .. full cheeks (outline bulge)
    forehead_height: float = 0.0   # [-1, 1] low .. high hairline
    # --- eyes ---
    eye_size: float = 0.0          # [-1, 1] small .. large eye opening (±25 %)
    eye_spacing: float = 0.0       # [-1, 1] close .. wide set eyes (±15 % of the eye distance)
    eye_height: float = 0.0        # [-1, 1] eyes lower .. higher on the face (±2 % of the crop)
    eye_tilt: float = 0.0          # [-1, 1] down-turned .. up-turned outer corners
    eye_roundness: float = 0.0     # [-1, 1] narrow almond .. round
    iris_hue: float = 0.2          # [0, 1] position on dark brown -> brown -> hazel -> green -> blue -> grey
    iris_size: float = 0.0         # [-1, 1] iris diameter relative to the eye
    # --- brows ---
    brow_thickness: float = 0.5    # [0, 1] thin .. bushy
    brow_arch: float = 0.0         # [-1, 1] flat .. high arch
    brow_height: float = 0.0       # [-1, 1] low .. high above the eyes
    brow_tilt: float = 0.0         # [-1, 1] outer ends lower .. higher
    # --- nose ---
    nose_length: float = 0.0       # [-1, 1] short .. long (tip ±2.8 % of the crop)
    nose_width: float = 0.0        # [-1, 1] narrow .. wide nostrils/alae
    nose_bridge: float = 0.0       # [-1, 1] flat .. prominent (tip protrusion)
    # --- mouth ---
    mouth_size: float = 0.0        # [-1, 1] narrow .. wide mouth at rest (±18 %)
    mouth_height: float = 0.0      # [-1, 1] mouth lower (long philtrum) .. higher (±1.5 % of the crop)
    lip_upper: float = 0.5         # [0, 1] thin .. full upper lip
    lip_lower: float = 0.5         # [0, 1] thin .. full lower lip
    lip_redness: float = 0.5       # [0, 1] pale/skin-like .. red lips
    # --- skin ---
    skin_tone: float = 0.3         # [0, 1] very light .. very dark
    skin_warmth: float = 0.0       # [-1, 1] pink/cool .. yellow/olive
    blush: float = 0.3             # [0, 1] no .. rosy cheeks
    # --- hair ---
    hair_style: float = 0.3        # [0, 1) category: see HAIR_STYLES (bucketed uniformly)
    hair_volume: float = 0.5       # [0, 1] flat .. voluminous
    hair_tone: float = 0.2         # [0, 1] black .. platinum blond
    hair_red: float = 0.0          # [0, 1] neutral .. red/auburn
    hair_part: float = 0.5         # [0, 1] side part position, image left .. right (0.5 = centre)
    # --- age and extras ---
    age: float = 0.3               # [0, 1] young .. old: wrinkles, eye bags, folds, grey hair
    facial_hair: float = 0.0       # [0, 1) category: see FACIAL_HAIR (bucketed uniformly)
    ear_size: float = 0.0          # [-1, 1] small .. large, also sticking out
    neck_width: float = 0.0        # [-1, 1] thin .. thick neck

    FIELDS: ClassVar[tuple[str, ...]] = ()  # filled below: field names in vector order
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {}  # filled below: (low, high) per field

    def to_vector(self) -> np.ndarray:
        """float32 [len(FIELDS)] in ``FIELDS`` order."""
        return np.array([getattr(self, f) for f in self.FIELDS], dtype=np.float32)

    @classmethod
    def from_vector(cls, v) -> "FaceIdentity":
        """Inverse of :meth:`to_vector`; values are clipped to their ranges."""
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.shape[0] != len(cls.FIELDS):
            raise ValueError(f"expected {len(cls.FIELDS)} values, got {v.shape[0]}")
        kw = {}
        for f, x in zip(cls.FIELDS, v):
            lo, hi = cls.RANGES[f]
            kw[f] = float(min(max(x, lo), hi))
        return cls(**kw)

    @classmethod
    def random(cls, rng: np.random.Generator) -> "FaceIdentity":
        """Uniform sample over every range (for tests and development; the corpus samples
        identities from its own speaker model in ``speaker.py``)."""
        kw = {f: float(rng.uniform(*cls.RANGES[f])) for f in cls.FIELDS}
        kw["facial_hair"] = float(rng.uniform(0.0, 1.0)) if rng.uniform() < 0.5 else 0.0
        return cls(**kw)


_UNIT_FIELDS = {
    "iris_hue", "brow_thickness", "lip_upper", "lip_lower", "lip_redness", "skin_tone", "blush",
    "hair_style", "hair_volume", "hair_tone", "hair_red", "hair_part", "age", "facial_hair",
}
FaceIdentity.FIELDS = tuple(f.name for f in dataclasses.fields(FaceIdentity))
FaceIdentity.RANGES = {
    f: ((0.0, 0.999) if f in ("hair_style", "facial_hair") else (0.0, 1.0) if f in _UNIT_FIELDS else (-1.0, 1.0))
    for f in FaceIdentity.FIELDS
}

HAIR_STYLES = ("bald", "buzz", "short", "fringe", "long", "long_fringe", "curly", "bob", "receding")
FACIAL_HAIR = ("none", "none", "stubble", "moustache", "goatee", "beard")


def hair_style_name(identity: FaceIdentity) -> str:
    """Category name of ``identity.hair_style``."""
    return HAIR_STYLES[min(int(identity.hair_style * len(HAIR_STYLES)), len(HAIR_STYLES) - 1)]


def facial_hair_name(identity: FaceIdentity) -> str:
    """Category name of ``identity.facial_hair``."""
    return FACIAL_HAIR[min(int(identity.facial_hair * len(FACIAL_HAIR)), len(FACIAL_HAIR) - 1)]


# ----------------------------------------------------------------------------------------------
# Motion
# ----------------------------------------------------------------------------------------------

# Per-frame motion parameters, fixed order. Ranges (rest value first):
MOTION_FIELDS: tuple[str, ...] = (
    "jaw_open",    # 0 [0, 1]   jaw drop; lower lip and chin move down (1 = wide open, ~0.09 crop)
    "mouth_width",  # 0 [-1, 1] lip corners pulled in (-1) .. stretched (+1), e.g. /i/
    "lip_round",   # 0 [0, 1]   rounding/protrusion, narrower rounder opening, e.g. /u/ /o/
    "lip_press",   # 0 [0, 1]   lips pressed together (closes the lips, thins them), e.g. /p b m/
    "teeth",       # 0 [0, 1]   upper lip raised / lower lip lowered to show teeth, e.g. /f s/
    "tongue",      # 0 [0, 1]   tongue visible in the open mouth, e.g. /l th/
    "smile",       # 0 [-1, 1]  frown .. smile (corners, cheeks, squint)
    "blink_l",     # 0 [0, 1]   image-left eye closure (1 = closed)
    "blink_r",     # 0 [0, 1]   image-right eye closure
    "gaze_x",      # 0 [-1, 1]  irises look to image left .. right
    "gaze_y",      # 0 [-1, 1]  irises look up .. down
    "brow_raise",  # 0 [-1, 1]  frown (brows down and together) .. raised
    "yaw",         # 0 degrees [-25, 25], positive turns the nose toward image right
    "pitch",       # 0 degrees [-15, 15], positive tilts the nose down
    "roll",        # 0 degrees [-15, 15], positive rotates the face clockwise in the image
    "tx",          # 0 [-0.05, 0.05] horizontal shift, fraction of the crop side
    "ty",          # 0 [-0.05, 0.05] vertical shift, fraction of the crop side
    "scale",       # 1 [0.9, 1.1] zoom about the head pivot
)
MOTION_INDEX = {n: i for i, n in enumerate(MOTION_FIELDS)}
MOTION_RANGES: dict[str, tuple[float, float]] = {
    "jaw_open": (0.0, 1.0), "mouth_width": (-1.0, 1.0), "lip_round": (0.0, 1.0),
    "lip_press": (0.0, 1.0), "teeth": (0.0, 1.0), "tongue": (0.0, 1.0), "smile": (-1.0, 1.0),
    "blink_l": (0.0, 1.0), "blink_r": (0.0, 1.0), "gaze_x": (-1.0, 1.0), "gaze_y": (-1.0, 1.0),
    "brow_raise": (-1.0, 1.0), "yaw": (-25.0, 25.0), "pitch": (-15.0, 15.0), "roll": (-15.0, 15.0),
    "tx": (-0.05, 0.05), "ty": (-0.05, 0.05), "scale": (0.9, 1.1),
}


def neutral_motion() -> np.ndarray:
    """Rest motion vector, float32 [len(MOTION_FIELDS)] (all zero except ``scale`` = 1)."""
    m = np.zeros(len(MOTION_FIELDS), dtype=np.float32)
    m[MOTION_INDEX["scale"]] = 1.0
    return m


def clip_motion(motion: np.ndarray) -> np.ndarray:
    """Clip a motion vector/array [..., M] to ``MOTION_RANGES``."""
    lo = np.array([MOTION_RANGES[n][0] for n in MOTION_FIELDS], dtype=np.float32)
    hi = np.array([MOTION_RANGES[n][1] for n in MOTION_FIELDS], dtype=np.float32)
    return np.clip(np.asarray(motion, dtype=np.float32), lo, hi)


# ----------------------------------------------------------------------------------------------
# Scene (not identity)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything in the picture that is not the person: background, clothes, light."""

    bg_top: tuple[int, int, int] = (118, 128, 140)     # RGB at the top of the background gradient
    bg_bottom: tuple[int, int, int] = (74, 80, 92)     # RGB at the bottom
    clothing: tuple[int, int, int] = (52, 70, 110)     # RGB of the shirt at the bottom of the crop
    light_x: float = -0.35   # [-1, 1] light direction, image left (-) .. right (+)
    light_y: float = -0.45   # [-1, 1] light from above (-) .. below (+)
    ambient: float = 0.52    # [0.3, 0.8] share of light that ignores the surface orientation

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Scene":
        """A random plausible scene (muted backgrounds, any clothing colour, light from above)."""
        base = rng.uniform(40, 210, size=3)
        base = base * 0.55 + base.mean() * 0.45
        top = np.clip(base * rng.uniform(1.0, 1.25), 0, 255)
        bottom = np.clip(base * rng.uniform(0.6, 0.95), 0, 255)
        cloth = rng.uniform(20, 220, size=3)
        return cls(
            tuple(int(x) for x in top), tuple(int(x) for x in bottom), tuple(int(x) for x in cloth),
            float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.7, -0.1)), float(rng.uniform(0.42, 0.62)),
        )


# ----------------------------------------------------------------------------------------------
# Geometry constants (head coordinates, unit = crop side)
# ----------------------------------------------------------------------------------------------

HEAD_Y0 = 0.47          # crop y of the head-coordinate origin
_CAM_D = 3.0            # camera distance (mild perspective)
_Z_REF = 0.27           # depth that projects with scale 1 (the eyes' depth)
_PIVOT = np.array([0.0, 0.06, 0.06])  # rotation pivot (a bit behind the face, below the eyes)
_EYE_Y = float(CANONICAL_5[0, 1]) - HEAD_Y0            # -0.05
_EYE_X = float(CANONICAL_5[1, 0]) - 0.5                # 0.125
_NOSE_Y = float(CANONICAL_5[2, 1]) - HEAD_Y0           # 0.09
_MOUTH_Y = float(CANONICAL_5[3, 1]) - HEAD_Y0          # 0.23
_MOUTH_HW = float(CANONICAL_5[4, 0]) - 0.5             # 0.09
_JAW_OPEN = 0.085       # lower-lip drop at jaw_open = 1

_SKIN = np.array([[250, 222, 204], [236, 194, 166], [214, 165, 128], [182, 128, 92], [132, 88, 60],
                  [92, 60, 42], [66, 44, 32]], dtype=np.float32)
_IRIS = np.array([[52, 32, 20], [92, 56, 30], [122, 96, 50], [78, 108, 70], [66, 108, 160],
                  [112, 122, 134]], dtype=np.float32)
_HAIR = np.array([[22, 18, 16], [52, 36, 26], [92, 64, 40], [142, 104, 64], [196, 160, 104],
                  [228, 212, 172]], dtype=np.float32)
_HAIR_RED = np.array([150, 62, 28], dtype=np.float32)
_GREY = np.array([178, 176, 172], dtype=np.float32)


def _palette(table: np.ndarray, t: float) -> np.ndarray:
    x = float(np.clip(t, 0.0, 1.0)) * (len(table) - 1)
    i = min(int(x), len(table) - 2)
    return table[i] * (1 - (x - i)) + table[i + 1] * (x - i)


def _zc(y):
    """Depth of the face centre line at height y (without the nose)."""
    return np.interp(y, [-0.5, -0.38, -0.25, -0.1, 0.0, 0.15, 0.23, 0.3, 0.35, 0.39, 0.45],
                     [0.02, 0.16, 0.27, 0.30, 0.29, 0.31, 0.31, 0.295, 0.29, 0.26, 0.12])


def _face_depth(x, y, fw):
    """Depth of the face/skull surface at frontal position (x, y): centre line falling off
    toward the sides like an ellipse of half width ``wd(y)``."""
    wd = np.interp(y, [-0.5, -0.1, 0.1, 0.3, 0.45], [0.24, 0.31, 0.30, 0.24, 0.14]) * fw
    r = np.clip(1.0 - (np.asarray(x) / wd) ** 2, 0.0, 1.0)
    return _zc(y) * np.sqrt(r)


def _lift(xy: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Frontal-view positions [N, 2] + depths [N] -> 3D points [N, 3] that project back onto
    the same frontal positions at pose zero (undo the perspective)."""
    k = (_CAM_D - z) / (_CAM_D - _Z_REF)
    return np.column_stack([xy[:, 0] * k, xy[:, 1] * k, z])


def _on_face(xy: np.ndarray, fw: float, dz=0.0) -> np.ndarray:
    """Frontal positions [N, 2] placed on the face surface (plus offset ``dz``) -> [N, 3]."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return _lift(xy, _face_depth(xy[:, 0], xy[:, 1], fw) + dz)


def _catmull(ctrl: np.ndarray, per_seg: int) -> np.ndarray:
    """Uniform Catmull-Rom spline through control points [K, D] -> [(K-1)*per_seg+1, D]."""
    p = np.vstack([2 * ctrl[0] - ctrl[1], ctrl, 2 * ctrl[-1] - ctrl[-2]])
    t = np.linspace(0, 1, per_seg, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(ctrl[-1:])
    return np.vstack(out)


def _ellipse_pts(cx, cy, rx, ry, n=16, a0=0.0, a1=2 * math.pi):
    a = np.linspace(a0, a1, n, endpoint=(a1 - a0) < 2 * math.pi - 1e-6)
    return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a)])


# ----------------------------------------------------------------------------------------------
# Per-identity constants (derived once)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Derived:
    """Identity-derived constants: colours, static 3D shells and shape numbers."""

    fw: float                # head width factor (1 = average)
    skin: np.ndarray         # RGB float [3]
    lip: np.ndarray          # RGB float [3]
    iris: np.ndarray         # RGB float [3]
    hair: np.ndarray         # RGB float [3] (grey mixed in with age)
    brow: np.ndarray         # RGB float [3]
    style: str               # HAIR_STYLES entry
    beard: str               # FACIAL_HAIR entry
    skull: np.ndarray        # [K, 3] skull sample points (for the head outline)
    hair_shell: np.ndarray   # [K, 3] inflated skull points above the hair boundary
    hairline: np.ndarray     # [H, 3] front hairline curve, image left -> right
    ears: np.ndarray         # [2, E, 3] ear outlines
    long_hair: np.ndarray    # [2, L, 3] side curtains (empty if none)
    fringe: np.ndarray       # [F, 3] fringe polygon (empty if none)
    strands: np.ndarray      # [S, P, 3] hair strand polylines on the shell
    eye_off: np.ndarray      # [2] correction so neutral eye landmarks average to the eye centre


def _derive(idn: FaceIdentity) -> _Derived:
    fw = 1.0 + 0.10 * idn.face_width
    skin = _palette(_SKIN, idn.skin_tone).copy()
    skin += np.array([2.0, 6.0, -12.0]) * idn.skin_warmth   # + yellow/olive, - pink
    skin = np.clip(skin, 0, 255)
    lip = skin * 0.64 + np.array([196, 80, 92]) * 0.36
    lip = lip * (1 - 0.35 * idn.lip_redness) + np.array([176, 58, 70]) * 0.35 * idn.lip_redness
    lip = lip * (1.0 - 0.25 * max(idn.skin_tone - 0.5, 0))
    hair = _palette(_HAIR, idn.hair_tone)
    hair = hair * (1 - 0.6 * idn.hair_red) + _HAIR_RED * 0.6 * idn.hair_red
    grey = max(0.0, idn.age - 0.55) / 0.45
    hair = hair * (1 - 0.85 * grey) + _GREY * 0.85 * grey
    brow = hair * 0.6 + np.array([30, 24, 20]) * 0.4 if idn.hair_tone < 0.7 else hair * 0.75
    style = hair_style_name(idn)
    beard = facial_hair_name(idn)

    # skull: ellipsoid sample points (upper and side parts)
    ax, ay, az, yc, zc0 = 0.295 * fw, 0.40 + 0.015 * idn.face_length, 0.34, -0.05, -0.03
    th, ph = np.meshgrid(np.linspace(0.05, math.pi * 0.62, 9), np.linspace(0, 2 * math.pi, 20, endpoint=False))
    skull_u = np.column_stack([np.sin(th).ravel() * np.cos(ph).ravel(), -np.cos(th).ravel(),
                               np.sin(th).ravel() * np.sin(ph).ravel()])
    skull = skull_u * [ax, ay, az] + [0, yc, zc0]
    vol = 0.012 + 0.035 * idn.hair_volume
    if style == "curly":
        vol = 0.05 + 0.05 * idn.hair_volume
    elif style in ("buzz", "bald", "receding"):
        vol = 0.006
    shell = skull_u * [ax + vol, ay + vol * 0.9, az + vol] + [0, yc - vol * 0.3, zc0]
    if style == "bald":  # horseshoe: a ring around the back and sides, ear level and above
        keep = (shell[:, 1] > -0.19) & (shell[:, 1] < 0.04) & (shell[:, 2] < zc0 + 0.02)
    else:
        keep = shell[:, 1] < 0.02
    hair_shell = shell[keep]

    # front hairline (frontal design, image left -> right), on the skull surface
    hy = -0.27 - 0.045 * idn.forehead_height - (0.06 if style == "receding" else 0.0)
    hl_ctrl = np.array([[-0.275, -0.02], [-0.25, hy + 0.10], [-0.16, hy + 0.025], [0.0, hy],
                        [0.16, hy + 0.025], [0.25, hy + 0.10], [0.275, -0.02]]) * [fw, 1]
    if style == "receding":
        hl_ctrl[2, 1] -= 0.04
        hl_ctrl[4, 1] -= 0.04
        hl_ctrl[3, 1] += 0.02
    hl2 = _catmull(hl_ctrl, 4)
    hairline = _on_face(hl2, fw)

    # ears: outline around (±ax, ~eye..nose level) slightly behind the face surface
    es = 1.0 + 0.15 * idn.ear_size
    ears = []
    for s in (-1, 1):
        a = np.linspace(0, 2 * math.pi, 14, endpoint=False)
        ex = s * (0.282 * fw + 0.018 * es * (1 + np.cos(a)) * (1 + 0.5 * max(idn.ear_size, 0)))
        ey = _EYE_Y + 0.055 + 0.062 * es * np.sin(a) + 0.01
        ez = np.full_like(a, -0.005) - 0.02 * (1 + np.cos(a))
        ears.append(np.column_stack([ex, ey, ez]))
    ears = np.stack(ears)

    long_hair = np.zeros((0, 0, 3))
    if style in ("long", "long_fringe", "bob"):
        bottom = 0.62 if style != "bob" else 0.36
        curt = []
        for s in (-1, 1):
            outer = ax + vol + 0.02
            pts = np.array([[s * (ax * 0.55), yc - 0.12, zc0 - 0.02], [s * outer, yc + 0.05, -0.04],
                            [s * (outer + 0.012), 0.2, -0.06], [s * (outer + 0.03 + 0.02 * idn.hair_volume), bottom, -0.08],
                            [s * (ax - 0.10), bottom + 0.03, -0.04], [s * (ax - 0.14), 0.25, -0.06],
                            [s * (ax - 0.12), 0.05, -0.05]])
            curt.append(pts)
        long_hair = np.stack(curt)

    fringe = np.zeros((0, 3))
    if style in ("fringe", "long_fringe"):
        n = 11
        xs = np.linspace(-0.265, 0.265, n) * fw
        brow_y = _EYE_Y - 0.085 - 0.012 * idn.brow_height
        bottom = brow_y - 0.018 + 0.008 * np.cos(np.linspace(0, 6 * math.pi, n)) * (0.5 + idn.hair_volume)
        bottom = bottom - 0.05 * (np.abs(xs) / 0.27) ** 2
        bot = np.column_stack([xs, bottom])
        top = hl2[::-1].copy()
        top[:, 1] -= 0.01
        fringe = np.vstack([_on_face(bot, fw, dz=0.012 + vol * 0.4), _on_face(top, fw, dz=vol)])

    # strands: meridians of the hair shell from the crown to the hairline (they stay inside the
    # shell's outline), fanning out from the part
    strands = np.zeros((0, 0, 3))
    if style not in ("bald",):
        part_phi = math.pi / 2 - (idn.hair_part - 0.5) * 0.8
        lines = []
        for off in np.linspace(-1.25, 1.25, 11):
            phi = math.pi / 2 + off
            x_front = (ax + vol) * math.cos(phi)
            hyk = float(np.interp(x_front, hl2[:, 0], hl2[:, 1])) if abs(x_front) < 0.27 * fw else -0.02
            th_end = math.acos(float(np.clip((yc - hyk) / ay, -1, 1)))
            th = np.linspace(0.12, th_end, 6)
            ph = part_phi + (phi - part_phi) * np.clip(th / max(th_end, 1e-3), 0, 1) ** 0.5
            u3 = np.column_stack([np.sin(th) * np.cos(ph), -np.cos(th), np.sin(th) * np.sin(ph)])
            lines.append(u3 * [ax + vol * 0.8, ay + vol * 0.7, az + vol * 0.8] + [0, yc - vol * 0.3, zc0])
        strands = np.stack(lines)

    d = _Derived(fw, skin, lip, _palette(_IRIS, idn.iris_hue), hair, brow, style, beard,
                 skull, hair_shell, hairline, ears, long_hair, fringe, strands, np.zeros(2))
    # eye landmark mean correction at neutral motion (the lids are not symmetric in y)
    g = _geometry(idn, d, neutral_motion())
    eye = _Projector(neutral_motion(), 1)(np.vstack([g["eye_l"]["corner"], g["eye_l"]["upper"][[4, 8]],
                                                      g["eye_l"]["lower"][[8, 4]]]))
    d.eye_off = np.array([0.0, _EYE_Y - (eye[:, 1].mean() - HEAD_Y0)])
    return d


@functools.lru_cache(maxsize=64)
def _derive_cached(vec: bytes) -> tuple[FaceIdentity, _Derived]:
    """float32 identity vector -> (identity rebuilt from it, derived constants). Rendering always
    uses the float32-rounded identity, so ``from_vector(to_vector(x))`` renders identical bytes."""
    idn = FaceIdentity.from_vector(np.frombuffer(vec, dtype=np.float32))
    return idn, _derive(idn)


# ----------------------------------------------------------------------------------------------
# Per-frame geometry (frontal design + depth, before head pose)
# ----------------------------------------------------------------------------------------------


def _geometry(idn: FaceIdentity, d: _Derived, m: np.ndarray) -> dict:
    """All 3D point sets of one frame, deformed by the expression part of the motion."""
    g: dict = {}
    fw = d.fw
    jaw_open, mwidth, rnd, press, teeth, tongue, smile = (float(m[i]) for i in range(7))
    blink = (float(m[7]), float(m[8]))
    gx, gy, brow_r = float(m[9]), float(m[10]), float(m[11])
    drop = _JAW_OPEN * jaw_open

    # --- jaw contour (image left ear -> chin -> right ear): 33 dense points, every 2nd a landmark ---
    chin_y = 0.375 + 0.04 * idn.face_length
    wtop = 0.286 * fw
    cheek = 1.0 + 0.035 * idn.cheek_fullness + 0.01 * max(smile, 0)
    wg = (0.222 + 0.04 * idn.jaw_width) * fw                 # gonion half width
    yg = 0.235 + 0.5 * (chin_y - 0.375) - 0.012 * idn.jaw_square
    sq = 0.5 + 0.5 * idn.jaw_square                          # 0 round .. 1 angular jaw corner
    wc = 0.075 + 0.028 * idn.chin_width                      # chin half width
    right = np.array([
        [wtop, _EYE_Y + 0.01], [wtop * (0.985 + 0.015 * (cheek - 1) / 0.035), 0.07],
        [(wg + 0.035) * cheek * (0.7 + 0.3 * fw), 0.16], [wg, yg],
        [wc + 0.05 + 0.025 * sq, yg + 0.6 * (chin_y - yg) + 0.012 * sq], [wc, chin_y - 0.012],
        [wc * 0.45, chin_y - 0.002], [0.0, chin_y]])
    half = _catmull(right, 6)                                # ear -> chin, dense
    seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(half, axis=0), axis=1))]
    half = np.column_stack([np.interp(np.linspace(0, seg[-1], 17), seg, half[:, k]) for k in (0, 1)])  # [17, 2]
    dense = np.vstack([half * [-1, 1], half[::-1][1:]])      # [33, 2] left ear -> chin -> right ear
    z = _face_depth(dense[:, 0], dense[:, 1], fw) * 0.8
    z[16] = _zc(chin_y) * 0.97
    w = np.clip((dense[:, 1] - 0.06) / (chin_y - 0.06), 0, 1) ** 1.2   # how much each point follows the jaw
    dense = dense + np.column_stack([np.zeros(len(dense)), drop * 1.05 * w])
    g["jaw_dense"] = _lift(dense, z - 0.02 * w * jaw_open)
    g["jaw"] = g["jaw_dense"][::2]                           # [17, 3] landmarks 0-16

    # --- face shell for the outline: jaw + hairline/cheek points ---
    g["cheeks"] = _lift(np.array([[-0.27 * fw * cheek, 0.02], [0.27 * fw * cheek, 0.02]]),
                        np.array([0.10, 0.10]))

    # --- eyes ---
    es = 1.0 + 0.22 * idn.eye_size
    ew = 0.056 * (1 + 0.12 * idn.eye_size)
    hu = 0.022 * es * (1 + 0.25 * idn.eye_roundness)
    hl = 0.011 * es * (1 + 0.25 * idn.eye_roundness)
    ex = _EYE_X * (1 + 0.15 * idn.eye_spacing)
    ey = _EYE_Y - 0.02 * idn.eye_height + d.eye_off[1]
    u = np.linspace(-1, 1, 13)
    for k, s in enumerate((-1, 1)):
        b = min(max(blink[k], 0.0), 1.0)
        squint = 0.0035 * max(smile, 0)
        outer = u * s                                   # +1 at the outer corner
        tilt = -0.008 * idn.eye_tilt * outer
        low = hl * (1 - u * u) ** 0.8 * (1 - 0.35 * max(smile, 0)) - squint * (1 - u * u) + tilt
        up_open = -hu * (1 - u * u) ** 0.65 * (1 - 0.1 * outer) + tilt + 0.004 * gy * (1 - u * u)
        up = up_open * (1 - b) + (low - 0.0015) * b
        cx = s * ex
        xs = cx + ew * u
        e = {}
        e["upper"] = _on_face(np.column_stack([xs, ey + up]), fw, dz=0.004 * (1 - u * u))
        e["lower"] = _on_face(np.column_stack([xs, ey + low]), fw, dz=0.003 * (1 - u * u))
        e["corner"] = e["upper"][[0, 12]]
        # upper-lid cover (skin) reaching well above the lid, lower-lid cover below
        crease = ey - hu * 1.55 * (1 - u * u) ** 0.5 - 0.006 + tilt
        e["lid_top"] = _on_face(np.column_stack([xs, crease - 0.012]), fw)
        e["crease"] = _on_face(np.column_stack([xs, crease + 0.004 * (1 - u * u) + 0.01 * b]), fw)
        e["lid_bot"] = _on_face(np.column_stack([xs, ey + low + 0.026]), fw)
        ir = ew * 0.40 * (1 + 0.08 * idn.iris_size)
        icx, icy = cx + gx * ew * 0.38, ey + gy * hu * 0.45 - 0.0015
        e["iris"] = _on_face(_ellipse_pts(icx, icy, ir, ir, n=20), fw, dz=0.006)
        e["pupil"] = _on_face(_ellipse_pts(icx, icy, ir * 0.42, ir * 0.42, n=12), fw, dz=0.007)
        e["spec"] = _on_face(np.array([[icx - ir * 0.35, icy - ir * 0.35]]), fw, dz=0.008)
        e["open"] = 1.0 - b
        g["eye_l" if s < 0 else "eye_r"] = e

        # brow: centre line inner -> outer
        v = np.linspace(0, 1, 9)
        bx = s * (0.048 + 0.16 * v) * (1 + 0.06 * idn.eye_spacing)
        arch = 0.013 * (1 + idn.brow_arch) * np.exp(-((v - 0.6) / 0.33) ** 2)
        by = (ey - 0.068 - 0.02 * idn.brow_height - arch + 0.006 * (1 - v) ** 2
              - 0.01 * idn.brow_tilt * v - 0.016 * brow_r * (1 - 0.35 * v))
        if brow_r < 0:
            bx = bx + s * 0.01 * brow_r * (1 - v)
            by = by - 0.008 * brow_r * (1 - v)
        th = (0.008 + 0.011 * idn.brow_thickness) * (1.15 - 0.75 * v ** 1.5)
        cxy = np.column_stack([bx, by])
        g["brow_l" if s < 0 else "brow_r"] = {
            "top": _on_face(cxy - np.column_stack([0 * th, th * 0.55]), fw, dz=0.006),
            "bot": _on_face(cxy + np.column_stack([0 * th, th * 0.45]), fw, dz=0.006),
            "mark": _on_face(cxy - np.column_stack([0 * th, th * 0.2]), fw, dz=0.006)[[0, 2, 4, 6, 8]],
        }

    # --- nose ---
    tip_y = _NOSE_Y + 0.028 * idn.nose_length
    root_y = _EYE_Y + 0.004
    nw = 0.046 * (1 + 0.2 * idn.nose_width) * fw
    prot = 0.062 * (1 + 0.3 * idn.nose_bridge)
    t = np.linspace(0, 1, 4)
    bridge_xy = np.column_stack([np.zeros(4), root_y + (tip_y - root_y) * t])
    bridge_dz = 0.012 + (prot - 0.012) * t ** 1.4
    g["bridge"] = _lift(bridge_xy, _face_depth(0.0, bridge_xy[:, 1], fw) + bridge_dz)
    base_y = tip_y + 0.032 * (1 + 0.15 * idn.nose_length)
    sm = 0.004 * max(smile, 0)
    base_xy = np.array([[-nw, base_y - 0.008 - sm], [-nw * 0.45, base_y + 0.003], [0, base_y + 0.004],
                        [nw * 0.45, base_y + 0.003], [nw, base_y - 0.008 - sm]])
    g["nose_base"] = _on_face(base_xy, fw, dz=np.array([0.012, 0.03, 0.032, 0.03, 0.012]))
    nost = []
    for s in (-1, 1):
        nost.append(_on_face(_ellipse_pts(s * nw * 0.47, base_y - 0.005, 0.0125 * (1 + 0.15 * idn.nose_width),
                                          0.0055, n=12), fw, dz=0.03))
    g["nostrils"] = nost
    alae = []
    for s in (-1, 1):
        a = np.linspace(-0.55 * math.pi, 0.62 * math.pi, 9)
        pts = np.column_stack([s * (nw * 0.78 + 0.017 * np.cos(a)), base_y - 0.013 - sm + 0.017 * np.sin(a)])
        alae.append(_on_face(pts, fw, dz=0.02))
    g["alae"] = alae
    # nose side edges (for the profile line when the head turns): bridge offset to each side
    sides = []
    for s in (-1, 1):
        xy = np.column_stack([np.full(4, s * 0.014) * (0.6 + 0.6 * t), bridge_xy[:, 1]])
        sides.append(_lift(xy, _face_depth(0.0, xy[:, 1], fw) + bridge_dz * 0.75))
    g["nose_sides"] = sides
    g["tip_ball"] = _on_face(np.array([[0.0, tip_y - 0.004]]), fw, dz=prot)

    # --- mouth ---
    hw = _MOUTH_HW * (1 + 0.18 * idn.mouth_size) * (1 + 0.16 * mwidth - 0.27 * rnd + 0.10 * smile) * (0.5 + 0.5 * fw)
    tt = np.linspace(-1, 1, 13)
    corner_up = 0.016 * smile
    centre = _MOUTH_Y - 0.015 * idn.mouth_height - corner_up * tt ** 2 + 0.004 * max(smile, 0)
    open_ = drop * (1 - press) * (1 + 0.25 * rnd)
    # opening profile along the mouth: a lens when spread, an ellipse ("O") when rounded
    prof = np.clip(1 - tt * tt, 0, 1) ** (0.75 - 0.25 * rnd)
    up_lift = (0.12 * open_ + 0.010 * teeth + 0.003 * max(smile, 0)) * (1 - press)
    lo_drop = (open_ + 0.006 * teeth * (1 - jaw_open)) * (1 - press)
    in_hw = hw * (0.9 - 0.15 * rnd)
    x_in = tt * in_hw
    up_in = centre - up_lift * prof
    lo_in = centre + lo_drop * prof
    tu = 0.020 * (0.55 + 0.9 * idn.lip_upper) * (1 - 0.5 * press) * (1 + 0.35 * rnd)
    tl = 0.025 * (0.55 + 0.9 * idn.lip_lower) * (1 - 0.45 * press) * (1 + 0.35 * rnd) * (1 - 0.15 * jaw_open)
    bow = (1 - tt * tt) ** 0.55 * (1 - 0.22 * np.exp(-(tt / 0.13) ** 2)) + 0.05 * np.exp(-((np.abs(tt) - 0.3) / 0.15) ** 2)
    x_out = tt * hw
    up_out = np.interp(x_out, x_in, up_in) - tu * bow
    lo_out = np.interp(x_out, x_in, lo_in) + tl * (1 - tt * tt) ** 0.5
    lo_out[[0, -1]] = centre[[0, -1]]
    up_out[[0, -1]] = centre[[0, -1]]
    protr = 0.012 + 0.03 * rnd
    lip_dz = protr * (1 - tt * tt) ** 0.5 + 0.004
    jaw_w = np.clip(drop * 0.8 / max(_JAW_OPEN, 1e-6), 0, 1)
    g["lip_up_out"] = _on_face(np.column_stack([x_out, up_out]), fw, dz=lip_dz)
    g["lip_up_in"] = _on_face(np.column_stack([x_in, up_in]), fw, dz=lip_dz * 0.9)
    g["lip_lo_in"] = _on_face(np.column_stack([x_in, lo_in]), fw, dz=lip_dz * 0.9 - 0.01 * jaw_w)
    g["lip_lo_out"] = _on_face(np.column_stack([x_out, lo_out]), fw, dz=lip_dz - 0.012 * jaw_w)
    # teeth and tongue, clipped to the opening column by column. The upper teeth are a band with
    # an almost straight biting edge under the upper lip; lower teeth show only with ``teeth``.
    gap = lo_in - up_in
    teeth_h = 0.012 + 0.006 * teeth
    edge_up = up_in[6] + teeth_h - 0.008 * tt * tt                       # biting edge
    up_teeth_b = np.clip(edge_up, up_in, lo_in)
    edge_lo = lo_in[6] - teeth_h * 0.9 * max(teeth - 0.25, 0.0) + 0.008 * tt * tt
    lo_teeth_t = np.clip(np.maximum(edge_lo, up_teeth_b + 0.003), up_in, lo_in)
    # tongue: the floor of the open mouth always shows a little; ``tongue`` raises it forward
    tng_h = 0.2 * gap + (0.015 + 0.02 * tongue) * tongue * (1 - tt * tt) ** 0.6
    tng_t = lo_in - np.minimum(gap * 0.95, tng_h)
    tw = 0.86
    xt = x_in * tw

    def band(top, bot):
        return np.vstack([np.column_stack([xt, top]), np.column_stack([xt, bot])[::-1]])

    g["teeth_up"] = _on_face(band(up_in, up_teeth_b), fw, dz=0.0)
    g["teeth_up_front"] = _on_face(band(up_in, up_teeth_b)[np.r_[4:9, 17:22]], fw, dz=0.0)  # incisors
    g["teeth_lo"] = _on_face(band(lo_teeth_t, lo_in), fw, dz=-0.004)
    g["tongue"] = _on_face(np.vstack([np.column_stack([x_in * 0.85, tng_t]),
                                      np.column_stack([x_in * 0.85, lo_in])[::-1]]), fw, dz=-0.006)
    g["mouth_open"] = float(np.max(gap))

    # --- facial hair ---
    if d.beard in ("stubble", "beard"):
        jx = dense[3:30].copy()
        if d.beard == "beard":  # volume below the jaw line
            jx[:, 1] += 0.014 * np.clip(jx[:, 1] / 0.3, 0, 1)
            jx[:, 0] *= 1.03
        cheek_line = np.array([[0.274 * fw, 0.0], [0.255 * fw, 0.10], [0.19 * fw, 0.165], [hw + 0.026, centre[-1] - 0.012],
                               [hw * 0.55, base_y + 0.014], [-hw * 0.55, base_y + 0.014],
                               [-hw - 0.026, centre[0] - 0.012], [-0.19 * fw, 0.165], [-0.255 * fw, 0.10], [-0.274 * fw, 0.0]])
        g["beard"] = _on_face(np.vstack([jx, cheek_line]), fw, dz=0.008)
    elif d.beard == "goatee":
        # rounded chin patch, separated from the lower lip by a strip of skin
        top_x = np.linspace(-hw * 0.75, hw * 0.75, 7)
        top = np.column_stack([top_x, np.interp(top_x, x_out, lo_out) + 0.012 + 0.01 * (top_x / hw) ** 2])
        sel = (np.abs(dense[:, 0]) < hw * 1.05) & (dense[:, 1] > 0.2)
        chin_pts = dense[sel]
        chin_pts = chin_pts[np.argsort(-chin_pts[:, 0])] + [0, 0.006]
        g["beard"] = _on_face(np.vstack([top, chin_pts]), fw, dz=0.008)
    if d.beard in ("moustache", "beard", "goatee"):
        # bottom edge: just over the upper lip, drooping past the corners; top: mid-philtrum
        bx = np.linspace(-hw - 0.012, hw + 0.012, 11)
        lip_top = np.interp(bx, x_out, up_out)
        v = bx / (hw + 0.012)
        bot = np.column_stack([bx, lip_top - 0.005 + 0.014 * np.abs(v) ** 4])   # the lip stays visible
        top = np.column_stack([bx * 0.97, lip_top - 0.018 * (1 - 0.55 * v * v) - 0.004 * idn.hair_volume])
        top[:, 1] = np.maximum(top[:, 1], base_y + 0.008)
        g["moustache"] = _on_face(np.vstack([top, bot[::-1]]), fw, dz=0.016)

    # --- misc shading anchors ---
    g["chin_pt"] = g["jaw"][8:9]
    g["cheek_hl"] = _on_face(np.array([[-0.14 * fw, 0.055 - 0.02 * max(smile, 0)], [0.14 * fw, 0.055 - 0.02 * max(smile, 0)]]), fw)
    g["fold"] = [
        _on_face(np.array([[s * (nw + 0.008), base_y - 0.012], [s * (nw + 0.022 + 0.008 * max(smile, 0)), _NOSE_Y + 0.07],
                           [s * (hw + 0.012 + 0.006 * max(smile, 0)), centre[0] + 0.012]]), fw)
        for s in (-1, 1)]
    g["under_lip"] = _on_face(np.array([[0.0, float(lo_out[6]) + 0.012]]), fw)
    g["forehead_lines"] = [
        _on_face(np.column_stack([np.linspace(-0.12, 0.12, 7), np.full(7, _EYE_Y - 0.125 - 0.024 * k - 0.01 * brow_r)
                                  - 0.006 * np.cos(np.linspace(-1.5, 1.5, 7))]), fw)
        for k in range(3)]
    g["crows"] = [_on_face(np.array([[s * (ex + ew + 0.006), ey + dy * 0.5], [s * (ex + ew + 0.026), ey + dy * 1.7]]), fw)
                  for s in (-1, 1) for dy in (-0.008, 0.0, 0.008)]
    g["bags"] = [_on_face(np.column_stack([s * ex + ew * 0.9 * np.linspace(-0.8, 0.8, 5),
                                           ey + hl + 0.016 + 0.004 * (1 - np.linspace(-1, 1, 5) ** 2)]), fw)
                 for s in (-1, 1)]
    g["head_c"] = np.array([[0.0, 0.0, 0.0]])
    return g


# ----------------------------------------------------------------------------------------------
# Pose and projection
# ----------------------------------------------------------------------------------------------


def _rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """[3, 3] rotation: yaw about y (nose toward +x), pitch about x (nose down), roll about z
    (clockwise in the image, y pointing down)."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class _Projector:
    """Head-coordinate 3D points -> pixel coordinates for one frame's pose."""

    def __init__(self, m: np.ndarray, size: int, partial: float = 1.0):
        i = MOTION_INDEX
        self.rot = _rotation(m[i["yaw"]] * partial, m[i["pitch"]] * partial, m[i["roll"]] * partial)
        self.scale = float(m[i["scale"]])
        self.t = np.array([0.5 + m[i["tx"]], HEAD_Y0 + m[i["ty"]]])
        self.size = size

    def __call__(self, p: np.ndarray) -> np.ndarray:
        q = (np.asarray(p).reshape(-1, 3) - _PIVOT) @ self.rot.T + _PIVOT
        k = (_CAM_D - _Z_REF) / (_CAM_D - q[:, 2:3])
        xy = q[:, :2] * k
        xy = _PIVOT[:2] + self.scale * (xy - _PIVOT[:2])
        return (xy + self.t) * self.size


def _project_all(g: dict, proj: _Projector) -> dict:
    """Project every array in the (nested) geometry dict in one matrix product."""
    arrays, keys = [], []

    def walk(obj, path):
        if isinstance(obj, np.ndarray) and obj.ndim >= 2 and obj.shape[-1] == 3:
            keys.append((path, obj.shape))
            arrays.append(obj.reshape(-1, 3))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + (k,))
        elif isinstance(obj, list):
            for k, v in enumerate(obj):
                walk(v, path + (k,))

    walk(g, ())
    flat = proj(np.vstack(arrays))
    out: dict = {}
    pos = 0
    for (path, shape), a in zip(keys, arrays):
        n = a.shape[0]
        val = flat[pos:pos + n].reshape(shape[:-1] + (2,))
        pos += n
        node = out
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = val

    def listify(node):
        if isinstance(node, dict):
            node = {k: listify(v) for k, v in node.items()}
            if node and all(isinstance(k, int) for k in node):
                return [node[k] for k in sorted(node)]
        return node

    return listify(out)


def _landmarks(p: dict) -> np.ndarray:
    """68 iBUG landmarks [68, 2] from projected geometry."""
    lm = np.zeros((68, 2), dtype=np.float64)
    lm[0:17] = p["jaw"]
    lm[17:22] = p["brow_l"]["mark"][::-1]
    lm[22:27] = p["brow_r"]["mark"]
    lm[27:31] = p["bridge"]
    lm[31:36] = p["nose_base"]
    for base, key in ((36, "eye_l"), (42, "eye_r")):
        e = p[key]
        lm[base + 0] = e["upper"][0]
        lm[base + 1] = e["upper"][4]
        lm[base + 2] = e["upper"][8]
        lm[base + 3] = e["upper"][12]
        lm[base + 4] = e["lower"][8]
        lm[base + 5] = e["lower"][4]
    uo, lo, ui, li = p["lip_up_out"], p["lip_lo_out"], p["lip_up_in"], p["lip_lo_in"]
    lm[48] = uo[0]
    lm[49:54] = uo[[2, 4, 6, 8, 10]]
    lm[54] = uo[12]
    lm[55:60] = lo[[10, 8, 6, 4, 2]]
    lm[60] = ui[0]
    lm[61:64] = ui[[4, 6, 8]]
    lm[64] = ui[12]
    lm[65:68] = li[[8, 6, 4]]
    return lm.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Drawing
# ----------------------------------------------------------------------------------------------

_SHIFT = 4
_ONE = 1 << _SHIFT


def _ip(pts: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> int32 fixed point for OpenCV's ``shift`` argument."""
    return np.round(np.asarray(pts) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _col(c) -> tuple:
    return tuple(float(x) for x in np.clip(c, 0, 255))


def _fill(img, pts, color):
    cv2.fillPoly(img, [_ip(pts)], _col(color) if img.ndim == 3 else color, cv2.LINE_AA, _SHIFT)


def _line(img, pts, color, thick, closed=False):
    cv2.polylines(img, [_ip(pts)], closed, _col(color) if img.ndim == 3 else color,
                  max(1, int(round(thick))), cv2.LINE_AA, _SHIFT)


def _soft_fill(img, pts, color, alpha: float, sigma: float):
    """Blend a polygon with soft (Gaussian) edges into ``img`` [S, S, 3] uint8, in place.
    alpha: opacity inside the polygon; sigma: edge softness in pixels."""
    S = img.shape[0]
    pad = int(3 * sigma) + 2
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, S), min(y1, S)
    if x1 <= x0 or y1 <= y0:
        return
    a = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(a, [_ip(pts - [x0, y0])], float(alpha), cv2.LINE_AA, _SHIFT)
    a = cv2.GaussianBlur(a, (0, 0), max(sigma, 0.3))[:, :, None]
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (roi + (np.asarray(color, np.float32) - roi) * a).astype(np.uint8)


def _hull(pts):
    return cv2.convexHull(np.asarray(pts, dtype=np.float32).reshape(-1, 2)).reshape(-1, 2)


@functools.lru_cache(maxsize=16)
def _background(size: int, top: tuple, bottom: tuple) -> np.ndarray:
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    bg = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    # soft vignette
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    v = 1.0 - 0.35 * (xx * xx + yy * yy)
    return np.clip(bg * v[:, :, None], 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def _sphere_tex(lx: float, ly: float, ambient: float, g: int = 64) -> np.ndarray:
    """Lambert shading of a unit sphere on a [-1.25, 1.25]² grid -> float32 [g, g]; outside the
    disc the rim normal is used and the value relaxes toward 1."""
    c = (np.arange(g, dtype=np.float32) + 0.5) / g * 2.5 - 1.25
    u, v = np.meshgrid(c, c)
    r = np.sqrt(u * u + v * v)
    rc = np.minimum(r, 1.0)
    nz = np.sqrt(np.maximum(1 - rc * rc, 0))
    nx, ny = u / np.maximum(r, 1e-6) * rc, v / np.maximum(r, 1e-6) * rc
    ll = np.array([lx, ly, 1.0])
    ll /= np.linalg.norm(ll)
    lam = np.maximum(nx * ll[0] + ny * ll[1] + nz * ll[2], 0)
    sh = ambient + (1 - ambient) * lam + 0.06 * nz
    sh = sh / (ambient + (1 - ambient) * ll[2] + 0.06)
    sh = sh * 1.02
    return sh.astype(np.float32)


def render_face(identity: FaceIdentity, motion, size: int = 256, scene: Scene | None = None):
    """Render one frame.

    identity: the person; motion: float [len(MOTION_FIELDS)] (clipped to ``MOTION_RANGES``);
    size: crop side in px; scene: background/clothes/light (default :class:`Scene`).
    Returns (rgb uint8 [size, size, 3], landmarks float32 [68, 2] in pixels).
    """
    idn, d = _derive_cached(identity.to_vector().tobytes())
    return _render(idn, d, clip_motion(motion), size, scene or Scene())


def render_clip(identity: FaceIdentity, motions, size: int = 256, scene: Scene | None = None):
    """Render a clip: motions float [T, M] -> (frames uint8 [T, S, S, 3], landmarks float32 [T, 68, 2])."""
    motions = clip_motion(np.asarray(motions, dtype=np.float32).reshape(-1, len(MOTION_FIELDS)))
    idn, d = _derive_cached(identity.to_vector().tobytes())
    scene = scene or Scene()
    frames = np.empty((len(motions), size, size, 3), dtype=np.uint8)
    lms = np.empty((len(motions), 68, 2), dtype=np.float32)
    for t, m in enumerate(motions):
        frames[t], lms[t] = _render(idn, d, m, size, scene)
    return frames, lms


def mouth_opening(landmarks) -> np.ndarray:
    """Inner-lip opening in pixels: distance between landmarks 62 and 66. [..., 68, 2] -> [...]."""
    lm = np.asarray(landmarks, dtype=np.float32)
    return np.linalg.norm(lm[..., INNER_LIP_UPPER, :] - lm[..., INNER_LIP_LOWER, :], axis=-1)


def _render(idn: FaceIdentity, d: _Derived, m: np.ndarray, size: int, scene: Scene):
    S = size
    proj = _Projector(m, S)
    g = _geometry(idn, d, m)
    g["skull"] = d.skull
    g["hair_shell"] = d.hair_shell
    g["hairline"] = d.hairline
    g["ears"] = d.ears
    if d.long_hair.size:
        g["long_hair"] = d.long_hair
    if d.fringe.size:
        g["fringe"] = d.fringe
    if d.strands.size:
        g["strands"] = d.strands
    p = _project_all(g, proj)
    neck_proj = _Projector(m, S, partial=0.35)
    lw = S / 256.0  # line width unit

    img = _background(S, tuple(scene.bg_top), tuple(scene.bg_bottom)).copy()
    mask = np.zeros((S, S), np.uint8)           # where the luminance map applies (the person)
    H = S // 2
    shade = cv2.warpAffine(_sphere_tex(scene.light_x, scene.light_y, scene.ambient), _sphere_affine(p, d, proj, H),
                           (H, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    hs = 0.5  # full-res px -> shade px

    skin, hair = d.skin, d.hair

    # --- long hair behind everything ---
    if "long_hair" in p:
        for c in p["long_hair"]:
            _fill(img, _catmull(c, 3), hair * 0.82)
            _fill(mask, _catmull(c, 3), 255)

    # --- neck and shoulders (follow the head partly) ---
    nw = 0.125 * (1 + 0.15 * idn.neck_width) * d.fw
    neck = np.array([[-nw, 0.18, 0.0], [-nw * 1.02, 0.40, 0.0], [-nw * 1.3, 0.46, 0.0], [-0.36, 0.50, 0.0],
                     [-0.52, 0.58, 0.0], [-0.6, 0.8, 0.0], [0.6, 0.8, 0.0], [0.52, 0.58, 0.0], [0.36, 0.50, 0.0],
                     [nw * 1.3, 0.46, 0.0], [nw * 1.02, 0.40, 0.0], [nw, 0.18, 0.0]])
    neck_p = neck_proj(neck)
    _fill(img, neck_p, skin * 0.93)
    _fill(mask, neck_p, 255)
    shirt = np.array([[-0.6, 0.8, 0], [-0.52, 0.585, 0], [-0.36, 0.515, 0], [-nw * 1.25, 0.48, 0], [0, 0.545, 0],
                      [nw * 1.25, 0.48, 0], [0.36, 0.515, 0], [0.52, 0.585, 0], [0.6, 0.8, 0]], dtype=np.float64)
    shirt_p = neck_proj(shirt)
    _fill(img, shirt_p, scene.clothing)
    _line(img, shirt_p[2:7], np.asarray(scene.clothing) * 0.7, 1.5 * lw)

    # --- hair volume behind the face ---
    head_hull = _hull(np.vstack([p["skull"], p["jaw_dense"]]))
    if d.style != "bald":
        hull = _hull(np.vstack([p["hair_shell"], p["hairline"]]))
        if d.style == "curly":
            c = hull.mean(0)
            for q in hull[::2]:
                cv2.circle(img, tuple(int(v) for v in _ip(q * 0.97 + c * 0.03).ravel()), int(0.03 * S * _ONE),
                           _col(hair), -1, cv2.LINE_AA, _SHIFT)
                cv2.circle(mask, tuple(int(v) for v in _ip(q * 0.97 + c * 0.03).ravel()), int(0.03 * S * _ONE),
                           255, -1, cv2.LINE_AA, _SHIFT)
        _fill(img, hull, hair)
        _fill(mask, hull, 255)
        if d.style in ("buzz", "receding"):
            _fill(img, hull, hair * 0.55 + skin * 0.45)

    if "strands" in p:  # drawn before the face, so the forehead hides anything below the hairline
        for i, st in enumerate(p["strands"]):
            _line(img, st, hair * (0.78 if i % 2 else 1.18) + (0 if i % 2 else 10), 1.0 * lw)

    # --- ears (hidden behind the face when turned away) ---
    for e in p["ears"]:
        _fill(img, e, skin * 0.95)
        _fill(mask, e, 255)
        c = e.mean(0)
        _line(img, (e - c) * 0.6 + c, skin * 0.78, 1.2 * lw, closed=False)

    # --- face skin ---
    if d.style == "bald":
        # whole skull in skin, the hair ring over it, then the front of the head over the ring
        _fill(img, head_hull, skin)
        _fill(mask, head_hull, 255)
        ring = _hull(p["hair_shell"])
        _fill(img, ring, hair * 0.7 + skin * 0.3)
        front = p["skull"][d.skull[:, 2] > -0.03]
        face = _hull(np.vstack([front, p["jaw_dense"], p["cheeks"]]))
    else:
        face = _hull(np.vstack([p["jaw_dense"], p["hairline"], p["cheeks"]]))
    _fill(img, face, skin)
    _fill(mask, face, 255)

    # blush: soft reddish patches on the cheeks
    if idn.blush > 0.05:
        for q in p["cheek_hl"]:
            _soft_fill(img, _ellipse_pts(q[0], q[1] + 0.015 * S, 0.042 * S, 0.03 * S, n=12),
                       skin * np.array([1.0, 0.80, 0.82]), 0.45 * idn.blush, 0.02 * S)

    # --- facial hair base ---
    if "beard" in p:
        if d.beard == "stubble":
            _soft_fill(img, p["beard"], hair * 0.5 + skin * 0.5, 0.35 + 0.2 * (1 - idn.hair_tone), 0.012 * S)
        else:
            _soft_fill(img, p["beard"], hair * 0.92, 0.95, 0.006 * S)
            # trimmed around the lips: a soft margin of skin keeps the mouth readable
            lips = np.vstack([p["lip_up_out"], p["lip_lo_out"][::-1]])
            c = lips.mean(0)
            _soft_fill(img, (lips - c) * [1.3, 1.8] + c + [0, 0.008 * S], skin * 0.9, 0.9, 0.008 * S)

    # --- shading map: shadows (negative) and highlights (positive), half resolution ---
    def sh_line(pts, v, w):
        _line(shade, pts * hs, float(v), w * lw * hs)

    def sh_ell(c, rx, ry, v):
        cv2.ellipse(shade, tuple(int(x) for x in _ip(c * hs).ravel()), (max(int(rx * hs * _ONE), 1), max(int(ry * hs * _ONE), 1)),
                    float(m[MOTION_INDEX["roll"]]), 0, 360, float(v), -1, cv2.LINE_AA, _SHIFT)

    base_shade = float(shade[int(min(max(p["tip_ball"][0, 1] * hs, 0), H - 1)), int(min(max(p["tip_ball"][0, 0] * hs, 0), H - 1))])
    for k in ("eye_l", "eye_r"):  # eye sockets
        c = p[k]["upper"][6]
        sh_ell(c + [0, -0.008 * S], 0.062 * S, 0.036 * S, base_shade * 0.88)
    for f in p["fold"]:
        sh_line(f, base_shade * (0.86 - 0.08 * idn.age - 0.06 * max(float(m[6]), 0)), 3.0)
    yawv = float(m[MOTION_INDEX["yaw"]]) / 25.0
    for s, side in zip((-1, 1), p["nose_sides"]):
        far = max(0.0, s * yawv)
        away = 0.5 - 0.5 * s * np.sign(scene.light_x)  # 1 on the side away from the light
        sh_line(side, base_shade * (0.84 - 0.1 * away - 0.12 * far), 3.0 + 2 * far)
    sh_line(p["bridge"][:3], base_shade * 1.10, 2.0)
    sh_line(np.vstack([p["alae"][0][-3:], p["nose_base"][1:4], p["alae"][1][-3:][::-1]]), base_shade * 0.84, 2.0)
    sh_ell(p["tip_ball"][0], 0.016 * S, 0.013 * S, base_shade * 1.08)
    nb = p["nose_base"]
    sh_ell(nb[2] + [0, 0.012 * S], 0.04 * S, 0.012 * S, base_shade * 0.80)
    sh_ell(p["under_lip"][0], 0.045 * S, 0.011 * S, base_shade * 0.86)
    for q in p["cheek_hl"]:
        sh_ell(q, 0.045 * S, 0.03 * S, base_shade * (1.06 + 0.03 * max(float(m[6]), 0)))
    chin = p["chin_pt"][0]
    sh_ell(chin + [0, 0.045 * S], 0.13 * S, 0.05 * S, 0.55)
    if d.style not in ("bald",):
        sh_line(p["hairline"][2:-2], base_shade * 0.86, 5.0)
    if idn.age > 0.35:
        for b in p["bags"]:
            sh_line(b, base_shade * (1 - 0.15 * (idn.age - 0.35)), 2.0)

    # --- eyes ---
    for k in ("eye_l", "eye_r"):
        e = p[k]
        e_open = g[k]["open"]
        up, lo = e["upper"], e["lower"]
        opening = np.vstack([up, lo[::-1]])
        if e_open > 0.04:
            _fill(img, opening, np.array([236, 230, 224]) * (0.92 + 0.04 * (1 - idn.age)))
            _fill(img, e["iris"], d.iris)
            _line(img, e["iris"], d.iris * 0.55, 1.0 * lw, closed=True)
            _fill(img, e["pupil"], (16, 12, 12))
        lid_up = np.vstack([up, e["lid_top"][::-1]])
        lid_lo = np.vstack([lo, e["lid_bot"][::-1]])
        _fill(img, lid_up, skin * 0.95)
        _fill(img, lid_lo, skin)
        _line(img, e["crease"][2:11], skin * 0.8, 1.0 * lw)
        lash = d.brow * 0.35 + np.array([10, 8, 8])
        _line(img, up, lash, 2.0 * lw)
        _line(img, lo[2:11], skin * 0.72, 1.0 * lw)
        if e_open > 0.45:
            cv2.circle(img, tuple(int(v) for v in _ip(e["spec"][0]).ravel()), int(0.006 * S * _ONE),
                       (250, 250, 250), -1, cv2.LINE_AA, _SHIFT)
        sh_line(up, base_shade * 0.85, 2.0)
    if idn.age > 0.45:
        for c in p["crows"]:
            _line(img, c, skin * (1 - 0.2 * (idn.age - 0.45)), 1.0 * lw)
        for fl in p["forehead_lines"]:
            _line(img, fl, skin * (1 - 0.22 * (idn.age - 0.45)), 1.0 * lw)

    # --- brows ---
    for k in ("brow_l", "brow_r"):
        b = p[k]
        _fill(img, np.vstack([b["top"], b["bot"][::-1]]), d.brow)

    # --- nose ---
    for a in p["alae"]:
        _line(img, a, skin * 0.74, 1.3 * lw)
    for n in p["nostrils"]:
        _fill(img, n, skin * 0.28 + np.array([20, 8, 8]))
    if abs(yawv) > 0.15:  # nose profile against the cheek on the side it points to
        side = p["nose_sides"][1 if yawv > 0 else 0]
        _line(img, np.vstack([side, p["nose_base"][4 if yawv > 0 else 0]]), skin * (0.9 - 0.12 * abs(yawv)), 1.2 * lw)

    # --- mouth ---
    ui, li, uo, lo = p["lip_up_in"], p["lip_lo_in"], p["lip_up_out"], p["lip_lo_out"]
    if g["mouth_open"] > 0.0015:
        _fill(img, np.vstack([ui, li[::-1]]), (52, 18, 20))
        tg = float(m[MOTION_INDEX["tongue"]])
        _fill(img, p["tongue"], np.array([112, 46, 54]) * (1 - tg) + np.array([182, 86, 94]) * tg)
        _fill(img, p["teeth_up"], (176, 168, 156))
        _fill(img, p["teeth_up_front"], (222, 214, 198))
        _fill(img, p["teeth_lo"], (188, 180, 166))
    _fill(img, np.vstack([uo, ui[::-1]]), d.lip * 0.9)
    _fill(img, np.vstack([li, lo[::-1]]), d.lip)
    _line(img, ui[1:12] if g["mouth_open"] > 0.0015 else ui, d.lip * 0.45, 1.2 * lw)
    for k in (0, 12):
        _line(img, np.vstack([uo[k], ui[k]]), d.lip * 0.5, 1.0 * lw)
    sh_ell(lo[6] + (ui[6] - lo[6]) * 0.35, 0.028 * S, 0.007 * S, base_shade * 1.12)   # lower-lip highlight
    if "moustache" in p:
        _soft_fill(img, p["moustache"], hair * 0.85, 0.85, 0.005 * S)

    # --- hair in front ---
    if "fringe" in p:
        _fill(img, p["fringe"], hair)

    # --- apply shading ---
    shade = cv2.GaussianBlur(shade, (0, 0), 0.012 * S * hs + 0.5)
    lum = cv2.resize(shade, (S, S), interpolation=cv2.INTER_LINEAR)
    # luminance in fixed point (128 = 1.0), only where the person is
    lum8 = np.clip((lum - 1.0) * mask.astype(np.float32) * (128.0 / 255.0) + 128.0, 0, 255).astype(np.uint8)
    img = cv2.multiply(img, cv2.merge([lum8, lum8, lum8]), scale=1.0 / 128.0)
    lm = _landmarks(p)
    return img, lm


def _sphere_affine(p: dict, d: _Derived, proj: _Projector, H: int) -> np.ndarray:
    """Affine map of the sphere texture onto the projected head ellipse (half resolution)."""
    c = proj(np.array([[0.0, 0.05, 0.0]]))[0] * (H / proj.size)
    A = 0.31 * d.fw * proj.scale * H
    B = 0.48 * proj.scale * H
    r = math.radians(math.degrees(math.atan2(proj.rot[1, 0], proj.rot[0, 0])))
    R = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    g = 64
    K = R @ np.diag([A, B]) * (2.5 / g)
    off = c + R @ np.diag([A, B]) @ np.array([-1.25 + 1.25 / g, -1.25 + 1.25 / g])
    return np.hstack([K, off[:, None]]).astype(np.float64)
