"""Stage-2 motion in the real server: LoadSpeech -> SpeechEncode -> MotionDiffusion -> LipRefine -> PreviewMotion.

Runs on a tiny *untrained* motion bundle written by the test (plumbing, seeding, any length, errors);
lip-sync quality of the trained default is measured by evaluation/eval_motion.py, not here. The
full chain to a talking mp4 (… -> HRCodebookDecode -> CreateVideo -> SaveVideo) needs the renderer
nodes and is added with them.
"""

import io
import os
import shutil
import uuid

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import media
from tiny_models import tiny_motion_config
from see_the_speaker.checkpoint import save_checkpoint, save_module
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs
from see_the_speaker.models.content_encoder import ContentEncoderConfig
from see_the_speaker.models.lip_refine import LipRefineConfig
from see_the_speaker.models.motion_bundle import KIND, MotionBundle, MotionBundleConfig
from see_the_speaker.models.motion_diffusion import MotionDiffusionConfig
from see_the_speaker.models.sync_expert import SyncExpertConfig

TINY = "motion_test_tiny.safetensors"
WRONG = "motion_test_wrong_kind.safetensors"
SR = 16000


@pytest.fixture(scope="module")
def bundles(comfy):
    folder = comfy.models_dir
    torch.manual_seed(0)
    cfg = MotionBundleConfig(content=ContentEncoderConfig(backend="mel", dim=16, hidden=16, layers=1),
                             diffusion=MotionDiffusionConfig(width=32, depth=1, heads=2),
                             sync=SyncExpertConfig(width=16, embed=8), refine=LipRefineConfig(width=16, layers=1))
    model = MotionBundle(cfg)
    for p in model.parameters():  # non-zero outputs, so seeds and LipRefine visibly act
        if p.ndim >= 2:
            torch.nn.init.normal_(p, std=0.2)
    save_module(os.path.join(folder, TINY), KIND, cfg, model, extra={"trained": False, "note": "test fixture"})
    save_checkpoint(os.path.join(folder, WRONG), "renderer", {"width": 8}, {"w": torch.zeros(8)})
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac"),
                os.path.join(comfy.input_dir, "motion_speech.flac"))
    media.write_gated_tone(os.path.join(comfy.input_dir, "motion_long.flac"), 300, SR)  # 5 minutes
    Image.fromarray(np.full((128, 128, 3), 180, np.uint8)).save(os.path.join(comfy.input_dir, "motion_portrait.png"))
    return folder


def graph(audio="motion_speech.flac", ckpt=TINY, strength=1.0, **motion):
    settings = {"seed": 3, "steps": 2, **motion}
    return set_inputs(load_api_workflow("speech_to_motion"), {
        "STS_LoadSpeech": {"audio": audio},
        "STS_LoadMotionModel": {"ckpt_name": ckpt},
        "LoadImage": {"image": "motion_portrait.png"},
        "STS_MotionDiffusion": settings,
        "STS_LipRefine": {"strength": strength},
    })


def plot(client, result):
    files = result.files("7")
    assert len(files) == 1
    return np.asarray(Image.open(io.BytesIO(client.view(files[0]))).convert("RGB"))


def test_motion_workflow_runs_and_seeds_reproduce(client, bundles):
    a = client.run(graph(), timeout=300)
    assert a.ok, (a.error or {}).get("exception_message", a.error)
    c = client.run(graph(seed=4), timeout=300)
    assert c.ok, c.error
    b = client.run(graph(fps=24.0), timeout=300)  # other inputs in between, so seed 3 is recomputed below
    assert b.ok, b.error
    again = client.run(graph(), timeout=300)
    assert again.ok, again.error
    pa, pc = plot(client, a), plot(client, c)
    assert pa.shape[2] == 3 and not np.array_equal(pa, pc)
    assert np.array_equal(pa, plot(client, again))


def test_long_speech_runs(client, bundles):
    r = client.run(graph(audio="motion_long.flac", strength=0.5, still_head=True), timeout=600)
    assert r.ok, r.error


def test_wrong_kind_names_the_input(client, bundles):
    r = client.run(graph(ckpt=WRONG), timeout=120)
    assert not r.ok and "ckpt_name" in str(r.error) and "motion" in str(r.error)


# --------------------------------------------------------------------------------------------
# the whole stage-2 chain to a talking mp4 (workflow speech_to_video)

@pytest.fixture(scope="module")
def video_models(comfy, bundles):
    """An untrained renderer and an untrained motion bundle in that renderer's motion space."""
    from see_the_speaker.models.renderer import KIND as RKIND, Renderer, RendererConfig
    folder = bundles
    torch.manual_seed(0)
    renderer = Renderer(RendererConfig()).eval()
    rname = "renderer_test_for_motion.safetensors"
    save_module(os.path.join(folder, rname), RKIND, renderer.cfg, renderer, extra={"trained": False, "note": "test fixture"})
    spec = renderer.spec
    cfg = tiny_motion_config(renderer, rname)
    motion = MotionBundle(cfg)
    motion.set_stats(torch.zeros(spec.dim), torch.full((spec.dim,), 0.05), torch.zeros(spec.dim))  # small motions
    mname = "motion_test_renderer_space.safetensors"
    save_module(os.path.join(folder, mname), KIND, cfg, motion, extra={"trained": False, "note": "test fixture"})
    Image.fromarray(np.full((256, 256, 3), 150, np.uint8)).save(os.path.join(comfy.input_dir, "motion_portrait256.png"))
    return {"renderer": rname, "motion": mname}


def test_speech_to_talking_mp4_durations_agree(client, video_models):
    g = set_inputs(load_api_workflow("speech_to_video"), {
        "STS_LoadSpeech": {"audio": "motion_speech.flac"},
        "STS_LoadMotionModel": {"ckpt_name": video_models["motion"]},
        "STS_RendererLoader": {"ckpt_name": video_models["renderer"]},
        "LoadImage": {"image": "motion_portrait256.png"},
        "STS_MotionDiffusion": {"steps": 2},
        "SaveVideo": {"filename_prefix": f"test/talking_{uuid.uuid4().hex[:8]}"},
    })
    result = client.run(g, timeout=600)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    files = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert files, result.files()
    import av
    with av.open(io.BytesIO(client.view(files[0]))) as container:
        vs, aus = container.streams.video[0], container.streams.audio[0]
        n_video = sum(1 for _ in container.decode(vs))
    with av.open(io.BytesIO(client.view(files[0]))) as container:
        aus = container.streams.audio[0]
        rate = aus.codec_context.sample_rate
        n_audio = sum(f.samples for f in container.decode(aus))
    speech_s = sf.info(os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac")).duration
    video_s, audio_s = n_video / 25.0, n_audio / rate
    print(f"talking mp4: {n_video} frames = {video_s:.3f} s video, {audio_s:.3f} s audio, speech {speech_s:.3f} s")
    assert abs(video_s - speech_s) <= 1 / 25 + 1e-6
    assert abs(audio_s - video_s) <= 1 / 25 + 1024 / rate + 1e-6  # AAC priming may add one 1024-sample frame
