"""``sora serve TEMPLATE|SPEC``: the HTTP API (see docs/serving.md), and ``sora serve-token``, which makes a token.

The pipeline is built and checked, and the port bound, before the server listens: a bad template, setting or
port is an ``error:`` line and exit status 1. Only argparse is imported until the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sora_core.errors import ConfigError

#: Environment variable naming the token file when ``--token-file`` is not given.
TOKEN_FILE_ENV = "SORA_SERVE_TOKEN_FILE"
LISTEN_BACKLOG = 2048  # uvicorn's default backlog


def add_commands(commands: Any) -> None:
    from sora_core.cli.pipeline_commands import SWAP_HELP

    parser = commands.add_parser(
        "serve",
        help="serve a text-to-video pipeline (and captions, answers, summaries) over HTTP",
        description="Serve an HTTP API: POST /v1/generations queues a video (generated in batches by one worker), "
        "GET /v1/generations/ID polls it and .../video downloads it; POST /v1/captions, /v1/answers and "
        "/v1/summaries take an uploaded clip. Jobs and videos are kept in --data and survive a restart. "
        "The schema is at /openapi.json.",
    )
    parser.add_argument("target", nargs="?", default="t2v", metavar="TEMPLATE|SPEC", help="default t2v")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)")
    parser.add_argument("--data", default="sora-serve-data", help="folder of job records and videos")
    parser.add_argument("--max-queue", type=int, default=16, help="jobs that may wait; more get 429 (default 16)")
    parser.add_argument("--max-batch", type=int, default=4, help="compatible jobs run as one call (default 4)")
    parser.add_argument(
        "--batch-wait", type=float, default=50.0, metavar="MS", help="how long to wait for a batch to fill (ms)"
    )
    parser.add_argument("--max-upload-mb", type=float, default=50.0, help="largest uploaded clip (default 50 MB)")
    parser.add_argument(
        "--token-file",
        default=os.environ.get(TOKEN_FILE_ENV),
        help=f"accept only requests with a token whose sha256 is in FILE (default ${TOKEN_FILE_ENV})",
    )
    parser.add_argument("--frames", type=int, help="default number of frames of a request")
    parser.add_argument("--height", type=int, help="default frame height")
    parser.add_argument("--width", type=int, help="default frame width")
    parser.add_argument("--steps", type=int, help="default sampling steps")
    parser.add_argument("--guidance", type=float, help="default guidance scale")
    parser.add_argument("--candidates", type=int, help="videos sampled per prompt (not changed by requests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a request that gives none (default 0)")
    parser.add_argument("--device", help="run the pipeline's nodes on this device (cpu, cuda, ...)")
    parser.add_argument("--swap", dest="swaps", action="append", default=[], metavar="NODE=PARTICLE", help=SWAP_HELP)
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="NODE.FIELD=VALUE", help="change a node's config"
    )
    parser.add_argument(
        "--ray",
        metavar="auto|local|HOST:PORT",
        help="run the pipeline's nodes on Ray Serve on this cluster, each a deployment (pip install 'sora-core[ray]')",
    )
    parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="NODE=N",
        help="with --ray: replicas of a node's deployment (default 1 each)",
    )
    add_allow_host(parser)
    parser.set_defaults(run=run_serve)

    token = commands.add_parser(
        "serve-token",
        help="make a bearer token for sora serve --token-file (printed once)",
        description="Make a bearer token for `sora serve --token-file FILE`: its sha256 digest is added to FILE "
        "(created if missing) and the token itself is printed on stdout, this once only.",
    )
    token.add_argument("--token-file", required=True, metavar="FILE", help="the file of digests")
    token.set_defaults(run=run_serve_token)


def add_allow_host(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="on a loopback address, also answer requests naming this host (a reverse proxy's); others get 403",
    )


def run_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sora_core.http_guard import trusted_hosts
    from sora_core.serve.auth import read_token_file
    from sora_core.serve.settings import ServeSettings

    for flag, value, least in (("--max-queue", args.max_queue, 1), ("--max-batch", args.max_batch, 1)):
        if value < least:
            raise ConfigError(f"{flag} {value} must be at least {least}", f"use e.g. {flag} 4")
    if not 0 <= args.batch_wait <= 60_000:
        raise ConfigError(f"--batch-wait {args.batch_wait} is outside 0 to 60000 ms", "use e.g. --batch-wait 50")
    if not 0 < args.max_upload_mb <= 4096:
        raise ConfigError(f"--max-upload-mb {args.max_upload_mb} is outside (0, 4096]", "use e.g. --max-upload-mb 50")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number", "use a number from 1 to 65535 (0: any free one)")
    ray, replicas = _ray_flags(args)
    digests = read_token_file(args.token_file) if args.token_file else frozenset()
    data = Path(args.data)
    if data.exists() and not data.is_dir():
        raise ConfigError(f"--data {data} is not a folder", "name a folder (created if missing)")
    generator = {
        name: getattr(args, name)
        for name in ("frames", "height", "width", "steps", "guidance", "candidates", "device")
        if getattr(args, name) is not None
    }
    generator.update(seed=args.seed, swaps=args.swaps, settings=args.settings, _names=_cli_names())
    settings = ServeSettings(
        template=args.target,
        data=data,
        generator=generator,
        max_queue=args.max_queue,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait,
        max_upload=int(args.max_upload_mb * 1024 * 1024),
        token_digests=digests,
        ray=ray,
        replicas=replicas,
        trusted_hosts=trusted_hosts(args.host, args.allow_hosts),
    )
    sock = bind_socket(args.host, args.port)  # refused now, before the pipeline is built
    try:
        from sora_core.serve.app import create_app

        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--data {data}: cannot create it: {exc.strerror or exc}", "name a writable folder"
            ) from None
        from sora_core.folder_lock import hold_folder
        from sora_core.serve.jobs import sweep_temporaries

        refusal = f"--data {data}: another sora serve (process {{pid}}) uses this folder"
        with hold_folder(data, refusal, "stop that server, or give this one another --data folder"):
            sweep_temporaries(data)  # what a killed server was writing
            with _ray_log_lines_off(settings.ray):
                app = create_app(settings)
                try:
                    _serve(app, sock, args, settings)
                finally:
                    app.state.server.backend.close()
    finally:
        sock.close()
    return 0


def _ray_flags(args: argparse.Namespace) -> tuple[str | None, dict[str, int]]:
    """``--ray`` and ``--replicas`` checked (nothing of Ray imported)."""
    if args.ray is None:
        if args.replicas:
            raise ConfigError("--replicas is for --ray", "add --ray auto|local|HOST:PORT, or drop --replicas")
        return None, {}
    from sora_core.batch_ray import check_address
    from sora_core.serve.ray_deploy import parse_replicas

    return check_address(args.ray), parse_replicas(args.replicas)


def _ray_log_lines_off(ray: str | None) -> Any:
    """With ``--ray``: the log lines of Ray's C++ core kept off stderr (as a batch job keeps them)."""
    import contextlib

    if ray is None:
        return contextlib.nullcontext()
    from sora_core.batch_ray import _without_ray_log_lines

    return _without_ray_log_lines()


def _cli_names() -> Any:
    from sora_core import api

    return api._CLI


def bind_socket(host: str, port: int) -> Any:
    """A socket bound to ``host:port`` and already listening: the address the start-up line announces takes
    connections from then on (they wait in the backlog until the server's loop accepts them)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(
            f"--host {host}: {exc.strerror or exc}", "use an address of this machine, e.g. 127.0.0.1"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"--host {host} --port {port}: cannot listen there: {exc.strerror or exc}",
            "pick another --port (or stop what uses it)",
        ) from None
    return sock


def _serve(app: Any, sock: Any, args: argparse.Namespace, settings: Any) -> None:
    import uvicorn

    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    auth = ", token required" if settings.token_digests else ""
    where = app.state.server.backend.where()
    where = f"; {where}" if where else ""
    sys.stderr.write(
        f"serving {args.target} on http://{shown}:{port} (data in {settings.data}{auth}){where}; Ctrl-C stops\n"
    )
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def run_serve_token(args: argparse.Namespace) -> int:
    from sora_core.serve.auth import add_token

    new = add_token(args.token_file)
    sys.stdout.write(new.secret + "\n")
    sys.stderr.write(f"added the token's sha256 to {args.token_file}; the token (on stdout) is shown only this once\n")
    return 0
