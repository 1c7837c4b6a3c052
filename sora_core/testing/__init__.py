"""The conformance kit: does a particle honour the contract of its kind, ports, config and weights?

Run it on a class or an installed particle's name::

    from sora_core.testing import assert_conforms, check_particle
    for result in check_particle("sora-seed:lstm-text-encoder"):
        print(result)
    assert_conforms(MyParticle, {"hidden_size": 64})

or give a plugin's whole test suite in one line (its ``tests/test_conformance.py``)::

    from sora_core.testing import conformance_suite
    test_conformance = conformance_suite("my-plugin")

The checks, each reported as a :class:`CheckResult`:

``kind``            the kind is built in or contributed, and the port names satisfy it
``ports``           ``input_ports()`` / ``output_ports()`` are dicts of ``PortSpec``, with an output
``forward-shapes``  random inputs built from the input ports give every declared output, with the declared
                    dtype family and a shape that agrees with the inputs' sizes; inputs are left untouched
``batch-independent`` changing the first batch item's float (or text) inputs leaves the other items'
                    outputs unchanged (catches batch-first / sequence-first mix-ups)
``save-load``       ``save_pretrained`` then ``from_pretrained`` gives bit-identical tensors and outputs
``config-json``     the config round-trips through JSON, and the default config is valid
``deterministic``   two particles built under the same seed have equal weights and outputs, and one
                    particle called twice under the same seed gives equal outputs
``loaded-files``    (only for ``pretrained_on_create`` classes) ``loaded_files()`` names, by relative names,
                    the existing files the constructor loaded, which ``sora lock`` pins
``manifest``        (only when checked by name) the installed manifest matches what the code declares

Example inputs: float ports get ``randn``, int ports ids in ``[0, 8)``, bool ports ``True``, ``str``
ports short captions. Symbols get one size each, shared across ports: ``B`` is ``batch``, a named
size (``D=256``) its size, others distinct small sizes (3, 4, 5, ...); ``sizes=`` overrides them.
A particle that needs other inputs defines ``example_inputs(config, batch, generator)`` (a
classmethod or staticmethod) returning some or all of its inputs; the rest are generated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from sora_core.kinds import KindSpec
from sora_core.metadata import ParticleInfo
from sora_core.particle import Particle
from sora_core.testing.checks import (
    Subject,
    check_batch_independent,
    check_config_json,
    check_deterministic,
    check_forward,
    check_kind,
    check_loaded_files,
    check_manifest,
    check_ports,
    check_save_load,
    error_text,
)
from sora_core.testing.examples import CheckResult, Failed, make_example_inputs

__all__ = [
    "CHECKS",
    "CheckResult",
    "assert_conforms",
    "check_particle",
    "conformance_suite",
    "make_example_inputs",
]

#: The checks every particle gets; ``manifest`` is added when a particle is checked by name.
CHECKS: tuple[str, ...] = (
    "kind",
    "ports",
    "forward-shapes",
    "batch-independent",
    "save-load",
    "config-json",
    "deterministic",
)


def _run_check(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, check())
    except Failed as exc:
        return CheckResult(name, False, str(exc))
    except Exception as exc:  # a check that raises fails; the kit itself never crashes
        return CheckResult(name, False, error_text(exc))


def _resolve(target: str | type[Particle]) -> tuple[type[Particle], ParticleInfo | None]:
    if isinstance(target, str):
        from sora_core import registry

        info = registry.info(target)
        return registry.get_class(info.full_name), info
    if not (isinstance(target, type) and issubclass(target, Particle)):
        raise TypeError(f"expected a particle name or a Particle subclass, got {target!r}")
    return target, None


def check_particle(
    target: str | type[Particle],
    config: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    batch: int = 2,
    sizes: dict[str, int] | None = None,
    kinds: Mapping[str, KindSpec] | None = None,
) -> list[CheckResult]:
    """Run every conformance check on a particle class or an installed particle's name.

    ``config`` is passed to the constructor; ``sizes`` overrides example sizes of symbols
    (``{"L": 7}``); ``kinds`` adds kinds not yet installed (to check a contributed kind
    before its plugin is). The global torch RNG is restored afterwards.
    """
    try:
        cls, info = _resolve(target)
    except Exception as exc:
        return [CheckResult("resolve", False, error_text(exc))]
    subject = Subject(cls, config, seed, batch, sizes)
    if info is not None:
        subject.registered_name = info.full_name
    checks: list[tuple[str, Callable[[], str]]] = [
        ("kind", lambda: check_kind(subject, kinds)),
        ("ports", lambda: check_ports(subject)),
        ("forward-shapes", lambda: check_forward(subject)),
        ("batch-independent", lambda: check_batch_independent(subject)),
        ("save-load", lambda: check_save_load(subject)),
        ("config-json", lambda: check_config_json(subject)),
        ("deterministic", lambda: check_deterministic(subject)),
    ]
    if cls.pretrained_on_create:
        checks.append(("loaded-files", lambda: check_loaded_files(subject)))
    if info is not None:
        checks.append(("manifest", lambda: check_manifest(subject, info)))
    with torch.random.fork_rng(devices=[]):
        return [_run_check(name, check) for name, check in checks]


def assert_conforms(target: str | type[Particle], config: dict[str, Any] | None = None, **kw: Any) -> None:
    """Run :func:`check_particle`; raise ``AssertionError`` listing every failed check and why."""
    results = check_particle(target, config, **kw)
    failed = [r for r in results if not r.passed]
    if failed:
        name = target if isinstance(target, str) else getattr(target, "__qualname__", repr(target))
        lines = "\n".join(f"  - {r.name}: {r.detail}" for r in failed)
        raise AssertionError(f"{name} fails {len(failed)} of {len(results)} conformance checks:\n{lines}")


def conformance_suite(dist: str, configs: dict[str, dict[str, Any]] | None = None) -> Callable[..., None]:
    """A pytest test, parametrized over every particle of installed distribution ``dist``.

    ``configs`` maps a particle's short or full name to the config to check it with.
    In a plugin's tests: ``test_conformance = conformance_suite("my-plugin")``.
    """
    import pytest

    from sora_core import registry
    from sora_core.text import canonical_dist_name

    wanted = canonical_dist_name(dist)
    names = [info.full_name for info in registry.list(pattern=f"{wanted}:*")]
    configs = dict(configs or {})
    unknown = sorted(set(configs) - set(names) - {n.split(":", 1)[1] for n in names})
    if names and unknown:
        raise ValueError(f"conformance_suite({dist!r}): configs name unknown particles {unknown}; known: {names}")

    if not names:

        def test_conformance() -> None:
            problems = [f"{p.subject}: {p.reason}" for p in registry.problems() if p.dist == wanted]
            pytest.fail(
                f"no particles of distribution {dist!r} are installed"
                + (" (" + "; ".join(problems) + ")" if problems else "")
                + f"; install it (pip install -e PATH) and write its manifest (sora manifest {dist} --write)"
            )

        return test_conformance

    @pytest.mark.parametrize("particle", names)
    def test_conformance(particle: str) -> None:
        short = particle.split(":", 1)[1]
        assert_conforms(particle, configs.get(particle, configs.get(short)))

    return test_conformance
