"""Evaluation report: one command -> a markdown report with plots, measured in this run
(See the Speaker, Wang et al., arXiv 2510.26819: stage 1 SCFP, stage 2 HRTF).

    python -m see_the_speaker.evaluation.report --out docs/eval_report.md \
        [--corpus ~/.cache/see-the-speaker/corpus/standard] [--scfp weights/scfp_default.safetensors] \
        [--motion weights/motion_default.safetensors] [--renderer weights/renderer_default.safetensors] \
        [--clips N] [--threads T] [--quick] [--long] [--skip SECTION ...]
    see-the-speaker eval report ...          (the same)

Writes the markdown, a .json of every figure beside it, and PNG plots into img/<name>/ beside it
(docs/img/eval_report/). Sections, each calling the evaluation commands' own functions:

1. `scfp`: stage-1 ablation — adaptive SAW vs fixed β⁰ vs no prior (evaluation/eval_scfp.py);
2. `renderer`: PSNR/SSIM, identity, mouth motion of the renderer (evaluation/eval_renderer.py);
3. `lipsync`: the motion-space table (evaluation/eval_motion.py) and one held-out clip's mouth
   opening over time, rendered generated motion vs the true video (evaluation/report_clip.py);
4. `identity`: dlib distance of every rendered frame of that clip to its portrait, over time;
5. `speed`: wall time and peak RAM of the whole long_speech graph against the speech length
   (benchmarks/any_length.py in subprocesses; 10 s and 60 s, with --long also 600 s).

`--quick` shrinks every section (fewer clips, speakers, seeds and shorter speech) for a smoke run;
the settings actually used are printed in the report. Numbers come only from this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

import torch

from .report_sections import (clip_run, log, section_identity, section_lipsync, section_motion_table, section_renderer,
                              section_scfp, section_speed)

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = {"scfp": "1. Stage 1: prior ablation", "renderer": "2. Renderer", "lipsync": "3. Lip sync",
            "identity": "4. Identity over time", "speed": "5. Speed and memory"}
BUNDLES = {"scfp": "scfp_default", "motion": "motion_default", "renderer": "renderer_default"}  # flag -> card


@dataclasses.dataclass
class ReportConfig:
    out: str = "docs/eval_report.md"
    corpus: str = "~/.cache/see-the-speaker/corpus/standard"
    scfp_corpus: str | None = None  # stage 1's held-out speakers (None = corpus); each bundle's own corpus
    scfp: str = os.path.join(PACK, "weights", "scfp_default.safetensors")
    motion: str = os.path.join(PACK, "weights", "motion_default.safetensors")
    renderer: str = os.path.join(PACK, "weights", "renderer_default.safetensors")
    threads: int = 2
    quick: bool = False
    skip: tuple[str, ...] = ()
    split: str = "test"  # held-out split of the renderer / motion sections
    clips: int = 20  # held-out clips of the renderer evaluation (the motion table uses every clip of the split; --quick: this many)
    seed: int = 0
    steps: int = 20  # Motion Diffusion DDIM steps
    guidance: float = 2.0
    strength: float = 1.0  # LipRefine
    scfp_seeds: int = 8
    scfp_speakers: int = 0  # 0 = every test speaker (val calibrates SAW)
    scfp_steps: int | None = None  # None = the bundle's
    render_clips: int = 20  # eval_motion: clips rendered and judged by MediaPipe (spread over the speakers: one each)
    clip: str | None = None  # clip of sections 3-4 (default: the longest of the split; --quick: the shortest)
    identity_every: int = 1  # section 4: judge every Nth frame
    speed_seconds: tuple[float, ...] = (10.0, 60.0)
    fidelities: tuple[float, ...] = (1.0, 0.5, 0.0)  # renderer section

    @property
    def stage1_corpus(self) -> str:
        return self.scfp_corpus or self.corpus

    def wants(self, section: str) -> bool:
        return section not in self.skip

    @classmethod
    def quick_defaults(cls) -> dict:
        return {"clips": 2, "scfp_seeds": 2, "scfp_speakers": 10, "render_clips": 1, "identity_every": 5,
                "speed_seconds": (2.0, 5.0), "fidelities": (1.0, 0.0)}


# --- inputs and provenance -------------------------------------------------------------------

def training_command(card: str) -> str:
    """The recipe a model card (weights/<name>.md) gives: its code block from the training command on."""
    try:
        lines = open(card, encoding="utf-8").read().splitlines()
    except OSError:
        return f"(model card {card} not found)"
    for i, line in enumerate(lines):
        if re.match(r"\s*python -m see_the_speaker\.training\.train_", line):
            end = next((j for j in range(i, len(lines)) if lines[j].startswith("```")), len(lines))
            return "\n".join(x.rstrip() for x in lines[i:end])
    return f"(no training command in {card})"


def check_inputs(cfg: ReportConfig) -> None:
    """Every file the chosen sections read exists, else SystemExit naming it and how to make it."""
    need = {"scfp": {"scfp"}, "renderer": {"renderer"}, "lipsync": {"motion", "renderer"},
            "identity": {"motion", "renderer"}, "speed": {"motion", "renderer"}}
    flags = sorted({f for s in SECTIONS if cfg.wants(s) for f in need[s]})
    problems = []
    for flag in flags:
        path = getattr(cfg, flag)
        if not os.path.isfile(path):
            card = os.path.join(PACK, "weights", BUNDLES[flag] + ".md")
            problems.append(f"{flag} bundle not found: {path}\n  make it as {os.path.relpath(card, PACK)} says:\n    "
                            + training_command(card).replace("\n", "\n    ")
                            + f"\n  or pass --{flag} PATH, or leave its sections out with --skip")
    corpora = {cfg.corpus} if any(cfg.wants(s) for s in ("renderer", "lipsync", "identity")) else set()
    corpora |= {cfg.stage1_corpus} if cfg.wants("scfp") else set()
    for corpus in sorted(corpora):
        if not os.path.isfile(os.path.join(os.path.expanduser(corpus), "index.json")):
            problems.append(f"corpus not found: {corpus} (no index.json)\n  make it with: "
                            "see-the-speaker corpus generate --preset standard (see docs/corpus.md for --tie)")
    if problems:
        raise SystemExit("evaluation report: missing inputs\n" + "\n".join(problems))


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", PACK, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", PACK, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not dirty:
        return head
    return head + f" + uncommitted changes in {len(dirty)} tracked files ({', '.join(d[3:] for d in dirty)})"


def bundle_row(role: str, path: str) -> str:
    import hashlib

    from ..checkpoint import read_header
    shown = os.path.relpath(path, PACK) if os.path.abspath(path).startswith(PACK + os.sep) else path
    if not os.path.isfile(path):
        return f"| {role} | `{shown}` | missing | – | – |"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    try:
        extra = json.loads(read_header(path).get("__metadata__", {}).get("sts.extra", "{}"))
    except Exception:  # noqa: BLE001 (a provenance line must not stop the report)
        extra = {}
    trained = "**NO: untrained fixture, figures are meaningless**" if extra.get("trained") is False else "yes"
    return f"| {role} | `{shown}` | `{h.hexdigest()[:12]}` | {os.path.getsize(path) / 2**20:.1f} | {trained} |"


def header(cfg: ReportConfig, command: str) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["# Evaluation report", "",
             "See the Speaker (Wang, Wang, Cheng, Liu; arXiv 2510.26819), our implementation: speech -> portrait "
             "(stage 1, SCFP) -> motion (motion diffusion + LipRefine) -> rendered talking face (stage 2, HRTF). "
             "Every figure below was measured by the run this file records; regenerate it with the same command.", "",
             f"* command: `{command}`",
             f"* date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; commit {git_state()}",
             f"* machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average at start "
             f"{load}; torch {torch.__version__}, {cfg.threads} torch threads",
             f"* corpus: `{cfg.corpus}`" + (f"; stage 1: `{cfg.stage1_corpus}`" if cfg.scfp_corpus else ""),
             f"* settings: `{json.dumps(dataclasses.asdict(cfg))}`"
             + (" (**--quick**: a smoke run)" if cfg.quick else ""),
             "", "| bundle | file | sha256 | MB | trained |", "|---|---|---|---:|---|"]
    lines += [bundle_row(role, getattr(cfg, role)) for role in ("scfp", "motion", "renderer")]
    return "\n".join(lines)


# --- the report ------------------------------------------------------------------------------

def build_report(cfg: ReportConfig, command: str) -> tuple[str, dict]:
    """-> (markdown, figures); writes the plots."""
    check_inputs(cfg)
    md_dir = os.path.dirname(os.path.abspath(cfg.out))
    img_dir = os.path.join(md_dir, "img", os.path.splitext(os.path.basename(cfg.out))[0])
    parts, figures, took = [header(cfg, command)], {}, {}

    def timed(name: str, fn):
        if not cfg.wants(name):
            parts.append(f"## {SECTIONS[name]}\n\nSkipped in this run (`--skip {name}`).")
            return None
        log(f"report: {name} ...")
        t0 = time.time()
        out = fn()
        took[name] = round(time.time() - t0, 1)
        return out

    for name, fn in (("scfp", section_scfp), ("renderer", section_renderer)):
        text = timed(name, lambda fn=fn: fn(cfg, img_dir, md_dir, figures))
        if text:
            parts.append(text)
    if cfg.wants("lipsync") or cfg.wants("identity"):
        t0 = time.time()
        log("report: one clip through stage 2 ...")
        run = clip_run(cfg)
        took["clip (render + judge, sections 3-4)"] = round(time.time() - t0, 1)
    text = timed("lipsync", lambda: "\n\n".join(["## 3. Lip sync", section_motion_table(cfg, figures),
                                                 section_lipsync(cfg, run, img_dir, md_dir, figures)]))
    if text:
        parts.append(text)
    text = timed("identity", lambda: section_identity(cfg, run, img_dir, md_dir, figures))
    if text:
        parts.append(text)
    text = timed("speed", lambda: section_speed(cfg, img_dir, md_dir, figures))
    if text:
        parts.append(text)
    if took:
        parts.append("Section times (s, this run): " + ", ".join(f"{k} {v:g}" for k, v in took.items()) + ".")
    figures["seconds"] = took
    return "\n\n".join(parts) + "\n", figures


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = ReportConfig()
    p.add_argument("--out", default=d.out, help="markdown file to write (plots go to img/<its name>/ beside it)")
    p.add_argument("--corpus", default=d.corpus, help="corpus with the held-out speakers")
    p.add_argument("--scfp-corpus", default=None, help="corpus of stage 1's held-out speakers, when the stage-1 "
                   "bundle was trained on another corpus than the stage-2 bundles (default: --corpus)")
    for flag in ("scfp", "motion", "renderer"):
        p.add_argument(f"--{flag}", default=getattr(d, flag), help=f"{flag} bundle (default: the bundled "
                       f"weights/{BUNDLES[flag]}.safetensors)")
    p.add_argument("--clips", type=int, default=None, help=f"held-out clips for the renderer and motion sections "
                   f"(default {d.clips}, --quick {ReportConfig.quick_defaults()['clips']})")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (also the speed benchmark's)")
    p.add_argument("--quick", action="store_true", help="smoke run: fewer clips, speakers, seeds, shorter speech")
    p.add_argument("--long", action="store_true", help="speed: also 600 s of speech")
    p.add_argument("--skip", nargs="*", default=[], choices=list(SECTIONS), help="leave these sections out")
    p.add_argument("--split", default=d.split, help="held-out split of the renderer and motion sections")
    p.add_argument("--steps", type=int, default=d.steps, help="Motion Diffusion DDIM steps")
    p.add_argument("--scfp-seeds", type=int, default=None,
                   help=f"portraits per speaker and prior (default {d.scfp_seeds})")
    p.add_argument("--scfp-speakers", type=int, default=None, help="held-out speakers for stage 1 (0 = all)")
    p.add_argument("--scfp-steps", type=int, default=None, help="stage-1 DDIM steps (default: the bundle's)")
    p.add_argument("--render-clips", type=int, default=None, help=f"motion table: clips rendered and judged by "
                   f"MediaPipe (default {d.render_clips})")
    p.add_argument("--clip", default=None, help="clip id for the over-time sections (default: the split's longest)")
    p.add_argument("--identity-every", type=int, default=None, help="identity over time: judge every Nth frame")
    p.add_argument("--speed-seconds", type=float, nargs="+", default=None, help="speech lengths of the speed section")


def config_from_args(a: argparse.Namespace) -> ReportConfig:
    """Flags given on the command line win, then --quick's smaller values, then the defaults."""
    sized = ("clips", "scfp_seeds", "scfp_speakers", "render_clips", "identity_every", "speed_seconds")
    values = {**(ReportConfig.quick_defaults() if a.quick else {}),
              **{k: getattr(a, k) for k in sized if getattr(a, k) is not None}}
    cfg = ReportConfig(out=a.out, corpus=a.corpus, scfp_corpus=a.scfp_corpus, scfp=a.scfp, motion=a.motion, renderer=a.renderer,
                       threads=a.threads, quick=a.quick, skip=tuple(a.skip), split=a.split, steps=a.steps,
                       scfp_steps=a.scfp_steps, clip=a.clip, **values)
    cfg.speed_seconds = tuple(float(x) for x in cfg.speed_seconds) + ((600.0,) if a.long else ())
    cfg.speed_seconds = tuple(dict.fromkeys(cfg.speed_seconds))  # --long with 600 given: once
    return cfg


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    command = getattr(args, "command_line", None) or shlex.join(["see-the-speaker"] + sys.argv[1:])
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    text, figures = build_report(cfg, command)
    os.makedirs(os.path.dirname(os.path.abspath(cfg.out)), exist_ok=True)
    with open(cfg.out, "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.splitext(cfg.out)[0] + ".json", "w") as f:
        json.dump(figures, f, indent=1, default=float)
    log(f"report: wrote {cfg.out} in {time.time() - t0:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(prog="python -m see_the_speaker.evaluation.report",
                                description=__doc__.split("\n\n")[0])
    add_arguments(p)
    a = p.parse_args(argv)
    a.command_line = shlex.join(["python", "-m", "see_the_speaker.evaluation.report"] + argv)
    return run(a)


if __name__ == "__main__":
    raise SystemExit(main())
