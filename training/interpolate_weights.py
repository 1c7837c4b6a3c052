"""Interpolate two trained denoisers of the same config: ``(1 - alpha) * first + alpha * second``, tensor by tensor.

    python -m training.interpolate_weights --first A --second B --alpha 0.5 --out DIR

Two runs that share their starting weights (a fine-tune and the weights it started from) usually lie in one
basin, so the weights between them sample as well as either and keep some of what each learnt (a "model soup").
Both directories are loaded through the registry (hashes verified) and the result is written with
``save_pretrained``, so it drops into the ``t2v`` pipeline and ``training.ship`` like any trained denoiser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from sora_core import registry
from sora_core.errors import SoraError
from training.t2v_objective import DENOISER

__all__ = ["interpolate"]


def interpolate(first: str | Path, second: str | Path, alpha: float, particle: str = DENOISER) -> Any:
    """``particle`` with weights ``(1 - alpha) * first + alpha * second``; both must have the same config."""
    if not 0.0 <= alpha <= 1.0:
        raise SoraError(f"alpha {alpha} is outside [0, 1]", "pass a weight between 0 (first) and 1 (second)")
    a = registry.load(particle, weights=first)
    b = registry.load(particle, weights=second)
    ours, other = a.config.model_dump(), b.config.model_dump()
    if ours != other:
        differ = sorted(k for k in ours.keys() | other.keys() if ours.get(k) != other.get(k))
        raise SoraError(
            f"{first} and {second} are {particle}s of other configs (they differ in {', '.join(differ)})",
            "interpolate only weights of one architecture, such as a fine-tune and the weights it started from",
        )
    theirs = b.state_dict()
    with torch.no_grad():
        for name, tensor in a.state_dict().items():
            if tensor.is_floating_point():
                tensor.lerp_(theirs[name], alpha)
    return a.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.interpolate_weights", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--first", required=True, help="a trained denoiser directory (alpha 0)")
    parser.add_argument("--second", required=True, help="a trained denoiser directory of the same config (alpha 1)")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--out", required=True, type=Path, help="where the interpolated denoiser is written")
    args = parser.parse_args(argv)
    try:
        interpolate(args.first, args.second, args.alpha).save_pretrained(args.out)
    except SoraError as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.out} ({1 - args.alpha:g} x {args.first} + {args.alpha:g} x {args.second})")


if __name__ == "__main__":
    main()
