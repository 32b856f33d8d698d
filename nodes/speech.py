"""Speech nodes: LoadSpeech (a speech file from ComfyUI's input folder -> core AUDIO)."""

from __future__ import annotations

import hashlib
import os

from comfy_api.latest import io

from .. import host
from ..audio.decode import AudioDecodeError, load_speech
from .common import CATEGORY_SPEECH, NODE_PREFIX, NodeInputError

AUDIO_CONTENT_TYPES = ["audio", "video"]


class LoadSpeech(io.ComfyNode):
    """Decode a speech file (any container FFmpeg reads) into the core AUDIO type."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}LoadSpeech",
            display_name="Load Speech",
            category=CATEGORY_SPEECH,
            description="Load speech from ComfyUI's input folder (wav, flac, mp3, ogg/opus, m4a/aac, or the "
                        "audio track of mp4/mov/webm) as AUDIO, with optional trim, mono mix and loudness "
                        "normalisation.",
            inputs=[
                io.Combo.Input("audio", options=host.list_input_files(AUDIO_CONTENT_TYPES),
                               upload=io.UploadType.audio,
                               tooltip="Speech file in ComfyUI's input folder. Upload with the button; any sample "
                                       "rate and channel count is accepted."),
                io.Float.Input("start", default=0.0, min=0.0, max=1e7, step=0.01,
                               tooltip="Skip this many seconds from the beginning of the file."),
                io.Float.Input("duration", default=0.0, min=0.0, max=1e7, step=0.01,
                               tooltip="Keep this many seconds after 'start'; 0 keeps everything to the end."),
                io.Boolean.Input("mix_to_mono", default=True,
                                 tooltip="Average all channels into one. The face models listen to mono speech; "
                                         "turn off to pass the original channels on (e.g. to SaveAudio)."),
                io.Boolean.Input("normalize_loudness", default=False,
                                 tooltip="Scale the speech to 'target_lufs' (ITU-R BS.1770 loudness), never "
                                         "clipping. Useful for quiet or very loud recordings."),
                io.Float.Input("target_lufs", default=-20.0, min=-40.0, max=-6.0, step=0.5,
                               tooltip="Loudness target in LUFS when 'normalize_loudness' is on "
                                       "(-20 suits speech; -14 is typical for online video)."),
            ],
            outputs=[io.Audio.Output(display_name="audio",
                                     tooltip="Core AUDIO: waveform [1, channels, samples] float32 and its sample rate.")],
        )

    @classmethod
    def execute(cls, audio: str, start: float, duration: float, mix_to_mono: bool,
                normalize_loudness: bool, target_lufs: float) -> io.NodeOutput:
        node = "LoadSpeech"
        try:
            path = host.resolve_input_file(audio)
            audio = load_speech(path, start, duration, mix_to_mono, normalize_loudness, target_lufs)
        except (AudioDecodeError, ValueError) as e:
            raise NodeInputError(node, "audio", str(e)) from None
        return io.NodeOutput(audio)

    @classmethod
    def fingerprint_inputs(cls, audio: str, **kwargs) -> str:
        """Re-run when the file's content changes (not only its name)."""
        try:
            path = host.resolve_input_file(audio)
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
        except (OSError, ValueError):
            return float("nan")  # unreadable: always re-run so execute() reports the problem

    @classmethod
    def validate_inputs(cls, audio: str) -> bool | str:
        try:
            path = host.resolve_input_file(audio)
        except ValueError as e:
            return f"LoadSpeech: input 'audio': {e}"
        if not os.path.isfile(path):
            return f"LoadSpeech: input 'audio': file {audio!r} not found in the input folder"
        return True

