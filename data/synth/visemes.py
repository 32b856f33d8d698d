"""Visemes with coarticulation: phoneme timeline → smooth mouth trajectories at the video rate.

What it is
    Every IPA symbol espeak-ng emits for the supported languages is split into articulatory
    units (diphthongs into their vowels, affricates into stop + fricative, diacritics and length
    marks dropped) and each unit maps to a viseme class with a target over the six mouth fields
    and a per-field *dominance* (how strongly the unit imposes that field on its neighbours).

    Coarticulation follows Cohen & Massaro's dominance model: the trajectory of field f is the
    dominance-weighted average of all unit targets,

        v_f(t) = Σ_i D_if(t) T_if / Σ_i D_if(t),   D_if(t) = α_if · exp(-θ_i,dir · d_i(t)),

    where d_i(t) is the distance in seconds from t to unit i's interval (0 inside it: a flat top,
    our variation of their centre-peaked function) and θ differs before (anticipation) and after
    (carry-over) the unit. Rounded units anticipate slowly (small θ before), which gives the
    well-known anticipatory lip rounding; bilabial closures have a large α on lip_press and
    jaw_open, so /p b m/ close the lips (and the jaw) whatever their neighbours. Gaps between
    phones (pauses) are "rest" units, so silence returns the mouth to rest.

    The trajectory is evaluated at 1 kHz and each video frame t is the mean over the interval it
    covers, [t/fps, (t+1)/fps), so frames are exactly aligned with the audio. A bilabial unit is
    held closed for at least ``min_closure`` seconds (espeak's closures can be shorter than a
    frame), so every /p b m/ shows closed lips within one frame of its time in the audio.

Fields and ranges (the mouth part of MOTION_FIELDS; rest = all 0)
    jaw_open    0..1   0 closed teeth/jaw, 1 widest open vowel
    mouth_width -1..1  0 neutral, +1 spread (/i/), -1 narrowed/protruded (/u/)
    lip_round   0..1   lip rounding/protrusion (/u o w ʃ/)
    lip_press   0..1   lips pressed together (1 = bilabial closure)
    teeth       0..1   visible teeth / lower lip under the upper teeth (/f v s i/)
    tongue      0..1   tongue tip visible/raised (/θ ð l t d n/)

Sources
    M. M. Cohen & D. W. Massaro, "Modeling coarticulation in synthetic visual speech",
    in Models and Techniques in Computer Animation, Springer 1993, pp. 139-156.
    Viseme groupings after the MPEG-4 FBA viseme set (ISO/IEC 14496-2 Annex C) and the IPA chart;
    the target values are ours.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

MOUTH_FIELDS = ("jaw_open", "mouth_width", "lip_round", "lip_press", "teeth", "tongue")
INTERNAL_RATE = 1000  # Hz at which the dominance functions are evaluated
BILABIALS = frozenset("pbm")


@dataclass(frozen=True)
class Viseme:
    """A viseme class: target [6] over MOUTH_FIELDS, dominance α [6], decay rates (1/s)."""

    target: tuple  # (jaw_open, mouth_width, lip_round, lip_press, teeth, tongue)
    alpha: tuple  # per-field dominance strength
    theta_before: float = 40.0  # anticipatory decay rate, 1/s (smaller = starts earlier)
    theta_after: float = 50.0  # carry-over decay rate, 1/s


_V = 1.0  # vowel dominance
# name: Viseme(target (jaw, width, round, press, teeth, tongue), alpha (same order), θb, θa)
VISEMES: dict[str, Viseme] = {
    "rest": Viseme((0, 0, 0, 0, 0, 0), (3, 3, 3, 3, 3, 3), 30, 30),  # = neutral_motion()
    # vowels
    "open": Viseme((0.80, 0.15, 0.0, 0, 0.35, 0.1), (_V, _V, _V, 1, _V, _V)),
    "open_front": Viseme((0.65, 0.45, 0.0, 0, 0.5, 0.1), (_V, _V, _V, 1, _V, _V)),
    "open_round": Viseme((0.70, -0.25, 0.45, 0, 0.3, 0.0), (_V, _V, 1.5, 1, _V, _V), 25, 40),
    "mid": Viseme((0.45, 0.10, 0.0, 0, 0.3, 0.1), (0.7, 0.6, 0.6, 1, 0.6, 0.6)),
    "schwa": Viseme((0.30, 0.0, 0.0, 0, 0.25, 0.1), (0.4, 0.3, 0.3, 1, 0.3, 0.3)),
    "mid_front": Viseme((0.45, 0.45, 0.0, 0, 0.5, 0.1), (_V, _V, _V, 1, _V, _V)),
    "close_front": Viseme((0.30, 0.60, 0.0, 0, 0.6, 0.1), (_V, _V, _V, 1, _V, _V)),
    "high_front": Viseme((0.18, 0.80, 0.0, 0, 0.65, 0.1), (_V, 1.3, _V, 1, _V, _V)),
    "mid_round": Viseme((0.45, -0.45, 0.75, 0, 0.15, 0.0), (_V, 1.3, 1.6, 1, _V, _V), 20, 40),
    "close_round": Viseme((0.25, -0.80, 1.00, 0, 0.05, 0.0), (_V, 1.5, 2.0, 1, _V, _V), 15, 40),
    "front_round": Viseme((0.22, -0.60, 0.90, 0, 0.15, 0.0), (_V, 1.5, 2.0, 1, _V, _V), 15, 40),
    "rhotic_vowel": Viseme((0.30, -0.15, 0.35, 0, 0.2, 0.2), (0.8, 0.8, 1, 1, 0.8, 0.8)),
    # consonants
    "bilabial": Viseme((0.0, 0.0, 0.0, 1.0, 0.0, 0.0), (40, 0.2, 0.2, 60, 5, 5), 70, 90),
    "bilabial_approx": Viseme((0.08, 0.0, 0.1, 0.6, 0.0, 0.0), (3, 0.3, 0.3, 3, 1, 1), 50, 60),
    "labiodental": Viseme((0.08, 0.05, 0.0, 0.35, 0.95, 0.0), (4, 0.5, 0.5, 3, 6, 2), 50, 60),
    "labial_approx": Viseme((0.15, -0.75, 1.0, 0.0, 0.0, 0.0), (1, 2.5, 3, 1, 1, 1), 20, 40),
    "dental": Viseme((0.18, 0.15, 0.0, 0.0, 0.7, 1.0), (2, 0.4, 0.4, 1, 2, 5), 50, 60),
    "alveolar": Viseme((0.15, 0.15, 0.0, 0.0, 0.5, 0.55), (1.5, 0.3, 0.3, 1, 1, 1.5), 50, 60),
    "sibilant": Viseme((0.08, 0.25, 0.0, 0.0, 0.9, 0.15), (3, 0.5, 0.5, 1, 3, 1), 50, 60),
    "lateral": Viseme((0.30, 0.2, 0.0, 0.0, 0.4, 0.8), (1, 0.4, 0.4, 1, 1, 3), 50, 60),
    "rhotic": Viseme((0.22, -0.2, 0.35, 0.0, 0.3, 0.4), (0.8, 0.6, 1.2, 1, 0.6, 0.8), 35, 50),
    "postalveolar": Viseme((0.12, -0.35, 0.65, 0.0, 0.75, 0.2), (2, 1.2, 2, 1, 2, 1), 30, 50),
    "palatal": Viseme((0.15, 0.50, 0.0, 0.0, 0.5, 0.3), (1.2, 1, 0.5, 1, 1, 1), 50, 60),
    "velar": Viseme((0.28, 0.10, 0.0, 0.0, 0.3, 0.0), (0.5, 0.2, 0.2, 1, 0.3, 0.3), 50, 60),
    "glottal": Viseme((0.30, 0.05, 0.0, 0.0, 0.2, 0.0), (0.1, 0.1, 0.1, 1, 0.1, 0.1), 50, 60),
}

# IPA base letter → viseme class. Covers every unit espeak-ng 1.52 emits for LANGUAGES in
# voice.py (tests/unit/test_visemes.py checks that against real synthesis).
PHONE_CLASS: dict[str, str] = {}
for _cls, _chars in {
    "open": "aɑɐäɶ",
    "open_front": "æ",
    "open_round": "ɒ",
    "mid": "ʌɜɞ",
    "schwa": "əᵻɨɘ",
    "mid_front": "ɛ",
    "close_front": "eɪ",
    "high_front": "i",
    "mid_round": "oɔɵɤ",
    "close_round": "uʊɯ",
    "front_round": "yʏøœʉ",
    "rhotic_vowel": "ɚɝ",
    "bilabial": "pbm",
    "bilabial_approx": "βɸ",
    "labiodental": "fvʋɱ",
    "labial_approx": "wɥʍ",
    "dental": "θð",
    "alveolar": "tdnɾɗʈɖɳ",
    "sibilant": "szɕʑ",
    "lateral": "lɫɬɮɭ",
    "rhotic": "rɹɻʀʁɽ",
    "postalveolar": "ʃʒʂʐ",
    "palatal": "jcɟɲʎçʝ",
    "velar": "kgɡŋxɣχɰq",
    "glottal": "hɦʔ",
}.items():
    for _c in _chars:
        PHONE_CLASS[_c] = _cls
VOWEL_CLASSES = {"open", "open_front", "open_round", "mid", "schwa", "mid_front", "close_front",
                  "high_front", "mid_round", "close_round", "front_round", "rhotic_vowel"}
_STOPS = set("pbtdkgɡcɟq")
_MODIFIER_AS = {"ʲ": "j", "ʷ": "w"}  # secondary articulations emitted as separate symbols
_DROP = set("ːˑ'ˈˌ-_|‖.#=")
_REACH = 0.7  # s; exp(-15 * 0.7) ≈ 3e-5 for the slowest anticipation rate


def units(symbol: str) -> list[str]:
    """IPA phone symbol → articulatory units, e.g. "aɪ"→[a, ɪ], "tʃ"→[t, ʃ], "ɔ̃"→[ɔ], "ss"→[s]."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", symbol):
        if unicodedata.combining(ch) or ch in _DROP:
            continue
        ch = _MODIFIER_AS.get(ch, ch)
        if out and out[-1] == ch:  # geminates ("ss") are one unit
            continue
        out.append(ch)
    return out


def viseme_class(unit: str) -> str:
    """Viseme class of one unit; unknown letters fall back to a neutral class (documented)."""
    if unit in PHONE_CLASS:
        return PHONE_CLASS[unit]
    name = unicodedata.name(unit, "")
    # fallback: anything else is treated as a weakly dominant neutral vowel-like posture,
    # so an unexpected symbol never forces the mouth into an extreme shape.
    return "schwa" if "LETTER" in name else "glottal"


def is_covered(symbol: str) -> bool:
    """True if every unit of ``symbol`` is in the explicit table (no fallback used)."""
    us = units(symbol)
    return bool(us) and all(u in PHONE_CLASS for u in us)


def is_bilabial(symbol: str) -> bool:
    """/p b m/ (possibly long, palatalised, or the first part of an affricate like "pf")."""
    us = units(symbol)
    return bool(us) and us[0] in BILABIALS


@dataclass
class CoarticulationConfig:
    articulation_gain: float = 1.0  # scales jaw/width/round/teeth/tongue excursions from rest
    min_closure: float = 0.045  # s: bilabial closures last at least this long (≥ one 25 fps frame)
    closure_lead: float = 0.010  # s: bilabial closure starts this much before the phone's time
    silence_rest: float = 0.08  # s: pauses at least this long become rest units (shorter ones are
    #                             bridged by the previous unit)


def _segments(phones, cfg: CoarticulationConfig, end_time: float):
    """Phones → list of (start, end, viseme class) units, with rest units in gaps.

    A voiceless stop with a ``release`` (burst) time is split into its closure [start, release)
    and its release part [release, end), which takes the class of the following unit's lips only
    weakly (the glottal class) so the lips open at the burst."""
    segs = []
    t_prev = 0.0
    for ph in phones:
        gap = ph.start - t_prev
        if gap >= cfg.silence_rest or (not segs and gap > 1e-4):
            segs.append((t_prev, ph.start, "rest"))
        elif gap > 1e-4 and segs:  # short pause: neighbours interpolate across it
            s0, _, c0 = segs[-1]
            segs[-1] = (s0, ph.start, c0)
        us = units(ph.symbol) or ["ə"]
        release = getattr(ph, "release", None)
        if release is not None and ph.start < release < ph.end and len(us) == 1:
            segs.append((ph.start, release, viseme_class(us[0])))
            segs.append((release, ph.end, "glottal"))
            t_prev = max(t_prev, ph.end)
            continue
        dur = ph.end - ph.start
        if len(us) == 2 and us[0] in _STOPS and viseme_class(us[1]) not in VOWEL_CLASSES:
            shares = [0.4, 0.6]  # affricate: shorter stop part
        else:
            shares = [1.0 / len(us)] * len(us)
        t = ph.start
        for u, share in zip(us, shares):
            segs.append((t, t + share * dur, viseme_class(u)))
            t += share * dur
        t_prev = max(t_prev, ph.end)
    if end_time - t_prev > 1e-4:
        segs.append((t_prev, end_time, "rest"))
    return segs


def mouth_trajectory(phones, n_frames: int, fps: float = 25.0,
                     cfg: CoarticulationConfig | None = None) -> np.ndarray:
    """float32 [n_frames, 6] over MOUTH_FIELDS; frame t is the mean over [t/fps, (t+1)/fps)."""
    cfg = cfg or CoarticulationConfig()
    spf = int(round(INTERNAL_RATE / fps))  # internal samples per frame
    if abs(spf - INTERNAL_RATE / fps) > 1e-9:
        raise ValueError(f"fps {fps} must divide {INTERNAL_RATE}")
    n = n_frames * spf
    end_time = n / INTERNAL_RATE
    t = (np.arange(n) + 0.5) / INTERNAL_RATE  # [n] sample centres, s
    segs = _segments(phones, cfg, end_time)
    if not segs:
        segs = [(0.0, end_time, "rest")]

    # effective intervals: bilabial closures start a little early and last ≥ min_closure
    starts = np.array([s for s, _, _ in segs])
    ends = np.array([e for _, e, _ in segs])
    classes = [c for _, _, c in segs]
    bil = np.array([c == "bilabial" for c in classes])
    starts = np.where(bil, starts - cfg.closure_lead, starts)
    ends = np.where(bil, np.maximum(ends, starts + cfg.closure_lead + cfg.min_closure), ends)

    targets = np.array([VISEMES[c].target for c in classes], np.float64)  # [U, 6]
    alpha = np.array([VISEMES[c].alpha for c in classes], np.float64)  # [U, 6]
    th_b = np.array([VISEMES[c].theta_before for c in classes])  # [U]
    th_a = np.array([VISEMES[c].theta_after for c in classes])  # [U]

    # Evaluate in chunks with only the units near each chunk: memory stays bounded for long audio
    # (a unit's dominance is < 1e-4 of its peak beyond _REACH seconds).
    traj = np.empty((6, n))
    chunk = 2 * INTERNAL_RATE
    for c0 in range(0, n, chunk):
        tc = t[c0:c0 + chunk]  # [c]
        near = (ends > tc[0] - _REACH) & (starts < tc[-1] + _REACH)
        if not near.any():
            near = np.abs((starts + ends) / 2 - tc.mean()) == np.min(np.abs((starts + ends) / 2 - tc.mean()))
        before = np.clip(starts[near, None] - tc[None, :], 0, None)  # [u, c] s before the unit
        after = np.clip(tc[None, :] - ends[near, None], 0, None)  # [u, c] s after the unit
        decay = np.exp(-(th_b[near, None] * before + th_a[near, None] * after))  # [u, c]
        dom = alpha[near, :, None] * decay[:, None, :]  # [u, 6, c]
        traj[:, c0:c0 + chunk] = (dom * targets[near, :, None]).sum(0) / np.maximum(dom.sum(0), 1e-300)

    # inside a closure interval the lips are shut: the dominance average gets within a few %,
    # make it exact so the renderer shows contact
    for s, e in zip(starts[bil], ends[bil]):
        m = (t >= s) & (t < e)
        traj[3, m] = 1.0
        traj[0, m] = np.minimum(traj[0, m], 0.02)

    rest = np.array(VISEMES["rest"].target)[:, None]
    gain = np.array([cfg.articulation_gain, cfg.articulation_gain, cfg.articulation_gain, 1.0,
                     cfg.articulation_gain, cfg.articulation_gain])[:, None]
    traj = rest + gain * (traj - rest)
    lo = np.array([0, -1, 0, 0, 0, 0])[:, None]
    traj = np.clip(traj, lo, 1.0)
    frames = traj.reshape(6, n_frames, spf).mean(-1).T  # [n_frames, 6]
    return frames.astype(np.float32)
