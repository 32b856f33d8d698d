"""Streamed talking-video rendering: portrait + motion + speech -> MP4, one chunk of frames at a time.

The HRTF stage of "See the Speaker" (arXiv 2510.26819) warps the portrait's features by each
frame's motion latent and decodes them through the HR codebook decoder (models/renderer.py). For
speech of any length (an hour and more) the frames must never exist all at once: this module
renders ``frame_batch`` frames (``models.renderer.iter_render``, which ``render_sequence`` also uses),
optionally pastes them back into the original photo (data/face_align.FacePaster, colour map kept
across chunks), and hands each chunk to the streaming MP4 writer (video/talking_video.py), which
encodes the speech in step with the frames.

Memory is bounded by one chunk: ``frame_batch`` rendered crops plus, with paste-back, one frame at
the original photo's size (pasted frames are written one by one, so a 1080p photo costs 25 MB per
frame, not per chunk). It does not grow with the speech length except through the motion latent
itself (T × D float32: 1 h at 25 fps × 24 dims = 8.6 MB) and the caller's audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from ..models.renderer import iter_render as render_chunks
from .talking_video import TalkingVideoConfig, TalkingVideoInfo, TalkingVideoWriter


@dataclass(frozen=True)
class RenderStreamConfig:
    """How frames are rendered (the renderer's own knobs, as HR Codebook Decode has them)."""

    fidelity: float = 1.0  # 1 follows the warped portrait, 0 pure codebook
    out_size: int | None = None  # frame side; None = the decoder's native size
    frame_batch: int = 16  # frames rendered at once (memory grows with it, not with the length; 16 is fastest on 2 CPU cores)
    channels_last: bool | None = None  # None = on CPU (measured faster there, benchmarks/render_speed.py)


def iter_render(renderer, portrait: torch.Tensor, motion: torch.Tensor, cfg: RenderStreamConfig = RenderStreamConfig(),
                progress: Callable[[int], None] | None = None) -> Iterator[torch.Tensor]:
    """portrait [1,H,W,3] 0..1 (aligned crop) + motion [T,D] -> chunks of frames [b,S,S,3] float32 on
    the CPU, b <= cfg.frame_batch (models/renderer.iter_render). progress(b) after each chunk (the
    host's Progress.update also checks for an interrupt there)."""
    for frames in render_chunks(renderer, portrait, motion, cfg.fidelity, cfg.out_size, cfg.frame_batch, progress,
                                cfg.channels_last):
        yield frames.cpu()


def iter_pasted(chunks: Iterator[torch.Tensor], paster) -> Iterator:
    """Chunks of crops -> single frames [1,H,W,3] in the original photo (data/face_align.FacePaster)."""
    for chunk in chunks:
        for t in range(chunk.shape[0]):
            yield paster(chunk[t:t + 1])


def render_talking_video(path: str, renderer, portrait: torch.Tensor, motion: torch.Tensor, audio: dict | None,
                         render_cfg: RenderStreamConfig = RenderStreamConfig(),
                         video_cfg: TalkingVideoConfig = TalkingVideoConfig(), paster=None,
                         progress: Callable[[int], None] | None = None) -> TalkingVideoInfo:
    """Render motion [T,D] on the portrait and write it with the audio to `path` (MP4, atomic: no
    file is left behind when rendering, pasting or encoding fails or is interrupted)."""
    if motion.ndim != 2 or motion.shape[0] == 0:
        raise ValueError(f"motion must be [T, D] with T >= 1, got shape {tuple(motion.shape)}")
    chunks = iter_render(renderer, portrait, motion, render_cfg, progress)
    frames = iter_pasted(chunks, paster) if paster is not None else chunks
    with TalkingVideoWriter(path, audio, video_cfg) as writer:
        for chunk in frames:
            writer.write(chunk)
    return writer.info
