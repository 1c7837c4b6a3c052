"""Twenty publishes at once against a real server: all stored, the catalog consistent."""

from __future__ import annotations

import threading
from pathlib import Path

from sora_registry.consistency import verify
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, request, upload


def test_twenty_concurrent_publishes_are_all_stored_consistently(server: LiveServer, wheels: Path) -> None:
    # 5 projects x 4 versions, from 5 users (one per project), all released at the same moment.
    jobs = []
    for p in range(5):
        secret = create_token(server.service, f"user{p}")
        for v in range(4):
            spec = ParticleSpec(f"enc{v}", description=f"project {p} version {v}")
            wheel = plugin_wheel(wheels / f"{p}-{v}", f"proj{p}", [spec, ParticleSpec("common")], version=f"1.{v}")
            jobs.append((wheel, secret))
    start = threading.Barrier(len(jobs))
    replies: dict[str, int] = {}

    def publish(wheel: Path, secret: str) -> None:
        start.wait()
        replies[wheel.name] = upload(server.url, wheel, secret).status

    threads = [threading.Thread(target=publish, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(replies.values()) == [201] * 20, replies
    catalog = server.service.catalog
    assert catalog.projects() == [f"proj{p}" for p in range(5)]
    assert catalog.counts() == {"projects": 5, "files": 20, "particles": 10}
    for p in range(5):
        project = catalog.project(f"proj{p}")
        assert [v["version"] for v in project["versions"]] == ["1.3", "1.2", "1.1", "1.0"]
        assert project["owners"] == [f"user{p}"]
        # The latest release's particles are the searchable ones, whatever order the uploads landed in.
        found = request(f"{server.url}/api/v1/particles?q=proj{p}:").json()
        assert sorted((x["short_name"], x["version"]) for x in found["particles"]) == [
            ("common", "1.3"),
            ("enc3", "1.3"),
        ]
        simple = request(f"{server.url}/simple/proj{p}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        assert len(simple.json()["files"]) == 4
    report = verify(server.service)
    assert (report.checked, report.problems) == (20, [])
    assert list(server.service.settings.staging_dir.iterdir()) == []


def test_racing_uploads_of_one_version_publish_exactly_one(server: LiveServer, wheels: Path) -> None:
    secret = create_token(server.service, "alice")
    contenders = [
        plugin_wheel(wheels / str(i), "demo", [ParticleSpec("enc", description=f"contender {i}")]) for i in range(8)
    ]
    start = threading.Barrier(len(contenders))
    statuses: list[int] = []

    def publish(wheel: Path) -> None:
        start.wait()
        statuses.append(upload(server.url, wheel, secret).status)

    threads = [threading.Thread(target=publish, args=(w,)) for w in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 7
    (record,) = server.service.catalog.files("demo")
    winner = next(w for w in contenders if upload_sha(w) == record.sha256)
    assert request(f"{server.url}/files/demo/{record.filename}").body == winner.read_bytes()
    assert verify(server.service).problems == []


def upload_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
