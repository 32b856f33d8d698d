"""Where does the renderer lose the mouth's amplitude? (issue #6: rendered mouth moves at 1/3 of the truth)

Pure reconstruction on held-out clips (the clips `evaluation/eval_renderer.py` picks: portrait = first
frame, motion latent = the motion encoder on the true frames). The warp is run once per frame; then
the HR decoder is fed different 16² code features, at different fidelities w (the CodeFormer-style
weight of the warped portrait features fused at 32² and 64², models/hr_decoder.py; a decoder with
the pixel path also gets the portrait's pixels moved by the same warp):

* ``transformer``: the normal path, argmax of the code transformer (models/code_transformer.py);
* ``soft``: the transformer's softmax expectation over the codebook (VectorQuantizer.soft_lookup)
  at temperature T (no oracle: usable at inference);
* ``nearest`` (oracle): nearest-codebook quantization of the codebook encoder's features of the TRUE
  frame, i.e. the codes the transformer is trained to predict;
* ``continuous`` (oracle): the same pre-quantization features, l2-normalised in the lookup space but
  not snapped to a code (the decoder's input space without the discrete step);
* ``mouth-oracle``: transformer codes everywhere, nearest codes of the true frame on the mouth
  cells only (is the loss local to the mouth cells?);
* ``lips gain g``: the normal path with the lips part of the driving latent moved g times as far
  from the portrait's (m_src + g·(m_drv − m_src) on the lips dimensions only).

Reference rows (no decoder): the true frames downsampled to 128² / 64² and upsampled again (how
much opening MediaPipe still sees at the internal resolution), and the portrait's pixels moved by
the warp's sampling grid (does the flow itself open the mouth?).

Each path: MediaPipe inner-lip opening of the rendered frames vs the true frames (the evaluation's
functions), per-clip correlation and std ratio (mean over clips), PSNR at 256² (eval_renderer's
method). Also the code transformer's token accuracy vs the nearest codes, on the mouth cells (16²
cells overlapping the box of the true frame's 20 mouth landmarks) and elsewhere, and how many
distinct codes a mouth cell takes over a clip.

    python benchmarks/renderer_mouth_stages.py --ckpt weights/renderer_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard_v2 --clips 10 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from see_the_speaker.checkpoint import load_model
from see_the_speaker.data.corpus import Corpus
from see_the_speaker.evaluation.eval_renderer import mouth_opening, opening_agreement, pick_clips
from see_the_speaker.evaluation.face_judges import MediaPipeMesh
from see_the_speaker.models.motion_warp import warp_image
from see_the_speaker.models.renderer import KIND
from see_the_speaker.training.render_losses import MOUTH_POINTS, psnr

# (name, code source, fidelity); the code sources are computed per chunk in main()
PATHS = (
    ("transformer", "argmax", 1.0),
    ("transformer", "argmax", 0.5),
    ("transformer", "argmax", 0.0),
    ("transformer", "argmax", 1.5),
    ("soft T=1", "soft1", 1.0),
    ("soft T=0.5", "soft0.5", 1.0),
    ("soft T=1", "soft1", 0.0),
    ("nearest (oracle)", "nearest", 1.0),
    ("nearest (oracle)", "nearest", 0.0),
    ("continuous (oracle)", "continuous", 1.0),
    ("continuous (oracle)", "continuous", 0.0),
    ("mouth-oracle", "mouth_nearest", 1.0),
    ("transformer, lips gain 2", "gain2", 1.0),
    ("transformer, lips gain 3", "gain3", 1.0),
)


REFERENCES = ("true frames at 128² (internal size), bicubic to 256²", "true frames at 64², bicubic to 256²",
              "portrait pixels warped by the warp grid (32² grid, 256²)")


def reference_frames(name: str, gt: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
    """Frames 1.. of a reference row [T-1,3,S,S] (S = the renderer's output size); warped [T-1,3,S,S]
    is the portrait moved by the warp's grid (motion_warp.warp_image, from the main loop)."""
    size = gt.shape[-1]
    up = lambda y: F.interpolate(y, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)  # noqa: E731
    if name.startswith("true frames at 128"):
        return up(F.interpolate(gt[1:], size=(128, 128), mode="area"))
    if name.startswith("true frames at 64"):
        return up(F.interpolate(gt[1:], size=(64, 64), mode="area"))
    return warped.clamp(0, 1)


def mouth_cells(landmarks: np.ndarray, crop: int, grid: int = 16, grow: float = 0.0) -> np.ndarray:
    """68 landmarks [T,68,2] in crop pixels -> bool [T,grid,grid]: cells overlapping the box of
    points 48-67 (grown by `grow` cells on each side)."""
    cell = crop / grid
    lo = landmarks[:, MOUTH_POINTS].min(1) / cell - grow  # [T,2] (x, y) in cells
    hi = landmarks[:, MOUTH_POINTS].max(1) / cell + grow
    idx = np.arange(grid)
    # cell k spans [k, k+1): overlaps [lo, hi] when k + 1 > lo and k < hi
    inx = (idx[None] + 1 > lo[:, :1]) & (idx[None] < hi[:, :1])  # [T,grid] over x
    iny = (idx[None] + 1 > lo[:, 1:]) & (idx[None] < hi[:, 1:])  # [T,grid] over y
    return iny[:, :, None] & inx[:, None, :]  # [T,y,x]


def continuous_codes(r, feats: torch.Tensor) -> torch.Tensor:
    """Codebook-encoder features [B,code_dim,16,16] -> decoder input without the discrete step: the
    quantizer's centred, l2-normalised lookup vector (what it would snap to a code), projected back."""
    q = r.quantizer
    z = q.proj_in(feats)
    z = F.normalize(z - z.mean(1, keepdim=True), dim=1)
    return q.proj_out(z)


@torch.inference_mode()
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="clip choice (eval_renderer's default: 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--paths", default="", help="comma-separated subset of the table's rows as name@w, e.g. "
                   "'transformer@1,nearest (oracle)@1' (default: all); the reference rows always run")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    r, _ = load_model(a.ckpt, KIND)
    r.eval()
    corpus = Corpus(a.corpus)
    recs = pick_clips(corpus, a.split, a.clips, a.seed)
    mesh = MediaPipeMesh()
    size = r.out_size
    want = {x.strip() for x in a.paths.split(",") if x.strip()}
    keys = [(n, src, w) for n, src, w in PATHS if not want or f"{n}@{w:g}" in want]
    refs = REFERENCES
    ref_rows = {k: [] for k in refs}
    rows = {k: [] for k in keys}  # (corr, std ratio) per clip
    psnrs = {k: [] for k in keys}
    acc_mouth, acc_else, distinct_t, distinct_n = [], [], [], []
    for rec in recs:
        frames = corpus.load_frames(rec)  # uint8 [T,S,S,3]
        arrays = corpus.load_arrays(rec)
        x = torch.from_numpy(frames).float().div(255).permute(0, 3, 1, 2)
        gt = F.interpolate(x, size=(size, size), mode="area") if x.shape[-1] != size else x
        app, _ = r.encode_portrait(x[:1])
        m = r.encode_motion(x)
        mc = torch.from_numpy(mouth_cells(arrays["landmarks"], frames.shape[1]))  # [T,16,16]
        outs = {k: [] for k in keys}
        idx_t, idx_n, warped = [], [], []
        for s in range(1, len(m), 16):
            e = min(s + 16, len(m))
            b = e - s
            wr = r.warp(app.expand(b).feat, app.expand(b).skip, m[:1].expand(b, -1), m[s:e])
            pix = warp_image(gt[:1].expand(b, -1, -1, -1), wr)  # [b,4,S,S] portrait moved by the grid
            warped.append(pix[:, :3])
            pix = pix if app.image is not None else None  # decoders with a pixel path get it
            logits = r.code_transformer(wr.feat)  # [b,16,16,K]
            feats = r.codebook_encoder(r._prep(x[s:e]))
            vq = r.quantizer(feats)
            am = logits.argmax(-1)
            idx_t.append(am)
            idx_n.append(vq.indices)
            src = {"argmax": r.quantizer.lookup(am), "nearest": vq.quantized,
                   "continuous": continuous_codes(r, feats),
                   "mouth_nearest": r.quantizer.lookup(torch.where(mc[s:e], vq.indices, am))}
            for t in (1.0, 0.5):
                src[f"soft{t:g}"] = r.quantizer.soft_lookup(torch.softmax(logits / t, -1))
            for k in keys:
                if k[1].startswith("gain"):  # lips part moved g times further from the portrait's
                    g = float(k[1][4:])
                    pa, pb = r.spec.parts()["lips"]
                    md = r.spec.replace(m[s:e], "lips", m[:1, pa:pb] + g * (m[s:e, pa:pb] - m[:1, pa:pb]))
                    wg = r.warp(app.expand(b).feat, app.expand(b).skip, m[:1].expand(b, -1), md)
                    codes = r.quantizer.lookup(r.code_transformer(wg.feat).argmax(-1))
                    pg = warp_image(gt[:1].expand(b, -1, -1, -1), wg) if pix is not None else None
                    outs[k].append(r.decoder(codes, wg.feat, wg.skip, k[2], pg).clamp(0, 1))
                    continue
                outs[k].append(r.decoder(src[k[1]], wr.feat, wr.skip, k[2], pix).clamp(0, 1))
        idx_t, idx_n, warped = torch.cat(idx_t), torch.cat(idx_n), torch.cat(warped)
        hit, mcs = (idx_t == idx_n), mc[1:]
        acc_mouth.append(hit[mcs].float().mean().item())
        acc_else.append(hit[~mcs].float().mean().item())
        cells = mcs.any(0)  # cells that are mouth cells in some frame
        distinct_t.append(np.mean([len(torch.unique(idx_t[:, i, j])) for i, j in cells.nonzero().tolist()]))
        distinct_n.append(np.mean([len(torch.unique(idx_n[:, i, j])) for i, j in cells.nonzero().tolist()]))
        o_t = mouth_opening(mesh, gt[1:])
        for k in refs:
            row = opening_agreement(mouth_opening(mesh, reference_frames(k, gt, warped)), o_t)
            if row is not None:
                ref_rows[k].append(row)
        for k in keys:
            out = torch.cat(outs[k])
            psnrs[k].append(psnr(out, gt[1:]).mean().item())
            row = opening_agreement(mouth_opening(mesh, out), o_t)
            if row is not None:
                rows[k].append(row)
        last = "  ".join(f"{k[0]}@{k[2]:g} {rows[k][-1][0]:+.2f}/{rows[k][-1][1]:.2f}" for k in keys if rows[k])
        print(f"# {rec.id} ({time.time() - t0:.0f} s; corr/std ratio of the last clip): {last}", flush=True)
    print(f"\n{len(recs)} clips of the {a.split} split of {a.corpus}, {a.ckpt}; "
          f"MediaPipe inner-lip opening, rendered vs true frames, mean over clips\n")
    print("| code features fed to the decoder | fidelity w | corr. per clip | std ratio | PSNR (dB) | clips |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in keys:
        rr = np.array(rows[k]) if rows[k] else np.full((1, 2), np.nan)
        print(f"| {k[0]} | {k[2]:g} | {rr[:, 0].mean():.2f} | {rr[:, 1].mean():.2f} | {np.mean(psnrs[k]):.2f} | {len(rows[k])} |")
    print("\nReferences (no decoder; how much of the opening MediaPipe sees in degraded true frames, and in the "
          "portrait's pixels moved by the warp's own sampling grid):\n")
    print("| frames | corr. per clip | std ratio | clips |\n|---|---:|---:|---:|")
    for k in refs:
        rr = np.array(ref_rows[k]) if ref_rows[k] else np.full((1, 2), np.nan)
        print(f"| {k} | {rr[:, 0].mean():.2f} | {rr[:, 1].mean():.2f} | {len(ref_rows[k])} |")
    print("\n| code transformer vs nearest codes of the true frame | value |\n|---|---:|")
    print(f"| token accuracy, mouth cells | {np.mean(acc_mouth):.3f} |")
    print(f"| token accuracy, other cells | {np.mean(acc_else):.3f} |")
    print(f"| distinct codes per mouth cell over a clip, transformer | {np.mean(distinct_t):.1f} |")
    print(f"| distinct codes per mouth cell over a clip, nearest (true) | {np.mean(distinct_n):.1f} |")
    print(f"\n{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
