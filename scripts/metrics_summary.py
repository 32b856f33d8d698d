"""Summarise training logs (metrics.jsonl): steps, logged wall time and throughput per phase.

    python scripts/metrics_summary.py weights/*.metrics.jsonl
    python scripts/metrics_summary.py runs/renderer/metrics.jsonl runs/motion/*/metrics.jsonl runs/scfp/*/metrics.jsonl

Every trainer logs rows `{"step", "time_s", "phase", ..., "<items>_per_s"}` (training/runtime.py).
Per phase this prints the first and last logged step, the logged wall time (the sum of the time
between consecutive rows; `time_s` restarts with every process, e.g. after a resume, and the time
after a process's last row is not counted), the median and range of the throughput column, and the
last value of every other column whose name starts with `val_` or `heldout_`.
"""

from __future__ import annotations

import json
import statistics
import sys


def summarise(path: str) -> dict[str, dict]:
    phases: dict[str, dict] = {}
    prev_t = 0.0
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            t = float(row.get("time_s", 0.0))
            dt = t - prev_t if t >= prev_t else t  # time_s restarted: a new process
            prev_t = t
            ph = phases.setdefault(row.get("phase", "?"), {"first": row["step"], "last": row["step"], "wall_s": 0.0,
                                                           "rates": {}, "final": {}})
            ph["first"], ph["last"] = min(ph["first"], row["step"]), max(ph["last"], row["step"])
            ph["wall_s"] += dt
            for k, v in row.items():
                if k.endswith("_per_s"):
                    ph["rates"].setdefault(k, []).append(float(v))
                elif k.startswith(("val_", "heldout_")):
                    ph["final"][k] = v
    return phases


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    for path in argv:
        print(path)
        for name, ph in summarise(path).items():
            rates = "; ".join(f"{k} median {statistics.median(v):.1f} (range {min(v):.1f}-{max(v):.1f})"
                              for k, v in ph["rates"].items())
            final = ", ".join(f"{k} {v}" for k, v in ph["final"].items())
            print(f"  {name}: steps {ph['first']}-{ph['last']}, logged wall {ph['wall_s'] / 60:.1f} min"
                  + (f", {rates}" if rates else "") + (f"; last {final}" if final else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
