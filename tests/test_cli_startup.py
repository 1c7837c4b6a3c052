"""A fast ``sora``: what ``sora --help`` and ``sora list`` import, and a warm listing that validates nothing again.

Timings stay out of the tests (benchmarks/bench_discovery.py measures them); these tests pin down the
reasons the CLI is fast: the modules it does not import, and the work a warm cache skips.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_core.cli import main as cli_main
from sora_core.discovery import discover
from sora_core.discovery_cache import DiscoveryCache
from sora_core.synthetic import write_plugin

#: Never imported by `sora --help` or `sora list`: torch and the heavy libraries, typing, dataclasses (it imports
#: inspect, ast, dis, tokenize), and what only a cold listing or another command needs.
NOT_ON_THE_LISTING_PATH = (
    "torch",
    "numpy",
    "pydantic",
    "rich",
    "yaml",
    "packaging",
    "importlib_metadata",
    "pluggy",
    "safetensors",
    "typing",
    "dataclasses",
    "inspect",
    "tempfile",
    "difflib",
    "sora_core.manifest",
    "sora_core.manifest_fields",
    "sora_core.safe_json",
    "sora_core.atomic",
    "sora_core.config",
    "sora_core.particle",
    "sora_core.pipeline",
    "sora_core.importers",
    "sora_core.api",
)
#: Modules `sora list` may import beyond those of interpreter start (30 today): a regression guard.
LIST_MODULE_BUDGET = 45

_REPORT = """\
import json, sys
before = set(sys.modules)
from sora_core.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(set(sys.modules) - before)) + "\\n")
sys.exit(code)
"""


def imported_by(*args: str, root: Path) -> tuple[list[str], str]:
    """Run ``sora ARGS`` in a fresh interpreter with ``root`` on the path: the modules it imported, and stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-c", _REPORT, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES "))
    return json.loads(line[len("MODULES ") :]), result.stdout


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_ON_THE_LISTING_PATH)]


def test_the_commands_table_matches_the_command_modules() -> None:
    """`sora --help` lists commands from COMMANDS without importing their modules: the table must be exact."""
    parser = cli_main.build_parser()  # every module imported
    [subparsers] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    found = {
        choice.dest: (subparsers.choices[choice.dest].get_default("run").__module__.rsplit(".", 1)[1], choice.help)
        for choice in subparsers._choices_actions
    }
    assert list(found.items()) == list(cli_main.COMMANDS.items())
    modules = list(dict.fromkeys(module for module, _ in cli_main.COMMANDS.values()))
    assert modules == list(cli_main.COMMAND_MODULES)


@pytest.mark.parametrize(
    "argv",
    [["--help"], [], ["-h", "list"], ["list", "--help"], ["info", "--help"], ["show", "--help"], ["nonsense"]],
)
def test_lazy_parser_prints_what_the_full_parser_prints(argv: list[str]) -> None:
    def outcome(run) -> tuple[object, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: object = run(argv)
            except SystemExit as exit:
                code = exit.code
        return code, out.getvalue(), err.getvalue()

    full = outcome(lambda args: cli_main.run_cli(cli_main.build_parser(), args, "sora-core or a plugin"))
    assert outcome(cli_main.main) == full


def test_a_listed_only_command_still_parses_with_its_real_parser() -> None:
    args = cli_main.build_parser("").parse_args(["list", "seed*", "--kind", "denoiser"])
    assert (args.command, args.pattern, args.kind, args.run.__name__) == ("list", "seed*", "denoiser", "run_list")


def test_help_imports_no_command_module(plugin_root: Path) -> None:
    modules, out = imported_by("--help", root=plugin_root)
    assert "list the installed particles" in out
    ours = sorted(m for m in modules if m.startswith("sora_core"))
    assert ours == ["sora_core", "sora_core.cli", "sora_core.cli.main"]
    assert heavy(modules) == []


def test_warm_list_imports_only_the_listing_path(plugin_root: Path, isolated_cache: Path) -> None:
    for index in range(20):
        write_plugin(plugin_root, f"many-{index:02d}", ["p0", "p1"])
    imported_by("list", root=plugin_root)  # cold: fills the cache
    modules, out = imported_by("list", root=plugin_root)
    assert sum(line.startswith("many-") for line in out.splitlines()) == 40
    assert heavy(modules) == []
    commands = sorted(m for m in modules if m.startswith("sora_core.cli.") and m != "sora_core.cli.main")
    assert commands == ["sora_core.cli.catalog_commands", "sora_core.cli.output"]
    assert len(modules) <= LIST_MODULE_BUDGET, modules


def test_a_warm_listing_reads_and_validates_no_manifest(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the installed plugins (kinds, spaces, templates, hook-contributed particles): the warm catalog is the
    cold one, rebuilt from the cache without reading or checking a manifest."""
    cold = discover(cache=DiscoveryCache(isolated_cache / "discovery.json"))
    assert cold.particles and cold.templates

    import sora_core.manifest as manifest

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm listing read or validated a manifest")

    for name in ("load_manifest_json", "parse_manifest", "particle_info"):
        monkeypatch.setattr(manifest, name, refuse)
    warm = discover(cache=DiscoveryCache(isolated_cache / "discovery.json"))
    assert warm.particles == cold.particles
    assert [p.inputs for p in warm.particles] == [p.inputs for p in cold.particles]
    assert [[port.dims for port in p.outputs.values()] for p in warm.particles] == [
        [port.dims for port in p.outputs.values()] for p in cold.particles
    ]
    assert (warm.problems, warm.kinds, warm.spaces, warm.templates) == (
        cold.problems,
        cold.kinds,
        cold.spaces,
        cold.templates,
    )
    assert [(d.name, d.version, d.entry_points) for d in warm.distributions] == [
        (d.name, d.version, d.entry_points) for d in cold.distributions
    ]


def test_problems_are_cached_too(plugin_root: Path, make_registry, isolated_cache: Path) -> None:
    write_plugin(plugin_root, "no-manifest", ["delta"], manifest=False)
    write_plugin(plugin_root, "good-plugin", ["alpha"])
    cold = make_registry()
    assert [p.full_name for p in cold.list()] == ["good-plugin:alpha"]
    warm = make_registry()
    assert warm.list() == cold.list() and warm.problems() == cold.problems() and len(warm.problems()) == 1


def test_a_cache_entry_of_another_shape_is_read_again(plugin_root: Path, make_registry, isolated_cache: Path) -> None:
    write_plugin(plugin_root, "good-plugin", ["alpha"])
    expected = make_registry().list()
    cache_file = isolated_cache / "discovery.json"
    data = json.loads(cache_file.read_text())
    for entry in data["entries"].values():
        entry["found"] = "not what discovery writes"
        entry["stamp"] = entry["stamp"][:1]
    cache_file.write_text(json.dumps(data))
    assert make_registry().list() == expected
