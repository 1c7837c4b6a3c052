"""Batching texts, shared by every sora-text particle: checking a ``text`` input, right-padding id sequences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sora_core.errors import PortError


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


def pad_sequences(
    sequences: Sequence[Sequence[int]], length: int | None, pad_id: int, min_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids ``(B, L)`` int64 right-padded with ``pad_id`` and mask ``(B, L)`` bool, True on the given ids.

    ``L`` is ``length``, or the longest sequence when it is ``None`` (at least ``min_length``, also
    for an empty batch). Sequences must already fit in ``length``.
    """
    size = length if length is not None else max((len(s) for s in sequences), default=min_length)
    tokens = torch.full((len(sequences), size), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(sequences), size), dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.int64)
        mask[row, : len(sequence)] = True
    return tokens, mask
