"""The byte-level tokenisation shared by ``byte-tokenizer`` and ``byte-transformer``.

A text is stripped of surrounding whitespace and encoded as UTF-8, bytes exact (no case folding or
normalisation). Each byte ``b`` becomes id ``b + 3``; ids 0, 1 and 2 are PAD, BOS and EOS, so the
vocabulary has 259 ids. A sequence is ``[BOS, bytes..., EOS]``; a text longer than ``max_length - 2``
bytes is cut at the last whole UTF-8 character that fits, and keeps its BOS and EOS. Sequences are
right-padded with PAD (by :func:`sora_text.batching.pad_sequences`), to the longest in the batch or
to ``max_length``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sora_core.errors import PortError
from sora_text.batching import pad_sequences

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
#: Byte ``b`` is token ``b + BYTE_OFFSET``.
BYTE_OFFSET = 3
VOCAB_SIZE = 256 + BYTE_OFFSET
#: The shortest sequence: BOS and EOS around an empty text.
MIN_LENGTH = 2


def encode_text(text: str, max_length: int, particle: str = "byte tokenizer", index: int = 0) -> list[int]:
    """``[BOS, byte ids..., EOS]`` for one text, at most ``max_length`` ids (``max_length >= 2``)."""
    try:
        data = text.strip().encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PortError(
            f"{particle}: text item {index} is not valid Unicode ({exc.reason} at character {exc.start})",
            "remove lone surrogate characters from the text",
        ) from None
    room = max_length - MIN_LENGTH
    if len(data) > room:
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a character: back off its continuation bytes
            cut -= 1
        data = data[:cut]
    return [BOS_ID, *(byte + BYTE_OFFSET for byte in data), EOS_ID]


def encode_batch(
    texts: Sequence[str], max_length: int, pad_to_max_length: bool = False, particle: str = "byte tokenizer"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(B, L)`` int64 and mask ``(B, L)`` bool for ``texts``, right-padded with PAD.

    ``L`` is ``max_length`` with ``pad_to_max_length``, else the longest sequence in the batch
    (at least 2, also for an empty batch).
    """
    sequences = [encode_text(text, max_length, particle, index) for index, text in enumerate(texts)]
    return pad_sequences(sequences, max_length if pad_to_max_length else None, PAD_ID, MIN_LENGTH)


def decode_ids(ids: Sequence[int]) -> str:
    """The text of one sequence of ids: special ids are dropped, bytes decoded as UTF-8 (invalid ones replaced)."""
    data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < VOCAB_SIZE)
    return data.decode("utf-8", errors="replace")
