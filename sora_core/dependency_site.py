"""Importing a wheel with its declared dependencies only: what ``sora check`` runs the conformance kit in.

A plugin that imports a distribution it does not declare (``import sora_vae`` without ``sora-vae`` in its
``dependencies``) works wherever that distribution happens to be installed, and breaks on ``sora install``
anywhere else. So the check builds a site directory holding links to exactly the installed distributions the
wheel's ``Requires-Dist`` reach (followed recursively, markers and extras evaluated), plus sora-core and what
it needs; the fresh interpreter starts without the environment's site-packages (``python -S``) and adds only
that directory and the wheel's own. The standard library is always there.

A module of an installed distribution outside that set is then not importable, as on a machine without it, and
:class:`UndeclaredImportGuard` turns its ``ModuleNotFoundError`` into one that names the distribution and the
line to add to ``pyproject.toml``. Imports made by the plugin's own modules are recorded, so the report can
list each undeclared distribution. Linking is by directory where a directory belongs to allowed distributions
only (so compiled ``__pycache__`` files are reused), else file by file (namespace packages shared with others).

This module imports no torch.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sora_core.text import canonical_dist_name

__all__ = ["DependencySite", "UndeclaredImportGuard", "build_dependency_site", "declared_closure"]

#: The host distribution: a plugin may use it without declaring it.
HOST = "sora-core"
_IMPORTLIB_FRAMES = ("<frozen importlib", "<frozen zipimport")
#: Modules whose functions look a module up without importing it: answered "not found", not refused.
_PROBES = frozenset({"importlib.util", "pkgutil"})


@dataclass
class DependencySite:
    """A site directory with the allowed distributions, and what the guard needs to explain a refused import."""

    directory: Path
    allowed: dict[str, str]  # canonical name -> installed version
    providers: dict[str, list[str]]  # top-level module -> ["dist version", ...] of installed, undeclared dists
    missing: list[str] = field(default_factory=list)  # declared requirements not installed here
    undeclared: dict[str, str] = field(default_factory=dict)  # installed here, not reached: name -> version

    def guard_spec(self, dist: str, packages: list[str]) -> dict[str, Any]:
        return {"dist": dist, "packages": sorted(packages), "providers": self.providers}


def installed_distributions() -> dict[str, metadata.Distribution]:
    """Installed distributions by canonical name; the first one on ``sys.path`` wins, as for imports."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(canonical_dist_name(name), dist)
    return found


def declared_closure(
    requirements: list[str], installed: dict[str, metadata.Distribution]
) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """The installed distributions ``requirements`` reach (with sora-core's own), and the ones not installed.

    Markers are evaluated for this interpreter; a requirement's extras select its own extra-only requirements.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    allowed: dict[str, metadata.Distribution] = {}
    missing: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[tuple[str, frozenset[str]]] = [(text, frozenset()) for text in [*requirements, HOST]]
    while queue:
        text, context = queue.pop()
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in {"", *context}
        ):
            continue
        name = canonical_dist_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = installed.get(name)
        if dist is None:
            missing.append(str(requirement))
            continue
        allowed[name] = dist
        queue += [(child, frozenset(requirement.extras)) for child in dist.requires or []]
    return allowed, sorted(set(missing))


def _files(dist: metadata.Distribution) -> tuple[Path, list[tuple[str, ...]]]:
    """A distribution's base directory and its files' relative paths (as parts), scripts outside it left out."""
    base = Path(str(dist.locate_file("")))
    parts = [tuple(Path(str(file)).parts) for file in dist.files or []]
    listed = [p for p in parts if p and p[0] != ".." and not Path(p[0]).is_absolute() and "__pycache__" not in p]
    info = getattr(dist, "_path", None)  # the .dist-info / .egg-info directory itself (RECORD may be absent)
    if isinstance(info, Path) and info.parent == base:
        listed.append((info.name,))
    return base, listed


def build_dependency_site(directory: Path, requirements: list[str], exclude: set[str] | None = None) -> DependencySite:
    """Link, into ``directory``, the installed distributions ``requirements`` reach (and sora-core's).

    ``exclude`` names distributions never linked (the wheel under check, installed elsewhere).
    """
    installed = installed_distributions()
    for name in exclude or set():
        installed.pop(name, None)
    allowed, missing = declared_closure(requirements, installed)
    owners: dict[tuple[Path, tuple[str, ...]], set[str]] = defaultdict(set)
    files = {name: _files(dist) for name, dist in installed.items()}
    for name, (base, paths) in files.items():
        for parts in paths:
            for depth in range(1, len(parts) + 1):
                owners[(base, parts[:depth])].add(name)
    directory.mkdir(parents=True, exist_ok=True)
    for name in allowed:
        base, paths = files[name]
        for parts in paths:
            for depth in range(1, len(parts) + 1):
                prefix = parts[:depth]
                if depth == len(parts) or owners[(base, prefix)] <= allowed.keys():
                    _link(base.joinpath(*prefix), directory.joinpath(*prefix))
                    break
    return DependencySite(
        directory=directory,
        allowed={name: dist.version for name, dist in sorted(allowed.items())},
        providers=_providers(installed, allowed),
        missing=missing,
        undeclared={name: dist.version for name, dist in sorted(installed.items()) if name not in allowed},
    )


def _link(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink() or not (source.exists() or source.is_symlink()):
        return
    if any(parent.is_symlink() for parent in target.parents):
        return  # inside a directory already linked whole
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(source, target, target_is_directory=source.is_dir())


def _providers(installed: dict[str, metadata.Distribution], allowed: dict[str, Any]) -> dict[str, list[str]]:
    """Top-level module names of installed distributions outside ``allowed``, each with its distributions."""
    by_module: dict[str, set[str]] = defaultdict(set)
    for module, dists in metadata.packages_distributions().items():
        for dist_name in dists:
            name = canonical_dist_name(dist_name)
            if name in installed and name not in allowed and module.isidentifier():
                by_module[module].add(f"{name} {installed[name].version}")
    return {module: sorted(dists) for module, dists in sorted(by_module.items())}


class UndeclaredImportGuard:
    """A ``sys.meta_path`` finder, consulted last: a module of an undeclared installed distribution is refused
    with a message naming that distribution and the dependency line to add; the plugin's own attempts are kept
    in :attr:`refused` (``{"module", "importer", "distribution", "version"}`` each)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.dist = str(spec["dist"])
        self.packages = set(spec["packages"])
        self.providers: dict[str, list[str]] = spec["providers"]
        self.refused: list[dict[str, str]] = []

    def install(self) -> UndeclaredImportGuard:
        sys.meta_path.append(self)
        return self

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if "." in fullname or fullname not in self.providers:
            return None
        name, _, version = self.providers[fullname][0].partition(" ")
        importer = self._importer()
        if importer in _PROBES:  # importlib.util.find_spec("scipy") asks whether it is there: it is not
            return None
        if importer.partition(".")[0] in self.packages:
            record = {"module": fullname, "importer": importer, "distribution": name, "version": version}
            if record not in self.refused:
                self.refused.append(record)
        raise ModuleNotFoundError(
            f"No module named {fullname!r} where {self.dist} is installed with its declared dependencies only: "
            f"{fullname!r} comes from {name} {version}, installed here but not among {self.dist}'s dependencies; "
            f"{dependency_line(name, version)}",
            name=fullname,
        )

    @staticmethod
    def _importer() -> str:
        """The module whose code asked for the import (importlib's bootstrap and ``import_module`` skipped;
        ``importlib.util`` or ``pkgutil`` when the caller only looks the module up)."""
        frame = sys._getframe(2)
        while frame is not None:
            module = str(frame.f_globals.get("__name__", ""))
            if module in _PROBES:
                return module
            internal = frame.f_code.co_filename.startswith(_IMPORTLIB_FRAMES) or module in {__name__, "importlib"}
            if not internal:
                return module
            frame = frame.f_back
        return ""


def dependency_line(name: str, version: str) -> str:
    """The fix, in words: the line to add to ``[project] dependencies``."""
    return f'add "{name}>={version}" to [project] dependencies in pyproject.toml'


#: What the fresh interpreter (``python -S -c CHILD SPEC.json``) runs: only the spec's site directories on its path.
CHILD = (
    "import json, site, sys\n"
    "for directory in json.load(open(sys.argv[1], encoding='utf-8'))['sites']:\n"
    "    site.addsitedir(directory)\n"
    "from sora_core.dependency_site import run_child\n"
    "run_child(sys.argv[1])\n"
)


def run_child(spec_path: str) -> None:
    """The fresh interpreter's work, once its sites are added: guard imports, run the conformance kit."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    guard = UndeclaredImportGuard(spec).install()
    from sora_core.package_check import conformance_results

    rows = conformance_results(spec["dist"])
    print(json.dumps({"rows": rows, "undeclared": guard.refused}))
