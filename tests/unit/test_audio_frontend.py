"""Audio front end: frame alignment to 25 fps video, shapes, and AUDIO conversion."""

import math

import torch

import media
from see_the_speaker.audio.frontend import FrontEndConfig, LogMel, mel_for_frames, speech_from_audio, video_frames
from see_the_speaker.payloads import MotionSequence, SpeechFeatures


def test_mel_shape_and_alignment():
    cfg = FrontEndConfig()
    assert cfg.mel_per_frame == 4
    wave = torch.zeros(1, 16000)
    wave[0, 8000:8160] = 1.0  # a click at 0.5 s = video frame 12.5 -> frame 12
    mel = LogMel(cfg)(wave)
    assert mel.shape == (1, 80, 101)
    per_frame = mel_for_frames(mel[0], video_frames(16000, cfg), cfg)  # [25, 320]
    assert per_frame.shape == (25, 320)
    energy = per_frame.mean(dim=1)
    assert int(energy.argmax()) == 12
    # grouping: frame t, sub-frame j, mel bin b comes from mel[b, 4t + j]
    t, j, b = 7, 3, 11
    assert per_frame[t, b * 4 + j] == mel[0, b, 4 * t + j]


def test_padding_past_the_end_is_silence():
    cfg = FrontEndConfig()
    mel = LogMel(cfg)(torch.randn(1, 1000) * 0.1)[0]
    out = mel_for_frames(mel, 5, cfg)
    assert out.shape == (5, 320)
    assert torch.allclose(out[-1], torch.full((320,), math.log(cfg.log_floor)))


def test_speech_from_core_audio():
    stereo48 = torch.from_numpy(media.speechlike(1.0, 48000, channels=2).T.copy())[None]  # [1, 2, T]
    wave = speech_from_audio(stereo48, 48000)
    assert wave.shape == (16000,) and wave.dtype == torch.float32
    assert video_frames(16000) == 25 and video_frames(16001) == 26 and video_frames(1) == 1


def test_payloads():
    f = SpeechFeatures(wave=torch.zeros(16000 * 2 + 5), mel=torch.zeros(80, 201))
    assert f.n_frames == 51 and abs(f.duration - 2.0) < 1e-3
    m = MotionSequence(torch.zeros(10, 26), 25.0, {"lips": (0, 8), "expression": (8, 16), "eyes": (16, 20), "head": (20, 26)})
    assert m.part("eyes").shape == (10, 4)
    import pytest
    with pytest.raises(ValueError, match="cover"):
        MotionSequence(torch.zeros(10, 20), 25.0, {"lips": (0, 8)})
