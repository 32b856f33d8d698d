"""A short fuzz run of the face align / paste-back path, functions and nodes (the full run:
python tests/fuzz/image_cases.py --cases 10000; figures in docs/reliability.md)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fuzz"))
import image_cases  # noqa: E402


def test_mutated_images_only_raise_clear_errors():
    out = image_cases.run(200, seed=1234, log=sys.stderr)
    assert not out["failures"], out["failures"][:5]
    counts = out["counts"]
    assert counts.get("functions:ok", 0) > 20 and counts.get("functions:refused", 0) > 20, counts


def test_a_dying_worker_is_reported_and_the_run_goes_on(monkeypatch):
    monkeypatch.setenv("STS_FUZZ_ABORT_AT", "3")
    out = image_cases.run(6, seed=0, log=sys.stderr)
    assert [i for i, _ in out["failures"]] == [3] and "signal 6" in out["failures"][0][1], out["failures"]
    assert out["counts"]["crashed"] == 1 and out["counts"]["functions:ok"] + out["counts"]["functions:refused"] == 5
