"""Train stage 1 (SCFP: speech -> portrait; See the Speaker, arXiv 2510.26819) phase by phase.

    python -m see_the_speaker.training.train_scfp --corpus DIR --out runs/scfp --phase all

Phases (each resumable in its own run folder `<out>/<phase>/`, metrics in metrics.jsonl, sample
grids in samples/; single process or `torchrun --nproc_per_node=N -m ...` DDP):

* `cache`       pick and decode portraits + audio once (training/scfp_data.py)
* `autoencoder` KL autoencoder f=8 on portraits (random 128² crops of the 256² crops; L1 +
                low-resolution colour L1 + image-gradient L1 + small KL)
* `conre`       ConRe: speech encoder + face encoder; speaker-level contrastive loss (InfoNCE
                with every same-speaker pair positive) + reconstruction of the face from speech
                (synthetic identity attributes when the corpus has them, else the face
                embedding); speech augmentation: additive noise, spectral tilt/EQ, time masks
* `denoiser`    fits the face prior μ (mean latent), trains SAW (β regression), then the latent
                denoiser on r = z − β·μ with β drawn from {SAW(s), β⁰, 0, U(0,1)} and CFG
                condition dropout; keeps an EMA of the denoiser
* `export`      the bundle (training/export_scfp.py)
* `saw`         measures on the val speakers which prior weight draws portraits closest to the
                true face, for clean and noisy speech (training/saw_calibration.py), and refits
                the exported bundle's SAW to give that weight from the utterance embedding, with
                speaker-grouped cross-validation on the training speakers (training/fit_saw.py)

Budgets are in minutes per phase (`--ae-minutes` …); a phase stops at its step count or its
time budget, whichever comes first, and a rerun resumes where it stopped.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import config_from_dict
from ..host import PACK_DIR
from ..models.scfp import SCFP, SCFPConfig
from ..models.speech_encoder import pool_segments
from .runtime import Runtime, RuntimeConfig
from .scfp_data import PortraitCache, build_cache

PHASES = ("cache", "autoencoder", "conre", "denoiser", "export", "saw")


# ------------------------------------------------------------------------------------------------
# shared helpers

def load_config(out: str) -> SCFPConfig:
    path = os.path.join(out, "scfp_config.json")
    if os.path.exists(path):
        return config_from_dict(SCFPConfig, json.load(open(path)))
    cfg = SCFPConfig()
    os.makedirs(out, exist_ok=True)
    with open(path, "w") as f:
        json.dump(asdict(cfg), f, indent=1)
    return cfg


def load_phase(out: str, phase: str, modules: dict[str, nn.Module], prefer: dict[str, str] | None = None) -> None:
    """Load modules from a finished phase's state (`prefer` maps module -> stored name, e.g. EMA)."""
    from safetensors.torch import load_file

    path = os.path.join(out, phase, "state.safetensors")
    if not os.path.exists(path):
        raise SystemExit(f"phase {phase!r} has no state in {os.path.dirname(path)}; run it first")
    tensors = load_file(path)
    for name, m in modules.items():
        stored = (prefer or {}).get(name, name)
        prefix = f"module.{stored}."
        m.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


def wait_for_rank0(path: str, timeout_s: float = 6 * 3600) -> None:
    """Under torchrun, ranks > 0 wait until rank 0 has written `path` (shared caches are built once)."""
    if int(os.environ.get("RANK", "0")) == 0:
        return
    t0 = time.time()
    while not os.path.exists(path):
        if time.time() - t0 > timeout_s:
            raise TimeoutError(f"rank {os.environ.get('RANK')}: {path} never appeared")
        time.sleep(2)


class Budget:
    """A phase's time limit; under torchrun every process stops at the same step (the first
    process whose clock runs out decides), so none waits forever on the others' collectives."""

    def __init__(self, minutes: float, rt: Runtime):
        self.end = time.time() + minutes * 60
        self.rt = rt

    def over(self) -> bool:
        return self.rt.agree(time.time() > self.end)


def save_grid(path: str, images: torch.Tensor, cols: int) -> None:
    """images [N, 3, H, W] 0..1 -> one PNG grid."""
    import cv2

    n, _, h, w = images.shape
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, im in enumerate(images.clamp(0, 1).mul(255).byte().permute(0, 2, 3, 1).cpu().numpy()):
        grid[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = im
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


def faces_tensor(cache: PortraitCache, idx, size: int | None = None) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(cache.faces[idx]))
    x = x.permute(0, 3, 1, 2).float().div_(255)  # [B, 3, S, S]
    if size is not None and size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x


# ------------------------------------------------------------------------------------------------
# speech augmentation (training only)

def augment_wave(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random first-order EQ (tilt up or down), half the time; additive noise at a random SNR
    (white or brown), half the time."""
    if rng.random() < 0.5:
        from scipy.signal import lfilter

        k = rng.uniform(-0.8, 0.8)  # > 0: high-pass tilt, < 0: low-pass tilt
        wave = lfilter([1.0, -k] if k > 0 else [1.0 + k], [1.0] if k > 0 else [1.0, k], wave).astype(np.float32)
    if rng.random() < 0.5:
        return wave
    snr_db = rng.uniform(10, 35)
    noise = rng.standard_normal(wave.shape[0]).astype(np.float32)
    if rng.random() < 0.5:
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
    p_sig = float(np.mean(wave ** 2)) + 1e-10
    p_noise = float(np.mean(noise ** 2)) + 1e-10
    return wave + noise * math.sqrt(p_sig / p_noise / 10 ** (snr_db / 10))


def augment_mel(mel: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """mel [B, M, F]: random spectral tilt + smooth EQ (±6 dB) and two time masks per item."""
    b, m, f = mel.shape
    x = torch.linspace(-1, 1, m)
    tilt = (torch.rand(b, 1, generator=gen) * 2 - 1) * 0.7 * x[None]  # nats across the band
    bumps = sum((torch.rand(b, 1, generator=gen) * 2 - 1) * 0.4 * torch.cos(k * math.pi * (x[None] + 1) / 2)
                for k in (2, 3, 4))
    mel = mel + (tilt + bumps).unsqueeze(-1)
    for _ in range(2):
        w = (torch.rand(b, generator=gen) * 0.08 * f).long()
        s = (torch.rand(b, generator=gen) * f).long()
        t = torch.arange(f)[None]
        mask = (t >= s[:, None]) & (t < (s + w)[:, None])
        mel = torch.where(mask.unsqueeze(1), mel.amin(dim=(1, 2), keepdim=True), mel)
    return mel


def speech_batch(model: SCFP, cache: PortraitCache, clips: np.ndarray, rng: np.random.Generator,
                 seconds: float, augment: bool, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random `seconds` crops of clips -> (log-mel [B, 80, F], lengths [B])."""
    sr = cache.sample_rate
    n = int(seconds * sr)
    batch = np.zeros((len(clips), n), np.float32)
    lens = []
    for i, c in enumerate(clips):
        a = cache.clip_audio(int(c))
        if a.shape[0] > n:
            s = int(rng.integers(0, a.shape[0] - n + 1))
            a = a[s:s + n]
        if augment:
            a = augment_wave(a, rng)
        batch[i, :a.shape[0]] = a
        lens.append(a.shape[0] // model.front_end.hop_length + 1)
    mel = model.logmel(torch.from_numpy(batch))[..., : model.cfg.speech.max_frames]
    lengths = torch.tensor(lens).clamp(max=mel.shape[-1])
    if augment:
        mel = augment_mel(mel, gen)
    return mel, lengths


@torch.no_grad()
def ge2e_table(scfp: SCFP, cache: PortraitCache, variants: int, seed: int, out_dir: str) -> torch.Tensor | None:
    """Frozen GE2E embeddings of every clip: variant 0 clean, 1.. augmented -> [V, C, 256] (cached on disk)."""
    if not scfp.cfg.speech.ge2e:
        return None
    from safetensors.torch import load_file, save_file

    path = os.path.join(out_dir, f"ge2e_v{variants}_s{seed}.safetensors")
    wait_for_rank0(path)
    if os.path.exists(path):
        return load_file(path)["ge2e"]
    t0 = time.time()
    enc = scfp.speech_encoder.ge2e
    table = torch.zeros(variants, len(cache.clip_speaker), 256)
    for v in range(variants):
        rng = np.random.default_rng([seed, v, 0x6E2E])
        for i in range(0, len(cache.clip_speaker), 32):
            clips = range(i, min(i + 32, len(cache.clip_speaker)))
            waves = [cache.clip_audio(c) for c in clips]
            waves = [augment_wave(w, rng) if v else w for w in waves]
            n = max(w.shape[0] for w in waves)
            batch = torch.zeros(len(waves), n)
            for j, w in enumerate(waves):
                batch[j, :w.shape[0]] = torch.from_numpy(w)
            table[v, i:i + len(waves)] = enc(batch, torch.tensor([w.shape[0] for w in waves])).float().cpu()
    save_file({"ge2e": table}, path + ".tmp")
    os.replace(path + ".tmp", path)
    print(f"[train_scfp] GE2E embeddings: {variants} variants x {table.shape[1]} clips in {time.time() - t0:.0f} s", flush=True)
    return table


# ------------------------------------------------------------------------------------------------
# phase: autoencoder

def init_autoencoder(ae: nn.Module, cfg: SCFPConfig, path: str) -> None:
    """Start from a trained autoencoder: a stage-1 bundle (kind scfp) or an autoencoder phase's
    state.safetensors. Its config must equal this run's (the latent space is what later phases use)."""
    from safetensors.torch import load_file

    from ..checkpoint import CheckpointError, load_checkpoint
    from ..models.scfp import KIND

    path = os.path.expanduser(path)
    try:
        ck = load_checkpoint(path, expected_kind=KIND)
    except CheckpointError:
        tensors = load_file(path)
        prefix = "module.autoencoder."
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not sd:
            raise SystemExit(f"--ae-init {path}: neither a stage-1 bundle nor an autoencoder phase state")
    else:
        theirs = config_from_dict(SCFPConfig, ck.config).autoencoder
        if theirs != cfg.autoencoder:
            raise SystemExit(f"--ae-init {path}: autoencoder config {theirs} differs from this run's {cfg.autoencoder}")
        sd = {k[len("autoencoder."):]: v for k, v in ck.tensors.items() if k.startswith("autoencoder.")}
    ae.load_state_dict({k: v.float() for k, v in sd.items()})
    print(f"[train_scfp] autoencoder initialised from {path}", flush=True)


def train_autoencoder(args, cfg: SCFPConfig, cache: PortraitCache) -> None:
    from ..models.portrait_autoencoder import PortraitAutoencoder, gradient_loss, kl_loss

    rt = Runtime(RuntimeConfig(os.path.join(args.out, "autoencoder"), args.seed, args.device, args.amp, args.threads))
    ae = PortraitAutoencoder(cfg.autoencoder)
    model = rt.wrap(ae)
    opt = torch.optim.AdamW(model.parameters(), lr=args.ae_lr, weight_decay=0.0)
    step = rt.resume({"autoencoder": model}, {"opt": opt})
    if step == 0 and args.ae_init:
        init_autoencoder(ae, cfg, args.ae_init)
    train = cache.portraits_of("train")
    val = cache.portraits_of(("val", "test"))[:8]
    rng = np.random.default_rng([args.seed, rt.rank, step])
    budget = Budget(args.ae_minutes, rt)
    crop = args.ae_crop
    t0, seen = time.time(), 0
    while step < args.ae_steps and not budget.over():
        idx = rng.choice(train, size=args.ae_batch)
        x = faces_tensor(cache, np.sort(idx))
        ys, xs = rng.integers(0, x.shape[-1] - crop + 1, size=2)
        x = x[..., ys:ys + crop, xs:xs + crop]
        if rng.random() < 0.5:
            x = x.flip(-1)
        x = x.to(rt.device)
        with rt.autocast():
            rec, mean, logvar = model(x)
            l1 = (rec - x).abs().mean()
            colour = (F.avg_pool2d(rec, 8) - F.avg_pool2d(x, 8)).abs().mean()  # low-frequency colour
            loss = l1 + colour + gradient_loss(rec, x) + cfg.autoencoder.kl_weight * kl_loss(mean, logvar)
        opt.zero_grad(set_to_none=True)
        rt.backward(loss)
        rt.optimizer_step(opt)
        step += 1
        seen += len(idx)
        if step % args.log_every == 0:
            rt.log(step, phase="autoencoder", loss=loss.item(), l1=l1.item(), img_per_s=seen / (time.time() - t0))
        if step % args.save_every == 0:
            rt.save_state(step, {"autoencoder": model}, {"opt": opt})
    rt.save_state(step, {"autoencoder": model}, {"opt": opt})
    if rt.is_main and len(val):
        with torch.no_grad():
            x = faces_tensor(cache, val).to(rt.device)
            rec = rt.unwrap(model).decode(rt.unwrap(model).encode(x)[0])
            psnr = -10 * torch.log10(((rec.clamp(0, 1) - x) ** 2).mean()).item()
        rt.log(step, phase="autoencoder", val_psnr=psnr)
        save_grid(os.path.join(rt.cfg.out_dir, "samples", f"recon_{step:06d}.png"), torch.cat([x, rec]), len(val))


# ------------------------------------------------------------------------------------------------
# phase: ConRe

class ConReHeads(nn.Module):
    """Training-only heads: projections for the contrastive loss and the reconstruction regressors."""

    def __init__(self, dim: int, n_attr: int):
        super().__init__()
        self.speech_proj = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.face_proj = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.recon = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, max(n_attr, dim)))
        self.log_temp = nn.Parameter(torch.tensor(math.log(0.1)))


def supcon(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, log_temp: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between a [B, D] and b [B, D] where every same-label pair is positive."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.T / log_temp.exp().clamp(min=0.02)
    pos = (labels[:, None] == labels[None]).float()
    lp_ab = logits.log_softmax(1)
    lp_ba = logits.T.log_softmax(1)
    return -((lp_ab * pos).sum(1) / pos.sum(1)).mean() / 2 - ((lp_ba * pos).sum(1) / pos.sum(1)).mean() / 2


def train_conre(args, cfg: SCFPConfig, cache: PortraitCache) -> None:
    rt = Runtime(RuntimeConfig(os.path.join(args.out, "conre"), args.seed, args.device, args.amp, args.threads))
    scfp = SCFP(cfg)
    if cfg.speech.ge2e:
        from ..models.ge2e import load_pretrained
        load_pretrained(scfp.speech_encoder.ge2e, args.ge2e_weights)
    ge2e = ge2e_table(scfp, cache, 1 + args.speech_variants, args.seed, os.path.join(args.out, "cache"))
    n_attr = cache.attributes.shape[1]
    heads = ConReHeads(cfg.speech.dim, n_attr)
    speech, face = rt.wrap(scfp.speech_encoder), rt.wrap(scfp.face_encoder)
    heads = heads.to(rt.device)  # its parts are called one by one: gradients averaged by hand below
    params = list(speech.parameters()) + list(face.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=args.conre_lr, weight_decay=0.01)
    mods = {"speech_encoder": speech, "face_encoder": face, "heads": heads}
    step = rt.resume(mods, {"opt": opt})
    train_clips = cache.clips_of("train")
    attr = torch.from_numpy(cache.attributes)
    a_mu, a_sd = attr[train_clips].mean(0), attr[train_clips].std(0) + 1e-3
    faces_of = {s: np.flatnonzero(cache.face_speaker == s) for s in np.unique(cache.clip_speaker)}
    clips_of = {s: train_clips[cache.clip_speaker[train_clips] == s] for s in np.unique(cache.clip_speaker[train_clips])}
    train_speakers = np.array(sorted(clips_of))
    rng = np.random.default_rng([args.seed, rt.rank, step])
    gen = torch.Generator().manual_seed(args.seed * 1000 + rt.rank + step)
    p = min(args.conre_speakers, len(train_speakers))
    budget = Budget(args.conre_minutes, rt)
    while step < args.conre_steps and not budget.over():
        spk = rng.choice(train_speakers, size=p, replace=False)
        clips = np.concatenate([rng.choice(clips_of[s], size=args.conre_per_speaker) for s in spk])
        labels = torch.from_numpy(cache.clip_speaker[clips])
        mel, lengths = speech_batch(scfp, cache, clips, rng, args.conre_seconds, augment=True, gen=gen)
        fidx = np.array([rng.choice(faces_of[int(cache.clip_speaker[c])]) for c in clips])
        img = faces_tensor(cache, fidx, cfg.face.size)
        if rng.random() < 0.5:
            img = img.flip(-1)
        g = None if ge2e is None else ge2e[torch.from_numpy(rng.integers(0, ge2e.shape[0], len(clips))), torch.from_numpy(clips)]
        with rt.autocast():
            utt, _, _ = speech(mel.to(rt.device), lengths.to(rt.device), None if g is None else g.to(rt.device))
            femb = face(img.to(rt.device))
            l_con = supcon(heads.speech_proj(utt), heads.face_proj(femb), labels.to(rt.device), heads.log_temp)
            pred = heads.recon(utt)
            if n_attr:
                target = ((attr[clips] - a_mu) / a_sd).to(rt.device)
                l_rec = F.mse_loss(pred[:, :n_attr], target)
            else:
                l_rec = F.mse_loss(pred, F.layer_norm(femb.detach(), femb.shape[-1:]))
            loss = l_con + args.conre_recon_weight * l_rec
        opt.zero_grad(set_to_none=True)
        rt.backward(loss)
        rt.average_grads(heads.parameters())  # speech/face encoders are DDP-wrapped; the heads are not
        rt.optimizer_step(opt, params, max_norm=1.0)
        step += 1
        if step % args.log_every == 0:
            rt.log(step, phase="conre", loss=loss.item(), contrastive=l_con.item(), recon=l_rec.item(),
                   temp=heads.log_temp.exp().item())
        if step % args.save_every == 0:
            rt.save_state(step, mods, {"opt": opt})
        if step % args.eval_every == 0 and rt.is_main:
            rt.log(step, phase="conre", **conre_eval(scfp, heads, cache, a_mu, a_sd, rt.device, ge2e))
    rt.save_state(step, mods, {"opt": opt})
    if rt.is_main:
        rt.log(step, phase="conre", **conre_eval(scfp, heads, cache, a_mu, a_sd, rt.device, ge2e))


@torch.no_grad()
def conre_eval(scfp: SCFP, heads: ConReHeads, cache: PortraitCache, a_mu, a_sd, device, ge2e=None) -> dict:
    """Held-out speakers: speech->face top-1 among them (ConRe space) and attribute R² (mean over attributes)."""
    scfp.eval()
    clips = cache.clips_of(("val", "test"))
    if len(clips) < 2:
        return {}
    rng = np.random.default_rng(0)
    mel, lengths = speech_batch(scfp, cache, clips, rng, 8.0, augment=False)
    g = None if ge2e is None else ge2e[0, clips].to(device)
    utt, _, _ = scfp.speech_encoder(mel.to(device), lengths.to(device), g)
    spk = cache.clip_speaker[clips]
    uniq = np.unique(spk)
    fimg = faces_tensor(cache, np.array([np.flatnonzero(cache.face_speaker == s)[0] for s in uniq]), scfp.cfg.face.size)
    fe = F.normalize(heads.face_proj(scfp.face_encoder(fimg.to(device))), dim=-1)
    se = F.normalize(heads.speech_proj(utt), dim=-1)
    top1 = float(((se @ fe.T).argmax(1).cpu().numpy() == np.searchsorted(uniq, spk)).mean())
    out = {"heldout_top1_conre": top1, "heldout_speakers": len(uniq)}
    n_attr = cache.attributes.shape[1]
    if n_attr:
        y = ((torch.from_numpy(cache.attributes[clips]) - a_mu) / a_sd).numpy()
        pred = heads.recon(utt)[:, :n_attr].cpu().numpy()
        r2 = 1 - ((y - pred) ** 2).sum(0) / (((y - y.mean(0)) ** 2).sum(0) + 1e-9)
        out["heldout_attr_r2_mean"] = float(np.mean(r2))
        out["heldout_attr_r2_top8"] = float(np.mean(np.sort(r2)[-8:]))
    scfp.train()
    return out


# ------------------------------------------------------------------------------------------------
# phase: denoiser (+ prior and SAW)

@torch.no_grad()
def precompute(scfp: SCFP, cache: PortraitCache, args, device) -> dict:
    """Latents of every portrait and speech conditions (clean + augmented) of every clip."""
    scfp.eval()
    lat = []
    for i in range(0, len(cache.faces), 32):
        x = faces_tensor(cache, np.arange(i, min(i + 32, len(cache.faces)))).to(device)
        lat.append(scfp.autoencoder.encode(x)[0].cpu())
    latents = torch.cat(lat)  # [P, 4, 32, 32] unscaled
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    n_clips = len(cache.clip_speaker)
    ge2e = ge2e_table(scfp, cache, 1 + args.speech_variants, args.seed, os.path.join(args.out, "cache"))
    utts, toks = [], []
    for v in range(1 + args.speech_variants):
        u_v, t_v = [], []
        for i in range(0, n_clips, 32):
            clips = np.arange(i, min(i + 32, n_clips))
            mel, lengths = speech_batch(scfp, cache, clips, rng, scfp.cfg.window_seconds, augment=v > 0, gen=gen)
            g = None if ge2e is None else ge2e[v % ge2e.shape[0], clips].to(device)
            u, t, m = scfp.speech_encoder(mel.to(device), lengths.to(device), g)
            u_v.append(u.cpu())
            t_v.append(pool_segments(t.cpu(), m.cpu(), scfp.cfg.denoiser.n_tokens))
        utts.append(torch.cat(u_v))
        toks.append(torch.cat(t_v))
    return {"latents": latents, "utterance": torch.stack(utts), "tokens": torch.stack(toks)}  # [V, C, ...]


def precompute_sources(scfp: SCFP, args) -> str:
    """sha256 of what the precomputed latents and speech conditions depend on: the autoencoder and
    speech-encoder weights and the precompute settings."""
    import hashlib

    h = hashlib.sha256(json.dumps({"seed": args.seed, "variants": args.speech_variants,
                                   "window": scfp.cfg.window_seconds, "n_tokens": scfp.cfg.denoiser.n_tokens}).encode())
    for name in ("autoencoder", "speech_encoder"):
        for k, v in sorted(getattr(scfp, name).state_dict().items()):
            h.update(f"{name}.{k}".encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_or_precompute(scfp: SCFP, cache: PortraitCache, args, rt: Runtime) -> dict:
    """denoiser/precomputed.safetensors when it was made from these weights and settings, else a
    fresh precompute. A denoiser run already trained on other latents is refused, not mixed."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    pre_path = os.path.join(rt.cfg.out_dir, "precomputed.safetensors")
    sources = precompute_sources(scfp, args)
    if os.path.exists(pre_path):
        with safe_open(pre_path, "pt") as f:
            old = (f.metadata() or {}).get("sources")
        if old == sources:
            return load_file(pre_path)
        if os.path.exists(os.path.join(rt.cfg.out_dir, "state.safetensors")):
            raise SystemExit(f"{rt.cfg.out_dir}: this denoiser run was trained on latents of another autoencoder / "
                             "ConRe encoder (retrained since); use a new --out, or delete that folder to retrain "
                             "the denoiser")
        print(f"[train_scfp] {pre_path}: made from other weights or settings; computing it again", flush=True)
    pre = precompute(scfp, cache, args, rt.device)
    if rt.is_main:
        tmp = pre_path + ".tmp"
        save_file({k: v.contiguous() for k, v in pre.items()}, tmp, metadata={"sources": sources})
        os.replace(tmp, pre_path)
    return pre


def train_denoiser(args, cfg: SCFPConfig, cache: PortraitCache) -> None:
    rt = Runtime(RuntimeConfig(os.path.join(args.out, "denoiser"), args.seed, args.device, args.amp, args.threads))
    scfp = SCFP(cfg)
    load_phase(args.out, "autoencoder", {"autoencoder": scfp.autoencoder})
    load_phase(args.out, "conre", {"speech_encoder": scfp.speech_encoder, "face_encoder": scfp.face_encoder})
    scfp.to(rt.device)
    pre = load_or_precompute(scfp, cache, args, rt)
    train_faces = cache.portraits_of("train")
    if not bool(scfp.prior.fitted):
        scfp.prior.fit(pre["latents"][train_faces].to(rt.device))
    z_all = pre["latents"].to(rt.device) / scfp.prior.latent_scale  # scaled [P, 4, 32, 32]
    utt_all, tok_all = pre["utterance"].to(rt.device), pre["tokens"].to(rt.device)  # [V, C, D], [V, C, M, D]
    clips_of = {s: np.flatnonzero(cache.clip_speaker == s) for s in np.unique(cache.clip_speaker)}
    face_spk = cache.face_speaker
    denoiser = rt.wrap(scfp.denoiser)
    saw = rt.wrap(scfp.saw)
    ema = copy.deepcopy(scfp.denoiser).requires_grad_(False)
    opt = torch.optim.AdamW(list(denoiser.parameters()) + list(saw.parameters()), lr=args.den_lr, weight_decay=0.0)
    mods = {"denoiser": denoiser, "saw": saw, "ema": ema, "prior": scfp.prior}
    step = rt.resume(mods, {"opt": opt})
    rng = np.random.default_rng([args.seed, rt.rank, step])
    gen = torch.Generator(device=rt.device).manual_seed(args.seed * 1000 + rt.rank + step)
    budget = Budget(args.den_minutes, rt)
    t0, seen = time.time(), 0
    v_count = utt_all.shape[0]
    while step < args.den_steps and not budget.over():
        fidx = rng.choice(train_faces, size=args.den_batch)
        clips = np.array([rng.choice(clips_of[int(face_spk[f])]) for f in fidx])  # any utterance of the speaker
        var = rng.integers(0, v_count, size=len(fidx))
        z = z_all[fidx]
        utt, tok = utt_all[var, clips], tok_all[var, clips]
        beta_saw = saw(utt)  # [B, 4]
        l_saw = F.mse_loss(beta_saw, scfp.prior.beta_target(z))
        mode = torch.from_numpy(rng.choice(4, size=len(fidx), p=[0.4, 0.2, 0.2, 0.2])).to(rt.device)
        beta = torch.where((mode == 0)[:, None], beta_saw.detach(), torch.where(
            (mode == 1)[:, None], scfp.prior.beta0.expand_as(beta_saw), torch.where(
                (mode == 2)[:, None], torch.zeros_like(beta_saw), torch.rand(beta_saw.shape, generator=gen, device=rt.device))))
        r = z - scfp.prior.offset(beta)
        with rt.autocast():
            l_den = scfp.diffusion.loss(denoiser, r, {"utterance": utt, "tokens": tok, "beta": beta,
                                                       "null": rt.unwrap(denoiser).null_condition(len(fidx))}, gen)
        loss = l_den + l_saw
        opt.zero_grad(set_to_none=True)
        rt.backward(loss)
        rt.optimizer_step(opt, denoiser.parameters(), max_norm=1.0)
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), rt.unwrap(denoiser).parameters()):
                pe.lerp_(pm, 1 - d)
        step += 1
        seen += len(fidx)
        if step % args.log_every == 0:
            rt.log(step, phase="denoiser", loss=l_den.item(), saw=l_saw.item(), samples_per_s=seen / (time.time() - t0))
        if step % args.save_every == 0:
            rt.save_state(step, mods, {"opt": opt})
        if step % args.eval_every == 0 and rt.is_main:
            denoiser_samples(scfp, ema, cache, pre, rt, step)
    rt.save_state(step, mods, {"opt": opt})
    if rt.is_main:
        denoiser_samples(scfp, ema, cache, pre, rt, step)


@torch.no_grad()
def denoiser_samples(scfp: SCFP, ema: nn.Module, cache: PortraitCache, pre: dict, rt: Runtime, step: int) -> None:
    """Grid: per held-out speaker, the true portrait then 3 samples (adaptive β, 20 steps); logs latent MSE."""
    live = scfp.denoiser
    scfp.denoiser = ema
    scfp.eval()
    clips = cache.clips_of(("val", "test"))
    spk = cache.clip_speaker[clips]
    _, first = np.unique(spk, return_index=True)
    clips = clips[first][:6]
    rows, err = [], []
    for c in clips:
        utt, tok = pre["utterance"][0, c], pre["tokens"][0, c]
        img, _ = scfp.sample((utt, tok[None].squeeze(0)), n=3, seed=0, steps=20)
        true = faces_tensor(cache, np.flatnonzero(cache.face_clip == c)[:1])
        rows += [true, img.permute(0, 3, 1, 2)]
        err.append(((img.permute(0, 3, 1, 2) - true) ** 2).mean().item())
    save_grid(os.path.join(rt.cfg.out_dir, "samples", f"samples_{step:06d}.png"), torch.cat(rows), 4)
    rt.log(step, phase="denoiser", heldout_pixel_mse=float(np.mean(err)))
    scfp.denoiser = live
    scfp.train()


# ------------------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/standard", help="corpus directory")
    p.add_argument("--out", default="runs/scfp", help="run folder (one subfolder per phase)")
    p.add_argument("--phase", default="all", help=f"one of {PHASES} or 'all' (cache, autoencoder, conre, denoiser, export, saw)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", default="none", choices=["none", "fp16", "bf16"])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--frames-per-clip", type=int, default=2, help="portraits cached per clip")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--eval-every", type=int, default=500)
    # autoencoder
    p.add_argument("--ae-steps", type=int, default=100000)
    p.add_argument("--ae-minutes", type=float, default=30.0)
    p.add_argument("--ae-batch", type=int, default=16)
    p.add_argument("--ae-crop", type=int, default=128, help="training crop side (fully convolutional AE)")
    p.add_argument("--ae-lr", type=float, default=1e-3)
    p.add_argument("--ae-init", default=None, help="start the autoencoder from a stage-1 bundle or an autoencoder "
                   "phase's state.safetensors (same config); with --ae-minutes 0 it is reused as is")
    # conre
    p.add_argument("--conre-steps", type=int, default=100000)
    p.add_argument("--conre-minutes", type=float, default=15.0)
    p.add_argument("--conre-speakers", type=int, default=16, help="speakers per batch")
    p.add_argument("--conre-per-speaker", type=int, default=2, help="clips per speaker per batch")
    p.add_argument("--conre-seconds", type=float, default=3.0, help="speech crop length")
    p.add_argument("--conre-lr", type=float, default=1e-3)
    p.add_argument("--conre-recon-weight", type=float, default=1.0)
    p.add_argument("--ge2e-weights", default=None, help="Resemblyzer pretrained.pt (default: from the installed wheel)")
    # denoiser
    p.add_argument("--den-steps", type=int, default=1000000)
    p.add_argument("--den-minutes", type=float, default=60.0)
    p.add_argument("--den-batch", type=int, default=32)
    p.add_argument("--den-lr", type=float, default=5e-4)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--speech-variants", type=int, default=2, help="augmented speech conditions per clip (+ clean)")
    p.add_argument("--saw-seeds", type=int, default=3, help="saw phase: portraits per calibration speaker, "
                   "speech condition and prior scale (training/saw_calibration.py)")
    # export
    p.add_argument("--export", default=os.path.join(PACK_DIR, "weights", "scfp_default.safetensors"),
                   help="bundle path written by the export phase (default: the pack's bundled default)")


def run(args: argparse.Namespace) -> int:
    phases = PHASES if args.phase == "all" else tuple(args.phase.split(","))
    args.out = os.path.expanduser(args.out)
    cfg = load_config(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    cache_dir = os.path.join(args.out, "cache")
    wait_for_rank0(os.path.join(cache_dir, "info.json"))
    cache = build_cache(args.corpus, cache_dir, args.frames_per_clip, cfg.image_size)
    for phase in phases:
        t0 = time.time()
        if phase == "autoencoder":
            train_autoencoder(args, cfg, cache)
        elif phase == "conre":
            train_conre(args, cfg, cache)
        elif phase == "denoiser":
            train_denoiser(args, cfg, cache)
        elif phase == "export":
            if int(os.environ.get("RANK", "0")) == 0:
                from .export_scfp import export
                export(args.out, args.export)
        elif phase == "saw":
            if int(os.environ.get("RANK", "0")) == 0:
                from .fit_saw import refit, write_report
                from .saw_calibration import calibrate, write_calibration
                cal = calibrate(args.export, args.corpus, seeds=args.saw_seeds)
                write_calibration(os.path.splitext(args.export)[0] + ".saw_calibration.md", cal)
                write_report(args.export, refit(args.export, args.corpus, cache_dir, args.export, cal))
        elif phase != "cache":
            raise SystemExit(f"unknown phase {phase!r}; choose from {PHASES}")
        print(f"[train_scfp] phase {phase} done in {time.time() - t0:.0f} s", flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="train_scfp", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
