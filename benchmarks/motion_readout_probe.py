"""Which readout lets the renderer's motion encoder learn the landmark lip / eye targets?

Trains a fresh motion-encoder trunk (models/motion_encoder.py) plus one readout per variant on the
weak landmark targets of training/render_losses.mouth_eye_targets only (lip opening, mouth width,
two eye openings), on corpus training pairs, and prints the held-out R² on the test split's
speakers. Variants:

* ``attn-pool + zero MLP``: attention pooling over the soft region mask, MLP head with a zero last
  layer (the encoder of the renderer that rendered a static mouth);
* ``window + zero MLP``: the feature cells of the region's window, same zero-initialised MLP;
* ``window + MLP``: same window, default initialisation;
* ``window + linear``: same window, one linear layer (the current encoder).

    python benchmarks/motion_readout_probe.py --corpus ~/.cache/see-the-speaker/corpus/standard

~3 min on 2 idle cores (600 training batches of 8 per variant).
"""

import argparse

import torch
from torch import nn
import torch.nn.functional as F

from see_the_speaker.data.loader import FramePairDataset, LoaderConfig, make_loader
from see_the_speaker.models.motion_encoder import MotionEncoder
from see_the_speaker.models.render_blocks import part_masks, to_internal
from see_the_speaker.training.render_losses import mouth_eye_targets


def batches(corpus: str, split: str, n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n batches of (driving frames [8,3,128,128], targets [8,4] = lips[0:2] | eyes[0:2])."""
    ds = FramePairDataset(corpus, LoaderConfig(split=split, size=256, cache_mb=768, seed=seed))
    out = []
    for b in make_loader(ds, batch_size=8, num_workers=1, seed=seed, drop_last=True):
        lips, eyes = mouth_eye_targets(b["driving_landmarks"], ds.crop_size)
        out.append((to_internal(b["driving"], 128), torch.cat([lips, eyes], 1)))
        if len(out) == n:
            break
    return out


def mlp(cin: int, cout: int, zero_last: bool) -> nn.Sequential:
    last = nn.Linear(128, cout)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Linear(cin, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), last)


class AttnPool(nn.Module):
    """softmax(logits + log prior) pooling over a region, 2 heads: [B,C,H,W] -> [B,2C]."""

    def __init__(self, ch: int, prior: torch.Tensor):
        super().__init__()
        self.logits = nn.Conv2d(ch, 2, 1)
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)
        self.register_buffer("log_prior", prior.clamp_min(1e-4).log())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = (self.logits(x) + self.log_prior).flatten(2).softmax(-1)
        return torch.einsum("bhn,bcn->bhc", a, x.flatten(2)).flatten(1)


class Probe(nn.Module):
    """Trunk of a fresh MotionEncoder + a lips readout (2 outputs) + an eyes readout (2 outputs)."""

    def __init__(self, variant: str):
        super().__init__()
        me = MotionEncoder()
        self.encoder, c = me, me.cfg.ch[-1]  # its trunk and window reads; its heads go unused
        lin = torch.linspace(-1 + 1 / 16, 1 - 1 / 16, 16)
        yy, xx = torch.meshgrid(lin, lin, indexing="ij")
        priors = part_masks(torch.stack([xx, yy], -1)[None])
        self.variant = variant
        self.read, self.head = nn.ModuleDict(), nn.ModuleDict()
        for n in ("lips", "eyes"):
            rows, cols = me.windows[n]
            cells = (rows.stop - rows.start) * (cols.stop - cols.start)
            if variant == "attn-pool + zero MLP":
                self.read[n], self.head[n] = AttnPool(c, priors[n]), mlp(2 * c, 2, True)
            elif variant == "window + zero MLP":
                self.head[n] = mlp(cells * c, 2, True)
            elif variant == "window + MLP":
                self.head[n] = mlp(cells * c, 2, False)
            else:
                self.head[n] = nn.Linear(cells * c, 2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.encoder.trunk(img * 2 - 1)  # [B,64,16,16]
        out = []
        for n in ("lips", "eyes"):
            feat = self.read[n](x) if n in self.read else self.encoder.window(x, n)
            out.append(self.head[n](feat))
        return torch.cat(out, 1)  # [B,4]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--train-batches", type=int, default=600)
    p.add_argument("--test-batches", type=int, default=60)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    train = batches(a.corpus, "train", a.train_batches, a.seed)
    test = batches(a.corpus, "test", a.test_batches, a.seed)
    y_test = torch.cat([y for _, y in test])
    print(f"{len(train)} training batches of 8 (train split), {len(y_test)} test pairs (test split's speakers)\n")
    print("| readout | R² lip opening | R² mouth width | R² left eye | R² right eye |\n|---|---:|---:|---:|---:|")
    for variant in ("attn-pool + zero MLP", "window + zero MLP", "window + MLP", "window + linear"):
        torch.manual_seed(a.seed)
        model = Probe(variant)
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
        for x, y in train:
            loss = F.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = torch.cat([model(x) for x, _ in test])
        r2 = 1 - (pred - y_test).pow(2).mean(0) / y_test.var(0)
        print(f"| {variant} | " + " | ".join(f"{v:.2f}" for v in r2.tolist()) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
