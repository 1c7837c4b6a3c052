"""The HTML frame of the registry's pages: escaping, the page layout and its inline style.

Pages are self-contained: no JavaScript, no external fonts, styles or images. Every value that
comes from a package or a request passes through :func:`esc`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from sora_registry import __version__

STYLE = """
:root { --ink: #1d2430; --muted: #5d6878; --line: #dfe3ea; --bg: #f6f7f9; --accent: #3451b2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: var(--bg); }
header { background: #1f2a44; color: #fff; padding: 14px 32px; display: flex; align-items: baseline; gap: 24px; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; font-size: 19px; letter-spacing: .2px; }
header .stats { color: #b8c2d9; font-size: 13px; }
header nav { margin-left: auto; font-size: 14px; display: flex; gap: 18px; }
main { max-width: 1320px; margin: 0 auto; padding: 22px 32px 40px; }
a { color: var(--accent); }
h1 { font-size: 24px; margin: 4px 0 6px; }
h2 { font-size: 17px; margin: 26px 0 8px; }
.muted { color: var(--muted); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; }
form.search { display: grid; grid-template-columns: 2.2fr 1.2fr 1.4fr 2fr auto; gap: 10px; align-items: end; }
form.search label { font-size: 12px; color: var(--muted); display: block; margin-bottom: 3px; }
form.search input, form.search select { width: 100%; padding: 7px 9px; border: 1px solid #c9cfd9;
  border-radius: 6px; font: inherit; background: #fff; }
form.search button { padding: 8px 18px; border: 0; border-radius: 6px; background: var(--accent); color: #fff;
  font: inherit; font-weight: 600; }
table { width: 100%; border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); background: #fafbfc; }
table.grid { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
code, .mono { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.port { display: block; font-size: 12px; overflow-wrap: anywhere; padding-left: 1.2em; text-indent: -1.2em; }
table.results { table-layout: fixed; }
table.results th:nth-child(1) { width: 24%; }
table.results th:nth-child(2) { width: 15%; }
table.results th:nth-child(5) { width: 9%; }
table.results a.name { font-weight: 700; text-decoration: none; }
table.results .dist { color: var(--muted); font-size: 12px; margin-left: 4px; }
table.results .desc { color: var(--muted); font-size: 13px; margin-top: 2px; }
.lic { white-space: nowrap; font-size: 13px; }
.port .pn { color: var(--ink); font-weight: 600; }
.port .sp { color: #8a4b08; display: inline-block; text-indent: 0; }
.kind { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  background: #e8edfb; color: #2c3f8f; white-space: nowrap; }
.error { background: #fdecec; border: 1px solid #f2b8b8; color: #8a1c1c; padding: 10px 14px; border-radius: 8px;
  margin: 14px 0; }
.summary { margin: 14px 0 8px; color: var(--muted); }
.pager { margin-top: 12px; display: flex; gap: 16px; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; overflow-x: auto; }
.meta { display: flex; gap: 22px; flex-wrap: wrap; color: var(--muted); margin: 6px 0 12px; }
.meta b { color: var(--ink); font-weight: 600; }
footer { max-width: 1320px; margin: 0 auto; padding: 0 32px 30px; color: var(--muted); font-size: 13px; }
"""


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def url_path(*parts: str) -> str:
    """A URL path from components, each percent-encoded (``/`` inside a part is encoded too)."""
    return "/" + "/".join(quote(part, safe="") for part in parts)


def with_query(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def page(title: str, body: str, *, root: str = "", counts: Mapping[str, int] | None = None, index_url: str = "") -> str:
    """A complete HTML document with the registry's header and footer around ``body``.

    ``index_url`` is the configured public simple-index URL (never derived from the request).
    """
    shown_index = esc(index_url) if index_url else "&lt;this server&gt;/simple/"
    stats = ""
    if counts:
        stats = (
            f'<span class="stats">{counts.get("particles", 0)} particles · '
            f"{counts.get('projects', 0)} projects · {counts.get('files', 0)} files</span>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><a class="brand" href="{esc(root)}/">sora particle registry</a>{stats}'
        f'<nav><a href="{esc(root)}/">catalog</a><a href="{esc(root)}/simple/">simple index</a>'
        f'<a href="{esc(root)}/api/v1/particles">JSON API</a></nav></header>'
        f"<main>{body}</main>"
        f"<footer>sora-registry {esc(__version__)} · install with "
        f"<code>pip install --index-url {shown_index} NAME</code></footer>"
        "</body></html>"
    )


#: What a page shows in place of stored data that is not the shape it should be.
MALFORMED = '<span class="muted">not shown: malformed</span>'


def port_html(name: str, spec: Any) -> str:
    """One port as ``name: dtype[shape] @ space``."""
    if not isinstance(spec, Mapping):
        return f'<span class="port mono"><span class="pn">{esc(name)}</span>: {MALFORMED}</span>'
    text = f'<span class="pn">{esc(name)}</span>: {esc(spec.get("dtype", "any"))}[{esc(spec.get("shape", ""))}]'
    if spec.get("space"):
        text += f' <span class="sp">@ {esc(spec["space"])}</span>'
    if spec.get("optional"):
        text += ' <span class="muted">(optional)</span>'
    return f'<span class="port mono">{text}</span>'


def ports_html(ports: Any) -> str:
    """A particle's inputs or outputs (``MALFORMED`` when they are not a mapping of ports)."""
    if not isinstance(ports, Mapping):
        return MALFORMED
    return "".join(port_html(name, spec) for name, spec in ports.items()) or '<span class="muted">none</span>'


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], css: str = "grid") -> str:
    """A table whose cells are already HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
