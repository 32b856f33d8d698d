"""Training runtime shared by every stage: devices, `torchrun` DDP, seeds, mixed precision,
JSONL metrics, and resumable state in safetensors (never pickle).

    rt = Runtime(RuntimeConfig(out_dir="runs/renderer", seed=0))
    model = rt.wrap(model)                       # DDP when launched with torchrun, else as is
    step = rt.resume({"model": model}, {"opt": opt})   # 0 on a fresh run
    with rt.autocast(): loss = ...
    opt.zero_grad(); rt.backward(loss); rt.optimizer_step(opt, params, max_norm=1.0)   # fp16: loss scaling
    rt.log(step, loss=loss.item())               # rank 0 writes out_dir/metrics.jsonl
    rt.save_state(step, {"model": model}, {"opt": opt})

Single process: `python -m see_the_speaker.training.X ...`; many GPUs / machines:
`torchrun --nproc_per_node=N [--nnodes ...] -m see_the_speaker.training.X ...` (same code).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

STATE_FILE = "state.safetensors"
STATE_META = "state.json"


@dataclass
class RuntimeConfig:
    out_dir: str  # run folder: metrics.jsonl, state.safetensors/json, samples/
    seed: int = 0  # base seed; each rank adds its rank
    device: str = "auto"  # "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:1", ...
    amp: str = "none"  # "none" | "fp16" | "bf16": autocast dtype for the forward pass
    threads: int = 0  # torch CPU threads (0 = torch's default)
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on GPU)


class Runtime:
    def __init__(self, cfg: RuntimeConfig):
        self.cfg = cfg
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.distributed = self.world_size > 1
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = self._pick_device(cfg.device)
        if self.distributed and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)
        self.seed_everything(cfg.seed + self.rank)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        # fp16 gradients underflow without loss scaling; bf16 and fp32 need none
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.amp == "fp16" else None
        os.makedirs(cfg.out_dir, exist_ok=True)
        self.metrics_path = os.path.join(cfg.out_dir, "metrics.jsonl")
        self._t0 = time.time()

    # -- setup --------------------------------------------------------------------------------
    def _pick_device(self, name: str) -> torch.device:
        if name != "auto":
            return torch.device(name)
        if torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")

    @staticmethod
    def seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.manual_seed(seed)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        model = model.to(self.device)
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model

    @staticmethod
    def unwrap(model: torch.nn.Module) -> torch.nn.Module:
        return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model

    def sampler(self, dataset, shuffle: bool = True):
        """A DistributedSampler under torchrun, else None (let the DataLoader shuffle)."""
        if not self.distributed:
            return None
        return torch.utils.data.distributed.DistributedSampler(dataset, shuffle=shuffle, seed=self.cfg.seed)

    def autocast(self):
        if self.cfg.amp == "none":
            return contextlib.nullcontext()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[self.cfg.amp]
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """loss.backward(), through the fp16 loss scaler when amp is fp16. Linear changes to the
        gradients (averaging, scaling) may follow; optimizer_step unscales before clipping."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def optimizer_step(self, opt: torch.optim.Optimizer, params=None, max_norm: float | None = None) -> None:
        """Clip the gradient norm of `params` to `max_norm` (if given) and step; with fp16 the
        gradients are unscaled first and a step with inf/NaN gradients is skipped (the scale then
        shrinks), as torch.amp.GradScaler does."""
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(list(params), max_norm)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()

    def all_reduce_mean(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([value], device=self.device, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return float(t.item() / self.world_size)

    def average_grads(self, params) -> None:
        """Average the gradients of parameters that are not inside a DDP-wrapped module (e.g. heads
        whose submodules are called directly) over all processes; no-op in a single process."""
        if not self.distributed:
            return
        for p in params:
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad.div_(self.world_size)

    def agree(self, flag: bool) -> bool:
        """True on every process when `flag` is true on any of them (e.g. a time budget running out
        on one process's clock): all processes then stop at the same step instead of deadlocking."""
        if not self.distributed:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    # -- logging ------------------------------------------------------------------------------
    def log(self, step: int, **metrics: Any) -> None:
        if not self.is_main:
            return
        row = {"step": step, "time_s": round(time.time() - self._t0, 2), **{
            k: (round(float(v), 6) if isinstance(v, (float, int, np.floating, torch.Tensor)) else v)
            for k, v in metrics.items()}}
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    def write_config(self, config: Any) -> None:
        if self.is_main:
            with open(os.path.join(self.cfg.out_dir, "config.json"), "w") as f:
                json.dump(asdict(config) if hasattr(config, "__dataclass_fields__") else config, f, indent=1)

    # -- resumable state ----------------------------------------------------------------------
    def save_state(self, step: int, modules: dict[str, torch.nn.Module],
                   optimizers: dict[str, torch.optim.Optimizer], extra: dict[str, Any] | None = None) -> None:
        """Atomically write models + optimizers + RNG + step (rank 0 only)."""
        self.barrier()
        if self.is_main:
            tensors: dict[str, torch.Tensor] = {}
            meta: dict[str, Any] = {"step": step, "extra": extra or {}, "optimizers": {}}
            for name, m in modules.items():
                for k, v in self.unwrap(m).state_dict().items():
                    tensors[f"module.{name}.{k}"] = v.detach().cpu().contiguous()
            for name, opt in optimizers.items():
                sd = opt.state_dict()
                meta["optimizers"][name] = {"param_groups": sd["param_groups"], "scalars": {}}
                for pid, pstate in sd["state"].items():
                    for k, v in pstate.items():
                        if torch.is_tensor(v):
                            tensors[f"optim.{name}.{pid}.{k}"] = v.detach().cpu().contiguous()
                        else:
                            meta["optimizers"][name]["scalars"][f"{pid}.{k}"] = v
            tensors["rng.torch"] = torch.get_rng_state()
            meta["rng_numpy"] = _np_state_to_json(np.random.get_state())
            meta["rng_python"] = _py_state_to_json(random.getstate())
            tmp = os.path.join(self.cfg.out_dir, f".{STATE_FILE}.tmp")
            save_file(tensors, tmp)
            with open(os.path.join(self.cfg.out_dir, f".{STATE_META}.tmp"), "w") as f:
                json.dump(meta, f)
            os.replace(tmp, os.path.join(self.cfg.out_dir, STATE_FILE))
            os.replace(os.path.join(self.cfg.out_dir, f".{STATE_META}.tmp"), os.path.join(self.cfg.out_dir, STATE_META))
        self.barrier()

    def resume(self, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> int:
        """Restore the last saved state if the run folder has one; returns the step (0 if fresh)."""
        path = os.path.join(self.cfg.out_dir, STATE_FILE)
        meta_path = os.path.join(self.cfg.out_dir, STATE_META)
        if not (os.path.exists(path) and os.path.exists(meta_path)):
            return 0
        tensors = load_file(path, device="cpu")
        with open(meta_path) as f:
            meta = json.load(f)
        for name, m in modules.items():
            prefix = f"module.{name}."
            self.unwrap(m).load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        for name, opt in optimizers.items():
            info = meta["optimizers"][name]
            state: dict[int, dict[str, Any]] = {}
            prefix = f"optim.{name}."
            for k, v in tensors.items():
                if k.startswith(prefix):
                    pid, key = k[len(prefix):].split(".", 1)
                    state.setdefault(int(pid), {})[key] = v.to(self.device)
            for k, v in info["scalars"].items():
                pid, key = k.split(".", 1)
                state.setdefault(int(pid), {})[key] = v
            opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
        np.random.set_state(_np_state_from_json(meta["rng_numpy"]))
        random.setstate(_py_state_from_json(meta["rng_python"]))
        return int(meta["step"])


def _np_state_to_json(state) -> list:
    name, keys, pos, has_gauss, cached = state
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _np_state_from_json(data: list):
    name, keys, pos, has_gauss, cached = data
    return name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached


def _py_state_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _py_state_from_json(data: list):
    version, internal, gauss = data
    return version, tuple(internal), gauss
