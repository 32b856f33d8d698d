"""Regenerate the UI-format workflows (workflows/*.json) from workflows/api/*.json.

    python -m see_the_speaker.harness.write_ui_workflows [--url http://127.0.0.1:8188]

Starts a headless ComfyUI with this pack unless --url points at a running one.
"""

import argparse

from .client import ComfyClient
from .server import ComfyServer, ServerConfig
from .ui_format import write_ui_workflows
from .workflow import API_DIR, WORKFLOWS_DIR


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=None)
    a = p.parse_args()
    if a.url:
        info = ComfyClient(a.url).object_info()
    else:
        with ComfyServer(ServerConfig()) as server:
            info = server.client().object_info()
    for path in write_ui_workflows(info, API_DIR, WORKFLOWS_DIR):
        print(path)


if __name__ == "__main__":
    main()
