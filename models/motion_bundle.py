"""The stage-2 motion bundle (kind "motion"): speech -> holistic motion latent (HRTF, arXiv 2510.26819).

One checkpoint holds everything that turns speech into the renderer's motion latent:

    content encoder  raw front end (Whisper tiny.en / log-mel) -> 25 fps content features
    motion diffusion transformer denoiser over windows [context | new | lookahead]
    lip refine       local conv correction of the lips part (strength 0 = off)
    sync expert      SyncNet-style audio <-> lips scorer (LipRefine's loss; an evaluation measure)
    buffers          motion_mean / motion_std (the diffusion works on (m - mean) / std) and
                     motion_rest (mouth at rest, mean pose: the reference of the component scales)

`generate` streams window by window (the previous window's tail is the next one's context), so
memory is bounded by one window plus the [T, D] output for any audio length; `refine` runs the
local refiner in halo'd chunks. Motion lives in the space named by `config.source` ("gt" =
synthetic-corpus ground truth, or "renderer:<file>" = that renderer's motion encoder).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..checkpoint import register_kind
from .content_encoder import ContentEncoder, ContentEncoderConfig
from .lip_refine import LipRefine, LipRefineConfig
from .motion_diffusion import MotionDiffusion, MotionDiffusionConfig
from .sync_expert import SyncExpert, SyncExpertConfig

KIND = "motion"


def _default_parts() -> dict[str, list[int]]:
    return {"lips": [0, 6], "expression": [6, 8], "eyes": [8, 12], "head_pose": [12, 18]}


@dataclass
class MotionBundleConfig:
    motion_dim: int = 18  # D of the motion latent (set from the MotionSource)
    parts: dict = field(default_factory=_default_parts)  # part name -> [start, end) columns
    lips_part: str = "lips"  # the part LipRefine and the sync expert read
    head_part: str = "head_pose"  # the part "still head" freezes
    source: str = "gt"  # motion space: "gt" or "renderer:<checkpoint file name>"
    fps: float = 25.0  # video frame rate of the latent
    guided_parts: tuple = ("lips",)  # parts that classifier-free guidance on audio applies to
    seam_blend: int = 6  # frames over which a window's start offset from its context is faded out (0 = off)
    content: ContentEncoderConfig = field(default_factory=ContentEncoderConfig)
    diffusion: MotionDiffusionConfig = field(default_factory=MotionDiffusionConfig)
    sync: SyncExpertConfig = field(default_factory=SyncExpertConfig)
    refine: LipRefineConfig = field(default_factory=LipRefineConfig)

    def __post_init__(self):
        self.parts = {k: [int(v[0]), int(v[1])] for k, v in self.parts.items()}
        self.guided_parts = tuple(self.guided_parts)
        unknown = [p for p in self.guided_parts if p not in self.parts]
        if unknown:
            raise ValueError(f"guided_parts {unknown} are not motion parts {list(self.parts)}")
        if max(e for _, e in self.parts.values()) != self.motion_dim:
            raise ValueError(f"parts {self.parts} do not cover motion_dim {self.motion_dim}")
        lips = self.parts[self.lips_part][1] - self.parts[self.lips_part][0]
        self.diffusion.motion_dim = self.motion_dim
        self.diffusion.content_dim = self.content.dim
        self.sync.audio_dim = self.refine.audio_dim = self.content.raw_dim
        self.sync.lips_dim = self.refine.lips_dim = lips


class MotionBundle(nn.Module):
    def __init__(self, cfg: MotionBundleConfig):
        super().__init__()
        self.cfg = cfg
        self.content = ContentEncoder(cfg.content)
        self.diffusion = MotionDiffusion(cfg.diffusion)
        self.refiner = LipRefine(cfg.refine)
        self.sync = SyncExpert(cfg.sync)
        self.register_buffer("motion_mean", torch.zeros(cfg.motion_dim))
        self.register_buffer("motion_std", torch.ones(cfg.motion_dim))
        self.register_buffer("motion_rest", torch.zeros(cfg.motion_dim))  # normalised units
        self._raw_cache: dict[int, tuple[weakref.ref, torch.Tensor]] = {}  # id(wave) -> (ref, raw features)

    # -- spaces -------------------------------------------------------------------------------
    @property
    def parts(self) -> dict[str, tuple[int, int]]:
        return {k: (v[0], v[1]) for k, v in self.cfg.parts.items()}

    def part_slice(self, name: str) -> slice:
        a, b = self.cfg.parts[name]
        return slice(a, b)

    def normalize(self, m: torch.Tensor) -> torch.Tensor:
        return (m - self.motion_mean) / self.motion_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.motion_std + self.motion_mean

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor, rest_normalized: torch.Tensor) -> None:
        self.motion_mean.copy_(mean)
        self.motion_std.copy_(std)
        self.motion_rest.copy_(rest_normalized)

    def speech_raw(self, speech) -> torch.Tensor:
        """SpeechFeatures (or a wave [N] at 16 kHz) -> raw content features [T, raw_dim] (cached per wave)."""
        wave = speech.wave if hasattr(speech, "wave") else torch.as_tensor(speech)
        fe = getattr(speech, "front_end", None)
        if fe is not None and abs(fe.fps - self.cfg.fps) > 1e-6:
            raise ValueError(f"speech features are at {fe.fps} fps, the motion model at {self.cfg.fps}")
        # MotionDiffusion and LipRefine read the same speech: compute its features once, keep them
        # while the wave lives (tensors can't be WeakKeyDictionary keys: == is elementwise)
        self._raw_cache = {k: v for k, v in self._raw_cache.items() if v[0]() is not None}
        hit = self._raw_cache.get(id(wave))
        if hit is not None and hit[0]() is wave:
            return hit[1]
        raw = self.content.features(wave, fe=fe)
        self._raw_cache[id(wave)] = (weakref.ref(wave), raw)
        return raw

    def _param(self) -> torch.Tensor:
        return self.motion_mean

    # -- generation ---------------------------------------------------------------------------
    @staticmethod
    def window_seed(seed: int, k: int) -> int:
        return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, k]).generate_state(1)[0])

    def apply_controls(self, z: torch.Tensor, scales: dict[str, float] | None, still_head: bool) -> torch.Tensor:
        """Per-part scales about the rest motion, and the still head, on normalised motion [T, D]."""
        rest = self.motion_rest.to(z)
        out = z.clone()
        for name, s in (scales or {}).items():
            if name not in self.cfg.parts:
                raise ValueError(f"unknown motion part {name!r}; parts: {list(self.cfg.parts)}")
            sl = self.part_slice(name)
            out[:, sl] = rest[sl] + float(s) * (z[:, sl] - rest[sl])
        if still_head:
            sl = self.part_slice(self.cfg.head_part)
            out[:, sl] = rest[sl]
        return out

    @contextlib.contextmanager
    def _inference(self):
        """Eval mode (no dropout: deterministic sampling) for the duration, then the previous mode."""
        was = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was)

    @torch.no_grad()
    def generate(self, speech, identity: torch.Tensor | None = None, seed: int = 0, steps: int = 20,
                 guidance: float = 2.0, scales: dict[str, float] | None = None, still_head: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """speech (SpeechFeatures, wave [N], or raw features [T, raw_dim] when 2-D) -> motion latent [T, D].

        Window k generates frames [kW, (k+1)W) from its content features (and L frames of lookahead
        audio), with the previous C generated frames as context. `progress(done, total)` is called
        after every window (raise in it to interrupt)."""
        with self._inference():
            return self._generate(speech, identity, seed, steps, guidance, scales, still_head, progress)

    def _generate(self, speech, identity, seed, steps, guidance, scales, still_head, progress) -> torch.Tensor:
        p = self._param()
        raw = speech if (torch.is_tensor(speech) and speech.ndim == 2) else self.speech_raw(speech)
        raw = raw.to(p.device, p.dtype)
        T = raw.shape[0]
        dc = self.cfg.diffusion
        C, W, L, S = dc.context, dc.window, dc.lookahead, dc.span
        content = self.content(raw[None])[0]  # [T, content_dim] (linear memory, local receptive field)
        ident = None if identity is None else identity.reshape(1, -1).to(p.device, p.dtype)
        z = torch.zeros(T, self.cfg.motion_dim, device=p.device, dtype=p.dtype)  # normalised raw output
        gmask = torch.zeros(self.cfg.motion_dim, device=p.device)
        for name in self.cfg.guided_parts:
            gmask[self.part_slice(name)] = 1.0
        n_win = math.ceil(T / W)
        for k in range(n_win):
            s = k * W
            audio = content.new_zeros(1, S, content.shape[1])
            amask = torch.zeros(1, S, dtype=torch.bool, device=p.device)
            lo, hi = max(0, s - C), min(T, s + W + L)
            audio[0, lo - (s - C):hi - (s - C)] = content[lo:hi]
            amask[0, lo - (s - C):hi - (s - C)] = True
            ctx = z.new_zeros(1, C, self.cfg.motion_dim)
            cmask = torch.zeros(1, C, dtype=torch.bool, device=p.device)
            if s > 0:
                ctx[0, lo - (s - C):] = z[lo:s]
                cmask[0, lo - (s - C):] = True
            g = torch.Generator().manual_seed(self.window_seed(seed, k))
            x = self.diffusion.sample(ctx, cmask, audio, amask, ident, steps, guidance, g, guidance_mask=gmask)[0]
            if s > 0 and self.cfg.seam_blend > 0:
                x = self.blend_seam(z[max(0, s - 2):s], x)
            n = min(W, T - s)
            z[s:s + n] = x[:n]
            if progress is not None:
                progress(k + 1, n_win)
        return self.denormalize(self.apply_controls(z, scales, still_head))

    def blend_seam(self, tail: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Fade out the jump between the context tail [<=2, D] and a new window x [W, D].

        The first new frame should continue the tail at its velocity; the difference d from that
        is removed with a linear ramp over `seam_blend` frames (x[i] -= d * (1 - i/R)), so the
        window keeps its own motion after R frames and the boundary has no step."""
        R = min(self.cfg.seam_blend, x.shape[0])
        vel = tail[-1] - tail[-2] if tail.shape[0] >= 2 else torch.zeros_like(tail[-1])
        d = x[0] - (tail[-1] + vel)
        ramp = 1.0 - torch.arange(R, device=x.device, dtype=x.dtype) / R  # [R]: 1 .. 1/R
        x = x.clone()
        x[:R] -= ramp[:, None] * d[None]
        return x

    @torch.no_grad()
    def refine(self, latent: torch.Tensor, speech, strength: float = 1.0) -> torch.Tensor:
        """Refine the lips part of latent [T, D] from the speech; strength 0 returns a copy."""
        if strength == 0:
            return latent.clone()
        with self._inference():
            return self._refine(latent, speech, strength)

    def _refine(self, latent: torch.Tensor, speech, strength: float) -> torch.Tensor:
        p = self._param()
        raw = speech if (torch.is_tensor(speech) and speech.ndim == 2) else self.speech_raw(speech)
        raw = raw.to(p.device, p.dtype)
        T = latent.shape[0]
        if raw.shape[0] < T:  # motion longer than the speech: silence features past the end
            raw = torch.cat([raw, raw[-1:].expand(T - raw.shape[0], -1)])
        z = self.normalize(latent.to(p.device, p.dtype))
        sl = self.part_slice(self.cfg.lips_part)
        z[:, sl] = self.refiner.refine_sequence(z[:, sl], raw[:T], strength)
        return self.denormalize(z)

    @torch.no_grad()
    def sync_score(self, latent: torch.Tensor, speech) -> dict[str, float]:
        """Sync-expert offset/confidence of a motion latent [T, D] against its speech."""
        raw = speech if (torch.is_tensor(speech) and speech.ndim == 2) else self.speech_raw(speech)
        z = self.normalize(latent.to(self._param()))
        T = min(z.shape[0], raw.shape[0])
        return self.sync.score(raw[:T].to(z), z[:T, self.part_slice(self.cfg.lips_part)])


def build_motion_bundle(cfg: MotionBundleConfig) -> MotionBundle:
    return MotionBundle(cfg)


register_kind(KIND, MotionBundleConfig, build_motion_bundle,
              "stage-2 motion: content encoder + motion diffusion + lip refine + sync expert")


def resample_motion(latent: torch.Tensor, from_fps: float, to_fps: float, n_out: int | None = None) -> torch.Tensor:
    """Linear-in-time resampling of a motion latent [T, D] from one frame rate to another.

    Frame t sits at time t / fps (frame starts, as in the corpus); `n_out` defaults to the frames
    that cover the same duration."""
    T = latent.shape[0]
    if abs(from_fps - to_fps) < 1e-9 and (n_out is None or n_out == T):
        return latent.clone()
    n_out = n_out or max(1, math.ceil(T * to_fps / from_fps - 1e-9))
    pos = (torch.arange(n_out, dtype=torch.float64) * from_fps / to_fps).clamp(0, T - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=T - 1)
    w = (pos - lo).to(latent.dtype)[:, None]
    return latent[lo] * (1 - w) + latent[hi] * w
