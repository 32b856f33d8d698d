"""Model load times: every bundle in weights/ loaded the way the loader nodes load it
(checkpoint.load_model: read + validate the safetensors file, rebuild the module from its config,
load the weights), each in fresh processes.

    python benchmarks/load_times.py [--repeats 3] [--threads 2] [BUNDLE ...]

Per bundle and fresh process: `import` = importing torch and the pack, `load` = the first
load_model, `again` = a second load_model in the same process (what a re-queued prompt costs when
the host dropped the model), `first use` = the motion bundle's content front end (Whisper-tiny.en,
loaded lazily on the first speech) on 1 s of audio. Medians over `--repeats` processes; the file
is in the page cache after the first process, as on a server that has loaded it once.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(path: str, threads: int) -> dict:
    t0 = time.perf_counter()
    import torch

    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models import motion_bundle, renderer, scfp  # noqa: F401  (register the kinds)

    torch.set_num_threads(threads)
    out = {"import": time.perf_counter() - t0}
    t0 = time.perf_counter()
    model, ckpt = load_model(path)
    out["load"] = time.perf_counter() - t0
    out["kind"] = ckpt.kind
    out["params_m"] = sum(p.numel() for p in model.parameters()) / 1e6
    del model
    t0 = time.perf_counter()
    model, _ = load_model(path)
    out["again"] = time.perf_counter() - t0
    if ckpt.kind == "motion":
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.speech_raw(0.01 * torch.randn(16000))
        out["first_use"] = time.perf_counter() - t0
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bundles", nargs="*", help="default: weights/*.safetensors")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.threads)))
        return
    bundles = a.bundles or sorted(glob.glob(os.path.join(PACK, "weights", "*.safetensors")))
    print(f"{a.repeats} fresh processes per bundle, {a.threads} torch threads, medians (s)\n")
    head = f"{'bundle':34}{'kind':>9}{'MB':>7}{'M params':>10}{'import':>8}{'load':>7}{'again':>7}{'first use':>11}"
    print(head + "\n" + "-" * len(head))
    for path in bundles:
        runs = []
        for _ in range(a.repeats):
            r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path, "--threads", str(a.threads)],
                               stdout=subprocess.PIPE, text=True, check=True)
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        med = lambda k: statistics.median(x[k] for x in runs) if k in runs[0] else None  # noqa: E731
        first = med("first_use")
        print(f"{os.path.basename(path):34}{runs[0]['kind']:>9}{os.path.getsize(path) / 2**20:7.1f}{runs[0]['params_m']:10.2f}"
              f"{med('import'):8.2f}{med('load'):7.2f}{med('again'):7.2f}{'' if first is None else f'{first:.2f}':>11}",
              flush=True)


if __name__ == "__main__":
    main()
