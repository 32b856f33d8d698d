"""Every shipped UI workflow has its template-browser thumbnail: a same-named, small, square JPEG.

ComfyUI 0.3.75's frontend (1.32.9) asks for `/api/workflow_templates/<pack>/<name>.jpg`; the server
serves it from workflows/ (tests/host/test_workflow_files.py fetches them through that route).
Regenerate with `python scripts/make_thumbnails.py`.
"""

import os
import tomllib

import cv2
import numpy as np

from see_the_speaker.harness.workflow import WORKFLOWS_DIR

MAX_BYTES = 100_000
REGENERATE = "regenerate with `python scripts/make_thumbnails.py`"


def _names(ext: str) -> set[str]:
    return {f[:-len(ext)] for f in os.listdir(WORKFLOWS_DIR) if f.endswith(ext)}


def test_every_workflow_has_a_small_square_jpeg_thumbnail():
    workflows = _names(".json")
    assert workflows, "no shipped workflows"
    for name in sorted(workflows):
        path = os.path.join(WORKFLOWS_DIR, name + ".jpg")
        assert os.path.exists(path), f"{name}.json has no thumbnail {name}.jpg; {REGENERATE}"
        data = open(path, "rb").read()
        assert data.startswith(b"\xff\xd8\xff"), f"{name}.jpg is not a JPEG"
        assert len(data) <= MAX_BYTES, f"{name}.jpg is {len(data)} bytes (limit {MAX_BYTES})"
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, f"{name}.jpg does not decode"
        h, w = img.shape[:2]
        assert h == w and 128 <= w <= 1024, f"{name}.jpg is {w}x{h}; expected a square of 128 to 1024 px"
        assert img.std() > 5, f"{name}.jpg is (nearly) blank"


def test_no_thumbnail_without_its_workflow():
    assert _names(".jpg") <= _names(".json"), "a thumbnail whose workflow is gone"


def test_thumbnails_are_packaged():
    root = os.path.dirname(WORKFLOWS_DIR)
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)["tool"]["setuptools"]["package-data"]["see_the_speaker"]
    assert "workflows/*.jpg" in data, "pyproject.toml package-data must ship workflows/*.jpg"
