"""Stage-1 (SCFP) modules: shapes, invariants and determinism on small tensors."""

import pytest
import torch

from see_the_speaker.models.diffusion import Diffusion, DiffusionConfig
from see_the_speaker.models.face_prior import FacePrior, FacePriorConfig
from see_the_speaker.models.portrait_autoencoder import AutoencoderConfig, PortraitAutoencoder
from see_the_speaker.models.portrait_denoiser import DenoiserConfig, PortraitDenoiser
from see_the_speaker.models.saw import SAW, SAWConfig
from see_the_speaker.models.speech_encoder import SpeechEncoder, SpeechEncoderConfig, pool_segments


pytestmark = pytest.mark.usefixtures("one_thread")


SMALL_SPEECH = SpeechEncoderConfig(dim=32, layers=1, heads=2, dropout=0.0, ge2e=False)


def test_speech_encoder_shapes_and_25fps_tokens():
    enc = SpeechEncoder(SMALL_SPEECH).eval()
    mel = torch.randn(2, 80, 301)
    utt, tok, mask = enc(mel, torch.tensor([301, 200]))
    assert utt.shape == (2, 32) and tok.shape == (2, SpeechEncoder.token_count(301), 32)
    assert tok.shape[1] == 75  # 3 s -> 75 tokens at 25 fps
    assert mask[0].all() and mask[1].sum() == 50
    assert (tok[1, 50:] == 0).all()


def test_speech_encoder_ignores_padding_and_loudness():
    torch.manual_seed(0)
    enc = SpeechEncoder(SMALL_SPEECH).eval()
    mel = torch.randn(1, 80, 200)
    padded = torch.cat([mel, torch.randn(1, 80, 100)], dim=-1)
    with torch.no_grad():
        a, _, _ = enc(mel, torch.tensor([200]))
        b, _, _ = enc(padded, torch.tensor([200]))
        c, _, _ = enc(mel + 3.0, torch.tensor([200]))  # 3 nats louder everywhere
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.allclose(a, c, atol=1e-4)


def test_pool_segments_fixed_size_and_means():
    tok = torch.arange(12, dtype=torch.float32).view(1, 12, 1).repeat(2, 1, 3)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 6:] = False
    out = pool_segments(tok, mask, 4)
    assert out.shape == (2, 4, 3)
    assert torch.allclose(out[0, :, 0], torch.tensor([1.0, 4.0, 7.0, 10.0]))
    short = pool_segments(tok[:, :2], torch.ones(2, 2, dtype=torch.bool), 4)  # fewer tokens than segments
    assert short.shape == (2, 4, 3) and torch.isfinite(short).all()


def test_autoencoder_is_f8_and_fully_convolutional():
    ae = PortraitAutoencoder(AutoencoderConfig(enc_channels=(8, 8, 8, 16), dec_channels=16, dec_blocks=1, up_channels=(8, 8, 8)))
    assert ae.factor == 8
    mean, logvar = ae.encode(torch.rand(2, 3, 256, 256))
    assert mean.shape == logvar.shape == (2, 4, 32, 32)
    assert ae.decode(mean).shape == (2, 3, 256, 256)
    rec, m, _ = ae(torch.rand(1, 3, 128, 64))
    assert rec.shape == (1, 3, 128, 64) and m.shape == (1, 4, 16, 8)


def test_face_prior_fit_and_beta_target():
    prior = FacePrior(FacePriorConfig(channels=4, size=8))
    lat = torch.randn(64, 4, 8, 8) * 3 + 5
    prior.fit(lat)
    z = lat / prior.latent_scale
    assert torch.allclose(prior.mu, z.mean(0), atol=1e-5)
    bt = prior.beta_target(z)
    assert bt.shape == (64, 4) and (bt >= 0.02).all() and (bt <= 0.98).all()
    assert torch.allclose(prior.beta_target(prior.mu[None] * 0.5), torch.full((1, 4), 0.5), atol=1e-5)
    assert prior.offset(torch.ones(2, 4)).shape == (2, 4, 8, 8)


def test_saw_in_unit_interval():
    beta = SAW(SAWConfig(in_dim=16, hidden=8))(torch.randn(5, 16) * 100)
    assert beta.shape == (5, 4) and (beta >= 0).all() and (beta <= 1).all()


def _small_denoiser():
    return PortraitDenoiser(DenoiserConfig(channels=(16, 16, 32), cond_dim=32, emb_dim=32, heads=2, n_tokens=4))


def test_denoiser_shapes_and_zero_init_output():
    net = _small_denoiser()
    x = torch.randn(3, 4, 32, 32)
    out = net(x, torch.tensor([1.0, 500.0, 1000.0]), torch.randn(3, 32), torch.randn(3, 4, 32), torch.rand(3, 4))
    assert out.shape == x.shape and torch.all(out == 0)  # zero-initialised head
    u0, t0 = net.null_condition(3)
    assert u0.shape == (3, 32) and t0.shape == (3, 4, 32)


def test_v_prediction_identities():
    d = Diffusion(DiffusionConfig())
    x0, noise = torch.randn(4, 4, 8, 8), torch.randn(4, 4, 8, 8)
    t = torch.tensor([1, 10, 500, 1000])
    x_t, v = d.q_sample(x0, t, noise)
    ab = d.alpha_bar[t].view(-1, 1, 1, 1)
    assert torch.allclose(ab.sqrt() * x_t - (1 - ab).sqrt() * v, x0, atol=1e-4)
    assert d.alpha_bar[0] == 1 and d.alpha_bar[-1] < 1e-4
    assert torch.all(d.alpha_bar[1:] < d.alpha_bar[:-1])


def test_initial_noise_is_per_sample_seeded():
    a = Diffusion.initial_noise((4, 8, 8), [5, 6, 7])
    b = Diffusion.initial_noise((4, 8, 8), [6])
    assert torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])


def v_oracle(d: Diffusion, target: torch.Tensor):
    """A denoiser returning the exact v for clean sample `target` [B, ...] (conditional and
    unconditional halves of a CFG batch alike)."""
    def oracle(x, t, u, tok, beta):
        ab = d.alpha_bar[t.long()].view(-1, 1, 1, 1)
        x0 = target.repeat(x.shape[0] // target.shape[0], 1, 1, 1)
        eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        return ab.sqrt() * eps - (1 - ab).sqrt() * x0
    return oracle


def test_ddim_sampler_deterministic_and_exact_for_oracle():
    """With a network returning the true v of a fixed x0, DDIM returns that x0."""
    d = Diffusion(DiffusionConfig())
    target = torch.randn(2, 4, 8, 8)
    oracle = v_oracle(d, target)
    x_T = Diffusion.initial_noise((4, 8, 8), [0, 1])
    null = (torch.zeros(2, 3), torch.zeros(2, 2, 3))
    out = d.sample(oracle, x_T, torch.zeros(2, 3), torch.zeros(2, 2, 3), torch.zeros(2, 4), null, steps=10, guidance=3.0)
    assert torch.allclose(out, target, atol=1e-3)
    calls = []
    d.sample(oracle, x_T, torch.zeros(2, 3), torch.zeros(2, 2, 3), torch.zeros(2, 4), null, steps=7, guidance=1.0,
             progress=lambda i, n: calls.append((i, n)))
    assert calls[-1] == (7, 7)


def test_prior_pull_weights_and_schedule():
    """Prior guidance: weight 0 changes nothing; at the first (noisiest) step the estimate moves to
    target + w·(prior − target) per channel, so a one-step sample lands there."""
    d = Diffusion(DiffusionConfig())
    target = torch.randn(2, 4, 8, 8)
    prior = torch.randn(2, 4, 8, 8)
    oracle = v_oracle(d, target)
    x_T = Diffusion.initial_noise((4, 8, 8), [0, 1])
    args = (oracle, x_T, torch.zeros(2, 3), torch.zeros(2, 2, 3), torch.zeros(2, 4), (torch.zeros(2, 3), torch.zeros(2, 2, 3)))
    plain = d.sample(*args, steps=5, guidance=2.0)
    assert torch.allclose(d.sample(*args, steps=5, guidance=2.0, pull=(prior, torch.zeros(2, 4))), plain, atol=1e-5)
    w = torch.tensor([[0.0, 0.25, 0.5, 1.0], [0.1, 0.2, 0.3, 0.4]])
    one = d.sample(*args, steps=1, guidance=2.0, pull=(prior, w))
    assert torch.allclose(one, target + w[:, :, None, None] * (prior - target), atol=1e-3)


def test_ge2e_unit_norm_loudness_and_padding_invariant():
    from see_the_speaker.models.ge2e import GE2E

    torch.manual_seed(0)
    g = GE2E()
    w = torch.randn(1, 16000 * 2) * 0.1
    e = g(w)
    assert e.shape == (1, 256) and torch.allclose(e.norm(dim=1), torch.ones(1), atol=1e-4)
    assert torch.allclose(g(w * 7.0), e, atol=1e-4)  # volume-normalised
    padded = torch.cat([w, torch.randn(1, 16000)], dim=1)
    assert torch.allclose(g(padded, torch.tensor([w.shape[1]])), e, atol=1e-4)
    assert not any(p.requires_grad for p in g.parameters())


def test_speech_encoder_with_ge2e_input():
    enc = SpeechEncoder(SpeechEncoderConfig(dim=32, layers=1, heads=2, dropout=0.0, ge2e=True)).eval()
    mel = torch.randn(2, 80, 150)
    with pytest.raises(ValueError, match="GE2E"):
        enc(mel)
    g = torch.nn.functional.normalize(torch.randn(2, 256), dim=1)
    u1, _, _ = enc(mel, ge2e=g)
    u2, _, _ = enc(mel, ge2e=g.flip(0))
    assert u1.shape == (2, 32) and not torch.allclose(u1, u2)
