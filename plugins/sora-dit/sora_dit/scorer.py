"""``latent-text-scorer``: how well a latent video matches a text, as a logit; the sampler reranks with it.

A small cross-encoder: one transformer over a summary token, the latent's spacetime patches and the
text tokens together, trained to tell a clip's caption from captions that get one thing wrong (a
colour, a shape, a motion, which object has which, how many objects there are). It reads the VAE
latent and the text encoder's tokens, so it judges a sampled latent before anything is decoded, and
the ``latent-sampler`` can draw several candidates per prompt and keep the one it rates highest
(reranking, as DALL-E did with CLIP, at a small fraction of the cost of sampling).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError
from sora_core.interfaces import ModuleParticle
from sora_core.ports import PortSpec
from sora_dit.blocks import SelfAttention, check_widths
from sora_dit.embeddings import position_embedding
from sora_dit.hooks import VIDEO_TEXT_SCORER
from sora_dit.patchify import SpacetimePatchifier
from sora_dit.spaces import DEFAULT_LATENT_SPACE, DEFAULT_TEXT_DIM, DEFAULT_TEXT_SPACE, checked_space


class LatentTextScorerConfig(ParticleConfig):
    """The latent and text it reads, its patch size and the transformer's sizes."""

    latent_channels: int = Field(8, gt=0, description="latent channels (c)")
    latent_space: str = Field(DEFAULT_LATENT_SPACE, description="space tag of the latent it judges")
    text_dim: int = Field(DEFAULT_TEXT_DIM, gt=0, description="features per text token (D)")
    text_space: str = Field(DEFAULT_TEXT_SPACE, description="space tag of the text embeddings it reads")
    patch_t: int = Field(1, gt=0, description="latent frames per patch")
    patch_h: int = Field(4, gt=0, description="latent rows per patch")
    patch_w: int = Field(4, gt=0, description="latent columns per patch")
    frame_differences: bool = Field(
        False,
        description="also read each latent frame minus the one before it (zero for the first): where things "
        "moved, as a local feature of every patch rather than a comparison the layers must learn",
    )
    hidden_size: int = Field(128, gt=0, description="transformer width")
    video_depth: int = Field(2, ge=0, le=64, description="layers over the video tokens alone (run once per video)")
    depth: int = Field(2, gt=0, le=64, description="layers over the summary, video and text tokens together")
    heads: int = Field(4, gt=0, le=256, description="attention heads")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP width as a multiple of hidden_size")
    attribute_classes: int = Field(
        0,
        ge=0,
        description="outputs of a head on the video-only tokens that names what the clip holds (a training aid, "
        "see video_attributes; 0: none)",
    )

    @field_validator("latent_space", "text_space")
    @classmethod
    def _space(cls, tag: str) -> str:
        return checked_space(tag)

    @model_validator(mode="after")
    def _sizes(self) -> LatentTextScorerConfig:
        check_widths(self.hidden_size, self.heads)
        return self


class LatentTextScorer(ModuleParticle):
    """Scores latent videos ``(B, c, t, h, w)`` against text tokens ``(B, L, D)``: one logit per pair.

    The latent (with ``frame_differences``, the latent and each frame's change from the one before,
    stacked along channels) is cut into ``patch_t x patch_h x patch_w`` patches, embedded with a fixed 3D sinusoidal
    position (any duration and resolution whose sizes divide by the patch) and passed through
    ``video_depth`` pre-norm transformer layers of their own; then a learned summary token, those video
    tokens and the text tokens projected to the same width (each group with its own type embedding;
    padding masked out) go through ``depth`` layers together, and the summary token's output becomes
    the logit. The video-only part runs once per video however many texts it is scored against. Higher
    means a better match; the scores of different latents for the same text are comparable, which is
    what reranking needs.
    """

    kind: ClassVar[str] = VIDEO_TEXT_SCORER.name
    Config = LatentTextScorerConfig
    config: LatentTextScorerConfig
    description = "latent video + text tokens -> match logit (a cross-encoder; the latent sampler reranks with it)"
    default_weights = "weights/latent-text-scorer"

    def __init__(self, config: LatentTextScorerConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        hidden = cfg.hidden_size
        read_channels = cfg.latent_channels * (2 if cfg.frame_differences else 1)
        self.patchifier = SpacetimePatchifier(
            channels=read_channels, patch_t=cfg.patch_t, patch_h=cfg.patch_h, patch_w=cfg.patch_w
        )
        self.video_embed = nn.Linear(self.patchifier.token_size, hidden)
        self.text_embed = nn.Linear(cfg.text_dim, hidden)
        self.summary = nn.Parameter(torch.zeros(1, 1, hidden))
        self.types = nn.Parameter(torch.zeros(3, hidden))  # summary, video, text
        self.video_layers = nn.ModuleList(
            EncoderLayer(hidden, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.video_depth)
        )
        self.layers = nn.ModuleList(EncoderLayer(hidden, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, 1)
        self.attribute_head = (
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, cfg.attribute_classes))
            if cfg.attribute_classes
            else None
        )
        nn.init.normal_(self.summary, std=0.02)
        nn.init.normal_(self.types, std=0.02)

    def input_ports(self) -> dict[str, PortSpec]:
        cfg = self.config
        return {
            "latent": PortSpec(
                "float32", f"B c={cfg.latent_channels} t h w", space=cfg.latent_space, description="latent videos"
            ),
            "condition": PortSpec(
                "float32", f"B L D={cfg.text_dim}", space=cfg.text_space, description="text tokens, one text per video"
            ),
            "condition_mask": PortSpec("bool", "B L", optional=True, description="valid text tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"score": PortSpec("float32", "B", description="match logit: higher is a better match")}

    @classmethod
    def example_inputs(cls, config: LatentTextScorerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """A latent of 2x2x2 patches and five text tokens (the kit's free sizes need not divide the patch)."""
        shape = (batch, config.latent_channels, 2 * config.patch_t, 2 * config.patch_h, 2 * config.patch_w)
        return {
            "latent": torch.randn(shape, generator=generator),
            "condition": torch.randn(batch, 5, config.text_dim, generator=generator),
        }

    def forward(self, latent: Tensor, condition: Tensor, condition_mask: Tensor | None = None) -> dict[str, Tensor]:
        return {"score": self.score_videos(self.encode_videos(latent), condition, condition_mask)}

    def encode_videos(self, latent: Tensor) -> Tensor:
        """``(B, N, hidden)``: the latent's patch tokens after the video-only layers (reusable for many texts).

        A latent whose sizes do not divide by the patch is padded with zeros at the end of each axis, so the
        scorer judges any video the denoiser can make."""
        if self.config.frame_differences:
            latent = torch.cat([latent, frame_changes(latent)], dim=1)
        sizes = latent.shape[2:]
        short = [-size % patch for size, patch in zip(sizes, self.patchifier.patch_size, strict=True)]
        if any(short):
            latent = F.pad(latent, (0, short[2], 0, short[1], 0, short[0]))
        patches = self.patchifier(latent=latent)
        tokens, positions = patches["tokens"], patches["positions"]
        video = self.video_embed(tokens) + position_embedding(positions, self.config.hidden_size).to(tokens.dtype)
        video = video + self.types[1]
        for layer in self.video_layers:
            video = layer(video)
        return video

    def score_videos(self, video: Tensor, condition: Tensor, condition_mask: Tensor | None = None) -> Tensor:
        """Match logits ``(B,)`` of encoded videos (:meth:`encode_videos`) and their texts."""
        batch = video.shape[0]
        text = self.text_embed(condition.to(video.dtype)) + self.types[2]
        summary = (self.summary + self.types[0]).expand(batch, -1, -1)
        sequence = torch.cat([summary, video, text], dim=1)
        keep = None
        if condition_mask is not None:
            kept = torch.ones(batch, 1 + video.shape[1], dtype=torch.bool, device=video.device)
            keep = torch.cat([kept, condition_mask.to(device=video.device, dtype=torch.bool)], dim=1)
        for layer in self.layers:
            sequence = layer(sequence, keep)
        return self.head(self.norm(sequence[:, 0])).squeeze(-1).to(torch.float32)

    def video_attributes(self, video: Tensor) -> Tensor:
        """``(B, attribute_classes)`` logits from encoded videos, before any text is seen: what training can
        supervise directly (which colours, shapes, motions, how many objects) so the video layers learn fast."""
        if self.attribute_head is None:
            raise ConfigError(
                f"{self.registered_name or 'latent-text-scorer'} has no attribute head (attribute_classes=0)",
                "create it with attribute_classes > 0",
            )
        return self.attribute_head(video.mean(dim=1)).to(torch.float32)


def frame_changes(latent: Tensor) -> Tensor:
    """``latent[:, :, t] - latent[:, :, t - 1]`` for each frame ``t``, zero for the first: the same shape."""
    return latent.diff(dim=2, prepend=latent[:, :, :1])


class EncoderLayer(nn.Module):
    """A pre-norm transformer layer: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, hidden_size: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        width = int(hidden_size * mlp_ratio)
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attn = SelfAttention(hidden_size, heads)
        self.norm2 = nn.LayerNorm(hidden_size)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, width), nn.GELU(), nn.Linear(width, hidden_size))

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), keep)
        return x + self.mlp(self.norm2(x))
