"""Building blocks of the causal VAE: causal 3D convolutions, per-frame group norm, residual blocks, resampling.

Every layer is causal in time: output frame ``i`` depends on input frames ``<= i`` only (a strided
layer's output frame ``j`` on input frames ``<= 2j``). Time is padded on the past side alone, by
repeating the first frame, so the first frame is always encoded and decoded on its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CausalConv3d(nn.Conv3d):
    """A 3D convolution padded ``kernel - 1`` frames into the past (first frame repeated) and ``kernel // 2`` in space.

    With ``stride=(2, s, s)`` it maps ``1 + 2k`` frames to ``1 + k``: output frame 0 sees only input
    frame 0, output frame ``j`` sees input frames ``2j - 2 .. 2j``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: tuple[int, int, int] = (1, 1, 1)
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=(0, kernel_size // 2, kernel_size // 2)
        )
        self.time_padding = kernel_size - 1

    def forward(self, x: Tensor) -> Tensor:
        if self.time_padding:
            x = F.pad(x, (0, 0, 0, 0, self.time_padding, 0), mode="replicate")
        if _use_onednn(x, self.weight):
            return torch.mkldnn_convolution(x, self.weight, self.bias, self.padding, self.stride, self.dilation, 1)
        return super().forward(x)


_ONEDNN_DTYPES = (torch.float32, torch.bfloat16)


def _use_onednn(x: Tensor, weight: Tensor) -> bool:
    """Whether to call oneDNN's convolution directly.

    On the CPU, ``F.conv3d`` picks oneDNN only when ``B * C * T * H > 20480``; below that (a single
    clip at the deeper, smaller levels) it falls back to ``slow_conv3d``, 2-5x slower here. oneDNN
    gives the same values (to float rounding) and has autograd support. Mixed dtypes (autocast)
    take ``F.conv3d``.
    """
    return (
        x.device.type == "cpu"
        and x.dtype in _ONEDNN_DTYPES
        and weight.dtype == x.dtype
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


class FrameGroupNorm(nn.GroupNorm):
    """Group norm with statistics per batch item and per frame, so it mixes neither samples nor time.

    Equal to ``nn.GroupNorm`` applied to each frame ``(B, C, H, W)`` on its own. The statistics
    come from per-channel sums over H and W (contiguous reductions, about 50x faster on the CPU
    than ``var_mean`` over a group's strided dimensions), accumulated in at least float32.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(math.gcd(channels, 8), channels, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        groups = self.num_groups
        flat = x.reshape(b, c, t, h * w)
        stats = flat if x.dtype in (torch.float32, torch.float64) else flat.float()
        mean = stats.mean(-1).view(b, groups, c // groups, t).mean(2, keepdim=True)
        square = stats.square().mean(-1).view(b, groups, c // groups, t).mean(2, keepdim=True)
        rstd = torch.rsqrt((square - mean.square()).clamp_min(0) + self.eps)
        # one pass over x: x * scale + shift, with the affine folded into per-(item, channel, frame) factors
        scale = rstd * self.weight.view(1, groups, c // groups, 1).to(rstd.dtype)
        shift = self.bias.view(1, groups, c // groups, 1).to(rstd.dtype) - mean * scale
        out = torch.addcmul(shift.reshape(b, c, t, 1), stats, scale.reshape(b, c, t, 1))
        return out.to(x.dtype).view(b, c, t, h, w)


class ResBlock(nn.Module):
    """Two causal 3x3x3 convolutions after norm and SiLU, plus a (1x1x1 projected) shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = FrameGroupNorm(in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels)
        self.norm2 = FrameGroupNorm(out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels)
        self.shortcut = CausalConv3d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.shortcut(x) + h


class Downsample(nn.Module):
    """Halve time (``1 + 2k`` frames to ``1 + k``) and/or H and W with one strided causal convolution."""

    def __init__(self, channels: int, *, temporal: bool, spatial: bool) -> None:
        super().__init__()
        space = 2 if spatial else 1
        self.conv = CausalConv3d(channels, channels, stride=(2 if temporal else 1, space, space))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Invert :class:`Downsample`'s sizes: ``1 + k`` frames to ``1 + 2k`` and/or double H and W, then a causal conv.

    Frames are repeated (nearest neighbour) and the first copy of the first frame dropped, so latent
    frame 0 gives one frame and every later latent frame two. The convolution may narrow the channels
    already (to the next, finer level's width), which halves its cost at the larger size.
    """

    def __init__(self, in_channels: int, out_channels: int, *, temporal: bool, spatial: bool) -> None:
        super().__init__()
        self.temporal, self.spatial = temporal, spatial
        self.conv = CausalConv3d(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        scale = (2.0 if self.temporal else 1.0, 2.0 if self.spatial else 1.0, 2.0 if self.spatial else 1.0)
        x = F.interpolate(x, scale_factor=scale, mode="nearest")
        if self.temporal:
            x = x[:, :, 1:]
        return self.conv(x)
