"""A short fuzz run of the speech decoder (the full run: python tests/fuzz/audio_cases.py --cases 10000)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz"))
import audio_cases  # noqa: E402


def test_mutated_files_only_raise_clear_errors(tmp_path):
    rng = np.random.default_rng(1234)
    seeds = audio_cases.seed_files(str(tmp_path))
    exts = list(seeds)
    unexpected = []
    for i in range(300):
        ext = exts[i % len(exts)]
        err = audio_cases.run_case(audio_cases.mutate(seeds[ext], rng, seeds), ext, str(tmp_path), i)
        if err is not None:
            unexpected.append((i, ext, repr(err)))
    assert not unexpected, unexpected[:5]
