"""Lip-sync expert: a SyncNet-style contrastive model, audio window <-> lip-latent window.

The paper trains its lip-region refinement with a lip-sync expert; no SyncNet weights exist offline
(OFFLINE.md), so ours is small and trained on the corpus: two 1-D conv encoders map K frames of raw
content features and K frames of the lips part of the motion latent into one unit sphere (InfoNCE,
negatives = other clips and the same clip shifted in time). It scores any (audio, lips) sequence:

* ``similarity_curve``: mean cosine similarity of every K-window pair at audio-video offsets
  -O..O frames (positive offset = video late);
* ``offset`` = argmax of the curve; ``confidence`` = max - median of the curve (SyncNet's measure);
  ``score_at_zero`` = the mean cosine at offset 0.

Used as a loss by LipRefine (lip_refine.py) and as an evaluation measure (eval_motion.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class SyncExpertConfig:
    audio_dim: int = 384  # raw content feature width (ContentEncoderConfig.raw_dim)
    lips_dim: int = 6  # width of the lips part of the motion latent
    window: int = 5  # K: frames per window (0.2 s at 25 fps, as SyncNet)
    width: int = 128  # encoder width
    embed: int = 64  # embedding width (unit sphere)
    max_offset: int = 8  # O: offsets scored by similarity_curve (frames)


class _WindowEncoder(nn.Module):
    """[B, K, in_dim] -> unit embedding [B, embed]."""

    def __init__(self, in_dim: int, cfg: SyncExpertConfig):
        super().__init__()
        w = cfg.width
        self.norm = nn.LayerNorm(in_dim)
        self.conv = nn.Sequential(
            nn.Conv1d(in_dim, w, 3, padding=1), nn.GELU(),
            nn.Conv1d(w, w, 3, padding=1), nn.GELU())
        self.head = nn.Sequential(nn.Linear(w * cfg.window, w), nn.GELU(), nn.Linear(w, cfg.embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.norm(x).transpose(1, 2))  # [B, w, K]
        return F.normalize(self.head(h.flatten(1)), dim=-1)


class SyncExpert(nn.Module):
    def __init__(self, cfg: SyncExpertConfig):
        super().__init__()
        self.cfg = cfg
        self.audio = _WindowEncoder(cfg.audio_dim, cfg)
        self.lips = _WindowEncoder(cfg.lips_dim, cfg)
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # InfoNCE temperature (log 1/tau)

    def embed(self, audio: torch.Tensor, lips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio [B, K, audio_dim], lips [B, K, lips_dim] -> two unit embeddings [B, embed]."""
        return self.audio(audio), self.lips(lips)

    def logits(self, audio: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        """[B, K, .] x [N, K, .] -> similarity logits [B, N] (row i: audio i against every lips window)."""
        a, v = self.audio(audio), self.lips(lips)
        return self.log_scale.exp().clamp(max=100.0) * a @ v.T

    def contrastive_loss(self, audio: torch.Tensor, lips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Symmetric InfoNCE over the batch (pair i matches i). Returns (loss, accuracy)."""
        logits = self.logits(audio, lips)
        target = torch.arange(logits.shape[0], device=logits.device)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        acc = (logits.argmax(1) == target).float().mean()
        return loss, acc

    # -- sequence scoring ---------------------------------------------------------------------
    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """[T, F] -> every K-window [T-K+1, K, F]."""
        return x.unfold(0, self.cfg.window, 1).transpose(1, 2)

    def sequence_embeddings(self, audio: torch.Tensor, lips: torch.Tensor, chunk: int = 4096):
        """audio [T, audio_dim], lips [T, lips_dim] -> per-window embeddings [T-K+1, embed] each."""
        aw, lw = self.windows(audio), self.windows(lips)
        a = torch.cat([self.audio(aw[i:i + chunk]) for i in range(0, aw.shape[0], chunk)])
        v = torch.cat([self.lips(lw[i:i + chunk]) for i in range(0, lw.shape[0], chunk)])
        return a, v

    @torch.no_grad()
    def similarity_curve(self, audio: torch.Tensor, lips: torch.Tensor, max_offset: int | None = None) -> torch.Tensor:
        """Mean cosine at offsets -O..O ([2O+1]); offset d pairs audio window t with lips window t+d."""
        o = self.cfg.max_offset if max_offset is None else max_offset
        a, v = self.sequence_embeddings(audio, lips)
        n = a.shape[0]
        out = []
        for d in range(-o, o + 1):
            lo, hi = max(0, -d), min(n, n - d)
            out.append((a[lo:hi] * v[lo + d:hi + d]).sum(-1).mean() if hi > lo else a.new_tensor(float("nan")))
        return torch.stack(out)

    @torch.no_grad()
    def score(self, audio: torch.Tensor, lips: torch.Tensor) -> dict[str, float]:
        """{'offset': frames (positive = video late), 'confidence': max - median, 'score_at_zero'}."""
        curve = self.similarity_curve(audio, lips)
        o = (curve.shape[0] - 1) // 2
        best = int(torch.nan_to_num(curve, nan=-2.0).argmax())
        return {"offset": best - o, "confidence": float(curve[best] - curve.nanmedian()),
                "score_at_zero": float(curve[o])}
