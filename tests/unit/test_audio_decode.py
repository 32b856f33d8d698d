"""Speech decoding: every container the issue lists, trimming, and the broken files it must refuse."""

import math

import numpy as np
import pytest
import torch

import media
from see_the_speaker.audio.decode import AudioDecodeError, decode_audio
from see_the_speaker.audio.processing import loudness_lufs, mix_to_mono, normalize_loudness, resample


@pytest.mark.parametrize("name,writer", [
    ("a.wav", lambda p: media.write_soundfile(p, 2.0, 16000)),
    ("a.flac", lambda p: media.write_soundfile(p, 2.0, 22050)),
    ("a.mp3", lambda p: media.write_av(p, 2.0, 16000, codec="libmp3lame")),
    ("a.ogg", lambda p: media.write_av(p, 2.0, 48000, codec="libopus")),
    ("a.m4a", lambda p: media.write_av(p, 2.0, 44100, codec="aac")),
    ("a.mp4", lambda p: media.write_av(p, 2.0, 44100, codec="aac", with_video=True)),
    ("a.webm", lambda p: media.write_av(p, 2.0, 48000, codec="libopus", with_video=False)),
])
def test_decodes_every_container(tmp_path, name, writer):
    path = writer(str(tmp_path / name))
    d = decode_audio(path)
    assert d.waveform.dtype == torch.float32 and d.waveform.ndim == 2
    assert abs(d.duration - 2.0) < 0.1, d.duration  # encoder padding/priming stays small
    assert float(d.waveform.abs().max()) > 0.05


def test_multichannel_and_low_rate(tmp_path):
    d6 = decode_audio(media.write_soundfile(str(tmp_path / "six.wav"), 1.0, 48000, channels=6))
    assert d6.waveform.shape == (6, 48000) and d6.sample_rate == 48000 and d6.source_channels == 6
    d8 = decode_audio(media.write_soundfile(str(tmp_path / "eight.wav"), 1.5, 8000))
    assert d8.waveform.shape == (1, 12000) and d8.sample_rate == 8000


def test_pcm_values_roundtrip(tmp_path):
    path = media.write_soundfile(str(tmp_path / "x.wav"), 0.5, 16000, subtype="FLOAT")
    expected = media.speechlike(0.5, 16000)[:, 0]
    np.testing.assert_allclose(decode_audio(path).waveform[0].numpy(), expected, atol=1e-6)


def test_trim_window(tmp_path):
    path = media.write_soundfile(str(tmp_path / "x.wav"), 3.0, 16000, subtype="FLOAT")
    full = decode_audio(path).waveform
    part = decode_audio(path, start=1.25, duration=0.5).waveform
    assert part.shape == (1, 8000)
    torch.testing.assert_close(part, full[:, 20000:28000])
    assert decode_audio(path, start=2.5).waveform.shape == (1, 8000)


@pytest.mark.parametrize("maker,needle", [
    (lambda d: str(d / "missing.wav"), "file not found"),
    (lambda d: media.write_empty(str(d / "empty.wav")), "empty"),
    (lambda d: media.write_not_audio(str(d / "text.wav")), "not a readable audio"),
    (lambda d: media.write_truncated_mp3(str(d / "cut.mp3")), "truncated"),
    (lambda d: media.write_zero_samples_wav(str(d / "zero.wav")), "no audio samples"),
])
def test_bad_files_are_named_and_explained(tmp_path, maker, needle):
    path = maker(tmp_path)
    with pytest.raises(AudioDecodeError) as e:
        decode_audio(path)
    msg = str(e.value)
    assert needle in msg and path.split("/")[-1] in msg, msg


def test_window_past_the_end_and_bad_numbers(tmp_path):
    path = media.write_soundfile(str(tmp_path / "x.wav"), 1.0, 16000)
    with pytest.raises(AudioDecodeError, match="no audio in the requested window"):
        decode_audio(path, start=5.0)
    with pytest.raises(AudioDecodeError, match="start"):
        decode_audio(path, start=-1.0)
    with pytest.raises(AudioDecodeError, match="duration"):
        decode_audio(path, duration=math.nan)


def test_nan_samples_refused(tmp_path):
    import soundfile as sf
    x = media.speechlike(0.5, 16000)
    x[100] = np.nan
    path = str(tmp_path / "nan.wav")
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN"):
        decode_audio(path)


def test_mix_and_loudness():
    x = torch.from_numpy(media.speechlike(2.0, 16000, channels=2).T.copy())
    mono = mix_to_mono(x)
    assert mono.shape == (1, 32000)
    for target in (-30.0, -16.0):
        y = normalize_loudness(mono, 16000, target)
        assert abs(loudness_lufs(y, 16000) - target) < 0.5 or float(y.abs().max()) >= 0.98
        assert float(y.abs().max()) <= 0.99 + 1e-6
    silence = torch.zeros(1, 16000)
    assert torch.equal(normalize_loudness(silence, 16000), silence)


def test_resample_length():
    x = torch.from_numpy(media.speechlike(1.0, 48000).T.copy())
    assert resample(x, 48000, 16000).shape == (1, 16000)
    assert resample(x, 16000, 16000) is x


def test_more_than_eight_channels(tmp_path):
    """Regression: PyAV's planar path read past FFmpeg's 8 inline planes and crashed (fuzzer find)."""
    path = media.write_soundfile(str(tmp_path / "twelve.wav"), 0.5, 16000, channels=12)
    for _ in range(3):
        d = decode_audio(path)
        assert d.waveform.shape == (12, 8000)
        np.testing.assert_allclose(d.waveform[11].numpy(), media.speechlike(0.5, 16000, 12)[:, 11], atol=1e-4)
