"""Speech encoder of stage 1 (ConRe speech side; See the Speaker, arXiv 2510.26819, §SCFP).

log-mel [B, 80, F] (100 frames/s, audio/frontend.py) -> frame tokens [B, N, D] at 25 frames/s
(one per video frame, so stage 2 can reuse them) + a pooled utterance embedding [B, D].

    mel --level norm--> conv (k5) -> 2 x strided conv (x4 down, 25 fps) -> L transformer layers
        -> tokens -> attentive statistics pooling (speech frames only) -> utterance

The level normalisation subtracts the utterance's mean log energy over its speech frames, so
the embedding does not depend on loudness (recording gain carries no identity). Identity cues
that stay: spectral envelope (formants, tilt), pitch harmonics (resolved by the 80 mel bins
below ~1 kHz), rate and rhythm. Long audio is handled by the caller in bounded windows
(`models/scfp.py:encode_speech`); this module sees at most `max_frames` mel frames at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SpeechEncoderConfig:
    n_mels: int = 80  # log-mel bins of the shared front end
    dim: int = 128  # token / utterance width D
    layers: int = 3  # transformer layers at 25 fps
    heads: int = 4  # attention heads
    ff_mult: int = 2  # feed-forward width multiple
    dropout: float = 0.1  # dropout inside the transformer (training only)
    speech_db_range: float = 6.0  # frames within this many nats of the loudest count as speech
    max_frames: int = 800  # longest mel input (8 s at 100 fps); callers window longer audio
    ge2e: bool = True  # add the frozen GE2E speaker embedding (models/ge2e.py) as an input


def speech_frame_mask(mel: torch.Tensor, valid: torch.Tensor, db_range: float) -> torch.Tensor:
    """mel [B, M, F], valid bool [B, F] -> bool [B, F]: valid frames within `db_range` of the loudest."""
    energy = torch.logsumexp(mel, dim=1)  # [B, F]
    peak = energy.masked_fill(~valid, -1e9).amax(dim=1, keepdim=True)  # [B, 1]
    return valid & (energy > peak - db_range)


def normalise_level(mel: torch.Tensor, speech: torch.Tensor) -> torch.Tensor:
    """Subtract each utterance's mean log-mel over its speech frames (a loudness-free input)."""
    w = speech.unsqueeze(1).float()  # [B, 1, F]
    mean = (mel * w).sum(dim=(1, 2), keepdim=True) / (w.sum(dim=(1, 2), keepdim=True) * mel.shape[1]).clamp_min(1)
    return (mel - mean) / 4.0


class AttentiveStatsPool(nn.Module):
    """tokens [B, N, D] + mask [B, N] -> [B, D]: attention-weighted mean and std, projected."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, dim // 2), nn.Tanh(), nn.Linear(dim // 2, 1))
        self.out = nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.score(x).squeeze(-1).masked_fill(~mask, -1e4)  # [B, N]
        w = torch.softmax(logits, dim=-1).unsqueeze(-1)  # [B, N, 1]
        mean = (w * x).sum(1)
        std = ((w * (x - mean.unsqueeze(1)) ** 2).sum(1) + 1e-5).sqrt()
        return self.out(torch.cat([mean, std], dim=-1))  # [B, D]


class SpeechEncoder(nn.Module):
    def __init__(self, cfg: SpeechEncoderConfig = SpeechEncoderConfig()):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.stem = nn.ModuleList([
            nn.Conv1d(cfg.n_mels, d, 5, padding=2),  # 100 fps
            nn.Conv1d(d, d, 4, stride=2, padding=1),  # 50 fps
            nn.Conv1d(d, d, 4, stride=2, padding=1),  # 25 fps
        ])
        self.pos = nn.Conv1d(d, d, 9, padding=4, groups=d)  # convolutional relative position
        layer = nn.TransformerEncoderLayer(d, cfg.heads, cfg.ff_mult * d, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.pool = AttentiveStatsPool(d)
        if cfg.ge2e:
            from .ge2e import DIM, GE2E

            self.ge2e = GE2E()  # frozen; its embedding is computed by the caller from the wave
            self.ge2e_tokens = nn.Linear(DIM, d)  # added to the token stream before the transformer
            self.ge2e_utterance = nn.Linear(DIM, d)  # added to the pooled utterance embedding

    @staticmethod
    def token_count(n_mel_frames: int) -> int:
        """Tokens (25 fps) produced from `n_mel_frames` mel frames (two stride-2 convs)."""
        n = n_mel_frames
        for _ in range(2):
            n = (n + 2 - 4) // 2 + 1
        return max(n, 0)

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None,
                ge2e: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """mel [B, M, F], lengths [B] valid mel frames, ge2e [B, 256] (when cfg.ge2e; from `self.ge2e(wave)`)
        -> (utterance [B, D], tokens [B, N, D], token mask [B, N])."""
        b, _, f = mel.shape
        if self.cfg.ge2e and ge2e is None:
            raise ValueError("this speech encoder takes a GE2E embedding: pass ge2e=encoder.ge2e(wave, lengths)")
        if f > self.cfg.max_frames:
            raise ValueError(f"speech encoder takes at most {self.cfg.max_frames} mel frames, got {f}; window the audio")
        if lengths is None:
            lengths = torch.full((b,), f, device=mel.device)
        valid = torch.arange(f, device=mel.device)[None] < lengths[:, None]  # [B, F]
        speech = speech_frame_mask(mel, valid, self.cfg.speech_db_range)
        x = normalise_level(mel, speech).masked_fill(~valid.unsqueeze(1), 0.0)
        for i, conv in enumerate(self.stem):  # padding stays zero at every rate
            x = F.gelu(conv(x))
            n_valid = (lengths + 2**i - 1) // 2**i
            x = x.masked_fill(torch.arange(x.shape[-1], device=x.device)[None, None] >= n_valid[:, None, None], 0.0)
        x = x + self.pos(x)  # [B, D, N]
        if self.cfg.ge2e:
            x = x + self.ge2e_tokens(ge2e.to(x.dtype)).unsqueeze(-1)
        n = x.shape[-1]
        # a token is valid / speech if any of its mel frames is
        pad = n * 4 - f
        sp = F.pad(speech.float(), (0, max(pad, 0)))[:, : n * 4].reshape(b, n, 4).amax(-1) > 0  # [B, N]
        tok_valid = torch.arange(n, device=mel.device)[None] < ((lengths + 3) // 4)[:, None]
        tokens = self.transformer(x.transpose(1, 2), src_key_padding_mask=~tok_valid)
        tokens = self.norm(tokens).masked_fill(~tok_valid.unsqueeze(-1), 0.0)  # [B, N, D]
        pool_mask = sp & tok_valid
        pool_mask = torch.where(pool_mask.any(1, keepdim=True), pool_mask, tok_valid)
        utterance = self.pool(tokens, pool_mask)  # [B, D]
        if self.cfg.ge2e:
            utterance = utterance + self.ge2e_utterance(ge2e.to(utterance.dtype))
        return utterance, tokens, tok_valid


def pool_segments(tokens: torch.Tensor, mask: torch.Tensor, m: int) -> torch.Tensor:
    """tokens [B, N, D] (valid where mask) -> [B, m, D]: means over m equal segments of the valid span.

    A fixed-size, length-independent summary for the portrait denoiser's cross-attention.
    """
    b, n, d = tokens.shape
    lengths = mask.sum(1).clamp_min(1).float()  # [B]
    pos = torch.arange(n, device=tokens.device)[None].float() / lengths[:, None]  # [B, N] in [0, 1) when valid
    seg = (pos * m).floor().long().clamp(0, m - 1)  # [B, N]
    onehot = F.one_hot(seg, m).float() * mask.unsqueeze(-1).float()  # [B, N, m]
    sums = torch.einsum("bnm,bnd->bmd", onehot, tokens)
    counts = onehot.sum(1).unsqueeze(-1)  # [B, m, 1]
    out = sums / counts.clamp_min(1)
    # segments with no token (utterance shorter than m tokens): copy the nearest filled one
    if (counts == 0).any():
        idx = torch.arange(m, device=tokens.device)[None].float() * lengths[:, None] / m  # [B, m]
        nearest = idx.floor().long().clamp(max=n - 1)
        fill = torch.gather(tokens, 1, nearest.unsqueeze(-1).expand(b, m, d))
        out = torch.where(counts > 0, out, fill)
    return out

