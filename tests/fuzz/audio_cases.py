"""Fuzz cases for the speech decoder: valid files of every container, then mutated.

Mutations: truncation at a random point, random byte flips, random garbage inserted, header
swaps between containers, and pure random bytes. The decoder must either return finite audio
or raise its own AudioDecodeError — never crash, hang, or raise anything else.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import media  # noqa: E402

SEEDS = [
    ("wav", lambda p: media.write_soundfile(p, 0.3, 16000)),
    ("flac", lambda p: media.write_soundfile(p, 0.3, 8000, channels=2)),
    ("mp3", lambda p: media.write_av(p, 0.3, 16000, codec="libmp3lame")),
    ("ogg", lambda p: media.write_av(p, 0.3, 48000, codec="libopus")),
    ("m4a", lambda p: media.write_av(p, 0.3, 22050, codec="aac")),
    ("mp4", lambda p: media.write_av(p, 0.3, 16000, codec="aac", with_video=True)),
]


def seed_files(folder: str) -> dict[str, bytes]:
    out = {}
    for ext, writer in SEEDS:
        path = os.path.join(folder, f"seed.{ext}")
        writer(path)
        with open(path, "rb") as f:
            out[ext] = f.read()
    return out


def mutate(data: bytes, rng: np.random.Generator, seeds: dict[str, bytes]) -> bytes:
    kind = rng.integers(6)
    buf = bytearray(data)
    if kind == 0 and len(buf) > 1:  # truncate
        return bytes(buf[: rng.integers(0, len(buf))])
    if kind == 1:  # flip bytes
        for _ in range(int(rng.integers(1, 64))):
            buf[int(rng.integers(len(buf)))] = int(rng.integers(256))
        return bytes(buf)
    if kind == 2:  # insert garbage
        at = int(rng.integers(len(buf) + 1))
        return bytes(buf[:at]) + rng.bytes(int(rng.integers(1, 512))) + bytes(buf[at:])
    if kind == 3:  # another container's header on this body
        other = list(seeds.values())[int(rng.integers(len(seeds)))]
        cut = int(rng.integers(1, min(len(other), 256)))
        return other[:cut] + bytes(buf[cut:])
    if kind == 4:  # zero a block
        at = int(rng.integers(len(buf)))
        n = int(rng.integers(1, 4096))
        buf[at:at + n] = bytes(min(n, len(buf) - at))
        return bytes(buf)
    return rng.bytes(int(rng.integers(0, 4096)))  # random bytes


def run_case(data: bytes, ext: str, folder: str, index: int):
    """Decode one case; returns None on success or clear refusal, else the unexpected exception."""
    from see_the_speaker.audio.decode import AudioDecodeError, decode_audio
    path = os.path.join(folder, f"case{index % 8}.{ext}")
    with open(path, "wb") as f:
        f.write(data)
    try:
        d = decode_audio(path)
        assert np.isfinite(d.waveform.numpy()).all()
    except AudioDecodeError:
        pass
    except Exception as e:  # noqa: BLE001 - this is what the fuzzer hunts for
        return e
    return None


if __name__ == "__main__":  # python tests/fuzz/audio_cases.py [--cases 10000] [--seed 0]
    import argparse
    import tempfile
    import time
    p = argparse.ArgumentParser(description="Fuzz the speech decoder")
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    failures = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        seeds = seed_files(tmp)
        exts = list(seeds)
        for i in range(a.cases):
            ext = exts[int(rng.integers(len(exts)))]
            err = run_case(mutate(seeds[ext], rng, seeds), ext, tmp, i)
            if err is not None:
                failures.append((i, ext, repr(err)))
    dt = time.perf_counter() - t0
    print(f"{a.cases} cases in {dt:.1f} s ({a.cases / dt:.0f}/s): {len(failures)} unexpected errors")
    for f in failures[:20]:
        print(" ", f)
    sys.exit(1 if failures else 0)
