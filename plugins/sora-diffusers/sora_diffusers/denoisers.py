"""diffusers' video transformers as denoiser particles: Wan, CogVideoX and LTX-Video.

Every denoiser reads the latent as ``(B, c, t, h, w)`` and the time as a fraction ``t`` in ``[0, 1]`` (1 is pure
noise), the convention of sora's schedulers; it converts both to what its model takes (CogVideoX's frames
first and integer steps, LTX-Video's packed tokens, ``1000 t`` for all three) and back. Wan and LTX-Video
predict the flow velocity ``noise - x0`` (``prediction_type`` ``velocity``, the same as sora's rectified-flow
schedulers); CogVideoX predicts the diffusion ``v`` (``v_prediction``), which only a DDPM-style scheduler
integrates.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor, nn

from sora_core.interfaces import Denoiser
from sora_core.ports import PortSpec
from sora_diffusers.base import LibraryModelConfig, LibraryModelParticle
from sora_diffusers.spaces import latent_space, text_space

#: The number of training timesteps of all three families: a fraction t is the model's timestep t * 1000.
TRAIN_TIMESTEPS = 1000

TINY_WAN: dict[str, Any] = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 32,
    "freq_dim": 256,
    "ffn_dim": 32,
    "num_layers": 2,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "rope_max_seq_len": 32,
}
TINY_COGVIDEOX: dict[str, Any] = {
    "num_attention_heads": 4,
    "attention_head_dim": 8,
    "in_channels": 4,
    "out_channels": 4,
    "time_embed_dim": 2,
    "text_embed_dim": 32,
    "num_layers": 1,
    "sample_width": 2,
    "sample_height": 2,
    "sample_frames": 9,
    "patch_size": 2,
    "temporal_compression_ratio": 4,
    "max_text_seq_length": 16,
}
TINY_LTX: dict[str, Any] = {
    "in_channels": 8,
    "out_channels": 8,
    "patch_size": 1,
    "patch_size_t": 1,
    "num_attention_heads": 4,
    "attention_head_dim": 8,
    "cross_attention_dim": 32,
    "num_layers": 1,
    "caption_channels": 32,
}


def model_timestep(t: Tensor) -> Tensor:
    """The model's timestep ``1000 t`` for fractions ``t``, computed in float64 so a scheduler's float32 step
    survives the round trip exactly."""
    return (t.to(torch.float64) * TRAIN_TIMESTEPS).to(torch.float32)


class VideoTransformerConfig(LibraryModelConfig):
    vae_temporal_compression: int = Field(4, gt=0, description="frames per latent frame of the VAE it was trained on")
    vae_spatial_compression: int = Field(8, gt=0, description="pixels per latent row/column of that VAE")
    text_encoder: str = Field("umt5", description="the encoder family it reads: 't5' or 'umt5'")


class VideoTransformer(LibraryModelParticle, Denoiser):
    """The shared half: ports from the model config, placement of inputs."""

    family: ClassVar[str] = ""
    Config = VideoTransformerConfig
    config: VideoTransformerConfig

    @property
    def latent_channels(self) -> int:
        return int(self.model.config.in_channels)

    @property
    def text_width(self) -> int:
        raise NotImplementedError

    def patch(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def text_length(self) -> str:
        return "L"

    @property
    def latent_space(self) -> str:
        cfg = self.config
        return latent_space(
            self.family, self.latent_channels, cfg.vae_temporal_compression, cfg.vae_spatial_compression
        )

    def input_ports(self) -> dict[str, PortSpec]:
        c = self.latent_channels
        return {
            "latent": PortSpec("float", f"B c={c} t h w", space=self.latent_space, description="the noisy latent"),
            "timestep": PortSpec("float", "B", description="each item's time in [0, 1] (1: pure noise)"),
            "condition": PortSpec(
                "float",
                f"B {self.text_length()} D={self.text_width}",
                space=text_space(self.config.text_encoder, self.text_width),
                description="text token embeddings",
            ),
            "condition_mask": PortSpec("bool", "B L", optional=True, description="True at real text tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        c = int(self.model.config.out_channels or self.latent_channels)
        return {
            "prediction": PortSpec("float", f"B c={c} t h w", space=self.latent_space, description="the prediction")
        }

    @classmethod
    def example_inputs(cls, config: VideoTransformerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        model = {**cls.tiny_model, **config.model}
        channels = int(model.get("in_channels", 16))
        width = int(model.get("text_dim") or model.get("text_embed_dim") or model.get("caption_channels") or 32)
        length = int(model.get("max_text_seq_length", 6)) if cls.family == "cogvideox" else 6
        frames = 3 if cls.family != "ltx" else 2
        return {
            "latent": torch.randn(batch, channels, frames, 2, 2, generator=generator),
            "timestep": torch.rand(batch, generator=generator),
            "condition": torch.randn(batch, length, width, generator=generator),
        }

    def _inputs(self, latent: Tensor, condition: Tensor) -> tuple[Tensor, Tensor]:
        device, dtype = self.placement()
        return latent.to(device=device, dtype=dtype), condition.to(device=device, dtype=dtype)


# --- Wan ------------------------------------------------------------------------------------------------------


class WanTransformer(VideoTransformer):
    """diffusers' ``WanTransformer3DModel`` (Wan 2.1): flow velocity for a latent, a time and UMT5 tokens."""

    family = "wan"
    library_classes = ("WanTransformer3DModel",)
    tiny_model = TINY_WAN
    prediction_type = "velocity"
    description = "Wan 2.1 denoising transformer (diffusers WanTransformer3DModel): flow velocity"

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import WanTransformer3DModel

        return WanTransformer3DModel.from_config(config)

    @property
    def text_width(self) -> int:
        return int(self.model.config.text_dim)

    def patch(self) -> tuple[int, int, int]:
        t, h, w = self.model.config.patch_size
        return int(t), int(h), int(w)

    def forward(
        self, latent: Tensor, timestep: Tensor, condition: Tensor, condition_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        latent, condition = self._inputs(latent, condition)
        step = model_timestep(timestep.reshape(-1).expand(latent.shape[0])).to(latent.device)
        out = self.model(hidden_states=latent, timestep=step, encoder_hidden_states=condition, return_dict=False)[0]
        return {"prediction": out}


# --- CogVideoX ------------------------------------------------------------------------------------------------


class CogVideoXTransformer(VideoTransformer):
    """diffusers' ``CogVideoXTransformer3DModel``: the diffusion ``v`` for a latent, a step and T5 tokens."""

    family = "cogvideox"
    library_classes = ("CogVideoXTransformer3DModel",)
    tiny_model = TINY_COGVIDEOX
    prediction_type = "v_prediction"
    description = "CogVideoX denoising transformer (diffusers CogVideoXTransformer3DModel): v-prediction"

    @classmethod
    def library_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return {"text_encoder": "t5", "vae_temporal_compression": int(config.get("temporal_compression_ratio", 4))}

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import CogVideoXTransformer3DModel

        return CogVideoXTransformer3DModel.from_config(config)

    @property
    def text_width(self) -> int:
        return int(self.model.config.text_embed_dim)

    def text_length(self) -> str:
        cfg = self.model.config
        # the sincos positions of the video tokens start after max_text_seq_length text positions
        return "L" if cfg.use_rotary_positional_embeddings else f"L={cfg.max_text_seq_length}"

    def patch(self) -> tuple[int, int, int]:
        cfg = self.model.config
        return int(cfg.patch_size_t or 1), int(cfg.patch_size), int(cfg.patch_size)

    def rotary_embeddings(self, frames: int, height: int, width: int, device: torch.device) -> Any:
        """The 3D rotary tables CogVideoX 5B/1.5 read, for a latent of ``frames`` x ``height`` x ``width``."""
        from diffusers.models.embeddings import get_3d_rotary_pos_embed

        cfg = self.model.config
        p, p_t = cfg.patch_size, cfg.patch_size_t
        grid_h, grid_w = height // p, width // p
        base_w, base_h = cfg.sample_width // p, cfg.sample_height // p
        if p_t is None:
            crops = _crop_region((grid_h, grid_w), base_w, base_h)
            return get_3d_rotary_pos_embed(
                embed_dim=cfg.attention_head_dim,
                crops_coords=crops,
                grid_size=(grid_h, grid_w),
                temporal_size=frames,
                device=device,
            )
        return get_3d_rotary_pos_embed(
            embed_dim=cfg.attention_head_dim,
            crops_coords=None,
            grid_size=(grid_h, grid_w),
            temporal_size=(frames + p_t - 1) // p_t,
            grid_type="slice",
            max_size=(base_h, base_w),
            device=device,
        )

    def forward(
        self, latent: Tensor, timestep: Tensor, condition: Tensor, condition_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        latent, condition = self._inputs(latent, condition)
        frames_first = latent.permute(0, 2, 1, 3, 4).contiguous()  # CogVideoX's own layout, laid out as its own
        step = model_timestep(timestep.reshape(-1).expand(latent.shape[0])).round().to(torch.int64).to(latent.device)
        rotary = None
        if self.model.config.use_rotary_positional_embeddings:
            rotary = self.rotary_embeddings(latent.shape[2], latent.shape[3], latent.shape[4], latent.device)
        out = self.model(
            hidden_states=frames_first,
            encoder_hidden_states=condition,
            timestep=step,
            image_rotary_emb=rotary,
            return_dict=False,
        )[0]
        return {"prediction": out.permute(0, 2, 1, 3, 4)}


def _crop_region(grid: tuple[int, int], base_width: int, base_height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where a ``grid`` (h, w) sits, resized and centred, in the ``base`` grid the rotary tables were made for."""
    height, width = grid
    if height / width > base_height / base_width:
        resize_height, resize_width = base_height, round(base_height / height * width)
    else:
        resize_width, resize_height = base_width, round(base_width / width * height)
    top, left = round((base_height - resize_height) / 2.0), round((base_width - resize_width) / 2.0)
    return (top, left), (top + resize_height, left + resize_width)


# --- LTX-Video ------------------------------------------------------------------------------------------------


class LTXVideoConfig(VideoTransformerConfig):
    vae_temporal_compression: int = Field(4, gt=0, description="frames per latent frame of the VAE (LTX-Video: 8)")
    vae_spatial_compression: int = Field(4, gt=0, description="pixels per latent row/column of the VAE (LTX-Video: 32)")
    text_encoder: str = Field("t5", description="the encoder family it reads: 't5'")
    frame_rate: float = Field(25.0, gt=0, description="frames per second the rotary positions are scaled for")


class LTXVideoTransformer(VideoTransformer):
    """diffusers' ``LTXVideoTransformer3DModel``: flow velocity for a latent (packed to tokens inside)."""

    family = "ltx"
    Config = LTXVideoConfig
    config: LTXVideoConfig
    library_classes = ("LTXVideoTransformer3DModel",)
    tiny_model = TINY_LTX
    prediction_type = "velocity"
    description = "LTX-Video denoising transformer (diffusers LTXVideoTransformer3DModel): flow velocity"

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from diffusers import LTXVideoTransformer3DModel

        return LTXVideoTransformer3DModel.from_config(config)

    @property
    def text_width(self) -> int:
        return int(self.model.config.caption_channels)

    def patch(self) -> tuple[int, int, int]:
        cfg = self.model.config
        return int(cfg.patch_size_t), int(cfg.patch_size), int(cfg.patch_size)

    def forward(
        self, latent: Tensor, timestep: Tensor, condition: Tensor, condition_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        latent, condition = self._inputs(latent, condition)
        batch, _, frames, height, width = latent.shape
        p_t, p, _ = self.patch()
        packed = latent.reshape(batch, -1, frames // p_t, p_t, height // p, p, width // p, p)
        # contiguous, as diffusers' packed latents are: low-precision CPU kernels sum strided inputs in another order
        packed = packed.permute(0, 2, 4, 6, 1, 3, 5, 7).flatten(4, 7).flatten(1, 3).contiguous()
        if condition_mask is None:
            condition_mask = torch.ones(condition.shape[:2], dtype=torch.bool)
        step = model_timestep(timestep.reshape(-1).expand(batch)).to(latent.device)
        cfg = self.config
        out = self.model(
            hidden_states=packed,
            encoder_hidden_states=condition,
            timestep=step,
            encoder_attention_mask=condition_mask.to(latent.device),
            num_frames=frames,
            height=height,
            width=width,
            rope_interpolation_scale=(
                cfg.vae_temporal_compression / cfg.frame_rate,
                cfg.vae_spatial_compression,
                cfg.vae_spatial_compression,
            ),
            return_dict=False,
        )[0]
        unpacked = out.reshape(batch, frames // p_t, height // p, width // p, -1, p_t, p, p)
        unpacked = unpacked.permute(0, 4, 1, 5, 2, 6, 3, 7).flatten(6, 7).flatten(4, 5).flatten(2, 3)
        return {"prediction": unpacked}
