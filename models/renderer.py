"""The HRTF renderer bundle (arXiv 2510.26819 stage 2): identity encoder, motion encoder, motion
wrapper, VQ codebook (+ its encoder), code transformer and HR decoder in one module, kind
"renderer" (checkpoint.py).

    portrait ──IdentityEncoder──► Appearance (feat 32², skip 64², [pixels at out²]), identity vector
    frames   ──MotionEncoder────► motion latent [T, D] = [lips | expression | eyes | head_pose]
    Appearance + m_src + m_drv ──MotionWarp──► warped feat/skip (+ warped pixels: warp_image)
                                 └─CodeTransformer─► code indices ─VQ lookup─► codebook features
    codebook features + fidelity·warped ──HRDecoder──► frames [B,3,out,out]
    m_drv ──MouthLayout──► lip points ─► mouth-interior mask ─► interior painted over the frames
                                                               (bundles with mouth_interior)

Public API: `encode_portrait(img)`, `encode_motion(frames)`, `render(appearance, source_motion,
driving_motion, fidelity, out_size)`. Images are [B,3,H,W] float 0..1 canonical aligned crops
(data/face_align.py makes them from any photo); any H=W is resized to the 128² internal size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn
import torch.nn.functional as F

from ..checkpoint import register_kind
from .code_transformer import CodeTransformer, CodeTransformerConfig
from .hr_decoder import HRDecoder, HRDecoderConfig
from .identity_encoder import Appearance, IdentityEncoder, IdentityEncoderConfig
from .motion_encoder import MotionEncoder, MotionEncoderConfig
from .motion_latent import MotionLatentSpec
from .motion_warp import MotionWarp, MotionWarpConfig, WarpResult, warp_image
from .mouth_layout import MouthLayout, MouthLayoutConfig
from .render_blocks import to_internal
from .vq_codebook import CodebookEncoder, VectorQuantizer, VQConfig

KIND = "renderer"


@dataclass
class RendererConfig:
    size: int = 128  # internal resolution (inputs are resized to it)
    spec: MotionLatentSpec = field(default_factory=MotionLatentSpec)  # motion latent layout
    identity: IdentityEncoderConfig = field(default_factory=IdentityEncoderConfig)
    motion: MotionEncoderConfig = field(default_factory=MotionEncoderConfig)
    warp: MotionWarpConfig = field(default_factory=MotionWarpConfig)
    vq: VQConfig = field(default_factory=VQConfig)
    transformer: CodeTransformerConfig = field(default_factory=CodeTransformerConfig)
    decoder: HRDecoderConfig = field(default_factory=HRDecoderConfig)
    default_fidelity: float = 1.0  # fidelity the nodes start with (1 = follow the portrait)
    mouth_interior: bool = False  # paint the mouth's interior from the driving motion (mouth_layout.py); False = older bundles
    layout: MouthLayoutConfig = field(default_factory=MouthLayoutConfig)  # used with mouth_interior

    def __post_init__(self):
        # keep the nested configs consistent with the shared sizes
        self.motion.spec = self.warp.spec = self.layout.spec = self.spec
        f, s = self.identity.feat_ch, self.identity.skip_ch
        self.warp.feat_ch = self.transformer.feat_ch = self.decoder.feat_ch = f
        self.warp.skip_ch = self.decoder.skip_ch = s
        self.transformer.n_codes = self.vq.n_codes
        self.decoder.code_dim = self.vq.code_dim


class Renderer(nn.Module):
    def __init__(self, cfg: RendererConfig = RendererConfig()):
        super().__init__()
        self.cfg = cfg
        self.identity_encoder = IdentityEncoder(cfg.identity)
        self.motion_encoder = MotionEncoder(cfg.motion)
        self.warp = MotionWarp(cfg.warp)
        self.codebook_encoder = CodebookEncoder(cfg.vq)
        self.quantizer = VectorQuantizer(cfg.vq)
        self.code_transformer = CodeTransformer(cfg.transformer)
        self.decoder = HRDecoder(cfg.decoder)
        self.mouth_layout = MouthLayout(cfg.layout) if cfg.mouth_interior else None

    @property
    def spec(self) -> MotionLatentSpec:
        return self.cfg.spec

    @property
    def out_size(self) -> int:
        return self.cfg.decoder.out_size

    def _param(self) -> torch.Tensor:
        return self.decoder.to_rgb.weight

    def _prep(self, img: torch.Tensor) -> torch.Tensor:
        p = self._param()
        return to_internal(img.to(device=p.device, dtype=p.dtype), self.cfg.size)

    # --- public API ----------------------------------------------------------------------------
    def encode_portrait(self, img: torch.Tensor) -> tuple[Appearance, torch.Tensor]:
        """img [B,3,H,W] 0..1 aligned crop -> (Appearance, identity [B,id_dim]). With the decoder's
        pixel path the Appearance also keeps the portrait's pixels at the decoder's output size."""
        app, identity = self.identity_encoder(self._prep(img))
        if self.cfg.decoder.pixel_path:
            p = self._param()
            app.image = to_internal(img.to(device=p.device, dtype=p.dtype), self.out_size)
        return app, identity

    def encode_motion(self, frames: torch.Tensor) -> torch.Tensor:
        """frames [T,3,H,W] 0..1 aligned crops -> motion latent [T,D]."""
        return self.motion_encoder(self._prep(frames))

    def render(self, appearance: Appearance, source_motion: torch.Tensor, driving_motion: torch.Tensor,
               fidelity: float | torch.Tensor = 1.0, out_size: int | None = None) -> torch.Tensor:
        """Appearance (batch 1 or B) + source_motion [1|B,D] + driving_motion [B,D] -> frames
        [B,3,out_size,out_size] in 0..1. out_size defaults to the decoder's native size; other
        sizes are resampled (bicubic up / area down) from the native output."""
        b = driving_motion.shape[0]
        if appearance.feat.shape[0] == 1 and b > 1:
            appearance = appearance.expand(b)
        if source_motion.shape[0] == 1 and b > 1:
            source_motion = source_motion.expand(b, -1)
        out, _ = self.decode(appearance, source_motion, driving_motion, fidelity)
        out = out.clamp(0, 1)
        if out_size is not None and out_size != out.shape[-1]:
            mode = "bicubic" if out_size > out.shape[-1] else "area"
            kw = {"align_corners": False} if mode == "bicubic" else {}
            out = F.interpolate(out, size=(out_size, out_size), mode=mode, **kw).clamp(0, 1)
        return out

    # --- building blocks used by render() and training -----------------------------------------
    def decode(self, appearance: Appearance, m_src: torch.Tensor, m_drv: torch.Tensor,
               fidelity: float | torch.Tensor = 1.0) -> tuple[torch.Tensor, dict]:
        """-> (frames [B,3,out,out] unclamped, aux {warp: WarpResult, logits: [B,16,16,K],
        [mouth_points: [B,20,2] lip points in the frame, [-1,1], with mouth_interior]})."""
        wr: WarpResult = self.warp(appearance.feat, appearance.skip, m_src, m_drv)
        logits = self.code_transformer(wr.feat)  # [B,16,16,K]
        codes = self.quantizer.lookup(logits.argmax(-1))  # [B,code_dim,16,16]
        pixels = warp_image(appearance.image, wr) if appearance.image is not None else None  # [B,4,out,out]
        out = self.decoder(codes, wr.feat, wr.skip, fidelity, pixels)
        aux = {"warp": wr, "logits": logits}
        if self.mouth_layout is not None:
            out, aux["mouth_points"] = self.mouth_layout.paint(out, m_drv)
        return out, aux

    def autoencode(self, img: torch.Tensor) -> tuple[torch.Tensor, "object"]:
        """Codebook autoencoder (phase 1): img [B,3,H,W] -> (reconstruction [B,3,out,out], VQOutput)."""
        vq = self.quantizer(self.codebook_encoder(self._prep(img)))
        return self.decoder(vq.quantized, None, None, 0.0), vq

    @torch.no_grad()
    def target_codes(self, img: torch.Tensor) -> torch.Tensor:
        """Codebook indices of real frames [B,3,H,W] -> [B,16,16] (the code transformer's targets)."""
        return self.quantizer(self.codebook_encoder(self._prep(img))).indices


def build_renderer(cfg: RendererConfig) -> Renderer:
    return Renderer(cfg)


register_kind(KIND, RendererConfig, build_renderer,
              "HRTF renderer: identity/motion encoders, motion warper, VQ codebook + code transformer, HR decoder")


# --- streaming helpers used by the nodes (bounded memory: one chunk of frames at a time) ---------

@torch.inference_mode()
def motion_from_frames(renderer: Renderer, frames: torch.Tensor, batch: int = 32, progress=None) -> torch.Tensor:
    """frames [T,H,W,3] 0..1 (IMAGE layout, aligned crops) -> motion latent [T,D] float32 on CPU.
    progress(n) is called after each chunk with the number of frames done in it."""
    p = renderer._param()
    out = torch.empty(frames.shape[0], renderer.spec.dim, dtype=torch.float32)
    for a in range(0, frames.shape[0], batch):
        chunk = frames[a:a + batch].to(device=p.device, dtype=p.dtype).permute(0, 3, 1, 2)
        out[a:a + chunk.shape[0]] = renderer.encode_motion(chunk).float().cpu()
        if progress is not None:
            progress(chunk.shape[0])
    return out


@torch.inference_mode()
def iter_render(renderer: Renderer, portrait: torch.Tensor, motion: torch.Tensor, fidelity: float = 1.0,
                out_size: int | None = None, batch: int = 16, progress=None,
                channels_last: bool | None = None) -> Iterator[torch.Tensor]:
    """portrait [1,H,W,3] 0..1 (aligned crop) + motion [T,D] -> chunks of frames [b,S,S,3] float32
    on the renderer's device, b <= batch. The portrait is encoded once; working memory is one chunk
    whatever T is. progress(b) after each chunk has been consumed. channels_last (None = on CPU)
    converts the module's weights once: 10–50 % faster on 2 CPU cores (benchmarks/render_speed.py)."""
    p = renderer._param()
    if channels_last is None:
        channels_last = p.device.type == "cpu"
    if channels_last and not p.is_contiguous(memory_format=torch.channels_last):
        renderer.to(memory_format=torch.channels_last)
        p = renderer._param()
    img = portrait[:1].to(device=p.device, dtype=p.dtype).permute(0, 3, 1, 2)
    app, _ = renderer.encode_portrait(img)
    m_src = renderer.encode_motion(img)  # [1,D]
    size = out_size or renderer.out_size
    batch = max(1, int(batch))
    for a in range(0, motion.shape[0], batch):
        m = motion[a:a + batch].to(device=p.device, dtype=p.dtype)
        frames = renderer.render(app, m_src, m, fidelity, size)  # [b,3,S,S]
        yield frames.permute(0, 2, 3, 1).float()
        if progress is not None:
            progress(m.shape[0])


def render_sequence(renderer: Renderer, portrait: torch.Tensor, motion: torch.Tensor, fidelity: float = 1.0,
                    out_size: int | None = None, batch: int = 16, progress=None,
                    out_device: torch.device | str = "cpu", channels_last: bool | None = None) -> torch.Tensor:
    """portrait [1,H,W,3] + motion [T,D] -> all frames [T,S,S,3] float32 on out_device (iter_render
    into one preallocated output: only the output grows with T)."""
    size = out_size or renderer.out_size
    out = torch.empty(motion.shape[0], size, size, 3, dtype=torch.float32, device=out_device)
    a = 0
    for frames in iter_render(renderer, portrait, motion, fidelity, size, batch, progress, channels_last):
        out[a:a + frames.shape[0]] = frames.to(out_device)
        a += frames.shape[0]
    return out
