"""The byte-level tokenisation shared by ``byte-tokenizer`` and ``byte-transformer``.

A text is stripped of surrounding whitespace and encoded as UTF-8, bytes exact (no case folding or
normalisation). Each byte ``b`` becomes id ``b + 3``; ids 0, 1 and 2 are PAD, BOS and EOS, so the
vocabulary has 259 ids. A sequence is ``[BOS, bytes..., EOS]``; a text longer than ``max_length - 2``
bytes is cut at the last whole UTF-8 character that fits, and keeps its BOS and EOS. Sequences are
right-padded with PAD, to the longest in the batch or to ``max_length``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sora_core.errors import PortError

PAD_ID = 0
BOS_ID = 1
EOS_ID = 2
#: Byte ``b`` is token ``b + BYTE_OFFSET``.
BYTE_OFFSET = 3
VOCAB_SIZE = 256 + BYTE_OFFSET
#: The shortest sequence: BOS and EOS around an empty text.
MIN_LENGTH = 2


def particle_name(particle: Any) -> str:
    """The name to show in ``particle``'s errors: ``dist:name`` when the registry made it, else its class path."""
    return str(getattr(particle, "registered_name", None) or particle.display_name())


def check_texts(value: Any, particle: str, port: str = "text") -> list[str]:
    """``value`` as a list of strings, or a ``PortError`` naming ``particle`` and ``port``."""
    if isinstance(value, str):
        raise PortError(
            f"{particle}: input {port!r} got a single str; it takes a list of strings, one per batch item",
            f"wrap the text in a list: {port}=[text]",
        )
    if not isinstance(value, (list, tuple)):
        raise PortError(
            f"{particle}: input {port!r} got a {type(value).__name__}; it takes a list of strings, one per batch item",
            f"pass {port}=['a red fox runs through fresh snow', ...]",
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise PortError(
                f"{particle}: input {port!r} item {index} is a {type(item).__name__}, not a str",
                "pass one string per batch item (decode bytes, convert numbers with str())",
            )
    return list(value)


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
    length = max_length if pad_to_max_length else max((len(s) for s in sequences), default=MIN_LENGTH)
    tokens = torch.full((len(sequences), length), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(sequences), length), dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.int64)
        mask[row, : len(sequence)] = True
    return tokens, mask


def decode_ids(ids: Sequence[int]) -> str:
    """The text of one sequence of ids: special ids are dropped, bytes decoded as UTF-8 (invalid ones replaced)."""
    data = bytes(i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < VOCAB_SIZE)
    return data.decode("utf-8", errors="replace")
