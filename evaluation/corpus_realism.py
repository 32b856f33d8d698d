"""Corpus realism check: do independent face networks accept our faces as faces?

``see-the-speaker corpus check`` (or ``python -m see_the_speaker.evaluation.corpus_realism``)
samples frames across identities, poses and mouth shapes — from a corpus directory, or rendered
on the fly with ``--synthetic N`` — and measures three bars with judges that never saw the
renderer (``face_judges.py``):

=====================  ==========================================================  =====
measure                how                                                          bar
=====================  ==========================================================  =====
detection rate         MediaPipe face mesh finds a face                             ≥ 0.95
lip correlation        Pearson r of MediaPipe inner-lip opening (points 13/14) and  ≥ 0.9
                       the ground-truth opening (landmarks 62/66), detected frames
identity AUC           dlib 128-d descriptors: same-speaker vs different-speaker    ≥ 0.9
                       pairs of frames (score = −L2 distance), all pairs
=====================  ==========================================================  =====

Also reported (no bar): dlib HOG detection rate, dlib 68-point error against the ground truth
(normalised by the inter-ocular distance), and the opening regression slope. Results go to a JSON
file (``--out``) and a markdown summary next to it (same name, ``.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..data.synth.face import MOTION_INDEX, FaceIdentity, Scene, mouth_opening, neutral_motion, render_face

BARS = {"mediapipe_detection_rate": 0.95, "lip_opening_pearson": 0.9, "dlib_identity_auc": 0.9}


@dataclasses.dataclass
class FrameSample:
    """Frames to judge, with ground truth. N frames of size S."""

    frames: np.ndarray       # uint8 [N, S, S, 3] RGB aligned crops
    landmarks: np.ndarray    # float32 [N, 68, 2] ground-truth iBUG points (pixels)
    speaker: np.ndarray      # int64 [N] identity label
    source: str              # "synthetic" or the corpus path
    speaker_names: list[str]


# ----------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------


def random_motion(rng: np.random.Generator) -> np.ndarray:
    """A random but plausible motion vector [M]: any mouth shape, pose within ±25°/±15°/±15°,
    expressions and blinks (development/check sampler; the corpus uses ``behaviour.py``)."""
    m = neutral_motion()
    i = MOTION_INDEX
    mouth = rng.choice(["closed", "pressed", "open", "round", "wide", "teeth"], p=[0.15, 0.1, 0.35, 0.15, 0.15, 0.1])
    m[i["jaw_open"]] = {"closed": 0.0, "pressed": 0.0}.get(mouth, rng.uniform(0.05, 1.0))
    m[i["lip_press"]] = rng.uniform(0.5, 1.0) if mouth == "pressed" else 0.0
    m[i["lip_round"]] = rng.uniform(0.5, 1.0) if mouth == "round" else rng.uniform(0, 0.2)
    m[i["mouth_width"]] = rng.uniform(0.3, 1.0) if mouth == "wide" else rng.uniform(-0.5, 0.3)
    m[i["teeth"]] = rng.uniform(0.5, 1.0) if mouth in ("teeth", "wide") else rng.uniform(0, 0.4)
    m[i["tongue"]] = rng.uniform(0.3, 1.0) if rng.uniform() < 0.15 else 0.0
    m[i["smile"]] = rng.uniform(-0.5, 1.0)
    for k in ("blink_l", "blink_r"):
        m[i[k]] = 1.0 if rng.uniform() < 0.08 else rng.uniform(0, 0.3)
    m[i["gaze_x"]], m[i["gaze_y"]] = rng.uniform(-1, 1), rng.uniform(-0.6, 0.6)
    m[i["brow_raise"]] = rng.uniform(-1, 1)
    m[i["yaw"]] = rng.uniform(-25, 25)
    m[i["pitch"]] = rng.uniform(-15, 15)
    m[i["roll"]] = rng.uniform(-15, 15)
    m[i["tx"]], m[i["ty"]] = rng.uniform(-0.04, 0.04, size=2)
    m[i["scale"]] = rng.uniform(0.92, 1.08)
    return m


# Identity attributes held at their defaults by ``--fix`` (ablations: how much of the identity
# signal is colour, and how much is face geometry alone).
COLOUR_FIELDS = ("skin_tone", "skin_warmth", "blush", "hair_tone", "hair_red", "iris_hue", "lip_redness")
APPEARANCE_FIELDS = COLOUR_FIELDS + ("hair_style", "hair_volume", "hair_part", "facial_hair", "age")


def synthetic_sample(n_identities: int, per_identity: int, size: int = 256, seed: int = 0,
                     scene_per_frame: bool = True, fix: tuple[str, ...] = (),
                     identities: str = "uniform") -> FrameSample:
    """Render ``per_identity`` random-motion frames for each of ``n_identities`` random identities.

    scene_per_frame: draw a new background/clothing/light for every frame (so identity can only
    be told from the face), else one scene per identity.
    fix: identity fields held at their default value for everyone (ablations).
    identities: "uniform" (``FaceIdentity.random``) or "speakers" (the corpus generator's speaker
    model, ``synth.speaker.make_speaker(seed, i)``: the identity distribution of a generated corpus).
    """
    rng = np.random.default_rng(seed)
    default = FaceIdentity()
    if identities == "speakers":
        from ..data.synth.speaker import make_speaker  # noqa: PLC0415 (optional: only this mode)
    elif identities != "uniform":
        raise ValueError(f"unknown identity sampler {identities!r}")
    frames, lms, spk = [], [], []
    for k in range(n_identities):
        idn = FaceIdentity.random(rng) if identities == "uniform" else make_speaker(seed, k).identity
        if fix:
            idn = dataclasses.replace(idn, **{f: getattr(default, f) for f in fix})
        scene = Scene.random(rng)
        for _ in range(per_identity):
            if scene_per_frame:
                scene = Scene.random(rng)
            img, lm = render_face(idn, random_motion(rng), size, scene)
            frames.append(img)
            lms.append(lm)
            spk.append(k)
    return FrameSample(np.stack(frames), np.stack(lms), np.array(spk), "synthetic",
                       [f"synthetic{k:04d}" for k in range(n_identities)])


def corpus_sample(root: str, n_speakers: int, per_speaker: int, seed: int = 0, split: str | None = None) -> FrameSample:
    """Sample frames from a corpus directory (``data/corpus.py`` format): ``n_speakers`` random
    speakers, ``per_speaker`` frames each, spread over their clips at random times."""
    from ..data.corpus import Corpus  # noqa: PLC0415 (only needed in corpus mode)

    corpus = Corpus(root)
    rng = np.random.default_rng(seed)
    speakers = corpus.speakers_in(split)
    if not speakers:
        raise SystemExit(f"{root}: no speakers" + (f" in split {split!r}" if split else ""))
    chosen = [speakers[i] for i in sorted(rng.choice(len(speakers), size=min(n_speakers, len(speakers)), replace=False))]
    by_speaker: dict[str, list] = {}
    for rec in corpus.clips_in(split):
        by_speaker.setdefault(rec.speaker, []).append(rec)
    frames, lms, spk = [], [], []
    for k, name in enumerate(chosen):
        recs = by_speaker.get(name, [])
        if not recs:
            continue
        for j in range(per_speaker):
            rec = recs[int(rng.integers(len(recs)))] if j >= len(recs) else recs[j]
            arrays = corpus.load_arrays(rec)
            found = np.flatnonzero(arrays["face_found"]) if "face_found" in arrays else np.arange(rec.n_frames)
            if found.size == 0:
                continue
            t = int(found[rng.integers(found.size)])
            frames.append(corpus.load_frames(rec, t, t + 1)[0])
            lms.append(arrays["landmarks"][t])
            spk.append(k)
    if not frames:
        raise SystemExit(f"{root}: no frames sampled")
    return FrameSample(np.stack(frames), np.stack(lms).astype(np.float32), np.array(spk), str(root), chosen)


# ----------------------------------------------------------------------------------------------
# Measures
# ----------------------------------------------------------------------------------------------


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays (nan when either is constant or too short)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with tie correction). Higher score = positive."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    s = scores[order]
    # average ranks over ties
    edges = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(s)]])
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def verification_auc(embeddings: np.ndarray, labels: np.ndarray) -> tuple[float, int, int]:
    """Same-vs-different-speaker AUC over all frame pairs of ``embeddings`` [N, D].
    Returns (auc, n_same_pairs, n_different_pairs)."""
    e = np.asarray(embeddings, np.float64)
    d2 = np.maximum((e * e).sum(1)[:, None] + (e * e).sum(1)[None, :] - 2 * e @ e.T, 0)
    iu = np.triu_indices(len(e), k=1)
    same = (labels[:, None] == labels[None, :])[iu]
    return roc_auc(-np.sqrt(d2[iu]), same), int(same.sum()), int((~same).sum())


def judge(sample: FrameSample, progress: bool = True) -> dict:
    """Run both judges over the sample and compute every measure -> JSON-able dict."""
    from .face_judges import DlibFace, MediaPipeMesh, inner_lip_opening  # noqa: PLC0415

    n = len(sample.frames)
    mesh = MediaPipeMesh()
    dl = DlibFace()
    mp_open = np.full(n, np.nan)
    dl_source = []
    emb = np.zeros((n, 128), np.float32)
    nme = np.full(n, np.nan)
    t0 = time.time()
    for k in range(n):
        img = sample.frames[k]
        pts = mesh(img)
        if pts is not None:
            mp_open[k] = inner_lip_opening(pts)
        res = dl.analyse(img, fallback_box="canonical")
        dl_source.append(res.box_source)
        emb[k] = res.embedding
        gt = sample.landmarks[k]
        iod = np.linalg.norm(gt[36:42].mean(0) - gt[42:48].mean(0))
        if res.box_source == "hog" and iod > 1:
            nme[k] = float(np.linalg.norm(res.landmarks - gt, axis=1).mean() / iod)
        if progress and (k + 1) % 50 == 0:
            print(f"  judged {k + 1}/{n} frames ({(time.time() - t0) / (k + 1) * 1000:.0f} ms/frame)", file=sys.stderr)
    mesh.close()
    gt_open = mouth_opening(sample.landmarks)
    det = ~np.isnan(mp_open)
    r = pearson(mp_open[det], gt_open[det])
    slope = float(np.polyfit(gt_open[det], mp_open[det], 1)[0]) if det.sum() >= 3 else float("nan")
    auc, n_same, n_diff = verification_auc(emb, sample.speaker)
    hog = np.array([s == "hog" for s in dl_source])
    auc_hog = verification_auc(emb[hog], sample.speaker[hog])[0] if hog.sum() > 2 else float("nan")
    metrics = {
        "mediapipe_detection_rate": float(det.mean()),
        "lip_opening_pearson": r,
        "dlib_identity_auc": auc,
        "lip_opening_slope_mp_per_gt": slope,
        "dlib_hog_detection_rate": float(hog.mean()),
        "dlib_identity_auc_hog_only": auc_hog,
        "dlib_landmark_nme_median": float(np.nanmedian(nme)) if np.isfinite(nme).any() else float("nan"),
    }
    return {
        "source": sample.source,
        "n_frames": int(n),
        "n_speakers": int(len(np.unique(sample.speaker))),
        "frame_size": int(sample.frames.shape[1]),
        "pairs": {"same": n_same, "different": n_diff},
        "metrics": metrics,
        "bars": BARS,
        "pass": {k: bool(metrics[k] >= v) for k, v in BARS.items()},
        "judge_seconds": round(time.time() - t0, 1),
        "gt_opening_px": {"mean": float(gt_open.mean()), "max": float(gt_open.max())},
    }


def markdown(result: dict, command: str) -> str:
    m, bars, ok = result["metrics"], result["bars"], result["pass"]
    lines = [
        "# Corpus realism check",
        "",
        f"Source: `{result['source']}` — {result['n_frames']} frames of {result['frame_size']}² from "
        f"{result['n_speakers']} speakers ({result['pairs']['same']} same-speaker and "
        f"{result['pairs']['different']} different-speaker pairs).",
        "",
        f"Command: `{command}`",
        "",
        "| measure | value | bar | pass |",
        "|---|---|---|---|",
    ]
    for k, v in bars.items():
        lines.append(f"| {k} | {m[k]:.3f} | ≥ {v} | {'yes' if ok[k] else '**no**'} |")
    for k in ("lip_opening_slope_mp_per_gt", "dlib_hog_detection_rate", "dlib_identity_auc_hog_only", "dlib_landmark_nme_median"):
        lines.append(f"| {k} | {m[k]:.3f} | – | – |")
    lines += ["", f"Judging took {result['judge_seconds']} s.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Command
# ----------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", nargs="?", default=None,
                        help="corpus directory (data/corpus.py format); omit with --synthetic")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="ignore any corpus and judge N random identities rendered on the fly")
    parser.add_argument("--frames-per-speaker", type=int, default=8,
                        help="frames sampled per speaker (different mouth shapes, poses, expressions)")
    parser.add_argument("--speakers", type=int, default=60, help="speakers sampled from a corpus")
    parser.add_argument("--split", default=None, help="corpus split to sample (train/val/test; default all)")
    parser.add_argument("--size", type=int, default=256, help="frame size for --synthetic")
    parser.add_argument("--scene-per-speaker", action="store_true",
                        help="--synthetic: keep one background/light per identity (default: new per frame)")
    parser.add_argument("--fix", choices=("none", "colour", "appearance"), default="none",
                        help="--synthetic ablation: hold colours (skin, hair, iris, lips) or all appearance "
                             "(colours, hair style, facial hair, age) at their defaults, leaving face geometry")
    parser.add_argument("--identities", choices=("uniform", "speakers"), default="uniform",
                        help="--synthetic: identities from FaceIdentity.random (uniform over every range) or from "
                             "the corpus generator's speaker model (the distribution a generated corpus has)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--out", default="corpus_check.json",
                        help="JSON result path; a markdown summary is written next to it (.md)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a bar fails")


def _command_line() -> str:
    """How this check was invoked, for the record (module or console script)."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "see-the-speaker"
    if prog in ("corpus_realism.py", "__main__.py", "-m", "-c"):
        prog = "python -m see_the_speaker.evaluation.corpus_realism"
    return " ".join([prog] + sys.argv[1:])


def _json_safe(obj):
    """NaN/inf -> None so the JSON is strict."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    if args.synthetic:
        fix = {"none": (), "colour": COLOUR_FIELDS, "appearance": APPEARANCE_FIELDS}[args.fix]
        sample = synthetic_sample(args.synthetic, args.frames_per_speaker, args.size, args.seed,
                                  scene_per_frame=not args.scene_per_speaker, fix=fix, identities=args.identities)
        notes = ([f"{args.identities} identities"] if args.identities != "uniform" else []) + (
            [f"fixed: {args.fix}"] if fix else [])
        if notes:
            sample.source = f"synthetic ({', '.join(notes)})"
    elif args.corpus:
        sample = corpus_sample(args.corpus, args.speakers, args.frames_per_speaker, args.seed, args.split)
    else:
        raise SystemExit("give a corpus directory or --synthetic N")
    print(f"sampled {len(sample.frames)} frames in {time.time() - t0:.1f} s; judging...", file=sys.stderr)
    result = judge(sample)
    command = _command_line()
    result["command"] = command
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_json_safe(result), indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(result, command), encoding="utf-8")
    print(markdown(result, command))
    failed = [k for k, v in result["pass"].items() if not v or math.isnan(result["metrics"][k])]
    if failed:
        print(f"bars not met: {', '.join(failed)}", file=sys.stderr)
    return 1 if (failed and args.strict) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m see_the_speaker.evaluation.corpus_realism", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
