"""The clip-evaluator particle passes sora-core's conformance kit (its examples are rendered clips and captions)."""

from sora_core.testing import conformance_suite

test_conformance = conformance_suite("sora-synth")
