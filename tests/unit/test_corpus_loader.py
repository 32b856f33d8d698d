"""Training loader: shapes, audio/frame alignment, frame pairs, clip items, samplers, workers."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from see_the_speaker.data.corpus import ClipData, CorpusSpec, CorpusWriter
from see_the_speaker.data.loader import (
    AudioFrameDataset, ClipDataset, ClipGroupedSampler, FramePairDataset, LoaderConfig,
    WORKER_START, SpeakerBalancedBatchSampler, make_loader,
)

S, T, SPF = 64, 20, 640


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    """6 speakers × 3 clips; frame t is grey level 10*t+20 and its audio samples equal (t+1)/64."""
    root = tmp_path_factory.mktemp("corpus")
    with CorpusWriter(root, CorpusSpec(crop_size=S)) as w:
        for s in range(6):
            split = "train" if s < 4 else "val"
            w.add_speaker(f"spk{s}", split, identity={"w": s / 6}, factors={"g": 1.0})
            for c in range(3):
                n = T - c  # clips of different lengths
                frames = np.stack([np.full((S, S, 3), 10 * t + 20, np.uint8) for t in range(n)])
                audio = np.repeat((np.arange(n) + 1) / 64.0, SPF).astype(np.float32)
                lm = np.tile(np.arange(68, dtype=np.float32)[None, :, None], (n, 1, 2)) + np.arange(n, dtype=np.float32)[:, None, None]
                w.add_clip(ClipData(f"spk{s}", f"c{c}", split, frames, audio, lm,
                                    motion=np.arange(n, dtype=np.float32)[:, None].repeat(2, 1), motion_fields=("a", "b"),
                                    identity=np.array([s / 6], np.float32), identity_fields=("w",),
                                    factors=np.array([1.0], np.float32), factor_names=("g",)))
    return root


def test_audio_frame_alignment(corpus_root):
    ds = AudioFrameDataset(corpus_root, LoaderConfig(split="train", audio_window_frames=5))
    assert len(ds) == 4 * (20 + 19 + 18)
    for k in (0, 1, 7, 19, 20, 56):
        item = ds[k]
        c, t = ds.locate(k)
        assert item["t"] == t and item["clip"] == c
        a = item["audio"].numpy()
        assert a.shape == (5 * SPF,)
        # the centre frame of the window is frame t: its samples carry value (t+1)/64
        assert np.allclose(a[2 * SPF : 3 * SPF], (t + 1) / 64.0, atol=1e-4)
        # the window is exactly audio[(t-2)*spf : (t+3)*spf], zero outside the clip
        n = ds.clips[c].n_frames
        for j, tt in enumerate(range(t - 2, t + 3)):
            want = (tt + 1) / 64.0 if 0 <= tt < n else 0.0
            assert np.allclose(a[j * SPF : (j + 1) * SPF], want, atol=1e-4)
        assert item["frame"].shape == (3, S, S) and abs(item["frame"].mean().item() * 255 - (10 * t + 20)) < 2
        assert torch.allclose(item["landmarks"][5], torch.tensor([5.0 + t, 5.0 + t]))
        assert item["motion"].tolist() == [t, t] and item["face_found"]


def test_resize_scales_landmarks(corpus_root):
    ds = AudioFrameDataset(corpus_root, LoaderConfig(size=32))
    item = ds[3]
    assert item["frame"].shape == (3, 32, 32)
    assert torch.allclose(item["landmarks"][10], torch.tensor([(10.0 + 3) / 2] * 2))


def test_frame_pairs(corpus_root):
    ds = FramePairDataset(corpus_root, LoaderConfig(pairs_per_clip=8, seed=3))
    seen = set()
    for k in range(len(ds)):
        it = ds[k]
        assert it["i"] != it["j"] and it["clip"] == k // 8
        assert abs(it["source"].mean().item() * 255 - (10 * it["i"] + 20)) < 2
        assert abs(it["driving"].mean().item() * 255 - (10 * it["j"] + 20)) < 2
        assert it["driving_motion"][0].item() == it["j"]
        seen.add((it["clip"], it["i"], it["j"]))
    assert len(seen) > len(ds) * 0.8  # varied pairs
    again = FramePairDataset(corpus_root, LoaderConfig(pairs_per_clip=8, seed=3))
    assert (again[5]["i"], again[5]["j"]) == (ds[5]["i"], ds[5]["j"])  # reproducible
    ds.set_epoch(1)
    assert [(ds[k]["i"], ds[k]["j"]) for k in range(8)] != [(again[k]["i"], again[k]["j"]) for k in range(8)]


def test_frame_pairs_skip_frames_without_a_face(tmp_path):
    """Real video flags frames where no face was found: pairs are drawn among the others only."""
    n = 12
    found = np.zeros(n, bool)
    found[[2, 5, 9]] = True
    with CorpusWriter(tmp_path, CorpusSpec(kind="real", crop_size=S)) as w:
        w.add_speaker("p", "train")
        frames = np.stack([np.full((S, S, 3), 10 * t + 20, np.uint8) for t in range(n)])
        lm = np.zeros((n, 68, 2), np.float32)
        w.add_clip(ClipData("p", "c0", "train", frames, np.zeros(n * SPF, np.float32), lm, face_found=found))
        w.add_speaker("q", "train")  # a clip with one face frame: no pair is possible, all frames are used
        w.add_clip(ClipData("q", "c0", "train", frames, np.zeros(n * SPF, np.float32), lm, face_found=found == 5))
    ds = FramePairDataset(tmp_path, LoaderConfig(pairs_per_clip=40, seed=0))
    used = {(ds[k]["clip"], t) for k in range(len(ds)) for t in (ds[k]["i"], ds[k]["j"])}
    assert {t for c, t in used if c == 0} == {2, 5, 9}
    assert len({t for c, t in used if c == 1}) > 3 and all(ds[k]["i"] != ds[k]["j"] for k in range(len(ds)))


def test_clip_dataset(corpus_root):
    ds = ClipDataset(corpus_root, LoaderConfig(split=None, max_audio_seconds=0.5, clip_frame="middle"))
    assert len(ds) == 18
    it = ds[4]  # speaker 1, clip 1 (19 frames)
    assert it["audio"].shape == (8000,) and it["audio_len"] == 8000
    assert it["t"] == 9 and abs(it["frame"].mean().item() * 255 - (10 * 9 + 20)) < 2
    assert it["speaker"] == 1 and torch.allclose(it["identity"], torch.tensor([1 / 6]))
    assert ds.clip_speaker.tolist() == [s for s in range(6) for _ in range(3)]


def test_clip_grouped_sampler_visits_each_item_once_in_bursts(corpus_root):
    ds = AudioFrameDataset(corpus_root, LoaderConfig())
    clips = ds.item_clips()
    order = list(ClipGroupedSampler(clips, clips_per_block=2, seed=1))
    assert sorted(order) == list(range(len(ds)))
    # within every window of consecutive items at most 2 clips are active (block size)
    block_clips = [clips[i] for i in order]
    changes = sum(1 for a, b in zip(block_clips, block_clips[1:]) if a != b)
    assert len(set(block_clips[:36])) <= 2 and changes > 2


def test_speaker_balanced_batches():
    item_speakers = np.repeat(np.arange(10), [3, 5, 2, 8, 4, 4, 6, 3, 5, 10])
    sampler = SpeakerBalancedBatchSampler(item_speakers, speakers_per_batch=4, items_per_speaker=3, seed=0)
    batches = list(sampler)
    assert len(batches) == len(item_speakers) // 12
    counts = collections.Counter()
    for b in batches:
        per = collections.Counter(item_speakers[b].tolist())
        assert len(per) == 4 and set(per.values()) == {3}
        counts.update(per)
    assert len(counts) >= 8  # speakers are drawn broadly
    with pytest.raises(ValueError, match="speakers available"):
        SpeakerBalancedBatchSampler(item_speakers, speakers_per_batch=11)


def test_dataloader_with_workers(corpus_root):
    ds = AudioFrameDataset(corpus_root, LoaderConfig(cache_mb=8))
    loader = make_loader(ds, batch_size=16, num_workers=2, clips_per_block=3)
    n = 0
    for batch in loader:
        assert batch["frame"].shape[1:] == (3, S, S) and batch["audio"].shape[1] == 5 * SPF
        n += batch["frame"].shape[0]
    assert n == len(ds)
    clip_ds = ClipDataset(corpus_root, LoaderConfig(split="train"))
    bs = SpeakerBalancedBatchSampler(clip_ds.item_speakers(), speakers_per_batch=2, items_per_speaker=2)
    batch = next(iter(torch.utils.data.DataLoader(clip_ds, batch_sampler=bs, num_workers=1, multiprocessing_context=WORKER_START)))
    assert batch["speaker"].shape == (4,) and len(set(batch["speaker"].tolist())) == 2
