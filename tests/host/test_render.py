"""Stage-2 rendering in the real server: LoadImage -> FaceAlign -> (LoadVideo -> GetVideoComponents ->
MotionFromVideo) -> HRCodebookDecode -> PasteBack -> CreateVideo -> SaveVideo, on a synthetic portrait
in a larger, non-square photo and a driving clip from a generated corpus.

The renderer is the bundled default when present, else a small *untrained* renderer written by the
test (this checks plumbing, sizes, streaming and errors; image quality is measured by
evaluation/eval_renderer.py, not here). Paste-back on scikit-image's astronaut photo: size kept,
pixels outside the mask bit-exact, seam measured and printed.
"""

import dataclasses
import io
import os
import shutil
import uuid

import av
import numpy as np
import pytest
import torch
from PIL import Image

from see_the_speaker.checkpoint import save_module
from see_the_speaker.data.corpus import Corpus
from see_the_speaker.data.face_align import align_face, seam_metrics
from see_the_speaker.data.generate import PRESETS, generate
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs
from see_the_speaker.models.renderer import KIND, Renderer, RendererConfig

BUNDLED = os.path.join(os.path.dirname(__file__), "..", "..", "weights", "renderer_default.safetensors")
TEST_CKPT = "renderer_test_untrained.safetensors"
CANVAS = (360, 300)  # (height, width) of the photo the portrait sits in


@pytest.fixture(scope="module")
def render_inputs(comfy, tmp_path_factory):
    root = tmp_path_factory.mktemp("render_corpus")
    generate(dataclasses.replace(PRESETS["tiny"], speakers=2, clips_per_speaker=1, seconds=1.0), root, jobs=1)
    corpus = Corpus(root)
    clips = corpus.clips_in(None)
    portrait = corpus.load_frames(clips[0], 0, 1)[0]  # uint8 [256,256,3]
    photo = np.full(CANVAS + (3,), 0, np.uint8)
    photo[..., 0] = np.linspace(40, 200, CANVAS[1], dtype=np.uint8)[None, :]  # a gradient background
    photo[..., 2] = 120
    photo[60:316, 22:278] = portrait
    Image.fromarray(photo).save(os.path.join(comfy.input_dir, "render_photo.png"))
    shutil.copy(os.path.join(root, clips[1].video), os.path.join(comfy.input_dir, "render_driving.mp4"))
    folder = comfy.models_dir
    if os.path.exists(BUNDLED):
        ckpt = "renderer_default.safetensors"
    else:
        torch.manual_seed(0)
        model = Renderer(RendererConfig())
        save_module(os.path.join(folder, TEST_CKPT), KIND, model.cfg, model, extra={"trained": False, "note": "test fixture"})
        ckpt = TEST_CKPT
    return {"ckpt": ckpt, "n_frames": clips[1].n_frames, "photo": photo}


def graph(inputs, **overrides):
    g = set_inputs(load_api_workflow("render_from_video"), {
        "LoadImage": {"image": "render_photo.png"},
        "LoadVideo": {"file": "render_driving.mp4"},
        "STS_RendererLoader": {"ckpt_name": inputs["ckpt"]},
        "SaveVideo": {"filename_prefix": f"test/render_{uuid.uuid4().hex[:8]}"},
    })
    return set_inputs(g, overrides) if overrides else g


def test_render_from_video_makes_an_mp4(client, render_inputs):
    result = client.run(graph(render_inputs, STS_HRCodebookDecode={"frame_batch": 8}), timeout=600)
    assert result.ok, result.error
    files = [f for f in result.files() if f.filename.endswith(".mp4")]
    assert files, result.files()
    data = client.view(files[0])
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == render_inputs["n_frames"]
    assert frames[0].shape == CANVAS + (3,)  # pasted back into the photo's own size
    # far from the face the photo is untouched (H.264 only adds small coding noise)
    corner = np.abs(frames[0][:40, :40].astype(int) - render_inputs["photo"][:40, :40].astype(int)).mean()
    assert corner < 6, corner


def test_bad_inputs_name_the_input(comfy, client, render_inputs):
    Image.fromarray(np.full((200, 320, 3), 128, np.uint8)).save(os.path.join(comfy.input_dir, "blank_photo.png"))
    bad = client.run(graph(render_inputs, LoadImage={"image": "blank_photo.png"}), timeout=300)
    assert not bad.ok and "FaceAlign" in str(bad.error) and "'image'" in str(bad.error), bad.error


def test_paste_back_on_astronaut(comfy, client):
    skdata = pytest.importorskip("skimage.data")
    photo = skdata.astronaut()
    Image.fromarray(photo).save(os.path.join(comfy.input_dir, "astronaut.png"))
    prefix = f"test/astro_{uuid.uuid4().hex[:8]}"
    g = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "astronaut.png"}},
        "2": {"class_type": "STS_FaceAlign", "inputs": {"image": ["1", 0], "size": "256", "mode": "auto"}},
        "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},  # very different content
        "4": {"class_type": "STS_PasteBack", "inputs": {"frames": ["3", 0], "transform": ["2", 1], "original": ["1", 0],
                                                        "feather": 0.08, "colour_match": True}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": prefix}},
    }
    result = client.run(g, timeout=300)
    assert result.ok, result.error
    out = np.asarray(Image.open(io.BytesIO(client.view(result.files()[0]))).convert("RGB"))
    assert out.shape == photo.shape
    _, tr = align_face(photo, 256)
    m = seam_metrics(out.astype(np.float32) / 255, photo, tr)
    print("astronaut paste-back seam:", m)
    assert m["outside_max_change"] == 0.0  # pixels outside the mask are bit-exact
    changed = (np.abs(out.astype(int) - photo.astype(int)).max(2) > 0).mean()
    assert 0.02 < changed < 0.6
