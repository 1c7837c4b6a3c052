"""The JSON catalog: search by name, kind, space and port spec; particle and project metadata."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, request, sha256_hex, upload


def search(server: LiveServer, **params: str) -> list[str]:
    reply = request(f"{server.url}/api/v1/particles?{urlencode(params)}")
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["total"] >= len(body["particles"])
    return [p["name"] for p in body["particles"]]


ALL = ["text-kit:bert", "text-kit:minilm", "video-kit:dit", "video-kit:vae-dec", "video-kit:vae-enc"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"q": "MiniLM"}, ["text-kit:minilm"]),
        ({"q": "video-kit"}, ["video-kit:dit", "video-kit:vae-dec", "video-kit:vae-enc"]),
        ({"q": "half precision"}, ["text-kit:bert"]),
        ({"q": "legacy"}, []),
        ({"q": "100%_"}, []),
        ({"kind": "text_encoder"}, ["text-kit:bert", "text-kit:minilm"]),
        ({"kind": "text_encoder", "q": "bert"}, ["text-kit:bert"]),
        ({"space": "text/minilm-l6@1"}, ["text-kit:minilm", "video-kit:dit"]),
        ({"space": "text/*"}, ["text-kit:bert", "text-kit:minilm", "video-kit:dit"]),
        ({"space": "latent/sora-vae*"}, ["video-kit:dit", "video-kit:vae-dec", "video-kit:vae-enc"]),
        ({"space": "text/bert-base@1", "kind": "denoiser"}, ["video-kit:dit"]),
        ({"port": "embeddings"}, ["text-kit:bert", "text-kit:minilm"]),
        ({"port": "out:float32[B L D=384]"}, ["text-kit:minilm"]),
        ({"port": "out:float[B L D]"}, ["text-kit:bert", "text-kit:minilm"]),
        ({"port": "in:float16[B L D=768]"}, ["video-kit:dit"]),
        ({"port": "in:float32[B L]"}, []),
        ({"port": "in:int64[B L]"}, ["text-kit:bert", "text-kit:minilm"]),
        ({"port": "in:@text/minilm-l6@1"}, ["video-kit:dit"]),
        ({"port": "out:@latent/*"}, ["video-kit:dit", "video-kit:vae-enc"]),
        (
            {"port": "latent:float32[B 16 t h w]@latent/sora-vae-s8t4c16@1"},
            ["video-kit:dit", "video-kit:vae-dec", "video-kit:vae-enc"],
        ),
        ({"port": "latent:float32[B c=8 t h w]"}, ["video-kit:dit"]),
        ({"port": "in:latent"}, ["video-kit:dit", "video-kit:vae-dec"]),
        ({"port": "in:"}, ALL),
        ({"port": "float32[...]", "kind": "video_decoder"}, ["video-kit:vae-dec"]),
        ({"port": "timestep:float[B]"}, ["video-kit:dit"]),
    ],
)
def test_search_filters(catalog_server: LiveServer, params: dict[str, str], expected: list[str]) -> None:
    assert sorted(search(catalog_server, **params)) == expected


def test_exact_name_matches_come_first_and_rows_carry_the_listing_fields(catalog_server: LiveServer) -> None:
    body = request(f"{catalog_server.url}/api/v1/particles?q=vae").json()
    assert [p["name"] for p in body["particles"]] == ["video-kit:vae-dec", "video-kit:vae-enc"]
    body = request(f"{catalog_server.url}/api/v1/particles?q=dit").json()
    assert body["particles"][0]["name"] == "video-kit:dit"
    row = request(f"{catalog_server.url}/api/v1/particles?q=minilm").json()["particles"][0]
    assert set(row) == {
        "name",
        "short_name",
        "distribution",
        "version",
        "kind",
        "description",
        "inputs",
        "outputs",
        "license",
    }
    assert row["version"] == "2.0" and row["license"] == "Apache-2.0"
    assert row["outputs"]["pooled"] == {"dtype": "float32", "shape": "B D=384", "space": "text/minilm-l6@1"}


def test_pagination(catalog_server: LiveServer) -> None:
    pages = [request(f"{catalog_server.url}/api/v1/particles?limit=2&offset={o}").json() for o in (0, 2, 4, 6)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [name for page in pages for name in (p["name"] for p in page["particles"])] == ALL


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("port=float99[B]", ["'float99[B]'", "DTYPE"]),
        ("port=float32[B%20L%20D=x]", ["invalid dimension"]),
        ("port=:", ["empty"]),
        ("port=bad%20name:float32", ["not a port name"]),
        ("port=@nospace", ["space tag"]),
        ("space=text", ["parameter space"]),
        ("space=te*xt@1", ["parameter space"]),
        ("kind=Bad!", ["parameter kind"]),
        ("limit=0", ["limit"]),
        ("limit=501", ["limit"]),
        ("offset=-1", ["offset"]),
    ],
)
def test_bad_search_parameters_are_400_naming_the_parameter(
    catalog_server: LiveServer, query: str, words: list[str]
) -> None:
    reply = request(f"{catalog_server.url}/api/v1/particles?{query}")
    assert reply.status == 400, reply.text
    body = reply.json()
    for word in words:
        assert word in body["error"] + body["hint"], (word, body)


def test_particle_metadata_has_ports_config_weights_licence_and_versions(catalog_server: LiveServer) -> None:
    detail = request(f"{catalog_server.url}/api/v1/particles/Text_Kit/minilm").json()
    assert detail["name"] == "text-kit:minilm" and detail["version"] == "2.0" and detail["in_latest_release"]
    assert detail["kind"] == "text_encoder" and detail["license"] == "Apache-2.0"
    assert detail["inputs"] == {"tokens": {"dtype": "int64", "shape": "B L"}}
    assert detail["config_schema"]["properties"]["size"]["default"] == 8
    assert detail["default_config"] == {"size": 8}
    assert [v["version"] for v in detail["versions"]] == ["2.0", "1.0"]
    (weights,) = detail["weights"]
    assert weights["path"] == "text_kit/weights/minilm/model.safetensors"
    stored = Path(catalog_server.service.settings.files_dir / "text-kit" / "text_kit-2.0-py3-none-any.whl")
    import zipfile

    with zipfile.ZipFile(stored) as archive:
        data = archive.read(weights["path"])
    assert (weights["size"], weights["sha256"]) == (len(data), sha256_hex(data))
    assert [f["filename"] for f in detail["files"]] == ["text_kit-2.0-py3-none-any.whl"]
    assert detail["requires_python"] == ">=3.10"


def test_a_particle_dropped_from_the_latest_release_is_still_described(catalog_server: LiveServer) -> None:
    detail = request(f"{catalog_server.url}/api/v1/particles/text-kit/legacy").json()
    assert (detail["version"], detail["in_latest_release"]) == ("1.0", False)
    reply = request(f"{catalog_server.url}/api/v1/particles/text-kit/nothing")
    assert reply.status == 404 and "text-kit:nothing" in reply.json()["error"]


def test_project_metadata_lists_versions_newest_first(catalog_server: LiveServer) -> None:
    project = request(f"{catalog_server.url}/api/v1/projects/text_kit").json()
    assert project["name"] == "text-kit" and project["owners"] == ["alice"] and project["latest"] == "2.0"
    assert [(v["version"], v["particles"]) for v in project["versions"]] == [
        ("2.0", ["text-kit:bert", "text-kit:minilm"]),
        ("1.0", ["text-kit:legacy", "text-kit:minilm"]),
    ]
    assert project["versions"][0]["files"][0]["sha256"]
    assert request(f"{catalog_server.url}/api/v1/projects/nothing").status == 404


def test_an_older_version_published_later_does_not_replace_the_latest(server: LiveServer, wheels: Path) -> None:
    secret = create_token(server.service, "alice")
    for version, name in (("2.0", "new"), ("1.9", "old"), ("2.0.post1", "newer"), ("2.1rc1", "pre")):
        wheel = plugin_wheel(wheels / version, "demo", [ParticleSpec(name)], version=version)
        assert upload(server.url, wheel, secret).status == 201
    assert search(server, q="demo") == ["demo:pre"]
    assert request(f"{server.url}/api/v1/particles/demo/old").json()["in_latest_release"] is False


def test_healthz(server: LiveServer) -> None:
    reply = request(f"{server.url}/healthz")
    assert reply.status == 200 and reply.json()["status"] == "ok"
    assert reply.headers["x-content-type-options"] == "nosniff"
