"""Independent face judges: pretrained networks that never saw our renderer or our models.

* :class:`MediaPipeMesh` — MediaPipe face mesh (legacy ``mp.solutions.face_mesh``, static-image
  mode): 478 landmarks per image, or ``None`` when no face is found; :func:`inner_lip_opening`
  measures the mouth from mesh points 13/14 (inner lip, upper/lower middle) in pixels.
* :class:`DlibFace` — dlib HOG face detector, 68-point shape predictor and the 128-d ResNet face
  descriptor (weights from ``face_recognition_models``). When HOG finds no face, a caller-given
  fallback box is used (by default the box a frontal face occupies in the canonical aligned
  crop), and the result says which (``box_source``).

Both accept any RGB uint8 image ``[H, W, 3]`` and import their package lazily, with an error
that names what to install. They judge the synthetic corpus (``corpus_realism.py``) and, later,
the pack's generated frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data.canonical import CANONICAL_5

MEDIAPIPE_INSTALL = (
    "pip install --no-deps mediapipe==0.10.21 && "
    "pip install 'numpy<2' 'protobuf>=4.25.3,<5' absl-py attrs flatbuffers matplotlib 'opencv-python-headless<5'"
)
DLIB_INSTALL = "pip install dlib-bin face-recognition-models 'setuptools<81'"

# MediaPipe face-mesh indices of the inner-lip middle points.
MP_INNER_LIP_UPPER = 13
MP_INNER_LIP_LOWER = 14

# Box (x0, y0, x1, y1, fractions of the crop side) that dlib's HOG detector puts around a
# frontal face in the canonical aligned crop (measured on the neutral synthetic face at 256 px:
# (46, 64, 201, 219)). Used when detection fails.
CANONICAL_DLIB_BOX = (0.18, 0.25, 0.785, 0.855)


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def inner_lip_opening(mesh_landmarks: np.ndarray) -> float:
    """Inner-lip opening in pixels from MediaPipe mesh landmarks [478, 2] (points 13 and 14)."""
    lm = np.asarray(mesh_landmarks, dtype=np.float64)
    return float(np.linalg.norm(lm[MP_INNER_LIP_UPPER] - lm[MP_INNER_LIP_LOWER]))


class MediaPipeMesh:
    """MediaPipe face mesh on single images. Call ``mesh(image)`` -> landmarks float32
    [478, 2] in pixels (x, y) or ``None`` when no face is detected. ``mesh.last_z`` keeps the
    relative depths [478] of the last detection. Use as a context manager or call ``close()``.
    """

    def __init__(self, refine_landmarks: bool = True, min_detection_confidence: float = 0.5):
        # refine_landmarks: 478 points (with irises) instead of 468.
        # min_detection_confidence: face-detector score threshold in [0, 1].
        try:
            import mediapipe as mp  # noqa: PLC0415 (lazy: optional dependency)

            face_mesh = mp.solutions.face_mesh
        except Exception as e:  # ImportError, or protobuf/numpy mismatches raised at import
            raise ImportError(f"MediaPipe face mesh is unavailable ({e}). Install it with: {MEDIAPIPE_INSTALL}") from e
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=refine_landmarks,
            min_detection_confidence=min_detection_confidence,
        )
        self.last_z: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        image = _check_rgb(image)
        h, w = image.shape[:2]
        res = self._mesh.process(image)
        if not res.multi_face_landmarks:
            self.last_z = None
            return None
        pts = res.multi_face_landmarks[0].landmark
        arr = np.array([(p.x * w, p.y * h, p.z * w) for p in pts], dtype=np.float32)
        self.last_z = arr[:, 2]
        return arr[:, :2]

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> "MediaPipeMesh":
        return self

    def __exit__(self, *_) -> None:
        self.close()


@dataclasses.dataclass
class DlibResult:
    """One face as dlib sees it."""

    box: tuple[int, int, int, int]   # (left, top, right, bottom) pixels
    box_source: str                  # "hog" (detected) or "fallback" (given/canonical box)
    landmarks: np.ndarray            # float32 [68, 2] iBUG points, pixels
    embedding: np.ndarray | None     # float32 [128] face descriptor (same person if L2 < ~0.6)


class DlibFace:
    """dlib HOG detector + 68-point predictor + 128-d face descriptor.

    ``analyse(image)`` -> :class:`DlibResult` or ``None`` (no detection and no fallback).
    """

    def __init__(self, upsample: int = 1, with_embedding: bool = True):
        # upsample: HOG image pyramid upsampling (1 finds faces down to ~40 px).
        # with_embedding: load the ResNet face descriptor too (~0.1 s per face on one core).
        try:
            import dlib  # noqa: PLC0415
            import face_recognition_models as frm  # noqa: PLC0415
        except Exception as e:
            raise ImportError(f"dlib face models are unavailable ({e}). Install them with: {DLIB_INSTALL}") from e
        self._dlib = dlib
        self.upsample = upsample
        self._hog = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(frm.pose_predictor_model_location())
        self._rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location()) if with_embedding else None

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """HOG face boxes (left, top, right, bottom), largest first."""
        image = _check_rgb(image)
        rects = self._hog(image, self.upsample)
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    def analyse(self, image: np.ndarray, fallback_box: tuple[int, int, int, int] | str | None = "canonical",
                embed: bool = True) -> DlibResult | None:
        """Detect (or fall back), predict 68 landmarks and, if ``embed``, the 128-d descriptor.

        fallback_box: box to use when HOG finds nothing: a pixel box, ``"canonical"`` (the box of
        a frontal face in an aligned crop, :data:`CANONICAL_DLIB_BOX`) or ``None`` (no fallback).
        """
        image = _check_rgb(image)
        boxes = self.detect(image)
        if boxes:
            box, source = boxes[0], "hog"
        elif fallback_box is None:
            return None
        else:
            if isinstance(fallback_box, str):
                if fallback_box != "canonical":
                    raise ValueError(f"unknown fallback box {fallback_box!r}")
                h, w = image.shape[:2]
                side = min(h, w)
                x0, y0, x1, y1 = CANONICAL_DLIB_BOX
                fallback_box = (int(x0 * side), int(y0 * side), int(x1 * side), int(y1 * side))
            box, source = tuple(int(v) for v in fallback_box), "fallback"
        rect = self._dlib.rectangle(*box)
        shape = self._shape(image, rect)
        lm = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float32)
        emb = None
        if embed and self._rec is not None:
            emb = np.array(self._rec.compute_face_descriptor(image, shape), dtype=np.float32)
        return DlibResult(box, source, lm, emb)


def canonical_points_px(size: int) -> np.ndarray:
    """CANONICAL_5 in pixels for a ``size``-px crop (convenience for judges' callers)."""
    return CANONICAL_5 * np.float32(size)
