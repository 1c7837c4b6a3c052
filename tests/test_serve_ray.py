"""``sora serve --ray``: the pipeline's nodes as Ray Serve deployments on a real two-node cluster (the ``cluster``
fixture of conftest.py: ``ray start``, a head and a worker node on this machine).

One served pipeline (``--replicas sampler=2``) is deployed once for the module and compared with the local backend:
the same request makes the same video. Failures before deploying leave nothing on the cluster; a sampler replica
killed in the middle of a job fails that job with an error naming the node, and Ray Serve replaces the replica.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray.serve", reason="sora serve --ray needs pip install 'sora-core[ray]'")
pytest.importorskip("psutil")
pytest.importorskip("sora_dit", reason="sora serve runs the t2v template")

from starlette.testclient import TestClient

from sora_core.cli.main import main
from sora_core.serve.app import create_app
from sora_core.serve.backend import Backend
from sora_core.serve.settings import ServeSettings

FAST = {"frames": 5, "height": 64, "width": 64, "steps": 2, "candidates": 1}
NODES = ["rewriter", "prompts", "text_encoder", "sampler", "decoder", "compositor"]
RED = "a red circle moving right"


def applications() -> dict[str, Any]:
    from ray import serve

    return dict(serve.status().applications)


def replicas_running() -> dict[str, int]:
    """Each deployment of the served app and its running replicas."""
    app = applications()["sora.t2v"]
    return {name: status.replica_states.get("RUNNING", 0) for name, status in app.deployments.items()}


@pytest.fixture(scope="module")
def address(cluster: tuple[str, list[subprocess.Popen]]) -> str:
    """The cluster's address, this process connected to it as sora serve connects (no Ray logs on stderr)."""
    from sora_core.batch_ray import RayConnection

    RayConnection(cluster[0]).connect()
    return cluster[0]


@pytest.fixture(scope="module")
def remote(address: str) -> Iterator[Backend]:
    backend = Backend(ServeSettings(generator=FAST, ray=address, replicas={"sampler": 2}))
    try:
        yield backend
    finally:
        backend.close()
    assert "sora.t2v" not in applications()  # close deleted the application


@pytest.fixture
def client(remote: Backend, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ServeSettings(generator=FAST, data=tmp_path / "ray"), backend=remote)) as served:
        yield served


def generate(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/v1/generations", json=body)
    assert answer.status_code == 202, answer.text
    return wait(client, answer.json()["id"])


def wait(client: TestClient, job: str, until: tuple[str, ...] = ("done", "failed")) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (status := client.get(f"/v1/generations/{job}").json())["status"] not in until:
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    return status


def test_the_sora_serve_ray_process_says_where_it_runs_and_deletes_its_app(address: str, tmp_path: Path) -> None:
    """The real command: its startup line lists the deployments; stopped by SIGTERM, its Serve app is gone."""
    import urllib.request

    log = tmp_path / "serve.log"
    flags = [f"--{name}={value}" for name, value in FAST.items()]
    command = [str(Path(sys.executable).parent / "sora"), "serve", "--port", "0", "--data", str(tmp_path / "d")]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, *flags, "--ray", address, "--replicas", "decoder=2"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        line = log.read_text().strip().splitlines()[-1]
        port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            health = answer.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    deployments = ", ".join(f"t2v.{node} x{2 if node == 'decoder' else 1}" for node in NODES)
    assert f"; particles on Ray Serve: {deployments}; Ctrl-C stops" in line, log.read_text()
    assert deployments in health
    assert "Traceback" not in log.read_text(), log.read_text()
    assert "sora.t2v" not in applications()  # deleted when it stopped


def test_a_generation_on_ray_serve_is_the_local_one(remote: Backend, client: TestClient, tmp_path: Path) -> None:
    local = Backend(ServeSettings(generator=FAST))
    with TestClient(create_app(ServeSettings(generator=FAST, data=tmp_path / "local"), backend=local)) as here:
        videos = []
        for served in (here, client):
            job = generate(served, prompt=RED, steps=3, seed=5)  # steps 3: a reconfigured scheduler, sent along
            assert job["status"] == "done", job
            videos.append(served.get(job["video"]).content)
            assert job["progress"]["done"] == len(NODES)
    assert videos[0] == videos[1]
    assert client.get("/healthz").json()["particles"].startswith("particles on Ray Serve: t2v.rewriter x1")


def test_one_deployment_per_executed_node_with_its_replicas(remote: Backend) -> None:
    running = replicas_running()
    assert running == {"t2v.nodes": 1, **{f"t2v.{node}": 2 if node == "sampler" else 1 for node in NODES}}
    # component-only nodes (denoiser, scheduler, scorer) are built inside the sampler's deployment
    assert not {"t2v.denoiser", "t2v.scheduler", "t2v.scorer"} & set(running)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["no-such-template"], "no installed plugin provides the pipeline template 'no-such-template'"),
        (["--replicas", "denoiser=2"], "--replicas: pipeline 't2v' has no executed node 'denoiser' (denoiser: built"),
        (["--replicas", "sampler=two"], "--replicas 'sampler=two' is not NODE=N"),
        (["--set", "sampler.frames=6"], "field 'frames' = 6"),
        ([], "Ray Serve already runs an application 'sora.t2v'"),  # the module's served pipeline holds the name
    ],
)
def test_a_bad_serve_fails_before_anything_is_deployed(
    remote: Backend, address: str, capsys, tmp_path: Path, flags: list[str], words: str
) -> None:
    before = replicas_running()
    command = ["serve", "--port", "0", "--data", str(tmp_path / "d"), "--ray", address, *flags]
    assert main([*command, *[f"--{name}={value}" for name, value in FAST.items()]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err, err
    assert list(applications()) == ["sora.t2v"] and replicas_running() == before


def test_replicas_without_ray_and_a_bad_address_are_refused(capsys) -> None:
    assert main(["serve", "--replicas", "sampler=2"]) == 1
    assert "error: --replicas is for --ray" in capsys.readouterr().err
    assert main(["serve", "--ray", "nowhere"]) == 1
    assert "error: --ray 'nowhere' is not a cluster address" in capsys.readouterr().err


def test_a_sampler_replica_killed_mid_job_fails_that_job_and_is_replaced(
    remote: Backend, client: TestClient, cluster: tuple[str, list[subprocess.Popen]], ray_processes
) -> None:
    """SIGKILL to the sampler's replicas while the job is in the sampler: the job fails with an error naming the
    node and a hint; Ray Serve starts new replicas, and the next job is done (the same video as before)."""
    _, nodes = cluster
    before = generate(client, prompt=RED, seed=3)
    slow = client.post("/v1/generations", json={"prompt": RED, "seed": 3, "steps": 200, "frames": 9}).json()["id"]
    deadline = time.monotonic() + 120
    while client.get(f"/v1/generations/{slow}").json()["progress"].get("done", 0) < NODES.index("sampler"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # an idle replica's process is titled ray::ServeReplica:APP:DEPLOYMENT, a busy one ray::sampler.METHOD
    replicas = ray_processes(nodes, "ServeReplica:sora.t2v:t2v.sampler") + ray_processes(nodes, "ray::sampler.")
    assert len(replicas) == 2, replicas
    for pid in replicas:
        os.kill(pid, signal.SIGKILL)
    failed = wait(client, slow)
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith("node 'sampler' on Ray Serve (t2v.sampler) failed: "), failed
    assert "Ray Serve replaces a replica that died" in failed["hint"]

    while replicas_running()["t2v.sampler"] < 2:
        assert time.monotonic() < deadline, replicas_running()
        time.sleep(0.2)
    after = generate(client, prompt=RED, seed=3)
    assert after["status"] == "done", after
    assert client.get(after["video"]).content == client.get(before["video"]).content
