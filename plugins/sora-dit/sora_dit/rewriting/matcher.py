"""Words and phrases to the nearest of a few labelled descriptions, by a pretrained sentence encoder.

The encoder is a text-encoder particle created by name through the registry (MiniLM, pretrained, offline,
by default) and used for its ``pooled`` sentence embedding. Each label is described by a few phrases (the
generator's own word for it and a plain description); a phrase goes to the label of its most similar
description when that cosine similarity reaches a threshold and beats the next label by a margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from sora_core import registry

__all__ = ["Match", "SentenceMatcher"]


class Match:
    """The label a phrase went to (``None`` when none was similar enough), its similarity and its margin."""

    __slots__ = ("label", "margin", "similarity")

    def __init__(self, label: str | None, similarity: float, margin: float) -> None:
        self.label = label
        self.similarity = similarity
        self.margin = margin


class SentenceMatcher:
    """Nearest labelled description of a phrase under ``encoder``'s pooled embeddings (cached per text)."""

    def __init__(self, encoder: str) -> None:
        self.encoder_name = encoder
        self._encoder: Any = None
        self._cache: dict[str, Tensor] = {}

    def _encode(self, texts: Sequence[str]) -> Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            if self._encoder is None:
                self._encoder = registry.create(self.encoder_name, pad_to_max_length=False)
                self._encoder.eval()
            with torch.inference_mode():
                pooled = self._encoder(text=list(missing))["pooled"].float()
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            self._cache.update(zip(missing, pooled, strict=True))
        return torch.stack([self._cache[t] for t in texts])

    def match(
        self, phrase: str, labels: Mapping[str, Sequence[str]], *, threshold: float, margin: float = 0.0
    ) -> Match:
        """``phrase``'s label among ``labels`` (label -> descriptions)."""
        names = list(labels)
        descriptions = [d for name in names for d in labels[name]]
        vectors = self._encode([phrase, *descriptions])
        similarity = vectors[1:] @ vectors[0]
        best: dict[str, float] = {}
        for name, value in zip((n for n in names for _ in labels[n]), similarity.tolist(), strict=True):
            best[name] = max(best.get(name, -1.0), value)
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        top, value = ranked[0]
        lead = value - ranked[1][1] if len(ranked) > 1 else value
        placed = value >= threshold and lead >= margin
        return Match(top if placed else None, value, lead)
