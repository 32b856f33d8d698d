"""Video output node: SaveTalkingVideo renders portrait + motion and writes the MP4 with the speech,
streamed chunk by chunk, so speech of any length (an hour and more) fits in flat memory. The math
lives in video/render_stream.py (rendering, paste-back) and video/talking_video.py (muxing)."""

from __future__ import annotations

import os

import torch
from comfy_api.latest import InputImpl, io, ui

from .. import host
from ..data.face_align import FacePaster
from ..video.render_stream import RenderStreamConfig, render_talking_video
from ..video.talking_video import TalkingVideoConfig
from .common import CATEGORY_VIDEO, NODE_PREFIX, NodeInputError
from .render import OUTPUT_SIZES, _renderer, check_motion
from .types import FaceTransform, Motion, RendererModel

NODE = "SaveTalkingVideo"


def _check_audio(audio) -> None:
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise NodeInputError(NODE, "audio", "expected AUDIO (e.g. from Load Speech) with a waveform and a sample rate")
    wave = audio["waveform"]
    if not hasattr(wave, "ndim") or wave.ndim != 3 or wave.shape[0] < 1 or wave.shape[1] < 1 or wave.shape[2] < 1:
        raise NodeInputError(NODE, "audio", f"expected a waveform [B, C, N] with samples, got "
                                            f"{tuple(getattr(wave, 'shape', ()))}")
    if int(audio["sample_rate"]) <= 0:
        raise NodeInputError(NODE, "audio", f"sample rate must be positive, got {audio['sample_rate']}")


def _paster(transform, original) -> FacePaster | None:
    if transform is None and original is None:
        return None
    if transform is None or original is None:
        missing = "transform" if transform is None else "original"
        raise NodeInputError(NODE, missing, "paste-back needs both the Face Align transform and the original image")
    tr = transform[0] if isinstance(transform, (list, tuple)) and transform else transform
    if not hasattr(tr, "matrix"):
        raise NodeInputError(NODE, "transform", "expected a face transform from Face Align")
    if not isinstance(original, torch.Tensor) or original.ndim != 4 or original.shape[0] < 1:
        raise NodeInputError(NODE, "original", f"expected IMAGE [B,H,W,C], got {tuple(getattr(original, 'shape', ()))}")
    try:
        return FacePaster(tr, original[0])
    except ValueError as e:
        raise NodeInputError(NODE, "original", str(e)) from None


class SaveTalkingVideo(io.ComfyNode):
    """Portrait + motion + speech -> MP4 in the output folder, rendered and encoded in a stream."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}{NODE}",
            display_name="Save Talking Video",
            category=CATEGORY_VIDEO,
            description="Render the talking face and save it as an MP4 (H.264 + AAC) with the speech, for speech of "
                        "any length: frames are rendered, optionally pasted back into the original photo, encoded "
                        "and dropped chunk by chunk, so memory stays flat even for an hour of speech. The audio is "
                        "trimmed or padded with silence to exactly the video's length. An interrupted or failed "
                        "run leaves no partial file.",
            inputs=[
                io.Image.Input("portrait", tooltip="Aligned portrait crop (Face Align output, or a stage-1 portrait). "
                                                   "The first image of a batch is used."),
                Motion.Input("motion", tooltip="Motion sequence (Motion Diffusion, Lip Refine or Motion From Video); "
                                               "its frame rate is the video's."),
                RendererModel.Input("model", tooltip="Renderer bundle from Load Renderer."),
                io.Audio.Input("audio", tooltip="The speech to put in the video (e.g. Load Speech). Trimmed or padded "
                                                "with silence to the motion's length; mono or stereo (more channels "
                                                "are mixed to mono)."),
                io.Float.Input("fidelity", default=1.0, min=0.0, max=1.0, step=0.05,
                               tooltip="1 follows the portrait's warped features (keeps identity and your edits); "
                                       "0 renders purely from the learned face codebook; in between blends."),
                io.Combo.Input("output_size", options=OUTPUT_SIZES, default="256",
                               tooltip="Side of the rendered face in pixels. The bundled renderer decodes 256² "
                                       "natively; larger sizes are upsampled. With paste-back the video has the "
                                       "original image's size instead."),
                io.Int.Input("frame_batch", default=16, min=1, max=256,
                             tooltip="Frames rendered at once. 16 is the fastest on a 2-core CPU; larger is faster "
                                     "on GPUs. Memory grows with it, not with the video length."),
                io.String.Input("filename_prefix", default="see-the-speaker/talking",
                                tooltip="Where to save in ComfyUI's output folder: subfolder/name; a number and "
                                        ".mp4 are appended. Must stay inside the output folder."),
                io.Int.Input("crf", default=19, min=0, max=51,
                             tooltip="H.264 quality (constant rate factor): lower is better and bigger; 18-20 is "
                                     "visually lossless, 23 is the encoder's default, 0 is lossless."),
                FaceTransform.Input("transform", optional=True,
                                    tooltip="Optional: the Face Align transform of the original photo. With "
                                            "'original' the face is pasted back into the full photo."),
                io.Image.Input("original", optional=True,
                               tooltip="Optional: the photo given to Face Align (first image used); needed with "
                                       "'transform' for paste-back."),
            ],
            outputs=[io.Video.Output(display_name="video", tooltip="The saved MP4 (read from the file on demand).")],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, portrait: torch.Tensor, motion, model, audio, fidelity: float, output_size: str,
                frame_batch: int, filename_prefix: str, crf: int, transform=None, original=None) -> io.NodeOutput:
        if not isinstance(portrait, torch.Tensor) or portrait.ndim != 4 or portrait.shape[-1] != 3 \
                or portrait.shape[0] < 1:
            raise NodeInputError(NODE, "portrait", f"expected IMAGE [B,H,W,3], got "
                                                   f"{tuple(getattr(portrait, 'shape', ()))}")
        _check_audio(audio)
        paster = _paster(transform, original)
        renderer = _renderer(NODE, model)
        check_motion(NODE, motion, renderer)
        h, w = paster.image_size if paster is not None else (int(output_size), int(output_size))
        try:
            folder, stem, subfolder = host.output_file_stem(filename_prefix, w, h)
        except ValueError as e:
            raise NodeInputError(NODE, "filename_prefix", str(e)) from None
        metadata = {}
        if host.save_metadata_enabled():
            metadata.update(cls.hidden.extra_pnginfo or {})
            if cls.hidden.prompt is not None:
                metadata["prompt"] = cls.hidden.prompt
        file = f"{stem}.mp4"
        path = os.path.join(folder, file)
        progress = host.Progress(motion.n_frames)
        render_talking_video(
            path, renderer, portrait, motion.latent, audio,
            RenderStreamConfig(fidelity=fidelity, out_size=int(output_size), frame_batch=frame_batch),
            TalkingVideoConfig(fps=float(motion.fps), crf=int(crf), metadata=metadata),
            paster=paster, progress=progress.update)
        return io.NodeOutput(InputImpl.VideoFromFile(path),
                             ui=ui.PreviewVideo([ui.SavedResult(file, subfolder, io.FolderType.output)]))
