"""Shared conventions of the pack's nodes: id prefix, categories, and node errors."""

from __future__ import annotations

NODE_PREFIX = "STS_"  # every node id starts with it, so ids never collide with core or other packs

CATEGORY_ROOT = "See the Speaker"
CATEGORY_SPEECH = f"{CATEGORY_ROOT}/speech"
CATEGORY_LOADERS = f"{CATEGORY_ROOT}/loaders"
CATEGORY_PORTRAIT = f"{CATEGORY_ROOT}/portrait"
CATEGORY_MOTION = f"{CATEGORY_ROOT}/motion"
CATEGORY_RENDER = f"{CATEGORY_ROOT}/render"
CATEGORY_FACE = f"{CATEGORY_ROOT}/face"
CATEGORY_VIDEO = f"{CATEGORY_ROOT}/video"


class NodeInputError(ValueError):
    """A node input is unusable; the message names the node, the input and what was expected."""

    def __init__(self, node: str, input_name: str, message: str):
        super().__init__(f"{node}: input '{input_name}': {message}")
        self.node = node
        self.input_name = input_name
