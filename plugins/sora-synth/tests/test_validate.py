"""``python -m sora_synth.validate``: the report, and its exit status."""

from __future__ import annotations

import pytest
from sora_synth import validate
from sora_synth.degrade import DEGRADATIONS


def test_the_report_prints_every_set_and_condition(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main(["--clips", "24"]) == 0
    out = capsys.readouterr().out
    assert "ms" in out.splitlines()[0]
    for condition in ("clean", *DEGRADATIONS):
        assert f"held-out, {condition}" in out
    assert "paraphrase, clean" in out and "training, clean" in out
    assert out.rstrip().endswith("clean agreement >= 98% on every attribute")


def test_a_failing_evaluator_fails_the_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(validate, "REQUIRED", 1.01)
    assert validate.main(["--clips", "8"]) == 1
    assert "FAILED" in capsys.readouterr().out
