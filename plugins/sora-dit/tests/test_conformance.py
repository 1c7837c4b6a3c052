"""Every sora-dit particle passes sora-core's conformance kit with its default config.

The prompt rewriter refuses a prompt of nothing the generator knows, which the kit's batch check makes
(item 0 reversed); it is checked with ``allow_unknown`` on, which passes such a prompt on with a warning.
"""

from sora_core.testing import conformance_suite

test_conformance = conformance_suite("sora-dit", configs={"prompt-rewriter": {"allow_unknown": True}})
