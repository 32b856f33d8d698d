"""Generator: the tiny preset is byte-identical across runs, resumes, and fits the contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from see_the_speaker.data import generate  # noqa: E402
from see_the_speaker.data.corpus import Corpus  # noqa: E402


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _args(out: Path, **kw) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    generate.add_arguments(p)
    argv = ["--preset", "tiny", "--out", str(out), "--quiet"] + [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    assert generate.run(_args(a)) == 0
    assert generate.run(_args(b)) == 0
    return a, b


def test_same_seed_same_bytes(two_runs):
    a, b = two_runs
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    assert len(fa) == 1 + 1 + 6 * 2 * 3  # index.json, generator.json, 12 clips × (mp4, flac, npz)
    different = [k for k in fa if fa[k] != fb[k]]
    assert different == []


def test_resume_rebuilds_only_missing_clips(two_runs, tmp_path):
    a, _ = two_runs
    before = _files(a)
    (a / "clips/spk0001/clip001.npz").unlink()
    (a / "index.json").unlink()
    assert generate.run(_args(a)) == 0
    assert _files(a) == before
    # other settings into the same folder are refused
    assert generate.run(_args(a, seed=1)) == 2
    # so are clips made by other code (e.g. an edited renderer)
    gj = a / "generator.json"
    doc = json.loads(gj.read_text())
    doc["code"]["sources_sha256"] = "0" * 64
    gj.write_text(json.dumps(doc))
    assert generate.run(_args(a)) == 2
    gj.write_bytes(before["generator.json"])


def test_tiny_corpus_contents(two_runs):
    c = Corpus(two_runs[0])
    assert c.validate(deep=False) == []
    assert len(c.speakers) == 6 and len(c.clips) == 12
    assert {s["split"] for s in c.speakers.values()} == {"train", "val", "test"}
    for spk in c.speakers.values():
        assert set(spk) >= {"split", "factors", "identity", "voice", "style"}
    rec = c.clips[0]
    a = c.load_arrays(rec)
    fields = c.index["motion_fields"]
    assert a["motion"].shape == (rec.n_frames, len(fields)) and list(a["motion_fields"]) == fields
    assert a["identity"].shape == (len(c.index["identity_fields"]),)
    assert np.allclose(a["identity"], [c.speakers[rec.speaker]["identity"][f] for f in c.index["identity_fields"]], atol=1e-5)
    assert a["phone_symbols"].size > 3 and np.all(np.diff(a["phone_start"]) >= 0)
    assert a["phone_end"].max() <= rec.n_frames / c.fps + 1e-3  # phones lie inside the clip's audio
    assert rec.text and rec.language
    assert json.loads((two_runs[0] / "generator.json").read_text())["settings"]["preset"] == "tiny"
    # the audio is speech where the phones are
    audio = c.load_audio(rec)
    s, e = float(a["phone_start"][0]), float(a["phone_end"][-1])
    assert np.abs(audio[int(s * 16000) : int(e * 16000)]).max() > 0.05


def test_voice_face_baseline_runs_on_tiny(two_runs):
    from see_the_speaker.evaluation.voice_face_baseline import evaluate, markdown_table

    scores = evaluate(two_runs[0], log=None)
    names = {s.name for s in scores}
    assert {"gender", "age", "face_width", "hair_style"} <= names
    assert {s.metric for s in scores if s.name in ("hair_style", "facial_hair")} == {"AUC"}
    table = markdown_table(scores)
    assert table.startswith("| attribute |") and "face_width" in table
