"""``sora manifest DIST``: generate, write or check a plugin's static manifest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sora_core.errors import ManifestError


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "manifest", help="generate a plugin's sora_manifest.json from its code (imports the plugin)"
    )
    parser.add_argument("dist", help="the installed distribution, e.g. sora-seed")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the manifest into the package")
    mode.add_argument("--check", action="store_true", help="exit 1 if the shipped manifest is out of date")
    parser.set_defaults(run=run_manifest)


def run_manifest(args: argparse.Namespace) -> int:
    from sora_core.manifest_builder import build_manifests, render, stale_manifests, write_manifests

    if args.write:
        for path in write_manifests(args.dist):
            print(f"wrote {path}")
        return 0
    if args.check:
        stale = stale_manifests(args.dist)
        if stale:
            raise ManifestError("; ".join(stale), f"run `sora manifest {args.dist} --write` and reinstall")
        print(f"{args.dist}: manifest is current")
        return 0
    for manifest in build_manifests(args.dist).values():
        sys.stdout.write(render(manifest))
    return 0
