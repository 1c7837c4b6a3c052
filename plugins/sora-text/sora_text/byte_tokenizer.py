"""``byte-tokenizer``: UTF-8 bytes to token ids, weightless."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from sora_core.config import ParticleConfig
from sora_core.interfaces import Tokenizer
from sora_core.ports import PortSpec
from sora_text.batching import check_texts, particle_name
from sora_text.byte_codec import (
    BOS_ID,
    EOS_ID,
    MIN_LENGTH,
    PAD_ID,
    VOCAB_SIZE,
    decode_ids,
    encode_batch,
)
from sora_text.spaces import TOKENS_BYTES


class ByteTokenizerConfig(ParticleConfig):
    """Length and padding of the byte tokenizer."""

    max_length: int = Field(
        64, ge=MIN_LENGTH, le=65536, description="most ids per text, BOS and EOS included (longer texts are cut)"
    )
    pad_to_max_length: bool = Field(
        True, description="pad every sequence to max_length, so L never depends on the batch (else to the longest)"
    )


class ByteTokenizer(Tokenizer):
    """Texts to UTF-8 byte ids: PAD=0, BOS=1, EOS=2, byte b -> b + 3 (259 ids).

    Surrounding whitespace is stripped; the bytes are otherwise exact (no case folding). A text
    longer than ``max_length - 2`` bytes is cut at a character boundary and keeps BOS and EOS.
    ``tokens`` are right-padded with PAD; ``mask`` marks the ids that are not padding.
    """

    Config = ByteTokenizerConfig
    config: ByteTokenizerConfig
    description = "UTF-8 byte tokenizer: PAD=0, BOS=1, EOS=2, byte b -> b+3 (vocabulary 259)"

    pad_id: ClassVar[int] = PAD_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID
    vocab_size: ClassVar[int] = VOCAB_SIZE

    def __init__(self, config: ByteTokenizerConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B", description="one text per batch item")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "tokens": PortSpec("int64", "B L", space=TOKENS_BYTES, description="byte ids, right-padded with PAD=0"),
            "mask": PortSpec("bool", "B L", description="True where tokens are not padding"),
        }

    def forward(self, text: list[str]) -> dict[str, torch.Tensor]:
        texts = check_texts(text, particle_name(self))
        tokens, mask = encode_batch(texts, self.config.max_length, self.config.pad_to_max_length, particle_name(self))
        return {"tokens": tokens, "mask": mask}

    def decode(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> list[str]:
        """The texts of ``tokens`` ``(B, L)`` (special ids and, with ``mask``, padding dropped)."""
        rows = tokens.tolist()
        keep = mask.tolist() if mask is not None else [[True] * len(row) for row in rows]
        return [
            decode_ids([i for i, k in zip(row, kept, strict=True) if k]) for row, kept in zip(rows, keep, strict=True)
        ]
