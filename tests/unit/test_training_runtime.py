"""Training runtime: a resumed run continues exactly where the interrupted one stopped."""

import json
import os

import torch

from see_the_speaker.training.runtime import Runtime, RuntimeConfig


def _train(rt, model, opt, start, stop):
    for step in range(start, stop):
        x = torch.randn(8, 4)
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rt.log(step, loss=loss.item())


def test_resume_is_exact(tmp_path):
    def fresh(out):
        rt = Runtime(RuntimeConfig(out_dir=str(out), seed=3))
        model = rt.wrap(torch.nn.Linear(4, 1))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        return rt, model, opt

    rt, model, opt = fresh(tmp_path / "full")
    _train(rt, model, opt, 0, 10)
    reference = model.weight.detach().clone()

    rt, model, opt = fresh(tmp_path / "split")
    _train(rt, model, opt, 0, 4)
    rt.save_state(4, {"model": model}, {"opt": opt}, extra={"note": "half"})
    torch.randn(100)  # disturb the RNG: resume must restore it
    rt2, model2, opt2 = fresh(tmp_path / "split")
    assert rt2.resume({"model": model2}, {"opt": opt2}) == 4
    _train(rt2, model2, opt2, 4, 10)
    torch.testing.assert_close(model2.weight, reference, rtol=0, atol=0)
    rows = [json.loads(line) for line in open(tmp_path / "split" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == list(range(10))
    assert not [f for f in os.listdir(tmp_path / "split") if f.endswith(".tmp")]


def test_fresh_run_resumes_at_zero(tmp_path):
    rt = Runtime(RuntimeConfig(out_dir=str(tmp_path)))
    m = torch.nn.Linear(2, 2)
    assert rt.resume({"m": m}, {"o": torch.optim.SGD(m.parameters(), lr=0.1)}) == 0
    assert rt.device.type == "cpu" and rt.is_main and rt.sampler([1, 2]) is None


def test_fp16_steps_use_loss_scaling(tmp_path):
    """amp fp16: the loss is scaled for backward, gradients are unscaled before clipping, and a step
    with overflowing gradients is skipped (parameters unchanged, scale shrinks)."""
    rt = Runtime(RuntimeConfig(out_dir=str(tmp_path), device="cpu", amp="fp16"))
    assert rt.scaler is not None and Runtime(RuntimeConfig(out_dir=str(tmp_path), device="cpu")).scaler is None
    lin = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    x = torch.ones(2, 4)
    before = lin.weight.detach().clone()
    for _ in range(20):  # the first steps may overflow fp16 and be skipped while the scale calibrates
        with rt.autocast():
            loss = lin(x).float().pow(2).mean()
        opt.zero_grad()
        rt.backward(loss)
        scale = rt.scaler.get_scale()
        assert scale > 1  # the loss was scaled
        rt.optimizer_step(opt, lin.parameters(), max_norm=1e9)
        if not torch.equal(before, lin.weight):
            break
    assert not torch.equal(before, lin.weight) and torch.isfinite(lin.weight).all()
    scale = rt.scaler.get_scale()
    opt.zero_grad()
    with rt.autocast():
        loss = lin(x).float().mean() * float("inf")  # overflow: the step must be skipped
    rt.backward(loss)
    before = lin.weight.detach().clone()
    rt.optimizer_step(opt, lin.parameters(), max_norm=1.0)
    assert torch.equal(before, lin.weight) and rt.scaler.get_scale() < scale
