"""Per-frame 68-point face landmarks from real video: MediaPipe face mesh (primary) or dlib.

Both backends are optional dependencies, imported lazily; a missing one raises
:class:`TrackerUnavailable` with the install command. ``make_tracker(name)`` returns an object
with ``__call__(rgb uint8 [H,W,3]) -> float32 [68,2] pixels | None`` and ``close()``.

MediaPipe → iBUG-68 table
-------------------------
MediaPipe's mesh has 468 vertices (478 with iris refinement), none of which is *defined* as an
iBUG point, so :data:`MEDIAPIPE_TO_IBUG68` picks, for each iBUG point (dlib order), the mesh
vertex that lands on it. It was derived here, not copied: dlib's 68-point predictor and the mesh
were run on scikit-image's astronaut photo under 15 rotations/scales (±8°, ×0.9–1.2); for each
iBUG point the mesh vertex with the smallest mean distance was taken (median 1.5 px on a ~180 px
face), then the table was made left/right symmetric using the mesh's mirror pairs (the photo is
slightly turned), preferring the side with the smaller distance. Groups:

===========  =======================================================================
iBUG         mesh vertices
===========  =======================================================================
jaw 0–16     34 123 147 58 172 136 149 148 152 377 378 365 397 288 376 352 264
brow 17–21   70 63 52 65 55          brow 22–26   285 295 282 293 300
nose 27–30   168 197 5 4             nostrils 31–35  75 97 2 326 305
eye 36–41    33 160 158 133 153 144  eye 42–47    362 385 387 263 373 380
lips 48–59   61 39 37 0 267 269 291 321 314 17 84 91   (outer, from the image-left corner)
lips 60–67   78 82 13 312 308 317 14 87                 (inner; 62 = 13, 66 = 14)
===========  =======================================================================

The inner-lip pair 62/66 ↔ 13/14 is the one the corpus realism check uses for mouth opening.
Jaw points follow dlib's cheek contour, which lies inside the mesh silhouette.
"""

from __future__ import annotations

import numpy as np

MEDIAPIPE_TO_IBUG68 = np.array(
    [34, 123, 147, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 376, 352, 264,  # jaw
     70, 63, 52, 65, 55, 285, 295, 282, 293, 300,  # brows
     168, 197, 5, 4, 75, 97, 2, 326, 305,  # nose
     33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes
     61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91,  # outer lips
     78, 82, 13, 312, 308, 317, 14, 87],  # inner lips
    dtype=np.int64,
)
assert MEDIAPIPE_TO_IBUG68.shape == (68,)

TRACKERS = ("mediapipe", "dlib")


class TrackerUnavailable(ImportError):
    """The requested face detector/landmarker is not installed."""


class MediaPipeTracker:
    """MediaPipe face mesh (0.10.x legacy ``solutions`` API) in video mode: it detects once and
    then tracks, re-detecting when the track is lost. One face (the most prominent)."""

    name = "mediapipe"

    def __init__(self, video_mode: bool = True, min_confidence: float = 0.5):
        try:
            import mediapipe as mp

            solutions = mp.solutions
        except Exception as e:  # ImportError, or a broken install (protobuf) raising at import
            raise TrackerUnavailable(
                "real-video preprocessing with --detector mediapipe needs MediaPipe 0.10.21 "
                "(the last release with bundled models): pip install --no-deps mediapipe==0.10.21 "
                "'protobuf>=4.25.3,<5' absl-py attrs flatbuffers matplotlib; or use --detector dlib "
                f"({type(e).__name__}: {e})"
            ) from e
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=not video_mode, max_num_faces=1, refine_landmarks=False,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
        )

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """uint8 [H,W,3] RGB → float32 [68,2] pixel landmarks, or None when no face is found."""
        h, w = rgb.shape[:2]
        res = self._mesh.process(np.ascontiguousarray(rgb))
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([[lm[i].x * w, lm[i].y * h] for i in MEDIAPIPE_TO_IBUG68], np.float32)
        return pts

    def close(self) -> None:
        self._mesh.close()


class DlibTracker:
    """dlib HOG frontal-face detector + 68-point shape predictor (face-recognition-models).

    Detection runs on a copy downscaled to at most ``detect_side`` px; when several faces are
    found the one nearest the previous face (else the largest) is kept.
    """

    name = "dlib"

    def __init__(self, detect_side: int = 640, upsample: int = 1):
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError as e:
            raise TrackerUnavailable(
                "real-video preprocessing with --detector dlib needs dlib and its models: "
                "pip install dlib-bin face-recognition-models"
            ) from e
        self._dlib = dlib
        self._det = dlib.get_frontal_face_detector()
        self._sp = dlib.shape_predictor(frm.pose_predictor_model_location())
        self.detect_side, self.upsample = detect_side, upsample
        self._prev: np.ndarray | None = None  # previous face centre

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        import cv2

        h, w = rgb.shape[:2]
        k = min(1.0, self.detect_side / max(h, w))
        small = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
        rects = self._det(np.ascontiguousarray(small), self.upsample)
        if len(rects) == 0:
            return None

        def centre(r):
            return np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2]) / k

        if self._prev is not None and len(rects) > 1:
            r = min(rects, key=lambda r: np.linalg.norm(centre(r) - self._prev))
        else:
            r = max(rects, key=lambda r: r.width() * r.height())
        self._prev = centre(r)
        full = self._dlib.rectangle(int(r.left() / k), int(r.top() / k), int(r.right() / k), int(r.bottom() / k))
        shape = self._sp(np.ascontiguousarray(rgb), full)
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)

    def close(self) -> None:
        pass


def make_tracker(name: str = "mediapipe"):
    """Instantiate a tracker by name (``mediapipe`` | ``dlib``)."""
    if name == "mediapipe":
        return MediaPipeTracker()
    if name == "dlib":
        return DlibTracker()
    raise ValueError(f"unknown face detector {name!r}; choose one of {TRACKERS}")
