"""Turn an API-format workflow into the UI format the ComfyUI frontend loads (template browser).

Workflows are authored once, in API format (`workflows/api/*.json`, what `/prompt` executes);
the UI copies in `workflows/*.json` are generated from them with the server's `/object_info`,
so the two never drift apart (a test regenerates and compares). Layout: one column per graph
depth, nodes stacked top to bottom.
"""

from __future__ import annotations

import json
import os
from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NODE_WIDTH = 340
COLUMN_GAP = 80
ROW_GAP = 40


def _input_specs(info: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """[(name, type, options)] in the node's declared order (required, then optional)."""
    out = []
    order = info.get("input_order", {})
    for section in ("required", "optional"):
        specs = info.get("input", {}).get(section, {})
        for name in order.get(section, list(specs)):
            spec = specs[name]
            kind = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            out.append((name, "COMBO" if isinstance(kind, list) else kind, opts))
    return out


def _is_widget(kind: str, opts: dict[str, Any]) -> bool:
    return kind in WIDGET_TYPES and not opts.get("forceInput", False)


def _depths(graph: dict[str, Any]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(nid: str, stack: tuple = ()) -> int:
        if nid in depth:
            return depth[nid]
        if nid in stack:
            raise ValueError(f"workflow has a cycle through node {nid}")
        parents = [v[0] for v in graph[nid]["inputs"].values() if isinstance(v, list) and len(v) == 2]
        depth[nid] = 1 + max((visit(str(p), stack + (nid,)) for p in parents), default=-1)
        return depth[nid]

    for nid in graph:
        visit(nid)
    return depth


def api_to_ui(graph: dict[str, Any], object_info: dict[str, Any]) -> dict[str, Any]:
    depth = _depths(graph)
    ids = sorted(graph, key=lambda n: (depth[n], int(n) if n.isdigit() else n))
    links: list[list[Any]] = []
    nodes: dict[str, dict[str, Any]] = {}
    column_y: dict[int, float] = {}
    for nid in ids:
        node = graph[nid]
        cls = node["class_type"]
        if cls not in object_info:
            raise KeyError(f"node {nid}: class_type {cls!r} is not known to the server")
        info = object_info[cls]
        widgets, inputs = [], []
        for name, kind, opts in _input_specs(info):
            value = node["inputs"].get(name)
            linked = isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)
            if _is_widget(kind, opts) and not linked:
                if value is None:
                    value = opts.get("default", (opts.get("options") or [None])[0] if kind == "COMBO" else None)
                widgets.append(value)
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
                continue
            slot = {"name": name, "type": kind, "link": None}
            if _is_widget(kind, opts):
                slot["widget"] = {"name": name}
            inputs.append(slot)
        n_rows = max(len(inputs), len(info.get("output", []))) + len(widgets)
        height = 46 + 24 * n_rows
        col = depth[nid]
        y = column_y.get(col, 160.0)
        column_y[col] = y + height + ROW_GAP
        nodes[nid] = {
            "id": int(nid), "type": cls, "pos": [100 + col * (NODE_WIDTH + COLUMN_GAP), y],
            "size": [NODE_WIDTH, height], "flags": {}, "order": ids.index(nid), "mode": 0,
            "inputs": inputs,
            "outputs": [{"name": oname, "type": otype, "links": [], "slot_index": i}
                        for i, (otype, oname) in enumerate(zip(info.get("output", []),
                                                                 info.get("output_name", info.get("output", []))))],
            "properties": {"Node name for S&R": cls},
            "widgets_values": widgets,
        }
        if node.get("_meta", {}).get("title"):
            nodes[nid]["title"] = node["_meta"]["title"]
    for nid in ids:
        for slot in nodes[nid]["inputs"]:
            value = graph[nid]["inputs"].get(slot["name"])
            if isinstance(value, list) and len(value) == 2:
                src, src_slot = str(value[0]), int(value[1])
                link_id = len(links) + 1
                ltype = nodes[src]["outputs"][src_slot]["type"]
                links.append([link_id, int(src), src_slot, int(nid), nodes[nid]["inputs"].index(slot), ltype])
                slot["link"] = link_id
                nodes[src]["outputs"][src_slot]["links"].append(link_id)
    return {
        "last_node_id": max(int(n) for n in graph), "last_link_id": len(links),
        "nodes": [nodes[n] for n in ids], "links": links, "groups": [],
        "config": {}, "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}}, "version": 0.4,
    }


def write_ui_workflows(object_info: dict[str, Any], api_dir: str, ui_dir: str) -> list[str]:
    """Regenerate `ui_dir/<name>.json` for every `api_dir/<name>.json`; returns the paths written."""
    written = []
    for name in sorted(os.listdir(api_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(api_dir, name)) as f:
            graph = json.load(f)
        path = os.path.join(ui_dir, name)
        with open(path, "w") as f:
            json.dump(api_to_ui(graph, object_info), f, indent=1)
            f.write("\n")
        written.append(path)
    return written
