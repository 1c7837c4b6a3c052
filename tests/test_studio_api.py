"""Sora Studio's JSON API (sora_core.studio): the palette, templates, live checks, swaps, import/export and runs.

Everything goes through the HTTP API the page uses (starlette's TestClient), with the installed plugins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from sora_core.pipeline import Pipeline
from sora_core.pipeline.spec import load_spec
from sora_core.studio.app import StudioSettings, create_app, page_built

PROMPT = "a red circle moving right"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = StudioSettings(data=tmp_path_factory.mktemp("studio"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def t2v(client: TestClient) -> dict[str, Any]:
    answer = client.get("/api/templates/t2v")
    assert answer.status_code == 200, answer.text
    return answer.json()["spec"]


def wait_for(client: TestClient, run_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/runs/{run_id}").json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def start(client: TestClient, spec: dict[str, Any], **fields: Any) -> Any:
    data = {"spec": json.dumps(spec), "seed": "0", **{k: v for k, v in fields.items() if k not in ("files", "headers")}}
    return client.post("/api/runs", data=data, files=fields.get("files"), headers=fields.get("headers"))


# --- palette and templates ----------------------------------------------------------------------------------


def test_palette_groups_the_installed_particles_by_kind_with_their_info(client: TestClient) -> None:
    kinds = {group["kind"]: group for group in client.get("/api/particles").json()["kinds"]}
    assert {"text_encoder", "denoiser", "scheduler", "video_decoder", "captioner"} <= set(kinds)
    schedulers = {p["name"]: p for p in kinds["scheduler"]["particles"]}
    euler = schedulers["sora-dit:rectified-flow-euler"]
    assert euler["kind"] == "scheduler" and euler["dist"] == "sora-dit" and euler["version"]
    assert "shift" in euler["config_schema"]["properties"] and euler["description"]
    decoder = {p["short"]: p for p in kinds["video_decoder"]["particles"]}["causal-vae-decoder"]
    assert decoder["default_weights"] and decoder["inputs"]["latent"]["dtype"] == "float32"
    assert decoder["inputs"]["latent"]["shape"][0] == "B" and decoder["outputs"]["video"]["text"]


def test_the_palette_imports_no_plugin_code() -> None:
    code = (
        "import sys\n"
        "from starlette.testclient import TestClient\n"
        "from sora_core.studio.app import create_app\n"
        "with TestClient(create_app()) as c:\n"
        "    assert c.get('/api/particles').status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'sora_dit', 'sora_vae', 'sora_text', "
        "'sora_understand', 'sora_seed', 'sora_diffusers', 'sora_synth'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_templates_are_listed_and_an_unknown_one_is_refused(client: TestClient) -> None:
    listed = {t["name"]: t for t in client.get("/api/templates").json()["templates"]}
    assert listed["t2v"]["inputs"] == ["prompt"] and listed["t2v"]["outputs"] == ["video"]
    assert "v2t" in listed and listed["v2t"]["inputs"] == ["video"]
    answer = client.get("/api/templates/t2w")
    assert answer.status_code == 404
    assert "t2w" in answer.json()["error"]["message"] and "t2v" in answer.json()["error"]["hint"]


# --- checks -------------------------------------------------------------------------------------------------


def test_check_gives_each_node_its_ports_and_slots(client: TestClient, t2v: dict[str, Any]) -> None:
    checked = client.post("/api/check", json={"spec": t2v}).json()
    assert checked["ok"] is True and checked["problems"] == []
    sampler = checked["nodes"]["sampler"]
    assert sampler["kind"] == "latent_sampler"
    assert sampler["components"] == {"denoiser": "denoiser", "scheduler": "scheduler", "scorer": "video_text_scorer"}
    assert sampler["inputs"]["condition"]["space"] == "text/minilm-l6@1"


def test_check_reports_a_node_that_does_not_build_and_keeps_the_others(client: TestClient, t2v: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(t2v))
    broken["nodes"]["scheduler"]["config"] = {"shift": "fast"}
    broken["nodes"]["extra"] = {"particle": "no-such-particle"}
    checked = client.post("/api/check", json={"spec": broken}).json()
    assert checked["ok"] is False
    assert any(p.startswith("node 'scheduler':") and "shift" in p for p in checked["problems"])
    assert any(p.startswith("node 'extra':") and "no-such-particle" in p for p in checked["problems"])
    assert checked["nodes"]["scheduler"]["error"] and checked["nodes"]["scheduler"]["kind"] == "scheduler"
    assert checked["nodes"]["extra"]["error"] and checked["nodes"]["decoder"]["error"] is None


def test_an_incompatible_edge_is_refused_with_the_reason(client: TestClient, t2v: dict[str, Any]) -> None:
    refused = client.post("/api/connect", json={"spec": t2v, "edge": "text_encoder.mask -> decoder.latent"}).json()
    assert refused["ok"] is False
    assert "dtype differs: output is bool, input expects float32" in refused["reason"]
    assert "fed more than once" in refused["reason"]


def test_a_space_mismatch_and_a_cycle_are_refused(client: TestClient, t2v: dict[str, Any]) -> None:
    spec = json.loads(json.dumps(t2v))
    spec["edges"] = [e for e in spec["edges"] if e != "text_encoder.embeddings -> sampler.condition"]
    spec["nodes"]["encoder"] = {"particle": "sora-vae:causal-vae-encoder"}
    spec["edges"].append("decoder.video -> encoder.video")
    space = client.post("/api/connect", json={"spec": spec, "edge": "encoder.latent -> sampler.condition"}).json()
    assert space["ok"] is False and "space" in space["reason"]
    spec["nodes"]["encoder2"] = {"particle": "sora-vae:causal-vae-encoder"}
    cycle = {**spec, "edges": [*spec["edges"], "compositor.video -> encoder2.video"]}
    looped = client.post("/api/connect", json={"spec": cycle, "edge": "encoder2.latent -> decoder.latent"}).json()
    assert looped["ok"] is False and "cycle" in looped["reason"]


def test_a_fitting_edge_is_accepted(client: TestClient, t2v: dict[str, Any]) -> None:
    edge = "decoder.video -> compositor.video"
    open_spec = {**t2v, "edges": [e for e in t2v["edges"] if e != edge]}
    assert client.post("/api/connect", json={"spec": open_spec, "edge": edge}).json() == {"ok": True}
    again = client.post("/api/connect", json={"spec": t2v, "edge": edge}).json()
    assert again["ok"] is False and "already" in again["reason"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"edge": "a.b -> c.d"}, 422, "spec"),
        ({"spec": {"nodes": {}}, "edge": "a.b -> c.d"}, 422, "spec"),
        ({"spec": "T2V", "edge": "x"}, 422, "spec"),
        ("SPEC", 422, None),
    ],
)
def test_bad_requests_name_the_field(client: TestClient, body: Any, status: int, field: str | None) -> None:
    answer = client.post("/api/connect", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field and answer.json()["error"]["hint"]


def test_bad_edge_text_and_bodies_are_refused(client: TestClient, t2v: dict[str, Any]) -> None:
    answer = client.post("/api/connect", json={"spec": t2v, "edge": "decoder.video compositor.video"})
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "edge"
    assert "must look like 'node.port -> node.port'" in answer.json()["error"]["message"]
    not_json = client.post("/api/check", content=b"{nodes", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["message"] == "the body is not JSON"
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["hint"]
    assert client.get("/api/check").status_code == 405


def test_fits_lists_the_swaps_that_keep_the_graph_valid(client: TestClient, t2v: dict[str, Any]) -> None:
    answer = client.post("/api/fits", json={"spec": t2v, "node": "scheduler"}).json()
    fits = {fit["name"]: fit for fit in answer["fits"]}
    assert answer["current"] == "sora-dit:rectified-flow-euler"
    assert next(iter(fits)) == "sora-dit:rectified-flow-euler"
    assert {"sora-dit:rectified-flow-heun", "sora-diffusers:flow-match-euler"} <= set(fits)
    assert fits["sora-dit:rectified-flow-heun"]["node"] == {"particle": "sora-dit:rectified-flow-heun"}
    misfits = {m["name"]: m["reason"] for m in answer["misfits"]}
    assert "v_prediction" in misfits["sora-diffusers:cogvideox-ddim"]
    assert "PARTICLE" not in misfits["sora-diffusers:cogvideox-ddim"]
    unknown = client.post("/api/fits", json={"spec": t2v, "node": "schedular"})
    assert unknown.status_code == 422 and "scheduler" in unknown.json()["error"]["hint"]


def test_a_swapped_particle_with_shipped_weights_loads_them(client: TestClient, t2v: dict[str, Any]) -> None:
    fits = client.post("/api/fits", json={"spec": t2v, "node": "decoder"}).json()["fits"]
    assert all(fit["node"].get("weights") == "default" for fit in fits if fit["name"] != fits[0]["name"])


# --- import and export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t2v", "v2t", "vqa", "summarize", "seed"])
def test_import_then_export_gives_the_same_spec(client: TestClient, name: str, tmp_path: Path) -> None:
    spec = client.get(f"/api/templates/{name}").json()["spec"]
    exported = client.post("/api/spec/export", json={"spec": spec}).json()["yaml"]
    assert yaml.safe_load(exported) == spec
    imported = client.post("/api/spec/import", json={"text": exported, "file": f"{name}.yaml"}).json()["spec"]
    assert imported == spec
    again = client.post("/api/spec/export", json={"spec": imported}).json()["yaml"]
    assert again == exported
    (tmp_path / "exported.yaml").write_text(exported)
    assert Pipeline.from_spec(load_spec(tmp_path / "exported.yaml"), materialize=False).name == spec["name"]


def test_an_exported_spec_runs_with_sora_run(client: TestClient, t2v: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(client.post("/api/spec/export", json={"spec": t2v}).json()["yaml"])
    sora = [sys.executable, "-m", "sora_core.cli.main"]
    result = subprocess.run(
        [*sora, "run", str(path), "--input", f"prompt={PROMPT}", "--seed", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["video"]["shape"] == [1, 3, 9, 64, 64]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("nodes: [1", "mine.yaml is not valid YAML/JSON"),
        ("nodes: {a: {particle: x, colour: red}}", "nodes.a.colour: Extra inputs are not permitted"),
        ("- just\n- a list\n", "mine.yaml: a pipeline spec must be a mapping"),
        (
            "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
            + "".join(
                f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                for p, c in zip("abcdefg", "bcdefgh", strict=True)
            ),
            "more than 100000 values",
        ),
    ],
)
def test_an_invalid_spec_on_import_is_refused_naming_the_problem(client: TestClient, text: str, said: str) -> None:
    answer = client.post("/api/spec/import", json={"text": text, "file": "mine.yaml"})
    assert answer.status_code == 422
    assert said in answer.json()["error"]["message"] and answer.json()["error"]["field"] == "text"


# --- runs ---------------------------------------------------------------------------------------------------


def test_a_run_reports_each_node_and_serves_the_video(client: TestClient, t2v: dict[str, Any]) -> None:
    answer = start(client, t2v, **{"input.prompt": PROMPT})
    assert answer.status_code == 202, answer.text
    state = wait_for(client, answer.json()["id"])
    assert state["status"] == "done", state["error"]
    assert state["progress"]["done"] == state["progress"]["total"] == 6
    assert state["nodes"]["sampler"]["state"] == "done" and state["nodes"]["sampler"]["seconds"] > 0
    assert state["nodes"]["scheduler"] == {"state": "component", "seconds": None}
    assert state["nodes"]["sampler"]["steps"] == {"done": 20, "total": 20, "of": "sampling"}
    video = state["outputs"]["video"]
    assert video["type"] == "video" and video["shape"] == [1, 3, 9, 64, 64] and state["warnings"] == []
    served = client.get(video["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
    assert served.content[4:8] == b"ftyp"
    assert client.get(video["url"].replace("video-0", "video-9")).status_code == 404


def test_a_swapped_scheduler_runs(client: TestClient, t2v: dict[str, Any]) -> None:
    spec = json.loads(json.dumps(t2v))
    spec["nodes"]["scheduler"] = {"particle": "sora-dit:rectified-flow-heun"}
    state = wait_for(client, start(client, spec, **{"input.prompt": PROMPT}).json()["id"])
    assert state["status"] == "done" and state["outputs"]["video"]["type"] == "video"
    steps = state["nodes"]["sampler"]["steps"]
    assert steps["of"] == "sampling (heun)" and steps["done"] == steps["total"]


def test_words_the_weights_do_not_know_are_warned_about(client: TestClient, t2v: dict[str, Any]) -> None:
    state = wait_for(
        client, start(client, t2v, **{"input.prompt": "a red circle moving right and a zebra dancing"}).json()["id"]
    )
    assert state["status"] == "done"
    assert any("zebra" in warning for warning in state["warnings"])


def test_a_failed_run_keeps_its_error(client: TestClient, t2v: dict[str, Any]) -> None:
    state = wait_for(client, start(client, t2v, **{"input.prompt": "qwxz vrrp"}).json()["id"])
    assert state["status"] == "failed" and state["outputs"] == {}
    assert "qwxz" in state["error"]["message"] and state["error"]["hint"]


def test_a_caption_of_an_uploaded_clip(client: TestClient, t2v: dict[str, Any]) -> None:
    made = wait_for(client, start(client, t2v, **{"input.prompt": PROMPT}).json()["id"])
    clip = client.get(made["outputs"]["video"]["url"]).content
    v2t = client.get("/api/templates/v2t").json()["spec"]
    answer = start(client, v2t, files={"input.video": ("red.mp4", clip, "video/mp4")})
    state = wait_for(client, answer.json()["id"])
    assert state["status"] == "done", state["error"]
    caption = state["outputs"]["caption"]
    assert caption["type"] == "text" and "red circle" in caption["value"][0]
    assert state["outputs"]["count"]["type"] == "tensor"


@pytest.mark.parametrize(
    ("change", "fields", "status", "field", "said"),
    [
        (None, {}, 422, "input.prompt", "input 'prompt' has no value"),
        (None, {"input.promt": PROMPT}, 422, "input.promt", "unknown form field 'input.promt'"),
        (None, {"input.prompt": PROMPT, "seed": "-1"}, 422, "seed", "out of range"),
        (None, {"input.prompt": PROMPT, "seed": "one"}, 422, "seed", "not an integer"),
        ("unconnected", {"input.prompt": PROMPT}, 422, "spec", "required input decoder.latent"),
    ],
)
def test_a_run_with_bad_fields_is_refused_before_it_starts(
    client: TestClient,
    t2v: dict[str, Any],
    change: str | None,
    fields: dict[str, str],
    status: int,
    field: str,
    said: str,
) -> None:
    spec = json.loads(json.dumps(t2v))
    if change == "unconnected":
        spec["edges"] = [e for e in spec["edges"] if e != "sampler.latent -> decoder.latent"]
    answer = start(client, spec, **fields)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field and said in answer.json()["error"]["message"]


def test_an_upload_that_is_not_a_clip_is_refused(client: TestClient) -> None:
    v2t = client.get("/api/templates/v2t").json()["spec"]
    text = start(client, v2t, files={"input.video": ("notes.txt", b"hello", "text/plain")})
    assert text.status_code == 415 and text.json()["error"]["field"] == "input.video"
    broken = start(client, v2t, files={"input.video": ("clip.mp4", b"not a video", "video/mp4")})
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "input.video"
    assert not list(client.app.state.studio.runs.folder.glob("upload-*"))


def test_an_unknown_run_is_404(client: TestClient) -> None:
    answer = client.get("/api/runs/run-0")
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "id"


# --- requests from other sites ------------------------------------------------------------------------------


def test_a_request_naming_another_host_is_refused(tmp_path: Path) -> None:
    """DNS rebinding: another site's name pointed at 127.0.0.1 reaches the port, but not the studio."""
    from sora_core.http_guard import LOOPBACK_HOSTS

    settings = StudioSettings(data=tmp_path, trusted_hosts=LOOPBACK_HOSTS)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100") as local:
        assert local.get("/api/templates").status_code == 200
        assert local.get("/api/templates", headers={"host": "localhost:8100"}).status_code == 200
        assert local.get("/api/templates", headers={"host": "[::1]:8100"}).status_code == 200
        for host in ("rebound.example:8100", "127.0.0.1.rebound.example", ""):
            answer = local.get("/api/templates", headers={"host": host})
            assert answer.status_code == 403, host
            error = answer.json()["error"]
            assert error["field"] == "Host" and "not this server's address" in error["message"]
            assert "--allow-host" in error["hint"]


def test_a_change_sent_from_another_page_is_refused(client: TestClient, t2v: dict[str, Any]) -> None:
    """A form on another site cannot run or change anything; the studio's own page (same origin) can."""
    for origin in ("http://attacker.example", "null", "http://testserver:8100"):
        answer = client.post("/api/check", json={"spec": t2v}, headers={"origin": origin})
        assert answer.status_code == 403, origin
        assert answer.json()["error"]["field"] == "Origin"
    refused = start(client, t2v, prompt=PROMPT, headers={"origin": "http://attacker.example"})
    assert refused.status_code == 403
    assert client.post("/api/check", json={"spec": t2v}, headers={"origin": "http://testserver"}).status_code == 200
    assert client.get("/api/templates", headers={"origin": "http://attacker.example"}).status_code == 200


def test_the_login_token_opens_the_studio_and_nothing_else_does(tmp_path: Path) -> None:
    """The printed address (?token=...) sets a cookie for this port and drops the token from the address; after
    that the page and the API answer. A wrong token, no token, or another port's cookie get 401; scripts send
    the token as a bearer header; /healthz needs nothing."""
    from sora_core.studio.login import cookie_name, new_token

    token = new_token()
    assert len(token) == 32 and token != new_token()
    with TestClient(create_app(StudioSettings(data=tmp_path, token=token)), base_url="http://127.0.0.1:8100") as c:
        assert c.get("/healthz").status_code == 200
        refused = c.get("/api/templates")
        assert refused.status_code == 401 and refused.json()["error"]["field"] == "token"
        assert "?token=" in refused.json()["error"]["hint"]
        assert c.get("/").status_code == 401 and "login token" in c.get("/").text
        assert c.get("/?token=" + "0" * 32, follow_redirects=False).status_code == 401
        other_port = {"cookie": f"{cookie_name(8101)}={token}"}
        assert c.get("/api/templates", headers=other_port).status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/templates", headers=bearer).status_code == 200
        checked = c.post("/api/check", json={"spec": {"nodes": {}}}, headers=bearer)
        assert checked.status_code == 422 and checked.json()["error"]["field"] != "token"  # past the login
        login = c.get(f"/?token={token}&x=1", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/?x=1"
        set_cookie = login.headers["set-cookie"]
        assert set_cookie.startswith(f"{cookie_name(8100)}={token}") and "HttpOnly" in set_cookie
        assert "samesite=strict" in set_cookie.lower()
        assert c.get("/api/templates").status_code == 200  # the cookie, from now on


def test_runs_waiting_behind_the_running_one_are_capped(tmp_path: Path) -> None:
    """A flood of run requests cannot hold clips and threads without bound: past the cap, 429 and Retry-After."""
    import threading

    from sora_core.interfaces import PromptRewriter
    from sora_core.ports import PortSpec
    from sora_core.registry import Registry

    release = threading.Event()

    class Held(PromptRewriter):
        def input_ports(self) -> dict[str, PortSpec]:
            return {"prompt": PortSpec("str", "B")}

        def output_ports(self) -> dict[str, PortSpec]:
            return {"prompt": PortSpec("str", "B"), "report": PortSpec("any", "B")}

        def forward(self, prompt: list[str]) -> dict[str, Any]:
            release.wait(60)
            return {"prompt": prompt, "report": [{} for _ in prompt]}

    registry = Registry()
    registry.register("held", Held)
    spec = {"nodes": {"hold": {"particle": "runtime:held"}}, "inputs": {"prompt": ["hold.prompt"]},
            "outputs": {"prompt": "hold.prompt"}}  # fmt: skip
    with TestClient(create_app(StudioSettings(data=tmp_path), registry=registry)) as held:
        try:
            started = [start(held, spec, **{"input.prompt": PROMPT})]
            deadline = time.monotonic() + 60
            while held.get(f"/api/runs/{started[0].json()['id']}").json()["status"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            started += [start(held, spec, **{"input.prompt": PROMPT}) for _ in range(4)]  # four waiting
            assert [answer.status_code for answer in started] == [202] * 5, started[-1].text
            refused = start(held, spec, **{"input.prompt": PROMPT})
            assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
            assert "4 runs are already waiting" in refused.json()["error"]["message"]
        finally:
            release.set()
        assert all(wait_for(held, answer.json()["id"])["status"] == "done" for answer in started)
        assert start(held, spec, **{"input.prompt": PROMPT}).status_code == 202  # room again once they ended


# --- the command --------------------------------------------------------------------------------------------


def test_bad_flags_are_one_error_line() -> None:
    sora = [sys.executable, "-m", "sora_core.cli.main", "studio"]
    result = subprocess.run([*sora, "--port", "70000"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and result.stderr.startswith("error: --port 70000 is not a port number")


@pytest.mark.skipif(not page_built(), reason="the studio's page is not built (make setup builds it)")
def test_the_command_serves_the_page_and_the_spec_it_was_given(tmp_path: Path) -> None:
    import httpx2 as httpx

    sora = [sys.executable, "-m", "sora_core.cli.main", "studio"]
    unknown = subprocess.run([*sora, "t2w"], capture_output=True, text=True, timeout=60, check=False)
    assert unknown.returncode == 1 and "t2w" in unknown.stderr and "t2v" in unknown.stderr
    process = subprocess.Popen([*sora, "t2v", "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline() if process.stderr else ""
        assert line.startswith("Sora Studio with t2v on http://127.0.0.1:"), line
        address = line.split(" on ")[1].split(" ")[0]
        url, token = address.split("?token=")
        assert httpx.get(url + "api/session", timeout=30).status_code == 401  # the address without its token
        page = httpx.get(address, timeout=30, follow_redirects=True)
        assert page.status_code == 200 and "app.js" in page.text and str(page.url) == url
        session = httpx.get(url + "api/session", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        assert session["source"] == "t2v" and session["spec"]["inputs"] == {"prompt": ["rewriter.prompt"]}
        rebound = httpx.get(address, headers={"host": "rebound.example"}, timeout=30)
        assert rebound.status_code == 403 and rebound.json()["error"]["field"] == "Host"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
    assert os.environ.get("SORA_STUDIO_UNUSED") is None
