"""The spaces sora-text's encoders write: versioned tags for what their outputs mean (no torch here).

Each encoder declares its own space, so a denoiser trained on one encoder's embeddings cannot be fed
the other's: the pipeline refuses the edge when it is built.
"""

from __future__ import annotations

from sora_core.spaces import SpaceSpec

#: Token ids of the UTF-8 byte vocabulary of ``byte-tokenizer`` (PAD=0, BOS=1, EOS=2, byte b -> b + 3).
TOKENS_BYTES = "tokens/sora-bytes@1"
#: Token embeddings (and their masked mean) of the byte-level transformer ``byte-transformer``.
TEXT_BYTE_TRANSFORMER = "text/sora-byte-transformer@1"
#: Last hidden states (and the sentence embedding) of the pretrained all-MiniLM-L6-v2.
TEXT_MINILM_L6 = "text/minilm-l6@1"

SPACES: tuple[SpaceSpec, ...] = (
    SpaceSpec(
        TOKENS_BYTES, "UTF-8 byte ids of sora-text's byte tokenizer: PAD=0, BOS=1, EOS=2, byte b -> b+3 (259 ids)"
    ),
    SpaceSpec(
        TEXT_BYTE_TRANSFORMER,
        "sora-text's byte-level pre-LN transformer: token embeddings (B, L, 256), zero where masked, "
        "and their masked mean (B, 256)",
    ),
    SpaceSpec(
        TEXT_MINILM_L6,
        "sentence-transformers/all-MiniLM-L6-v2 (BERT uncased WordPiece, 6 layers): last hidden states "
        "(B, L, 384), zero where masked, and the sentence embedding (B, 384), masked mean then L2-normalised",
    ),
)
