"""Stage 1 in the real server: LoadSpeech -> SpeechEncode -> SpeechToPortrait -> SaveImage.

Runs on a tiny *untrained* SCFP bundle written by the test (plumbing, seeding and errors; the
quality of the trained default is measured by evaluation/eval_scfp.py, not here).
"""

import io
import os
import shutil
import uuid

import numpy as np
import pytest
import torch
from PIL import Image

import media
from see_the_speaker.checkpoint import save_checkpoint, save_module
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs
from see_the_speaker.models.scfp import KIND, SCFP, tiny_config

TINY = "scfp_test_tiny.safetensors"
WRONG = "scfp_test_wrong_kind.safetensors"
SR = 16000


@pytest.fixture(scope="module")
def bundles(comfy):
    folder = comfy.models_dir
    torch.manual_seed(0)
    model = SCFP(tiny_config())
    model.prior.fit(torch.randn(8, 4, 32, 32))
    save_module(os.path.join(folder, TINY), KIND, model.cfg, model, extra={"trained": False, "note": "test fixture"})
    save_checkpoint(os.path.join(folder, WRONG), "renderer", {"width": 8}, {"w": torch.zeros(8)})
    src = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac")
    shutil.copy(src, os.path.join(comfy.input_dir, "portrait_speech.flac"))
    media.write_gated_tone(os.path.join(comfy.input_dir, "portrait_long.flac"), 600, SR)  # 10 minutes
    return folder


def graph(audio="portrait_speech.flac", ckpt=TINY, prefix=None, **portrait):
    settings = {"seed": 7, "steps": 3, "candidates": 2, **portrait}
    return set_inputs(load_api_workflow("speech_to_portraits"), {
        "STS_LoadSpeech": {"audio": audio},
        "STS_LoadPortraitModel": {"ckpt_name": ckpt},
        "STS_SpeechToPortrait": settings,
        "SaveImage": {"filename_prefix": prefix or f"test/portrait_{uuid.uuid4().hex[:8]}"},
    })


def why(result):
    err = result.error or {}
    return f"{result.status}: {err.get('node_type')}: {err.get('exception_message')}"


def images(client, result):
    return [np.asarray(Image.open(io.BytesIO(client.view(f))).convert("RGB")) for f in result.files("5")]


def test_workflow_saves_n_portraits_and_seeds_reproduce(client, bundles):
    first = client.run(graph(), timeout=300)
    assert first.ok, why(first)
    a = images(client, first)
    assert len(a) == 2 and a[0].shape == (256, 256, 3)
    # 3 candidates from the same seed: the first two are recomputed and must equal the first run's
    again = client.run(graph(candidates=3), timeout=300)
    assert again.ok, why(again)
    b = images(client, again)
    assert len(b) == 3
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    other = client.run(graph(seed=8, candidates=1), timeout=300)
    assert other.ok, why(other)
    # seed 8 alone = candidate 1 of seed 7 (same noise; batch-size float rounding allows ±2/255)
    diff = np.abs(images(client, other)[0].astype(int) - a[1].astype(int))
    assert diff.max() <= 2, diff.max()
    assert not np.array_equal(a[0], a[1])


def test_prior_modes_run(client, bundles):
    for mode, beta in (("none", -1.0), ("fixed", -1.0), ("adaptive", 0.3)):
        result = client.run(graph(prior_mode=mode, beta_override=beta, candidates=1), timeout=300)
        assert result.ok, (mode, why(result))


def test_speech_encode_without_model_feeds_portrait(client, bundles):
    g = graph(candidates=1)
    del g["3"]["inputs"]["model"]  # front-end features only; SpeechToPortrait encodes with its model
    result = client.run(g, timeout=300)
    assert result.ok, why(result)


def test_ten_minutes_of_audio_uses_a_bounded_window(client, bundles):
    result = client.run(graph(audio="portrait_long.flac", candidates=1, steps=2), timeout=600)
    assert result.ok, why(result)
    assert len(result.files("5")) == 1


def test_wrong_kind_checkpoint_is_refused(client, bundles):
    result = client.run(graph(ckpt=WRONG), timeout=300)
    assert result.status == "error"
    assert result.error["node_type"] == "STS_LoadPortraitModel"
    assert "'scfp' checkpoint was expected" in result.error["exception_message"]
