"""GE2E speaker embedding (Wan et al. 2018, "Generalized End-to-End Loss for Speaker
Verification"), the network of Resemblyzer 0.1.4: a frozen, optional input of the stage-1
speech encoder (models/speech_encoder.py), behind the same interface.

Why: the synthetic corpus speaks with espeak-ng voices, while users speak with real ones. GE2E
was trained on thousands of real speakers, so it keeps voice identity (sex, size, age cues)
under channel changes where a small encoder trained on espeak alone does not: on held-out
speakers of a 60-speaker corpus, ridge R² of face-related factors from GE2E was 0.30 clean and
0.16 with noise + EQ, against 0.32 and −0.31 for handcrafted voice statistics
(benchmarks/scfp_ge2e_probe.py).

    wave 16 kHz [B, T] -> volume-normalised (−30 dBFS) -> 40-bin power mel, 25 ms / 10 ms
    -> partials of 160 frames (1.6 s), hop 80 -> 3-layer LSTM(256) -> Linear+ReLU -> L2 norm
    -> mean over partials -> L2 norm -> [B, 256]

The weights come from the `resemblyzer==0.1.4` wheel (Apache-2.0; `pretrained.pt`, read with
`torch.load(weights_only=True)` once at training time) and then live in our safetensors bundle.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import nn

PARTIAL = 160  # mel frames per partial utterance (1.6 s)
PARTIAL_HOP = 80  # frames between partials
DIM = 256


class GE2E(nn.Module):
    def __init__(self):
        super().__init__()
        import torchaudio

        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, DIM)
        self._mel = [torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=40,
                                                          norm="slaney", mel_scale="slaney", power=2.0)]
        self.requires_grad_(False)

    def train(self, mode: bool = True):  # always frozen and in eval mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """wave [B, T] 16 kHz, lengths [B] valid samples -> [B, 256] unit-norm embeddings."""
        b, t = wave.shape
        if lengths is None:
            lengths = torch.full((b,), t)
        lengths = lengths.cpu()
        wave = wave.float().cpu()
        valid = torch.arange(t)[None] < lengths[:, None]
        rms = ((wave ** 2 * valid).sum(1) / lengths.clamp_min(1)).sqrt().clamp_min(1e-6)
        wave = wave * (10 ** (-30 / 20) / rms)[:, None] * valid
        mel = self._mel[0](wave).transpose(1, 2)  # [B, F, 40]
        frames = (lengths // 160 + 1).clamp(max=mel.shape[1])
        parts, owner = [], []
        for i in range(b):
            n = int(frames[i])
            starts = list(range(0, max(1, n - PARTIAL + 1), PARTIAL_HOP))
            for s in starts:
                p = mel[i, s:s + PARTIAL]
                if p.shape[0] < PARTIAL:
                    p = torch.cat([p, p.new_zeros(PARTIAL - p.shape[0], 40)])
                parts.append(p)
                owner.append(i)
        x = torch.stack(parts).to(self.linear.weight.device, self.linear.weight.dtype)
        threads = torch.get_num_threads()
        if x.device.type == "cpu" and threads > 1:
            # a 256-wide LSTM gains nothing from intra-op threads, and on a busy CPU they make it
            # ~200x slower (measured: 8 s vs 0.04 s for 2 s of speech with 2 threads on 2 shared cores)
            torch.set_num_threads(1)
        try:
            _, (h, _) = self.lstm(x)
        finally:
            torch.set_num_threads(threads)
        e = torch.relu(self.linear(h[-1]))
        e = e / e.norm(dim=1, keepdim=True).clamp_min(1e-8)  # [P, 256]
        owner_t = torch.tensor(owner, device=e.device)
        out = torch.zeros(b, DIM, device=e.device, dtype=e.dtype).index_add_(0, owner_t, e)
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-8)


def resemblyzer_weights_path() -> str:
    """Path of Resemblyzer's pretrained.pt (found without importing the package, which needs librosa)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("GE2E weights need the resemblyzer wheel: pip install --no-deps resemblyzer==0.1.4")
    path = os.path.join(list(spec.submodule_search_locations)[0], "pretrained.pt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"resemblyzer is installed but {path} is missing")
    return path


def load_pretrained(module: GE2E, path: str | None = None) -> GE2E:
    """Copy Resemblyzer's weights into `module` (tensors only: weights_only=True)."""
    state = torch.load(path or resemblyzer_weights_path(), map_location="cpu", weights_only=True)["model_state"]
    module.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
    module.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
    return module
