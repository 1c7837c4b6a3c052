"""Entry point of the ``sora`` command: parse, dispatch, and turn errors into one clear line.

Only argparse and the module of the command being run are imported: ``sora --help`` builds its
list of commands from :data:`COMMANDS` alone, and ``sora list`` imports the catalog commands (the
registry's metadata modules) and nothing else, so neither imports torch or another command's
dependencies.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from sora_core import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which `sora --help` does not need
if TYPE_CHECKING:
    from typing import Any

#: The command modules of ``sora_core.cli``, in the order their commands appear in ``sora --help``.
COMMAND_MODULES = (
    "generate_command",
    "understand_commands",
    "serve_command",
    "studio_command",
    "catalog_commands",
    "load_command",
    "pipeline_commands",
    "tune_command",
    "template_commands",
    "import_command",
    "new_command",
    "publish_commands",
    "doctor",
    "manifest_command",
)

#: Every command: the module whose ``add_commands`` defines it and its one-line help, as ``sora --help`` lists
#: them. Only the module of the command being run is imported; the others are listed from this table, which
#: tests/test_cli_startup.py checks against the modules. A command missing here still runs (every module is
#: then imported), but ``sora --help`` does not list it.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate_command", "generate a video from a prompt (the t2v pipeline)"),
    "caption": ("understand_commands", "describe a video in words (the v2t pipeline)"),
    "ask": ("understand_commands", "answer a question about a video (the vqa pipeline)"),
    "summarize": ("understand_commands", "the key frames of a video and a one-line summary"),
    "serve": ("serve_command", "serve a text-to-video pipeline (and captions, answers, summaries) over HTTP"),
    "serve-token": ("serve_command", "make a bearer token for sora serve --token-file (printed once)"),
    "studio": ("studio_command", "build, check and run pipelines in a browser node editor"),
    "list": ("catalog_commands", "list the installed particles"),
    "info": ("catalog_commands", "describe one particle: kind, ports, config, weights"),
    "load": (
        "load_command",
        "build a particle, from its default or given weights or fresh with --set, and summarise it",
    ),
    "run": ("pipeline_commands", "run a pipeline from a spec file or an installed template"),
    "graph": ("pipeline_commands", "draw a pipeline as Mermaid, Graphviz DOT or a self-contained HTML page"),
    "lock": ("pipeline_commands", "pin each node's distribution, class, config and weight hashes"),
    "tune": ("tune_command", "search swaps and sampling settings for quality against seconds per video (Optuna)"),
    "templates": ("template_commands", "list the installed pipeline templates and their inputs and outputs"),
    "show": ("template_commands", "print an installed pipeline template as YAML, ready to copy and edit"),
    "import": (
        "import_command",
        "write a pipeline spec that runs a model folder of another library (e.g. diffusers)",
    ),
    "new": ("new_command", "scaffold a particle plugin: pyproject, particle, manifest, README, licence and tests"),
    "check": ("publish_commands", "check a plugin is publishable: packaging and conformance"),
    "publish": ("publish_commands", "build a plugin's wheel and sdist, check them, upload to a registry"),
    "search": ("publish_commands", "search a registry's particle catalog"),
    "install": ("publish_commands", "install a plugin from a registry with pip (torch stays pinned)"),
    "doctor": ("doctor", "check every installed plugin and report problems"),
    "manifest": ("manifest_command", "generate a plugin's sora_manifest.json from its code (imports the plugin)"),
}


def build_parser(command: str | None = None, *, others: bool = True) -> argparse.ArgumentParser:
    """The ``sora`` parser with every command's arguments, or only ``command``'s when it is given.

    With ``command`` (a name in :data:`COMMANDS`) only that command's module is imported; the other
    commands are listed with their help but take no arguments (with ``others=False`` they are left out:
    the parser then serves that command only, not the top-level help). ``sora --help`` passes ``""``:
    no command module at all. Without ``command`` every module is imported.
    """
    parser = argparse.ArgumentParser(
        prog="sora",
        description="List, inspect and compose the particles of a Sora-style text-to-video model.",
    )
    parser.add_argument("--version", action="version", version=f"sora-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_subparser)
    if command is None or (command and command not in COMMANDS):
        for name in COMMAND_MODULES:
            importlib.import_module(f"sora_core.cli.{name}").add_commands(commands)
        return parser
    wanted = COMMANDS[command][0] if command else None
    for name, (module, help_text) in COMMANDS.items():
        if module != wanted:
            if others:
                commands.add_parser(name, help=help_text, listed=name)
        elif name == command:
            # The module defines all of its commands at once, at the place of the one being run; the others
            # are skipped below. Its commands are adjacent in the table, so the listed order stays the same.
            importlib.import_module(f"sora_core.cli.{module}").add_commands(commands)
    return parser


def _subparser(*, listed: str | None = None, **kwargs: Any) -> Any:
    """A command's parser; a stand-in for a command that is only listed (its module not imported)."""
    return argparse.ArgumentParser(**kwargs) if listed is None else _Listed(listed)


class _Listed:
    """The parser of a command whose module was not imported: ``sora --help`` needs only its help line.

    :func:`main` imports the module of the command it runs, so argparse never picks a stand-in; were it
    to, the stand-in parses with the command's real parser.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        return build_parser(self.name, others=False).parse_known_args([self.name, *(args or ())], namespace)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command, options_first = _command_of(argv)
    # Importing the command's module allocates many objects that all live on; the garbage collector's passes over
    # them would cost a fifth of `sora list`, so it waits until the command runs.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # The other commands are needed only for the top-level help, which an option before the command may ask for.
        parser = build_parser(command, others=options_first or not command)
    finally:
        if collecting:
            gc.enable()
    return run_cli(parser, argv, "sora-core or a plugin")


def _command_of(argv: Sequence[str]) -> tuple[str, bool]:
    """The command word of ``argv`` (the first argument that is not an option, ``""`` when there is none),
    and whether an option comes before it.

    The top-level options (``--help``, ``--version``) take no value, so nothing else can come first.
    """
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if not arg.startswith("-"):
            return arg, index > 0
    return "", bool(argv)


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None, owner: str) -> int:
    """Parse ``argv`` and run the chosen command's ``run(args)``, turning every failure into one line.

    A ``SoraError`` prints ``error: <message>`` and ``  hint: <fix>`` on stderr and returns its
    exit code; any other exception prints one line blaming ``owner`` (the traceback only under
    ``SORA_DEBUG=1``) and returns 2. Other ``sora-*`` command-line tools use it too.
    """
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    from sora_core.errors import SoraError

    try:
        return int(args.run(args) or 0)
    except SoraError as exc:
        _report(f"error: {exc.message}", exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        _report("interrupted", None)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the CLI never shows a raw traceback unless asked to
        if os.environ.get("SORA_DEBUG"):
            import traceback

            traceback.print_exc()
        _report(
            f"error: unexpected {type(exc).__name__}: {exc}",
            f"this is a bug in {owner}; rerun with SORA_DEBUG=1 for the traceback and report it",
        )
        return 2


def _report(message: str, hint: str | None) -> None:
    from sora_core.text import printable

    # Messages may quote a registry's answer or a file's text: no escape sequence reaches the terminal.
    sys.stderr.write(printable(message, one_line=False) + "\n")
    if hint:
        sys.stderr.write(f"  hint: {printable(hint, one_line=False)}\n")


if __name__ == "__main__":
    sys.exit(main())
