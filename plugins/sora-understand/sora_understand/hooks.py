"""sora-understand's pluggy hooks: the ``v2t``, ``vqa`` and ``summarize`` templates. Imports no torch."""

from __future__ import annotations

from pathlib import Path

from sora_core.hooks import hookimpl

TEMPLATES = Path(__file__).parent / "templates"


@hookimpl
def sora_register_templates() -> dict[str, Path]:
    """``v2t``: video -> caption; ``vqa``: video + question -> answer; ``summarize``: video -> key frames."""
    return {"v2t": TEMPLATES / "v2t.yaml", "vqa": TEMPLATES / "vqa.yaml", "summarize": TEMPLATES / "summarize.yaml"}
