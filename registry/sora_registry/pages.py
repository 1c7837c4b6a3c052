"""The HTML pages for people: the searchable catalog and one page per particle."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sora_registry.html_layout import MALFORMED, esc, page, ports_html, table, url_path, with_query
from sora_registry.search import SearchQuery, SearchResult
from sora_registry.settings import format_size

log = logging.getLogger("sora_registry")


def catalog_page(
    query: SearchQuery,
    result: SearchResult | None,
    kinds: list[str],
    counts: Mapping[str, int],
    *,
    root: str = "",
    error: str | None = None,
    index_url: str = "",
) -> str:
    """The catalog: a search form (plain GET, no JavaScript) and one row per matching particle."""
    body = "<h1>Particles</h1>" + _search_form(query, kinds)
    if error:
        body += f'<div class="error">{esc(error)}</div>'
    if result is not None:
        body += _results(query, result, root)
    return page("sora particle registry", body, root=root, counts=counts, index_url=index_url)


def _search_form(query: SearchQuery, kinds: list[str]) -> str:
    options = '<option value="">any kind</option>' + "".join(
        f'<option value="{esc(k)}"{" selected" if k == query.kind else ""}>{esc(k)}</option>'
        for k in sorted({*kinds, *([query.kind] if query.kind else [])})
    )
    fields = [
        ("q", "name or description", query.q, "text encoder"),
        ("space", "space (tag or prefix*)", query.space.text if query.space else "", "text/*"),
        (
            "port",
            "port ([in:|out:][NAME][:DTYPE[SHAPE]][@SPACE])",
            query.port.text if query.port else "",
            "out:float32[B L D=384]",
        ),
    ]
    inputs = [
        f'<div><label for="{name}">{esc(label)}</label>'
        f'<input id="{name}" name="{name}" value="{esc(value)}" placeholder="{esc(example)}"></div>'
        for name, label, value, example in fields
    ]
    kind = f'<div><label for="kind">kind</label><select id="kind" name="kind">{options}</select></div>'
    return (
        f'<form class="search card" method="get" action="">{inputs[0]}{kind}{inputs[1]}{inputs[2]}'
        '<div><button type="submit">Search</button></div></form>'
    )


def _results(query: SearchQuery, result: SearchResult, root: str) -> str:
    shown = len(result.particles)
    first = query.offset + 1 if shown else 0
    summary = f'<p class="summary">{result.total} particle{"s" if result.total != 1 else ""}'
    summary += f" · showing {first}–{query.offset + shown}</p>" if shown else " found</p>"
    if not shown:
        return summary
    rows = [_result_row(particle, root) for particle in result.particles]
    pager = []
    if query.offset > 0:
        previous = query.params(offset=max(0, query.offset - query.limit))
        pager.append(f'<a href="{esc(with_query(root + "/", previous))}">← previous</a>')
    if query.offset + shown < result.total:
        following = query.params(offset=query.offset + query.limit)
        pager.append(f'<a href="{esc(with_query(root + "/", following))}">next →</a>')
    grid = table(["particle", "kind", "inputs", "outputs", "licence"], rows, css="grid results")
    return summary + grid + f'<div class="pager">{"".join(pager)}</div>'


def _result_row(particle: Mapping[str, Any], root: str) -> list[str]:
    dist, short = _text(particle.get("distribution")), _text(particle.get("short_name"))
    link = root + url_path("particles", dist, short)
    return [
        f'<a class="name" href="{esc(link)}">{esc(short)}</a> '
        f'<span class="dist mono">{esc(dist)} {esc(particle.get("version"))}</span>'
        f'<div class="desc">{esc(particle.get("description") or "")}</div>',
        f'<span class="kind">{esc(particle.get("kind"))}</span>',
        ports_html(particle.get("inputs") or {}),
        ports_html(particle.get("outputs") or {}),
        f'<span class="lic">{esc(particle.get("license") or "—")}</span>',
    ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def particle_page(detail: Mapping[str, Any], *, index_url: str, root: str = "") -> str:
    """One particle: install command, ports, config schema, weights, files and versions.

    Stored metadata was validated on upload, but a page must render whatever a catalog holds
    (rows written by older servers or other tools): a part that is not the expected shape is
    shown as "not shown: malformed" rather than failing the page.
    """
    dist, short = _text(detail.get("distribution")), _text(detail.get("short_name"))
    stale = (
        ""
        if detail.get("in_latest_release", True)
        else (
            '<div class="error">This particle is not in the latest release of its distribution; '
            "shown from the newest release that has it.</div>"
        )
    )
    meta = [
        ("kind", f'<span class="kind">{esc(detail.get("kind"))}</span>'),
        ("version", esc(detail.get("version"))),
        ("licence", esc(detail.get("license") or "—")),
        ("requires Python", esc(detail.get("requires_python") or "any")),
        ("entry point", f"<code>{esc(detail.get('entry_point', ''))}</code>"),
    ]
    body = (
        f'<p class="muted mono"><a href="{esc(root)}/">catalog</a> / {esc(dist)}</p>'
        f"<h1>{esc(dist)}:{esc(short)}</h1>{stale}"
        f"<p>{esc(detail.get('description') or '')}</p>"
        '<div class="meta">' + "".join(f"<span>{k} <b>{v}</b></span>" for k, v in meta) + "</div>"
        f"<h2>Install</h2><pre>pip install --index-url {esc(index_url)} {esc(dist)}=={esc(detail.get('version'))}</pre>"
        + _guarded("Ports", _ports_section, detail)
        + _guarded("Config", _config_section, detail)
        + _guarded("Weights", _weights_section, detail)
        + _files_section(detail, root)
        + _versions_section(detail)
        + f'<p class="muted">As JSON: <a href="{esc(root + url_path("api", "v1", "particles", dist, short))}">'
        f"{esc(url_path('api', 'v1', 'particles', dist, short))}</a></p>"
    )
    return page(f"{dist}:{short} — sora particle registry", body, root=root, index_url=index_url)


def _guarded(title: str, section: Callable[[Mapping[str, Any]], str], detail: Mapping[str, Any]) -> str:
    """``section(detail)``, or the title and "malformed" when stored data of an unexpected shape breaks it.

    The sections check the shapes they expect; this catches what a check missed, so one odd
    value costs its section, never the page.
    """
    try:
        return section(detail)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError):
        log.warning("particle %s: section %s not rendered: malformed metadata", detail.get("name"), title)
        return f"<h2>{esc(title)}</h2><p>{MALFORMED}</p>"


def _ports_section(detail: Mapping[str, Any]) -> str:
    rows = []
    for direction in ("inputs", "outputs"):
        ports = detail.get(direction) or {}
        if not isinstance(ports, Mapping):
            rows.append([esc(direction[:-1]), MALFORMED, "", "", "", "", ""])
            continue
        rows += [_port_row(direction[:-1], name, spec) for name, spec in ports.items()]
    return "<h2>Ports</h2>" + table(["", "port", "dtype", "shape", "space", "optional", "description"], rows)


def _port_row(direction: str, name: str, spec: Any) -> list[str]:
    if not isinstance(spec, Mapping):
        return [esc(direction), f"<code>{esc(name)}</code>", MALFORMED, "", "", "", ""]
    return [
        esc(direction),
        f"<code>{esc(name)}</code>",
        f"<code>{esc(spec.get('dtype', ''))}</code>",
        f"<code>{esc(spec.get('shape', ''))}</code>",
        f"<code>{esc(spec.get('space') or '—')}</code>",
        "yes" if spec.get("optional") else "",
        esc(spec.get("description", "")),
    ]


def _config_section(detail: Mapping[str, Any]) -> str:
    schema = detail.get("config_schema") or {}
    properties = (schema.get("properties") or {}) if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return f"<h2>Config</h2><p>{MALFORMED}</p>"
    if not properties:
        return "<h2>Config</h2><p class='muted'>No configuration.</p>"
    defaults = detail.get("default_config")
    defaults = defaults if isinstance(defaults, Mapping) else {}
    rows = [_config_row(name, prop, defaults) for name, prop in properties.items()]
    return "<h2>Config</h2>" + table(["field", "type", "default", "description"], rows)


def _config_row(name: str, prop: Any, defaults: Mapping[str, Any]) -> list[str]:
    if not isinstance(prop, Mapping):
        return [f"<code>{esc(name)}</code>", MALFORMED, "", ""]
    default = json.dumps(defaults.get(name, prop.get("default")))
    return [
        f"<code>{esc(name)}</code>",
        f"<code>{esc(prop.get('type', ''))}</code>",
        f"<code>{esc(default)}</code>",
        esc(prop.get("description", "")),
    ]


def _weights_section(detail: Mapping[str, Any]) -> str:
    weights = detail.get("weights") or []
    if not isinstance(weights, list):
        return f"<h2>Weights</h2><p>{MALFORMED}</p>"
    if not weights:
        return "<h2>Weights</h2><p class='muted'>No default weights shipped in the package.</p>"
    return "<h2>Weights</h2>" + table(["file", "size", "sha256"], [_weight_row(w) for w in weights])


def _weight_row(weight: Any) -> list[str]:
    if not isinstance(weight, Mapping):
        return [MALFORMED, "", ""]
    size = weight.get("size")
    size_text = esc(format_size(size)) if isinstance(size, int) and not isinstance(size, bool) else MALFORMED
    return [f"<code>{esc(weight.get('path'))}</code>", size_text, f"<code>{esc(weight.get('sha256'))}</code>"]


def _files_section(detail: Mapping[str, Any], root: str) -> str:
    rows = [
        [
            f'<a class="mono" href="{esc(root + url_path("files", f["project"], f["filename"]))}">'
            f"{esc(f['filename'])}</a>",
            esc(format_size(int(f["size"]))),
            f"<code>{esc(f['sha256'])}</code>",
        ]
        for f in detail.get("files") or []
    ]
    return "<h2>Files</h2>" + table(["file", "size", "sha256"], rows)


def _versions_section(detail: Mapping[str, Any]) -> str:
    rows = [[esc(v["version"]), esc(_when(v.get("published", "")))] for v in detail.get("versions") or []]
    return "<h2>Versions</h2>" + table(["version", "published"], rows)


def _when(timestamp: str) -> str:
    """``2026-01-31T12:34:56.123456Z`` -> ``2026-01-31 12:34 UTC``."""
    return f"{timestamp[:10]} {timestamp[11:16]} UTC" if len(timestamp) >= 16 else timestamp


def error_page(status: int, message: str, hint: str, *, root: str = "", index_url: str = "") -> str:
    body = f"<h1>{status}</h1><div class='error'>{esc(message)}</div>"
    if hint:
        body += f"<p class='muted'>{esc(hint)}</p>"
    return page(f"{status} — sora particle registry", body, root=root, index_url=index_url)
