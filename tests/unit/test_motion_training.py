"""train_motion end to end on a tiny generated corpus (mel front end, a few steps per phase): the
three phases run, resume, write a loadable bundle whose sync expert and LipRefine have changed."""

import dataclasses
import json
import os

import pytest
import torch

from see_the_speaker.checkpoint import load_model
from see_the_speaker.data.generate import PRESETS, generate
from see_the_speaker.models.motion_bundle import KIND
from see_the_speaker.training.train_motion import TrainMotionConfig, train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def test_three_phases_resume_and_export(tmp_path):
    corpus = tmp_path / "corpus"
    generate(dataclasses.replace(PRESETS["tiny"], speakers=4, clips_per_speaker=1, seconds=1.0, crop_size=64), corpus, jobs=1)
    cfg = TrainMotionConfig(corpus=str(corpus), out=str(tmp_path / "run"), backend="mel", augment=True,
                            steps_sync=6, steps_diffusion=4, steps_refine=4, batch=8, width=32, depth=1,
                            eval_every=4, save_every=2, refine_sample_clips=2, cache_dir=str(tmp_path / "cache"))
    final = train(dataclasses.replace(cfg, phases="sync"))
    first = load_model(final, KIND)[0]
    # a longer sync phase resumes from its saved state (step 6), then the other phases run
    os.remove(tmp_path / "run" / "sync.safetensors")
    final = train(dataclasses.replace(cfg, steps_sync=8))
    with open(tmp_path / "run" / "sync" / "state.json") as f:
        assert json.load(f)["step"] == 8
    rows = [json.loads(line) for line in open(tmp_path / "run" / "refine" / "metrics.jsonl")]
    assert any("val_mouth_corr_refined" in r for r in rows)
    bundle, ckpt = load_model(final, KIND)
    assert ckpt.extra["phases"] == ["sync", "diffusion", "refine"] and len(ckpt.extra["mouth_readout"]["w"]) == 6
    assert not torch.equal(bundle.sync.lips.head[2].weight, first.sync.lips.head[2].weight)
    assert bundle.refiner.out[1].weight.abs().sum() > 0  # LipRefine's zero-initialised output was trained
    out = bundle.generate(torch.randn(30, 320), seed=0, steps=2)
    assert out.shape == (30, 18) and torch.isfinite(out).all()
