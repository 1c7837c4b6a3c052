"""``sora check``: is a plugin ready to publish? Packaging checks plus the conformance kit.

A target is a plugin project directory (built into a wheel first), a built ``.whl``, or the
name of an installed distribution. A wheel is inspected without installing it
(:mod:`sora_core.wheels`), then installed into a throw-away directory and checked in a
fresh interpreter, where every ``sora.particles`` entry point must import and every
particle must pass the conformance kit. That interpreter sees only the wheel's declared dependencies
(:mod:`sora_core.dependency_site`), so an undeclared import fails the ``dependencies`` check, naming
the distribution and the line to add. An installed distribution is checked in place.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_core.errors import PackageError
from sora_core.text import canonical_dist_name

__all__ = ["CheckItem", "PackageReport", "check_package", "conformance_results"]

_UNKNOWN_PARTICLE = re.compile(r"unknown particle '([^':\s]+:[^'\s]+)'")


@dataclass(frozen=True)
class CheckItem:
    """One check on a package: its section (``packaging`` or ``conformance``), subject, outcome and detail."""

    section: str
    subject: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "subject": self.subject, "passed": self.passed, "detail": self.detail}


@dataclass
class PackageReport:
    """Every check run on one package."""

    target: str
    name: str = ""
    version: str = ""
    wheel: Path | None = None
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.passed for item in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        return [item for item in self.items if not item.passed]

    def add(self, section: str, subject: str, passed: bool, detail: str) -> None:
        self.items.append(CheckItem(section, subject, passed, detail))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "name": self.name,
            "version": self.version,
            "wheel": str(self.wheel) if self.wheel else None,
            "ok": self.ok,
            "checks": [item.to_dict() for item in self.items],
        }


def check_package(target: str | Path, *, work_dir: str | Path | None = None, conformance: bool = True) -> PackageReport:
    """Check a project directory, a ``.whl`` or an installed distribution's name; never raises for a failed check.

    ``work_dir`` keeps the built wheel (a project is built there; default: a temporary directory
    removed afterwards). Raises :class:`PackageError` only when the target cannot be found or built.
    """
    path = Path(target)
    if path.is_dir() or path.suffix == ".whl":
        if not path.exists():
            raise PackageError(f"{path} does not exist", "pass a plugin project directory or a built .whl")
        with tempfile.TemporaryDirectory(prefix="sora-check-") as temporary:
            return _check_built(path, Path(work_dir) if work_dir else Path(temporary), conformance)
    if os.sep in str(target) or str(target).endswith((".whl", ".tar.gz", ".toml")):
        raise PackageError(f"{target} does not exist", "pass a plugin project directory, a .whl or a distribution name")
    return _check_installed(str(target), conformance)


def _check_built(path: Path, work: Path, conformance: bool) -> PackageReport:
    from sora_core.package_build import build_distributions
    from sora_core.wheels import inspect_wheel

    report = PackageReport(str(path))
    wheel = path if path.suffix == ".whl" else build_distributions(path, work, distributions=("wheel",))[0]
    report.wheel = wheel
    try:
        info = inspect_wheel(wheel)
    except PackageError as exc:  # an unreadable or hostile archive is a failed check, not a crash
        report.add("packaging", wheel.name, False, f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
        return report
    report.name, report.version = info.name, info.version
    for problem in info.problems:
        report.add("packaging", wheel.name, False, problem)
    if not info.problems:
        report.add("packaging", "metadata", True, f"{info.name} {info.version}, licence {info.license}")
        report.add("packaging", "pickle-free", True, "no pickle-format file in the wheel")
        weights = f"{len(info.weight_files)} safetensors file(s), hashes match their manifests"
        report.add("packaging", "weights", True, weights if info.weight_files else "no weights shipped")
        report.add("packaging", "manifest", True, f"{len(info.particles)} particle(s) described")
    if conformance and info.particles:
        site = work / "site"
        _install(wheel, site)
        _add_declared_conformance(report, info.name, info.requires_dist, site, work / "dependencies")
    return report


def _add_declared_conformance(report: PackageReport, dist: str, requires: list[str], site: Path, deps: Path) -> None:
    """The conformance kit on the wheel installed in ``site``, in an interpreter that sees only the installed
    distributions its ``Requires-Dist`` reach (and sora-core's): an undeclared import fails, naming its fix."""
    from sora_core.dependency_site import CHILD, build_dependency_site, dependency_line

    try:
        dependencies = build_dependency_site(deps, requires, exclude={canonical_dist_name(dist)})
    except OSError as exc:
        report.add("packaging", "dependencies", False, f"cannot link the declared dependencies into {deps}: {exc}")
        return
    packages = sorted(p.stem for p in site.iterdir() if _is_top_level_module(p))
    spec = {"sites": [str(site), str(deps)], **dependencies.guard_spec(dist, packages)}
    spec_file = deps.parent / "dependencies.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    answer = _run_conformance(report, dist, [sys.executable, "-S", "-c", CHILD, str(spec_file)], {}, cwd=deps)
    if answer is None:
        return
    undeclared = answer.get("undeclared", []) if isinstance(answer, dict) else []
    rows = answer.get("rows", []) if isinstance(answer, dict) else []
    for item in undeclared:
        report.add(
            "packaging",
            "dependencies",
            False,
            f"{item['importer']} imports {item['module']!r}, which comes from {item['distribution']} "
            f"{item['version']}, not a dependency of {dist}: {dependency_line(item['distribution'], item['version'])}",
        )
    for particle, provider in _undeclared_particles(rows, dependencies.undeclared):
        version = dependencies.undeclared[provider]
        undeclared.append(particle)
        report.add(
            "packaging",
            "dependencies",
            False,
            f"{dist} uses particle {particle}, which comes from {provider} {version}, not a dependency of "
            f"{dist}: {dependency_line(provider, version)}",
        )
    if not undeclared:
        detail = f"imports only what it declares ({len(dependencies.allowed)} distributions importable)"
        if dependencies.missing:
            detail += f"; declared but not installed here: {', '.join(dependencies.missing)}"
        report.add("packaging", "dependencies", True, detail)
    for row in rows:
        report.add("conformance", row["subject"], row["passed"], row["detail"])


def _undeclared_particles(rows: list[dict[str, Any]], undeclared: dict[str, str]) -> list[tuple[str, str]]:
    """``(particle, distribution)`` for each particle a failed check could not find, of an undeclared distribution
    installed here (a plugin building another plugin's particle by name, say as a component)."""
    found: dict[str, str] = {}
    for row in rows:
        if row.get("passed"):
            continue
        for particle in _UNKNOWN_PARTICLE.findall(str(row.get("detail", ""))):
            provider = canonical_dist_name(particle.partition(":")[0])
            if provider in undeclared:
                found.setdefault(particle, provider)
    return sorted(found.items())


def _is_top_level_module(path: Path) -> bool:
    if path.name.endswith((".dist-info", ".data")) or path.name in {"bin", "__pycache__"}:
        return False
    return (path.is_dir() and path.name.isidentifier()) or (path.suffix == ".py" and path.stem.isidentifier())


def _install(wheel: Path, site: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site)]
    result = subprocess.run([*command, str(wheel)], capture_output=True, text=True)
    if result.returncode:
        raise PackageError(
            f"installing {wheel.name} into a temporary directory failed: {result.stderr.strip()[-400:]}",
            "rebuild the wheel with `python -m build`",
        )


def _check_installed(name: str, conformance: bool) -> PackageReport:
    from importlib import metadata

    report = PackageReport(name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise PackageError(
            f"distribution {name!r} is not installed",
            "install it (pip install -e PATH), or pass its project directory or a .whl instead",
        ) from None
    report.name, report.version = canonical_dist_name(dist.metadata["Name"]), dist.version
    licence = dist.metadata.get("License-Expression") or dist.metadata.get("License")
    report.add("packaging", "licence", bool(licence), licence or "no licence declared: set `license` in pyproject")
    eps = [ep for ep in dist.entry_points if ep.group == "sora.particles"]
    report.add("packaging", "entry points", bool(eps), f"{len(eps)} sora.particles entry point(s)")
    for problem in _installed_file_problems(dist):
        report.add("packaging", "files", False, problem)
    if conformance and eps:
        _add_conformance(report, report.name, [])
    return report


def _installed_file_problems(dist: Any) -> list[str]:
    from sora_core.errors import WeightsError
    from sora_core.safetensors_io import UNSAFE_SUFFIXES, sniff_pickle, verify_directory

    problems = []
    weight_dirs = set()
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if not path.is_file():
            continue
        path_config = len(file.parts) == 1 and path.suffix == ".pth"  # site-packages' own .pth, not torch's
        if (path.suffix.lower() in UNSAFE_SUFFIXES and not path_config) or sniff_pickle(path):
            problems.append(f"{path} is a pickle-format file: ship safetensors written by save_pretrained")
        if path.name == "manifest.json" and (path.parent / "config.json").is_file():
            weight_dirs.add(path.parent)
    for directory in sorted(weight_dirs):
        try:
            verify_directory(directory)
        except WeightsError as exc:
            problems.append(exc.message)
    return problems


def _add_conformance(report: PackageReport, dist: str, paths: list[str]) -> None:
    """Run the conformance kit on every particle of ``dist`` in a fresh interpreter with ``paths`` first."""
    env = {"PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)}
    rows = _run_conformance(report, dist, [sys.executable, "-m", "sora_core.package_check", dist], env)
    for row in rows or []:
        report.add("conformance", row["subject"], row["passed"], row["detail"])


def _run_conformance(
    report: PackageReport, dist: str, command: list[str], env: dict[str, str], cwd: Path | None = None
) -> Any:
    """The JSON the fresh interpreter prints last; ``None`` (with a failed row) when it printed none."""
    environment = {**os.environ, **env}
    if cwd is not None:  # an isolated interpreter: nothing from the environment's path
        environment.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="sora-check-cache-") as cache:
        environment["SORA_CACHE_DIR"] = cache
        result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        detail = (result.stderr.strip() or result.stdout.strip())[-600:]
        report.add("conformance", dist, False, f"the checks could not run: {detail}")
        return None


def conformance_results(dist: str) -> list[dict[str, Any]]:
    """Every problem of ``dist`` and every conformance check of its particles, as JSON-ready rows."""
    from sora_core import registry
    from sora_core.testing import check_particle

    wanted = canonical_dist_name(dist)
    rows = [
        {"subject": problem.subject, "passed": False, "detail": f"{problem.reason} ({problem.hint})"}
        for problem in registry.problems()
        if problem.dist == wanted
    ]
    particles = registry.list(pattern=f"{wanted}:*")
    if not particles and not rows:
        rows.append({"subject": wanted, "passed": False, "detail": "no particles found: is the manifest shipped?"})
    for info in particles:
        for result in check_particle(info.full_name):
            subject = f"{info.full_name} {result.name}"
            rows.append({"subject": subject, "passed": result.passed, "detail": result.detail})
    return rows


if __name__ == "__main__":  # the fresh interpreter that _add_conformance starts
    print(json.dumps(conformance_results(sys.argv[1])))
