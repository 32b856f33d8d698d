"""The one place that talks to the ComfyUI host, with a fallback for plain Python.

Everything host-specific lives here: the models folder registration (`folder_paths`), model
placement (`comfy.model_management` + `ModelPatcher`), dtype choice honouring the host's
`--fp16-*`/`--bf16-*` flags, progress bars and the interrupt check, and the input/output folders.
Outside ComfyUI (CLI, training, tests) the same calls work with sensible local defaults, so model
and pipeline code never imports `comfy` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import torch

PACK_DIR = os.path.dirname(os.path.abspath(__file__))
BUNDLED_WEIGHTS_DIR = os.path.join(PACK_DIR, "weights")
MODELS_FOLDER = "see_the_speaker"  # <ComfyUI>/models/see_the_speaker/ and extra_model_paths.yaml key
CHECKPOINT_EXTENSIONS = {".safetensors"}

try:  # inside a running ComfyUI (or with its tree on sys.path)
    import folder_paths as _folder_paths
    import comfy.model_management as _mm
    import comfy.model_patcher as _model_patcher
    import comfy.utils as _comfy_utils
    IN_COMFY = True
except ImportError:  # plain Python: CLI, training, tests
    _folder_paths = _mm = _model_patcher = _comfy_utils = None
    IN_COMFY = False


class InterruptedByUser(RuntimeError):
    """Raised outside ComfyUI when `request_interrupt()` was called (ComfyUI raises its own type)."""


# --------------------------------------------------------------------------------------------
# models folder and checkpoint lists

def register_model_folder() -> None:
    """Register `<models>/see_the_speaker` (idempotent; keeps paths from extra_model_paths.yaml)."""
    if not IN_COMFY:
        return
    default = os.path.join(_folder_paths.models_dir, MODELS_FOLDER)
    table = _folder_paths.folder_names_and_paths
    if MODELS_FOLDER in table:
        paths, _ = table[MODELS_FOLDER]
        if default not in paths:
            paths.insert(0, default)
        table[MODELS_FOLDER] = (paths, set(CHECKPOINT_EXTENSIONS))
    else:
        table[MODELS_FOLDER] = ([default], set(CHECKPOINT_EXTENSIONS))


def model_folders() -> list[str]:
    """Folders searched for user checkpoints (outside ComfyUI: $STS_MODELS_DIR if set)."""
    if IN_COMFY:
        register_model_folder()
        return _folder_paths.get_folder_paths(MODELS_FOLDER)
    env = os.environ.get("STS_MODELS_DIR")
    return [env] if env else []


def _bundled(prefix: str = "") -> list[str]:
    if not os.path.isdir(BUNDLED_WEIGHTS_DIR):
        return []
    return sorted(f for f in os.listdir(BUNDLED_WEIGHTS_DIR)
                  if f.startswith(prefix) and os.path.splitext(f)[1] in CHECKPOINT_EXTENSIONS)


def list_checkpoints(prefix: str = "") -> list[str]:
    """Checkpoint names for a dropdown: the pack's bundled defaults first, then the user's files.

    `prefix` filters by file-name prefix (e.g. "scfp" for stage-1 bundles); user files in
    subfolders are listed with their relative path, like every ComfyUI model list.
    """
    bundled = _bundled(prefix)
    user: list[str] = []
    if IN_COMFY:
        register_model_folder()
        user = _folder_paths.get_filename_list(MODELS_FOLDER)
    else:
        for folder in model_folders():
            for root, _, files in os.walk(folder):
                for f in files:
                    if os.path.splitext(f)[1] in CHECKPOINT_EXTENSIONS:
                        user.append(os.path.relpath(os.path.join(root, f), folder))
        user.sort()
    user = [u for u in user if os.path.basename(u).startswith(prefix) and u not in bundled]
    return bundled + user


def resolve_checkpoint(name: str) -> str:
    """Full path of a checkpoint name from `list_checkpoints` (bundled names win)."""
    if not isinstance(name, str) or not name or os.path.basename(name) in ("", ".", "..") or "\x00" in name:
        raise FileNotFoundError(f"invalid checkpoint name {name!r}")
    bundled = os.path.join(BUNDLED_WEIGHTS_DIR, name)
    if os.path.dirname(name) == "" and os.path.isfile(bundled):
        return bundled
    for folder in model_folders():
        path = safe_join(folder, name)
        if path and os.path.isfile(path):
            return path
    if os.path.isabs(name) and os.path.isfile(name) and not IN_COMFY:
        return name  # CLI convenience: an explicit path
    where = [BUNDLED_WEIGHTS_DIR] + model_folders()
    raise FileNotFoundError(f"checkpoint {name!r} not found in {where}")


def safe_join(folder: str, name: str) -> str | None:
    """`folder/name` if the *name* stays inside `folder`, else None.

    '..' parts, absolute names and NUL bytes cannot leave the folder. Symlinks the folder's owner
    put inside it are followed, as ComfyUI's own loaders and model lists do (a symlinked checkpoint
    is listed in the dropdown, so it must also load); API users cannot create symlinks."""
    if not isinstance(name, str) or "\x00" in name:
        return None
    base = os.path.abspath(folder)
    path = os.path.normpath(os.path.join(base, name))
    return path if os.path.commonpath([base, path]) == base else None


# --------------------------------------------------------------------------------------------
# input / output folders

def input_directory() -> str:
    if IN_COMFY:
        return _folder_paths.get_input_directory()
    return os.environ.get("STS_INPUT_DIR", os.getcwd())


def output_directory() -> str:
    if IN_COMFY:
        return _folder_paths.get_output_directory()
    return os.environ.get("STS_OUTPUT_DIR", os.path.join(os.getcwd(), "output"))


def temp_directory() -> str:
    if IN_COMFY:
        return _folder_paths.get_temp_directory()
    import tempfile
    return tempfile.gettempdir()


def output_file_stem(filename_prefix: str, width: int = 0, height: int = 0) -> tuple[str, str, str]:
    """A new output file's (folder, stem, subfolder) for a Save node's `filename_prefix`, numbered like
    the core Save nodes ('<prefix>_00001_'; ComfyUI's %date%/%width% variables work inside ComfyUI).
    The folder is created. A prefix that is empty or leads outside the output folder is a ValueError."""
    if not isinstance(filename_prefix, str) or not filename_prefix.strip() or filename_prefix.rstrip().endswith(("/", "\\")):
        raise ValueError(f"filename prefix {filename_prefix!r} must name a file (e.g. 'video/talking')")
    out = os.path.abspath(output_directory())
    folder = os.path.abspath(os.path.join(out, os.path.dirname(os.path.normpath(filename_prefix))))
    if os.path.isabs(filename_prefix) or os.path.commonpath([out, folder]) != out:
        raise ValueError(f"filename prefix {filename_prefix!r} points outside the output folder")
    if IN_COMFY:  # its own checks and %variables%; creates the folder
        folder, name, counter, subfolder, _ = _folder_paths.get_save_image_path(filename_prefix, out, width, height)
    else:
        os.makedirs(folder, exist_ok=True)
        name, subfolder = os.path.basename(os.path.normpath(filename_prefix)), os.path.relpath(folder, out)
        subfolder = "" if subfolder == "." else subfolder
        taken = [f[len(name) + 1:].split("_")[0] for f in os.listdir(folder) if f.startswith(name + "_")]
        counter = max((int(d) for d in taken if d.isdigit()), default=0) + 1
    return folder, f"{name}_{counter:05}_", subfolder


def save_metadata_enabled() -> bool:
    """False when ComfyUI runs with --disable-metadata (then no prompt/workflow goes into saved files)."""
    if not IN_COMFY:
        return True
    from comfy.cli_args import args
    return not args.disable_metadata


def resolve_input_file(name: str) -> str:
    """Path of a file picked in an input widget; refuses names that escape the input folder.

    Accepts ComfyUI's annotated names ("x.wav [input]", "x.wav [output]", "x.wav [temp]").
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("no file name given")
    folder = input_directory()
    plain = name
    for tag, getter in (("[output]", output_directory), ("[input]", input_directory), ("[temp]", temp_directory)):
        if name.endswith(" " + tag):
            plain, folder = name[: -len(tag) - 1], getter()
            break
    path = safe_join(folder, plain)
    if path is None:
        raise ValueError(f"file name {name!r} points outside the {os.path.basename(folder)!r} folder")
    return path


def list_input_files(content_types: list[str]) -> list[str]:
    """Files of the input folder for an upload combo ('audio', 'video', 'image')."""
    folder = input_directory()
    if not os.path.isdir(folder):
        return []
    files = [f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))]
    if IN_COMFY:
        files = _folder_paths.filter_files_content_types(files, content_types)
    return sorted(files)


# --------------------------------------------------------------------------------------------
# devices, dtypes and model placement

def torch_device() -> torch.device:
    if IN_COMFY:
        return _mm.get_torch_device()
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def offload_device() -> torch.device:
    return _mm.unet_offload_device() if IN_COMFY else torch.device("cpu")


def intermediate_device() -> torch.device:
    """Where node outputs live (CPU unless the host runs with --gpu-only)."""
    return _mm.intermediate_device() if IN_COMFY else torch.device("cpu")


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def choose_dtype(requested: str, device: torch.device, n_params: int = 0) -> torch.dtype:
    """'auto' follows the host's policy (its --fp16/--bf16 flags); else the named dtype."""
    if requested != "auto":
        if requested not in DTYPES:
            raise ValueError(f"dtype must be one of auto, {', '.join(DTYPES)}; got {requested!r}")
        return DTYPES[requested]
    if IN_COMFY:
        return _mm.unet_dtype(device=device, model_params=n_params,
                              supported_dtypes=[torch.float16, torch.bfloat16, torch.float32])
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


@dataclass
class ManagedModel:
    """A loaded module the host can move between its load and offload devices.

    In ComfyUI the module is wrapped in a `ModelPatcher` and placed by `load_models_gpu`, so the
    host can unload it when another model needs the memory; outside it simply lives on `device`.
    """

    module: torch.nn.Module
    kind: str
    name: str
    dtype: torch.dtype
    info: dict[str, Any]
    patcher: Any = None
    device: torch.device = torch.device("cpu")

    @classmethod
    def wrap(cls, module: torch.nn.Module, kind: str, name: str, dtype: torch.dtype,
             info: dict[str, Any] | None = None, device: torch.device | None = None) -> "ManagedModel":
        load_dev = device or torch_device()
        module = module.eval().to(dtype)
        if IN_COMFY:
            module.to(offload_device())
            patcher = _model_patcher.ModelPatcher(module, load_device=load_dev, offload_device=offload_device())
            return cls(module, kind, name, dtype, info or {}, patcher, load_dev)
        return cls(module.to(load_dev), kind, name, dtype, info or {}, None, load_dev)

    def load(self) -> torch.nn.Module:
        """Make sure the module is on its compute device and return it."""
        if self.patcher is not None:
            _mm.load_models_gpu([self.patcher])
            return self.patcher.model
        return self.module


# --------------------------------------------------------------------------------------------
# progress and interrupts

_interrupt_requested = False


def request_interrupt() -> None:
    """Outside ComfyUI: make the next `check_interrupt()` raise (ComfyUI uses POST /interrupt)."""
    global _interrupt_requested
    _interrupt_requested = True


def check_interrupt() -> None:
    """Raise if the user asked to stop; call it in every long loop."""
    global _interrupt_requested
    if IN_COMFY:
        _mm.throw_exception_if_processing_interrupted()
    elif _interrupt_requested:
        _interrupt_requested = False
        raise InterruptedByUser("interrupted")


class Progress:
    """Progress for one long loop: host progress bar + interrupt check on every update."""

    def __init__(self, total: int, node_id: str | None = None,
                 callback: Callable[[int, int], None] | None = None):
        self.total = max(int(total), 1)
        self.current = 0
        self.callback = callback
        self._bar = _comfy_utils.ProgressBar(self.total, node_id=node_id) if IN_COMFY else None

    def update(self, n: int = 1, preview: Any = None) -> None:
        check_interrupt()
        self.current = min(self.current + n, self.total)
        if self._bar is not None:
            self._bar.update_absolute(self.current, self.total, preview)
        if self.callback is not None:
            self.callback(self.current, self.total)
