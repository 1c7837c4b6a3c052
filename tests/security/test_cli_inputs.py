"""Bad values given to ``sora run``/``load``/``generate`` and pipeline specs: one clean error each, never "unexpected".

Every refusal exits 1 with ``error: ...`` naming the flag, port, field or file and a ``hint:`` line, and
happens before anything is allocated or written.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.cli.main import main
from sora_core.errors import ConfigError, CorruptWeightsError, PipelineError, PortError, SpecError
from sora_core.limits import MAX_SEED, create_particle
from sora_core.pipeline import Pipeline
from sora_core.pipeline.spec import load_spec
from sora_core.pipeline.values import parse_value

TEXT = {"dtype": "float32", "shape": "B L E=512"}
VIDEO_FEATURES = "video_features=randn:1,2,512"


def sora(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *fragments: str) -> None:
    assert code == 1, err
    lines = err.splitlines()
    assert lines[0].startswith("error: "), err
    assert any(line.startswith("  hint: ") for line in lines[1:]), err
    assert "unexpected" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


# --- --input values ---------------------------------------------------------------------------------------------

BAD_INPUTS = [
    ("randn:100000,100000,100000", "over the 1 GiB limit on one input"),
    ("zeros:70000,70000", "SORA_MAX_INPUT_BYTES"),
    ("randn:99999999999999999999", "over the 1 GiB limit"),
    ("randn:-1,3,512", "needs sizes like randn:16,10,512"),
    ("randn:", "needs sizes like"),
    ("rand:1,,512", "needs sizes like"),
    ("ones:1.5,2,512", "needs sizes like"),
    ("randn:abc", "needs sizes like"),
    ("randn:" + ",".join(["1"] * 17), "more than 16"),
    ("randn:1,2,384", "has shape [1, 2, 384]; the port expects float32[B L E=512]"),
    ("randn:2,512", "has shape [2, 512]"),
    ("[[1,2],[3]]", "ragged list"),
    ('"hello"', "is text; the port expects float32[B L E=512]"),
    ('{"a": 1}', "is a JSON object"),
    ("null", "is null"),
    ('[1, "a"]', "not a rectangular list of numbers"),
    ("99999999999999999999", "a number too large"),
    ("[" * 100_000 + "]" * 100_000, "is not a value for a port"),
    ("[[[1.0]]]", "has shape [1, 1, 1]"),
    ("not-a-tensor", "is not a value for a port expecting float32[B L E=512]"),
    ("missing.safetensors", "missing.safetensors does not exist"),
]


@pytest.mark.parametrize(("value", "expected"), BAD_INPUTS)
def test_bad_inputs_are_port_errors(capsys: pytest.CaptureFixture[str], value: str, expected: str) -> None:
    with pytest.raises(PortError, match="input 'text'") as caught:
        parse_value("text", value, TEXT)
    assert expected in str(caught.value)
    code, err = sora(capsys, "run", "seed", "--input", f"text={value}", "--input", VIDEO_FEATURES)
    assert_refused(code, err, "input 'text'", expected)


@pytest.mark.parametrize(
    ("value", "spec", "expected"),
    [
        ("[1.5, 2]", {"dtype": "int64", "shape": "B"}, "fractional numbers"),
        ("[2, 0]", {"dtype": "bool", "shape": "B"}, "other than 0 and 1"),
        ("[[1, 0]]", {"dtype": "bool", "shape": "B"}, "has shape [1, 2]"),
    ],
)
def test_json_the_port_dtype_cannot_take(value: str, spec: dict[str, str], expected: str) -> None:
    with pytest.raises(PortError, match=re.escape(expected)):
        parse_value("mask", value, spec)


def test_good_inputs_still_parse() -> None:
    assert parse_value("text", "randn:2x3x512", TEXT).shape == (2, 3, 512)
    assert parse_value("mask", "[[1, 0]]", {"dtype": "bool", "shape": "B L"}).dtype == torch.bool
    assert parse_value("count", "[3]", {"dtype": "int64", "shape": "B"}).tolist() == [3]
    assert parse_value("prompt", '"hello"', {"dtype": "str", "shape": "B"}) == ['"hello"']


def test_the_input_budget_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MAX_INPUT_BYTES", "1K")
    with pytest.raises(PortError, match=r"needs 2 KiB, over the 1 KiB limit"):
        parse_value("text", "zeros:1,1,512", TEXT)
    monkeypatch.setenv("SORA_MAX_INPUT_BYTES", "lots")
    with pytest.raises(ConfigError, match="SORA_MAX_INPUT_BYTES='lots' is not a size"):
        parse_value("text", "zeros:1,1,512", TEXT)


def _safetensors(path: Path, entries: dict[str, tuple[int, int]], data: bytes) -> Path:
    header = {
        name: {"dtype": "F32", "shape": [(end - begin) // 4], "data_offsets": [begin, end]}
        for name, (begin, end) in entries.items()
    }
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize(
    ("entries", "data", "expected"),
    [
        ({"a": (0, 8), "b": (4, 12)}, bytes(12), "overlapping"),
        ({"a": (0, 4096)}, bytes(8), "truncated"),
        ({"a": (8, 16)}, bytes(16), "unused"),
    ],
)
def test_a_corrupt_safetensors_input_names_the_port_and_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entries: dict[str, tuple[int, int]], data: bytes, expected: str
) -> None:
    path = _safetensors(tmp_path / "bad.safetensors", entries, data)
    with pytest.raises(CorruptWeightsError, match=r"input 'text': .*bad\.safetensors") as caught:
        parse_value("text", f"{path}:a", TEXT)
    assert expected in caught.value.message
    code, err = sora(capsys, "run", "seed", "--input", f"text={path}:a", "--input", VIDEO_FEATURES)
    assert_refused(code, err, "input 'text'", str(path), expected)


def test_a_large_safetensors_input_is_refused_from_its_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _safetensors(tmp_path / "big.safetensors", {"a": (0, 4 * 1024)}, bytes(4 * 1024))
    monkeypatch.setenv("SORA_MAX_INPUT_BYTES", "1K")
    with pytest.raises(PortError, match=r"tensor 'a' of .*big\.safetensors.*over the 1 KiB limit"):
        parse_value("text", str(path), {"dtype": "float32", "shape": "N"})


# --- seeds -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**70, MAX_SEED + 1, -1, -(2**63)])
def test_seeds_out_of_range_name_the_range(capsys: pytest.CaptureFixture[str], seed: int) -> None:
    code, err = sora(
        capsys, "run", "seed", "--input", "text=randn:1,2,512", "--input", VIDEO_FEATURES, "--seed", str(seed)
    )
    assert_refused(code, err, f"--seed {seed}", "from 0 to 18446744073709551615")


@pytest.mark.parametrize("command", [["generate", "a red circle", "-o", "{tmp}/x.mp4"], ["caption", "{tmp}/x.gif"]])
def test_other_commands_check_the_seed_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    if args[0] == "caption":
        from sora_core.video_io import write_video

        write_video(torch.zeros(3, 8, 8, 3, dtype=torch.uint8).numpy(), tmp_path / "x.gif", fps=4)
    code, err = sora(capsys, *args, "--seed", str(2**70))
    assert_refused(code, err, "--seed", "2**64 - 1")
    assert not (tmp_path / "x.mp4").exists()


def test_the_library_refuses_seeds_out_of_range_too() -> None:
    pipe = Pipeline.from_template("seed", materialize=False)
    with pytest.raises(ConfigError, match=r"seed \d+ is out of range"):
        pipe.run({}, seed=2**70)
    with pytest.raises(ConfigError, match="seed -5 is out of range"):
        Pipeline.from_template("seed", seed=-5)


def test_the_largest_seed_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = sora(
        capsys, "run", "seed", "--input", "text=randn:1,2,512", "--input", VIDEO_FEATURES, "--seed", str(MAX_SEED)
    )
    assert code == 0, err


# --- devices and dtypes ------------------------------------------------------------------------------------------


def _absent_devices() -> list[str]:
    absent = ["cuda:97"]
    if not torch.cuda.is_available():
        absent.append("cuda")
    if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        absent.append("mps")
    return absent


@pytest.mark.parametrize("device", ["nonsense", "cpu:1", "meta", "xla", "", "cuda:-1", "cuda:99999999999999999999"])
def test_unknown_devices_are_refused_listing_the_valid_ones(capsys: pytest.CaptureFixture[str], device: str) -> None:
    code, err = sora(capsys, "load", "additive-attention", "--device", device)
    assert_refused(code, err, "--device", "use one of cpu")


@pytest.mark.parametrize("device", _absent_devices())
def test_devices_this_machine_lacks_are_refused(capsys: pytest.CaptureFixture[str], device: str) -> None:
    code, err = sora(capsys, "load", "additive-attention", "--device", device)
    assert_refused(code, err, f"--device {device!r}", "devices here: cpu")


@pytest.mark.parametrize("dtype", ["int8", "bool", "nonsense", "int64", "complex64"])
def test_load_refuses_a_dtype_that_is_not_floating(capsys: pytest.CaptureFixture[str], dtype: str) -> None:
    code, err = sora(capsys, "load", "additive-attention", "--dtype", dtype)
    assert_refused(code, err, f"--dtype {dtype}", "float16")


def test_load_casts_and_moves_a_fresh_particle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "additive-attention", "--dtype", "float16", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dtypes"] == ["float16"]


def test_load_refuses_placing_a_particle_without_tensors(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = sora(capsys, "load", "byte-tokenizer", "--dtype", "float16")
    assert_refused(code, err, "--dtype", "holds no tensors")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("device", "nonsense", "nodes.n.device: 'nonsense' is not a device"),
        ("device", "cpu:3", "nodes.n.device"),
        ("dtype", "int8", "nodes.n.dtype: 'int8' is not a floating dtype"),
        ("dtype", "nonsense", "nodes.n.dtype"),
    ],
)
def test_a_spec_with_a_bad_device_or_dtype_is_a_spec_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: str, expected: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"nodes:\n  n: {{particle: additive-attention, {field}: {value}}}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"spec\.yaml"):
        load_spec(spec)
    code, err = sora(capsys, "run", str(spec))
    assert_refused(code, err, str(spec), expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_spec_asking_for_an_absent_device_names_the_node() -> None:
    data = {"nodes": {"attention": {"particle": "additive-attention", "device": "cuda"}}}
    with pytest.raises(PipelineError, match=r"node 'attention': device 'cuda': this machine has no such device"):
        Pipeline.from_spec(data)


# --- configs that would allocate absurd memory -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("attention_size=1e12", "field 'attention_size' = 1000000000000.0: must be an integer, not a float"),
        ("attention_size=1000000000000", "attention_size=1000000000000 would need"),
        ("query_size=99999999999999999999", "query_size="),
        ("attention_size=NaN", "field 'attention_size'"),
        ("attention_size=Infinity", "field 'attention_size'"),
        ("attention_size=" + "[" * 100_000, "nested too deeply"),
    ],
)
def test_config_values_that_would_not_fit_are_config_errors(
    capsys: pytest.CaptureFixture[str], setting: str, expected: str
) -> None:
    code, err = sora(capsys, "load", "additive-attention", "--set", setting)
    assert_refused(code, err, expected)


def test_the_particle_budget_is_configurable_and_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MAX_PARTICLE_BYTES", "1M")
    with pytest.raises(ConfigError, match=r"query_size=2000 would need .* over the 1 MiB limit") as caught:
        create_particle(registry.default_registry, "additive-attention", {"query_size": 2000, "context_size": 8})
    assert "SORA_MAX_PARTICLE_BYTES" in (caught.value.hint or "")
    create_particle(registry.default_registry, "additive-attention", {"query_size": 8})


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"hidden_size": 1e11}, "field 'hidden_size' = 100000000000.0: must be an integer"),
        ({"hidden_size": 10**11}, "hidden_size=100000000000 would need"),
        ({"hidden_size": 2**62, "num_layers": 2}, "cannot be built|would need"),
    ],
)
def test_a_spec_asking_for_a_huge_particle_names_node_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: dict[str, float], expected: str
) -> None:
    spec = tmp_path / "huge.json"
    spec.write_text(
        json.dumps({"nodes": {"encoder": {"particle": "lstm-text-encoder", "config": config}}}), encoding="utf-8"
    )
    with pytest.raises(PipelineError, match=f"node 'encoder': .*({expected})"):
        Pipeline.from_spec(spec)
    code, err = sora(capsys, "run", str(spec))
    assert_refused(code, err, "node 'encoder'")


class _Exploding:
    """A registry stand-in whose constructor fails as torch does when memory runs out."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def info(self, name: str) -> object:
        return type("Info", (), {"full_name": "demo:" + name})()

    def create(self, name: str, **config: object) -> object:
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("DefaultCPUAllocator: can't allocate memory"), MemoryError()])
def test_a_constructor_running_out_of_memory_is_a_config_error_naming_the_particle(error: BaseException) -> None:
    with pytest.raises(ConfigError, match="particle demo:big cannot be built with its default config"):
        create_particle(_Exploding(error), "big", {})  # type: ignore[arg-type]


# --- guidance --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("guidance", ["inf", "nan", "-1", "-inf"])
def test_generate_refuses_guidance_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], guidance: str
) -> None:
    code, err = sora(capsys, "generate", "a red circle", "-o", str(tmp_path / "x.mp4"), f"--guidance={guidance}")
    assert_refused(code, err, "--guidance", "finite number from 0 up")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("scale", [math.inf, math.nan, -1.0, "Infinity"])
def test_the_sampler_config_refuses_guidance_that_is_not_finite(scale: object) -> None:
    with pytest.raises(ConfigError, match="guidance_scale"):
        registry.create("latent-sampler", guidance_scale=scale)


# --- spec files ----------------------------------------------------------------------------------------------------

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)

BAD_SPECS = [
    ("latin1.yaml", b"name: caf\xe9\nnodes: {}\n", "is not UTF-8 text"),
    ("utf16.json", '{"nodes": {}}'.encode("utf-16"), "is not UTF-8 text"),
    ("list.yaml", b"- a\n- b\n", "a pipeline spec must be a mapping"),
    ("scalar.yaml", b"42\n", "a pipeline spec must be a mapping"),
    ("empty.yaml", b"", "a pipeline spec must be a mapping"),
    ("laughs.yaml", BILLION_LAUGHS.encode(), "more than 100000 values"),
    ("cycle.yaml", b"nodes: &a {n: *a}\n", "nests deeper than 64 levels"),
    ("deep.yaml", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ("deep.json", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ("deepish.yaml", b"nodes: " + b"{a: " * 80 + b"1" + b"}" * 80, "nests deeper than 64 levels"),
    ("huge.yaml", b"#" * (2**20 + 1), "larger than 1 MiB"),
    ("python.yaml", b"nodes: !!python/object/apply:os.system [echo hi]\n", "is not valid YAML/JSON"),
    ("broken.json", b'{"nodes": ', "is not valid YAML/JSON"),
]


@pytest.mark.parametrize(("name", "data", "expected"), BAD_SPECS, ids=[case[0] for case in BAD_SPECS])
def test_bad_spec_files_are_spec_errors_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SpecError, match=expected) as caught:
        load_spec(path)
    assert str(path) in caught.value.message
    code, err = sora(capsys, "run", str(path))
    assert_refused(code, err, str(path), expected)


def test_a_directory_given_as_spec_is_a_spec_error(tmp_path: Path) -> None:
    folder = tmp_path / "spec.yaml"
    folder.mkdir()
    with pytest.raises(SpecError, match="cannot read pipeline spec"):
        load_spec(folder)
