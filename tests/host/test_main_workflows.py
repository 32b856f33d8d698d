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
def speech(comfy) -> str:
    """The bundled sample speech in the server's input folder, as `main_speech.flac`."""
    shutil.copy(SAMPLE, os.path.join(comfy.input_dir, "main_speech.flac"))
    return "main_speech.flac"


@pytest.fixture(scope="module")
def bundles(comfy, speech):
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


def run_talking(client, graph: dict, size: tuple[int, int], label: str, timeout: float = 900):
    """Run `graph`; it must succeed and write one talking mp4 of `size` (check_talking_mp4)."""
    result = client.run(graph, timeout=timeout)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    videos = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert len(videos) == 1, result.files()
    facts = media.mp4_facts(client.view(videos[0]))
    print(f"{label} mp4:", facts)
    check_talking_mp4(facts, size)
    return result


def test_talking_face_workflow(client, bundles):
    prefix = f"test/talking_face_{uuid.uuid4().hex[:8]}"
    g = set_inputs(with_fixtures("talking_face", bundles, prefix), {"SaveImage": {"filename_prefix": prefix + "_portrait"}})
    result = run_talking(client, g, (256, 256), "talking_face")
    portraits = [f for f in result.files() if f.filename.endswith(".png") and "_portrait" in f.filename]
    assert len(portraits) == 4, result.files()  # every candidate saved for editing elsewhere


def test_portrait_to_video_workflow_pastes_into_the_photo(comfy, client, bundles):
    skdata = pytest.importorskip("skimage.data")
    Image.fromarray(skdata.astronaut()).save(os.path.join(comfy.input_dir, "main_photo.png"))  # 512x512 photo
    prefix = f"test/portrait_to_video_{uuid.uuid4().hex[:8]}"
    g = set_inputs(with_fixtures("portrait_to_video", bundles, prefix), {"LoadImage": {"image": "main_photo.png"}})
    run_talking(client, g, (512, 512), "portrait_to_video")


def test_main_job_with_the_bundled_weights(client, speech):
    """README command 1's workflow as shipped (bundled trained defaults, default settings)."""
    prefix = f"test/bundled_{uuid.uuid4().hex[:8]}"
    g = set_inputs(load_api_workflow("talking_face"), {
        "STS_LoadSpeech": {"audio": speech},
        "STS_SaveTalkingVideo": {"filename_prefix": prefix},
        "SaveImage": {"filename_prefix": prefix + "_portrait"},
    })
    run_talking(client, g, (256, 256), "main job (bundled weights)", timeout=1800)
