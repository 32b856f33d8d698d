"""Procedural face renderer: API shapes, determinism, and landmarks that follow the motion."""

import numpy as np
import pytest

from see_the_speaker.data.canonical import CANONICAL_5, landmarks68_to_5
from see_the_speaker.data.synth.face import (
    FACIAL_HAIR,
    HAIR_STYLES,
    MOTION_FIELDS,
    MOTION_INDEX,
    MOTION_RANGES,
    FaceIdentity,
    Scene,
    mouth_opening,
    neutral_motion,
    render_clip,
    render_face,
)

REQUIRED_MOTION = ("jaw_open", "mouth_width", "lip_round", "lip_press", "teeth", "tongue", "smile", "blink_l",
                   "blink_r", "gaze_x", "gaze_y", "brow_raise", "yaw", "pitch", "roll", "tx", "ty", "scale")


def motion(**kw):
    m = neutral_motion()
    for k, v in kw.items():
        m[MOTION_INDEX[k]] = v
    return m


def eye_height(lm, side):
    b = 36 if side == "l" else 42
    return float(np.linalg.norm(lm[b + 1] - lm[b + 5]) + np.linalg.norm(lm[b + 2] - lm[b + 4])) / 2


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(7)
    return [FaceIdentity()] + [FaceIdentity.random(rng) for _ in range(5)]


def test_identity_fields_vector_round_trip_and_ranges():
    assert len(FaceIdentity.FIELDS) >= 12
    assert set(FaceIdentity.RANGES) == set(FaceIdentity.FIELDS)
    rng = np.random.default_rng(0)
    for _ in range(20):
        idn = FaceIdentity.random(rng)
        v = idn.to_vector()
        assert v.dtype == np.float32 and v.shape == (len(FaceIdentity.FIELDS),)
        for f, x in zip(FaceIdentity.FIELDS, v):
            lo, hi = FaceIdentity.RANGES[f]
            assert lo <= x <= hi, f
        np.testing.assert_array_equal(FaceIdentity.from_vector(v).to_vector(), v)
    assert len(HAIR_STYLES) >= 5 and "bald" in HAIR_STYLES and "long" in HAIR_STYLES
    assert "beard" in FACIAL_HAIR


def test_motion_fields_and_neutral():
    for name in REQUIRED_MOTION:
        assert name in MOTION_FIELDS
    assert set(MOTION_RANGES) == set(MOTION_FIELDS)
    m = neutral_motion()
    assert m.dtype == np.float32 and m.shape == (len(MOTION_FIELDS),)
    assert m[MOTION_INDEX["scale"]] == 1.0 and np.count_nonzero(m) == 1


def test_shapes_dtypes_and_clip_matches_frames(people):
    idn = people[1]
    img, lm = render_face(idn, neutral_motion(), 128)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    motions = np.stack([neutral_motion(), motion(jaw_open=0.7, yaw=10.0), motion(blink_r=1.0)])
    frames, lms = render_clip(idn, motions, 96)
    assert frames.shape == (3, 96, 96, 3) and frames.dtype == np.uint8
    assert lms.shape == (3, 68, 2) and lms.dtype == np.float32
    for t in range(3):
        f, l = render_face(idn, motions[t], 96)
        np.testing.assert_array_equal(frames[t], f)
        np.testing.assert_array_equal(lms[t], l)


def test_deterministic_bytes(people):
    m = motion(jaw_open=0.4, smile=0.5, yaw=-12.0, pitch=5.0, roll=3.0, blink_l=0.3)
    for idn in people:
        a = render_face(idn, m, 160, Scene())
        b = render_face(FaceIdentity.from_vector(idn.to_vector()), m.copy(), 160, Scene())
        assert a[0].tobytes() == b[0].tobytes()
        assert a[1].tobytes() == b[1].tobytes()


def test_default_identity_lands_on_canonical_5():
    for size in (128, 256, 512):
        _, lm = render_face(FaceIdentity(), neutral_motion(), size)
        np.testing.assert_allclose(landmarks68_to_5(lm), CANONICAL_5 * size, atol=0.5)


def test_random_identities_stay_near_canonical_5(people):
    for idn in people:
        _, lm = render_face(idn, neutral_motion(), 256)
        err = np.linalg.norm(landmarks68_to_5(lm) - CANONICAL_5 * 256, axis=1)
        assert err.max() < 10.0, err  # identity varies the geometry by a few pixels only


def test_landmarks_scale_with_size(people):
    m = motion(yaw=15.0, jaw_open=0.5)
    _, a = render_face(people[2], m, 128)
    _, b = render_face(people[2], m, 256)
    np.testing.assert_allclose(a * 2, b, atol=1e-3)


def test_jaw_open_opens_the_mouth_and_lip_press_closes_it(people):
    for idn in people:
        opening = [float(mouth_opening(render_face(idn, motion(jaw_open=j), 256)[1])) for j in (0, 0.25, 0.5, 1.0)]
        assert opening[0] < 0.5
        assert all(b > a + 2 for a, b in zip(opening, opening[1:])), opening
        pressed = float(mouth_opening(render_face(idn, motion(jaw_open=1.0, lip_press=1.0), 256)[1]))
        assert pressed < 0.5
        # the chin follows the jaw
        c0 = render_face(idn, motion(), 256)[1][8, 1]
        c1 = render_face(idn, motion(jaw_open=1.0), 256)[1][8, 1]
        assert c1 > c0 + 10


def test_mouth_interior_is_dark_when_open():
    idn = FaceIdentity()
    img, lm = render_face(idn, motion(jaw_open=1.0), 256)
    centre = ((lm[62] + lm[66]) / 2).round().astype(int)
    closed, _ = render_face(idn, motion(), 256)
    assert img[centre[1], centre[0]].mean() < closed[centre[1], centre[0]].mean() - 40


def test_blink_closes_one_eye(people):
    for idn in people:
        _, open_ = render_face(idn, neutral_motion(), 256)
        _, shut = render_face(idn, motion(blink_l=1.0), 256)
        assert eye_height(open_, "l") > 4.0
        assert eye_height(shut, "l") < 1.0
        assert eye_height(shut, "r") == pytest.approx(eye_height(open_, "r"), abs=1e-3)


def test_head_pose_moves_landmarks_as_expected():
    idn = FaceIdentity()
    _, lm0 = render_face(idn, neutral_motion(), 256)

    def nose_offset(lm):  # nose tip relative to the eye midpoint
        return lm[30] - (lm[36:48].mean(0))

    _, right = render_face(idn, motion(yaw=20.0), 256)
    _, left = render_face(idn, motion(yaw=-20.0), 256)
    assert nose_offset(right)[0] > nose_offset(lm0)[0] + 8
    assert nose_offset(left)[0] < nose_offset(lm0)[0] - 8
    # the eye on the side the face turns to narrows (foreshortening)
    w = lambda lm, a, b: abs(lm[b, 0] - lm[a, 0])  # noqa: E731
    assert w(right, 42, 45) < w(right, 36, 39) - 1.5
    _, down = render_face(idn, motion(pitch=12.0), 256)
    assert nose_offset(down)[1] > nose_offset(lm0)[1] + 3
    _, rolled = render_face(idn, motion(roll=10.0), 256)
    eye_l, eye_r = rolled[36:42].mean(0), rolled[42:48].mean(0)
    angle = np.degrees(np.arctan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
    assert angle == pytest.approx(10.0, abs=1.0)
    _, moved = render_face(idn, motion(tx=0.05, ty=-0.05, scale=1.1), 256)
    c0, c1 = lm0[30], moved[30]
    assert c1[0] > c0[0] + 10 and c1[1] < c0[1] - 8


def test_smile_brow_and_gaze_move_their_features():
    idn = FaceIdentity()
    _, lm0 = render_face(idn, neutral_motion(), 256)
    _, sm = render_face(idn, motion(smile=1.0), 256)
    assert sm[48, 1] < lm0[48, 1] - 2 and sm[54, 1] < lm0[54, 1] - 2   # corners up
    assert sm[54, 0] - sm[48, 0] > lm0[54, 0] - lm0[48, 0]              # and wider
    _, up = render_face(idn, motion(brow_raise=1.0), 256)
    assert up[17:27, 1].mean() < lm0[17:27, 1].mean() - 3
    img0, _ = render_face(idn, neutral_motion(), 256)
    img1, _ = render_face(idn, motion(gaze_x=1.0), 256)
    assert np.abs(img0.astype(int) - img1.astype(int)).sum() > 0


def test_scene_changes_pixels_but_not_landmarks(people):
    rng = np.random.default_rng(3)
    a, la = render_face(people[3], neutral_motion(), 128, Scene.random(rng))
    b, lb = render_face(people[3], neutral_motion(), 128, Scene.random(rng))
    np.testing.assert_array_equal(la, lb)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1


def test_identities_differ_in_geometry(people):
    lms = np.stack([render_face(p, neutral_motion(), 256)[1] for p in people])
    spread = lms.std(0).mean()
    assert spread > 1.4  # pixels: identities are not just recoloured copies
