"""The split-half headroom analysis of evaluation/saw_headroom.py and the speech-noise helper."""

import numpy as np
import pytest

from see_the_speaker.evaluation.eval_scfp import add_noise
from see_the_speaker.evaluation.saw_headroom import headroom

NAMES = ["k=0", "k=1", "k=1.5", "adaptive"]


def test_same_best_everywhere_gives_no_headroom():
    """Every speaker is closest at k=1: best constant = oracle = k=1, all gaps to it 0."""
    base = np.array([0.5, 0.4, 0.45, 0.4])  # [K]
    dist = np.broadcast_to(base[None, :, None], (6, 4, 4)).copy()
    r = headroom(dist, NAMES)
    assert r["best_constant"] == "k=1" and r["oracle_picks"] == {"k=0": 0, "k=1": 6, "k=1.5": 0}
    for k in ("oracle - best constant", "adaptive - best constant", "adaptive - fixed β⁰"):
        assert r["gaps"][k][0] == pytest.approx(0.0)


def test_heterogeneous_speakers_give_headroom():
    """Half the speakers are best at k=0, half at k=1.5: the oracle (0.3 each) beats any constant (0.4 at best)."""
    dist = np.full((8, 4, 4), 0.5)
    dist[:4, 0], dist[4:, 2] = 0.3, 0.3
    dist[:, 3] = 0.45  # adaptive somewhere between
    r = headroom(dist, NAMES)
    assert r["best_constant"] == "k=0"  # mean 0.4, tied with k=1.5; the first wins
    assert r["gaps"]["oracle - best constant"][0] == pytest.approx(-0.1)
    assert r["gaps"]["adaptive - fixed β⁰"][0] == pytest.approx(-0.05)


def test_oracle_gets_no_credit_for_seed_noise():
    """Pure noise, no real per-speaker optimum: the measuring half gives the oracle no systematic gain,
    while picking and measuring on the same seeds would."""
    rng = np.random.default_rng(0)
    dist = 0.4 + 0.05 * rng.standard_normal((400, 4, 8))
    r = headroom(dist, NAMES)
    m, se = r["gaps"]["oracle - best constant"]
    assert abs(m) < 3 * se
    in_sample = dist.mean(2)[:, :3].min(1).mean() - dist.mean(2)[:, :3].mean(0).min()
    assert in_sample < -0.01  # the bias the split avoids


def test_needs_two_seeds():
    with pytest.raises(ValueError, match="2 seeds"):
        headroom(np.zeros((3, 4, 1)), NAMES)


def test_add_noise_snr_and_determinism():
    wave = np.sin(np.linspace(0, 800, 16000)).astype(np.float32) * 0.3
    noisy = add_noise(wave, 10.0)
    snr = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean((noisy - wave).astype(np.float64) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)
    assert np.array_equal(noisy, add_noise(wave, 10.0)) and noisy.dtype == np.float32
