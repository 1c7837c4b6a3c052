"""Every sora-seed particle passes sora-core's conformance kit."""

from sora_core.testing import conformance_suite

test_conformance = conformance_suite("sora-seed")
