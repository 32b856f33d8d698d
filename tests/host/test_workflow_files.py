"""Shipped workflows: API copies are valid for the server, UI copies are generated from them, and the
template browser gets each workflow and its thumbnail through the server's template route."""

import json
import os

from see_the_speaker.harness.ui_format import api_to_ui
from see_the_speaker.harness.workflow import API_DIR, WORKFLOWS_DIR


def test_ui_workflows_match_api_workflows(client):
    info = client.object_info()
    names = sorted(f for f in os.listdir(API_DIR) if f.endswith(".json"))
    assert names, "no shipped workflows"
    for name in names:
        with open(os.path.join(API_DIR, name)) as f:
            expected = api_to_ui(json.load(f), info)
        ui_path = os.path.join(WORKFLOWS_DIR, name)
        assert os.path.exists(ui_path), f"{name}: UI copy missing; run `python -m see_the_speaker.harness.write_ui_workflows`"
        with open(ui_path) as f:
            assert json.load(f) == json.loads(json.dumps(expected)), f"{name}: UI copy is stale; regenerate it"


def test_template_route_lists_the_workflows(client):
    templates = client.get_json("/workflow_templates")
    listed = set(templates.get("see-the-speaker", []))
    shipped = {f[:-5] for f in os.listdir(WORKFLOWS_DIR) if f.endswith(".json")}
    assert shipped and shipped <= listed, (shipped, templates)


def test_template_route_serves_each_workflow_and_its_thumbnail(client):
    # What ComfyUI 0.3.75's frontend (1.32.9) requests for a custom-node template: the JSON it loads and
    # the thumbnail `/api/workflow_templates/<pack folder>/<name>.jpg` the browser shows.
    pack = "see-the-speaker"
    assert pack in client.get_json("/workflow_templates")
    names = sorted(f[:-5] for f in os.listdir(WORKFLOWS_DIR) if f.endswith(".json"))
    for name in names:
        for ext in (".json", ".jpg"):
            status, body = client._request("GET", f"/api/workflow_templates/{pack}/{name}{ext}")
            assert status == 200, f"{name}{ext}: HTTP {status}"
            with open(os.path.join(WORKFLOWS_DIR, name + ext), "rb") as f:
                assert body == f.read(), f"{name}{ext}: the server returned other bytes"
