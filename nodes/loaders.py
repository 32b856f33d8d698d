"""Checkpoint loader nodes: one per model kind, all built by `loader_node` so they behave alike.

Each loader lists the pack's bundled defaults first, then the user's files in
`models/see_the_speaker/`; rebuilds the module from the checkpoint's own config (checkpoint.py),
and hands a `host.ManagedModel` (ModelPatcher-wrapped inside ComfyUI) to the stage's nodes.
"""

from __future__ import annotations

import os

import torch
from comfy_api.latest import io

from .. import host
from ..checkpoint import CheckpointError, load_model
from .common import CATEGORY_LOADERS, NODE_PREFIX, NodeInputError

DTYPE_OPTIONS = ["auto", "fp32", "fp16", "bf16"]
DEVICE_OPTIONS = ["auto", "cpu"]


def load_managed(node: str, ckpt_name: str, kind: str, dtype: str, device: str) -> host.ManagedModel:
    """Resolve, validate and wrap a checkpoint; every failure names the node input at fault."""
    try:
        path = host.resolve_checkpoint(ckpt_name)
    except FileNotFoundError as e:
        raise NodeInputError(node, "ckpt_name", str(e)) from None
    try:
        module, ckpt = load_model(path, expected_kind=kind)
    except CheckpointError as e:
        raise NodeInputError(node, "ckpt_name", str(e)) from None
    dev = torch.device("cpu") if device == "cpu" else host.torch_device()
    n_params = sum(p.numel() for p in module.parameters())
    chosen = host.choose_dtype(dtype, dev, n_params)
    return host.ManagedModel.wrap(module, kind, os.path.basename(path), chosen,
                                  info={"extra": ckpt.extra, "config": ckpt.config}, device=dev)


def loader_node(class_name: str, display_name: str, kind: str, file_prefix: str, output: io.Custom,
                description: str) -> type[io.ComfyNode]:
    """Build the loader node class for one model kind (`kind` as registered in checkpoint.py)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=f"{NODE_PREFIX}{class_name}",
            display_name=display_name,
            category=CATEGORY_LOADERS,
            description=description,
            inputs=[
                io.Combo.Input("ckpt_name", options=host.list_checkpoints(file_prefix),
                               tooltip=f"A {kind!r} checkpoint (.safetensors). The pack's bundled default is listed "
                                       "first; your own go in models/see_the_speaker/."),
                io.Combo.Input("dtype", options=DTYPE_OPTIONS, default="auto",
                               tooltip="Weight and compute precision. 'auto' follows ComfyUI's policy and its "
                                       "--fp16/--bf16 flags (fp32 on CPU)."),
                io.Combo.Input("device", options=DEVICE_OPTIONS, default="auto",
                               tooltip="'auto' uses ComfyUI's compute device (GPU when there is one); 'cpu' keeps "
                                       "this model on the CPU."),
            ],
            outputs=[output.Output(display_name="model", tooltip=f"The loaded {kind!r} model bundle.")],
        )

    @classmethod
    def execute(cls, ckpt_name: str, dtype: str, device: str) -> io.NodeOutput:
        return io.NodeOutput(load_managed(display_name, ckpt_name, kind, dtype, device))

    @classmethod
    def validate_inputs(cls, ckpt_name: str) -> bool | str:
        try:
            host.resolve_checkpoint(ckpt_name)
        except FileNotFoundError as e:
            return f"{display_name}: input 'ckpt_name': {e}"
        return True

    return type(class_name, (io.ComfyNode,), {
        "__doc__": description, "define_schema": define_schema, "execute": execute,
        "validate_inputs": validate_inputs})
