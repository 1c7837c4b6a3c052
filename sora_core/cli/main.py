"""Entry point of the ``sora`` command: parse, dispatch, and turn errors into one clear line.

Only argparse and the registry's metadata modules are imported up front, so
``sora --help``, ``sora list`` and ``sora info`` never import torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from sora_core import __version__
from sora_core.errors import SoraError
from sora_core.text import printable


def build_parser() -> argparse.ArgumentParser:
    from sora_core.cli import (
        catalog_commands,
        doctor,
        generate_command,
        import_command,
        load_command,
        manifest_command,
        new_command,
        pipeline_commands,
        publish_commands,
        understand_commands,
    )

    parser = argparse.ArgumentParser(
        prog="sora",
        description="List, inspect and compose the particles of a Sora-style text-to-video model.",
    )
    parser.add_argument("--version", action="version", version=f"sora-core {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        generate_command,
        understand_commands,
        catalog_commands,
        load_command,
        pipeline_commands,
        import_command,
        new_command,
        publish_commands,
        doctor,
        manifest_command,
    ):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv, "sora-core or a plugin")


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
            traceback.print_exc()
        _report(
            f"error: unexpected {type(exc).__name__}: {exc}",
            f"this is a bug in {owner}; rerun with SORA_DEBUG=1 for the traceback and report it",
        )
        return 2


def _report(message: str, hint: str | None) -> None:
    # Messages may quote a registry's answer or a file's text: no escape sequence reaches the terminal.
    sys.stderr.write(printable(message, one_line=False) + "\n")
    if hint:
        sys.stderr.write(f"  hint: {printable(hint, one_line=False)}\n")


if __name__ == "__main__":
    sys.exit(main())
