"""``spacetime-patchifier``: a latent video cut into spacetime patches with 3D positions, and back."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.interfaces import Patchifier
from sora_core.ports import PortSpec
from sora_dit.naming import label

_AXES = ("frames (t)", "height (h)", "width (w)")


class SpacetimePatchifierConfig(ParticleConfig):
    """Patch size along time, height and width, and the latent's channels."""

    patch_t: int = Field(1, gt=0, description="latent frames per patch")
    patch_h: int = Field(2, gt=0, description="latent rows per patch")
    patch_w: int = Field(2, gt=0, description="latent columns per patch")
    channels: int = Field(8, gt=0, description="latent channels (c)")


class SpacetimePatchifier(Patchifier):
    """Cuts a latent ``(B, c, t, h, w)`` into non-overlapping ``pt x ph x pw`` spacetime patches.

    ``tokens`` are the patches flattened to ``D = c * pt * ph * pw`` features (channel-major,
    then time, row, column inside the patch), in time-row-column order of the patches, so
    ``N = (t / pt) * (h / ph) * (w / pw)``. ``positions`` are each token's patch indices
    ``(t, h, w)`` as float32, the same for every batch item. Any duration, resolution and
    aspect ratio works as long as each size is a multiple of its patch size. This is a pure
    rearrangement (no weights); :meth:`unpatchify` inverts it exactly, placing each token
    by its position, so tokens may come back in any order.
    """

    Config = SpacetimePatchifierConfig
    config: SpacetimePatchifierConfig
    description = "latent (B, c, t, h, w) -> spacetime patch tokens (B, N, c*pt*ph*pw) + 3D positions, and back"

    def __init__(self, config: SpacetimePatchifierConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)

    @property
    def patch_size(self) -> tuple[int, int, int]:
        """``(pt, ph, pw)``."""
        return self.config.patch_t, self.config.patch_h, self.config.patch_w

    @property
    def token_size(self) -> int:
        """Features per token, ``c * pt * ph * pw``."""
        pt, ph, pw = self.patch_size
        return self.config.channels * pt * ph * pw

    def input_ports(self) -> dict[str, PortSpec]:
        pt, ph, pw = self.patch_size
        return {
            "latent": PortSpec(
                "float32",
                f"B c={self.config.channels} t h w",
                description=f"latent video; t, h, w multiples of {pt}, {ph}, {pw}",
            )
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "tokens": PortSpec("float32", f"B N D={self.token_size}", description="one token per spacetime patch"),
            "positions": PortSpec("float32", "B N 3", description="patch indices (t, h, w) of each token"),
        }

    @classmethod
    def example_inputs(
        cls, config: SpacetimePatchifierConfig, batch: int, generator: torch.Generator
    ) -> dict[str, Any]:
        """A latent whose sizes are 2, 3 and 4 patches long (the kit's free sizes need not divide)."""
        shape = (batch, config.channels, 2 * config.patch_t, 3 * config.patch_h, 4 * config.patch_w)
        return {"latent": torch.randn(shape, generator=generator)}

    def grid(self, latent_shape: tuple[int, ...] | torch.Size) -> tuple[int, int, int]:
        """Patches along time, height and width for a latent of ``latent_shape``; a clear error if they do not fit."""
        name = label(self)
        if len(latent_shape) != 5:
            raise PortError(
                f"{name}: latent has shape {tuple(latent_shape)}, rank {len(latent_shape)}; expected (B, c, t, h, w)",
                "pass a 5-dimensional latent video",
            )
        if latent_shape[1] != self.config.channels:
            raise PortError(
                f"{name}: latent has {latent_shape[1]} channels (dimension 1), but channels={self.config.channels}",
                "configure the patchifier's channels to the latent's",
            )
        counts = []
        for axis, (size, patch, field) in enumerate(
            zip(latent_shape[2:], self.patch_size, ("patch_t", "patch_h", "patch_w"), strict=True)
        ):
            if size % patch:
                raise PortError(
                    f"{name}: latent {_AXES[axis]} = {size} (dimension {axis + 2}) is not divisible by {field}={patch}",
                    f"use a latent whose {_AXES[axis].split()[0]} is a multiple of {patch}, or a smaller {field}",
                )
            counts.append(size // patch)
        return counts[0], counts[1], counts[2]

    def positions_for(self, grid: tuple[int, int, int], batch: int, device: Any = None) -> Tensor:
        """Patch indices ``(batch, N, 3)`` (float32) of a ``grid`` of patches, in token order."""
        axes = [torch.arange(n, device=device, dtype=torch.float32) for n in grid]
        mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(1, -1, 3)
        return mesh.expand(batch, -1, -1)

    def forward(self, latent: Tensor) -> dict[str, Tensor]:
        nt, nh, nw = self.grid(latent.shape)
        pt, ph, pw = self.patch_size
        b, c = latent.shape[:2]
        patches = latent.reshape(b, c, nt, pt, nh, ph, nw, pw).permute(0, 2, 4, 6, 1, 3, 5, 7)
        tokens = patches.reshape(b, nt * nh * nw, self.token_size)
        return {"tokens": tokens, "positions": self.positions_for((nt, nh, nw), b, latent.device)}

    def unpatchify(self, tokens: Tensor, positions: Tensor | None, latent_shape: tuple[int, ...]) -> Tensor:
        """The latent of ``latent_shape`` whose patches are ``tokens`` ``(B, N, D)`` at ``positions`` ``(B, N, 3)``.

        ``positions=None`` means the tokens are in :meth:`forward`'s order. Differentiable.
        """
        latent_shape = tuple(int(s) for s in latent_shape)
        nt, nh, nw = self.grid(latent_shape)
        pt, ph, pw = self.patch_size
        b, c = latent_shape[:2]
        count = nt * nh * nw
        expected = (b, count, self.token_size)
        if tuple(tokens.shape) != expected:
            raise PortError(
                f"{label(self)}: tokens have shape {tuple(tokens.shape)}, but a latent of shape "
                f"{latent_shape} needs {expected} (B, N, D)",
                "pass the latent shape the tokens were cut from",
            )
        if positions is not None:
            if tuple(positions.shape) != (b, count, 3):
                raise PortError(
                    f"{label(self)}: positions have shape {tuple(positions.shape)}, expected {(b, count, 3)}",
                    "pass the positions forward returned with the tokens",
                )
            index = positions.round().long()
            grid = torch.tensor((nt, nh, nw), device=index.device)
            if bool(((index < 0) | (index >= grid)).any()):
                raise PortError(
                    f"{label(self)}: positions fall outside the {nt}x{nh}x{nw} patch grid of {latent_shape}",
                    "pass the positions forward returned with the tokens",
                )
            flat = (index[..., 0] * nh + index[..., 1]) * nw + index[..., 2]
            ordered = torch.arange(count, device=flat.device)
            if not bool((flat == ordered).all()):
                tokens = tokens.new_zeros(expected).scatter(1, flat.unsqueeze(-1).expand(expected), tokens)
        patches = tokens.reshape(b, nt, nh, nw, c, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return patches.reshape(latent_shape)
