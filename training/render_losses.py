"""Losses and weak targets for training the HRTF renderer (arXiv 2510.26819 stage 2) without any
pretrained perceptual network (none is available offline, see OFFLINE.md):

* pixel L1, SSIM at two scales and image-gradient L1 (edges), a mouth/eye-weighted L1 from the
  driving frame's landmarks (lip sync and blinks live in few pixels);
* a landmark correspondence loss on the warper's sampling grid (driving landmark -> source
  landmark), which makes the flow itself move the lips and jaw;
* motion consistency: the renderer's own (frozen) motion encoder reads the rendered frame, and its
  lips / eyes / expression parts must match the driving motion the frame was rendered from (a
  cycle through the motion space, the renderer's analogue of Wav2Lip's frozen-expert loss);
* weak motion targets computed from 68-point landmarks — available for real video as well as the
  synthetic corpus, unlike the synthetic ground-truth parameters, which are for evaluation only:
  head-pose affine (canonical 5 points -> frame 5 points), inner-lip opening and mouth width, and
  the two eye openings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..data.canonical import CANONICAL_5, landmarks68_to_5


def _gauss_window(size: int = 11, sigma: float = 1.5, device=None, dtype=None) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, reduce: bool = True) -> torch.Tensor:
    """SSIM (Wang et al. 2004; Gaussian 11-tap window, σ 1.5, data range 1) of [B,C,H,W] images
    -> scalar mean (or [B] per image)."""
    c = a.shape[1]
    g = _gauss_window(device=a.device, dtype=a.dtype)
    gx = g.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    gy = g.view(1, 1, -1, 1).expand(c, 1, -1, 1)

    def blur(x):
        return F.conv2d(F.conv2d(x, gx, groups=c), gy, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    saa = blur(a * a) - mu_a * mu_a
    sbb = blur(b * b) - mu_b * mu_b
    sab = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return s.mean() if reduce else s.flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of [B,C,H,W] images in 0..1 -> [B]."""
    mse = (a.clamp(0, 1) - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return -10 * torch.log10(mse)


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def region_weights(landmarks: torch.Tensor, size: int, crop_size: int, gain: float = 3.0) -> torch.Tensor:
    """1 + gain · (Gaussian blobs on the mouth and both eyes) -> [B,1,size,size].

    landmarks [B,68,2] in pixels of a crop of side `crop_size`."""
    lm = landmarks * (size / crop_size)
    ys = torch.arange(size, device=lm.device, dtype=lm.dtype) + 0.5
    yy, xx = torch.meshgrid(ys, ys, indexing="ij")
    blobs = []
    for a, b, r in ((48, 68, 0.09), (36, 42, 0.06), (42, 48, 0.06)):
        c = lm[:, a:b].mean(1)  # [B,2]
        d2 = (xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2
        blobs.append(torch.exp(-d2 / (2 * (r * size) ** 2)))
    return (1 + gain * torch.stack(blobs, 0).amax(0)).unsqueeze(1)


def reconstruction_loss(out: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """out/target [B,3,S,S]; weights [B,1,S,S] -> {l1, ssim (1-SSIM at S and S/2), grad, total}."""
    l1 = ((out - target).abs() * weights).mean() / weights.mean() if weights is not None else (out - target).abs().mean()
    half_o, half_t = F.avg_pool2d(out, 2), F.avg_pool2d(target, 2)
    s = 1 - 0.5 * (ssim(out, target) + ssim(half_o, half_t))
    g = gradient_l1(out, target)
    return {"l1": l1, "ssim": s, "grad": g, "total": l1 + 0.5 * s + 0.5 * g}


MOUTH_POINTS = slice(48, 68)  # ibug-68 outer + inner lips
MOUTH_BOX = 0.32  # mouth-crop side as a fraction of the image: an open mouth, its corners and chin line


def mouth_crops(img: torch.Tensor, landmarks: torch.Tensor, crop_size: int, out: int = 64,
                box: float = MOUTH_BOX) -> torch.Tensor:
    """Square crops around the mouth, differentiable in `img`.

    img [B,3,S,S]; landmarks [B,68,2] in pixels of a crop of side `crop_size` (any S: the crop is
    placed in relative coordinates); box = crop side as a fraction of the image -> [B,3,out,out]
    (bilinear)."""
    c = landmarks[:, MOUTH_POINTS].mean(1) / crop_size * 2 - 1  # [B,2] mouth centre in [-1,1]
    b = img.shape[0]
    theta = torch.zeros(b, 2, 3, dtype=img.dtype, device=img.device)
    theta[:, 0, 0] = theta[:, 1, 1] = box
    theta[:, :, 2] = c.to(img.dtype)
    grid = F.affine_grid(theta, (b, 3, out, out), align_corners=False)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def mouth_loss(out: torch.Tensor, target: torch.Tensor, landmarks: torch.Tensor, crop_size: int) -> torch.Tensor:
    """L1 + gradient L1 + (1 - SSIM) on the mouth crops of output and target at the output
    resolution (the lips part of the motion lives in these few pixels)."""
    side = max(32, round(MOUTH_BOX * out.shape[-1]))  # the crop at the image's own resolution
    o, t = mouth_crops(out, landmarks, crop_size, side), mouth_crops(target, landmarks, crop_size, side)
    return (o - t).abs().mean() + gradient_l1(o, t) + 0.5 * (1 - ssim(o, t))


def landmark_flow_loss(grid: torch.Tensor, lm_src: torch.Tensor, lm_drv: torch.Tensor, size: int) -> torch.Tensor:
    """Where the warp samples the source at each driving landmark vs where that landmark is in the source.

    grid [B,h,w,2]: backward sampling grid of the warp (driving position -> source position, [-1,1],
    x first, align_corners=False); lm_src/lm_drv [B,68,2] landmarks in pixels of frames of side
    `size`. -> scalar: mean L1 distance (in [-1,1] units) over all 68 points plus the mean over the
    20 lip points, so the mouth counts about 4x. A closed source mouth has its inner-lip points on
    one line; an open driving mouth then asks the flow to stretch the lips apart there, and the
    occlusion/generated features fill the gap."""
    q = (lm_drv / size * 2 - 1).to(grid.dtype)  # [B,68,2] driving positions
    p = (lm_src / size * 2 - 1).to(grid.dtype)  # [B,68,2] source positions
    sampled = F.grid_sample(grid.permute(0, 3, 1, 2), q[:, None], mode="bilinear", padding_mode="border",
                            align_corners=False)[:, :, 0].transpose(1, 2)  # [B,68,2]
    err = (sampled - p).abs().sum(-1)  # [B,68]
    return err.mean() + err[:, MOUTH_POINTS].mean()


def _canonical_norm() -> torch.Tensor:
    return torch.from_numpy(CANONICAL_5 * 2 - 1)  # [5,2] in [-1,1]


def pose_targets(landmarks: torch.Tensor, crop_size: int) -> torch.Tensor:
    """Head-pose affine A - I [B,6] (row-major 2x3) fitted by least squares from the canonical 5
    points to the frame's 5 points, in [-1,1] coordinates. landmarks [B,68,2] pixels."""
    p5 = torch.from_numpy(landmarks68_to_5(landmarks.detach().cpu().numpy())).to(landmarks)  # [B,5,2]
    dst = p5 / crop_size * 2 - 1
    src = _canonical_norm().to(landmarks)
    x = torch.cat([src, torch.ones(5, 1, dtype=src.dtype, device=src.device)], 1)  # [5,3]
    sol = torch.linalg.pinv(x) @ dst  # [B,3,2]: dst = x @ sol
    a = sol.transpose(1, 2)  # [B,2,3]
    eye = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=a.dtype, device=a.device)
    return (a - eye).flatten(1)


def mouth_eye_targets(landmarks: torch.Tensor, crop_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weak lip targets [B,2] (inner-lip opening ×10, mouth width − 0.18 ×10, fractions of the
    crop) and eye targets [B,2] (image-left, image-right lid opening ×20)."""
    lm = landmarks / crop_size
    dist = lambda i, j: (lm[:, i] - lm[:, j]).norm(dim=-1)  # noqa: E731
    lips = torch.stack([dist(62, 66) * 10, (dist(48, 54) - 0.18) * 10], -1)
    eyes = torch.stack([(dist(37, 41) + dist(38, 40)) * 10, (dist(43, 47) + dist(44, 46)) * 10], -1)
    return lips, eyes


CONSISTENCY_PARTS = ("lips", "eyes", "expression")  # local parts (head pose is the warp's affine)


def motion_consistency_loss(renderer, out: torch.Tensor, m_drv: torch.Tensor) -> torch.Tensor:
    """Frames rendered from driving motion m_drv [B,D] -> scalar: MSE between the motion encoder's
    reading of the frames out [B,3,S,S] and m_drv, over the local parts (CONSISTENCY_PARTS). The
    encoder is frozen by the caller (the mouth phase); gradients reach the frames only."""
    spec = renderer.spec
    read = spec.split(renderer.motion_encoder(F.interpolate(out, size=(renderer.cfg.size,) * 2, mode="area")))
    want = spec.split(m_drv)
    return sum(F.mse_loss(read[n], want[n].detach()) for n in CONSISTENCY_PARTS) / len(CONSISTENCY_PARTS)
