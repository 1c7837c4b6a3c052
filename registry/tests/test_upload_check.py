"""``GET /api/v1/upload-check``: one cheap request that says whether a publish would be refused, storing nothing."""

from __future__ import annotations

from pathlib import Path

from sora_registry.service import RegistryService
from sora_registry.testing import ParticleSpec, create_token, plugin_wheel, sha256_hex
from starlette.testclient import TestClient

CHECK = "/api/v1/upload-check"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def publish(client: TestClient, token: str, wheel: Path) -> None:
    data = wheel.read_bytes()
    headers = {**bearer(token), "X-Content-SHA256": sha256_hex(data), "Content-Type": "application/octet-stream"}
    reply = client.put(f"/api/v1/files/{wheel.name}", content=data, headers=headers)
    assert reply.status_code == 201, reply.text


def test_a_new_project_or_version_is_allowed(client: TestClient, in_process_token: str, tmp_path: Path) -> None:
    reply = client.get(CHECK, params={"project": "My_Plugin", "version": "0.1"}, headers=bearer(in_process_token))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"user": "alice", "project": "my-plugin", "version": "0.1", "owners": []}

    publish(client, in_process_token, plugin_wheel(tmp_path, "my-plugin", [ParticleSpec("enc")], version="0.1"))
    reply = client.get(CHECK, params={"project": "my-plugin", "version": "0.2"}, headers=bearer(in_process_token))
    assert reply.status_code == 200, reply.text
    assert reply.json()["owners"] == ["alice"]
    without_version = client.get(CHECK, params={"project": "my-plugin"}, headers=bearer(in_process_token))
    assert without_version.status_code == 200 and without_version.json()["version"] is None


def test_a_published_version_is_409_under_pep_440(client: TestClient, in_process_token: str, tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path, "my-plugin", [ParticleSpec("enc")], version="0.1")
    publish(client, in_process_token, wheel)
    for version in ("0.1", "0.1.0", "0.1.0.0"):
        reply = client.get(CHECK, params={"project": "my-plugin", "version": version}, headers=bearer(in_process_token))
        assert reply.status_code == 409, reply.text
        body = reply.json()
        assert body["error"] == f"version {version} of 'my-plugin' is already published ({wheel.name})"
        assert "bump the version in pyproject.toml" in body["hint"]


def test_a_bad_token_is_401_and_says_how_to_get_one(client: TestClient) -> None:
    for headers in ({}, bearer("nonsense"), bearer("sora_" + "A" * 43)):
        reply = client.get(CHECK, params={"project": "my-plugin", "version": "0.1"}, headers=headers)
        assert reply.status_code == 401, reply.text
        assert "sora-registry token create --data DIR --user NAME" in reply.json()["hint"]


def test_another_users_project_is_403(
    client: TestClient, registry: RegistryService, in_process_token: str, tmp_path: Path
) -> None:
    publish(client, in_process_token, plugin_wheel(tmp_path, "my-plugin", [ParticleSpec("enc")], version="0.1"))
    mallory = create_token(registry, "mallory")
    for params in ({"project": "my-plugin", "version": "0.2"}, {"project": "my-plugin"}):
        reply = client.get(CHECK, params=params, headers=bearer(mallory))
        assert reply.status_code == 403, reply.text
        assert "owned by 'alice'" in reply.json()["error"]
        assert "sora-registry owner add my-plugin mallory" in reply.json()["hint"]


def test_bad_parameters_are_400_and_nothing_is_stored(
    client: TestClient, registry: RegistryService, in_process_token: str
) -> None:
    for params in ({}, {"project": "../etc"}, {"project": "ok", "version": "not a version"}):
        reply = client.get(CHECK, params=params, headers=bearer(in_process_token))
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"] and reply.json()["hint"]
    assert registry.catalog.projects() == []
    assert registry.catalog.owners() == []
