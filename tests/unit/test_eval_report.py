"""Evaluation report end to end in --quick mode on untrained tiny bundles and a tiny generated corpus:
every section is written, every plot decodes, figures land in the JSON; missing bundles are named."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")
pytest.importorskip("dlib")
pytest.importorskip("mediapipe")

from tiny_models import write_tiny_motion, write_tiny_renderer, write_tiny_scfp  # noqa: E402

from see_the_speaker.checkpoint import save_module  # noqa: E402
from see_the_speaker.data.generate import PRESETS, generate  # noqa: E402
from see_the_speaker.evaluation import eval_motion, report  # noqa: E402
from see_the_speaker.training import motion_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _with_mouth_readout(folder: str, name: str) -> str:
    """eval_motion needs the lips -> mouth-opening readout that train_motion stores; add a made-up one."""
    from see_the_speaker.checkpoint import load_model
    path = os.path.join(folder, name)
    model, ckpt = load_model(path, "motion")
    lips = model.part_slice(model.cfg.lips_part)
    extra = {**ckpt.extra, "mouth_readout": {"w": [0.01] * (lips.stop - lips.start), "b": 0.05}}
    save_module(path, "motion", model.cfg, model, extra=extra)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    # 12 speakers, 10 of them in test: stage 1's top-of-10 retrieval runs on the test speakers
    generate(dataclasses.replace(PRESETS["tiny"], speakers=12, clips_per_speaker=2, seconds=1.0, crop_size=128,
                                 val_fraction=0.1, test_fraction=0.84), root / "corpus", jobs=1)
    models = str(root / "models")
    os.makedirs(models)
    scfp, renderer = write_tiny_scfp(models), write_tiny_renderer(models)
    motion = _with_mouth_readout(models, write_tiny_motion(models, renderer))
    return root, os.path.join(models, scfp), motion, os.path.join(models, renderer)


@pytest.fixture()
def private_cache(monkeypatch, tmp_path):
    """eval_motion caches features under ~/.cache; keep this test's in its own folder."""
    monkeypatch.setattr(eval_motion, "load_clips", functools.partial(motion_data.load_clips, cache_dir=str(tmp_path)))
    monkeypatch.setattr(eval_motion, "motion_source",
                        functools.partial(motion_data.motion_source, cache_dir=str(tmp_path)))


def test_quick_report_end_to_end(inputs, private_cache):
    root, scfp, motion, renderer = inputs
    out = root / "docs" / "eval_report.md"
    argv = ["--out", str(out), "--corpus", str(root / "corpus"), "--scfp", scfp, "--motion", motion,
            "--renderer", renderer, "--quick", "--threads", "1", "--clips", "1", "--scfp-steps", "2", "--steps", "2",
            "--speed-seconds", "1", "2"]
    assert report.main(argv) == 0
    text = out.read_text()
    assert text.startswith("# Evaluation report")
    assert "python -m see_the_speaker.evaluation.report --out" in text  # the exact command
    assert f"{os.cpu_count()} CPUs" in text and "1 torch threads" in text and "commit " in text
    assert "untrained fixture" in text
    for heading in ("## 1. Stage 1: prior ablation", "## 2. Renderer", "## 3. Lip sync", "### Motion space",
                    "### One held-out clip over time", "## 4. Identity over time", "## 5. Speed and memory"):
        assert heading in text, heading
    assert "adaptive β (SAW)" in text and "fixed β⁰" in text and "no prior" in text
    img_dir = root / "docs" / "img" / "eval_report"
    names = {"scfp_ablation.png", "renderer_reconstruction.png", "lipsync_over_time.png", "identity_over_time.png",
             "speed_memory.png"}
    assert {p.name for p in img_dir.iterdir()} == names
    import cv2
    for name in names:
        assert f"(img/eval_report/{name})" in text
        img = cv2.imread(str(img_dir / name))
        assert img is not None and img.shape[0] > 100 and img.shape[1] > 300 and img.std() > 0, name
    figures = json.loads((root / "docs" / "eval_report.json").read_text())
    assert set(figures) >= {"scfp", "renderer", "motion", "lipsync_clip", "identity_clip", "speed", "seconds"}
    assert [r["seconds"] for r in figures["speed"]["results"]] == [1, 2]
    assert set(figures["scfp"]["rows"]) >= {"none", "fixed", "adaptive"}


def test_missing_bundle_names_file_and_training_command(inputs, tmp_path):
    root, scfp, motion, renderer = inputs
    missing = str(tmp_path / "motion_nowhere.safetensors")
    with pytest.raises(SystemExit) as e:
        report.main(["--out", str(tmp_path / "r.md"), "--corpus", str(root / "corpus"), "--scfp", scfp,
                     "--motion", missing, "--renderer", renderer, "--quick", "--threads", "1"])
    msg = str(e.value)
    assert missing in msg and "weights/motion_default.md" in msg
    assert "python -m see_the_speaker.training.train_motion" in msg
    assert not (tmp_path / "r.md").exists()


def test_missing_stage1_corpus_is_named(inputs, tmp_path):
    root, scfp, motion, renderer = inputs
    absent = str(tmp_path / "corpus_v3_nowhere")
    with pytest.raises(SystemExit) as e:
        report.main(["--out", str(tmp_path / "r.md"), "--corpus", str(root / "corpus"), "--scfp-corpus", absent,
                     "--scfp", scfp, "--motion", motion, "--renderer", renderer, "--quick", "--threads", "1"])
    msg = str(e.value)
    assert f"corpus not found: {absent}" in msg and str(root / "corpus") not in msg
    assert not (tmp_path / "r.md").exists()


def test_skipped_sections_are_marked(inputs, tmp_path):
    root, _, motion, renderer = inputs
    out = tmp_path / "r.md"
    assert report.main(["--out", str(out), "--corpus", str(tmp_path / "no_corpus"), "--scfp", str(tmp_path / "absent"),
                        "--motion", motion, "--renderer", renderer, "--quick", "--threads", "1",
                        "--skip", *report.SECTIONS]) == 0
    text = out.read_text()
    for name, title in report.SECTIONS.items():
        assert f"## {title}\n\nSkipped in this run (`--skip {name}`)." in text
    assert "| scfp | `" + str(tmp_path / "absent") + "` | missing |" in text


def test_settings_precedence_and_card_recipe():
    p = argparse.ArgumentParser()
    report.add_arguments(p)
    full = report.config_from_args(p.parse_args([]))
    assert (full.clips, full.scfp_seeds, full.speed_seconds) == (20, 8, (10.0, 60.0))
    assert full.scfp_corpus is None and full.stage1_corpus == full.corpus
    own = report.config_from_args(p.parse_args(["--corpus", "c2", "--scfp-corpus", "c3"]))
    assert (own.corpus, own.stage1_corpus) == ("c2", "c3")
    quick = report.config_from_args(p.parse_args(["--quick", "--clips", "3", "--long"]))
    assert (quick.clips, quick.scfp_seeds, quick.identity_every, quick.speed_seconds) == (3, 2, 5, (2.0, 5.0, 600.0))
    assert report.config_from_args(p.parse_args(["--long", "--speed-seconds", "600"])).speed_seconds == (600.0,)
    recipe = report.training_command(os.path.join(report.PACK, "weights", "scfp_default.md"))
    assert recipe.startswith("python -m see_the_speaker.training.train_scfp") and "```" not in recipe


def test_plots_helpers():
    from see_the_speaker.evaluation.motion_plot import bar_panel, xy_plot
    x = np.arange(50) / 25
    img = xy_plot([("a", x, np.sin(x)), ("b", x, np.where(x > 1, np.nan, x))], "t", "time (s)", "v",
                  hlines=[("ref", 0.5)], markers=True)
    assert img.dtype == np.uint8 and img.ndim == 3 and (img != 255).any()
    assert xy_plot([("one point", np.array([10.0]), np.array([3.0]))], "t", "x", "y", log_x=True).shape[2] == 3
    bars = bar_panel("b", ["x", "y", "z"], [0.2, float("nan"), -0.1])
    assert bars.shape == (260, 250, 3) and (bars != 255).any()


def test_write_table_puts_the_json_beside_the_markdown(tmp_path):
    from see_the_speaker.evaluation.table_files import write_table
    path = str(tmp_path / "scfp.eval.md")
    write_table(path, "| a |", {"k": [1, 2]})
    assert open(path).read() == "| a |\n"
    assert json.load(open(tmp_path / "scfp.eval.json")) == {"k": [1, 2]}


def test_eval_motion_drawn_opening_and_true_lips(inputs, private_cache, tmp_path):
    """With a renderer that paints the mouth interior, eval_motion also reads the opening its mouth
    layout draws (generated, refined, true motion), and --true-lips renders the generated motion with
    the true lips part; both reach the table."""
    root = inputs[0]
    renderer = write_tiny_renderer(str(tmp_path), "renderer_interior.safetensors", mouth_interior=True)
    motion = _with_mouth_readout(str(tmp_path), write_tiny_motion(str(tmp_path), renderer))
    r = eval_motion.evaluate(motion, str(root / "corpus"), "test", steps=2, render=2, render_size=64, max_clips=2,
                             renderer=str(tmp_path / renderer), true_lips=True, log=lambda *a: None)
    for k in ("gen", "ref", "truth"):
        assert -1 <= r[f"mouth_corr_drawn_{k}"] <= 1 and -1 <= r[f"mouth_corr_drawn_per_clip_{k}"] <= 1
    assert r["mouth_corr_drawn_gen"] != r["mouth_corr_drawn_truth"]  # the layout reads each motion
    assert "mouth_corr_video_true_lips" in r and "true_lips_gain_clips" in r
    table = eval_motion.markdown(r)
    assert "as the renderer's mouth layout draws it" in table and "with the true lips part" in table
    plain = eval_motion.evaluate(inputs[2], str(root / "corpus"), "test", steps=2, render=0, max_clips=2,
                                 renderer=inputs[3], log=lambda *a: None)
    assert "mouth_corr_drawn_gen" not in plain  # a renderer without the interior draws no layout
