"""Corpus format: writer/reader round trip, deterministic files, index validation errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from see_the_speaker.data.corpus import (
    ClipData, Corpus, CorpusError, CorpusSpec, CorpusWriter, clip_is_complete, load_npz,
    read_clip_record, save_npz_deterministic, validate_index,
)

S = 64


def _clip(spk: str, name: str, split: str, t: int = 12, seed: int = 0, **kw) -> ClipData:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:S, :S]
    frames = np.stack([np.stack([(x * 4 + i * 9) % 256, (y * 4) % 256, np.full_like(x, 40 + i * 10)], -1) for i in range(t)]).astype(np.uint8)
    return ClipData(
        speaker=spk, clip=name, split=split, frames=frames,
        audio=(0.1 * rng.standard_normal(t * 640 - 100)).astype(np.float32),
        landmarks=rng.uniform(0, S, (t, 68, 2)).astype(np.float32), text="hello", language="en-us", **kw,
    )


def _write(root, n_speakers=2, splits=("train", "test")) -> Corpus:
    with CorpusWriter(root, CorpusSpec(crop_size=S)) as w:
        for s in range(n_speakers):
            w.add_speaker(f"s{s}", splits[s % len(splits)], identity={"a": float(s)}, factors={"g": 0.5})
            for c in range(2):
                w.add_clip(_clip(f"s{s}", f"c{c}", splits[s % len(splits)], seed=s * 10 + c,
                                 motion=np.full((12, 3), c, np.float32), motion_fields=("x", "y", "z"),
                                 identity=np.array([s], np.float32), identity_fields=("a",),
                                 phones=[("p", 0.1, 0.2), ("a", 0.2, 0.35)]))
    return Corpus(root)


def test_round_trip(tmp_path):
    c = _write(tmp_path)
    assert len(c) == 4 and c.speakers_in("train") == ["s0"] and c.speakers_in("test") == ["s1"]
    rec = c.clips_in("train")[0]
    src = _clip("s0", "c0", "train", seed=0)
    frames = c.load_frames(rec)
    assert frames.shape == (12, S, S, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - src.frames).mean() < 3.0  # near-lossless H.264
    assert np.array_equal(c.load_frames(rec, 5, 8), frames[5:8])  # seeking is frame exact
    audio = c.load_audio(rec)
    assert audio.shape == (12 * 640,)  # padded to whole frames
    assert np.abs(audio[: 12 * 640 - 100] - src.audio).max() < 1e-4 and not audio[-100:].any()
    a = c.load_arrays(rec)
    assert np.array_equal(a["landmarks"], src.landmarks) and a["face_found"].all()
    assert list(a["motion_fields"]) == ["x", "y", "z"] and a["motion"].shape == (12, 3)
    assert list(a["phone_symbols"]) == ["p", "a"] and np.allclose(a["phone_end"], [0.2, 0.35])
    assert c.speakers["s1"]["identity"] == {"a": 1.0}
    assert c.validate(deep=True) == []
    assert clip_is_complete(tmp_path, "s0", "c0") and read_clip_record(tmp_path, "s0", "c0") == rec


def test_npz_is_deterministic_and_pickle_free(tmp_path):
    arrays = {"b": np.arange(5, dtype=np.float32), "a": np.array(["x", "yz"])}
    save_npz_deterministic(tmp_path / "1.npz", arrays)
    save_npz_deterministic(tmp_path / "2.npz", arrays)
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    assert list(load_npz(tmp_path / "1.npz")["a"]) == ["x", "yz"]
    with pytest.raises(CorpusError, match="pickle"):
        save_npz_deterministic(tmp_path / "3.npz", {"o": np.array([{}], dtype=object)})


def test_writer_rejects_bad_clips(tmp_path):
    w = CorpusWriter(tmp_path, CorpusSpec(crop_size=S))
    bad = _clip("s0", "c0", "train")
    bad.landmarks = bad.landmarks[:, :5]
    with pytest.raises(CorpusError, match=r"s0/c0: landmarks must be \[T=12,68,2\]"):
        w.add_clip(bad)
    with pytest.raises(CorpusError, match="split 'dev'"):
        w.add_clip(_clip("s0", "c1", "dev"))
    with pytest.raises(CorpusError, match="speaker id"):
        w.add_clip(_clip("bad/name", "c1", "train"))
    wrong = _clip("s0", "c2", "train")
    wrong.frames = wrong.frames[:, :32]
    with pytest.raises(CorpusError, match="frames must be uint8"):
        w.add_clip(wrong)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="other"), "'format' must be"),
        (lambda d: d.update(version=99), "version 99 is not supported"),
        (lambda d: d.update(fps="25"), "'fps' must be int"),
        (lambda d: d["speakers"]["s0"].update(split="dev"), "speaker 's0' needs a 'split'"),
        (lambda d: d["clips"][0].update(split="test"), "splits are by speaker"),
        (lambda d: d["clips"][0].update(n_samples=5), "expected n_samples"),
        (lambda d: d["clips"].append(dict(d["clips"][0])), "appears twice"),
        (lambda d: d["clips"][0].pop("video"), "lacks field"),
        (lambda d: d["clips"][0].update(speaker="nobody"), "unknown speaker"),
    ],
)
def test_index_validation_errors(tmp_path, mutate, message):
    _write(tmp_path)
    doc = json.loads((tmp_path / "index.json").read_text())
    mutate(doc)
    with pytest.raises(CorpusError, match=message):
        validate_index(doc, where="X/index.json")
    (tmp_path / "index.json").write_text(json.dumps(doc))
    with pytest.raises(CorpusError, match="index.json"):
        Corpus(tmp_path)


def test_reader_names_missing_files(tmp_path):
    with pytest.raises(CorpusError, match="no corpus index"):
        Corpus(tmp_path)
    _write(tmp_path)
    (tmp_path / "clips/s0/c1.flac").unlink()
    with pytest.raises(CorpusError, match=r"c1\.flac: listed in .* but missing"):
        Corpus(tmp_path)
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(CorpusError, match="not valid JSON"):
        Corpus(tmp_path)
