"""eval_motion's pure helpers: which clips get rendered, lag search, seam measure."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from see_the_speaker.evaluation.eval_motion import best_lag, render_clips


def _clips(speakers: int, per_speaker: int) -> list:
    """Listed speaker by speaker, as a corpus split is."""
    return [SimpleNamespace(id=f"s{s}_{k}", speaker=f"s{s}") for s in range(speakers) for k in range(per_speaker)]


def test_render_clips_spread_over_every_speaker():
    clips = _clips(20, 10)
    picked = render_clips(clips, 20)
    assert len(picked) == 20 and len({c.speaker for c in picked}) == 20  # clips[:20] would be 2 speakers
    two = render_clips(clips, 40)
    assert len({c.id for c in two}) == 40
    assert all(sum(c.speaker == f"s{s}" for c in two) == 2 for s in range(20))
    assert [c.id for c in render_clips(clips, 20, seed=3)] == [c.id for c in render_clips(clips, 20, seed=3)]
    assert [c.id for c in render_clips(clips, 20, seed=3)] != [c.id for c in render_clips(clips, 20, seed=4)]


def test_render_clips_never_repeats_and_stops_at_the_split():
    clips = _clips(3, 2)
    assert sorted(c.id for c in render_clips(clips, 100)) == sorted(c.id for c in clips)
    assert [c.speaker for c in render_clips(clips, 4)][:3] == ["s0", "s1", "s2"]


def test_best_lag_finds_a_shift():
    rng = np.random.default_rng(0)
    true = [rng.standard_normal(200) for _ in range(3)]
    late = [np.concatenate([np.zeros(2), t[:-2]]) for t in true]  # generated = truth 2 frames late
    lag, curve = best_lag(late, true)
    assert lag == 2 and curve[2] > 0.9


def test_paired_gain_of_lip_refine():
    from see_the_speaker.evaluation.eval_motion import paired_gain

    g = paired_gain([(0.70, 0.72), (0.60, 0.61), (0.80, 0.83)])
    assert g["refine_gain_clips"] == 3
    assert g["refine_gain_per_clip_video"] == pytest.approx(0.02)
    assert g["refine_gain_per_clip_video_se"] == pytest.approx(np.std([0.02, 0.01, 0.03], ddof=1) / np.sqrt(3))
    assert np.isnan(paired_gain([(0.7, 0.8)])["refine_gain_per_clip_video"])
