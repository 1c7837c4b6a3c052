"""``sora studio [SPEC]``: the browser node editor (see docs/studio.md), served on this machine.

The spec or template given is opened first; the page (built by ``make setup``) must exist. A bad spec, port or
missing page is an ``error:`` line and exit status 1, before anything listens.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sora_core.cli.serve_command import add_allow_host
from sora_core.errors import ConfigError

DEFAULT_PORT = 8100


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "studio",
        help="build, check and run pipelines in a browser node editor",
        description="Serve Sora Studio, a node editor in the browser: drag particles from the palette, connect "
        "ports (each connection checked as `sora run` checks a graph), set configs, load templates, import and "
        "export YAML specs, and run the graph with per-node progress and times. Open the printed address.",
    )
    parser.add_argument("target", nargs="?", metavar="SPEC|TEMPLATE", help="a spec file or template to open first")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument("--data", metavar="DIR", help="keep run outputs in DIR (default: a temporary folder)")
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest uploaded clip (default 50 MB)")
    add_allow_host(parser)
    parser.add_argument(
        "--no-token",
        dest="token",
        action="store_false",
        help="no login token: anyone who can reach the port (other users of this machine too) can use the studio",
    )
    parser.set_defaults(run=run_studio)


def run_studio(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sora_core import registry
    from sora_core.cli.serve_command import bind_socket
    from sora_core.http_guard import trusted_hosts
    from sora_core.pipeline.pipeline import load_target, portable_spec
    from sora_core.studio.app import STATIC_DIR, StudioSettings, create_app, page_built
    from sora_core.studio.login import new_token

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number", "use a number from 1 to 65535 (0: any free one)")
    if not 0 < args.max_upload_mb <= 4096:
        raise ConfigError(f"--max-upload-mb {args.max_upload_mb} is outside (0, 4096]", "use e.g. --max-upload-mb 50")
    if not page_built():
        raise ConfigError(
            f"the studio's page is not built ({STATIC_DIR / 'app.js'} is missing)",
            "run `make setup` (it runs npm ci and npm run build in sora_core/studio/frontend)",
        )
    spec, base_dir = None, Path.cwd()
    if args.target:
        spec, folder = load_target(args.target, registry.default_registry)
        spec = portable_spec(spec, folder)
    data = Path(args.data) if args.data else None
    if data is not None and data.exists() and not data.is_dir():
        raise ConfigError(f"--data {data} is not a folder", "name a folder (created if missing)")
    settings = StudioSettings(
        spec=spec,
        source=args.target,
        base_dir=base_dir,
        data=data,
        max_upload=int(args.max_upload_mb * 2**20),
        trusted_hosts=trusted_hosts(args.host, args.allow_hosts),  # refuses DNS rebinding
        token=new_token() if args.token else None,
    )
    sock = bind_socket(args.host, args.port)
    try:
        app = create_app(settings)
        _serve(app, sock, args, settings.token)
    finally:
        sock.close()
    return 0


def _serve(app: Any, sock: Any, args: argparse.Namespace, token: str | None) -> None:
    import uvicorn

    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    opened = f" with {args.target}" if args.target else ""
    login = f"?token={token}" if token else ""
    sys.stderr.write(f"Sora Studio{opened} on http://{shown}:{port}/{login} ; Ctrl-C stops\n")
    if token is None:
        sys.stderr.write(
            "warning: the studio has no login (--no-token): anyone who reaches this port, other users of this "
            "machine too, can run pipelines on it\n"
        )
    elif host not in ("127.0.0.1", "::1", "localhost"):
        sys.stderr.write(
            "warning: plain HTTP: the token travels in clear beyond this machine; put a TLS proxy in front\n"
        )
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
