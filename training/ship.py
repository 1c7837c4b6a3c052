"""Copy trained particles into their plugins as the default weights the ``t2v``, ``v2t`` and ``vqa`` templates load.

    python -m training.ship --vae /tmp/runs/vae --t2v /tmp/runs/t2v --scorer /tmp/runs/scorer
    python -m training.ship --scorer /tmp/runs/scorer --storage-dtype float16    # only the scorer

Each trained directory is loaded through the registry (so its hashes are verified) and written again with
``save_pretrained`` (atomically) into the plugin's ``weights/`` folder, the folder the particle's
``default_weights`` names; particles whose run is not given keep the weights shipped before. Refuses to ship
more than :data:`BUDGET_BYTES` in total, counting the weights kept. ``--storage-dtype float16``
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
from training.train_captioner import CAPTIONER
from training.train_qa import QA
from training.train_scorer import SCORER

ROOT = Path(__file__).resolve().parent.parent
#: Particle -> (run option it comes from, subdirectory of that run, destination in the repository).
TARGETS: dict[str, tuple[str, str, Path]] = {
    VAE_ENCODER: ("vae", "encoder", Path("plugins/sora-vae/sora_vae/weights/causal-vae-encoder")),
    VAE_DECODER: ("vae", "decoder", Path("plugins/sora-vae/sora_vae/weights/causal-vae-decoder")),
    DENOISER: ("t2v", "denoiser", Path("plugins/sora-dit/sora_dit/weights/dit-denoiser")),
    SCORER: ("scorer", "scorer", Path("plugins/sora-dit/sora_dit/weights/latent-text-scorer")),
    CAPTIONER: ("captioner", "captioner", Path("plugins/sora-understand/sora_understand/weights/latent-captioner")),
    QA: ("qa", "qa", Path("plugins/sora-understand/sora_understand/weights/question-answerer")),
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
    """Load every trained particle of the runs given (``vae``, ``t2v``, ``scorer``, ``captioner``, ``qa``: their
    ``--out`` directories), check the budget on them as they will be written (``storage_dtype``: see
    ``save_pretrained``) plus the weights already under ``root`` that they do not replace, then write them
    under ``root`` (the repository); returns each shipped particle's size in bytes."""
    unknown = sorted(set(runs) - {run for run, _, _ in TARGETS.values()})
    if unknown or not runs:
        raise ShipError(
            f"nothing to ship from runs {sorted(runs)}" if not unknown else f"unknown runs {unknown}",
            "give the --out directories of train_vae (vae), train_t2v (t2v), train_scorer (scorer) and/or "
            "train_captioner (captioner), train_qa (qa)",
        )
    chosen = {name: target for name, target in TARGETS.items() if target[0] in runs}
    loaded = {name: registry.load(name, weights=runs[run] / sub) for name, (run, sub, _) in chosen.items()}
    kept = sum(
        _size(root / dest) for name, (_, _, dest) in TARGETS.items() if name not in chosen and (root / dest).is_dir()
    )
    with tempfile.TemporaryDirectory() as staging:
        for name, particle in loaded.items():
            particle.save_pretrained(Path(staging) / name.replace(":", "-"), storage_dtype=storage_dtype)
        total = _size(Path(staging)) + kept
    if total > budget:
        raise ShipError(
            f"the trained weights weigh {total / 1e6:.1f} MB together (with {kept / 1e6:.1f} MB already shipped "
            f"and kept), over the {budget / 1e6:.0f} MB budget",
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
    parser.add_argument("--vae", type=Path, help="training.train_vae's --out directory")
    parser.add_argument("--t2v", type=Path, help="training.train_t2v's --out directory")
    parser.add_argument("--scorer", type=Path, help="training.train_scorer's --out directory")
    parser.add_argument("--captioner", type=Path, help="training.train_captioner's --out directory")
    parser.add_argument("--qa", type=Path, help="training.train_qa's --out directory")
    parser.add_argument(
        "--storage-dtype",
        choices=["float32", "float16", "bfloat16"],
        default=None,
        help="dtype the floating tensors are stored in (default: as trained, float32)",
    )
    args = parser.parse_args(argv)
    try:
        runs = {
            run: getattr(args, run)
            for run in ("vae", "t2v", "scorer", "captioner", "qa")
            if getattr(args, run) is not None
        }
        sizes = ship(runs, storage_dtype=args.storage_dtype)
    except SoraError as error:
        sys.exit(f"error: {error}")
    for name, size in sizes.items():
        print(f"{name}: {TARGETS[name][2]} ({size / 1e6:.2f} MB)")
    total = sum(_size(ROOT / dest) for _, _, dest in TARGETS.values() if (ROOT / dest).is_dir())
    print(f"shipped weights now weigh {total / 1e6:.2f} MB of {BUDGET_BYTES / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
