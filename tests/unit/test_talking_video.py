"""Streaming talking-video writer (video/talking_video.py) and streamed rendering (video/render_stream.py)."""

import os

import av
import numpy as np
import pytest
import torch

from see_the_speaker import host
from see_the_speaker.video.talking_video import TalkingVideoConfig, TalkingVideoWriter, write_talking_video

pytestmark = pytest.mark.usefixtures("one_thread")


def audio(seconds: float, rate: int = 16000, channels: int = 1) -> dict:
    import media

    wave = torch.from_numpy(media.speechlike(seconds, rate, channels).T.copy())[None]  # [1,C,N]
    return {"waveform": wave, "sample_rate": rate}


def chunks(n: int, size=(64, 64), batch: int = 7, dtype=torch.float32):
    for a in range(0, n, batch):
        t = min(batch, n - a)
        x = torch.linspace(0, 1, t * size[0] * size[1] * 3).reshape(t, size[0], size[1], 3)
        yield (x * 255).to(torch.uint8) if dtype == torch.uint8 else x


def probe(path: str) -> dict:
    """Container durations and decoded counts of an MP4."""
    with av.open(path) as c:
        vs, aus = c.streams.video[0], (c.streams.audio[0] if c.streams.audio else None)
        info = {"width": vs.codec_context.width, "height": vs.codec_context.height, "pix_fmt": vs.codec_context.pix_fmt,
                "codec": vs.codec_context.name, "fps": float(vs.average_rate),
                "video_s": float(vs.duration * vs.time_base),
                "audio_s": float(aus.duration * aus.time_base) if aus else None,
                "audio_codec": aus.codec_context.name if aus else None,
                "rate": aus.codec_context.sample_rate if aus else None,
                "channels": aus.codec_context.channels if aus else None}
        info["frames"] = sum(1 for _ in c.decode(vs))
    if aus is not None:
        with av.open(path) as c:
            info["decoded_samples"] = sum(f.samples for f in c.decode(c.streams.audio[0]))
    return info


def leftovers(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("rate,channels,fps,frames,speech_s", [
    (16000, 1, 25.0, 80, 3.2),     # speech exactly as long as the frames
    (16000, 1, 25.0, 80, 5.0),     # longer speech: trimmed
    (44100, 2, 30.0, 45, 0.7),     # shorter speech: padded with silence; stereo
    (22000, 1, 24.0, 50, 2.0),     # a rate AAC lacks: resampled to 22050
    (48000, 6, 29.97, 40, 1.0),    # 5.1 speech is mixed to mono; NTSC rate
])
def test_audio_and_video_durations_agree_within_a_frame(tmp_path, rate, channels, fps, frames, speech_s):
    path = str(tmp_path / "talk.mp4")
    info = write_talking_video(path, chunks(frames), audio(speech_s, rate, channels), TalkingVideoConfig(fps=fps))
    assert info.frames == frames and info.audio_samples == round(frames * rate / fps)
    p = probe(path)
    assert p["codec"] == "h264" and p["pix_fmt"] == "yuv420p" and p["audio_codec"] == "aac"
    assert p["frames"] == frames and abs(p["fps"] - fps) < 1e-2
    assert p["channels"] == (2 if channels == 2 else 1) and p["rate"] == info.aac_rate >= rate
    video_s = frames / fps
    assert abs(p["video_s"] - video_s) <= 1 / fps
    assert abs(p["audio_s"] - video_s) <= 1 / fps, p  # what players show (MP4 packet durations + edit list)
    decoded_s = p["decoded_samples"] / p["rate"]  # decoders also output the last AAC frame's padding
    assert -1 / fps <= decoded_s - video_s <= 1 / fps + 1024 / p["rate"], p
    assert leftovers(tmp_path) == ["talk.mp4"]


def test_frames_round_trip_and_inputs_of_every_kind(tmp_path):
    path = str(tmp_path / "a.mp4")
    red = np.zeros((10, 48, 64, 3), np.uint8)
    red[..., 0] = 200
    with TalkingVideoWriter(path, audio(1.0), TalkingVideoConfig(crf=10)) as w:
        w.write(red[:3])                                        # numpy uint8
        w.write(torch.from_numpy(red[3:6]).float() / 255)       # torch float
        w.write(red[6].astype(np.float32) / 255)                # one frame [H,W,3]
        w.write(torch.from_numpy(red[7:]))                      # torch uint8
        w.write(red[:0])                                        # empty chunk: ignored
    assert w.info.frames == 10
    with av.open(path) as c:
        imgs = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(imgs) == 10 and imgs[0].shape == (48, 64, 3)
    assert np.abs(np.stack(imgs).astype(float) - red).mean() < 4


def test_metadata_is_stored(tmp_path):
    path = str(tmp_path / "m.mp4")
    write_talking_video(path, chunks(5), audio(0.2), TalkingVideoConfig(metadata={"prompt": {"1": {"x": 1}}}))
    with av.open(path) as c:
        assert c.metadata.get("prompt") == '{"1": {"x": 1}}'


def test_exception_mid_stream_leaves_no_file(tmp_path):
    def broken():
        yield from chunks(14)
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_talking_video(str(tmp_path / "x.mp4"), broken(), audio(2.0))
    assert leftovers(tmp_path) == []


def test_interrupt_mid_stream_leaves_no_file(tmp_path):
    progress = host.Progress(40)

    def interrupted():
        for i, c in enumerate(chunks(40, batch=8)):
            if i == 2:
                host.request_interrupt()  # what POST /interrupt does inside ComfyUI
            progress.update(c.shape[0])
            yield c

    with pytest.raises(host.InterruptedByUser):
        write_talking_video(str(tmp_path / "x.mp4"), interrupted(), audio(2.0))
    assert leftovers(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        with TalkingVideoWriter(str(tmp_path / "y.mp4"), audio(1.0)) as w:
            w.write(next(chunks(5)))
            assert len(leftovers(tmp_path)) == 1 and leftovers(tmp_path)[0].endswith(".part")
            raise KeyboardInterrupt
    assert leftovers(tmp_path) == []


def test_existing_file_is_only_replaced_on_success(tmp_path):
    path = tmp_path / "keep.mp4"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with TalkingVideoWriter(str(path), audio(1.0)) as w:
            w.write(next(chunks(5)))
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == ["keep.mp4"]


@pytest.mark.parametrize("mode,expected", [("pad", (64, 66)), ("crop", (62, 64))])
def test_odd_sizes_are_padded_or_cropped(tmp_path, mode, expected):
    path = str(tmp_path / "odd.mp4")
    info = write_talking_video(path, chunks(6, size=(65, 63)), audio(0.3), TalkingVideoConfig(odd_size=mode))
    p = probe(path)
    assert (p["width"], p["height"]) == expected == (info.width, info.height) and p["frames"] == 6


def test_bad_streams_are_refused_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="odd"):
        write_talking_video(str(tmp_path / "a.mp4"), chunks(3, size=(65, 64)), audio(1.0),
                            TalkingVideoConfig(odd_size="error"))
    with pytest.raises(ValueError, match="no frames"):
        write_talking_video(str(tmp_path / "b.mp4"), iter([]), audio(1.0))

    def changing():
        yield next(chunks(3, size=(64, 64)))
        yield next(chunks(3, size=(32, 32)))

    with pytest.raises(ValueError, match="frame size changed"):
        write_talking_video(str(tmp_path / "c.mp4"), changing(), audio(1.0))
    with pytest.raises(ValueError, match="waveform"):
        write_talking_video(str(tmp_path / "d.mp4"), chunks(3), {"waveform": torch.zeros(16000), "sample_rate": 16000})
    with pytest.raises(ValueError, match="crf"):
        TalkingVideoConfig(crf=99)
    with pytest.raises(FileNotFoundError):
        TalkingVideoWriter(str(tmp_path / "missing" / "e.mp4"), None)
    assert leftovers(tmp_path) == []


def test_video_without_audio(tmp_path):
    path = str(tmp_path / "silent.mp4")
    write_talking_video(path, chunks(5), None)
    p = probe(path)
    assert p["frames"] == 5 and p["audio_s"] is None


def test_output_file_stem_numbers_files_and_refuses_escapes(tmp_path, monkeypatch):
    monkeypatch.setenv("STS_OUTPUT_DIR", str(tmp_path))
    folder, stem, sub = host.output_file_stem("videos/talk")
    assert (folder, stem, sub) == (str(tmp_path / "videos"), "talk_00001_", "videos")
    (tmp_path / "videos" / "talk_00007_.mp4").write_bytes(b"")
    assert host.output_file_stem("videos/talk")[1] == "talk_00008_"
    for bad in ("../escape", "a/../../escape", "/etc/talk", "", "videos/"):
        with pytest.raises(ValueError):
            host.output_file_stem(bad)


# --- streamed rendering ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def renderer():
    from see_the_speaker.models.renderer import Renderer, RendererConfig
    torch.manual_seed(0)
    return Renderer(RendererConfig()).eval()


def test_streamed_render_equals_render_sequence(renderer):
    from see_the_speaker.models.renderer import render_sequence
    from see_the_speaker.video.render_stream import RenderStreamConfig, iter_render

    torch.manual_seed(1)
    portrait, motion = torch.rand(1, 128, 128, 3), torch.randn(11, renderer.spec.dim) * 0.05
    done = []
    streamed = list(iter_render(renderer, portrait, motion, RenderStreamConfig(out_size=128, frame_batch=4),
                                progress=done.append))
    assert [c.shape[0] for c in streamed] == [4, 4, 3] and done == [4, 4, 3]
    whole = render_sequence(renderer, portrait, motion, 1.0, 128, 4)
    assert torch.allclose(torch.cat(streamed), whole, atol=1e-5)


def test_chunked_paste_back_equals_whole(renderer):
    from see_the_speaker.data.face_align import FacePaster, align_face, paste_back

    rng = np.random.default_rng(0)
    photo = rng.uniform(0.2, 0.8, (90, 120, 3)).astype(np.float32)
    _, tr = align_face(photo, 128, "canonical")  # the centre square is the "face"
    crops = rng.uniform(0, 1, (6, 128, 128, 3)).astype(np.float32)
    paster = FacePaster(tr, photo)
    chunked = np.concatenate([paster(crops[:1]), paster(crops[1:4]), paster(crops[4:])])
    assert np.array_equal(chunked, paste_back(crops, tr, photo))


def test_render_talking_video_with_paste_back(tmp_path, renderer):
    from see_the_speaker.data.face_align import FacePaster, align_face
    from see_the_speaker.video.render_stream import RenderStreamConfig, render_talking_video

    photo = np.full((81, 99, 3), 0.5, np.float32)  # odd size: padded to 100x82
    _, tr = align_face(photo, 128, "canonical")
    motion = torch.randn(30, renderer.spec.dim) * 0.05
    path = str(tmp_path / "pasted.mp4")
    info = render_talking_video(path, renderer, torch.rand(1, 128, 128, 3), motion, audio(1.0),
                                RenderStreamConfig(out_size=128, frame_batch=8), TalkingVideoConfig(fps=25),
                                paster=FacePaster(tr, photo))
    p = probe(path)
    assert (p["width"], p["height"]) == (100, 82) and p["frames"] == 30 == info.frames
    assert abs(p["audio_s"] - 30 / 25) <= 1 / 25
    with pytest.raises(ValueError, match="motion"):
        render_talking_video(str(tmp_path / "empty.mp4"), renderer, torch.rand(1, 64, 64, 3),
                             torch.zeros(0, renderer.spec.dim), audio(1.0))
    assert leftovers(tmp_path) == ["pasted.mp4"]
