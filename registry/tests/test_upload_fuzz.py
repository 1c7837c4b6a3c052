"""Property-based tests of what the server reads from clients: uploads, search parameters, ``Accept``.

Whatever is sent, the answer is never a 5xx and no exception escapes the app (the TestClient
re-raises one); a refused upload stores nothing. The example budget is the root conftest's
``ci`` profile.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sora_registry.app import create_app
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.testing import ParticleSpec, create_token, plugin_wheel, sha256_hex
from starlette.testclient import TestClient

_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


class Target:
    """One in-process registry with a token and a valid wheel to mutate."""

    def __init__(self, root: Path) -> None:
        self.service = RegistryService(Settings(root / "data", 200_000, public_url="https://r.example.org"))
        self.token = create_token(self.service, "alice")
        self.wheel = plugin_wheel(root / "w", "demo", [ParticleSpec("enc", weights={"model.safetensors": [1.0]})])
        self.client = TestClient(create_app(self.service), raise_server_exceptions=True)

    def stored(self) -> tuple[Any, ...]:
        data = self.service.settings.data_dir
        con = sqlite3.connect(self.service.settings.catalog_path)
        try:
            rows = tuple(con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("files", "owners"))
        finally:
            con.close()
        return (sorted(str(p) for sub in ("files", "tmp") for p in (data / sub).rglob("*")), rows)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    made = Target(tmp_path_factory.mktemp("fuzz"))
    with made.client:
        yield made
    made.service.close()


# --- uploads -----------------------------------------------------------------------------------------------


@st.composite
def bodies(draw: st.DrawFn, wheel: bytes) -> bytes:
    """Random bytes, or the valid wheel truncated, with bytes flipped, or with junk around it."""
    how = draw(st.sampled_from(["random", "truncated", "flipped", "appended", "prepended", "intact"]))
    if how == "random":
        return draw(st.binary(max_size=4096))
    if how == "truncated":
        return wheel[: draw(st.integers(0, len(wheel) - 1))]
    if how == "flipped":
        data = bytearray(wheel)
        for index in draw(st.lists(st.integers(0, len(wheel) - 1), min_size=1, max_size=8)):
            data[index] ^= draw(st.integers(1, 255))
        return bytes(data)
    junk = draw(st.binary(min_size=1, max_size=512))
    return wheel + junk if how == "appended" else junk + wheel if how == "prepended" else wheel


_VERSIONS = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,3}", fullmatch=True)


def filenames() -> st.SearchStrategy[str]:
    """Mostly names the upload gets past (so the body is validated), some malformed ones."""
    wheel_names = st.builds("demo-{}-py3-none-any.whl".format, _VERSIONS)
    return st.one_of(
        wheel_names,
        wheel_names,
        st.sampled_from(["demo-1.0.0-py3-none-any.whl", "demo-1.0.0.tar.gz", "../demo-1.0.0-py3-none-any.whl"]),
        st.text(max_size=80),
        st.from_regex(r"[A-Za-z0-9._+!-]{1,40}\.(whl|tar\.gz)", fullmatch=True),
    )


@st.composite
def upload_headers(draw: st.DrawFn, target: Target, body: bytes) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    auth = draw(st.sampled_from(["valid"] * 8 + ["none", "random"]))
    if auth == "valid":
        headers[b"authorization"] = f"Bearer {target.token}".encode()
    elif auth == "random":
        headers[b"authorization"] = draw(st.text(_ASCII, max_size=80)).encode()
    sha = draw(st.sampled_from(["valid"] * 7 + ["none", "other", "random"]))
    if sha == "valid":
        headers[b"x-content-sha256"] = sha256_hex(body).encode()
    elif sha == "other":
        headers[b"x-content-sha256"] = draw(st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True)).encode()
    elif sha == "random":
        headers[b"x-content-sha256"] = draw(st.text(_ASCII, max_size=80)).encode()
    length = draw(st.sampled_from(["auto"] * 8 + ["random", "odd"]))
    if length == "random":
        headers[b"content-length"] = str(draw(st.integers(-10, 10**12))).encode()
    elif length == "odd":
        headers[b"content-length"] = draw(
            st.one_of(
                st.sampled_from(["\xb2".encode("latin-1"), b"1e3", b"", b" ", b"0x10", b"10**100"]),
                st.binary(max_size=12),
            )
        )
    return headers


@given(data=st.data())
def test_no_upload_makes_the_server_fail(target: Target, data: st.DataObject) -> None:
    body = data.draw(bodies(target.wheel.read_bytes()), label="body")
    filename = data.draw(filenames(), label="filename")
    headers = data.draw(upload_headers(target, body), label="headers")
    before = target.stored()
    reply = target.client.put(f"/api/v1/files/{quote(filename, safe='')}", content=body, headers=headers)
    event(f"status {reply.status_code}")
    assert reply.status_code < 500, reply.text
    assert set(reply.json()) >= ({"project", "sha256"} if reply.status_code == 201 else {"error", "hint"}), reply.text
    if reply.status_code != 201:
        assert target.stored() == before, reply.text


# --- reading: search parameters and content negotiation ----------------------------------------------------

_PARAM_NAMES = ["q", "kind", "space", "port", "limit", "offset", "format", "page"]
_ODD_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["²", "١٢", "-1", "10**100", "1" * 5000, "in:", "out:@", "float32[", "[B L D=384]", "@*", "%00"]),
    st.from_regex(
        r"(in:|out:)?[a-z]{0,5}(:[a-z0-9]{1,8}(\[[A-Za-z0-9 =.*]{0,12}\])?)?(@[a-z/*@0-9.-]{0,12})?", fullmatch=True
    ),
)


@pytest.fixture(scope="module")
def populated(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Target:
    wheel = plugin_wheel(tmp_path_factory.mktemp("pop"), "search-kit", [ParticleSpec("enc"), ParticleSpec("dec")])
    headers = {"Authorization": f"Bearer {target.token}", "X-Content-SHA256": sha256_hex(wheel.read_bytes())}
    assert (
        target.client.put(f"/api/v1/files/{wheel.name}", content=wheel.read_bytes(), headers=headers).status_code == 201
    )
    return target


_NUMBERISH = st.one_of(
    st.sampled_from(["²", "³", "½", "١٢", "٣", "𝟗", "Ⅻ", "-1", "10**100", "1e3", "0"]),
    st.integers(-(10**40), 10**40).map(str),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
    st.from_regex(r"[ +-]?[0-9]{0,4}([.e_x*][0-9]{0,3})?", fullmatch=True),
    _ODD_TEXT,
)


@given(
    params=st.dictionaries(st.sampled_from(_PARAM_NAMES), _ODD_TEXT, max_size=6),
    numbers=st.dictionaries(st.sampled_from(["limit", "offset"]), _NUMBERISH, max_size=2),
    html=st.booleans(),
)
def test_no_search_parameter_makes_the_server_fail(
    populated: Target, params: dict[str, str], numbers: dict[str, str], html: bool
) -> None:
    params = {**params, **numbers}
    reply = populated.client.get("/" if html else "/api/v1/particles", params=params)
    event(f"status {reply.status_code}")
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400 and not html:
        assert reply.json()["error"].startswith(("parameter", "port query")), reply.text


@given(
    accept=st.text(_ASCII, max_size=80), fmt=st.one_of(st.none(), st.text(max_size=40)), project=st.text(max_size=30)
)
def test_no_accept_header_or_project_name_makes_the_index_fail(
    populated: Target, accept: str, fmt: str | None, project: str
) -> None:
    params = {"format": fmt} if fmt is not None else {}
    for url in ("/simple/", f"/simple/{quote(project, safe='')}/", f"/api/v1/projects/{quote(project, safe='')}"):
        reply = populated.client.get(url, params=params, headers={"Accept": accept}, follow_redirects=False)
        assert reply.status_code in (200, 301, 404), (url, reply.status_code, reply.text)
