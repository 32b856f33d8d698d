"""SAW refit with speaker-grouped cross-validation (training/fit_saw.py) on small synthetic data."""

import numpy as np
import pytest
import torch

from see_the_speaker.models.saw import SAWConfig
from see_the_speaker.training.fit_saw import FitConfig, choose, cross_validate, fit

CFG = SAWConfig(in_dim=8, hidden=8, channels=2)
FAST = FitConfig(steps=150, lr=1e-2, folds=4)


def data(signal: float, speakers: int = 24, per: int = 6, seed: int = 0):
    """Speaker-level inputs; targets = signal · (a linear read of the speaker's input) + noise, in (0, 1)."""
    g = torch.Generator().manual_seed(seed)
    spk_x = torch.randn(speakers, 8, generator=g)
    x = spk_x.repeat_interleave(per, 0) + 0.1 * torch.randn(speakers * per, 8, generator=g)
    w = torch.randn(8, 2, generator=g) / 8 ** 0.5
    y = (0.5 + 0.15 * (signal * x @ w + (1 - signal) * torch.randn(speakers * per, 2, generator=g))).clamp(0.02, 0.98)
    return x, y, np.repeat(np.arange(speakers), per)


def test_predictable_targets_are_learned():
    x, y, groups = data(signal=1.0)
    r2 = cross_validate(CFG, x, y, groups, [0.0, 1.0, 50.0], FAST)
    assert max(r2.values()) > 0.5 and r2[50.0] < 0.3  # strong decay throws the signal away
    assert choose(r2) in (0.0, 1.0)


def test_unpredictable_targets_choose_the_strong_decay_and_a_near_constant_saw():
    x, y, groups = data(signal=0.0)
    r2 = cross_validate(CFG, x, y, groups, [0.0, 90.0], FAST)
    assert r2[0.0] < r2[90.0] and choose(r2) == 90.0
    free, decayed = fit(CFG, x, y, 0.0, FAST), fit(CFG, x, y, 90.0, FAST)
    with torch.no_grad():
        assert decayed(x).std(0).max() < 0.5 * free(x).std(0).min()
        assert torch.allclose(decayed(x).mean(0), y.mean(0), atol=0.02)  # shrinks to the mean β, not to 0.5


def test_choose_prefers_the_stronger_decay_on_a_tie():
    assert choose({0.0: 0.1, 10.0: 0.3, 50.0: 0.30005}) == 50.0
    assert choose({0.0: 0.4, 10.0: 0.3}) == 0.0


def test_bad_settings_are_refused():
    x, y, groups = data(signal=1.0, speakers=3)
    with pytest.raises(ValueError, match="speakers"):
        cross_validate(CFG, x, y, groups, [0.0], FAST)
    with pytest.raises(ValueError, match="decay"):
        fit(CFG, x, y, 100.0, FAST)
