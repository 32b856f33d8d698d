"""Shared conventions of the pack's nodes: id prefix, categories, and node errors."""

from __future__ import annotations

import math

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


def _widget_problem(kind, options: dict, value) -> str | None:
    """What is wrong with one widget value, or None. `kind`/`options` as in a node's INPUT_TYPES."""
    if kind == "COMBO" or isinstance(kind, list):
        choices = options.get("options", kind if isinstance(kind, list) else [])
        if choices and value not in choices:
            return f"{value!r} is not one of the options {list(choices)}"
    elif kind in ("FLOAT", "INT") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return f"expected a finite number, got {value}"
        low, high = options.get("min"), options.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value} is outside the allowed range [{low}, {high}]"
    return None


def with_input_checks(node_cls):
    """The node class, with its widget values checked before `execute` runs.

    ComfyUI 0.3.75 does not check V3 combo values against their options, and NaN passes its
    min/max test (JSON allows NaN), so a prompt sent through the API could reach a node with
    `output_size="7"` or `fps=NaN`; linked values are never range-checked. This subclass refuses
    such values with a NodeInputError naming the input. Inputs the node validates itself (named
    in its `validate_inputs`, e.g. file names) are left to it.
    """
    import inspect

    base_validate = getattr(node_cls.GET_BASE_CLASS(), "validate_inputs", None)
    own_validate = getattr(node_cls, "validate_inputs", None)
    self_checked = set()
    if own_validate is not None and getattr(own_validate, "__func__", None) is not getattr(base_validate, "__func__", None):
        self_checked = set(inspect.signature(own_validate).parameters)
    execute = node_cls.execute.__func__
    node_name = node_cls.GET_SCHEMA().node_id.removeprefix(NODE_PREFIX)

    def check(cls, inputs: dict) -> None:
        spec = node_cls.INPUT_TYPES(include_hidden=False)
        declared = {**spec.get("required", {}), **spec.get("optional", {})}
        for name, value in inputs.items():
            if name in self_checked or name not in declared or value is None:
                continue
            kind, options = declared[name][0], (declared[name][1] if len(declared[name]) > 1 else {}) or {}
            problem = _widget_problem(kind, options, value)
            if problem:
                raise NodeInputError(node_name, name, problem)

    if inspect.iscoroutinefunction(execute):
        async def checked_execute(cls, **inputs):
            check(cls, inputs)
            return await execute(cls, **inputs)
    else:
        def checked_execute(cls, **inputs):
            check(cls, inputs)
            return execute(cls, **inputs)

    return type(node_cls.__name__, (node_cls,), {
        "execute": classmethod(checked_execute), "__doc__": node_cls.__doc__, "__module__": node_cls.__module__})
