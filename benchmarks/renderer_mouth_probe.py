"""Where does a renderer put mouth opening? (diagnosis behind the renderer model card's mouth figures)

On held-out clips of a synthetic corpus, with the renderer's motion encoder:
* std over each clip of every motion-latent dimension, by part (is the lips part alive?);
* correlation of every dimension with the ground-truth jaw_open (which part carries the mouth?);
* a ridge from the lips head's input (the encoder's mouth-window features) to the landmark lip targets of
  training/render_losses.mouth_eye_targets (held-out R²: is the information in the trunk?).

    python benchmarks/renderer_mouth_probe.py --ckpt weights/renderer_default.safetensors \
        --corpus ~/.cache/see-the-speaker/corpus/standard --clips 10
"""

import argparse

import numpy as np
import torch

from see_the_speaker.checkpoint import load_model
from see_the_speaker.data.corpus import Corpus
from see_the_speaker.models.render_blocks import to_internal
from see_the_speaker.models.renderer import KIND
from see_the_speaker.training.render_losses import mouth_eye_targets


@torch.inference_mode()
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    r, _ = load_model(a.ckpt, KIND)
    r.eval()
    me, spec = r.motion_encoder, r.spec
    c = Corpus(a.corpus)
    stds, corrs, feats, targets = [], [], [], []
    for rec in c.clips_in(a.split)[: a.clips]:
        frames, arrays = c.load_frames(rec), c.load_arrays(rec)
        x = to_internal(torch.from_numpy(frames).float().div(255).permute(0, 3, 1, 2), r.cfg.size)
        m = r.encode_motion(x).numpy()  # [T,D]
        jaw = arrays["motion"][:, [str(f) for f in arrays["motion_fields"]].index("jaw_open")]
        stds.append(m.std(0))
        corrs.append([np.corrcoef(m[:, i], jaw)[0, 1] if m[:, i].std() > 0 else 0.0 for i in range(m.shape[1])])
        feats.append(me.window(me.trunk(x * 2 - 1), "lips").numpy())  # the lips head's input
        lm = torch.from_numpy(arrays["landmarks"]).float()  # crop pixels, frames at the crop size
        targets.append(mouth_eye_targets(lm, frames.shape[1])[0].numpy())
    std, corr = np.mean(stds, 0), np.nanmean(np.array(corrs, float), 0)
    print(f"{len(stds)} clips of the {a.split} split\n\n| part | dim | std over a clip | corr. with jaw_open |\n|---|---:|---:|---:|")
    for name, (s, e) in spec.parts().items():
        for i in range(s, e):
            print(f"| {name} | {i - s} | {std[i]:.4f} | {corr[i]:+.2f} |")
    xf, yt = np.concatenate(feats), np.concatenate(targets)
    n = len(xf)
    tr = np.arange(n) < int(0.75 * n)  # earlier clips fit, later clips held out
    xs = (xf - xf[tr].mean(0)) / (xf[tr].std(0) + 1e-6)
    print("\n| ridge alpha | held-out R² lip opening | R² mouth width |\n|---:|---:|---:|")
    for alpha in (1.0, 10.0, 100.0):
        w = np.linalg.solve(xs[tr].T @ xs[tr] + alpha * np.eye(xs.shape[1]), xs[tr].T @ (yt[tr] - yt[tr].mean(0)))
        pr = xs[~tr] @ w + yt[tr].mean(0)
        r2 = 1 - ((pr - yt[~tr]) ** 2).mean(0) / yt[~tr].var(0)
        print(f"| {alpha:g} | {r2[0]:.2f} | {r2[1]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
