"""Speech-driven facial behaviour: visemes + blinks, gaze, brows, smile and head pose per frame.

What it is
    ``speech_motion(utterance, n_frames, fps, style, rng) -> float32 [n_frames, len(MOTION_FIELDS)]``
    combines the coarticulated mouth (:mod:`.visemes`, exactly aligned with the audio) with
    stochastic non-verbal behaviour whose statistics follow the literature and whose amplitude is
    partly tied to the speech:

    * blinks: a renewal process, exponential intervals after a refractory period (so the rate is
      ``blink_rate`` per minute; spontaneous rates are ~10-20/min while talking), each blink a
      fast close (~45 ms), short hold and slower reopening (~80 ms): 100-180 ms in all;
    * gaze: fixations separated by saccades (Poisson, ~0.7/s) that mostly return to the camera,
      with occasional aversions (more while speaking), plus slow fixational drift;
    * brows: raises tied to pitch accents (espeak's primary-stressed vowels) scaled by the local
      speech energy and the speaker's expressiveness;
    * smile: a slow Ornstein-Uhlenbeck state around a per-speaker bias;
    * head pose: zero-phase low-pass (≈0.2-0.8 Hz) noise per axis whose amplitude rises with the
      smoothed speech energy, small nods on accents, and a habitual tilt.

    Everything random comes from the ``rng`` argument. Frame t covers [t/fps, (t+1)/fps): fast
    events (blinks, saccades) are built on a 1 kHz grid and averaged over each frame.

Sources
    Cohen & Massaro 1993 (coarticulation, see visemes.py). Blinks: Bentivoglio et al., "Analysis
    of blink rate patterns in normal subjects", Movement Disorders 12(6), 1997 (rate while
    talking ~26/min, at rest ~17/min); VanderWerf et al., "Eyelid movements: behavioral studies
    of blinking in humans under different stimulus conditions", J Neurophysiol 89, 2003 (blink
    kinematics). Head motion and prosody: Munhall et al., "Visual prosody and speech
    intelligibility: head movement improves auditory speech perception", Psychol. Sci. 15, 2004;
    Graf et al., "Visual prosody: facial movements accompanying speech", IEEE FG 2002 (brow
    raises and nods on pitch accents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from .face import MOTION_FIELDS, MOTION_INDEX, clip_motion, neutral_motion
from .visemes import (MOUTH_FIELDS, VOWEL_CLASSES, CoarticulationConfig, mouth_trajectory, units,
                      viseme_class)

_FINE = 1000  # Hz, grid for blinks and saccades


@dataclass
class SpeakingStyle:
    """Per-speaker habits (the speaker sampler ties them to hidden factors)."""

    expressiveness: float = 0.5  # 0..1: brow raises, smile variation, nods
    head_motion: float = 0.5  # 0..1: head pose amplitude (1 ≈ ±8° yaw while speaking)
    blink_rate: float = 18.0  # blinks per minute, 6..40
    blink_refractory: float = 0.6  # s, minimum time between blinks
    articulation_gain: float = 1.0  # 0.6..1.4: mouth excursion from rest (jaw, width, rounding)
    smile_bias: float = 0.1  # -0.3..0.6: resting smile
    gaze_aversion: float = 0.3  # 0..1: how often/far the gaze leaves the camera while speaking
    head_tilt: float = 0.0  # degrees of habitual roll, -6..6
    saccade_rate: float = 0.7  # saccades per second


def _child(rng: np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(0, 2**63 - 1)))


def _frame_mean(x: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """[n_frames * spf] fine samples → [n_frames] frame means."""
    spf = int(round(_FINE / fps))
    return x[: n_frames * spf].reshape(n_frames, spf).mean(1)


def energy_envelope(wave: np.ndarray, sample_rate: int, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Per-frame speech energy in 0..1 (1 = loudest frame, 0 = 40 dB below it or under -75 dBFS). [n_frames]"""
    hop = sample_rate / fps
    out = np.zeros(n_frames, np.float32)
    if len(wave) == 0:
        return out
    edges = np.minimum((np.arange(n_frames + 1) * hop).round().astype(int), len(wave))
    sq = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    cnt = np.maximum(np.diff(edges), 1)
    rms = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / cnt)
    db = 20 * np.log10(rms + 1e-9)
    top = float(db.max())
    if top < -70.0:  # digital silence
        return out
    floor = max(top - 40.0, -75.0)
    return np.clip((db - floor) / (top - floor), 0, 1).astype(np.float32)


def _smooth_noise(n: int, fps: float, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-phase low-passed Gaussian noise with unit std, [n]."""
    pad = int(3 * fps / cutoff_hz)
    w = rng.standard_normal(n + 2 * pad)
    sos = signal.butter(2, cutoff_hz / (fps / 2), output="sos")
    y = signal.sosfiltfilt(sos, w)
    return y[pad: pad + n] / (np.std(y) + 1e-9)


def blinks(n_frames: int, fps: float, style: SpeakingStyle, rng: np.random.Generator) -> np.ndarray:
    """Eye closure [n_frames, 2] (image-left, image-right) in 0..1."""
    n = n_frames * int(round(_FINE / fps))
    dur = n / _FINE
    closure = np.zeros((2, n))
    mean_gap = max(60.0 / max(style.blink_rate, 1e-3) - style.blink_refractory, 0.05)
    t = rng.uniform(0, mean_gap + style.blink_refractory)  # phase of the first blink
    while t < dur:
        close, hold, reopen = rng.uniform(0.035, 0.055), rng.uniform(0.01, 0.04), rng.uniform(0.06, 0.1)
        depth = rng.uniform(0.9, 1.0)
        for eye in range(2):
            t0 = t + (rng.uniform(0, 0.004) if eye else 0.0)  # eyes within a few ms
            tt = np.arange(max(int(t0 * _FINE), 0), min(int((t0 + close + hold + reopen) * _FINE) + 1, n))
            s = tt / _FINE - t0
            shape = np.where(s < close, 0.5 - 0.5 * np.cos(np.pi * np.clip(s / close, 0, 1)),
                             np.where(s < close + hold, 1.0,
                                      0.5 + 0.5 * np.cos(np.pi * np.clip((s - close - hold) / reopen, 0, 1))))
            closure[eye, tt] = np.maximum(closure[eye, tt], depth * shape * rng.uniform(0.95, 1.0))
        t += style.blink_refractory + rng.exponential(mean_gap)
    return np.stack([_frame_mean(closure[e], n_frames, fps) for e in range(2)], 1).astype(np.float32)


def gaze(n_frames: int, fps: float, style: SpeakingStyle, speaking: np.ndarray,
         rng: np.random.Generator) -> np.ndarray:
    """Gaze [n_frames, 2] (x, y) in -1..1: fixations, saccades (~40 ms), drift."""
    spf = int(round(_FINE / fps))
    n = n_frames * spf
    g = np.zeros((2, n))
    pos = np.zeros(2)
    t = 0
    while t < n:
        nxt = t + max(int(rng.exponential(1.0 / max(style.saccade_rate, 1e-3)) * _FINE), 150)
        g[:, t:nxt] = pos[:, None]
        # next fixation: back to the camera, or an aversion (more likely while speaking)
        frame = min(nxt // spf, n_frames - 1)
        p_avert = style.gaze_aversion * (0.3 + 0.7 * float(speaking[frame]))
        if rng.random() < p_avert:
            pos = np.array([rng.normal(0, 0.45), rng.normal(-0.05, 0.25)])
        else:
            pos = rng.normal(0, 0.06, 2)
        pos = np.clip(pos, -0.9, 0.9)
        t = nxt
    # saccade dynamics: ~40 ms smooth transitions
    k = np.hanning(int(0.04 * _FINE) + 2)[1:-1]
    k /= k.sum()
    g = np.stack([np.convolve(np.pad(c, (len(k), len(k)), mode="edge"), k, "same")[len(k):-len(k)] for c in g])
    out = np.stack([_frame_mean(g[i], n_frames, fps) for i in range(2)], 1)
    out += 0.02 * np.stack([_smooth_noise(n_frames, fps, 0.5, rng) for _ in range(2)], 1)  # drift
    return np.clip(out, -1, 1).astype(np.float32)


def _accents(phones, energy: np.ndarray, fps: float) -> list[tuple[float, float]]:
    """(time s, strength 0..1) of pitch accents: primary-stressed vowels, by local energy."""
    out = []
    for ph in phones:
        us = units(ph.symbol)
        if ph.stress == 2 and us and viseme_class(us[0]) in VOWEL_CLASSES:
            f = min(int((ph.start + ph.end) / 2 * fps), len(energy) - 1)
            out.append((ph.start, float(energy[max(f, 0)])))
    return out


def _pulse(n_frames: int, fps: float, t0: float, width: float) -> np.ndarray:
    """Raised-cosine bump [n_frames] starting at t0 (s), lasting width (s)."""
    t = (np.arange(n_frames) + 0.5) / fps
    s = np.clip((t - t0) / width, 0, 1)
    return np.where((t >= t0) & (t <= t0 + width), 0.5 - 0.5 * np.cos(2 * np.pi * s), 0.0)


def brows_and_nods(phones, energy: np.ndarray, fps: float, style: SpeakingStyle,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Brow raise [n_frames] in -1..1 and head-nod pitch offset [n_frames] in degrees."""
    n_frames = len(energy)
    brow = 0.08 * style.expressiveness * _smooth_noise(n_frames, fps, 0.3, rng)
    nod = np.zeros(n_frames)
    for t, strength in _accents(phones, energy, fps):
        if rng.random() < 0.2 + 0.5 * style.expressiveness:
            amp = style.expressiveness * (0.3 + 0.7 * strength) * rng.uniform(0.4, 0.9)
            brow += amp * _pulse(n_frames, fps, t - 0.1, rng.uniform(0.3, 0.55))
        if rng.random() < 0.15 + 0.35 * style.expressiveness:
            nod += (0.5 + 2.5 * style.head_motion) * strength * _pulse(n_frames, fps, t - 0.05,
                                                                         rng.uniform(0.25, 0.45))
    return np.clip(brow, -1, 1), nod


def smile(n_frames: int, fps: float, style: SpeakingStyle, rng: np.random.Generator) -> np.ndarray:
    """Slow expressive state [n_frames]: Ornstein-Uhlenbeck (τ ≈ 3 s) around style.smile_bias."""
    tau, sigma = 3.0, 0.05 + 0.2 * style.expressiveness
    a = np.exp(-1.0 / (fps * tau))
    x = np.empty(n_frames)
    v = rng.normal(0, sigma)
    for i in range(n_frames):
        v = a * v + np.sqrt(1 - a * a) * sigma * rng.standard_normal()
        x[i] = v
    # one more smoothing so it is slow and free of frame-level jitter
    return np.clip(style.smile_bias + _lowpass(x, fps, 0.5), -1, 1)


def _lowpass(x: np.ndarray, fps: float, cutoff: float) -> np.ndarray:
    if len(x) < 16:
        return x
    sos = signal.butter(2, cutoff / (fps / 2), output="sos")
    return signal.sosfiltfilt(sos, x, padlen=min(len(x) - 1, 3 * int(fps)))


def head_pose(energy: np.ndarray, nod: np.ndarray, fps: float, style: SpeakingStyle,
              rng: np.random.Generator) -> np.ndarray:
    """[n_frames, 6]: yaw, pitch, roll (degrees), tx, ty (crop fraction), scale."""
    n = len(energy)
    env = _lowpass(energy.astype(np.float64), fps, 0.8)  # smoothed speech energy
    amp = style.head_motion * (0.35 + 0.65 * np.clip(env, 0, 1))  # [n]
    scales = np.array([8.0, 4.5, 3.0, 0.012, 0.010, 0.02])  # at head_motion = 1 and full energy
    cut = np.array([0.35, 0.6, 0.3, 0.25, 0.3, 0.2])  # Hz
    pose = np.stack([_smooth_noise(n, fps, c, rng) for c in cut], 1) * scales * amp[:, None]
    pose[:, 1] += nod
    pose[:, 2] += style.head_tilt + rng.normal(0, 1.0)
    pose[:, 0] += rng.normal(0, 2.0) * style.head_motion  # habitual yaw offset for this clip
    pose[:, 5] += 1.0
    return pose


def speech_motion(utterance, n_frames: int | None = None, fps: float = 25.0,
                  style: SpeakingStyle | None = None,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Ground-truth motion for an :class:`~.voice.Utterance`: float32 [n_frames, len(MOTION_FIELDS)].

    Frame t covers [t/fps, (t+1)/fps) of ``utterance.wave``; ``n_frames`` defaults to the number
    of frames that cover the audio. Values are clipped to ``face.MOTION_RANGES``.
    """
    style = style or SpeakingStyle()
    rng = rng if rng is not None else np.random.default_rng(0)
    if n_frames is None:
        n_frames = int(np.ceil(len(utterance.wave) / utterance.sample_rate * fps - 1e-9))
    r_blink, r_gaze, r_brow, r_smile, r_head = (_child(rng) for _ in range(5))
    out = np.tile(neutral_motion(), (n_frames, 1)).astype(np.float64)  # [T, M]
    if n_frames == 0:
        return out.astype(np.float32)

    mouth = mouth_trajectory(utterance.phonemes, n_frames, fps,
                             CoarticulationConfig(articulation_gain=style.articulation_gain))
    for j, name in enumerate(MOUTH_FIELDS):
        out[:, MOTION_INDEX[name]] = mouth[:, j]
    energy = energy_envelope(utterance.wave, utterance.sample_rate, n_frames, fps)
    speaking = _lowpass(energy.astype(np.float64), fps, 0.5) > 0.3

    out[:, [MOTION_INDEX["blink_l"], MOTION_INDEX["blink_r"]]] = blinks(n_frames, fps, style, r_blink)
    out[:, [MOTION_INDEX["gaze_x"], MOTION_INDEX["gaze_y"]]] = gaze(n_frames, fps, style, speaking, r_gaze)
    brow, nod = brows_and_nods(utterance.phonemes, energy, fps, style, r_brow)
    out[:, MOTION_INDEX["brow_raise"]] = brow
    out[:, MOTION_INDEX["smile"]] = smile(n_frames, fps, style, r_smile)
    head = head_pose(energy, nod, fps, style, r_head)
    for j, name in enumerate(("yaw", "pitch", "roll", "tx", "ty", "scale")):
        out[:, MOTION_INDEX[name]] = head[:, j]
    assert out.shape == (n_frames, len(MOTION_FIELDS))
    return clip_motion(out)
