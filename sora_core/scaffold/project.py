"""The files around the particle that ``sora new`` writes, as ``string.Template`` sources.

Placeholders are filled by :mod:`sora_core.scaffold.generator`; values that land in TOML
are already quoted there. Nothing here imports torch.
"""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "${dist}"
version = "0.1.0"
description = ${description_toml}
readme = "README.md"
requires-python = ">=3.10"
license = "${license}"
license-files = ["LICENSE"]
${authors}keywords = ["sora", "sora-particle", "${kind}"]
dependencies = [
    "sora-core>=${core_version}",
    "torch>=2.2",
    "pydantic>=2.6,<3",
]

[project.optional-dependencies]
test = ["pytest>=8"]

# Each entry is a particle: its short name = module:Class. `sora list` reads the
# generated ${package}/sora_manifest.json instead of importing the module.
[project.entry-points."sora.particles"]
${particle} = "${entry_point}"

[tool.setuptools.packages.find]
include = ["${package}", "${package}.*"]

[tool.setuptools.package-data]
${package} = ["sora_manifest.json", "weights/**/*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

INIT = '''\
"""The ${dist} plugin for sora-core.

Particle ``${particle}`` (kind ${kind}),
in ``${package}.${module}``.

Keep this module import-light: ``sora list`` never imports it (it reads
``sora_manifest.json``), and importing the package should stay cheap.
"""
'''

TEST_CONFORMANCE = '''\
"""Every particle of ${dist} passes sora-core's conformance kit.

Per particle: the kind's required ports, forward on random inputs built from the
ports (declared dtypes and shapes), batch independence, a bit-exact save/load round
trip, config JSON, determinism under a seed, and a current sora_manifest.json.
"""

from sora_core.testing import conformance_suite

test_conformance = conformance_suite("${canonical}")
'''

TEST_PARTICLE = '''\
"""Behaviour of ``${particle}`` beyond the conformance kit."""

import pytest
${torch_import}from sora_core.errors import ConfigError
from sora_core.testing import assert_conforms

${import_line}


def test_conforms_with_another_config() -> None:
    config = ${small_config}
    assert_conforms(${Class}, config)


def test_an_invalid_config_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="${invalid_field}"):
        ${Class}(${invalid_field}=${invalid_value})
${extra_test}'''

README = """\
# ${dist}

${description}

A [sora-core](https://pypi.org/project/sora-core/) plugin. It contributes one particle:

| particle | kind | class |
|---|---|---|
| `${full_name}` | `${kind}` | `${entry_point}` |

## Install

In the environment where sora-core and torch live:

```bash
pip install -e ".[test]"
sora list '${canonical}:*'  # from the shipped manifest, without importing the plugin
sora info ${full_name}
```

## Use

```python
from sora_core import registry
from sora_core.testing import make_example_inputs

# config values as keyword arguments, e.g. registry.create(NAME, size=8)
${create_call}
outputs = particle(**make_example_inputs(particle))
# config.json, model.safetensors and a manifest with their sha256
particle.save_pretrained("my-${particle}")
```

## Develop

The particle lives in `${module_path}`: its config, its ports (derived
from the config) and `forward`. Whenever a port, a config field or the description
changes, regenerate the manifest that `sora list` reads, then run the tests:

```bash
sora manifest ${canonical} --write
pytest                       # the conformance kit and the particle's own tests
```

To ship trained weights, save them with
`particle.save_pretrained("${package}/weights/${particle}")`, set
`default_weights = "weights/${particle}"` on the class and regenerate the
manifest; `registry.load("${full_name}")` then loads and verifies them.

## Publish

```bash
sora check .                   # packaging and conformance, as a registry checks them
sora publish . --dry-run       # build the wheel and sdist and check them
sora publish . --registry URL  # ... and upload them
```

## Licence

${license}: see [LICENSE](LICENSE).
"""

GITIGNORE = """\
__pycache__/
*.py[cod]
*.egg-info/
build/
dist/
.pytest_cache/
.ruff_cache/
.venv/
"""
