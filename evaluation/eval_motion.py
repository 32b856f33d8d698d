"""Evaluate a motion bundle on held-out speakers (stage 2 lip sync; DESIGN §5).

    python -m see_the_speaker.evaluation.eval_motion --checkpoint weights/motion_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard [--split test] [--render 8] [--out report.md]

For every clip of the split (speakers never seen in training): generate motion from the clip's
audio (seeded), refine it (LipRefine strength 1), and measure against the ground truth:

* mouth opening, motion space: a linear readout of the lips part (fitted on the training clips,
  stored in the checkpoint) vs the corpus's landmark inner-lip opening — Pearson correlation
  over all frames, and the best audio-video lag in -5..5 frames (positive = generated late);
  with "gt" motion also the jaw_open field itself;
  the readout of the clip's own (true) motion latent is reported beside it as the ceiling of
  that measure; with a renderer that paints the mouth interior, also the inner-lip opening its
  mouth layout draws from the motion (no rendering, no judge: what LipRefine's layout term trains);
* mouth opening, rendered frames (``--render N`` clips, spread over the split's speakers:
  ``render_clips``; at ``--render-size``, 256 = the renderer's native output): the motion is rendered (ground-truth
  motion space: the synthetic face renderer with the speaker's true identity; renderer space: the
  renderer from the clip's first frame) and an independent judge, MediaPipe face mesh, measures
  the inner-lip opening on generated renders, on renders of the ground-truth motion and on the
  clip's true video frames (pooled over frames and as a mean of per-clip correlations); with
  ``--true-lips`` also the generated motion with the clip's true lips part, the ceiling of what a
  refiner of the lips alone (LipRefine) can reach on rendered frames;
* sync-expert offset and confidence (SyncNet's max - median) of truth, generated, refined;
* seams: mean motion jump ||z_t - z_{t-1}|| (normalised latent) at window boundaries vs at all
  other frames of the same generated clips.

Prints (and writes with --out) a markdown table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ..checkpoint import load_model
from ..data.corpus import Corpus
from ..models.motion_bundle import KIND, MotionBundle
from ..models.mouth_layout import inner_opening
from ..training.motion_data import GroundTruthMotion, load_clips, motion_source
from .table_files import write_table


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def render_clips(clips: list, n: int, seed: int = 0) -> list:
    """The `n` clips to render: round-robin over the speakers (in split order), each speaker's clips
    in a seeded random order, so n ≥ speakers gives every held-out speaker a clip (the split lists
    a speaker's clips together: its first n clips would be two or three speakers)."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list] = {}
    for c in clips:
        by_speaker.setdefault(c.speaker, []).append(c)
    queues = [[group[i] for i in rng.permutation(len(group))] for group in by_speaker.values()]
    out: list = []
    while len(out) < n and any(queues):
        out += [q.pop(0) for q in queues if q][: n - len(out)]
    return out


def best_lag(gen: list[np.ndarray], true: list[np.ndarray], max_lag: int = 5) -> tuple[int, dict[int, float]]:
    """Lag d (frames) maximising corr(gen[t + d], true[t]) over clips; positive = generated late."""
    out = {}
    for d in range(-max_lag, max_lag + 1):
        g, t = [], []
        for x, y in zip(gen, true):
            n = len(x)
            if d >= 0:
                g.append(x[d:]); t.append(y[:n - d])
            else:
                g.append(x[:n + d]); t.append(y[-d:])
        out[d] = _corr(np.concatenate(g), np.concatenate(t))
    return max(out, key=out.get), out


def seam_ratio(z: list[np.ndarray], window: int) -> tuple[float, float]:
    """(mean jump at window boundaries, mean jump at other frames) of normalised motion [T, D] clips."""
    at, other = [], []
    for x in z:
        j = np.linalg.norm(np.diff(x, axis=0), axis=1)  # j[t-1] = |x_t - x_{t-1}|
        idx = np.arange(1, len(x))
        mask = idx % window == 0
        at.append(j[mask]); other.append(j[~mask])
    return float(np.concatenate(at).mean()), float(np.concatenate(other).mean())


def mediapipe_openings(frames: np.ndarray, mesh) -> np.ndarray:
    from .face_judges import inner_lip_opening
    out = []
    for f in frames:
        lm = mesh(f)
        out.append(np.nan if lm is None else inner_lip_opening(lm))
    return np.asarray(out, np.float64)


def render_gt_space(source: GroundTruthMotion, identity_vec: np.ndarray, latent: np.ndarray, size: int) -> np.ndarray:
    from ..data.synth.face import FaceIdentity, render_clip
    frames, _ = render_clip(FaceIdentity.from_vector(identity_vec), source.to_fields(latent), size)
    return frames


@torch.no_grad()
def evaluate(checkpoint: str, corpus_root: str, split: str = "test", steps: int = 20, guidance: float = 2.0,
             seed: int = 0, strength: float = 1.0, render: int = 20, render_size: int = 256, max_clips: int = 0,
             renderer: str | None = None, true_lips: bool = False, log=print) -> dict:
    bundle, ckpt = load_model(checkpoint, expected_kind=KIND)
    bundle: MotionBundle
    corpus = Corpus(corpus_root)
    src_name = bundle.cfg.source
    if src_name == "gt":
        source = GroundTruthMotion()
    else:
        if not renderer:
            raise SystemExit(f"this bundle generates the motion of {src_name}; pass --renderer <that checkpoint>")
        source = motion_source("renderer:" + renderer)
    clips = load_clips(corpus, split, source, bundle.cfg.content, max_clips=max_clips, log=log)
    ro = ckpt.extra.get("mouth_readout")
    if ro is None:
        raise SystemExit("checkpoint has no mouth_readout (written by train_motion)")
    w, b = torch.tensor(ro["w"]), float(ro["b"])
    sl = bundle.part_slice(bundle.cfg.lips_part)
    W = bundle.cfg.diffusion.window
    res = {"gen": [], "ref": [], "true": [], "truth_readout": [], "jaw_gen": [], "jaw_ref": [], "jaw_true": [], "z": [],
           "drawn_gen": [], "drawn_ref": [], "drawn_truth": []}
    layout = getattr(getattr(source, "renderer", None), "mouth_layout", None)  # the renderer's mouth layout, if it has one
    sync = {"truth": [], "generated": [], "refined": []}
    motions = {}  # clip id -> (generated, refined) motion [T, D], reused by the rendered measure
    t0 = time.time()
    frames_total = 0
    for j, c in enumerate(clips):
        m = bundle.generate(c.raw, c.identity, seed=seed + j, steps=steps, guidance=guidance)
        r = bundle.refine(m, c.raw, strength)
        motions[c.id] = (m, r)
        zg, zr, zt = bundle.normalize(m), bundle.normalize(r), bundle.normalize(c.motion)
        res["gen"].append((zg[:, sl] @ w + b).numpy()); res["ref"].append((zr[:, sl] @ w + b).numpy())
        res["true"].append(c.mouth.numpy()); res["z"].append(zg.numpy())
        res["truth_readout"].append((zt[:, sl] @ w + b).numpy())
        if layout is not None:  # the inner-lip opening the renderer will paint for this motion
            for k, x in (("drawn_gen", m), ("drawn_ref", r), ("drawn_truth", c.motion)):
                res[k].append(inner_opening(layout(x.float())).numpy())
        if src_name == "gt":
            res["jaw_gen"].append(m[:, 0].numpy()); res["jaw_ref"].append(r[:, 0].numpy()); res["jaw_true"].append(c.motion[:, 0].numpy())
        for k, x in (("truth", zt), ("generated", zg), ("refined", zr)):
            sync[k].append(bundle.sync.score(c.raw, x[:, sl]))
        frames_total += c.motion.shape[0]
    gen_s = time.time() - t0
    cat = lambda k: np.concatenate(res[k])  # noqa: E731
    out = {
        "checkpoint": checkpoint, "split": split, "clips": len(clips), "speakers": len({c.speaker for c in clips}),
        "frames": frames_total, "steps": steps, "guidance": guidance, "strength": strength,
        "seconds_per_second_of_audio": gen_s / (frames_total / bundle.cfg.fps),
        "mouth_corr_motion": _corr(cat("gen"), cat("true")),
        "mouth_corr_motion_refined": _corr(cat("ref"), cat("true")),
        "mouth_corr_motion_per_clip": float(np.mean([_corr(g, t) for g, t in zip(res["gen"], res["true"])])),
        "mouth_corr_motion_per_clip_refined": float(np.mean([_corr(g, t) for g, t in zip(res["ref"], res["true"])])),
        "mouth_corr_motion_truth": _corr(cat("truth_readout"), cat("true")),
        "mouth_corr_motion_per_clip_truth": float(np.mean([_corr(g, t) for g, t in zip(res["truth_readout"], res["true"])])),
    }
    if layout is not None:
        for k in ("gen", "ref", "truth"):
            out[f"mouth_corr_drawn_{k}"] = _corr(cat(f"drawn_{k}"), cat("true"))
            out[f"mouth_corr_drawn_per_clip_{k}"] = float(np.mean([_corr(g, t) for g, t in zip(res[f"drawn_{k}"], res["true"])]))
    if src_name == "gt":
        out["jaw_open_corr"] = _corr(cat("jaw_gen"), cat("jaw_true"))
        out["jaw_open_corr_refined"] = _corr(cat("jaw_ref"), cat("jaw_true"))
    out["best_lag"], lags = best_lag(res["gen"], res["true"])
    out["best_lag_refined"], _ = best_lag(res["ref"], res["true"])
    out["lag_curve"] = {str(k): round(v, 4) for k, v in lags.items()}
    for k, v in sync.items():
        out[f"sync_offset_{k}"] = float(np.median([s["offset"] for s in v]))
        out[f"sync_abs_offset_mean_{k}"] = float(np.mean([abs(s["offset"]) for s in v]))
        out[f"sync_confidence_{k}"] = float(np.mean([s["confidence"] for s in v]))
        out[f"sync_score_at_zero_{k}"] = float(np.mean([s["score_at_zero"] for s in v]))
    out["seam_jump"], out["frame_jump"] = seam_ratio(res["z"], W)
    out["seam_ratio"] = out["seam_jump"] / max(out["frame_jump"], 1e-12)
    out["truth_frame_jump"] = float(np.mean(np.concatenate([np.linalg.norm(np.diff(bundle.normalize(c.motion).numpy(), axis=0), axis=1)
                                                            for c in clips])))
    if render > 0:
        picked = render_clips(clips, render, seed)
        out["render_speakers"] = len({c.speaker for c in picked})
        items = []
        for c in picked:
            m, r = motions[c.id]
            t = None
            if true_lips:
                t = m.clone()
                t[:, sl] = c.motion[:, sl]
            items.append((c, m, r, t))
        out.update(render_measure(source, corpus, items, render_size, log))
    return out


def render_measure(source, corpus, items, size, log) -> dict:
    """MediaPipe inner-lip opening on rendered generated/refined motion vs two references: the
    rendered ground-truth motion (same renderer: isolates the motion) and the clip's true video
    frames (what a viewer compares with; also bounded by the renderer). Pooled over all frames and
    mean of per-clip correlations (pooling mixes faces whose openings differ in scale).
    items: (clip, generated motion, refined motion, generated motion with the clip's true lips part or
    None) as evaluate() made them."""
    import cv2

    from .face_judges import MediaPipeMesh
    lips = items[0][3] is not None if items else False  # the generated motion with the true lips part
    pooled = {k: [] for k in ("gen", "ref", "truth", "video") + (("lips",) if lips else ())}
    per_clip = {k: [] for k in ("gen_truth", "ref_truth", "gen_video", "ref_video", "truth_video")
                + (("lips_video",) if lips else ())}
    pairs, lips_pairs = [], []  # per clip: (generated, refined | true lips) corr. with the true video
    recs = {r.id: r for r in corpus.clips}
    with MediaPipeMesh() as mesh:
        for j, (c, gen, ref, true_lips) in enumerate(items):
            motions = (gen, ref, c.motion) + ((true_lips,) if lips else ())
            if isinstance(source, GroundTruthMotion):
                ident = corpus.load_arrays(recs[c.id])["identity"]
                fr = [render_gt_space(source, ident, x.numpy(), size) for x in motions]
            else:
                fr = [render_renderer_space(source.renderer, corpus, recs[c.id], x, size) for x in motions]
            video = corpus.load_frames(recs[c.id])[: len(fr[2])]
            fr.insert(3, np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in video]))
            o = dict(zip(pooled, (mediapipe_openings(f, mesh) for f in fr)))
            ok = ~np.any([np.isnan(v) for v in o.values()], axis=0)
            for k in pooled:
                pooled[k].append(o[k][ok])
            clip = {}  # this clip's correlations, where both openings were measured and move
            for k in per_clip:
                a, b = k.split("_")
                if ok.sum() > 2 and o[a][ok].std() > 0 and o[b][ok].std() > 0:
                    clip[k] = _corr(o[a][ok], o[b][ok])
                    per_clip[k].append(clip[k])
            if "gen_video" in clip and "ref_video" in clip:
                pairs.append((clip["gen_video"], clip["ref_video"]))
            if "gen_video" in clip and "lips_video" in clip:
                lips_pairs.append((clip["gen_video"], clip["lips_video"]))
            log(f"  rendered {j + 1}/{len(items)}")
    cat = {k: np.concatenate(v) for k, v in pooled.items()}
    out = {"render_clips": len(items), "render_size": size, "render_frames_detected": int(len(cat["truth"])),
           "mouth_corr_rendered": _corr(cat["gen"], cat["truth"]), "mouth_corr_rendered_refined": _corr(cat["ref"], cat["truth"]),
           "mouth_corr_video": _corr(cat["gen"], cat["video"]), "mouth_corr_video_refined": _corr(cat["ref"], cat["video"]),
           "mouth_corr_truth_render_vs_video": _corr(cat["truth"], cat["video"])}
    for k, v in per_clip.items():
        out[f"mouth_corr_per_clip_{k}"] = float(np.mean(v)) if v else float("nan")
    out.update(paired_gain(pairs))
    if lips:  # the ceiling of a refiner of the lips part alone: the rest of the latent stays generated
        out["mouth_corr_video_true_lips"] = _corr(cat["lips"], cat["video"])
        out.update({k.replace("refine_gain", "true_lips_gain"): v for k, v in paired_gain(lips_pairs).items()})
    return out


def paired_gain(pairs: list[tuple[float, float]]) -> dict:
    """Per-clip (generated, refined) correlations with the true video -> LipRefine's gain, paired over
    the clips: mean of (refined - generated), its standard error, and the clip count. Two means of
    40 clips that differ by 0.004 say nothing without it."""
    d = np.asarray([r - g for g, r in pairs], dtype=np.float64)
    if len(d) < 2:
        return {"refine_gain_per_clip_video": float("nan"), "refine_gain_per_clip_video_se": float("nan"),
                "refine_gain_clips": int(len(d))}
    return {"refine_gain_per_clip_video": float(d.mean()),
            "refine_gain_per_clip_video_se": float(d.std(ddof=1) / np.sqrt(len(d))), "refine_gain_clips": int(len(d))}


@torch.no_grad()
def render_renderer_space(renderer, corpus, rec, latent: torch.Tensor, size: int) -> np.ndarray:
    first = torch.from_numpy(corpus.load_frames(rec, 0, 1)).permute(0, 3, 1, 2).float() / 255
    app, _ = renderer.encode_portrait(first)
    src = renderer.encode_motion(first)
    out = []
    for i in range(0, latent.shape[0], 16):
        f = renderer.render(app, src, latent[i:i + 16].to(src), out_size=size)
        out.append((f.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy())
    return np.concatenate(out)


def markdown(r: dict) -> str:
    rows = [
        ("mouth-opening corr., motion space (all frames; true motion: %.3f)" % r["mouth_corr_motion_truth"],
         r["mouth_corr_motion"], r["mouth_corr_motion_refined"]),
        ("mouth-opening corr., motion space (mean per clip; true motion: %.3f)" % r["mouth_corr_motion_per_clip_truth"],
         r["mouth_corr_motion_per_clip"], r["mouth_corr_motion_per_clip_refined"]),
    ]
    if "mouth_corr_drawn_gen" in r:
        rows += [("mouth-opening corr., as the renderer's mouth layout draws it (all frames; true motion: %.3f)"
                  % r["mouth_corr_drawn_truth"], r["mouth_corr_drawn_gen"], r["mouth_corr_drawn_ref"]),
                 ("  same, mean per clip (true motion: %.3f)" % r["mouth_corr_drawn_per_clip_truth"],
                  r["mouth_corr_drawn_per_clip_gen"], r["mouth_corr_drawn_per_clip_ref"])]
    if "jaw_open_corr" in r:
        rows.append(("jaw_open corr. (ground-truth motion field)", r["jaw_open_corr"], r["jaw_open_corr_refined"]))
    if "mouth_corr_rendered" in r:
        n = f"{r['render_clips']} clips of {r.get('render_speakers', '?')} speakers, {r['render_size']}², {r['render_frames_detected']} frames"
        rows.append((f"mouth-opening corr., rendered + MediaPipe, vs rendered true motion ({n})",
                     r["mouth_corr_rendered"], r["mouth_corr_rendered_refined"]))
    if "mouth_corr_video" in r:
        rows += [("  same, mean per clip", r["mouth_corr_per_clip_gen_truth"], r["mouth_corr_per_clip_ref_truth"]),
                 ("mouth-opening corr., rendered + MediaPipe, vs the true video (truth rendered: %.3f)"
                  % r["mouth_corr_truth_render_vs_video"], r["mouth_corr_video"], r["mouth_corr_video_refined"]),
                 ("  same, mean per clip (truth rendered: %.3f)" % r["mouth_corr_per_clip_truth_video"],
                  r["mouth_corr_per_clip_gen_video"], r["mouth_corr_per_clip_ref_video"])]
    if "mouth_corr_per_clip_lips_video" in r:
        rows.append(("  the generated motion with the true lips part (a lips-only refiner's ceiling): per clip / pooled; "
                     "paired gain over generated %+.3f ± %.3f" % (r["true_lips_gain_per_clip_video"], r["true_lips_gain_per_clip_video_se"]),
                     "–", "%.3f / %.3f" % (r["mouth_corr_per_clip_lips_video"], r["mouth_corr_video_true_lips"])))
    if "refine_gain_per_clip_video" in r:
        rows.append(("  LipRefine − generated, rendered vs the true video, paired per clip (± SE, %d clips)"
                     % r["refine_gain_clips"], "–", "%+.3f ± %.3f" % (r["refine_gain_per_clip_video"],
                                                                      r["refine_gain_per_clip_video_se"])))
    rows += [
        ("best audio-video lag (frames, + = video late)", r["best_lag"], r["best_lag_refined"]),
        ("sync-expert confidence (truth: %.3f)" % r["sync_confidence_truth"], r["sync_confidence_generated"], r["sync_confidence_refined"]),
        ("sync-expert offset, median (truth: %+d)" % r["sync_offset_truth"], r["sync_offset_generated"], r["sync_offset_refined"]),
        ("sync-expert mean cosine at offset 0 (truth: %.3f)" % r["sync_score_at_zero_truth"], r["sync_score_at_zero_generated"], r["sync_score_at_zero_refined"]),
    ]
    fmt = lambda v: v if isinstance(v, str) else (f"{v:+d}" if isinstance(v, int) else f"{v:.3f}")  # noqa: E731
    lines = [f"Held-out split `{r['split']}`: {r['speakers']} speakers, {r['clips']} clips, {r['frames']} frames; "
             f"{r['steps']} steps, guidance {r['guidance']}, LipRefine strength {r['strength']}.", "",
             "| measure | generated | + LipRefine |", "|---|---:|---:|"]
    lines += [f"| {name} | {fmt(a)} | {fmt(b)} |" for name, a, b in rows]
    lines += ["", f"Seams: mean motion jump at window boundaries {r['seam_jump']:.3f} vs {r['frame_jump']:.3f} at other "
              f"frames (ratio {r['seam_ratio']:.2f}; ground truth frame-to-frame {r['truth_frame_jump']:.3f}, normalised latent).",
              f"Generation speed in this run: {r['seconds_per_second_of_audio']:.3f} s per second of audio."]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--split", default="test", help="held-out split (speakers not trained on)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=2.0)
    ap.add_argument("--strength", type=float, default=1.0, help="LipRefine strength")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", type=int, default=20, help="clips rendered and judged by MediaPipe, spread over "
                    "the speakers (0 = none)")
    ap.add_argument("--render-size", type=int, default=256, help="side of the rendered frames judged (256 = the "
                    "renderer's native output and the corpus crop)")
    ap.add_argument("--true-lips", action="store_true", help="also render the generated motion with the clip's true "
                    "lips part: how far a refiner of the lips alone could go")
    ap.add_argument("--renderer", default=None, help="renderer checkpoint (bundles trained on its motion space)")
    ap.add_argument("--max-clips", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the markdown table here (and .json beside it)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    r = evaluate(a.checkpoint, a.corpus, a.split, a.steps, a.guidance, a.seed, a.strength, a.render, a.render_size,
                 a.max_clips, a.renderer, a.true_lips)
    md = markdown(r)
    print(md)
    if a.out:
        write_table(a.out, md, r)


if __name__ == "__main__":
    main()
