"""Motion wrapper of the HRTF renderer (arXiv 2510.26819 stage 2, "motion wrapper").

(appearance features, source motion, driving motion) -> dense flow + occlusion -> warped features.
2D warping at 32² (features) and 64² (skip): 3D feature-volume warping costs seconds per frame on
a CPU (DESIGN §6). Two layers of motion:

1. head pose, global: the head_pose parts are affines canonical -> frame (motion_latent.pose_matrix);
   a driving pixel q samples the source at A_src · A_drv⁻¹ · q (theta for F.affine_grid), and
   c = A_drv⁻¹ · q is its canonical position, used to place the region masks;
2. per-part local motion: one small shared conv net is run once per part k (lips, expression,
   eyes, head_pose) on [pose-warped features, embedding of (m_src_k, m_drv_k - m_src_k) painted
   into region k's mask, mask k, canonical coords, part one-hot]; its residual flow, occlusion
   logit and generated features (for content the source does not show: teeth, closed lids) are
   multiplied by mask k and summed. Part k's inputs never reach another region, so editing the
   lips moves the mouth, not the eyes (the per-component probe of evaluation/eval_renderer.py
   measures how well that holds after decoding).

warped = occ · grid_sample(feat, grid) + (1 - occ) · generated;  skip likewise at 64² (occluded
skip detail is zeroed: the decoder fills it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from .motion_latent import PART_NAMES, MotionLatentSpec, pose_matrix
from .render_blocks import ResBlock, conv3, part_masks


@dataclass
class MotionWarpConfig:
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # latent layout
    feat_ch: int = 96  # appearance feature channels at 32² (IdentityEncoderConfig.feat_ch)
    skip_ch: int = 32  # skip channels at 64² (IdentityEncoderConfig.skip_ch)
    hidden: int = 32  # width of the per-part flow net
    emb: int = 16  # per-part motion embedding painted into the region
    gen_ch: int = 16  # generated-feature channels (projected to feat_ch)
    flow_scale: float = 0.15  # max residual flow, in [-1,1] units (0.15 = 7.5% of the crop)


def _invert_affine(a: torch.Tensor) -> torch.Tensor:
    """[B,2,3] -> [B,2,3] inverse affine."""
    lin, t = a[:, :, :2], a[:, :, 2:]
    inv = torch.linalg.inv(lin)
    return torch.cat([inv, -inv @ t], dim=2)


def _compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a ∘ b for [B,2,3] affines (apply b first)."""
    return torch.cat([a[:, :, :2] @ b[:, :, :2], a[:, :, :2] @ b[:, :, 2:] + a[:, :, 2:]], dim=2)


@dataclass
class WarpResult:
    feat: torch.Tensor  # [B,F,32,32] warped appearance features
    skip: torch.Tensor  # [B,S,64,64] warped skip features
    grid: torch.Tensor  # [B,32,32,2] sampling grid (driving pixel -> source position, [-1,1])
    occlusion: torch.Tensor  # [B,1,32,32] 1 = visible in the source, 0 = generated
    masks: dict[str, torch.Tensor]  # region masks [B,1,32,32] in the driving frame


class MotionWarp(nn.Module):
    def __init__(self, cfg: MotionWarpConfig = MotionWarpConfig()):
        super().__init__()
        self.cfg = cfg
        s = cfg.spec.sizes()
        self.embed = nn.ModuleDict({n: nn.Sequential(nn.Linear(2 * s[n], 64), nn.SiLU(), nn.Linear(64, cfg.emb))
                                    for n in PART_NAMES})
        self.reduce = nn.Conv2d(cfg.feat_ch, cfg.hidden, 1)
        cin = cfg.hidden + cfg.emb + 1 + 2 + len(PART_NAMES)
        self.net = nn.Sequential(conv3(cin, cfg.hidden), nn.SiLU(), ResBlock(cfg.hidden), nn.SiLU())
        self.out = conv3(cfg.hidden, 3 + cfg.gen_ch)  # flow (2), occlusion logit (1), generated
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.gen_proj = nn.Conv2d(cfg.gen_ch, cfg.feat_ch, 1)
        self.occ_bias = nn.Parameter(torch.tensor(4.0))  # start fully visible

    def masks(self, coords: torch.Tensor) -> dict[str, torch.Tensor]:
        """coords [B,H,W,2] canonical positions -> {part: [B,1,H,W]} (head_pose: everywhere)."""
        out = part_masks(coords)
        out["head_pose"] = torch.ones_like(out["lips"])
        return out

    def forward(self, feat: torch.Tensor, skip: torch.Tensor, m_src: torch.Tensor, m_drv: torch.Tensor) -> WarpResult:
        """feat [B,F,32,32], skip [B,S,64,64], m_src/m_drv [B,D] -> WarpResult."""
        cfg, spec = self.cfg, self.cfg.spec
        b, _, h, w = feat.shape
        ps, pd = spec.split(m_src), spec.split(m_drv)
        a_src, a_drv = pose_matrix(ps["head_pose"]), pose_matrix(pd["head_pose"])  # [B,2,3]
        a_drv_inv = _invert_affine(a_drv)
        size = (b, 1, h, w)
        coords = F.affine_grid(a_drv_inv, size, align_corners=False)  # [B,h,w,2] canonical
        base = F.affine_grid(_compose(a_src, a_drv_inv), size, align_corners=False)  # [B,h,w,2] source
        masks = self.masks(coords)
        f0 = self.reduce(F.grid_sample(feat, base, align_corners=False, padding_mode="border"))  # [B,hid,h,w]
        inputs = []
        for k, name in enumerate(PART_NAMES):
            e = self.embed[name](torch.cat([ps[name], pd[name] - ps[name]], -1))  # [B,emb]
            onehot = torch.zeros(b, len(PART_NAMES), h, w, dtype=feat.dtype, device=feat.device)
            onehot[:, k] = 1
            inputs.append(torch.cat([f0, e[:, :, None, None] * masks[name], masks[name],
                                     coords.permute(0, 3, 1, 2), onehot], 1))
        o = self.out(self.net(torch.cat(inputs, 0)))  # [P*B, 3+G, h, w]
        o = o.view(len(PART_NAMES), b, -1, h, w)
        m = torch.stack([masks[n] for n in PART_NAMES], 0)  # [P,B,1,h,w]
        o = (o * m).sum(0)  # [B,3+G,h,w]
        flow = cfg.flow_scale * torch.tanh(o[:, :2]).permute(0, 2, 3, 1)  # [B,h,w,2]
        grid = base + flow
        occ = torch.sigmoid(o[:, 2:3] + self.occ_bias)  # [B,1,h,w]
        gen = self.gen_proj(o[:, 3:])  # [B,F,h,w]
        warped = occ * F.grid_sample(feat, grid, align_corners=False, padding_mode="border") + (1 - occ) * gen
        grid64, occ64 = upsample_warp(grid, occ, skip.shape[-2:])
        skip_w = occ64 * F.grid_sample(skip, grid64, align_corners=False, padding_mode="border")
        return WarpResult(warped, skip_w, grid, occ, masks)


def upsample_warp(grid: torch.Tensor, occ: torch.Tensor, size) -> tuple[torch.Tensor, torch.Tensor]:
    """grid [B,h,w,2] + occlusion [B,1,h,w] -> both bilinearly resized to `size` (H, W)."""
    grid = F.interpolate(grid.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    return grid, F.interpolate(occ, size=size, mode="bilinear", align_corners=False)


def warp_image(image: torch.Tensor, wr: WarpResult) -> torch.Tensor:
    """The portrait's pixels moved by the warp: image [B,3,S,S] -> [B,4,S,S] = (warped RGB, visibility),
    the 32² grid and occlusion map bilinearly upsampled to S (the HR decoder's pixel path)."""
    grid, occ = upsample_warp(wr.grid, wr.occlusion, image.shape[-2:])
    return torch.cat([F.grid_sample(image, grid, align_corners=False, padding_mode="border"), occ], 1)
