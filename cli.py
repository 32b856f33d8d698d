"""`see-the-speaker` command line: every non-UI job of the pack (data, training, evaluation,
headless runs) behind one entry point.

Each job lives in its own module exposing `add_arguments(parser)` and `run(args)`; this file only
wires them into subcommands and imports a module when its subcommand is used.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (group, command) -> (module relative to this package, one-line help)
COMMANDS: dict[tuple[str, str], tuple[str, str]] = {
    ("corpus", "generate"): (".data.generate", "generate the synthetic talking-face corpus"),
    ("corpus", "preprocess"): (".data.preprocess_video", "turn real talking-head videos into the corpus format"),
    ("corpus", "check"): (".evaluation.corpus_realism", "judge a corpus with independent face networks"),
    ("corpus", "baseline"): (".evaluation.voice_face_baseline", "voice->face learnability baseline"),
    ("corpus", "bilabial"): (".evaluation.bilabial_closure", "check lips close on /p b m/ within one frame"),
    ("comfy", "provision"): (".harness.commands", "download ComfyUI 0.3.75 into the cache"),
    ("comfy", "serve"): (".harness.commands", "start ComfyUI with this pack (UI at the printed URL)"),
    ("comfy", "run"): (".harness.commands", "run an API-format workflow in a headless ComfyUI"),
    ("train", "portrait"): (".training.train_scfp", "train stage 1 (ConRe speech encoder, autoencoder, denoiser)"),
    ("train", "renderer"): (".training.train_renderer", "train the stage-2 renderer (codebook, reconstruction, code transformer)"),
    ("train", "motion"): (".training.train_motion", "train stage-2 motion (sync expert, motion diffusion, LipRefine)"),
    ("calibrate", "saw"): (".training.saw_calibration", "measure on the val speakers the prior weight sampling needs per speech condition (SAW's target)"),
    ("fit", "saw"): (".training.fit_saw", "refit a stage-1 bundle's SAW to a calibrated prior weight (saw_calibration)"),
    ("fit", "mouth"): (".training.fit_mouth_layout", "fit a renderer bundle's mouth layout and interior colours (other weights frozen)"),
    ("export", "portrait"): (".training.export_scfp", "export a stage-1 run to one .safetensors bundle"),
    ("export", "renderer"): (".training.export_renderer", "export a renderer run to one .safetensors bundle"),
    ("export", "motion"): (".training.export_motion", "export a motion run to one .safetensors bundle"),
    ("eval", "portrait"): (".evaluation.eval_scfp", "evaluate stage 1 on held-out speakers (retrieval, ablation)"),
    ("eval", "renderer"): (".evaluation.eval_renderer", "evaluate the renderer on held-out speakers (PSNR/SSIM, identity, probe)"),
    ("eval", "motion"): (".evaluation.eval_motion", "evaluate motion on held-out speakers (lip sync, lag, seams)"),
    ("eval", "report"): (".evaluation.report", "the evaluation report: every stage's figures + plots in one markdown file"),
    ("demo", ""): (".harness.demo", "the main job: sample speech -> the shipped workflow -> output file"),
}


def _load(module: str):
    return importlib.import_module(module, package=__package__ or "see_the_speaker")


def _own_parser_job(mod, job: str) -> bool:
    """True when a job module parses its own arguments (`main(argv)`), not through ours."""
    adder = getattr(mod, f"add_{job}_arguments", None) or getattr(mod, "add_arguments", None)
    runner = getattr(mod, f"run_{job}", None) or getattr(mod, "run", None)
    return adder is None or runner is None


def _selected(argv: list[str]) -> tuple[str, str] | None:
    """The (group, command) the command line asks for, from its first two words."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for group, command in COMMANDS:
        if words[:1] == [group] and (command == "" or words[1:2] == [command]):
            return group, command
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the job named in `argv` is imported (the others just list their help)."""
    chosen = _selected(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="see-the-speaker", description=__doc__.split("\n\n")[0])
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    sub_by_group: dict[str, argparse._SubParsersAction] = {}
    for (group, command), (module, help_text) in COMMANDS.items():
        job = command or group
        mod = missing = None
        if (group, command) == chosen:
            try:
                mod = _load(module)
            except ImportError as e:  # optional parts not installed: the subcommand explains itself
                missing = str(e)
        own = mod is not None and _own_parser_job(mod, job)
        if command == "":
            p = groups.add_parser(group, help=help_text, add_help=not own)
        else:
            if group not in sub_by_group:
                g = groups.add_parser(group, help=f"{group} jobs")
                sub_by_group[group] = g.add_subparsers(dest="command", required=True, metavar="JOB")
            p = sub_by_group[group].add_parser(command, help=help_text, add_help=not own)
        p.set_defaults(_module=module, _job=job, _own_parser=own)
        if missing is not None:
            p.set_defaults(_missing=missing)
        elif mod is not None and not own:
            (getattr(mod, f"add_{job}_arguments", None) or getattr(mod, "add_arguments"))(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args, rest = parser.parse_known_args(argv)
    if getattr(args, "_missing", None):
        print(f"see-the-speaker: this job cannot run here: {args._missing}", file=sys.stderr)
        return 2
    mod = _load(args._module)
    if args._own_parser:  # hand the job the rest of the command line (e.g. --help)
        return int(mod.main(rest[1:] if rest[:1] == ["--"] else rest) or 0)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    runner = getattr(mod, f"run_{args._job}", None) or getattr(mod, "run")
    return int(runner(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
