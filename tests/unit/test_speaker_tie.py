"""Voice–face tie versions of the synthetic speakers (data/synth/speaker.py)."""

import numpy as np
import pytest

from see_the_speaker.data.synth.speaker import FACE_LOADINGS, TIES, make_speaker


def test_v2_is_the_default_and_has_no_new_voice_knobs():
    a, b = make_speaker(0, 5), make_speaker(0, 5, "v2")
    assert a.identity == b.identity and a.voice == b.voice
    assert a.voice.timbre is None and a.voice.body is None and a.voice.breath is None


def test_v3_shares_factors_and_hears_them():
    for i in range(20):
        v2, v3 = make_speaker(0, i, "v2"), make_speaker(0, i, "v3")
        assert np.array_equal(v2.factors, v3.factors)  # same people, another tie
        assert v2.voice.language == v3.voice.language  # channel and language stay independent
        assert v3.voice.timbre is not None and v3.voice.body is not None and v3.voice.breath is not None
    spk = [make_speaker(1, i, "v3") for i in range(200)]
    f = np.array([s.factors for s in spk])
    timbre = np.array([s.voice.timbre for s in spk])
    body = np.array([s.voice.body for s in spk])
    breath = np.array([s.voice.breath for s in spk])
    assert np.corrcoef(timbre, f[:, 5])[0, 1] > 0.9  # morph
    assert np.corrcoef(body, f[:, 3])[0, 1] > 0.8  # weight
    assert np.corrcoef(breath, f[:, 1])[0, 1] > 0.8  # age


def test_v3_face_geometry_is_tighter():
    """Residual of an attribute around its factor loading shrinks from v2 to v3."""
    name = "nose_length"
    base, load, _ = FACE_LOADINGS[name]
    res = {}
    for tie in TIES:
        spk = [make_speaker(2, i, tie) for i in range(300)]
        pred = np.array([base + sum(w * dict(zip(("gender", "age", "size", "weight", "energy", "morph"), s.factors))[k]
                                    for k, w in load.items()) for s in spk])
        val = np.array([getattr(s.identity, name) for s in spk])
        res[tie] = np.std(val - pred)
    assert res["v3"] < 0.7 * res["v2"]


def test_unknown_tie_is_refused():
    with pytest.raises(ValueError, match="tie 'v9'"):
        make_speaker(0, 0, "v9")
