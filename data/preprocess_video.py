"""Real talking-head video → corpus clips (``see-the-speaker corpus preprocess``).

Pipeline for each input file (any container/codec PyAV reads):

1. **Resample to the corpus frame rate** (25 fps): output frame ``k`` is the source frame whose
   timestamp is nearest to ``start + k / fps`` (works for variable frame rate too).
2. **Track** (pass 1, no frames kept): 68-point landmarks per output frame from
   ``data/face_tracker.py`` (MediaPipe face mesh, or dlib). Frames without a face are flagged.
3. **Smooth and align**: per frame the similarity transform of the 5 alignment points
   (``landmarks68_to_5``) onto ``CANONICAL_5`` (``canonical.similarity_transform``); its four
   parameters (a, b, tx, ty of ``[[a,-b,tx],[b,a,ty]]``) are Gaussian-smoothed over time across
   frames with a face; a frame without a face holds the last good transform (the first good one
   before any face is seen; a centred crop when no face is ever found).
4. **Write** (pass 2, decode again, bounded memory): warp each output frame into the
   ``crop_size``² canonical crop, cut the video into clips of ``--clip-seconds``, resample the
   audio to 16 kHz mono, align it to the video's start, and write the corpus format of
   ``data/corpus.py`` with ``face_found`` [T], ``landmarks`` [T,68,2] (crop pixels; on a frame
   without a face the last good landmarks are repeated) and ``transforms`` [T,2,3]
   (source pixel → crop pixel).

Clips are appended to an existing *real* corpus at ``--out`` (its index is rewritten). Clip ids are
``<name>-000``, ``-001``, … where ``<name>`` is the file's path inside the folder given on the command
line (``id00017/5MkXgwdrmJw/00001.mp4`` → ``5MkXgwdrmJw_00001`` under the folder ``id00017``), so
VoxCeleb-style trees whose files share a stem keep every file; two inputs that would still give one
speaker the same ids are refused before anything is written. A rerun skips the files whose clips the
corpus already holds (``--redo`` processes them again), so an interrupted batch resumes by file.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from .canonical import CANONICAL_5, landmarks68_to_5, similarity_transform
from .corpus import ClipData, ClipRecord, Corpus, CorpusError, CorpusSpec, CorpusWriter, write_clip
from .face_tracker import TRACKERS, make_tracker

log = logging.getLogger("see_the_speaker.preprocess")

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".flv", ".gif")


@dataclasses.dataclass
class PreprocessConfig:
    detector: str = "mediapipe"  # "mediapipe" | "dlib"
    fps: int = 25
    sample_rate: int = 16000
    crop_size: int = 256
    clip_seconds: float = 10.0  # long videos are cut into clips of at most this length
    min_clip_seconds: float = 1.0  # a shorter tail is merged into the previous clip
    smooth_sigma: float = 1.5  # Gaussian smoothing of the alignment transform, in frames
    max_seconds: float | None = None  # only the first N seconds of each video


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


def iter_resampled_frames(path: str | os.PathLike, fps: int, max_seconds: float | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(k, rgb uint8 [H,W,3])`` for output frames k = 0, 1, … at ``fps``.

    Output frame k is the source frame nearest in time to ``t0 + k/fps`` (t0 = first frame's
    time). Frames may repeat (upsampling) or be skipped (downsampling).
    """
    import av

    with av.open(str(path)) as c:
        if not c.streams.video:
            raise CorpusError(f"{path}: no video stream")
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        prev_t = prev_img = t0 = None
        k = 0
        durations: list[float] = []
        for frame in c.decode(s):
            t = float(frame.time) if frame.time is not None else (0.0 if prev_t is None else prev_t + 1.0 / fps)
            if t0 is None:
                t0 = t
            t -= t0
            if max_seconds is not None and t >= max_seconds:
                break
            img = frame.to_ndarray(format="rgb24")
            if prev_img is not None:
                if t <= prev_t:  # non-increasing timestamp: treat as a 1/fps step
                    t = prev_t + 1.0 / fps
                durations.append(t - prev_t)
                mid = (prev_t + t) / 2
                while k / fps < mid:
                    yield k, prev_img
                    k += 1
            prev_t, prev_img = t, img
        if prev_img is None:
            raise CorpusError(f"{path}: no decodable video frames")
        last_dur = float(np.median(durations)) if durations else 1.0 / fps
        end = prev_t + last_dur
        if max_seconds is not None:
            end = min(end, max_seconds)
        while k / fps < end - 1e-9 or k == 0:
            yield k, prev_img
            k += 1


def video_start_time(path: str | os.PathLike) -> float:
    """Time (s) of the first decoded video frame."""
    import av

    with av.open(str(path)) as c:
        for frame in c.decode(c.streams.video[0]):
            return float(frame.time or 0.0)
    return 0.0


def read_audio_resampled(path: str | os.PathLike, sample_rate: int) -> tuple[np.ndarray, float] | None:
    """Decode the first audio stream → (float32 [N] mono at ``sample_rate``, start time s),
    or None if the file has no audio."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        res = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks, start = [], None
        for frame in c.decode(s):
            if start is None:
                start = float(frame.time or 0.0)
            for f in res.resample(frame):
                chunks.append(f.to_ndarray().reshape(-1))
        for f in res.resample(None):
            chunks.append(f.to_ndarray().reshape(-1))
    if not chunks:
        return None
    return np.concatenate(chunks).astype(np.float32), start or 0.0


# --------------------------------------------------------------------------------------------
# Tracking and alignment
# --------------------------------------------------------------------------------------------


def track_video(path: str | os.PathLike, cfg: PreprocessConfig, tracker=None) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Pass 1 → (landmarks float32 [T,68,2] source pixels (NaN where no face), found bool [T],
    (H, W) of the source). Detector errors on a frame count as "no face"."""
    own = tracker is None
    tracker = tracker or make_tracker(cfg.detector)
    lms, found, hw = [], [], (0, 0)
    try:
        for _, img in iter_resampled_frames(path, cfg.fps, cfg.max_seconds):
            hw = img.shape[:2]
            try:
                lm = tracker(img)
            except Exception as e:  # never let one bad frame stop the run
                log.warning("%s: detector failed on a frame (%s); flagged as no face", path, e)
                lm = None
            ok = lm is not None and bool(np.all(np.isfinite(lm)))
            found.append(ok)
            lms.append(lm if ok else np.full((68, 2), np.nan, np.float32))
    finally:
        if own:
            tracker.close()
    return np.stack(lms).astype(np.float32), np.array(found, bool), hw


def _params(m: np.ndarray) -> np.ndarray:
    """[2,3] similarity → (a, b, tx, ty)."""
    return np.array([m[0, 0], m[1, 0], m[0, 2], m[1, 2]])


def _matrix(p: np.ndarray) -> np.ndarray:
    a, b, tx, ty = p
    return np.array([[a, -b, tx], [b, a, ty]])


def smooth_transforms(lm: np.ndarray, found: np.ndarray, size: int, sigma: float, frame_hw: tuple[int, int]) -> np.ndarray:
    """Alignment transforms float64 [T,2,3] (source px → crop px), smoothed, gaps held.

    ``lm`` [T,68,2] source pixels; ``found`` [T]. Smoothing is a normalised Gaussian over the
    frames with a face (it never invents a transform from frames without one).
    """
    t = lm.shape[0]
    dst = CANONICAL_5 * size
    params = np.zeros((t, 4))
    for i in np.flatnonzero(found):
        params[i] = _params(similarity_transform(landmarks68_to_5(lm[i]), dst))
    if not found.any():
        h, w = frame_hw
        side = min(h, w)  # centred square crop of the whole frame
        k = size / side
        return np.repeat(_matrix(np.array([k, 0.0, -(w - side) / 2 * k, -(h - side) / 2 * k]))[None], t, 0)
    if sigma > 0:
        r = int(np.ceil(3 * sigma))
        kern = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        w = found.astype(float)
        conv = lambda x: np.convolve(x, kern, mode="full")[r : r + t]  # noqa: E731  (centred, any T)
        num = np.stack([conv(params[:, j] * w) for j in range(4)], 1)
        den = conv(w)[:, None]
        sm = np.where(den > 1e-8, num / np.maximum(den, 1e-8), params)
        params = np.where(found[:, None], sm, params)
    # hold the last good transform; before the first face, use the first good one
    good = np.flatnonzero(found)
    idx = np.maximum.accumulate(np.where(found, np.arange(t), -1))
    idx[idx < 0] = good[0]
    return np.stack([_matrix(params[i]) for i in idx])


def warp_to_crop(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Warp a source frame into the ``size``² crop with the [2,3] transform ``m``.

    When the transform shrinks by more than 1.5× (a large face in HD video), the frame is first
    reduced with an area filter, so the bilinear warp does not alias (hair, teeth, texture).
    """
    import cv2

    scale = float(np.hypot(m[0, 0], m[1, 0]))
    if scale < 1 / 1.5:
        f = min(1.0, scale * 1.25)  # keep ~25 % more pixels than the crop needs
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / w, small.shape[0] / h
        m = np.asarray(m, np.float64).copy()
        m[:, 0] /= fx
        m[:, 1] /= fy
        img = small
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


# --------------------------------------------------------------------------------------------
# The whole file
# --------------------------------------------------------------------------------------------


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")


def speaker_from_path(path: str | os.PathLike) -> str:
    return _safe_id(Path(path).stem) or "speaker"


def clip_name(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """Clip-id stem of a video: its path under `root` (the folder named on the command line) without
    the extension, parts joined by "_"; the file's stem when it was named directly."""
    path = Path(path)
    rel = path.relative_to(root) if root is not None else Path(path.name)
    return _safe_id("_".join(rel.with_suffix("").parts)) or "clip"


def split_for_speaker(speaker: str, val: float = 0.1, test: float = 0.1) -> str:
    """Deterministic speaker-level split from a hash of the speaker id (≈80/10/10)."""
    u = (zlib.crc32(speaker.encode("utf-8")) % 10000) / 10000
    return "test" if u < test else "val" if u < test + val else "train"


def preprocess_video(
    path: str | os.PathLike,
    out_root: str | os.PathLike,
    speaker: str | None = None,
    split: str | None = None,
    cfg: PreprocessConfig = PreprocessConfig(),
    tracker=None,
    name: str | None = None,
) -> list[ClipRecord]:
    """Process one video into clips under ``out_root`` and return their index records.

    Writes the clip files only; the caller (``run``/``process_videos``) writes the index. Clip ids
    are ``<name>-000``, … (`name` defaults to the file's stem).
    """
    path = Path(path)
    name = name or clip_name(path)
    speaker = speaker or speaker_from_path(path)
    split = split or split_for_speaker(speaker)
    lm_src, found, hw = track_video(path, cfg, tracker)
    t_total = lm_src.shape[0]
    transforms = smooth_transforms(lm_src, found, cfg.crop_size, cfg.smooth_sigma, hw)  # [T,2,3]
    # crop-space landmarks; frames without a face repeat the last good ones (flagged anyway)
    lm_crop = np.zeros((t_total, 68, 2), np.float32)
    last = None
    for i in range(t_total):
        if found[i]:
            last = _apply(transforms[i], lm_src[i].astype(np.float64))
        lm_crop[i] = last if last is not None else np.nan
    if last is None:
        lm_crop[:] = CANONICAL_5.mean(0) * cfg.crop_size  # no face at all: a harmless placeholder
    else:
        first = np.flatnonzero(found)[0]
        lm_crop[:first] = lm_crop[first]
    spf = cfg.sample_rate // cfg.fps
    audio_all = np.zeros(t_total * spf, np.float32)
    got = read_audio_resampled(path, cfg.sample_rate)
    if got is None:
        log.warning("%s: no audio stream; writing silence", path)
    else:
        audio, a_start = got
        shift = int(round((video_start_time(path) - a_start) * cfg.sample_rate))  # audio index of video t0
        src = audio[max(shift, 0):]
        dst0 = max(-shift, 0)
        n = max(0, min(src.shape[0], audio_all.shape[0] - dst0))
        audio_all[dst0 : dst0 + n] = src[:n]

    seg = max(1, int(round(cfg.clip_seconds * cfg.fps)))
    bounds = list(range(0, t_total, seg)) + [t_total]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < cfg.min_clip_seconds * cfg.fps:
        del bounds[-2]
    import cv2

    spec = CorpusSpec(kind="real", fps=cfg.fps, sample_rate=cfg.sample_rate, crop_size=cfg.crop_size)
    records: list[ClipRecord] = []
    buf: list[np.ndarray] = []
    ci = 0
    for k, img in iter_resampled_frames(path, cfg.fps, cfg.max_seconds):
        if k >= t_total:
            break
        buf.append(warp_to_crop(img, transforms[k], cfg.crop_size))
        if k + 1 == bounds[ci + 1]:
            a, b = bounds[ci], bounds[ci + 1]
            clip = ClipData(
                speaker=speaker, clip=f"{name}-{ci:03d}", split=split, frames=np.stack(buf),
                audio=audio_all[a * spf : b * spf], landmarks=lm_crop[a:b], face_found=found[a:b],
                transforms=transforms[a:b].astype(np.float32), source=f"{path.name}@{a / cfg.fps:.2f}s",
            )
            records.append(write_clip(out_root, spec, clip))
            log.info("%s: clip %s: %d frames, %d without a face", path.name, clip.clip, b - a, int((~found[a:b]).sum()))
            buf, ci = [], ci + 1
    return records


def process_videos(inputs: list[Path], out_root: Path, cfg: PreprocessConfig, speaker: str | None = None,
                   split: str | None = None, names: list[str] | None = None, redo: bool = False) -> Path:
    """Process several files and (re)write the index of the real corpus at ``out_root``.

    names: clip-id stems, one per input (default: the file stems); two inputs with the same speaker
    and name are refused before anything is written. Files whose first clip the corpus already holds
    are skipped unless `redo`."""
    names = list(names) if names is not None else [clip_name(p) for p in inputs]
    if len(names) != len(inputs):
        raise ValueError(f"{len(names)} names for {len(inputs)} inputs")
    speakers = [speaker or speaker_from_path(p) for p in inputs]
    seen: dict[tuple[str, str], Path] = {}
    for p, spk, n in zip(inputs, speakers, names):
        key = (spk, n)
        if key in seen:
            raise CorpusError(f"{seen[key]} and {p} would both be clips {n}-000… of speaker {key[0]}; "
                              "rename one (or pass the folder above them, so their paths tell them apart)")
        seen[key] = p
    spec = CorpusSpec(kind="real", fps=cfg.fps, sample_rate=cfg.sample_rate, crop_size=cfg.crop_size)
    writer = CorpusWriter(out_root, spec)
    if (out_root / "index.json").exists():
        old = Corpus(out_root)
        if (old.spec.kind, old.fps, old.sample_rate, old.spec.crop_size) != ("real", cfg.fps, cfg.sample_rate, cfg.crop_size):
            raise CorpusError(f"{out_root / 'index.json'}: existing corpus ({old.spec.kind}, {old.fps} fps, {old.sample_rate} Hz, {old.spec.crop_size} px) differs from this run; use another --out")
        writer.speakers.update(old.speakers)
        for rec in old.clips:
            writer.add_record(rec)
        done = {rec.id for rec in old.clips}  # "<speaker>/<clip>"
    else:
        done = set()
    tracker = make_tracker(cfg.detector)
    try:
        for p, spk, n in zip(inputs, speakers, names):
            if not redo and f"{spk}/{n}-000" in done:
                log.info("%s: already in the corpus as %s/%s-000…, skipped (--redo processes it again)", p, spk, n)
                continue
            sp = split or writer.speakers.get(spk, {}).get("split") or split_for_speaker(spk)
            try:
                records = preprocess_video(p, out_root, spk, sp, cfg, tracker, name=n)
            except Exception as e:  # a broken file must not stop a batch run
                log.error("skipping %s: %s: %s", p, type(e).__name__, e)
                continue
            writer.add_speaker(spk, sp)
            for rec in records:
                writer.add_record(rec)
    finally:
        tracker.close()
    return writer.close()


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="video files or folders of videos (any container PyAV reads)")
    parser.add_argument("--out", required=True, help="corpus directory (created, or appended to if it holds a real corpus)")
    parser.add_argument("--detector", choices=TRACKERS, default="mediapipe", help="face landmarker: MediaPipe face mesh (default) or dlib HOG + 68-pt")
    parser.add_argument("--speaker", default=None, help="speaker id for all inputs (default: each file's name)")
    parser.add_argument("--split", choices=("train", "val", "test"), default=None, help="split for all inputs (default: from a hash of the speaker id, ~80/10/10)")
    parser.add_argument("--crop-size", type=int, default=256, help="side of the aligned crop in pixels")
    parser.add_argument("--clip-seconds", type=float, default=10.0, help="cut long videos into clips of at most this many seconds")
    parser.add_argument("--smooth", type=float, default=1.5, help="temporal smoothing of the alignment (Gaussian sigma in frames; 0 = off)")
    parser.add_argument("--max-seconds", type=float, default=None, help="only process the first N seconds of each video")
    parser.add_argument("--redo", action="store_true", help="process files whose clips the corpus already holds again "
                        "(default: skip them, so a rerun resumes an interrupted batch)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    inputs: list[Path] = []
    names: list[str] = []
    for s in args.inputs:
        p = Path(s).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in VIDEO_EXTS)
            inputs += found
            names += [clip_name(q, p) for q in found]
        elif p.is_file():
            inputs.append(p)
            names.append(clip_name(p))
        else:
            print(f"error: {p}: no such file or folder", file=sys.stderr)
            return 2
    if not inputs:
        print("error: no video files found in the inputs", file=sys.stderr)
        return 2
    cfg = PreprocessConfig(detector=args.detector, crop_size=args.crop_size, clip_seconds=args.clip_seconds, smooth_sigma=args.smooth, max_seconds=args.max_seconds)
    try:
        index = process_videos(inputs, Path(args.out).expanduser(), cfg, args.speaker, args.split, names, args.redo)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {index}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="see-the-speaker corpus preprocess", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
