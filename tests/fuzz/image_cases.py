"""Fuzz cases for the image/face path: Face Align and Paste Back, as functions (data/face_align.py:
align_face, paste_back) and as the registered nodes (nodes/face.py with the pack's input checks,
nodes/common.py:with_input_checks) when ComfyUI can be imported.

Each case mutates a seed picture (a real face photo, a synthetic face, two faces, flat grey, noise):
crops, rescales (down to thin strips and 0/1/7/8 px sides), flips, rotations, padding, noise blocks,
channel counts 0-5, ndim 1-5, dtypes uint8/int64/bool/float16/bfloat16/float32/float64, values out
of range, NaN/Inf pixels. It runs Face Align on it with a size and mode (sometimes invalid) and, when
that worked, Paste Back with mutated frames, transform, original and feather.

Allowed outcomes: a well-formed result (crop [S,S,3] / frames [T,H,W,3], finite, in 0..1), or a
ValueError from the functions / a NodeInputError from the nodes. Anything else is reported: another
exception type, a malformed result, or a worker process that dies (abort, segfault) — every case
runs in a worker subprocess, and a dead worker is reported with the case it was running, then
restarted after it. Cases are reproducible: case i of seed s is built from default_rng([s, i]).

    python tests/fuzz/image_cases.py --cases 10000 [--seed 0] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = ["256", "128", "512", "1024"]
MODES = ["auto", "detect", "canonical"]


# --------------------------------------------------------------------------------------------
# seed pictures and mutations

def seed_images() -> list[np.ndarray]:
    """uint8 [H,W,3] pictures: synthetic face, real face photo (if scikit-image is there), two faces, flat, noise."""
    import cv2
    from see_the_speaker.data.synth.face import FaceIdentity, neutral_motion, render_face

    synth, _ = render_face(FaceIdentity(), neutral_motion(), size=160)
    out = [np.ascontiguousarray(synth[..., :3]).astype(np.uint8)]
    try:
        import skimage.data
        photo = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
        out.append(photo)
        two = np.full((256, 520, 3), 70, np.uint8)
        two[:, :256] = photo
        two[64:192, 330:458] = cv2.resize(photo, (128, 128), interpolation=cv2.INTER_AREA)
        out.append(two)
    except ImportError:
        pass
    canvas = np.full((240, 200, 3), 90, np.uint8)
    canvas[40:200, 20:180] = out[0]
    out.append(canvas)
    out.append(np.full((120, 160, 3), 128, np.uint8))
    out.append(np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    return out


def _geometry(img: np.ndarray, rng) -> np.ndarray:
    import cv2
    for _ in range(int(rng.integers(0, 4))):
        op = int(rng.integers(8))
        h, w = img.shape[:2]
        if h == 0 or w == 0:
            op = 6  # an empty picture can only be replaced
        if op == 0 and h > 1 and w > 1:  # crop a random box (may be tiny)
            y0, x0 = int(rng.integers(0, h - 1)), int(rng.integers(0, w - 1))
            img = img[y0:int(rng.integers(y0 + 1, h + 1)), x0:int(rng.integers(x0 + 1, w + 1))]
        elif op == 1:  # rescale, sometimes to a thin strip
            fy, fx = (float(np.exp(rng.uniform(-4, 1))) for _ in range(2))
            nh, nw = max(1, min(1600, round(h * fy))), max(1, min(1600, round(w * fx)))
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        elif op == 2:
            img = img[::-1] if rng.random() < 0.5 else img[:, ::-1]
        elif op == 3:
            img = np.rot90(img, int(rng.integers(1, 4)))
        elif op == 4:  # pad with a border (face smaller in the frame)
            p = [int(v) for v in rng.integers(0, 200, 4)]
            img = cv2.copyMakeBorder(np.ascontiguousarray(img), p[0], p[1], p[2], p[3], cv2.BORDER_CONSTANT,
                                     value=[int(v) for v in rng.integers(0, 256, 3)])
        elif op == 5:  # noise block
            y, x = int(rng.integers(h)), int(rng.integers(w))
            img = img.copy()
            block = img[y:y + int(rng.integers(1, 80)), x:x + int(rng.integers(1, 80))]
            block[...] = rng.integers(0, 256, block.shape)
        elif op == 6:  # extreme strip
            side = int(rng.integers(0, 12))
            long = int(rng.integers(100, 5000))
            img = np.full((side, long, 3) if rng.random() < 0.5 else (long, side, 3), int(rng.integers(256)), np.uint8)
        else:  # a rotated copy with black corners
            m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-60, 60)), float(rng.uniform(0.5, 1.5)))
            img = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h))
    return np.ascontiguousarray(img)


def _channels_and_values(img: np.ndarray, rng):
    """Channel layout, dtype and value range; returns a numpy array or a torch tensor."""
    import torch

    r = rng.random()
    if r < 0.08:
        img = img.mean(2).astype(np.uint8)  # [H,W]
    elif r < 0.14:
        img = img[..., :1]
    elif r < 0.22:  # RGBA with a random alpha
        img = np.concatenate([img, rng.integers(0, 256, img.shape[:2] + (1,), dtype=np.uint8)], 2)
    elif r < 0.25:
        img = img[..., : int(rng.choice([0, 2]))]
    elif r < 0.27:
        img = np.concatenate([img, img[..., :2]], 2)  # 5 channels
    elif r < 0.29:
        img = img.reshape(-1)  # 1-D
    elif r < 0.31:
        img = img[None, None]  # 5-D
    a = img.astype(np.float32) / 255.0
    r = rng.random()
    if r < 0.06:
        a = a * 255.0  # wrong range
    elif r < 0.10:
        a = a * rng.uniform(-4, 4) + rng.uniform(-2, 2)
    elif r < 0.16 and a.size:
        idx = tuple(rng.integers(0, max(1, s)) for s in a.shape)
        a[idx] = rng.choice([np.nan, np.inf, -np.inf])
    elif r < 0.18:
        a = np.full_like(a, rng.choice([0.0, 1.0, 1e30]))
    kind = rng.choice(["f32", "f32", "f32", "u8", "f64", "f16", "bf16", "i64", "bool"])
    if kind == "u8":
        return np.clip(np.nan_to_num(a) * 255, 0, 255).astype(np.uint8)
    if kind == "f64":
        return a.astype(np.float64)
    if kind == "i64":
        return np.nan_to_num(a).astype(np.int64)
    if kind == "bool":
        return np.nan_to_num(a) > 0.5
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.to({"f16": torch.float16, "bf16": torch.bfloat16}.get(kind, torch.float32))


def make_case(seed: int, index: int, seeds: list[np.ndarray]) -> dict:
    rng = np.random.default_rng([seed, index])
    img = _geometry(seeds[int(rng.integers(len(seeds)))], rng)
    image = _channels_and_values(img, rng)
    size = SIZES[int(rng.integers(4))] if rng.random() < 0.93 else str(rng.choice(["300", "0", "-1", "abc", "7"]))
    mode = MODES[int(rng.integers(3))] if rng.random() < 0.95 else str(rng.choice(["magic", "", "DETECT"]))
    feather = float(rng.uniform(0.01, 0.25)) if rng.random() < 0.9 else float(rng.choice([np.nan, 0.0, -1.0, 5.0, np.inf]))
    return {"rng": rng, "image": image, "size": size, "mode": mode, "feather": feather,
            "colour_match": bool(rng.random() < 0.7), "batch": int(rng.choice([1, 1, 1, 2, 0]))}


# --------------------------------------------------------------------------------------------
# checks

class Unexpected(Exception):
    pass


def _check_image(out, shape: tuple, what: str) -> None:
    a = out.detach().float().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
    if a.shape != shape:
        raise Unexpected(f"{what}: shape {a.shape}, expected {shape}")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
        raise Unexpected(f"{what}: values outside 0..1 or not finite")


def _mutate_frames(frames, rng):
    import torch
    r = rng.random()
    if r < 0.06:
        frames = frames.clone()
        frames.view(-1)[int(rng.integers(max(1, frames.numel())))] = float("nan")
    elif r < 0.10:
        frames = frames[:0]
    elif r < 0.16:
        s = int(rng.choice([1, 7, 64, 300]))
        frames = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2), size=(s, s)).permute(0, 2, 3, 1)
    elif r < 0.19:
        frames = frames[..., :2]
    elif r < 0.21:
        frames = frames[0]
    elif r < 0.24:
        frames = frames.half()
    return frames


def _mutate_transform(tr, rng):
    import copy
    r = rng.random()
    if r < 0.05:
        tr = copy.deepcopy(tr)
        tr.matrix = [[float("nan"), 0, 0], [0, 1, 0]]
    elif r < 0.08:
        tr = copy.deepcopy(tr)
        tr.matrix = [[0, 0, 0], [0, 0, 0]]
    elif r < 0.11:
        tr = copy.deepcopy(tr)
        tr.crop_size = int(rng.choice([0, -3, 5, 10 ** 6]))
    elif r < 0.14:
        tr = copy.deepcopy(tr)
        tr.image_size = (int(rng.integers(1, 50)), int(rng.integers(1, 50)))
    return tr


def run_functions(case: dict) -> str:
    """align_face + paste_back: ok / refused (ValueError); raises Unexpected."""
    from see_the_speaker.data.face_align import align_face, paste_back

    rng = case["rng"]
    image = case["image"]
    size = int(case["size"]) if case["size"].lstrip("-").isdigit() else 256
    try:
        crop, tr = align_face(image, size, case["mode"])
    except ValueError:
        return "refused"
    _check_image(crop, (size, size, 3), "align_face crop")
    import torch
    frames = _mutate_frames(torch.from_numpy(crop)[None].repeat(int(rng.integers(1, 3)), 1, 1, 1), rng)
    original = image if rng.random() < 0.9 else np.zeros((17, 23, 3), np.float32)
    try:
        out = paste_back(frames, _mutate_transform(tr, rng), original, case["feather"], case["colour_match"])
    except ValueError:
        return "refused"
    _check_image(out, (frames.shape[0],) + tuple(tr.image_size) + (3,), "paste_back frames")
    return "ok"


_NODES: list = []


def load_nodes() -> bool:
    """Import the registered node classes (with the pack's input checks) from a ComfyUI on disk."""
    if _NODES:
        return _NODES[0] is not None
    try:
        from see_the_speaker.harness.provision import comfyui_dir
        path = os.environ.get("STS_COMFYUI_DIR") or comfyui_dir()
        if not os.path.isdir(path):
            raise ImportError(f"no ComfyUI at {path}")
        sys.path.insert(0, path)
        from comfy.cli_args import args
        args.cpu = True
        from see_the_speaker.nodes.common import NodeInputError, with_input_checks
        from see_the_speaker.nodes.face import FaceAlign, PasteBack
        _NODES[:] = [(with_input_checks(FaceAlign), with_input_checks(PasteBack), NodeInputError)]
    except ImportError as e:
        print(f"node level skipped: {e}", file=sys.stderr)
        _NODES[:] = [None]
    return _NODES[0] is not None


def _as_node_image(image, batch: int):
    import torch
    t = image if hasattr(image, "detach") else torch.from_numpy(np.ascontiguousarray(image))
    if t.ndim == 3 and batch != 1:
        return t[None].repeat(batch, 1, 1, 1) if batch else t[None][:0]
    return t[None] if t.ndim == 3 else t  # other ndims go in as they are (wrong IMAGE shapes)


def run_nodes(case: dict) -> str:
    """FaceAlign.execute + PasteBack.execute as registered: ok / refused (NodeInputError); raises Unexpected."""
    fa, pb, node_error = _NODES[0]
    rng = case["rng"]
    image = _as_node_image(case["image"], case["batch"])
    try:
        out = fa.execute(image=image, size=case["size"], mode=case["mode"])
    except node_error:
        return "refused"
    crops, transforms = out.args
    s = int(case["size"])
    _check_image(crops, (image.shape[0], s, s, 3), "FaceAlign crops")
    transform = transforms if rng.random() < 0.9 else rng.choice([None, "x", 3])
    if isinstance(transform, list):
        transform = [_mutate_transform(t, rng) for t in transform]
    frames = _mutate_frames(crops, rng)
    original = image if rng.random() < 0.9 else image[..., :1]
    try:
        res = pb.execute(frames=frames, transform=transform, original=original, feather=case["feather"],
                         colour_match=case["colour_match"])
    except node_error:
        return "refused"
    (frames_out,) = res.args
    _check_image(frames_out, (frames.shape[0],) + tuple(image.shape[1:3]) + (3,), "PasteBack frames")
    return "ok"


def run_case(seed: int, index: int, seeds: list[np.ndarray], nodes: bool) -> str:
    """One case through the functions and (if available) the nodes -> 'ok'/'refused' per level, or
    'UNEXPECTED ...' describing the failure."""
    results = []
    for level, fn in (("functions", run_functions), ("nodes", run_nodes if nodes else None)):
        if fn is None:
            continue
        try:
            case = make_case(seed, index, seeds)  # a fresh copy: same inputs for both levels
        except Exception as e:  # noqa: BLE001
            return f"UNEXPECTED fuzzer's own case generator: {type(e).__name__}: {e}"
        try:
            results.append(f"{level}:{fn(case)}")
        except Unexpected as e:
            return f"UNEXPECTED {level}: {e}"
        except Exception as e:  # noqa: BLE001 - the fuzzer hunts for exactly these
            return f"UNEXPECTED {level}: {type(e).__module__}.{type(e).__name__}: {str(e)[:300]}"
    return " ".join(results)


# --------------------------------------------------------------------------------------------
# worker and driver

def worker(seed: int, start: int, stop: int) -> None:
    """Run cases [start, stop); print 'S i' before and 'R i <outcome>' after each (the driver reads them)."""
    import torch
    torch.set_num_threads(1)
    seeds = seed_images()
    nodes = load_nodes()
    abort_at = int(os.environ.get("STS_FUZZ_ABORT_AT", "-1"))  # self-test of crash reporting
    for i in range(start, stop):
        print(f"S {i}", flush=True)
        if i == abort_at:
            os.abort()
        print(f"R {i} {run_case(seed, i, seeds, nodes)}", flush=True)


def _drive(seed: int, start: int, stop: int, env: dict, progress) -> tuple[dict, list]:
    """Run cases [start, stop) in a worker process; restart after the case a dead worker was in."""
    counts: dict[str, int] = {}
    failures: list[tuple[int, str]] = []
    while start < stop:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(seed),
                                 "--start", str(start), "--stop", str(stop)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        last = start - 1
        for line in proc.stdout:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) < 2 or parts[0] not in ("S", "R") or not parts[1].isdigit():
                continue  # a library printing to stdout
            if parts[0] == "S":
                last = int(parts[1])
                continue
            outcome = parts[2] if len(parts) > 2 else ""
            if outcome.startswith("UNEXPECTED"):
                failures.append((int(parts[1]), outcome))
                counts["unexpected"] = counts.get("unexpected", 0) + 1
            else:
                for part in outcome.split():
                    counts[part] = counts.get(part, 0) + 1
            progress()
        code = proc.wait()
        if code == 0:
            break
        # the worker died inside case `last` (abort, segfault, ...): report it, go on after it
        failures.append((last, f"UNEXPECTED worker died with exit code {code}"
                               + (f" (signal {-code})" if code < 0 else "")))
        counts["crashed"] = counts.get("crashed", 0) + 1
        progress()
        start = last + 1
    return counts, failures


def run(cases: int, seed: int = 0, jobs: int = 1, start: int = 0, log=sys.stdout) -> dict:
    """Drive `jobs` workers over cases [start, start+cases): returns counts, failures and the wall time."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    env = dict(os.environ, PYTHONUNBUFFERED="1", GLOG_minloglevel="3", TF_CPP_MIN_LOG_LEVEL="3")
    bounds = np.linspace(start, start + cases, jobs + 1).astype(int)
    lock, done = threading.Lock(), [0]
    t0 = time.perf_counter()

    def progress():
        with lock:
            done[0] += 1
            if done[0] % 1000 == 0:
                print(f"  {done[0]}/{cases} cases, {time.perf_counter() - t0:.0f} s", file=log, flush=True)

    with ThreadPoolExecutor(jobs) as pool:
        parts = list(pool.map(lambda ab: _drive(seed, int(ab[0]), int(ab[1]), env, progress),
                              [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]))
    counts: dict[str, int] = {}
    failures: list[tuple[int, str]] = []
    for c, f in parts:
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
        failures += f
    return {"cases": cases, "seconds": time.perf_counter() - t0, "counts": counts, "failures": sorted(failures)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Fuzz the face align / paste-back path (functions and nodes).")
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (each uses one thread)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(a.seed, a.start, a.stop)
        return 0
    out = run(a.cases, a.seed, a.jobs, a.start)
    n_fail = len(out["failures"])
    counts = ", ".join(f"{k} {v}" for k, v in sorted(out["counts"].items()))
    print(f"{a.cases} cases (seed {a.seed}) in {out['seconds']:.0f} s ({a.cases / out['seconds']:.1f}/s): "
          f"{n_fail} unexpected; {counts}")
    for i, what in out["failures"][:20]:
        print(f"  case {i}: {what}")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
