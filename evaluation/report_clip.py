"""One held-out clip through stage 2, judged frame by frame (See the Speaker, arXiv 2510.26819, HRTF).

Sections 3 (lip sync over time) and 4 (identity over time) of the evaluation report
(evaluation/report.py). The clip's speech drives the motion bundle (Motion Diffusion + LipRefine,
as the nodes call them), the renderer renders it with the nodes' `render_sequence`, and two
independent judges measure every frame:

* MediaPipe face mesh: inner-lip opening (evaluation/face_judges.py), as a fraction of the image
  side, on the true video, on the renderer driven by the true video's own motion (its
  reconstruction ceiling) and on the generated motion, before and after LipRefine;
* dlib's 128-d face descriptor: distance of each rendered frame to the portrait it was rendered
  from (dlib calls a pair the same person below 0.6); the true video against its own first frame is
  the reference, and with a stage-1 bundle the whole speech-only path (SCFP portrait from the same
  speech -> motion -> frames) is judged against that portrait.

Portrait = the clip's first frame (a held-out speaker). A motion bundle trained on ground-truth
motion (`source = "gt"`) cannot drive the renderer; its motion is then rendered with the synthetic
face renderer and the speaker's true identity (as eval_motion does), and the renderer curves use the
true motion only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..data.corpus import ClipRecord, Corpus
from .eval_motion import _corr, best_lag, mediapipe_openings, render_gt_space

SAME_PERSON = 0.6  # dlib's same-person distance


@dataclasses.dataclass
class ClipRun:
    clip: str
    fps: float
    space: str  # "renderer": the motion bundle drives the renderer; "gt": the synthetic face
    opening: dict[str, np.ndarray]  # curve -> [T] inner-lip opening / image side (NaN: no face found)
    identity: dict[str, np.ndarray]  # curve -> [T] dlib distance to its portrait (NaN: frame not judged)
    notes: dict[str, float]  # single figures (e.g. the SCFP portrait's distance to the true face)


def pick_clip(corpus: Corpus, split: str, clip_id: str | None = None, shortest: bool = False) -> ClipRecord:
    """The named clip, else the longest (or shortest) clip of the split; ties -> index order."""
    recs = corpus.clips_in(split)
    if clip_id:
        match = [r for r in corpus.clips if r.id == clip_id]
        if not match:
            raise SystemExit(f"clip {clip_id!r} is not in {corpus.root}")
        return match[0]
    if not recs:
        raise SystemExit(f"no clips in split {split!r} of {corpus.root}")
    key = (lambda r: r.n_frames) if shortest else (lambda r: -r.n_frames)
    return sorted(recs, key=key)[0]


def to_image(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T,S,S,3] -> IMAGE float [T,S,S,3] 0..1."""
    return torch.from_numpy(frames).float().div(255)


def render(renderer, portrait: torch.Tensor, latent: torch.Tensor, size: int) -> np.ndarray:
    """IMAGE portrait [1,H,W,3] + motion [T,D] -> uint8 [T,size,size,3] (the HR Codebook Decode path)."""
    from ..models.renderer import render_sequence
    with torch.inference_mode():
        out = render_sequence(renderer, portrait, latent.float(), 1.0, size, batch=16)
    return (out.clamp(0, 1) * 255).round().byte().numpy()


def generate(bundle, raw: torch.Tensor, identity: torch.Tensor | None, seed: int, steps: int, guidance: float,
             strength: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Motion Diffusion then LipRefine -> (generated [T,D], refined [T,D])."""
    gen = bundle.generate(raw, identity, seed=seed, steps=steps, guidance=guidance)
    return gen, bundle.refine(gen, raw, strength)


def identity_curve(judge, portrait: np.ndarray, frames: np.ndarray, every: int) -> np.ndarray:
    """dlib distance of frames[t] (every `every`-th) to the portrait -> [T] (NaN where not judged)."""
    ref = judge.analyse(portrait)
    out = np.full(len(frames), np.nan)
    for t in range(0, len(frames), every):
        r = judge.analyse(frames[t])
        if ref is not None and r is not None and ref.embedding is not None and r.embedding is not None:
            out[t] = float(np.linalg.norm(r.embedding - ref.embedding))
    return out


@torch.no_grad()
def run_clip(corpus: Corpus, rec: ClipRecord, renderer, bundle, scfp=None, seed: int = 0, steps: int = 20,
             guidance: float = 2.0, strength: float = 1.0, lipsync: bool = True, identity: bool = True,
             identity_every: int = 1) -> ClipRun:
    from ..models.content_encoder import raw_features
    if abs(bundle.cfg.fps - corpus.fps) > 1e-6:
        raise SystemExit(f"motion bundle runs at {bundle.cfg.fps} fps, the corpus at {corpus.fps}")
    size = renderer.out_size
    true = corpus.load_frames(rec, size=size)  # uint8 [T,S,S,3]
    portrait = to_image(true[:1])
    wave = corpus.load_audio(rec)
    raw = raw_features(wave, bundle.cfg.content, rec.n_frames)
    space = "renderer" if bundle.cfg.source.startswith("renderer:") else "gt"
    if space == "renderer" and bundle.cfg.motion_dim != renderer.spec.dim:
        raise SystemExit(f"motion bundle ({bundle.cfg.source}, {bundle.cfg.motion_dim}-d) was not trained in this "
                         f"renderer's {renderer.spec.dim}-d motion space")
    with torch.inference_mode():
        m_true = torch.cat([renderer.encode_motion(to_image(true[a:a + 32]).permute(0, 3, 1, 2))
                            for a in range(0, len(true), 32)])
    frames = {"true video": true, "renderer, true motion": render(renderer, portrait, m_true, size)}
    if space == "renderer":
        ident = renderer.encode_portrait(portrait.permute(0, 3, 1, 2))[1][0]
        gen, ref = generate(bundle, raw, ident, seed, steps, guidance, strength)
        frames["renderer, generated"] = render(renderer, portrait, gen, size)
        frames["renderer, generated + LipRefine"] = render(renderer, portrait, ref, size)
    else:
        from ..training.motion_data import GroundTruthMotion
        gen, ref = generate(bundle, raw, None, seed, steps, guidance, strength)
        ident_vec = corpus.load_arrays(rec)["identity"]
        for name, m in (("synthetic face, generated", gen), ("synthetic face, generated + LipRefine", ref)):
            frames[name] = render_gt_space(GroundTruthMotion(), ident_vec, m.numpy(), size)
    opening, ident_curves, notes = {}, {}, {}
    if lipsync:
        from .face_judges import MediaPipeMesh
        with MediaPipeMesh() as mesh:
            opening = {k: mediapipe_openings(f, mesh) / f.shape[1] for k, f in frames.items()}
    if identity:
        from .face_judges import DlibFace
        judge = DlibFace()
        ident_curves["true video vs its first frame"] = identity_curve(judge, true[0], true, identity_every)
        main = "renderer, generated + LipRefine" if space == "renderer" else "renderer, true motion"
        ident_curves[main + " vs portrait"] = identity_curve(judge, true[0], frames[main], identity_every)
        if scfp is not None and space == "renderer":
            img, _ = scfp.sample(torch.from_numpy(wave), n=1, seed=seed, prior_mode="adaptive")  # [1,H,W,3]
            ident = renderer.encode_portrait(img.permute(0, 3, 1, 2))[1][0]
            _, ref_s = generate(bundle, raw, ident, seed, steps, guidance, strength)
            spoken = render(renderer, img, ref_s, size)
            face = (img[0].numpy() * 255).round().astype(np.uint8)
            ident_curves["speech only: SCFP portrait -> motion -> renderer, vs that portrait"] = \
                identity_curve(judge, face, spoken, identity_every)
            a, b = judge.analyse(face), judge.analyse(true[0])
            if a is not None and b is not None:
                notes["scfp_portrait_to_true_face"] = float(np.linalg.norm(a.embedding - b.embedding))
    return ClipRun(rec.id, float(corpus.fps), space, opening, ident_curves, notes)


def opening_stats(run: ClipRun) -> dict[str, dict]:
    """Per curve (not the true video): Pearson correlation with the true video's opening over frames
    where both found a face, std ratio, frames used, and (faces in every frame) the best lag of the
    generated curves."""
    t = run.opening["true video"]
    out = {}
    for name, o in run.opening.items():
        if name == "true video":
            continue
        ok = np.isfinite(o) & np.isfinite(t)
        row = {"frames": int(ok.sum()), "detected": float(np.isfinite(o).mean()),
               "corr": _corr(o[ok], t[ok]) if ok.sum() > 2 and o[ok].std() > 0 and t[ok].std() > 0 else float("nan"),
               "std_ratio": float(o[ok].std() / t[ok].std()) if ok.sum() > 2 and t[ok].std() > 0 else float("nan")}
        if "generated" in name and ok.all() and len(t) > 12 and o.std() > 0:
            row["best_lag"] = best_lag([o], [t])[0]  # frames, + = video late
        out[name] = row
    return out


def identity_stats(run: ClipRun) -> dict[str, dict]:
    """Per curve: frames judged, mean / max distance, share of frames dlib calls the same person."""
    out = {}
    for name, d in run.identity.items():
        v = d[np.isfinite(d)]
        out[name] = {"frames": int(v.size), "mean": float(v.mean()) if v.size else float("nan"),
                     "max": float(v.max()) if v.size else float("nan"),
                     "same_person": float((v < SAME_PERSON).mean()) if v.size else float("nan")}
    return out
