"""Train the stage-2 motion bundle (HRTF, arXiv 2510.26819): sync expert -> motion diffusion -> LipRefine.

    python -m see_the_speaker.training.train_motion --corpus ~/.cache/see-the-speaker/corpus/standard \
        --out runs/motion [--motion-source gt | renderer:/path/renderer.safetensors] [--backend whisper|mel]
    torchrun --nproc_per_node=N -m see_the_speaker.training.train_motion ...   (same code, DDP)

Phases (each resumable from `<out>/<phase>/state.safetensors`; a finished phase leaves
`<out>/<phase>.safetensors`, the whole bundle after it, and is skipped on the next run):

1. ``sync``: the SyncNet-style expert, InfoNCE over audio/lips windows (in-batch negatives incl. the
   same clip shifted by 2-8 frames).
2. ``diffusion``: content encoder + motion diffusion, x0 prediction with per-part weights, a
   velocity term, audio dropout (guidance) and context dropout (first window).
3. ``refine``: LipRefine on the diffusion model's own samples of the training clips (and, with
   refine_sample_prob < 1, corrupted ground-truth lips), L1 to the true lips + the frozen sync
   expert's contrastive loss + a term keeping each window's spread (refine_std_weight).

The finished bundle is `<out>/motion.safetensors` (kind "motion"); training/export_motion.py
copies it to weights/. Metrics: `<out>/<phase>/metrics.jsonl`; curves: `<out>/<phase>/samples/*.png`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..checkpoint import load_checkpoint, save_module
from ..data.corpus import Corpus
from ..evaluation.motion_plot import plot_curves, save_png
from ..models.content_encoder import ContentEncoderConfig
from ..models.motion_bundle import KIND, MotionBundle, MotionBundleConfig
from ..models.motion_diffusion import MotionDiffusionConfig
from ..models.mouth_layout import inner_opening
from .motion_data import DEFAULT_CACHE, Clip, load_clips, motion_source, motion_stats
from .runtime import Runtime, RuntimeConfig

PHASES = ("sync", "diffusion", "refine")


@dataclasses.dataclass
class TrainMotionConfig:
    corpus: str = ""  # corpus root
    out: str = "runs/motion"  # run folder
    motion_source: str = "gt"  # "gt" | "renderer:<checkpoint>"
    backend: str = "whisper"  # content front end: whisper | mel
    augment: bool = True  # also train on an augmented copy of every clip's audio (p = 0.5)
    phases: str = "sync,diffusion,refine"  # which phases to run, in order
    steps_sync: int = 1500  # optimiser steps per phase
    steps_diffusion: int = 4000
    steps_refine: int = 1500
    batch: int = 32  # windows per batch (per process)
    lr: float = 1e-3  # peak learning rate (AdamW, cosine decay, 100 warm-up steps)
    weight_decay: float = 0.01
    lips_weight: float = 3.0  # diffusion loss weight of the lips part (others 1)
    velocity_weight: float = 1.0  # diffusion loss weight of the frame-to-frame velocity term
    sync_loss_weight: float = 0.1  # LipRefine: weight of the sync-expert loss
    refine_mouth_weight: float = 0.0  # LipRefine: weight of an L1 term on the mouth-opening readout of the lips
    refine_std_weight: float = 1.0  # LipRefine: weight of an L1 term on each window's per-dim std, keeps the amplitude (first recipe: 0)
    refine_layout_weight: float = 0.0  # LipRefine: L1 between the landmark mouth opening and the renderer's mouth-layout opening of the refined lips (needs a renderer motion source with a mouth interior)
    refine_layout_generated: bool = False  # LipRefine layout term: the other parts of the latent from the diffusion sample (as at inference), not from the true motion
    init_from: str = ""  # start from this motion bundle's weights, except those of the phases run (e.g. --phases refine retrains LipRefine alone)
    width: int = 128  # motion diffusion transformer width
    depth: int = 4  # motion diffusion transformer depth
    max_clips: int = 0  # 0 = all clips of the split (a slice for quick runs)
    refine_sample_clips: int = 1600  # LipRefine phase: training clips given one diffusion sample each (first recipe: 256)
    refine_sample_prob: float = 1.0  # LipRefine phase: share of inputs that are diffusion samples, rest corrupted truth (first recipe: 0.5)
    eval_every: int = 500  # steps between validation/sample curves
    save_every: int = 250  # steps between resumable states
    cache_dir: str = DEFAULT_CACHE  # content-feature / renderer-latent cache (outside the repo)
    seed: int = 0  # base seed (each process adds its rank)
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:N
    amp: str = "none"  # autocast dtype: none | fp16 (with loss scaling) | bf16
    threads: int = 0  # torch CPU threads (0 = torch's default)


# --------------------------------------------------------------------------------------------
# batches (random windows from clips held in memory; per-rank RNG from Runtime's seeding)

class WindowSampler:
    def __init__(self, clips: list[Clip], aug: list[Clip] | None, bundle: MotionBundle, device: torch.device):
        self.clips, self.aug = clips, aug
        self.z = [bundle.normalize(c.motion) for c in clips]  # normalised motion per clip
        self.lips = bundle.part_slice(bundle.cfg.lips_part)
        self.device = device
        self.ident = [c.identity for c in clips]

    def raw(self, i: int) -> torch.Tensor:
        if self.aug is not None and torch.rand(()) < 0.5:
            return self.aug[i].raw
        return self.clips[i].raw

    @staticmethod
    def crop(x: torch.Tensor, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x [T, F] -> (x[start:start+length] zero-padded outside [0, T), valid mask [length])."""
        out = x.new_zeros(length, x.shape[1])
        mask = torch.zeros(length, dtype=torch.bool)
        a, b = max(start, 0), min(start + length, x.shape[0])
        if b > a:
            out[a - start:b - start] = x[a:b]
            mask[a - start:b - start] = True
        return out, mask

    def pick(self) -> tuple[int, int]:
        i = int(torch.randint(len(self.clips), ()))
        return i, int(torch.randint(self.clips[i].motion.shape[0], ()))

    def sync_batch(self, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n aligned (audio, lips) K-windows; half come in same-clip pairs shifted by 2-8 frames."""
        A, V = [], []
        while len(A) < n:
            i, t = self.pick()
            T = self.clips[i].motion.shape[0]
            if T < k + 10:
                continue
            t = min(t, T - k)
            ts = [t]
            if len(A) < n - 1 and torch.rand(()) < 0.5:
                d = int(torch.randint(2, 9, ())) * (1 if torch.rand(()) < 0.5 else -1)
                if 0 <= t + d <= T - k:
                    ts.append(t + d)
            raw = self.raw(i)
            for u in ts:
                A.append(raw[u:u + k]); V.append(self.z[i][u:u + k, self.lips])
        return torch.stack(A).to(self.device), torch.stack(V).to(self.device)

    def diffusion_batch(self, n: int, dc: MotionDiffusionConfig, halo: int) -> dict[str, torch.Tensor]:
        C, W, S = dc.context, dc.window, dc.span
        out = {k: [] for k in ("x0", "loss_mask", "context", "context_mask", "raw", "audio_mask", "identity")}
        for _ in range(n):
            i, _ = self.pick()
            T = self.clips[i].motion.shape[0]
            s = int(torch.randint(0, max(1, T - W // 2), ()))
            if torch.rand(()) < 0.15:
                s = 0  # first windows (no context) are common at inference
            z = self.z[i]
            x0, lm = self.crop(z, s, W)
            ctx, cm = self.crop(z, s - C, C)
            raw, _ = self.crop(self.raw(i), s - C - halo, S + 2 * halo)
            _, am = self.crop(z, s - C, S)
            out["x0"].append(x0); out["loss_mask"].append(lm); out["context"].append(ctx); out["context_mask"].append(cm)
            out["raw"].append(raw); out["audio_mask"].append(am)
            if self.ident[i] is not None:
                out["identity"].append(self.ident[i])
        return {k: torch.stack(v).to(self.device) for k, v in out.items() if v}

    def lips_batch(self, n: int, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (raw [n, L, F], true lips [n, L, l], clip index [n], start [n])."""
        R, Y, I, St = [], [], [], []
        for _ in range(n):
            i, _ = self.pick()
            T = self.clips[i].motion.shape[0]
            s = int(torch.randint(0, max(1, T - length + 1), ()))
            R.append(self.crop(self.raw(i), s, length)[0]); Y.append(self.crop(self.z[i][:, self.lips], s, length)[0])
            I.append(i); St.append(s)
        return torch.stack(R).to(self.device), torch.stack(Y).to(self.device), torch.tensor(I), torch.tensor(St)

    def lips_context(self, idx: torch.Tensor, starts: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The windows of lips_batch -> (whole normalised motion [n, L, D], landmark mouth opening
        [n, L], valid frames [n, L])."""
        Z, M, V = [], [], []
        for i, s in zip(idx.tolist(), starts.tolist()):
            z, valid = self.crop(self.z[i], s, length)
            Z.append(z); M.append(self.crop(self.clips[i].mouth[:, None], s, length)[0][:, 0]); V.append(valid)
        return torch.stack(Z).to(self.device), torch.stack(M).to(self.device), torch.stack(V).to(self.device)


# --------------------------------------------------------------------------------------------
# phase modules (what DDP wraps: forward returns the loss dict)

class SyncPhase(nn.Module):
    def __init__(self, bundle: MotionBundle):
        super().__init__()
        self.sync = bundle.sync

    def forward(self, audio, lips):
        loss, acc = self.sync.contrastive_loss(audio, lips)
        return {"loss": loss, "acc": acc}


class DiffusionPhase(nn.Module):
    def __init__(self, bundle: MotionBundle, dim_weight: torch.Tensor, velocity_weight: float):
        super().__init__()
        self.content, self.diffusion = bundle.content, bundle.diffusion
        self.register_buffer("dim_weight", dim_weight)
        self.velocity_weight = velocity_weight
        self.halo = self.content.receptive_field // 2

    def forward(self, b):
        h = self.halo
        audio = self.content(b["raw"])[:, h:b["raw"].shape[1] - h]  # [B, S, content_dim]
        return self.diffusion.loss(b["x0"], b["context"], b["context_mask"], audio, b["audio_mask"], b["loss_mask"],
                                   b.get("identity"), self.dim_weight, self.velocity_weight)


class RefinePhase(nn.Module):
    def __init__(self, bundle: MotionBundle, sync_weight: float, mouth_weight: float = 0.0,
                 readout_w: torch.Tensor | None = None, std_weight: float = 0.0,
                 layout: nn.Module | None = None, layout_weight: float = 0.0):
        super().__init__()
        self.refiner, self.sync = bundle.refiner, bundle.sync
        for p in self.sync.parameters():
            p.requires_grad_(False)
        self.sync_weight, self.mouth_weight, self.std_weight = sync_weight, mouth_weight, std_weight
        self.register_buffer("readout_w", readout_w if readout_w is not None else torch.zeros(0), persistent=False)
        # the renderer's frozen mouth layout (models/mouth_layout.py): how the refined lips will be drawn
        if layout_weight > 0 and layout is None:
            raise ValueError("refine_layout_weight > 0 needs a renderer motion source whose bundle has a mouth interior")
        self.layout_weight = layout_weight
        self.layout = [layout.eval().requires_grad_(False)] if layout_weight > 0 else []  # a list: not a submodule (not saved, not wrapped)
        self.lips = bundle.part_slice(bundle.cfg.lips_part)
        self.denormalize = bundle.denormalize

    def layout_opening(self, z: torch.Tensor) -> torch.Tensor:
        """normalised motion [B, L, D] -> the mouth layout's inner-lip opening [B, L] (crop fraction,
        vertical 66 - 62 like Clip.mouth)."""
        return inner_opening(self.layout[0](self.denormalize(z).reshape(-1, z.shape[-1]))).view(z.shape[:2])

    def forward(self, raw, lips_in, lips_true, z=None, mouth=None, valid=None):
        out = self.refiner(lips_in, raw)
        rec = F.l1_loss(out, lips_true)
        k = self.sync.cfg.window
        B, L = out.shape[:2]
        starts = torch.randint(0, L - k + 1, (B,), device=out.device)
        idx = starts[:, None] + torch.arange(k, device=out.device)[None]  # [B, K]
        a = torch.gather(raw, 1, idx[..., None].expand(-1, -1, raw.shape[-1]))
        v = torch.gather(out, 1, idx[..., None].expand(-1, -1, out.shape[-1]))
        logits = self.sync.logits(a, v)
        target = torch.arange(B, device=out.device)
        sync = F.cross_entropy(logits, target)
        base = F.l1_loss(lips_in, lips_true)
        losses = {"loss": rec + self.sync_weight * sync, "l1": rec, "l1_input": base, "sync": sync}
        if self.mouth_weight > 0:  # along the (unit) lips direction the mouth-opening readout reads: [B, L]
            mouth = F.l1_loss(out @ self.readout_w, lips_true @ self.readout_w)
            losses["loss"] = losses["loss"] + self.mouth_weight * mouth
            losses["mouth"] = mouth
        if self.std_weight > 0:  # an L1-trained refiner regresses to the median: damped lips; keep each window's spread
            spread = F.l1_loss(out.std(1), lips_true.std(1))  # [B, l]
            losses["loss"] = losses["loss"] + self.std_weight * spread
            losses["spread"] = spread
        if self.layout_weight > 0:  # the opening the renderer will paint, the other parts from z (true or generated motion)
            zr = z.clone()
            zr[..., self.lips] = out
            opening = F.l1_loss(self.layout_opening(zr)[valid], mouth[valid])
            losses["loss"] = losses["loss"] + self.layout_weight * opening
            losses["layout_opening"] = opening
        return losses


# --------------------------------------------------------------------------------------------
# helpers

def lr_at(step: int, total: int, peak: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def corrupt_lips(y: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Imperfect lips like a generator makes: damped, smoothed, shifted by up to 2 frames, noisy."""
    B = y.shape[0]
    a = torch.empty(B, 1, 1).uniform_(0.3, 1.0).to(y)
    x = rest + a * (y - rest)
    k = int(torch.randint(1, 4, ())) * 2 - 1
    if k > 1:
        x = F.avg_pool1d(F.pad(x.transpose(1, 2), (k // 2, k // 2), mode="replicate"), k, 1).transpose(1, 2)
    shift = int(torch.randint(-2, 3, ()))
    if shift:
        x = torch.roll(x, shift, 1)
    return x + torch.randn_like(x) * float(torch.empty(()).uniform_(0.0, 0.3))


@torch.no_grad()
def diffusion_samples(bundle: MotionBundle, clips: list[Clip], steps: int = 8, guidance: float = 2.0,
                      seed: int = 0) -> list[torch.Tensor]:
    """One generated motion per clip (normalised, [T, D]), via `generate` (streamed windows)."""
    return [bundle.normalize(bundle.generate(c.raw, c.identity, seed=seed + j, steps=steps, guidance=guidance)).cpu()
            for j, c in enumerate(clips)]


def fit_mouth_readout(bundle: MotionBundle, clips: list[Clip], lam: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """Ridge readout: normalised lips part [T, l] -> landmark mouth opening [T] (fitted on `clips`)."""
    sl = bundle.part_slice(bundle.cfg.lips_part)
    X = torch.cat([bundle.normalize(c.motion)[:, sl] for c in clips]).double()
    y = torch.cat([c.mouth for c in clips]).double()
    Xm, ym = X.mean(0), y.mean()
    Xc = X - Xm
    w = torch.linalg.solve(Xc.T @ Xc + lam * X.shape[0] * torch.eye(X.shape[1], dtype=X.dtype), Xc.T @ (y - ym))
    return w.float(), (ym - Xm @ w).float()


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


@torch.no_grad()
def validate(bundle: MotionBundle, val: list[Clip], readout, n: int = 6, steps: int = 10, guidance: float = 2.0,
             png: str | None = None) -> dict[str, float]:
    """Mouth-opening correlation of generated (and refined) motion with the truth on a few val clips."""
    bundle.eval()
    w, b = readout
    sl = bundle.part_slice(bundle.cfg.lips_part)
    gen, ref, true = [], [], []
    for j, c in enumerate(val[:n]):
        m = bundle.generate(c.raw, c.identity, seed=j, steps=steps, guidance=guidance)
        r = bundle.refine(m, c.raw, 1.0)
        gen.append(bundle.normalize(m)[:, sl] @ w + b); ref.append(bundle.normalize(r)[:, sl] @ w + b); true.append(c.mouth)
    g, r, t = torch.cat(gen), torch.cat(ref), torch.cat(true)
    if png:
        save_png(png, plot_curves([("truth", true[0].numpy()), ("generated", gen[0].numpy()), ("refined", ref[0].numpy())]))
    bundle.train()
    return {"val_mouth_corr": corr(g, t), "val_mouth_corr_refined": corr(r, t)}


# --------------------------------------------------------------------------------------------

def build_bundle(cfg: TrainMotionConfig, source, train: list[Clip]) -> MotionBundle:
    content = ContentEncoderConfig(backend=cfg.backend)
    bcfg = MotionBundleConfig(
        motion_dim=source.dim, parts={k: list(v) for k, v in source.parts.items()}, source=source.name,
        content=content, diffusion=MotionDiffusionConfig(identity_dim=source.identity_dim, width=cfg.width, depth=cfg.depth))
    bundle = MotionBundle(bcfg)
    mean, std = motion_stats(train)
    z = torch.cat([(c.motion - mean) / std for c in train])
    mouth = torch.cat([c.mouth for c in train])
    rest = z.mean(0)
    quiet = mouth <= torch.quantile(mouth, 0.2)
    sl = bundle.part_slice(bcfg.lips_part)
    rest[sl] = z[quiet][:, sl].mean(0)  # the mouth at rest; every other part at its mean
    bundle.set_stats(mean, std, rest)
    return bundle


PHASE_MODULES = {"sync": ("sync.",), "diffusion": ("content.", "diffusion."), "refine": ("refiner.",)}


def init_weights(bundle: MotionBundle, path: str, phases: list[str]) -> None:
    """Load a motion bundle's tensors into `bundle`, except the modules the given phases train
    (those keep their fresh initialisation): e.g. LipRefine retrained on an exported diffusion model."""
    ckpt = load_checkpoint(path, KIND)
    if ckpt.config.get("source") != bundle.cfg.source:
        raise SystemExit(f"--init-from {path}: its motion source is {ckpt.config.get('source')!r}, "
                         f"this run's is {bundle.cfg.source!r}")
    fresh = tuple(p for ph in phases for p in PHASE_MODULES.get(ph, ()))
    keep = {k: v for k, v in ckpt.tensors.items() if not k.startswith(fresh)}
    missing, unexpected = bundle.load_state_dict(keep, strict=False)
    if unexpected or any(not k.startswith(fresh) for k in missing):
        raise SystemExit(f"--init-from {path}: does not fit this run's bundle (missing {missing[:3]}, unexpected {unexpected[:3]})")


def run_phase(phase: str, cfg: TrainMotionConfig, bundle: MotionBundle, sampler: WindowSampler, val: list[Clip],
              readout, train: list[Clip], layout: nn.Module | None = None) -> None:
    out_dir = os.path.join(cfg.out, phase)
    rt = Runtime(RuntimeConfig(out_dir=out_dir, seed=cfg.seed + PHASES.index(phase) * 1000, device=cfg.device,
                               amp=cfg.amp, threads=cfg.threads))
    bundle.to(rt.device)
    steps = {"sync": cfg.steps_sync, "diffusion": cfg.steps_diffusion, "refine": cfg.steps_refine}[phase]
    if phase == "sync":
        module = SyncPhase(bundle)
    elif phase == "diffusion":
        wgt = torch.ones(bundle.cfg.motion_dim)
        wgt[bundle.part_slice(bundle.cfg.lips_part)] = cfg.lips_weight
        module = DiffusionPhase(bundle, wgt, cfg.velocity_weight)
    else:
        module = RefinePhase(bundle, cfg.sync_loss_weight, cfg.refine_mouth_weight,
                             readout[0].float() / readout[0].float().norm(),  # unit direction: latent units
                             cfg.refine_std_weight, layout, cfg.refine_layout_weight)
        bundle.eval()
        sel = list(range(0, len(train), max(1, len(train) // max(1, cfg.refine_sample_clips))))[:cfg.refine_sample_clips]
        samples = dict(zip(sel, diffusion_samples(bundle, [train[i] for i in sel], seed=cfg.seed)))  # clip -> take
        bundle.train()
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model = rt.wrap(module)
    step = rt.resume({"bundle": bundle}, {"opt": opt})
    if step and rt.is_main:
        print(f"phase {phase}: resumed at step {step}", flush=True)
    bundle.train()
    rest = bundle.motion_rest[bundle.part_slice(bundle.cfg.lips_part)].to(rt.device)
    t0, seen = time.time(), 0
    while step < steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, cfg.lr)
        with rt.autocast():
            if phase == "sync":
                a, v = sampler.sync_batch(cfg.batch, bundle.cfg.sync.window)
                losses = model(a, v)
            elif phase == "diffusion":
                losses = model(sampler.diffusion_batch(cfg.batch, bundle.cfg.diffusion, module.halo))
            else:
                raw, y, idx, st = sampler.lips_batch(cfg.batch, 48)
                x = corrupt_lips(y, rest)
                ctx = sampler.lips_context(idx, st, 48) if cfg.refine_layout_weight > 0 else ()  # (z, mouth, valid)
                use = torch.rand(cfg.batch) < cfg.refine_sample_prob  # real diffusion samples where there is one
                for j in torch.nonzero(use).flatten().tolist():
                    if int(idx[j]) not in samples:
                        continue
                    s = sampler.crop(samples[int(idx[j])], int(st[j]), 48)[0]  # [48, D]
                    x[j] = s[:, sampler.lips].to(x)
                    if ctx and cfg.refine_layout_generated:
                        ctx[0][j] = s.to(ctx[0])
                losses = model(raw, x, y, *ctx)
        opt.zero_grad(set_to_none=True)
        rt.backward(losses["loss"])
        rt.optimizer_step(opt, params, max_norm=1.0)
        step += 1
        seen += cfg.batch
        if step % 50 == 0 or step == steps:
            rt.log(step, phase=phase, lr=opt.param_groups[0]["lr"], windows_per_s=seen / (time.time() - t0),
                   **{k: rt.all_reduce_mean(float(v.detach())) for k, v in losses.items()})
        if rt.is_main and phase != "sync" and (step % cfg.eval_every == 0 or step == steps):
            m = validate(bundle, val, readout, png=os.path.join(out_dir, "samples", f"mouth_{step:06d}.png"))
            rt.log(step, phase=phase, **m)
        if step % cfg.save_every == 0 or step == steps:
            rt.save_state(step, {"bundle": bundle}, {"opt": opt})
    if rt.is_main:
        save_module(os.path.join(cfg.out, f"{phase}.safetensors"), KIND, bundle.cfg, bundle,
                    extra={"phase": phase, "steps": steps, "train_config": dataclasses.asdict(cfg)})
    rt.barrier()


def train(cfg: TrainMotionConfig) -> str:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    corpus = Corpus(cfg.corpus)
    source = motion_source(cfg.motion_source, cfg.cache_dir)
    ccfg = ContentEncoderConfig(backend=cfg.backend)
    train_clips = load_clips(corpus, "train", source, ccfg, cfg.cache_dir, max_clips=cfg.max_clips)
    aug = load_clips(corpus, "train", source, ccfg, cfg.cache_dir, augment=True, max_clips=cfg.max_clips) if cfg.augment else None
    val = load_clips(corpus, "val", source, ccfg, cfg.cache_dir)
    bundle = build_bundle(cfg, source, train_clips)
    phases = [p.strip() for p in cfg.phases.split(",") if p.strip()]
    if cfg.init_from:
        init_weights(bundle, cfg.init_from, phases)
    readout = fit_mouth_readout(bundle, train_clips)
    os.makedirs(cfg.out, exist_ok=True)
    with open(os.path.join(cfg.out, "train_config.json"), "w") as f:
        import json
        json.dump(dataclasses.asdict(cfg), f, indent=1)
    for phase in phases:
        if phase not in PHASES:
            raise SystemExit(f"unknown phase {phase!r}; phases: {PHASES}")
        done = os.path.join(cfg.out, f"{phase}.safetensors")
        if os.path.exists(done):  # finished earlier: take its weights and move on
            bundle.load_state_dict(load_checkpoint(done, KIND).tensors)
            print(f"phase {phase}: done ({done})", flush=True)
            continue
        prev = [p for p in PHASES[:PHASES.index(phase)] if os.path.exists(os.path.join(cfg.out, f"{p}.safetensors"))]
        if prev:
            bundle.load_state_dict(load_checkpoint(os.path.join(cfg.out, f"{prev[-1]}.safetensors"), KIND).tensors)
        sampler = WindowSampler(train_clips, aug, bundle, torch.device("cpu"))
        run_phase(phase, cfg, bundle, sampler, val, readout, train_clips,
                  getattr(getattr(source, "renderer", None), "mouth_layout", None))
    last = [p for p in PHASES if os.path.exists(os.path.join(cfg.out, f"{p}.safetensors"))]
    final = os.path.join(cfg.out, "motion.safetensors")
    if last and int(os.environ.get("RANK", "0")) == 0:
        bundle.load_state_dict(load_checkpoint(os.path.join(cfg.out, f"{last[-1]}.safetensors"), KIND).tensors)
        save_module(final, KIND, bundle.cfg, bundle.cpu(), extra={
            "phases": last, "train_config": dataclasses.asdict(cfg), "corpus": os.path.abspath(cfg.corpus),
            "mouth_readout": {"w": readout[0].tolist(), "b": float(readout[1])}})
        print(final, flush=True)
    return final


CHOICES = {"backend": ("whisper", "mel"), "amp": ("none", "fp16", "bf16")}


def _field_help() -> dict[str, str]:
    """The comment after each TrainMotionConfig field (one source of truth for --help)."""
    import inspect
    import re

    out = {}
    for line in inspect.getsource(TrainMotionConfig).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=[^#]*#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def parse_args(argv=None) -> TrainMotionConfig:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    helps = _field_help()
    for f in dataclasses.fields(TrainMotionConfig):
        name = "--" + f.name.replace("_", "-")
        text = helps.get(f.name, "") + (f" (default: {f.default})" if f.default != "" else "")
        if f.type in ("bool", bool):
            ap.add_argument(name, action=argparse.BooleanOptionalAction, default=f.default, help=helps.get(f.name))
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            ap.add_argument(name, type=typ, default=f.default, required=(f.name == "corpus"), help=text,
                            choices=CHOICES.get(f.name))
    return TrainMotionConfig(**vars(ap.parse_args(argv)))


def main(argv=None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
