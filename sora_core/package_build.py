"""Building a plugin project's wheel and sdist with ``build``, the standard PEP 517 front end.

The build runs in the current environment (no isolation, so nothing is downloaded) when
the project's build requirements are already installed here, and in an isolated
environment that pip fills from the configured index otherwise. Output goes to a
temporary directory first, so a failed build never leaves half a distribution behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from sora_core.errors import PackageError

__all__ = ["build_distributions"]

_DISTRIBUTIONS = ("wheel", "sdist")


def build_distributions(
    project: str | Path, out_dir: str | Path, *, distributions: tuple[str, ...] = _DISTRIBUTIONS
) -> list[Path]:
    """Build ``distributions`` (``"wheel"``, ``"sdist"``) of the project at ``project`` into ``out_dir``.

    Returns the paths of the built files. Raises :class:`PackageError` naming the project and
    the build's own last lines when it fails.
    """
    source = Path(project).resolve()
    if not (source / "pyproject.toml").is_file():
        raise PackageError(
            f"{source} has no pyproject.toml, so it is not a plugin project",
            "pass the directory that `sora new` created (it holds pyproject.toml), or a built .whl file",
        )
    from build import BuildBackendException, BuildException, ProjectBuilder
    from build.env import DefaultIsolatedEnv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    built: list[Path] = []
    log: list[str] = []

    def runner(command: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        """Run a build hook with its output captured, so it only shows when the build fails."""
        env = {**os.environ, **(extra_environ or {})}
        result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True)
        log.append(result.stdout + result.stderr)
        if result.returncode:
            raise subprocess.CalledProcessError(result.returncode, list(command), result.stdout, result.stderr)

    with tempfile.TemporaryDirectory(prefix="sora-build-", dir=out) as staging:
        try:
            builder = ProjectBuilder(source, python_executable=sys.executable, runner=runner)
            for distribution in distributions:
                if not builder.check_dependencies(distribution):
                    built.append(Path(builder.build(distribution, staging)))
                    continue
                with DefaultIsolatedEnv() as env:
                    isolated = ProjectBuilder.from_isolated_env(env, source, runner=runner)
                    env.install(isolated.build_system_requires)
                    env.install(isolated.get_requires_for_build(distribution))
                    built.append(Path(isolated.build(distribution, staging)))
        except (BuildException, BuildBackendException, OSError, subprocess.CalledProcessError) as exc:
            tail = "\n".join("".join(log).strip().splitlines()[-8:])
            raise PackageError(
                f"building {source} failed: {exc}" + (f"\n{tail}" if tail else ""),
                "fix pyproject.toml (try `python -m build` in the project to see the whole log)",
            ) from None
        final = []
        for path in built:
            target = out / path.name
            shutil.move(str(path), target)
            final.append(target)
    return final
