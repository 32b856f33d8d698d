"""Bad inputs through the real server: one table over every node of the pack.

Each case is a prompt with one bad input (a file in ComfyUI's input folder, a checkpoint in the
models folder, or a widget value sent through the API outside what the UI allows). It expects one of

* ``Err(node_type, input, text)``: the prompt runs and stops with the pack's NodeInputError at that
  node, naming the input and saying what was expected;
* ``Rej(input, text)``: the server refuses the prompt at validation (HTTP 400), naming the input;
* ``Works(check)``: a documented, sensible result (README "Reliability"), checked by ``check``.

After every case: nothing partial is left in the output folder (for refusals it is unchanged; for
results exactly the reported files were added), and the server answers the next prompt normally.
Models are small *untrained* fixtures (tests/tiny_models.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import media
import tiny_models
from server_checks import listing, submit
from see_the_speaker.harness.client import PromptRejected
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs

NAN = float("nan")
SCFP = "scfp_bad_inputs.safetensors"
RENDERER = "renderer_bad_inputs.safetensors"
MOTION = "motion_bad_inputs.safetensors"
SPEECH = "bad_speech.flac"  # the bundled sample speech (6.4 s)
SHORT_SPEECH = "bad_speech_1s.wav"  # for the video graphs
PORTRAIT = "bad_portrait256.png"


# --------------------------------------------------------------------------------------------
# fixtures: models (good and bad) and the media every graph needs

@pytest.fixture(scope="module")
def env(comfy):
    models = comfy.models_dir
    tiny_models.write_tiny_scfp(models, SCFP)
    tiny_models.write_tiny_renderer(models, RENDERER)
    tiny_models.write_tiny_motion(models, RENDERER, MOTION)
    _write_bad_checkpoints(models, os.path.join(models, SCFP))
    shutil.copy(os.path.join(models, SCFP), os.path.join(comfy.base_dir, "bad_outside.safetensors"))  # a real file to reach
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac"),
                os.path.join(comfy.input_dir, SPEECH))
    media.write_soundfile(os.path.join(comfy.input_dir, SHORT_SPEECH), 1.0, 16000)
    Image.fromarray(np.full((256, 256, 3), 150, np.uint8)).save(os.path.join(comfy.input_dir, PORTRAIT))
    media.write_soundfile(os.path.join(comfy.input_dir, "bad_healthy.wav"), 1.0, 16000)
    return {"input": comfy.input_dir, "models": models}


def _write_bad_checkpoints(models: str, good: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    data = open(good, "rb").read()
    header = 8 + int.from_bytes(data[:8], "little")
    with open(os.path.join(models, "scfp_bad_truncated.safetensors"), "wb") as f:
        f.write(data[: len(data) // 2])
    flipped = bytearray(data)
    for i in range(header + 100, len(flipped), 4099):  # flip bytes inside the tensor data, size unchanged
        flipped[i] ^= 0x5A
    with open(os.path.join(models, "scfp_bad_flipped.safetensors"), "wb") as f:
        f.write(bytes(flipped))
    zeroed = data[: header + (len(data) - header) // 2]
    with open(os.path.join(models, "scfp_bad_zero_tail.safetensors"), "wb") as f:  # a preallocated, unfinished download
        f.write(zeroed + bytes(len(data) - len(zeroed)))
    with safe_open(good, "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, os.path.join(models, "scfp_bad_v99.safetensors"), metadata={**meta, "sts.format_version": "99"})
    config = json.loads(meta["sts.config"])
    config["saw"]["hidden"] *= 2
    bigger = {k: v for k, v in meta.items() if k != "sts.sha256"}  # as if exported by a buggy tool
    save_file(tensors, os.path.join(models, "scfp_bad_config.safetensors"),
              metadata={**bigger, "sts.config": json.dumps(config)})
    save_file({"weight": torch.zeros(4)}, os.path.join(models, "scfp_bad_foreign.safetensors"))
    torch.save({"weight": torch.zeros(4)}, os.path.join(models, "scfp_bad_pickle.safetensors"))


# --------------------------------------------------------------------------------------------
# graphs

def _prefix() -> str:
    return f"bad/{uuid.uuid4().hex[:10]}"


def speech(audio: str, **load) -> dict:
    return set_inputs(load_api_workflow("load_speech"), {"STS_LoadSpeech": {"audio": audio, **load},
                                                         "SaveAudio": {"filename_prefix": _prefix()}})


def portrait(audio: str = SPEECH, ckpt: str = SCFP, load: dict | None = None, model: dict | None = None, **sample) -> dict:
    return set_inputs(load_api_workflow("speech_to_portraits"), {
        "STS_LoadSpeech": {"audio": audio, **(load or {})},
        "STS_LoadPortraitModel": {"ckpt_name": ckpt, **(model or {})},
        "STS_SpeechToPortrait": {"seed": 1, "steps": 1, "candidates": 1, **sample},
        "SaveImage": {"filename_prefix": _prefix()}})


def video(audio: str = SHORT_SPEECH, image: str = PORTRAIT, renderer: str = RENDERER, motion: dict | None = None,
          decode: dict | None = None) -> dict:
    return set_inputs(load_api_workflow("speech_to_video"), {
        "STS_LoadSpeech": {"audio": audio}, "LoadImage": {"image": image},
        "STS_LoadMotionModel": {"ckpt_name": MOTION}, "STS_RendererLoader": {"ckpt_name": renderer},
        "STS_MotionDiffusion": {"steps": 1, **(motion or {})}, "STS_HRCodebookDecode": dict(decode or {}),
        "SaveVideo": {"filename_prefix": _prefix()}})


def face(image: str, mode: str = "detect", size: str = "256", paste: dict | None = None, original: str | None = None) -> dict:
    """LoadImage -> FaceAlign -> SaveImage, or with `paste` (PasteBack inputs): the inverted crop pasted
    back into `original` (default: the same photo) -> SaveImage. One output node, so a refused input
    refuses the prompt (ComfyUI silently drops invalid output branches when others are valid)."""
    g = {"1": {"class_type": "LoadImage", "inputs": {"image": image}},
         "2": {"class_type": "STS_FaceAlign", "inputs": {"image": ["1", 0], "size": size, "mode": mode}},
         "9": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": _prefix()}}}
    if paste is not None:
        g["3"] = {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}}
        g["4"] = {"class_type": "LoadImage", "inputs": {"image": original or image}}
        g["5"] = {"class_type": "STS_PasteBack", "inputs": {"frames": ["3", 0], "transform": ["2", 1], "original": ["4", 0],
                                                            "feather": 0.08, "colour_match": True, **paste}}
        g["9"]["inputs"]["images"] = ["5", 0]
    return g


# --------------------------------------------------------------------------------------------
# checks of the sensible results

def saved(result):
    """Files the prompt saved in the output folder (previews go to the temp folder)."""
    return [f for f in result.files() if f.type == "output"]


def _only_file(client, result):
    files = saved(result)
    assert len(files) == 1, result.files()
    return client.view(files[0])


def audio_of(client, result) -> tuple[np.ndarray, int]:
    data, rate = sf.read(io.BytesIO(_only_file(client, result)), dtype="float32", always_2d=True)
    return data, rate


def image_of(client, result) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(_only_file(client, result))).convert("RGB"))


def video_frames_of(client, result) -> int:
    mp4 = [f for f in saved(result) if f.filename.endswith(".mp4")]
    assert len(mp4) == 1, result.files()
    with av.open(io.BytesIO(client.view(mp4[0]))) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def audio_is(seconds: float, rate: int):
    def check(client, result, comfy):
        data, got = audio_of(client, result)
        assert got == rate and data.shape[0] == round(seconds * rate), (data.shape, got)
    return check


def peak_at_most(limit: float):
    def check(client, result, comfy):
        data, _ = audio_of(client, result)
        assert 0.5 < np.abs(data).max() <= limit, np.abs(data).max()
    return check


def one_portrait(client, result, comfy):
    img = image_of(client, result)
    assert img.shape == (256, 256, 3)


def image_shape(h: int, w: int):
    def check(client, result, comfy):
        assert image_of(client, result).shape == (h, w, 3)
    return check


def flat_grey_crop(client, result, comfy):
    img = image_of(client, result)
    assert img.shape == (256, 256, 3) and np.abs(img.astype(int) - 128).max() <= 1


def larger_face_pasted(client, result, comfy):
    """two_faces.png: a 512-px face at x < 512 and a 256-px copy at x 700..956; the inverted crop
    lands on the larger one."""
    out = image_of(client, result)
    photo = np.asarray(Image.open(os.path.join(comfy.input_dir, "bad_two_faces.png")).convert("RGB"))
    changed = np.abs(out.astype(int) - photo.astype(int)).max(2) > 8
    xs = np.nonzero(changed)[1]
    assert xs.size > 1000 and xs.max() < 560, (xs.size, xs.min(), xs.max())


def mp4_with_frames(n: int):
    def check(client, result, comfy):
        assert video_frames_of(client, result) == n
    return check


# --------------------------------------------------------------------------------------------
# image inputs

def _astronaut() -> np.ndarray:
    skdata = pytest.importorskip("skimage.data")
    return skdata.astronaut()  # a real photo with one frontal face, 512x512


def _save(path: str, array: np.ndarray, mode: str | None = None) -> None:
    Image.fromarray(array, mode).save(path)


def write_two_faces(path):
    import cv2
    a = _astronaut()
    canvas = np.full((512, 1100, 3), 60, np.uint8)
    canvas[:, :512] = a
    canvas[128:384, 700:956] = cv2.resize(a, (256, 256), interpolation=cv2.INTER_AREA)
    _save(path, canvas)


def write_rgba(path):
    a = _astronaut()
    rgba = np.dstack([a, np.full(a.shape[:2], 255, np.uint8)])
    rgba[:, :120, 3] = 0  # a transparent strip
    _save(path, rgba, "RGBA")


def write_big(path):
    import cv2
    big = np.full((8000, 8000, 3), 90, np.uint8)
    big[2000:6000, 2000:6000] = cv2.resize(_astronaut(), (4000, 4000), interpolation=cv2.INTER_LINEAR)
    Image.fromarray(big).save(path, compress_level=1)


def write_wide(path):
    wide = np.full((512, 900, 3), 30, np.uint8)
    wide[:, 200:712] = _astronaut()
    _save(path, wide)


# --------------------------------------------------------------------------------------------
# the table

@dataclass
class Err:
    node_type: str
    input: str
    text: str


@dataclass
class Rej:
    input: str
    text: str


@dataclass
class Works:
    check: Callable[[Any, Any, Any], None]  # (client, result, comfy)


@dataclass
class Case:
    id: str
    graph: Callable[[], dict]
    expect: Err | Rej | Works
    files: dict[str, Callable[[str], Any]] = field(default_factory=dict)


A = "STS_LoadSpeech"
ENC = "STS_SpeechEncode"
S2P = "STS_SpeechToPortrait"
LPM = "STS_LoadPortraitModel"
FA = "STS_FaceAlign"
PB = "STS_PasteBack"

CASES = [
    # ---- audio files (LoadSpeech, SpeechEncode)
    Case("audio_empty_file", lambda: speech("bad_empty.wav"), Err(A, "audio", "file is empty (0 bytes)"),
         {"bad_empty.wav": media.write_empty}),
    Case("audio_text_named_wav", lambda: speech("bad_text.wav"), Err(A, "audio", "not a readable audio or video file"),
         {"bad_text.wav": media.write_not_audio}),
    Case("audio_truncated_mp3", lambda: speech("bad_truncated.mp3"), Err(A, "audio", "truncated: the header declares"),
         {"bad_truncated.mp3": media.write_truncated_mp3}),
    Case("audio_truncated_wav", lambda: speech("bad_truncated.wav"), Err(A, "audio", "truncated: the header declares 2.00 s"),
         {"bad_truncated.wav": media.write_truncated_wav}),
    Case("audio_no_samples", lambda: speech("bad_zero.wav"), Err(A, "audio", "contains no audio samples"),
         {"bad_zero.wav": media.write_zero_samples_wav}),
    Case("audio_image_named_wav", lambda: speech("bad_image.wav"), Err(A, "audio", "has no audio stream (found: video)"),
         {"bad_image.wav": media.write_png_bytes}),
    Case("audio_video_without_sound", lambda: speech("bad_silent_film.mp4"), Err(A, "audio", "has no audio stream"),
         {"bad_silent_film.mp4": media.write_video_without_audio}),
    Case("audio_flac_named_mp3", lambda: speech("bad_flac.mp3"), Works(audio_is(1.0, 16000)),
         {"bad_flac.mp3": lambda p: sf.write(p, media.speechlike(1.0, 16000), 16000, format="FLAC")}),
    Case("audio_nan_sample", lambda: speech("bad_nan.wav"), Err(A, "audio", "contains NaN or infinite samples"),
         {"bad_nan.wav": lambda p: media.write_float_wav(p, 1.0, poke=NAN)}),
    Case("audio_inf_sample", lambda: speech("bad_inf.wav"), Err(A, "audio", "contains NaN or infinite samples"),
         {"bad_inf.wav": lambda p: media.write_float_wav(p, 1.0, poke=float("-inf"))}),
    Case("audio_pure_silence", lambda: portrait("bad_silence.wav"), Err(ENC, "audio", "speech is silent"),
         {"bad_silence.wav": lambda p: media.write_silence(p, 2.0)}),
    Case("audio_0.2s", lambda: portrait("bad_short.wav"), Err(ENC, "audio", "0.20 s"),
         {"bad_short.wav": lambda p: media.write_tone(p, 0.2)}),
    Case("audio_one_sample_portrait", lambda: portrait("bad_one.wav"), Err(ENC, "audio", "at least 0.5 s is needed"),
         {"bad_one.wav": lambda p: media.write_tone(p, 1 / 16000)}),
    Case("audio_one_sample_video", lambda: video("bad_one.wav"), Works(mp4_with_frames(1)),
         {"bad_one.wav": lambda p: media.write_tone(p, 1 / 16000)}),
    Case("audio_hard_clipped", lambda: portrait("bad_clipped.wav"), Works(one_portrait),
         {"bad_clipped.wav": lambda p: media.write_hard_clipped(p, 2.0)}),
    Case("audio_beyond_full_scale", lambda: speech("bad_hot.wav", normalize_loudness=True), Works(peak_at_most(0.991)),
         {"bad_hot.wav": lambda p: media.write_float_wav(p, 2.0, gain=20.0)}),
    Case("audio_8khz", lambda: portrait("bad_8k.wav"), Works(one_portrait),
         {"bad_8k.wav": lambda p: media.write_soundfile(p, 2.0, 8000)}),
    Case("audio_192khz", lambda: portrait("bad_192k.wav"), Works(one_portrait),
         {"bad_192k.wav": lambda p: media.write_soundfile(p, 2.0, 192000)}),
    Case("audio_8_channels", lambda: portrait("bad_8ch.wav", load={"mix_to_mono": False}), Works(one_portrait),
         {"bad_8ch.wav": lambda p: media.write_soundfile(p, 2.0, 16000, channels=8)}),
    Case("audio_two_hours", lambda: speech("bad_two_hours.flac", start=7190.0, duration=5.0), Works(audio_is(5.0, 16000)),
         {"bad_two_hours.flac": lambda p: media.write_long_gated_tone(p, 2 * 3600)}),
    Case("audio_window_past_end", lambda: speech(SPEECH, start=100.0), Err(A, "audio", "no audio in the requested window")),
    Case("audio_missing_file", lambda: speech("bad_does_not_exist.wav"), Rej("audio", "not found in the input folder")),
    Case("audio_name_escapes_input", lambda: speech("../bad_outside.wav"), Rej("audio", "points outside the 'input' folder"),
         {"../bad_outside.wav": lambda p: media.write_soundfile(p, 0.5, 16000)}),
    Case("audio_absolute_path", lambda: speech("/etc/hostname"), Rej("audio", "points outside")),
    # ---- widget values sent through the API
    Case("start_negative", lambda: speech(SPEECH, start=-1.0), Rej("start", "smaller than min")),
    Case("start_text", lambda: speech(SPEECH, start="abc"), Rej("start", "Failed to convert an input value to a FLOAT")),
    Case("start_nan", lambda: speech(SPEECH, start=NAN), Err(A, "start", "expected a finite number")),
    Case("target_lufs_nan", lambda: speech(SPEECH, normalize_loudness=True, target_lufs=NAN),
         Err(A, "target_lufs", "expected a finite number")),
    Case("seed_negative", lambda: portrait(seed=-1), Rej("seed", "smaller than min")),
    Case("candidates_zero", lambda: portrait(candidates=0), Rej("candidates", "smaller than min")),
    Case("steps_huge", lambda: portrait(steps=10 ** 9), Rej("steps", "bigger than max")),
    Case("guidance_nan", lambda: portrait(guidance=NAN), Err(S2P, "guidance", "expected a finite number")),
    Case("prior_mode_unknown", lambda: portrait(prior_mode="median"), Err(S2P, "prior_mode", "is not one of the options")),
    Case("dtype_fp64", lambda: portrait(model={"dtype": "fp64"}), Err(LPM, "dtype", "is not one of the options")),
    Case("motion_fps_nan", lambda: video(motion={"fps": NAN}), Err("STS_MotionDiffusion", "fps", "expected a finite number")),
    Case("output_size_7", lambda: video(decode={"output_size": "7"}), Err("STS_HRCodebookDecode", "output_size",
                                                                          "is not one of the options")),
    Case("feather_out_of_range", lambda: face("bad_astronaut.png", paste={"feather": 5.0}), Rej("feather", "bigger than max"),
         {"bad_astronaut.png": lambda p: _save(p, _astronaut())}),
    Case("feather_nan", lambda: face("bad_astronaut.png", paste={"feather": NAN}), Err(PB, "feather", "expected a finite number"),
         {"bad_astronaut.png": lambda p: _save(p, _astronaut())}),
    Case("face_size_not_offered", lambda: face("bad_astronaut.png", size="300"), Err(FA, "size", "is not one of the options"),
         {"bad_astronaut.png": lambda p: _save(p, _astronaut())}),
    Case("face_mode_unknown", lambda: face("bad_astronaut.png", mode="magic"), Err(FA, "mode", "is not one of the options"),
         {"bad_astronaut.png": lambda p: _save(p, _astronaut())}),
    # ---- checkpoints
    Case("ckpt_missing", lambda: portrait(ckpt="scfp_nowhere.safetensors"), Rej("ckpt_name", "not found")),
    Case("ckpt_name_escapes_models", lambda: portrait(ckpt="../../bad_outside.safetensors"), Rej("ckpt_name", "not found")),
    Case("ckpt_wrong_kind", lambda: video(renderer=SCFP), Err("STS_RendererLoader", "ckpt_name",
                                                              "a 'renderer' checkpoint was expected")),
    Case("ckpt_truncated", lambda: portrait(ckpt="scfp_bad_truncated.safetensors"), Err(LPM, "ckpt_name", "truncated or tampered")),
    Case("ckpt_bytes_flipped", lambda: portrait(ckpt="scfp_bad_flipped.safetensors"), Err(LPM, "ckpt_name", "does not match the checksum")),
    Case("ckpt_zero_filled_tail", lambda: portrait(ckpt="scfp_bad_zero_tail.safetensors"),
         Err(LPM, "ckpt_name", "does not match the checksum")),
    Case("ckpt_newer_version", lambda: portrait(ckpt="scfp_bad_v99.safetensors"), Err(LPM, "ckpt_name", "format version 99 is newer")),
    Case("ckpt_pickle_renamed", lambda: portrait(ckpt="scfp_bad_pickle.safetensors"),
         Err(LPM, "ckpt_name", "pickle-based formats are refused")),
    Case("ckpt_foreign_safetensors", lambda: portrait(ckpt="scfp_bad_foreign.safetensors"),
         Err(LPM, "ckpt_name", "without See-the-Speaker metadata")),
    Case("ckpt_config_does_not_fit", lambda: portrait(ckpt="scfp_bad_config.safetensors"), Err(LPM, "ckpt_name", "does not fit its model")),
    Case("model_into_wrong_socket", lambda: _renderer_into_portrait(), Rej("model", "mismatch")),
    # ---- images (FaceAlign, PasteBack, the renderer's portrait)
    Case("image_no_face", lambda: face("bad_noise.png"), Err(FA, "image", "no face found in the 420x300 image"),
         {"bad_noise.png": lambda p: _save(p, np.random.default_rng(0).integers(0, 256, (300, 420, 3), dtype=np.uint8))}),
    Case("image_1x1", lambda: face("bad_1px.png"), Err(FA, "image", "of 8 to 32766 px per side"),
         {"bad_1px.png": lambda p: _save(p, np.array([[[200, 100, 50]]], np.uint8))}),
    Case("image_thin_strip_8x4000", lambda: face("bad_strip.png", mode="auto"), Err(FA, "image", "no face found in the 4000x8"),
         {"bad_strip.png": lambda p: _save(p, np.full((8, 4000, 3), 100, np.uint8))}),  # aborted the server before
    Case("image_40000_wide", lambda: face("bad_too_wide.png"), Err(FA, "image", "of 8 to 32766 px per side"),
         {"bad_too_wide.png": lambda p: _save(p, np.full((10, 40000, 3), 100, np.uint8))}),
    Case("image_two_faces", lambda: face("bad_two_faces.png", paste={}), Works(larger_face_pasted),
         {"bad_two_faces.png": write_two_faces}),
    Case("image_flat_grey_square", lambda: face("bad_grey.png", mode="auto"), Works(flat_grey_crop),
         {"bad_grey.png": lambda p: _save(p, np.full((300, 300), 128, np.uint8), "L")}),
    Case("image_greyscale_photo", lambda: face("bad_grey_astronaut.png"), Works(one_portrait),
         {"bad_grey_astronaut.png": lambda p: _save(p, _astronaut().mean(2).astype(np.uint8), "L")}),
    Case("image_rgba", lambda: face("bad_rgba.png"), Works(one_portrait), {"bad_rgba.png": write_rgba}),
    Case("image_8000x8000", lambda: face("bad_8000.png"), Works(one_portrait), {"bad_8000.png": write_big}),
    Case("image_non_square", lambda: face("bad_wide.png", paste={}), Works(image_shape(512, 900)), {"bad_wide.png": write_wide}),
    Case("paste_back_other_photo", lambda: face("bad_astronaut.png", paste={}, original="bad_wide.png"),
         Err(PB, "original", "the transform was made for 512x512"),
         {"bad_astronaut.png": lambda p: _save(p, _astronaut()), "bad_wide.png": write_wide}),
    Case("portrait_not_aligned", lambda: video(image="bad_wide.png"), Works(mp4_with_frames(25)), {"bad_wide.png": write_wide}),
]


def _renderer_into_portrait() -> dict:
    g = portrait()
    g["90"] = {"class_type": "STS_RendererLoader", "inputs": {"ckpt_name": RENDERER, "dtype": "auto", "device": "auto"}}
    g["4"]["inputs"]["model"] = ["90", 0]
    return g


def test_the_table_is_big_enough():
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert {"STS_LoadSpeech", ENC, S2P, LPM, "STS_MotionDiffusion", "STS_HRCodebookDecode", "STS_RendererLoader", FA, PB} <= {
        c.expect.node_type for c in CASES if isinstance(c.expect, Err)}


# --------------------------------------------------------------------------------------------
# the runner

def assert_server_answers(comfy, client) -> None:
    """A fresh (uncached) prompt right after the bad one runs normally."""
    seconds = 0.1 + (uuid.uuid4().int % 80) / 100
    result = client.wait(submit(client, speech("bad_healthy.wav", duration=seconds)), timeout=120)
    assert result.ok, result.error
    data, rate = audio_of(client, result)
    assert data.shape[0] == round(seconds * rate)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(comfy, client, env, case):
    for name, write in case.files.items():
        path = os.path.normpath(os.path.join(comfy.input_dir, name))
        if not os.path.exists(path):
            write(path)
    graph = case.graph()
    before = listing(comfy.output_dir)
    expect = case.expect
    if isinstance(expect, Rej):
        with pytest.raises(PromptRejected) as e:
            submit(client, graph)
        text = str(e.value)
        assert expect.input in text and expect.text in text, text
    else:
        result = client.wait(submit(client, graph), timeout=600)
        if isinstance(expect, Err):
            err = result.error or {}
            assert result.status == "error", (result.status, result.outputs)
            message = err.get("exception_message", "")
            assert err.get("node_type") == expect.node_type, err
            assert err.get("exception_type", "").endswith("NodeInputError"), err.get("exception_type")
            assert f"input '{expect.input}'" in message and expect.text in message, message
        else:
            assert result.ok, (result.error or {}).get("exception_message", result.error)
            expect.check(client, result, comfy)
    added = {k: v for k, v in listing(comfy.output_dir).items() if before.get(k) != v}
    if isinstance(expect, Works):  # exactly the files the history reports, nothing half-written
        assert set(added) == {os.path.join(f.subfolder, f.filename) for f in saved(result)}, added
        assert all(size > 0 for size in added.values()), added
    else:
        assert added == {} and set(listing(comfy.output_dir)) == set(before), added
    assert_server_answers(comfy, client)
