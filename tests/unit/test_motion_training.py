"""train_motion end to end on a tiny generated corpus (mel front end, a few steps per phase): the
three phases run, resume, write a loadable bundle whose sync expert and LipRefine have changed."""

import dataclasses
import json
import os

import pytest
import torch

from see_the_speaker.checkpoint import load_model
from see_the_speaker.data.generate import PRESETS, generate
from see_the_speaker.models.motion_bundle import KIND
from see_the_speaker.training.train_motion import TrainMotionConfig, train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def test_three_phases_resume_and_export(tmp_path):
    corpus = tmp_path / "corpus"
    generate(dataclasses.replace(PRESETS["tiny"], speakers=4, clips_per_speaker=1, seconds=1.0, crop_size=64), corpus, jobs=1)
    cfg = TrainMotionConfig(corpus=str(corpus), out=str(tmp_path / "run"), backend="mel", augment=True,
                            steps_sync=6, steps_diffusion=4, steps_refine=4, batch=8, width=32, depth=1,
                            eval_every=4, save_every=2, refine_sample_clips=2, cache_dir=str(tmp_path / "cache"))
    final = train(dataclasses.replace(cfg, phases="sync"))
    first = load_model(final, KIND)[0]
    # a longer sync phase resumes from its saved state (step 6), then the other phases run
    os.remove(tmp_path / "run" / "sync.safetensors")
    final = train(dataclasses.replace(cfg, steps_sync=8))
    with open(tmp_path / "run" / "sync" / "state.json") as f:
        assert json.load(f)["step"] == 8
    rows = [json.loads(line) for line in open(tmp_path / "run" / "refine" / "metrics.jsonl")]
    assert any("val_mouth_corr_refined" in r for r in rows)
    bundle, ckpt = load_model(final, KIND)
    assert ckpt.extra["phases"] == ["sync", "diffusion", "refine"] and len(ckpt.extra["mouth_readout"]["w"]) == 6
    assert not torch.equal(bundle.sync.lips.head[2].weight, first.sync.lips.head[2].weight)
    assert bundle.refiner.out[1].weight.abs().sum() > 0  # LipRefine's zero-initialised output was trained
    out = bundle.generate(torch.randn(30, 320), seed=0, steps=2)
    assert out.shape == (30, 18) and torch.isfinite(out).all()


def test_refine_mouth_term_reads_only_the_readout_direction():
    """LipRefine's mouth term: L1 along the unit readout direction; an error orthogonal to it costs
    nothing there (but does in the plain L1), an error along it costs its length."""
    from test_motion_bundle import raw, small_bundle

    from see_the_speaker.training.train_motion import RefinePhase

    bundle = small_bundle()
    torch.nn.init.zeros_(bundle.refiner.out[1].weight)  # delta = 0: refined = input
    torch.nn.init.zeros_(bundle.refiner.out[1].bias)
    w = torch.tensor([3.0, 4.0, 0.0]) / 5  # unit readout direction over the 3 lips dims
    phase = RefinePhase(bundle, sync_weight=0.0, mouth_weight=2.0, readout_w=w)
    audio = raw(12)[None].expand(2, -1, -1)  # [B, L, F]
    y = torch.randn(2, 12, 3)
    ortho = torch.tensor([4.0, -3.0, 1.0])  # ⟂ w
    out = phase(audio, y + ortho, y)
    assert out["mouth"].item() < 1e-6 and out["l1"].item() > 1
    out = phase(audio, y + 0.5 * w, y)
    assert abs(out["mouth"].item() - 0.5) < 1e-5
    assert abs(out["loss"].item() - (out["l1"].item() + 2.0 * 0.5)) < 1e-5
    assert "mouth" not in RefinePhase(bundle, 0.0)(audio, y, y)


def test_refine_spread_term_penalises_a_damped_window():
    """The spread term compares each window's per-dim std: a shifted copy costs nothing, a damped one
    costs the std it lost."""
    from test_motion_bundle import raw, small_bundle

    from see_the_speaker.training.train_motion import RefinePhase

    bundle = small_bundle()
    torch.nn.init.zeros_(bundle.refiner.out[1].weight)  # delta = 0: refined = input
    torch.nn.init.zeros_(bundle.refiner.out[1].bias)
    phase = RefinePhase(bundle, sync_weight=0.0, std_weight=1.0)
    audio = raw(12)[None].expand(2, -1, -1)
    y = torch.randn(2, 12, 3)
    assert phase(audio, y + 0.7, y)["spread"].item() < 1e-6
    damped = phase(audio, 0.5 * y, y)["spread"].item()
    assert abs(damped - 0.5 * y.std(1).mean().item()) < 1e-5


def test_refine_layout_term_reads_the_renderers_mouth_layout():
    """LipRefine's layout term: the renderer's frozen mouth layout draws the refined lips (other parts
    as given) and its inner-lip opening is compared with the landmark opening on the valid frames;
    the gradient reaches LipRefine, not the layout. Without a layout the term is refused."""
    from test_motion_bundle import raw, small_bundle

    from see_the_speaker.models.mouth_layout import OUTER
    from see_the_speaker.training.train_motion import RefinePhase

    bundle = small_bundle()
    torch.nn.init.zeros_(bundle.refiner.out[1].weight)  # delta = 0: refined = input
    torch.nn.init.zeros_(bundle.refiner.out[1].bias)
    d = bundle.cfg.motion_dim
    torch.manual_seed(0)
    linear = torch.nn.Linear(d, 40)  # a stand-in layout for this bundle's 10-d motion: motion -> 20 lip points

    class Layout(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = linear

        def forward(self, m):
            return self.lin(m).view(-1, 20, 2)

    layout = Layout()
    phase = RefinePhase(bundle, sync_weight=0.0, layout=layout, layout_weight=3.0)
    audio = raw(12)[None].expand(2, -1, -1)
    z = torch.randn(2, 12, d)
    lips = bundle.part_slice(bundle.cfg.lips_part)
    with torch.no_grad():
        want = phase.layout_opening(z)
        pts = layout(bundle.denormalize(z).reshape(-1, d)).view(2, 12, -1, 2)
    assert torch.allclose(want, (pts[..., OUTER + 6, 1] - pts[..., OUTER + 2, 1]) / 2)
    valid = torch.ones(2, 12, dtype=torch.bool)
    valid[:, -3:] = False
    mouth = want.clone()
    mouth[:, -3:] = 5.0  # padding: must not count
    out = phase(audio, z[..., lips], z[..., lips], z, mouth, valid)
    assert out["layout_opening"].item() < 1e-4  # LipRefine's output starts at its input
    out = phase(audio, z[..., lips], z[..., lips], z, mouth + 0.01 * valid, valid)
    assert abs(out["layout_opening"].item() - 0.01) < 1e-4
    out["loss"].backward()
    assert bundle.refiner.out[1].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in layout.parameters())
    assert "layout" not in dict(phase.named_modules()) and not any(k.startswith("layout") for k in phase.state_dict())
    with pytest.raises(ValueError, match="mouth interior"):
        RefinePhase(bundle, 0.0, layout_weight=1.0)


def test_init_from_keeps_the_retrained_phases_fresh(tmp_path):
    """--init-from: every tensor of the given bundle is taken except those of the phases this run
    trains (--phases refine: LipRefine keeps its fresh initialisation); a bundle of another motion
    source is refused."""
    from see_the_speaker.checkpoint import save_module
    from see_the_speaker.training.train_motion import init_weights
    from test_motion_bundle import small_bundle

    done, fresh = small_bundle(seed=1), small_bundle(seed=2)
    path = save_module(str(tmp_path / "done.safetensors"), KIND, done.cfg, done)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    init_weights(fresh, path, ["refine"])
    got, want = fresh.state_dict(), done.state_dict()
    for k in got:
        assert torch.equal(got[k], before[k] if k.startswith("refiner.") else want[k]), k
    assert not torch.equal(got["refiner.out.1.weight"], want["refiner.out.1.weight"])  # the two bundles do differ there
    fresh = small_bundle(seed=2)
    init_weights(fresh, path, ["diffusion", "refine"])  # the content encoder and diffusion model stay fresh as well
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, before[k] if k.startswith(("content.", "diffusion.", "refiner.")) else want[k]), k
    other = small_bundle(seed=1)
    other.cfg.source = "renderer:other.safetensors"
    with pytest.raises(SystemExit, match="motion source"):
        init_weights(other, path, ["refine"])
