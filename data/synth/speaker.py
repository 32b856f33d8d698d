"""Synthetic speakers: hidden factors → face identity, voice and speaking style.

Each speaker has six hidden factors (:data:`FACTOR_NAMES`), drawn independently except that
"size" leans with "gender":

=========  ==============  ===================================================================
factor     distribution    what it drives
=========  ==============  ===================================================================
gender     ±0.85 + N(0,.3) bimodal; jaw/brow/face width, facial hair, hair style; espeak variant
                           (m*/f*), pitch, formant warp
age        U(0, 1)         age cues, hair volume/style, lip fullness; slower rate, smaller
                           pitch range, duller spectrum, word gaps
size       N(0,1) + .4·g   face length/width, nose, mouth, ears, neck; lower pitch and formants
weight     N(0, 1)         cheek fullness, face/neck width, nose width; slight formant drop
energy     N(0, 1)         speaking style (expressiveness, head motion, articulation), faster
                           rate, wider pitch range; no face attribute
morph      N(0, 1)         craniofacial form: eye spacing/tilt/roundness, brow and mouth
                           height, nose length; the espeak variant (timbre) within the gender
=========  ==============  ===================================================================

Every face attribute and voice parameter is ``clip(a·factors + noise)`` with its own
per-speaker noise, so speech predicts some face attributes (face/jaw width, eye spacing, brows,
age cues, facial hair, hair style…) only partly and others not at all: iris colour, skin tone and
warmth, hair colour and part, brow tilt and the language are independent of the factors (the
table :data:`FACE_LOADINGS` lists the ties). ``evaluation/voice_face_baseline.py`` measures the
resulting learnability.

Why "morph" (added after the first standard corpus): with five factors, the face attributes that
dominate dlib's face descriptor (eye spacing and tilt, nose length, skin and hair tone; measured
by sweeping each attribute) were mostly independent of the voice, so even the speaker's exact
hidden factors located the true face among 10 only ~26 % of the time (ridge from factors to the
neutral face's dlib descriptor, 300 speakers: 26.2 % top-1 of 10) — below the 30 % that stage 1
is asked to reach. Tying the craniofacial geometry to a factor the voice carries (through the
espeak variant, i.e. the voice's timbre, as vocal-tract and skull shape go together in people)
raises that ceiling to 46.4 % without tying colours (skin, hair, iris) to speech. Both figures and
the attribute sweep: ``python benchmarks/corpus_face_tie.py`` (the 26.2 % with this file as of
commit 2cfc0c4).

Tie versions (:data:`TIES`, chosen per corpus by ``corpus generate --tie``): ``"v2"`` is the tie
described above (the second standard corpus; its bytes are unchanged). ``"v3"`` keeps the same
factors and loadings but makes the tie tighter and audible, for stage 1's retrieval bar
(issue 5): (1) the per-speaker noise of the geometry that dominates dlib's descriptor is halved
or more (:data:`FACE_NOISE_V3`), (2) ``morph`` is also heard continuously, as the position of a
resonance in the voice's spectrum (``VoiceParams.timbre``, a peaking EQ, :mod:`.voice`), besides
the espeak variant, and (3) ``weight`` is heard as a chest resonance (``VoiceParams.body``, a low shelf) and ``age`` as
breathiness (``VoiceParams.breath``, aspiration noise, -32 dB young .. -10 dB old), (4) facial hair
(men) grows more common with age (15 % → 85 %) instead of 50 % at any age, and (5) the voice's own
per-speaker noise (pitch, formant warp, tilt, variant choice) is halved. Colours (skin, hair, iris), the language and the recording channel stay
independent of the factors, as in v2. ``python benchmarks/corpus_face_tie.py --tie v3`` measures it.

Deterministic: :func:`make_speaker(seed, index)` depends only on its arguments (numpy
``default_rng([seed, index, tag])`` streams), never on process or order.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .behaviour import SpeakingStyle
from .face import FACIAL_HAIR, HAIR_STYLES, FaceIdentity
from .voice import FEMALE_VARIANTS, LANGUAGES, MALE_VARIANTS, VoiceParams

FACTOR_NAMES = ("gender", "age", "size", "weight", "energy", "morph")
TIES = ("v2", "v3")  # voice-face tie versions (module docstring)

# Face attribute = base + Σ loading·factor + N(0, noise), clipped to FaceIdentity.RANGES.
# (base, {factor: loading}, noise sd). Attributes missing here are drawn independently.
FACE_LOADINGS: dict[str, tuple[float, dict[str, float], float]] = {
    "face_width": (0.0, {"gender": 0.3, "size": 0.3, "weight": 0.35}, 0.25),
    "face_length": (0.0, {"size": 0.35, "gender": 0.15}, 0.4),
    "jaw_width": (0.0, {"gender": 0.5, "size": 0.2, "weight": 0.15}, 0.3),
    "jaw_square": (0.0, {"gender": 0.55}, 0.35),
    "chin_width": (0.0, {"gender": 0.4}, 0.4),
    "cheek_fullness": (0.0, {"weight": 0.55, "age": -0.4}, 0.3),
    "forehead_height": (-0.2, {"age": 0.5}, 0.45),
    "eye_size": (0.0, {"gender": -0.2, "age": -0.3}, 0.45),
    "eye_spacing": (0.0, {"morph": 0.6}, 0.15),
    "eye_tilt": (0.0, {"morph": -0.5}, 0.2),
    "eye_roundness": (0.0, {"morph": 0.4}, 0.3),
    "brow_thickness": (0.5, {"gender": 0.25, "age": -0.1}, 0.1),
    "brow_arch": (0.0, {"gender": -0.35}, 0.3),
    "brow_height": (0.0, {"gender": -0.25, "morph": 0.3}, 0.35),
    "nose_length": (-0.1, {"size": 0.3, "age": 0.4, "morph": 0.3}, 0.3),
    "nose_width": (0.0, {"gender": 0.25, "weight": 0.3}, 0.4),
    "nose_bridge": (0.0, {"gender": 0.25}, 0.5),
    "mouth_size": (0.0, {"size": 0.3}, 0.45),
    "mouth_height": (0.0, {"morph": -0.35}, 0.3),
    "lip_upper": (0.55, {"gender": -0.1, "age": -0.2}, 0.12),
    "lip_lower": (0.55, {"gender": -0.08, "age": -0.15}, 0.12),
    "lip_redness": (0.5, {"gender": -0.18}, 0.15),
    "blush": (0.3, {"gender": -0.1, "energy": 0.05}, 0.12),
    "hair_volume": (0.6, {"age": -0.35}, 0.2),
    "ear_size": (0.0, {"size": 0.3, "age": 0.35}, 0.45),
    "neck_width": (0.0, {"gender": 0.45, "weight": 0.35, "size": 0.2}, 0.3),
}
# v3: tighter per-speaker noise sd of the geometry dlib reacts to most (benchmarks/corpus_face_tie.py
# sweep: nose length, eye spacing/tilt, brow height/arch, eye size, face length lead); loadings as v2.
FACE_NOISE_V3: dict[str, float] = {
    "face_width": 0.12, "face_length": 0.15, "jaw_width": 0.15, "jaw_square": 0.2, "chin_width": 0.2,
    "eye_size": 0.15, "eye_spacing": 0.07, "eye_tilt": 0.08, "eye_roundness": 0.12, "brow_arch": 0.12,
    "brow_height": 0.12, "nose_length": 0.1, "nose_width": 0.2, "mouth_size": 0.2, "mouth_height": 0.12,
}
# v3: the voice's per-speaker noise is this fraction of v2's.
VOICE_NOISE_V3 = 0.5

# Hair style categories by gender (HAIR_STYLES order); "receding"/"bald" grow with age for men.
_HAIR_MALE = {"bald": 0.5, "buzz": 2.0, "short": 4.0, "fringe": 1.0, "long": 0.5, "curly": 1.0, "receding": 1.0}
_HAIR_FEMALE = {"short": 1.0, "fringe": 1.0, "long": 3.0, "long_fringe": 2.0, "curly": 1.5, "bob": 2.5}


@dataclasses.dataclass
class Speaker:
    """One synthetic person."""

    id: str  # "spk0007"
    index: int
    factors: np.ndarray  # float32 [len(FACTOR_NAMES)]
    identity: FaceIdentity
    voice: VoiceParams
    style: SpeakingStyle

    def factor_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(FACTOR_NAMES, self.factors)}

    def attributes(self) -> dict:
        """JSON-ready attributes stored with the speaker in the corpus index."""
        return {
            "factors": {k: round(v, 6) for k, v in self.factor_dict().items()},
            "identity": {f: round(float(getattr(self.identity, f)), 6) for f in FaceIdentity.FIELDS},
            "voice": self.voice.to_dict(),
            "style": {k: round(float(v), 6) for k, v in dataclasses.asdict(self.style).items()},
        }


def speaker_id(index: int) -> str:
    return f"spk{index:04d}"


def sample_factors(rng: np.random.Generator) -> np.ndarray:
    """Hidden factors float32 [5] in FACTOR_NAMES order."""
    g = (0.85 if rng.random() < 0.5 else -0.85) + rng.normal(0, 0.3)
    age = rng.uniform(0.0, 1.0)
    size = 0.4 * g + rng.normal(0, 0.9)
    weight = rng.normal(0, 1)
    energy = rng.normal(0, 1)
    morph = rng.normal(0, 1)
    return np.array([g, age, size, weight, energy, morph], np.float32)


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _category(rng: np.random.Generator, names: tuple[str, ...], name: str) -> float:
    """Encode a category as FaceIdentity does: uniform inside its bucket (away from edges)."""
    i = names.index(name)
    return float((i + rng.uniform(0.15, 0.85)) / len(names))


def face_from_factors(f: np.ndarray, rng: np.random.Generator, tie: str = "v2") -> FaceIdentity:
    fd = dict(zip(FACTOR_NAMES, (float(x) for x in f)))
    kw: dict[str, float] = {}
    for name in FaceIdentity.FIELDS:
        lo, hi = FaceIdentity.RANGES[name]
        if name in FACE_LOADINGS:
            base, load, sd = FACE_LOADINGS[name]
            if tie == "v3":
                sd = FACE_NOISE_V3.get(name, sd)
            v = base + sum(w * fd[k] for k, w in load.items()) + rng.normal(0, sd)
        elif lo < 0:
            v = rng.normal(0, 0.45)  # independent shape attribute
        else:
            v = rng.uniform(lo, hi)  # independent colour/position attribute
        kw[name] = float(np.clip(v, lo, hi))
    male = fd["gender"] > 0
    age = float(np.clip(fd["age"] + rng.normal(0, 0.06), 0.0, 1.0))
    kw["age"] = age
    # hair colour: independent of the voice; red hair is rare
    kw["hair_tone"] = float(rng.beta(1.2, 2.0))
    kw["hair_red"] = float(rng.uniform(0.3, 0.9)) if rng.random() < 0.12 else 0.0
    kw["skin_tone"] = float(rng.uniform(0.0, 1.0))
    kw["iris_hue"] = float(rng.uniform(0.0, 1.0))
    # hair style and facial hair: categorical, tied to gender (and age for men)
    hair_w = dict(_HAIR_MALE if male else _HAIR_FEMALE)
    if male:
        hair_w["receding"] += 4.0 * age
        hair_w["bald"] += 2.5 * age
    kw["hair_style"] = _category(rng, HAIR_STYLES, _pick(rng, hair_w))
    p_beard = 0.5 if tie == "v2" else 0.15 + 0.7 * age  # v3: facial hair grows more common with age
    if male and rng.random() < p_beard:
        kw["facial_hair"] = _category(rng, FACIAL_HAIR, _pick(rng, {"stubble": 2, "moustache": 1, "goatee": 1, "beard": 1.5}))
    else:
        kw["facial_hair"] = _category(rng, FACIAL_HAIR, "none")
    return FaceIdentity(**kw)


def voice_from_factors(f: np.ndarray, rng: np.random.Generator, tie: str = "v2") -> VoiceParams:
    g, age, size, weight, energy, morph = (float(x) for x in f)
    k = VOICE_NOISE_V3 if tie == "v3" else 1.0  # scale of the per-speaker voice noise
    r = rng.random()
    if r < 0.06 * k:
        variant = str(rng.choice(("klatt", "klatt2", "klatt3", "klatt4")))
    else:  # the espeak variant (timbre) follows the craniofacial form: its quantile picks the variant
        pool = MALE_VARIANTS if g > 0 else FEMALE_VARIANTS
        q = 0.5 * (1.0 + math.erf((morph + rng.normal(0, 0.3 * k)) / math.sqrt(2.0)))
        variant = pool[min(len(pool) - 1, int(q * len(pool)))]
    lang_p = np.array([0.3 if l == "en-us" else 0.1 if l == "en-gb" else 1.0 for l in LANGUAGES])
    lang_p[[i for i, l in enumerate(LANGUAGES) if l not in ("en-us", "en-gb")]] *= 0.6 / (len(LANGUAGES) - 2)
    v = VoiceParams(
        language=str(LANGUAGES[int(rng.choice(len(LANGUAGES), p=lang_p / lang_p.sum()))]),
        variant=variant,
        pitch=int(np.clip(round(50 - 8 * g - 9 * size + rng.normal(0, 6 * k)), 8, 92)),
        pitch_range=int(np.clip(round(50 + 12 * energy - 35 * (age - 0.5) + rng.normal(0, 7 * k)), 10, 95)),
        rate=int(np.clip(round(170 + 14 * energy - 70 * (age - 0.5) + rng.normal(0, 10 * k)), 110, 240)),
        word_gap=int(np.clip(round(4 * age + rng.normal(0, 0.6 * k)), 0, 5)),
        warp=float(np.clip(1.0 - 0.045 * size - 0.025 * g - 0.015 * weight + rng.normal(0, 0.012 * k), 0.86, 1.16)),
        tilt=float(np.clip(-0.6 * (age - 0.5) + 0.1 * energy + rng.normal(0, 0.15 * k), -0.8, 0.8)),
        noise_snr_db=float(rng.uniform(20, 45)) if rng.random() < 0.7 else None,  # channel: independent
        reverb=float(rng.uniform(0.0, 0.45)) if rng.random() < 0.6 else 0.0,
        loudness_db=float(rng.uniform(-24.0, -17.0)),
    )
    if tie == "v3":  # drawn last: v2 streams unchanged
        v.timbre = float(np.clip(morph + rng.normal(0, 0.15), -2.0, 2.0))  # morph heard as a resonance's position
        v.body = float(np.clip(3.0 * weight + rng.normal(0, 0.5), -8.0, 8.0))  # weight heard as chest resonance
        v.breath = float(np.clip(-32.0 + 22.0 * age + rng.normal(0, 2.0), -40.0, -5.0))  # age heard as breathiness
    return v


def style_from_factors(f: np.ndarray, rng: np.random.Generator) -> SpeakingStyle:
    """``behaviour.SpeakingStyle`` (ranges documented there): energy drives expressiveness,
    head motion, articulation and blink rate; age slows blinking and articulation."""
    g, age, size, weight, energy, _ = (float(x) for x in f)
    return SpeakingStyle(
        expressiveness=float(np.clip(0.5 + 0.15 * energy + rng.normal(0, 0.1), 0.05, 0.95)),
        head_motion=float(np.clip(0.5 + 0.15 * energy + rng.normal(0, 0.12), 0.1, 1.0)),
        blink_rate=float(np.clip(18 + 3 * energy - 4 * (age - 0.5) + rng.normal(0, 4), 6, 35)),
        articulation_gain=float(np.clip(1.0 + 0.1 * energy - 0.1 * (age - 0.5) + rng.normal(0, 0.08), 0.7, 1.3)),
        smile_bias=float(np.clip(0.1 + 0.08 * energy - 0.06 * g + rng.normal(0, 0.1), -0.2, 0.5)),
        gaze_aversion=float(np.clip(0.3 + rng.normal(0, 0.1), 0.05, 0.7)),
        head_tilt=float(np.clip(rng.normal(0, 2.5), -6, 6)),
        saccade_rate=float(np.clip(0.7 + rng.normal(0, 0.15), 0.3, 1.2)),
    )


def make_speaker(seed: int, index: int, tie: str = "v2") -> Speaker:
    """The ``index``-th speaker of corpus ``seed`` with voice-face tie ``tie`` (pure function of all three)."""
    if tie not in TIES:
        raise ValueError(f"tie {tie!r}: expected one of {TIES}")

    def stream(tag: int) -> np.random.Generator:
        return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index), 0x5EA4, tag])

    f = sample_factors(stream(0))
    return Speaker(
        id=speaker_id(index), index=index, factors=f, identity=face_from_factors(f, stream(1), tie),
        voice=voice_from_factors(f, stream(2), tie), style=style_from_factors(f, stream(3)),
    )
