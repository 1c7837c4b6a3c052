"""``sora check``, ``sora publish``, ``sora search`` and ``sora install``: from a plugin project to other machines."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sora_core.cli.output import print_json, print_table
from sora_core.errors import PackageError, RegistryClientError
from sora_core.text import printable


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("check", help="check a plugin is publishable: packaging and conformance")
    parser.add_argument("target", help="a plugin project directory, a built .whl, or an installed distribution's name")
    parser.add_argument("--no-conformance", action="store_true", help="packaging checks only")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_check)

    parser = commands.add_parser("publish", help="build a plugin's wheel and sdist, check them, upload to a registry")
    parser.add_argument("project", help="the plugin project directory (with pyproject.toml)")
    parser.add_argument("--registry", help="registry URL (default: $SORA_REGISTRY_URL or the config file)")
    parser.add_argument("--dist-dir", help="keep the built files here (default: a temporary directory)")
    parser.add_argument("--no-sdist", action="store_true", help="upload the wheel only")
    parser.add_argument("--dry-run", action="store_true", help="build and check, upload nothing")
    parser.set_defaults(run=run_publish)

    parser = commands.add_parser("search", help="search a registry's particle catalog")
    parser.add_argument("query", nargs="?", default="", help="words in a particle's name, description or distribution")
    parser.add_argument("--kind", help="only particles of this kind")
    parser.add_argument("--space", help="only particles with a port in this space (a trailing * matches a prefix)")
    parser.add_argument("--registry", help="registry URL (default: $SORA_REGISTRY_URL or the config file)")
    parser.add_argument("--limit", type=int, default=50, help="at most this many results (default 50)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_search)

    parser = commands.add_parser("install", help="install a plugin from a registry with pip (torch stays pinned)")
    parser.add_argument("name", help="a distribution name, or a particle's dist:name, optionally with ==VERSION")
    parser.add_argument("--registry", help="registry URL (default: $SORA_REGISTRY_URL or the config file)")
    parser.add_argument(
        "--extra-index-url", help="also resolve dependencies here (by default they must be installed already)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the pip command instead of running it")
    parser.set_defaults(run=run_install)


def run_check(args: argparse.Namespace) -> int:
    from sora_core.package_check import check_package

    report = check_package(args.target, conformance=not args.no_conformance)
    if args.json:
        print_json(report.to_dict())
        return 0 if report.ok else 1
    title = f"sora check {report.name} {report.version}".strip()
    rows = [(item.section, item.subject, "ok" if item.passed else "FAIL", item.detail) for item in report.items]
    print_table(title, ("SECTION", "CHECK", "RESULT", "DETAIL"), rows)
    failures = report.failures
    if failures:
        sys.stderr.write(f"error: {len(failures)} of {len(report.items)} checks failed for {printable(args.target)}\n")
        sys.stderr.write("  hint: fix each FAIL row above (its DETAIL says how), rebuild and run `sora check` again\n")
        return 1
    sys.stdout.write(f"{report.name} {report.version}: all {len(report.items)} checks passed\n")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from sora_core.package_build import build_distributions
    from sora_core.package_check import check_package
    from sora_core.registry_client import RegistryClient, registry_token, registry_url
    from sora_core.wheels import inspect_sdist, sha256_of

    project = Path(args.project)
    if not (project / "pyproject.toml").is_file():
        raise PackageError(f"{project} has no pyproject.toml", "pass the plugin project directory")
    client = None
    if not args.dry_run:  # fail on a missing registry, a bad token or a published version before the build
        url = registry_url(args.registry)
        client = RegistryClient(url, registry_token(url))
        _check_upload(client, project)
    with tempfile.TemporaryDirectory(prefix="sora-publish-") as temporary:
        out = Path(args.dist_dir) if args.dist_dir else Path(temporary)
        kinds = ("wheel",) if args.no_sdist else ("wheel", "sdist")
        files = build_distributions(project, out, distributions=kinds)
        _say(f"built {', '.join(f.name for f in files)}")
        wheel = next(f for f in files if f.suffix == ".whl")
        report = check_package(wheel, work_dir=Path(temporary) / "check")
        sdists = [inspect_sdist(f) for f in files if f.name.endswith(".tar.gz")]
        problems = [f"{i.subject}: {i.detail}" for i in report.failures] + [p for s in sdists for p in s.problems]
        if problems:
            raise PackageError(
                f"{project} is not publishable: {len(problems)} check(s) failed"
                + "".join(f"\n  - {p}" for p in problems),
                "fix these and publish again (`sora check PATH` shows every check)",
            )
        _say(f"checked {report.name} {report.version}: {len(report.items)} checks passed")
        if client is None:
            _say("dry run: nothing uploaded")
            return 0
        for path in files:
            record = client.upload(path, sha256_of(path))
            _say(f"uploaded {path.name} ({record.get('size', path.stat().st_size)} bytes) to {client.url}")
    _say(f"install it with: sora install {report.name} --registry {client.url}")
    return 0


def _check_upload(client: Any, project: Path) -> None:
    """One request: does the registry take this token, and is the project's version new? (Before ~20 s of build.)"""
    name, version = _project_name_and_version(project)
    if name is None:
        return  # the build names the problem
    answer = client.check_upload(name, version)
    if answer is not None:
        _say(f"{client.url} accepts {name} {version or '(version set at build time)'} from {answer.get('user')}")


def _project_name_and_version(project: Path) -> tuple[str | None, str | None]:
    """``[project]`` ``name`` and ``version`` of ``pyproject.toml`` (``None`` for what is dynamic or absent)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8")).get("project")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None, None
    if not isinstance(table, dict):
        return None, None
    name, version = table.get("name"), table.get("version")
    return (name if isinstance(name, str) else None), (version if isinstance(version, str) else None)


def run_search(args: argparse.Namespace) -> int:
    from sora_core.registry_client import RegistryClient, registry_url

    client = RegistryClient(registry_url(args.registry))
    result = client.search(args.query, kind=args.kind, space=args.space, limit=args.limit)
    if args.json:
        print_json(result)
        return 0
    listed = result.get("particles")
    particles = [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []
    rows = [(p.get("name", ""), p.get("version", ""), p.get("kind", ""), p.get("description", "")) for p in particles]
    total = result.get("total")
    if not particles:
        asked = " ".join(
            part
            for part in (
                repr(args.query) if args.query else "",
                f"--kind {args.kind}" if args.kind else "",
                f"--space {args.space}" if args.space else "",
            )
            if part
        )
        sys.stdout.write(f"no particles on {client.url}" + (f" match {asked}" if asked else "") + "\n")
        return 0
    shown = f"{len(particles)} of {total if isinstance(total, int) else len(particles)}"
    print_table(f"{shown} particles on {client.url}", ("NAME", "VERSION", "KIND", "DESCRIPTION"), rows)
    return 0


def run_install(args: argparse.Namespace) -> int:
    from sora_core.registry_client import registry_url

    url = registry_url(args.registry)
    requirement = _requirement(args.name)
    with tempfile.TemporaryDirectory(prefix="sora-install-") as temporary:
        command = [sys.executable, "-m", "pip", "install", "--index-url", f"{url}/simple/"]
        if args.extra_index_url:
            command += ["--extra-index-url", args.extra_index_url]
        pins = _torch_pin()
        if args.dry_run:  # the temporary constraints file would be gone: name one for the reader to write
            shown = [*command, *(["--constraint", "constraints.txt"] if pins else []), requirement]
            note = f"\n# constraints.txt (write it first) holds: {pins}" if pins else ""
            sys.stdout.write(" ".join(shown) + note + "\n")
            return 0
        if pins:
            constraints = Path(temporary) / "constraints.txt"
            constraints.write_text(pins + "\n", encoding="utf-8")
            command += ["--constraint", str(constraints)]
        command.append(requirement)
        result = subprocess.run(command)
    if result.returncode:
        raise RegistryClientError(
            f"pip could not install {requirement} from {url}/simple/ (exit {result.returncode})",
            "see pip's message above; dependencies not on the registry need --extra-index-url or a prior install",
        )
    _say(f"installed {requirement}; `sora list` shows its particles")
    return 0


def _requirement(name: str) -> str:
    """``dist:particle`` -> ``dist``; a bare distribution name (with an optional ``==VERSION``) as is."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = name
    if ":" in name:  # a particle's full name: install its distribution (keeping a ==VERSION that follows it)
        dist, _, particle = name.partition(":")
        text = dist + (particle[particle.index("==") :] if "==" in particle else "")
    try:
        return str(Requirement(text))
    except InvalidRequirement as exc:
        hint = "use NAME, NAME==VERSION or dist:particle"
        raise PackageError(f"{name!r} is not a distribution name: {exc}", hint) from None


def _torch_pin() -> str:
    """``torch==<installed version>``: a plugin's unpinned torch must never replace the installed build."""
    from importlib import metadata

    try:
        return f"torch=={metadata.version('torch')}"
    except metadata.PackageNotFoundError:
        return ""


def _say(message: str) -> None:
    sys.stderr.write(printable(message) + "\n")
