"""HRTF renderer modules: shapes, motion-latent layout, warp invariants, VQ, checkpoint round trip,
chunked rendering. Small configs, random weights (no quality claims here)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from see_the_speaker.checkpoint import load_model, save_module
from see_the_speaker.models.code_transformer import CodeTransformerConfig
from see_the_speaker.models.hr_decoder import HRDecoder, HRDecoderConfig
from see_the_speaker.models.identity_encoder import IdentityEncoderConfig
from see_the_speaker.models.motion_encoder import MotionEncoderConfig
from see_the_speaker.models.motion_latent import PART_NAMES, MotionLatentSpec, pose_matrix
from see_the_speaker.models.motion_warp import MotionWarp, MotionWarpConfig
from see_the_speaker.models.renderer import KIND, Renderer, RendererConfig, motion_from_frames, render_sequence
from see_the_speaker.models.vq_codebook import VectorQuantizer, VQConfig
from see_the_speaker.payloads import MotionSequence


def tiny_config(out_size: int = 256) -> RendererConfig:
    return RendererConfig(
        identity=IdentityEncoderConfig(skip_ch=8, feat_ch=16, blocks=1, id_dim=16),
        motion=MotionEncoderConfig(ch=(8, 8, 16), hidden=16),
        warp=MotionWarpConfig(hidden=8, emb=4, gen_ch=4),
        vq=VQConfig(code_dim=16, n_codes=32, lookup_dim=8, enc_ch=(8, 16, 16)),
        transformer=CodeTransformerConfig(d_model=32, layers=1, heads=2, ff=64),
        decoder=HRDecoderConfig(ch=(16, 8, 8, 4), blocks16=1, blocks32=1, fuse_hidden=(8, 4), out_size=out_size),
    )


def randomize(module: torch.nn.Module, std: float = 0.1) -> torch.nn.Module:
    """Non-zero weights everywhere (zero-initialised output convs would hide bugs)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim >= 2:
                p.normal_(0, std)
    return module


def test_spec_parts_match_motion_sequence():
    spec = MotionLatentSpec()
    parts = spec.parts()
    assert list(parts) == list(PART_NAMES)
    assert parts["lips"][0] == 0 and max(b for _, b in parts.values()) == spec.dim
    m = torch.randn(7, spec.dim)
    seq = MotionSequence(m, 25.0, parts, source="video")
    for name in PART_NAMES:
        assert torch.equal(seq.part(name), spec.split(m)[name])
    assert torch.equal(spec.join(spec.split(m)), m)
    edited = spec.replace(m, "lips", torch.zeros(7, spec.lips))
    assert torch.equal(edited[:, spec.lips:], m[:, spec.lips:]) and edited[:, :spec.lips].abs().sum() == 0
    with pytest.raises(ValueError):
        MotionLatentSpec(head_pose=4)
    assert torch.allclose(pose_matrix(torch.zeros(6)), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))


def test_renderer_shapes_and_ranges():
    r = randomize(Renderer(tiny_config())).eval()
    img = torch.rand(1, 3, 200, 200)  # any size is resized to the internal 128²
    frames = torch.rand(5, 3, 128, 128)
    with torch.no_grad():
        app, identity = r.encode_portrait(img)
        m = r.encode_motion(frames)
        out = r.render(app, r.encode_motion(img), m, fidelity=0.5)
        out512 = r.render(app, r.encode_motion(img), m[:2], fidelity=1.0, out_size=512)
    assert app.feat.shape == (1, 16, 32, 32) and app.skip.shape == (1, 8, 64, 64)
    assert identity.shape == (1, 16) and torch.allclose(identity.norm(dim=-1), torch.ones(1), atol=1e-5)
    assert m.shape == (5, r.spec.dim)
    assert out.shape == (5, 3, 256, 256) and out.min() >= 0 and out.max() <= 1
    assert out512.shape == (2, 3, 512, 512)


def test_native_512_decoder():
    dec = HRDecoder(HRDecoderConfig(code_dim=8, ch=(16, 8, 8, 4), fuse_hidden=(4, 4), feat_ch=4, skip_ch=4, out_size=512))
    assert dec(torch.randn(1, 8, 16, 16), torch.randn(1, 4, 32, 32), torch.randn(1, 4, 64, 64)).shape == (1, 3, 512, 512)
    with pytest.raises(ValueError):
        HRDecoder(HRDecoderConfig(out_size=300))


def test_fidelity_zero_ignores_warped_features():
    dec = randomize(HRDecoder(HRDecoderConfig(code_dim=8, ch=(16, 8, 8, 4), fuse_hidden=(4, 4), feat_ch=4, skip_ch=4)))
    codes = torch.randn(2, 8, 16, 16)
    a = dec(codes, torch.randn(2, 4, 32, 32), torch.randn(2, 4, 64, 64), 0.0)
    b = dec(codes, torch.randn(2, 4, 32, 32), torch.randn(2, 4, 64, 64), 0.0)
    c = dec(codes, torch.randn(2, 4, 32, 32), torch.randn(2, 4, 64, 64), 1.0)
    assert torch.allclose(a, b) and not torch.allclose(a, c)


def test_pixel_path_blends_the_warped_pixels():
    """Decoder pixel path: fidelity 0 ignores the pixels; a saturated blend mask on visible pixels
    returns them; invisible pixels (visibility 0) are never blended in."""
    cfg = HRDecoderConfig(code_dim=8, ch=(16, 8, 8, 4), fuse_hidden=(4, 4), feat_ch=4, skip_ch=4, pixel_path=True)
    dec = randomize(HRDecoder(cfg))
    codes, feat, skip = torch.randn(2, 8, 16, 16), torch.randn(2, 4, 32, 32), torch.randn(2, 4, 64, 64)
    rgb = torch.rand(2, 3, 256, 256)
    seen, hidden = torch.cat([rgb, torch.ones(2, 1, 256, 256)], 1), torch.cat([rgb, torch.zeros(2, 1, 256, 256)], 1)
    with torch.no_grad():
        assert torch.allclose(dec(codes, feat, skip, 0.0, seen), dec(codes, feat, skip, 0.0, torch.rand(2, 4, 256, 256)))
        assert not torch.allclose(dec(codes, feat, skip, 1.0, seen), dec(codes, feat, skip, 1.0, torch.rand(2, 4, 256, 256)))
        dec.blend.weight.zero_()
        dec.blend.bias.fill_(30.0)  # m = 1
        assert torch.allclose(dec(codes, feat, skip, 1.0, seen), rgb, atol=1e-5)
        no_blend = dec(codes, feat, skip, 1.0, hidden)
        dec.blend.bias.fill_(-30.0)  # m = 0: the decoder's own output
        assert torch.allclose(no_blend, dec(codes, feat, skip, 1.0, hidden), atol=1e-6)
        assert not torch.allclose(no_blend, rgb, atol=1e-2)


def test_renderer_pixel_path_returns_the_portrait_for_its_own_motion():
    """Fresh warper (identity grid when driving = source motion), fully visible, blend mask 1: the
    rendered frame is the portrait at the output size (away from the border, where the upsampled
    32² grid clamps)."""
    cfg = tiny_config()
    cfg.decoder.pixel_path = True
    r = Renderer(cfg).eval()
    with torch.no_grad():
        r.warp.occ_bias.fill_(30.0)
        r.decoder.blend.bias.fill_(30.0)
        img = torch.rand(1, 3, 256, 256)
        app, _ = r.encode_portrait(img)
        assert app.image.shape == (1, 3, 256, 256) and app.expand(3).image.shape == (3, 3, 256, 256)
        m = r.encode_motion(img)
        out = r.render(app, m, m.expand(2, -1), 1.0)
    assert torch.allclose(out[:, :, 8:-8, 8:-8], img.expand(2, -1, -1, -1)[:, :, 8:-8, 8:-8], atol=1e-4)


def test_warp_identity_when_motion_is_equal():
    """Fresh warper (zero residual), same motion for source and driving -> features unchanged."""
    warp = MotionWarp(MotionWarpConfig(feat_ch=6, skip_ch=3, hidden=8, emb=4, gen_ch=4))
    feat, skip = torch.randn(2, 6, 32, 32), torch.randn(2, 3, 64, 64)
    m = torch.randn(2, MotionLatentSpec().dim) * 0.05
    res = warp(feat, skip, m, m)
    occ = torch.sigmoid(warp.occ_bias)
    gen = warp.gen_proj.bias.view(1, -1, 1, 1)  # generated features of a zero residual
    assert torch.allclose(res.feat, occ * feat + (1 - occ) * gen, atol=1e-4)
    assert torch.allclose(res.skip[:, :, 2:-2, 2:-2], occ * skip[:, :, 2:-2, 2:-2], atol=1e-4)


def test_warp_pose_translation_moves_features():
    warp = MotionWarp(MotionWarpConfig(feat_ch=1, skip_ch=1, hidden=8, emb=4, gen_ch=4))
    spec = MotionLatentSpec()
    feat = torch.zeros(1, 1, 32, 32)
    feat[0, 0, 10, 10] = 1.0
    m_src = torch.zeros(1, spec.dim)
    m_drv = spec.replace(m_src, "head_pose", torch.tensor([[0, 0, 4 / 32, 0, 0, 6 / 32]]))  # +2 px x, +3 px y
    res = warp(feat, torch.zeros(1, 1, 64, 64), m_src, m_drv)
    peak = divmod(int(res.feat[0, 0].argmax()), 32)
    assert peak == (13, 12)


def test_warp_parts_stay_in_their_regions():
    """Editing the lips part changes the warped features near the mouth, not at the eyes."""
    torch.manual_seed(1)
    warp = randomize(MotionWarp(MotionWarpConfig(feat_ch=8, skip_ch=4, hidden=8, emb=4, gen_ch=4)), std=0.3)
    spec = MotionLatentSpec()
    feat, skip = torch.randn(1, 8, 32, 32), torch.randn(1, 4, 64, 64)
    m = torch.zeros(1, spec.dim)
    base = warp(feat, skip, m, m)
    lips = warp(feat, skip, m, spec.replace(m, "lips", torch.ones(1, spec.lips)))
    eyes = warp(feat, skip, m, spec.replace(m, "eyes", torch.ones(1, spec.eyes)))
    d_lips = (lips.feat - base.feat).abs().mean(1)[0]  # [32,32]
    d_eyes = (eyes.feat - base.feat).abs().mean(1)[0]
    mouth, eye_row = d_lips[22:26, 12:20].mean(), d_lips[12:15, 9:23].mean()
    assert mouth > 20 * eye_row, (mouth, eye_row)
    assert d_eyes[12:15, 9:23].mean() > 20 * d_eyes[22:26, 12:20].mean()
    expr = warp(feat, skip, m, spec.replace(m, "expression", torch.ones(1, spec.expression)))
    d_expr = (expr.feat - base.feat).abs().mean(1)[0]
    # the mouth belongs to the lips part alone: an expression edit moves the brows/cheeks, not the mouth
    assert d_expr[7:11, 8:24].mean() > 20 * d_expr[22:25, 14:18].mean(), (d_expr[7:11, 8:24].mean(), d_expr[22:25, 14:18].mean())


def test_vq_straight_through_and_restarts():
    torch.manual_seed(0)
    vq = VectorQuantizer(VQConfig(code_dim=8, n_codes=16, lookup_dim=4)).train()
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    out = vq(x)
    assert out.indices.shape == (2, 4, 4) and out.indices.max() < 16
    out.quantized.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # gradient reaches the encoder
    assert bool(vq.initialized)
    vq.usage.zero_()  # every code looks dead; unused ones are re-seeded from batch vectors
    before = vq.codes.detach().clone()
    vq(torch.randn(2, 8, 4, 4))
    assert not torch.allclose(before, vq.codes)
    vq.eval()
    before = vq.codes.detach().clone()
    vq(torch.randn(2, 8, 4, 4))
    assert torch.equal(before, vq.codes)  # eval never changes the codebook
    assert torch.allclose(vq.lookup(out.indices), vq.soft_lookup(torch.nn.functional.one_hot(out.indices, 16).float()), atol=1e-5)


def test_checkpoint_round_trip(tmp_path):
    r = randomize(Renderer(tiny_config())).eval()
    path = tmp_path / "renderer_t.safetensors"
    save_module(str(path), KIND, r.cfg, r, extra={"trained": False})
    r2, ckpt = load_model(str(path), expected_kind=KIND)
    assert ckpt.kind == KIND and dataclasses.asdict(r2.cfg) == dataclasses.asdict(r.cfg)
    x = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        app, _ = r.encode_portrait(x[:1])
        app2, _ = r2.encode_portrait(x[:1])
        m = r.encode_motion(x)
        assert torch.equal(m, r2.encode_motion(x))
        assert torch.equal(r.render(app, m[:1], m), r2.render(app2, m[:1], m))


def test_chunked_rendering_matches_one_batch():
    r = randomize(Renderer(tiny_config())).eval()
    frames = torch.rand(5, 64, 64, 3)
    ticks = []
    m = motion_from_frames(r, frames, batch=3, progress=ticks.append)
    assert ticks == [3, 2] and m.shape == (5, r.spec.dim)
    assert torch.allclose(m, motion_from_frames(r, frames, batch=5), atol=1e-5)
    a = render_sequence(r, frames[:1], m, 0.7, None, batch=2)
    b = render_sequence(r, frames[:1], m, 0.7, None, batch=5)
    assert a.shape == (5, 256, 256, 3) and torch.allclose(a, b, atol=1e-5)


def test_eval_renderer_mouth_summary():
    from see_the_speaker.evaluation.eval_renderer import mouth_summary

    s = mouth_summary([(0.5, 0.5), (0.7, 1.0), (0.9, 2.5)], ["a", "b", "c"])
    assert s["clips"] == 3 and s["opening_corr"] == pytest.approx(0.7)
    assert s["opening_std_ratio"] == pytest.approx(4 / 3)
    assert s["opening_std_ratio_min_q25_median_q75_max"] == pytest.approx([0.5, 0.75, 1.0, 1.75, 2.5])
    assert s["per_clip"][2] == {"clip": "c", "corr": 0.9, "std_ratio": 2.5}
    assert "std_ratio_vs_latent_gain_corr" not in s
    # the rendered amplitude follows the latent's gain exactly (ratio ∝ lips_std / true_std): corr 1
    s = mouth_summary([(0.5, 0.5), (0.7, 1.0), (0.9, 2.5)], ["a", "b", "c"], [0.05, 0.2, 0.25], [0.01, 0.02, 0.01])
    assert s["std_ratio_vs_latent_gain_corr"] == pytest.approx(1.0)
    assert s["per_clip"][0]["lips_latent_std"] == 0.05 and s["per_clip"][0]["true_opening_std"] == 0.01
