"""Pure-code checks behind the bad-input suite (tests/host/test_bad_inputs.py): each case here is a
bug the server-side suite found, pinned at the function that was fixed."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
import torch

import media
from see_the_speaker import host
from see_the_speaker.audio.decode import AudioDecodeError, decode_audio
from see_the_speaker.audio.frontend import LogMel
from see_the_speaker.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from see_the_speaker.data.face_align import FaceNotFound, FaceTransform, align_face, paste_back, to_rgb_float


@pytest.mark.parametrize("n", [1, 100, 256, 257, 4000])
def test_log_mel_of_very_short_speech(n):
    """A 1-sample clip used to crash the centred STFT (reflect padding needs > n_fft/2 samples)."""
    mel = LogMel()(torch.randn(2, n))
    assert mel.shape == (2, 80, n // 160 + 1) and torch.isfinite(mel).all()


def test_cut_off_wav_is_reported_truncated(tmp_path):
    """FFmpeg clamps a WAV's length to the file size; the RIFF header's own length shows the cut."""
    path = str(tmp_path / "full.wav")
    media.write_soundfile(path, 2.0, 16000)
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.wav")
    open(cut, "wb").write(data[: len(data) // 2])
    assert decode_audio(path).duration == 2.0
    with pytest.raises(AudioDecodeError, match="truncated: the header declares 2.00 s but only 1.00 s"):
        decode_audio(cut)
    streamed = str(tmp_path / "streamed.wav")  # a streaming writer's placeholder size is not a truncation
    sf.write(streamed, media.speechlike(0.5, 16000), 16000)
    raw = bytearray(open(streamed, "rb").read())
    at = raw.index(b"data") + 4
    raw[at:at + 4] = b"\xff\xff\xff\xff"
    open(streamed, "wb").write(bytes(raw))
    assert abs(decode_audio(streamed).duration - 0.5) < 1e-3


def test_checkpoint_checksum_catches_changed_bytes(tmp_path):
    path = str(tmp_path / "m.safetensors")
    save_checkpoint(path, "test-kind", {"dim": 3}, {"w": torch.arange(64, dtype=torch.float32)})
    assert load_checkpoint(path).tensors["w"][5] == 5
    data = bytearray(open(path, "rb").read())
    data[-8:] = bytes(8)  # same size, last two floats zeroed (e.g. a preallocated, unfinished download)
    bad = str(tmp_path / "zeroed.safetensors")
    open(bad, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_checkpoint(bad)
    meta_edit = bytearray(open(path, "rb").read())
    i = meta_edit.index(b'{\\"dim\\": 3}')  # the config JSON inside the header's metadata
    meta_edit[i + 9] = ord("4")
    edited = str(tmp_path / "edited.safetensors")
    open(edited, "wb").write(bytes(meta_edit))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_checkpoint(edited)


def test_safe_join_keeps_names_inside_and_follows_owner_symlinks(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    outside = tmp_path / "elsewhere.safetensors"
    outside.write_bytes(b"x")
    os.symlink(outside, folder / "linked.safetensors")  # put there by the folder's owner
    assert host.safe_join(str(folder), "linked.safetensors") == str(folder / "linked.safetensors")
    for name in ["../elsewhere.safetensors", str(outside), "a/../../elsewhere.safetensors", "a\x00b"]:
        assert host.safe_join(str(folder), name) is None, name
    assert host.safe_join(str(folder), "sub/../x.safetensors") == str(folder / "x.safetensors")


def test_face_functions_take_half_precision_tensors():
    img = torch.rand(64, 48, 3).to(torch.bfloat16)
    assert to_rgb_float(img).dtype == np.float32
    crop, tr = align_face(torch.rand(64, 64, 3).half(), 32, "canonical")
    out = paste_back(torch.rand(2, 32, 32, 3).to(torch.bfloat16), tr, torch.rand(64, 64, 3))
    assert out.shape == (2, 64, 64, 3)


@pytest.mark.parametrize("frames,message", [
    (np.zeros((0, 32, 32, 3), np.float32), "at least one frame"),
    (np.zeros((2, 0, 0, 3), np.float32), "at least one frame"),
    (np.full((1, 32, 32, 3), np.nan, np.float32), "NaN or Inf"),
])
def test_paste_back_refuses_empty_or_non_finite_frames(frames, message):
    _, tr = align_face(np.full((64, 64, 3), 0.5, np.float32), 32, "canonical")
    with pytest.raises(ValueError, match=message):
        paste_back(frames, tr, np.full((64, 64, 3), 0.5, np.float32))


@pytest.mark.parametrize("matrix,size", [
    ([[np.nan, 0, 0], [0, 1, 0]], 32),
    ([[0, 0, 0], [0, 0, 0]], 32),  # not invertible
    ([[1, 0, 0], [0, 1, 0]], 0),
])
def test_paste_back_refuses_unusable_transforms(matrix, size):
    tr = FaceTransform(matrix, size, (64, 64), "canonical")
    with pytest.raises(ValueError, match="not a usable face transform"):
        paste_back(np.zeros((1, 32, 32, 3), np.float32), tr, np.zeros((64, 64, 3), np.float32))


@pytest.mark.parametrize("shape", [(8, 4000, 3), (4000, 8, 3), (20, 1500, 3)])
def test_thin_strips_do_not_abort_the_detector(shape):
    """Upscaled for detection, an 8x4000 strip became 256x128000 px and MediaPipe's OpenCV aborted the
    whole process (no Python exception). The detection copy is now at most 4096 px long."""
    with pytest.raises(FaceNotFound):
        align_face(np.full(shape, 0.4, np.float32), 256, "detect")


def test_sides_beyond_opencv_limits_and_bad_crop_sizes_are_refused():
    with pytest.raises(ValueError, match="8 to 32766 px per side"):
        to_rgb_float(np.zeros((10, 40000, 3), np.uint8))
    for size in (0, 4, 10 ** 6, 2.5):
        with pytest.raises(ValueError, match="crop size must be an integer"):
            align_face(np.zeros((64, 64, 3), np.float32), size, "canonical")
