"""STS_SaveTalkingVideo in the real server: the long_speech workflow (LoadSpeech -> SpeechEncode ->
MotionDiffusion -> LipRefine -> SaveTalkingVideo) writes an mp4 whose audio and video agree within one
frame; paste-back, bad inputs, and an interrupt that leaves no partial file.

Runs on small *untrained* bundles (tests/tiny_models.py): plumbing, lengths and errors, not quality.
"""

import math
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

import media
import tiny_models
from see_the_speaker.harness.client import PromptRejected
from see_the_speaker.harness.provision import ensure_comfyui
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac")


@pytest.fixture(scope="module")
def talking(comfy):
    renderer = tiny_models.write_tiny_renderer(comfy.models_dir, "renderer_talking_fixture.safetensors")
    motion = tiny_models.write_tiny_motion(comfy.models_dir, renderer, "motion_talking_fixture.safetensors")
    shutil.copy(SAMPLE, os.path.join(comfy.input_dir, "talking_speech.flac"))
    media.write_gated_tone(os.path.join(comfy.input_dir, "talking_long.flac"), 40)
    Image.fromarray(np.full((256, 256, 3), 150, np.uint8)).save(os.path.join(comfy.input_dir, "talking_portrait.png"))
    photo = np.full((241, 301, 3), 90, np.uint8)  # odd, non-square photo for paste-back
    photo[40:200, 70:230] = 170
    Image.fromarray(photo).save(os.path.join(comfy.input_dir, "talking_photo.png"))
    return {"renderer": renderer, "motion": motion}


def graph(talking, audio="talking_speech.flac", prefix=None, **save):
    return set_inputs(load_api_workflow("long_speech"), {
        "STS_LoadSpeech": {"audio": audio},
        "STS_LoadMotionModel": {"ckpt_name": talking["motion"]},
        "STS_RendererLoader": {"ckpt_name": talking["renderer"]},
        "LoadImage": {"image": "talking_portrait.png"},
        "STS_MotionDiffusion": {"steps": 2},
        "STS_SaveTalkingVideo": {"filename_prefix": prefix or f"test/talking_{uuid.uuid4().hex[:8]}", **save},
    })


def test_long_speech_workflow_writes_mp4_with_matching_durations(comfy, client, talking):
    prefix = f"test/long_{uuid.uuid4().hex[:8]}"
    result = client.run(graph(talking, prefix=prefix), timeout=600)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    files = result.files("8")
    assert len(files) == 1 and files[0].filename.endswith(".mp4") and files[0].subfolder == "test", files
    assert result.outputs["8"].get("animated") == [True]
    f = media.mp4_facts(client.view(files[0]))
    speech_s = sf.info(SAMPLE).duration
    fps = 25.0
    print(f"long_speech mp4: {f}, speech {speech_s:.3f} s")
    assert (f["codec"], f["audio_codec"], f["width"], f["height"]) == ("h264", "aac", 256, 256)
    assert f["frames"] == math.ceil(speech_s * fps - 1e-9)
    assert abs(f["video_s"] - f["frames"] / fps) <= 1 / fps
    assert abs(f["audio_s"] - f["video_s"]) <= 1 / fps
    assert 0 <= f["decoded_audio_s"] - f["video_s"] <= 1 / fps + 1024 / f["rate"]  # + the last AAC frame's padding
    out = os.path.join(comfy.output_dir, "test")
    assert not [n for n in os.listdir(out) if n.endswith(".part")]
    assert os.path.basename(prefix) + "_00001_.mp4" in os.listdir(out)


def test_paste_back_makes_video_of_the_photo_size(client, talking):
    g = graph(talking, crf=30)
    g["20"] = {"class_type": "LoadImage", "inputs": {"image": "talking_photo.png"}}
    g["21"] = {"class_type": "STS_FaceAlign", "inputs": {"image": ["20", 0], "size": "256", "mode": "canonical"}}
    g["8"]["inputs"].update({"portrait": ["21", 0], "transform": ["21", 1], "original": ["20", 0]})
    result = client.run(g, timeout=600)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    f = media.mp4_facts(client.view(result.files("8")[0]))
    assert (f["width"], f["height"]) == (302, 242)  # 301x241 padded to even by one replicated column/row
    assert abs(f["audio_s"] - f["video_s"]) <= 1 / 25


def test_bad_inputs_name_the_input(comfy, client, talking):
    for prefix in ("../escape", "test/../../escape"):
        r = client.run(graph(talking, prefix=prefix), timeout=300)
        assert not r.ok and "filename_prefix" in str(r.error) and "outside the output folder" in str(r.error), r.error
    assert not os.path.exists(os.path.join(os.path.dirname(comfy.output_dir), "escape_00001_.mp4"))
    g = graph(talking)
    g["20"] = {"class_type": "LoadImage", "inputs": {"image": "talking_photo.png"}}
    g["8"]["inputs"]["original"] = ["20", 0]  # paste-back without a transform
    r = client.run(g, timeout=300)
    assert not r.ok and "'transform'" in str(r.error), r.error
    g = graph(talking)
    del g["8"]["inputs"]["audio"]
    with pytest.raises(PromptRejected) as rejected:  # the server's own validation names the input
        client.run(g, timeout=60)
    assert "audio" in str(rejected.value)


def test_interrupt_leaves_no_partial_file(comfy, client, talking):
    sub = f"interrupt_{uuid.uuid4().hex[:6]}"
    pid = client.queue_prompt(graph(talking, audio="talking_long.flac", prefix=f"{sub}/talk", frame_batch=2))
    folder = os.path.join(comfy.output_dir, sub)
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.isdir(folder) and any(n.endswith(".part") for n in os.listdir(folder))):
        time.sleep(0.2)
    assert os.path.isdir(folder) and os.listdir(folder), "the writer never started"
    client.interrupt()
    result = client.wait(pid, timeout=120)
    assert result.status != "success"
    assert os.listdir(folder) == [], os.listdir(folder)


def test_node_refuses_empty_motion_and_bad_audio_inside_comfy(tmp_path):
    """Inputs no shipped node can produce (empty motion, an AUDIO without samples), checked by calling
    the node with ComfyUI's real modules loaded."""
    comfy_dir = ensure_comfyui()
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {comfy_dir!r})
        sys.argv = ["main.py", "--cpu", "--output-directory", {str(tmp_path)!r}]
        import comfy.options
        comfy.options.enable_args_parsing()
        import torch
        from see_the_speaker import host
        from see_the_speaker.nodes.common import NodeInputError
        from see_the_speaker.nodes.video import SaveTalkingVideo
        from see_the_speaker.models.renderer import Renderer, RendererConfig
        from see_the_speaker.payloads import MotionSequence
        r = Renderer(RendererConfig())
        model = host.ManagedModel.wrap(r, "renderer", "r", torch.float32)
        spec = r.spec
        ok_audio = {{"waveform": torch.zeros(1, 1, 1600), "sample_rate": 16000}}
        motion = MotionSequence(torch.zeros(0, spec.dim), 25.0, spec.parts())
        cases = [("motion", motion, ok_audio), ("audio", MotionSequence(torch.zeros(3, spec.dim), 25.0, spec.parts()),
                 {{"waveform": torch.zeros(1, 1, 0), "sample_rate": 16000}}),
                 ("audio", MotionSequence(torch.zeros(3, spec.dim), 25.0, spec.parts()), None)]
        for name, m, a in cases:
            try:
                SaveTalkingVideo.execute(torch.rand(1, 64, 64, 3), m, model, a, 1.0, "256", 4, "t/x", 19)
                raise SystemExit("accepted bad " + name)
            except NodeInputError as e:
                assert e.input_name == name, (name, str(e))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout[-2000:] + out.stderr[-4000:]
    assert not any(files for _, _, files in os.walk(tmp_path) if any(f.endswith((".mp4", ".part")) for f in files))
