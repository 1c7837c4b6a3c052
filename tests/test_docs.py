"""Every shell and Python block of README.md and docs/*.md runs, in order, and shown output is compared.

Blocks are found by Sybil's Markdown lexers (no parser of our own). What runs:

- ```` ```python ````: plain code is executed in the document's namespace (one per document, shared
  by its blocks in order); a block that starts with ``>>>`` is a doctest, and its output is compared.
- ```` ```bash ````: run by ``bash -e -o pipefail``; it must exit 0.
- ```` ```console ````: ``$ command`` lines (a trailing backslash continues one), each followed by the
  output it prints (stdout and stderr together), which is compared. A command whose shown output has a
  line starting with ``error:`` must exit non-zero; every other command must exit 0.
- Any other language (yaml, json, toml, text, mermaid, nginx) is not run, except that a block whose info
  string has ``title="PATH"`` (mkdocs-material's code block title) is written to ``PATH`` first.
- ``<!-- skip: next "reason" -->`` just before a block skips it, with that reason, and
  ``<!-- skip: next if(not HAS_CHROMIUM, reason="...") -->`` skips it when the condition holds (Sybil's
  own skip directive). Every skip is listed at the end of the run with its reason.
- ``<!-- invisible-code-block: bash|python ... -->`` holds set-up a reader does not need to see (a cache
  layout, a changed weight file); it runs in order with the rest.

Where blocks run: each document in a fresh temporary working directory holding links to the checkout's
``.venv`` and ``scripts/``; its files carry over from block to block, shell variables do not (each block
is one shell, and whatever it leaves running in the background is ended when it finishes). The ``sora``,
``python`` and ``pip`` of the repository's venv come first on ``PATH``. ``/tmp/`` in a command, a Python
block or a shown output stands for a private directory of that document, so documents never share or
leave files in /tmp. Third-party progress bars are off (``TQDM_DISABLE=1``,
``HF_HUB_DISABLE_PROGRESS_BARS=1``). A document in ``NEEDS_REGISTRY`` gets a live registry, named by
``$SORA_REGISTRY_URL``, with an upload token in ``$SORA_REGISTRY_TOKEN``; a document in ``NEEDS_VENV``
runs its shell blocks in a fresh venv that sees the repository's packages, so what they install stays
there.

What is normalised before output is compared (both sides, nothing else):

1. trailing spaces of each line and trailing empty lines;
2. the document's private directory is written back as ``/tmp`` and its working directory as ``.``;
3. durations: a number followed by ``s`` or ``ms`` (``(seed 0, 4.2 s)``) becomes ``N s``;
4. hex digests: runs of 12 or more hexadecimal digits become ``<hex>``;
5. a shown line that is exactly ``...`` matches any number of lines (also none).
"""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
RUN_LANGUAGES = {"python", "bash", "console"}
OTHER_LANGUAGES = {"yaml", "json", "toml", "text", "mermaid", "nginx"}
TIMEOUT = 600
#: Documents whose blocks talk to a registry: a live ``sora-registry serve`` on a free loopback port, named by
#: ``SORA_REGISTRY_URL`` with an upload token in ``SORA_REGISTRY_TOKEN`` (user ``alice``).
NEEDS_REGISTRY = {"docs/publishing.md"}
#: Documents whose shell blocks install packages: their ``sora``, ``python`` and ``pip`` are those of a fresh venv
#: that sees the repository's venv as installed (a ``.pth`` line), so an install never reaches the venv the tests
#: run in.
NEEDS_VENV = {"README.md", "docs/cli.md", "docs/writing-a-particle.md"}


# ---------------------------------------------------------------------------------------------- evaluators


def _state(example: Example) -> DocRun:
    return RUNS[example.path]


def _substitute(text: str, state: DocRun) -> str:
    return text.replace("/tmp/", f"{state.tmp}/")


def _environment(state: DocRun) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_PROGRESS", "PYTEST_"))}
    bin_dir = state.venv / "bin" if state.venv else BIN
    env.update(
        PATH=os.pathsep.join(dict.fromkeys([str(bin_dir), str(BIN), env.get("PATH", "")])),
        VIRTUAL_ENV=str(bin_dir.parent),
        TQDM_DISABLE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_COLOR="1",
        PYTHONHASHSEED="0",
        TMPDIR=str(state.tmp),
    )
    env.update(state.env)
    return env


def normalise(text: str, state: DocRun | None = None) -> list[str]:
    """The rules of the module docstring, 1 to 4, applied to one side of a comparison."""
    if state is not None:
        text = text.replace(str(state.tmp), "/tmp").replace(str(state.cwd), ".")
    text = re.sub(r"\b\d+(?:\.\d+)? ?m?s\b", "N s", text)
    text = re.sub(r"\b[0-9a-f]{12,}\b", "<hex>", text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(shown: list[str], actual: list[str]) -> bool:
    """Rule 5: a shown ``...`` line matches any run of lines."""
    if not shown:
        return not actual
    if shown[0] == "...":
        return any(matches(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and shown[0] == actual[0] and matches(shown[1:], actual[1:])


def shell(arguments: list[str], state: DocRun) -> tuple[int, str, str]:
    """Run bash in a session of its own, its output in files (a background process cannot hold a pipe open);
    whatever it leaves running is ended with it."""
    with tempfile.TemporaryDirectory(dir=state.tmp) as scratch:
        out, err = Path(scratch, "out"), Path(scratch, "err")
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                arguments, cwd=state.cwd, env=_environment(state), stdout=stdout, stderr=stderr, start_new_session=True
            )
            try:
                rc = process.wait(timeout=TIMEOUT)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait()
        return rc, out.read_text(), err.read_text()


def run_bash(example: Example) -> str | None:
    state = _state(example)
    source = _substitute(str(example.parsed), state)
    script = state.cwd / f".docs-block-{example.line}.sh"
    script.write_text(source)
    rc, stdout, stderr = shell(["bash", "-e", "-o", "pipefail", str(script)], state)
    script.unlink()
    if rc != 0:
        return f"exit status {rc}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    return None


def console_commands(source: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (continued by a trailing backslash) and the lines shown after each."""
    commands: list[tuple[str, list[str]]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            raise AssertionError(f"console block: expected a '$ command' line, got {line!r}")
        command = [line[2:]]
        while command[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append(("\n".join(command), output))
    return commands


def run_console(example: Example) -> str | None:
    state = _state(example)
    commands = console_commands(str(example.parsed))
    work = state.cwd / f".docs-console-{example.line}"
    work.mkdir()
    script = [
        f"{{\n{_substitute(command, state)}\n}} >{work}/out.{i} 2>&1; echo $? >{work}/rc.{i}"
        for i, (command, _) in enumerate(commands)
    ]
    shell(["bash", "-c", "\n".join(script)], state)
    problems = []
    for i, (command, shown) in enumerate(commands):
        rc_file = work / f"rc.{i}"
        if not rc_file.exists():
            problems.append(f"$ {command}\n  did not run (an earlier command ended the shell)")
            continue
        rc = int(rc_file.read_text())
        actual = (work / f"out.{i}").read_text()
        expect_error = any(line.startswith("error:") for line in shown)
        if expect_error and rc == 0:
            problems.append(f"$ {command}\n  exit status 0, but the docs show an error:\n{actual}")
        elif not expect_error and rc != 0:
            problems.append(f"$ {command}\n  exit status {rc}:\n{actual}")
        if not matches(normalise("\n".join(shown)), normalise(actual, state)):
            problems.append(
                f"$ {command}\n--- shown (normalised)\n"
                + "\n".join(normalise("\n".join(shown)))
                + "\n--- printed (normalised)\n"
                + "\n".join(normalise(actual, state))
            )
    shutil.rmtree(work)
    return "\n\n".join(problems) or None


def run_python(example: Example) -> None:
    """Like Sybil's PythonEvaluator, with ``/tmp/`` read as the document's directory, in its working directory."""
    state = _state(example)
    source = "\n" * (example.line + example.parsed.line_offset) + _substitute(str(example.parsed), state)
    code = compile(source, example.path, "exec", dont_inherit=True)
    exec(code, example.namespace)
    example.namespace.pop("__builtins__", None)


def write_titled(example: Example) -> None:
    state = _state(example)
    path = state.cwd / example.region.lexemes["title"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(example.parsed))


class TitledBlockParser:
    """Blocks with ``title="PATH"`` in their info string are files the blocks after them use."""

    def __init__(self) -> None:
        self.lexer = RawFencedCodeBlockLexer(
            info_pattern=re.compile(r'(?P<language>\w+)[ \t]+title="(?P<title>[^"]+)"[ \t]*$\n', re.MULTILINE)
        )

    def __call__(self, document: Document):
        for region in self.lexer(document):
            region.parsed = region.lexemes["source"]
            region.evaluator = write_titled
            yield region


def parsers() -> list[Any]:
    python = PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    python.codeblock_parser = CodeBlockParser("python", run_python)
    return [
        SkipParser(),
        python,
        CodeBlockParser("bash", run_bash),
        CodeBlockParser("console", run_console),
        TitledBlockParser(),
    ]


# ---------------------------------------------------------------------------------------------- documents


@dataclass
class DocRun:
    path: str
    examples: list[Example]
    cwd: Path = Path()
    tmp: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    venv: Path | None = None
    done: int = 0
    failed: list[int] = field(default_factory=list)
    started: bool = False


def parse(path: str) -> Document:
    return Document.parse(str(ROOT / path), *parsers())


def is_block(example: Example) -> bool:
    """A visible code block: not a skip directive, an invisible block or a written file."""
    lexemes = example.region.lexemes or {}
    return not isinstance(example.region.evaluator, Skipper) and "directive" not in lexemes and "title" not in lexemes


RUNS: dict[str, DocRun] = {}
BLOCKS: list[tuple[str, int]] = []
for _path in DOCUMENTS:
    _document = parse(_path)
    _examples = list(_document.examples())
    RUNS[str(ROOT / _path)] = DocRun(_path, _examples)
    BLOCKS += [(_path, i) for i, example in enumerate(_examples) if is_block(example)]


def has(program: str) -> bool:
    return shutil.which(program) is not None


@pytest.fixture(scope="session")
def docs_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A live registry for the documents in ``NEEDS_REGISTRY``, started once."""
    data = tmp_path_factory.mktemp("docs-registry") / "data"
    registry = str(BIN / "sora-registry")
    command = [registry, "token", "create", "--data", str(data), "--user", "alice"]
    created = subprocess.run(command, capture_output=True, text=True, check=True)
    token = created.stdout.strip().splitlines()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [registry, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/simple/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield {"SORA_REGISTRY_URL": url, "SORA_REGISTRY_TOKEN": token}
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def docs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs")


def fresh_venv(path: Path) -> Path:
    """A new venv that sees this one's packages as installed (its ``.pth`` files too) and has its console scripts."""
    # without its own pip and setuptools (3.11's venv brings setuptools 65, older than projects here need): the
    # parent's are used, and pip run from it installs into this venv
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=TIMEOUT)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    for script in BIN.iterdir():  # the parent's console scripts (sora, pip, pytest, ...), run by this venv's python
        target = path / "bin" / script.name
        if target.exists() or not script.is_file():
            continue
        with script.open("rb") as file:
            first = file.readline()
        if first.startswith(f"#!{BIN}/python".encode()):
            target.write_bytes(f"#!{python}\n".encode() + script.read_bytes()[len(first) :])
            target.chmod(0o755)
    return path


def start(state: DocRun, root: Path, request: pytest.FixtureRequest) -> None:
    if state.started:
        return
    if state.path in NEEDS_REGISTRY:
        state.env.update(request.getfixturevalue("docs_registry"))
    if state.path in NEEDS_VENV:
        state.venv = fresh_venv(root / (state.path.replace("/", "-") + "-venv"))
    name = state.path.replace("/", "-").removesuffix(".md")
    state.cwd = root / name / "work"
    state.tmp = root / name / "tmp"
    state.cwd.mkdir(parents=True)
    state.tmp.mkdir()
    (state.cwd / ".venv").symlink_to(BIN.parent)
    (state.cwd / "scripts").symlink_to(ROOT / "scripts")
    namespace = state.examples[0].document.namespace if state.examples else {}
    namespace.update(HAS_CHROMIUM=has("chromium") or has("chromium-browser"), HAS_DOT=has("dot"))
    state.started = True


def evaluate(state: DocRun, index: int) -> None:
    example = state.examples[index]
    before = Path.cwd()
    saved = {name: os.environ.get(name) for name in state.env}
    os.chdir(state.cwd)
    os.environ.update(state.env)
    try:
        example.evaluate()
    finally:
        os.chdir(before)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        state.done = index + 1


@pytest.mark.parametrize(
    ("path", "index"), BLOCKS, ids=[f"{path}:{RUNS[str(ROOT / path)].examples[i].line}" for path, i in BLOCKS]
)
def test_block(path: str, index: int, docs_root: Path, request: pytest.FixtureRequest) -> None:
    """One code block of the docs, after every block and set-up before it in the same document."""
    state = RUNS[str(ROOT / path)]
    start(state, docs_root, request)
    for earlier in range(state.done, index):
        try:
            evaluate(state, earlier)
        except BaseException as error:  # a skip or a failure of an earlier block, reported by its own test
            if not isinstance(error, pytest.skip.Exception) and type(error).__name__ != "SkipTest":
                state.failed.append(state.examples[earlier].line)
    line = state.examples[index].line
    try:
        evaluate(state, index)
    except pytest.skip.Exception:
        raise
    except Exception as error:
        if type(error).__name__ == "SkipTest":
            pytest.skip(f"{path}:{line}: {error}")
        state.failed.append(line)
        raise


def test_every_block_is_run_or_named() -> None:
    """No fenced block escapes: each is run (python, bash, console) or of a language that is not code to run."""
    lexer = RawFencedCodeBlockLexer(info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE))
    unknown = []
    for path in DOCUMENTS:
        document = Document((ROOT / path).read_text(), path)
        for region in lexer(document):
            language = region.lexemes["info"].split()[0] if region.lexemes["info"].strip() else ""
            if language not in RUN_LANGUAGES | OTHER_LANGUAGES:
                line = document.text.count("\n", 0, region.start) + 1
                unknown.append(f"{path}:{line}: ```{language}")
    assert not unknown, "blocks without a known language (tag them python, bash, console or text):\n" + "\n".join(
        unknown
    )
