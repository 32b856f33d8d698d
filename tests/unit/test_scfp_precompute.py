"""Stage-1 denoiser phase: the precomputed latents/conditions are reused only when they were made
from the same autoencoder and speech-encoder weights; a denoiser run trained on other latents is
refused rather than mixed."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from see_the_speaker.models.scfp import SCFP, SCFPConfig
from see_the_speaker.training import train_scfp
from see_the_speaker.training.runtime import Runtime, RuntimeConfig


def test_precompute_is_refreshed_when_its_sources_change(tmp_path, monkeypatch):
    scfp = SCFP(SCFPConfig())
    args = argparse.Namespace(seed=0, speech_variants=2)
    calls = []

    def fake_precompute(model, cache, a, device):
        calls.append(1)
        return {"latents": torch.full((2, 4, 1, 1), float(len(calls)))}

    monkeypatch.setattr(train_scfp, "precompute", fake_precompute)
    rt = Runtime(RuntimeConfig(out_dir=str(tmp_path / "denoiser"), device="cpu"))
    first = train_scfp.load_or_precompute(scfp, None, args, rt)
    again = train_scfp.load_or_precompute(scfp, None, args, rt)  # same weights: read from disk
    assert len(calls) == 1 and torch.equal(first["latents"], again["latents"])
    assert train_scfp.precompute_sources(scfp, argparse.Namespace(seed=1, speech_variants=2)) != \
        train_scfp.precompute_sources(scfp, args)  # settings count too
    with torch.no_grad():
        next(scfp.autoencoder.parameters()).add_(1.0)  # "retrained" autoencoder
    fresh = train_scfp.load_or_precompute(scfp, None, args, rt)
    assert len(calls) == 2 and fresh["latents"].flatten()[0] == 2
    open(os.path.join(rt.cfg.out_dir, "state.safetensors"), "wb").close()  # a denoiser trained on those
    with torch.no_grad():
        next(scfp.speech_encoder.parameters()).add_(1.0)
    with pytest.raises(SystemExit, match="new --out"):
        train_scfp.load_or_precompute(scfp, None, args, rt)
