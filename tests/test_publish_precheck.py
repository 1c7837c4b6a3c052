"""`sora publish` asks the registry first: a bad token or a published version fails in one request, before the build."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_core.cli.main import main
from sora_core.errors import PackageError
from sora_core.registry_client import RegistryClient

sora_registry_testing = pytest.importorskip("sora_registry.testing", reason="sora-registry is not installed")
LiveServer, ParticleSpec = sora_registry_testing.LiveServer, sora_registry_testing.ParticleSpec

SEED = Path(__file__).resolve().parents[1] / "plugins" / "sora-seed"  # sora-seed 0.1.0
TOKEN_HOW = "sora-registry token create --data DIR --user NAME"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "data") as live:
        yield live


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Every project `sora publish` starts to build; the build itself stops at once (it is not what is tested)."""
    started: list[Path] = []

    def build(project: Path, *args: object, **kwargs: object) -> list[Path]:
        started.append(Path(project))
        raise PackageError("build stopped by the test", "")

    monkeypatch.setattr("sora_core.package_build.build_distributions", build)
    monkeypatch.setenv("SORA_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("SORA_REGISTRY_URL", raising=False)
    return started


def publish(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["publish", str(SEED), "--registry", url])
    return code, capsys.readouterr().err


def test_a_bad_token_fails_before_the_build_and_says_how_to_get_one(
    server: LiveServer, builds: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for token in ("not-a-token", "sora_" + "A" * 43):
        monkeypatch.setenv("SORA_REGISTRY_TOKEN", token)
        code, err = publish(server.url, capsys)
        assert code == 1
        error, hint = err.split("\n  hint: ")
        assert error.startswith(f"error: registry {server.url} does not accept the upload token: it is ")
        assert "$SORA_REGISTRY_TOKEN" in hint and TOKEN_HOW in hint and "export SORA_REGISTRY_TOKEN=" in hint
        assert "Authorization" not in err and "Bearer" not in err  # not how HTTP works
    assert builds == []


def test_a_published_version_fails_before_the_build(
    server: LiveServer,
    builds: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    token = sora_registry_testing.create_token(server.service, "alice")
    wheel = sora_registry_testing.plugin_wheel(tmp_path, "sora-seed", [ParticleSpec("enc")], version="0.1.0")
    assert sora_registry_testing.upload(server.url, wheel, token).status == 201
    monkeypatch.setenv("SORA_REGISTRY_TOKEN", token)
    code, err = publish(server.url, capsys)
    assert code == 1
    assert f"error: registry {server.url} refused publishing sora-seed 0.1.0 (HTTP 409): version 0.1.0 of " in err
    assert "bump the version in pyproject.toml" in err
    assert builds == []


def test_an_accepted_token_and_a_new_version_go_on_to_build(
    server: LiveServer, builds: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_REGISTRY_TOKEN", sora_registry_testing.create_token(server.service, "alice"))
    code, err = publish(server.url, capsys)
    assert code == 1 and "build stopped by the test" in err
    assert err.startswith(f"{server.url} accepts sora-seed 0.1.0 from alice\n")
    assert builds == [SEED]


def test_an_unreachable_registry_fails_before_the_build(
    builds: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SORA_REGISTRY_TOKEN", "sora_" + "A" * 43)
    code, err = publish("http://127.0.0.1:9", capsys)
    assert code == 1 and "cannot reach the registry at http://127.0.0.1:9" in err
    assert builds == []


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_registry_without_the_check_is_not_an_error() -> None:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound) as old:
        thread = threading.Thread(target=old.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{old.server_address[1]}"
            assert RegistryClient(url, "sora_token").check_upload("my-blur", "0.1.0") is None
        finally:
            old.shutdown()
