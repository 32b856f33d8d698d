"""Face alignment and paste-back for the HRTF stage (arXiv 2510.26819 stage 2 works on aligned
crops; this is our glue for arbitrary portraits and photos).

* :func:`align_face`: any photo (any size; RGB, RGBA or grey; uint8 or float) -> the canonical
  aligned crop (data/canonical.py: CANONICAL_5 by a similarity transform) + a :class:`FaceTransform`.
  Landmarks come from MediaPipe face mesh (0.10.21, offline) with dlib as fallback
  (data/face_tracker.py), or, for images that are already aligned crops, from the known canonical
  layout (``mode="canonical"``).
* :func:`paste_back` / :class:`FacePaster` (the same, chunk by chunk): rendered crops -> composited into the original image size: the crops are
  warped back with the inverse transform, colour-matched to the original under the face (one
  affine colour map for the whole clip, so no flicker), and blended through a feathered elliptic
  face mask. Pixels where the mask is 0 are returned bit-exactly unchanged — no visible box.
* :func:`seam_metrics`: how visible the blend boundary is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from .canonical import CANONICAL_SIZE, alignment_transform, apply_transform, invert_transform, landmarks68_to_5


MAX_SIDE = 32766  # OpenCV's warps (and MediaPipe's, which abort the process) need sides < 32767 px
DETECT_MAX_SIDE = 4096  # detection runs on a copy at most this long (a thin strip is not upscaled past it)


class FaceNotFound(ValueError):
    """No face was detected in the image."""


@dataclass
class FaceTransform:
    """Where an aligned crop came from (socket STS_FACE_TRANSFORM)."""

    matrix: list[list[float]]  # [2,3] original image -> crop pixels (cv2.warpAffine convention)
    crop_size: int  # side of the aligned crop in pixels
    image_size: tuple[int, int]  # (height, width) of the original image
    method: str  # "mediapipe" | "dlib" | "canonical"
    landmarks: list[list[float]] | None = None  # [68,2] in crop pixels (None for "canonical")
    extra: dict = field(default_factory=dict)

    @property
    def m(self) -> np.ndarray:
        return np.asarray(self.matrix, np.float64)

    def to_dict(self) -> dict:
        return asdict(self)


def _numpy(x) -> np.ndarray:
    """numpy array of an array or torch tensor (half/bfloat16 tensors as float32)."""
    if hasattr(x, "detach"):
        t = x.detach().cpu()
        return (t.float() if t.is_floating_point() else t).numpy()
    return np.asarray(x)


def to_rgb_float(img) -> np.ndarray:
    """Any image array [H,W], [H,W,1], [H,W,3] or [H,W,4] (uint8 or float 0..1, numpy or torch)
    -> float32 [H,W,3] in 0..1. RGBA is composited over mid-grey (transparent = background)."""
    a = _numpy(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or min(a.shape[:2]) < 8 or max(a.shape[:2]) > MAX_SIDE:
        raise ValueError(f"expected an image [H,W] or [H,W,1|3|4] of 8 to {MAX_SIDE} px per side, got shape {a.shape}")
    if a.dtype == np.uint8:
        a = a.astype(np.float32)
        a /= 255.0
    else:
        a = np.array(a, np.float32)  # a private copy, so the clip below works in place (large photos)
    if not np.isfinite(a).all():
        raise ValueError("image contains NaN or Inf values")
    np.clip(a, 0.0, 1.0, out=a)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[..., 3:4]
        a = a[..., :3] * alpha + 0.5 * (1 - alpha)
    return np.ascontiguousarray(a)


_TRACKERS: dict[str, object] = {}


def _tracker(name: str):
    """Cached static-image landmarker (MediaPipe in image mode, or dlib)."""
    if name not in _TRACKERS:
        from .face_tracker import DlibTracker, MediaPipeTracker

        _TRACKERS[name] = MediaPipeTracker(video_mode=False) if name == "mediapipe" else DlibTracker()
    return _TRACKERS[name]


def detect_landmarks(rgb: np.ndarray, detectors: tuple[str, ...] = ("mediapipe", "dlib")) -> tuple[np.ndarray, str] | None:
    """uint8 or float RGB [H,W,3] -> (68 landmarks float32 [68,2] in pixels, detector name) or None.

    MediaPipe first; dlib when MediaPipe is missing or finds nothing. Small images are upscaled
    for detection (both detectors miss faces under ~80 px), large ones downscaled, so the copy the
    detectors see is at most DETECT_MAX_SIDE px long (MediaPipe aborts the whole process on a side
    of 32767 px or more, e.g. an 8x4000 strip upscaled 32x)."""
    u8 = rgb if rgb.dtype == np.uint8 else (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    h, w = u8.shape[:2]
    k = min(max(1.0, 256.0 / min(h, w)), DETECT_MAX_SIDE / max(h, w))
    if k != 1.0:
        u8 = cv2.resize(u8, (max(1, round(w * k)), max(1, round(h * k))),
                        interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
    big = u8
    for name in detectors:
        try:
            lm = _tracker(name)(np.ascontiguousarray(big))
        except ImportError:
            continue
        if lm is not None:
            return (lm / k).astype(np.float32), name
    return None


def canonical_transform(h: int, w: int, size: int) -> np.ndarray:
    """The transform of an image that already is an aligned crop: centre square, scaled to size."""
    side = min(h, w)
    s = size / side
    return np.array([[s, 0, -(w - side) / 2 * s], [0, s, -(h - side) / 2 * s]], np.float64)


def align_face(img, size: int = CANONICAL_SIZE, mode: str = "auto") -> tuple[np.ndarray, FaceTransform]:
    """Photo -> (aligned crop float32 [size,size,3] 0..1, FaceTransform).

    mode: "detect" (landmarks required, else FaceNotFound), "canonical" (the image is already an
    aligned crop: centre square resized), "auto" (detect; if no face is found and the image is
    square, treat it as already aligned; otherwise FaceNotFound)."""
    if mode not in ("auto", "detect", "canonical"):
        raise ValueError(f"mode must be auto, detect or canonical, got {mode!r}")
    if not isinstance(size, (int, np.integer)) or not 8 <= size <= 8192:
        raise ValueError(f"crop size must be an integer from 8 to 8192 px, got {size!r}")
    rgb = to_rgb_float(img)
    h, w = rgb.shape[:2]
    found = None if mode == "canonical" else detect_landmarks(rgb)
    if found is not None:
        lm, method = found
        m = alignment_transform(landmarks68_to_5(lm), size)
        crop_lm = apply_transform(m, lm).astype(np.float32).tolist()
    elif mode == "detect" or (mode == "auto" and abs(h - w) > 0.02 * max(h, w)):
        raise FaceNotFound(f"no face found in the {w}x{h} image (tried MediaPipe face mesh and dlib); "
                           "use a clearer frontal photo, or mode 'canonical' if it is already an aligned crop")
    else:
        m, method, crop_lm = canonical_transform(h, w, size), "canonical", None
    crop = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    return np.clip(crop, 0, 1), FaceTransform(m.tolist(), size, (h, w), method, crop_lm)


def face_mask(size: int, feather: float = 0.08) -> np.ndarray:
    """Soft face mask in crop space, float32 [size,size] in 0..1: an ellipse over the face, hair
    line and chin (centre (0.5, 0.52), half-axes (0.39, 0.43) of the side) with a soft edge about
    `feather` × side wide; exactly 0 near the crop border, so the crop's edges never show."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    inside = ((xx / size - 0.5) / 0.39) ** 2 + ((yy / size - 0.52) / 0.43) ** 2 <= 1.0
    mask = inside.astype(np.float32)
    sigma = max(feather * size / 3, 0.5)
    # shrink by 1.5 sigma first: the blurred edge is centred inside the ellipse and its tail
    # (cut at 1/512) ends ~1.5 sigma outside it, inside the crop
    k = int(2 * round(1.5 * sigma) + 1)
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask[mask < 1.0 / 512] = 0.0
    return mask


def colour_map(src: np.ndarray, ref: np.ndarray, weight: np.ndarray, max_gain: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel affine colour map (gain, bias) taking src's weighted mean/std to ref's.
    src, ref [H,W,3], weight [H,W] -> gain [3], bias [3] (gain clipped to [1/max_gain, max_gain])."""
    wsum = float(weight.sum())
    if wsum < 1e-6:
        return np.ones(3, np.float32), np.zeros(3, np.float32)
    wn = weight[..., None] / wsum
    mu_s, mu_r = (src * wn).sum((0, 1)), (ref * wn).sum((0, 1))
    sd_s = np.sqrt(((src - mu_s) ** 2 * wn).sum((0, 1))) + 1e-4
    sd_r = np.sqrt(((ref - mu_r) ** 2 * wn).sum((0, 1))) + 1e-4
    gain = np.clip(sd_r / sd_s, 1 / max_gain, max_gain)
    return gain.astype(np.float32), (mu_r - gain * mu_s).astype(np.float32)


class FacePaster:
    """Paste-back for a stream of rendered crops: the mask, its box and the inverse transform are
    prepared once; the colour map is fitted on the first frame ever pasted and reused for every later
    chunk, so a video pasted chunk by chunk equals one pasted whole (no flicker at chunk borders)."""

    def __init__(self, transform: FaceTransform, original, feather: float = 0.08, colour_match: bool = True):
        self.orig = to_rgb_float(original)
        h, w = transform.image_size
        if self.orig.shape[:2] != (h, w):
            raise ValueError(f"original image is {self.orig.shape[1]}x{self.orig.shape[0]}, the transform was made "
                             f"for {w}x{h}")
        m, self.size = transform.m, int(transform.crop_size)
        if m.shape != (2, 3) or not np.isfinite(m).all() or abs(np.linalg.det(m[:, :2])) < 1e-9 or not 8 <= self.size <= 8192:
            raise ValueError(f"not a usable face transform (matrix {m.tolist()}, crop size {self.size}); "
                             "use the transform Face Align made for this image")
        if not (np.isfinite(feather) and 0 < feather <= 1):
            raise ValueError(f"feather must be in (0, 1], got {feather}")
        self.colour_match = colour_match
        inv = invert_transform(m)
        mask = cv2.warpAffine(face_mask(self.size, feather), inv, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        mask[mask < 1.0 / 512] = 0.0
        ys, xs = np.nonzero(mask)
        self.box = None
        if ys.size:
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1  # work only inside the mask's box
            self.box = (y0, y1, x0, x1)
            self.m_box = mask[y0:y1, x0:x1, None]
            self.o_box = self.orig[y0:y1, x0:x1]
            self.shift = inv.copy()
            self.shift[:, 2] -= (x0, y0)
        self.gain = self.bias = None

    @property
    def image_size(self) -> tuple[int, int]:
        return self.orig.shape[:2]

    def __call__(self, frames, progress=None) -> np.ndarray:
        """Rendered crops [T,S,S,3] (any S; float 0..1) -> float32 [T,H,W,3]. progress(i) per frame."""
        frames = np.asarray(_numpy(frames), np.float32)
        if frames.ndim != 4 or frames.shape[-1] != 3 or min(frames.shape[:3]) < 1:
            raise ValueError(f"frames must be [T,S,S,3] with at least one frame, got {frames.shape}")
        if not np.isfinite(frames).all():
            raise ValueError("frames contain NaN or Inf values")
        out = np.empty((frames.shape[0],) + self.orig.shape, np.float32)
        out[:] = self.orig
        if self.box is None:
            return out
        y0, y1, x0, x1 = self.box
        size = self.size
        for t in range(frames.shape[0]):
            f = frames[t]
            if f.shape[0] != size:
                f = cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC if f.shape[0] < size else cv2.INTER_AREA)
            back = cv2.warpAffine(f, self.shift, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REPLICATE)
            if self.colour_match:
                if self.gain is None:
                    self.gain, self.bias = colour_map(back, self.o_box, self.m_box[..., 0])
                back = back * self.gain + self.bias
            out[t, y0:y1, x0:x1] = np.clip(self.m_box * back + (1 - self.m_box) * self.o_box, 0, 1)
            if progress is not None:
                progress(t)
        return out


def paste_back(frames, transform: FaceTransform, original, feather: float = 0.08, colour_match: bool = True,
               progress=None) -> np.ndarray:
    """Rendered crops [T,S,S,3] (any S; float 0..1) -> frames in the original image [T,H,W,3] float32.

    The crops are resized to the transform's crop size, warped back with the inverse transform,
    colour-matched to the original (the map is fitted on frame 0 under the mask and applied to
    every frame), and blended with the feathered face mask. progress(i) is called per frame.
    For a stream of chunks use :class:`FacePaster` (same result, colour map kept across chunks)."""
    return FacePaster(transform, original, feather, colour_match)(frames, progress)


def seam_metrics(composite: np.ndarray, original: np.ndarray, transform: FaceTransform, feather: float = 0.08) -> dict[str, float]:
    """How visible the blend boundary is, on one composited frame [H,W,3] vs the original.

    band = pixels where 0.02 < mask < 0.98 (the feathered transition). Reports the mean absolute
    difference there, and the mean gradient magnitude there minus the original's (a hard seam
    shows up as extra gradient along the band; ~0 means no visible edge), plus the maximum
    change outside the mask (0 by construction)."""
    h, w = transform.image_size
    mask = cv2.warpAffine(face_mask(transform.crop_size, feather), invert_transform(transform.m), (w, h),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    band = (mask > 0.02) & (mask < 0.98)
    outside = mask < 1.0 / 512

    def grad(x):
        g = x.mean(2)
        return np.hypot(np.gradient(g, axis=0), np.gradient(g, axis=1))

    comp, orig = np.asarray(composite, np.float32), to_rgb_float(original)
    return {
        "band_pixels": int(band.sum()),
        "band_abs_diff": float(np.abs(comp - orig)[band].mean()) if band.any() else 0.0,
        "band_grad_excess": float(grad(comp)[band].mean() - grad(orig)[band].mean()) if band.any() else 0.0,
        "outside_max_change": float(np.abs(comp - orig)[outside].max()) if outside.any() else 0.0,
    }
