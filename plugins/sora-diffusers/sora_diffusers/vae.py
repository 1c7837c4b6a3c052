"""Video VAEs of diffusers as encoder and decoder particles: Wan, CogVideoX and LTX-Video.

Each family's latent is *normalised* as its pipeline samples it: the encoder writes, and the decoder reads,
the latent the transformer works in (Wan: ``(z - mean) / std`` from the config; CogVideoX: ``z *
scaling_factor``; LTX-Video: ``(z - mean) * scaling_factor / std`` with the statistics the weights carry).
Videos are ``(B, 3, T, H, W)`` in ``[-1, 1]`` (the decoder clamps), as every sora video particle uses.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor, nn

from sora_core.errors import PortError
from sora_core.interfaces import VideoDecoder, VideoEncoder
from sora_core.ports import PortSpec
from sora_diffusers.base import LibraryModelConfig, LibraryModelParticle
from sora_diffusers.spaces import latent_space

TINY_WAN_VAE: dict[str, Any] = {
    "base_dim": 3,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
    "temperal_downsample": [False, True, True],
}
TINY_COGVIDEOX_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["CogVideoXDownBlock3D"] * 4,
    "up_block_types": ["CogVideoXUpBlock3D"] * 4,
    "block_out_channels": [8, 8, 8, 8],
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 2,
    "temporal_compression_ratio": 4,
}
TINY_LTX_VAE: dict[str, Any] = {
    "latent_channels": 8,
    "block_out_channels": [8, 8, 8, 8],
    "decoder_block_out_channels": [8, 8, 8, 8],
    "layers_per_block": [1, 1, 1, 1, 1],
    "decoder_layers_per_block": [1, 1, 1, 1, 1],
    "spatio_temporal_scaling": [True, True, False, False],
    "decoder_spatio_temporal_scaling": [True, True, False, False],
    "decoder_inject_noise": [False, False, False, False, False],
    "upsample_residual": [False, False, False, False],
    "upsample_factor": [1, 1, 1, 1],
    "patch_size": 1,
    "patch_size_t": 1,
    "encoder_causal": True,
    "decoder_causal": False,
}


class VideoVAEConfig(LibraryModelConfig):
    decode_timestep: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="LTX-Video decoders with timestep conditioning: decode at this timestep, the latent mixed with "
        "that much noise (drawn from the decoder node's seed)",
    )


class VideoVAE(LibraryModelParticle):
    """The shared half of the encoder and decoder particles: sizes, spaces and (de)normalisation."""

    family: ClassVar[str] = ""
    Config = VideoVAEConfig
    config: VideoVAEConfig

    # --- family facts ---------------------------------------------------------------------------------------

    @property
    def channels(self) -> int:
        raise NotImplementedError

    @property
    def temporal(self) -> int:
        raise NotImplementedError

    @property
    def spatial(self) -> int:
        raise NotImplementedError

    def normalize(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def denormalize(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def decode_raw(self, z: Tensor) -> Tensor:
        return self.model.decode(z, return_dict=False)[0]

    # --- ports ----------------------------------------------------------------------------------------------

    @property
    def space(self) -> str:
        return latent_space(self.family, self.channels, self.temporal, self.spatial)

    def latent_port(self) -> PortSpec:
        return PortSpec(
            "float",
            f"B c={self.channels} t h w",
            space=self.space,
            description=f"the normalised {self.family} latent the transformer samples",
        )

    def video_port(self) -> PortSpec:
        return PortSpec(
            "float32",
            "B C=3 T H W",
            description=f"RGB video in [-1, 1]; T = 1 + {self.temporal}k frames, H and W multiples of {self.spatial}",
        )

    def check_video(self, video: Tensor) -> None:
        frames, height, width = video.shape[-3:]
        if (frames - 1) % self.temporal or height % self.spatial or width % self.spatial:
            raise PortError(
                f"{self._label()}: a {frames}x{height}x{width} video does not fit the {self.family} VAE: frames "
                f"must be 1 + {self.temporal}k (1, {1 + self.temporal}, {1 + 2 * self.temporal}, ...), height "
                f"and width multiples of {self.spatial}",
                f"trim or pad the clip, e.g. to {1 + (frames - 1) // self.temporal * self.temporal} frames of "
                f"{height // self.spatial * self.spatial}x{width // self.spatial * self.spatial}",
            )


class _Encoder(VideoVAE, VideoEncoder):
    def input_ports(self) -> dict[str, PortSpec]:
        return {"video": self.video_port()}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"latent": self.latent_port()}

    @classmethod
    def example_inputs(cls, config: Any, batch: int, generator: torch.Generator) -> dict[str, Tensor]:
        size = 16 if cls.family != "ltx" else 32
        return {"video": torch.rand(batch, 3, 9, size, size, generator=generator) * 2 - 1}

    def forward(self, video: Tensor) -> dict[str, Tensor]:
        self.check_video(video)
        device, dtype = self.placement()
        posterior = self.model.encode(video.to(device=device, dtype=dtype)).latent_dist
        return {"latent": self.normalize(posterior.mode())}


class _Decoder(VideoVAE, VideoDecoder):
    def input_ports(self) -> dict[str, PortSpec]:
        return {"latent": self.latent_port()}

    def output_ports(self) -> dict[str, PortSpec]:
        return {"video": self.video_port()}

    @classmethod
    def example_inputs(cls, config: Any, batch: int, generator: torch.Generator) -> dict[str, Tensor]:
        particle_config = {**cls.tiny_model, **config.model}
        channels = particle_config.get("z_dim") or particle_config.get("latent_channels") or 4
        return {"latent": torch.randn(batch, int(channels), 2, 2, 2, generator=generator)}

    def forward(self, latent: Tensor) -> dict[str, Tensor]:
        device, dtype = self.placement()
        video = self.decode_raw(self.denormalize(latent.to(device=device, dtype=dtype)))
        return {"video": video.float().clamp(-1.0, 1.0)}


# --- Wan ------------------------------------------------------------------------------------------------------


class _Wan(VideoVAE):
    family = "wan"
    library_classes = ("AutoencoderKLWan",)
    tiny_model = TINY_WAN_VAE

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import AutoencoderKLWan

        return AutoencoderKLWan.from_config(config)

    @property
    def channels(self) -> int:
        return int(self.model.config.z_dim)

    @property
    def temporal(self) -> int:
        return int(getattr(self.model.config, "scale_factor_temporal", 4))

    @property
    def spatial(self) -> int:
        return int(getattr(self.model.config, "scale_factor_spatial", 8))

    def _stats(self, z: Tensor) -> tuple[Tensor, Tensor]:
        shape = (1, self.channels, 1, 1, 1)
        mean = torch.tensor(self.model.config.latents_mean).view(shape).to(z.device, z.dtype)
        inverse_std = 1.0 / torch.tensor(self.model.config.latents_std).view(shape).to(z.device, z.dtype)
        return mean, inverse_std

    def normalize(self, z: Tensor) -> Tensor:
        mean, inverse_std = self._stats(z)
        return (z - mean) * inverse_std

    def denormalize(self, z: Tensor) -> Tensor:
        mean, inverse_std = self._stats(z)
        return z / inverse_std + mean


class WanVAEEncoder(_Wan, _Encoder):
    """diffusers' ``AutoencoderKLWan`` encoder: video -> the normalised Wan latent (posterior mode)."""

    description = "Wan 2.1 video VAE encoder (diffusers AutoencoderKLWan): video -> normalised latent"


class WanVAEDecoder(_Wan, _Decoder):
    """diffusers' ``AutoencoderKLWan`` decoder: the normalised Wan latent -> video."""

    description = "Wan 2.1 video VAE decoder (diffusers AutoencoderKLWan): normalised latent -> video in [-1, 1]"


# --- CogVideoX ------------------------------------------------------------------------------------------------


class _CogVideoX(VideoVAE):
    family = "cogvideox"
    library_classes = ("AutoencoderKLCogVideoX",)
    tiny_model = TINY_COGVIDEOX_VAE

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import AutoencoderKLCogVideoX

        return AutoencoderKLCogVideoX.from_config(config)

    @property
    def channels(self) -> int:
        return int(self.model.config.latent_channels)

    @property
    def temporal(self) -> int:
        return int(self.model.config.temporal_compression_ratio)

    @property
    def spatial(self) -> int:
        return 2 ** (len(self.model.config.block_out_channels) - 1)

    def normalize(self, z: Tensor) -> Tensor:
        return z * self.model.config.scaling_factor

    def denormalize(self, z: Tensor) -> Tensor:
        return 1 / self.model.config.scaling_factor * z


class CogVideoXVAEEncoder(_CogVideoX, _Encoder):
    """diffusers' ``AutoencoderKLCogVideoX`` encoder: video -> the scaled CogVideoX latent (posterior mode)."""

    description = "CogVideoX video VAE encoder (diffusers AutoencoderKLCogVideoX): video -> scaled latent"


class CogVideoXVAEDecoder(_CogVideoX, _Decoder):
    """diffusers' ``AutoencoderKLCogVideoX`` decoder: the scaled CogVideoX latent -> video."""

    description = "CogVideoX video VAE decoder (diffusers AutoencoderKLCogVideoX): scaled latent -> video in [-1, 1]"


# --- LTX-Video ------------------------------------------------------------------------------------------------


class _LTX(VideoVAE):
    family = "ltx"
    library_classes = ("AutoencoderKLLTXVideo",)
    tiny_model = TINY_LTX_VAE

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import AutoencoderKLLTXVideo

        model = AutoencoderKLLTXVideo.from_config(config)
        model.use_framewise_encoding = False
        model.use_framewise_decoding = False
        return model

    @property
    def channels(self) -> int:
        return int(self.model.config.latent_channels)

    @property
    def temporal(self) -> int:
        return int(self.model.temporal_compression_ratio)

    @property
    def spatial(self) -> int:
        return int(self.model.spatial_compression_ratio)

    def _stats(self, z: Tensor) -> tuple[Tensor, Tensor, float]:
        mean = self.model.latents_mean.view(1, -1, 1, 1, 1).to(z.device, z.dtype)
        std = self.model.latents_std.view(1, -1, 1, 1, 1).to(z.device, z.dtype)
        return mean, std, float(self.model.config.scaling_factor)

    def normalize(self, z: Tensor) -> Tensor:
        mean, std, scaling = self._stats(z)
        return (z - mean) * scaling / std

    def denormalize(self, z: Tensor) -> Tensor:
        mean, std, scaling = self._stats(z)
        return z * std / scaling + mean

    @property
    def stochastic(self) -> bool:
        """A timestep-conditioned decoder mixes in noise (decode_timestep > 0): the executor then seeds it."""
        return bool(self.model.config.timestep_conditioning and self.config.decode_timestep > 0)

    def decode_raw(self, z: Tensor) -> Tensor:
        timestep = None
        if self.model.config.timestep_conditioning:
            scale = self.config.decode_timestep
            timestep = torch.full((z.shape[0],), scale, device=z.device, dtype=z.dtype)
            if scale > 0:  # LTX-Video 0.9.1+: decode a slightly noised latent at that timestep
                z = (1 - scale) * z + scale * torch.randn(z.shape).to(z.device, z.dtype)
        return self.model.decode(z, timestep, return_dict=False)[0]


class LTXVAEEncoder(_LTX, _Encoder):
    """diffusers' ``AutoencoderKLLTXVideo`` encoder: video -> the normalised LTX-Video latent (posterior mode)."""

    description = "LTX-Video VAE encoder (diffusers AutoencoderKLLTXVideo): video -> normalised latent"


class LTXVAEDecoder(_LTX, _Decoder):
    """diffusers' ``AutoencoderKLLTXVideo`` decoder: the normalised LTX-Video latent -> video."""

    description = "LTX-Video VAE decoder (diffusers AutoencoderKLLTXVideo): normalised latent -> video in [-1, 1]"
