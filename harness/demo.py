"""`see-the-speaker demo`: the README's main job, headless.

Starts a real ComfyUI with this pack (and its bundled weights), uploads the bundled sample speech,
runs the main shipped workflow and copies the result into `--out`, printing where it is.
"""

from __future__ import annotations

import argparse
import os
import time

from .commands import run_workflow
from .workflow import PACK_DIR, load_api_workflow, set_inputs

# The main shipped workflow: speech -> portrait candidates -> motion -> lip refine -> talking mp4.
MAIN_WORKFLOW = "talking_face"
SAMPLE_SPEECH = os.path.join(PACK_DIR, "samples", "speech_en.flac")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speech", default=SAMPLE_SPEECH, help="speech file to use (default: the bundled sample)")
    p.add_argument("--workflow", default=MAIN_WORKFLOW, help="shipped workflow name or API-format JSON path")
    p.add_argument("--out", default=os.path.join("output", "demo"), help="folder for the result files")
    p.add_argument("--url", default=None, help="use a running ComfyUI at this URL instead of starting one")


def run(args) -> int:
    if not os.path.isfile(args.speech):
        raise SystemExit(f"speech file not found: {args.speech}")
    graph = set_inputs(load_api_workflow(args.workflow),
                       {"STS_LoadSpeech": {"audio": os.path.basename(args.speech)}})
    t0 = time.perf_counter()
    paths = run_workflow(graph, [args.speech], args.out, args.url, timeout=3600)
    print(f"[demo] workflow {args.workflow!r} finished in {time.perf_counter() - t0:.1f} s; outputs:")
    for p in paths:
        print(p)
    for p in paths:
        if p.endswith(".mp4"):
            print(f"[demo] talking-face video: {p}")
    return 0 if paths else 1
