"""``dit-denoiser``: a diffusion transformer over spacetime patches, predicting rectified-flow velocity."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import ConfigError, SoraError
from sora_core.interfaces import Denoiser, Patchifier
from sora_core.particle import Particle
from sora_core.ports import PortSpec
from sora_dit.blocks import DiTBlock, FinalLayer, check_widths, zero_linear
from sora_dit.embeddings import TimestepEmbedding, position_embedding
from sora_dit.naming import label
from sora_dit.spaces import DEFAULT_LATENT_SPACE, DEFAULT_TEXT_DIM, DEFAULT_TEXT_SPACE, checked_space

PATCHIFIER = "sora-dit:spacetime-patchifier"
CROSS_ATTENTION = "sora-dit:multihead-cross-attention"


class DiTDenoiserConfig(ParticleConfig):
    """The latent and text it reads, the particles it composes, and the transformer's sizes."""

    latent_channels: int = Field(8, gt=0, description="latent channels (c)")
    latent_space: str = Field(DEFAULT_LATENT_SPACE, description="space tag of the latent it denoises")
    text_dim: int = Field(DEFAULT_TEXT_DIM, gt=0, description="features per text token (D)")
    text_space: str = Field(DEFAULT_TEXT_SPACE, description="space tag of the text embeddings it reads")
    patchifier: str = Field(PATCHIFIER, description="patchifier particle, created with patch_t/h/w and channels")
    patch_t: int = Field(1, gt=0, description="latent frames per patch")
    patch_h: int = Field(2, gt=0, description="latent rows per patch")
    patch_w: int = Field(2, gt=0, description="latent columns per patch")
    cross_attention: str = Field(
        CROSS_ATTENTION, description="cross_modal_attention particle of every block, created by name"
    )
    hidden_size: int = Field(256, gt=0, description="transformer width")
    depth: int = Field(4, gt=0, le=256, description="DiT blocks")
    heads: int = Field(4, gt=0, le=256, description="attention heads (self and cross)")
    mlp_ratio: float = Field(4.0, gt=0, description="MLP width as a multiple of hidden_size")
    shared_modulation: bool = Field(
        False, description="adaLN-single: one modulation projection for all blocks plus per-block offsets"
    )
    zero_init: bool = Field(
        True,
        description="DiT's zero initialisation of the adaLN gates and the final layer (a fresh denoiser predicts 0); "
        "false draws them small and random, so an untrained denoiser's output depends on every layer",
    )

    @field_validator("latent_space", "text_space")
    @classmethod
    def _space(cls, tag: str) -> str:
        return checked_space(tag)

    @model_validator(mode="after")
    def _sizes(self) -> DiTDenoiserConfig:
        check_widths(self.hidden_size, self.heads)
        return self


class DiTDenoiser(Denoiser):
    """A DiT over spacetime patches of a latent video, conditioned on a timestep and text tokens.

    The latent ``(B, c, t, h, w)`` is cut into patches by a composed patchifier particle,
    embedded linearly, and given a fixed sinusoidal 3D position embedding computed from the
    patch positions (so any duration, resolution and aspect ratio works). ``depth`` DiT
    blocks follow: adaLN-zero modulation from the timestep embedding plus the masked mean of
    the text tokens, self-attention over all spacetime tokens, cross-attention to the text
    tokens through a composed ``cross_modal_attention`` particle (one per block, created by
    name from ``cross_attention``), and an MLP. A final adaLN layer and linear map back to
    patches, and the patchifier's ``unpatchify`` to the latent's shape. The adaLN gates and
    the final layer start at zero, so a fresh denoiser predicts zero velocity (``zero_init``;
    the untrained ``t2v`` template turns it off so that every swap shows in its output).

    It predicts rectified-flow **velocity**: with ``x_t = (1 - t) x0 + t noise``,
    ``prediction = noise - x0`` (``t = 1`` is pure noise).
    """

    Config = DiTDenoiserConfig
    config: DiTDenoiserConfig
    prediction_type = "velocity"
    description = "diffusion transformer (adaLN-zero DiT blocks, cross-attention to text) predicting velocity"
    default_weights = "weights/dit-denoiser"

    def __init__(self, config: DiTDenoiserConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        hidden = cfg.hidden_size
        self.patchifier = self._compose(
            "patchifier",
            "patchifier",
            channels=cfg.latent_channels,
            patch_t=cfg.patch_t,
            patch_h=cfg.patch_h,
            patch_w=cfg.patch_w,
        )
        token_size = _fixed_size(self.patchifier.output_ports()["tokens"], -1)
        if token_size is None:
            raise ConfigError(
                f"{label(self)}: patchifier {cfg.patchifier!r} does not declare a fixed token size "
                "(its 'tokens' port needs a last dimension like D=32)",
                "use a patchifier whose token width follows from its config",
            )
        self.patch_embed = nn.Linear(token_size, hidden)
        self.timestep_embed = TimestepEmbedding(hidden)
        self.text_embed = nn.Sequential(nn.Linear(cfg.text_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        blocks = []
        for _ in range(cfg.depth):
            cross = self._compose(
                "cross_attention",
                "cross_modal_attention",
                query_size=hidden,
                context_size=cfg.text_dim,
                heads=cfg.heads,
            )
            blocks.append(DiTBlock(hidden, cfg.heads, cfg.mlp_ratio, cross, hidden, cfg.shared_modulation))
        self.blocks = nn.ModuleList(blocks)
        self.shared_modulation = zero_linear(hidden, 6 * hidden) if cfg.shared_modulation else None
        self.final = FinalLayer(hidden, token_size, hidden)
        self._initialise()

    def _compose(self, field: str, kind: str, **config: Any) -> Any:
        """Create the particle named by config ``field`` through the registry; errors name the field."""
        name = getattr(self.config, field)
        owner = label(self)
        where = f"{owner}: config field {field!r} = {name!r}"
        try:
            found = registry.info(name).kind
        except SoraError as exc:
            raise ConfigError(f"{where}: {exc.message}", exc.hint) from None
        if found != kind:
            raise ConfigError(
                f"{where} is a {found} particle, not a {kind}", f"name a {kind} particle (`sora list --kind {kind}`)"
            )
        try:
            particle: Particle = registry.create(name, **config)
        except SoraError as exc:
            raise ConfigError(
                f"{where} cannot be built with {', '.join(config)} ({exc.message})",
                f"use a {kind} particle whose config has the options {', '.join(config)}",
            ) from None
        if not isinstance(particle, nn.Module):
            raise ConfigError(f"{where} has no weights; it must be a learned {kind}", f"name a learned {kind} particle")
        if kind == "patchifier" and not isinstance(particle, Patchifier):
            raise ConfigError(
                f"{owner}: config field {field!r} = {name!r} does not subclass sora_core.interfaces.Patchifier",
                "a patchifier must implement unpatchify(tokens, positions, latent_shape)",
            )
        if kind == "cross_modal_attention":
            width = _fixed_size(particle.output_ports().get("tokens"), -1)
            if width != config["query_size"]:
                raise ConfigError(
                    f"{owner}: config field {field!r} = {name!r} writes tokens of width {width}, "
                    f"but the blocks need the query's width {config['query_size']} (hidden_size)",
                    "use a cross-attention whose output has the query's width",
                )
        return particle

    def _initialise(self) -> None:
        """DiT's initialisation for the layers it owns (composed particles initialise themselves)."""
        own = [self.patch_embed, *self.text_embed, *self.timestep_embed.mlp]
        for block in self.blocks:
            own += [block.attn.qkv, block.attn.proj, *block.mlp]
        for layer in own:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        for layer in (*self.timestep_embed.mlp, *self.text_embed):
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.02)
        if not self.config.zero_init:
            modulations = [block.modulation for block in self.blocks] + [self.shared_modulation, self.final.modulation]
            weights = [m[1].weight for m in modulations if m is not None] + [self.final.linear.weight]
            weights += [block.modulation_offset for block in self.blocks if block.modulation_offset is not None]
            for weight in weights:
                nn.init.normal_(weight, std=0.02)

    # --- ports ------------------------------------------------------------------------------

    def input_ports(self) -> dict[str, PortSpec]:
        cfg = self.config
        latent = f"B c={cfg.latent_channels} t h w"
        return {
            "latent": PortSpec("float32", latent, space=cfg.latent_space, description="noisy latent x_t"),
            "timestep": PortSpec("float32", "B", description="rectified-flow time in [0, 1]; 1 is pure noise"),
            "condition": PortSpec("float32", f"B L D={cfg.text_dim}", space=cfg.text_space, description="text tokens"),
            "condition_mask": PortSpec("bool", "B L", optional=True, description="valid text tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        latent = f"B c={self.config.latent_channels} t h w"
        return {"prediction": PortSpec("float32", latent, description="velocity noise - x0, in the latent's units")}

    @classmethod
    def example_inputs(cls, config: DiTDenoiserConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        """A latent of 2x2x2 patches and times in [0, 1] (the kit's free sizes need not divide the patch)."""
        shape = (batch, config.latent_channels, 2 * config.patch_t, 2 * config.patch_h, 2 * config.patch_w)
        return {"latent": torch.randn(shape, generator=generator), "timestep": torch.rand(batch, generator=generator)}

    # --- forward ----------------------------------------------------------------------------

    def forward(
        self,
        latent: Tensor,
        timestep: Tensor | float,
        condition: Tensor,
        condition_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        batch = latent.shape[0]
        timestep = torch.as_tensor(timestep, device=latent.device, dtype=torch.float32)
        if timestep.dim() == 0:
            timestep = timestep.expand(batch)
        patches = self.patchifier(latent=latent)
        tokens, positions = patches["tokens"], patches["positions"]
        x = self.patch_embed(tokens) + position_embedding(positions, self.config.hidden_size).to(tokens.dtype)
        conditioning = self.timestep_embed(timestep).to(x.dtype) + self.text_embed(
            _masked_mean(condition, condition_mask)
        )
        modulation = conditioning if self.shared_modulation is None else self.shared_modulation(conditioning)
        for block in self.blocks:
            x = block(x, modulation, condition, condition_mask)
        out = self.final(x, conditioning)
        return {"prediction": self.patchifier.unpatchify(out, positions, tuple(latent.shape))}


def _masked_mean(tokens: Tensor, mask: Tensor | None) -> Tensor:
    if mask is None:
        return tokens.mean(dim=1)
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _fixed_size(spec: PortSpec | None, index: int) -> int | None:
    """The fixed size of dimension ``index`` of a port spec, if it declares one."""
    if spec is None or not spec.dims:
        return None
    return spec.dims[index].size
