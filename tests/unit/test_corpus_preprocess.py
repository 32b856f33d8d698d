"""Real-video preprocessing: recovered alignment of a moving synthetic face, astronaut photo video
with blank frames (flagged), audio resampling/alignment, MediaPipe → iBUG-68 table."""

from __future__ import annotations

import numpy as np
import pytest

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from see_the_speaker.data.canonical import CANONICAL_5, landmarks68_to_5  # noqa: E402
from see_the_speaker.data.corpus import Corpus  # noqa: E402
from see_the_speaker.data.face_tracker import MEDIAPIPE_TO_IBUG68  # noqa: E402
from see_the_speaker.data.preprocess_video import PreprocessConfig, process_videos  # noqa: E402


def _have(mod: str) -> bool:
    try:
        __import__(mod)
        return True
    except Exception:
        return False


needs_mediapipe = pytest.mark.skipif(not _have("mediapipe"), reason="mediapipe 0.10.21 not installed")


def _write_video(path, frames, fps, audio=None, audio_rate=44100):
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=fps)
    vs.height, vs.width = frames.shape[1:3]
    vs.pix_fmt = "yuv420p"
    vs.options = {"crf": "14"}
    if audio is not None:
        a = out.add_stream("aac", rate=audio_rate)
        a.layout = "stereo"
    for img in frames:
        for p in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    if audio is not None:
        f = av.AudioFrame.from_ndarray(np.stack([audio, audio]).astype(np.float32), format="fltp", layout="stereo")
        f.sample_rate = audio_rate
        for p in a.encode(f):
            out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    out.close()


def test_mapping_table_is_a_valid_symmetric_selection():
    assert MEDIAPIPE_TO_IBUG68.shape == (68,) and len(set(MEDIAPIPE_TO_IBUG68.tolist())) == 68
    assert MEDIAPIPE_TO_IBUG68.max() < 468
    assert (MEDIAPIPE_TO_IBUG68[62], MEDIAPIPE_TO_IBUG68[66]) == (13, 14)  # inner-lip midpoints


@needs_mediapipe
def test_moving_synthetic_face_crop_is_recovered(tmp_path):
    from see_the_speaker.data.synth.face import FaceIdentity, neutral_motion, render_clip

    t_frames, size, h, w = 30, 256, 360, 480
    motion = np.tile(neutral_motion(), (t_frames, 1))
    crops, _ = render_clip(FaceIdentity(), motion, size)
    frames, truth = [], []
    for k in range(t_frames):
        s = 0.9 + 0.15 * k / t_frames  # crop px → frame px: scale, small rotation, drifting offset
        ang = np.deg2rad(6 * np.sin(k / 5))
        m = np.array([[s * np.cos(ang), -s * np.sin(ang), 60 + 3 * k], [s * np.sin(ang), s * np.cos(ang), 40 + 1.5 * k]])
        frames.append(cv2.warpAffine(crops[k], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(30, 60, 90)))
        truth.append(m)
    _write_video(tmp_path / "moving.mp4", np.stack(frames), 25)
    process_videos([tmp_path / "moving.mp4"], tmp_path / "out", PreprocessConfig(smooth_sigma=1.0), speaker="synthface", split="test")
    c = Corpus(tmp_path / "out")
    (rec,) = c.clips
    a = c.load_arrays(rec)
    assert rec.n_frames == t_frames and a["face_found"].all()
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size], [size / 2, size / 2]], float)
    errs = []
    for k in range(t_frames):
        in_frame = corners @ truth[k][:, :2].T + truth[k][:, 2]  # where the true crop corners are
        back = in_frame @ a["transforms"][k][:, :2].T + a["transforms"][k][:, 2]  # recovered crop coords
        errs.append(np.linalg.norm(back - corners, axis=1))
    errs = np.array(errs)
    # the renderer's face and MediaPipe's view of it agree to a few pixels on a 256-px crop
    print(f"crop corner error: median {np.median(errs):.2f} px, max {errs.max():.2f} px")
    assert np.median(errs) < 4.0 and errs.max() < 8.0, (np.median(errs), errs.max())
    crops_back = c.load_frames(rec)
    assert np.abs(crops_back.astype(float) - crops.astype(float)).mean() < 12


@needs_mediapipe
def test_astronaut_video_aligned_and_blank_frames_flagged(tmp_path):
    skdata = pytest.importorskip("skimage.data")
    img = skdata.astronaut()  # 512×512 RGB
    frames, blank = [], []
    for k in range(45):  # 1.5 s at 30 fps
        m = cv2.getRotationMatrix2D((256, 256), 5 * np.sin(k / 8), 1.0 + 0.05 * np.sin(k / 6))
        m[:, 2] += [10 * np.sin(k / 10), 4 * np.cos(k / 7)]
        f = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
        if 18 <= k < 27:  # 0.3 s without a face
            f = np.full_like(f, 128)
        frames.append(f)
        blank.append(18 <= k < 27)
    sr = 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(1.5 * sr)) / sr)
    tone[int(0.5 * sr) : int(1.0 * sr)] = 0.0  # silent gap to check the A/V alignment
    _write_video(tmp_path / "astro.mp4", np.stack(frames), 30, audio=tone, audio_rate=sr)
    process_videos([tmp_path / "astro.mp4"], tmp_path / "out", PreprocessConfig())
    c = Corpus(tmp_path / "out")
    assert c.spec.kind == "real" and len(c.clips) == 1
    rec = c.clips[0]
    a = c.load_arrays(rec)
    assert rec.n_frames == 38  # 1.5 s resampled to 25 fps
    found = a["face_found"]
    nearest_src = np.floor(np.arange(rec.n_frames) * 30 / 25 + 0.5)  # 25 fps frame k shows this 30 fps frame
    expect_blank = (nearest_src >= 18) & (nearest_src < 27)
    assert not found[expect_blank].any()  # every blank frame is flagged
    print(f"astronaut: {int(found.sum())}/{found.size} frames with a face, {int(expect_blank.sum())} blank frames flagged")
    assert found[~expect_blank].mean() >= 0.9  # faces found elsewhere
    assert rec.n_face_missing == int((~found).sum())
    # aligned: the 5 alignment points sit on the canonical ones (a few % of the crop)
    lm5 = landmarks68_to_5(a["landmarks"][found])
    err = np.linalg.norm(lm5 - CANONICAL_5 * c.spec.crop_size, axis=-1)
    assert np.median(err) < 0.03 * c.spec.crop_size
    # crop held during the gap: transforms of flagged frames equal the last good one
    first_blank = int(np.flatnonzero(~found)[0])
    assert np.allclose(a["transforms"][first_blank], a["transforms"][first_blank - 1])
    # audio: 16 kHz mono, exactly n_frames * 640 samples, silent gap at 0.5–1.0 s
    audio = c.load_audio(rec)
    assert audio.shape == (rec.n_frames * 640,)
    rms = lambda s, e: float(np.sqrt(np.mean(audio[int(s * 16000) : int(e * 16000)] ** 2)))  # noqa: E731
    assert rms(0.6, 0.9) < 0.01 < 0.1 < rms(0.15, 0.4) and rms(1.1, 1.4) > 0.1


def test_dlib_backend_on_astronaut(tmp_path):
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    skdata = pytest.importorskip("skimage.data")
    img = skdata.astronaut()
    frames = np.stack([img] * 4 + [np.zeros_like(img)] * 2)
    _write_video(tmp_path / "a.mp4", frames, 25)
    process_videos([tmp_path / "a.mp4"], tmp_path / "out", PreprocessConfig(detector="dlib"), speaker="astro", split="train")
    a = Corpus(tmp_path / "out").load_arrays(Corpus(tmp_path / "out").clips[0])
    assert a["face_found"].tolist() == [True] * 4 + [False] * 2
    err = np.linalg.norm(landmarks68_to_5(a["landmarks"][:4]) - CANONICAL_5 * 256, axis=-1)
    assert np.median(err) < 8


def test_clip_names_keep_files_that_share_a_stem(tmp_path):
    from see_the_speaker.data.corpus import CorpusError
    from see_the_speaker.data.preprocess_video import clip_name

    root = tmp_path / "id00017"
    a, b = root / "5MkXgwdrmJw" / "00001.mp4", root / "Z9 x" / "00001.mp4"
    assert clip_name(a, root) == "5MkXgwdrmJw_00001" and clip_name(b, root) == "Z9_x_00001"
    assert clip_name(a) == "00001"  # a file named directly: its stem
    with pytest.raises(CorpusError, match="00001"):  # same speaker, same clip ids: refused up front
        process_videos([a, b], tmp_path / "out", PreprocessConfig(), speaker="id00017")
    assert not (tmp_path / "out" / "index.json").exists()


def test_rerun_skips_files_already_in_the_corpus(tmp_path, caplog):
    frames = np.full((10, 64, 64, 3), 128, np.uint8)  # no face: one clip, flagged, quick
    for sub in ("v1", "v2"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        _write_video(tmp_path / "in" / sub / "00001.mp4", frames, 25)
    files = sorted((tmp_path / "in").rglob("*.mp4"))
    names = ["v1_00001", "v2_00001"]
    cfg = PreprocessConfig(detector="dlib") if not _have("mediapipe") else PreprocessConfig()
    process_videos(files[:1], tmp_path / "out", cfg, speaker="p", names=names[:1])
    caplog.set_level("INFO", logger="see_the_speaker.preprocess")
    process_videos(files, tmp_path / "out", cfg, speaker="p", names=names)  # resumes: only v2 is new
    assert "v1_00001-000" in caplog.text and "skipped" in caplog.text
    assert sorted(r.id for r in Corpus(tmp_path / "out").clips) == ["p/v1_00001-000", "p/v2_00001-000"]
