"""Data for stage-2 motion training: where the motion latent comes from, and per-clip tensors.

`MotionSource` is the one switch between the two motion spaces (``--motion-source``):

* ``GroundTruthMotion`` ("gt"): the synthetic corpus's ground-truth motion (data/synth/face.py
  MOTION_FIELDS) grouped into the renderer's four parts (lips | expression | eyes | head_pose) and
  scaled by MOTION_RANGES to [-1, 1]. For development before a trained renderer exists, and for
  measuring the motion models alone.
* ``RendererMotion`` ("renderer:<checkpoint>"): a trained renderer's motion encoder applied to the
  corpus frames (latents cached to disk outside the repo), plus its identity vector of each clip's
  first frame. The bundle then generates exactly what that renderer consumes.

`MotionClips` loads every clip of a split once: raw content features [T, F] (frozen front end,
cached as fp16 .safetensors under the cache folder), motion latent [T, D], speaker, identity.
Stage-2 motion data are small (the standard corpus is ~2·10⁵ frames), so they live in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..data.corpus import ClipRecord, Corpus
from ..data.synth.face import MOTION_FIELDS, MOTION_RANGES
from ..models.content_encoder import ContentEncoderConfig, raw_features
from ..models.motion_latent import PART_NAMES

DEFAULT_CACHE = os.path.expanduser("~/.cache/see-the-speaker/motion_cache")

GT_PARTS: dict[str, tuple[str, ...]] = {
    "lips": ("jaw_open", "mouth_width", "lip_round", "lip_press", "teeth", "tongue"),
    "expression": ("smile", "brow_raise"),
    "eyes": ("blink_l", "blink_r", "gaze_x", "gaze_y"),
    "head_pose": ("yaw", "pitch", "roll", "tx", "ty", "scale"),
}


class MotionSource:
    """Motion latent of corpus clips: `name`, `dim`, `parts`, `identity_dim`, `clip_motion(...)`."""

    name: str
    dim: int
    parts: dict[str, tuple[int, int]]
    identity_dim: int = 0

    def clip_motion(self, corpus: Corpus, rec: ClipRecord) -> tuple[np.ndarray, np.ndarray | None]:
        """-> (latent float32 [T, D], identity float32 [identity_dim] or None)."""
        raise NotImplementedError


class GroundTruthMotion(MotionSource):
    def __init__(self):
        self.name = "gt"
        self.columns = [MOTION_FIELDS.index(f) for p in PART_NAMES for f in GT_PARTS[p]]
        lo = np.array([MOTION_RANGES[MOTION_FIELDS[c]][0] for c in self.columns], np.float32)
        hi = np.array([MOTION_RANGES[MOTION_FIELDS[c]][1] for c in self.columns], np.float32)
        self.centre, self.half = (hi + lo) / 2, (hi - lo) / 2
        self.parts, start = {}, 0
        for p in PART_NAMES:
            self.parts[p] = (start, start + len(GT_PARTS[p]))
            start += len(GT_PARTS[p])
        self.dim = start
        self.identity_dim = 0

    def clip_motion(self, corpus, rec):
        m = corpus.load_arrays(rec)["motion"].astype(np.float32)[:, self.columns]
        return (m - self.centre) / self.half, None

    def to_fields(self, latent: np.ndarray) -> np.ndarray:
        """[T, D] latent -> [T, len(MOTION_FIELDS)] face.py motion (for rendering with the synth face)."""
        out = np.zeros((latent.shape[0], len(MOTION_FIELDS)), np.float32)
        out[:, MOTION_FIELDS.index("scale")] = 1.0
        out[:, self.columns] = latent * self.half + self.centre
        return out


class RendererMotion(MotionSource):
    """A renderer checkpoint's motion encoder on the corpus frames (cached per clip)."""

    def __init__(self, checkpoint: str, cache_dir: str, batch: int = 64):
        from ..checkpoint import load_model
        from ..models import renderer as _renderer  # noqa: F401  (registers the "renderer" kind)
        self.renderer, _ = load_model(checkpoint, expected_kind="renderer")
        self.name = "renderer:" + os.path.basename(checkpoint)
        spec = self.renderer.spec
        self.parts, self.dim = spec.parts(), spec.dim
        self.identity_dim = int(self.renderer.encode_portrait(torch.zeros(1, 3, 64, 64))[1].shape[-1])
        with open(checkpoint, "rb") as f:
            digest = hashlib.sha1(f.read(1 << 20) + str(os.path.getsize(checkpoint)).encode()).hexdigest()[:12]
        self.cache = os.path.join(cache_dir, f"renderer-{digest}")
        os.makedirs(self.cache, exist_ok=True)
        self.batch = batch

    @torch.no_grad()
    def clip_motion(self, corpus, rec):
        # keyed by renderer (self.cache) *and* corpus: two corpora share clip ids like spk0000/clip000
        where = hashlib.sha1(str(corpus.root.resolve()).encode()).hexdigest()[:8]
        path = os.path.join(self.cache, where, rec.id.replace("/", "__") + ".safetensors")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            t = load_file(path)
            return t["latent"].numpy(), t["identity"].numpy()
        frames = torch.from_numpy(corpus.load_frames(rec)).permute(0, 3, 1, 2).float() / 255
        lat = torch.cat([self.renderer.encode_motion(frames[i:i + self.batch]) for i in range(0, len(frames), self.batch)])
        ident = self.renderer.encode_portrait(frames[:1])[1][0]
        tmp = f"{path}.{os.getpid()}.tmp"
        save_file({"latent": lat.float().contiguous(), "identity": ident.float().contiguous()}, tmp)
        os.replace(tmp, path)
        return lat.numpy(), ident.numpy()


def motion_source(spec: str, cache_dir: str = DEFAULT_CACHE) -> MotionSource:
    """'gt' or 'renderer:/path/to/renderer.safetensors'."""
    if spec == "gt":
        return GroundTruthMotion()
    if spec.startswith("renderer:"):
        return RendererMotion(spec.split(":", 1)[1], cache_dir)
    raise ValueError(f"motion source must be 'gt' or 'renderer:<checkpoint>', got {spec!r}")


@dataclass
class Clip:
    id: str
    speaker: str
    raw: torch.Tensor  # [T, F] raw content features (float32)
    motion: torch.Tensor  # [T, D] motion latent (not yet normalised)
    identity: torch.Tensor | None  # [identity_dim]
    mouth: torch.Tensor  # [T] ground-truth inner-lip opening from the corpus landmarks (pixels / crop)


def _feature_cache(corpus: Corpus, cfg: ContentEncoderConfig, cache_dir: str, variant: str) -> str:
    key = json.dumps({"root": os.path.abspath(corpus.root), "n": len(corpus.clips), "cfg": asdict(cfg), "v": variant},
                     sort_keys=True)
    return os.path.join(cache_dir, "content-" + hashlib.sha1(key.encode()).hexdigest()[:16] + ".safetensors")


def load_raw_features(corpus: Corpus, clips: list[ClipRecord], cfg: ContentEncoderConfig, cache_dir: str,
                      augment: bool = False, log=print) -> dict[str, torch.Tensor]:
    """Raw content features of every clip, computed once and cached (fp16) under `cache_dir`."""
    from .motion_augment import augment_wave
    os.makedirs(cache_dir, exist_ok=True)
    path = _feature_cache(corpus, cfg, cache_dir, "aug" if augment else "clean")
    cached = load_file(path) if os.path.exists(path) else {}
    todo = [r for r in clips if r.id not in cached]
    if todo:
        log(f"content features ({cfg.backend}{', augmented' if augment else ''}): {len(todo)} clips -> {path}")
        for i, r in enumerate(todo):
            wave = corpus.load_audio(r)
            if augment:
                wave = augment_wave(wave, np.random.default_rng(int(hashlib.sha1(r.id.encode()).hexdigest()[:8], 16)))
            cached[r.id] = raw_features(wave, cfg, r.n_frames).half().contiguous()
            if (i + 1) % 200 == 0:
                log(f"  {i + 1}/{len(todo)}")
        tmp = f"{path}.{os.getpid()}.tmp"  # atomic: torchrun ranks may compute the same cache at once
        save_file(cached, tmp)
        os.replace(tmp, path)
    return {r.id: cached[r.id].float() for r in clips}


def load_clips(corpus: Corpus, split: str | list[str], source: MotionSource, cfg: ContentEncoderConfig,
               cache_dir: str = DEFAULT_CACHE, augment: bool = False, max_clips: int = 0, log=print) -> list[Clip]:
    from ..data.canonical import INNER_LIP_LOWER, INNER_LIP_UPPER
    recs = corpus.clips_in(split)
    if max_clips:
        recs = recs[:max_clips]
    raw = load_raw_features(corpus, recs, cfg, cache_dir, augment=augment, log=log)
    out = []
    for r in recs:
        motion, ident = source.clip_motion(corpus, r)
        lm = corpus.load_arrays(r)["landmarks"]
        mouth = np.abs(lm[:, INNER_LIP_LOWER, 1] - lm[:, INNER_LIP_UPPER, 1]) / corpus.spec.crop_size
        out.append(Clip(r.id, r.speaker, raw[r.id], torch.from_numpy(np.asarray(motion, np.float32)),
                        None if ident is None else torch.from_numpy(np.asarray(ident, np.float32)),
                        torch.from_numpy(mouth.astype(np.float32))))
    return out


def motion_stats(clips: list[Clip], floor_ratio: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std of the motion latent over clips; std floored at floor_ratio x median."""
    m = torch.cat([c.motion for c in clips])
    mean, std = m.mean(0), m.std(0)
    return mean, std.clamp_min(float(std.median()) * floor_ratio + 1e-6)
