"""Face alignment and paste-back: any image format in, canonical crop out; paste-back keeps the
size, leaves pixels outside the mask bit-exact, and blends without a visible seam."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from see_the_speaker.data.canonical import CANONICAL_5, landmarks68_to_5
from see_the_speaker.data.face_align import (
    FaceNotFound, align_face, canonical_transform, colour_map, face_mask, paste_back, seam_metrics, to_rgb_float,
)
from see_the_speaker.data.synth.face import FaceIdentity, neutral_motion, render_face

skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()  # uint8 [512,512,3]


@pytest.fixture(scope="module")
def aligned(astronaut):
    return align_face(astronaut, 256)


def test_formats_are_normalised():
    grey = np.full((20, 30), 128, np.uint8)
    assert to_rgb_float(grey).shape == (20, 30, 3) and np.allclose(to_rgb_float(grey), 128 / 255)
    rgba = np.zeros((16, 16, 4), np.float32)
    rgba[..., 0] = 1.0  # red, fully transparent -> mid-grey background
    assert np.allclose(to_rgb_float(rgba), 0.5)
    assert to_rgb_float(torch.rand(12, 12, 1)).shape == (12, 12, 3)
    with pytest.raises(ValueError):
        to_rgb_float(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError):
        to_rgb_float(np.full((16, 16, 3), np.nan))


def test_detected_face_lands_on_canonical_points(aligned):
    crop, tr = aligned
    assert crop.shape == (256, 256, 3) and tr.method in ("mediapipe", "dlib") and tr.image_size == (512, 512)
    p5 = landmarks68_to_5(np.asarray(tr.landmarks))
    assert np.abs(p5 - CANONICAL_5 * 256).max() < 12  # similarity fit of 5 points: a few px residual


def test_synthetic_face_in_a_larger_canvas_is_found():
    rgb, lm = render_face(FaceIdentity(), neutral_motion(), size=160)
    canvas = np.full((300, 240, 3), 90, np.uint8)
    canvas[100:260, 50:210] = rgb
    crop, tr = align_face(canvas, 128)
    expected = (landmarks68_to_5(lm) + [50, 100]) @ np.asarray(tr.matrix)[:, :2].T + np.asarray(tr.matrix)[:, 2]
    assert np.abs(expected - CANONICAL_5 * 128).max() < 6


def test_canonical_mode_and_not_found():
    flat = np.full((64, 64, 3), 0.4, np.float32)
    crop, tr = align_face(flat, 128, "canonical")
    assert tr.method == "canonical" and np.allclose(crop, 0.4, atol=1e-5)
    assert np.allclose(canonical_transform(64, 64, 128), [[2, 0, 0], [0, 2, 0]])
    assert align_face(flat, 32, "auto")[1].method == "canonical"  # square, no face: taken as aligned
    with pytest.raises(FaceNotFound):
        align_face(np.full((64, 100, 3), 0.4, np.float32), 32, "auto")
    with pytest.raises(FaceNotFound):
        align_face(flat, 32, "detect")


def test_face_mask_is_zero_at_the_border():
    m = face_mask(128)
    assert m.max() == pytest.approx(1.0, abs=1e-3) and m[0].max() == 0 and m[:, 0].max() == 0 and m[-1].max() == 0


def test_paste_back_keeps_size_and_outside_pixels(astronaut, aligned):
    crop, tr = aligned
    frames = np.stack([np.clip(crop * 0.8 + 0.1, 0, 1), crop[:, ::-1]])  # altered content
    out = paste_back(frames, tr, astronaut)
    orig = to_rgb_float(astronaut)
    assert out.shape == (2, 512, 512, 3)
    changed = np.abs(out - orig).max(axis=(0, 3)) > 0
    metrics = seam_metrics(out[0], astronaut, tr)
    assert metrics["outside_max_change"] == 0.0
    assert 0.02 < changed.mean() < 0.6  # the face changed, most of the photo did not
    assert metrics["band_grad_excess"] < 0.01  # no visible edge along the blend band


def test_paste_back_round_trip_and_colour_match(astronaut, aligned):
    crop, tr = aligned
    orig = to_rgb_float(astronaut)
    same = paste_back(crop[None], tr, astronaut)[0]
    assert np.abs(same - orig).mean() < 0.003  # resampling error only
    tinted = np.clip(crop * [1.0, 0.8, 0.8] + [0.05, 0, 0], 0, 1)[None]
    err_plain = np.abs(paste_back(tinted, tr, astronaut, colour_match=False)[0] - orig).mean()
    err_matched = np.abs(paste_back(tinted, tr, astronaut, colour_match=True)[0] - orig).mean()
    assert err_matched < 0.5 * err_plain
    gain, bias = colour_map(np.full((4, 4, 3), 0.2, np.float32), np.full((4, 4, 3), 0.6, np.float32), np.ones((4, 4)))
    assert np.allclose(0.2 * gain + bias, 0.6)


def test_paste_back_rejects_wrong_original(aligned):
    crop, tr = aligned
    with pytest.raises(ValueError, match="transform was made for"):
        paste_back(crop[None], tr, np.zeros((100, 100, 3), np.uint8))
