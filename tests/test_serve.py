"""``sora serve``: the HTTP API on starlette's in-process TestClient, and once as a real ``sora serve`` process.

One small, fast t2v pipeline (5 frames of 64x64, 2 steps, 1 candidate) is built once for the module and shared
by every app; each test gets its own data folder. The worker is paused (``queue.pause()``) where a test needs
jobs to wait in the queue: a full queue, a cancelled job, a batch of two.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from sora_core import tokens
from sora_core.api import load_video
from sora_core.errors import SoraWarning
from sora_core.serve.app import create_app
from sora_core.serve.backend import Backend
from sora_core.serve.jobs import STOPPED_RUNNING
from sora_core.serve.settings import ServeSettings

FAST = {"frames": 5, "height": 64, "width": 64, "steps": 2, "candidates": 1}
RED = "a red circle moving right"
BLUE = "a blue square moving left"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return Backend(ServeSettings(generator=FAST))


@pytest.fixture
def make_client(backend: Backend, tmp_path: Path) -> Iterator[Any]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        settings.setdefault("data", tmp_path / "data")
        client = TestClient(create_app(ServeSettings(generator=FAST, **settings), backend=backend))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def queue(client: TestClient) -> Any:
    return client.app.state.server.queue


def wait_for(client: TestClient, job_id: str, statuses: tuple[str, ...] = ("done", "failed")) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/generations/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


def submit(client: TestClient, **body: Any) -> str:
    answer = client.post("/v1/generations", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    return answer.json()["id"]


def test_submit_poll_and_download_a_video(make_client: Any, tmp_path: Path) -> None:
    client = make_client()
    job_id = submit(client, prompt=RED, seed=3)
    assert client.get(f"/v1/generations/{job_id}").json()["status"] in ("queued", "running", "done")
    job = wait_for(client, job_id)
    assert job["status"] == "done", job
    assert job["progress"]["fraction"] == 1.0 and job["progress"]["done"] == job["progress"]["total"] > 0
    assert job["batch"] == {"size": 1, "index": 0}
    assert job["settings"] == {"frames": 5, "height": 64, "width": 64, "steps": 2, "guidance": 4.0, "seed": 3}
    assert job["video"] == f"/v1/generations/{job_id}/video"
    answer = client.get(job["video"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    (tmp_path / "got.mp4").write_bytes(answer.content)
    assert load_video(tmp_path / "got.mp4").shape == (5, 64, 64)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "prompt", "required"),
        ({"prompt": 3}, "prompt", "not a string"),
        ({"prompt": "   "}, "prompt", "empty"),
        ({"prompt": "x" * 501}, "prompt", "over the limit"),
        ({"prompt": RED, "colour": "red"}, "colour", "unknown field"),
        ({"prompt": RED, "frames": "9"}, "frames", "not a integer"),
        ({"prompt": RED, "frames": True}, "frames", "not a integer"),
        ({"prompt": RED, "frames": 6}, "frames", "1 + k"),
        ({"prompt": RED, "height": 60}, "height", "multiple of"),
        ({"prompt": RED, "width": 100_000}, "width", "over the limits"),
        ({"prompt": RED, "guidance": -1}, "guidance", "out of range"),
        ({"prompt": RED, "seed": -1}, "seed", "out of range"),
        ({"prompt": RED, "steps": 0}, "steps", "steps"),
        (["a list"], None, "not an object"),
    ],
)
def test_bad_requests_name_the_field_and_the_fix(make_client: Any, body: Any, field: str | None, words: str) -> None:
    answer = make_client().post("/v1/generations", json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["field"] == field and words in problem["error"] and problem["hint"], problem


def test_a_long_poll_answers_when_the_job_ends_or_its_wait_is_up(make_client: Any) -> None:
    """?wait=S answers once the job has finished (one request instead of a polling loop), or after S seconds
    with the status then; a bad wait names the field; the parameter is in the OpenAPI document."""
    client = make_client()
    queue(client).pause()
    job = submit(client, prompt=RED)
    began = time.monotonic()
    waited = client.get(f"/v1/generations/{job}?wait=0.3").json()
    assert waited["status"] == "queued" and time.monotonic() - began >= 0.3  # its wait was up first
    queue(client).resume()
    began = time.monotonic()
    done = client.get(f"/v1/generations/{job}?wait=60").json()
    assert done["status"] == "done" and time.monotonic() - began < 30  # when it ended, long before its wait was up
    assert client.get(f"/v1/generations/{job}?wait=0").json()["status"] == "done"
    for bad in ("-1", "61", "nan", "soon"):
        refused = client.get(f"/v1/generations/{job}?wait={bad}")
        assert refused.status_code == 422 and refused.json()["field"] == "wait", bad
    parameters = client.get("/openapi.json").json()["paths"]["/v1/generations/{id}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["id", "wait"]


def test_malformed_json_unknown_ids_and_routes_are_4xx(make_client: Any) -> None:
    client = make_client()
    answer = client.post("/v1/generations", content=b"{nope", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]
    assert client.post("/v1/generations", content=b"x" * 70_000).status_code == 413
    for path in ("/v1/generations/0123456789abcdef", "/v1/generations/../../etc", "/v1/generations/abc/video"):
        assert client.get(path).status_code == 404, path
    assert client.get("/v2/nothing").json()["hint"]
    assert client.put("/v1/generations").status_code == 405


def test_a_full_queue_answers_429_with_retry_after(make_client: Any) -> None:
    client = make_client(max_queue=1)
    queue(client).pause()
    first = submit(client, prompt=RED)
    answer = client.post("/v1/generations", json={"prompt": BLUE})
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert "queue is full" in answer.json()["error"]
    assert client.get(f"/v1/generations/{first}/video").status_code == 409  # not done
    queue(client).resume()
    assert wait_for(client, first)["status"] == "done"
    submit(client, prompt=BLUE)  # room again


def test_a_cancelled_queued_job_never_runs(make_client: Any) -> None:
    client = make_client()
    queue(client).pause()
    cancelled, kept = submit(client, prompt=RED), submit(client, prompt=BLUE)
    answer = client.delete(f"/v1/generations/{cancelled}")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    queue(client).resume()
    assert wait_for(client, kept)["batch"] == {"size": 1, "index": 0}
    assert client.get(f"/v1/generations/{cancelled}").json()["status"] == "cancelled"
    assert client.get(f"/v1/generations/{cancelled}/video").status_code == 409
    again = client.post(f"/v1/generations/{kept}/cancel")
    assert again.status_code == 409 and "already done" in again.json()["error"]


def test_a_job_cancelled_while_running_drops_its_video(make_client: Any) -> None:
    client = make_client()
    started, release = threading.Event(), threading.Event()
    real = queue(client).generate

    def slow(requests: Any, progress: Any) -> Any:
        started.set()
        assert release.wait(30)
        return real(requests, progress)

    queue(client).generate = slow
    job_id = submit(client, prompt=RED)
    assert started.wait(30)
    assert client.get(f"/v1/generations/{job_id}").json()["status"] == "running"
    assert client.delete(f"/v1/generations/{job_id}").json()["status"] == "cancelled"
    release.set()
    queue(client).stop(timeout=30)  # the batch ends; its video is not kept
    assert client.get(f"/v1/generations/{job_id}").json()["status"] == "cancelled"
    assert client.get(f"/v1/generations/{job_id}/video").status_code == 409
    assert not client.app.state.server.store.video_path(job_id).exists()


def test_compatible_jobs_run_as_one_batch_and_others_apart(make_client: Any) -> None:
    client = make_client()
    queue(client).pause()
    together = [submit(client, prompt=RED, seed=1), submit(client, prompt=BLUE, seed=1)]
    apart = submit(client, prompt=BLUE, seed=2)  # another seed: another noise stream, another call
    queue(client).resume()
    jobs = [wait_for(client, job_id) for job_id in [*together, apart]]
    assert [job["status"] for job in jobs] == ["done"] * 3
    assert [job["batch"] for job in jobs] == [{"size": 2, "index": 0}, {"size": 2, "index": 1}, {"size": 1, "index": 0}]


def test_a_prompt_that_fails_its_batch_fails_alone(make_client: Any) -> None:
    client = make_client()
    queue(client).pause()
    good, bad = submit(client, prompt=RED), submit(client, prompt="a cat playing the piano")
    queue(client).resume()
    assert wait_for(client, good)["status"] == "done"
    failed = wait_for(client, bad)
    assert failed["status"] == "failed" and "names nothing" in failed["error"] and failed["hint"]


def test_a_restart_serves_finished_jobs_and_fails_interrupted_ones(make_client: Any, tmp_path: Path) -> None:
    data = tmp_path / "kept"
    first = make_client(data=data)
    done = submit(first, prompt=RED)
    assert wait_for(first, done)["status"] == "done"
    first.__exit__(None, None, None)
    record = json.loads((data / "jobs" / f"{done}.json").read_text())
    running = dict(record, id="00000000000000aa", status="running", batch={"size": 1, "index": 0})
    (data / "jobs" / "00000000000000aa.json").write_text(json.dumps(running))
    queued = dict(record, id="00000000000000bb", status="queued")
    (data / "jobs" / "00000000000000bb.json").write_text(json.dumps(queued))

    second = make_client(data=data)
    assert second.get(f"/v1/generations/{done}").json()["status"] == "done"
    assert second.get(f"/v1/generations/{done}/video").status_code == 200
    interrupted = second.get("/v1/generations/00000000000000aa").json()
    assert interrupted["status"] == "failed" and interrupted["error"] == STOPPED_RUNNING
    assert "queued" in second.get("/v1/generations/00000000000000bb").json()["error"]
    on_disk = json.loads((data / "jobs" / "00000000000000aa.json").read_text())
    assert on_disk["status"] == "failed"


def test_bearer_tokens(make_client: Any) -> None:
    token = tokens.generate()
    client = make_client(token_digests=frozenset({token.digest}))
    assert client.get("/healthz").status_code == 200  # public
    missing = client.get("/v1/generations/0123456789abcdef")
    assert missing.status_code == 401 and missing.json()["field"] == "Authorization"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = {"Authorization": f"Bearer {tokens.generate().secret}"}
    assert client.post("/v1/generations", json={"prompt": RED}, headers=wrong).status_code == 401
    malformed = client.get("/v1/generations/x", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401 and "Bearer" in malformed.json()["error"]
    right = {"Authorization": f"Bearer {token.secret}"}
    job_id = client.post("/v1/generations", json={"prompt": RED}, headers=right).json()["id"]
    assert client.get(f"/v1/generations/{job_id}", headers=right).status_code == 200


def test_requests_other_sites_make_a_browser_send_are_refused(make_client: Any) -> None:
    """DNS rebinding (another site's name pointed at 127.0.0.1) and cross-site form posts get 403 naming the
    header; clients that are not browsers (no Origin) and names allowed with --allow-host get through."""
    from sora_core.http_guard import trusted_hosts

    client = make_client(trusted_hosts=trusted_hosts("127.0.0.1", ["sora.example"]))
    client.base_url = "http://127.0.0.1:8000"
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"host": "sora.example"}).status_code == 200  # --allow-host
    rebound = client.get("/healthz", headers={"host": "rebound.example:8000"})
    assert rebound.status_code == 403 and rebound.json()["field"] == "Host"
    assert "--allow-host" in rebound.json()["hint"]
    posted = client.post("/v1/generations", json={"prompt": RED}, headers={"origin": "http://attacker.example"})
    assert posted.status_code == 403 and posted.json()["field"] == "Origin"
    assert client.get("/healthz").json()["queued"] == 0  # nothing was queued
    assert trusted_hosts("0.0.0.0") is None  # on a network address any name reaches it anyway


def test_token_files(tmp_path: Path) -> None:
    from sora_core.errors import ConfigError
    from sora_core.serve.auth import add_token, read_token_file

    path = tmp_path / "tokens.txt"
    first, second = add_token(path), add_token(path)
    assert read_token_file(path) == {first.digest, second.digest}
    path.write_text(first.secret + "\n")
    with pytest.raises(ConfigError, match="line 1: not a sha256 digest"):
        read_token_file(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from sora_core.api import generate

    path = tmp_path_factory.mktemp("clip") / "red.mp4"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SoraWarning)  # 5 frames: fewer than the weights were trained on
        generate(RED, **FAST).save(path)
    return path.read_bytes()


def test_caption_answer_and_summary_of_an_upload(make_client: Any, clip: bytes) -> None:
    client = make_client()
    upload = {"video": ("red.mp4", clip, "video/mp4")}
    caption = client.post("/v1/captions", files=upload)
    assert caption.status_code == 200 and "red circle" in caption.json()["caption"].lower()
    answer = client.post("/v1/answers", files=upload, data={"question": "what colour is it?"})
    assert answer.status_code == 200 and answer.json() == {
        "question": "what colour is it?",
        "answer": "red",
        "warnings": [],
    }
    summary = client.post("/v1/summaries", files=upload)
    assert summary.status_code == 200 and "summary" in summary.json() and "key_frames" in summary.json()


@pytest.mark.parametrize(
    ("files", "data", "status", "field"),
    [
        ({"video": ("clip.mp4", b"not a video", "video/mp4")}, {}, 422, "video"),
        ({"video": ("notes.txt", b"hello", "text/plain")}, {}, 415, "video"),
        ({"clip": ("clip.mp4", b"x", "video/mp4")}, {}, 422, "clip"),
        ({}, {"video": "text"}, 415, "video"),
    ],
)
def test_bad_uploads_name_the_field(make_client: Any, files: Any, data: Any, status: int, field: str) -> None:
    answer = make_client().post("/v1/captions", files=files or None, data=data)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field and "/uploads/" not in answer.json()["error"]


def test_too_large_uploads_and_missing_questions(make_client: Any, clip: bytes) -> None:
    client = make_client(max_upload=1000)
    answer = client.post("/v1/captions", files={"video": ("big.mp4", b"0" * 5000, "video/mp4")})
    assert answer.status_code == 413 and answer.json()["field"] == "video"
    roomy = make_client(data=client.app.state.server.settings.data.parent / "roomy")
    missing = roomy.post("/v1/answers", files={"video": ("red.mp4", clip, "video/mp4")})
    assert missing.status_code == 422 and missing.json()["field"] == "question"


def test_openapi_lists_every_route_and_field(make_client: Any) -> None:
    client = make_client()
    document = client.get("/openapi.json").json()
    routes = {(m.lower(), r.path) for r in client.app.routes for m in r.methods if m != "HEAD"}
    listed = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert routes == listed
    body = document["paths"]["/v1/generations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"prompt", "frames", "height", "width", "seed", "steps", "guidance"}
    answers = document["paths"]["/v1/answers"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(answers["properties"]) == {"video", "question"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The real ``sora serve t2v`` on ``port``, answering ``/healthz``; its output goes to ``log``."""
    sora = Path(sys.executable).parent / "sora"
    flags = [f"--{name}={value}" for name, value in FAST.items()]
    command = [str(sora), "serve", "t2v", "--port", str(port), "--data", str(data), *flags]
    with log.open("a") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 120
    while True:
        try:
            assert http(port, "GET", "/healthz")["status"] == "ok"
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError("sora serve did not answer /healthz:\n" + log.read_text()) from None
            time.sleep(0.2)


def http(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request to the server on ``port``: the JSON it answers (an ``HTTPError`` for a 4xx or 5xx)."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def stop(process: subprocess.Popen[bytes], signal_number: int = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal_number)
    process.wait(timeout=60)


def test_the_sora_serve_process(tmp_path: Path) -> None:
    """The real command: uvicorn on a free port, one request, stopped by the PID of the process started here."""
    port, log = free_port(), tmp_path / "serve.log"
    process = start_server(tmp_path / "data", port, log)
    try:
        assert http(port, "POST", "/v1/generations", {"prompt": RED})["status"] == "queued"
        import urllib.error
        import urllib.request

        rebound = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "rebound.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        assert refused.value.code == 403
        second = subprocess.run(  # one server a data folder: a second is refused before it builds anything
            [sys.executable, "-m", "sora_core.cli.main", "serve", "--port", "0", "--data", str(tmp_path / "data")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        assert f"another sora serve (process {process.pid}) uses this folder" in second.stderr
        assert "hint: stop that server, or give this one another --data folder" in second.stderr
    finally:
        stop(process)
    assert f"serving t2v on http://127.0.0.1:{port}" in log.read_text()


def test_the_announced_address_takes_connections_before_the_server_loop_runs() -> None:
    """The start-up line is printed before uvicorn's loop starts: the socket already listens by then, so a
    client that connects on reading the line waits in the backlog instead of being refused."""
    from sora_core.cli.serve_command import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()


def test_a_killed_server_keeps_finished_jobs_and_fails_running_ones(tmp_path: Path) -> None:
    """SIGKILL mid-batch (no chance to clean up): the next server on the same data folder serves the finished
    job's video and reports the running and queued jobs failed; nothing runs again."""
    data, port, log = tmp_path / "data", free_port(), tmp_path / "serve.log"
    process = start_server(data, port, log)
    try:
        finished = http(port, "POST", "/v1/generations", {"prompt": RED})["id"]
        deadline = time.monotonic() + 120
        while http(port, "GET", f"/v1/generations/{finished}")["status"] != "done":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        slow = {"prompt": BLUE, "steps": 200, "frames": 9}  # long enough to be caught running
        running = http(port, "POST", "/v1/generations", slow)["id"]
        waiting = http(port, "POST", "/v1/generations", {**slow, "seed": 7})["id"]  # another seed: not batched
        while http(port, "GET", f"/v1/generations/{running}")["status"] != "running":
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        assert http(port, "GET", f"/v1/generations/{waiting}")["status"] == "queued"
    finally:
        stop(process, 9)
    assert process.returncode == -9
    video = data / "videos" / f"{finished}.mp4"
    kept = video.read_bytes()
    half_written = data / "videos" / f".{running}.mp4-k1ll3d.mp4"  # as a write cut off by the SIGKILL leaves it
    half_written.write_bytes(b"\x00" * 100)
    not_ours = data / "videos" / ".notes"
    not_ours.write_text("kept\n")

    port = free_port()
    process = start_server(data, port, log)
    try:
        assert http(port, "GET", f"/v1/generations/{finished}")["status"] == "done"
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/generations/{finished}/video", timeout=10) as got:
            assert got.read() == kept
        interrupted = http(port, "GET", f"/v1/generations/{running}")
        assert interrupted["status"] == "failed" and interrupted["error"] == STOPPED_RUNNING
        assert interrupted["hint"] == "submit the request again"
        never_ran = http(port, "GET", f"/v1/generations/{waiting}")
        assert never_ran["status"] == "failed" and "queued" in never_ran["error"]
        assert http(port, "GET", "/healthz")["queued"] == 0
    finally:
        stop(process)
    assert not (data / "videos" / f"{running}.mp4").exists()
    assert not half_written.exists() and not_ours.read_text() == "kept\n"  # swept at start-up, nothing else
    not_ours.unlink()
    assert not [p for p in (data / "videos").iterdir() if p.suffix != ".mp4"], "a half-written video was left"


def test_a_bad_template_or_port_is_an_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sora_core.cli.main import main

    assert main(["serve", "no-such-template", "--port", "0", "--data", str(tmp_path / "d")]) == 1
    assert "error: no installed plugin provides the pipeline template 'no-such-template'" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--data", str(tmp_path / "d")]) == 1
    assert "cannot listen there" in capsys.readouterr().err


def test_serve_token_prints_the_secret_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sora_core.cli.main import main

    path = tmp_path / "tokens.txt"
    assert main(["serve-token", "--token-file", str(path)]) == 0
    secret = capsys.readouterr().out.strip()
    assert path.read_text().split() == [tokens.digest(secret)]
    assert secret not in path.read_text()
