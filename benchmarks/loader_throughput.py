"""Training-loader throughput: samples/s of each corpus dataset through a torch DataLoader.

    python benchmarks/loader_throughput.py --corpus ~/.cache/see-the-speaker/corpus/standard \
        --workers 0 2 --size 128 256 --seconds 20

For each (dataset, workers, crop size) it iterates batches for ``--seconds`` after one warm-up
batch and prints samples/s as a markdown table. The goal on 2 cores: far above the ~20–50
samples/s a CPU training step consumes, so training stays compute-bound. Uses the sampler the
training code uses: clip-grouped order for frame datasets, speaker-balanced batches for clips.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch


def measure(loader, seconds: float) -> tuple[float, int]:
    it = iter(loader)
    next(it)  # warm-up: worker start, first decodes
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        n += len(batch["speaker"])
    return n / (time.perf_counter() - t0), n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="~/.cache/see-the-speaker/corpus/tiny")
    p.add_argument("--split", default="train", help="train | val | test | all")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--size", type=int, nargs="+", default=[128])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--datasets", default="audio_frame,frame_pair,clip")
    p.add_argument("--uint8", action="store_true", help="frames as uint8 tensors (cheaper to pass from workers)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from see_the_speaker.data.loader import (
        WORKER_START, AudioFrameDataset, ClipDataset, FramePairDataset, LoaderConfig, SpeakerBalancedBatchSampler,
        make_loader,
    )

    root = os.path.expanduser(args.corpus)
    print(f"corpus {root}, split {args.split}, batch {args.batch}, {args.seconds:.0f} s per row, torch threads 1")
    print("| dataset | crop | workers | samples/s | samples |\n|---|---:|---:|---:|---:|")
    for name in args.datasets.split(","):
        for size in args.size:
            for workers in args.workers:
                cfg = LoaderConfig(split=None if args.split == "all" else args.split, size=size, cache_mb=768, uint8_frames=args.uint8)
                if name == "audio_frame":
                    ds = AudioFrameDataset(root, cfg)
                    loader = make_loader(ds, batch_size=args.batch, num_workers=workers, clips_per_block=8)
                elif name == "frame_pair":
                    ds = FramePairDataset(root, cfg)
                    loader = make_loader(ds, batch_size=args.batch, num_workers=workers, clips_per_block=8)
                elif name == "clip":
                    ds = ClipDataset(root, cfg)
                    bs = SpeakerBalancedBatchSampler(ds.item_speakers(), speakers_per_batch=max(2, min(args.batch // 4, len(set(ds.item_speakers().tolist())))), items_per_speaker=4)
                    loader = torch.utils.data.DataLoader(ds, batch_sampler=bs, num_workers=workers, persistent_workers=workers > 0,
                                                         multiprocessing_context=WORKER_START if workers else None)
                else:
                    print(f"unknown dataset {name}", file=sys.stderr)
                    return 2
                rate, n = measure(loader, args.seconds)
                print(f"| {name} | {size} | {workers} | {rate:.0f} | {n} |", flush=True)
                del loader
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
