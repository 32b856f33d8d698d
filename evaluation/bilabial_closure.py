"""Corpus-level A/V alignment check: do the lips close on /p b m/ within one frame of the audio?

``python -m see_the_speaker.evaluation.bilabial_closure --corpus DIR`` reads every synthetic
clip's phoneme timeline and ground-truth landmarks and, for each bilabial phone (start time s
on the audio clock), looks at the frames that overlap ``[s - 1/fps, end + 1/fps]``: the phone
counts as *closed in time* when the inner-lip opening (landmarks 62/66, the same measure the
MediaPipe realism check uses) falls below ``--closed-px`` on one of them. Also reports the
offset (frames) from the frame holding the phone start to the first closed frame.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

BILABIAL = set("pbm")


def is_bilabial(symbol: str) -> bool:
    base = symbol.strip("ːˑ̥̩̃ʰʲʷ")
    return bool(base) and base[0] in BILABIAL and len(base) == 1


def check(root: str | Path, closed_px: float = 1.5, max_clips: int | None = None) -> dict:
    from ..data.corpus import Corpus

    c = Corpus(root)
    fps = c.fps
    n = closed = 0
    offsets: list[int] = []
    clips = c.clips[:max_clips] if max_clips else c.clips
    for rec in clips:
        a = c.load_arrays(rec)
        if "phone_symbols" not in a:
            continue
        lm = a["landmarks"]
        opening = np.linalg.norm(lm[:, 62] - lm[:, 66], axis=-1)  # [T] px
        for sym, s, e in zip(a["phone_symbols"], a["phone_start"], a["phone_end"]):
            if not is_bilabial(str(sym)):
                continue
            lo = max(0, int(np.floor((s - 1.0 / fps) * fps)))
            hi = min(rec.n_frames, int(np.ceil((e + 1.0 / fps) * fps)))
            if hi <= lo:
                continue
            n += 1
            seg = opening[lo:hi]
            shut = np.flatnonzero(seg < closed_px)
            if shut.size:
                closed += 1
                offsets.append(int(lo + shut[0]) - int(np.floor(s * fps)))
    off = np.array(offsets)
    return {
        "clips": len(clips), "bilabials": n, "closed_within_1_frame": closed / max(n, 1),
        "first_closed_offset_median": float(np.median(off)) if off.size else float("nan"),
        "first_closed_offset_abs_le_1": float(np.mean(np.abs(off) <= 1)) if off.size else float("nan"),
        "closed_px": closed_px,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard")
    parser.add_argument("--closed-px", type=float, default=1.5, help="inner-lip opening (px at the crop size) that counts as closed")
    parser.add_argument("--max-clips", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    r = check(Path(args.corpus).expanduser(), args.closed_px, args.max_clips)
    for k, v in r.items():
        print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
