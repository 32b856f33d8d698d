"""The on-disk talking-face corpus: one format for synthetic and real data, writer and reader.

Layout (documented in ``docs/corpus.md``)::

    <root>/index.json                         format version, fps, sample rate, crop size,
                                              speakers (split [+ attributes]), clips
    <root>/clips/<speaker>/<clip>.mp4         aligned crops, H.264, 25 fps   (see video_io.py)
    <root>/clips/<speaker>/<clip>.flac        16 kHz mono audio, exactly n_frames * 640 samples
    <root>/clips/<speaker>/<clip>.npz         per-frame arrays (np.load(allow_pickle=False)):
        landmarks     float32 [T, 68, 2]   iBUG-68 points in crop pixels
        face_found    bool    [T]          False where no face was detected (real video)
        meta          str     []           the clip's JSON record (same as in index.json)
      real video only:
        transforms    float32 [T, 2, 3]    source-frame pixel → crop pixel similarity transform
      synthetic only:
        motion        float32 [T, M]       ground-truth motion, columns = motion_fields
        motion_fields str     [M]
        identity      float32 [F]          FaceIdentity.to_vector()
        identity_fields str   [F]
        factors       float32 [K]          hidden speaker factors
        factor_names  str     [K]
        phone_symbols str     [P]          phoneme timeline (IPA), times in seconds
        phone_start   float32 [P]
        phone_end     float32 [P]

Every file is written byte-deterministically (fixed zip timestamps, bitexact video), and the
``.npz`` is written last through an atomic rename, so "the npz exists" means "the clip is
complete" (the generator's resume rule).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .video_io import VideoConfig, decode_frames, encode_frames

FORMAT_NAME = "see-the-speaker-corpus"
FORMAT_VERSION = 1
INDEX_NAME = "index.json"
SPLITS = ("train", "val", "test")
KINDS = ("synthetic", "real")
N_LANDMARKS = 68


class CorpusError(ValueError):
    """A corpus file is missing, malformed or inconsistent. The message names the file."""


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ClipData:
    """Everything written for one clip (in memory). Shapes: T frames, N = T * sr / fps samples."""

    speaker: str
    clip: str
    split: str
    frames: np.ndarray  # uint8 [T, S, S, 3] aligned RGB crops
    audio: np.ndarray  # float32 [N] mono at the corpus sample rate, |x| <= 1
    landmarks: np.ndarray  # float32 [T, 68, 2] crop pixels
    face_found: np.ndarray | None = None  # bool [T]; None = all True
    text: str = ""
    language: str = ""
    source: str = ""  # original file for real video, generator tag for synthetic
    transforms: np.ndarray | None = None  # float32 [T, 2, 3] (real video)
    motion: np.ndarray | None = None  # float32 [T, M] (synthetic)
    motion_fields: Sequence[str] | None = None
    identity: np.ndarray | None = None  # float32 [F] (synthetic)
    identity_fields: Sequence[str] | None = None
    factors: np.ndarray | None = None  # float32 [K] (synthetic)
    factor_names: Sequence[str] | None = None
    phones: Sequence[tuple[str, float, float]] | None = None  # (IPA symbol, start s, end s)


@dataclasses.dataclass
class ClipRecord:
    """One clip's entry in ``index.json`` (paths relative to the corpus root)."""

    id: str  # "<speaker>/<clip>"
    speaker: str
    split: str
    n_frames: int
    n_samples: int
    video: str
    audio: str
    arrays: str
    n_face_missing: int = 0
    text: str = ""
    language: str = ""
    source: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = "index.json") -> "ClipRecord":
        need = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [k for k in need if k not in d]
        if missing:
            raise CorpusError(f"{where}: clip entry {d.get('id', '?')!r} lacks field(s) {missing}")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def clip_relpaths(speaker: str, clip: str) -> tuple[str, str, str]:
    """(video, audio, arrays) paths of a clip relative to the corpus root."""
    base = f"clips/{speaker}/{clip}"
    return base + ".mp4", base + ".flac", base + ".npz"


def _check_name(kind: str, name: str) -> None:
    ok = name and all(c.isalnum() or c in "-_." for c in name) and not name.startswith(".")
    if not ok:
        raise CorpusError(f"{kind} id {name!r} must be non-empty and use only letters, digits, '-', '_', '.'")


# --------------------------------------------------------------------------------------------
# Deterministic npz / flac
# --------------------------------------------------------------------------------------------


def save_npz_deterministic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a compressed ``.npz`` whose bytes depend only on the arrays (fixed zip timestamps).

    ``np.savez`` stamps the current time into each zip entry; this writes the same container
    (readable with ``np.load(..., allow_pickle=False)``) with a fixed 1980-01-01 date, sorted
    keys, and an atomic rename so a partial file never exists under the final name.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for key in sorted(arrays):
            a = np.asarray(arrays[key])
            if a.dtype == object:
                raise CorpusError(f"{path}: array {key!r} has dtype object; corpus arrays must not need pickle")
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of a corpus ``.npz`` (never unpickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise CorpusError(f"{path}: clip arrays file is missing") from None
    except (ValueError, zipfile.BadZipFile, OSError) as e:
        raise CorpusError(f"{path}: not a readable pickle-free .npz ({e})") from e


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit FLAC, mono. Deterministic (libFLAC stores no timestamp)."""
    import soundfile as sf

    a = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
    pcm = np.round(a * 32767.0).astype(np.int16)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(str(tmp), pcm, sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(tmp, path)


def read_audio(path: str | os.PathLike, sample_rate: int | None = None) -> np.ndarray:
    """Read a corpus audio file → float32 [N] in [-1, 1]. Checks the rate if given."""
    import soundfile as sf

    try:
        a, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except FileNotFoundError:
        raise CorpusError(f"{path}: clip audio file is missing") from None
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError
        raise CorpusError(f"{path}: unreadable audio ({e})") from e
    if a.ndim != 1:
        raise CorpusError(f"{path}: expected mono audio, got shape {a.shape}")
    if sample_rate is not None and sr != sample_rate:
        raise CorpusError(f"{path}: expected {sample_rate} Hz audio, file is {sr} Hz")
    return a


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CorpusSpec:
    """Corpus-wide constants, stored at the top of ``index.json``."""

    kind: str = "synthetic"  # "synthetic" | "real"
    fps: int = 25
    sample_rate: int = 16000
    crop_size: int = 256
    video: VideoConfig = dataclasses.field(default_factory=VideoConfig)

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate // self.fps


def _as_str_array(xs: Sequence[str]) -> np.ndarray:
    return np.asarray([str(x) for x in xs], dtype=np.str_)


def write_clip(root: str | os.PathLike, spec: CorpusSpec, clip: ClipData) -> ClipRecord:
    """Validate and write one clip's three files under ``root``; return its index record.

    Audio is padded with silence / trimmed to exactly ``T * sample_rate / fps`` samples so that
    frame ``t`` covers samples ``[t * spf, (t + 1) * spf)``. Safe to call from worker processes.
    """
    root = Path(root)
    _check_name("speaker", clip.speaker)
    _check_name("clip", clip.clip)
    where = f"clip {clip.speaker}/{clip.clip}"
    if clip.split not in SPLITS:
        raise CorpusError(f"{where}: split {clip.split!r} is not one of {SPLITS}")
    frames = np.asarray(clip.frames)
    s = spec.crop_size
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (s, s, 3):
        raise CorpusError(f"{where}: frames must be uint8 [T,{s},{s},3], got {frames.dtype} {frames.shape}")
    t = frames.shape[0]
    lm = np.asarray(clip.landmarks, np.float32)
    if lm.shape != (t, N_LANDMARKS, 2):
        raise CorpusError(f"{where}: landmarks must be [T={t},68,2], got {lm.shape}")
    found = np.ones(t, bool) if clip.face_found is None else np.asarray(clip.face_found, bool)
    if found.shape != (t,):
        raise CorpusError(f"{where}: face_found must be [T={t}], got {found.shape}")
    audio = np.asarray(clip.audio, np.float32)
    if audio.ndim != 1:
        raise CorpusError(f"{where}: audio must be mono [N], got {audio.shape}")
    n = t * spec.samples_per_frame
    audio = audio[:n] if audio.shape[0] >= n else np.pad(audio, (0, n - audio.shape[0]))

    arrays: dict[str, np.ndarray] = {"landmarks": lm, "face_found": found}
    if clip.transforms is not None:
        tr = np.asarray(clip.transforms, np.float32)
        if tr.shape != (t, 2, 3):
            raise CorpusError(f"{where}: transforms must be [T={t},2,3], got {tr.shape}")
        arrays["transforms"] = tr
    if clip.motion is not None:
        mo = np.asarray(clip.motion, np.float32)
        if clip.motion_fields is None or mo.shape != (t, len(clip.motion_fields)):
            raise CorpusError(f"{where}: motion must be [T={t}, len(motion_fields)], got {mo.shape}")
        arrays["motion"], arrays["motion_fields"] = mo, _as_str_array(clip.motion_fields)
    for key, names_key, vec, names in (
        ("identity", "identity_fields", clip.identity, clip.identity_fields),
        ("factors", "factor_names", clip.factors, clip.factor_names),
    ):
        if vec is not None:
            v = np.asarray(vec, np.float32)
            if names is None or v.shape != (len(names),):
                raise CorpusError(f"{where}: {key} must be [len({names_key})], got {v.shape}")
            arrays[key], arrays[names_key] = v, _as_str_array(names)
    if clip.phones is not None:
        arrays["phone_symbols"] = _as_str_array([p[0] for p in clip.phones])
        arrays["phone_start"] = np.asarray([p[1] for p in clip.phones], np.float32)
        arrays["phone_end"] = np.asarray([p[2] for p in clip.phones], np.float32)

    vrel, arel, nrel = clip_relpaths(clip.speaker, clip.clip)
    rec = ClipRecord(
        id=f"{clip.speaker}/{clip.clip}", speaker=clip.speaker, split=clip.split, n_frames=t,
        n_samples=n, video=vrel, audio=arel, arrays=nrel, n_face_missing=int((~found).sum()),
        text=clip.text, language=clip.language, source=clip.source,
    )
    arrays["meta"] = np.asarray(json.dumps(rec.to_json(), sort_keys=True, ensure_ascii=False), dtype=np.str_)
    (root / vrel).parent.mkdir(parents=True, exist_ok=True)
    vtmp = root / (vrel + ".tmp.mp4")
    encode_frames(vtmp, frames, spec.fps, spec.video)
    os.replace(vtmp, root / vrel)
    write_audio(root / arel, audio, spec.sample_rate)
    save_npz_deterministic(root / nrel, arrays)  # last: its presence marks the clip complete
    return rec


def clip_is_complete(root: str | os.PathLike, speaker: str, clip: str) -> bool:
    """True when all three files of the clip exist (the npz is written last, atomically)."""
    root = Path(root)
    return all((root / p).is_file() for p in clip_relpaths(speaker, clip))


def read_clip_record(root: str | os.PathLike, speaker: str, clip: str) -> ClipRecord:
    """Recover a written clip's index record from its ``.npz`` (used when resuming)."""
    path = Path(root) / clip_relpaths(speaker, clip)[2]
    meta = load_npz(path).get("meta")
    if meta is None:
        raise CorpusError(f"{path}: no 'meta' entry; not written by CorpusWriter")
    return ClipRecord.from_json(json.loads(str(meta)), where=str(path))


def write_index(
    root: str | os.PathLike,
    spec: CorpusSpec,
    speakers: Mapping[str, Mapping[str, Any]],
    clips: Iterable[ClipRecord],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Validate speakers/clips and write ``index.json`` (sorted keys, stable bytes).

    ``speakers`` maps speaker id → ``{"split": ..., **attributes}``. ``extra`` holds top-level
    fields such as ``generator`` settings or ``motion_fields``.
    """
    root = Path(root)
    clips = sorted(clips, key=lambda c: c.id)
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": spec.kind,
        "fps": spec.fps,
        "sample_rate": spec.sample_rate,
        "crop_size": spec.crop_size,
        "landmarks": "ibug68",
        "video": spec.video.to_json(),
        "speakers": {k: dict(speakers[k]) for k in sorted(speakers)},
        "clips": [c.to_json() for c in clips],
    }
    for k, v in (extra or {}).items():
        if k in doc:
            raise CorpusError(f"extra index field {k!r} would overwrite a format field")
        doc[k] = v
    validate_index(doc, where=str(root / INDEX_NAME))
    tmp = root / (INDEX_NAME + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, root / INDEX_NAME)
    return root / INDEX_NAME


class CorpusWriter:
    """Single-process convenience wrapper: ``add_speaker``, ``add_clip``, ``close`` → index.json.

    Multi-process producers call :func:`write_clip` in workers and :func:`write_index` once.
    """

    def __init__(self, root: str | os.PathLike, spec: CorpusSpec = CorpusSpec(), extra: Mapping[str, Any] | None = None):
        if spec.kind not in KINDS:
            raise CorpusError(f"corpus kind {spec.kind!r} is not one of {KINDS}")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.extra = dict(extra or {})
        self.speakers: dict[str, dict[str, Any]] = {}
        self.clips: dict[str, ClipRecord] = {}

    def add_speaker(self, speaker: str, split: str, **attributes: Any) -> None:
        _check_name("speaker", speaker)
        if split not in SPLITS:
            raise CorpusError(f"speaker {speaker!r}: split {split!r} is not one of {SPLITS}")
        self.speakers[speaker] = {"split": split, **attributes}

    def add_clip(self, clip: ClipData) -> ClipRecord:
        if clip.speaker not in self.speakers:
            self.add_speaker(clip.speaker, clip.split)
        rec = write_clip(self.root, self.spec, clip)
        self.clips[rec.id] = rec
        return rec

    def add_record(self, rec: ClipRecord) -> None:
        self.clips[rec.id] = rec

    def close(self) -> Path:
        return write_index(self.root, self.spec, self.speakers, self.clips.values(), self.extra)

    def __enter__(self) -> "CorpusWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()


# --------------------------------------------------------------------------------------------
# Validation and reader
# --------------------------------------------------------------------------------------------


def validate_index(doc: Mapping[str, Any], where: str = INDEX_NAME) -> None:
    """Raise :class:`CorpusError` naming ``where`` and the offending field if ``doc`` is invalid."""
    if not isinstance(doc, Mapping):
        raise CorpusError(f"{where}: top level must be a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise CorpusError(f"{where}: 'format' must be {FORMAT_NAME!r}, got {doc.get('format')!r}")
    if doc.get("version") != FORMAT_VERSION:
        raise CorpusError(f"{where}: format version {doc.get('version')!r} is not supported (expected {FORMAT_VERSION})")
    for key, typ in (("fps", int), ("sample_rate", int), ("crop_size", int), ("speakers", dict), ("clips", list)):
        if not isinstance(doc.get(key), typ) or isinstance(doc.get(key), bool):
            raise CorpusError(f"{where}: field {key!r} must be {typ.__name__}, got {doc.get(key)!r:.60}")
    if doc["sample_rate"] % doc["fps"]:
        raise CorpusError(f"{where}: sample_rate {doc['sample_rate']} must be a multiple of fps {doc['fps']}")
    if doc.get("kind") not in KINDS:
        raise CorpusError(f"{where}: 'kind' must be one of {KINDS}, got {doc.get('kind')!r}")
    for spk, info in doc["speakers"].items():
        if not isinstance(info, Mapping) or info.get("split") not in SPLITS:
            raise CorpusError(f"{where}: speaker {spk!r} needs a 'split' in {SPLITS}")
    seen = set()
    spf = doc["sample_rate"] // doc["fps"]
    for i, c in enumerate(doc["clips"]):
        if not isinstance(c, Mapping):
            raise CorpusError(f"{where}: clips[{i}] must be an object")
        rec = ClipRecord.from_json(c, where=where)
        if rec.id in seen:
            raise CorpusError(f"{where}: clip id {rec.id!r} appears twice")
        seen.add(rec.id)
        if rec.speaker not in doc["speakers"]:
            raise CorpusError(f"{where}: clip {rec.id!r} names unknown speaker {rec.speaker!r}")
        if rec.split != doc["speakers"][rec.speaker]["split"]:
            raise CorpusError(
                f"{where}: clip {rec.id!r} is in split {rec.split!r} but its speaker is in "
                f"{doc['speakers'][rec.speaker]['split']!r} (splits are by speaker)"
            )
        if rec.n_frames <= 0 or rec.n_samples != rec.n_frames * spf:
            raise CorpusError(f"{where}: clip {rec.id!r} has n_frames={rec.n_frames}, n_samples={rec.n_samples}; expected n_samples = n_frames * {spf}")


class Corpus:
    """Read-only view of a corpus directory.

    >>> c = Corpus("~/.cache/see-the-speaker/corpus/tiny")
    >>> rec = c.clips_in("train")[0]
    >>> frames = c.load_frames(rec, 0, 10)      # uint8 [10, S, S, 3]
    >>> audio = c.load_audio(rec)                # float32 [n_frames * 640]
    >>> arrays = c.load_arrays(rec)              # landmarks, face_found, motion, ...
    """

    def __init__(self, root: str | os.PathLike, check_files: bool = True):
        self.root = Path(os.path.expanduser(str(root)))
        path = self.root / INDEX_NAME
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(f"{path}: no corpus index here (run `see-the-speaker corpus generate` or `corpus preprocess` first)") from None
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}: not valid JSON ({e})") from e
        validate_index(doc, where=str(path))
        self.index = doc
        self.spec = CorpusSpec(
            kind=doc["kind"], fps=doc["fps"], sample_rate=doc["sample_rate"], crop_size=doc["crop_size"],
            video=VideoConfig.from_json(doc.get("video", {})),
        )
        self.speakers: dict[str, dict[str, Any]] = doc["speakers"]
        self.clips: list[ClipRecord] = [ClipRecord.from_json(c) for c in doc["clips"]]
        if check_files:
            for rec in self.clips:
                for rel in (rec.video, rec.audio, rec.arrays):
                    if not (self.root / rel).is_file():
                        raise CorpusError(f"{self.root / rel}: listed in {path} for clip {rec.id!r} but missing")

    # --- selection -------------------------------------------------------------------------
    @property
    def fps(self) -> int:
        return self.spec.fps

    @property
    def sample_rate(self) -> int:
        return self.spec.sample_rate

    @property
    def samples_per_frame(self) -> int:
        return self.spec.samples_per_frame

    def clips_in(self, split: str | Sequence[str] | None = None) -> list[ClipRecord]:
        """Clips of one split (or several, or all when ``None``), in index order."""
        if split is None:
            return list(self.clips)
        splits = (split,) if isinstance(split, str) else tuple(split)
        bad = [s for s in splits if s not in SPLITS]
        if bad:
            raise CorpusError(f"unknown split(s) {bad}; expected {SPLITS}")
        return [c for c in self.clips if c.split in splits]

    def speakers_in(self, split: str | None = None) -> list[str]:
        return sorted(s for s, info in self.speakers.items() if split is None or info["split"] == split)

    # --- loading ---------------------------------------------------------------------------
    def load_arrays(self, rec: ClipRecord) -> dict[str, np.ndarray]:
        path = self.root / rec.arrays
        a = load_npz(path)
        for key in ("landmarks", "face_found"):
            if key not in a:
                raise CorpusError(f"{path}: missing array {key!r}")
        if a["landmarks"].shape != (rec.n_frames, N_LANDMARKS, 2):
            raise CorpusError(f"{path}: landmarks shape {a['landmarks'].shape}, expected ({rec.n_frames}, 68, 2)")
        return a

    def load_audio(self, rec: ClipRecord) -> np.ndarray:
        """float32 [n_samples]; sample ``t * samples_per_frame`` is the start of frame ``t``."""
        path = self.root / rec.audio
        a = read_audio(path, self.sample_rate)
        if a.shape[0] != rec.n_samples:
            raise CorpusError(f"{path}: {a.shape[0]} samples, index says {rec.n_samples}")
        return a

    def load_frames(self, rec: ClipRecord, start: int = 0, stop: int | None = None, size: int | None = None) -> np.ndarray:
        """uint8 [stop-start, S, S, 3] RGB aligned crops (``stop=None``: to the end); ``size``
        rescales to size² while decoding."""
        stop = rec.n_frames if stop is None else stop
        if not 0 <= start < stop <= rec.n_frames:
            raise CorpusError(f"clip {rec.id!r}: frame range [{start}, {stop}) outside [0, {rec.n_frames})")
        try:
            return decode_frames(self.root / rec.video, start, stop, self.fps, size)
        except ValueError as e:
            raise CorpusError(str(e)) from e
        except Exception as e:  # av.error.*
            raise CorpusError(f"{self.root / rec.video}: cannot decode video ({e})") from e

    def validate(self, deep: bool = False) -> list[str]:
        """Check every clip's files; with ``deep`` also decode them. Returns problems (empty = ok)."""
        from .video_io import video_info

        problems = []
        for rec in self.clips:
            try:
                a = self.load_arrays(rec)
                if a["face_found"].shape != (rec.n_frames,):
                    problems.append(f"{self.root / rec.arrays}: face_found shape {a['face_found'].shape}")
                n, h, w = video_info(self.root / rec.video)
                if (h, w) != (self.spec.crop_size,) * 2:
                    problems.append(f"{self.root / rec.video}: {w}x{h}, expected crop size {self.spec.crop_size}")
                if n and n != rec.n_frames:
                    problems.append(f"{self.root / rec.video}: {n} frames, index says {rec.n_frames}")
                if deep:
                    self.load_audio(rec)
                    if self.load_frames(rec).shape[0] != rec.n_frames:
                        problems.append(f"{self.root / rec.video}: decoded frame count differs")
            except CorpusError as e:
                problems.append(str(e))
        return problems

    def __len__(self) -> int:
        return len(self.clips)

    def __repr__(self) -> str:
        return f"Corpus({str(self.root)!r}, kind={self.spec.kind}, speakers={len(self.speakers)}, clips={len(self.clips)})"
