"""Every sora-diffusers particle passes sora-core's conformance kit with its default config."""

from sora_core.testing import conformance_suite

test_conformance = conformance_suite("sora-diffusers")
