"""The ``sora-registry`` command: serve a registry and administer its tokens and owners.

    sora-registry serve --data DIR [--host 127.0.0.1] [--port 8417] [--max-upload-size 200MB] [--public-url URL]
    sora-registry token create --data DIR --user NAME [--label TEXT]
    sora-registry token list --data DIR [--user NAME] [--json]
    sora-registry token revoke --data DIR TOKEN_ID
    sora-registry owner add --data DIR PROJECT USER
    sora-registry owner remove --data DIR PROJECT USER
    sora-registry owner list --data DIR [PROJECT] [--json]
    sora-registry verify --data DIR
    sora-registry backup --data DIR --to BACKUP_DIR

A ``SoraError`` is printed as ``error: ...`` and ``  hint: ...`` on stderr with exit status 1;
anything else as one line with status 2 (the traceback only under ``SORA_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from sora_core.cli.main import run_cli
from sora_core.zip_safety import DEFAULT_MAX_RATIO, DEFAULT_MAX_UNPACKED
from sora_registry import __version__, tokens
from sora_registry.errors import NotFoundError, RegistryError
from sora_registry.names import normalize_project
from sora_registry.service import RegistryService
from sora_registry.settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD,
    DEFAULT_PORT,
    Settings,
    check_public_url,
    default_public_url,
    format_size,
    parse_size,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sora-registry", description="Serve a sora particle registry and administer its tokens and owners."
    )
    parser.add_argument("--version", action="version", version=f"sora-registry {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the registry over HTTP")
    _data_arg(serve)
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--max-upload-size",
        type=_size,
        default=DEFAULT_MAX_UPLOAD,
        metavar="SIZE",
        help=f"largest accepted upload, e.g. 200MB or 1GiB (default {format_size(DEFAULT_MAX_UPLOAD)})",
    )
    serve.add_argument(
        "--max-unpacked-size",
        type=_size,
        default=DEFAULT_MAX_UNPACKED,
        metavar="SIZE",
        help=f"largest size an uploaded archive may inflate to (default {format_size(DEFAULT_MAX_UNPACKED)})",
    )
    serve.add_argument(
        "--max-compression-ratio",
        type=_ratio,
        default=DEFAULT_MAX_RATIO,
        metavar="N",
        help=f"largest inflated/compressed ratio of one archive member over 1 MiB (default {DEFAULT_MAX_RATIO})",
    )
    serve.add_argument(
        "--public-url",
        type=_public_url,
        metavar="URL",
        help="the URL clients reach the registry at, shown in install commands "
        "(e.g. https://registry.example.org; default http://HOST:PORT)",
    )
    serve.add_argument(
        "--root-path", default="", help="the URL prefix when served behind a proxy under a sub-path (e.g. /registry)"
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="create, list and revoke upload tokens").add_subparsers(
        dest="token_command", metavar="ACTION", required=True
    )
    create = token.add_parser("create", help="create a token for a user and print it (once)")
    _data_arg(create)
    create.add_argument("--user", required=True, help="the user the token uploads as")
    create.add_argument("--label", default="", help="a note to recognise the token by (e.g. 'CI')")
    create.set_defaults(run=_token_create)
    listing = token.add_parser("list", help="list tokens (never their secrets)")
    _data_arg(listing)
    listing.add_argument("--user", help="only this user's tokens")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by its id")
    _data_arg(revoke)
    revoke.add_argument("token_id", help="the id `token list` shows")
    revoke.set_defaults(run=_token_revoke)

    owner = commands.add_parser("owner", help="manage who may upload to a project").add_subparsers(
        dest="owner_command", metavar="ACTION", required=True
    )
    for action, help_text, run in (
        ("add", "let USER upload to PROJECT (reserves a new project name)", _owner_add),
        ("remove", "stop USER uploading to PROJECT", _owner_remove),
    ):
        sub = owner.add_parser(action, help=help_text)
        _data_arg(sub)
        sub.add_argument("project")
        sub.add_argument("user")
        sub.set_defaults(run=run)
    owners = owner.add_parser("list", help="list owners, of one project or all")
    _data_arg(owners)
    owners.add_argument("project", nargs="?")
    owners.add_argument("--json", action="store_true", help="print JSON")
    owners.set_defaults(run=_owner_list)

    verify = commands.add_parser("verify", help="check every catalogued file is stored with its size and sha256")
    _data_arg(verify)
    verify.set_defaults(run=_verify)

    backup = commands.add_parser("backup", help="copy a consistent snapshot of the catalog and files (while serving)")
    _data_arg(backup)
    backup.add_argument("--to", required=True, type=Path, metavar="DIR", help="the backup directory (incremental)")
    backup.set_defaults(run=_backup)
    return parser


def _data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, metavar="DIR", help="the registry's data directory")


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except RegistryError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from None


def _ratio(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"ratio {text!r} is not a whole number of at least 1 (e.g. 200)")
    return int(text)


def _public_url(text: str) -> str:
    try:
        return check_public_url(text)
    except RegistryError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from None


def _open(args: argparse.Namespace, *, create: bool = False) -> RegistryService:
    data: Path = args.data
    if not create and not Settings(data).catalog_path.is_file():
        raise NotFoundError(f"{data} holds no registry (no {Settings(data).catalog_path.name})", "check --data")
    public_url = getattr(args, "public_url", None)
    if not public_url and hasattr(args, "host"):
        public_url = default_public_url(args.host, args.port)
    settings = Settings(
        data,
        getattr(args, "max_upload_size", DEFAULT_MAX_UPLOAD),
        public_url or "",
        max_unpacked_size=getattr(args, "max_unpacked_size", DEFAULT_MAX_UNPACKED),
        max_compression_ratio=getattr(args, "max_compression_ratio", DEFAULT_MAX_RATIO),
    )
    return RegistryService(settings)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sora_registry.app import create_app

    service = _open(args, create=True)
    listening = _listen(args.host, args.port)  # bound here, so a busy port is one clear error
    print(
        f"sora-registry {__version__}: serving {args.data} on {default_public_url(args.host, args.port)}/ "
        f"(pip index: {service.settings.index_url}, max upload {format_size(args.max_upload_size)})",
        flush=True,
    )
    config = uvicorn.Config(
        create_app(service, close_on_shutdown=True), log_level=args.log_level, root_path=args.root_path
    )
    uvicorn.Server(config).run(sockets=[listening])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise RegistryError(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}",
            "pick a free port with --port, or stop the program that holds this one",
        ) from None


def _token_create(args: argparse.Namespace) -> int:
    user = _user(args.user)
    service = _open(args, create=True)
    new = tokens.generate()
    service.catalog.add_token(new.token_id, user, new.digest, args.label)
    print(f"token {new.token_id} for user {user!r} (shown once; only its hash is stored):")
    print(new.secret)
    return 0


def _token_list(args: argparse.Namespace) -> int:
    records = _open(args).catalog.tokens(args.user)
    if args.json:
        print(json.dumps([r.__dict__ for r in records], indent=1))
        return 0
    rows = [
        (r.token_id, r.user, r.label or "-", r.created[:19], (r.last_used or "never")[:19], _state(r.revoked))
        for r in records
    ]
    _print_table(("ID", "USER", "LABEL", "CREATED", "LAST USED", "STATE"), rows)
    return 0


def _state(revoked: str | None) -> str:
    return f"revoked {revoked[:19]}" if revoked else "active"


def _token_revoke(args: argparse.Namespace) -> int:
    if not _open(args).catalog.revoke_token(args.token_id):
        raise NotFoundError(f"no active token with id {args.token_id!r}", "list them with `sora-registry token list`")
    print(f"revoked token {args.token_id}")
    return 0


def _owner_add(args: argparse.Namespace) -> int:
    project, user = normalize_project(args.project), _user(args.user)
    added = _open(args, create=True).catalog.add_owner(project, user)
    print(f"{user!r} {'now owns' if added else 'already owns'} {project!r}")
    return 0


def _owner_remove(args: argparse.Namespace) -> int:
    project, user = normalize_project(args.project), _user(args.user)
    catalog = _open(args).catalog
    if not catalog.remove_owner(project, user):
        raise NotFoundError(f"{user!r} is not an owner of {project!r}", "see `sora-registry owner list PROJECT`")
    print(f"{user!r} no longer owns {project!r}")
    if not catalog.owners(project):
        print(f"{project!r} was never published and has no owner now: the name is no longer reserved")
    return 0


def _owner_list(args: argparse.Namespace) -> int:
    project = normalize_project(args.project) if args.project else None
    pairs = _open(args).catalog.owners(project)
    if args.json:
        print(json.dumps([{"project": p, "user": u} for p, u in pairs], indent=1))
    else:
        _print_table(("PROJECT", "USER"), pairs)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from sora_registry.consistency import verify

    report = verify(_open(args))
    for line in report.problems:
        print(line)
    print(f"{report.checked} files checked, {len(report.problems)} problems")
    return 1 if report.problems else 0


def _backup(args: argparse.Namespace) -> int:
    from sora_registry.backup import backup

    report = backup(_open(args), args.to)
    print(
        f"backed up {args.data} to {args.to}: catalog snapshot, {report.copied} files copied "
        f"({format_size(report.bytes_copied)}), {report.skipped} already there"
    )
    return 0


def _user(name: str) -> str:
    try:
        return tokens.validate_user(name)
    except ValueError as exc:
        raise RegistryError(str(exc), "pick another user name") from None


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv, "sora-registry")


if __name__ == "__main__":
    sys.exit(main())
