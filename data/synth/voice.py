"""Synthetic voices: espeak-ng speech with exact phoneme timings, varied at the signal level.

What it is
    ``synthesize(text, voice, seed) -> Utterance``: 16 kHz mono float32 speech plus the phoneme
    timeline (IPA symbols, start/end seconds in the returned wave). The voice is an espeak-ng
    language voice with a variant (m1..m7, f1..f5, klatt.., ...), pitch, pitch range and rate
    (:mod:`.espeak`), followed by signal-level variation so that voices differ beyond espeak's
    presets:

    1. speed/formant warp + resampling to 16 kHz in one polyphase step: the 22.05 kHz wave is
       read as if sampled at ``22050 * warp`` Hz and resampled (``scipy.signal.resample_poly``).
       ``warp > 1`` raises formants and pitch together and shortens the utterance (a "smaller
       vocal tract"); phoneme times are mapped through the same rational ratio, so they stay
       exact;
    2. spectral tilt: a complementary one-pole low/high split recombined with a high-shelf gain
       (±12 dB at the top of the band for tilt = ±1); then, when ``timbre`` is set, a resonance:
       a +9 dB peaking biquad (Q 1.4) whose centre moves continuously with ``timbre`` from
       0.9 to 3.6 kHz (the upper formant region that vocal-tract shape colours), and when
       ``body`` is set a low shelf (±8 dB below ~350 Hz, the chest register's weight); when
       ``breath`` is set, breathiness: noise above 2 kHz shaped by the speech envelope, at
       ``breath`` dB re the speech (aspiration noise, as in aged or breathy voices);
    3. light room reverb: a synthetic impulse response, Gaussian noise under an exponential
       decay with the chosen RT60 (Schroeder's statistical model of late reverberation);
    4. additive noise (white/pink mix) at a given SNR against the active-speech power;
    5. loudness normalisation of the active speech RMS, with a peak guard (no clipping).

    The direct sound keeps zero delay at every step, so the timings remain those of the audio.
    Everything random comes from ``numpy.random.default_rng([seed, crc32(text)])``, and espeak's
    own noise generator is seeded with ``seed``: same (text, voice, seed) → identical bytes.

Sources
    espeak-ng (Dunn, Vitolins et al.; GPL-3 library, used unmodified via its C API).
    M. R. Schroeder, "New method of measuring reverberation time", JASA 1965 (exponential decay).
    Polyphase resampling: Crochiere & Rabiner, "Multirate Digital Signal Processing", 1983.
    Peaking biquad: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients".
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, asdict
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal

from .espeak import EspeakRequest, run_espeak

SAMPLE_RATE = 16000

# Languages verified to synthesise with phoneme events (see tests/unit/test_voice.py), with the
# text language code used by :mod:`.text`.
LANGUAGES = ("en-us", "en-gb", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "cs", "fi")
# espeak-ng variants (files in espeak-ng-data/voices/!v) that sound like distinct speakers.
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
OTHER_VARIANTS = ("klatt", "klatt2", "klatt3", "klatt4", "") # "" = the language's default voice
VARIANTS = MALE_VARIANTS + FEMALE_VARIANTS + OTHER_VARIANTS

# language code → espeak-ng voice file name where they differ (espeak's "en" is British English)
_ESPEAK_NAME = {"en-gb": "en"}
_STRESS = {"ˈ": 2, "ˌ": 1}
_DROP = str.maketrans("", "", "ˈˌ-'#=")


@dataclass
class VoiceParams:
    """One voice: espeak settings, then signal-level variation (all deterministic)."""

    language: str = "en-us"  # espeak language voice, one of LANGUAGES (others may work)
    variant: str = ""  # espeak variant: m1..m7, f1..f5, klatt..klatt4, or "" for the default
    pitch: int = 50  # espeak base pitch 0..99
    pitch_range: int = 50  # espeak intonation range 0..99 (0 = monotone)
    rate: int = 160  # espeak speed, words per minute, 80..450
    word_gap: int = 0  # extra pause between words, units of 10 ms, 0..10
    warp: float = 1.0  # formant/speed factor 0.8..1.25: >1 raises formants+pitch, shortens
    tilt: float = 0.0  # spectral tilt -1 (dull) .. 1 (bright), ±12 dB high shelf
    timbre: float | None = None  # resonance position -2 .. 2: a +9 dB peak at 1.8 kHz · 2^(0.5·timbre) (None = off)
    body: float | None = None  # low-shelf gain below ~350 Hz in dB, -8 .. 8 (chest resonance; None = off)
    breath: float | None = None  # aspiration noise riding on the speech, dB re its RMS, -40 .. -5 (None = off)
    noise_snr_db: float | None = None  # additive noise SNR in dB (None = clean), e.g. 15..40
    reverb: float = 0.0  # room reverb amount 0..1 (RT60 0.15..0.6 s, wet level rises with it)
    loudness_db: float = -20.0  # target RMS of active speech, dBFS
    lead_silence: float = 0.10  # seconds of silence added before the speech
    tail_silence: float = 0.15  # seconds of silence added after the speech

    @property
    def espeak_voice(self) -> str:
        name = _ESPEAK_NAME.get(self.language.lower(), self.language)
        return f"{name}+{self.variant}" if self.variant else name

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("timbre", "body", "breath"):  # voices without these knobs keep the fields they always had
            if d[k] is None:
                del d[k]
        return d


@dataclass
class Phone:
    """One phoneme of the audio: IPA symbol without stress marks, times in seconds."""

    symbol: str
    start: float
    end: float
    stress: int = 0  # 2 primary, 1 secondary, 0 unstressed (from espeak's ˈ/ˌ marks)
    release: float | None = None  # voiceless stops: burst time (end of the closure), seconds


@dataclass
class Utterance:
    wave: np.ndarray  # float32 [N] at 16 kHz mono, in [-1, 1]
    phonemes: list[Phone]  # in time order, non-overlapping, inside [0, N / 16000]
    text: str
    language: str
    sample_rate: int = SAMPLE_RATE
    voice: VoiceParams | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        return len(self.wave) / self.sample_rate


def split_symbol(raw: str) -> tuple[str, int]:
    """espeak's IPA event name → (bare IPA symbol, stress level)."""
    stress = max((_STRESS.get(c, 0) for c in raw), default=0)
    return raw.translate(_DROP), stress


@lru_cache(maxsize=64)
def _ratio(src_rate: int, warp: float) -> tuple[int, int]:
    """Resampling ratio up/down ≈ 16000 / (src_rate * warp), small enough for resample_poly."""
    r = Fraction(SAMPLE_RATE, 1) / Fraction(src_rate) / Fraction(warp).limit_denominator(400)
    r = r.limit_denominator(600)
    return r.numerator, r.denominator


_VOICELESS_STOPS = set("ptkcqʈ")


def _closure_onset(src: np.ndarray, burst: int, earliest: int, rate: int) -> int:
    """Start of the quiet closure that ends at ``burst`` (source samples), scanning back in 1 ms
    blocks while the signal stays near the closure's own level (its last 10 ms, +12 dB, at most
    -26 dB re the utterance peak); never before ``earliest``. A closure longer than 100 ms (a
    pause before the stop) is cut to a typical 60 ms."""
    blk = max(1, rate // 1000)
    if burst < 10 * blk:
        return burst
    peak = float(np.max(np.abs(src))) if len(src) else 1.0
    floor = float(np.max(np.abs(src[burst - 10 * blk:burst].astype(np.float64))))
    quiet = max(8.0, min(0.05 * peak, 4.0 * floor))
    pos = burst
    while pos - blk >= max(earliest, 0) and np.max(np.abs(src[pos - blk:pos])) <= quiet:
        pos -= blk
        if burst - pos > 0.1 * rate:
            return burst - int(0.06 * rate)
    return pos


def _timeline(events: list, end_sample: int, src: np.ndarray, rate: int, scale: float,
              offset: float) -> list[Phone]:
    """Phoneme events (symbol, source sample) → Phones in output seconds.

    A phone lasts until the next event (a pause event "" ends it too); "(xx)" language-switch
    markers are dropped. ``t_out = offset + sample * scale``.

    espeak reports a voiceless stop (/p t k/...) at its *burst*: the silent closure before it is
    counted in the previous phone. We move the stop's start back to the closure onset found in
    the wave (the previous phone ends there) and keep the burst as ``Phone.release``, so lip
    closure for /p/ lines up with the silence in the audio (measured: closures of 45-60 ms).
    """
    ev = [(s, int(p)) for s, p in events if not (s.startswith("(") and s.endswith(")"))]
    raw_phones = []  # [symbol, stress, start, end, release] in source samples
    prev_end = 0
    for i, (raw, pos) in enumerate(ev):
        sym, stress = split_symbol(raw)
        nxt = ev[i + 1][1] if i + 1 < len(ev) else end_sample
        if not sym:
            prev_end = max(prev_end, pos)
            continue
        if nxt <= pos:
            continue
        start, release = pos, None
        if sym[0] in _VOICELESS_STOPS:
            earliest = prev_end
            if raw_phones and raw_phones[-1][3] == pos:  # directly after a phone: keep 20 ms of it
                earliest = raw_phones[-1][2] + int(0.02 * rate)
            start = min(_closure_onset(src, pos, earliest, rate), pos)
            release = pos
            if raw_phones and raw_phones[-1][3] > start:
                raw_phones[-1][3] = start
        raw_phones.append([sym, stress, start, nxt, release])
        prev_end = nxt
    return [Phone(sym, offset + a * scale, offset + b * scale, stress,
                  None if r is None else offset + r * scale)
            for sym, stress, a, b, r in raw_phones if b > a]


def _active_mask(x: np.ndarray, rate: int, floor_db: float = -35.0) -> np.ndarray:
    """Samples inside 10 ms blocks whose RMS is within floor_db of the loudest block."""
    hop = rate // 100
    n = len(x) // hop
    if n == 0:
        return np.ones(len(x), bool)
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    act = 20 * np.log10(rms / rms.max()) > floor_db
    mask = np.zeros(len(x), bool)
    mask[: n * hop] = np.repeat(act, hop)
    return mask


def _tilt(x: np.ndarray, tilt: float, rate: int, corner_hz: float = 1200.0) -> np.ndarray:
    if abs(tilt) < 1e-6:
        return x
    a = float(np.exp(-2 * np.pi * corner_hz / rate))
    low = signal.lfilter([1 - a], [1, -a], x)
    gain = 10 ** (12.0 * tilt / 20)
    return (low + gain * (x - low)).astype(np.float32)


def _biquad(x: np.ndarray, kind: str, f0: float, gain_db: float, rate: int, q: float = 0.7071) -> np.ndarray:
    """RBJ cookbook biquad: kind "peak" (peaking EQ, quality q) or "lowshelf" (slope 1)."""
    amp, w0 = 10 ** (gain_db / 40), 2 * np.pi * f0 / rate
    cw, sw = np.cos(w0), np.sin(w0)
    if kind == "peak":
        alpha = sw / (2 * q)
        b = np.array([1 + alpha * amp, -2 * cw, 1 - alpha * amp])
        a = np.array([1 + alpha / amp, -2 * cw, 1 - alpha / amp])
    elif kind == "lowshelf":
        alpha, sa = sw / np.sqrt(2.0), 2 * np.sqrt(amp) * sw / np.sqrt(2.0)
        b = amp * np.array([(amp + 1) - (amp - 1) * cw + sa, 2 * ((amp - 1) - (amp + 1) * cw), (amp + 1) - (amp - 1) * cw - sa])
        a = np.array([(amp + 1) + (amp - 1) * cw + sa, -2 * ((amp - 1) + (amp + 1) * cw), (amp + 1) + (amp - 1) * cw - sa])
    else:
        raise ValueError(f"biquad kind {kind!r}")
    return signal.lfilter(b / a[0], a / a[0], x).astype(np.float32)


def _colour(x: np.ndarray, timbre: float | None, body: float | None, rate: int) -> np.ndarray:
    """The voice knobs beyond espeak: a +9 dB resonance at 1.8 kHz · 2^(0.5·timbre) (Q 1.4) and a
    low shelf of ``body`` dB at 350 Hz; None leaves a knob off."""
    if timbre is not None:
        x = _biquad(x, "peak", 1800.0 * 2.0 ** (0.5 * float(np.clip(timbre, -2.0, 2.0))), 9.0, rate, q=1.4)
    if body is not None:
        x = _biquad(x, "lowshelf", 350.0, float(np.clip(body, -8.0, 8.0)), rate)
    return x


def _breath(x: np.ndarray, level_db: float | None, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Aspiration: white noise high-passed at 2 kHz, times the speech envelope (30 Hz low-pass of
    |x|), at level_db re the speech RMS; None leaves x as is (and draws nothing from rng)."""
    if level_db is None or not len(x):
        return x
    hb, ha = signal.butter(2, 2000, "highpass", fs=rate)
    lb, la = signal.butter(1, 30, "lowpass", fs=rate)
    env = signal.lfilter(lb, la, np.abs(x))
    n = signal.lfilter(hb, ha, rng.standard_normal(len(x))) * env
    gain = np.sqrt(np.mean(x ** 2) / (np.mean(n ** 2) + 1e-12)) * 10 ** (float(np.clip(level_db, -40, -5)) / 20)
    return (x + gain * n).astype(np.float32)


def _reverb(x: np.ndarray, amount: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    if amount <= 0:
        return x
    rt60 = 0.15 + 0.45 * amount
    n = int(rt60 * rate)
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
    tail[: int(0.004 * rate)] = 0  # first reflections arrive after ~4 ms
    tail /= np.sqrt(np.sum(tail**2)) + 1e-12
    wet = signal.oaconvolve(x, tail)[: len(x)]
    return (x + 0.6 * amount * wet).astype(np.float32)


def _noise(x: np.ndarray, snr_db: float, active: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(len(x))
    pole = rng.uniform(0.0, 0.97)  # 0 = white .. 0.97 ≈ pinkish/brown
    coloured = signal.lfilter([1.0], [1.0, -pole], white)
    p_sig = np.mean(x[active] ** 2) if active.any() else np.mean(x**2)
    coloured *= np.sqrt(p_sig / (np.mean(coloured**2) + 1e-12) / 10 ** (snr_db / 10))
    return (x + coloured).astype(np.float32)


def synthesize(text: str, voice: VoiceParams | None = None, seed: int = 0, *,
               backend: str | None = None) -> Utterance:
    """Speak ``text`` with ``voice``; deterministic in (text, voice, seed).

    Returns an :class:`Utterance` whose wave is float32 [N] at 16 kHz in [-1, 1] and whose phone
    times (seconds) refer to that wave. ``backend`` selects how espeak runs (see :mod:`.espeak`).
    """
    voice = voice or VoiceParams()
    if not 0.5 <= voice.warp <= 2.0:
        raise ValueError(f"warp {voice.warp} outside 0.5..2")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(text.encode("utf-8"))])
    res = run_espeak(EspeakRequest(text=text, voice=voice.espeak_voice, rate=int(voice.rate),
                                   pitch=int(voice.pitch), pitch_range=int(voice.pitch_range),
                                   word_gap=int(voice.word_gap), rand_seed=int(seed) + 1), backend)
    src = np.frombuffer(res.samples, dtype="<i2").astype(np.float32) / 32768.0  # [M] at 22.05 kHz

    # 1. warp + resample in one polyphase step; sample k of src lands at k * up / down.
    up, down = _ratio(res.sample_rate, float(voice.warp))
    x = signal.resample_poly(src, up, down).astype(np.float32) if len(src) else src
    lead = int(round(voice.lead_silence * SAMPLE_RATE))
    tail = int(round(voice.tail_silence * SAMPLE_RATE))
    x = np.concatenate([np.zeros(lead, np.float32), x, np.zeros(tail, np.float32)])
    src_i16 = np.frombuffer(res.samples, dtype="<i2")
    phones = _timeline(res.phonemes, min(res.end_sample, len(src)), src_i16, res.sample_rate,
                       up / down / SAMPLE_RATE, lead / SAMPLE_RATE)

    # 2.-4. colour, room, noise
    x = _tilt(x, float(voice.tilt), SAMPLE_RATE)
    x = _colour(x, voice.timbre, voice.body, SAMPLE_RATE)
    x = _breath(x, voice.breath, SAMPLE_RATE, rng)
    x = _reverb(x, float(voice.reverb), SAMPLE_RATE, rng)
    active = _active_mask(x, SAMPLE_RATE)
    if voice.noise_snr_db is not None:
        x = _noise(x, float(voice.noise_snr_db), active, rng)

    # 5. loudness of the active speech, then a peak guard
    if len(x) and np.any(x):
        rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else float(np.sqrt(np.mean(x**2)))
        x = x * (10 ** (voice.loudness_db / 20) / max(rms, 1e-9))
        peak = float(np.max(np.abs(x)))
        if peak > 0.99:
            x = x * (0.99 / peak)
    x = np.clip(x, -1.0, 1.0).astype(np.float32)
    return Utterance(wave=x, phonemes=phones, text=text, language=voice.language, voice=voice)


def random_voice(rng: np.random.Generator, language: str | None = None) -> VoiceParams:
    """A uniformly varied voice (for tests and benchmarks; speaker.py ties voices to faces)."""
    return VoiceParams(
        language=language or str(rng.choice(LANGUAGES)),
        variant=str(rng.choice(VARIANTS)),
        pitch=int(rng.integers(20, 80)),
        pitch_range=int(rng.integers(20, 90)),
        rate=int(rng.integers(120, 220)),
        warp=float(rng.uniform(0.88, 1.14)),
        tilt=float(rng.uniform(-0.6, 0.6)),
        noise_snr_db=float(rng.uniform(18, 45)) if rng.random() < 0.7 else None,
        reverb=float(rng.uniform(0, 0.5)) if rng.random() < 0.6 else 0.0,
    )
