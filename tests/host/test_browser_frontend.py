"""Every shipped workflow opens in the real ComfyUI frontend (headless Chromium) cleanly.

No missing node type, no node in error, no broken link, and the frontend's own UI->API
conversion equals the API-format copy the other tests execute. Screenshots go to
output/frontend/ (not committed).
"""

import json
import os

import pytest

from see_the_speaker.harness.frontend import check_workflow, prompt_differences
from see_the_speaker.harness.workflow import API_DIR, PACK_DIR, WORKFLOWS_DIR

NAMES = sorted(f[:-5] for f in os.listdir(WORKFLOWS_DIR) if f.endswith(".json"))
SHOTS = os.path.join(PACK_DIR, "output", "frontend")


@pytest.mark.parametrize("name", NAMES)
def test_workflow_opens_cleanly_in_frontend(comfy, client, name):
    with open(os.path.join(WORKFLOWS_DIR, f"{name}.json")) as f:
        ui = json.load(f)
    with open(os.path.join(API_DIR, f"{name}.json")) as f:
        api = json.load(f)
    report = check_workflow(comfy.url, ui, name, screenshot=os.path.join(SHOTS, f"{name}.png"))
    assert not report.missing_types, report.missing_types
    assert not report.error_nodes, (report.error_nodes, report.console_errors)
    assert not report.broken_links, report.broken_links
    assert sorted(report.node_types) == sorted(n["type"] for n in ui["nodes"])
    assert prompt_differences(report.prompt, api, client.object_info()) == []
    assert os.path.getsize(report.screenshot) > 10_000
