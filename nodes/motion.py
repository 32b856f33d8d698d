"""Stage-2 motion nodes (HRTF, See the Speaker arXiv 2510.26819): motion-model loader, MotionDiffusion
(speech -> holistic motion latent) and LipRefine. No math here: the nodes validate inputs and call
models/motion_bundle.py (generate / refine / resample_motion)."""

from __future__ import annotations

import math

import torch
from comfy_api.latest import io

from .. import host
from ..models.motion_bundle import KIND, resample_motion  # registers the "motion" kind
from ..payloads import MotionSequence
from .common import CATEGORY_MOTION, NODE_PREFIX, NodeInputError
from .loaders import loader_node
from .types import Motion, MotionModel, RendererModel, Speech

LoadMotionModel = loader_node(
    "LoadMotionModel", "Load Motion Model", KIND, "motion", MotionModel,
    "Load a stage-2 motion bundle (content encoder, motion diffusion, LipRefine, lip-sync expert) for "
    "MotionDiffusion and LipRefine.")

PART_INPUTS = (("lips", "lips"), ("expression", "expression"), ("eyes", "eyes"), ("head_pose", "head_pose"))


def _speech(node: str, speech):
    if speech is None or not hasattr(speech, "wave") or speech.wave.numel() == 0:
        raise NodeInputError(node, "speech", "expected speech features (STS_SPEECH from SpeechEncode) with samples")
    return speech


def _renderer_name(bundle) -> str | None:
    src = bundle.cfg.source
    return src.split(":", 1)[1] if src.startswith("renderer:") else None


def _identity(node: str, bundle, portrait, renderer_model) -> torch.Tensor | None:
    """Identity vector of the portrait from the renderer's identity encoder (when the bundle uses one)."""
    if bundle.cfg.diffusion.identity_dim == 0:
        return None
    if renderer_model is None:
        raise NodeInputError(node, "renderer_model", "this motion model is conditioned on the speaker's identity: "
                                                     "connect the renderer model it was trained with")
    if portrait is None or portrait.ndim != 4 or portrait.shape[-1] != 3:
        raise NodeInputError(node, "portrait", "expected an IMAGE [B, H, W, 3] (the aligned portrait)")
    renderer = renderer_model.load()
    p = next(renderer.parameters())
    img = portrait[:1].permute(0, 3, 1, 2).to(p.device, p.dtype)
    with torch.inference_mode():
        _, ident = renderer.encode_portrait(img)
    if ident.shape[-1] != bundle.cfg.diffusion.identity_dim:
        raise NodeInputError(node, "renderer_model", f"renderer identity has {ident.shape[-1]} dims, the motion model "
                                                     f"expects {bundle.cfg.diffusion.identity_dim}")
    return ident[0]


class MotionDiffusion(io.ComfyNode):
    """Speech features (+ portrait identity) -> motion sequence, window by window for any length."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        scale = lambda name, what: io.Float.Input(  # noqa: E731
            f"{name}_scale", default=1.0, min=0.0, max=3.0, step=0.05,
            tooltip=f"Amount of {what} motion: 0 = at rest, 1 = as generated, >1 exaggerated.")
        return io.Schema(
            node_id=f"{NODE_PREFIX}MotionDiffusion",
            display_name="Motion Diffusion",
            category=CATEGORY_MOTION,
            description="Generate the talking-face motion (lips, expression, eyes/blinks, head pose) from speech with "
                        "the motion diffusion model. Long speech is generated in windows that continue each other, "
                        "so memory stays flat for any length.",
            inputs=[
                Speech.Input("speech", tooltip="Speech features from SpeechEncode."),
                io.Image.Input("portrait", tooltip="The portrait that will be animated (aligned crop). Its identity "
                                                   "conditions the motion when the motion model uses identity."),
                MotionModel.Input("model", tooltip="Motion model from Load Motion Model."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFF, control_after_generate=True,
                             tooltip="Random seed: the same seed and inputs give the same motion."),
                io.Int.Input("steps", default=20, min=1, max=200,
                             tooltip="Denoising steps per window (DDIM). More is slower; 10-30 is typical."),
                io.Float.Input("guidance", default=2.0, min=0.0, max=10.0, step=0.1,
                               tooltip="Classifier-free guidance on the audio: 1 = none, higher follows the speech "
                                       "more strongly (livelier lips), too high exaggerates."),
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=0.5,
                               tooltip="Frame rate of the output motion (the model works at 25 fps and resamples)."),
                scale("lips", "lip/jaw"), scale("expression", "expression (smile, brows)"),
                scale("eyes", "eye (blinks, gaze)"), scale("head", "head-pose"),
                io.Boolean.Input("still_head", default=False,
                                 tooltip="Keep the head at its rest pose (only the face moves)."),
                RendererModel.Input("renderer_model", optional=True,
                                    tooltip="The renderer whose identity encoder reads the portrait; needed when the "
                                            "motion model was trained with identity conditioning."),
            ],
            outputs=[Motion.Output(display_name="motion", tooltip="Motion sequence (one latent row per frame).")],
        )

    @classmethod
    def execute(cls, speech, portrait, model, seed, steps, guidance, fps, lips_scale, expression_scale,
                eyes_scale, head_scale, still_head, renderer_model=None) -> io.NodeOutput:
        node = "MotionDiffusion"
        speech = _speech(node, speech)
        bundle = model.load()
        ident = _identity(node, bundle, portrait, renderer_model)
        parts = bundle.parts
        wanted = {"lips": lips_scale, "expression": expression_scale, "eyes": eyes_scale, "head_pose": head_scale}
        scales = {k: v for k, v in wanted.items() if k in parts}
        n_win = math.ceil(max(speech.n_frames, 1) / bundle.cfg.diffusion.window)
        progress = host.Progress(n_win)
        try:
            raw = bundle.speech_raw(speech)
        except ImportError as e:
            raise NodeInputError(node, "model", str(e)) from None
        except ValueError as e:
            raise NodeInputError(node, "speech", str(e)) from None
        with torch.inference_mode():
            latent = bundle.generate(raw, ident, seed=seed, steps=steps, guidance=guidance, scales=scales,
                                     still_head=still_head, progress=lambda done, total: progress.update(1))
        latent = latent.float().to(host.intermediate_device())
        n_out = max(1, math.ceil(speech.duration * fps - 1e-9))
        latent = resample_motion(latent, bundle.cfg.fps, fps, n_out)
        return io.NodeOutput(MotionSequence(latent=latent, fps=float(fps), parts=parts, source="speech",
                                            renderer=_renderer_name(bundle)))


class LipRefine(io.ComfyNode):
    """Refine the lips part of a motion sequence from the speech (strength 0 = off)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}LipRefine",
            display_name="Lip Refine",
            category=CATEGORY_MOTION,
            description="Sharpen lip sync before rendering: corrects the lips part of the motion from a local window "
                        "of the speech (trained with a lip-sync expert). Other parts are left unchanged.",
            inputs=[
                Motion.Input("motion", tooltip="Motion sequence (from MotionDiffusion or a driving video)."),
                Speech.Input("speech", tooltip="The speech the motion should follow (from SpeechEncode)."),
                MotionModel.Input("model", tooltip="Motion model from Load Motion Model (its LipRefine is used)."),
                io.Float.Input("strength", default=1.0, min=0.0, max=2.0, step=0.05,
                               tooltip="0 = off (motion passes through), 1 = as trained, >1 stronger correction."),
            ],
            outputs=[Motion.Output(display_name="motion", tooltip="Motion with refined lips.")],
        )

    @classmethod
    def execute(cls, motion, speech, model, strength) -> io.NodeOutput:
        node = "LipRefine"
        if not isinstance(motion, MotionSequence):
            raise NodeInputError(node, "motion", "expected a motion sequence (STS_MOTION)")
        speech = _speech(node, speech)
        bundle = model.load()
        if {k: tuple(v) for k, v in motion.parts.items()} != bundle.parts:
            raise NodeInputError(node, "motion", f"motion parts {motion.parts} do not match the model's {bundle.parts}")
        if motion.renderer != _renderer_name(bundle):
            raise NodeInputError(node, "motion", f"motion is in the space of renderer {motion.renderer!r}, the model "
                                                 f"in that of {_renderer_name(bundle)!r}")
        if strength == 0:
            return io.NodeOutput(motion)
        progress = host.Progress(2)
        try:
            raw = bundle.speech_raw(speech)
        except ImportError as e:
            raise NodeInputError(node, "model", str(e)) from None
        progress.update(1)
        at_model = resample_motion(motion.latent, motion.fps, bundle.cfg.fps)
        with torch.inference_mode():
            refined = bundle.refine(at_model.to(bundle.motion_mean), raw, strength).float()
        delta = resample_motion(refined - at_model.to(refined), bundle.cfg.fps, motion.fps, motion.n_frames)
        out = (motion.latent.float() + delta.to(motion.latent.device)).to(host.intermediate_device())  # only lips change
        progress.update(1)
        return io.NodeOutput(motion.with_latent(out, source="refined"))


class PreviewMotion(io.ComfyNode):
    """Show a motion sequence as curves (one per part) — to check motion before rendering."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}PreviewMotion",
            display_name="Preview Motion",
            category=CATEGORY_MOTION,
            description="Plot a motion sequence: for each part (lips, expression, eyes, head pose) how far every "
                        "frame is from the sequence's average. Also returns the plot as an IMAGE.",
            inputs=[Motion.Input("motion", tooltip="Motion sequence to inspect.")],
            outputs=[io.Image.Output(display_name="plot", tooltip="The plot as an IMAGE [1, H, W, 3].")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, motion) -> io.NodeOutput:
        from comfy_api.latest import ui

        from ..evaluation.motion_plot import motion_overview
        if not isinstance(motion, MotionSequence):
            raise NodeInputError("PreviewMotion", "motion", "expected a motion sequence (STS_MOTION)")
        img = motion_overview(motion.latent.float().cpu().numpy(), motion.parts, motion.fps)
        image = torch.from_numpy(img).float().div(255)[None]
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))
