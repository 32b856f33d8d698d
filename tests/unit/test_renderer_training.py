"""Renderer training: losses, weak landmark targets, phase schedule, and a resumable 3-phase run on
a tiny generated corpus with a tiny model (plumbing only; learning is shown by the short runs in
the report / model card)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from see_the_speaker.data.canonical import CANONICAL_5
from see_the_speaker.data.corpus import ClipData, CorpusSpec, CorpusWriter
from see_the_speaker.data.synth.face import FaceIdentity, MOTION_FIELDS, neutral_motion, render_clip
from see_the_speaker.training.render_losses import (
    landmark_flow_loss, mouth_crops, mouth_eye_targets, mouth_loss, pose_targets, psnr, reconstruction_loss, region_weights, ssim,
)
from see_the_speaker.training.export_renderer import export
from see_the_speaker.training.train_renderer import TrainConfig, lr_at, phase_of, train
from test_renderer_models import tiny_config


def test_ssim_psnr_and_reconstruction_loss():
    a = torch.rand(2, 3, 32, 32)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-4)
    assert ssim(a, torch.rand(2, 3, 32, 32)).item() < 0.2
    assert torch.isinf(psnr(a, a)).logical_not().all() and psnr(a, a).min() > 90
    assert psnr(a, (a + 0.1).clamp(0, 1)).mean() < 25
    assert reconstruction_loss(a, a)["total"].item() == pytest.approx(0.0, abs=1e-4)


def test_weak_targets_from_landmarks():
    motion = np.stack([neutral_motion()] * 3)
    motion[1, MOTION_FIELDS.index("jaw_open")] = 1.0
    motion[2, MOTION_FIELDS.index("tx")] = 0.05
    motion[2, MOTION_FIELDS.index("blink_l")] = 1.0
    _, lm = render_clip(FaceIdentity(), motion, 128)
    lm = torch.from_numpy(lm)
    pose = pose_targets(lm, 128)
    assert pose[0].abs().max() < 0.05  # the neutral average face sits on the canonical points
    assert pose[2, 2] - pose[0, 2] == pytest.approx(0.1, abs=0.02)  # tx 5% of the side = 0.1 in [-1,1]
    lips, eyes = mouth_eye_targets(lm, 128)
    assert lips[1, 0] > lips[0, 0] + 0.3  # jaw open -> inner-lip opening target grows
    assert eyes[2, 0] < 0.5 * eyes[0, 0] and eyes[2, 1] == pytest.approx(eyes[0, 1].item(), rel=0.2)
    w = region_weights(lm, 64, 128)
    assert w.shape == (3, 1, 64, 64) and w.min() >= 1 and w[0, 0, int(0.72 * 64), 32] > 3


def test_phase_schedule():
    steps = (3, 4, 2)
    assert [phase_of(s, steps)[0] for s in range(10)] == ["codebook"] * 3 + ["reconstruct"] * 4 + ["transformer"] * 2 + ["done"]
    assert phase_of(5, steps) == ("reconstruct", 2, 4)
    assert [phase_of(s, (0, 0, 0, 2))[0] for s in range(3)] == ["mouth", "mouth", "done"]  # fine-tune only
    assert [phase_of(s, (1, 0, 1, 1))[0] for s in range(4)] == ["codebook", "transformer", "mouth", "done"]
    cfg = TrainConfig(lr=1e-3, mouth_lr=2e-4)
    lrs = [lr_at(cfg, k, 1000) for k in range(1000)]
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4, rel=0.05)
    assert max(lr_at(cfg, k, 1000, "mouth") for k in range(1000)) == pytest.approx(2e-4)


def test_mouth_crops_follow_the_landmarks():
    img = torch.zeros(2, 3, 128, 128)
    img[0, :, 90:100, 60:70] = 1.0  # a bright square where item 0's mouth is
    img[1, :, 20:30, 20:30] = 1.0  # and elsewhere for item 1
    lm = torch.zeros(2, 68, 2)
    lm[:, 48:68] = torch.tensor([65.0, 95.0])  # mouth centre at (x 65, y 95) of a 128 crop
    crops = mouth_crops(img, lm, crop_size=128, out=32, box=0.25)
    assert crops.shape == (2, 3, 32, 32)
    assert crops[0, :, 12:20, 12:20].mean() > 0.9 and crops[1].max() < 1e-6  # centred on the mouth only
    half = mouth_crops(img[:, :, ::2, ::2], lm, crop_size=128, out=32, box=0.25)  # same place at any image size
    assert (half[0, 0, 14:18, 14:18] > 0.9).all()
    out = img.clone().requires_grad_(True)
    loss = mouth_loss(out, img.flip(0), lm, 128)
    loss.backward()
    assert loss.item() > 0.05 and out.grad.abs().sum() > 0
    assert out.grad[:, :, :60].abs().sum() == 0  # nothing outside the mouth region gets a gradient
    assert mouth_loss(img, img, lm, 128).item() == pytest.approx(0.0, abs=1e-4)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("render_corpus")
    rng = np.random.default_rng(0)
    with CorpusWriter(root, CorpusSpec(crop_size=64)) as w:
        for s in range(3):
            w.add_speaker(f"spk{s}", "train")
            motion = np.stack([neutral_motion()] * 6)
            motion[:, 0] = rng.uniform(0, 1, 6)
            frames, lm = render_clip(FaceIdentity(), motion, 64)
            w.add_clip(ClipData(f"spk{s}", "c0", "train", frames, np.zeros(6 * 640, np.float32), lm))
    return root


def test_motion_consistency_reads_the_motion_back():
    """Zero for the frames the motion came from, positive for others; gradients reach the frames only
    when the encoder is frozen."""
    from see_the_speaker.models.renderer import Renderer
    from see_the_speaker.training.render_losses import motion_consistency_loss
    from test_renderer_models import randomize

    r = randomize(Renderer(tiny_config())).eval()
    for p in r.parameters():
        p.requires_grad_(False)
    frames = torch.rand(3, 3, 256, 256)
    with torch.no_grad():
        m = r.encode_motion(frames)
    assert motion_consistency_loss(r, frames, m).item() < 1e-10
    out = torch.rand(3, 3, 256, 256, requires_grad=True)
    loss = motion_consistency_loss(r, out, m)
    loss.backward()
    assert loss.item() > 0 and out.grad is not None and out.grad.abs().sum() > 0
    assert all(p.grad is None for p in r.parameters())


def test_landmark_flow_loss_measures_where_the_grid_samples():
    """Identity grid + same landmarks -> 0; an open driving mouth over a closed source is penalised
    until the grid at the driving lip points samples the source lip points; gradient reaches the grid."""
    size, h = 128, 32
    ident = torch.nn.functional.affine_grid(torch.eye(2, 3)[None], (1, 1, h, h), align_corners=False)  # [1,h,h,2]
    _, lm = render_clip(FaceIdentity(), np.stack([neutral_motion()]), size)
    lm_src = torch.from_numpy(lm).float()  # [1,68,2] pixels
    assert landmark_flow_loss(ident, lm_src, lm_src, size).item() == pytest.approx(0.0, abs=1e-5)
    lm_drv = lm_src.clone()
    lm_drv[:, 48:68, 1] += 6.0  # the whole mouth 6 px lower in the driving frame
    shift = 6.0 / size * 2  # [-1,1] units
    expected = 20 / 68 * shift + shift  # all-points mean + lip-points mean (only y moved)
    assert landmark_flow_loss(ident, lm_src, lm_drv, size).item() == pytest.approx(expected, rel=0.05)
    moved = ident.clone()
    moved[..., 1] -= shift  # the grid samples 6 px higher everywhere: right for the lips, wrong elsewhere
    g = moved.clone().requires_grad_(True)
    loss = landmark_flow_loss(g, lm_src, lm_drv, size)
    assert loss.item() == pytest.approx(48 / 68 * shift, rel=0.05)
    loss.backward()
    assert g.grad.abs().sum() > 0


def test_three_phase_run_resumes(tiny_corpus, tmp_path):
    out = str(tmp_path / "run")
    cfg = TrainConfig(corpus=str(tiny_corpus), out=out, steps=(1, 1, 1), batch=2, workers=0, log_every=1,
                      sample_every=100, save_every=100, threads=1, model=tiny_config())
    train(cfg)
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["phase"] for r in rows] == ["codebook", "reconstruct", "transformer"]
    assert all(np.isfinite(r["loss"]) for r in rows)
    assert os.path.exists(os.path.join(out, "samples", "000003_transformer.png"))
    cfg.steps = (1, 1, 2)  # one more transformer step: resumes at step 3
    train(cfg)
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert json.load(open(os.path.join(out, "state.json")))["step"] == 4


def test_mouth_phase_keeps_the_motion_space(tiny_corpus, tmp_path):
    """--init a trained bundle + the mouth phase: encoders (the motion space) bit-identical, warper
    and decoder changed, the mouth term logged, the export records where the weights came from."""
    from see_the_speaker.checkpoint import load_checkpoint

    base = dict(corpus=str(tiny_corpus), batch=2, workers=0, log_every=1, sample_every=100, save_every=100,
                threads=1, model=tiny_config())
    train(TrainConfig(out=str(tmp_path / "a"), steps=(1, 1, 0, 0), **base))
    first = export(str(tmp_path / "a"), str(tmp_path / "a.safetensors"))
    out = str(tmp_path / "b")
    base["sample_every"] = 1  # sample grids between steps must not switch frozen modules back to training
    train(TrainConfig(out=out, steps=(0, 0, 0, 3), init=first, mouth_lr=1e-2, w_motion=1.0, **base))
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    assert [r["phase"] for r in rows] == ["mouth"] * 3 and all(np.isfinite(r["mouth"]) for r in rows)
    assert all(np.isfinite(r["consistency"]) for r in rows)  # the motion encoder in the loss stays frozen (below)
    tuned = export(out, str(tmp_path / "b.safetensors"))
    a, b = load_checkpoint(first).tensors, load_checkpoint(tuned).tensors
    frozen = [k for k in a if k.startswith(("identity_encoder.", "motion_encoder.", "codebook_encoder.", "quantizer."))]
    trained = [k for k in a if k.startswith(("warp.", "decoder."))]
    assert frozen and all(torch.equal(a[k], b[k]) for k in frozen)
    assert any(not torch.equal(a[k], b[k]) for k in trained)
    extra = load_checkpoint(tuned).extra["training"]
    assert extra["init"]["file"] == "a.safetensors" and extra["init"]["training"]["steps"] == [1, 1, 0, 0]


def test_pixel_path_added_to_an_init_bundle(tiny_corpus, tmp_path):
    """--pixel-path on top of a bundle without it: the new modules start fresh, everything else is
    the bundle's, the export records pixel_path and loads through the registry."""
    from see_the_speaker.checkpoint import load_checkpoint, load_model
    from see_the_speaker.models.renderer import KIND

    base = dict(corpus=str(tiny_corpus), batch=2, workers=0, log_every=1, sample_every=100, save_every=100,
                threads=1, model=tiny_config())
    train(TrainConfig(out=str(tmp_path / "a"), steps=(1, 1, 0, 0), **base))
    first = export(str(tmp_path / "a"), str(tmp_path / "a.safetensors"))
    out = str(tmp_path / "b")
    train(TrainConfig(out=out, steps=(0, 0, 0, 1), init=first, pixel_path=True, **base))
    tuned = export(out, str(tmp_path / "b.safetensors"))
    a, b = load_checkpoint(first), load_checkpoint(tuned)
    added = sorted(set(b.tensors) - set(a.tensors))
    assert added and all(k.startswith(("decoder.fuse128.", "decoder.blend.")) for k in added)
    assert not set(a.tensors) - set(b.tensors)
    assert b.config["decoder"]["pixel_path"] is True and not a.config["decoder"]["pixel_path"]
    r, _ = load_model(tuned, expected_kind=KIND)
    with torch.no_grad():
        app, _ = r.encode_portrait(torch.rand(1, 3, 64, 64))
        m = r.encode_motion(torch.rand(2, 3, 64, 64))
        assert app.image is not None and r.render(app, m[:1], m).shape == (2, 3, 256, 256)
