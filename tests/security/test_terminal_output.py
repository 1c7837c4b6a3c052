"""Text from a registry or a plugin never drives the terminal, and a hostile registry's answers are clear errors.

A fake registry (a plain HTTP server on a free port) answers ``sora search`` with descriptions holding escape
sequences (retitle the window, clear the screen, hide the text, OSC 8 links), bidi overrides and rich markup, or
with answers that are not a catalog at all.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sora_core.cli.main import main
from sora_core.cli.output import print_fields, print_table
from sora_core.text import printable

HOSTILE = [
    "\x1b]0;pwned\x07retitled",
    "\x1b[2J\x1b[Hcleared",
    "\x1b[8mhidden\x1b[0m",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "\u202eevil\u202c reversed",
    "\x9b31mC1 CSI",
    "[bold red]markup[/] [link=http://evil.example]x[/link]",
    "line\nbreak\rreturn\ttab\x00nul\x7fdel",
]


class _Registry(BaseHTTPRequestHandler):
    body: bytes = b"{}"
    status: int = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[type[_Registry]]:
    handler = type("Handler", (_Registry,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _no_controls(text: str) -> None:
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text), repr(text)
    assert "\u202e" not in text and "\u202c" not in text


@pytest.mark.parametrize("text", HOSTILE)
def test_printable_strips_controls_and_overrides(text: str) -> None:
    cleaned = printable(text)
    _no_controls(cleaned)
    assert "\n" not in cleaned


def test_search_prints_hostile_descriptions_inertly(
    fake_registry: type[_Registry], capsys: pytest.CaptureFixture[str]
) -> None:
    particles = [
        {"name": f"evil:p{i}", "version": "1.0", "kind": "k\x1b[5m", "description": d} for i, d in enumerate(HOSTILE)
    ]
    fake_registry.body = json.dumps({"particles": particles, "total": len(particles)}).encode()
    assert main(["search", "x", "--registry", fake_registry.url]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    _no_controls(out)
    assert "retitled" in out and "cleared" in out and "[bold red]markup[/]" in out


def test_registry_error_text_is_stripped(fake_registry: type[_Registry], capsys: pytest.CaptureFixture[str]) -> None:
    fake_registry.status = 404
    fake_registry.body = json.dumps({"error": "\x1b]0;owned\x07nope", "hint": "\x1b[2Jtry", "problems": "x"}).encode()
    assert main(["search", "x", "--registry", fake_registry.url]) == 1  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    _no_controls(err)
    assert "nope" in err and "hint: try" in err


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe not utf-8",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"particles": 5, "total": "many"}',
        b'{"particles": [1, "x", null, {"name": 7}]}',
        b"<html>not json</html>",
    ],
)
def test_search_answers_that_are_not_a_catalog_are_clear_errors(
    fake_registry: type[_Registry], capsys: pytest.CaptureFixture[str], body: bytes
) -> None:
    fake_registry.body = body
    code = main(["search", "x", "--registry", fake_registry.url])  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert "unexpected" not in err and "Traceback" not in err
    assert code in {0, 1}
    if code == 1:
        assert err.startswith("error: ") and fake_registry.url in err  # type: ignore[attr-defined]


def test_tables_and_fields_are_stripped_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    print_table("t\x1b[2J", ("A", "B"), [("\x1b]0;x\x07a", 5)])
    print_fields([("label", "\x1b[8mvalue")])
    out = capsys.readouterr().out
    _no_controls(out)
    assert "a" in out and "5" in out and "value" in out
