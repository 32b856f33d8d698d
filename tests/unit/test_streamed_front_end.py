"""The speech front end computed chunk by chunk (issue 8, any length) equals the one-shot computation:
log-mel, mix-down + resampling, BS.1770 loudness, the content features and the content head; the
decoder's single buffer; and the front end's working memory does not grow with the speech length."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import media
from see_the_speaker.audio import processing
from see_the_speaker.audio.decode import _Buffer, decode_audio
from see_the_speaker.audio.frontend import FrontEndConfig, LogMel, mel_for_frames, speech_from_audio
from see_the_speaker.models.content_encoder import ContentEncoder, ContentEncoderConfig, mel_features

CFG = FrontEndConfig()
# lengths around the reflect-padding edge (n_fft/2 = 256), the hop (160) and block boundaries
AWKWARD = [0, 1, 2, 159, 160, 161, 256, 257, 258, 319, 320, 481, 999, 16000, 16161, 48001, 160 * 7 - 1, 160 * 21 + 3]


def one_shot_logmel(wave: torch.Tensor) -> torch.Tensor:
    """The front end as it was: torchaudio's centred MelSpectrogram of the whole wave at once."""
    import torchaudio
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=CFG.sample_rate, n_fft=CFG.n_fft, win_length=CFG.win_length, hop_length=CFG.hop_length,
        f_min=CFG.f_min, f_max=CFG.f_max, n_mels=CFG.n_mels, power=2.0, center=True, norm="slaney",
        mel_scale="slaney")
    n = wave.shape[-1]
    if n < CFG.n_fft // 2 + 1:
        wave = torch.nn.functional.pad(wave, (0, CFG.n_fft // 2 + 1 - n))
    return torch.log(mel(wave.float())[..., :n // CFG.hop_length + 1].clamp_min(CFG.log_floor))


@pytest.mark.parametrize("n", AWKWARD)
@pytest.mark.parametrize("block", [2, 3, 7, 3000])
def test_blocked_logmel_equals_one_shot(n, block):
    wave = torch.randn(2, n, generator=torch.Generator().manual_seed(n)) * 0.3
    got = LogMel(CFG, block_frames=block)(wave)
    assert got.shape == (2, CFG.n_mels, n // CFG.hop_length + 1) and got.dtype == torch.float32
    torch.testing.assert_close(got, one_shot_logmel(wave), rtol=0, atol=1e-4)


def test_blocked_logmel_long_wave_shapes_and_determinism():
    n = 160 * 7000 + 97  # 70 s: three default blocks, the last one short
    wave = torch.randn(n, generator=torch.Generator().manual_seed(1)) * torch.linspace(0, 0.5, n)
    a, b = LogMel(CFG)(wave), LogMel(CFG)(wave.clone())
    assert a.shape == (CFG.n_mels, n // CFG.hop_length + 1)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, one_shot_logmel(wave), rtol=0, atol=1e-4)
    assert torch.equal(LogMel(CFG)(wave[None, None])[0, 0], a)  # any leading dims


@pytest.mark.parametrize("orig,new", [(8000, 16000), (11025, 16000), (22050, 16000), (44100, 16000), (48000, 16000),
                                      (96000, 16000), (16000, 48000), (44100, 48000)])
@pytest.mark.parametrize("chunk", [997, 4096, processing.CHUNK])
def test_streamed_resample_equals_torchaudio(orig, new, chunk):
    import torchaudio.functional as AF
    x = torch.randn(2, int(orig * 0.9) + 7, generator=torch.Generator().manual_seed(orig))
    ref = AF.resample(x, orig, new)
    got = processing.convert(x, orig, new, chunk=chunk)
    assert got.shape == ref.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)
    mono = processing.convert(x.double(), orig, new, mono=True, chunk=chunk)
    torch.testing.assert_close(mono, AF.resample(x.mean(0, keepdim=True), orig, new), rtol=0, atol=1e-6)


def test_speech_from_audio_is_a_view_at_16k_mono_and_streams_otherwise():
    w = torch.randn(1, 1, 16000)
    assert speech_from_audio(w, 16000).data_ptr() == w.data_ptr()
    stereo = torch.randn(1, 2, 48000 * 3 + 1)
    got = speech_from_audio(stereo, 48000)
    import torchaudio.functional as AF
    torch.testing.assert_close(got, AF.resample(stereo[0].mean(0), 48000, 16000), rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_streamed_loudness_equals_torchaudio(rate, channels):
    import torchaudio.functional as AF
    g = torch.Generator().manual_seed(rate + channels)
    n = int(rate * 2.3) + 11
    x = torch.randn(channels, n, generator=g) * torch.linspace(0.005, 0.4, n)  # quiet start: gating acts
    ref = float(AF.loudness(x, rate))
    for chunk in (1000, 12345, processing.CHUNK):
        assert abs(processing.loudness_lufs(x, rate, chunk=chunk) - ref) < 1e-3
    hot = torch.randn(channels, n, generator=g) * 2  # beyond full scale: the K-weighted signal is clipped as there
    assert abs(processing.loudness_lufs(hot, rate, chunk=4000) - float(AF.loudness(hot, rate))) < 1e-3


def test_loudness_edge_cases_and_in_place_scaling():
    assert processing.loudness_lufs(torch.zeros(1, 16000), 16000) == -math.inf
    short = torch.full((1, 100), 0.1)  # shorter than a 400 ms block: RMS fallback
    assert abs(processing.loudness_lufs(short, 16000) - (20 * math.log10(0.1) - 0.691)) < 1e-4
    eight = torch.randn(8, 16000) * 0.1  # more than 5 channels: the extra ones weigh 1.0
    assert math.isfinite(processing.loudness_lufs(eight, 16000))
    x = torch.from_numpy(media.speechlike(2.0, 16000).T.copy())
    y = processing.normalize_loudness(x, 16000, -23.0)
    z = x.clone()
    assert processing.normalize_loudness(z, 16000, -23.0, inplace=True) is z
    assert torch.equal(y, z) and abs(processing.loudness_lufs(y, 16000) + 23.0) < 0.05


def test_decoder_buffer_grows_and_compacts_channels():
    buf = _Buffer(3, 10)  # capacity 10 + slack 48000
    pieces = [np.random.default_rng(i).standard_normal((3, 20000)).astype(np.float32) for i in range(5)]
    for p in pieces:  # 100,000 samples: grows twice
        buf.append(p)
    out = buf.result()
    assert out.shape == (3, 100000) and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, np.concatenate(pieces, axis=1))


def test_decode_mono_equals_mix_of_channels(tmp_path):
    path = media.write_soundfile(str(tmp_path / "st.wav"), 1.5, 44100, channels=3, subtype="FLOAT")
    full, mono = decode_audio(path), decode_audio(path, mono=True)
    assert mono.waveform.shape == (1, full.waveform.shape[1]) and mono.source_channels == 3
    torch.testing.assert_close(mono.waveform, processing.mix_to_mono(full.waveform), rtol=0, atol=1e-7)
    part = decode_audio(path, start=0.5, duration=0.25, mono=True).waveform
    torch.testing.assert_close(part, mono.waveform[:, 22050:22050 + 11025])


@pytest.mark.parametrize("n", [1, 640, 641, 16000 * 3 + 5])
def test_mel_content_features_shapes_and_determinism(n):
    wave = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 0.2
    frames = math.ceil(n / 640)
    a = mel_features(wave, frames, CFG)
    assert a.shape == (frames, 4 * CFG.n_mels)
    torch.testing.assert_close(a, mel_features(wave.clone(), frames, CFG), rtol=0, atol=0, equal_nan=True)
    if n > 640 * 3:  # the old whole-array normalisation
        mel = one_shot_logmel(wave)
        voiced = mel.mean(0) > mel.mean(0).median() - 2.0
        ref = mel[:, voiced] if voiced.sum() > 10 else mel
        old = mel_for_frames((mel - ref.mean(1, keepdim=True)) / ref.std(1, keepdim=True).clamp_min(0.3), frames, CFG)
        torch.testing.assert_close(a, old.clamp(-6, 6), rtol=0, atol=1e-4)


@pytest.mark.parametrize("T", [1, 2061, 5000])
def test_content_head_chunked_inference_equals_whole(T):
    torch.manual_seed(0)
    head = ContentEncoder(ContentEncoderConfig(backend="mel", dim=16, hidden=24, layers=2)).eval()
    raw = torch.randn(1, T, head.cfg.raw_dim)
    with torch.no_grad():
        whole = head._forward(raw)
        torch.testing.assert_close(head(raw), whole, rtol=0, atol=1e-5)
        torch.testing.assert_close(head(raw, chunk=37), whole, rtol=0, atol=1e-5)
    assert head(raw).requires_grad  # training path (grad enabled) is the one-shot forward


_MEMORY_CHILD = r"""
import json, sys, torch
torch.set_num_threads(1)
from see_the_speaker.audio.frontend import FrontEndConfig, LogMel, speech_from_audio
def kb(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key + ":"))
seconds = float(sys.argv[1])
audio = torch.zeros(1, 1, int(seconds * 48000))  # 48 kHz: resampled to 16 kHz on the way
audio[0, 0, ::7] = 0.1
LogMel(FrontEndConfig())(torch.zeros(16000))  # warm-up (allocator, FFT plans)
before = kb("VmRSS")
wave = speech_from_audio(audio, 48000)
mel = LogMel(FrontEndConfig())(wave)
held = (wave.numel() + mel.numel()) * 4 // 1024
print(json.dumps({"extra_kb": kb("VmHWM") - before - held}))
"""


def test_front_end_working_memory_does_not_grow_with_length():
    """Speech Encode's front end on 20 min of 48 kHz audio needs, beyond what it returns (the 16 kHz
    wave and the log-mel), only its chunks' working memory: measured 56 MB (32 MB at 1 min, 52 MB at
    1 h); computed in one shot it was 1.4 GB."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, "1200"], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True).stdout
    extra_mb = json.loads(out.strip().splitlines()[-1])["extra_kb"] / 1024
    assert extra_mb < 120, extra_mb
