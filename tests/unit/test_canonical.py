"""Canonical crop constants and the similarity transform shared by preprocessing and FaceAlign."""

import numpy as np
import pytest

from see_the_speaker.data.canonical import (
    CANONICAL_5,
    alignment_transform,
    apply_transform,
    canonical_points,
    invert_transform,
    landmarks68_to_5,
    similarity_transform,
)


def _random_similarity(rng):
    ang = rng.uniform(-np.pi, np.pi)
    s = rng.uniform(0.3, 3.0)
    t = rng.uniform(-200, 200, size=2)
    return np.array([[s * np.cos(ang), -s * np.sin(ang), t[0]], [s * np.sin(ang), s * np.cos(ang), t[1]]])


def test_canonical_5_layout():
    assert CANONICAL_5.shape == (5, 2) and CANONICAL_5.dtype == np.float32
    np.testing.assert_allclose(canonical_points(256), CANONICAL_5 * 256)
    # eyes level and symmetric, nose and mouth centred
    assert CANONICAL_5[0, 1] == CANONICAL_5[1, 1]
    assert CANONICAL_5[0, 0] + CANONICAL_5[1, 0] == pytest.approx(1.0)
    assert CANONICAL_5[2, 0] == pytest.approx(0.5)


def test_landmarks68_to_5_picks_eye_means_nose_tip_and_mouth_corners():
    rng = np.random.default_rng(0)
    lm = rng.uniform(0, 256, size=(3, 68, 2)).astype(np.float32)
    five = landmarks68_to_5(lm)
    assert five.shape == (3, 5, 2)
    np.testing.assert_allclose(five[:, 0], lm[:, 36:42].mean(1), rtol=1e-6)
    np.testing.assert_allclose(five[:, 1], lm[:, 42:48].mean(1), rtol=1e-6)
    np.testing.assert_array_equal(five[:, 2], lm[:, 30])
    np.testing.assert_array_equal(five[:, 3], lm[:, 48])
    np.testing.assert_array_equal(five[:, 4], lm[:, 54])
    with pytest.raises(ValueError):
        landmarks68_to_5(np.zeros((5, 2)))


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    for _ in range(20):
        m = _random_similarity(rng)
        src = rng.uniform(0, 300, size=(7, 2))
        dst = apply_transform(m, src)
        est = similarity_transform(src, dst)
        np.testing.assert_allclose(est, m, atol=1e-8)


def test_similarity_transform_round_trip_and_inverse():
    rng = np.random.default_rng(2)
    src = CANONICAL_5 * 256 + rng.normal(0, 2, size=(5, 2))
    m = _random_similarity(rng)
    dst = apply_transform(m, src)
    fwd = similarity_transform(src, dst)
    back = similarity_transform(dst, src)
    np.testing.assert_allclose(apply_transform(back, apply_transform(fwd, src)), src, atol=1e-8)
    np.testing.assert_allclose(invert_transform(fwd), back, atol=1e-8)


def test_similarity_transform_is_least_squares_under_noise_and_never_reflects():
    rng = np.random.default_rng(3)
    src = rng.uniform(0, 100, size=(20, 2))
    m = _random_similarity(rng)
    dst = apply_transform(m, src) + rng.normal(0, 0.5, size=(20, 2))
    est = similarity_transform(src, dst)
    res = np.linalg.norm(apply_transform(est, src) - dst, axis=1).mean()
    assert res < 1.0
    # mirrored targets: the best *similarity* must still be a proper rotation (det > 0)
    mirrored = src * [-1, 1]
    est = similarity_transform(src, mirrored)
    assert np.linalg.det(est[:, :2]) > 0


def test_alignment_transform_maps_five_points_onto_canonical():
    rng = np.random.default_rng(4)
    m = _random_similarity(rng)
    lm5 = apply_transform(invert_transform(m), canonical_points(512))
    a = alignment_transform(lm5, 512)
    np.testing.assert_allclose(apply_transform(a, lm5), canonical_points(512), atol=1e-6)


def test_similarity_transform_rejects_bad_input():
    with pytest.raises(ValueError):
        similarity_transform(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))
