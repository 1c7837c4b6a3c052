"""Reading diffusers model folders: Hugging Face cache entries and snapshots, links out of the model, pickles,
broken or mismatched components, hand-written specs naming a component folder, and the lazy load.

Every refusal is checked for the file or subfolder it names. The tiny folders are written here (module
fixtures) with diffusers' own ``save_pretrained``; a test that breaks a folder breaks its own copy.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from sora_diffusers import folders
from sora_diffusers.tiny import write_tiny_folder

from sora_core import registry
from sora_core.errors import MissingWeightsError, PipelineError, SpecError, TensorMismatchError, UnsafeWeightsError
from sora_core.importers import find_importer, import_spec, importer_for_folder
from sora_core.pipeline import Pipeline, with_changes

REVISION = "3f1a9c0e5b7d2468ace013579bdf2468ace01357"
#: The smallest run the tiny Wan folder makes: 9 frames (3 latent frames) of 16x16 pixels, two steps.
SMALL = {"sampler": {"frames": 9, "height": 16, "width": 16}, "scheduler": {"steps": 2}}
DECODER = "sora-diffusers:wan-vae-decoder"
TRANSFORMER = "sora-diffusers:wan-transformer"


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Wan folder; tests that change it copy it first (see ``broken``)."""
    return write_tiny_folder("wan", tmp_path_factory.mktemp("wan") / "tiny-wan")


@pytest.fixture
def broken(wan: Path, tmp_path: Path) -> Path:
    """A copy of the tiny Wan folder this test may break."""
    return Path(shutil.copytree(wan, tmp_path / "wan"))


def make_cache_entry(source: Path, cache: Path, revision: str = REVISION) -> Path:
    """``cache/models--org--tiny-wan`` laid out as huggingface_hub writes it: every file of ``source`` as
    ``blobs/<sha256>``, ``snapshots/<revision>/...`` made of relative links into ``blobs/``, ``refs/main``."""
    entry = cache / "models--org--tiny-wan"
    blobs = entry / "blobs"
    blobs.mkdir(parents=True)
    snapshot = entry / "snapshots" / revision
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = file.relative_to(source)
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if not (blobs / digest).exists():
            shutil.copyfile(file, blobs / digest)
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        # from snapshots/<rev>/<subfolders...>/ up to the entry: one '..' per folder below the entry
        link.symlink_to(Path(*[".."] * (len(relative.parts) + 1), "blobs", digest))
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(revision + "\n")
    return entry


@pytest.fixture(scope="module")
def cache_entry(wan: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Wan folder as a cache entry, with an older, incomplete snapshot that refs/main does not name."""
    entry = make_cache_entry(wan, tmp_path_factory.mktemp("hub"))
    old = entry / "snapshots" / "0000000000000000000000000000000000000000"
    old.mkdir()
    (old / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return entry


def small_run(spec: Any) -> torch.Tensor:
    pipe = Pipeline.from_spec(with_changes(spec, registry.default_registry, settings=SMALL))
    return pipe.run({"prompt": ["a red ball"]}, seed=3)["video"]


def diffusers_spec(path: Path) -> Any:
    return import_spec(find_importer("diffusers", registry.default_registry), path)


def edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def plain_video(wan: Path) -> torch.Tensor:
    return small_run(diffusers_spec(wan))


# --- the Hugging Face cache ---------------------------------------------------------------------------------------


def test_the_cache_layout_is_links_into_blobs(cache_entry: Path) -> None:
    link = cache_entry / "snapshots" / REVISION / "vae" / "diffusion_pytorch_model.safetensors"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.resolve().parent == (cache_entry / "blobs").resolve()


def test_a_cache_entry_imports_and_runs_as_the_plain_folder(cache_entry: Path, plain_video: torch.Tensor) -> None:
    importer = importer_for_folder(cache_entry, registry.default_registry)
    assert importer.name == "diffusers"
    spec = import_spec(importer, cache_entry)
    snapshot = cache_entry / "snapshots" / REVISION
    # refs/main chose the snapshot (the other one is a StableDiffusionPipeline that would be refused)
    assert spec.nodes["decoder"].weights == str(snapshot.absolute() / "vae")
    assert spec.name == "wan-tiny-wan"  # named after the model, not the revision
    video = small_run(spec)
    assert video.shape == (1, 3, 9, 16, 16)
    assert torch.equal(video, plain_video)  # the same weights, read through the links


def test_a_snapshot_folder_imports_as_its_entry(cache_entry: Path, plain_video: torch.Tensor) -> None:
    snapshot = cache_entry / "snapshots" / REVISION
    spec = diffusers_spec(snapshot)
    assert spec.to_data() == diffusers_spec(cache_entry).to_data()
    assert torch.equal(small_run(spec), plain_video)


@pytest.mark.parametrize("where", ["entry", "snapshot"])
def test_sora_generate_runs_a_cache_entry_and_a_snapshot(
    cache_entry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    from sora_core.cli.main import main
    from sora_core.video_io import read_video

    model = cache_entry if where == "entry" else cache_entry / "snapshots" / REVISION
    video = tmp_path / "out.mp4"
    small = ["--frames", "9", "--height", "16", "--width", "16", "--steps", "2"]
    assert main(["generate", "--model", str(model), "a red ball", "-o", str(video), *small]) == 0
    assert f"{video}: 9 frames of 16x16" in capsys.readouterr().err
    assert read_video(video).shape == (9, 16, 16, 3)


def test_a_component_of_a_snapshot_loads_through_its_links(cache_entry: Path, wan: Path) -> None:
    from_cache = registry.load(DECODER, weights=cache_entry / "snapshots" / REVISION / "vae")
    plain = registry.load(DECODER, weights=wan / "vae")
    cached, direct = from_cache.state_dict(), plain.state_dict()
    assert cached.keys() == direct.keys()
    assert all(torch.equal(cached[k], direct[k]) for k in direct)


def test_an_entry_without_refs_main_and_two_snapshots_is_refused(cache_entry: Path, tmp_path: Path) -> None:
    entry = tmp_path / cache_entry.name
    shutil.copytree(cache_entry, entry, symlinks=True)
    (entry / "refs" / "main").unlink()
    with pytest.raises(MissingWeightsError) as info:
        diffusers_spec(entry)
    assert f"{entry} is a Hugging Face cache entry with 2 snapshots and no usable refs/main" in info.value.message
    assert str(entry / "snapshots") in (info.value.hint or "")


def test_a_link_out_of_the_cache_entry_is_refused(cache_entry: Path, tmp_path: Path) -> None:
    entry = tmp_path / "hub" / cache_entry.name
    shutil.copytree(cache_entry, entry, symlinks=True)
    vae = entry / "snapshots" / REVISION / "vae"
    outside = tmp_path / "elsewhere" / "weights.safetensors"  # a valid file, but not the model's
    outside.parent.mkdir()
    shutil.copyfile((vae / "diffusion_pytorch_model.safetensors").resolve(), outside)
    link = vae / "diffusion_pytorch_model.safetensors"
    link.unlink()
    link.symlink_to(Path("..", "..", "..", "..", "..", "elsewhere", "weights.safetensors"))
    assert link.resolve() == outside.resolve()

    with pytest.raises(UnsafeWeightsError) as loading:
        registry.load(DECODER, weights=vae)
    with pytest.raises(UnsafeWeightsError) as importing:
        diffusers_spec(entry)
    for error in (loading.value, importing.value):
        assert str(link) in error.message  # the link
        assert str(outside.resolve()) in error.message  # and where it leads
        assert "outside the model folder" in error.message


def test_a_link_inside_the_entry_but_outside_blobs_is_followed(cache_entry: Path, tmp_path: Path) -> None:
    """Links may lead anywhere inside the entry (the boundary is the entry, not blobs/)."""
    entry = tmp_path / cache_entry.name
    shutil.copytree(cache_entry, entry, symlinks=True)
    vae = entry / "snapshots" / REVISION / "vae"
    moved = entry / "elsewhere-in-entry.safetensors"
    shutil.copyfile((vae / "diffusion_pytorch_model.safetensors").resolve(), moved)
    (vae / "diffusion_pytorch_model.safetensors").unlink()
    (vae / "diffusion_pytorch_model.safetensors").symlink_to(Path("..", "..", "..", moved.name))
    assert registry.load(DECODER, weights=vae) is not None


def test_a_component_subfolder_linked_out_of_the_model_is_refused(
    broken: Path, cache_entry: Path, tmp_path: Path
) -> None:
    """A linked subfolder holds regular files, so checking its entries alone would let it through."""
    outside = tmp_path / "outside-vae"
    shutil.move(broken / "vae", outside)
    (broken / "vae").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeWeightsError) as plain:
        diffusers_spec(broken)
    assert f"{broken / 'vae'} is a symbolic link to {outside}" in plain.value.message

    entry = tmp_path / "hub" / cache_entry.name
    shutil.copytree(cache_entry, entry, symlinks=True)
    snapshot_vae = entry / "snapshots" / REVISION / "vae"
    shutil.rmtree(snapshot_vae)
    snapshot_vae.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeWeightsError) as importing:
        diffusers_spec(entry)
    with pytest.raises(UnsafeWeightsError) as loading:
        registry.load(DECODER, weights=snapshot_vae)
    for error in (importing.value, loading.value):
        assert f"{snapshot_vae} is a symbolic link to {outside}" in error.message


def test_a_snapshot_linked_out_of_its_cache_entry_is_refused(wan: Path, tmp_path: Path) -> None:
    """``snapshots/<rev>`` itself a link to a complete folder elsewhere: no file in it is a link."""
    entry = tmp_path / "hub" / "models--org--tiny-wan"
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(REVISION)
    (entry / "snapshots").mkdir()
    outside = Path(shutil.copytree(wan, tmp_path / "elsewhere"))
    (entry / "snapshots" / REVISION).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeWeightsError) as importing:
        diffusers_spec(entry)
    index = entry / "snapshots" / REVISION / "model_index.json"
    assert f"{index} is reached through a symbolic link: it is {outside / 'model_index.json'}" in (
        importing.value.message
    )
    assert f"outside the model folder {entry}" in importing.value.message
    with pytest.raises(UnsafeWeightsError, match="reached through a symbolic link"):
        registry.load(DECODER, weights=entry / "snapshots" / REVISION / "vae")


def test_a_link_out_of_a_plain_folder_is_refused(broken: Path, tmp_path: Path) -> None:
    config = broken / "vae" / "config.json"
    outside = tmp_path / "outside-config.json"
    shutil.move(config, outside)
    config.symlink_to(outside)
    with pytest.raises(UnsafeWeightsError) as info:
        registry.load(DECODER, weights=broken / "vae")
    assert str(config) in info.value.message and str(outside) in info.value.message


# --- pickles ----------------------------------------------------------------------------------------------------


class _Opens:
    """Unpickling this creates ``path``: proof that nothing unpickled a refused file, if it is still absent."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.mark.parametrize(
    ("component", "name", "particle"),
    [
        ("vae", "diffusion_pytorch_model.bin", DECODER),
        ("text_encoder", "pytorch_model.bin", "sora-diffusers:t5-encoder"),
        ("transformer", "diffusion_pytorch_model.fp16.data", TRANSFORMER),  # a pickle by its bytes, not its name
    ],
)
def test_a_pickle_beside_the_weights_is_refused_unread(
    broken: Path, tmp_path: Path, component: str, name: str, particle: str
) -> None:
    marker = tmp_path / "unpickled"
    pickled = broken / component / name
    pickled.write_bytes(pickle.dumps(_Opens(marker)))
    with pytest.raises(UnsafeWeightsError) as loading:
        registry.load(particle, weights=broken / component)
    with pytest.raises(UnsafeWeightsError) as importing:
        diffusers_spec(broken)
    for error in (loading.value, importing.value):
        assert str(pickled) in error.message
        assert "pickle" in error.message and "never loads" in error.message
    assert not marker.exists()


def test_a_pickle_named_safetensors_is_refused_unread(broken: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    disguised = broken / "vae" / "diffusion_pytorch_model.safetensors"
    disguised.write_bytes(pickle.dumps(_Opens(marker)))
    with pytest.raises(UnsafeWeightsError) as info:
        registry.load(DECODER, weights=broken / "vae")
    assert str(disguised) in info.value.message and "never unpickles" in info.value.message
    assert not marker.exists()


def test_a_component_with_only_pickle_weights_says_pickles_are_never_loaded(broken: Path, tmp_path: Path) -> None:
    vae = broken / "vae"
    (vae / "diffusion_pytorch_model.safetensors").unlink()
    marker = tmp_path / "unpickled"
    (vae / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(_Opens(marker)))
    with pytest.raises(UnsafeWeightsError) as info:
        registry.load(DECODER, weights=vae)
    assert str(vae / "diffusion_pytorch_model.bin") in info.value.message
    assert "never loads pickles" in info.value.message
    # what a lock lists for the folder (no entry check first) says the same about the weights it lacks
    with pytest.raises(MissingWeightsError) as listing:
        folders.weight_files(vae)
    assert str(vae) in listing.value.message
    assert "only pickle-format diffusion_pytorch_model.bin, which sora never loads" in listing.value.message
    assert "safe_serialization=True" in (listing.value.hint or "")
    assert not marker.exists()


# --- components that are missing or of the wrong class ----------------------------------------------------------


def test_a_missing_component_subfolder_is_named(broken: Path) -> None:
    shutil.rmtree(broken / "vae")
    with pytest.raises(SpecError) as info:
        diffusers_spec(broken)
    assert str(broken / "vae") in info.value.message
    assert "AutoencoderKLWan" in info.value.message  # what model_index.json says belongs there
    assert "vae/" in (info.value.hint or "")


def test_an_unsupported_component_class_in_the_index_is_named_with_the_allowed_ones(broken: Path) -> None:
    edit_json(broken / "model_index.json", transformer=["diffusers", "FooModel"])
    with pytest.raises(SpecError) as info:
        diffusers_spec(broken)
    assert "diffusers.FooModel" in info.value.message and str(broken / "transformer") in info.value.message
    assert "WanTransformer3DModel" in (info.value.hint or "")


def test_a_component_config_of_another_class_is_refused_naming_the_subfolder(broken: Path) -> None:
    config = broken / "transformer" / "config.json"
    edit_json(config, _class_name="AutoencoderKLWan")
    with pytest.raises(SpecError) as importing:
        diffusers_spec(broken)
    with pytest.raises(SpecError) as loading:
        registry.load(TRANSFORMER, weights=broken / "transformer")
    for error in (importing.value, loading.value):
        assert str(config) in error.message
        assert "'AutoencoderKLWan'" in error.message and "WanTransformer3DModel" in error.message


def test_an_unsupported_pipeline_class_is_named_with_the_supported_ones(broken: Path) -> None:
    edit_json(broken / "model_index.json", _class_name="StableDiffusionPipeline")
    with pytest.raises(SpecError) as info:
        diffusers_spec(broken)
    assert str(broken / "model_index.json") in info.value.message
    assert "StableDiffusionPipeline" in info.value.message
    for supported in ("WanPipeline", "CogVideoXPipeline", "LTXPipeline"):
        assert supported in info.value.message


def test_a_two_expert_wan_folder_is_refused(broken: Path) -> None:
    edit_json(broken / "model_index.json", transformer_2=["diffusers", "WanTransformer3DModel"])
    with pytest.raises(SpecError, match=r"two-expert Wan 2\.2"):
        diffusers_spec(broken)


def test_a_folder_without_model_index_is_not_a_pipeline_folder(wan: Path) -> None:
    with pytest.raises(SpecError) as info:
        importer_for_folder(wan / "vae", registry.default_registry)
    assert str(wan / "vae") in info.value.message and "diffusers" in (info.value.hint or "")
    with pytest.raises(SpecError) as direct:
        diffusers_spec(wan / "vae")
    assert f"{wan / 'vae'} has no model_index.json" in direct.value.message


@pytest.mark.parametrize(("layers", "problem"), [(3, "missing tensors"), (1, "unexpected tensors")])
def test_weights_that_do_not_fit_the_config_name_the_folder(broken: Path, layers: int, problem: str) -> None:
    edit_json(broken / "transformer" / "config.json", num_layers=layers)  # the tiny model has 2
    with pytest.raises(TensorMismatchError) as info:
        registry.load(TRANSFORMER, weights=broken / "transformer")
    assert str(broken / "transformer") in info.value.message
    assert problem in info.value.message
    assert ("blocks.2." if layers == 3 else "blocks.1.") in info.value.message  # the tensors of the odd block
    # the importer reads only JSON, so the mismatch shows when the pipeline is built, under the node's name
    spec = diffusers_spec(broken)
    with pytest.raises(PipelineError) as building:
        Pipeline.from_spec(spec)
    assert f"node 'transformer': {broken / 'transformer'}: the weights do not fit" in building.value.message


# --- a component folder named by a hand-written spec --------------------------------------------------------------


def test_weights_of_a_vae_subfolder_load_by_name_and_in_a_spec_file(wan: Path, tmp_path: Path) -> None:
    loaded = registry.load(DECODER, weights=wan / "vae")
    latent = torch.randn(1, 16, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = loaded(latent=latent)["video"]
    assert expected.shape == (1, 3, 9, 16, 16)

    spec = tmp_path / "decode.yaml"
    spec.write_text(
        "name: decode-only\n"
        "nodes:\n"
        "  decoder:\n"
        f"    particle: {DECODER}\n"
        f"    weights: {wan / 'vae'}\n"
        "inputs:\n"
        "  latent: decoder.latent\n"
        "outputs:\n"
        "  video: decoder.video\n"
    )
    video = Pipeline.from_spec(spec).run({"latent": latent})["video"]
    assert torch.equal(video, expected)


def test_a_relative_component_path_in_a_spec_is_read_from_the_spec_s_folder(wan: Path, tmp_path: Path) -> None:
    shutil.copytree(wan / "vae", tmp_path / "models" / "vae")
    spec = tmp_path / "decode.yaml"
    spec.write_text(
        f"name: decode-only\nnodes:\n  decoder:\n    particle: {DECODER}\n    weights: models/vae\n"
        "inputs:\n  latent: decoder.latent\noutputs:\n  video: decoder.video\n"
    )
    pipe = Pipeline.from_spec(spec)
    stored = load_file(str(wan / "vae" / "diffusion_pytorch_model.safetensors"))
    state = pipe.nodes["decoder"].model.state_dict()
    assert all(torch.equal(state[name], tensor) for name, tensor in stored.items())


# --- the lazy load -----------------------------------------------------------------------------------------------

_INITIALISERS = (
    "normal_",
    "uniform_",
    "constant_",
    "ones_",
    "zeros_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
    "trunc_normal_",
    "orthogonal_",
)


@pytest.fixture
def real_initialisations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, tuple[int, ...]]]]:
    """Every call of a ``torch.nn.init`` initialiser on a real (not meta) tensor, recorded."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    for name in _INITIALISERS:
        original = getattr(torch.nn.init, name)

        def counting(tensor: torch.Tensor, *args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            if not tensor.is_meta:
                calls.append((_name, tuple(tensor.shape)))
            return _original(tensor, *args, **kw)

        monkeypatch.setattr(torch.nn.init, name, counting)
    yield calls


def test_loading_the_transformer_initialises_nothing_and_keeps_the_stored_tensors(
    wan: Path, real_initialisations: list[tuple[str, tuple[int, ...]]]
) -> None:
    particle = registry.load(TRANSFORMER, weights=wan / "transformer")
    # nn.Linear, nn.Conv3d, nn.LayerNorm and nn.Embedding initialise themselves in __init__ through torch.nn.init;
    # a loader that built the model normally (and then copied the weights in) would record every one of them here
    assert real_initialisations == []
    stored = load_file(str(wan / "transformer" / "diffusion_pytorch_model.safetensors"))
    state = particle.model.state_dict()
    assert set(state) == set(stored)
    for name, tensor in stored.items():
        assert not state[name].is_meta
        assert state[name].dtype == tensor.dtype and torch.equal(state[name], tensor), name

    # the control: building the same model the ordinary way does trip the counter
    cls = registry.get_class(TRANSFORMER)
    cls(cls.pretrained_config(wan / "transformer"))
    assert len(real_initialisations) > 10
    assert {"kaiming_uniform_"} <= {name for name, _ in real_initialisations}
