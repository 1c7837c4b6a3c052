"""``t5-tokenizer`` and ``t5-encoder``: the T5 / UMT5 text side of Wan, CogVideoX and LTX-Video.

The tokenizer loads a transformers tokenizer folder (``tokenizer.json`` or ``spiece.model``; no remote code,
no network) and pads every prompt to ``max_length`` as the pipelines do. The encoder wraps transformers'
``T5EncoderModel`` or ``UMT5EncoderModel``; ``pass_mask`` and ``zero_padding`` reproduce how each family
reads it (Wan passes the mask and zeroes the padded positions; CogVideoX and LTX-Video pass neither).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.interfaces import Tokenizer
from sora_core.ports import PortSpec
from sora_diffusers import folders
from sora_diffusers.base import LibraryModelConfig, LibraryModelParticle
from sora_diffusers.spaces import text_space

TINY_T5: dict[str, Any] = {
    "model_type": "umt5",
    "vocab_size": 44,
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 37,
    "num_layers": 2,
    "num_heads": 4,
}


def clean_prompt(text: str) -> str:
    """Wan's prompt cleaning: HTML entities decoded (ftfy's fixes too, when installed), whitespace collapsed."""
    try:
        import ftfy

        text = ftfy.fix_text(text)
    except ImportError:
        pass
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


class T5TokenizerConfig(ParticleConfig):
    max_length: int = Field(16, ge=1, le=4096, description="every prompt is padded (or cut) to this many tokens")
    clean: Literal["none", "wan"] = Field("none", description="'wan': Wan's prompt cleaning before tokenizing")


class T5Tokenizer(Tokenizer):
    """Prompts -> token ids ``(B, max_length)`` and mask, with a transformers tokenizer from a model folder."""

    weights_format: ClassVar[str] = "diffusers"
    Config = T5TokenizerConfig
    config: T5TokenizerConfig
    description = "T5/UMT5 tokenizer from a model folder's tokenizer/: prompts -> ids padded to max_length + mask"

    def __init__(self, config: ParticleConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._tokenizer: Any = None

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        *,
        dtype: Any = None,
        device: Any = None,
        verify: bool = True,
        overrides: dict[str, Any] | None = None,
    ) -> T5Tokenizer:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return super().from_pretrained(path, dtype=dtype, device=device, verify=verify, overrides=overrides)
        folder = folders.locate(path)
        folders.check_component(path, folder)
        if not any((path / name).is_file() for name in ("tokenizer.json", "spiece.model")):
            raise folders.MissingWeightsError(
                f"{path} has neither tokenizer.json nor spiece.model", "re-download the model's tokenizer/ folder"
            )
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise folders.WeightsError(
                f"{path} cannot be read as a tokenizer: {str(exc).splitlines()[0][:200]}",
                "re-download the model's tokenizer/ folder",
            ) from None
        particle = cls(overrides or {})
        particle._tokenizer = tokenizer
        return particle

    @classmethod
    def pretrained_config(cls, directory: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(directory)
        return {} if folders.is_diffusers_component(path) else super().pretrained_config(path)

    @classmethod
    def pretrained_files(cls, directory: str | os.PathLike[str]) -> list[str] | None:
        path = Path(directory)
        if not folders.is_diffusers_component(path):
            return None
        return [name for name in folders.TOKENIZER_FILES if (path / name).is_file()]

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:  # a fresh particle: the tiny word-level tokenizer of the test models
            from sora_diffusers.tiny import tiny_tokenizer

            self._tokenizer = tiny_tokenizer(self.config.max_length)
        return self._tokenizer

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B", description="the prompts")}

    def output_ports(self) -> dict[str, PortSpec]:
        length = self.config.max_length
        return {
            "tokens": PortSpec("int64", f"B L={length}", description="token ids, padded to max_length"),
            "mask": PortSpec("bool", f"B L={length}", description="True at real tokens"),
        }

    @classmethod
    def example_inputs(cls, config: T5TokenizerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        return {"text": ["a red ball moving left", "a small cat", "blurry", "a dog"][:batch] * (1 + batch // 4)}

    def forward(self, text: Any) -> dict[str, Tensor]:
        if isinstance(text, str):
            text = [text]
        if not isinstance(text, (list, tuple)) or not all(isinstance(t, str) for t in text):
            raise PortError(
                f"{self.registered_name or 't5-tokenizer'}: input 'text' must be a list of strings, got {text!r:.80}",
                'pass text=["a cat playing piano"]',
            )
        texts = [clean_prompt(t) for t in text] if self.config.clean == "wan" else list(text)
        encoded = self.tokenizer(
            texts,
            padding="max_length",
            max_length=self.config.max_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        return {"tokens": encoded.input_ids.to(torch.int64), "mask": encoded.attention_mask.to(torch.bool)}


class T5EncoderConfig(LibraryModelConfig):
    architecture: Literal["T5EncoderModel", "UMT5EncoderModel"] = Field(
        "UMT5EncoderModel", description="the transformers class the folder's config.json names"
    )
    pass_mask: bool = Field(True, description="give the encoder the attention mask (Wan) or not (CogVideoX, LTX)")
    zero_padding: bool = Field(False, description="zero the embeddings at padded positions (Wan)")


class T5Encoder(LibraryModelParticle):
    """transformers' T5 / UMT5 encoder: token ids ``(B, L)`` -> embeddings ``(B, L, d_model)``, mask, pooled."""

    kind: ClassVar[str] = "text_encoder"
    Config = T5EncoderConfig
    config: T5EncoderConfig
    library_classes = ("T5EncoderModel", "UMT5EncoderModel")
    class_key = "architectures"
    tiny_model = TINY_T5
    description = "T5 / UMT5 text encoder (transformers) from a model folder's text_encoder/: token ids -> embeddings"

    @classmethod
    def library_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        architectures = config.get("architectures") or []
        found = [a for a in architectures if a in cls.library_classes]
        return {"architecture": found[0]} if found else {}

    def build_model(self, config: dict[str, Any]) -> nn.Module:
        from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

        umt5 = self.config.architecture == "UMT5EncoderModel"
        options = {k: v for k, v in config.items() if k != "model_type"}
        model_config = UMT5Config(**options) if umt5 else T5Config(**options)
        return UMT5EncoderModel(model_config) if umt5 else T5EncoderModel(model_config)

    def keeps_float32(self, dtype: torch.dtype | None) -> Callable[[str], bool]:
        """As transformers decides: ``_keep_in_fp32_modules`` (T5's ``wo``) only for float16, the ``_strict`` set for
        float16 and bfloat16; a module matches by its dotted name's parts."""
        keep = set()
        if dtype == torch.float16:
            keep |= set(getattr(self.model, "_keep_in_fp32_modules", None) or ())
        if dtype in (torch.float16, torch.bfloat16):
            keep |= set(getattr(self.model, "_keep_in_fp32_modules_strict", None) or ())
        return lambda name: bool(keep.intersection(name.split(".")))

    @property
    def width(self) -> int:
        return int(self.model_config.get("d_model", 512))

    @property
    def space(self) -> str:
        model_type = "umt5" if self.config.architecture == "UMT5EncoderModel" else "t5"
        return text_space(model_type, self.width)

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "tokens": PortSpec("int64", "B L", description="token ids from the model's tokenizer"),
            "mask": PortSpec("bool", "B L", optional=True, description="True at real tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "embeddings": PortSpec("float", f"B L D={self.width}", space=self.space, description="token embeddings"),
            "mask": PortSpec("bool", "B L", description="True at real tokens"),
            "pooled": PortSpec("float", f"B D={self.width}", space=self.space, description="mean of real tokens"),
        }

    @classmethod
    def example_inputs(cls, config: T5EncoderConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        vocab = int({**TINY_T5, **config.model}.get("vocab_size", 44))
        tokens = torch.randint(3, vocab, (batch, 6), generator=generator)
        mask = torch.ones(batch, 6, dtype=torch.bool)
        mask[:, 4:] = False
        return {"tokens": tokens, "mask": mask}

    def forward(self, tokens: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        device, _ = self.placement()
        if mask is None:
            mask = torch.ones_like(tokens, dtype=torch.bool)
        ids = tokens.to(device=device, dtype=torch.int64)
        attention = mask.to(device=device, dtype=torch.int64) if self.config.pass_mask else None
        embeddings = self.model(ids, attention_mask=attention).last_hidden_state
        real = mask.to(device=embeddings.device)
        if self.config.zero_padding:
            embeddings = embeddings * real.unsqueeze(-1).to(embeddings.dtype)
        weights = real.unsqueeze(-1).to(embeddings.dtype)
        pooled = (embeddings * weights).sum(1) / weights.sum(1).clamp(min=1)
        return {"embeddings": embeddings, "mask": real.to(torch.bool), "pooled": pooled}
