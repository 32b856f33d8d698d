"""Motion bundle on small tensors: shapes, determinism, window stitching, any length, controls, round trip."""

import pytest
import torch

from see_the_speaker.checkpoint import load_model, save_module
from see_the_speaker.models.content_encoder import ContentEncoderConfig
from see_the_speaker.models.lip_refine import LipRefineConfig
from see_the_speaker.models.motion_bundle import KIND, MotionBundle, MotionBundleConfig
from see_the_speaker.models.motion_diffusion import MotionDiffusionConfig
from see_the_speaker.models.sync_expert import SyncExpertConfig

PARTS = {"lips": [0, 3], "expression": [3, 5], "eyes": [5, 7], "head_pose": [7, 10]}


def small_bundle(seed: int = 0) -> MotionBundle:
    cfg = MotionBundleConfig(
        motion_dim=10, parts=PARTS, content=ContentEncoderConfig(backend="mel", dim=12, hidden=16, layers=2),
        diffusion=MotionDiffusionConfig(width=32, depth=2, heads=2, context=3, window=8, lookahead=2),
        sync=SyncExpertConfig(width=16, embed=8), refine=LipRefineConfig(width=16, layers=2))
    torch.manual_seed(seed)
    b = MotionBundle(cfg)
    for name, p in b.named_parameters():  # non-trivial weights (zero-init output layers would hide bugs)
        if p.ndim >= 2:
            torch.nn.init.normal_(p, std=0.2)
    b.set_stats(torch.randn(10), torch.rand(10) + 0.5, torch.randn(10) * 0.1)
    return b.eval()


def raw(T: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(T, 320, generator=torch.Generator().manual_seed(seed))


def test_shapes_and_edge_lengths():
    b = small_bundle()
    for T in (1, 7, 8, 9, 37):
        assert b.generate(raw(T), steps=2).shape == (T, 10)


def test_deterministic_by_seed():
    b = small_bundle()
    x = raw(30)
    a1, a2 = b.generate(x, seed=5, steps=3), b.generate(x, seed=5, steps=3)
    assert torch.equal(a1, a2)
    assert not torch.allclose(a1, b.generate(x, seed=6, steps=3))
    b.train()  # sampling must not depend on the module's mode (dropout)
    assert torch.equal(b.generate(x, seed=5, steps=3), a1) and b.training


def test_streaming_prefix_is_independent_of_what_follows():
    """Windows that end (with lookahead and the content receptive field) before the cut are identical."""
    b = small_bundle()
    long = raw(60)
    short = long[:35]
    g_long, g_short = b.generate(long, seed=1, steps=3), b.generate(short, seed=1, steps=3)
    W, L = 8, 2
    halo = b.content.receptive_field // 2
    safe = max(k * W for k in range(10) if k * W + L + halo <= 35)  # frames of windows untouched by the cut
    assert safe >= 16
    assert torch.allclose(g_long[:safe], g_short[:safe], atol=1e-6)


def test_window_context_is_the_previous_tail_and_memory_is_bounded():
    """Each window gets the last C generated frames as context; per-window tensors do not grow with T."""
    b = small_bundle()
    b.cfg.seam_blend = 0  # the raw window outputs are then exactly what the next window sees
    calls = []
    orig = b.diffusion.sample

    def spy(context, context_mask, audio, audio_mask, *a, **k):
        out = orig(context, context_mask, audio, audio_mask, *a, **k)
        calls.append((context.clone(), context_mask.clone(), audio.shape, out.clone()))
        return out

    b.diffusion.sample = spy
    for T in (40, 400):
        calls.clear()
        b.generate(raw(T), seed=0, steps=2)
        assert len(calls) == -(-T // 8)
        assert {c[2] for c in calls} == {torch.Size([1, 13, 12])}  # span C+W+L, whatever T
        assert not calls[0][1].any()  # first window: no context
        for prev, cur in zip(calls, calls[1:]):
            assert cur[1].all() and torch.equal(cur[0][0], prev[3][0, -3:])


def test_controls_scales_and_still_head():
    b = small_bundle()
    x = raw(20)
    base = b.generate(x, seed=2, steps=2)
    assert torch.allclose(b.generate(x, seed=2, steps=2, scales={"lips": 1.0, "head_pose": 1.0}), base, atol=1e-6)
    rest = b.denormalize(b.motion_rest)
    zero_lips = b.generate(x, seed=2, steps=2, scales={"lips": 0.0})
    assert torch.allclose(zero_lips[:, 0:3], rest[0:3].expand(20, -1), atol=1e-5)
    assert torch.allclose(zero_lips[:, 3:], base[:, 3:], atol=1e-6)
    still = b.generate(x, seed=2, steps=2, still_head=True)
    assert torch.allclose(still[:, 7:], rest[7:].expand(20, -1), atol=1e-5)
    double = b.generate(x, seed=2, steps=2, scales={"eyes": 2.0})
    assert torch.allclose(double[:, 5:7] - rest[5:7], 2 * (base[:, 5:7] - rest[5:7]), atol=1e-4)
    with pytest.raises(ValueError, match="unknown motion part"):
        b.generate(x, steps=1, scales={"mouth": 1.0})


def test_refine_touches_only_lips_and_strength_zero_is_identity():
    b = small_bundle()
    x = raw(25)
    m = b.generate(x, seed=0, steps=2)
    assert torch.equal(b.refine(m, x, 0.0), m)
    r = b.refine(m, x, 1.0)
    assert not torch.allclose(r[:, :3], m[:, :3]) and torch.allclose(r[:, 3:], m[:, 3:], atol=1e-5)
    s = b.sync_score(m, x)
    assert set(s) == {"offset", "confidence", "score_at_zero"}


def test_checkpoint_round_trip(tmp_path):
    b = small_bundle()
    path = save_module(str(tmp_path / "motion_test.safetensors"), KIND, b.cfg, b)
    loaded, ckpt = load_model(path, expected_kind=KIND)
    assert loaded.cfg == b.cfg and ckpt.kind == "motion"
    x = raw(17)
    assert torch.equal(loaded.generate(x, seed=3, steps=2), b.generate(x, seed=3, steps=2))


def test_config_keeps_sizes_consistent():
    cfg = MotionBundleConfig(motion_dim=10, parts=PARTS, content=ContentEncoderConfig(backend="mel", dim=12))
    assert cfg.diffusion.motion_dim == 10 and cfg.diffusion.content_dim == 12
    assert cfg.sync.lips_dim == cfg.refine.lips_dim == 3 and cfg.sync.audio_dim == 320
    with pytest.raises(ValueError, match="cover"):
        MotionBundleConfig(motion_dim=11, parts=PARTS)


def test_seam_blend_continues_the_tail_then_leaves_the_window_alone():
    b = small_bundle()
    b.cfg.seam_blend = 4
    tail = torch.tensor([[0.0] * 10, [1.0] * 10])  # velocity +1 per frame
    x = torch.randn(8, 10) + 5.0
    y = b.blend_seam(tail, x)
    assert torch.allclose(y[0], torch.full((10,), 2.0))  # continues the tail at its velocity
    assert torch.equal(y[4:], x[4:])  # untouched after the ramp
    jumps = (y[1:4] - y[:3]) - (x[1:4] - x[:3])  # the correction changes smoothly (constant steps)
    assert torch.allclose(jumps, jumps[:1].expand_as(jumps), atol=1e-5)


def test_generated_boundaries_have_no_step():
    """With blending, the jump into each window equals the tail's velocity (no step at the seam)."""
    b = small_bundle()
    z = b.normalize(b.generate(raw(40), seed=0, steps=2))
    for s in (8, 16, 24, 32):
        assert torch.allclose(z[s] - z[s - 1], z[s - 1] - z[s - 2], atol=1e-4)


def test_speech_features_are_computed_once_per_wave():
    b = small_bundle()
    wave = torch.randn(16000) * 0.1
    first = b.speech_raw(wave)
    assert b.speech_raw(wave) is first  # cached for the same tensor
    other = wave.clone()
    assert b.speech_raw(other) is not first and torch.equal(b.speech_raw(other), first)
