"""Reliability and security in the real server: interrupt, determinism, concurrency, pickle refusal,
file names, and no network at run time.

Two server processes: the session's `comfy` server, and a second, *sealed* one started here with
another PYTHONHASHSEED and an audit hook (tests/host/sealed/sitecustomize.py) that refuses and logs
every network access other than to this machine. The same graphs run in both: identical frames
across processes; an empty audit log after running every stage of the pack. Models are small
*untrained* fixtures (tests/tiny_models.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import threading
import time
import uuid

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import media
import tiny_models
from server_checks import listing, submit
from see_the_speaker.harness.client import PromptRejected
from see_the_speaker.harness.server import ComfyServer, ServerConfig
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs

SCFP = "scfp_reliability.safetensors"
RENDERER = "renderer_reliability.safetensors"
MOTION = "motion_reliability.safetensors"
WHISPER_MOTION = "motion_reliability_whisper.safetensors"
SPEECH = "rel_speech.flac"  # the bundled 6.4 s sample
SHORT = "rel_speech_1s.wav"
LONG = "rel_speech_4s.wav"
PORTRAIT = "rel_portrait.png"
SEALED_DIR = os.path.join(os.path.dirname(__file__), "sealed")


def _write_inputs(folder: str) -> None:
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "samples", "speech_en.flac"),
                os.path.join(folder, SPEECH))
    media.write_soundfile(os.path.join(folder, SHORT), 1.0, 16000)
    media.write_soundfile(os.path.join(folder, LONG), 4.0, 16000)
    rng = np.random.default_rng(0)
    Image.fromarray((120 + rng.integers(0, 60, (256, 256, 3))).astype(np.uint8)).save(os.path.join(folder, PORTRAIT))


@pytest.fixture(scope="module")
def models(comfy):
    tiny_models.write_tiny_scfp(comfy.models_dir, SCFP)
    tiny_models.write_tiny_renderer(comfy.models_dir, RENDERER)
    tiny_models.write_tiny_motion(comfy.models_dir, RENDERER, MOTION)
    tiny_models.write_tiny_motion_whisper(comfy.models_dir, WHISPER_MOTION)
    _write_inputs(comfy.input_dir)
    return comfy.models_dir


@pytest.fixture(scope="module")
def sealed(comfy, models, tmp_path_factory):
    """A second server process: other hash seed, network refused and logged, same models and inputs."""
    log = str(tmp_path_factory.mktemp("audit") / "network.jsonl")
    pythonpath = os.pathsep.join(p for p in (SEALED_DIR, os.environ.get("PYTHONPATH", "")) if p)
    server = ComfyServer(ServerConfig(startup_timeout=300, env={
        "PYTHONPATH": pythonpath, "STS_NETWORK_AUDIT_LOG": log, "PYTHONHASHSEED": "12345"}))
    server.start()
    try:
        for name in (SCFP, RENDERER, MOTION, WHISPER_MOTION):
            shutil.copy(os.path.join(models, name), os.path.join(server.models_dir, name))
        for name in (SPEECH, SHORT, LONG, PORTRAIT):
            shutil.copy(os.path.join(comfy.input_dir, name), os.path.join(server.input_dir, name))
        server.audit_log = log
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# graphs

def _prefix(tag: str) -> str:
    return f"rel/{tag}_{uuid.uuid4().hex[:8]}"


def portrait_graph(audio: str = SPEECH, seed: int = 11, candidates: int = 2, steps: int = 4) -> dict:
    """steps >= 3: with 1-2 DDIM steps the untrained fixture's portrait hardly depends on the seed."""
    return set_inputs(load_api_workflow("speech_to_portraits"), {
        "STS_LoadSpeech": {"audio": audio}, "STS_LoadPortraitModel": {"ckpt_name": SCFP},
        "STS_SpeechToPortrait": {"seed": seed, "steps": steps, "candidates": candidates},
        "SaveImage": {"filename_prefix": _prefix("portrait")}})


def video_graph(audio: str = SHORT, seed: int = 5, frame_batch: int = 16, frames_as_png: bool = False) -> dict:
    """speech_to_video with the tiny models; frames_as_png saves the decoded frames losslessly instead of an mp4."""
    g = set_inputs(load_api_workflow("speech_to_video"), {
        "STS_LoadSpeech": {"audio": audio}, "LoadImage": {"image": PORTRAIT},
        "STS_LoadMotionModel": {"ckpt_name": MOTION}, "STS_RendererLoader": {"ckpt_name": RENDERER},
        "STS_MotionDiffusion": {"steps": 2, "seed": seed}, "STS_HRCodebookDecode": {"frame_batch": frame_batch},
        "SaveVideo": {"filename_prefix": _prefix("video")}})
    if frames_as_png:
        decode = next(k for k, v in g.items() if v["class_type"] == "STS_HRCodebookDecode")
        for k in [k for k, v in g.items() if v["class_type"] in ("CreateVideo", "SaveVideo")]:
            del g[k]
        g["90"] = {"class_type": "SaveImage", "inputs": {"images": [decode, 0], "filename_prefix": _prefix("frames")}}
    return g


def speech_graph(audio: str, **load) -> dict:
    return set_inputs(load_api_workflow("load_speech"), {"STS_LoadSpeech": {"audio": audio, **load},
                                                         "SaveAudio": {"filename_prefix": _prefix("speech")}})


def saved_images(client, result) -> list[np.ndarray]:
    files = sorted((f for f in result.files() if f.type == "output"), key=lambda f: f.filename)
    return [np.asarray(Image.open(io.BytesIO(client.view(f))).convert("RGB")) for f in files]


def run_ok(client, graph, timeout=600):
    result = client.wait(submit(client, graph), timeout=timeout)
    assert result.ok, (result.error or {}).get("exception_message", result.error)
    return result


def renamed_copy(comfy, name: str, tag: str) -> str:
    """The same bytes under another name: the server's cache cannot answer, every node runs again."""
    copy = f"{tag}_{name}"
    shutil.copy(os.path.join(comfy.input_dir, name), os.path.join(comfy.input_dir, copy))
    return copy


# --------------------------------------------------------------------------------------------
# interrupt

async def _run_and_interrupt(url: str, client_id: str, graph: dict, node: str, after: int) -> dict:
    """Queue `graph`, watch the websocket progress of `node`, POST /interrupt once it reached `after`."""
    import aiohttp

    seen: list[tuple[float, int]] = []
    interrupted_at = None
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url.replace('http', 'ws', 1)}/ws?clientId={client_id}") as ws:
            async with session.post(f"{url}/prompt", json={"prompt": graph, "client_id": client_id}) as r:
                assert r.status == 200, await r.text()
                prompt_id = (await r.json())["prompt_id"]
            while True:
                msg = await asyncio.wait_for(ws.receive(), timeout=600)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        raise RuntimeError("websocket closed")
                    continue
                event = json.loads(msg.data)
                data = event.get("data") or {}
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                now = time.monotonic()
                if event["type"] == "progress" and data.get("node") == node:
                    seen.append((now, int(data["value"])))
                    if interrupted_at is None and data["value"] >= after:
                        async with session.post(f"{url}/interrupt", json={}) as r:
                            assert r.status == 200
                        interrupted_at = (now, int(data["value"]))
                if event["type"] in ("execution_interrupted", "execution_error", "execution_success"):
                    return {"prompt_id": prompt_id, "end": event["type"], "end_time": now, "seen": seen,
                            "interrupted_at": interrupted_at}


def test_interrupt_during_decoding_stops_within_one_chunk(comfy, client, models):
    batch = 2
    graph = video_graph(audio=LONG, frame_batch=batch)  # 100 frames, rendered 2 at a time
    decode = next(k for k, v in graph.items() if v["class_type"] == "STS_HRCodebookDecode")
    before = listing(comfy.output_dir)
    out = asyncio.run(_run_and_interrupt(comfy.url, client.client_id, graph, decode, after=3 * batch))
    assert out["end"] == "execution_interrupted", out
    (t0, v0), seen = out["interrupted_at"], out["seen"]
    after = [v for t, v in seen if t > t0]
    chunk_times = np.diff([t for t, _ in seen if t <= t0])
    stop_s = out["end_time"] - t0
    print(f"interrupt at frame {v0}/100; frames reported after it: {after}; chunk {np.median(chunk_times):.2f} s; "
          f"stopped {stop_s:.2f} s after the interrupt")
    assert max(after, default=v0) <= v0 + batch  # at most the chunk in flight was finished
    assert v0 < 100 - 2 * batch  # it really stopped early
    assert stop_s < 2 * float(np.max(chunk_times)) + 2.0
    assert client.wait(out["prompt_id"], timeout=60).status == "interrupted"
    assert listing(comfy.output_dir) == before  # no partial mp4
    result = run_ok(client, video_graph(audio=SHORT, seed=6))  # the next prompt runs normally
    assert [f for f in result.files() if f.filename.endswith(".mp4")]


# --------------------------------------------------------------------------------------------
# determinism

def test_same_seed_same_frames_across_runs_and_processes(comfy, client, sealed, models):
    sealed_client = sealed.client(timeout=120)
    portraits = [saved_images(client, run_ok(client, portrait_graph())),
                 saved_images(client, run_ok(client, portrait_graph(audio=renamed_copy(comfy, SPEECH, "again")))),
                 saved_images(sealed_client, run_ok(sealed_client, portrait_graph()))]
    frames = [saved_images(client, run_ok(client, video_graph(frames_as_png=True))),
              saved_images(client, run_ok(client, video_graph(audio=renamed_copy(comfy, SHORT, "again"), frames_as_png=True))),
              saved_images(sealed_client, run_ok(sealed_client, video_graph(frames_as_png=True)))]
    for name, runs, n in (("portraits", portraits, 2), ("frames", frames, 25)):
        assert len(runs[0]) == n, (name, len(runs[0]))
        for other in runs[1:]:
            assert len(other) == n and all(a.tobytes() == b.tobytes() for a, b in zip(runs[0], other)), name
    assert portraits[0][0].std() > 1 and frames[0][0].std() > 1  # not trivially constant
    assert np.abs(portraits[0][0].astype(int) - portraits[0][1].astype(int)).mean() > 1  # and the seed matters


def test_different_seeds_give_different_portraits(client, models):
    a = saved_images(client, run_ok(client, portrait_graph(seed=11, candidates=2)))
    b = saved_images(client, run_ok(client, portrait_graph(seed=500, candidates=1)))
    pairs = [(a[0], a[1]), (a[0], b[0]), (a[1], b[0])]
    diffs = [float(np.abs(x.astype(int) - y.astype(int)).mean()) for x, y in pairs]
    print("mean |difference| between portraits of different seeds (of 255):", [round(d, 1) for d in diffs])
    assert min(diffs) > 2.0, diffs


# --------------------------------------------------------------------------------------------
# concurrency

def test_ten_prompts_queued_at_once(comfy, client, models):
    speeches = []
    for i in range(5):
        name = f"rel_concurrent_{i}.wav"
        rate = (8000, 16000, 22050, 44100, 48000)[i]
        media.write_soundfile(os.path.join(comfy.input_dir, name), 0.5 + 0.1 * i, rate)
        speeches.append((name, rate))
    seeds = [31, 32, 33, 34, 35]
    graphs = [speech_graph(name) for name, _ in speeches] + [portrait_graph(audio=SHORT, seed=s, candidates=1, steps=3) for s in seeds]
    ids: list[str | None] = [None] * len(graphs)
    barrier = threading.Barrier(len(graphs))

    def post(i):
        barrier.wait()
        ids[i] = submit(comfy.client(timeout=60), graphs[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(graphs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ids) and len(set(ids)) == 10
    results = [client.wait(pid, timeout=600) for pid in ids]
    assert all(r.ok for r in results), [(r.status, (r.error or {}).get("exception_message")) for r in results]
    for (name, rate), r in zip(speeches, results[:5]):
        files = [f for f in r.files() if f.type == "output"]
        got, got_rate = sf.read(io.BytesIO(client.view(files[0])), dtype="float32", always_2d=True)
        want, _ = sf.read(os.path.join(comfy.input_dir, name), dtype="float32", always_2d=True)
        assert got_rate == rate and got.shape == want.shape and np.abs(got - want).max() < 1e-3, name
    # each portrait equals its own seed's portrait computed alone (uncached, one prompt at a time)
    alone_audio = renamed_copy(comfy, SHORT, "alone")
    for s, r in zip(seeds, results[5:]):
        alone = saved_images(client, run_ok(client, portrait_graph(audio=alone_audio, seed=s, candidates=1, steps=3)))
        assert saved_images(client, r)[0].tobytes() == alone[0].tobytes(), s
    assert len({saved_images(client, r)[0].tobytes() for r in results[5:]}) == 5


# --------------------------------------------------------------------------------------------
# security

def test_pickle_checkpoint_is_never_unpickled(comfy, client, models, tmp_path):
    """An armed pickle (it creates a file when unpickled) named like a checkpoint is refused unread."""
    marker = tmp_path / "unpickled.txt"

    class Armed:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("scfp_armed.safetensors", "scfp_armed.pt"):
        torch.save({"weight": torch.zeros(2), "payload": Armed()}, os.path.join(comfy.models_dir, name))
        result = client.wait(submit(client, portrait_graph() | {"2": {"class_type": "STS_LoadPortraitModel", "inputs": {
            "ckpt_name": name, "dtype": "auto", "device": "auto"}}}), timeout=120)
        assert result.status == "error" and "pickle-based formats are refused" in result.error["exception_message"]
        assert not marker.exists()
    torch.load(os.path.join(comfy.models_dir, "scfp_armed.pt"), weights_only=False)  # proof that the file is armed
    assert marker.exists()


@pytest.mark.parametrize("name", [
    "../secret.wav", "../../secret.wav", "/etc/hostname", "sub/../../secret.wav", "../secret.wav [output]",
    "../../secret.wav [temp]", "secret\x00.wav",
])
def test_file_names_cannot_leave_the_folders(comfy, client, name):
    media.write_soundfile(os.path.join(comfy.base_dir, "secret.wav"), 0.5, 16000)
    with pytest.raises(PromptRejected) as e:
        submit(client, speech_graph(name))
    assert "input 'audio'" in str(e.value), str(e.value)


def test_file_names_inside_the_folders_work(comfy, client, models):
    os.makedirs(os.path.join(comfy.input_dir, "sub"), exist_ok=True)
    media.write_soundfile(os.path.join(comfy.input_dir, "sub", "inside.wav"), 0.5, 16000)
    assert run_ok(client, speech_graph("sub/../sub/inside.wav"))
    result = run_ok(client, speech_graph("sub/inside.wav"))
    saved = next(f for f in result.files() if f.type == "output")
    name = os.path.join(saved.subfolder, saved.filename) + " [output]"  # ComfyUI's annotated name for an output
    assert run_ok(client, speech_graph(name))


def test_no_network_at_run_time(sealed, models):
    """Every stage of the pack runs in the sealed server; the audit hook saw no outside connection."""
    c = sealed.client(timeout=120)
    skdata = pytest.importorskip("skimage.data")
    Image.fromarray(skdata.astronaut()).save(os.path.join(sealed.input_dir, "rel_astronaut.png"))
    Image.fromarray(np.full((200, 320, 3), 90, np.uint8)).save(os.path.join(sealed.input_dir, "rel_blank.png"))
    run_ok(c, speech_graph(SPEECH, normalize_loudness=True))
    run_ok(c, portrait_graph(candidates=1, steps=2))
    run_ok(c, video_graph())
    run_ok(c, {  # face align (MediaPipe) + paste back
        "1": {"class_type": "LoadImage", "inputs": {"image": "rel_astronaut.png"}},
        "2": {"class_type": "STS_FaceAlign", "inputs": {"image": ["1", 0], "size": "256", "mode": "detect"}},
        "3": {"class_type": "STS_PasteBack", "inputs": {"frames": ["2", 0], "transform": ["2", 1], "original": ["1", 0],
                                                        "feather": 0.08, "colour_match": True}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": _prefix("face")}}})
    blank = c.wait(submit(c, {  # no face: MediaPipe, then dlib, both try
        "1": {"class_type": "LoadImage", "inputs": {"image": "rel_blank.png"}},
        "2": {"class_type": "STS_FaceAlign", "inputs": {"image": ["1", 0], "size": "256", "mode": "detect"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": _prefix("face")}}}))
    assert blank.status == "error" and "no face found" in blank.error["exception_message"]
    run_ok(c, set_inputs(load_api_workflow("speech_to_motion"), {  # Whisper tiny.en front end (CTranslate2)
        "STS_LoadSpeech": {"audio": SHORT}, "STS_LoadMotionModel": {"ckpt_name": WHISPER_MOTION},
        "LoadImage": {"image": PORTRAIT}, "STS_MotionDiffusion": {"steps": 2}}))
    bundled = os.path.join(os.path.dirname(__file__), "..", "..", "weights", "renderer_default.safetensors")
    if os.path.exists(bundled):  # the bundled renderer, one frame driven by the portrait itself
        run_ok(c, {
            "1": {"class_type": "LoadImage", "inputs": {"image": PORTRAIT}},
            "2": {"class_type": "STS_RendererLoader", "inputs": {"ckpt_name": "renderer_default.safetensors",
                                                                 "dtype": "auto", "device": "auto"}},
            "3": {"class_type": "STS_MotionFromVideo", "inputs": {"frames": ["1", 0], "model": ["2", 0], "alignment": "aligned",
                                                                  "fps": 25.0, "frame_batch": 8}},
            "4": {"class_type": "STS_HRCodebookDecode", "inputs": {"portrait": ["1", 0], "motion": ["3", 0], "model": ["2", 0],
                                                                   "output_size": "256", "fidelity": 1.0, "frame_batch": 8}},
            "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": _prefix("bundled")}}})
    records = [json.loads(line) for line in open(sealed.audit_log)]
    server_pid = sealed.process.pid
    armed = [r for r in records if r["event"] == "armed" and r["pid"] == server_pid]
    assert armed and armed[0]["outcome"] == "blocked", records[:3]  # the hook was live in the server process
    attempts = [r for r in records if r["event"] != "armed" and not r.get("self_test")]
    assert not attempts, json.dumps(attempts, indent=1)[:4000]
