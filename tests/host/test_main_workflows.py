"""The end-to-end shipped workflows in the real server, on small *untrained* bundles
(tests/tiny_models.py): plumbing, outputs and lengths, not quality; and the main job once more as
shipped, on the bundled trained weights (README command 1).

* talking_face (the main job): speech -> SpeechToPortrait candidates (saved) -> the first one ->
  MotionDiffusion -> LipRefine -> SaveTalkingVideo;
* portrait_to_video: any photo or an edited portrait -> FaceAlign -> the same motion chain ->
  SaveTalkingVideo pasted back into the photo at its own size.
"""

import math
import os
import shutil
import uuid

import pytest
import soundfile as sf
from PIL import Image

import media
import tiny_models
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac")
FPS = 25.0


@pytest.fixture(scope="module")
def bundles(comfy):
    renderer = tiny_models.write_tiny_renderer(comfy.models_dir, "renderer_main_fixture.safetensors")
    return {
        "scfp": tiny_models.write_tiny_scfp(comfy.models_dir, "scfp_main_fixture.safetensors"),
        "renderer": renderer,
        "motion": tiny_models.write_tiny_motion(comfy.models_dir, renderer, "motion_main_fixture.safetensors"),
    }


def with_fixtures(name: str, bundles, prefix: str) -> dict:
    """Shipped workflow `name` on the test bundles and speech, writing under `prefix`."""
    graph = load_api_workflow(name)
    present = {node["class_type"] for node in graph.values()}
    settings = {
        "STS_LoadSpeech": {"audio": "main_speech.flac"},
        "STS_LoadPortraitModel": {"ckpt_name": bundles["scfp"]},
        "STS_SpeechToPortrait": {"steps": 2},
        "STS_LoadMotionModel": {"ckpt_name": bundles["motion"]},
        "STS_RendererLoader": {"ckpt_name": bundles["renderer"]},
        "STS_MotionDiffusion": {"steps": 2},
        "STS_SaveTalkingVideo": {"filename_prefix": prefix},
    }
    return set_inputs(graph, {k: v for k, v in settings.items() if k in present})


def check_talking_mp4(facts: dict, size: tuple[int, int]) -> None:
    speech_s = sf.info(SAMPLE).duration
    assert (facts["codec"], facts["audio_codec"]) == ("h264", "aac"), facts
    assert (facts["width"], facts["height"]) == size, facts
    assert facts["frames"] == math.ceil(speech_s * FPS - 1e-9), (facts, speech_s)
    assert abs(facts["audio_s"] - facts["video_s"]) <= 1 / FPS, facts


def test_talking_face_workflow(comfy, client, bundles):
    shutil.copy(SAMPLE, os.path.join(comfy.input_dir, "main_speech.flac"))
    prefix = f"test/talking_face_{uuid.uuid4().hex[:8]}"
    g = set_inputs(with_fixtures("talking_face", bundles, prefix), {"SaveImage": {"filename_prefix": prefix + "_portrait"}})
    result = client.run(g, timeout=900)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    portraits = [f for f in result.files() if f.filename.endswith(".png") and "_portrait" in f.filename]
    assert len(portraits) == 4, result.files()  # every candidate saved for editing elsewhere
    videos = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert len(videos) == 1, result.files()
    facts = media.mp4_facts(client.view(videos[0]))
    print("talking_face mp4:", facts)
    check_talking_mp4(facts, (256, 256))


def test_portrait_to_video_workflow_pastes_into_the_photo(comfy, client, bundles):
    skdata = pytest.importorskip("skimage.data")
    shutil.copy(SAMPLE, os.path.join(comfy.input_dir, "main_speech.flac"))
    Image.fromarray(skdata.astronaut()).save(os.path.join(comfy.input_dir, "main_photo.png"))  # 512x512 photo
    prefix = f"test/portrait_to_video_{uuid.uuid4().hex[:8]}"
    g = set_inputs(with_fixtures("portrait_to_video", bundles, prefix), {"LoadImage": {"image": "main_photo.png"}})
    result = client.run(g, timeout=900)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    videos = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert len(videos) == 1, result.files()
    facts = media.mp4_facts(client.view(videos[0]))
    print("portrait_to_video mp4:", facts)
    check_talking_mp4(facts, (512, 512))


def test_main_job_with_the_bundled_weights(comfy, client):
    """README command 1's workflow as shipped (bundled trained defaults, default settings)."""
    shutil.copy(SAMPLE, os.path.join(comfy.input_dir, "main_speech.flac"))
    prefix = f"test/bundled_{uuid.uuid4().hex[:8]}"
    g = set_inputs(load_api_workflow("talking_face"), {
        "STS_LoadSpeech": {"audio": "main_speech.flac"},
        "STS_SaveTalkingVideo": {"filename_prefix": prefix},
        "SaveImage": {"filename_prefix": prefix + "_portrait"},
    })
    result = client.run(g, timeout=1800)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    videos = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert len(videos) == 1, result.files()
    facts = media.mp4_facts(client.view(videos[0]))
    print("main job mp4 (bundled weights):", facts)
    check_talking_mp4(facts, (256, 256))
