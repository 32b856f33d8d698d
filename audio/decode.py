"""Speech file decoding with PyAV (the host's own decoder), with errors that say what is wrong.

Reads the first audio stream of any container FFmpeg knows (wav, flac, mp3, ogg/opus, m4a/aac,
and the audio track of mp4/mov/webm/mkv) into float32 `[C, T]` at the file's own sample rate and
channel layout. Frames are decoded one by one and only the requested [start, start+duration)
window is kept, so a short excerpt of a very long file costs little memory. The kept samples go
straight into one buffer sized from the container's declared duration (grown only when the
declaration was short), optionally mixed to mono frame by frame: peak memory is the result plus a
small slack, not the result plus a list of decoded pieces plus their concatenation.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from .processing import mix_to_mono

# A file whose header promises this much more audio than can be decoded is reported as truncated.
_TRUNCATION_TOLERANCE_S = 0.25
_TRUNCATION_TOLERANCE_FRACTION = 0.05


class AudioDecodeError(ValueError):
    """The file cannot be used as speech; the message names the file and the problem."""


@dataclass
class DecodedAudio:
    waveform: torch.Tensor  # [C, T] float32, roughly in [-1, 1]
    sample_rate: int
    source_channels: int  # channels in the file, before any mix-down
    source_duration: float | None  # what the container declares, seconds (None if unknown)

    @property
    def duration(self) -> float:
        return self.waveform.shape[-1] / self.sample_rate


def decode_audio(path: str, start: float = 0.0, duration: float = 0.0, mono: bool = False) -> DecodedAudio:
    """Decode `path`; keep `duration` seconds from `start` (duration 0 = to the end); `mono` averages
    the channels as they are decoded (processing.mix_to_mono, without a multi-channel copy)."""
    import av  # the host ships PyAV; imported lazily so the package imports without it

    name = os.path.basename(path)
    if not os.path.exists(path):
        raise AudioDecodeError(f"{name}: file not found")
    if not os.path.isfile(path):
        raise AudioDecodeError(f"{name}: not a file")
    if os.path.getsize(path) == 0:
        raise AudioDecodeError(f"{name}: file is empty (0 bytes)")
    if not (math.isfinite(start) and start >= 0):
        raise AudioDecodeError(f"{name}: start must be a finite number of seconds >= 0, got {start}")
    if not (math.isfinite(duration) and duration >= 0):
        raise AudioDecodeError(f"{name}: duration must be a finite number of seconds >= 0, got {duration}")

    try:
        container = av.open(path, mode="r", metadata_errors="replace")  # bad tags must not stop us
    except av.error.FFmpegError as e:
        raise AudioDecodeError(f"{name}: not a readable audio or video file ({_reason(e)})") from None
    with container:
        if not container.streams.audio:
            kinds = ", ".join(s.type for s in container.streams) or "no streams"
            raise AudioDecodeError(f"{name}: has no audio stream (found: {kinds})")
        stream = container.streams.audio[0]
        declared = _wav_declared_duration(path) or _declared_duration(container, stream)
        buf: _Buffer | None = None
        finite = True
        rate = channels = None
        first_sample = last_sample = None  # window in samples, set once the rate is known
        kept = position = 0
        resampler = resampler_setup = out_layout = None
        reached_end = True
        try:
            for frame in container.decode(stream):
                if rate is None:
                    rate, channels = frame.sample_rate, len(frame.layout.channels)
                    out_layout = frame.layout.name
                    first_sample = int(round(start * rate))
                    last_sample = int(round((start + duration) * rate)) if duration > 0 else None
                    expect = (declared - start) * rate if declared is not None else 60.0 * rate
                    if last_sample is not None:
                        expect = min(expect, last_sample - first_sample)
                    buf = _Buffer(1 if mono else channels, int(max(expect, 0)))
                setup = (frame.format.name, frame.layout.name, frame.sample_rate)
                if setup != resampler_setup:  # first frame, or the stream changed format mid-way
                    # Packed float output: one plane whatever the channel count (PyAV's planar
                    # path reads past FFmpeg's 8 inline plane pointers on > 8 channels), always
                    # in the first frame's layout and rate.
                    resampler = av.AudioResampler(format="flt", layout=out_layout, rate=rate)
                    resampler_setup = setup
                for out in resampler.resample(frame):
                    data = out.to_ndarray().reshape(-1, channels).T  # [C, n] float32
                    n = data.shape[1]
                    lo, hi = max(first_sample - position, 0), n
                    if last_sample is not None:
                        hi = min(n, last_sample - position)
                    if hi > lo:
                        piece = data[:, lo:hi]
                        finite = finite and bool(np.isfinite(piece).all())
                        if mono and channels > 1:
                            piece = mix_to_mono(torch.from_numpy(piece)).numpy()
                        buf.append(piece)
                        kept += hi - lo
                    position += n
                if last_sample is not None and position >= last_sample:
                    reached_end = False
                    break
        except av.error.FFmpegError as e:
            if not kept:
                raise AudioDecodeError(f"{name}: audio stream cannot be decoded ({_reason(e)})") from None
            raise AudioDecodeError(
                f"{name}: decoding failed after {position / (rate or 1):.2f} s ({_reason(e)}); "
                "the file is corrupt or truncated") from None

    if rate is None or position == 0:
        raise AudioDecodeError(f"{name}: contains no audio samples")
    if reached_end and declared is not None:
        missing = declared - position / rate
        if missing > max(_TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_FRACTION * declared):
            raise AudioDecodeError(
                f"{name}: truncated: the header declares {declared:.2f} s but only "
                f"{position / rate:.2f} s can be decoded")
    if kept == 0:
        raise AudioDecodeError(
            f"{name}: no audio in the requested window (start {start:.2f} s, file length "
            f"{position / rate:.2f} s)")
    if not finite:
        raise AudioDecodeError(f"{name}: contains NaN or infinite samples")
    return DecodedAudio(torch.from_numpy(buf.result()), int(rate), int(channels), declared)


class _Buffer:
    """[C, n] float32 samples appended in pieces into one preallocated array.

    Sized from the expected length plus 1 % and 1 s of slack; when a container under-declares its
    length it grows by half (the one case with a transient copy). `result()` is C-contiguous with
    exactly the appended samples (multi-channel rows are compacted in place, no copy)."""

    def __init__(self, channels: int, expected: int):
        self.channels, self.n = channels, 0
        self.data = np.empty((channels, expected + expected // 100 + 48000), np.float32)

    def append(self, piece: np.ndarray) -> None:
        k = piece.shape[1]
        if self.n + k > self.data.shape[1]:
            grown = np.empty((self.channels, max(self.n + k, self.data.shape[1] * 3 // 2)), np.float32)
            grown[:, :self.n] = self.data[:, :self.n]
            self.data = grown
        self.data[:, self.n:self.n + k] = piece
        self.n += k

    def result(self) -> np.ndarray:
        flat = self.data.reshape(-1)
        for c in range(1, self.channels):  # row c moves from c*capacity to c*n (never over rows still to move)
            flat[c * self.n:(c + 1) * self.n] = self.data[c, :self.n]
        return flat[:self.channels * self.n].reshape(self.channels, self.n)


def load_speech(path: str, start: float = 0.0, duration: float = 0.0, mix_to_mono: bool = True,
                normalize_loudness: bool = False, target_lufs: float = -20.0) -> dict:
    """What Load Speech does: decode (mixing to mono while decoding), optionally scale the result to
    `target_lufs` in place -> core AUDIO {"waveform": [1, C, T] float32, "sample_rate"}."""
    from . import processing
    decoded = decode_audio(path, start=start, duration=duration, mono=mix_to_mono)
    wave = decoded.waveform  # our own buffer: scaled in place, no second copy
    if normalize_loudness:
        wave = processing.normalize_loudness(wave, decoded.sample_rate, target_lufs, inplace=True)
    return {"waveform": wave.unsqueeze(0).contiguous(), "sample_rate": decoded.sample_rate}


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _wav_declared_duration(path: str) -> float | None:
    """Seconds the data chunk of a RIFF/WAVE header declares, None for other files.

    FFmpeg clamps a WAV's length to the file size, which would hide a cut-off recording; the
    header's own figure shows it. Streaming placeholders (size 0 or 0xFFFFFFFF) are ignored."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = None
        for _ in range(64):  # chunks before 'data' (fmt, LIST, fact, ...)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if cid == b"data":
                return size / byte_rate if byte_rate and size not in (0, 0xFFFFFFFF) else None
            if cid == b"fmt ":
                fmt = f.read(min(size, 16))
                byte_rate = int.from_bytes(fmt[8:12], "little") if len(fmt) >= 12 else None
                size -= len(fmt)
            f.seek(size + (size & 1), 1)
    return None


def _reason(e: Exception) -> str:
    text = getattr(e, "strerror", None) or str(e)
    return text.split(":")[0].strip() if ": '" in text else text.strip()
