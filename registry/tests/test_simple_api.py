"""The simple repository API (PEP 503 HTML, PEP 691 JSON), served files, and a real pip install."""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from sora_registry.testing import LiveServer, ParticleSpec, plugin_wheel, request, sha256_hex, upload

JSON = "application/vnd.pypi.simple.v1+json"


def publish(server: LiveServer, token: str, wheels: Path, dist: str, version: str = "1.0.0") -> Path:
    wheel = plugin_wheel(wheels / f"{dist}-{version}", dist, [ParticleSpec("enc")], version=version)
    assert upload(server.url, wheel, token).status == 201
    return wheel


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def links_of(text: str) -> list[dict[str, str | None]]:
    parser = Links()
    parser.feed(text)
    return parser.links


def test_the_index_lists_projects_as_html_and_json(server: LiveServer, token: str, wheels: Path) -> None:
    publish(server, token, wheels, "Demo_Plugin")
    publish(server, token, wheels, "another")
    page = request(f"{server.url}/simple/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert [link["href"] for link in links_of(page.text)] == ["/simple/another/", "/simple/demo-plugin/"]
    data = request(f"{server.url}/simple/", headers={"Accept": JSON})
    assert data.headers["content-type"] == JSON
    assert data.json() == {"meta": {"api-version": "1.1"}, "projects": [{"name": "another"}, {"name": "demo-plugin"}]}


def test_a_project_page_links_files_with_hashes_and_requires_python(
    server: LiveServer, token: str, wheels: Path
) -> None:
    old = publish(server, token, wheels, "demo", "1.0.0")
    new = publish(server, token, wheels, "demo", "1.10.0")
    page = request(f"{server.url}/simple/demo/")
    assert '<meta name="pypi:repository-version" content="1.1">' in page.text
    links = links_of(page.text)
    assert [link["href"] for link in links] == [
        f"/files/demo/{w.name}#sha256={sha256_hex(w.read_bytes())}" for w in (old, new)
    ]
    assert {link["data-requires-python"] for link in links} == {">=3.10"}
    assert "&gt;=3.10" in page.text
    data = request(f"{server.url}/simple/demo/", headers={"Accept": f"{JSON}, text/html;q=0.01"}).json()
    assert data["name"] == "demo" and data["versions"] == ["1.0.0", "1.10.0"]
    assert data["files"][1] == {
        "filename": new.name,
        "url": f"/files/demo/{new.name}",
        "hashes": {"sha256": sha256_hex(new.read_bytes())},
        "requires-python": ">=3.10",
        "size": new.stat().st_size,
        "upload-time": data["files"][1]["upload-time"],
        "yanked": False,
    }
    assert data["files"][1]["upload-time"].endswith("Z")
    served = request(f"{server.url}{data['files'][1]['url']}")
    assert served.status == 200 and served.body == new.read_bytes()
    assert served.headers["etag"] == f'"{sha256_hex(new.read_bytes())}"'


def test_content_negotiation_follows_pep_691(server: LiveServer, token: str, wheels: Path) -> None:
    publish(server, token, wheels, "demo")
    url = f"{server.url}/simple/demo/"
    cases = {
        "": "text/html",
        "text/html": "text/html",
        "application/vnd.pypi.simple.v1+html": "application/vnd.pypi.simple.v1+html",
        "application/vnd.pypi.simple.latest+json": JSON,
        f"text/html, {JSON};q=0.5": "text/html",
        f"text/html;q=0.2, {JSON}": JSON,
        "*/*": "text/html",
        "image/png": "text/html",
    }
    for accept, expected in cases.items():
        reply = request(url, headers={"Accept": accept} if accept else {})
        assert reply.headers["content-type"].split(";")[0] == expected, accept
        assert reply.headers["vary"] == "Accept"
    assert request(f"{url}?format={quote(JSON)}").headers["content-type"] == JSON


def test_non_normalised_names_redirect_and_unknown_ones_are_404(server: LiveServer, token: str, wheels: Path) -> None:
    wheel = publish(server, token, wheels, "demo-plugin")
    for path in ("/simple/Demo_Plugin/", "/simple/demo.plugin", "/simple/demo-plugin"):
        reply = request(server.url + path)
        assert (reply.status, reply.headers["location"]) == (301, "/simple/demo-plugin/"), path
    assert request(f"{server.url}/simple/nothing-here/").status == 404
    assert request(f"{server.url}/simple/bad%20name/").status == 404
    assert request(f"{server.url}/files/demo-plugin/nothing-1.0-py3-none-any.whl").status == 404
    assert request(f"{server.url}/files/demo-plugin/..%2F..%2Fcatalog.sqlite3").status == 404
    moved = request(f"{server.url}/files/Demo_Plugin/{wheel.name}")
    assert (moved.status, moved.headers["location"]) == (301, f"/files/demo-plugin/{wheel.name}")


def test_pip_installs_a_published_wheel_from_the_index(
    server: LiveServer, token: str, wheels: Path, tmp_path: Path
) -> None:
    publish(server, token, wheels, "demo-plugin", "1.0.0")
    publish(server, token, wheels, "demo-plugin", "1.1.0")
    target = tmp_path / "target"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-input",
            "--index-url",
            f"{server.url}/simple",
            "--no-deps",
            "--target",
            str(target),
            "demo-plugin",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully installed demo-plugin-1.1.0" in result.stdout
    assert (target / "demo_plugin" / "sora_manifest.json").is_file()
    assert (target / "demo_plugin-1.1.0.dist-info" / "entry_points.txt").read_text().startswith("[sora.particles]")


def test_urls_carry_the_root_path_behind_a_proxy(tmp_path: Path, wheels: Path) -> None:
    from sora_registry.testing import create_token

    with LiveServer(tmp_path / "data", root_path="/registry") as server:
        wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")])
        reply = upload(server.url, wheel, create_token(server.service, "alice"))
        assert reply.json()["url"] == f"/registry/files/demo/{wheel.name}"
        assert 'href="/registry/simple/demo/"' in request(f"{server.url}/simple/").text
        assert f'href="/registry/files/demo/{wheel.name}#sha256=' in request(f"{server.url}/simple/demo/").text
        moved = request(f"{server.url}/simple/Demo/")
        assert moved.headers["location"] == "/registry/simple/demo/"
        page = request(f"{server.url}/").text
        assert 'href="/registry/particles/demo/enc"' in page and 'href="/registry/simple/"' in page
