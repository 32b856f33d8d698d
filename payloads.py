"""What flows between the pack's nodes besides core IMAGE/AUDIO: plain dataclasses, no ComfyUI.

* `SpeechFeatures` (socket type STS_SPEECH): the speech once, at the front end's rate, with its
  log-mel frames and, when a speech encoder ran, its utterance embedding and frame tokens. Both
  stages read the same object, so speech is decoded and encoded once per graph.
* `MotionSequence` (socket type STS_MOTION): a holistic motion latent per video frame with named
  parts (lips | expression | eyes | head pose), produced from speech (MotionDiffusion), refined
  (LipRefine) or taken from a driving video (MotionFromVideo), consumed by the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from .audio.frontend import FrontEndConfig, video_frames


@dataclass
class SpeechFeatures:
    wave: torch.Tensor  # [T] float32 mono at front_end.sample_rate
    mel: torch.Tensor  # [n_mels, F] log-mel, F = T // hop + 1
    front_end: FrontEndConfig = field(default_factory=FrontEndConfig)
    utterance: torch.Tensor | None = None  # [D] pooled utterance embedding (speech encoder)
    tokens: torch.Tensor | None = None  # [N, D] frame-rate tokens (speech encoder)
    encoder: str | None = None  # name of the checkpoint whose encoder made utterance/tokens
    source_sample_rate: int | None = None  # the rate of the AUDIO it came from

    @property
    def duration(self) -> float:
        return self.wave.shape[-1] / self.front_end.sample_rate

    @property
    def n_frames(self) -> int:
        """Video frames at front_end.fps that cover the speech."""
        return video_frames(self.wave.shape[-1], self.front_end)


@dataclass
class MotionSequence:
    latent: torch.Tensor  # [T, D] float32, one row per video frame
    fps: float  # frames per second
    parts: dict[str, tuple[int, int]]  # name -> [start, end) column slice, e.g. {"lips": (0, 8), ...}
    source: str = "speech"  # "speech" | "video" | "refined"
    renderer: str | None = None  # checkpoint whose motion space this is (renderers must match)

    def __post_init__(self):
        if self.latent.ndim != 2:
            raise ValueError(f"motion latent must be [T, D], got shape {tuple(self.latent.shape)}")
        width = max((end for _, end in self.parts.values()), default=0)
        if width != self.latent.shape[1]:
            raise ValueError(f"motion parts {self.parts} cover {width} columns, latent has {self.latent.shape[1]}")

    @property
    def n_frames(self) -> int:
        return self.latent.shape[0]

    def part(self, name: str) -> torch.Tensor:
        start, end = self.parts[name]
        return self.latent[:, start:end]

    def with_latent(self, latent: torch.Tensor, **changes) -> "MotionSequence":
        return replace(self, latent=latent, **changes)
