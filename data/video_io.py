"""Frame-exact, deterministic H.264 encoding and decoding of aligned face crops (PyAV).

The corpus stores each clip's aligned frames as one small MP4 (H.264, constant frame rate, no
audio track). This module is the only place that knows about the codec:

* :func:`encode_frames` writes uint8 RGB frames ``[T, S, S, 3]`` to an MP4. With one encoder
  thread, fixed x264 options and the ``bitexact`` flags the bytes depend only on the frames and
  the :class:`VideoConfig` (tested by ``tests/unit/test_corpus_determinism.py``).
* :func:`decode_frames` reads the half-open frame range ``[start, stop)`` back, seeking to the
  nearest key frame first, so a short window costs at most one GOP of extra decoding.

Why H.264 and these settings: see ``docs/corpus.md`` ("Frame storage") for the measured size and
decode-speed comparison against per-frame JPEG/PNG and raw arrays.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

import numpy as np


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Encoder settings for the aligned-crop videos (recorded in the corpus index)."""

    codec: str = "libx264"
    crf: int = 16  # visually lossless for 256² faces; see docs/corpus.md for the size trade-off
    preset: str = "veryfast"
    gop: int = 25  # key frame every second: a random frame costs ≤ 24 extra decoded frames
    pix_fmt: str = "yuv444p"  # full-resolution chroma: lips and iris colour stay sharp

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "VideoConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _require_av():
    try:
        import av  # noqa: F401
    except ImportError as e:  # pragma: no cover - av is a hard dependency of the package
        raise ImportError("PyAV is needed to read/write corpus videos: pip install av") from e
    import av

    return av


def encode_frames(path: str | os.PathLike, frames: np.ndarray, fps: int, cfg: VideoConfig = VideoConfig()) -> None:
    """Write ``frames`` (uint8 ``[T, H, W, 3]`` RGB, H and W even) to ``path`` as an MP4.

    Deterministic: single encoder thread, no scene-cut decisions, bitexact muxer flags.
    """
    av = _require_av()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 frames [T,H,W,3], got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    if t == 0:
        raise ValueError(f"{path}: cannot encode an empty clip (0 frames)")
    if h % 2 or w % 2:
        raise ValueError(f"{path}: frame size {w}x{h} must be even for H.264")
    out = av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"})
    try:
        vs = out.add_stream(cfg.codec, rate=Fraction(fps))
        vs.width, vs.height, vs.pix_fmt = w, h, cfg.pix_fmt
        vs.thread_count = 1
        vs.codec_context.flags |= av.codec.context.Flags.bitexact
        vs.options = {
            "crf": str(cfg.crf),
            "preset": cfg.preset,
            "threads": "1",
            "x264-params": f"keyint={cfg.gop}:min-keyint={cfg.gop}:scenecut=0:bframes=0:threads=1:sliced-threads=0",
        }
        for img in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    finally:
        out.close()


def video_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """Return ``(n_frames, height, width)`` of a corpus video without decoding it."""
    av = _require_av()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return int(s.frames), int(s.codec_context.height), int(s.codec_context.width)


def decode_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None, fps: int = 25, size: int | None = None) -> np.ndarray:
    """Decode frames ``[start, stop)`` of a corpus video → uint8 ``[stop-start, H, W, 3]`` RGB.

    ``stop=None`` decodes to the end. Frame ``i`` is the one with presentation time ``i / fps``.
    ``size`` rescales to ``size``² inside the colour conversion (area filter), cheaper than
    converting at full size and resizing afterwards.
    Raises ``ValueError`` naming the file if the range is not fully present.
    """
    av = _require_av()
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"{path}: bad frame range [{start}, {stop})")
    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "SLICE"
        s.codec_context.thread_count = 1
        tb = s.time_base
        if start > 0:
            # Seek to the key frame at or before `start` (pts in stream time base).
            c.seek(int(round(start / fps / tb)), stream=s, backward=True, any_frame=False)
        for frame in c.decode(s):
            idx = int(round(float(frame.pts * tb) * fps)) if frame.pts is not None else len(out) + start
            if idx < start:
                continue
            if stop is not None and idx >= stop:
                break
            if size is None or (size == frame.width and size == frame.height):
                out.append(frame.to_ndarray(format="rgb24"))
            else:
                out.append(frame.to_ndarray(format="rgb24", width=size, height=size, interpolation="AREA"))
    n_expected = None if stop is None else stop - start
    if n_expected is not None and len(out) != n_expected:
        raise ValueError(f"{path}: expected frames [{start}, {stop}) but decoded {len(out)} frame(s)")
    if not out:
        raise ValueError(f"{path}: no frames decoded from index {start}")
    return np.stack(out)
