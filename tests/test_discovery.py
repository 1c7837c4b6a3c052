"""Discovery: listing reads static manifests only, caches them, and survives broken plugins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import sora_core.discovery as discovery
from sora_core.manifest import MANIFEST_NAME
from sora_core.synthetic import write_plugin


def test_lists_particles_with_kind_ports_and_distribution(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "good-plugin", ["alpha", "beta"], version="2.1.0")
    particles = make_registry().list()
    assert [p.full_name for p in particles] == ["good-plugin:alpha", "good-plugin:beta"]
    alpha = particles[0]
    assert alpha.kind == "video_generator"
    assert alpha.dist_version == "2.1.0"
    assert alpha.entry_point == "good_plugin.particles:Alpha"
    assert str(alpha.inputs["condition"]) == "float32[B T C=8]"
    assert set(alpha.outputs) == {"video"}


def test_broken_plugin_still_lists_and_is_never_imported(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "bad-plugin", ["gamma"], import_error="boom at import")
    write_plugin(plugin_root, "good-plugin", ["alpha"])
    before = set(sys.modules)
    names = [p.full_name for p in make_registry().list()]
    assert names == ["bad-plugin:gamma", "good-plugin:alpha"]
    gained = {m for m in set(sys.modules) - before if m.startswith(("bad_plugin", "good_plugin"))}
    assert gained == set()


def test_missing_manifest_is_a_reported_problem_and_others_work(plugin_root: Path, make_registry) -> None:
    write_plugin(plugin_root, "no-manifest", ["delta"], manifest=False)
    write_plugin(plugin_root, "good-plugin", ["alpha"])
    registry = make_registry()
    assert [p.full_name for p in registry.list()] == ["good-plugin:alpha"]
    [problem] = registry.problems()
    assert problem.dist == "no-manifest"
    assert MANIFEST_NAME in problem.reason and "does not exist" in problem.reason
    assert "sora manifest" in problem.hint


def test_corrupt_manifest_is_reported(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "corrupt-plugin", ["eps"])
    (package / MANIFEST_NAME).write_text("{ not json")
    registry = make_registry()
    assert registry.list() == []
    [problem] = registry.problems()
    assert "not readable JSON" in problem.reason and str(package / MANIFEST_NAME) in problem.reason


def test_particle_absent_from_manifest_is_reported_alone(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "partial-plugin", ["one", "two"])
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    del manifest["particles"]["two"]
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    registry = make_registry()
    assert [p.full_name for p in registry.list()] == ["partial-plugin:one"]
    [problem] = registry.problems()
    assert problem.particle == "two" and "not described in its manifest" in problem.reason


def test_invalid_port_in_manifest_names_particle_and_port(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "typo-plugin", ["one"])
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    manifest["particles"]["one"]["inputs"]["condition"]["dtype"] = "floot32"
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    [problem] = make_registry().problems()
    assert "particle 'one'" in problem.reason and "port 'condition'" in problem.reason and "floot32" in problem.reason


def test_second_listing_reads_from_the_cache(plugin_root: Path, make_registry, monkeypatch) -> None:
    for i in range(5):
        write_plugin(plugin_root, f"plugin-{i}", ["p"])
    reads: list[Path] = []
    real_load = discovery.load_manifest_json
    monkeypatch.setattr(discovery, "load_manifest_json", lambda path: reads.append(path) or real_load(path))
    assert len(make_registry().list()) == 5
    assert len(reads) == 5
    reads.clear()
    assert len(make_registry().list()) == 5
    assert reads == []


def test_cache_notices_a_changed_manifest(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "plugin-a", ["p"])
    assert make_registry().info("p").description == "synthetic particle p"
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    manifest["particles"]["p"]["description"] = "a new description, longer than before"
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert make_registry().info("p").description == "a new description, longer than before"


def test_corrupt_cache_is_ignored(plugin_root: Path, make_registry, isolated_cache: Path) -> None:
    write_plugin(plugin_root, "plugin-a", ["p"])
    make_registry().list()
    (isolated_cache / "discovery.json").write_text("garbage")
    assert [p.full_name for p in make_registry().list()] == ["plugin-a:p"]


def test_cache_can_be_disabled(plugin_root: Path, make_registry, isolated_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("SORA_NO_CACHE", "1")
    write_plugin(plugin_root, "plugin-a", ["p"])
    assert len(make_registry().list()) == 1
    assert not (isolated_cache / "discovery.json").exists()


def test_first_distribution_on_the_path_wins(tmp_path: Path, monkeypatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_plugin(first, "shadowed", ["p"], version="2.0")
    write_plugin(second, "shadowed", ["p"], version="1.0")
    from sora_core.registry import Registry

    [info] = Registry(paths=[str(first), str(second)]).list()
    assert info.dist_version == "2.0"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"kind": "video_generator"}, ["alpha-plugin:one", "alpha-plugin:two", "beta-plugin:three"]),
        ({"kind": "text_*"}, []),
        ({"pattern": "alpha-plugin:*"}, ["alpha-plugin:one", "alpha-plugin:two"]),
        ({"pattern": "t*"}, ["alpha-plugin:two", "beta-plugin:three"]),
        ({"space": "*"}, []),
    ],
)
def test_list_filters(plugin_root: Path, make_registry, kwargs: dict, expected: list[str]) -> None:
    write_plugin(plugin_root, "alpha-plugin", ["one", "two"])
    write_plugin(plugin_root, "beta-plugin", ["three"])
    assert [p.full_name for p in make_registry().list(**kwargs)] == expected


def test_list_filters_by_space(plugin_root: Path, make_registry) -> None:
    package = write_plugin(plugin_root, "space-plugin", ["one", "two"])
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    manifest["particles"]["one"]["outputs"]["video"]["space"] = "latent/test-vae@1"
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    registry = make_registry()
    assert [p.full_name for p in registry.list(space="latent/*")] == ["space-plugin:one"]
    assert [p.full_name for p in registry.list(space="latent/test-vae@1")] == ["space-plugin:one"]


def test_cache_keeps_other_path_sets_and_drops_uninstalled(tmp_path: Path, isolated_cache: Path) -> None:
    import shutil

    from sora_core.registry import Registry

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_plugin(first, "plugin-a", ["p"])
    write_plugin(second, "plugin-b", ["q"])
    Registry(paths=[str(first)]).list()
    Registry(paths=[str(second)]).list()
    entries = json.loads((isolated_cache / "discovery.json").read_text())["entries"]
    assert {Path(key).parent.name for key in entries} == {"first", "second"}
    shutil.rmtree(second / "plugin_b-1.0.0.dist-info")
    Registry(paths=[str(first)]).list()
    entries = json.loads((isolated_cache / "discovery.json").read_text())["entries"]
    assert {Path(key).parent.name for key in entries} == {"first"}
