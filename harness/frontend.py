"""Open a workflow in the real ComfyUI frontend (headless Chromium) and report what a user would see.

The server serves its own frontend (`comfyui-frontend-package`). We load a UI-format workflow
with `app.loadGraphData`, then check: every node type is registered (no "missing nodes"), no node
is in error (red), every link joins existing slots of matching types, and the frontend's own
graph-to-prompt conversion gives back the API-format workflow the tests execute. A screenshot is
saved. Needs Debian's `chromium` and the PyPI `playwright` package (its driver only; no browser
download: we point it at /usr/bin/chromium).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from typing import Any

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# Settings a returning user has: no first-run template dialog, no new-release banners.
USER_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Validation.Workflows": True}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class FrontendReport:
    workflow: str
    node_types: list[str] = field(default_factory=list)
    missing_types: list[str] = field(default_factory=list)
    error_nodes: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    prompt: dict[str, Any] = field(default_factory=dict)  # the frontend's API-format conversion
    screenshot: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing_types or self.error_nodes or self.broken_links)


_CHECK_JS = """
async (wf) => {
  const app = window.app;
  const registered = window.LiteGraph.registered_node_types;
  const missing = [...new Set(wf.nodes.map(n => n.type).filter(t => !registered[t]))];
  await app.loadGraphData(wf, true, true, "check");
  const g = app.graph;
  const nodes = g._nodes;
  const errors = nodes.filter(n => n.has_errors || n.type === undefined || !registered[n.type])
                      .map(n => `${n.id}:${n.type}`);
  const broken = [];
  const links = g.links instanceof Map ? [...g.links.values()] : Object.values(g.links || {});
  for (const l of links) {
    if (!l) continue;
    const a = g.getNodeById(l.origin_id), b = g.getNodeById(l.target_id);
    if (!a || !b) { broken.push(`link ${l.id}: missing end`); continue; }
    const out = a.outputs?.[l.origin_slot], inp = b.inputs?.[l.target_slot];
    if (!out || !inp) { broken.push(`link ${l.id}: missing slot`); continue; }
    if (inp.link !== l.id) broken.push(`link ${l.id}: input ${b.id}.${inp.name} points elsewhere`);
    if (out.type !== "*" && inp.type !== "*" && out.type !== inp.type)
      broken.push(`link ${l.id}: ${out.type} -> ${inp.type}`);
  }
  for (const n of nodes) for (const inp of (n.inputs || []))
    if (inp.link != null && !(g.links instanceof Map ? g.links.get(inp.link) : g.links[inp.link]))
      broken.push(`node ${n.id}.${inp.name}: dangling link ${inp.link}`);
  const p = await app.graphToPrompt();
  return {types: nodes.map(n => n.type), missing, errors, broken, prompt: p.output};
}
"""


def check_workflow(url: str, workflow: dict[str, Any], name: str, screenshot: str | None = None,
                   timeout_ms: int = 120_000) -> FrontendReport:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError("Chromium not found: install Debian's 'chromium' package")
    for key, value in USER_SETTINGS.items():
        req = urllib.request.Request(f"{url}/settings/{key}", data=json.dumps(value).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=30).read()
    report = FrontendReport(workflow=name)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.on("console", lambda m: report.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: report.console_errors.append(f"pageerror: {e}"))
            page.goto(url, wait_until="networkidle", timeout=timeout_ms)
            page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph", timeout=timeout_ms)
            result = page.evaluate(_CHECK_JS, workflow)
            page.wait_for_timeout(500)
            page.keyboard.press("Escape")
            if screenshot:
                os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
                page.screenshot(path=screenshot)
                report.screenshot = screenshot
        finally:
            browser.close()
    report.node_types = result["types"]
    report.missing_types = result["missing"]
    report.error_nodes = result["errors"]
    report.broken_links = result["broken"]
    report.prompt = result["prompt"]
    return report


def prompt_differences(frontend_prompt: dict[str, Any], api: dict[str, Any],
                       object_info: dict[str, Any]) -> list[str]:
    """Where the frontend's conversion of the UI workflow differs from the API workflow file.

    Only inputs the server declares count: frontend-only widgets (upload buttons, players) are
    sent along by the frontend and ignored by the server.
    """
    diffs = []
    if set(frontend_prompt) != set(api):
        diffs.append(f"node ids: frontend {sorted(frontend_prompt)} vs api {sorted(api)}")
    for nid in sorted(set(frontend_prompt) & set(api)):
        a, b = frontend_prompt[nid], api[nid]
        if a["class_type"] != b["class_type"]:
            diffs.append(f"node {nid}: class {a['class_type']} vs {b['class_type']}")
        spec = object_info.get(b["class_type"], {}).get("input", {})
        declared = set(spec.get("required", {})) | set(spec.get("optional", {}))
        for key in sorted((set(a["inputs"]) | set(b["inputs"])) & declared):
            va, vb = a["inputs"].get(key), b["inputs"].get(key)
            if isinstance(va, list) and isinstance(vb, list):
                va, vb = [str(va[0]), int(va[1])], [str(vb[0]), int(vb[1])]
            if va != vb:
                diffs.append(f"node {nid}.{key}: frontend {va!r} vs api {vb!r}")
    return diffs
