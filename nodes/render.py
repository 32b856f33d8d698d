"""Renderer nodes (HRTF stage 2): the renderer loader, HRCodebookDecode (portrait + motion ->
frames, streamed in chunks) and MotionFromVideo (driving video frames -> motion sequence). The
math lives in models/renderer.py."""

from __future__ import annotations

import torch
from comfy_api.latest import io

from .. import host
from ..data.face_align import FaceNotFound, align_face
from ..models import renderer as _renderer_kind  # noqa: F401  registers the "renderer" checkpoint kind
from ..payloads import MotionSequence
from .common import CATEGORY_RENDER, NODE_PREFIX, NodeInputError
from .loaders import loader_node
from .types import Motion, RendererModel

OUTPUT_SIZES = ["256", "512", "1024"]

RendererLoader = loader_node(
    "RendererLoader", "Load Renderer", "renderer", "renderer", RendererModel,
    "Load a stage-2 renderer bundle (identity/motion encoders, motion warper, codebook decoder).")


def _renderer(node: str, model):
    module = model.load() if hasattr(model, "load") else None
    if module is None or not hasattr(module, "render"):
        raise NodeInputError(node, "model", "expected a renderer model from Load Renderer")
    return module


def check_motion(node: str, motion, renderer) -> None:
    """NodeInputError naming `motion` unless it is a non-empty sequence in this renderer's motion space."""
    if not isinstance(motion, MotionSequence):
        raise NodeInputError(node, "motion", "expected a motion sequence (STS_MOTION)")
    if motion.latent.shape[1] != renderer.spec.dim or motion.parts != renderer.spec.parts():
        raise NodeInputError(node, "motion", f"motion parts {motion.parts} do not match this renderer's "
                                             f"{renderer.spec.parts()}; use motion made for this renderer")
    if motion.n_frames == 0:
        raise NodeInputError(node, "motion", "motion sequence has no frames")


class HRCodebookDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}HRCodebookDecode",
            display_name="HR Codebook Decode",
            category=CATEGORY_RENDER,
            description="Render a talking-face video: the portrait's appearance is warped by each frame's motion "
                        "latent and decoded through the discrete face codebook at high resolution. Frames are "
                        "rendered in chunks, so memory stays flat for long videos.",
            inputs=[
                io.Image.Input("portrait", tooltip="Aligned portrait crop (Face Align output, or a stage-1 portrait). "
                                                   "The first image of a batch is used."),
                Motion.Input("motion", tooltip="Motion sequence (Motion Diffusion, Lip Refine or Motion From Video)."),
                RendererModel.Input("model", tooltip="Renderer bundle from Load Renderer."),
                io.Combo.Input("output_size", options=OUTPUT_SIZES, default="256",
                               tooltip="Frame side in pixels. The bundled renderer decodes 256² natively; larger "
                                       "sizes are upsampled unless the checkpoint was trained for them."),
                io.Float.Input("fidelity", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="1 follows the portrait's warped features (keeps identity and your edits); "
                                       "0 renders purely from the learned face codebook; in between blends."),
                io.Int.Input("frame_batch", default=16, min=1, max=256,
                             tooltip="Frames rendered at once. 16 is the fastest on a 2-core CPU; larger is faster "
                                     "on GPUs. Memory grows with it, not with the video length."),
            ],
            outputs=[io.Image.Output(display_name="frames", tooltip="Rendered frames [T, size, size, 3].")],
        )

    @classmethod
    def execute(cls, portrait: torch.Tensor, motion, model, output_size: str, fidelity: float,
                frame_batch: int) -> io.NodeOutput:
        from ..models.renderer import render_sequence

        node = "HRCodebookDecode"
        if portrait.ndim != 4 or portrait.shape[-1] != 3 or portrait.shape[0] < 1:
            raise NodeInputError(node, "portrait", f"expected IMAGE [B,H,W,3], got {tuple(portrait.shape)}")
        renderer = _renderer(node, model)
        check_motion(node, motion, renderer)
        progress = host.Progress(motion.n_frames)
        frames = render_sequence(renderer, portrait, motion.latent, fidelity, int(output_size), frame_batch,
                                 progress=progress.update, out_device=host.intermediate_device())
        return io.NodeOutput(frames)


class MotionFromVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}MotionFromVideo",
            display_name="Motion From Video",
            category=CATEGORY_RENDER,
            description="Read the motion latent (lips, expression, eyes, head pose) of every frame of a driving "
                        "video, to drive HR Codebook Decode without speech.",
            inputs=[
                io.Image.Input("frames", tooltip="Frames of the driving video [T,H,W,3] (e.g. Load Video / Get Video "
                                                 "Components)."),
                RendererModel.Input("model", tooltip="Renderer bundle whose motion space to use."),
                io.Combo.Input("alignment", options=["aligned", "first_frame"], default="aligned",
                               tooltip="'aligned': frames already are canonical face crops (corpus clips, Face "
                                       "Align output). 'first_frame': find the face in frame 0 and cut every frame "
                                       "with that transform (head motion is kept)."),
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=0.5,
                               tooltip="Frame rate of the driving video."),
                io.Int.Input("frame_batch", default=32, min=1, max=512, tooltip="Frames encoded at once."),
            ],
            outputs=[Motion.Output(display_name="motion", tooltip="Motion sequence, one latent per frame.")],
        )

    @classmethod
    def execute(cls, frames: torch.Tensor, model, alignment: str, fps: float, frame_batch: int) -> io.NodeOutput:
        import cv2
        from ..models.renderer import motion_from_frames

        node = "MotionFromVideo"
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
            raise NodeInputError(node, "frames", f"expected IMAGE [T,H,W,3], got {tuple(frames.shape)}")
        renderer = _renderer(node, model)
        if alignment == "first_frame":
            try:
                _, tr = align_face(frames[0], 256, "detect")
            except (FaceNotFound, ValueError) as e:
                raise NodeInputError(node, "frames", f"frame 0: {e}") from None
            m = tr.m
            frames = torch.stack([torch.from_numpy(cv2.warpAffine(f.cpu().numpy(), m, (256, 256),
                                                                  flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
                                  for f in frames])
        progress = host.Progress(frames.shape[0])
        latent = motion_from_frames(renderer, frames, frame_batch, progress=progress.update)
        return io.NodeOutput(MotionSequence(latent, float(fps), renderer.spec.parts(), source="video",
                                            renderer=getattr(model, "name", None)))
