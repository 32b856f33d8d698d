"""Evaluate an HRTF renderer (arXiv 2510.26819 stage 2) on held-out speakers.

    python -m see_the_speaker.evaluation.eval_renderer --ckpt weights/renderer_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard [--split test] [--clips 20] [--out eval.json]

For every clip of the split (speakers never seen in training):

* **reconstruction**: portrait = the clip's first frame; motion = the motion encoder on each other
  frame; rendered frames vs the true frames at the renderer's output size (256²): PSNR and SSIM,
  at fidelity 1, 0.5 and 0.
* **identity across head pose**: dlib's 128-d face descriptor (evaluation/face_judges.py, an
  independent network) of each rendered frame vs the portrait's, binned by |yaw| of the synthetic
  ground truth (ground truth used for this probe only); the same distance for the true frames is
  the reference (the descriptor itself moves with pose). dlib calls a pair the same person below 0.6.
* **mouth motion** (MediaPipe face mesh, independent): inner-lip opening measured on the rendered
  frames and on the true frames of each clip; per-clip Pearson correlation (mean over clips) and
  the ratio of their standard deviations (1 = the rendered mouth moves as much as the true one),
  with the ratio's spread over the clips (each clip is another face) and every clip's pair; per
  clip also how much the motion latent's lips part and the landmark opening move, to tell whether
  a face-dependent amplitude starts in the motion encoder or in the renderer (``mouth_summary``).
  PSNR/SSIM hardly see the mouth (a small region): a renderer with a static mouth scores almost
  as well, so this is the measure of whether motion reaches the mouth at all.
* **per-component probe**: the portrait's own motion with one part (lips, eyes, expression) taken
  from the clip frame where that part differs most; the pixel change between the two renders is
  split into inside / outside that part's region (from the portrait's 68 landmarks: mouth + chin,
  both eyes, whole face). Reports mean change inside, outside, and the share of change inside.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from ..checkpoint import load_model
from ..data.corpus import Corpus
from ..data.synth.face import mouth_opening as landmark_opening
from ..models.renderer import KIND
from ..training.render_losses import psnr, ssim

PROBE_PARTS = ("lips", "eyes", "expression")
YAW_BINS = (0.0, 5.0, 10.0, 20.0, 90.0)  # |yaw| bin edges in degrees


def region_masks(lm: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Masks [size,size] bool for the probe regions from 68 landmarks (pixels of the same size)."""
    def hull(idx, grow):
        m = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(lm[idx].astype(np.int32)), 1)
        k = max(1, int(grow * size)) * 2 + 1
        return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)

    eyes = hull(list(range(36, 42)), 0.03) | hull(list(range(42, 48)), 0.03)
    return {"lips": hull(list(range(48, 68)) + list(range(5, 12)), 0.03), "eyes": eyes,
            "expression": hull(list(range(0, 27)), 0.0)}


def _to_u8(img: torch.Tensor) -> np.ndarray:
    """[3,S,S] float 0..1 -> uint8 [S,S,3] for the judges."""
    return (img.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def mouth_opening(mesh, frames: torch.Tensor) -> np.ndarray:
    """MediaPipe inner-lip opening (pixels) of each frame [T,3,S,S] 0..1 -> [T], NaN where no face."""
    from .face_judges import inner_lip_opening
    return np.array([inner_lip_opening(lm) if (lm := mesh(_to_u8(f))) is not None else np.nan for f in frames])


def opening_agreement(o_r: np.ndarray, o_t: np.ndarray) -> tuple[float, float] | None:
    """Rendered vs true opening of one clip -> (Pearson corr., std rendered / std true) over the
    frames where both were measured; None when fewer than 3 such frames or the true mouth is still."""
    ok = ~np.isnan(o_r) & ~np.isnan(o_t)
    if ok.sum() <= 2 or o_t[ok].std() == 0:
        return None
    c = np.corrcoef(o_r[ok], o_t[ok])[0, 1] if o_r[ok].std() > 0 else 0.0
    return float(c), float(o_r[ok].std() / o_t[ok].std())


def mouth_summary(rows: list[tuple[float, float]], ids: list[str], lips_std: list[float] | None = None,
                  true_std: list[float] | None = None) -> dict:
    """Per-clip (corr, std ratio) rows -> the means, the std ratio's spread over the clips (each clip
    is another face: how much the mouth's amplitude depends on the face) and every clip's pair.
    With lips_std (spread of the motion encoder's lips part over the clip, mean over its dims) and
    true_std (spread of the landmark inner-lip opening, fraction of the crop) per clip, also the
    correlation over clips of log(std ratio) with log(lips_std / true_std): near 1 when the face
    dependence already sits in the motion latent, near 0 when the renderer adds it."""
    mr = np.asarray(rows, dtype=np.float64)
    out = {"clips": len(mr), "opening_corr": float(mr[:, 0].mean()), "opening_std_ratio": float(mr[:, 1].mean()),
           "opening_std_ratio_min_q25_median_q75_max": [float(v) for v in np.quantile(mr[:, 1], [0, 0.25, 0.5, 0.75, 1])],
           "per_clip": [{"clip": i, "corr": float(c), "std_ratio": float(r)} for i, (c, r) in zip(ids, mr)]}
    if lips_std is not None and true_std is not None:
        for row, a, b in zip(out["per_clip"], lips_std, true_std):
            row.update(lips_latent_std=float(a), true_opening_std=float(b))
        gain = np.log(np.asarray(lips_std) / np.asarray(true_std))
        out["std_ratio_vs_latent_gain_corr"] = float(np.corrcoef(np.log(mr[:, 1]), gain)[0, 1]) if len(mr) > 2 else float("nan")
    return out


def pick_clips(corpus, split: str, clips: int, seed: int = 0) -> list:
    """The evaluation's clips: `clips` records of the split drawn with a seeded generator, index order."""
    recs = corpus.clips_in(split)
    rng = np.random.default_rng(seed)
    return [recs[i] for i in sorted(rng.choice(len(recs), size=min(clips, len(recs)), replace=False))]


@torch.inference_mode()
def evaluate(ckpt: str, corpus_root: str, split: str = "test", clips: int = 20, fidelities=(1.0, 0.5, 0.0),
             identity_every: int = 5, seed: int = 0) -> dict:
    renderer, _ = load_model(ckpt, KIND)
    renderer.eval()
    size = renderer.out_size
    corpus = Corpus(corpus_root)
    recs = pick_clips(corpus, split, clips, seed)
    try:
        from .face_judges import DlibFace
        judge = DlibFace()
    except ImportError:
        judge = None
    try:
        from .face_judges import MediaPipeMesh
        mesh = MediaPipeMesh()
    except ImportError:
        mesh = None
    mouth_rows, mouth_ids, lips_std, true_std = [], [], [], []  # per clip: (corr, std rendered / std true), id, spreads
    rec_scores = {f: {"psnr": [], "ssim": []} for f in fidelities}
    id_rows = []  # (|yaw|, dist rendered-portrait, dist true-portrait)
    probe = {p: {"inside": [], "outside": [], "share_inside": []} for p in PROBE_PARTS}
    spec = renderer.spec
    lips = slice(*spec.parts()["lips"])
    for rec in recs:
        frames = corpus.load_frames(rec)  # uint8 [T,S,S,3]
        arrays = corpus.load_arrays(rec)
        scale = size / frames.shape[1]
        x = torch.from_numpy(frames).float().div(255).permute(0, 3, 1, 2)  # [T,3,S,S]
        gt = torch.nn.functional.interpolate(x, size=(size, size), mode="area") if x.shape[-1] != size else x
        app, _ = renderer.encode_portrait(x[:1])
        m = renderer.encode_motion(x)  # [T,D]
        for f in fidelities:
            out = torch.cat([renderer.render(app, m[:1], m[a:a + 16], f) for a in range(1, len(m), 16)])
            rec_scores[f]["psnr"].append(psnr(out, gt[1:]).mean().item())
            rec_scores[f]["ssim"].append(ssim(out, gt[1:], reduce=False).mean().item())
            if f == fidelities[0]:
                out_main = out
        if judge is not None:
            ref = judge.analyse(_to_u8(gt[0]))
            fields = [str(n) for n in arrays.get("motion_fields", [])]
            yaw_i = fields.index("yaw") if "yaw" in fields and "motion" in arrays else None
            for t in range(1, len(m), identity_every):
                a, b = judge.analyse(_to_u8(out_main[t - 1])), judge.analyse(_to_u8(gt[t]))
                if ref is None or a is None or b is None or ref.embedding is None:
                    continue
                yaw = abs(float(arrays["motion"][t, yaw_i])) if yaw_i is not None else float("nan")
                id_rows.append((yaw, float(np.linalg.norm(a.embedding - ref.embedding)),
                                float(np.linalg.norm(b.embedding - ref.embedding))))
        if mesh is not None:
            row = opening_agreement(mouth_opening(mesh, out_main), mouth_opening(mesh, gt[1:]))
            if row is not None:
                mouth_rows.append(row)
                mouth_ids.append(rec.id)
                lips_std.append(float(m[1:, lips].std(0).mean()))
                true_std.append(float((landmark_opening(arrays["landmarks"][1:]) / frames.shape[1]).std()))
        lm0 = arrays["landmarks"][0] * scale
        masks = region_masks(lm0, size)
        base = renderer.render(app, m[:1], m[:1], fidelities[0])[0]
        for part in PROBE_PARTS:
            pa, pb = spec.parts()[part]
            t = int((m[:, pa:pb] - m[:1, pa:pb]).norm(dim=1).argmax())
            edited = spec.replace(m[:1], part, m[t:t + 1, pa:pb])
            diff = (renderer.render(app, m[:1], edited, fidelities[0])[0] - base).abs().mean(0).numpy()  # [S,S]
            inside, outside = diff[masks[part]], diff[~masks[part]]
            probe[part]["inside"].append(float(inside.mean()))
            probe[part]["outside"].append(float(outside.mean()))
            probe[part]["share_inside"].append(float(inside.sum() / max(diff.sum(), 1e-12)))
    result = {
        "checkpoint": ckpt, "corpus": corpus_root, "split": split, "clips": len(recs), "size": size,
        "reconstruction": {str(f): {k: float(np.mean(v)) for k, v in d.items()} for f, d in rec_scores.items()},
        "probe": {p: {k: float(np.mean(v)) for k, v in d.items()} for p, d in probe.items()},
    }
    if mouth_rows:
        result["mouth_motion"] = mouth_summary(mouth_rows, mouth_ids, lips_std, true_std)
    if id_rows:
        rows = np.array(id_rows)
        bins = {}
        for lo, hi in zip(YAW_BINS[:-1], YAW_BINS[1:]):
            sel = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
            if sel.any():
                bins[f"{lo:g}-{hi:g}deg"] = {"n": int(sel.sum()), "rendered": float(rows[sel, 1].mean()),
                                             "true_frames": float(rows[sel, 2].mean())}
        result["identity"] = {"dlib_distance_rendered": float(rows[:, 1].mean()),
                              "dlib_distance_true": float(rows[:, 2].mean()),
                              "same_person_rate_rendered": float((rows[:, 1] < 0.6).mean()),
                              "by_abs_yaw": bins}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--identity-every", type=int, default=5, help="judge identity on every Nth frame")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    res = evaluate(a.ckpt, a.corpus, a.split, a.clips, identity_every=a.identity_every)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
