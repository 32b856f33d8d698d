"""SAW's calibrated target (training/saw_calibration.py) and the training pairs fit_saw builds from it."""

import numpy as np
import pytest
import torch

from see_the_speaker.models.scfp import SCFP, tiny_config
from see_the_speaker.training.fit_saw import utterance_targets
from see_the_speaker.training.saw_calibration import CLEAN_DB, best_scale, monotone, scale_at

SCALES = [0.75, 1.0, 1.25, 1.5]


def test_best_scale_is_the_vertex_of_the_local_parabola():
    curve = [(k - 1.1) ** 2 + 0.4 for k in SCALES]  # true minimum at 1.1
    assert best_scale(SCALES, curve) == pytest.approx(1.1)
    assert best_scale(SCALES, [0.5, 0.45, 0.44, 0.43]) == 1.5  # still falling at the end: the end of the grid
    assert best_scale(SCALES, [0.40, 0.45, 0.47, 0.50]) == 0.75
    # a lopsided triple keeps the vertex between the neighbours of the best point
    assert 1.0 <= best_scale(SCALES, [0.9, 0.41, 0.40, 0.40001]) <= 1.5


def test_monotone_never_gives_noisier_speech_less_prior():
    assert monotone([1.2, 1.3, 1.5], [40, 10, 0]) == pytest.approx([1.2, 1.3, 1.5])  # already ordered: unchanged
    assert monotone([1.5, 1.3, 1.2], [40, 10, 0]) == pytest.approx([1 + 1 / 3] * 3)  # reversed: pooled to the mean
    # a seed-noise dip in the middle is pooled with its cleaner neighbour; input order is kept
    assert monotone([1.36, 1.5, 1.5, 1.27], [10, 0, 40, 20]) == pytest.approx([1.3767, 1.5, 1.3767, 1.3767], abs=1e-4)


def test_scale_at_interpolates_in_db_and_holds_beyond_the_ends():
    cal = {"conditions": [None, 20.0, 0.0], "best_scale": [1.2, 1.3, 1.5]}
    assert scale_at(cal, None) == pytest.approx(1.2)
    assert scale_at(cal, 20.0) == pytest.approx(1.3)
    assert scale_at(cal, 10.0) == pytest.approx(1.4)
    assert scale_at(cal, 30.0) == pytest.approx(1.25)  # halfway between 20 dB and clean (CLEAN_DB = 40)
    assert CLEAN_DB == 40.0
    assert scale_at(cal, 80.0) == pytest.approx(1.2) and scale_at(cal, -5.0) == pytest.approx(1.5)


class FakeCache:
    """The three things utterance_targets reads from a PortraitCache."""

    def __init__(self, clips: int = 4, seconds: float = 1.5):
        rng = np.random.default_rng(0)
        t = np.arange(int(16000 * seconds)) / 16000
        self.waves = [(0.2 * np.sin(2 * np.pi * (120 + 40 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
                       + 0.01 * rng.standard_normal(t.shape)).astype(np.float32) for i in range(clips)]
        self.clip_speaker = np.array([i // 2 for i in range(clips)] + [99])  # the last clip is not in train
        self.split = np.array(["train"] * clips + ["val"])

    def clips_of(self, splits):
        return np.flatnonzero(np.isin(self.split, splits))

    def clip_audio(self, c):
        return self.waves[c]


def test_utterance_targets_follow_the_calibration():
    torch.manual_seed(0)
    model = SCFP(tiny_config()).eval()
    model.prior.beta0.copy_(torch.tensor([0.5, 0.6, 0.9, 0.3]))
    cal = {"conditions": [None, 0.0], "best_scale": [1.0, 1.5]}
    x, y, groups, snr = utterance_targets(model, FakeCache(), cal, variants=2, seed=0, log=lambda m: None)
    assert x.shape == (12, model.cfg.saw.in_dim) and y.shape == (12, 4)
    assert groups.tolist() == [0] * 6 + [1] * 6  # three conditions per clip, grouped by speaker
    clean = snr == CLEAN_DB
    assert clean.tolist() == [True, False, False] * 4 and (snr[~clean] < CLEAN_DB).all()
    assert torch.allclose(y[torch.from_numpy(clean)], torch.tensor([0.5, 0.6, 0.9, 0.3]).expand(4, 4))
    k = torch.from_numpy(1.5 - 0.5 * snr / CLEAN_DB).float()  # linear in dB between 0 dB (1.5) and clean (1.0)
    expect = (k[:, None] * torch.tensor([0.5, 0.6, 0.9, 0.3])).clamp(0.02, 0.98)
    assert torch.allclose(y, expect, atol=1e-5)
    assert not torch.allclose(x[0], x[1])  # the noisy copy is heard as different speech
    again = utterance_targets(model, FakeCache(), cal, variants=2, seed=0, log=lambda m: None)
    assert torch.equal(x, again[0]) and np.array_equal(snr, again[3])  # same SNRs and noise for the same seed


def test_saw_phase_calibrates_and_refits_the_exported_bundle(tmp_path):
    """train_scfp's `saw` phase on a tiny corpus and an untrained tiny bundle: the calibration table and the
    fit table land beside the bundle, SAW's weights change, nothing else does, and the metadata records both."""
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("dlib")
    import dataclasses
    import json
    import os

    from tiny_models import write_tiny_scfp

    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.data.generate import PRESETS, generate
    from see_the_speaker.training import train_scfp

    generate(dataclasses.replace(PRESETS["tiny"], speakers=8, clips_per_speaker=2, seconds=1.0, crop_size=128,
                                 val_fraction=0.25, test_fraction=0.125), tmp_path / "corpus", jobs=1)
    bundle = os.path.join(tmp_path, write_tiny_scfp(str(tmp_path)))
    before, _ = load_model(bundle, "scfp")
    assert train_scfp.main(["--corpus", str(tmp_path / "corpus"), "--out", str(tmp_path / "run"), "--phase", "saw",
                            "--export", bundle, "--saw-seeds", "1", "--threads", "1"]) == 0
    after, ckpt = load_model(bundle, "scfp")
    cal = json.load(open(os.path.join(tmp_path, "scfp_tiny_fixture.saw_calibration.json")))
    assert cal["splits"] == ["val"] and cal["speakers"] == 2 and len(cal["best_scale"]) == len(cal["conditions"])
    assert os.path.exists(os.path.join(tmp_path, "scfp_tiny_fixture.saw_fit.md"))
    assert ckpt.extra["saw_refit"]["calibration"]["best_scale"] == cal["best_scale"]
    a, b = before.state_dict(), after.state_dict()
    changed = {k for k in a if not torch.equal(a[k].half(), b[k].half())}
    assert changed and all(k.startswith("saw.") for k in changed)
