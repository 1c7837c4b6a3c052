"""``sora new``: validate a plugin's names, render its files, and write them whole or not at all.

:func:`plan_plugin` checks every input (distribution name, kind, particle name, licence,
author, target directory) and renders the files in memory; :func:`write_plugins` writes
one or more plans into temporary sibling directories, generates each package's
``sora_manifest.json`` exactly as ``sora manifest DIST --write`` does (in one fresh
interpreter for all of them, so nothing the caller has imported changes), and only then
renames every project into place. This module imports no torch.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import json
import keyword
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from sora_core import __version__
from sora_core.errors import ScaffoldError
from sora_core.kinds import BUILTIN_KINDS
from sora_core.manifest import MANIFEST_NAME
from sora_core.scaffold import project
from sora_core.scaffold.particles import TEMPLATES, KindTemplate
from sora_core.text import canonical_dist_name

#: Licences ``sora new`` can write a LICENSE file for, by SPDX identifier.
SUPPORTED_LICENSES: tuple[str, ...] = ("Apache-2.0", "BSD-3-Clause", "ISC", "MIT")
DEFAULT_LICENSE = "Apache-2.0"

# PEP 508 names: ASCII letters and digits, with ".", "_" or "-" only between them.
_DIST_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_PARTICLE_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
# Names the generated modules import; a particle class must not shadow them.
_TAKEN_CLASS_NAMES = frozenset(
    {"Any", "Field", "Particle", "ParticleConfig", "PortSpec", "Tensor"} | {t.base for t in TEMPLATES.values()}
)
# Top-level packages a plugin must not be called: the ones its code and tests import.
_TAKEN_PACKAGES = frozenset({"sora_core", "torch", "pydantic", "pytest", "numpy", "safetensors", "tests", "test"})
_MANIFEST_TIMEOUT_S = 600


def supported_kinds() -> list[str]:
    """The kinds ``sora new`` scaffolds: every built-in kind."""
    return sorted(set(BUILTIN_KINDS) & set(TEMPLATES))


@dataclass(frozen=True)
class Author:
    """A ``[project] authors`` entry."""

    name: str | None = None
    email: str | None = None

    @classmethod
    def parse(cls, text: str) -> Author | None:
        """``"Jane Doe <jane@example.org>"``, ``"Jane Doe"`` or ``"jane@example.org"``; ``""`` is nobody."""
        text = text.strip()
        if not text:
            return None
        if _has_control_characters(text):
            raise ScaffoldError(
                f"--author {text!r} contains control characters", 'write it as --author "Jane Doe <jane@example.org>"'
            )
        match = re.fullmatch(r"(.*?)\s*<([^<>\s]+@[^<>\s]+)>", text)
        if match:
            return cls(match.group(1).strip() or None, match.group(2))
        if re.fullmatch(r"[^\s@<>]+@[^\s@<>]+", text):
            return cls(None, text)
        if "<" in text or ">" in text:
            raise ScaffoldError(
                f"--author {text!r} is not NAME <EMAIL>", 'write it as --author "Jane Doe <jane@example.org>"'
            )
        return cls(text, None)

    def toml(self) -> str:
        fields = (("name", self.name), ("email", self.email))
        parts = [f"{key} = {_toml_string(value)}" for key, value in fields if value]
        return "{ " + ", ".join(parts) + " }"


@dataclass(frozen=True)
class PluginPlan:
    """A validated plugin project, rendered in memory and ready for :func:`write_plugins`.

    ``files`` maps each relative path (POSIX) to its text; the manifest is not among them:
    it is generated from the written code.
    """

    dist: str
    canonical: str
    package: str
    kind: str
    particle: str
    module: str
    class_name: str
    directory: Path
    license: str
    author: Author | None
    description: str
    force: bool = False
    files: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.canonical}:{self.particle}"

    @property
    def entry_point(self) -> str:
        return f"{self.package}.{self.module}:{self.class_name}"

    @property
    def manifest_path(self) -> str:
        return f"{self.package}/{MANIFEST_NAME}"

    def paths(self) -> list[str]:
        """Every file the project gets, the manifest included, sorted."""
        return sorted([*self.files, self.manifest_path])


# --- validation ----------------------------------------------------------------------------------------------------


def check_dist_name(name: str) -> tuple[str, str]:
    """The canonical distribution name and the Python package name for ``name``, or ``ScaffoldError``."""
    if not _DIST_NAME.fullmatch(name):
        raise ScaffoldError(
            f"invalid distribution name {name!r}: a name (PEP 508) is ASCII letters and digits, "
            "with '-', '_' or '.' only between them",
            "choose a name such as 'my-blur'",
        )
    canonical = canonical_dist_name(name)
    package = canonical.replace("-", "_")
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ScaffoldError(
            f"distribution name {name!r} gives the package name {package!r}, which is not a Python identifier",
            "start the name with a letter and avoid Python keywords, e.g. 'my-blur'",
        )
    if package in _TAKEN_PACKAGES or package in getattr(sys, "stdlib_module_names", ()):
        owner = "the standard library's" if package not in _TAKEN_PACKAGES else "the plugin's dependency"
        raise ScaffoldError(
            f"distribution name {name!r} gives the package name {package!r}, which would shadow {owner} "
            f"module {package!r}",
            f"choose a more specific name, e.g. 'sora-{canonical}'",
        )
    return canonical, package


def check_kind(kind: str) -> str:
    """The built-in kind ``kind`` names (``video-decoder`` is ``video_decoder``), or ``ScaffoldError``."""
    wanted = kind.strip().replace("-", "_")
    supported = supported_kinds()
    if wanted in supported:
        return wanted
    listing = ", ".join(supported)
    contributor = _contributed_kinds().get(wanted)
    if contributor:
        raise ScaffoldError(
            f"kind {wanted!r} is contributed by the plugin {contributor!r}; `sora new` scaffolds only the "
            f"built-in kinds: {listing}",
            f"scaffold a built-in kind, then subclass sora_core.interfaces.ModuleParticle with kind = {wanted!r} "
            "(see docs/writing-a-particle.md, section 7)",
        )
    close = difflib.get_close_matches(wanted, supported, n=3, cutoff=0.5)
    hint = ("did you mean " + " or ".join(repr(c) for c in close) + "? " if close else "") + f"kinds: {listing}"
    raise ScaffoldError(f"unknown kind {kind!r}", hint)


def _contributed_kinds() -> dict[str, str]:
    """Kinds installed plugins contribute, read from their manifests (nothing is imported)."""
    try:
        from sora_core.discovery import discover

        return {name: spec.contributed_by for name, spec in discover().kinds.items() if name not in BUILTIN_KINDS}
    except Exception:  # only an error message depends on it
        return {}


def check_particle_name(name: str) -> str:
    if not _PARTICLE_NAME.fullmatch(name):
        raise ScaffoldError(
            f"invalid particle name {name!r}: use lowercase letters and digits, starting with a letter, "
            "with single '-' or '_' between words",
            "pass --particle NAME, e.g. --particle blur-decoder",
        )
    return name


def check_license(license_id: str) -> str:
    """The canonical SPDX identifier of a supported licence, or ``ScaffoldError``."""
    for known in SUPPORTED_LICENSES:
        if known.lower() == license_id.strip().lower():
            return known
    raise ScaffoldError(
        f"unsupported licence {license_id!r}: `sora new` writes the LICENSE text of " + ", ".join(SUPPORTED_LICENSES),
        "pass one of them to --license (afterwards you may change `license` in pyproject.toml and LICENSE)",
    )


def check_directory(directory: Path, force: bool) -> None:
    """Refuse a target that is a file, or a non-empty directory without ``force``."""
    if directory.exists() and not directory.is_dir():
        raise ScaffoldError(f"{directory} exists and is not a directory", "pass --dir with a new directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise ScaffoldError(
            f"directory {directory} already exists and is not empty",
            "choose another --dir, or pass --force to overwrite the generated files (other files are kept)",
        )
    ancestor = directory.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ScaffoldError(f"{ancestor} is not a directory", "pass --dir inside a directory")


# --- rendering -----------------------------------------------------------------------------------------------------


def plan_plugin(
    name: str,
    kind: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    particle: str | None = None,
    author: str | None = None,
    license: str = DEFAULT_LICENSE,
    description: str | None = None,
    force: bool = False,
) -> PluginPlan:
    """Validate everything about a new plugin and render its files; nothing is written.

    ``directory`` defaults to ``./NAME``; ``particle`` (the entry point's name) to the
    canonical distribution name; ``author`` to git's ``user.name`` / ``user.email`` (``""``
    for none). Raises ``ScaffoldError`` naming the bad value and its fix.
    """
    canonical, package = check_dist_name(name)
    kind = check_kind(kind)
    particle = check_particle_name(particle if particle is not None else canonical)
    license = check_license(license)
    target = Path(directory if directory is not None else name).expanduser().resolve()
    check_directory(target, force)
    who = Author.parse(author) if author is not None else _git_author()
    summary = (description or "").strip() or f"A {kind.replace('_', ' ')} particle for sora-core."
    if _has_control_characters(summary):
        raise ScaffoldError(
            f"--description {summary!r} is not one line of text", "put longer text in README.md afterwards"
        )
    plan = PluginPlan(
        dist=name,
        canonical=canonical,
        package=package,
        kind=kind,
        particle=particle,
        module=kind,
        class_name=_class_name(particle),
        directory=target,
        license=license,
        author=who,
        description=summary,
        force=force,
    )
    plan.files.update(_render(plan, TEMPLATES[kind]))
    return plan


def _class_name(particle: str) -> str:
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", particle))
    return name + "Particle" if name in _TAKEN_CLASS_NAMES else name


def _git_author() -> Author | None:
    """The author git would record: ``GIT_AUTHOR_NAME``/``_EMAIL``, else ``git config user.*``."""
    values = []
    for variable, key in (("GIT_AUTHOR_NAME", "user.name"), ("GIT_AUTHOR_EMAIL", "user.email")):
        value = os.environ.get(variable, "").strip()
        if not value:
            try:
                found = subprocess.run(
                    ["git", "config", "--get", key], capture_output=True, text=True, timeout=5, check=False
                )
                value = found.stdout.strip() if found.returncode == 0 else ""
            except (OSError, subprocess.SubprocessError):
                value = ""
        values.append(value if value and not _has_control_characters(value) else None)
    return Author(*values) if any(values) else None


def _has_control_characters(text: str) -> bool:
    """Whether ``text`` holds characters a TOML string or a one-line field cannot (newlines, tabs, DEL...)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _render(plan: PluginPlan, template: KindTemplate) -> dict[str, str]:
    names = {
        "dist": plan.dist,
        "canonical": plan.canonical,
        "package": plan.package,
        "module": plan.module,
        "module_path": f"{plan.package}/{plan.module}.py",
        "kind": plan.kind,
        "particle": plan.particle,
        "full_name": plan.full_name,
        "entry_point": plan.entry_point,
        "Class": plan.class_name,
        "Config": plan.class_name + "Config",
        "license": plan.license,
        "description": plan.description,
        "description_toml": _toml_string(plan.description),
        "authors": f"authors = [{plan.author.toml()}]\n" if plan.author else "",
        "core_version": __version__,
        "create_call": _fit_call("particle = registry.create(", f'"{plan.full_name}"'),
    }
    import_line = f"from {plan.package}.{plan.module} import {plan.class_name}"
    if len(import_line) > 88:  # as ruff format wraps it
        import_line = f"from {plan.package}.{plan.module} import (\n    {plan.class_name},\n)"
    test_names = {
        **names,
        "torch_import": "import torch\n" if template.test_imports_torch else "",
        "import_line": import_line,
        "small_config": template.small_config,
        "invalid_field": template.invalid_field,
        "invalid_value": template.invalid_value,
        "extra_test": Template(template.extra_test).substitute(names),
    }
    holder = (plan.author.name if plan.author and plan.author.name else None) or f"the {plan.dist} authors"
    licence = Template(_licence_text(plan.license)).substitute(year=datetime.date.today().year, holder=holder)
    return {
        "pyproject.toml": Template(project.PYPROJECT).substitute(names),
        "README.md": Template(project.README).substitute(names),
        "LICENSE": licence,
        ".gitignore": project.GITIGNORE,
        f"{plan.package}/__init__.py": Template(project.INIT).substitute(names),
        f"{plan.package}/{plan.module}.py": Template(template.source).substitute(names),
        "tests/test_conformance.py": Template(project.TEST_CONFORMANCE).substitute(names),
        f"tests/test_{plan.module}.py": Template(project.TEST_PARTICLE).substitute(test_names),
    }


def _fit_call(opening: str, argument: str) -> str:
    """A call with one argument, wrapped as ruff format wraps it when longer than 88 columns."""
    line = f"{opening}{argument})"
    return line if len(line) <= 88 else f"{opening}\n    {argument}\n)"


def _licence_text(license_id: str) -> str:
    return resources.files("sora_core.scaffold").joinpath("licenses", f"{license_id}.txt").read_text(encoding="utf-8")


# --- writing -------------------------------------------------------------------------------------------------------


def write_plugins(plans: list[PluginPlan]) -> list[Path]:
    """Write every plan's project, with its generated manifest, whole or not at all.

    Each project is written into a temporary sibling of its target directory; one fresh
    interpreter generates all manifests there (``sora manifest DIST --write``); then each
    project is renamed into place, or, for a non-empty target with ``force``, its files
    replace their namesakes one by one (other files are kept). On any failure before the
    move, nothing is left behind.
    """
    targets = [plan.directory for plan in plans]
    if len(set(targets)) != len(targets):
        raise ScaffoldError("two plugins would be written to the same directory", "give each its own --dir")
    created: list[Path] = []
    staged: list[tuple[PluginPlan, Path]] = []
    try:
        for plan in plans:
            check_directory(plan.directory, plan.force)
            created += _make_parents(plan.directory.parent)
            staging = _staging_directory(plan.directory)
            staged.append((plan, staging))
            for relative, text in plan.files.items():
                path = staging / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8", newline="\n")
        _generate_manifests(staged)
        for plan, staging in staged:
            check_directory(plan.directory, plan.force)
            _conflicts(plan, staging)
    except BaseException:
        for _, staging in staged:
            shutil.rmtree(staging, ignore_errors=True)
        for directory in reversed(created):
            _remove_if_empty(directory)
        raise
    for plan, staging in staged:
        _move_into_place(plan, staging)
    return targets


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents; return those created, outermost first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as exc:
            raise ScaffoldError(f"cannot create directory {path}: {exc.strerror}", "check --dir") from exc
    return list(reversed(missing))


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _staging_directory(target: Path) -> Path:
    """A new hidden sibling of ``target``, created with the usual permissions (unlike mkdtemp's 0700)."""
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.sora-new-{secrets.token_hex(4)}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ScaffoldError(f"cannot write in {target.parent}: {exc.strerror}", "check --dir") from exc
        return candidate
    raise ScaffoldError(f"cannot create a temporary directory in {target.parent}", "check --dir")


_MANIFEST_SCRIPT = """\
import sys
from sora_core.errors import SoraError
from sora_core.manifest_builder import write_manifests
try:
    for dist in sys.argv[1:]:
        write_manifests(dist)
except SoraError as exc:
    sys.stderr.write(str(exc) + "\\n")
    sys.exit(1)
"""


def _generate_manifests(staged: list[tuple[PluginPlan, Path]]) -> None:
    """Run ``write_manifests`` on every staged project in one fresh interpreter.

    Discovery finds each project through a stand-in ``.dist-info`` (name, version and entry
    points, as an install would write them) placed first on the path, so the manifest is
    byte for byte what ``sora manifest DIST --write`` writes after ``pip install``.
    """
    if not staged:
        return
    import sora_core

    with tempfile.TemporaryDirectory(prefix="sora-new-") as site:
        for plan, _ in staged:
            info = Path(site, f"{plan.package}-0.1.0.dist-info")
            info.mkdir()
            (info / "METADATA").write_text(
                f"Metadata-Version: 2.4\nName: {plan.dist}\nVersion: 0.1.0\n", encoding="utf-8"
            )
            (info / "entry_points.txt").write_text(
                f"[sora.particles]\n{plan.particle} = {plan.entry_point}\n", encoding="utf-8"
            )
        core_root = str(Path(sora_core.__file__).resolve().parent.parent)
        inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([site, *(str(s) for _, s in staged), *inherited, core_root]),
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the new project
            "SORA_NO_CACHE": "1",
        }
        dists = [plan.canonical for plan, _ in staged]
        try:
            result = subprocess.run(
                [sys.executable, "-c", _MANIFEST_SCRIPT, *dists],
                cwd=site,
                env=env,
                capture_output=True,
                text=True,
                timeout=_MANIFEST_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ScaffoldError(
                f"generating the manifest of {', '.join(dists)} failed: {exc}", "rerun with SORA_DEBUG=1"
            ) from exc
    missing = [plan.manifest_path for plan, staging in staged if not (staging / plan.manifest_path).is_file()]
    if result.returncode != 0 or missing:
        details = (result.stderr or result.stdout).strip().splitlines()[-8:]
        raise ScaffoldError(
            f"generating the manifest of {', '.join(dists)} failed (nothing was written): " + " | ".join(details),
            "this is a bug in sora-core's scaffold; please report it with the command you ran",
        )
    for plan, staging in staged:  # written through mkstemp (0600): give it the mode of its siblings
        mode = stat.S_IMODE((staging / "pyproject.toml").stat().st_mode)
        (staging / plan.manifest_path).chmod(mode)


def _conflicts(plan: PluginPlan, staging: Path) -> None:
    """Refuse a ``--force`` merge where a generated file's path is taken by a directory, or the reverse."""
    if not (plan.directory.is_dir() and any(plan.directory.iterdir())):
        return
    for relative in plan.paths():
        target = plan.directory / relative
        blocked = target.is_dir() and not target.is_symlink()
        blocked = blocked or any(p.exists() and not p.is_dir() for p in target.parents if plan.directory in p.parents)
        if blocked:
            raise ScaffoldError(
                f"cannot overwrite {target}: a directory and a file would have the same path",
                "move it out of the way, or choose another --dir",
            )


def _move_into_place(plan: PluginPlan, staging: Path) -> None:
    target = plan.directory
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.rename(staging, target)
        return
    for relative in plan.paths():  # --force over a non-empty directory: replace our files only
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_symlink():
            destination.unlink()
        os.replace(staging / relative, destination)
    shutil.rmtree(staging, ignore_errors=True)
