"""The holistic motion latent m = [lips | expression | eyes | head pose] of the HRTF renderer.

"See the Speaker" (arXiv 2510.26819), HRTF stage: an identity encoder and a motion encoder give a
holistic motion latent covering lips, expression, eyes and head pose; motion diffusion generates it
from speech, lip refinement edits its lip part, and the renderer turns it into frames. This file is
the one definition of its layout, shared by the renderer (models/renderer.py), the motion
diffusion and lip refinement models, and the STS_MOTION payload (payloads.MotionSequence).

Meaning of the parts (ours): each part is read by the motion encoder from one face region of the
canonical aligned crop and only drives that region in the renderer's motion warper
(models/motion_warp.py gates each part's flow/occlusion/features by the part's region mask):

    lips        mouth and jaw (mouth region incl. chin)             lips[0] ~ inner-lip opening,
                                                                    lips[1] ~ mouth width (weak
                                                                    landmark targets in training)
    expression  smile, brows, cheeks (whole-face region)
    eyes        blinks and gaze (both eye regions)                  eyes[0], eyes[1] ~ image-left /
                                                                    image-right eye opening
    head_pose   6 numbers: a 2x3 affine A - I of the face in the crop (normalised [-1, 1] coords),
                canonical face -> frame, fitted to the 5 canonical landmarks in training; the
                non-affine part of yaw/pitch is handled by the warper's whole-face residual flow
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PART_NAMES = ("lips", "expression", "eyes", "head_pose")


@dataclass
class MotionLatentSpec:
    lips: int = 8  # mouth/jaw articulation
    expression: int = 6  # smile, brows, cheeks
    eyes: int = 4  # blinks, gaze
    head_pose: int = 6  # affine head pose A - I (row-major 2x3), fixed at 6

    def __post_init__(self):
        if self.head_pose != 6:
            raise ValueError(f"head_pose must have 6 dims (a 2x3 affine), got {self.head_pose}")
        if min(self.lips, self.expression, self.eyes) < 2:
            raise ValueError("lips, expression and eyes need at least 2 dims each")

    @property
    def dim(self) -> int:
        """Total width D of the latent."""
        return self.lips + self.expression + self.eyes + self.head_pose

    def sizes(self) -> dict[str, int]:
        return {n: getattr(self, n) for n in PART_NAMES}

    def parts(self) -> dict[str, tuple[int, int]]:
        """name -> [start, end) column slice, in order; the `parts` of payloads.MotionSequence."""
        out, start = {}, 0
        for name in PART_NAMES:
            out[name] = (start, start + getattr(self, name))
            start += getattr(self, name)
        return out

    def split(self, m: torch.Tensor) -> dict[str, torch.Tensor]:
        """[..., D] -> {name: [..., size]} (views)."""
        if m.shape[-1] != self.dim:
            raise ValueError(f"motion latent has {m.shape[-1]} dims, spec says {self.dim}")
        return {n: m[..., a:b] for n, (a, b) in self.parts().items()}

    def join(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """{name: [..., size]} -> [..., D]."""
        return torch.cat([parts[n] for n in PART_NAMES], dim=-1)

    def replace(self, m: torch.Tensor, name: str, value: torch.Tensor) -> torch.Tensor:
        """Copy of m [..., D] with part `name` set to value [..., size] (for edits and probes)."""
        a, b = self.parts()[name]
        out = m.clone()
        out[..., a:b] = value
        return out


def pose_matrix(pose: torch.Tensor) -> torch.Tensor:
    """head_pose part [..., 6] -> affine [..., 2, 3] = I + pose (canonical -> frame, [-1, 1] coords)."""
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=pose.dtype, device=pose.device)
    return eye + pose.reshape(*pose.shape[:-1], 2, 3)
