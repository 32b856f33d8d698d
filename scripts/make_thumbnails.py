"""Regenerate the template-browser thumbnails `workflows/<name>.jpg` from the bundled weights and sample.

    python scripts/make_thumbnails.py [--only NAME ...] [--threads 1] [--check]

ComfyUI lists every `workflows/<name>.json` of the pack in its template browser (Workflow → Browse
Templates → see-the-speaker). For a custom-node template the frontend that ComfyUI 0.3.75 serves
(comfyui-frontend-package 1.32.9) requests the thumbnail `/api/workflow_templates/<pack folder>/<name>.jpg`,
which the server serves from the same folder: a same-named JPEG next to each JSON.

Each thumbnail shows what its workflow produces, computed here in-process (no server) with the
pack's own functions, the bundled weights (weights/*.safetensors) and the bundled speech
(samples/speech_en.flac), at the workflows' default widget values (seed 0, 20 steps, guidance 2,
LipRefine strength 1, fidelity 1, 256²). Where a workflow loads a portrait (`portrait.png`) the
thumbnail uses stage 1's first candidate for the sample speech, as the main workflow does; the
"photo" of portrait_to_video is that portrait placed in a larger picture, and the "driving video" of
render_from_video is the renderer's own output for another candidate. One thread; the script
prints its time (14 s on the 2-core development machine).

`--check` only verifies that every workflow has a thumbnail that decodes as a small square JPEG.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOWS = os.path.join(ROOT, "workflows")
WEIGHTS = os.path.join(ROOT, "weights")
SPEECH = os.path.join(ROOT, "samples", "speech_en.flac")

SIZE = 512  # thumbnail side in pixels (square, as the template cards crop to a square)
QUALITY = 85  # JPEG quality
MAX_BYTES = 100_000  # the unit test's limit per thumbnail

# the shipped workflows' default widget values
SEED, STEPS, GUIDANCE, CANDIDATES, STRENGTH, FIDELITY, RENDER_SIZE = 0, 20, 2.0, 4, 1.0, 1.0, 256

INK, PAPER, ACCENT = (40, 40, 40), (250, 250, 250), (200, 60, 40)  # RGB


# --------------------------------------------------------------------------------------------
# drawing helpers (RGB uint8 images)

def to_u8(x) -> np.ndarray:
    """IMAGE-like float 0..1 (tensor or array) -> uint8."""
    a = x.detach().cpu().float().numpy() if hasattr(x, "detach") else np.asarray(x, np.float32)
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)


def fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
    inter = cv2.INTER_AREA if img.shape[1] > w or img.shape[0] > h else cv2.INTER_CUBIC
    return cv2.resize(img, (w, h), interpolation=inter)


def label(img: np.ndarray, text: str, xy: tuple[int, int], scale: float = 0.45, colour=INK, bg=None) -> None:
    """Text at xy (left, baseline); with `bg`, on a filled box (legible over pictures)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    if bg is not None:
        (tw, th), base = cv2.getTextSize(text, font, scale, 1)
        x, y = xy
        cv2.rectangle(img, (x - 3, y - th - 3), (x + tw + 3, y + base), bg, -1)
    cv2.putText(img, text, xy, font, scale, colour, 1, cv2.LINE_AA)


def canvas() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), PAPER, np.uint8)


def waveform_panel(wave: np.ndarray, w: int, h: int) -> np.ndarray:
    """Min/max envelope of a mono wave per pixel column."""
    img = np.full((h, w, 3), 255, np.uint8)
    cols = np.array_split(np.asarray(wave, np.float32), w)
    peak = max(1e-6, float(np.abs(wave).max()))
    mid = h / 2
    for x, c in enumerate(cols):
        if c.size:
            y0 = int(round(mid - c.max() / peak * (mid - 4)))
            y1 = int(round(mid - c.min() / peak * (mid - 4)))
            cv2.line(img, (x, y0), (x, y1), (40, 90, 160), 1)
    cv2.line(img, (0, int(mid)), (w - 1, int(mid)), (200, 200, 200), 1)
    return img


def mel_panel(logmel: np.ndarray, w: int, h: int) -> np.ndarray:
    """Log-mel [n_mels, F] -> colour image, low frequencies at the bottom."""
    lo, hi = np.percentile(logmel, 2), np.percentile(logmel, 99.5)
    g = ((np.clip((logmel - lo) / max(hi - lo, 1e-6), 0, 1)) * 255).astype(np.uint8)[::-1]
    col = cv2.applyColorMap(fit(g, w, h), cv2.COLORMAP_MAGMA)
    return np.ascontiguousarray(col[:, :, ::-1])


def paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    dst[y:y + src.shape[0], x:x + src.shape[1]] = src


def frame_tile(frame: np.ndarray, side: int, text: str | None = None) -> np.ndarray:
    tile = fit(frame, side, side)
    if text:
        label(tile, text, (6, side - 8), 0.4, INK, (245, 245, 245))
    return tile


# --------------------------------------------------------------------------------------------
# the pipeline, once, at the workflows' defaults

class Outputs:
    """Everything the thumbnails show, computed lazily from the bundled weights and sample."""

    def __init__(self):
        import torch

        from see_the_speaker.audio.decode import load_speech
        from see_the_speaker.audio.frontend import FrontEndConfig, speech_from_audio

        self.torch = torch
        self.fe = FrontEndConfig()
        self.audio = load_speech(SPEECH)  # what Load Speech returns (core AUDIO)
        self.wave = speech_from_audio(self.audio["waveform"], self.audio["sample_rate"], self.fe)  # 16 kHz mono
        self.duration = self.wave.shape[-1] / self.fe.sample_rate
        self._cache: dict = {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def model(self, kind: str):
        from see_the_speaker.checkpoint import load_model
        from see_the_speaker.models import motion_bundle, renderer, scfp  # register the kinds

        files = {scfp.KIND: "scfp_default", renderer.KIND: "renderer_default", motion_bundle.KIND: "motion_default"}
        return self._get(("model", kind), lambda: load_model(os.path.join(WEIGHTS, files[kind] + ".safetensors"),
                                                             expected_kind=kind)[0].eval())

    def logmel(self) -> np.ndarray:
        from see_the_speaker.audio.frontend import LogMel
        return self._get("mel", lambda: LogMel(self.fe)(self.wave).numpy())

    def portraits(self):
        """Speech Encode + Speech To Portrait (SAW): [4, 256, 256, 3] float, and beta."""
        def make():
            m = self.model("scfp")
            with self.torch.inference_mode():
                return m.sample(m.encode_speech(self.wave), n=CANDIDATES, seed=SEED, steps=STEPS, guidance=GUIDANCE,
                                prior_mode="adaptive")
        return self._get("portraits", make)

    def motion(self, candidate: int = 0):
        """Motion Diffusion + Lip Refine for a candidate's portrait -> (generated, refined) [T, D]."""
        def make():
            bundle, rend = self.model("motion"), self.model("renderer")
            portrait = self.portraits()[0][candidate:candidate + 1]
            with self.torch.inference_mode():
                ident = None
                if bundle.cfg.diffusion.identity_dim:
                    ident = rend.encode_portrait(portrait.permute(0, 3, 1, 2))[1][0]
                raw = bundle.speech_raw(self.wave)
                gen = bundle.generate(raw, ident, seed=SEED, steps=STEPS, guidance=GUIDANCE)
                return gen.float(), bundle.refine(gen, raw, STRENGTH).float()
        return self._get(("motion", candidate), make)

    def render(self, portrait, motion, frames: list[int]) -> np.ndarray:
        """HR Codebook Decode of the listed frames only (each frame depends on its own motion row)."""
        from see_the_speaker.models.renderer import render_sequence
        with self.torch.inference_mode():
            out = render_sequence(self.model("renderer"), portrait, motion[frames], FIDELITY, RENDER_SIZE, batch=16)
        return to_u8(out)

    def talking(self, frames: list[int], candidate: int = 0) -> np.ndarray:
        return self.render(self.portraits()[0][candidate:candidate + 1], self.motion(candidate)[1], frames)

    def mouth_frames(self, k: int, candidate: int = 0) -> list[int]:
        """k frames spanning the mouth opening (quantiles of the lip-opening dimension), in time order."""
        lips = self.motion(candidate)[1][:, self.model("motion").part_slice("lips")][:, 0].numpy()
        order = np.argsort(lips, kind="stable")
        picks = {int(order[int(round(q * (len(order) - 1)))]) for q in np.linspace(0.15, 1.0, k)}
        while len(picks) < k:  # (very short speech) fill with the earliest unused frames
            picks.add(next(i for i in range(len(lips)) if i not in picks))
        return sorted(picks)

    def seconds(self, frame: int) -> str:
        return f"{frame / self.fe.fps:.2f} s"


# --------------------------------------------------------------------------------------------
# one function per workflow: Outputs -> RGB uint8 [SIZE, SIZE, 3]

def thumb_load_speech(o: Outputs) -> np.ndarray:
    img = canvas()
    label(img, f"Load Speech: {os.path.basename(SPEECH)}", (12, 30), 0.6)
    label(img, f"{o.duration:.1f} s, {o.audio['sample_rate']} Hz, {o.audio['waveform'].shape[1]} ch -> AUDIO",
          (12, 54), 0.45, (90, 90, 90))
    paste(img, waveform_panel(o.wave.numpy(), SIZE - 24, 170), 12, 70)
    paste(img, mel_panel(o.logmel(), SIZE - 24, 220), 12, 250)
    label(img, f"log-mel, {o.fe.n_mels} bins, {o.fe.sample_rate // o.fe.hop_length} frames/s", (12, 494), 0.45,
          (90, 90, 90))
    return img


def thumb_speech_to_portraits(o: Outputs) -> np.ndarray:
    imgs = to_u8(o.portraits()[0])
    img = canvas()
    for i in range(min(4, len(imgs))):
        paste(img, frame_tile(imgs[i], SIZE // 2, f"candidate {i + 1}"), (i % 2) * SIZE // 2, (i // 2) * SIZE // 2)
    return img


def thumb_speech_to_motion(o: Outputs) -> np.ndarray:
    from see_the_speaker.evaluation.motion_plot import motion_overview
    bundle = o.model("motion")
    plot = motion_overview(o.motion()[1].numpy(), bundle.parts, o.fe.fps)  # what Preview Motion shows
    h = int(round(plot.shape[0] * (SIZE - 24) / plot.shape[1]))
    top = (SIZE - (160 + 16 + h + 30)) // 2
    img = canvas()
    paste(img, frame_tile(to_u8(o.portraits()[0][0]), 160), 12, top)
    paste(img, waveform_panel(o.wave.numpy(), SIZE - 188, 160), 176, top)
    label(img, "speech", (182, top + 18), 0.45, (90, 90, 90))
    paste(img, fit(plot, SIZE - 24, h), 12, top + 176)
    label(img, "motion after Lip Refine (Preview Motion)", (12, top + 176 + h + 24), 0.5)
    return img


def thumb_speech_to_video(o: Outputs) -> np.ndarray:
    picks = o.mouth_frames(4)
    frames = o.talking(picks)
    img = canvas()
    for i, (f, t) in enumerate(zip(frames, picks)):
        paste(img, frame_tile(f, SIZE // 2, o.seconds(t)), (i % 2) * SIZE // 2, (i // 2) * SIZE // 2)
    return img


def thumb_talking_face(o: Outputs) -> np.ndarray:
    imgs = to_u8(o.portraits()[0])
    picks = o.mouth_frames(4)
    frames = o.talking(picks)
    img = canvas()
    side = SIZE // 4
    for i in range(min(4, len(imgs))):
        paste(img, frame_tile(imgs[i], side), 0, i * side)
    cv2.rectangle(img, (1, 1), (side - 2, side - 2), ACCENT, 3)  # the candidate that is animated
    big = SIZE - side
    paste(img, frame_tile(frames[-1], big, o.seconds(picks[-1])), side, 0)
    small = big // 3
    for i in range(3):
        paste(img, frame_tile(frames[i], small, o.seconds(picks[i])), side + i * small, big)
    return img


def thumb_long_speech(o: Outputs) -> np.ndarray:
    n_frames = o.motion()[1].shape[0]
    picks = [int(round(x)) for x in np.linspace(0, n_frames - 1, 16)]
    frames = o.talking(picks)
    img = canvas()
    side = SIZE // 4
    for i, (f, t) in enumerate(zip(frames, picks)):
        paste(img, frame_tile(f, side, o.seconds(t)), (i % 4) * side, (i // 4) * side)
    return img


def make_photo(portrait: np.ndarray, h: int = 640, w: int = 480, face: int = 320):
    """A 'photo' for portrait_to_video: the aligned portrait scaled to `face` px inside a larger picture
    whose surroundings continue the portrait's own edges (replicated, blurred) -> (photo uint8 [h, w, 3],
    FaceTransform photo -> crop, as Face Align would return for it)."""
    from see_the_speaker.data.face_align import FaceTransform
    x0, y0 = (w - face) // 2, h // 5
    up = fit(portrait, face, face).astype(np.float32)
    back = cv2.copyMakeBorder(up, y0, h - y0 - face, x0, w - x0 - face, cv2.BORDER_REPLICATE)
    back = cv2.GaussianBlur(back, (0, 0), 25)
    yv, xv = np.mgrid[0:face, 0:face].astype(np.float32)
    edge = np.minimum.reduce([xv, yv, face - 1 - xv, face - 1 - yv]) / (0.15 * face)
    a = np.clip(edge, 0, 1)[..., None]  # soft edges: the picture shows no box
    photo = back.copy()
    photo[y0:y0 + face, x0:x0 + face] = a * up + (1 - a) * back[y0:y0 + face, x0:x0 + face]
    k = face / portrait.shape[0]
    m = [[1 / k, 0.0, -x0 / k], [0.0, 1 / k, -y0 / k]]
    return np.clip(photo, 0, 255).round().astype(np.uint8), FaceTransform(m, portrait.shape[0], (h, w), "canonical", None)


def thumb_portrait_to_video(o: Outputs) -> np.ndarray:
    from see_the_speaker.data.face_align import paste_back
    photo, tr = make_photo(to_u8(o.portraits()[0][0]))
    picks = o.mouth_frames(2)
    crops = o.talking(picks)
    out = to_u8(paste_back(crops.astype(np.float32) / 255, tr, photo.astype(np.float32) / 255))
    img = canvas()
    w, h, y = 213, 284, 110
    label(img, f"photo {photo.shape[1]}x{photo.shape[0]}", (12, y - 12), 0.45)
    paste(img, fit(photo, w, h), 12, y)
    label(img, f"video frame {out.shape[2]}x{out.shape[1]}", (SIZE - 12 - w, y - 12), 0.45)
    paste(img, fit(out[-1], w, h), SIZE - 12 - w, y)
    cv2.arrowedLine(img, (12 + w + 12, y + h // 2), (SIZE - 12 - w - 12, y + h // 2), ACCENT, 3, tipLength=0.3)
    return img


def thumb_render_from_video(o: Outputs) -> np.ndarray:
    from see_the_speaker.models.renderer import motion_from_frames, render_sequence
    torch = o.torch
    picks = o.mouth_frames(3, candidate=1)
    driving = o.talking(picks, candidate=1)  # a "driving video": the renderer's own output for candidate 2
    rend = o.model("renderer")
    target = o.portraits()[0][2:3]
    with torch.inference_mode():
        motion = motion_from_frames(rend, torch.from_numpy(driving).float().div(255), batch=16)
        out = to_u8(render_sequence(rend, target, motion, FIDELITY, RENDER_SIZE, batch=16))
    img = canvas()
    side = 160
    x0 = (SIZE - 3 * side) // 2
    label(img, "driving video", (x0, 44), 0.5)
    label(img, "portrait with the video's motion", (x0, 44 + side + 44), 0.5)
    for i in range(3):
        paste(img, frame_tile(driving[i], side, o.seconds(picks[i])), x0 + i * side, 56)
        paste(img, frame_tile(out[i], side), x0 + i * side, 56 + side + 44)
    return img


THUMBNAILS = {
    "load_speech": thumb_load_speech,
    "speech_to_portraits": thumb_speech_to_portraits,
    "speech_to_motion": thumb_speech_to_motion,
    "speech_to_video": thumb_speech_to_video,
    "talking_face": thumb_talking_face,
    "long_speech": thumb_long_speech,
    "portrait_to_video": thumb_portrait_to_video,
    "render_from_video": thumb_render_from_video,
}


# --------------------------------------------------------------------------------------------

def workflow_names() -> list[str]:
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(WORKFLOWS, "*.json")))


def thumbnail_problem(path: str) -> str | None:
    """None if `path` is a small square JPEG, else what is wrong."""
    if not os.path.exists(path):
        return "missing"
    data = open(path, "rb").read()
    if not data.startswith(b"\xff\xd8\xff"):
        return "not a JPEG"
    if len(data) > MAX_BYTES:
        return f"{len(data)} bytes, over {MAX_BYTES}"
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return "does not decode"
    h, w = img.shape[:2]
    if h != w or not 128 <= w <= 1024:
        return f"{w}x{h}: expected a square of 128 to 1024 px"
    return None


def write_jpeg(path: str, rgb: np.ndarray) -> int:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, QUALITY, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)
    return len(buf)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="workflow names (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--check", action="store_true", help="only check the existing thumbnails")
    args = p.parse_args(argv)
    names = workflow_names()
    unknown = [n for n in names if n not in THUMBNAILS]
    if unknown:
        print(f"no thumbnail recipe for workflow(s) {unknown}: add one to THUMBNAILS in {__file__}", file=sys.stderr)
        return 2
    if args.check:
        bad = {n: thumbnail_problem(os.path.join(WORKFLOWS, n + ".jpg")) for n in names}
        bad = {n: why for n, why in bad.items() if why}
        for n, why in bad.items():
            print(f"{n}.jpg: {why}", file=sys.stderr)
        return 1 if bad else 0
    wanted = args.only or names
    missing = [n for n in wanted if n not in names]
    if missing:
        print(f"not a shipped workflow: {missing} (have {names})", file=sys.stderr)
        return 2
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t_all = time.perf_counter()
    o = Outputs()
    for name in wanted:
        t0 = time.perf_counter()
        rgb = THUMBNAILS[name](o)
        assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8, (name, rgb.shape, rgb.dtype)
        path = os.path.join(WORKFLOWS, name + ".jpg")
        n = write_jpeg(path, rgb)
        print(f"{os.path.relpath(path, ROOT)}: {SIZE}x{SIZE}, {n / 1000:.1f} kB, {time.perf_counter() - t0:.1f} s",
              flush=True)
    print(f"done in {time.perf_counter() - t_all:.1f} s ({args.threads} thread(s))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
