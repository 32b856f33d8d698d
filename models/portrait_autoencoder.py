"""Portrait autoencoder: the latent space of stage-1 diffusion (KL autoencoder, f = 8).

See the Speaker (arXiv 2510.26819) runs its portrait diffusion in the latent space of an image
autoencoder, as latent diffusion does. Ours is CPU-first (DESIGN §6): few channels at high
resolution, the parameters at 32², pixel-shuffle upsampling, no normalisation layers (so it
can be trained on random crops and applied to whole images: it is fully convolutional with a
small receptive field).

    image [B, 3, 256, 256] 0..1 -> encoder -> (mean, logvar) [B, 2·4, 32, 32] -> z [B, 4, 32, 32]
    z -> decoder -> image [B, 3, 256, 256]

Latents are used divided by `scale` (set from the data after training, stored in the bundle's
face prior), so the diffusion sees roughly unit variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AutoencoderConfig:
    latent_channels: int = 4  # channels of z
    enc_channels: tuple = (16, 32, 64, 128)  # encoder widths at 256 (stem), 128, 64, 32
    dec_channels: int = 128  # decoder width at 32²
    dec_blocks: int = 3  # residual blocks at 32² in the decoder
    up_channels: tuple = (64, 32, 16)  # widths after each pixel-shuffle x2 (64², 128², 256²)
    kl_weight: float = 5e-4  # weight of the KL term (per-element mean, like the L1 term)


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class Upsample(nn.Module):
    """x2 by pixel shuffle: conv c_in -> 4·c_out, shuffle, then a residual 3x3."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, 4 * c_out, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.refine = nn.Sequential(nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))

    def forward(self, x):
        x = self.shuffle(self.conv(x))
        return x + self.refine(x)


class PortraitAutoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.cfg = cfg
        c = cfg.enc_channels
        enc = [nn.Conv2d(3, c[0], 3, padding=1)]
        for a, b in zip(c[:-1], c[1:]):
            enc += [nn.SiLU(), nn.Conv2d(a, b, 4, stride=2, padding=1)]  # /2
        enc += [ResBlock(c[-1]), ResBlock(c[-1]), nn.SiLU(), nn.Conv2d(c[-1], 2 * cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec = [nn.Conv2d(cfg.latent_channels, cfg.dec_channels, 3, padding=1)]
        dec += [ResBlock(cfg.dec_channels) for _ in range(cfg.dec_blocks)]
        ch = cfg.dec_channels
        for u in cfg.up_channels:
            dec += [Upsample(ch, u)]
            ch = u
        dec += [nn.SiLU(), nn.Conv2d(ch, 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.cfg.enc_channels) - 1)

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image [B, 3, H, W] 0..1 -> (mean, logvar) each [B, C, H/8, W/8]."""
        mean, logvar = self.encoder(image * 2 - 1).chunk(2, dim=1)
        return mean, logvar.clamp(-20, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [B, C, h, w] -> image [B, 3, 8h, 8w] (unclamped; ~0..1)."""
        return self.decoder(z) * 0.5 + 0.5

    def forward(self, image: torch.Tensor, generator: torch.Generator | None = None):
        """Training pass: -> (reconstruction, mean, logvar) with z sampled from the posterior."""
        mean, logvar = self.encode(image)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + (0.5 * logvar).exp() * eps
        return self.decode(z), mean, logvar


def kl_loss(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent element, averaged."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()


def gradient_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 between image gradients (keeps edges sharp without a perceptual network)."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(x) - dx(y)).abs().mean() + (dy(x) - dy(y)).abs().mean()
