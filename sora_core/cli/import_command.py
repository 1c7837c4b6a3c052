"""``sora import FORMAT PATH -o spec.yaml``: a pipeline spec from another library's model folder."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sora_core.cli.paths import check_output_path


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "import",
        help="write a pipeline spec that runs a model folder of another library (e.g. diffusers)",
        description="Write a pipeline spec that runs a model folder of another library. Importers come from "
        "plugins: sora-diffusers reads diffusers folders (model_index.json) and Hugging Face cache snapshots.",
    )
    parser.add_argument("format", help="the folder's format, e.g. diffusers")
    parser.add_argument("path", help="the model folder")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the spec to write (.yaml or .json)")
    parser.set_defaults(run=run_import)


def run_import(args: argparse.Namespace) -> int:
    import json

    import yaml

    from sora_core import registry
    from sora_core.atomic import atomic_write_text
    from sora_core.importers import find_importer, import_spec

    output = check_output_path(args.output, "--output", (".yaml", ".yml", ".json"), what="spec")
    importer = find_importer(args.format, registry.default_registry)
    spec = import_spec(importer, args.path)
    data = spec.to_data()
    if output.suffix == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    atomic_write_text(output, text)
    sys.stderr.write(f"{output}: pipeline {spec.name!r} with {len(spec.nodes)} nodes from {args.path}\n")
    return 0
