"""Checkpoint format: exact round trip, and a precise error for every way a file can be wrong."""

import json
import os
from dataclasses import dataclass, field

import pytest
import torch
from safetensors.torch import save_file

from see_the_speaker.checkpoint import (
    CheckpointError, build_from_checkpoint, load_checkpoint, load_model, register_kind, save_checkpoint,
    save_module)


@dataclass
class InnerConfig:
    width: int = 8


@dataclass
class TinyConfig:
    dim: int = 4
    hidden: int = 6
    inner: InnerConfig = field(default_factory=InnerConfig)
    sizes: tuple = (2, 3)


class Tiny(torch.nn.Module):
    def __init__(self, cfg: TinyConfig):
        super().__init__()
        self.cfg = cfg
        self.a = torch.nn.Linear(cfg.dim, cfg.hidden)
        self.b = torch.nn.Linear(cfg.hidden, cfg.inner.width)
        self.register_buffer("prior", torch.zeros(cfg.inner.width))


register_kind("test-tiny", TinyConfig, Tiny, "unit-test model")
register_kind("test-other", TinyConfig, Tiny, "another kind")


def _saved(tmp_path, cfg=None, kind="test-tiny"):
    torch.manual_seed(0)
    cfg = cfg or TinyConfig(dim=5, inner=InnerConfig(width=7), sizes=(4, 1))
    model = Tiny(cfg)
    model.prior.normal_()
    path = save_module(str(tmp_path / "m.safetensors"), kind, cfg, model, extra={"steps": 12})
    return path, model, cfg


def test_round_trip_identical(tmp_path):
    path, model, cfg = _saved(tmp_path)
    loaded, ckpt = load_model(path, expected_kind="test-tiny")
    assert ckpt.kind == "test-tiny" and ckpt.extra == {"steps": 12} and ckpt.version == 1
    assert loaded.cfg == cfg and isinstance(loaded.cfg.inner, InnerConfig) and loaded.cfg.sizes == (4, 1)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    path, _, _ = _saved(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    with pytest.raises(CheckpointError, match="must end with .safetensors"):
        save_checkpoint(str(tmp_path / "m.pt"), "test-tiny", TinyConfig(), {})


def test_wrong_kind(tmp_path):
    path, _, _ = _saved(tmp_path, kind="test-other")
    with pytest.raises(CheckpointError, match="'test-other' checkpoint, but a 'test-tiny' checkpoint was expected"):
        load_checkpoint(path, expected_kind="test-tiny")


def test_missing_key_and_wrong_shape(tmp_path):
    path, model, cfg = _saved(tmp_path)
    ckpt = load_checkpoint(path)
    del ckpt.tensors["a.bias"]
    with pytest.raises(CheckpointError, match=r"missing key\(s\) a\.bias"):
        build_from_checkpoint(ckpt)
    ckpt = load_checkpoint(path)
    ckpt.tensors["b.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=r"wrong shape\(s\) b\.weight: file \(3, 3\) vs model \(7, 6\)"):
        build_from_checkpoint(ckpt)
    ckpt = load_checkpoint(path)
    ckpt.tensors["extra.thing"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\) extra\.thing"):
        build_from_checkpoint(ckpt)


def test_pickle_and_other_formats_refused(tmp_path):
    pt = str(tmp_path / "model.safetensors")
    torch.save({"w": torch.zeros(2)}, pt)  # a zip/pickle file with a misleading name
    with pytest.raises(CheckpointError, match="zip archive.*only .safetensors checkpoints are loaded"):
        load_checkpoint(pt)
    raw = str(tmp_path / "raw.safetensors")
    import pickle
    with open(raw, "wb") as f:
        pickle.dump({"w": 1}, f, protocol=2)
    with pytest.raises(CheckpointError, match="Python pickle"):
        load_checkpoint(raw)
    tiny = str(tmp_path / "tiny.safetensors")
    open(tiny, "wb").write(b"abc")
    with pytest.raises(CheckpointError, match="too short"):
        load_checkpoint(tiny)


def test_foreign_safetensors_and_tampering(tmp_path):
    foreign = str(tmp_path / "foreign.safetensors")
    save_file({"w": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="without See-the-Speaker metadata"):
        load_checkpoint(foreign)
    path, _, _ = _saved(tmp_path)
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.safetensors")
    open(cut, "wb").write(data[:-10])
    with pytest.raises(CheckpointError, match="truncated or tampered"):
        load_checkpoint(cut)


def test_newer_version_and_unknown_kind(tmp_path):
    newer = str(tmp_path / "newer.safetensors")
    save_file({"w": torch.zeros(1)}, newer, metadata={"sts.format": "see-the-speaker", "sts.format_version": "99",
                                                      "sts.kind": "test-tiny", "sts.config": "{}"})
    with pytest.raises(CheckpointError, match="format version 99 is newer"):
        load_checkpoint(newer)
    unknown = str(tmp_path / "unknown.safetensors")
    save_checkpoint(unknown, "no-such-kind", {}, {"w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="unknown model kind 'no-such-kind'"):
        load_model(unknown)


def test_bad_config_fields(tmp_path):
    path = str(tmp_path / "cfg.safetensors")
    save_checkpoint(path, "test-tiny", {"dim": 3, "bogus": 1}, {})
    with pytest.raises(CheckpointError, match=r"unknown field\(s\) \['bogus'\]"):
        load_model(path)


def test_fp16_storage_loads_into_fp32_model(tmp_path):
    cfg = TinyConfig()
    model = Tiny(cfg)
    path = save_module(str(tmp_path / "h.safetensors"), "test-tiny", cfg, model, dtype=torch.float16)
    ckpt = load_checkpoint(path)
    assert ckpt.tensors["a.weight"].dtype == torch.float16
    loaded = build_from_checkpoint(ckpt)
    assert loaded.a.weight.dtype == torch.float32
    torch.testing.assert_close(loaded.a.weight, model.a.weight.half().float())
    assert json.loads(json.dumps(ckpt.config))["dim"] == 4
