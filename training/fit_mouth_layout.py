"""Fit a renderer bundle's mouth layout and interior colour (HRTF stage 2, models/mouth_layout.py).

    python -m see_the_speaker.training.fit_mouth_layout --bundle weights/renderer_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v2 --out weights/renderer_default.safetensors

Adds (or refits) the bundle's mouth layout, with every other weight frozen and copied unchanged, so
the motion space and the motion models trained in it stay valid:

1. inputs: the bundle's own motion latents of the training-split frames (its frozen motion
   encoder, cached per clip like training/motion_data.RendererMotion); targets: the corpus's
   iBUG lip landmarks 48-67 of the same frames;
2. the layout MLP is fitted by minibatch AdamW on the mean L1 distance per lip point
   (mouth_layout.lip_point_l1), cosine learning rate;
3. the interior colours, by depth inside the inner lips, are the corpus's: the medians of the true
   pixels inside the true inner-lip polygons of a subset of training clips (interior_profile says
   why not the fitted polygons).

Only training speakers are fitted on; `--report-splits` (default val) reports the held-out
point error and how well the layout's opening (62-66) follows the landmarks' (never used to choose).
Writes the bundle with `mouth_interior` on and a report <out stem>.mouth_layout.{md,json}.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..evaluation.table_files import write_table
from ..models.mouth_layout import OUTER, MouthLayout, lip_point_l1


@dataclass
class LayoutFitConfig:
    steps: int = 4000  # AdamW steps
    batch: int = 1024  # frames per step
    lr: float = 2e-3  # peak learning rate (cosine to 5 %)
    weight_decay: float = 1e-4
    frame_stride: int = 2  # every n-th frame of a clip is a sample
    colour_clips: int = 160  # training clips whose frames give the interior colour
    colour_stride: int = 5  # every n-th frame of those clips
    seed: int = 0


def fit_points(layout: MouthLayout, m: torch.Tensor, target: torch.Tensor, cfg: LayoutFitConfig, log=print) -> list[float]:
    """m [N,D] motion latents, target [N,20,2] lip points in [-1,1] -> fits layout.net in place;
    returns the mean loss of each tenth of the run."""
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(layout.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    trace, acc = [], []
    for k in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * k / max(1, cfg.steps))))
        idx = torch.randint(0, m.shape[0], (min(cfg.batch, m.shape[0]),), generator=g)
        loss = lip_point_l1(layout(m[idx]), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc.append(float(loss.detach()))
        if (k + 1) % max(1, cfg.steps // 10) == 0:
            trace.append(float(np.mean(acc)))
            acc = []
            log(f"  layout step {k + 1}/{cfg.steps}: lip-point L1 {trace[-1]:.4f}")
    return trace


def opening(points: torch.Tensor) -> torch.Tensor:
    """[N,20,2] -> inner-lip opening |p62 - p66| [N] (iBUG 62 and 66 are inner points 2 and 6)."""
    return (points[:, OUTER + 2] - points[:, OUTER + 6]).norm(dim=-1)


def samples(source, corpus, recs, stride: int, log=print) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """-> motion latents [N,D], lip points [N,20,2] in [-1,1], clip index [N]."""
    size = corpus.spec.crop_size
    ms, ps, cid = [], [], []
    for i, rec in enumerate(recs):
        lat, _ = source.clip_motion(corpus, rec)
        lm = corpus.load_arrays(rec)["landmarks"][:, 48:68]
        ms.append(torch.from_numpy(lat[::stride]).float())
        ps.append(torch.from_numpy(lm[::stride] / size * 2 - 1).float())
        cid.append(np.full(len(ms[-1]), i))
        if (i + 1) % 200 == 0:
            log(f"  latents: {i + 1}/{len(recs)} clips")
    return torch.cat(ms), torch.cat(ps), np.concatenate(cid)


def weighted_median(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """y [N,C] values, w [N] weights >= 0 -> [C]: per channel, the value where the sorted weights
    reach half their total (a minimiser of sum w·|c - y|)."""
    ys, order = y.sort(0)  # [N,C]
    cw = w[order].cumsum(0)  # [N,C]
    k = (cw < 0.5 * cw[-1:]).sum(0).clamp(max=y.shape[0] - 1)  # [C]
    return ys.gather(0, k[None])[0]


@torch.no_grad()
def interior_profile(layout: MouthLayout, corpus, recs, stride: int, size: int) -> tuple[list[list[float]], list[int]]:
    """The colour of the corpus's open mouths by depth inside the inner lips: for each 1-pixel depth
    bin of layout.interior, the mask-weighted median of the true frames' pixels inside their own
    inner-lip polygons (landmarks 60-67) -> ([bins][3] RGB 0..1, pixels per bin). A bin no pixel
    reaches takes the colour of the deepest bin that has pixels. Taken from the true polygons, not
    the fitted ones: where those miss the mouth by a pixel or two, the best colour for the painted
    frames drifts towards lip and skin colour, i.e. back to the blur (renderer card)."""
    bins = layout.cfg.profile_bins
    ys, ws, ks = [], [], []
    for rec in recs:
        idx = np.arange(0, rec.n_frames, stride)
        frames = torch.from_numpy(corpus.load_frames(rec, size=size)[idx]).float() / 255  # [n,S,S,3]
        lm = corpus.load_arrays(rec)["landmarks"][idx, 48:68] / corpus.spec.crop_size * 2 - 1
        mask, depth = layout.interior(torch.from_numpy(lm).float(), size)  # [n,1,S,S] each
        touched = mask[:, 0] > 0
        ys.append(frames[touched])
        ws.append(mask[:, 0][touched])
        ks.append(depth[:, 0][touched].floor().long().clamp(0, bins - 1))
    y, w, k = torch.cat(ys), torch.cat(ws), torch.cat(ks)
    if y.shape[0] == 0:
        raise SystemExit("no frame of the colour clips shows an open mouth")
    counts = [int((k == i).sum()) for i in range(bins)]
    filled = [b for b in range(bins) if counts[b]]
    profile = []
    for i in range(bins):
        j = max([b for b in filled if b <= i], default=filled[0])  # an empty bin: the deepest filled one above it
        profile.append(weighted_median(y[k == j], w[k == j]).tolist())
    return profile, counts


def fit(bundle: str, corpus_dir: str, cache_dir: str, out: str, cfg: LayoutFitConfig = LayoutFitConfig(),
        report_splits=("val",), max_clips: int = 0, log=print) -> dict:
    from ..checkpoint import load_checkpoint, save_module
    from ..data.corpus import Corpus
    from ..models.renderer import KIND, Renderer
    from .motion_data import RendererMotion

    torch.manual_seed(cfg.seed)
    ckpt = load_checkpoint(bundle, expected_kind=KIND)
    source = RendererMotion(bundle, os.path.expanduser(cache_dir))  # latents of the bundle's frozen motion encoder
    renderer: Renderer = source.renderer
    corpus = Corpus(os.path.expanduser(corpus_dir))
    train = corpus.clips_in("train")[: max_clips or None]
    log(f"{len(train)} training clips (every {cfg.frame_stride}th frame)")
    m, pts, _ = samples(source, corpus, train, cfg.frame_stride, log)
    layout = MouthLayout(renderer.cfg.layout)
    start = float(lip_point_l1(layout(m[:4096]).detach(), pts[:4096]))
    trace = fit_points(layout, m, pts, cfg, log)
    layout.eval()
    rng = np.random.default_rng(cfg.seed)
    colour_recs = [train[i] for i in sorted(rng.choice(len(train), min(cfg.colour_clips, len(train)), replace=False))]
    profile, counts = interior_profile(layout, corpus, colour_recs, cfg.colour_stride, renderer.out_size)
    with torch.no_grad():
        layout.interior_profile.copy_(torch.tensor(profile))
    report = {"train_clips": len(train), "train_frames": int(m.shape[0]), "loss_template": start, "loss_trace": trace,
              "interior_profile": profile, "profile_pixels": counts, "colour_clips": len(colour_recs), "fit": asdict(cfg)}
    held = {}
    for split in report_splits:  # reported only
        recs = corpus.clips_in(split)
        if not recs:
            continue
        mh, ph, cid = samples(source, corpus, recs, 1, log)
        with torch.no_grad():
            pred = layout(mh)
        po, to = opening(pred).numpy(), opening(ph).numpy()
        per_clip = [np.corrcoef(po[cid == c], to[cid == c])[0, 1] for c in np.unique(cid)
                    if to[cid == c].std() > 0 and po[cid == c].std() > 0]
        held[split] = {"clips": len(recs), "frames": int(mh.shape[0]),
                       "point_l1": float(lip_point_l1(pred, ph)),
                       "opening_corr": float(np.corrcoef(po, to)[0, 1]),
                       "opening_corr_per_clip": float(np.mean(per_clip)),
                       "opening_std_ratio": float(po.std() / to.std())}
    report["held_out"] = held
    # the bundle with the layout: every other tensor as it was (same dtype), mouth_interior on
    renderer.cfg.mouth_interior = True
    fresh = Renderer(renderer.cfg)
    state = fresh.state_dict()
    for k, v in ckpt.tensors.items():
        if k.startswith("mouth_layout."):
            continue
        state[k] = v
    for k, v in layout.state_dict().items():
        state["mouth_layout." + k] = v.to(next(iter(ckpt.tensors.values())).dtype)
    fresh.load_state_dict(state)
    extra = dict(ckpt.extra)
    extra["mouth_layout_fit"] = report
    save_module(out, KIND, renderer.cfg, fresh, extra=extra)
    return report


def markdown(r: dict) -> str:
    c = r["fit"]
    lines = [f"Mouth layout fitted on {r['train_frames']} frames of {r['train_clips']} training clips "
             f"({c['steps']} AdamW steps × {c['batch']}, lr {c['lr']}); lip-point L1 in [-1, 1] units per point: "
             f"template {r['loss_template']:.4f}, last tenth of the fit {r['loss_trace'][-1]:.4f}.",
             f"Interior colour by depth inside the inner lips (median of the true pixels inside the true inner lips, "
             f"{r['colour_clips']} training clips):", "", "| depth (px) | pixels | R | G | B |", "|---|---:|---:|---:|---:|"]
    n = len(r["interior_profile"])
    lines += [f"| {k}{'+' if k == n - 1 else ''} | {px} | {rgb[0]:.3f} | {rgb[1]:.3f} | {rgb[2]:.3f} |"
              for k, (px, rgb) in enumerate(zip(r["profile_pixels"], r["interior_profile"]))]
    if r["held_out"]:
        lines += ["", "| held-out split | clips | frames | lip-point L1 | opening corr. (all frames) | per clip | std ratio |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {s} | {h['clips']} | {h['frames']} | {h['point_l1']:.4f} | {h['opening_corr']:.3f} | "
                  f"{h['opening_corr_per_clip']:.3f} | {h['opening_std_ratio']:.2f} |" for s, h in r["held_out"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    from .motion_data import DEFAULT_CACHE

    p = argparse.ArgumentParser(prog="fit_mouth_layout", description=__doc__.split("\n")[0])
    p.add_argument("--bundle", default="weights/renderer_default.safetensors", help="renderer bundle to add the layout to")
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard_v2", help="the corpus the bundle was trained on")
    p.add_argument("--cache", default=DEFAULT_CACHE, help="motion-latent cache folder (shared with train_motion)")
    p.add_argument("--out", required=True, help="bundle to write (may be --bundle itself)")
    p.add_argument("--steps", type=int, default=LayoutFitConfig.steps)
    p.add_argument("--max-clips", type=int, default=0, help="use only the first N training clips (0 = all)")
    p.add_argument("--report-splits", default="val", help="held-out splits to report on (never used to choose)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t0 = time.time()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    r = fit(a.bundle, a.corpus, a.cache, a.out, LayoutFitConfig(steps=a.steps),
            tuple(s for s in a.report_splits.split(",") if s), a.max_clips, log)
    r["wall_time_s"] = round(time.time() - t0, 1)
    table = markdown(r)
    write_table(os.path.splitext(a.out)[0] + ".mouth_layout.md", table, r)
    print(table)
    print(f"({r['wall_time_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
