"""``byte-transformer``: a small pre-LN transformer encoder over UTF-8 byte ids."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.interfaces import TextEncoder
from sora_core.ports import PortSpec
from sora_text.batching import check_texts, particle_name
from sora_text.byte_codec import MIN_LENGTH, VOCAB_SIZE, encode_batch
from sora_text.spaces import TEXT_BYTE_TRANSFORMER


class ByteTransformerConfig(ParticleConfig):
    """Sizes of the byte-level transformer encoder."""

    dim: int = Field(256, gt=0, description="features per token embedding (D)")
    layers: int = Field(4, gt=0, le=256, description="pre-LN transformer blocks")
    heads: int = Field(4, gt=0, le=256, description="attention heads; must divide dim")
    mlp_ratio: int = Field(4, gt=0, description="hidden features of each block's MLP, as a multiple of dim")
    max_length: int = Field(
        64, ge=MIN_LENGTH, le=8192, description="most byte ids per text, BOS and EOS included (learned positions)"
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout in training (attention, residual branches)")
    pad_to_max_length: bool = Field(
        True, description="pad every sequence to max_length, so L never depends on the batch (else to the longest)"
    )

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> ByteTransformerConfig:
        if self.dim % self.heads:
            raise ValueError(f"dim={self.dim} is not divisible by heads={self.heads}")
        return self


class _Block(nn.Module):
    """One pre-LN block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.mlp_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, L, D)``; ``keep`` ``(B, 1, 1, L)`` is True for keys that may be attended to."""
        batch, length, dim = x.shape
        dropout = self.dropout if self.training else 0.0
        q, k, v = (
            self.qkv(self.attention_norm(x))
            .view(batch, length, 3, self.heads, dim // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout)
        x = x + F.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, dim)), dropout, self.training)
        return x + F.dropout(self.fc2(F.gelu(self.fc1(self.mlp_norm(x)))), dropout, self.training)


class ByteTransformer(TextEncoder):
    """A pre-LN transformer encoder over UTF-8 byte ids (the ``byte-tokenizer`` scheme), with learned positions.

    Texts are tokenised internally as ``[BOS, bytes..., EOS]``, right-padded (to ``max_length`` by
    default, else to the longest text). Padding is masked out of every attention (as keys), so it never
    changes another token's output; ``embeddings`` are zero at padded positions and ``pooled`` is the
    masked mean of the valid embeddings. Randomly initialised (deterministic under ``torch.manual_seed``)
    until trained weights are loaded.
    """

    Config = ByteTransformerConfig
    config: ByteTransformerConfig
    description = "small pre-LN transformer text encoder over UTF-8 bytes (D=256, 4 layers, untrained)"

    def __init__(self, config: ByteTransformerConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self.token_embedding = nn.Embedding(VOCAB_SIZE, c.dim)
        self.position_embedding = nn.Embedding(c.max_length, c.dim)
        self.blocks = nn.ModuleList(_Block(c.dim, c.heads, c.mlp_ratio * c.dim, c.dropout) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.dim)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B", description="one text per batch item")}

    def output_ports(self) -> dict[str, PortSpec]:
        d = self.config.dim
        space = TEXT_BYTE_TRANSFORMER
        return {
            "embeddings": PortSpec("float32", f"B L D={d}", space=space, description="per byte id, zero where masked"),
            "mask": PortSpec("bool", "B L", description="True where the byte ids are not padding"),
            "pooled": PortSpec("float32", f"B D={d}", space=space, description="masked mean of embeddings"),
        }

    def tokenize(self, text: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Byte ids ``(B, L)`` and mask ``(B, L)`` for ``text``, on the CPU (what ``byte-tokenizer`` gives)."""
        texts = check_texts(text, particle_name(self))
        return encode_batch(texts, self.config.max_length, self.config.pad_to_max_length, particle_name(self))

    def encode_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embeddings, mask and pooled for byte ids ``(B, L)`` with their mask ``(B, L)`` (right-padded)."""
        device = self.token_embedding.weight.device
        tokens, mask = tokens.to(device), mask.to(device)
        positions = torch.arange(tokens.shape[1], device=device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        keep = mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, keep)
        weights = mask.unsqueeze(-1).to(x.dtype)
        embeddings = self.norm(x) * weights
        pooled = embeddings.sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return {"embeddings": embeddings, "mask": mask, "pooled": pooled}

    def forward(self, text: list[str]) -> dict[str, torch.Tensor]:
        tokens, mask = self.tokenize(text)
        return self.encode_tokens(tokens, mask)
