"""Stage-1 training data: portrait frames, utterances and face attributes cached from a corpus.

A portrait is a near-neutral frame of a clip (synthetic corpora: the frames whose ground-truth
motion is closest to rest — mouth closed, eyes open, head frontal; real corpora: evenly spaced
frames with a detected face). `build_cache` picks `frames_per_clip` of them per clip, decodes
them once, and stores everything stage-1 training needs in one folder (numpy, no pickle):

    faces.npy       uint8   [P, S, S, 3]  portraits (memory-mapped when read)
    arrays.npz      face_clip int64 [P]   clip of each portrait
                    clip_speaker int64 [C], clip_split str [C], speakers str [Sp]
                    audio float16 [A] (all clips concatenated), audio_offsets int64 [C+1]
                    attributes float32 [C, F] + attribute_names [F] (synthetic identity; F=0 on real data)
    info.json       corpus path, counts, settings

The same cache serves the autoencoder (faces), ConRe (audio + faces + attributes) and the
denoiser (faces -> latents, audio -> speech embeddings).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np

# Motion fields that make a portrait non-neutral, with the size of a "large" deviation.
NEUTRAL_WEIGHTS = {"jaw_open": 0.3, "mouth_width": 0.5, "lip_round": 0.5, "lip_press": 0.5, "teeth": 0.5,
                   "tongue": 0.5, "smile": 0.5, "blink_l": 0.3, "blink_r": 0.3, "gaze_x": 1.0, "gaze_y": 1.0,
                   "brow_raise": 0.6, "yaw": 8.0, "pitch": 6.0, "roll": 6.0, "tx": 0.03, "ty": 0.03, "scale": 0.06}
NEUTRAL_REST = {"scale": 1.0}


def neutral_frames(arrays: dict, n_frames: int, k: int, min_gap: int = 5) -> list[int]:
    """Indices of k near-neutral frames of one clip (at least `min_gap` apart when possible)."""
    if "motion" in arrays and "motion_fields" in arrays:
        fields = [str(f) for f in arrays["motion_fields"]]
        m = arrays["motion"].astype(np.float64)
        score = np.zeros(m.shape[0])
        for i, f in enumerate(fields):
            if f in NEUTRAL_WEIGHTS:
                score += np.abs(m[:, i] - NEUTRAL_REST.get(f, 0.0)) / NEUTRAL_WEIGHTS[f]
        order = np.argsort(score, kind="stable")
    else:  # real video: evenly spaced frames with a face
        ok = np.flatnonzero(arrays.get("face_found", np.ones(n_frames, bool)))
        ok = ok if ok.size else np.arange(n_frames)
        order = ok[np.linspace(0, ok.size - 1, num=min(ok.size, 4 * k)).round().astype(int)]
    chosen: list[int] = []
    for t in order:
        if all(abs(int(t) - c) >= min_gap for c in chosen):
            chosen.append(int(t))
        if len(chosen) == k:
            break
    for t in order:  # short clips: relax the gap
        if len(chosen) == k:
            break
        if int(t) not in chosen:
            chosen.append(int(t))
    return chosen


@dataclass
class PortraitCache:
    """Read side of the cache (see the module doc for the arrays)."""

    root: str
    faces: np.ndarray  # uint8 [P, S, S, 3] (memmap)
    face_clip: np.ndarray  # int64 [P]
    clip_speaker: np.ndarray  # int64 [C]
    clip_split: np.ndarray  # str [C]
    speakers: np.ndarray  # str [Sp]
    audio: np.ndarray  # float16 [A]
    audio_offsets: np.ndarray  # int64 [C+1]
    attributes: np.ndarray  # float32 [C, F]
    attribute_names: np.ndarray  # str [F]
    sample_rate: int

    @classmethod
    def open(cls, root: str) -> "PortraitCache":
        a = np.load(os.path.join(root, "arrays.npz"), allow_pickle=False)
        info = json.load(open(os.path.join(root, "info.json")))
        return cls(root, np.load(os.path.join(root, "faces.npy"), mmap_mode="r"), a["face_clip"], a["clip_speaker"],
                   a["clip_split"], a["speakers"], a["audio"], a["audio_offsets"], a["attributes"],
                   a["attribute_names"], int(info["sample_rate"]))

    def clip_audio(self, c: int) -> np.ndarray:
        return self.audio[self.audio_offsets[c]: self.audio_offsets[c + 1]].astype(np.float32)

    def clips_of(self, splits) -> np.ndarray:
        splits = (splits,) if isinstance(splits, str) else tuple(splits)
        return np.flatnonzero(np.isin(self.clip_split, splits))

    def portraits_of(self, splits) -> np.ndarray:
        return np.flatnonzero(np.isin(self.face_clip, self.clips_of(splits)))

    @property
    def face_speaker(self) -> np.ndarray:
        return self.clip_speaker[self.face_clip]


def build_cache(corpus_root: str, out: str, frames_per_clip: int = 2, size: int = 256,
                max_seconds: float = 8.0, log=print) -> PortraitCache:
    """Pick, decode and store the portraits and audio of every clip (skipped if `out` is complete)."""
    if os.path.exists(os.path.join(out, "info.json")):
        return PortraitCache.open(out)
    import cv2

    from ..data.corpus import Corpus

    os.makedirs(out, exist_ok=True)
    corpus = Corpus(os.path.expanduser(corpus_root))
    clips = corpus.clips_in(None)
    speakers = sorted(corpus.speakers)
    spk_index = {s: i for i, s in enumerate(speakers)}
    attr_names: list[str] = []
    first = corpus.speakers[speakers[0]]
    if isinstance(first.get("identity"), dict):
        attr_names = list(first["identity"])
    faces = np.lib.format.open_memmap(os.path.join(out, ".faces.npy"), "w+", np.uint8,
                                      (len(clips) * frames_per_clip, size, size, 3))
    face_clip, audio, offsets, attrs = [], [], [0], []
    max_samples = int(max_seconds * corpus.sample_rate)
    t0 = time.time()
    p = 0
    for c, rec in enumerate(clips):
        arrays = corpus.load_arrays(rec)
        for t in neutral_frames(arrays, rec.n_frames, frames_per_clip):
            frame = corpus.load_frames(rec, t, t + 1)[0]
            faces[p] = frame if frame.shape[0] == size else cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
            face_clip.append(c)
            p += 1
        a = corpus.load_audio(rec)[:max_samples]
        audio.append(a.astype(np.float16))
        offsets.append(offsets[-1] + a.shape[0])
        ident = corpus.speakers[rec.speaker].get("identity") or {}
        attrs.append([float(ident[n]) for n in attr_names])
        if log and (c + 1) % 200 == 0:
            log(f"cache: {c + 1}/{len(clips)} clips, {time.time() - t0:.0f} s")
    faces.flush()
    del faces
    if p < len(clips) * frames_per_clip:  # clips shorter than frames_per_clip frames
        full = np.load(os.path.join(out, ".faces.npy"), mmap_mode="r")[:p]
        np.save(os.path.join(out, ".faces_trim.npy"), full)
        os.replace(os.path.join(out, ".faces_trim.npy"), os.path.join(out, ".faces.npy"))
    os.replace(os.path.join(out, ".faces.npy"), os.path.join(out, "faces.npy"))
    np.savez(os.path.join(out, "arrays.npz"), face_clip=np.array(face_clip, np.int64),
             clip_speaker=np.array([spk_index[r.speaker] for r in clips], np.int64),
             clip_split=np.array([r.split for r in clips]), speakers=np.array(speakers),
             audio=np.concatenate(audio), audio_offsets=np.array(offsets, np.int64),
             attributes=np.array(attrs, np.float32).reshape(len(clips), len(attr_names)),
             attribute_names=np.array(attr_names, dtype=str))
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump({"corpus": str(corpus.root), "clips": len(clips), "portraits": p, "size": size,
                   "frames_per_clip": frames_per_clip, "sample_rate": corpus.sample_rate,
                   "seconds": round(time.time() - t0, 1)}, f, indent=1)
    log(f"cache: {len(clips)} clips, {p} portraits in {time.time() - t0:.0f} s -> {out}")
    return PortraitCache.open(out)
