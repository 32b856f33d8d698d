"""Stage-1 nodes (SCFP, See the Speaker arXiv 2510.26819): portrait-model loader, SpeechEncode,
SpeechToPortrait. No math here: the nodes validate inputs and call models/scfp.py."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from .. import host
from ..audio.frontend import FrontEndConfig, LogMel, speech_from_audio
from ..models.scfp import KIND, PRIOR_MODES, SpeechInputError  # registers the "scfp" kind
from ..payloads import SpeechFeatures
from .common import CATEGORY_PORTRAIT, CATEGORY_SPEECH, NODE_PREFIX, NodeInputError
from .loaders import loader_node
from .types import PortraitModel, Speech

LoadPortraitModel = loader_node(
    "LoadPortraitModel", "Load Portrait Model (SCFP)", KIND, "scfp", PortraitModel,
    "Load a stage-1 SCFP bundle (speech encoder, portrait autoencoder, face prior, SAW, denoiser) for "
    "SpeechEncode and SpeechToPortrait.")


def _wave_of(node: str, audio) -> tuple[torch.Tensor, int]:
    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise NodeInputError(node, "audio", "expected a core AUDIO value {'waveform', 'sample_rate'}")
    try:
        wave = speech_from_audio(audio["waveform"], int(audio["sample_rate"]))
    except ValueError as e:
        raise NodeInputError(node, "audio", str(e)) from None
    if wave.numel() == 0:
        raise NodeInputError(node, "audio", "the audio has no samples")
    return wave, int(audio["sample_rate"])


def _encode(node: str, input_name: str, module, wave: torch.Tensor):
    try:
        return module.encode_speech(wave)
    except SpeechInputError as e:
        raise NodeInputError(node, input_name, str(e)) from None


class SpeechEncode(io.ComfyNode):
    """AUDIO -> speech features shared by both stages (log-mel; + SCFP speech embedding when a model is given)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}SpeechEncode",
            display_name="Speech Encode",
            category=CATEGORY_SPEECH,
            description="Turn speech into features both stages read: 16 kHz mono, 80-bin log-mel, and (with a "
                        "portrait model) the ConRe utterance embedding and 25 fps speech tokens. Audio longer "
                        "than 8 s is heard in at most 8 windows of 8 s spread over the file.",
            inputs=[
                io.Audio.Input("audio", tooltip="Speech (any rate, any channels; mixed to mono, resampled to 16 kHz). "
                                                "At least 0.5 s of speech is needed for the embedding."),
                PortraitModel.Input("model", optional=True,
                                    tooltip="Optional SCFP portrait model whose speech encoder adds the utterance "
                                            "embedding and tokens. Leave unconnected for front-end features only "
                                            "(e.g. stage-2-only graphs)."),
            ],
            outputs=[Speech.Output(display_name="speech",
                                   tooltip="Speech features (wave, log-mel, and the embedding when a model was given).")],
        )

    @classmethod
    def execute(cls, audio, model=None) -> io.NodeOutput:
        node = "SpeechEncode"
        wave, rate = _wave_of(node, audio)
        fe = FrontEndConfig()
        mel = LogMel(fe)(wave)  # [80, F]
        utterance = tokens = None
        name = None
        if model is not None:
            utterance, tokens = _encode(node, "audio", model.load(), wave)
            name = model.name
        return io.NodeOutput(SpeechFeatures(wave=wave, mel=mel, front_end=fe, utterance=utterance, tokens=tokens,
                                            encoder=name, source_sample_rate=rate))


class SpeechToPortrait(io.ComfyNode):
    """Speech features -> N candidate portraits of the speaker (SCFP latent diffusion with the SAW face prior)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}SpeechToPortrait",
            display_name="Speech To Portrait (SAW)",
            category=CATEGORY_PORTRAIT,
            description="Generate N candidate portraits of the speaker from speech alone (256² canonical aligned "
                        "crops, ready for stage 2). The statistical face prior is weighted per sample by SAW "
                        "(adaptive), by the fixed training-set weight β⁰ (fixed), or not used (none).",
            inputs=[
                Speech.Input("speech", tooltip="Speech features from Speech Encode."),
                PortraitModel.Input("model", tooltip="The SCFP portrait model (Load Portrait Model)."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=True,
                             tooltip="Noise seed. Candidate i uses seed + i, so a candidate is the same for any N."),
                io.Int.Input("steps", default=20, min=1, max=200,
                             tooltip="Deterministic DDIM steps. More is slower and a little cleaner; 20 is the default."),
                io.Float.Input("guidance", default=2.0, min=1.0, max=10.0, step=0.1,
                               tooltip="Classifier-free guidance: higher follows the voice more closely and varies "
                                       "less between seeds; 1 turns guidance off."),
                io.Int.Input("candidates", default=4, min=1, max=16,
                             tooltip="Number of portraits N to generate (time grows linearly)."),
                io.Combo.Input("prior_mode", options=list(PRIOR_MODES), default="adaptive",
                               tooltip="Face-prior weight: 'adaptive' = SAW predicts β from the voice; 'fixed' = the "
                                       "training-set β⁰; 'none' = no prior (paper ablation)."),
                io.Float.Input("beta_override", default=-1.0, min=-1.0, max=1.0, step=0.01,
                               tooltip="-1 = use prior_mode. A value in [0, 1] forces this prior weight β for every "
                                       "latent channel (0 = no prior, 1 = full mean face)."),
            ],
            outputs=[
                io.Image.Output(display_name="portraits", tooltip="IMAGE batch [N, 256, 256, 3] of candidate portraits."),
                io.Float.Output(display_name="beta", tooltip="The prior weight β used (mean over latent channels)."),
            ],
        )

    @classmethod
    def execute(cls, speech, model, seed: int, steps: int, guidance: float, candidates: int, prior_mode: str,
                beta_override: float) -> io.NodeOutput:
        node = "SpeechToPortrait"
        if not isinstance(speech, SpeechFeatures):
            raise NodeInputError(node, "speech", "expected speech features from Speech Encode")
        if prior_mode not in PRIOR_MODES:
            raise NodeInputError(node, "prior_mode", f"must be one of {PRIOR_MODES}, got {prior_mode!r}")
        if not (beta_override == -1.0 or 0.0 <= beta_override <= 1.0):
            raise NodeInputError(node, "beta_override", "use -1 (off) or a value in [0, 1]")
        module = model.load()
        if speech.utterance is not None and speech.encoder == model.name:
            cond = (speech.utterance, speech.tokens)
        else:  # features from another (or no) encoder: encode with this model's speech encoder
            cond = _encode(node, "speech", module, speech.wave)
        bar = host.Progress(steps)
        images, beta = module.sample(cond, n=candidates, seed=seed, steps=steps, guidance=guidance,
                                     prior_mode=prior_mode, beta=None if beta_override < 0 else beta_override,
                                     progress=lambda i, total: bar.update(1))
        images = images.to(host.intermediate_device())
        return io.NodeOutput(images, float(beta.mean()), ui=ui.PreviewImage(images, cls=cls))
