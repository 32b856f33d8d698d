"""One real ComfyUI 0.3.75 server (headless, CPU) with this pack, shared by all host tests."""

import os

import pytest

from see_the_speaker.harness.server import ComfyServer, ServerConfig


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/host/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.host)


@pytest.fixture(scope="session")
def comfy(tmp_path_factory):
    # A user-style extra_model_paths.yaml mapping the pack's folder name to a shared folder.
    extra = tmp_path_factory.mktemp("shared_models")
    yaml_path = extra / "extra_model_paths.yaml"
    yaml_path.write_text(f"shared:\n  base_path: {extra}\n  see_the_speaker: bundles\n")
    (extra / "bundles").mkdir()
    server = ComfyServer(ServerConfig(startup_timeout=300, extra_args=["--extra-model-paths-config", str(yaml_path)]))
    server.extra_models_dir = str(extra / "bundles")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def client(comfy):
    return comfy.client(timeout=120)
