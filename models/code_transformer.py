"""Code transformer of the HR decoder (arXiv 2510.26819 stage 2: "transformer-based discrete
codebook"; CodeFormer, Zhou et al. 2022, "code prediction with a transformer").

Warped appearance features [B,F,32,32] -> code logits [B,16,16,n_codes]: a strided conv makes
256 tokens at 16², a small pre-norm transformer encoder (global self-attention: the whole face
agrees on one coherent set of codes) and a linear head predict the index of each token's code in
the frozen codebook (models/vq_codebook.py). Trained with cross-entropy against the codes the
codebook encoder gives the true driving frame (training/train_renderer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class CodeTransformerConfig:
    feat_ch: int = 96  # input feature channels at 32² (warped appearance)
    d_model: int = 128  # token width
    layers: int = 3  # transformer layers
    heads: int = 4  # attention heads
    ff: int = 256  # feed-forward width
    n_codes: int = 512  # codebook size (VQConfig.n_codes)
    tokens: int = 16  # token grid side (16² = 256 tokens)


class CodeTransformer(nn.Module):
    def __init__(self, cfg: CodeTransformerConfig = CodeTransformerConfig()):
        super().__init__()
        self.cfg = cfg
        self.inp = nn.Conv2d(cfg.feat_ch, cfg.d_model, 3, stride=2, padding=1)
        self.pos = nn.Parameter(torch.randn(1, cfg.tokens * cfg.tokens, cfg.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.n_codes)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """feat [B,F,32,32] -> logits [B,16,16,n_codes]."""
        x = self.inp(feat)  # [B,d,16,16]
        b, d, h, w = x.shape
        x = x.flatten(2).transpose(1, 2) + self.pos  # [B,256,d]
        x = self.head(self.norm(self.encoder(x)))  # [B,256,K]
        return x.view(b, h, w, -1)
