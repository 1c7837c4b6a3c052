"""Every sora-text particle passes sora-core's conformance kit, with its default config.

The defaults pad every text to ``max_length``, so ``L`` never depends on the batch. With
``pad_to_max_length=False`` ``L`` follows the longest text in the batch: the kit's batch-independence
check lengthens the text of item 0 and so, legitimately, ``L`` of every item; every other check still
passes, and the values of the other items do not move (``test_byte.py`` and ``test_minilm.py`` check
that each text encoded alone equals it encoded beside longer ones).
"""

from __future__ import annotations

import pytest

from sora_core.testing import check_particle, conformance_suite

NAMES = ("byte-tokenizer", "byte-transformer", "minilm-l6")

test_conformance = conformance_suite("sora-text")


@pytest.mark.parametrize("name", NAMES)
def test_padding_to_the_longest_passes_every_check_but_the_fixed_length_one(name: str) -> None:
    results = {result.name: result for result in check_particle(f"sora-text:{name}", {"pad_to_max_length": False})}
    failed = {key: result.detail for key, result in results.items() if not result.passed}
    assert set(failed) == {"batch-independent"}, failed
    detail = failed["batch-independent"]
    assert "changed shape" in detail  # L grew with item 0's text...
    assert "of item(s)" not in detail  # ...but pooled (B, D) of the other item did not move
    assert results["manifest"].passed
