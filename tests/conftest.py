"""Shared pytest setup: make tests/ helpers importable (e.g. `import media`)."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors: one intra-op thread is fastest, and robust on a shared, busy CPU.

    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
