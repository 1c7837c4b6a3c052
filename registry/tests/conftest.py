"""Fixtures of the registry tests: a data directory, a live server on a free port, tokens, wheels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sora_registry.app import create_app
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, upload
from starlette.testclient import TestClient


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[LiveServer]:
    """A registry on 127.0.0.1 and a free port, with an empty data directory and a 1 MB upload limit."""
    with LiveServer(data_dir, max_upload_size=1_000_000) as live:
        yield live


@pytest.fixture
def token(server: LiveServer) -> str:
    """An upload token of user ``alice``."""
    return create_token(server.service, "alice")


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    """A directory to write test wheels into."""
    path = tmp_path / "wheels"
    path.mkdir()
    return path


@pytest.fixture
def stored(server: LiveServer, data_dir: Path) -> Callable[[], dict[str, object]]:
    """What the registry holds: files and staging leftovers on disk, and catalog rows."""

    def snapshot() -> dict[str, object]:
        on_disk = sorted(
            str(p.relative_to(data_dir))
            for sub in ("files", "tmp")
            for p in (data_dir / sub).rglob("*")
            if p != data_dir
        )
        return {
            "disk": on_disk,
            "projects": server.service.catalog.projects(),
            "particles": server.service.catalog.counts()["particles"],
        }

    return snapshot


def _port(dtype: str, shape: str, space: str | None = None) -> dict[str, str]:
    return {"dtype": dtype, "shape": shape, **({"space": space} if space else {})}


MINILM = "text/minilm-l6@1"
LATENT = "latent/sora-vae-s8t4c16@1"
CATALOG_WHEELS = {
    ("text-kit", "1.0"): [
        ParticleSpec(
            "minilm",
            "text_encoder",
            "MiniLM sentence encoder",
            {"tokens": _port("int64", "B L")},
            {"embeddings": _port("float32", "B L D=384", MINILM)},
        ),
        ParticleSpec(
            "legacy",
            "text_encoder",
            "dropped in 2.0",
            {"tokens": _port("int64", "B L")},
            {"embeddings": _port("float32", "B L D=128")},
        ),
    ],
    ("text-kit", "2.0"): [
        ParticleSpec(
            "minilm",
            "text_encoder",
            "MiniLM sentence encoder, L6",
            {"tokens": _port("int64", "B L")},
            {"embeddings": _port("float32", "B L D=384", MINILM), "pooled": _port("float32", "B D=384", MINILM)},
            weights={"model.safetensors": [0.5, 1.5, 2.5]},
        ),
        ParticleSpec(
            "bert",
            "text_encoder",
            "BERT base, half precision",
            {"tokens": _port("int64", "B L")},
            {"embeddings": _port("float16", "B L D=768", "text/bert-base@1")},
        ),
    ],
    ("video-kit", "0.3"): [
        ParticleSpec(
            "vae-enc",
            "video_encoder",
            "VAE encoder <8x spatial>",
            {"video": _port("float32", "B C T H W")},
            {"latent": _port("float32", "B c=16 t h w", LATENT)},
        ),
        ParticleSpec(
            "vae-dec",
            "video_decoder",
            "VAE decoder",
            {"latent": _port("float32", "B c=16 t h w", LATENT)},
            {"video": _port("float32", "B C T H W")},
        ),
        ParticleSpec(
            "dit",
            "denoiser",
            "diffusion transformer",
            {
                "latent": _port("float", "B c t h w", LATENT),
                "text": _port("float", "B L D", "text/*"),
                "timestep": _port("float32", "B"),
            },
            {"prediction": _port("float32", "B c t h w", LATENT)},
        ),
    ],
}


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A registry holding text-kit 1.0 and 2.0 (minilm, bert; legacy only in 1.0) and video-kit 0.3 (vae, dit)."""
    root = tmp_path_factory.mktemp("catalog")
    with LiveServer(root / "data") as live:
        secret = create_token(live.service, "alice")
        for (dist, version), particles in CATALOG_WHEELS.items():
            wheel = plugin_wheel(root / f"{dist}-{version}", dist, particles, version=version)
            reply = upload(live.url, wheel, secret)
            assert reply.status == 201, reply.text
        yield live


# --- the registry in process (no server): tests that override `settings` get their own limits or public URL ---


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "data", 1_000_000)


@pytest.fixture
def registry(settings: Settings) -> Iterator[RegistryService]:
    service = RegistryService(settings)
    yield service
    service.close()


@pytest.fixture
def client(registry: RegistryService) -> Iterator[TestClient]:
    with TestClient(create_app(registry), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def in_process_token(registry: RegistryService) -> str:
    return create_token(registry, "alice")
