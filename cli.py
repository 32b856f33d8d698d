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
    ("comfy", "provision"): (".harness.commands", "download ComfyUI 0.3.75 into the cache"),
    ("comfy", "serve"): (".harness.commands", "start ComfyUI with this pack (UI at the printed URL)"),
    ("comfy", "run"): (".harness.commands", "run an API-format workflow in a headless ComfyUI"),
    ("demo", ""): (".harness.demo", "the main job: sample speech -> the shipped workflow -> output file"),
}


def _load(module: str):
    return importlib.import_module(module, package=__package__ or "see_the_speaker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="see-the-speaker", description=__doc__.split("\n\n")[0])
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    sub_by_group: dict[str, argparse._SubParsersAction] = {}
    for (group, command), (module, help_text) in COMMANDS.items():
        if command == "":
            p = groups.add_parser(group, help=help_text)
        else:
            if group not in sub_by_group:
                g = groups.add_parser(group, help=f"{group} jobs")
                sub_by_group[group] = g.add_subparsers(dest="command", required=True, metavar="JOB")
            p = sub_by_group[group].add_parser(command, help=help_text)
        p.set_defaults(_module=module, _job=command or group)
        try:
            mod = _load(module)
        except ImportError as e:  # optional parts not installed: the subcommand explains itself
            p.set_defaults(_missing=str(e))
            continue
        adder = getattr(mod, f"add_{command}_arguments", None) or getattr(mod, "add_arguments")
        adder(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"see-the-speaker: this job cannot run here: {args._missing}", file=sys.stderr)
        return 2
    mod = _load(args._module)
    runner = getattr(mod, f"run_{args._job}", None) or getattr(mod, "run")
    result = runner(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
