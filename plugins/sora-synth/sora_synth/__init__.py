"""sora-synth: a synthetic captioned-video dataset and a pixel-level evaluator for its prompts.

Modules, each importable on its own: ``vocabulary`` (attributes and colours), ``scene`` (sampling
and rendering), ``captions`` (captions, paraphrases, ``parse_prompt``), ``splits`` (the held-out
split, training examples, held-out and paraphrase prompts), ``evaluate`` (``analyse``, ``score``,
``evaluate_many``), ``degrade`` (blur and noise), ``validate`` (the agreement report). The
``clip-evaluator`` particle is reached through the registry. Importing this package imports
nothing else, so listing plugins stays cheap.
"""

from __future__ import annotations

__all__: list[str] = []
