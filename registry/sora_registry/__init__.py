"""sora-registry: a self-hostable index of sora-core particle plugins.

It speaks the Python simple repository API (PEP 503 HTML, PEP 691 JSON), so ``pip install
--index-url URL/simple NAME`` installs published plugins; it keeps a searchable catalog of
their particles (kind, ports, spaces, config, weights) and accepts token-authenticated uploads
that are validated before anything is stored. Start it with ``sora-registry serve --data DIR``.
"""

from __future__ import annotations

__version__ = "0.1.0"
