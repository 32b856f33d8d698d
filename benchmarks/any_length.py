"""Speech of any length to a finished talking video: wall time and peak RAM of the whole graph against
the speech length (issue 8: one hour of speech must finish with peak RAM within 1.5x of a 10 s run).

    python benchmarks/any_length.py [--seconds 10 60 600] [--hours H ...] [--motion-ckpt PATH]
        [--renderer weights/renderer_default.safetensors] [--stages all|motion|speech] [--render model|repeat]
        [--video-seconds S] [--steps 20] [--frame-batch 32] [--threads 2] [--json PATH]

For each length the parent writes a speech file of that length (samples/speech_en.flac looped, 16 kHz
mono FLAC, in a temporary folder) and runs one fresh subprocess, which does what the `long_speech`
workflow does, in the same order and with the functions the nodes call, in-process without a server:

  Load Speech          audio.decode.load_speech (decode, mono, no loudness change: the workflow's values)
  Speech Encode        audio.frontend.speech_from_audio + LogMel -> payloads.SpeechFeatures (no portrait model)
  Motion Diffusion     bundle.speech_raw + renderer identity + bundle.generate (seed 0, `--steps`,
                       guidance 2, scales 1) + resample_motion to 25 fps (as nodes/motion.py)
  Lip Refine           bundle.refine on the lips (strength 1, as nodes/motion.py)
  Save Talking Video   video.render_stream.render_talking_video: render `frame_batch` frames at 256²,
                       H.264 + AAC muxed in step (as nodes/video.py, without paste-back)

Motion: `--motion-ckpt` names a motion bundle trained in the renderer's motion space; without it the
small *untrained* fixture of tests/tiny_models.py (mel content features, identity-conditioned, written
for the renderer given) stands in, and the output says so — its memory and time are those of a tiny
network, not of the default motion model (the Whisper front end and a larger diffusion add to both).

Peak RAM: before every stage the child resets its peak-RSS counter (writes 5 to /proc/self/clear_refs)
and reads VmHWM after it, so each stage's peak is its own; the run's peak is the largest of them (also
counting start-up and model loading). The process's own VmHWM is used rather than wait4's ru_maxrss,
which also counts forked helpers (a library lookup at import forks the ~0.6 GB interpreter).

`--stages speech` stops after Speech Encode (the front end alone, for hours of speech), `--stages
motion` after Lip Refine (everything the video node is given, without rendering the video).
`--video-seconds S` runs the whole graph on the whole speech but renders and writes only the first S
seconds of video (with the whole AUDIO given to the writer, which trims it): the video node's working
memory on top of what long speech keeps, for lengths whose full render takes hours. `--render
repeat` renders one frame_batch with the renderer and writes it over and over: the writer, the audio
path and the muxer at encoder speed, for lengths the 2-core renderer cannot reach in minutes (x264
compresses repeated frames more cheaply, so its times are optimistic; memory is what it shows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RENDERER = os.path.join(PACK, "weights", "renderer_default.safetensors")
SAMPLE = os.path.join(PACK, "samples", "speech_en.flac")
FPS = 25.0
STAGES = ("load speech", "speech encode", "motion diffusion", "lip refine", "save talking video")


def _kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def write_speech(path: str, seconds: float) -> str:
    """samples/speech_en.flac repeated to `seconds`, written block by block (16-bit FLAC at its own rate)."""
    import soundfile as sf
    src, rate = sf.read(SAMPLE, dtype="float32", always_2d=True)
    total = int(round(seconds * rate))
    with sf.SoundFile(path, "w", samplerate=rate, channels=src.shape[1], subtype="PCM_16") as f:
        done = 0
        while done < total:
            n = min(len(src), total - done)
            f.write(src[:n])
            done += n
    return path


def tiny_motion(folder: str, renderer_path: str) -> str:
    """The untrained test fixture (tests/tiny_models.write_tiny_motion) in the renderer's motion space."""
    import see_the_speaker.models.renderer  # noqa: F401  (registers the renderer kind)
    sys.path.insert(0, os.path.join(PACK, "tests"))
    from tiny_models import write_tiny_motion
    name = "renderer_for_fixture.safetensors"
    os.symlink(os.path.abspath(renderer_path), os.path.join(folder, name))
    return os.path.join(folder, write_tiny_motion(folder, name))


class Stages:
    """Wall time, peak RSS (reset per stage) and RSS after each stage."""

    def __init__(self):
        self.rows: list[dict] = []
        self.resettable = True

    def run(self, name: str, fn):
        self.resettable = _reset_peak() and self.resettable
        t0 = time.perf_counter()
        out = fn()
        self.rows.append({"stage": name, "wall": time.perf_counter() - t0, "peak_kb": _kb("VmHWM"),
                          "rss_kb": _kb("VmRSS")})
        return out


def child(a) -> None:
    import torch
    torch.set_num_threads(a.threads)
    from see_the_speaker.audio.decode import load_speech
    from see_the_speaker.audio.frontend import FrontEndConfig, LogMel, speech_from_audio
    from see_the_speaker.checkpoint import load_model
    from see_the_speaker.payloads import MotionSequence, SpeechFeatures

    st = Stages()
    setup_peak = _kb("VmHWM")  # start-up and imports
    if a.stages != "speech":
        from see_the_speaker.models.motion_bundle import KIND as MOTION, resample_motion
        from see_the_speaker.models.renderer import KIND as RENDERER
        from see_the_speaker.video.render_stream import RenderStreamConfig, iter_render, render_talking_video
        from see_the_speaker.video.talking_video import TalkingVideoConfig, write_talking_video
        renderer, _ = load_model(a.renderer, RENDERER)
        bundle, _ = load_model(a.motion_path, MOTION)
        torch.manual_seed(0)
        portrait = (0.5 + 0.1 * torch.rand(1, 256, 256, 3)).clamp(0, 1)
        setup_peak = _kb("VmHWM")
    rss_ready = _kb("VmRSS")

    audio = st.run("load speech", lambda: load_speech(a.speech, 0.0, 0.0, True, False, -20.0))

    def speech_encode():
        fe = FrontEndConfig()
        wave = speech_from_audio(audio["waveform"], int(audio["sample_rate"]), fe)
        return SpeechFeatures(wave=wave, mel=LogMel(fe)(wave), front_end=fe,
                              source_sample_rate=int(audio["sample_rate"]))

    speech = st.run("speech encode", speech_encode)
    held = {"audio": audio["waveform"].numel() * 4,
            "speech wave": 0 if speech.wave.data_ptr() == audio["waveform"].data_ptr() else speech.wave.numel() * 4,
            "log-mel": speech.mel.numel() * 4}
    info = None
    if a.stages != "speech":
        def motion_diffusion():  # nodes/motion.py MotionDiffusion.execute
            raw = bundle.speech_raw(speech)
            ident = None
            if bundle.cfg.diffusion.identity_dim:
                with torch.inference_mode():
                    ident = renderer.encode_portrait(portrait.permute(0, 3, 1, 2))[1][0]
            with torch.inference_mode():
                latent = bundle.generate(raw, ident, seed=0, steps=a.steps, guidance=2.0,
                                         scales={k: 1.0 for k in ("lips", "expression", "eyes", "head_pose")
                                                 if k in bundle.parts}).float()
            n_out = max(1, math.ceil(speech.duration * FPS - 1e-9))
            return MotionSequence(resample_motion(latent, bundle.cfg.fps, FPS, n_out), FPS, bundle.parts, "speech")

        motion = st.run("motion diffusion", motion_diffusion)

        def lip_refine():  # nodes/motion.py LipRefine.execute
            raw = bundle.speech_raw(speech)
            at_model = resample_motion(motion.latent, motion.fps, bundle.cfg.fps)
            with torch.inference_mode():
                refined = bundle.refine(at_model.to(bundle.motion_mean), raw, 1.0).float()
            delta = resample_motion(refined - at_model, bundle.cfg.fps, motion.fps, motion.n_frames)
            return motion.with_latent(motion.latent + delta, source="refined")

        motion = st.run("lip refine", lip_refine)
        raw = bundle.speech_raw(speech)
        held.update({"content features": raw.numel() * raw.element_size(), "motion": motion.latent.numel() * 4})
    if a.stages == "all":
        path = os.path.join(a.out, f"any_{int(a.length)}s.mp4")
        rcfg = RenderStreamConfig(fidelity=1.0, out_size=256, frame_batch=a.frame_batch)
        vcfg = TalkingVideoConfig(fps=FPS)

        latent = motion.latent  # --video-seconds: only the first part (the writer trims the audio to it)
        if a.video_seconds:
            latent = latent[:max(1, round(a.video_seconds * FPS))]

        def save_video():  # nodes/video.py SaveTalkingVideo.execute (no paste-back)
            if a.render == "model":
                return render_talking_video(path, renderer, portrait, latent, audio, rcfg, vcfg)
            chunk = next(iter_render(renderer, portrait, latent[:a.frame_batch], rcfg))
            frames = latent.shape[0]
            return write_talking_video(path, (chunk[:min(a.frame_batch, frames - s)]
                                              for s in range(0, frames, a.frame_batch)), audio, vcfg)

        info = st.run("save talking video", save_video)
        import av
        with av.open(path) as c:
            vs, aus = c.streams.video[0], c.streams.audio[0]
            av_diff = float(aus.duration * aus.time_base) - float(vs.duration * vs.time_base)
        size = os.path.getsize(path)
        os.unlink(path)
    peak = max([setup_peak] + [r["peak_kb"] for r in st.rows]) if st.resettable else _kb("VmHWM")
    print(json.dumps({"seconds": a.length, "stages": st.rows, "per_stage_peaks": st.resettable,
                      "peak_kb": peak, "rss_ready_kb": rss_ready, "setup_peak_kb": setup_peak, "held": held,
                      "frames": info.frames if info else None, "file_bytes": size if info else None,
                      "av_diff_s": av_diff if info else None}))


def run_length(seconds: float, a, tmp: str) -> dict:
    speech = write_speech(os.path.join(tmp, f"speech_{seconds:g}s.flac"), seconds)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--length", str(seconds), "--speech", speech,
           "--renderer", a.renderer, "--motion-path", a.motion_path or "", "--stages", a.stages, "--render", a.render,
           "--steps", str(a.steps), "--video-seconds", str(a.video_seconds), "--frame-batch", str(a.frame_batch), "--threads", str(a.threads), "--out", tmp]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    os.unlink(speech)
    if p.returncode != 0:
        raise SystemExit(f"length {seconds} s failed (exit {p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, nargs="*", default=[10, 60, 600])
    p.add_argument("--hours", type=float, nargs="*", default=[], help="also run these many hours of speech")
    p.add_argument("--renderer", default=DEFAULT_RENDERER)
    p.add_argument("--motion-ckpt", default=None, help="motion bundle (default: the untrained tiny test fixture)")
    p.add_argument("--stages", choices=["all", "motion", "speech"], default="all",
                   help="'speech': Load Speech + Speech Encode only (the front end); 'motion': up to Lip Refine")
    p.add_argument("--render", choices=["model", "repeat"], default="model")
    p.add_argument("--video-seconds", type=float, default=0,
                   help="render and write only the first this many seconds of the video (the graph before it "
                        "runs on the whole speech): the video node's working memory on top of long speech's "
                        "held data, without rendering the whole video")
    p.add_argument("--steps", type=int, default=20, help="Motion Diffusion DDIM steps per window (workflow: 20)")
    p.add_argument("--frame-batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the settings and every length's figures (the child's "
                   "measurements, as printed) to this JSON file")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--length", type=float, help=argparse.SUPPRESS)
    p.add_argument("--speech", help=argparse.SUPPRESS)
    p.add_argument("--motion-path", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a)
    lengths = list(a.seconds) + [h * 3600 for h in a.hours]
    rel = lambda path: os.path.relpath(path, PACK) if os.path.abspath(path).startswith(PACK) else path  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        if a.stages != "speech":
            a.motion_path = a.motion_ckpt or tiny_motion(tmp, a.renderer)
            motion = (rel(a.motion_ckpt) if a.motion_ckpt else
                      "UNTRAINED tiny fixture (tests/tiny_models.write_tiny_motion: mel features, width 32; "
                      "not the default motion model)")
            print(f"renderer {rel(a.renderer)}, motion {motion}, render {a.render}, {a.steps} DDIM steps, "
                  f"frame_batch {a.frame_batch}, 256² @ {FPS:g} fps, {a.threads} torch threads"
                  + ("" if a.stages == "all" else ", stopping after Lip Refine (no video)")
                  + (f", VIDEO CUT TO THE FIRST {a.video_seconds:g} s" if a.video_seconds else ""), flush=True)
        else:
            a.motion_path = None
            print(f"front end only (Load Speech + Speech Encode), {a.threads} torch threads", flush=True)
        print("speech: samples/speech_en.flac looped (16 kHz mono FLAC); peak = the process's VmHWM, reset per stage",
              flush=True)
        names = {"all": STAGES, "motion": STAGES[:4], "speech": STAGES[:2]}[a.stages]
        cols = "".join(f"{n:>20}" for n in names)
        head = f"{'speech s':>9}{cols}{'total s':>9}{'s per s':>8}{'peak MB':>9}{'vs first':>9}"
        print("\nwall s and (peak RSS MB) per stage\n" + head + "\n" + "-" * len(head), flush=True)
        base, results = None, []
        for s in lengths:
            r = run_length(s, a, tmp)
            results.append(r)
            wall = sum(x["wall"] for x in r["stages"])
            peak = r["peak_kb"] / 1024
            base = base or peak
            cells = "".join(f"{x['wall']:>11.1f} ({x['peak_kb'] / 1024:>5.0f})" for x in r["stages"])
            print(f"{s:9.0f}{cells}{wall:9.1f}{wall / s:8.2f}{peak:9.0f}{peak / base:8.2f}x", flush=True)
        print("\nRSS after each stage (MB; 'ready' = after start-up and model loading)")
        head = f"{'speech s':>9}{'ready':>20}{cols}"
        print(head + "\n" + "-" * len(head))
        for r in results:
            print(f"{r['seconds']:9.0f}{r['rss_ready_kb'] / 1024:20.0f}"
                  + "".join(f"{x['rss_kb'] / 1024:20.0f}" for x in r["stages"]))
        print("\nheld data (MB)")
        keys = list(results[0]["held"])
        head = f"{'speech s':>9}" + "".join(f"{k:>18}" for k in keys)
        if a.stages == "all":
            head += f"{'frames':>8}{'file MB':>9}{'A-V ms':>8}"
        print(head + "\n" + "-" * len(head))
        for r in results:
            line = f"{r['seconds']:9.0f}" + "".join(f"{r['held'][k] / 2**20:18.1f}" for k in keys)
            if a.stages == "all":
                line += f"{r['frames']:8d}{r['file_bytes'] / 2**20:9.2f}{1000 * r['av_diff_s']:8.1f}"
            print(line)
        if not all(r["per_stage_peaks"] for r in results):
            print("note: /proc/self/clear_refs not writable; stage peaks are cumulative")
        if a.json:
            write_json(a.json, a, motion if a.stages != "speech" else None, results)


def write_json(path: str, a, motion: str | None, results: list[dict]) -> None:
    """Settings + per-length results (as measured by the child: stages with wall s / peak_kb / rss_kb)."""
    settings = {"renderer": a.renderer, "motion": motion, "stages": a.stages, "render": a.render, "steps": a.steps,
                "frame_batch": a.frame_batch, "threads": a.threads, "video_seconds": a.video_seconds, "fps": FPS,
                "out_size": 256}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"settings": settings, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
