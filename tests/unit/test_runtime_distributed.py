"""Runtime collectives under a real 2-process gloo group: gradients of modules outside DDP are
averaged, and a time budget that runs out on one process stops every process at the same step."""

from __future__ import annotations

import os
import socket

import torch
import torch.multiprocessing as mp

from see_the_speaker.training.runtime import Runtime, RuntimeConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out_dir: str, results) -> None:
    os.environ.update(WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    rt = Runtime(RuntimeConfig(out_dir=out_dir, device="cpu", threads=1))
    try:
        p = torch.nn.Parameter(torch.zeros(3))
        p.grad = torch.full((3,), float(rank + 1))  # 1 on rank 0, 2 on rank 1
        q = torch.nn.Parameter(torch.zeros(1))  # no gradient: left alone
        rt.average_grads([p, q])
        results[rank] = (p.grad.tolist(), q.grad, rt.agree(rank == 1), rt.agree(False))
    finally:
        torch.distributed.destroy_process_group()


def test_average_grads_and_agree_across_processes(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), results), nprocs=2, join=True)
    for rank in (0, 1):
        grads, q_grad, any_true, none_true = results[rank]
        assert grads == [1.5, 1.5, 1.5] and q_grad is None
        assert any_true is True and none_true is False


def test_single_process_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    rt = Runtime(RuntimeConfig(out_dir=str(tmp_path), device="cpu"))
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.ones(2)
    rt.average_grads([p])
    assert p.grad.tolist() == [1.0, 1.0] and rt.agree(True) and not rt.agree(False)
