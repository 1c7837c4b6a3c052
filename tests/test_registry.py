"""The registry API: resolving names, creating particles, plugin hooks and manifests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from sora_core.errors import AmbiguousNameError, BrokenPluginError, ConfigError, ParticleNotFoundError
from sora_core.manifest import MANIFEST_NAME
from sora_core.manifest_builder import build_manifests, stale_manifests, write_manifests
from sora_core.synthetic import write_plugin


@pytest.fixture
def two_plugins(plugin_root: Path) -> Path:
    write_plugin(plugin_root, "good-plugin", ["alpha", "beta"])
    write_plugin(plugin_root, "other-plugin", ["alpha"])
    write_plugin(plugin_root, "bad-plugin", ["gamma"], import_error="no module named 'missing_dependency'")
    return plugin_root


def test_short_name_resolves_while_unique(two_plugins: Path, make_registry) -> None:
    assert make_registry().info("beta").full_name == "good-plugin:beta"


def test_full_name_and_normalised_distribution(two_plugins: Path, make_registry) -> None:
    registry = make_registry()
    assert registry.info("other-plugin:alpha").dist == "other-plugin"
    assert registry.info("Other_Plugin:alpha").dist == "other-plugin"


def test_collision_is_reported_with_both_candidates(two_plugins: Path, make_registry) -> None:
    with pytest.raises(AmbiguousNameError) as caught:
        make_registry().info("alpha")
    assert caught.value.candidates == ["good-plugin:alpha", "other-plugin:alpha"]
    assert "good-plugin:alpha and other-plugin:alpha" in str(caught.value)


def test_unknown_name_suggests_close_matches(two_plugins: Path, make_registry) -> None:
    with pytest.raises(ParticleNotFoundError) as caught:
        make_registry().info("betta")
    assert "beta" in caught.value.close_matches
    assert "did you mean" in (caught.value.hint or "")


def test_create_applies_config_and_records_name(two_plugins: Path, make_registry) -> None:
    particle = make_registry().create("beta", size=4)
    assert particle.registered_name == "good-plugin:beta"
    assert particle.config.size == 4
    out = particle(condition=torch.zeros(2, 3, 4))
    assert out["video"].shape == (2, 3, 4)


def test_invalid_config_value_names_particle_and_field(two_plugins: Path, make_registry) -> None:
    with pytest.raises(ConfigError) as caught:
        make_registry().create("beta", size="large")
    assert "field 'size'" in caught.value.message and "'large'" in caught.value.message
    with pytest.raises(ConfigError, match="field 'colour' is not a known option"):
        make_registry().create("beta", colour="red")


def test_broken_plugin_fails_alone_with_its_reason(two_plugins: Path, make_registry) -> None:
    registry = make_registry()
    with pytest.raises(BrokenPluginError) as caught:
        registry.create("gamma")
    assert caught.value.plugin == "bad-plugin"
    assert "missing_dependency" in caught.value.reason
    assert registry.create("beta").kind == "video_generator"


def test_manifest_kind_drift_is_caught_at_load(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "drift-plugin", ["one"])
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    manifest["particles"]["one"]["kind"] = "text_encoder"
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(BrokenPluginError, match="manifest says 'text_encoder'"):
        make_registry().get_class("one")


def test_runtime_registration(make_registry) -> None:
    registry = make_registry()
    from sora_core.config import ParticleConfig
    from sora_core.interfaces import VideoGenerator
    from sora_core.ports import PortSpec

    class Identity(VideoGenerator):
        Config = ParticleConfig

        def input_ports(self) -> dict[str, PortSpec]:
            return {"condition": PortSpec("float32", "B T C")}

        def output_ports(self) -> dict[str, PortSpec]:
            return {"video": PortSpec("float32", "B T C")}

        def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"video": condition}

    info = registry.register("identity", Identity)
    assert info.full_name == "runtime:identity"
    assert [p.full_name for p in registry.list(pattern="runtime:*")] == ["runtime:identity"]
    assert isinstance(registry.create("identity"), Identity)


def test_particles_pretrained_on_create_load_without_weights(make_registry) -> None:
    from sora_core.config import ParticleConfig
    from sora_core.errors import MissingWeightsError
    from sora_core.interfaces import VideoGenerator
    from sora_core.ports import PortSpec

    class Scaled(VideoGenerator):
        """Its 'pretrained' weight (3.0) comes from its constructor, as a wrapped model's would."""

        Config = ParticleConfig

        def __init__(self, config: ParticleConfig | None = None, **overrides: object) -> None:
            super().__init__(config, **overrides)
            self.scale = torch.nn.Parameter(torch.tensor(3.0))

        def input_ports(self) -> dict[str, PortSpec]:
            return {"condition": PortSpec("float32", "B T C")}

        def output_ports(self) -> dict[str, PortSpec]:
            return {"video": PortSpec("float32", "B T C")}

        def forward(self, condition: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"video": condition * self.scale}

    class Pretrained(Scaled):
        pretrained_on_create = True

    registry = make_registry()
    registry.register("fresh", Scaled)
    info = registry.register("pretrained", Pretrained)
    assert info.pretrained_on_create and info.to_dict()["pretrained_on_create"] is True
    loaded = registry.load("pretrained", dtype="float16")
    assert loaded.scale.dtype == torch.float16 and float(loaded.scale.detach()) == 3.0 and not loaded.training
    with pytest.raises(MissingWeightsError, match="ships no default weights"):
        registry.load("fresh")


HOOKS = """
from sora_core.hooks import hookimpl
from sora_core.kinds import KindSpec
from sora_core.spaces import SpaceSpec


@hookimpl
def sora_register_kinds():
    return [KindSpec("sketcher", "prompt -> sketch", ("prompt",), ("sketch",), contributed_by="hook-plugin")]


@hookimpl
def sora_register_spaces():
    return [SpaceSpec("sketch/lines@1", "vector strokes")]
"""


def _add_hooks(plugin_root: Path, dist: str, body: str) -> None:
    package = dist.replace("-", "_")
    (plugin_root / package / "hooks.py").write_text(textwrap.dedent(body))
    entry_points = plugin_root / f"{package}-1.0.0.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text() + f"\n[sora.plugins]\n{dist} = {package}.hooks\n")


def test_hooks_contribute_kinds_and_spaces(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "hook-plugin", ["one"])
    _add_hooks(plugin_root, "hook-plugin", HOOKS)
    registry = make_registry()
    assert "sketcher" not in registry.kinds(load_hooks=False)  # no manifest declares it: only the hook does
    assert registry.kinds()["sketcher"].outputs == ("sketch",)
    assert "sketch/lines@1" in registry.spaces()


def test_broken_hook_module_is_reported_and_others_load(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "hook-plugin", ["one"])
    _add_hooks(plugin_root, "hook-plugin", HOOKS)
    write_plugin(plugin_root, "crashing-plugin", ["two"])
    _add_hooks(plugin_root, "crashing-plugin", "raise ImportError('hooks need a GPU')\n")
    registry = make_registry()
    registry.plugin_manager()
    assert "sketcher" in registry.kinds()
    [problem] = registry.problems()
    assert problem.dist == "crashing-plugin" and "hooks need a GPU" in problem.reason


def test_manifest_builder_writes_what_discovery_reads(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "built-plugin", ["one"], manifest=False)
    _add_hooks(plugin_root, "built-plugin", HOOKS)
    [(path, manifest)] = build_manifests("built-plugin").items()
    assert path == package / MANIFEST_NAME
    assert manifest["particles"]["one"]["outputs"] == {"video": {"dtype": "float32", "shape": "B T C=8"}}
    assert manifest["particles"]["one"]["config_schema"]["properties"]["size"]["default"] == 8
    assert [k["name"] for k in manifest["kinds"]] == ["sketcher"]
    assert stale_manifests("built-plugin") == [f"{path} is missing or unreadable"]
    write_manifests("built-plugin")
    assert stale_manifests("built-plugin") == []
    registry = make_registry()
    assert registry.info("built-plugin:one").kind == "video_generator"
    assert "sketcher" in registry.kinds(load_hooks=False)  # from the manifest, without loading hooks


def test_stale_manifest_is_detected(plugin_root: Path) -> None:
    write_plugin(plugin_root, "stale-plugin", ["one"], manifest=False)
    [path] = write_manifests("stale-plugin")
    data = json.loads(path.read_text())
    data["particles"]["one"]["outputs"]["video"]["shape"] = "B T C=9"
    path.write_text(json.dumps(data))
    [problem] = stale_manifests("stale-plugin")
    assert "out of date (one)" in problem


COMPOSITE = '''
import torch
from torch import nn

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.interfaces import VideoGenerator
from sora_core.ports import PortSpec


class Part(VideoGenerator):
    Config = ParticleConfig

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.proj = nn.Linear(4, 4)

    def input_ports(self):
        return {"condition": PortSpec("float32", "B T C=4")}

    def output_ports(self):
        return {"video": PortSpec("float32", "B T C=4")}

    def forward(self, condition):
        return {"video": self.proj(condition)}


class Whole(Part):
    """Builds its sibling by name, as a denoiser builds its patchifier."""

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.part = registry.create("composite-plugin:part")

    def forward(self, condition):
        return self.part(condition=self.proj(condition))
'''


def test_a_particle_may_create_its_siblings_by_name_before_its_manifest_exists(plugin_root: Path) -> None:
    from sora_core import registry as default

    package = write_plugin(plugin_root, "composite-plugin", ["part"], manifest=False)
    (package / "particles.py").write_text(COMPOSITE)
    info_dir = plugin_root / "composite_plugin-1.0.0.dist-info"
    (info_dir / "entry_points.txt").write_text(
        "[sora.particles]\npart = composite_plugin.particles:Part\nwhole = composite_plugin.particles:Whole\n"
    )
    default.refresh()
    [(_, manifest)] = build_manifests("composite-plugin").items()
    assert sorted(manifest["particles"]) == ["part", "whole"]
    assert not [name for name in default.default_registry._runtime if name.startswith("composite-plugin:")]
    write_manifests("composite-plugin")
    default.refresh()
    whole = default.create("composite-plugin:whole")
    assert whole(condition=torch.zeros(1, 2, 4))["video"].shape == (1, 2, 4)
    default.refresh()
