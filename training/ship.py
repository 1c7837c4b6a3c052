"""Copy trained particles into their plugins as the default weights the ``t2v`` template loads.

    python -m training.ship --vae /tmp/runs/vae --t2v /tmp/runs/t2v

Each trained directory is loaded through the registry (so its hashes are verified) and written again with
``save_pretrained`` (atomically) into the plugin's ``weights/`` folder, the folder the particle's
``default_weights`` names. Refuses to ship more than :data:`BUDGET_BYTES` in total. ``--storage-dtype float16``
stores their floating tensors at half width (loading casts them back to float32), for a larger model in the budget.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from sora_core import registry
from sora_core.errors import SoraError
from training.t2v_objective import DENOISER, VAE_DECODER, VAE_ENCODER

ROOT = Path(__file__).resolve().parent.parent
#: Particle -> (run option it comes from, subdirectory of that run, destination in the repository).
TARGETS: dict[str, tuple[str, str, Path]] = {
    VAE_ENCODER: ("vae", "encoder", Path("plugins/sora-vae/sora_vae/weights/causal-vae-encoder")),
    VAE_DECODER: ("vae", "decoder", Path("plugins/sora-vae/sora_vae/weights/causal-vae-decoder")),
    DENOISER: ("t2v", "denoiser", Path("plugins/sora-dit/sora_dit/weights/dit-denoiser")),
}
#: The most the shipped weights may weigh together (the issue's 25 MB).
BUDGET_BYTES = 25_000_000


class ShipError(SoraError):
    """The trained weights cannot be shipped as they are."""


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def ship(
    runs: dict[str, Path], root: Path = ROOT, budget: int = BUDGET_BYTES, storage_dtype: Any = None
) -> dict[str, int]:
    """Load every trained particle from ``runs`` (``vae``, ``t2v``), check the budget on them as they will be
    written (``storage_dtype``: see ``save_pretrained``), then write them all under ``root`` (the repository);
    returns each particle's shipped size in bytes."""
    loaded = {name: registry.load(name, weights=runs[run] / sub) for name, (run, sub, _) in TARGETS.items()}
    with tempfile.TemporaryDirectory() as staging:
        for name, particle in loaded.items():
            particle.save_pretrained(Path(staging) / name.replace(":", "-"), storage_dtype=storage_dtype)
        total = _size(Path(staging))
    if total > budget:
        raise ShipError(
            f"the trained weights weigh {total / 1e6:.1f} MB together, over the {budget / 1e6:.0f} MB budget",
            "train a smaller denoiser (hidden_size, depth, shared_modulation) or VAE, or pass --storage-dtype float16",
        )
    sizes = {}
    for name, particle in loaded.items():
        destination = root / TARGETS[name][2]
        particle.save_pretrained(destination, storage_dtype=storage_dtype)
        sizes[name] = _size(destination)
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", required=True, type=Path, help="training.train_vae's --out directory")
    parser.add_argument("--t2v", required=True, type=Path, help="training.train_t2v's --out directory")
    parser.add_argument(
        "--storage-dtype",
        choices=["float32", "float16", "bfloat16"],
        default=None,
        help="dtype the floating tensors are stored in (default: as trained, float32)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = ship({"vae": args.vae, "t2v": args.t2v}, storage_dtype=args.storage_dtype)
    except SoraError as error:
        sys.exit(f"error: {error}")
    for name, size in sizes.items():
        print(f"{name}: {TARGETS[name][2]} ({size / 1e6:.2f} MB)")
    print(f"total {sum(sizes.values()) / 1e6:.2f} MB of {BUDGET_BYTES / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
