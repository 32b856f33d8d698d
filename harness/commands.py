"""`see-the-speaker comfy ...`: provision ComfyUI, serve it with this pack, run a workflow headless."""

from __future__ import annotations

import argparse
import json
import os
import time

from .provision import ensure_comfyui
from .server import ComfyServer, ServerConfig
from .workflow import load_api_workflow, set_inputs


def add_provision_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", default=None, help="where to keep ComfyUI (default ~/.cache/see-the-speaker)")


def run_provision(args) -> int:
    print(ensure_comfyui(args.cache_dir))
    return 0


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8188)
    p.add_argument("--base-dir", default=os.path.abspath("comfy-base"),
                   help="ComfyUI --base-directory (input/, output/, models/see_the_speaker/ live here)")


def run_serve(args) -> int:
    server = ComfyServer(ServerConfig(base_dir=args.base_dir, port=args.port, startup_timeout=300))
    server.start()
    print(f"ComfyUI with See the Speaker is running at {server.url}  (base dir {server.base_dir}); Ctrl-C stops it")
    try:
        while server.process and server.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workflow", help="shipped workflow name (workflows/api/<name>.json) or a JSON path")
    p.add_argument("--input", action="append", default=[], metavar="FILE",
                   help="file to copy into ComfyUI's input folder before the run (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=JSON",
                   help="override a node input, e.g. --set 1.audio='\"speech.flac\"' (node id or class type)")
    p.add_argument("--url", default=None, help="use an already running ComfyUI at this URL instead of starting one")
    p.add_argument("--out", default="output", help="folder that receives the run's output files")
    p.add_argument("--timeout", type=float, default=3600)


def parse_overrides(items: list[str]) -> dict[str, dict]:
    overrides: dict[str, dict] = {}
    for item in items:
        target, _, value = item.partition("=")
        node, _, name = target.partition(".")
        if not node or not name or not _:
            raise SystemExit(f"--set expects NODE.INPUT=JSON, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value  # plain strings need no quotes
        overrides.setdefault(node, {})[name] = parsed
    return overrides


def run_workflow(graph: dict, inputs: list[str], out_dir: str, url: str | None, timeout: float) -> list[str]:
    """Run `graph` (after uploading `inputs`) and copy its output files to `out_dir`."""
    os.makedirs(out_dir, exist_ok=True)

    def _run(client) -> list[str]:
        for path in inputs:
            client.upload(path)
        result = client.run(graph, timeout=timeout)
        if not result.ok:
            err = result.error or {}
            raise RuntimeError(f"workflow failed in node {err.get('node_id')} ({err.get('node_type')}): "
                               f"{err.get('exception_message', result.status)}")
        saved = []
        for f in result.files():
            if f.type != "output":
                continue
            dest = os.path.join(out_dir, f.filename)
            with open(dest, "wb") as fh:
                fh.write(client.view(f))
            saved.append(os.path.abspath(dest))
        return saved

    if url:
        from .client import ComfyClient
        return _run(ComfyClient(url, timeout=120))
    with ComfyServer(ServerConfig(startup_timeout=300)) as server:
        return _run(server.client(timeout=120))


def run_run(args) -> int:
    graph = set_inputs(load_api_workflow(args.workflow), parse_overrides(args.set))
    for path in run_workflow(graph, args.input, args.out, args.url, args.timeout):
        print(path)
    return 0

