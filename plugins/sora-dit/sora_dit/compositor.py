"""``layer-compositor``: each prompt's object layers (one video each) composed into one video.

Made for layers drawn on a flat background, as ``object-prompts`` and the t2v denoiser make them:
each layer's background is its median colour, and a pixel belongs to the layer's object as far as
its colour is from that (a soft matte between ``matte_low`` and ``matte_high``). The first layer is
the base: its background and object stay where they are. Each later layer's object is moved by the
smallest whole-pixel shift that keeps it, in every frame, at least ``gap`` (a fraction of the
frame's shorter side) from what is already placed and wholly inside the frame (a shift moves the
path, not the motion along it); when no shift keeps it apart, the one that overlaps least. Then it
is pasted over the base through its matte. Given ``objects`` (how many objects each layer's prompt
asks for, from ``object-prompts``), a layer keeps only that many of its objects, the heaviest by
matte: the denoiser sometimes draws an extra copy of the object it was asked for, or a faint smudge.
Without it, a prompt of one layer passes through unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.particle import WeightlessParticle
from sora_core.ports import PortSpec
from sora_dit.hooks import VIDEO_COMPOSITOR
from sora_dit.naming import label

__all__ = ["LayerCompositor", "LayerCompositorConfig", "largest_objects", "matte", "place"]


class LayerCompositorConfig(ParticleConfig):
    """The matte's colour thresholds, how far around a dropped object is painted over, and how far apart layers'
    objects are kept."""

    matte_low: float = Field(
        0.15,
        ge=0,
        description="colour distance (RGB in [-1, 1]) from a layer's background below which a pixel is background",
    )
    matte_high: float = Field(0.35, gt=0, description="colour distance above which a pixel is wholly the layer's")
    gap: float = Field(
        0.09,
        ge=0,
        le=0.5,
        description="space kept between a layer's object and what is already placed, as a fraction of min(H, W) "
        "(0.09: as far apart as sora-synth's training scenes keep their objects)",
    )
    erase_margin: int = Field(
        4, ge=0, le=8, description="pixels around a dropped object also painted with the background (its faint rim)"
    )
    max_shift: float = Field(
        1.0, gt=0, le=1.0, description="largest shift tried, as a fraction of the frame's height and width"
    )

    @model_validator(mode="after")
    def _ordered(self) -> LayerCompositorConfig:
        if self.matte_high <= self.matte_low:
            raise ValueError(f"matte_high ({self.matte_high}) must exceed matte_low ({self.matte_low})")
        return self


def matte(video: Tensor, low: float, high: float) -> tuple[Tensor, Tensor]:
    """``video`` ``(C, T, H, W)``: its soft object matte ``(T, H, W)`` in ``[0, 1]`` and its background colour
    ``(C,)`` (the median over every pixel of every frame)."""
    background = video.flatten(1).median(dim=1).values
    distance = (video - background[:, None, None, None]).norm(dim=0)
    return ((distance - low) / (high - low)).clamp(0.0, 1.0), background


def place(occupied: Tensor, mask: Tensor, gap: int, max_shift: float = 1.0) -> tuple[int, int]:
    """The shift ``(dy, dx)`` in pixels for ``mask`` ``(T, H, W)`` (bool) that keeps it ``gap`` pixels from
    ``occupied`` ``(T, H, W)`` in every frame and inside the frame, the smallest such; else the least
    overlapping. ``(0, 0)`` for an empty mask."""
    _, height, width = mask.shape
    rows, columns = mask.any(dim=(0, 2)).nonzero(), mask.any(dim=(0, 1)).nonzero()
    if rows.numel() == 0:
        return 0, 0
    grown = mask.float()
    if gap:
        grown = F.max_pool2d(grown[None], kernel_size=2 * gap + 1, stride=1, padding=gap)[0]
    # overlap for every shift at once: the cross-correlation of the occupied pixels with the grown mask
    overlap = F.conv2d(occupied.float()[None], grown[None], padding=(height - 1, width - 1))[0, 0]
    reach_y, reach_x = int(max_shift * (height - 1)), int(max_shift * (width - 1))
    on = overlap.device
    dys = torch.arange(max(-int(rows.min()), -reach_y), min(height - 1 - int(rows.max()), reach_y) + 1, device=on)
    dxs = torch.arange(max(-int(columns.min()), -reach_x), min(width - 1 - int(columns.max()), reach_x) + 1, device=on)
    if dys.numel() == 0 or dxs.numel() == 0:
        return 0, 0
    clash = overlap[(dys + height - 1)[:, None], (dxs + width - 1)[None, :]]
    distance = dys[:, None].float() ** 2 + dxs[None, :].float() ** 2
    # least overlap first, then the shortest shift (overlap is a whole pixel count, at most T H W)
    cost = clash.round() * (height * height + width * width + 1) + distance
    best = int(cost.argmin())
    return int(dys[best // dxs.numel()]), int(dxs[best % dxs.numel()])


def largest_objects(alpha: Tensor, keep: int) -> Tensor:
    """``alpha`` ``(T, H, W)`` with only its ``keep`` heaviest objects: parts connected across space and time
    (a moving object overlaps itself from frame to frame), by summed matte; ``keep <= 0`` keeps all."""
    present = alpha > 0
    if keep <= 0 or not present.any():
        return alpha
    labels = torch.arange(1, alpha.numel() + 1, dtype=torch.float32, device=alpha.device).view_as(alpha) * present
    while True:  # each part takes its largest index: flood over 26-neighbours until nothing changes
        grown = F.max_pool3d(labels[None, None], kernel_size=3, stride=1, padding=1)[0, 0] * present
        if torch.equal(grown, labels):
            break
        labels = grown
    names, index = labels[present].unique(return_inverse=True)
    if names.numel() <= keep:
        return alpha
    weight = torch.zeros(names.numel(), device=alpha.device).index_add_(0, index, alpha[present].float())
    kept = names[weight.topk(keep).indices]
    return alpha * torch.isin(labels, kept)


def _erase(video: Tensor, alpha: Tensor, kept: Tensor, background: Tensor, margin: int) -> Tensor:
    """``video`` with the objects of ``alpha`` that ``kept`` dropped painted over with ``background``, and
    ``margin`` pixels around them: a decoded object's rim is too faint for the matte but still shows as an
    outline once the object is gone. Pixels of kept objects are left alone."""
    dropped = (alpha - kept) > 0
    if not dropped.any():
        return video
    if margin:
        grown = F.max_pool2d(dropped.float(), kernel_size=2 * margin + 1, stride=1, padding=margin) > 0
        dropped = grown & (kept <= 0)
    return torch.where(dropped[None], background[:, None, None, None].to(video.dtype), video)


def _overlap(shift: int, size: int) -> tuple[slice, slice]:
    """Source and destination slices of an axis of ``size`` moved by ``shift``."""
    if shift >= 0:
        return slice(0, size - shift), slice(shift, size)
    return slice(-shift, size), slice(0, size + shift)


def _shifted(image: Tensor, dy: int, dx: int) -> Tensor:
    """``image`` ``(..., H, W)`` moved by ``(dy, dx)`` pixels, zeros where nothing moved in."""
    out = torch.zeros_like(image)
    height, width = image.shape[-2:]
    src_y, dst_y = _overlap(dy, height)
    src_x, dst_x = _overlap(dx, width)
    out[..., dst_y, dst_x] = image[..., src_y, src_x]
    return out


class LayerCompositor(WeightlessParticle):
    """``video`` (L layers) and ``layers`` (B counts, summing to L) -> ``video`` (B): each prompt's layers in one.

    Layers ``sum(layers[:b]) ...`` belong to prompt ``b``, its first layer the base (see the module's
    docstring for the matte and the placement).
    """

    kind: ClassVar[str] = VIDEO_COMPOSITOR.name
    Config = LayerCompositorConfig
    config: LayerCompositorConfig
    description = "object layers (L videos on flat backgrounds) -> one video per prompt, objects kept apart"

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec("float", "L C T H W", description="every prompt's layers, prompt 0's first"),
            "layers": PortSpec("int", "B", description="how many layers each prompt has (they sum to L)"),
            "objects": PortSpec(
                "int",
                "L",
                optional=True,
                description="objects each layer asks for: only that many (its heaviest) are kept; 0 keeps all; "
                "not given: every layer keeps all",
            ),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": PortSpec("float", "B C T H W", description="one video per prompt")}

    @classmethod
    def example_inputs(cls, config: LayerCompositorConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """Prompts of one and two layers: squares of random colours on random flat backgrounds."""
        layers = torch.tensor([1 + i % 2 for i in range(batch)], dtype=torch.int64)
        count = int(layers.sum())
        video = (torch.rand(count, 3, 1, 1, 1, generator=generator) * 0.6 - 1.0).expand(count, 3, 3, 16, 16).clone()
        for i in range(count):
            top, left = (int(v) for v in torch.randint(0, 10, (2,), generator=generator))
            video[i, :, :, top : top + 5, left : left + 5] = torch.rand(3, 1, 1, 1, generator=generator) * 0.6 + 0.4
        return {"video": video, "layers": layers, "objects": torch.ones(count, dtype=torch.int64)}

    def forward(self, video: Tensor, layers: Tensor, objects: Tensor | None = None) -> dict[str, Tensor]:
        counts = [int(n) for n in torch.as_tensor(layers).flatten()]
        wanted = [0] * video.shape[0] if objects is None else [int(n) for n in torch.as_tensor(objects).flatten()]
        if len(wanted) != video.shape[0] or any(n < 0 for n in wanted):
            raise PortError(
                f"{label(self)}: input 'objects' {wanted} must hold one count of 0 or more per video of input "
                f"'video' ({video.shape[0]})",
                "feed 'objects' from the same sora-dit:object-prompts node whose texts made the layers",
            )
        if video.dim() != 5 or any(n < 1 for n in counts) or sum(counts) != video.shape[0]:
            raise PortError(
                f"{label(self)}: input 'layers' {counts} must be counts of at least 1 summing to the "
                f"{video.shape[0] if video.dim() else 0} videos of input 'video' "
                f"(shape {tuple(video.shape)}, expected (L, C, T, H, W))",
                "feed 'layers' from the same sora-dit:object-prompts node whose texts made the layers",
            )
        videos, start = [], 0
        for count in counts:
            videos.append(self._compose(video[start : start + count], wanted[start : start + count]))
            start += count
        return {"video": torch.stack(videos)}

    def _compose(self, layer_video: Tensor, wanted: list[int]) -> Tensor:
        cfg = self.config
        base = layer_video[0].clone()
        if layer_video.shape[0] == 1 and wanted[0] <= 0:
            return base
        alpha, background = matte(layer_video[0].float(), cfg.matte_low, cfg.matte_high)
        kept = largest_objects(alpha, wanted[0])
        if wanted[0] > 0:
            base = _erase(base, alpha, kept, background, cfg.erase_margin)
        occupied = kept > 0.5
        for layer, keep in zip(layer_video[1:], wanted[1:], strict=True):
            alpha, background = matte(layer.float(), cfg.matte_low, cfg.matte_high)
            alpha = largest_objects(alpha, keep)
            gap = round(cfg.gap * min(layer.shape[-2:]))
            dy, dx = place(occupied, alpha > 0.5, gap, cfg.max_shift)
            alpha = _shifted(alpha, dy, dx)
            colour = _shifted(layer.float() - background[:, None, None, None], dy, dx) + background[:, None, None, None]
            base = (base * (1 - alpha) + colour * alpha).to(layer_video.dtype)
            occupied |= alpha > 0.5
        return base
