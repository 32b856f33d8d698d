"""Mouth layout and interior painting (models/mouth_layout.py) and its fit on a bundle
(training/fit_mouth_layout.py): polygon masks, the template mouth carried by the head pose, the
painted interior, bundles without a layout unchanged, and a fit that keeps every other weight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from see_the_speaker.models.motion_latent import MotionLatentSpec
from see_the_speaker.models.mouth_layout import (MouthLayout, MouthLayoutConfig, lip_point_l1, polygon_depth,
                                                 polygon_mask, profile_at, template_points)
from see_the_speaker.models.renderer import Renderer
from see_the_speaker.training.fit_mouth_layout import LayoutFitConfig, fit, fit_points, opening, weighted_median
from test_renderer_models import randomize, tiny_config
from test_renderer_training import tiny_corpus  # noqa: F401  (module fixture)


def test_polygon_mask_inside_outside_and_area():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]])  # half the side: a quarter of the area
    m = polygon_mask(square, 64)[0, 0]
    assert m[32, 32] > 0.99 and m[2, 2] < 0.01 and m[32, 60] < 0.01
    assert float(m.sum()) == pytest.approx(64 * 64 / 4, rel=0.02)
    flat = torch.tensor([[[-0.5, 0.0], [0.0, 1e-4], [0.5, 0.0], [0.0, -1e-4]]])  # a closed mouth: a line
    f = polygon_mask(flat, 64)[0, 0]
    assert 0.3 < float(f.max()) < 0.7 and float(f.sum()) < 64  # a faint line, no area
    turned = polygon_mask(square.flip(1), 64)  # either orientation
    assert torch.allclose(turned[0, 0], m, atol=1e-5)


def test_layout_starts_at_the_template_and_follows_the_head():
    spec = MotionLatentSpec()
    lay = MouthLayout(MouthLayoutConfig(spec=spec))
    m = torch.zeros(2, spec.dim)
    pose = slice(*spec.parts()["head_pose"])
    m[1, pose] = torch.tensor([0.0, 0.0, 0.1, 0.0, 0.0, -0.05])  # shifted right by 0.1, up by 0.05
    p = lay(m).detach()
    assert p.shape == (2, 20, 2)
    assert torch.allclose(p[0], template_points(), atol=1e-6)
    assert torch.allclose(p[1] - p[0], torch.tensor([0.1, -0.05]).expand(20, 2), atol=1e-6)
    assert float(lip_point_l1(p, p)) == 0.0
    assert float(lip_point_l1(p, p + 0.1)) == pytest.approx(0.2, rel=1e-4)  # 0.1 per axis
    assert float(opening(p)[0]) < 0.02  # the template mouth is nearly closed (1 % of the crop side)


def test_polygon_depth_and_profile_lookup():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]])
    d = polygon_depth(square, 64)[0, 0]  # the square spans pixels 16..47
    assert float(d[32, 32]) == pytest.approx(15.5, abs=0.01) and float(d[32, 16]) == pytest.approx(0.5, abs=0.01)
    assert float(d[32, 2]) == pytest.approx(-13.5, abs=0.01)
    profile = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    depth = torch.tensor([0.2, 0.5, 1.0, 1.5, 9.0]).view(1, 1, 1, 5)
    got = profile_at(profile, depth)[0, 0, 0]  # bin centres at 0.5, 1.5, 2.5; clamped outside
    assert torch.allclose(got, torch.tensor([0.0, 0.0, 0.5, 1.0, 0.5]))


def test_interior_mask_sizes_and_painting():
    spec = MotionLatentSpec()
    lay = MouthLayout(MouthLayoutConfig(spec=spec, profile_bins=2))
    pts = template_points().expand(1, 20, 2).clone()
    y = pts[0, 12:, 1]
    pts[0, 12:, 1] = y.mean() + (y - y.mean()) * 60  # open the inner lip: a real interior
    (small, depth), (big, _) = lay.interior(pts, 128), lay.interior(pts, 512)  # 512 is drawn at 256 and upsampled
    assert small.shape == depth.shape == (1, 1, 128, 128) and big.shape == (1, 1, 512, 512)
    assert float(big.mean()) == pytest.approx(float(small.mean()), rel=0.15)  # edges: `softness` pixels of the drawn map
    with torch.no_grad():
        lay.interior_profile.copy_(torch.tensor([[0.9, 0.9, 0.9], [0.1, 0.0, 0.0]]))  # teeth at the lips, dark inside
    frames = torch.rand(1, 3, 128, 128)
    lay.forward = lambda m: pts  # paint from these points whatever the motion
    with torch.no_grad():
        painted, _ = lay.paint(frames, torch.zeros(1, spec.dim))
    outside, deep = small[0, 0] < 1e-3, (small[0, 0] > 0.999) & (depth[0, 0] > 1.5)
    assert deep.sum() > 20 and torch.allclose(painted[0][:, outside], frames[0][:, outside], atol=1e-3)
    assert torch.allclose(painted[0][:, deep], torch.tensor([0.1, 0.0, 0.0])[:, None], atol=1e-3)
    rim = (small[0, 0] > 0.5) & (depth[0, 0] < 1.0)
    assert rim.any() and float(painted[0][0][rim].min()) > 0.3  # lighter along the lips


def test_windowed_painting_equals_the_full_frame_formula():
    """paint measures only a window around the batch's mouths: same frames as the formula over the
    whole frame, at 256² and (drawn at 256², upsampled) at 512²."""
    spec = MotionLatentSpec()
    lay = MouthLayout(MouthLayoutConfig(spec=spec)).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        lay.interior_profile.uniform_(0, 1, generator=g)
        pts = template_points().expand(4, 20, 2) + 0.02 * torch.randn(4, 20, 2, generator=g)
        y = pts[:, 12:, 1]
        pts[:, 12:, 1] = y.mean(1, keepdim=True) + (y - y.mean(1, keepdim=True)) * 8  # open mouths
        lay.forward = lambda m: pts
        up = lambda t, size: torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)  # noqa: E731
        for size in (256, 512):
            frames = torch.rand(4, 3, size, size, generator=g)
            depth = polygon_depth(pts[:, 12:], 256)  # drawn at 256² at most
            mask = (2 * torch.sigmoid(depth / lay.cfg.softness) - 1).clamp_min(0)
            if size > 256:
                depth, mask = up(depth, size), up(mask, size)
            want = torch.lerp(frames, profile_at(lay.interior_profile, depth), mask)
            got, _ = lay.paint(frames, torch.zeros(4, spec.dim))
            assert float(mask.max()) > 0.9 and torch.allclose(got, want, atol=1e-5), size


def test_renderer_paints_only_with_mouth_interior():
    """A bundle without the layout has no mouth_layout weights and renders as before; with it the
    frames differ only where the interior mask is drawn."""
    cfg = tiny_config()
    plain = randomize(Renderer(cfg)).eval()
    assert not any(k.startswith("mouth_layout.") for k in plain.state_dict())
    painted_cfg = dataclasses.replace(cfg, mouth_interior=True)
    painted = Renderer(painted_cfg).eval()
    state = painted.state_dict()
    state.update(plain.state_dict())
    painted.load_state_dict(state)
    torch.manual_seed(1)
    img, frames = torch.rand(1, 3, 64, 64), torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        app, _ = plain.encode_portrait(img)
        m = plain.encode_motion(frames)
        a, b = plain.render(app, m[:1], m), painted.render(app, m[:1], m)
        mask, _ = painted.mouth_layout.interior(painted.mouth_layout(m), a.shape[-1])
    far = (mask < 1e-4).expand(-1, 3, -1, -1)
    assert far.float().mean() > 0.9 and torch.allclose(a[far], b[far], atol=1e-4)
    assert float(mask.max()) > 0.3  # the template inner lip is slightly open: painted


def test_fit_points_learns_a_linear_mouth():
    """Points that are an affine function of the latent: the fit goes far below the template's error."""
    spec = MotionLatentSpec()
    g = torch.Generator().manual_seed(0)
    m = torch.randn(2048, spec.dim, generator=g) * 0.3
    m[:, slice(*spec.parts()["head_pose"])] = 0  # no head motion: the canonical points are the frame points
    w = torch.randn(spec.dim, 40, generator=g) * 0.05
    target = template_points() + (m @ w).view(-1, 20, 2)
    lay = MouthLayout(MouthLayoutConfig(spec=spec))
    before = float(lip_point_l1(lay(m).detach(), target))
    trace = fit_points(lay, m, target, LayoutFitConfig(steps=300, batch=256, lr=3e-3), log=lambda s: None)
    assert len(trace) == 10 and trace[-1] < 0.25 * before


def test_weighted_median_minimises_the_weighted_l1():
    g = torch.Generator().manual_seed(0)
    y, w = torch.rand(301, 3, generator=g), torch.rand(301, generator=g)
    c = weighted_median(y, w)
    grid = torch.linspace(0, 1, 2001)
    cost = (w[:, None, None] * (grid[None, :, None] - y[:, None, :]).abs()).sum(0)  # [2001,3]
    assert torch.all((w[:, None] * (c - y).abs()).sum(0) <= cost.min(0).values + 1e-4)
    assert torch.allclose(weighted_median(y, torch.ones(301)), y.median(0).values)
    w2 = torch.ones(301)
    w2[7] = 1000.0  # one pixel outweighs all others
    assert torch.equal(weighted_median(y, w2), y[7])


def test_fit_on_a_bundle_keeps_every_other_weight(tiny_corpus, tmp_path):  # noqa: F811
    from see_the_speaker.checkpoint import load_checkpoint, load_model, save_module
    from see_the_speaker.models.renderer import KIND

    r = randomize(Renderer(tiny_config()), std=0.05).eval()
    src = str(tmp_path / "r.safetensors")
    save_module(src, KIND, r.cfg, r, extra={"trained": False})
    out = str(tmp_path / "r_layout.safetensors")
    rep = fit(src, str(tiny_corpus), str(tmp_path / "cache"), out,
              LayoutFitConfig(steps=20, batch=8, colour_clips=2, colour_stride=1), report_splits=("train",), log=lambda s: None)
    a, b = load_checkpoint(src).tensors, load_checkpoint(out).tensors
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(k for k in b if k not in a) == ["mouth_layout.interior_profile"] + sorted(
        f"mouth_layout.net.{i}.{p}" for i in (0, 2, 4) for p in ("bias", "weight"))
    model, ck = load_model(out, KIND)
    assert model.cfg.mouth_interior and ck.extra["mouth_layout_fit"]["train_clips"] == 3
    assert torch.allclose(b["mouth_layout.interior_profile"], torch.tensor(rep["interior_profile"]))
    assert sum(rep["profile_pixels"]) > 0
    assert np.isfinite(rep["held_out"]["train"]["point_l1"]) and len(rep["loss_trace"]) == 10


def test_mouth_phase_from_a_painted_bundle_keeps_the_layout(tiny_corpus, tmp_path):  # noqa: F811
    """train_renderer --init <bundle with a mouth interior>: the layout is loaded and stays frozen
    through the mouth phase (the motion space it reads does not change there), and is exported."""
    from see_the_speaker.checkpoint import load_checkpoint, save_module
    from see_the_speaker.models.renderer import KIND
    from see_the_speaker.training.export_renderer import export
    from see_the_speaker.training.train_renderer import TrainConfig, train

    r = randomize(Renderer(dataclasses.replace(tiny_config(), mouth_interior=True)), std=0.05).eval()
    first = str(tmp_path / "painted.safetensors")
    save_module(first, KIND, r.cfg, r, extra={"trained": False})
    out = str(tmp_path / "run")
    train(TrainConfig(corpus=str(tiny_corpus), out=out, steps=(0, 0, 0, 2), init=first, batch=2, workers=0, log_every=1,
                      sample_every=100, save_every=100, threads=1, model=tiny_config()))
    a, b = load_checkpoint(first).tensors, load_checkpoint(export(out, str(tmp_path / "tuned.safetensors"))).tensors
    layout = [k for k in a if k.startswith("mouth_layout.")]
    assert layout and all(torch.equal(a[k], b[k]) for k in layout)
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("decoder."))
