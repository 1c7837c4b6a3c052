"""Sora Studio end to end in a real browser: Debian's chromium driven by Playwright against ``sora studio``.

The server is the real command on a free port. Screenshots go to ``$SORA_STUDIO_SCREENSHOTS`` when it is set
(docs/images holds the ones docs/studio.md shows: ``SORA_STUDIO_SCREENSHOTS=docs/images pytest
tests/test_studio_e2e.py``), else to a temporary folder; either way each must show a drawn page.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sora_core.studio.app import page_built

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install .[test])")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make browser installs it)"),
    pytest.mark.skipif(not page_built(), reason="the studio's page is not built (make setup builds it)"),
]

PROMPT = "a red circle moving right"
NODE = "[data-testid=node][data-node='{}']"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("studio-data")
    command = [sys.executable, "-m", "sora_core.cli.main", "studio", "--port", "0", "--data", str(data)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline() if process.stderr else ""
        assert " on http://" in line, line
        yield line.split(" on ")[1].split(" ")[0]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, studio: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(studio)
    opened.get_by_test_id("palette-item").first.wait_for()
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("SORA_STUDIO_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("shots")


def screenshot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000, f"{path} looks blank"


def load_template(page: Any, name: str) -> None:
    page.get_by_test_id("template-select").select_option(name)
    page.get_by_test_id("load-template").click()
    page.locator(NODE.format("compositor" if name == "t2v" else "captioner")).wait_for()
    page.wait_for_function("window.soraStudio.laidOut()")


def spec_of(page: Any) -> dict[str, Any]:
    return page.evaluate("window.soraStudio.getSpec()")


def settled_box(page: Any, element: Any) -> dict[str, float]:
    """The element's box once the graph is fitted and two frames apart see it in the same place."""
    page.wait_for_function("window.soraStudio.laidOut()")
    box = element.bounding_box()
    for _ in range(100):
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        again = element.bounding_box()
        if again == box:
            return box
        box = again
    raise AssertionError(f"{element} kept moving")


def drag(page: Any, source: Any, target: Any) -> None:
    start, end = settled_box(page, source), settled_box(page, target)
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def port(page: Any, node: str, side: str, name: str) -> Any:
    return page.locator(f"{NODE.format(node)} [data-side={side}][data-port={name}]")


def test_load_t2v_swap_the_scheduler_run_it_and_play_the_video(page: Any, shots: Path) -> None:
    load_template(page, "t2v")
    assert page.get_by_test_id("node").count() == 9
    page.locator(NODE.format("scheduler")).click()
    swap = page.get_by_test_id("swap-select")
    swap.locator("option[value='sora-dit:rectified-flow-heun']").wait_for(state="attached")
    swap.select_option("sora-dit:rectified-flow-heun")
    page.wait_for_function("window.soraStudio.getSpec().nodes.scheduler.particle === 'sora-dit:rectified-flow-heun'")
    assert "rectified-flow-heun" in page.locator(NODE.format("scheduler")).inner_text()
    assert spec_of(page)["nodes"]["sampler"]["components"]["scheduler"] == "scheduler"
    page.locator("[data-testid=run-input][data-input=prompt]").fill(PROMPT)
    page.get_by_test_id("run-button").click()
    sampling = page.locator(NODE.format("sampler") + " [data-testid=node-steps]")
    sampling.wait_for(timeout=240_000)  # the sampler's steps while it runs
    assert "/" in sampling.inner_text()
    video = page.get_by_test_id("output-video")
    video.wait_for(timeout=240_000)
    assert "done" in page.get_by_test_id("run-status").inner_text().lower()
    duration = video.evaluate(
        """v => new Promise((resolve, reject) => {
            const ready = () => resolve(v.duration);
            if (v.readyState >= 1) ready(); else v.addEventListener('loadedmetadata', ready);
            v.addEventListener('error', () => reject(new Error('video error ' + (v.error && v.error.code))));
        })"""
    )
    assert duration > 0
    played = video.evaluate(
        """async v => { v.muted = true; await v.play();
            await new Promise(r => setTimeout(r, 400)); return {paused: v.paused, time: v.currentTime}; }"""
    )
    assert played["time"] > 0
    for node in ("rewriter", "text_encoder", "sampler", "decoder", "compositor"):
        card = page.locator(NODE.format(node))
        assert "done" in card.get_by_test_id("node-state").inner_text().lower()
        assert card.get_by_test_id("node-time").inner_text().strip().endswith("s")
    screenshot(page, shots / "studio-run.png")


def test_an_incompatible_connection_is_refused_with_the_reason(page: Any, shots: Path) -> None:
    load_template(page, "t2v")
    edges = len(spec_of(page)["edges"])
    drag(page, port(page, "text_encoder", "output", "mask"), port(page, "decoder", "input", "latent"))
    message = page.get_by_test_id("message")
    message.wait_for()
    assert "dtype differs: output is bool, input expects float32" in message.inner_text()
    assert len(spec_of(page)["edges"]) == edges
    screenshot(page, shots / "studio-refused.png")


def test_a_fitting_connection_is_made(page: Any) -> None:
    load_template(page, "t2v")
    spec = spec_of(page)
    spec["edges"] = [e for e in spec["edges"] if e != "decoder.video -> compositor.video"]
    page.evaluate("spec => window.soraStudio.loadSpec(spec)", spec)
    page.wait_for_function(f"window.soraStudio.getSpec().edges.length === {len(spec['edges'])}")
    drag(page, port(page, "decoder", "output", "video"), port(page, "compositor", "input", "video"))
    page.wait_for_function("window.soraStudio.getSpec().edges.includes('decoder.video -> compositor.video')")


def test_import_then_export_gives_the_same_spec(page: Any, tmp_path: Path, shots: Path) -> None:
    spec = yaml.safe_load(
        subprocess.run(
            [sys.executable, "-m", "sora_core.cli.main", "show", "v2t"], capture_output=True, text=True, check=True
        ).stdout
    )
    spec["name"] = "my-captions"
    spec["description"] = "v2t with a renamed pipeline"
    spec["inputs"] = {name: [target] for name, target in spec["inputs"].items()}  # the written form: lists
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    page.get_by_test_id("import-file").set_input_files(str(path))
    page.wait_for_function("window.soraStudio.getSpec().name === 'my-captions'")
    page.get_by_test_id("export-button").click()
    exported = page.get_by_test_id("export-text")
    exported.wait_for()
    page.wait_for_function("document.querySelector('[data-testid=export-text]').value.length > 0")
    assert yaml.safe_load(exported.input_value()) == spec
    screenshot(page, shots / "studio-export.png")


def test_an_invalid_import_is_explained_and_the_graph_kept(page: Any, tmp_path: Path) -> None:
    load_template(page, "t2v")
    before = spec_of(page)
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nnodes:\n  a: {particle: x, colour: red}\n")
    page.get_by_test_id("import-file").set_input_files(str(path))
    message = page.get_by_test_id("message")
    message.wait_for()
    assert "colour" in message.inner_text() and "Extra inputs are not permitted" in message.inner_text()
    assert spec_of(page) == before


def test_palette_search_info_and_adding_a_node(page: Any, shots: Path) -> None:
    page.get_by_test_id("palette-search").fill("euler")
    items = page.get_by_test_id("palette-item")
    items.first.wait_for()
    names = [items.nth(i).get_attribute("data-particle") for i in range(items.count())]
    assert "sora-dit:rectified-flow-euler" in names and "sora-dit:dit-denoiser" not in names  # name or description
    page.locator("[data-testid=palette-item][data-particle='sora-dit:rectified-flow-euler']").click()
    info = page.get_by_test_id("info-panel")
    info.wait_for()
    assert "shift" in info.inner_text() and "sora-dit" in info.inner_text()
    screenshot(page, shots / "studio-palette.png")
    before = len(spec_of(page)["nodes"])
    item = page.locator("[data-testid=palette-item][data-particle='sora-dit:rectified-flow-euler']")
    canvas = page.get_by_test_id("canvas").bounding_box()
    item.drag_to(page.get_by_test_id("canvas"), target_position={"x": canvas["width"] / 2, "y": canvas["height"] / 2})
    page.wait_for_function(f"Object.keys(window.soraStudio.getSpec().nodes).length === {before + 1}")
    added = [n for n in spec_of(page)["nodes"].values() if n["particle"] == "sora-dit:rectified-flow-euler"]
    assert added


def test_a_failed_run_is_explained_and_the_graph_kept(page: Any) -> None:
    load_template(page, "t2v")
    before = spec_of(page)
    page.locator("[data-testid=run-input][data-input=prompt]").fill("qwxz vrrp")
    page.get_by_test_id("run-button").click()
    status = page.get_by_test_id("run-status")
    page.wait_for_function("document.querySelector('[data-testid=run-status]').textContent.includes('failed')")
    assert "qwxz" in status.inner_text()
    assert page.get_by_test_id("output-video").count() == 0
    assert spec_of(page) == before


def test_a_server_error_is_explained_and_the_graph_kept(page: Any) -> None:
    load_template(page, "t2v")
    before = spec_of(page)
    body = '{"error": {"type": "StudioError", "message": "unexpected KeyError", "hint": "the log has it"}}'
    page.route("**/api/spec/export", lambda route: route.fulfill(status=500, body=body))
    page.get_by_test_id("export-button").click()
    message = page.get_by_test_id("message")
    message.wait_for()
    assert "unexpected KeyError" in message.inner_text() and "the log has it" in message.inner_text()
    assert spec_of(page) == before


def test_undo_and_redo_bring_back_a_deleted_node_and_a_replaced_graph(page: Any) -> None:
    """Delete a node, swap a particle, replace the graph: Ctrl+Z and the Undo button step back through each,
    nodes where they stood; Ctrl+Shift+Z and Redo step forward again."""
    load_template(page, "t2v")
    loaded = spec_of(page)
    undo, redo = page.get_by_test_id("undo-button"), page.get_by_test_id("redo-button")
    assert undo.is_enabled() and redo.is_disabled()  # loading replaced the empty graph: that is undoable too
    scheduler = page.locator(NODE.format("scheduler"))
    where = settled_box(page, scheduler)
    scheduler.click()
    page.keyboard.press("Delete")
    page.wait_for_function("!('scheduler' in window.soraStudio.getSpec().nodes)")
    assert "scheduler" not in spec_of(page)["nodes"]["sampler"].get("components", {})

    page.locator(NODE.format("compositor")).click()  # focus on the canvas, not in a field
    page.keyboard.press("Control+z")
    page.wait_for_function("'scheduler' in window.soraStudio.getSpec().nodes")
    assert spec_of(page) == loaded
    back = settled_box(page, scheduler)
    assert abs(back["x"] - where["x"]) < 2 and abs(back["y"] - where["y"]) < 2  # where it stood
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function("!('scheduler' in window.soraStudio.getSpec().nodes)")
    undo.click()
    page.wait_for_function("'scheduler' in window.soraStudio.getSpec().nodes")

    name = page.get_by_test_id("spec-name")
    name.click()
    name.press("End")
    name.press_sequentially("-mine")  # five keystrokes into one field: one step to undo
    page.wait_for_function("window.soraStudio.getSpec().name.endsWith('-mine')")
    undo.click()
    page.wait_for_function(f"window.soraStudio.getSpec().name === {loaded['name']!r}")

    page.get_by_test_id("new-spec").click()  # the whole graph replaced by mistake
    page.wait_for_function("Object.keys(window.soraStudio.getSpec().nodes).length === 0")
    undo.click()
    page.wait_for_function("Object.keys(window.soraStudio.getSpec().nodes).length === 9")
    assert spec_of(page) == loaded and redo.is_enabled()
    redo.click()
    page.wait_for_function("Object.keys(window.soraStudio.getSpec().nodes).length === 0")


def test_links_to_ports_a_node_lacks_are_listed_and_removed(page: Any) -> None:
    """An edge or a pipeline input naming a port its node does not have cannot be drawn: the problems panel
    lists each with a button that removes it, and the graph then checks out."""
    load_template(page, "t2v")
    loaded = spec_of(page)
    broken = {
        **loaded,
        "edges": [*loaded["edges"], "prompts.text -> decoder.nothing"],
        "inputs": {**loaded["inputs"], "extra": ["compositor.gone"]},
    }
    page.evaluate("spec => window.soraStudio.loadSpec(spec)", broken)
    detached = page.get_by_test_id("detached")
    detached.wait_for()
    text = detached.inner_text()
    assert "edge prompts.text -> decoder.nothing" in text and "pipeline input extra -> compositor.gone" in text
    page.get_by_test_id("remove-detached").first.click()  # the edge is listed first
    page.wait_for_function("!window.soraStudio.getSpec().edges.includes('prompts.text -> decoder.nothing')")
    page.get_by_test_id("remove-detached").first.click()
    page.wait_for_function("!('extra' in window.soraStudio.getSpec().inputs)")
    detached.wait_for(state="detached")
    page.get_by_text("The pipeline checks out").wait_for()
    assert spec_of(page)["edges"] == loaded["edges"] and spec_of(page)["inputs"] == loaded["inputs"]
