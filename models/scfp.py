"""Stage-1 bundle "scfp": speech -> speaker portraits (See the Speaker, arXiv 2510.26819, SCFP).

One nn.Module holding every part of stage 1, saved as one `.safetensors` (checkpoint.py, kind
"scfp"), rebuilt from `SCFPConfig`:

    speech_encoder  (ConRe)   log-mel -> utterance [D] + tokens [N, D]     models/speech_encoder.py
    face_encoder    (ConRe)   portrait -> [D] (training/evaluation side)   models/face_encoder.py
    autoencoder     (KL, f=8) portrait 256² <-> latent 4x32x32              models/portrait_autoencoder.py
    prior           μ, β⁰, latent scale (buffers)                            models/face_prior.py
    saw             utterance -> β ∈ (0,1)^4                                 models/saw.py
    denoiser        UNet, cross-attn on tokens, AdaGN on utterance + β       models/portrait_denoiser.py
    diffusion       schedule + DDIM/CFG sampler + prior guidance (no weights) models/diffusion.py

Portraits are canonical aligned crops (data/canonical.py) at 256², the size stage 2 takes.

Long audio (documented behaviour): the encoder hears at most `max_windows` windows of
`window_seconds` each. Audio longer than one window is cut into consecutive windows; when there
are more than `max_windows`, that many are taken evenly spread over the file. The utterance
embedding is the speech-weighted mean of the windows' embeddings and the tokens are the chosen
windows' tokens in order, so memory and time are bounded whatever the length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..audio.frontend import FrontEndConfig, LogMel
from ..audio.processing import all_finite, rms as wave_rms
from ..checkpoint import register_kind
from .diffusion import Diffusion, DiffusionConfig
from .face_encoder import FaceEncoder, FaceEncoderConfig
from .face_prior import FacePrior, FacePriorConfig
from .portrait_autoencoder import AutoencoderConfig, PortraitAutoencoder
from .portrait_denoiser import DenoiserConfig, PortraitDenoiser
from .saw import SAW, SAWConfig
from .speech_encoder import SpeechEncoder, SpeechEncoderConfig, pool_segments

KIND = "scfp"
PRIOR_MODES = ("adaptive", "fixed", "none")


class SpeechInputError(ValueError):
    """The speech cannot be encoded (too short, silent); the message says what is needed."""


@dataclass
class SCFPConfig:
    image_size: int = 256  # portrait side (canonical aligned crop)
    speech: SpeechEncoderConfig = field(default_factory=SpeechEncoderConfig)
    face: FaceEncoderConfig = field(default_factory=FaceEncoderConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    prior: FacePriorConfig = field(default_factory=FacePriorConfig)
    saw: SAWConfig = field(default_factory=SAWConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    window_seconds: float = 8.0  # longest audio window the speech encoder hears at once
    max_windows: int = 8  # at most this many windows per input (64 s of speech)
    min_seconds: float = 0.5  # shorter speech is refused (no identity in it)
    silence_rms: float = 1e-4  # speech quieter than this (RMS, full scale 1) counts as silence


class SCFP(nn.Module):
    def __init__(self, cfg: SCFPConfig = SCFPConfig()):
        super().__init__()
        self.cfg = cfg
        self.front_end = FrontEndConfig()
        self._logmel = [LogMel(self.front_end)]  # in a list: not a submodule, not in the state dict
        self.speech_encoder = SpeechEncoder(cfg.speech)
        self.face_encoder = FaceEncoder(cfg.face)
        self.autoencoder = PortraitAutoencoder(cfg.autoencoder)
        self.prior = FacePrior(cfg.prior)
        self.saw = SAW(cfg.saw)
        self.denoiser = PortraitDenoiser(cfg.denoiser)
        self.diffusion = Diffusion(cfg.diffusion)

    # ---------------------------------------------------------------------------------------
    # (not named `device`: ComfyUI's ModelPatcher sets a plain `device` attribute on the module)
    @property
    def compute_device(self) -> torch.device:
        return self.prior.mu.device

    @property
    def compute_dtype(self) -> torch.dtype:
        return self.prior.mu.dtype

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        """wave [..., T] at 16 kHz -> log-mel [..., 80, F] (float32, CPU front end)."""
        return self._logmel[0](wave.float().cpu())

    def check_speech(self, wave: torch.Tensor) -> None:
        sr = self.front_end.sample_rate
        if wave.ndim != 1:
            raise SpeechInputError(f"expected mono speech [T], got shape {tuple(wave.shape)}")
        dur = wave.shape[0] / sr
        if dur < self.cfg.min_seconds:
            raise SpeechInputError(f"speech is {dur:.2f} s long; at least {self.cfg.min_seconds:.1f} s is needed "
                                   "to hear who is speaking")
        if not all_finite(wave):  # chunk by chunk: no whole-length mask or float copy
            raise SpeechInputError("speech contains NaN or infinite samples")
        rms = wave_rms(wave)
        if rms < self.cfg.silence_rms:
            raise SpeechInputError(f"speech is silent (RMS {rms:.1e} < {self.cfg.silence_rms:.0e}); "
                                   "give a recording with someone speaking")

    def windows(self, n_samples: int) -> list[tuple[int, int]]:
        """[start, end) sample ranges heard by the encoder (bounded: ≤ max_windows)."""
        w = int(round(self.cfg.window_seconds * self.front_end.sample_rate))
        if n_samples <= w:
            return [(0, n_samples)]
        n = math.ceil(n_samples / w)
        starts = [i * w for i in range(n)]
        if n > self.cfg.max_windows:
            last = n_samples - w
            starts = [round(i * last / (self.cfg.max_windows - 1)) for i in range(self.cfg.max_windows)]
        return [(s, min(s + w, n_samples)) for s in starts]

    @torch.no_grad()
    def encode_speech(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wave [T] mono 16 kHz -> (utterance [D], tokens [N, D]) on the CPU, float32 (see module doc)."""
        self.check_speech(wave)
        spans = self.windows(wave.shape[0])
        min_len = int(self.cfg.min_seconds * self.front_end.sample_rate)
        spans = [s for s in spans if s[1] - s[0] >= min_len] or spans[:1]
        longest = max(e - s for s, e in spans)
        batch = torch.zeros(len(spans), longest)
        for i, (s, e) in enumerate(spans):
            batch[i, : e - s] = wave[s:e].float()
        mel = self.logmel(batch)  # [W, 80, F]
        hop = self.front_end.hop_length
        lengths = torch.tensor([(e - s) // hop + 1 for s, e in spans])
        mel = mel[..., : self.cfg.speech.max_frames]
        lengths = lengths.clamp(max=mel.shape[-1])
        g = None
        if self.cfg.speech.ge2e:
            g = self.speech_encoder.ge2e(batch.to(self.compute_device, self.compute_dtype), torch.tensor([e - s for s, e in spans]))
        utt, tok, mask = self.speech_encoder(mel.to(self.compute_device, self.compute_dtype), lengths.to(self.compute_device), g)
        weight = mask.sum(1).float()  # [W]
        utterance = (utt.float() * weight[:, None]).sum(0) / weight.sum()
        tokens = torch.cat([tok[i, : int(m)] for i, m in enumerate(mask.sum(1))]).float()
        return utterance.cpu(), tokens.cpu()

    # ---------------------------------------------------------------------------------------
    def prior_beta(self, utterance: torch.Tensor, prior_mode: str, beta: float | torch.Tensor | None = None) -> torch.Tensor:
        """β [B, C] for a batch of utterances [B, D] under a prior mode, or a fixed override: one
        value for every channel, or one per latent channel ([C])."""
        b, c = utterance.shape[0], self.cfg.prior.channels
        if beta is not None:
            beta = torch.as_tensor(beta, dtype=torch.float32).flatten()
            if beta.numel() not in (1, c) or not bool(((beta >= 0) & (beta <= 1)).all()):
                raise ValueError(f"beta override must be one value or {c} values (one per latent channel) in [0, 1], "
                                 f"got {beta.tolist()}")
            return beta.expand(c).to(self.compute_device, self.compute_dtype)[None].expand(b, c).clone()
        if prior_mode == "adaptive":
            return self.saw(utterance.to(self.compute_device, self.compute_dtype))
        if prior_mode == "fixed":
            return self.prior.beta0.expand(b, c).clone()
        if prior_mode == "none":
            return torch.zeros(b, c, device=self.compute_device, dtype=self.compute_dtype)
        raise ValueError(f"prior_mode must be one of {PRIOR_MODES}, got {prior_mode!r}")

    def speech_condition(self, utterance: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """utterance [D] or [B, D], tokens [N, D] or [B, N, D] -> ([B, D], [B, n_tokens, D]) on device."""
        if utterance.ndim == 1:
            utterance, tokens = utterance[None], tokens[None]
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool)
        seg = pool_segments(tokens.float().cpu(), mask, self.cfg.denoiser.n_tokens)
        return utterance.to(self.compute_device, self.compute_dtype), seg.to(self.compute_device, self.compute_dtype)

    @torch.no_grad()
    def decode_latents(self, z_scaled: torch.Tensor) -> torch.Tensor:
        """Scaled latents [B, 4, 32, 32] -> images [B, H, W, 3] float32 0..1 on the CPU."""
        img = self.autoencoder.decode(z_scaled * self.prior.latent_scale)
        return img.clamp(0, 1).permute(0, 2, 3, 1).float().cpu()

    @torch.no_grad()
    def sample(self, speech, n: int = 4, seed: int = 0, steps: int | None = None, guidance: float | None = None,
               prior_mode: str = "adaptive", beta: float | torch.Tensor | None = None,
               progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """N portraits of the speaker of `speech` -> (images [n, H, W, 3] 0..1, β used [C]).

        speech: a mono 16 kHz wave [T], or (utterance [D], tokens [N, D]) from encode_speech.
        Sample i is drawn from the noise of seed + i (same images for any n or run).
        """
        if isinstance(speech, torch.Tensor):
            utterance, tokens = self.encode_speech(speech)
        else:
            utterance, tokens = speech
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        steps = steps or self.cfg.diffusion.default_steps
        guidance = self.cfg.diffusion.default_guidance if guidance is None else guidance
        u, tok = self.speech_condition(utterance, tokens)
        b = self.prior_beta(u, prior_mode, beta)  # [1, C]
        u, tok, bb = u.expand(n, -1), tok.expand(n, -1, -1), b.expand(n, -1)
        c, s = self.cfg.prior.channels, self.cfg.prior.size
        x_T = Diffusion.initial_noise((c, s, s), [seed + i for i in range(n)], self.compute_device, self.compute_dtype)
        offset = self.prior.offset(bb)  # β·μ [n, C, h, w]
        pull = (self.prior.mu - offset, bb)  # prior guidance toward μ, in residual coordinates
        r = self.diffusion.sample(self.denoiser, x_T, u, tok, bb, self.denoiser.null_condition(n),
                                  steps, guidance, progress, pull)
        images = self.decode_latents(r + offset)
        return images, b[0].float().cpu()


def tiny_config() -> SCFPConfig:
    """A very small architecture for tests and plumbing checks (never a trained default)."""
    return SCFPConfig(
        speech=SpeechEncoderConfig(dim=32, layers=1, heads=2, ge2e=False),
        face=FaceEncoderConfig(dim=32, channels=(8, 8, 16, 16)),
        autoencoder=AutoencoderConfig(enc_channels=(8, 8, 8, 16), dec_channels=16, dec_blocks=1, up_channels=(8, 8, 8)),
        saw=SAWConfig(in_dim=32, hidden=16),
        denoiser=DenoiserConfig(channels=(16, 16, 32), cond_dim=32, emb_dim=32, heads=2, n_tokens=4),
    )


def build_scfp(cfg: SCFPConfig) -> SCFP:
    return SCFP(cfg)


register_kind(KIND, SCFPConfig, build_scfp, "stage 1: speech -> portrait (ConRe encoder, face prior, SAW, latent diffusion)")
