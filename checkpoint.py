"""Checkpoints: one `.safetensors` file fully describes one model bundle.

A checkpoint holds the tensors of a model bundle (component modules, statistics such as the face
prior) and, in the safetensors metadata, what is needed to rebuild it without code guesses:

    sts.format          "see-the-speaker"        marks our files
    sts.format_version  "1"                      bumped when the layout changes
    sts.kind            e.g. "scfp", "renderer"  which builder reconstructs the module
    sts.config          JSON of the builder's config (dataclass fields)
    sts.extra           JSON of anything else (training summary, metrics, provenance)
    sts.sha256          digest of kind, config and tensors (names, dtypes, shapes, bytes); files
                        without it load unchecked (written before it existed)

Loading never unpickles anything: only the safetensors format is read, and a file of another
format is refused with a message that says what it is. Loading checks the kind, the keys and the
shapes against the module rebuilt from the stored config and names every mismatch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT_NAME = "see-the-speaker"
FORMAT_VERSION = 1
EXTENSION = ".safetensors"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


class CheckpointError(ValueError):
    """A checkpoint file is missing, of the wrong format/kind/version, or does not fit its model."""


@dataclass
class Checkpoint:
    """The parsed content of one checkpoint file."""

    kind: str  # model kind, e.g. "scfp"
    config: dict[str, Any]  # builder config as plain JSON data
    tensors: dict[str, torch.Tensor]  # state dict
    extra: dict[str, Any] = field(default_factory=dict)  # metrics, provenance, ...
    version: int = FORMAT_VERSION
    path: str | None = None


# --------------------------------------------------------------------------------------------
# kind registry: kind -> (config dataclass, builder(config) -> nn.Module)

@dataclass
class ModelKind:
    name: str  # the sts.kind string
    config_cls: type  # dataclass describing the architecture
    build: Callable[[Any], torch.nn.Module]  # config instance -> module with random weights
    description: str = ""


_KINDS: dict[str, ModelKind] = {}


def register_kind(name: str, config_cls: type, build: Callable[[Any], torch.nn.Module],
                  description: str = "") -> None:
    """Declare a model kind so checkpoints of that kind can be rebuilt from their metadata."""
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls for kind {name!r} must be a dataclass, got {config_cls!r}")
    _KINDS[name] = ModelKind(name, config_cls, build, description)


def registered_kinds() -> dict[str, ModelKind]:
    return dict(_KINDS)


def config_to_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a dataclass or a dict, got {type(config).__name__}")


def config_from_dict(config_cls: type, data: dict[str, Any], *, where: str = "config") -> Any:
    """Rebuild a (possibly nested) dataclass config; unknown or missing fields are errors."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(config_cls)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(f"{where}: unknown field(s) {unknown} for {config_cls.__name__}")
    kwargs = {}
    for name, value in data.items():
        ftype = hints.get(name)
        if isinstance(ftype, type) and dataclasses.is_dataclass(ftype):
            value = config_from_dict(ftype, value, where=f"{where}.{name}")
        elif (ftype is tuple or typing.get_origin(ftype) is tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return config_cls(**kwargs)
    except TypeError as e:  # missing required fields
        raise CheckpointError(f"{where}: {e}") from None


# --------------------------------------------------------------------------------------------
# save

def save_checkpoint(path: str, kind: str, config: Any, tensors: dict[str, torch.Tensor],
                    extra: dict[str, Any] | None = None) -> str:
    """Write a checkpoint atomically (temp file + rename): no half-written file is ever visible."""
    if not str(path).endswith(EXTENSION):
        raise CheckpointError(f"checkpoint path must end with {EXTENSION}: {path}")
    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    config_json = json.dumps(config_to_dict(config), sort_keys=True)
    metadata = {
        "sts.format": FORMAT_NAME,
        "sts.format_version": str(FORMAT_VERSION),
        "sts.kind": kind,
        "sts.config": config_json,
        "sts.extra": json.dumps(extra or {}, sort_keys=True),
        "sts.sha256": content_digest(kind, config_json, clean),
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=EXTENSION, dir=directory)
    os.close(fd)
    try:
        save_file(clean, tmp, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is for every user
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_module(path: str, kind: str, config: Any, module: torch.nn.Module,
                extra: dict[str, Any] | None = None, dtype: torch.dtype | None = None) -> str:
    """Save a module's state dict (optionally cast floating tensors to `dtype`, e.g. fp16)."""
    state = module.state_dict()
    if dtype is not None:
        state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items()}
    return save_checkpoint(path, kind, config, state, extra)


def content_digest(kind: str, config_json: str, tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the kind, the config JSON and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(f"{kind}|{config_json}|".encode())
    for key in sorted(tensors):
        t = tensors[key].detach().to("cpu").contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# load

def _sniff_format(path: str, head: bytes) -> str:
    if head[:2] == b"PK":
        return "a zip archive (a PyTorch .pt/.pth/.ckpt pickle checkpoint?)"
    if head[:1] == b"\x80":
        return "a Python pickle (a PyTorch .pt/.pth/.bin checkpoint?)"
    if head[:4] == b"GGUF":
        return "a GGUF file"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file"
    return "not a safetensors file"


def read_header(path: str) -> dict[str, Any]:
    """Validate that `path` is a safetensors file and return its JSON header (no tensor data read)."""
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint is not a file: {path}")
    size = os.path.getsize(path)
    name = os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{name}: file is {size} bytes, too short to be a safetensors checkpoint")
        n = int.from_bytes(head, "little")
        if n <= 1 or n > _MAX_HEADER_BYTES or 8 + n > size:
            raise CheckpointError(
                f"{name}: {_sniff_format(path, head)}; only .safetensors checkpoints are loaded "
                "(pickle-based formats are refused for safety)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{name}: safetensors header is not valid JSON (corrupt or not a safetensors file)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{name}: safetensors header is not a JSON object")
    data_bytes = size - 8 - n
    end = max((int(v["data_offsets"][1]) for k, v in header.items()
               if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if end != data_bytes:
        raise CheckpointError(
            f"{name}: tensor data is {data_bytes} bytes but the header describes {end} bytes "
            "(truncated or tampered file)")
    return header


def load_checkpoint(path: str, expected_kind: str | None = None, device: str = "cpu") -> Checkpoint:
    """Read a checkpoint; check format, version and (optionally) kind before any tensor is read."""
    header = read_header(path)
    name = os.path.basename(path)
    meta = header.get("__metadata__") or {}
    if meta.get("sts.format") != FORMAT_NAME:
        raise CheckpointError(
            f"{name}: a safetensors file without See-the-Speaker metadata (sts.format missing); "
            "it was not written by this pack's export commands")
    try:
        version = int(meta.get("sts.format_version", "?"))
    except ValueError:
        raise CheckpointError(f"{name}: unreadable format version {meta.get('sts.format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: format version {version} is newer than this pack supports ({FORMAT_VERSION}); "
            "update the pack")
    if version < 1:
        raise CheckpointError(f"{name}: invalid format version {version}")
    kind = meta.get("sts.kind", "")
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(
            f"{name}: this is a {kind!r} checkpoint, but a {expected_kind!r} checkpoint was expected")
    try:
        config = json.loads(meta.get("sts.config", "{}"))
        extra = json.loads(meta.get("sts.extra", "{}"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{name}: metadata is not valid JSON ({e})") from None
    tensors = {}
    try:
        with safe_open(path, framework="pt", device=device) as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except Exception as e:  # safetensors raises its own error types
        raise CheckpointError(f"{name}: cannot read tensors ({e})") from None
    if "sts.sha256" in meta and content_digest(kind, meta.get("sts.config", ""), tensors) != meta["sts.sha256"]:
        raise CheckpointError(
            f"{name}: the tensor data does not match the checksum stored when it was saved "
            "(corrupted or tampered file); download or export it again")
    return Checkpoint(kind=kind, config=config, tensors=tensors, extra=extra, version=version, path=path)


def check_state_dict(module: torch.nn.Module, tensors: dict[str, torch.Tensor], name: str = "checkpoint") -> None:
    """Raise a CheckpointError listing every missing key, unexpected key and shape mismatch."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
             for k in sorted(set(expected) & set(tensors)) if tensors[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"missing key(s) {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected key(s) {_short(unexpected)}")
    if wrong:
        problems.append(f"wrong shape(s) {_short(wrong)}")
    if problems:
        raise CheckpointError(f"{name}: does not fit its model: " + "; ".join(problems))


def _short(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def build_from_checkpoint(ckpt: Checkpoint, dtype: torch.dtype | None = None) -> torch.nn.Module:
    """Rebuild the module of a registered kind from the stored config and load its weights."""
    name = os.path.basename(ckpt.path or "checkpoint")
    kind = _KINDS.get(ckpt.kind)
    if kind is None:
        raise CheckpointError(
            f"{name}: unknown model kind {ckpt.kind!r}; known kinds: {sorted(_KINDS) or 'none registered'}")
    config = config_from_dict(kind.config_cls, ckpt.config, where=f"{name}: config")
    module = kind.build(config)
    check_state_dict(module, ckpt.tensors, name)
    state = {k: v.to(module.state_dict()[k].dtype) for k, v in ckpt.tensors.items()}
    module.load_state_dict(state, strict=True)
    if dtype is not None:
        module.to(dtype)
    return module.eval()


def load_model(path: str, expected_kind: str | None = None, dtype: torch.dtype | None = None) -> tuple[torch.nn.Module, Checkpoint]:
    """Read, validate and rebuild in one call: returns (module in eval mode, checkpoint)."""
    ckpt = load_checkpoint(path, expected_kind)
    return build_from_checkpoint(ckpt, dtype), ckpt
