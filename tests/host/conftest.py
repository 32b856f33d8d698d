"""One real ComfyUI 0.3.75 server (headless, CPU) with this pack, shared by all host tests."""

import os

import pytest

from see_the_speaker.harness.server import ComfyServer, ServerConfig


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/host/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.host)


@pytest.fixture(scope="session")
def comfy():
    server = ComfyServer(ServerConfig(startup_timeout=300))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def client(comfy):
    return comfy.client(timeout=120)
