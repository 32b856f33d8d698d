"""Helpers for tests that drive the real server: strict prompt submission and output-folder listings."""

from __future__ import annotations

import os

from see_the_speaker.harness.client import PromptRejected


def submit(client, graph: dict) -> str:
    """POST /prompt; a 400 raises PromptRejected. A 200 must not drop any output silently (ComfyUI runs
    the valid output branches of a prompt and only logs the invalid ones)."""
    status, answer = client.post_json("/prompt", {"prompt": graph, "client_id": client.client_id})
    if status == 400 and isinstance(answer, dict):
        raise PromptRejected(answer)
    assert status == 200, answer
    assert not answer.get("node_errors"), answer["node_errors"]
    return answer["prompt_id"]


def listing(folder: str) -> dict[str, int]:
    """{relative path: size} of every file under `folder`."""
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            out[os.path.relpath(path, folder)] = os.path.getsize(path)
    return out
