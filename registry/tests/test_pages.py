"""The HTML pages: the catalog with its search form, particle pages, escaping, and a Chromium screenshot."""

from __future__ import annotations

import html.parser
import importlib.util
import re
import shutil
import struct
from pathlib import Path
from types import ModuleType

import pytest
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, request, upload

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_catalog.py"


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


def self_contained(text: str) -> None:
    found = tags(text)
    assert not [t for t, _ in found if t in ("script", "link", "img", "iframe")]
    for _, attrs in found:
        for name in ("href", "src", "action"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), attrs


def test_the_catalog_page_lists_particles_with_a_plain_get_form(catalog_server: LiveServer) -> None:
    reply = request(f"{catalog_server.url}/")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    self_contained(reply.text)
    found = tags(reply.text)
    (form,) = [attrs for tag, attrs in found if tag == "form"]
    assert form["method"] == "get"
    assert {attrs.get("name") for tag, attrs in found if tag in ("input", "select")} == {"q", "kind", "space", "port"}
    kinds = [attrs["value"] for tag, attrs in found if tag == "option"]
    assert kinds == ["", "denoiser", "text_encoder", "video_decoder", "video_encoder"]
    links = [attrs["href"] for tag, attrs in found if tag == "a" and (attrs["href"] or "").startswith("/particles/")]
    assert links == [
        "/particles/text-kit/bert",
        "/particles/text-kit/minilm",
        "/particles/video-kit/dit",
        "/particles/video-kit/vae-dec",
        "/particles/video-kit/vae-enc",
    ]
    assert "5 particles" in reply.text and "float32[B L D=384]" in reply.text


def test_the_catalog_page_searches_and_pages(catalog_server: LiveServer) -> None:
    page = request(f"{catalog_server.url}/?kind=text_encoder&port=out%3Afloat32%5BB+L+D%3D384%5D").text
    assert "1 particle " in page and "/particles/text-kit/minilm" in page and "/particles/text-kit/bert" not in page
    assert 'value="out:float32[B L D=384]"' in page
    assert '<option value="text_encoder" selected>' in page
    first = request(f"{catalog_server.url}/?limit=2").text
    assert "showing 1–2" in first and 'href="/?limit=2&amp;offset=2">next' in first and "previous" not in first
    last = request(f"{catalog_server.url}/?limit=2&offset=4").text
    assert "showing 5–5" in last and 'href="/?limit=2&amp;offset=2">← previous' in last and "next" not in last


def test_a_bad_query_shows_the_error_on_the_page(catalog_server: LiveServer) -> None:
    reply = request(f"{catalog_server.url}/?port=float99%5BB%5D")
    assert reply.status == 400
    assert "port query &#x27;float99[B]&#x27;" in reply.text and "<form" in reply.text


def test_a_particle_page_shows_install_ports_config_weights_files_and_versions(catalog_server: LiveServer) -> None:
    reply = request(f"{catalog_server.url}/particles/text-kit/minilm")
    assert reply.status == 200
    self_contained(reply.text)
    text = reply.text
    assert f"pip install --index-url {catalog_server.url}/simple/ text-kit==2.0" in text
    for expected in (
        "text-kit:minilm",
        "text_encoder",
        "B L D=384",
        "text/minilm-l6@1",
        "features per step",
        "text_kit/weights/minilm/model.safetensors",
        "text_kit-2.0-py3-none-any.whl",
        "Apache-2.0",
    ):
        assert expected in text, expected
    assert re.search(r"<td>2\.0</td><td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", text)
    assert 'href="/files/text-kit/text_kit-2.0-py3-none-any.whl"' in text
    missing = request(f"{catalog_server.url}/particles/text-kit/nothing")
    assert missing.status == 404 and "text-kit:nothing" in missing.text and "<html" in missing.text


def test_everything_from_a_package_is_escaped(server: LiveServer, wheels: Path) -> None:
    evil = '<script>alert("x")</script>'
    spec = ParticleSpec(
        "evil",
        "text_encoder",
        f"desc {evil}",
        {"x": {"dtype": "float32", "shape": "B", "description": evil}},
        {"y": {"dtype": "float32", "shape": "B"}},
    )
    assert upload(server.url, plugin_wheel(wheels, "evil-kit", [spec]), create_token(server.service, "a")).status == 201
    for path in ("/", "/particles/evil-kit/evil", "/?q=%3Cscript%3E"):
        text = request(server.url + path).text
        assert "<script" not in text, path
        assert "&lt;script&gt;" in text, path


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshot_catalog", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.skipif(
    not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")),
    reason="headless Chromium is not installed (apt-get install chromium, or `make test` as root)",
)
def test_a_screenshot_of_the_catalog_in_headless_chromium(tmp_path: Path) -> None:
    script = load_script()
    with script.demo_registry(tmp_path / "demo") as server:
        out = script.screenshot_url(f"{server.url}/", tmp_path / "catalog.png", width=1400, height=900)
    assert png_size(out) == (1400, 900)
    assert out.stat().st_size > 20_000  # a rendered page, not a blank one
