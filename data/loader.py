"""Torch datasets and samplers over a corpus directory (see ``data/corpus.py``).

Three views of the same clips:

* :class:`AudioFrameDataset` — item = (clip, frame t): the audio window centred on frame t, the
  aligned frame, its landmarks (and ground-truth motion on synthetic corpora). For lip sync,
  motion-from-audio and lip-expert training.
* :class:`FramePairDataset` — item = (clip, source i, driving j): two frames of one clip for
  cross-frame reconstruction (identity from i, motion from j).
* :class:`ClipDataset` — item = clip: the whole utterance's audio, one face frame, speaker id
  (+ identity ground truth). For stage 1 (speech → portrait, contrastive pre-training).

Efficiency: frames are decoded a whole clip at a time into a per-process LRU cache with a byte
bound (:class:`ClipCache`); :class:`ClipGroupedSampler` orders items so that each clip is visited
in a burst (a few clips interleaved per block), so a clip is decoded about once per epoch per
worker instead of once per item. :class:`SpeakerBalancedBatchSampler` yields P speakers × K
items per batch. Works with ``DataLoader(num_workers>0)``: each worker opens the corpus lazily
and keeps its own cache. ``benchmarks/loader_throughput.py`` measures samples/s.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .corpus import ClipRecord, Corpus


@dataclasses.dataclass
class LoaderConfig:
    """Options shared by the datasets."""

    split: str | Sequence[str] | None = "train"  # None = every split
    size: int | None = None  # output crop side (e.g. 128); None = the corpus crop size
    cache_mb: int = 512  # per-process bound on decoded clips kept in memory
    audio_window_frames: int = 5  # AudioFrameDataset: window length in video frames (odd → centred)
    pairs_per_clip: int = 64  # FramePairDataset: items per clip per epoch (a clip is decoded once for all)
    max_audio_seconds: float = 8.0  # ClipDataset: utterances are cropped/padded to this
    clip_frame: str = "random"  # ClipDataset: "first" | "middle" | "random" face frame
    uint8_frames: bool = False  # frames as uint8 [3,s,s] (4× less worker→main traffic; scale in the model)
    seed: int = 0


class ClipCache:
    """LRU cache of decoded clips ``{id: (frames uint8 [T,s,s,3], audio f32 [N], arrays)}``.

    Bounded by ``max_bytes`` (frames + audio); the most recently used clip is always kept.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: collections.OrderedDict[str, tuple] = collections.OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = 0

    def get(self, key: str, make: Callable[[], tuple]) -> tuple:
        if key in self.items:
            self.hits += 1
            self.items.move_to_end(key)
            return self.items[key]
        self.misses += 1
        value = make()
        size = sum(v.nbytes for v in value if isinstance(v, np.ndarray))
        self.items[key] = value
        self.nbytes += size
        while self.nbytes > self.max_bytes and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.nbytes -= sum(v.nbytes for v in old if isinstance(v, np.ndarray))
        return value


def _to_chw(frame: np.ndarray, uint8: bool = False) -> torch.Tensor:
    """uint8 [s,s,3] → float32 [3,s,s] in [0,1] (or uint8 [3,s,s] when ``uint8``)."""
    t = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))
    return t if uint8 else t.float().div_(255.0)


class _CorpusDataset(Dataset):
    """Shared plumbing: lazy per-process corpus handle, clip cache, speaker numbering."""

    def __init__(self, root: str | os.PathLike, cfg: LoaderConfig = LoaderConfig()):
        self.root = str(root)
        self.cfg = cfg
        corpus = Corpus(self.root)
        self._corpus: Corpus | None = corpus
        self.clips: list[ClipRecord] = corpus.clips_in(cfg.split)
        if not self.clips:
            raise ValueError(f"{corpus.root}: no clips in split {cfg.split!r}")
        self.fps = corpus.fps
        self.spf = corpus.samples_per_frame
        self.sample_rate = corpus.sample_rate
        self.crop_size = corpus.spec.crop_size
        self.size = cfg.size or self.crop_size
        # Speaker numbering is over the *whole* corpus (stable across splits).
        self.speaker_ids = sorted(corpus.speakers)
        self.speaker_index = {s: i for i, s in enumerate(self.speaker_ids)}
        self.clip_speaker = np.array([self.speaker_index[c.speaker] for c in self.clips], np.int64)  # [n_clips]
        self._cache: ClipCache | None = None

    # --- per-process state (DataLoader workers get a pickled copy) -----------------------
    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["_corpus"] = None
        d["_cache"] = None
        return d

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = Corpus(self.root, check_files=False)
        return self._corpus

    @property
    def cache(self) -> ClipCache:
        if self._cache is None:
            self._cache = ClipCache(self.cfg.cache_mb << 20)
        return self._cache

    def clip_data(self, c: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Decoded clip ``c``: (frames uint8 [T,s,s,3], audio f32 [T*spf], arrays)."""
        rec = self.clips[c]

        def make():
            frames = self.corpus.load_frames(rec, size=self.size)
            return frames, self.corpus.load_audio(rec), self.corpus.load_arrays(rec)

        return self.cache.get(rec.id, make)

    def _frame_extras(self, arrays: dict[str, np.ndarray], t: int, prefix: str = "") -> dict[str, Any]:
        scale = self.size / self.crop_size
        out = {
            prefix + "landmarks": torch.from_numpy(arrays["landmarks"][t] * scale),  # [68,2] output pixels
            prefix + "face_found": bool(arrays["face_found"][t]),
        }
        if "motion" in arrays:
            out[prefix + "motion"] = torch.from_numpy(arrays["motion"][t].astype(np.float32))  # [M]
        return out

    def item_clips(self) -> np.ndarray:
        """int64 [len(self)]: the clip of every item (used by the samplers)."""
        raise NotImplementedError

    def item_speakers(self) -> np.ndarray:
        """int64 [len(self)]: the speaker index of every item."""
        return self.clip_speaker[self.item_clips()]


class AudioFrameDataset(_CorpusDataset):
    """Item (clip c, frame t) → dict:

    ``audio`` f32 [W] with W = audio_window_frames * spf, centred on the centre of frame t
    (frame t covers samples [t*spf, (t+1)*spf)), zero-padded at the clip edges;
    ``frame`` f32 [3,s,s]; ``landmarks`` f32 [68,2]; ``face_found`` bool; ``motion`` f32 [M]
    (synthetic); ``speaker``, ``clip``, ``t`` ints. ``feature_fn`` (optional) maps the audio
    window tensor to features (e.g. a log-mel front end) inside the worker.
    """

    def __init__(self, root, cfg: LoaderConfig = LoaderConfig(), feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None):
        super().__init__(root, cfg)
        self.feature_fn = feature_fn
        lengths = np.array([c.n_frames for c in self.clips], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])  # [n_clips+1]
        self.window = cfg.audio_window_frames * self.spf

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, k: int) -> tuple[int, int]:
        c = int(np.searchsorted(self.offsets, k, side="right") - 1)
        return c, int(k - self.offsets[c])

    def item_clips(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.clips)), np.diff(self.offsets))

    def audio_window(self, audio: np.ndarray, t: int) -> np.ndarray:
        """f32 [W]: samples centred on (t + 0.5) * spf; zeros outside the clip."""
        start = int(round((t + 0.5) * self.spf - self.window / 2))
        out = np.zeros(self.window, np.float32)
        a, b = max(start, 0), min(start + self.window, audio.shape[0])
        if b > a:
            out[a - start : b - start] = audio[a:b]
        return out

    def __getitem__(self, k: int) -> dict[str, Any]:
        if not 0 <= k < len(self):
            raise IndexError(k)
        c, t = self.locate(k)
        frames, audio, arrays = self.clip_data(c)
        win = torch.from_numpy(self.audio_window(audio, t))
        item = {
            "audio": self.feature_fn(win) if self.feature_fn else win,
            "frame": _to_chw(frames[t], self.cfg.uint8_frames),
            "speaker": int(self.clip_speaker[c]),
            "clip": c,
            "t": t,
        }
        item.update(self._frame_extras(arrays, t))
        return item


class FramePairDataset(_CorpusDataset):
    """Item → two frames (source i, driving j ≠ i) of one clip, drawn reproducibly from
    ``(seed, epoch, item)`` among the frames with a face (``face_found``); call :meth:`set_epoch`
    for fresh pairs each epoch.

    Returns ``source``/``driving`` f32 [3,s,s], ``source_landmarks``/``driving_landmarks`` [68,2],
    ``source_motion``/``driving_motion`` [M] (synthetic), ``speaker``, ``clip``, ``i``, ``j``.
    """

    def __init__(self, root, cfg: LoaderConfig = LoaderConfig()):
        super().__init__(root, cfg)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips) * self.cfg.pairs_per_clip

    def item_clips(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.clips)), self.cfg.pairs_per_clip)

    def __getitem__(self, k: int) -> dict[str, Any]:
        if not 0 <= k < len(self):
            raise IndexError(k)
        c = k // self.cfg.pairs_per_clip
        frames, _, arrays = self.clip_data(c)
        # both frames among those with a face (real video flags the others); all frames when fewer
        # than two have one. On a synthetic corpus (every frame has a face) the draw is unchanged.
        ok = np.flatnonzero(arrays["face_found"][: frames.shape[0]])
        if ok.size < 2:
            ok = np.arange(frames.shape[0])
        n = ok.size
        rng = np.random.default_rng((self.cfg.seed, self.epoch, k))
        i = int(rng.integers(n))
        j = int(rng.integers(n - 1)) if n > 1 else 0
        j = j + 1 if (n > 1 and j >= i) else j
        i, j = int(ok[i]), int(ok[j])
        item = {"source": _to_chw(frames[i], self.cfg.uint8_frames), "driving": _to_chw(frames[j], self.cfg.uint8_frames), "speaker": int(self.clip_speaker[c]), "clip": c, "i": i, "j": j}
        item.update(self._frame_extras(arrays, i, "source_"))
        item.update(self._frame_extras(arrays, j, "driving_"))
        return item


class ClipDataset(_CorpusDataset):
    """Item = clip → ``audio`` f32 [A] (A = max_audio_seconds * sr, zero-padded), ``audio_len``
    (valid samples), ``frame`` f32 [3,s,s] (one face frame, see ``cfg.clip_frame``),
    ``speaker``, ``clip``, and on synthetic corpora ``identity`` f32 [F], ``factors`` f32 [K].

    Decodes only the chosen frame (≤ one GOP of work), not the whole clip.
    """

    def __init__(self, root, cfg: LoaderConfig = LoaderConfig()):
        super().__init__(root, cfg)
        self.epoch = 0
        self.max_samples = int(round(cfg.max_audio_seconds * self.sample_rate))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips)

    def item_clips(self) -> np.ndarray:
        return np.arange(len(self.clips))

    def _pick_frame(self, c: int, arrays: dict[str, np.ndarray]) -> int:
        n = self.clips[c].n_frames
        mode = self.cfg.clip_frame
        if mode == "first":
            return 0
        if mode == "middle":
            return n // 2
        if mode != "random":
            raise ValueError(f"LoaderConfig.clip_frame must be first|middle|random, got {mode!r}")
        ok = np.flatnonzero(arrays["face_found"])
        rng = np.random.default_rng((self.cfg.seed, self.epoch, c))
        return int(rng.choice(ok)) if ok.size else int(rng.integers(n))

    def __getitem__(self, c: int) -> dict[str, Any]:
        if not 0 <= c < len(self):
            raise IndexError(c)
        rec = self.clips[c]

        def make():
            return (self.corpus.load_audio(rec), self.corpus.load_arrays(rec))

        audio, arrays = self.cache.get("clip:" + rec.id, make)
        t = self._pick_frame(c, arrays)
        frame = self.corpus.load_frames(rec, t, t + 1, size=self.size)[0]
        a = np.zeros(self.max_samples, np.float32)
        n = min(self.max_samples, audio.shape[0])
        a[:n] = audio[:n]
        item = {"audio": torch.from_numpy(a), "audio_len": n, "frame": _to_chw(frame, self.cfg.uint8_frames), "speaker": int(self.clip_speaker[c]), "clip": c, "t": t}
        item.update(self._frame_extras(arrays, t))
        for key in ("identity", "factors"):
            if key in arrays:
                item[key] = torch.from_numpy(arrays[key].astype(np.float32))
        return item


class ClipGroupedSampler(Sampler[int]):
    """Shuffled order in which each clip's items come in one burst.

    Clips are shuffled and taken ``clips_per_block`` at a time; the items of a block are
    shuffled together. A batch therefore mixes several clips, yet each clip is decoded about
    once per epoch per worker (keep ``cache_mb`` ≥ clips_per_block × decoded clip size).
    """

    def __init__(self, item_clips: np.ndarray, clips_per_block: int = 8, shuffle: bool = True, seed: int = 0):
        self.item_clips = np.asarray(item_clips)
        self.clips_per_block = max(1, clips_per_block)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        order = np.argsort(self.item_clips, kind="stable")
        bounds = np.flatnonzero(np.diff(self.item_clips[order])) + 1
        self.groups = np.split(order, bounds)  # items of each clip

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.item_clips)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch))
        gi = rng.permutation(len(self.groups)) if self.shuffle else np.arange(len(self.groups))
        for b in range(0, len(gi), self.clips_per_block):
            items = np.concatenate([self.groups[g] for g in gi[b : b + self.clips_per_block]])
            if self.shuffle:
                items = rng.permutation(items)
            yield from (int(x) for x in items)


class SpeakerBalancedBatchSampler(Sampler[list[int]]):
    """Batches of P distinct speakers × K items each (items drawn without replacement within
    a speaker while it has enough, otherwise with replacement). ``len`` = items // (P*K)."""

    def __init__(self, item_speakers: np.ndarray, speakers_per_batch: int = 8, items_per_speaker: int = 4, seed: int = 0):
        self.item_speakers = np.asarray(item_speakers)
        self.p, self.k = speakers_per_batch, items_per_speaker
        self.seed = seed
        self.epoch = 0
        self.by_speaker = {int(s): np.flatnonzero(self.item_speakers == s) for s in np.unique(self.item_speakers)}
        if len(self.by_speaker) < self.p:
            raise ValueError(f"SpeakerBalancedBatchSampler: {len(self.by_speaker)} speakers available, {self.p} requested per batch")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(1, len(self.item_speakers) // (self.p * self.k))

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch))
        speakers = np.array(sorted(self.by_speaker))
        pools = {s: list(rng.permutation(v)) for s, v in self.by_speaker.items()}
        for _ in range(len(self)):
            batch: list[int] = []
            for s in rng.choice(speakers, size=self.p, replace=False):
                pool = pools[int(s)]
                if len(pool) < self.k:
                    pool[:] = list(rng.permutation(self.by_speaker[int(s)]))
                if len(pool) >= self.k:
                    batch.extend(int(pool.pop()) for _ in range(self.k))
                else:  # speaker has fewer than K items: sample with replacement
                    batch.extend(int(x) for x in rng.choice(self.by_speaker[int(s)], size=self.k))
            yield batch


# How DataLoader workers start. Forked from a process with other threads (torch's pool, a host's log
# readers), a worker can inherit a lock another thread held and wait on it forever (seen: a worker
# of test_dataloader_with_workers asleep on a futex beside a running ComfyUI server); a fork server
# starts each worker from a clean single-threaded process.
WORKER_START = "forkserver"


def make_loader(dataset: _CorpusDataset, batch_size: int = 32, num_workers: int = 0, shuffle: bool = True, clips_per_block: int = 8, seed: int = 0, **kw) -> torch.utils.data.DataLoader:
    """DataLoader with the clip-grouped sampler (the efficient default for frame datasets)."""
    sampler = ClipGroupedSampler(dataset.item_clips(), clips_per_block=clips_per_block, shuffle=shuffle, seed=seed)
    if num_workers > 0:
        kw.setdefault("multiprocessing_context", WORKER_START)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        persistent_workers=num_workers > 0, **kw,
    )
