"""ComfyUI nodes of the pack (V3 API). Only imported inside ComfyUI.

One file per feature area; nodes hold no math: they validate inputs, call the package's pure
code and wrap the results in the host's types.
"""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .. import host
from .common import with_input_checks
from .face import FaceAlign, PasteBack
from .motion import LipRefine, LoadMotionModel, MotionDiffusion, PreviewMotion
from .portrait import LoadPortraitModel, SpeechEncode, SpeechToPortrait
from .render import HRCodebookDecode, MotionFromVideo, RendererLoader
from .speech import LoadSpeech
from .video import SaveTalkingVideo

host.register_model_folder()

NODES: list[type[io.ComfyNode]] = [
    LoadSpeech,
    LoadPortraitModel,
    SpeechEncode,
    SpeechToPortrait,
    LoadMotionModel,
    MotionDiffusion,
    LipRefine,
    PreviewMotion,
    RendererLoader,
    HRCodebookDecode,
    MotionFromVideo,
    FaceAlign,
    PasteBack,
    SaveTalkingVideo,
]


class SeeTheSpeakerExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        # every node refuses combo values outside its options and non-finite/out-of-range numbers
        # (ComfyUI 0.3.75 checks neither for V3 nodes sent through the API): nodes/common.py
        return [with_input_checks(node) for node in NODES]
