"""The pack's custom socket types (ComfyUI V3 `io.Custom`). Payloads are documented in payloads.py."""

from comfy_api.latest import io

Speech = io.Custom("STS_SPEECH")  # payloads.SpeechFeatures
Motion = io.Custom("STS_MOTION")  # payloads.MotionSequence
PortraitModel = io.Custom("STS_PORTRAIT_MODEL")  # stage 1 (SCFP) bundle, host.ManagedModel
RendererModel = io.Custom("STS_RENDERER_MODEL")  # stage 2 renderer bundle, host.ManagedModel
MotionModel = io.Custom("STS_MOTION_MODEL")  # stage 2 motion bundle, host.ManagedModel
FaceTransform = io.Custom("STS_FACE_TRANSFORM")  # alignment of a photo to the canonical crop
