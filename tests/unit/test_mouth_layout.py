"""Mouth layout (models/mouth_layout.py): polygon masks, the template mouth carried by the head pose,
the lip-point loss, and a layout added to a trained bundle without changing what it renders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from see_the_speaker.models.motion_latent import MotionLatentSpec
from see_the_speaker.models.mouth_layout import MouthLayout, MouthLayoutConfig, layout_loss, polygon_mask, template_points
from see_the_speaker.models.renderer import Renderer
from see_the_speaker.training.train_renderer import load_init_weights
from test_renderer_models import randomize, tiny_config


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
    maps = lay.draw(p, 128)
    assert maps.shape == (2, 2, 128, 128) and float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert float(maps[0, 1].sum()) > 2 * float(maps[0, 0].sum())  # template: closed mouth, lips but little interior
    lm = torch.zeros(2, 68, 2)
    lm[:, 48:68] = (p.detach() + 1) / 2 * 128
    assert float(layout_loss(p, lm, 128)) == pytest.approx(0.0, abs=1e-5)
    assert float(layout_loss(p, lm + 6.4, 128)) == pytest.approx(0.2, rel=1e-3)  # 0.1 per axis in [-1,1]


def test_layout_added_to_a_bundle_renders_the_same_frames():
    """--mouth-layout on a pixel-path bundle: fuse128's new input columns start at zero, so the
    widened renderer draws exactly what the bundle drew; the layout then reaches the decoder."""
    cfg = tiny_config()
    cfg.decoder.pixel_path = True
    base = randomize(Renderer(cfg)).eval()
    wide_cfg = dataclasses.replace(cfg, decoder=dataclasses.replace(cfg.decoder, layout_ch=2))
    wide = Renderer(wide_cfg).eval()
    added = load_init_weights(wide, base.state_dict(), "base")
    assert any(k.startswith("mouth_layout.") for k in added) and any("fuse128" in k for k in added)
    torch.manual_seed(1)
    img, frames = torch.rand(1, 3, 64, 64), torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        outs = []
        for r in (base, wide):
            app, _ = r.encode_portrait(img)
            m = r.encode_motion(frames)
            outs.append(r.render(app, m[:1], m))
        assert torch.allclose(outs[0], outs[1], atol=1e-6)
        for k in (0, -1):  # the layout columns and the output start at zero: make the fusion act
            wide.decoder.fuse128.net[k].weight.normal_(0, 0.5)
        codes = torch.randn(1, cfg.vq.code_dim, 16, 16)
        pixels = torch.rand(1, 4, 256, 256)
        closed, opened = torch.zeros(1, 2, 128, 128), torch.zeros(1, 2, 128, 128)
        opened[:, 0, 60:70, 40:80] = 1  # an open mouth's interior
        a = wide.decoder(codes, None, None, 1.0, pixels, closed)
        b = wide.decoder(codes, None, None, 1.0, pixels, opened)
        assert not torch.allclose(a, b)  # the layout reaches the output
        with pytest.raises(ValueError, match="mouth-layout"):
            wide.decoder(codes, None, None, 1.0, pixels, None)
    with pytest.raises(ValueError, match="pixel path"):
        Renderer(dataclasses.replace(cfg, decoder=dataclasses.replace(cfg.decoder, pixel_path=False, layout_ch=2)))
