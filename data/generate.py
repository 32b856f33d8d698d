"""Synthetic corpus generator (``see-the-speaker corpus generate``; ``python -m see_the_speaker.data.generate``).

For speaker ``i`` of corpus ``seed``: :func:`synth.speaker.make_speaker` gives its hidden factors,
face identity, voice and speaking style. For each of its clips: a few sentences in the speaker's
language (``synth.text``), espeak-ng speech with phoneme timings (``synth.voice``), speech-driven
motion for every 25 fps frame (``synth.behaviour.speech_motion``), a scene, the rendered aligned
frames and landmarks (``synth.face.render_clip``), all written in the corpus format
(``data/corpus.py``).

* **Deterministic**: every random stream is ``numpy.random.default_rng([seed, speaker, clip,
  tag])``, the video encoder runs one thread with fixed options, the npz/flac/json writers stamp
  no time: the same seed and preset give the same bytes, whatever ``--jobs`` is.
* **Parallel**: clips are farmed out to ``--jobs`` worker processes (default: all cores).
* **Resumable**: a clip whose three files exist is skipped (its ``.npz`` is written last,
  atomically); ``generator.json`` records the settings and a fingerprint of the code (sources of
  the synthesis/format modules + library versions), and a rerun with different settings or code
  into the same folder is refused (``--force`` regenerates every clip).

Presets: ``standard`` (200 speakers × 10 clips × ~4 s, 80/10/10 speaker split) and ``tiny``
(6 speakers × 2 clips × ~1.5 s, for tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import math
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

from .corpus import (
    FORMAT_VERSION, ClipData, ClipRecord, CorpusError, CorpusSpec, clip_is_complete, read_clip_record,
    write_clip, write_index,
)
from .video_io import VideoConfig

log = logging.getLogger("see_the_speaker.generate")

DEFAULT_ROOT = "~/.cache/see-the-speaker/corpus"


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the corpus bytes (stored in ``generator.json`` and the index)."""

    preset: str = "standard"
    seed: int = 0
    tie: str = "v2"  # voice-face tie version of data/synth/speaker.py (TIES)
    speakers: int = 200
    clips_per_speaker: int = 10
    seconds: float = 4.0  # target clip length; whole sentences, so actual lengths vary
    crop_size: int = 256
    fps: int = 25
    sample_rate: int = 16000
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    video: VideoConfig = VideoConfig()

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["format_version"] = FORMAT_VERSION
        return d


PRESETS: dict[str, GeneratorConfig] = {
    "standard": GeneratorConfig(preset="standard", speakers=200, clips_per_speaker=10, seconds=4.0),
    "tiny": GeneratorConfig(preset="tiny", speakers=6, clips_per_speaker=2, seconds=1.5),
}


def speaker_splits(cfg: GeneratorConfig) -> list[str]:
    """Split of every speaker index: a seeded permutation, test and val first, rest train.

    Every split gets at least one speaker when there are ≥ 3 speakers."""
    n = cfg.speakers
    perm = np.random.default_rng([cfg.seed & 0xFFFFFFFF, 0x5B117]).permutation(n)
    n_test = max(1 if n >= 3 else 0, int(round(cfg.test_fraction * n)))
    n_val = max(1 if n >= 3 else 0, int(round(cfg.val_fraction * n)))
    splits = ["train"] * n
    for rank, i in enumerate(perm):
        splits[i] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return splits


def clip_name(j: int) -> str:
    return f"clip{j:03d}"


def _rng(cfg: GeneratorConfig, speaker: int, clip: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed & 0xFFFFFFFF, speaker, clip, tag])


@functools.lru_cache(maxsize=8)
def _speaker(seed: int, index: int, tie: str = "v2"):
    from .synth.speaker import make_speaker

    return make_speaker(seed, index, tie)


def _utterance(cfg: GeneratorConfig, spk, clip: int):
    """Speech of about ``cfg.seconds``: 1–4 whole sentences, the count closest to the target."""
    from .synth.text import sentences
    from .synth.voice import synthesize

    texts = sentences(spk.voice.language, _rng(cfg, spk.index, clip, 1), 4)
    voice_seed = int(_rng(cfg, spk.index, clip, 2).integers(2**31))
    best = None
    for k in range(1, len(texts) + 1):
        utt = synthesize(" ".join(texts[:k]), spk.voice, seed=voice_seed)
        if best is None or abs(utt.duration - cfg.seconds) < abs(best.duration - cfg.seconds):
            best = utt
        if utt.duration >= cfg.seconds:
            break
    return best


def _motion(utt, n_frames: int, cfg: GeneratorConfig, spk, clip: int) -> np.ndarray:
    """float32 [n_frames, len(MOTION_FIELDS)] from the voice engineer's behaviour model."""
    from .synth.behaviour import speech_motion

    return np.asarray(speech_motion(utt, n_frames, fps=cfg.fps, style=spk.style, rng=_rng(cfg, spk.index, clip, 3)), np.float32)


def make_clip(cfg: GeneratorConfig, speaker: int, clip: int, split: str) -> ClipData:
    """Synthesise one clip in memory (pure function of its arguments)."""
    from .synth.face import MOTION_FIELDS, FaceIdentity, Scene, render_clip
    from .synth.speaker import FACTOR_NAMES

    spk = _speaker(cfg.seed, speaker, cfg.tie)
    utt = _utterance(cfg, spk, clip)
    spf = cfg.sample_rate // cfg.fps
    n_frames = max(1, math.ceil(len(utt.wave) / spf))
    motion = _motion(utt, n_frames, cfg, spk, clip)
    scene = Scene.random(_rng(cfg, speaker, clip, 4))
    frames, lm = render_clip(spk.identity, motion, cfg.crop_size, scene)
    return ClipData(
        speaker=spk.id, clip=clip_name(clip), split=split, frames=frames, audio=utt.wave, landmarks=lm,
        text=utt.text, language=utt.language, source=f"synthetic:seed={cfg.seed}",
        motion=motion, motion_fields=MOTION_FIELDS,
        identity=spk.identity.to_vector(), identity_fields=FaceIdentity.FIELDS,
        factors=spk.factors, factor_names=FACTOR_NAMES,
        phones=[(p.symbol, float(p.start), float(p.end)) for p in utt.phonemes],
    )


def _spec(cfg: GeneratorConfig) -> CorpusSpec:
    return CorpusSpec(kind="synthetic", fps=cfg.fps, sample_rate=cfg.sample_rate, crop_size=cfg.crop_size, video=cfg.video)


def _work(job: tuple[GeneratorConfig, str, int, int, str]) -> tuple[ClipRecord, float]:
    cfg, root, speaker, clip, split = job
    t0 = time.perf_counter()
    rec = write_clip(root, _spec(cfg), make_clip(cfg, speaker, clip, split))
    return rec, time.perf_counter() - t0


def _worker_init() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


# Package files whose code shapes the corpus bytes (relative to the package root).
_CODE_FILES = (
    "data/canonical.py", "data/corpus.py", "data/generate.py", "data/video_io.py",
    "data/synth/behaviour.py", "data/synth/espeak.py", "data/synth/face.py", "data/synth/speaker.py",
    "data/synth/text.py", "data/synth/visemes.py", "data/synth/voice.py",
)


def code_fingerprint() -> dict:
    """Hash of the synthesis/format sources plus the versions of the libraries that shape the
    bytes (encoder, resampler, rasteriser). Clips made by different code must not be mixed."""
    import hashlib

    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for rel in _CODE_FILES:
        p = pkg / rel
        h.update(rel.encode() + b"\0" + (p.read_bytes() if p.exists() else b"<missing>") + b"\0")
    versions = {}
    for mod in ("av", "numpy", "scipy", "cv2", "soundfile", "espeakng_loader"):
        try:
            versions[mod] = str(getattr(__import__(mod), "__version__", "?"))
        except ImportError:
            versions[mod] = "absent"
    return {"sources_sha256": h.hexdigest(), "versions": versions}


def _check_settings(root: Path, cfg: GeneratorConfig, force: bool) -> None:
    """Refuse to resume into a folder made with other settings or other code (unless --force,
    which regenerates every clip); then record the current settings and code fingerprint."""
    path = root / "generator.json"
    want = {"settings": cfg.to_json(), "code": code_fingerprint()}
    if path.exists() and not force:
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}: unreadable ({e}); use another --out or --force") from e
        old_settings = dict(old.get("settings", old))  # first release stored the settings alone
        old_settings.setdefault("tie", "v2")  # corpora from before tie versions are v2
        if old_settings != want["settings"]:
            raise CorpusError(
                f"{path}: this folder was generated with other settings; use another --out, or --force "
                "to regenerate every clip"
            )
        old_code = old.get("code")
        if old_code is None:
            log.warning("%s: no code fingerprint recorded; assuming the existing clips match this code", path)
        elif old_code != want["code"]:
            what = "source files" if old_code.get("sources_sha256") != want["code"]["sources_sha256"] else "library versions"
            raise CorpusError(
                f"{path}: the existing clips were made by different code ({what} differ: "
                f"{old_code} vs {want['code']}); resuming would mix them. Use another --out, or --force "
                "to regenerate every clip"
            )
    path.write_text(json.dumps(want, indent=1, sort_keys=True) + "\n")


def generate(cfg: GeneratorConfig, root: str | os.PathLike, jobs: int | None = None, force: bool = False, log_every: float = 10.0) -> Path:
    """Generate (or finish) the corpus at ``root``; returns the index path."""
    # Import the synthesis modules before forking so every worker runs the very same code.
    from .synth import behaviour, face, speaker, text, voice  # noqa: F401

    root = Path(os.path.expanduser(str(root)))
    root.mkdir(parents=True, exist_ok=True)
    _check_settings(root, cfg, force)
    splits = speaker_splits(cfg)
    records: dict[str, ClipRecord] = {}
    todo = []
    for i in range(cfg.speakers):
        for j in range(cfg.clips_per_speaker):
            sid = f"spk{i:04d}"
            if not force and clip_is_complete(root, sid, clip_name(j)):
                rec = read_clip_record(root, sid, clip_name(j))
                records[rec.id] = rec
            else:
                todo.append((cfg, str(root), i, j, splits[i]))
    total = cfg.speakers * cfg.clips_per_speaker
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    log.info("corpus %s at %s: %d clips, %d already done, %d to make with %d process(es)", cfg.preset, root, total, len(records), len(todo), jobs)
    t0 = last = time.time()
    done = 0
    frames = 0
    if todo:
        if jobs == 1:
            _worker_init()
            results = map(_work, todo)
            pool = None
        else:
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            pool = ctx.Pool(jobs, initializer=_worker_init)
            results = pool.imap_unordered(_work, todo, chunksize=1)
        try:
            for rec, _dt in results:
                records[rec.id] = rec
                done += 1
                frames += rec.n_frames
                now = time.time()
                if now - last >= log_every or done == len(todo):
                    el = now - t0
                    eta = el / done * (len(todo) - done)
                    log.info("%d/%d clips (%.0f%%), %.1f clips/s, %.0f frames/s, elapsed %.0f s, ETA %.0f s",
                             len(records), total, 100 * len(records) / total, done / el, frames / el, el, eta)
                    last = now
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    speakers = {}
    for i in range(cfg.speakers):
        spk = _speaker(cfg.seed, i, cfg.tie)
        speakers[spk.id] = {"split": splits[i], **spk.attributes()}
    from .synth.face import MOTION_FIELDS, FaceIdentity
    from .synth.speaker import FACTOR_NAMES

    extra = {
        "generator": cfg.to_json(),
        "motion_fields": list(MOTION_FIELDS),
        "identity_fields": list(FaceIdentity.FIELDS),
        "factor_names": list(FACTOR_NAMES),
    }
    index = write_index(root, _spec(cfg), speakers, records.values(), extra)
    log.info("wrote %s (%d clips, %d speakers) in %.1f s", index, len(records), len(speakers), time.time() - t0)
    return index


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="standard", help="standard: 200 speakers × 10 clips × ~4 s; tiny: 6 × 2 × ~1.5 s (tests)")
    parser.add_argument("--out", default=None, help=f"output folder (default: {DEFAULT_ROOT}/<preset>)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed: same seed and settings → same bytes")
    parser.add_argument("--tie", choices=("v2", "v3"), default=None,
                        help="voice-face tie of data/synth/speaker.py: v2 (the default; the second standard corpus) or "
                             "v3 (tighter face geometry, morph also heard as a resonance; for stage 1)")
    parser.add_argument("--speakers", type=int, default=None, help="override the preset's number of speakers")
    parser.add_argument("--clips", type=int, default=None, help="override the preset's clips per speaker")
    parser.add_argument("--seconds", type=float, default=None, help="override the preset's target clip length")
    parser.add_argument("--crop-size", type=int, default=None, help="override the crop side in pixels (default 256)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of cores)")
    parser.add_argument("--force", action="store_true", help="regenerate clips that already exist")
    parser.add_argument("--quiet", action="store_true", help="only warnings")


def config_from_args(args: argparse.Namespace) -> GeneratorConfig:
    cfg = PRESETS[args.preset]
    over = {k: v for k, v in (("seed", args.seed), ("speakers", args.speakers), ("clips_per_speaker", args.clips),
                             ("seconds", args.seconds), ("crop_size", args.crop_size), ("tie", getattr(args, "tie", None)))
            if v is not None}
    return dataclasses.replace(cfg, **over)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    cfg = config_from_args(args)
    out = args.out or f"{DEFAULT_ROOT}/{cfg.preset}"
    try:
        index = generate(cfg, out, jobs=args.jobs, force=args.force)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(index)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="see-the-speaker corpus generate", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
