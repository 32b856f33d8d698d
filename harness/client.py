"""A small HTTP client for a running ComfyUI server (ours or a user's), standard library only.

Posts API-format workflows to `/prompt`, waits on `/history/<id>`, downloads outputs with
`/view`, uploads inputs with `/upload/image` (ComfyUI's upload route for every media type).
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any


class PromptRejected(RuntimeError):
    """`/prompt` answered 400: the graph failed validation. `.body` holds the server's answer."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        err = body.get("error", {})
        details = [f"node {nid} ({ne.get('class_type')}): " + "; ".join(
            f"{e.get('message')}: {e.get('details')}" for e in ne.get("errors", []))
            for nid, ne in (body.get("node_errors") or {}).items()]
        super().__init__(f"{err.get('message', 'prompt rejected')}: {err.get('details', '')} {' | '.join(details)}".strip())

    @property
    def node_errors(self) -> dict[str, Any]:
        return self.body.get("node_errors") or {}


@dataclass
class OutputFile:
    filename: str
    subfolder: str
    type: str  # "output" | "temp" | "input"


@dataclass
class RunResult:
    prompt_id: str
    status: str  # "success" | "error" | "interrupted"
    outputs: dict[str, Any]
    messages: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def error(self) -> dict[str, Any] | None:
        """The `execution_error` payload (node_id, node_type, exception_message, ...), if any."""
        for event, data in self.messages:
            if event == "execution_error":
                return data
        return None

    def files(self, node_id: str | None = None) -> list[OutputFile]:
        found = []
        for nid, ui in self.outputs.items():
            if node_id is not None and nid != str(node_id):
                continue
            for key in ("images", "audio", "video", "gifs", "files"):
                for item in ui.get(key, []) or []:
                    if isinstance(item, dict) and "filename" in item:
                        found.append(OutputFile(item["filename"], item.get("subfolder", ""), item.get("type", "output")))
        return found


class ComfyClient:
    def __init__(self, url: str = "http://127.0.0.1:8188", timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client_id = uuid.uuid4().hex

    # -- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str) -> Any:
        status, data = self._request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def post_json(self, path: str, payload: Any) -> tuple[int, Any]:
        status, data = self._request("POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            return status, json.loads(data) if data else None
        except json.JSONDecodeError:
            return status, data.decode(errors="replace")

    # -- API --------------------------------------------------------------------------------
    def system_stats(self) -> dict[str, Any]:
        return self.get_json("/system_stats")

    def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        return self.get_json("/object_info" + (f"/{urllib.parse.quote(node_class)}" if node_class else ""))

    def queue_prompt(self, graph: dict[str, Any], extra_data: dict[str, Any] | None = None) -> str:
        body = {"prompt": graph, "client_id": self.client_id}
        if extra_data:
            body["extra_data"] = extra_data
        status, answer = self.post_json("/prompt", body)
        if status == 400 and isinstance(answer, dict):
            raise PromptRejected(answer)
        if status != 200:
            raise RuntimeError(f"POST /prompt -> HTTP {status}: {answer}")
        return answer["prompt_id"]

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        entry = self.get_json(f"/history/{prompt_id}")
        return entry.get(prompt_id)

    def wait(self, prompt_id: str, timeout: float = 600.0, poll: float = 0.2) -> RunResult:
        deadline = time.monotonic() + timeout
        while True:
            entry = self.history(prompt_id)
            if entry:  # the server writes a history entry only when the prompt has finished
                st = entry.get("status", {})
                messages = st.get("messages", [])
                status = st.get("status_str", "error")
                if any(ev == "execution_interrupted" for ev, _ in messages):
                    status = "interrupted"
                return RunResult(prompt_id, status, entry.get("outputs", {}), messages)
            if time.monotonic() > deadline:
                raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s")
            time.sleep(poll)

    def run(self, graph: dict[str, Any], timeout: float = 600.0) -> RunResult:
        return self.wait(self.queue_prompt(graph), timeout)

    def view(self, f: OutputFile) -> bytes:
        q = urllib.parse.urlencode({"filename": f.filename, "subfolder": f.subfolder, "type": f.type})
        status, data = self._request("GET", f"/view?{q}")
        if status != 200:
            raise RuntimeError(f"GET /view {f} -> HTTP {status}")
        return data

    def upload(self, path: str, name: str | None = None, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload a local file into the server's input folder; returns the name to put in a widget."""
        name = name or os.path.basename(path)
        boundary = uuid.uuid4().hex
        with open(path, "rb") as fh:
            content = fh.read()
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        parts = []
        for key, value in (("type", "input"), ("subfolder", subfolder), ("overwrite", "true" if overwrite else "false")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        status, data = self._request("POST", "/upload/image", b"".join(parts),
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        if status != 200:
            raise RuntimeError(f"upload of {name} -> HTTP {status}: {data[:300]!r}")
        answer = json.loads(data)
        return os.path.join(answer.get("subfolder", ""), answer["name"]) if answer.get("subfolder") else answer["name"]

    def interrupt(self) -> None:
        self._request("POST", "/interrupt", b"{}", {"Content-Type": "application/json"})

    def queue(self) -> dict[str, Any]:
        return self.get_json("/queue")
