"""Train the HRTF renderer (arXiv 2510.26819 stage 2) in three phases, one command, resumable.

    python -m see_the_speaker.training.train_renderer --corpus DIR --out runs/renderer
    torchrun --nproc_per_node=N -m see_the_speaker.training.train_renderer --corpus DIR --out ...

Phases run back to back on one global step counter (a resumed run continues in its phase):

1. ``codebook`` (steps [0, A)): VQ autoencoder on single frames — codebook encoder -> factorised
   l2-normalised VQ -> HR decoder at fidelity 0; L1 + 2-scale SSIM + gradient + VQ losses.
2. ``reconstruct`` (next B steps): cross-frame pairs of one clip (data/loader.FramePairDataset):
   identity from source frame i, motion from driving frame j -> frame j at 2× the internal size.
   Trains identity/motion encoders, warper, code transformer and decoder (codebook frozen):
   region-weighted L1 + SSIM + gradient, feature matching in the frozen codebook encoder's space
   (our substitute for a perceptual loss), code cross-entropy against the driving frame's codes,
   a low-resolution check of the warp on the source image, weak landmark motion targets, and an
   InfoNCE loss tying the identity vectors of frames of the same speaker.
3. ``transformer`` (next C steps): code transformer + fusion only, fidelity ~ U(0, 1), so the
   whole fidelity range renders well.
4. ``mouth`` (last D steps, 0 by default): warper, code transformer and decoder, with the identity
   and motion encoders frozen (the motion space, and so every motion model trained in it, stays
   valid), on the reconstruct losses plus, optionally, a mouth-crop pixel term at the output
   resolution (``--w-mouth``) and a landmark correspondence term on the warp grid (``--w-flow``:
   at each driving-frame landmark the grid must sample that landmark's place in the source frame;
   render_losses.landmark_flow_loss), and a motion-consistency term (``--w-motion``: the frozen motion
   encoder must read the driving motion's local parts back from the rendered frame;
   render_losses.motion_consistency_loss). Measured from the bundled default (renderer card): the pixel
   term alone makes the mouth move *less* (std ratio 0.32 -> 0.17: pixel losses average an
   uncertain mouth); the flow term alone makes the warp itself open the mouth (per-clip
   correlation of the rendered opening 0.47 -> 0.67 after 1,000 steps, PSNR up).

``--init BUNDLE`` starts a fresh run from an exported renderer's weights, e.g. ``--steps 0 0 0 1000
--init weights/renderer_default.safetensors`` runs only the mouth phase on a trained renderer.

Metrics go to OUT/metrics.jsonl, sample grids (source | driving | output) to OUT/samples/, the
resumable state to OUT/state.safetensors (+ state.json). Export with training/export_renderer.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import check_state_dict, config_from_dict
from ..data.loader import WORKER_START, FramePairDataset, LoaderConfig, make_loader
from ..models.motion_warp import warp_image
from ..models.renderer import Renderer, RendererConfig
from ..models.render_blocks import to_internal
from .render_losses import landmark_flow_loss, motion_consistency_loss, mouth_eye_targets, mouth_loss, pose_targets, psnr, reconstruction_loss, region_weights
from .runtime import Runtime, RuntimeConfig

PHASES = ("codebook", "reconstruct", "transformer", "mouth")


@dataclass
class TrainConfig:
    corpus: str = ""  # corpus folder (data/corpus.py format)
    out: str = "runs/renderer"  # run folder
    steps: tuple[int, ...] = (550, 3000, 300, 0)  # codebook / reconstruct / transformer / mouth steps (mouth: experimental, off; see the renderer card)
    init: str = ""  # renderer bundle (.safetensors) whose weights a fresh run starts from ("" = random init)
    batch: int = 8  # pairs per step per process (codebook phase: 2× frames)
    lr: float = 4e-4  # AdamW learning rate (cosine decay per phase, 100-step warm-up)
    decoder_lr_scale: float = 0.5  # decoder lr multiplier in the reconstruct phase (pre-trained)
    weight_decay: float = 0.0
    w_feature: float = 0.5  # feature matching in the codebook encoder's space
    w_code: float = 0.1  # code cross-entropy
    w_warp: float = 0.5  # low-res warp check on the source image
    w_pose: float = 2.0  # head-pose affine vs landmarks
    w_parts: float = 1.0  # lips/eyes weak targets vs landmarks
    w_identity: float = 0.05  # identity InfoNCE
    w_mouth: float = 2.0  # mouth-crop term (mouth phase)
    w_flow: float = 0.0  # landmark correspondence of the warp grid (reconstruct and mouth phases; 0 = logged only)
    w_motion: float = 0.0  # motion consistency: the frozen motion encoder reads the driving motion back from the output (mouth phase)
    pixel_path: bool = False  # give the HR decoder its pixel path (hr_decoder.py); with --init, added to that bundle
    mouth_lr: float = 2e-4  # peak learning rate of the mouth phase (a fine-tune of trained modules)
    motion_noise: float = 0.02  # Gaussian noise on the motion latent in training (smooth latent space)
    full_fidelity_prob: float = 0.75  # reconstruct phase: P(fidelity = 1), else U(0, 1)
    workers: int = 1  # DataLoader workers per process
    log_every: int = 25
    sample_every: int = 250
    save_every: int = 250
    seed: int = 0
    device: str = "auto"
    amp: str = "none"  # none | fp16 | bf16
    threads: int = 0  # torch threads (0 = default)
    model: RendererConfig = field(default_factory=RendererConfig)


def phase_of(step: int, steps: tuple[int, ...]) -> tuple[str, int, int]:
    """-> (phase name, step within the phase, phase length); 'done' after the last phase."""
    start = 0
    for name, n in zip(PHASES, steps):
        if step < start + n:
            return name, step - start, n
        start += n
    return "done", 0, 1


def set_trainable(r: Renderer, phase: str) -> None:
    for p in r.parameters():
        p.requires_grad_(False)
    mods: list[nn.Module]
    if phase == "codebook":
        mods = [r.codebook_encoder, r.quantizer, r.decoder.inp, r.decoder.b16, r.decoder.up32, r.decoder.b32,
                r.decoder.up64, r.decoder.up128, r.decoder.ups, r.decoder.to_rgb]
    elif phase == "reconstruct":
        mods = [r.identity_encoder, r.motion_encoder, r.warp, r.code_transformer, r.decoder]
    elif phase == "transformer":
        mods = [r.code_transformer, r.decoder.fuse32, r.decoder.fuse64]
        if r.cfg.decoder.pixel_path:
            mods += [r.decoder.fuse128, r.decoder.blend]
    else:  # mouth: everything after the encoders; the motion space stays as it is
        mods = [r.warp, r.code_transformer, r.decoder]
    for m in mods:
        for p in m.parameters():
            p.requires_grad_(True)


class RenderTrainer(nn.Module):
    """Wraps the renderer; forward(batch, phase) -> (loss, metrics). DDP wraps this module."""

    def __init__(self, renderer: Renderer, cfg: TrainConfig, frame_size: int):
        super().__init__()
        self.r = renderer
        self.cfg = cfg
        self.frame_size = frame_size  # side of the frames the batch's landmarks are measured in

    def forward(self, batch: dict, phase: str) -> tuple[torch.Tensor, dict]:
        r, cfg = self.r, self.cfg
        size = r.out_size
        src, drv = batch["source"], batch["driving"]  # [B,3,S,S]
        if phase == "codebook":
            imgs = torch.cat([src, drv], 0)
            target = to_internal(imgs, size)
            out, vq = r.autoencode(imgs)
            rec = reconstruction_loss(out, target)
            loss = rec["total"] + vq.loss
            return loss, {"rec": rec["total"], "l1": rec["l1"], "vq": vq.loss, "perplexity": vq.perplexity,
                          "psnr": psnr(out.detach(), target).mean()}
        target = to_internal(drv, size)
        src_i, drv_i = to_internal(src, r.cfg.size), to_internal(drv, r.cfg.size)
        b = src.shape[0]
        with torch.set_grad_enabled(phase == "reconstruct"):  # later phases keep the encoders frozen
            app, id_src = r.encode_portrait(src)  # (+ the source's pixels at the output size: pixel path)
            m_src, m_drv = r.motion_encoder(torch.cat([src_i, drv_i])).chunk(2)  # [B,D] each
        if cfg.motion_noise > 0:
            m_src = m_src + cfg.motion_noise * torch.randn_like(m_src)
            m_drv = m_drv + cfg.motion_noise * torch.randn_like(m_drv)
        if phase != "transformer":
            w = torch.where(torch.rand(b, device=src.device) < cfg.full_fidelity_prob,
                            torch.ones(b, device=src.device), torch.rand(b, device=src.device))
        else:
            w = torch.rand(b, device=src.device)
        out, aux = r.decode(app, m_src, m_drv, w)
        weights = region_weights(batch["driving_landmarks"], size, self.frame_size)
        rec = reconstruction_loss(out, target, weights)
        with torch.no_grad():  # frozen codebook encoder: target codes and feature-matching targets
            feat_t = r.codebook_encoder(drv_i)
            codes_t = r.quantizer(feat_t).indices  # [B,16,16]
        logits = aux["logits"]
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes_t.reshape(-1))
        feat_o = r.codebook_encoder(to_internal(out, r.cfg.size))
        feat = (feat_o - feat_t).abs().mean()
        loss = rec["total"] + cfg.w_feature * feat + cfg.w_code * ce
        metrics = {"rec": rec["total"], "l1": rec["l1"], "ssim_loss": rec["ssim"], "feat": feat, "ce": ce,
                   "code_acc": (logits.argmax(-1) == codes_t).float().mean(),
                   "psnr": psnr(out.detach(), target).mean()}
        if phase == "mouth" and cfg.w_mouth > 0:
            mouth = mouth_loss(out, target, batch["driving_landmarks"], self.frame_size)
            loss = loss + cfg.w_mouth * mouth
            metrics["mouth"] = mouth
        if phase == "mouth" and cfg.w_motion > 0:
            consistency = motion_consistency_loss(r, out, m_drv)
            loss = loss + cfg.w_motion * consistency
            metrics["consistency"] = consistency
        if phase in ("reconstruct", "mouth"):
            # warp check: the source image at 64², moved by the same grid, should match the driving frame
            warped_src = warp_image(to_internal(src, 64), aux["warp"])[:, :3]  # [B,3,64,64]
            warp_l1 = (warped_src - to_internal(drv, 64)).abs().mean()
            flow = landmark_flow_loss(aux["warp"].grid, batch["source_landmarks"], batch["driving_landmarks"], self.frame_size)
            loss = loss + cfg.w_warp * warp_l1 + cfg.w_flow * flow
            metrics.update(warp_l1=warp_l1, flow=flow, occlusion=aux["warp"].occlusion.mean())
        if phase == "reconstruct":
            spec = r.spec
            lm_s, lm_d = batch["source_landmarks"], batch["driving_landmarks"]
            pose_t = torch.cat([pose_targets(lm_s, self.frame_size), pose_targets(lm_d, self.frame_size)])
            parts = spec.split(torch.cat([m_src, m_drv]))
            lips_t, eyes_t = (torch.cat(x) for x in zip(mouth_eye_targets(lm_s, self.frame_size),
                                                        mouth_eye_targets(lm_d, self.frame_size)))
            pose_l = F.mse_loss(parts["head_pose"], pose_t) * 100
            parts_l = F.mse_loss(parts["lips"][:, :2], lips_t) + F.mse_loss(parts["eyes"][:, :2], eyes_t)
            # identity InfoNCE: source vs driving identity of the same clip; other same-speaker items masked
            with torch.no_grad():  # one-sided (gradient through the source view only): half the cost
                id_drv = r.identity_encoder(drv_i)[1]
            logits_id = id_src @ id_drv.t() / 0.1  # [B,B]
            spk = batch["speaker"].to(src.device)
            same = (spk[:, None] == spk[None, :]) & ~torch.eye(b, dtype=torch.bool, device=src.device)
            logits_id = logits_id.masked_fill(same, -1e4)
            id_l = F.cross_entropy(logits_id, torch.arange(b, device=src.device))
            loss = loss + cfg.w_pose * pose_l + cfg.w_parts * parts_l + cfg.w_identity * id_l
            metrics.update(pose=pose_l, parts=parts_l, identity=id_l)
        return loss, metrics


def lr_at(cfg: TrainConfig, k: int, n: int, phase: str = "") -> float:
    peak = cfg.mouth_lr if phase == "mouth" else cfg.lr
    warm = min(100, max(1, n // 10))
    if k < warm:
        return peak * (k + 1) / warm
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (k - warm) / max(1, n - warm))))


@torch.no_grad()
def write_samples(r: Renderer, batch: dict, phase: str, path: str, n: int = 4) -> None:
    """PNG grid: rows of (source | driving | output at fidelity 1 | output at fidelity 0)."""
    import cv2

    modes = [(m, m.training) for m in r.modules()]  # restored per module: frozen parts stay in eval
    r.eval()
    src, drv = batch["source"][:n], batch["driving"][:n]
    size = r.out_size
    if phase == "codebook":
        cols = [to_internal(drv, size), r.autoencode(drv)[0].clamp(0, 1)]
    else:
        app, _ = r.encode_portrait(src)
        ms, md = r.encode_motion(src), r.encode_motion(drv)
        cols = [to_internal(src, size), to_internal(drv, size), r.render(app, ms, md, 1.0), r.render(app, ms, md, 0.0)]
    grid = torch.cat([torch.cat(list(c), 1) for c in cols], 2)  # [3, n*S, cols*S]: a row per item
    img = (grid.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    for m, training in modes:  # r.train(True) would switch the frozen quantizer back to dead-code restarts
        m.train(training)


def load_init(path: str):
    """The renderer bundle a run starts from -> Checkpoint (its config becomes the run's architecture)."""
    from ..checkpoint import load_checkpoint
    from ..models.renderer import KIND

    return load_checkpoint(path, expected_kind=KIND)


PIXEL_PATH_MODULES = ("decoder.fuse128.", "decoder.blend.")  # what --pixel-path adds to an --init bundle


def load_init_weights(renderer: Renderer, tensors: dict[str, torch.Tensor], name: str) -> list[str]:
    """Load an --init bundle's weights; the pixel path's modules may be missing from it (they keep
    their fresh init). -> the keys that were not in the bundle."""
    fresh = {k: v for k, v in renderer.state_dict().items() if k not in tensors and k.startswith(PIXEL_PATH_MODULES)}
    added = sorted(fresh)
    check_state_dict(renderer, {**tensors, **fresh}, name=name)
    renderer.load_state_dict({**{k: v.float() for k, v in tensors.items()}, **fresh})
    return added


def make_data(cfg: TrainConfig, rt: Runtime):
    lcfg = LoaderConfig(split="train", size=cfg.model.decoder.out_size, cache_mb=768, seed=cfg.seed)
    ds = FramePairDataset(cfg.corpus, lcfg)
    sampler = rt.sampler(ds)
    if sampler is None:
        loader = make_loader(ds, batch_size=cfg.batch, num_workers=cfg.workers, seed=cfg.seed, drop_last=True)
    else:
        loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, sampler=sampler, num_workers=cfg.workers,
                                             drop_last=True, persistent_workers=cfg.workers > 0,
                                             multiprocessing_context=WORKER_START if cfg.workers > 0 else None)
    return ds, loader


def train(cfg: TrainConfig) -> str:
    rt = Runtime(RuntimeConfig(out_dir=cfg.out, seed=cfg.seed, device=cfg.device, amp=cfg.amp, threads=cfg.threads))
    init = load_init(cfg.init) if cfg.init else None
    if init is not None:
        cfg.model = config_from_dict(RendererConfig, init.config, where=f"--init {cfg.init}")
    cfg.model.decoder.pixel_path = cfg.model.decoder.pixel_path or cfg.pixel_path
    rt.write_config(cfg)
    ds, loader = make_data(cfg, rt)
    renderer = Renderer(cfg.model)
    trainer = RenderTrainer(renderer, cfg, ds.size).to(rt.device)  # landmarks come in pixels of the loader's frames
    opt = torch.optim.AdamW(renderer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    step = rt.resume({"renderer": renderer}, {"opt": opt})
    if step == 0 and init is not None:
        added = load_init_weights(renderer, init.tensors, cfg.init)
        if rt.is_main:
            print(f"initialised from {cfg.init}" + (f" (new: {', '.join(added)})" if added else ""), flush=True)
    total = sum(cfg.steps)
    epoch = step * cfg.batch * rt.world_size // max(1, len(ds))
    current_phase, model = None, None
    it = None
    t_last, acc = time.time(), {}
    while step < total:
        phase, k, n = phase_of(step, cfg.steps)
        if phase != current_phase:  # (re)build DDP over this phase's trainable parameters
            set_trainable(renderer, phase)
            renderer.train()
            if phase != "codebook":
                renderer.quantizer.eval()  # frozen: no dead-code restarts after phase 1
                renderer.codebook_encoder.eval()
            if phase in ("transformer", "mouth"):
                renderer.identity_encoder.eval()
                renderer.motion_encoder.eval()
            model = rt.wrap(trainer)
            current_phase = phase
            if rt.is_main:
                n_train = sum(p.numel() for p in renderer.parameters() if p.requires_grad)
                print(f"phase {phase}: steps {k}/{n}, {n_train / 1e6:.2f} M trainable parameters", flush=True)
        try:
            batch = next(it) if it is not None else None
        except StopIteration:
            batch = None
        if batch is None:
            epoch += 1
            for obj in (ds, getattr(loader, "sampler", None)):
                if hasattr(obj, "set_epoch"):
                    obj.set_epoch(epoch)
            it = iter(loader)
            batch = next(it)
        batch = {k2: (v.to(rt.device) if torch.is_tensor(v) else v) for k2, v in batch.items()}
        lr = lr_at(cfg, k, n, phase)
        for g in opt.param_groups:
            g["lr"] = lr
        with rt.autocast():
            loss, metrics = model(batch, phase)
        opt.zero_grad(set_to_none=True)
        rt.backward(loss)
        if phase == "reconstruct" and cfg.decoder_lr_scale != 1.0:
            for p in renderer.decoder.parameters():
                if p.grad is not None:
                    p.grad.mul_(cfg.decoder_lr_scale)  # Adam is scale-invariant; this mainly damps early steps
        rt.optimizer_step(opt, [p for p in renderer.parameters() if p.requires_grad], max_norm=1.0)
        step += 1
        for key, v in metrics.items():
            acc[key] = acc.get(key, 0.0) + float(v.detach() if torch.is_tensor(v) else v)
        acc["loss"] = acc.get("loss", 0.0) + float(loss.detach())
        acc["_n"] = acc.get("_n", 0) + 1
        if step % cfg.log_every == 0 or step == total:
            nb = acc.pop("_n")
            dt = time.time() - t_last
            rt.log(step, phase=phase, lr=lr, pairs_per_s=nb * cfg.batch * rt.world_size / dt,
                   **{key: rt.all_reduce_mean(v / nb) for key, v in acc.items()})
            acc, t_last = {}, time.time()
        if rt.is_main and (step % cfg.sample_every == 0 or step == total):
            write_samples(renderer, batch, phase, os.path.join(cfg.out, "samples", f"{step:06d}_{phase}.png"))
        if step % cfg.save_every == 0 or step == total or phase_of(step, cfg.steps)[0] != phase:
            rt.save_state(step, {"renderer": renderer}, {"opt": opt}, extra={"phase": phase})
    return os.path.join(cfg.out, "state.safetensors")


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--corpus", required=True, help="corpus folder (see-the-speaker corpus generate)")
    p.add_argument("--out", default=d.out, help="run folder (metrics.jsonl, samples/, state); rerun to resume")
    p.add_argument("--steps", type=int, nargs="+", default=list(d.steps), metavar="N",
                   help="steps of each phase: CODEBOOK RECONSTRUCT TRANSFORMER [MOUTH] (3 values = no mouth phase)")
    p.add_argument("--init", default=d.init, help="start a fresh run from this renderer bundle's weights "
                   "(e.g. --steps 0 0 0 1000 --init weights/renderer_default.safetensors)")
    p.add_argument("--batch", type=int, default=d.batch, help="pairs per step per process")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--w-mouth", type=float, default=d.w_mouth, help="weight of the mouth-crop pixel term (mouth phase)")
    p.add_argument("--w-flow", type=float, default=d.w_flow, help="weight of the landmark correspondence of the warp "
                   "grid: the flow at each driving landmark must point at that landmark in the source (reconstruct "
                   "and mouth phases; 0 = only logged)")
    p.add_argument("--w-motion", type=float, default=d.w_motion, help="weight of the motion-consistency term: "
                   "the frozen motion encoder on the rendered frame must read back the driving motion's lips, eyes "
                   "and expression (mouth phase)")
    p.add_argument("--pixel-path", action="store_true", help="give the HR decoder the pixel path: the warped "
                   "portrait pixels fused at 128² and blended into the output (added to an --init bundle without it)")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (0 = default)")
    p.add_argument("--device", default=d.device)
    p.add_argument("--amp", default=d.amp, choices=["none", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out-size", type=int, default=256, choices=[256, 512, 1024], help="native output side")
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--sample-every", type=int, default=d.sample_every)
    p.add_argument("--save-every", type=int, default=d.save_every)


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    if len(a.steps) not in (3, 4) or min(a.steps) < 0:
        raise SystemExit(f"--steps: expected 3 or 4 non-negative step counts ({', '.join(PHASES)}), got {a.steps}")
    model = RendererConfig()
    model.decoder.out_size = a.out_size
    return TrainConfig(corpus=a.corpus, out=a.out, steps=tuple(a.steps), init=a.init, batch=a.batch, lr=a.lr, workers=a.workers,
                       w_mouth=a.w_mouth, w_flow=a.w_flow, w_motion=a.w_motion, pixel_path=a.pixel_path,
                       threads=a.threads, device=a.device, amp=a.amp, seed=a.seed, log_every=a.log_every,
                       sample_every=a.sample_every, save_every=a.save_every, model=model)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    train(config_from_args(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
