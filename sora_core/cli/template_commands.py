"""``sora templates`` and ``sora show``: the pipeline templates installed plugins contribute.

``sora templates`` lists them with their plugin, inputs, outputs and description; ``sora show TEMPLATE``
prints one as YAML to save, edit and run (``sora show t2v > mine.yaml && sora run mine.yaml``), or as a JSON
spec with ``--json``. Both read the specs only: no particle is built and no weights are read.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sora_core.cli.output import print_json, print_table, warn
from sora_core.errors import SoraError


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("templates", help="list the installed pipeline templates and their inputs and outputs")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run_templates)

    parser = commands.add_parser("show", help="print an installed pipeline template as YAML, ready to copy and edit")
    parser.add_argument("template", metavar="TEMPLATE", help="a template name (`sora templates` lists them)")
    parser.add_argument("--json", action="store_true", help="print the spec as JSON instead")
    parser.set_defaults(run=run_show)


def installed_templates() -> list[dict[str, Any]]:
    """Every installed template as plain data: name, plugin, description, inputs, outputs and nodes."""
    from sora_core import registry
    from sora_core.pipeline.pipeline import available_templates, template_spec

    providers = registry.default_registry.catalog.templates
    found = []
    for name in sorted(available_templates(registry.default_registry)):
        try:
            spec, _ = template_spec(name, registry.default_registry)
        except SoraError as exc:  # one unreadable template leaves the others listed
            found.append({"name": name, "plugin": providers.get(name), "problem": exc.message})
            continue
        found.append(
            {
                "name": name,
                "plugin": providers.get(name),
                "description": spec.description,
                "inputs": {key: list(targets) for key, targets in spec.inputs.items()},
                "outputs": dict(spec.outputs),
                "nodes": {key: node.particle for key, node in spec.nodes.items()},
            }
        )
    return found


def run_templates(args: argparse.Namespace) -> int:
    templates = installed_templates()
    if args.json:
        print_json({"templates": templates})
        return 0
    if not templates:
        sys.stdout.write(
            "no pipeline templates installed: plugins contribute them (sora-seed, sora-dit, sora-understand)\n"
        )
        return 0
    usable = [t for t in templates if "problem" not in t]
    rows = [
        (t["name"], t["plugin"] or "-", ", ".join(t["inputs"]), ", ".join(t["outputs"]), _summary(t["description"]))
        for t in usable
    ]
    if rows:
        print_table(f"{len(rows)} templates", ("NAME", "PLUGIN", "INPUTS", "OUTPUTS", "DESCRIPTION"), rows)
    for broken in (t for t in templates if "problem" in t):
        warn(f"template {broken['name']!r} ({broken['plugin'] or 'a plugin'}) cannot be read: {broken['problem']}")
    return 0


def _summary(description: str, width: int = 100) -> str:
    """The first sentence of a description, at most ``width`` characters (``--json`` and ``show`` give all)."""
    first = description.split(". ")[0].strip()
    return first if len(first) <= width else first[: width - 3].rstrip() + "..."


def run_show(args: argparse.Namespace) -> int:
    from sora_core import registry
    from sora_core.pipeline.pipeline import available_templates, portable_spec, template_spec

    spec, base_dir = template_spec(args.template, registry.default_registry)  # unknown: "did you mean"
    source = available_templates(registry.default_registry)[args.template]
    if args.json:
        print_json(portable_spec(spec, base_dir).to_data())
        return 0
    plugin = registry.default_registry.catalog.templates.get(args.template)
    header = (
        f"# pipeline template {args.template!r}"
        + (f" from {plugin}" if plugin else "")
        + f": save it (sora show {args.template} > mine.yaml), edit it, run it (sora run mine.yaml)\n"
    )
    sys.stdout.write(header + _yaml_text(spec, base_dir, source))
    return 0


def _yaml_text(spec: Any, base_dir: Path | None, source: Any) -> str:
    """The template's own file, comments kept, when a copy of it loads as it is; else the spec written as YAML."""
    import yaml

    from sora_core.pipeline.pipeline import portable_spec

    portable = portable_spec(spec, base_dir)
    if isinstance(source, (str, os.PathLike)) and portable == spec:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        if text and Path(source).suffix.lower() in (".yaml", ".yml"):
            return text if text.endswith("\n") else text + "\n"
    data = portable.to_data()
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
