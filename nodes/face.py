"""Face nodes: FaceAlign (any photo -> canonical aligned crop + transform) and PasteBack (rendered
crops -> frames in the original photo). The math lives in data/face_align.py."""

from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io

from .. import host
from ..data.face_align import FaceNotFound, align_face, paste_back
from .common import CATEGORY_FACE, NODE_PREFIX, NodeInputError
from .types import FaceTransform

ALIGN_SIZES = ["256", "128", "512", "1024"]


class FaceAlign(io.ComfyNode):
    """Photo/portrait of any size -> aligned face crop + the transform PasteBack needs."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}FaceAlign",
            display_name="Face Align",
            category=CATEGORY_FACE,
            description="Find the face in any photo or portrait (any size; RGB, RGBA or grey) and cut the "
                        "canonical aligned crop the renderer expects. The transform output lets Paste Back "
                        "put rendered frames back into the original picture.",
            inputs=[
                io.Image.Input("image", tooltip="Photo(s) with one face each. Edited portraits (hair, clothes, "
                                                "background) work as they are."),
                io.Combo.Input("size", options=ALIGN_SIZES, default="256",
                               tooltip="Side of the aligned crop in pixels. The renderer works at 128² internally "
                                       "and renders 256² by default."),
                io.Combo.Input("mode", options=["auto", "detect", "canonical"], default="auto",
                               tooltip="'detect' finds landmarks with MediaPipe (dlib as fallback); 'canonical' "
                                       "takes a square image as an already aligned crop; 'auto' detects and falls "
                                       "back to 'canonical' for square images without a detectable face."),
            ],
            outputs=[
                io.Image.Output(display_name="aligned", tooltip="Aligned face crops [B, size, size, 3]."),
                FaceTransform.Output(display_name="transform",
                                     tooltip="Where each crop came from (list of data.face_align.FaceTransform)."),
            ],
        )

    @classmethod
    def execute(cls, image: torch.Tensor, size: str, mode: str) -> io.NodeOutput:
        if image.ndim != 4 or image.shape[0] < 1:
            raise NodeInputError("FaceAlign", "image", f"expected IMAGE [B,H,W,C], got shape {tuple(image.shape)}")
        progress = host.Progress(image.shape[0])
        crops, transforms = [], []
        for b in range(image.shape[0]):
            try:
                crop, tr = align_face(image[b], int(size), mode)
            except (FaceNotFound, ValueError) as e:
                raise NodeInputError("FaceAlign", "image", f"image {b}: {e}") from None
            crops.append(torch.from_numpy(crop))
            transforms.append(tr)
            progress.update()
        return io.NodeOutput(torch.stack(crops).to(host.intermediate_device()), transforms)


class PasteBack(io.ComfyNode):
    """Rendered face frames -> frames of the original photo's size, seamlessly blended."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}PasteBack",
            display_name="Paste Back",
            category=CATEGORY_FACE,
            description="Composite rendered face crops back into the original photo (its full size), with a "
                        "feathered face mask and colour matching: no visible box, pixels away from the face "
                        "untouched.",
            inputs=[
                io.Image.Input("frames", tooltip="Rendered aligned frames [T,S,S,3] (e.g. from HR Codebook Decode)."),
                FaceTransform.Input("transform", tooltip="The transform from Face Align for the original photo."),
                io.Image.Input("original", tooltip="The photo given to Face Align (first image is used)."),
                io.Float.Input("feather", default=0.08, min=0.01, max=0.25, step=0.01,
                               tooltip="Width of the soft mask edge, as a fraction of the crop side."),
                io.Boolean.Input("colour_match", default=True,
                                 tooltip="Match the rendered face's colours to the photo under the mask (one "
                                         "mapping for the whole clip, so no flicker)."),
            ],
            outputs=[io.Image.Output(display_name="frames", tooltip="Frames at the original photo's size [T,H,W,3].")],
        )

    @classmethod
    def execute(cls, frames: torch.Tensor, transform, original: torch.Tensor, feather: float,
                colour_match: bool) -> io.NodeOutput:
        node = "PasteBack"
        tr = transform[0] if isinstance(transform, (list, tuple)) else transform
        if not hasattr(tr, "matrix"):
            raise NodeInputError(node, "transform", "expected a face transform from Face Align")
        if original.ndim != 4 or original.shape[0] < 1 or original.shape[-1] not in (1, 3, 4):
            raise NodeInputError(node, "original", f"expected IMAGE [B,H,W,3], got {tuple(original.shape)}")
        if tuple(original.shape[1:3]) != tuple(tr.image_size):
            raise NodeInputError(node, "original", f"image is {original.shape[2]}x{original.shape[1]} but the transform "
                                                   f"was made for {tr.image_size[1]}x{tr.image_size[0]}")
        if frames.ndim != 4 or frames.shape[-1] != 3 or min(frames.shape[:3]) < 1:
            raise NodeInputError(node, "frames", f"expected IMAGE [T,S,S,3] with at least one frame, got "
                                                 f"{tuple(frames.shape)}")
        for name, value in (("frames", frames), ("original", original[:1])):
            if not torch.isfinite(value).all():
                raise NodeInputError(node, name, "image contains NaN or Inf values")
        progress = host.Progress(frames.shape[0])
        try:
            out = paste_back(frames, tr, original[0], feather, colour_match, progress=lambda _t: progress.update())
        except ValueError as e:  # what is left after the checks above: the transform itself
            raise NodeInputError(node, "transform", str(e)) from None
        return io.NodeOutput(torch.from_numpy(out).to(host.intermediate_device()))
