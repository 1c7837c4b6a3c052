"""Drawing pipelines: Mermaid, DOT and the self-contained HTML page, the CLI, and the screenshot script."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sora_core.pipeline import Pipeline, PipelineBuilder
from sora_core.pipeline.render import to_dot, to_html, to_mermaid

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "screenshot_html.py"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def seed() -> dict[str, Any]:
    return Pipeline.from_template("seed", materialize=False).describe()


def sora(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args], capture_output=True, text=True, timeout=300
    )


def screenshot_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshot_html", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def every_port(description: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (port, spec)
        for node in description["nodes"]
        for ports in (node["inputs"], node["outputs"])
        for port, spec in ports.items()
    ]


def hostile_pipeline() -> Pipeline:
    return (
        PipelineBuilder(f"evil {HOSTILE}", description=f"drawn {HOSTILE} & 'quoted' \"text\"")
        .node("text_encoder", "lstm-text-encoder")
        .node("generator", "lstm-video-generator", input_size=256)
        .connect("text_encoder.embeddings", "generator.condition")
        .input(f"in {HOSTILE}", "text_encoder.token_embeddings")
        .output("video</svg>", "generator.video")
        .build(materialize=False)
    )


# --- Mermaid -----------------------------------------------------------------------------------


def test_mermaid_draws_every_node_edge_shape_and_space(seed: dict[str, Any]) -> None:
    text = to_mermaid(seed)
    assert text.startswith("flowchart LR\n")
    for node in seed["nodes"]:
        assert re.search(rf'^    n_{node["name"]}\["<b>{node["name"]}</b><br/>{node["particle"]}<br/>', text, re.M)
    for edge in seed["edges"]:
        label = (
            f"{edge['source_port']} -#gt; {edge['target_port']}<br/>{edge['spec']['dtype']}[{edge['spec']['shape']}]"
        )
        assert f'n_{edge["source"]} -->|"{label}' in text
        assert f"| n_{edge['target']}" in text
    for spec in [e["spec"] for e in seed["edges"]] + [e["spec"] for e in seed["outputs"].values()]:
        if "space" in spec:
            assert f"@ {spec['space']}" in text
    assert 'in_text(["<b>text</b><br/>float32[B L E=512]"])' in text
    assert 'out_video(["<b>video</b><br/>float32[B T F=512]<br/>@ video-features/seed@1"])' in text
    assert 'in_text -->|"text -#gt; token_embeddings<br/>float32[B L E=512]"| n_text_encoder' in text
    assert 'n_generator -->|"video -#gt; video<br/>float32[B T F=512]<br/>@ video-features/seed@1"| out_video' in text


def test_mermaid_quotes_and_escapes_labels_and_sanitises_ids() -> None:
    description = {
        "name": "p",
        "description": "",
        "inputs": {'in "x" <b>|%%{init}%%#`': {"targets": ["my-node.a"], "spec": {"dtype": "float32", "shape": "B"}}},
        "outputs": {},
        "nodes": [
            {
                "name": "my-node",
                "particle": 'odd"[name]"',
                "kind": "k<i>",
                "inputs": {"a": {"dtype": "float32", "shape": "B"}},
                "outputs": {},
                "trace": None,
            }
        ],
        "edges": [],
    }
    text = to_mermaid(description)
    assert "n_my_node[" in text
    assert 'in_in__x___b_____init_____ -->|"' in text
    assert "in #quot;x#quot; #lt;b#gt;#124;#37;#37;{init}#37;#37;#35;#96;" in text
    assert "odd#quot;[name]#quot;" in text
    assert "<i>k#lt;i#gt;</i>" in text
    for line in text.splitlines()[1:]:
        # outside the quoted labels only identifiers, shapes and arrows remain
        bare = re.sub(r'"[^"]*"', "", line)
        assert re.fullmatch(r"    [\w ,:#;.\-|>(\[\])]*", bare), line


# --- DOT --------------------------------------------------------------------------------------------


def test_dot_draws_every_node_port_edge_shape_and_space(seed: dict[str, Any]) -> None:
    text = to_dot(seed)
    assert text.startswith("digraph pipeline_seed {\n")
    assert "rankdir=LR" in text
    assert text.rstrip().endswith("}")
    for node in seed["nodes"]:
        assert f"n_{node['name']} [label=<<TABLE" in text
        assert f"<B>{node['name']}</B><BR/>{node['particle']}" in text
    for port, spec in every_port(seed):
        assert f"<B>{port}</B> " in text
        assert f"{spec['dtype']}[{spec['shape']}]" in text
        if "space" in spec:
            assert f"@ {spec['space']}" in text
    # ports are numbered per side in declaration order: attention's inputs are query, context, mask
    assert "n_text_encoder:o0:e -> n_attention:i1:w" in text  # embeddings -> context
    assert "n_text_encoder:o1:e -> n_attention:i2:w" in text  # mask -> mask
    assert "n_video_decoder:o0:e -> n_attention:i0:w" in text  # hidden -> query
    assert "n_attention:o0:e -> n_generator:i0:w" in text  # tokens -> condition
    assert "in_text -> n_text_encoder:i0:w" in text
    assert "n_generator:o0:e -> out_video" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_dot_is_valid_graphviz(seed: dict[str, Any], tmp_path: Path) -> None:
    traced = {node["name"]: {"seconds": 0.001, "peak_memory_bytes": 2**20} for node in seed["nodes"]}
    for text in (to_dot(seed), to_dot(hostile_pipeline().describe(traced))):
        result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "<svg" in result.stdout and "<script" not in result.stdout


# --- HTML ----------------------------------------------------------------------------------------


def test_html_is_one_self_contained_page(seed: dict[str, Any]) -> None:
    page = to_html(seed)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""\b(src|href)\s*=""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(http" not in page
    assert "default-src 'none'" in page  # the page's own policy forbids any load
    assert page.count("<svg") == 1 and "<style>" in page


def test_html_lists_every_node_port_shape_space_and_edge(seed: dict[str, Any]) -> None:
    page = to_html(seed)
    assert "<h1>seed<small>" in page
    assert "The seed design&#x27;s SoraModel" in page
    for node in seed["nodes"]:
        assert f'class="name" text-anchor="start" font-size="13">{node["name"]}</text>' in page
        assert f">{node['particle']}</text>" in page
        assert f">{node['kind']}</text>" in page
    for port, spec in every_port(seed):
        assert f'class="port" text-anchor="start" font-size="12">{port}</text>' in page or (
            f'class="port" text-anchor="end" font-size="12">{port}</text>' in page
        )
        assert f">{spec['dtype']}[{spec['shape']}]{'?' if spec.get('optional') else ''}</text>" in page
        if "space" in spec:
            assert f">@ {spec['space']}</text>" in page
    for name in (*seed["inputs"], *seed["outputs"]):
        assert f'class="name" text-anchor="start" font-size="13">{name}</text>' in page
    for edge in seed["edges"]:
        title = f"{edge['source']}.{edge['source_port']} -&gt; {edge['target']}.{edge['target_port']}"
        assert f'<g class="edge"><title>{title}: ' in page
    wires = re.findall(r'<path class="wire" d="[^"]+" marker-end="url\(#arrow\)"/>', page)
    assert len(wires) == len(seed["edges"]) + len(seed["inputs"]) + len(seed["outputs"])
    assert "Trace" not in page and "ms, peak" not in page


def boxes(page: str) -> list[tuple[float, float, float, float]]:
    pattern = r'<rect class="outline" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"'
    return [tuple(map(float, match)) for match in re.findall(pattern, page)]  # type: ignore[misc]


def test_html_layout_keeps_boxes_apart_and_wires_on_ports(seed: dict[str, Any]) -> None:
    # an output taken from the first layer makes a long edge, routed through the columns it crosses
    longer = Pipeline.from_template("seed", materialize=False).describe()
    longer["outputs"]["pooled"] = {"source": "text_encoder.pooled", "spec": longer["nodes"][0]["outputs"]["pooled"]}
    for description in (seed, longer):
        page = to_html(description)
        drawn = boxes(page)
        assert len(drawn) == len(description["nodes"]) + len(description["inputs"]) + len(description["outputs"])
        for i, (x1, y1, w1, h1) in enumerate(drawn):
            for x2, y2, w2, h2 in drawn[i + 1 :]:
                assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "boxes overlap"
        dots = {
            (float(x), float(y)) for x, y in re.findall(r'<circle class="dot \w+" cx="([\d.]+)" cy="([\d.]+)"', page)
        }
        wires = re.findall(r'<path class="wire" d="([^"]+)"', page)
        assert len(wires) == len(description["edges"]) + len(description["inputs"]) + len(description["outputs"])
        for d in wires:
            numbers = re.findall(r"[MCH]?([\d.]+),([\d.]+)", d)
            assert (float(numbers[0][0]), float(numbers[0][1])) in dots, f"wire {d} does not leave a port"
            last = re.search(r"H([\d.]+)$", d)  # a straight run into the port, or the curve's end
            end_x = float(last.group(1)) if last else float(numbers[-1][0])
            assert (round(end_x + 6, 1), float(numbers[-1][1])) in dots, f"wire {d} does not reach a port"


def test_html_shows_trace_times_and_memory(seed: dict[str, Any]) -> None:
    pipe = Pipeline.from_template("seed", materialize=False)
    trace = {
        "text_encoder": {
            "seconds": 0.004,
            "peak_memory_bytes": 300 * 2**20,
            "output_shapes": {"embeddings": [2, 5, 256]},
        },
        "attention": {"seconds": 0.0125, "peak_memory_bytes": 3 * 2**30, "output_shapes": {"tokens": [2, 6, 256]}},
    }
    page = to_html(pipe.describe(trace))
    assert ">4.00 ms, peak 300.0 MiB</text>" in page
    assert ">12.50 ms, peak 3.00 GiB</text>" in page
    assert ">= 2×5×256</text>" in page  # the traced shape under the symbolic one
    assert page.count('class="bar"') == 2  # only traced nodes get a time bar
    assert "slowest attention (12.50 ms)" in page
    assert "<h2>Trace</h2>" in page and "<td>text_encoder</td>" in page
    mermaid, dot = to_mermaid(pipe.describe(trace)), to_dot(pipe.describe(trace))
    assert "<br/>12.50 ms, peak 3.00 GiB" in mermaid and ">12.50 ms, peak 3.00 GiB<" in dot


def test_hostile_names_and_descriptions_are_escaped() -> None:
    description = hostile_pipeline().describe()
    page = to_html(description)
    assert "<script" not in page and page.count("</svg>") == 1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&amp; &#x27;quoted&#x27; &quot;text&quot;" in page
    assert "video&lt;/svg&gt;" in page
    dot = to_dot(description)
    assert "<B>evil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</B>" in dot  # HTML-like labels: entities
    assert 'tooltip="in <script>alert(\\"x\\")</script> -> ' in dot  # quoted strings: quotes escaped
    mermaid = to_mermaid(description)
    assert "<script" not in mermaid and "#lt;script#gt;alert(#quot;x#quot;)#lt;/script#gt;" in mermaid


# --- the command line -------------------------------------------------------------------------------


def test_cli_graph_writes_dot_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "seed.dot"
    result = sora("graph", "seed", "--format", "dot", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}: a Graphviz DOT drawing of pipeline 'seed' (4 nodes)\n"  # says what it wrote
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph pipeline_seed {") and "n_attention:o0:e -> n_generator:i0:w" in text


def test_cli_graph_html_with_a_trace_from_sora_run(tmp_path: Path) -> None:
    trace, page = tmp_path / "trace.json", tmp_path / "seed.html"
    inputs = ("--input", "text=randn:2,5,512", "--input", "video_features=randn:2,6,512")
    ran = sora("run", "seed", *inputs, "--seed", "0", "--trace-out", str(trace))
    assert ran.returncode == 0, ran.stderr
    drawn = sora("graph", "seed", "--format", "html", "--trace", str(trace), "-o", str(page))
    assert drawn.returncode == 0, drawn.stderr
    html = page.read_text(encoding="utf-8")
    assert html.count('class="bar"') == 4
    assert re.search(r">\d+\.\d\d ms, peak [\d.]+ [MG]iB</text>", html)
    assert ">= 2×6×512</text>" in html  # the generator's traced video shape


def test_cli_graph_mermaid_goes_to_stdout() -> None:
    result = sora("graph", "seed")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n") and "n_attention" in result.stdout


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2", '{"a": [1]}', '{"traceEvents": []}', "[" * 100_000])
def test_cli_graph_with_a_bad_trace_is_a_clean_error(tmp_path: Path, content: str | None) -> None:
    trace = tmp_path / "trace.json"
    if content is not None:
        trace.write_text(content)
    result = sora("graph", "seed", "--format", "html", "--trace", str(trace))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and f"trace {trace}" in result.stderr.splitlines()[0]
    assert "  hint: pass a file written by `sora run --trace-out`" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- the screenshot script ---------------------------------------------------------------------------


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    """The PNG's chunks by type (IDAT chunks joined)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    position = 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunks[kind] = chunks.get(kind, b"") + data[position + 8 : position + 8 + length]
        position += 12 + length
    return chunks


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit, non-interlaced RGB(A) PNG into its pixels' RGB bytes (no Pillow needed)."""
    chunks = png_chunks(data)
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and color in (2, 6) and interlace == 0
    size = 3 if color == 2 else 4
    stride = width * size
    raw = zlib.decompress(chunks[b"IDAT"])
    pixels: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, corner = previous[i], (previous[i - size] if i >= size else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        pixels += [bytes(line[i : i + 3]) for i in range(0, stride, size)]
        previous = line
    return width, height, pixels


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_screenshot_of_the_html_page_shows_the_graph(tmp_path: Path) -> None:
    page, png = tmp_path / "seed.html", tmp_path / "seed.png"
    page.write_text(to_html(Pipeline.from_template("seed", materialize=False).describe()), encoding="utf-8")
    written = screenshot_module().screenshot(page, png, width=640, height=480)
    assert written == png.resolve() and png.stat().st_size > 1000
    width, height, pixels = png_pixels(png.read_bytes())
    assert (width, height) == (640, 480)
    colours = set(pixels)
    assert len(colours) > 20, "a blank page"
    dark = sum(1 for p in pixels if sum(p) < 300)
    assert dark > 500, "no text or lines drawn"


def test_screenshot_script_fails_in_one_line_without_chromium(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><p>hi</p>")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(page), str(tmp_path / "out.png"), "--chromium", "no-such-chromium"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr == "error: chromium executable 'no-such-chromium' not found\n"
    assert not (tmp_path / "out.png").exists()
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "absent.html"), str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: no such page: ")
