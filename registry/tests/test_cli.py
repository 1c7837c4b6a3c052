"""The sora-registry command: tokens, owners, verify, serve; errors as one line and a hint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sora_registry import tokens
from sora_registry.cli import main
from sora_registry.service import RegistryService
from sora_registry.settings import Settings, parse_size
from sora_registry.testing import ParticleSpec, free_port, plugin_wheel, request, upload


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_tokens_are_shown_once_stored_hashed_listed_and_revoked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, out, _ = run(capsys, "token", "create", "--data", data, "--user", "alice", "--label", "CI")
    assert code == 0
    token_id, secret = out.split()[1], out.strip().splitlines()[-1]
    assert secret.startswith("sora_") and len(secret) == 48
    catalog_bytes = (data / "catalog.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in data.glob("catalog*"))
    assert secret.encode() not in catalog_bytes
    assert tokens.digest(secret).encode() in catalog_bytes
    code, out, _ = run(capsys, "token", "list", "--data", data)
    assert code == 0 and token_id in out and "alice" in out and "CI" in out and "active" in out and secret not in out
    code, out, _ = run(capsys, "token", "list", "--data", data, "--json")
    assert [(t["token_id"], t["user"], t["revoked"]) for t in json.loads(out)] == [(token_id, "alice", None)]
    assert run(capsys, "token", "revoke", "--data", data, token_id)[0] == 0
    assert "revoked" in run(capsys, "token", "list", "--data", data)[1]
    code, _, err = run(capsys, "token", "revoke", "--data", data, token_id)
    assert code == 1 and err.startswith("error: no active token with id") and "hint: " in err


def test_owners_are_added_listed_and_removed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(capsys, "owner", "add", "--data", data, "My_Plugin", "alice")[1] == "'alice' now owns 'my-plugin'\n"
    assert "already owns" in run(capsys, "owner", "add", "--data", data, "my-plugin", "alice")[1]
    run(capsys, "owner", "add", "--data", data, "other", "bob")
    assert json.loads(run(capsys, "owner", "list", "--data", data, "--json")[1]) == [
        {"project": "my-plugin", "user": "alice"},
        {"project": "other", "user": "bob"},
    ]
    assert run(capsys, "owner", "list", "--data", data, "other")[1].split() == ["PROJECT", "USER", "other", "bob"]
    assert run(capsys, "owner", "remove", "--data", data, "my-plugin", "alice")[0] == 0
    code, _, err = run(capsys, "owner", "remove", "--data", data, "my-plugin", "alice")
    assert code == 1 and "is not an owner" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "list", "--data", "{tmp}/nothing"], "holds no registry"),
        (["token", "create", "--data", "{tmp}/d", "--user", "bad user!"], "user name 'bad user!' is invalid"),
        (["owner", "add", "--data", "{tmp}/d", "../evil", "alice"], "project name '../evil' is not a valid"),
        (["token", "create", "--data", "{tmp}/file", "--user", "alice"], "cannot be"),
    ],
)
def test_errors_are_one_line_and_a_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    code, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 1, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: ") and message in lines[0], err
    assert lines[1].startswith("  hint: ") and len(lines) == 2, err


def test_sizes_parse_with_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert [parse_size(s) for s in ("200MB", "1GiB", "64kB", "1000", "1.5 MB")] == [
        200_000_000,
        2**30,
        64_000,
        1000,
        1_500_000,
    ]
    with pytest.raises(SystemExit):
        main(["serve", "--data", "x", "--max-upload-size", "lots"])
    assert "is not a number of bytes" in capsys.readouterr().err


def test_verify_reports_missing_corrupt_and_orphaned_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from sora_registry.testing import LiveServer, create_token

    data = tmp_path / "data"
    with LiveServer(data) as server:
        secret = create_token(server.service, "alice")
        for version in ("1.0", "2.0", "3.0"):
            wheel = plugin_wheel(tmp_path / version, "demo", [ParticleSpec("enc")], version=version)
            assert upload(server.url, wheel, secret).status == 201
    assert run(capsys, "verify", "--data", data)[1] == "3 files checked, 0 problems\n"
    files = data / "files" / "demo"
    (files / "demo-1.0-py3-none-any.whl").unlink()
    (files / "demo-2.0-py3-none-any.whl").write_bytes(b"tampered")
    (files / "demo-9.0-py3-none-any.whl").write_bytes(b"left by a crash")
    code, out, _ = run(capsys, "verify", "--data", data)
    assert code == 1
    assert "missing: demo/demo-1.0-py3-none-any.whl" in out
    assert "corrupt: demo/demo-2.0-py3-none-any.whl has 8 bytes" in out
    assert "orphan: demo/demo-9.0-py3-none-any.whl" in out
    assert out.endswith("3 files checked, 3 problems\n")


def test_serve_runs_the_registry(tmp_path: Path) -> None:
    port = free_port()
    data = str(tmp_path / "data")
    command = [sys.executable, "-m", "sora_registry.cli", "serve", "--data", data, "--port", str(port),
               "--max-upload-size", "10kB", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.05)
        service = RegistryService(Settings(tmp_path / "data"))
        new = tokens.generate()
        service.catalog.add_token(new.token_id, "alice", new.digest, "")
        service.close()
        wheel = plugin_wheel(tmp_path / "w", "demo", [ParticleSpec("enc")])
        wheel.write_bytes(wheel.read_bytes() + b"\0" * 10_000)
        reply = upload(f"http://127.0.0.1:{port}", wheel, new.secret)
        assert reply.status == 413 and "10000 bytes (10.0 kB)" in reply.json()["error"]
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert f"on http://127.0.0.1:{port}/" in out and "max upload 10.0 kB" in out
    assert os.path.isfile(tmp_path / "data" / "catalog.sqlite3")


def test_serve_on_a_busy_port_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--data", str(tmp_path / "data"), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot serve on 127.0.0.1:{port}" in err and "--port" in err and "Traceback" not in err


def test_backup_copies_a_consistent_snapshot_incrementally(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from sora_registry.testing import LiveServer, create_token

    data, copy = tmp_path / "data", tmp_path / "backup"
    with LiveServer(data) as server:
        secret = create_token(server.service, "alice")
        for version in ("1.0", "2.0"):
            wheel = plugin_wheel(tmp_path / version, "demo", [ParticleSpec("enc")], version=version)
            assert upload(server.url, wheel, secret).status == 201
        code, out, _ = run(capsys, "backup", "--data", data, "--to", copy)  # while serving
        assert code == 0 and "2 files copied" in out
        wheel = plugin_wheel(tmp_path / "3.0", "demo", [ParticleSpec("enc")], version="3.0")
        assert upload(server.url, wheel, secret).status == 201
        code, out, _ = run(capsys, "backup", "--data", data, "--to", copy)
        assert code == 0 and "1 files copied" in out and "2 already there" in out
    assert run(capsys, "verify", "--data", copy)[1] == "3 files checked, 0 problems\n"
    with LiveServer(copy) as restored:
        assert [f.version for f in restored.service.catalog.files("demo")] == ["1.0", "2.0", "3.0"]
        assert request(f"{restored.url}/api/v1/particles?q=demo").json()["particles"][0]["version"] == "3.0"
        assert restored.service.uploader.authenticate(f"Bearer {secret}") == "alice"
    (data / "files" / "demo" / "demo-1.0-py3-none-any.whl").write_bytes(b"rotten")
    code, _, err = run(capsys, "backup", "--data", data, "--to", tmp_path / "second")
    assert code == 1 and "demo/demo-1.0-py3-none-any.whl has sha256" in err


def test_the_server_and_its_commands_never_import_torch() -> None:
    code = (
        "import sys\n"
        "import sora_registry.app, sora_registry.cli, sora_registry.backup, sora_registry.consistency\n"
        "import sora_registry.testing\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
