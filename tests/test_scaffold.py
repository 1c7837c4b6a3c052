"""``sora new``: a plugin for every built-in kind installs, lists, lints and passes its own tests as generated.

One plugin per built-in kind is scaffolded into a temporary directory, all are installed in one
``pip install --target`` and their generated tests run in one pytest process, so the whole file
stays fast on two cores. The failure paths run in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sora_core import __version__
from sora_core.cli.main import main
from sora_core.errors import ScaffoldError
from sora_core.kinds import BUILTIN_KINDS, KindSpec
from sora_core.manifest import MANIFEST_NAME
from sora_core.scaffold import (
    SUPPORTED_LICENSES,
    Author,
    PluginPlan,
    generator,
    plan_plugin,
    supported_kinds,
    write_plugins,
)
from sora_core.synthetic import write_plugin

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

AUTHOR = "Ada Lovelace <ada@example.org>"


@dataclass
class Scaffolded:
    root: Path
    site: Path
    plans: list[PluginPlan]
    files_before_install: dict[str, list[str]]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.site), "SORA_NO_CACHE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Scaffolded:
    """A plugin for every built-in kind (the licences taken in turn), installed into one site directory."""
    root = tmp_path_factory.mktemp("scaffolded")
    plans = [
        plan_plugin(
            f"scaffold-{kind.replace('_', '-')}",
            kind,
            directory=root / f"scaffold-{kind.replace('_', '-')}",
            author=AUTHOR,
            license=SUPPORTED_LICENSES[i % len(SUPPORTED_LICENSES)],
        )
        for i, kind in enumerate(supported_kinds())
    ]
    write_plugins(plans)
    files = {
        plan.kind: sorted(p.relative_to(plan.directory).as_posix() for p in plan.directory.rglob("*") if p.is_file())
        for plan in plans
    }
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    pip += ["--no-build-isolation", "--no-compile", "--target", str(site), *(str(p.directory) for p in plans)]
    result = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return Scaffolded(root, site, plans, files)


def test_every_builtin_kind_can_be_scaffolded() -> None:
    assert supported_kinds() == sorted(BUILTIN_KINDS)


def test_the_generated_tests_pass_and_sora_list_shows_every_particle(scaffolded: Scaffolded) -> None:
    tests = [str(plan.directory / "tests") for plan in scaffolded.plans]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", *tests]
    result = subprocess.run(command, cwd=scaffolded.root, env=scaffolded.env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # per kind: the conformance suite (one particle) and the two behaviour tests, plus each kind's extra test
    extras = sum(1 for plan in scaffolded.plans if plan.kind in ("tokenizer", "patchifier", "scheduler"))
    assert f"{3 * len(scaffolded.plans) + extras} passed" in result.stdout, result.stdout[-2000:]

    listing = subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", "list", "scaffold-*", "--json"],
        env=scaffolded.env(),
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0, listing.stderr
    found = {p["name"]: p for p in json.loads(listing.stdout)["particles"]}
    assert set(found) == {plan.full_name for plan in scaffolded.plans}
    for plan in scaffolded.plans:
        particle = found[plan.full_name]
        assert particle["kind"] == plan.kind
        assert particle["entry_point"] == plan.entry_point
        kind = BUILTIN_KINDS[plan.kind]
        assert set(kind.inputs) <= set(particle["inputs"]) and set(kind.outputs) <= set(particle["outputs"])


def test_the_manifest_is_what_sora_manifest_write_writes(scaffolded: Scaffolded) -> None:
    script = (
        "import sys\n"
        "from sora_core.manifest_builder import build_manifests, render\n"
        "for dist in sys.argv[1:]:\n"
        "    for path, manifest in build_manifests(dist).items():\n"
        "        sys.stdout.write(path.parent.name + '\\t' + render(manifest).replace('\\n', ' ') + '\\n')\n"
    )
    dists = [plan.canonical for plan in scaffolded.plans]
    result = subprocess.run(
        [sys.executable, "-c", script, *dists], env=scaffolded.env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    rendered = dict(line.split("\t") for line in result.stdout.splitlines())
    for plan in scaffolded.plans:
        shipped = (plan.directory / plan.manifest_path).read_text(encoding="utf-8")
        assert shipped.replace("\n", " ") == rendered[plan.package], plan.kind
        assert (scaffolded.site / plan.manifest_path).read_text(encoding="utf-8") == shipped  # packaged


def test_the_project_has_the_promised_files_and_metadata(scaffolded: Scaffolded) -> None:
    for i, plan in enumerate(scaffolded.plans):
        package, module = plan.package, plan.kind
        assert scaffolded.files_before_install[plan.kind] == sorted(
            [
                ".gitignore",
                "LICENSE",
                "README.md",
                "pyproject.toml",
                f"{package}/__init__.py",
                f"{package}/{module}.py",
                f"{package}/{MANIFEST_NAME}",
                "tests/test_conformance.py",
                f"tests/test_{module}.py",
            ]
        )  # and no __pycache__ from generating the manifest
        data = tomllib.loads((plan.directory / "pyproject.toml").read_text(encoding="utf-8"))
        meta = data["project"]
        licence = SUPPORTED_LICENSES[i % len(SUPPORTED_LICENSES)]
        assert meta["name"] == plan.dist and meta["license"] == licence and meta["license-files"] == ["LICENSE"]
        assert meta["authors"] == [{"name": "Ada Lovelace", "email": "ada@example.org"}]
        assert meta["dependencies"][:2] == [f"sora-core>={__version__}", "torch>=2.2"]
        assert meta["optional-dependencies"] == {"test": ["pytest>=8"]}
        assert meta["entry-points"]["sora.particles"] == {plan.particle: plan.entry_point}
        assert data["tool"]["setuptools"]["package-data"] == {package: [MANIFEST_NAME, "weights/**/*"]}
        installed = scaffolded.site / f"{package}-0.1.0.dist-info"
        assert "Ada Lovelace" in (installed / "METADATA").read_text(encoding="utf-8")
        text = (plan.directory / "LICENSE").read_text(encoding="utf-8")
        assert text.split()[0] in {"Apache", "MIT", "BSD", "ISC"} and "$" not in text
        if licence != "Apache-2.0":
            assert "Ada Lovelace" in text
        readme = (plan.directory / "README.md").read_text(encoding="utf-8")
        for command in ("pip install -e", f"sora list '{plan.canonical}:*'", "sora check .", "sora publish ."):
            assert command in readme
        assert "conformance_suite" in (plan.directory / "tests/test_conformance.py").read_text(encoding="utf-8")
        source = (plan.directory / package / f"{module}.py").read_text(encoding="utf-8")
        assert "NotImplementedError" not in source and "def forward" in source


def test_the_generated_code_is_clean_for_ruff(scaffolded: Scaffolded) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    for plan in scaffolded.plans:  # from the project directory, as its author would run it
        files = [path for path in plan.paths() if path.endswith((".py", ".md"))]  # not pip's build/
        for command in ([ruff, "check", "--isolated", "--select", "E,F,W,I,B,UP"], [ruff, "format", "--isolated"]):
            args = [*command, "--check", *files] if command[1] == "format" else [*command, *files]
            result = subprocess.run(args, cwd=plan.directory, capture_output=True, text=True)
            assert result.returncode == 0, f"{plan.kind}: {result.stdout}{result.stderr}"


# --- names, kinds, licences and authors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("my blur", "invalid distribution name 'my blur'"),
        ("-blur", "invalid distribution name"),
        ("blur-", "invalid distribution name"),
        ("bl@r", "invalid distribution name"),
        ("blur\n", "invalid distribution name"),
        ("", "invalid distribution name"),
        ("3d-blur", "package name '3d_blur', which is not a Python identifier"),
        ("import", "not a Python identifier"),
        ("json", "shadow the standard library's module 'json'"),
        ("Torch", "shadow the plugin's dependency module 'torch'"),
    ],
)
def test_invalid_distribution_names_are_refused(tmp_path: Path, name: str, fragment: str) -> None:
    with pytest.raises(ScaffoldError, match="distribution name") as caught:
        plan_plugin(name, "video_decoder", directory=tmp_path / "out")
    assert fragment in caught.value.message and caught.value.hint
    assert not (tmp_path / "out").exists()


def test_names_map_to_package_particle_and_class(tmp_path: Path) -> None:
    plan = plan_plugin("My.Blur_Kit", "video-decoder", directory=tmp_path / "x", author="")
    assert (plan.dist, plan.canonical, plan.package, plan.kind) == (
        "My.Blur_Kit",
        "my-blur-kit",
        "my_blur_kit",
        "video_decoder",
    )
    assert (plan.particle, plan.class_name, plan.full_name) == ("my-blur-kit", "MyBlurKit", "my-blur-kit:my-blur-kit")
    assert plan.author is None and "authors" not in plan.files["pyproject.toml"]
    shadowing = plan_plugin("blur", "video_decoder", directory=tmp_path / "y", particle="video-decoder")
    assert shadowing.class_name == "VideoDecoderParticle"  # not the base class's name
    with pytest.raises(ScaffoldError, match="invalid particle name 'Blur!'"):
        plan_plugin("blur", "video_decoder", directory=tmp_path / "z", particle="Blur!")
    with pytest.raises(ScaffoldError, match="--description"):
        plan_plugin("blur", "video_decoder", directory=tmp_path / "z", description="two\nlines")
    described = plan_plugin("blur", "video_decoder", directory=tmp_path / "z", description='A "sharp" blur')
    assert tomllib.loads(described.files["pyproject.toml"])["project"]["description"] == 'A "sharp" blur'


def test_an_unknown_kind_is_refused_with_close_matches(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="unknown kind 'video_decodr'") as caught:
        plan_plugin("blur", "video_decodr", directory=tmp_path / "x")
    assert "did you mean 'video_decoder'" in (caught.value.hint or "")
    assert all(kind in (caught.value.hint or "") for kind in BUILTIN_KINDS)


def test_a_plugin_contributed_kind_is_refused_naming_its_plugin(plugin_root: Path, tmp_path: Path) -> None:
    package = write_plugin(plugin_root, "deblur-kit", ["deblur"])
    manifest = json.loads((package / MANIFEST_NAME).read_text())
    manifest["kinds"] = [
        KindSpec("deblurrer", "video -> sharper video", ("video",), ("video",), contributed_by="deblur-kit").to_dict()
    ]
    (package / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(ScaffoldError, match="kind 'deblurrer' is contributed by the plugin 'deblur-kit'") as caught:
        plan_plugin("blur", "deblurrer", directory=tmp_path / "x")
    assert "video_decoder" in caught.value.message and "ModuleParticle" in (caught.value.hint or "")


def test_licences(tmp_path: Path) -> None:
    plan = plan_plugin("blur", "scheduler", directory=tmp_path / "x", license="mit", author="Grace Hopper")
    assert plan.license == "MIT" and 'license = "MIT"' in plan.files["pyproject.toml"]
    assert "Copyright (c)" in plan.files["LICENSE"] and "Grace Hopper" in plan.files["LICENSE"]
    with pytest.raises(ScaffoldError, match=r"unsupported licence .GPL-3\.0.") as caught:
        plan_plugin("blur", "scheduler", directory=tmp_path / "x", license="GPL-3.0")
    assert "Apache-2.0" in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jane Doe <jane@example.org>", Author("Jane Doe", "jane@example.org")),
        ("<jane@example.org>", Author(None, "jane@example.org")),
        ("jane@example.org", Author(None, "jane@example.org")),
        ('Jane "JD" Doe', Author('Jane "JD" Doe', None)),
        ("", None),
    ],
)
def test_authors_are_parsed_and_quoted_for_toml(tmp_path: Path, text: str, expected: Author | None) -> None:
    assert Author.parse(text) == expected
    plan = plan_plugin("blur", "scheduler", directory=tmp_path / "x", author=text)
    meta = tomllib.loads(plan.files["pyproject.toml"])["project"]
    wanted = [{k: v for k, v in (("name", expected.name), ("email", expected.email)) if v}] if expected else None
    assert meta.get("authors") == wanted


def test_the_author_defaults_to_gits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Katherine Johnson")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "kj@example.org")
    assert plan_plugin("blur", "scheduler", directory=tmp_path / "x").author == Author(
        "Katherine Johnson", "kj@example.org"
    )
    with pytest.raises(ScaffoldError, match="--author"):
        Author.parse("Jane <not an email>")


# --- the target directory -----------------------------------------------------------------------------------------


def test_a_non_empty_directory_needs_force_and_keeps_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "blur"
    target.mkdir()  # an existing empty directory is fine
    assert main(["new", "blur", "--kind", "scheduler", "--dir", str(target), "--author", AUTHOR]) == 0
    out = capsys.readouterr().out
    assert "particle blur:blur (scheduler), class blur.scheduler:Blur" in out and "sora list 'blur:*'" in out
    assert (target / "blur" / MANIFEST_NAME).is_file()

    (target / "README.md").write_text("my own notes")
    (target / "NOTES.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="already exists and is not empty") as caught:
        plan_plugin("blur", "scheduler", directory=target)
    assert "--force" in (caught.value.hint or "")
    assert main(["new", "blur", "--kind", "scheduler", "--dir", str(target), "--author", AUTHOR]) == 1
    assert "error: directory" in capsys.readouterr().err

    write_plugins([plan_plugin("blur", "scheduler", directory=target, author=AUTHOR, force=True)])
    assert (target / "NOTES.txt").read_text() == "keep me"
    assert (target / "README.md").read_text().startswith("# blur")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blur"]  # no staging directory left


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blur").write_text("a file")
    with pytest.raises(ScaffoldError, match="exists and is not a directory"):
        plan_plugin("blur", "scheduler", directory=tmp_path / "blur", force=True)


def test_nothing_is_half_written_when_generation_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "new" / "parents" / "blur"
    plan = plan_plugin("blur", "video_decoder", directory=target, author="")
    monkeypatch.setattr(generator, "_MANIFEST_SCRIPT", "import sys\nsys.exit('the manifest exploded')")
    with pytest.raises(ScaffoldError, match="the manifest exploded") as caught:
        write_plugins([plan])
    assert "nothing was written" in caught.value.message
    assert list(tmp_path.iterdir()) == []  # no project, no staging directory, no parents created for it


def test_help_does_not_import_torch_and_errors_are_one_clean_line(tmp_path: Path) -> None:
    # sys.modules, not -X importtime: the CLI imports a command's module with importlib, which importtime omits
    script = (
        "import sys\nfrom sora_core.cli.main import main\ntry:\n    main(['new', '--help'])\n"
        "except SystemExit:\n    pass\nsys.stderr.write(' '.join(sorted(sys.modules)))\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert shown.returncode == 0 and "--kind KIND" in shown.stdout and "video_decoder" in shown.stdout
    imported = set(shown.stderr.split())
    assert "sora_core.cli.new_command" in imported and "torch" not in imported

    sora = [sys.executable, "-m", "sora_core.cli.main", "new"]
    refused = subprocess.run(
        [*sora, "my blur", "--kind", "video_decoder"], capture_output=True, text=True, cwd=tmp_path
    )
    lines = refused.stderr.splitlines()
    assert refused.returncode == 1 and len(lines) == 2, refused.stderr
    assert lines[0].startswith("error: invalid distribution name 'my blur'") and lines[1].startswith("  hint: ")
    assert list(tmp_path.iterdir()) == []
