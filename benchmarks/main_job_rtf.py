"""Real-time factor of the main job (workflows/talking_face.json) in the real ComfyUI server.

    python benchmarks/main_job_rtf.py [--seconds 10] [--threads 2]

Starts a headless ComfyUI 0.3.75 with this pack (harness/server.py) and the bundled default
weights, writes `--seconds` of speech (samples/speech_en.flac looped, any_length.write_speech) and runs
the shipped workflow as is (4 portrait candidates, 20 DDIM steps each stage, LipRefine, 256²,
H.264 + AAC) three times: a cold run (models loaded from disk), then two warm runs on fresh copies of
the speech (every node re-executes; only the loaded models are reused, as in a ComfyUI session).
Prints wall time per run, seconds of compute per second of speech, and the server start time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(ROOT))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from any_length import write_speech  # noqa: E402  (the sample looped to a length, as FLAC)

from see_the_speaker.harness.server import ComfyServer, ServerConfig  # noqa: E402
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="speech length")
    p.add_argument("--threads", type=int, default=2, help="torch threads of the server (OMP_NUM_THREADS)")
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sts_rtf_")
    env = {"OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads)}
    t0 = time.perf_counter()
    with ComfyServer(ServerConfig(env=env, startup_timeout=300)) as server:
        start_s = time.perf_counter() - t0
        client = server.client(timeout=120)
        print(f"server start {start_s:.1f} s; {a.seconds:g} s of speech; {a.threads} threads; {os.cpu_count()} CPUs")
        print("\n| run | wall s | s per s of speech |\n|---|---:|---:|")
        for k, name in enumerate(("cold (loads the models)", "warm", "warm")):
            speech = os.path.join(tmp, f"rtf_speech_{k}.flac")
            write_speech(speech, a.seconds)
            client.upload(speech)
            graph = set_inputs(load_api_workflow("talking_face"), {
                "STS_LoadSpeech": {"audio": os.path.basename(speech)},
                "STS_SaveTalkingVideo": {"filename_prefix": f"rtf/talking_face_{k}"},
                "SaveImage": {"filename_prefix": f"rtf/portrait_{k}"},
            })
            t = time.perf_counter()
            result = client.run(graph, timeout=3600)
            wall = time.perf_counter() - t
            if not result.ok:
                raise SystemExit(f"run {k} failed: {result.error}")
            print(f"| {name} | {wall:.1f} | {wall / a.seconds:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
