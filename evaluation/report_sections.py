"""The sections of the evaluation report (evaluation/report.py; See the Speaker, arXiv 2510.26819).

Each `section_*` runs one evaluation through the evaluation commands' own functions, saves its plot
(evaluation/motion_plot.py) and returns its markdown; the figures go into `figures` for the JSON.
`cfg` is a report.ReportConfig.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .report import ReportConfig

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _png(img_dir: str, name: str, img: np.ndarray, rel_to: str) -> str:
    """Save an RGB plot; -> markdown image link relative to the report's folder."""
    from .motion_plot import save_png
    path = os.path.join(img_dir, name)
    save_png(path, img)
    return f"![{os.path.splitext(name)[0]}]({os.path.relpath(path, rel_to)})"


def _f(v: float, fmt: str = "{:.3f}") -> str:
    """A table cell: '–' for NaN (nothing to measure)."""
    return "–" if v != v else fmt.format(v)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def section_scfp(cfg: ReportConfig, img_dir: str, md_dir: str, figures: dict) -> str:
    from . import eval_scfp
    from .motion_plot import bar_panel
    r = eval_scfp.evaluate(cfg.scfp, cfg.stage1_corpus, ("test",), cfg.scfp_seeds, cfg.scfp_steps, None,
                           max_speakers=cfg.scfp_speakers, log=log)
    figures["scfp"] = {k: v for k, v in r.items() if k != "extra"}
    modes = [("none", "no prior"), ("fixed", "fixed beta"), ("adaptive", "adaptive (SAW)")]
    labels = [n for _, n in modes]
    row = lambda key: [r["rows"][m][key] for m, _ in modes]  # noqa: E731
    img = np.concatenate([bar_panel("top-1 of 10 (chance 10%)", labels, [100 * v for v in row("top1")], "{:.1f}%"),
                          bar_panel("consistency (lower better)", labels, row("consistency")),
                          bar_panel("diversity", labels, row("diversity")),
                          bar_panel("Frechet, dlib (lower better)", labels, row("fd"))], axis=1)
    return "\n".join(["## 1. Stage 1: prior ablation (speech -> portrait)", "",
                      "Held-out test speakers (the val speakers calibrate SAW's prior weight, training/saw_calibration.py); "
                      "`evaluation/eval_scfp.py`'s evaluation: dlib descriptors of the "
                      "generated portraits vs each speaker's true face.", "", eval_scfp.markdown(r), "",
                      _png(img_dir, "scfp_ablation.png", img, md_dir)])


def section_renderer(cfg: ReportConfig, img_dir: str, md_dir: str, figures: dict) -> str:
    from . import eval_renderer
    from .motion_plot import bar_panel
    r = eval_renderer.evaluate(cfg.renderer, os.path.expanduser(cfg.corpus), cfg.split, cfg.clips, cfg.fidelities)
    figures["renderer"] = r
    rec = r["reconstruction"]
    lines = ["## 2. Renderer (stage 2): reconstruction, identity, mouth motion", "",
             f"`evaluation/eval_renderer.py` on {r['clips']} clips of split `{r['split']}` at {r['size']}²: "
             "portrait = the clip's first frame, motion = the motion encoder on every other frame.", "",
             "| fidelity | PSNR dB | SSIM |", "|---:|---:|---:|"]
    lines += [f"| {f} | {v['psnr']:.2f} | {v['ssim']:.3f} |" for f, v in rec.items()]
    if "identity" in r:
        i = r["identity"]
        lines += ["", "Identity (dlib distance to the portrait; same person < 0.6): rendered "
                  f"{i['dlib_distance_rendered']:.3f} ({i['same_person_rate_rendered']:.0%} of frames same person), "
                  f"true frames {i['dlib_distance_true']:.3f}."]
    else:
        lines += ["", "Identity: dlib not installed, not measured."]
    if "mouth_motion" in r:
        m = r["mouth_motion"]
        lines += [f"Mouth motion (MediaPipe inner-lip opening, rendered vs true, {m['clips']} clips): correlation "
                  f"{m['opening_corr']:.3f}, std ratio {m['opening_std_ratio']:.2f} (1 = moves as much as the truth)."]
    else:
        lines += ["Mouth motion: no clip with a face MediaPipe found in both rendered and true frames."]
    lines += ["", "| part edited | mean change inside its region | outside | share inside |", "|---|---:|---:|---:|"]
    lines += [f"| {p} | {v['inside']:.4f} | {v['outside']:.4f} | {v['share_inside']:.0%} |"
              for p, v in r["probe"].items()]
    fid = list(rec)
    img = np.concatenate([bar_panel("PSNR dB by fidelity", fid, [rec[f]["psnr"] for f in fid], "{:.2f}"),
                          bar_panel("SSIM by fidelity", fid, [rec[f]["ssim"] for f in fid])], axis=1)
    return "\n".join(lines + ["", _png(img_dir, "renderer_reconstruction.png", img, md_dir)])


def section_motion_table(cfg: ReportConfig, figures: dict) -> str:
    from . import eval_motion
    r = eval_motion.evaluate(cfg.motion, os.path.expanduser(cfg.corpus), cfg.split, cfg.steps, cfg.guidance, cfg.seed,
                             cfg.strength, cfg.render_clips, renderer=cfg.renderer, log=log,
                             max_clips=cfg.clips if cfg.quick else 0)  # every clip: the rendered ones spread over all speakers
    figures["motion"] = r
    return "\n".join(["### Motion space (all evaluated clips)", "",
                      "`evaluation/eval_motion.py`: generated motion vs the ground truth of held-out clips.", "",
                      eval_motion.markdown(r)])


def clip_run(cfg: ReportConfig):
    from ..checkpoint import load_model
    from ..data.corpus import Corpus
    from .report_clip import pick_clip, run_clip
    corpus = Corpus(os.path.expanduser(cfg.corpus))
    rec = pick_clip(corpus, cfg.split, cfg.clip, shortest=cfg.quick)
    renderer, _ = load_model(cfg.renderer, "renderer")
    bundle, _ = load_model(cfg.motion, "motion")
    scfp = load_model(cfg.scfp, "scfp")[0] if cfg.wants("identity") and os.path.isfile(cfg.scfp) else None
    renderer.eval(); bundle.eval()  # noqa: E702
    if scfp is not None:
        scfp.eval()
    return run_clip(corpus, rec, renderer, bundle, scfp, cfg.seed, cfg.steps, cfg.guidance, cfg.strength,
                    lipsync=cfg.wants("lipsync"), identity=cfg.wants("identity"), identity_every=cfg.identity_every)


def section_lipsync(cfg: ReportConfig, run, img_dir: str, md_dir: str, figures: dict) -> str:
    from .motion_plot import xy_plot
    from .report_clip import opening_stats
    stats = opening_stats(run)
    figures["lipsync_clip"] = {"clip": run.clip, "space": run.space, "curves": stats}
    t = np.arange(len(run.opening["true video"])) / run.fps
    curves = [(k + ("" if np.isfinite(v).any() else " (no face found)"), t, v) for k, v in run.opening.items()]
    img = xy_plot(curves, f"mouth opening over time, clip {run.clip}", "time (s)", "inner-lip opening / image side")
    lines = [f"### One held-out clip over time: `{run.clip}`", "",
             "Portrait = the clip's first frame; motion generated from the clip's speech (seed "
             f"{cfg.seed}, {cfg.steps} steps, guidance {cfg.guidance}, LipRefine {cfg.strength}); MediaPipe inner-lip "
             "opening per frame (gaps: no face found)."
             + ("" if run.space == "renderer" else " **The motion bundle was trained on ground-truth motion, so its "
                "motion is rendered by the synthetic face renderer, not by the renderer.**"), "",
             _png(img_dir, "lipsync_over_time.png", img, md_dir), "",
             "| curve | corr. with true video | std ratio | frames with a face | best lag (frames) |",
             "|---|---:|---:|---:|---:|"]
    for k, s in stats.items():
        lag = f"{s['best_lag']:+d}" if "best_lag" in s else "–"
        lines.append(f"| {k} | {_f(s['corr'])} | {_f(s['std_ratio'], '{:.2f}')} | {s['frames']} ({s['detected']:.0%}) "
                     f"| {lag} |")
    return "\n".join(lines)


def section_identity(cfg: ReportConfig, run, img_dir: str, md_dir: str, figures: dict) -> str:
    from .motion_plot import xy_plot
    from .report_clip import SAME_PERSON, identity_stats
    stats = identity_stats(run)
    figures["identity_clip"] = {"clip": run.clip, "curves": stats, **run.notes}
    t = np.arange(len(next(iter(run.identity.values())))) / run.fps
    series = [(k, t[np.isfinite(v)], v[np.isfinite(v)]) for k, v in run.identity.items()]
    img = xy_plot(series, f"identity over time, clip {run.clip}", "time (s)", "dlib distance to portrait",
                  hlines=[(f"same-person threshold {SAME_PERSON}", SAME_PERSON)], markers=cfg.identity_every > 1)
    every = "" if cfg.identity_every == 1 else f"{cfg.identity_every}th "
    lines = ["## 4. Identity over time", "",
             f"dlib 128-d descriptor distance of every {every}frame of clip `{run.clip}` to the portrait it was rendered "
             f"from (dlib: same person below {SAME_PERSON}).", "",
             _png(img_dir, "identity_over_time.png", img, md_dir), "",
             "| curve | frames judged | mean distance | max | frames same person |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {s['frames']} | {_f(s['mean'])} | {_f(s['max'])} | {_f(s['same_person'], '{:.0%}')} |"
              for k, s in stats.items()]
    if "scfp_portrait_to_true_face" in run.notes:
        lines += ["", f"The SCFP portrait (from this clip's speech only, seed {cfg.seed}, adaptive prior) is at "
                  f"distance {run.notes['scfp_portrait_to_true_face']:.3f} from the speaker's true first frame."]
    return "\n".join(lines)


def run_speed(cfg: ReportConfig) -> tuple[dict, str, str]:
    """benchmarks/any_length.py in its own subprocesses -> (its JSON, its printed tables, the command)."""
    from ..checkpoint import load_model
    bundle, _ = load_model(cfg.motion, "motion")
    renderer_space = bundle.cfg.source.startswith("renderer:")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "any_length.json")
        cmd = [sys.executable, os.path.join(PACK, "benchmarks", "any_length.py"), "--seconds",
               *[f"{s:g}" for s in cfg.speed_seconds], "--renderer", cfg.renderer, "--steps", str(cfg.steps),
               "--threads", str(cfg.threads)]
        cmd += (["--motion-ckpt", cfg.motion] if renderer_space else []) + ["--json", out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"speed benchmark failed (exit {p.returncode}): {shlex.join(cmd)}\n{p.stderr[-3000:]}")
        with open(out) as f:
            data = json.load(f)
    shown = shlex.join(["python", "benchmarks/any_length.py"] + cmd[2:cmd.index("--json")])
    return data, p.stdout, shown


def section_speed(cfg: ReportConfig, img_dir: str, md_dir: str, figures: dict) -> str:
    from .motion_plot import xy_plot
    data, printed, shown = run_speed(cfg)
    figures["speed"] = data
    res = data["results"]
    secs = np.array([r["seconds"] for r in res], np.float64)
    wall = np.array([sum(s["wall"] for s in r["stages"]) for r in res])
    peak = np.array([r["peak_kb"] / 1024 for r in res])
    log_x = secs.max() / max(secs.min(), 1e-9) > 20
    img = np.concatenate([
        xy_plot([("whole graph", secs, wall), ("real time (1 s per s)", secs, secs)], "wall time vs speech length",
                "speech (s)", "wall time (s)", log_x=log_x, markers=True, size=(560, 300)),
        xy_plot([("peak RSS", secs, peak)], "peak RAM vs speech length", "speech (s)", "peak RSS (MB)",
                hlines=[(f"1.5x the {secs[0]:g} s run", 1.5 * peak[0])], log_x=log_x, markers=True, size=(560, 300))],
        axis=1)
    stages = [s["stage"] for s in res[0]["stages"]]
    lines = ["## 5. Speed and memory against speech length", "",
             f"`{shown}`: the long_speech graph (Load Speech -> Speech Encode -> Motion Diffusion -> Lip Refine -> "
             "Save Talking Video at 256²) in a fresh process per length; peak = the process's VmHWM. Motion model: "
             f"{data['settings']['motion']}.", "",
             _png(img_dir, "speed_memory.png", img, md_dir), "",
             "| speech s | " + " | ".join(stages) + " | total s | s per s | peak MB | peak vs first |",
             "|" + "---:|" * (len(stages) + 5)]
    for r, w, pk in zip(res, wall, peak):
        lines.append(f"| {r['seconds']:g} | " + " | ".join(f"{s['wall']:.1f}" for s in r["stages"])
                     + f" | {w:.1f} | {w / r['seconds']:.2f} | {pk:.0f} | {pk / peak[0]:.2f}x |")
    lines += ["", "<details><summary>the benchmark's own output</summary>", "", "```", printed.rstrip(), "```", "",
              "</details>"]
    return "\n".join(lines)
