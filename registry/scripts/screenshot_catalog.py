"""Screenshot the registry's catalog page in headless Chromium, against a live demo registry.

    .venv/bin/python registry/scripts/screenshot_catalog.py [OUT.png] [--path /] [--width 1400] [--height 900]

It starts a registry on 127.0.0.1 (a free port, a temporary data directory), publishes a few demo
plugins through the upload API (the real sora-seed manifest and some text, video and denoiser
particles), and screenshots ``--path`` (the catalog by default) to OUT.png (default
``docs/images/registry-catalog.png``). Chromium runs with a throw-away profile and no network
services. ``demo_registry`` and ``screenshot_url`` are reused by the tests (load this file with importlib).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, upload

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "docs" / "images" / "registry-catalog.png"
SEED_MANIFEST = REPO / "plugins" / "sora-seed" / "sora_seed" / "sora_manifest.json"
MINILM, LATENT = "text/minilm-l6@1", "latent/sora-vae-s8t4c16@1"


def _port(dtype: str, shape: str, space: str | None = None, description: str = "") -> dict[str, object]:
    data: dict[str, object] = {"dtype": dtype, "shape": shape}
    if space:
        data["space"] = space
    if description:
        data["description"] = description
    return data


DEMO_PLUGINS: dict[tuple[str, str], list[ParticleSpec]] = {
    ("minilm-text", "1.2.0"): [
        ParticleSpec(
            "minilm-l6",
            "text_encoder",
            "MiniLM-L6 sentence encoder: token ids to 384-d embeddings",
            {"tokens": _port("int64", "B L"), "mask": _port("bool", "B L")},
            {"embeddings": _port("float32", "B L D=384", MINILM), "pooled": _port("float32", "B D=384", MINILM)},
            weights={"model.safetensors": [0.1] * 64},
        ),
        ParticleSpec(
            "wordpiece",
            "tokenizer",
            "WordPiece tokenizer matching minilm-l6",
            {"text": _port("str", "B")},
            {"tokens": _port("int64", "B L"), "mask": _port("bool", "B L")},
        ),
    ],
    ("sora-vae", "0.4.1"): [
        ParticleSpec(
            "vae-encoder",
            "video_encoder",
            "causal 3D VAE encoder, 8x spatial and 4x temporal compression, 16 latent channels",
            {"video": _port("float32", "B C=3 T H W")},
            {"latent": _port("float32", "B c=16 t h w", LATENT)},
            weights={"model.safetensors": [0.2] * 64},
        ),
        ParticleSpec(
            "vae-decoder",
            "video_decoder",
            "the matching decoder: latents back to RGB video in [-1, 1]",
            {"latent": _port("float32", "B c=16 t h w", LATENT)},
            {"video": _port("float32", "B C=3 T H W")},
            weights={"model.safetensors": [0.3] * 64},
        ),
        ParticleSpec(
            "patchify-2x2",
            "patchifier",
            "2x2 spacetime patches to tokens with 3D positions",
            {"latent": _port("float32", "B c t h w", LATENT)},
            {"tokens": _port("float32", "B N D"), "positions": _port("int64", "B N 3")},
        ),
    ],
    ("dit-small", "0.9.0"): [
        ParticleSpec(
            "dit-s2",
            "denoiser",
            "diffusion transformer (small), velocity prediction, text cross-attention",
            {
                "latent": _port("float", "B c=16 t h w", LATENT),
                "timestep": _port("float32", "B"),
                "text": _port("float", "B L D", "text/*"),
            },
            {"velocity": _port("float32", "B c=16 t h w", LATENT)},
        ),
    ],
    ("flow-schedulers", "2.0.0"): [
        ParticleSpec(
            "euler-flow",
            "scheduler",
            "Euler sampler for rectified-flow (velocity) denoisers",
            {"velocity": _port("float", "..."), "sample": _port("float", "...")},
            {"sample": _port("float", "...")},
        ),
    ],
}


@contextmanager
def demo_registry(root: Path) -> Iterator[LiveServer]:
    """A live registry in ``root`` holding the demo plugins and sora-seed, published through the upload API."""
    with LiveServer(root / "data") as server:
        secret = create_token(server.service, "demo")
        wheels = [
            plugin_wheel(root / "wheels", dist, particles, version=version)
            for (dist, version), particles in DEMO_PLUGINS.items()
        ]
        if SEED_MANIFEST.is_file():
            seed = [ParticleSpec(name) for name in ("additive-attention", "lstm-text-encoder", "lstm-video-decoder")]
            seed.append(ParticleSpec("lstm-video-generator"))
            wheels.append(
                plugin_wheel(root / "wheels", "sora-seed", seed, version="0.1.0", manifest=SEED_MANIFEST.read_bytes())
            )
        for wheel in wheels:
            reply = upload(server.url, wheel, secret)
            if reply.status != 201:
                raise RuntimeError(f"publishing demo wheel {wheel.name} failed: {reply.text}")
        yield server


def _project_script() -> ModuleType:
    """The project's ``scripts/screenshot_html.py`` (Chromium discovery and errors)."""
    spec = importlib.util.spec_from_file_location("screenshot_html", REPO / "scripts" / "screenshot_html.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def screenshot_url(url: str, out: Path, *, width: int = 1400, height: int = 900, timeout: float = 120.0) -> Path:
    """Write a ``width`` x ``height`` PNG of ``url`` to ``out``; raise the project's ``ScreenshotError`` on failure."""
    script = _project_script()
    chromium = script.find_chromium()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="sora-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--screenshot={out}", f"--window-size={width},{height}", url,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise script.ScreenshotError(f"chromium did not finish within {timeout:g} s") from None
    if not out.is_file() or out.stat().st_size == 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise script.ScreenshotError(f"chromium wrote no screenshot of {url} (exit {result.returncode}): {last}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the catalog page of a demo registry.")
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    parser.add_argument("--path", default="/", help="the page to screenshot (default /, the catalog)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    script = _project_script()
    with tempfile.TemporaryDirectory(prefix="sora-registry-demo-") as root, demo_registry(Path(root)) as server:
        try:
            path = screenshot_url(server.url + args.path, args.out, width=args.width, height=args.height)
        except script.ScreenshotError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
