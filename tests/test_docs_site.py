"""The documentation site: ``mkdocs build --strict`` (as ``make docs`` runs it) passes, with the README as the front
page and an API reference generated from the docstrings."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built with ``--strict``: any broken link, anchor, nav entry or reference fails the build."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail('mkdocs is not installed: `make setup` installs it (pip install -e ".[docs]")')
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_front_page_is_the_readme_with_working_links(site: Path) -> None:
    front = (site / "index.html").read_text(encoding="utf-8")
    readme_title = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    assert readme_title in front
    # The README's links into docs/ are rewritten to the site's pages (a broken one would have failed the build).
    assert 'href="performance.html' in front and "docs/performance.md" not in front


def test_every_docs_page_is_in_the_site(site: Path) -> None:
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if not (site / f"{p}.html").is_file()] == []


@pytest.mark.parametrize(
    ("page", "names"),
    [
        ("registry", ["sora_core.registry", "Registry", "ParticleInfo"]),
        ("api", ["sora_core.api", "generate", "load_video"]),
        ("ports", ["PortSpec", "connection_problems", "ShapeUnifier"]),
        ("pipelines", ["Pipeline", "PipelineSpec", "PipelineBuilder"]),
        ("testing", ["check_particle", "conformance_suite"]),
        ("errors", ["SoraError"]),
    ],
)
def test_the_api_reference_is_generated_from_docstrings(site: Path, page: str, names: list[str]) -> None:
    html = (site / "reference" / f"{page}.html").read_text(encoding="utf-8")
    assert 'class="doc doc-object' in html
    for name in names:
        assert name in html
    # reST roles in the docstrings are rewritten to Markdown (scripts/griffe_sphinx_roles.py), not shown as is.
    assert ":class:`" not in html and ":func:`" not in html


def test_roles_become_inline_code() -> None:
    spec = importlib.util.spec_from_file_location("griffe_sphinx_roles", ROOT / "scripts" / "griffe_sphinx_roles.py")
    assert spec is not None and spec.loader is not None
    if importlib.util.find_spec("griffe") is None:
        pytest.fail('griffe is not installed: `make setup` installs it (pip install -e ".[docs]")')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Raises :class:`~sora_core.errors.SoraError` (see :mod:`sora_core.discovery`); for example::\n\n    x = 1"
    assert module.markdown(text) == "Raises `SoraError` (see `sora_core.discovery`); for example:\n\n    x = 1"
