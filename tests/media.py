"""Test media: speech-like audio in many containers, the broken files the loaders must refuse, and
the facts of a written mp4.

Everything is made procedurally with PyAV/soundfile, so tests need no downloaded data.
"""

from __future__ import annotations

import io
import os

import av
import numpy as np
import soundfile as sf


def speechlike(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """[T, C] float32: a voiced, syllable-modulated harmonic signal (not silence, not a pure tone)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4.0 * t)) ** 2
    x = 0.2 * voiced * envelope + 0.005 * rng.standard_normal(t.shape)
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def write_soundfile(path: str, seconds: float, rate: int, channels: int = 1, subtype: str | None = None) -> str:
    sf.write(path, speechlike(seconds, rate, channels), rate, subtype=subtype)
    return path


_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def write_av(path: str, seconds: float, rate: int, channels: int = 1, codec: str = "aac",
             with_video: bool = False) -> str:
    """Encode with PyAV: mp3 (libmp3lame), m4a/mp4 (aac), ogg/opus (libopus), webm (libopus)."""
    data = speechlike(seconds, rate, channels).T.copy()  # [C, T]
    with av.open(path, "w") as out:
        if with_video:
            vs = out.add_stream("libx264", rate=25)
            vs.width = vs.height = 64
            vs.pix_fmt = "yuv420p"
        a = out.add_stream(codec, rate=rate)
        a.layout = _LAYOUTS[channels]
        if with_video:
            for i in range(int(seconds * 25)):
                img = np.full((64, 64, 3), (i * 5) % 255, np.uint8)
                for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        frame_size = a.codec_context.frame_size or 1024
        fmt = a.codec_context.format.name
        dtype = _np_dtype(fmt)
        scale = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
        for start in range(0, data.shape[1], frame_size):
            chunk = (data[:, start:start + frame_size] * scale).astype(dtype)
            if fmt.endswith("p"):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt,
                                                layout=_LAYOUTS[channels])
            else:
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk.T.reshape(1, -1)),
                                                format=fmt, layout=_LAYOUTS[channels])
            fr.sample_rate = rate
            fr.pts = start
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return path


def _np_dtype(fmt: str):
    return {"flt": np.float32, "fltp": np.float32, "s16": np.int16, "s16p": np.int16, "s32": np.int32,
            "s32p": np.int32, "dbl": np.float64, "dblp": np.float64}[fmt]


# -- broken files ------------------------------------------------------------------------------

def write_empty(path: str) -> str:
    open(path, "wb").close()
    return path


def write_not_audio(path: str) -> str:
    """A text file renamed to `path` (e.g. .wav)."""
    with open(path, "w") as f:
        f.write("This is not audio at all, just text with a .wav name.\n" * 40)
    return path


def _first_half_of(path: str, write_full) -> str:
    """Write a whole file with write_full(tmp_path), keep only its first half at `path`."""
    full = path + ".full" + os.path.splitext(path)[1]
    write_full(full)
    data = open(full, "rb").read()
    os.remove(full)
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    return path


def write_truncated_mp3(path: str, seconds: float = 3.0) -> str:
    return _first_half_of(path, lambda full: write_av(full, seconds, 16000, 1, codec="libmp3lame"))


def write_zero_samples_wav(path: str, rate: int = 16000) -> str:
    sf.write(path, np.zeros((0, 1), np.float32), rate)
    return path


def write_gated_tone(path: str, seconds: float, rate: int = 16000) -> str:
    """A 150 Hz tone switched on and off at 2 Hz: cheap, voiced-looking long audio."""
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32), rate)
    return path


def write_truncated_wav(path: str, seconds: float = 2.0, rate: int = 16000) -> str:
    """A PCM WAV cut in the middle of its data chunk (the header still declares `seconds`)."""
    return _first_half_of(path, lambda full: write_soundfile(full, seconds, rate))


def write_video_without_audio(path: str, frames: int = 10) -> str:
    """An H.264 mp4 with a video stream and no audio stream."""
    with av.open(path, "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width = vs.height = 64
        vs.pix_fmt = "yuv420p"
        for i in range(frames):
            for p in vs.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def write_png_bytes(path: str) -> str:
    """A small PNG image under whatever name `path` has (e.g. .wav)."""
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format="PNG")
    return path


def write_float_wav(path: str, seconds: float, rate: int = 16000, gain: float = 1.0, poke: float | None = None) -> str:
    """32-bit float WAV of speech-like audio times `gain` (float WAV keeps values beyond ±1);
    `poke` (e.g. nan, inf) is written into one sample."""
    x = speechlike(seconds, rate) * gain
    if poke is not None:
        x[len(x) // 2] = poke
    sf.write(path, x, rate, subtype="FLOAT")
    return path


def write_silence(path: str, seconds: float, rate: int = 16000) -> str:
    sf.write(path, np.zeros(int(seconds * rate), np.float32), rate)
    return path


def write_hard_clipped(path: str, seconds: float, rate: int = 16000) -> str:
    """Speech amplified 20x and hard-clipped at full scale in 16-bit PCM."""
    sf.write(path, np.clip(speechlike(seconds, rate) * 20, -1, 1), rate, subtype="PCM_16")
    return path


def write_tone(path: str, seconds: float, rate: int = 16000, hz: float = 150.0) -> str:
    t = np.arange(max(1, int(round(seconds * rate)))) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
    return path


def write_long_gated_tone(path: str, seconds: float, rate: int = 16000, block_s: int = 60) -> str:
    """Like write_gated_tone, written block by block (hours of audio without hours in memory)."""
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        done = 0
        total = int(seconds * rate)
        while done < total:
            n = min(block_s * rate, total - done)
            t = (done + np.arange(n)) / rate
            f.write((0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32))
            done += n
    return path


def mp4_facts(data: bytes) -> dict:
    """Codec, size, durations and frame count of an mp4 (bytes) with one video and one audio stream."""
    with av.open(io.BytesIO(data)) as c:
        vs, aus = c.streams.video[0], c.streams.audio[0]
        facts = {"width": vs.codec_context.width, "height": vs.codec_context.height, "codec": vs.codec_context.name,
                 "audio_codec": aus.codec_context.name, "rate": aus.codec_context.sample_rate,
                 "video_s": float(vs.duration * vs.time_base), "audio_s": float(aus.duration * aus.time_base),
                 "frames": sum(1 for _ in c.decode(vs))}
    with av.open(io.BytesIO(data)) as c:
        facts["decoded_audio_s"] = sum(f.samples for f in c.decode(c.streams.audio[0])) / facts["rate"]
    return facts
