"""Start and stop a real, headless ComfyUI server with this pack installed.

`ComfyServer` lays out a base directory (custom_nodes/ with this pack linked in, input/, output/,
models/), starts `main.py --cpu --listen 127.0.0.1` on a free port in its own process group,
waits for `/system_stats`, fails loudly when the log reports `IMPORT FAILED`, and always stops
the process it started. Use it as a context manager.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .client import ComfyClient
from .provision import ensure_comfyui

PACK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACK_LINK_NAME = "see-the-speaker"
MODELS_SUBDIR = os.path.join("models", "see_the_speaker")  # the pack's models folder under the base dir


class ServerStartError(RuntimeError):
    """The server did not come up, or a custom node failed to import. Carries the log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerConfig:
    comfy_dir: str | None = None  # ComfyUI tree; provisioned into the cache when None
    base_dir: str | None = None  # --base-directory; a temporary folder when None
    port: int = 0  # 0 = pick a free port
    packs: dict[str, str] = field(default_factory=lambda: {PACK_LINK_NAME: PACK_DIR})  # name -> folder to link
    extra_args: list[str] = field(default_factory=list)  # e.g. ["--cache-none"]
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the server process
    startup_timeout: float = 180.0
    python: str = sys.executable
    keep_base_dir: bool = False


class ComfyServer:
    def __init__(self, config: ServerConfig | None = None):
        self.config = config or ServerConfig()
        self.process: subprocess.Popen | None = None
        self.base_dir = ""
        self.port = 0
        self.log_path = ""
        self._owns_base = False
        self._log_file = None

    # -- layout -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def path(self, *parts: str) -> str:
        return os.path.join(self.base_dir, *parts)

    @property
    def input_dir(self) -> str:
        return self.path("input")

    @property
    def output_dir(self) -> str:
        return self.path("output")

    @property
    def models_dir(self) -> str:
        """<base>/models/see_the_speaker: checkpoints put here appear in the pack's loaders."""
        return self.path(MODELS_SUBDIR)

    def client(self, timeout: float = 60.0) -> ComfyClient:
        return ComfyClient(self.url, timeout=timeout)

    def log(self) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "ComfyServer":
        cfg = self.config
        comfy_dir = cfg.comfy_dir or ensure_comfyui(python=cfg.python)
        if cfg.base_dir:
            self.base_dir = cfg.base_dir
        else:
            self.base_dir = tempfile.mkdtemp(prefix="sts-comfy-")
            self._owns_base = True
        for sub in ("custom_nodes", "input", "output", "temp", "user", MODELS_SUBDIR):
            os.makedirs(self.path(sub), exist_ok=True)
        for name, folder in cfg.packs.items():
            link = self.path("custom_nodes", name)
            if not os.path.lexists(link):
                os.symlink(folder, link, target_is_directory=True)
        self.port = cfg.port or free_port()
        self.log_path = self.path("comfyui.log")
        self._log_file = open(self.log_path, "w")
        cmd = [cfg.python, os.path.join(comfy_dir, "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", self.base_dir, "--disable-api-nodes",
               "--database-url", "sqlite:///:memory:", *cfg.extra_args]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **cfg.env)
        self.process = subprocess.Popen(cmd, cwd=comfy_dir, stdout=self._log_file, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            self._wait_ready(cfg.startup_timeout)
            self._check_imports()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerStartError(f"ComfyUI exited with code {self.process.returncode} during start-up:\n"
                                       + self.log()[-4000:])
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.25)
        raise ServerStartError(f"ComfyUI did not answer /system_stats within {timeout:.0f} s:\n" + self.log()[-4000:])

    def _check_imports(self) -> None:
        log = self.log()
        failed = [line.strip() for line in log.splitlines() if "IMPORT FAILED" in line]
        if failed:
            raise ServerStartError("custom node import failed:\n" + "\n".join(failed) + "\n\n" + log[-6000:])

    def stop(self) -> None:
        """Stop the server this object started (its whole process group), then clean up."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=15)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._owns_base and not self.config.keep_base_dir and self.base_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "ComfyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
