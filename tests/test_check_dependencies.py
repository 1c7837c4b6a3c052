"""`sora check` imports the wheel with its declared dependencies only: an undeclared `import sora_vae` fails, named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sora_core.dependency_site import build_dependency_site, declared_closure, installed_distributions
from sora_core.package_check import check_package


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sora new`'s video decoder, whose particle module imports sora_vae (installed here) without declaring it."""
    path = tmp_path_factory.mktemp("scaffold") / "vae-user"
    command = ["new", "vae-user", "--kind", "video_decoder", "--dir", str(path), "--author", ""]
    subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *command],
        check=True,
        capture_output=True,
        timeout=300,
    )
    module = path / "vae_user" / "video_decoder.py"
    text = module.read_text(encoding="utf-8")
    module.write_text(text.replace("import torch\n", "import sora_vae  # noqa: F401\nimport torch\n", 1), "utf-8")
    return path


def dependency_rows(report) -> list[tuple[bool, str]]:
    return [(item.passed, item.detail) for item in report.items if item.subject == "dependencies"]


def test_an_undeclared_import_fails_naming_the_distribution_and_the_line_to_add(project: Path) -> None:
    report = check_package(project)
    assert not report.ok
    ((passed, detail),) = dependency_rows(report)
    assert not passed
    assert detail == (
        "vae_user.video_decoder imports 'sora_vae', which comes from sora-vae 0.1.0, not a dependency of vae-user: "
        'add "sora-vae>=0.1.0" to [project] dependencies in pyproject.toml'
    )
    broken = [item.detail for item in report.failures if item.section == "conformance"]
    assert broken and "'sora_vae' comes from sora-vae 0.1.0" in broken[0]


def test_declaring_it_passes(project: Path, tmp_path: Path) -> None:
    declared = tmp_path / "vae-user"
    subprocess.run(["cp", "-r", str(project), str(declared)], check=True)
    pyproject = declared / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"sora-core>=0.1.0",', '"sora-core>=0.1.0",\n    "sora-vae>=0.1",'), "utf-8")
    report = check_package(declared)
    assert report.ok, [item.detail for item in report.failures]
    ((passed, detail),) = dependency_rows(report)
    assert passed and detail.startswith("imports only what it declares")


def test_a_particle_of_an_undeclared_plugin_used_by_name_is_named_too(project: Path, tmp_path: Path) -> None:
    by_name = tmp_path / "vae-user"
    subprocess.run(["cp", "-r", str(project), str(by_name)], check=True)
    module = by_name / "vae_user" / "video_decoder.py"
    text = module.read_text(encoding="utf-8").replace("import sora_vae  # noqa: F401\n", "")
    call = "        super().__init__(config, **overrides)"
    assert call in text
    use = "\n        from sora_core import registry\n\n        registry.info('sora-vae:causal-vae-encoder')"
    module.write_text(text.replace(call, call + use, 1), encoding="utf-8")
    report = check_package(by_name)
    ((passed, detail),) = dependency_rows(report)
    assert not passed
    assert detail == (
        "vae-user uses particle sora-vae:causal-vae-encoder, which comes from sora-vae 0.1.0, not a dependency of "
        'vae-user: add "sora-vae>=0.1.0" to [project] dependencies in pyproject.toml'
    )


def test_the_closure_follows_requirements_markers_and_extras() -> None:
    installed = installed_distributions()
    allowed, missing = declared_closure(
        ["sora-vae", "no-such-dist>=1", "sora-text; python_version < '3'", "pytest; extra == 'test'"], installed
    )
    assert {"sora-vae", "sora-core", "torch", "pydantic"} <= set(allowed)
    assert "sora-text" not in allowed and "pytest" not in allowed  # a false marker, an extra nobody asked for
    assert missing == ["no-such-dist>=1"]


def test_the_site_links_only_the_allowed_distributions(tmp_path: Path) -> None:
    site = build_dependency_site(tmp_path / "site", ["torch>=2.2"])
    assert "sora-vae" not in site.allowed and site.providers["sora_vae"] == [
        f"sora-vae {installed_distributions()['sora-vae'].version}"
    ]
    code = f"""
import importlib.util, site
site.addsitedir({str(site.directory)!r})
import torch, sora_core
from sora_core.dependency_site import UndeclaredImportGuard
UndeclaredImportGuard({site.guard_spec("my-plugin", ["my_plugin"])!r}).install()
print(importlib.util.find_spec("sora_vae"))  # a probe is answered "not there", as without sora-vae
try:
    import sora_vae
except ImportError as exc:
    print(exc)
"""
    command = [sys.executable, "-S", "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    probe, refused = result.stdout.splitlines()
    assert probe == "None", result.stderr
    assert refused.startswith("No module named 'sora_vae' where my-plugin is installed with its declared dependencies")
    assert refused.endswith('add "sora-vae>=0.1.0" to [project] dependencies in pyproject.toml')
