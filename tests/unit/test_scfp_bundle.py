"""The stage-1 bundle (models/scfp.py): speech checks, bounded windows, sampling determinism,
prior modes, checkpoint round trip; and the training helpers that are easy to get wrong."""

import numpy as np
import pytest
import torch

from see_the_speaker.checkpoint import CheckpointError, load_model, save_module
from see_the_speaker.models.scfp import KIND, SCFP, SpeechInputError, tiny_config


pytestmark = pytest.mark.usefixtures("one_thread")


SR = 16000


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = SCFP(tiny_config()).eval()
    m.prior.fit(torch.randn(16, 4, 32, 32) + 1.0)
    return m


def voice(seconds, f0=140.0, seed=0):
    t = torch.arange(int(seconds * SR)) / SR
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.sin(2 * torch.pi * f0 * t) * (1 + torch.sin(2 * torch.pi * 3 * t)) + 0.01 * torch.randn(t.shape, generator=g)


def test_encode_speech_shapes(model):
    utt, tok = model.encode_speech(voice(2.0))
    assert utt.shape == (32,) and tok.shape == (50, 32)


def test_short_and_silent_speech_are_refused(model):
    with pytest.raises(SpeechInputError, match="0.20 s"):
        model.encode_speech(voice(0.2))
    with pytest.raises(SpeechInputError, match="silent"):
        model.encode_speech(torch.zeros(SR * 2))
    with pytest.raises(SpeechInputError, match="NaN"):
        model.encode_speech(torch.full((SR,), float("nan")))


def test_long_audio_uses_bounded_windows(model):
    w = int(model.cfg.window_seconds * SR)
    assert model.windows(w) == [(0, w)]
    spans = model.windows(SR * 600)  # 10 minutes
    assert len(spans) == model.cfg.max_windows
    assert spans[0][0] == 0 and spans[-1][1] == SR * 600
    assert all(e - s == w for s, e in spans)
    utt, tok = model.encode_speech(voice(600.0))
    assert tok.shape[0] == model.cfg.max_windows * 200 and torch.isfinite(utt).all()


def test_sample_is_seeded_per_candidate(model):
    cond = model.encode_speech(voice(1.5))
    a, beta = model.sample(cond, n=3, seed=10, steps=3)
    b, _ = model.sample(cond, n=1, seed=11, steps=3)
    c, _ = model.sample(cond, n=3, seed=10, steps=3)
    assert a.shape == (3, 256, 256, 3) and a.min() >= 0 and a.max() <= 1
    assert torch.allclose(a[1], b[0], atol=1e-5)  # candidate i = seed + i, any batch size
    assert torch.equal(a, c)
    assert beta.shape == (4,)


def test_prior_modes_and_override(model):
    cond = model.encode_speech(voice(1.0))
    _, b_none = model.sample(cond, n=1, steps=2, prior_mode="none")
    _, b_fixed = model.sample(cond, n=1, steps=2, prior_mode="fixed")
    _, b_adapt = model.sample(cond, n=1, steps=2, prior_mode="adaptive")
    _, b_over = model.sample(cond, n=1, steps=2, prior_mode="adaptive", beta=0.25)
    assert torch.all(b_none == 0) and torch.allclose(b_fixed, model.prior.beta0)
    assert torch.all((b_adapt > 0) & (b_adapt < 1)) and torch.all(b_over == 0.25)
    with pytest.raises(ValueError):
        model.sample(cond, n=1, steps=2, prior_mode="bogus")
    with pytest.raises(ValueError):
        model.sample(cond, n=1, steps=2, beta=1.5)


def test_per_channel_beta_override(model):
    """A [C] override is used per latent channel; k·β⁰ reproduces "fixed" at k = 1; bad shapes/ranges refused."""
    cond = model.encode_speech(voice(1.0))
    img_fixed, _ = model.sample(cond, n=1, steps=2, prior_mode="fixed")
    img_over, b_over = model.sample(cond, n=1, steps=2, beta=model.prior.beta0.clone())
    assert torch.equal(img_fixed, img_over) and torch.allclose(b_over, model.prior.beta0)
    per = torch.tensor([0.0, 0.25, 0.5, 1.0])
    _, b = model.sample(cond, n=2, steps=2, beta=per)
    assert torch.equal(b, per)
    with pytest.raises(ValueError, match="one per latent channel"):
        model.sample(cond, n=1, steps=2, beta=torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        model.sample(cond, n=1, steps=2, beta=torch.tensor([0.5, 0.5, 0.5, 1.2]))


def test_checkpoint_round_trip_and_wrong_kind(model, tmp_path):
    path = str(tmp_path / "scfp_tiny.safetensors")
    save_module(path, KIND, model.cfg, model, extra={"trained": False}, dtype=torch.float16)
    loaded, ckpt = load_model(path, expected_kind=KIND)
    assert ckpt.extra == {"trained": False}
    assert torch.allclose(loaded.prior.mu, model.prior.mu, atol=1e-2)
    cond = model.encode_speech(voice(1.0))
    img, _ = loaded.sample(cond, n=1, steps=2)
    assert img.shape == (1, 256, 256, 3)
    with pytest.raises(CheckpointError, match="'renderer' checkpoint was expected"):
        load_model(path, expected_kind="renderer")


def test_supcon_prefers_aligned_pairs():
    from see_the_speaker.training.train_scfp import supcon

    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    a = torch.nn.functional.one_hot(labels, 3).float()
    good = supcon(a, a, labels, torch.tensor(np.log(0.1)))
    bad = supcon(a, a[torch.tensor([2, 3, 4, 5, 0, 1])], labels, torch.tensor(np.log(0.1)))
    assert good < bad


def test_neutral_frames_pick_rest_pose():
    from see_the_speaker.training.scfp_data import neutral_frames

    fields = np.array(["jaw_open", "yaw", "scale"])
    motion = np.zeros((30, 3), np.float32)
    motion[:, 2] = 1.0
    motion[:, 0] = np.linspace(0, 1, 30)[::-1]  # mouth closes over time
    picked = neutral_frames({"motion": motion, "motion_fields": fields}, 30, 2, min_gap=5)
    assert picked[0] == 29 and abs(picked[1] - 29) >= 5
    real = neutral_frames({"face_found": np.r_[np.zeros(10, bool), np.ones(20, bool)]}, 30, 3)
    assert len(real) == 3 and min(real) >= 10
