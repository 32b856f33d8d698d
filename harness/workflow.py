"""API-format workflow files: load them, set the inputs of a run, and run them in a server."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOWS_DIR = os.path.join(PACK_DIR, "workflows")
API_DIR = os.path.join(WORKFLOWS_DIR, "api")


def api_workflow_path(name: str) -> str:
    """`name` is a shipped workflow's name (workflows/api/<name>.json) or a path to a JSON file."""
    if os.path.isfile(name):
        return name
    path = os.path.join(API_DIR, f"{name}.json")
    if not os.path.isfile(path):
        shipped = sorted(f[:-5] for f in os.listdir(API_DIR) if f.endswith(".json"))
        raise FileNotFoundError(f"no workflow {name!r}; shipped API workflows: {shipped}")
    return path


def load_api_workflow(name: str) -> dict[str, Any]:
    with open(api_workflow_path(name)) as f:
        graph = json.load(f)
    if not isinstance(graph, dict) or not all(isinstance(v, dict) and "class_type" in v for v in graph.values()):
        raise ValueError(f"{name}: not an API-format workflow (expected {{id: {{class_type, inputs}}}})")
    return graph


def set_inputs(graph: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Copy of `graph` with `{node_id_or_class_type: {input: value}}` applied.

    A class type key applies to every node of that type. Unknown keys are an error, so a renamed
    node in a workflow file does not silently drop a setting.
    """
    out = copy.deepcopy(graph)
    for key, values in overrides.items():
        targets = [nid for nid, node in out.items() if nid == key or node["class_type"] == key]
        if not targets:
            raise KeyError(f"workflow has no node with id or class_type {key!r}")
        for nid in targets:
            out[nid]["inputs"].update(values)
    return out
