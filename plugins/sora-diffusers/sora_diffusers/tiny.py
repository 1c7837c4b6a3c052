"""Tiny random Wan, CogVideoX and LTX-Video model folders, written with diffusers' own ``save_pretrained``.

They have the layout of the real folders (``model_index.json``, one subfolder per component, safetensors
weights, a tokenizer) at a few thousand parameters each, so the pipelines, swaps, locks and parity with
diffusers can be tried and tested without downloading anything::

    python -m sora_diffusers.tiny wan /tmp/wan-tiny
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

FAMILIES = ("wan", "cogvideox", "ltx")

#: The words the tiny tokenizer knows; anything else is ``<unk>``.
WORDS = [
    "a",
    "red",
    "blue",
    "green",
    "yellow",
    "circle",
    "square",
    "triangle",
    "ball",
    "cat",
    "dog",
    "moving",
    "left",
    "right",
    "up",
    "down",
    "bouncing",
    "the",
    "on",
    "in",
    "of",
    "and",
    "with",
    "small",
    "big",
    "fast",
    "slow",
    "dance",
    "monkey",
    "video",
    "bad",
    "quality",
    "blurry",
    "ugly",
]


def tiny_tokenizer(max_length: int) -> Any:
    """A T5-style word-level tokenizer (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, an end token appended), built
    locally with the ``tokenizers`` library and wrapped as a ``transformers`` fast tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{word: i + 3 for i, word in enumerate(WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_length,
    )


def _t5_encoder(umt5: bool, vocab_size: int) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    options = {"vocab_size": vocab_size, "d_model": 32, "d_kv": 8, "d_ff": 37, "num_layers": 2, "num_heads": 4}
    if umt5:
        return UMT5EncoderModel(UMT5Config(**options))
    return T5EncoderModel(T5Config(**options))


def tiny_pipeline(family: str, seed: int = 0) -> Any:
    """A diffusers pipeline of ``family`` with random tiny components (seeded, so the same every time)."""
    import diffusers
    import torch

    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(16)
    text_encoder = _t5_encoder(family == "wan", len(tokenizer))
    if family == "wan":
        vae = diffusers.AutoencoderKLWan(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        )
        transformer = diffusers.WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        scheduler = diffusers.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        )
        return diffusers.WanPipeline(
            tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
        )
    if family == "cogvideox":
        transformer = diffusers.CogVideoXTransformer3DModel(
            num_attention_heads=4,
            attention_head_dim=8,
            in_channels=4,
            out_channels=4,
            time_embed_dim=2,
            text_embed_dim=32,
            num_layers=1,
            sample_width=2,
            sample_height=2,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=16,
        )
        vae = diffusers.AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        )
        scheduler = diffusers.CogVideoXDDIMScheduler(
            prediction_type="v_prediction",
            rescale_betas_zero_snr=True,
            timestep_spacing="trailing",
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=True,
        )
        return diffusers.CogVideoXPipeline(
            tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
        )
    transformer = diffusers.LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    vae = diffusers.AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024, max_image_seq_len=4096
    )
    return diffusers.LTXPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )


def write_tiny_folder(family: str, directory: str | os.PathLike[str], seed: int = 0) -> Path:
    """Save a tiny ``family`` pipeline to ``directory`` in diffusers' folder format and return the path."""
    target = Path(directory)
    tiny_pipeline(family, seed).save_pretrained(target, safe_serialization=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sora_diffusers.tiny", description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_tiny_folder(args.family, args.directory, args.seed)
    sys.stdout.write(f"wrote a tiny {args.family} folder to {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
