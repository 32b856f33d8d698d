"""LoadSpeech in the real server: the shipped workflow, any rate/channels, trimming, caching.

Bad files and names are in the bad-input table (test_bad_inputs.py)."""

import io
import os
import uuid

import pytest
import soundfile as sf

import media
from see_the_speaker.harness.workflow import load_api_workflow, set_inputs


def run_load_speech(client, name, prefix=None, **inputs):
    prefix = prefix or f"test/{uuid.uuid4().hex[:8]}"
    graph = set_inputs(load_api_workflow("load_speech"),
                       {"STS_LoadSpeech": {"audio": name, **inputs}, "SaveAudio": {"filename_prefix": prefix}})
    return client.run(graph, timeout=120)


def saved_audio(client, result):
    files = result.files()
    assert len(files) == 1, files
    data, rate = sf.read(io.BytesIO(client.view(files[0])), dtype="float32", always_2d=True)
    return data, rate


def test_shipped_workflow_keeps_duration_and_rate(comfy, client):
    media.write_soundfile(os.path.join(comfy.input_dir, "speech_22k.flac"), 2.5, 22050)
    result = run_load_speech(client, "speech_22k.flac")
    assert result.ok, result.error
    data, rate = saved_audio(client, result)
    assert rate == 22050
    assert data.shape == (int(2.5 * 22050), 1)


@pytest.mark.parametrize("name,writer,rate,seconds", [
    ("six_ch_48k.wav", lambda p: media.write_soundfile(p, 1.5, 48000, channels=6), 48000, 1.5),
    ("mono_8k.wav", lambda p: media.write_soundfile(p, 2.0, 8000), 8000, 2.0),
    ("speech.m4a", lambda p: media.write_av(p, 2.0, 44100, codec="aac"), 44100, 2.0),
    ("talk.mp4", lambda p: media.write_av(p, 2.0, 48000, codec="aac", with_video=True), 48000, 2.0),
])
def test_odd_but_valid_files_load(comfy, client, name, writer, rate, seconds):
    writer(os.path.join(comfy.input_dir, name))
    result = run_load_speech(client, name)
    assert result.ok, result.error
    data, got_rate = saved_audio(client, result)
    assert got_rate == rate and data.shape[1] == 1
    assert abs(data.shape[0] / rate - seconds) < 0.1


def test_trim_and_loudness_through_the_server(comfy, client):
    media.write_soundfile(os.path.join(comfy.input_dir, "long.wav"), 4.0, 16000)
    result = run_load_speech(client, "long.wav", start=1.0, duration=2.0, normalize_loudness=True, target_lufs=-16.0)
    assert result.ok, result.error
    data, rate = saved_audio(client, result)
    assert data.shape == (32000, 1) and rate == 16000


def test_file_content_change_invalidates_cache(comfy, client):
    path = os.path.join(comfy.input_dir, "changing.wav")
    media.write_soundfile(path, 1.0, 16000)
    first = saved_audio(client, run_load_speech(client, "changing.wav", prefix="cache/a"))[0]
    media.write_soundfile(path, 2.0, 16000)
    second = saved_audio(client, run_load_speech(client, "changing.wav", prefix="cache/a"))[0]
    assert first.shape[0] == 16000 and second.shape[0] == 32000
