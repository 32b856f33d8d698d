"""Synthetic voices: determinism, format, timings, rate/pitch control, languages, sentences."""

import numpy as np
import pytest

from see_the_speaker.data.synth import espeak, text
from see_the_speaker.data.synth.voice import LANGUAGES, VARIANTS, VoiceParams, synthesize

TEXT = "Bob bought a basket of plums at the market."


def _f0(wave, sr=16000, lo=60, hi=400):
    """Median autocorrelation F0 over voiced 40 ms frames (Hz)."""
    n = int(0.04 * sr)
    f0s = []
    for s in range(0, len(wave) - n, n):
        x = wave[s:s + n] - wave[s:s + n].mean()
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[n - 1:]
        lag = np.argmax(ac[sr // hi:sr // lo]) + sr // hi
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(sr / lag)
    return float(np.median(f0s))


def test_deterministic_bytes_and_timings():
    v = VoiceParams("en-us", "m3", pitch=40, rate=170, warp=1.07, tilt=0.3, noise_snr_db=25, reverb=0.3)
    a = synthesize(TEXT, v, seed=5)
    synthesize("Something else in between.", VoiceParams("de", "f2"), seed=1)  # disturb espeak state
    b = synthesize(TEXT, v, seed=5)
    assert a.wave.tobytes() == b.wave.tobytes()
    assert a.phonemes == b.phonemes
    c = synthesize(TEXT, v, seed=6)  # the seed changes the noise/reverb, not the speech timing
    assert c.wave.tobytes() != a.wave.tobytes()
    assert [p.symbol for p in c.phonemes] == [p.symbol for p in a.phonemes]


def test_klatt_deterministic():
    v = VoiceParams("en-us", "klatt3")
    assert synthesize(TEXT, v, 2).wave.tobytes() == synthesize(TEXT, v, 2).wave.tobytes()


def test_format_and_timings():
    u = synthesize(TEXT, VoiceParams("en-gb", "f3", reverb=0.5, noise_snr_db=20), seed=0)
    assert u.wave.dtype == np.float32 and u.wave.ndim == 1 and u.sample_rate == 16000
    assert np.abs(u.wave).max() <= 1.0 and np.abs(u.wave).max() > 0.05
    assert u.language == "en-gb" and u.text == TEXT
    starts = np.array([p.start for p in u.phonemes])
    ends = np.array([p.end for p in u.phonemes])
    assert len(u.phonemes) > 20
    assert np.all(ends > starts) and np.all(np.diff(starts) > 0)
    assert np.all(starts[1:] >= ends[:-1] - 1e-9)  # no overlap
    assert starts[0] >= 0 and ends[-1] <= u.duration + 1e-9
    assert all(p.symbol and "ˈ" not in p.symbol for p in u.phonemes)


def test_timings_follow_the_audio():
    """Voiceless stop closures are silent in espeak's output: the stop's start marks silence."""
    u = synthesize("I saw a papa happy.", VoiceParams("en-us", lead_silence=0.1), seed=0)
    w = u.wave
    for p in u.phonemes:
        if p.symbol == "p" and p.release is not None:
            a, r = int(p.start * 16000), int(p.release * 16000)
            closure = np.sqrt(np.mean(w[a + 16:r - 16] ** 2))
            before = np.sqrt(np.mean(w[max(a - 480, 0):a] ** 2))
            assert closure < 0.1 * before


def test_rate_changes_durations():
    slow = synthesize(TEXT, VoiceParams("en-us", rate=110), 0)
    fast = synthesize(TEXT, VoiceParams("en-us", rate=230), 0)
    span = lambda u: u.phonemes[-1].end - u.phonemes[0].start
    assert span(slow) > 1.5 * span(fast)


def test_warp_rescales_timings_exactly():
    base = synthesize(TEXT, VoiceParams("en-us", warp=1.0, lead_silence=0, tail_silence=0), 0)
    warped = synthesize(TEXT, VoiceParams("en-us", warp=1.2, lead_silence=0, tail_silence=0), 0)
    ratio = base.duration / warped.duration
    assert abs(ratio - 1.2) < 0.01
    for a, b in zip(base.phonemes, warped.phonemes):
        assert abs(a.start / ratio - b.start) < 2e-4


def test_pitch_parameter_changes_f0():
    low = _f0(synthesize("Mama made a lemon melon.", VoiceParams("en-us", "m1", pitch=15), 0).wave)
    high = _f0(synthesize("Mama made a lemon melon.", VoiceParams("en-us", "m1", pitch=85), 0).wave)
    assert high > 1.3 * low, (low, high)


@pytest.mark.parametrize("language", LANGUAGES)
def test_languages_speak_their_sentences(language):
    rng = np.random.default_rng(0)
    for i, s in enumerate(text.sentences(language, rng, 2)):
        u = synthesize(s, VoiceParams(language, VARIANTS[i % len(VARIANTS)]), seed=i)
        assert u.duration > 0.5 and len(u.phonemes) >= 5


def test_variants_differ():
    waves = {v: synthesize("Hello there.", VoiceParams("en-us", v), 0).wave for v in ("m1", "f2", "klatt")}
    assert len({w.tobytes() for w in waves.values()}) == 3


def test_sentences_deterministic_and_varied():
    for lang in text.TEXT_LANGUAGES:
        a = text.sentences(lang, np.random.default_rng(3), 20)
        b = text.sentences(lang, np.random.default_rng(3), 20)
        assert a == b and len(set(a)) >= 15
    assert text.text_language("en-us") == "en" and text.text_language("pt") == "pt"


def test_backends_agree_and_errors_are_clear():
    req = espeak.EspeakRequest("One two three.", "en-us+m2")
    assert espeak.run_espeak(req, "zygote").samples == espeak.run_espeak(req, "spawn").samples
    with pytest.raises(RuntimeError, match="no voice"):
        espeak.run_espeak(espeak.EspeakRequest("x", "xx-nonexistent"))
    espeak.run_espeak(req)  # still usable after an error


def _band_gain_db(x, y, lo, hi, sr=16000):
    """Power gain of y over x in dB within [lo, hi) Hz."""
    f = np.fft.rfftfreq(len(x), 1 / sr)
    band = (f >= lo) & (f < hi)
    px, py = (np.abs(np.fft.rfft(v))[band] ** 2 for v in (x, y))
    return 10 * np.log10(py.sum() / px.sum())


def test_timbre_and_body_filters_shape_the_spectrum():
    from see_the_speaker.data.synth.voice import _colour

    x = np.random.default_rng(0).standard_normal(32000).astype(np.float32)
    lo, hi = _colour(x, -2.0, None, 16000), _colour(x, 2.0, None, 16000)  # peaks at 900 Hz / 3.6 kHz
    assert _band_gain_db(x, lo, 800, 1000) > 7 and abs(_band_gain_db(x, lo, 3400, 3800)) < 2
    assert _band_gain_db(x, hi, 3400, 3800) > 7 and abs(_band_gain_db(x, hi, 800, 1000)) < 2
    up, down = _colour(x, None, 8.0, 16000), _colour(x, None, -8.0, 16000)
    assert _band_gain_db(x, up, 50, 150) > 6 and _band_gain_db(x, down, 50, 150) < -6
    assert abs(_band_gain_db(x, up, 3000, 6000)) < 0.5
    assert _colour(x, None, None, 16000) is x  # both knobs off: untouched


def test_breath_adds_high_band_noise_at_its_level():
    from see_the_speaker.data.synth.voice import _breath

    u = synthesize(TEXT, VoiceParams("en-us", "m1"), seed=0).wave
    rng = np.random.default_rng(1)
    assert _breath(u, None, 16000, rng) is u
    quiet, loud = (_breath(u, db, 16000, np.random.default_rng(1)) for db in (-35.0, -10.0))
    added = [10 * np.log10(np.mean((y - u) ** 2) / np.mean(u ** 2)) for y in (quiet, loud)]
    assert abs(added[0] + 35) < 0.5 and abs(added[1] + 10) < 0.5  # the noise sits at the level asked for
    assert _band_gain_db(u, loud, 4000, 7000) > 3  # and lives in the upper band


def test_voice_knobs_off_keep_the_old_dict_and_bytes():
    v = VoiceParams("en-us", "m3", pitch=40)
    assert not {"timbre", "body", "breath"} & set(v.to_dict())  # v2 corpora's metadata is unchanged
    w = VoiceParams("en-us", "m3", pitch=40, timbre=0.5, body=2.0, breath=-25.0)
    assert {"timbre", "body", "breath"} <= set(w.to_dict())
    a, b = synthesize(TEXT, v, seed=3).wave, synthesize(TEXT, w, seed=3).wave
    assert a.shape == b.shape and a.tobytes() != b.tobytes()
