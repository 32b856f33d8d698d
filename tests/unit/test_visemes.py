"""Speech-driven motion: phoneme coverage, A/V alignment of bilabials, rest, blinks, head motion."""

import collections

import numpy as np
import pytest

from see_the_speaker.data.synth import text
from see_the_speaker.data.synth.behaviour import SpeakingStyle, speech_motion
from see_the_speaker.data.synth.face import MOTION_FIELDS, MOTION_INDEX, MOTION_RANGES
from see_the_speaker.data.synth.visemes import (MOUTH_FIELDS, is_bilabial, is_covered,
                                                mouth_trajectory, units)
from see_the_speaker.data.synth.voice import LANGUAGES, VARIANTS, Phone, Utterance, VoiceParams, synthesize

FPS = 25
JAW, PRESS = MOTION_INDEX["jaw_open"], MOTION_INDEX["lip_press"]


@pytest.fixture(scope="module")
def sample():
    """3 sentences per language with varied voices: (utterance, motion) pairs."""
    out = []
    for li, lang in enumerate(LANGUAGES):
        rng = np.random.default_rng(100 + li)
        for i, s in enumerate(text.sentences(lang, rng, 3)):
            v = VoiceParams(lang, VARIANTS[(li + i) % len(VARIANTS)], rate=int(rng.integers(130, 210)),
                            warp=float(rng.uniform(0.9, 1.12)))
            u = synthesize(s, v, seed=i)
            out.append((u, speech_motion(u, fps=FPS, rng=np.random.default_rng(i))))
    return out


def test_every_emitted_phoneme_is_covered(sample):
    missing = collections.Counter(p.symbol for u, _ in sample for p in u.phonemes if not is_covered(p.symbol))
    assert not missing, missing


def test_units():
    assert units("aɪ") == ["a", "ɪ"] and units("tʃ") == ["t", "ʃ"] and units("ɔ̃") == ["ɔ"]
    assert units("ss") == ["s"] and units("ˈoː") == ["o"]
    assert is_bilabial("m") and is_bilabial("pf") and not is_bilabial("f")


def test_shape_range_and_fields(sample):
    u, m = sample[0]
    assert m.dtype == np.float32 and m.shape == (int(np.ceil(u.duration * FPS - 1e-9)), len(MOTION_FIELDS))
    lo = np.array([MOTION_RANGES[f][0] for f in MOTION_FIELDS])
    hi = np.array([MOTION_RANGES[f][1] for f in MOTION_FIELDS])
    assert np.all(m >= lo - 1e-6) and np.all(m <= hi + 1e-6)
    assert set(MOUTH_FIELDS) <= set(MOTION_FIELDS)


def test_bilabials_close_the_lips_within_one_frame(sample):
    """A/V alignment: for every /p b m/ the lips are shut (lip_press high, jaw ~0) in a frame
    within one frame of the phone's start time in the audio."""
    n, worst_press, worst_jaw = 0, 1.0, 0.0
    for u, m in sample:
        for p in u.phonemes:
            if not is_bilabial(p.symbol):
                continue
            k = int(p.start * FPS)
            ks = [j for j in (k - 1, k, k + 1) if 0 <= j < len(m)]
            best = max(ks, key=lambda j: m[j, PRESS] - m[j, JAW])
            worst_press = min(worst_press, m[best, PRESS])
            worst_jaw = max(worst_jaw, m[best, JAW])
            n += 1
    assert n > 50
    assert worst_press > 0.9 and worst_jaw < 0.05, (worst_press, worst_jaw)


def test_open_vowels_open_the_jaw(sample):
    jaws = [m[int((p.start + p.end) / 2 * FPS), JAW] for u, m in sample for p in u.phonemes
            if units(p.symbol)[:1] == ["a"] and p.end - p.start > 0.08]
    assert len(jaws) > 10 and np.median(jaws) > 0.3


def test_silence_is_rest():
    u = Utterance(np.zeros(16000 * 2, np.float32), [Phone("a", 0.8, 1.0), Phone("m", 1.0, 1.1)],
                  "a", "en-us")
    mouth = mouth_trajectory(u.phonemes, 50, FPS)
    assert np.abs(mouth[:12]).max() < 0.01  # 0.00-0.48 s: far from speech
    assert np.abs(mouth[40:]).max() < 0.01  # 1.6-2.0 s
    m = speech_motion(u, fps=FPS, rng=np.random.default_rng(0))
    assert np.abs(m[:12, :6]).max() < 0.01


def test_leading_silence_of_real_utterance_is_rest(sample):
    for u, m in sample:
        first = int(u.phonemes[0].start * FPS) - 3  # frames well before the first phone
        if first > 0:
            assert np.abs(m[:first, :6]).max() < 0.05


def test_blink_rate_over_a_long_sequence():
    n = 25 * 600  # 10 minutes of silence
    u = Utterance(np.zeros(16000 * 600, np.float32), [], "", "en-us")
    for rate in (10.0, 24.0):
        m = speech_motion(u, n, FPS, SpeakingStyle(blink_rate=rate), np.random.default_rng(7))
        closed = m[:, MOTION_INDEX["blink_l"]] > 0.5
        onsets = np.count_nonzero(closed[1:] & ~closed[:-1])
        assert abs(onsets / 10.0 - rate) < 0.25 * rate, (rate, onsets / 10)
        # each blink is short: closed runs last at most ~4 frames
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, closed.astype(int), 0])))[::2]
        assert runs.max() <= 5


def test_head_motion_smooth_and_energy_driven(sample):
    u, m = max(sample, key=lambda x: len(x[1]))
    for f, limit in (("yaw", 1.0), ("pitch", 1.0), ("roll", 0.5), ("tx", 0.003), ("ty", 0.003), ("scale", 0.004)):
        assert np.abs(np.diff(m[:, MOTION_INDEX[f]])).max() < limit, f
    # more head motion while speaking than in silence (same style, same seed)
    silent = Utterance(np.zeros_like(u.wave), [], "", "en-us")
    st = SpeakingStyle(head_motion=1.0)
    head = [MOTION_INDEX[f] for f in ("yaw", "pitch", "roll")]
    spread = lambda m: np.abs(np.diff(m[:, head], axis=0)).mean()  # mean angular speed
    talk = [spread(speech_motion(u, fps=FPS, style=st, rng=np.random.default_rng(s))) for s in range(8)]
    quiet = [spread(speech_motion(silent, len(m), FPS, st, np.random.default_rng(s))) for s in range(8)]
    assert np.mean(talk) > 1.3 * np.mean(quiet), (np.mean(talk), np.mean(quiet))


def test_motion_deterministic(sample):
    u, _ = sample[1]
    a = speech_motion(u, fps=FPS, style=SpeakingStyle(expressiveness=0.9), rng=np.random.default_rng(5))
    b = speech_motion(u, fps=FPS, style=SpeakingStyle(expressiveness=0.9), rng=np.random.default_rng(5))
    assert np.array_equal(a, b)
