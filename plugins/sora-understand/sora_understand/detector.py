"""The network behind the captioner: a convolutional object detector over a VAE latent.

It reads a latent video ``(B, c, t, h, w)`` and predicts, for every latent cell ``(h, w)``, whether an
object is centred there in the first frame, the sub-cell offset of that centre, and the object's
attribute logits (one group per vocabulary: colour, shape, size, motion); a pooled head names the
background. Time is summarised before the spatial layers (the first latent frame, the mean over
frames, the last minus the first, the range over frames), so clips of any length share the weights;
dilated convolutions give each cell a view wide enough to see where its object went.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LatentDetector(nn.Module):
    """Latent ``(B, c, t, h, w)`` -> objectness ``(B, h, w)`` logits, offsets ``(B, 2, h, w)``, one logits
    map ``(B, n, h, w)`` per attribute group, and background logits ``(B, n_background)``."""

    def __init__(
        self, channels: int, width: int, dilations: Sequence[int], groups: Sequence[int], backgrounds: int
    ) -> None:
        super().__init__()
        self.groups = tuple(groups)
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        layers: list[nn.Module] = []
        read = 4 * width
        for dilation in dilations:
            layers += [
                nn.Conv2d(read, width, 3, padding=dilation, dilation=dilation),
                nn.GroupNorm(8, width),
                nn.SiLU(),
            ]
            read = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 3 + sum(self.groups), 1)
        self.background = nn.Linear(width, backgrounds)

    def forward(self, latent: Tensor) -> tuple[Tensor, Tensor, list[Tensor], Tensor]:
        batch, channels, frames, height, width = latent.shape
        per_frame = self.stem(latent.transpose(1, 2).reshape(batch * frames, channels, height, width))
        per_frame = per_frame.view(batch, frames, -1, height, width)
        first, last = per_frame[:, 0], per_frame[:, -1]
        summary = torch.cat(
            [first, per_frame.mean(dim=1), last - first, per_frame.amax(dim=1) - per_frame.amin(dim=1)], dim=1
        )
        features = self.body(summary)
        out = self.head(features)
        attributes = list(out[:, 3:].split(self.groups, dim=1))
        return out[:, 0], out[:, 1:3], attributes, self.background(features.mean(dim=(2, 3)))
