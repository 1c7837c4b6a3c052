"""Deepen a trained denoiser by one DiT block without changing what it computes, to train on from there.

    python -m training.grow_depth --denoiser DIR --out DIR [--at K]

The new block is inserted before block ``K`` (default: the middle) as a copy of the block before it, with the
output projections of its self-attention, cross-attention and MLP set to zero: every residual branch then
adds nothing, so the grown denoiser predicts exactly what the original did, while those projections still get
gradients (their inputs are not zero) and training can put the block to use. Fine-tuning a grown denoiser
keeps what the trained one knows instead of starting a larger one from scratch. The result is written with
``save_pretrained`` and is a plain ``dit-denoiser`` of ``depth + 1`` for ``train_t2v --init-denoiser``.
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

__all__ = ["grow"]

#: The last layer of each residual branch of a block, zeroed in the inserted one.
BRANCH_OUTPUTS = ("attn.proj.", "mlp.2.", "cross_attention.to_out.")


def grow(source: str | Path, at: int | None = None, particle: str = DENOISER) -> Any:
    """``particle`` from ``source`` with one more block before block ``at`` that starts as the identity."""
    old = registry.load(particle, weights=source)
    config = old.config.model_dump()
    depth = int(config["depth"])
    at = depth // 2 if at is None else at
    if not 1 <= at <= depth:
        raise SoraError(
            f"--at {at}: {source} has {depth} blocks; a block can be inserted before blocks 1 to {depth}",
            f"pass --at between 1 and {depth} ({depth} appends one at the end)",
        )
    new = registry.create(particle, **{**config, "depth": depth + 1})
    old_state, new_state = old.state_dict(), new.state_dict()
    missing = [suffix for suffix in BRANCH_OUTPUTS if not any(f"blocks.0.{suffix}" in name for name in old_state)]
    if missing:
        raise SoraError(
            f"{source}: its blocks have no {', '.join(missing)} layers to start the new block at zero "
            f"(its cross_attention particle is {config.get('cross_attention')!r})",
            "grow a denoiser whose cross-attention has a to_out projection (sora-dit:multihead-cross-attention)",
        )
    grown: dict[str, torch.Tensor] = {}
    for name in new_state:
        if not name.startswith("blocks."):
            grown[name] = old_state[name]
            continue
        _, index, rest = name.split(".", 2)
        block = int(index)
        source_block = block if block < at else block - 1  # the inserted block copies the one before it
        tensor = old_state[f"blocks.{source_block}.{rest}"].clone()
        if block == at and rest.startswith(BRANCH_OUTPUTS):
            tensor.zero_()
        grown[name] = tensor
    new.load_state_dict(grown)
    return new.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.grow_depth", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--denoiser",
        required=True,
        help="a trained denoiser directory (the shipped one: plugins/sora-dit/sora_dit/weights/dit-denoiser)",
    )
    parser.add_argument("--at", type=int, default=None, help="insert before this block (default: the middle)")
    parser.add_argument("--out", required=True, type=Path, help="where the grown denoiser is written")
    args = parser.parse_args(argv)
    try:
        grown = grow(args.denoiser, args.at)
        grown.save_pretrained(args.out)
    except SoraError as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.out} (depth {grown.config.depth}, from {args.denoiser})")


if __name__ == "__main__":
    main()
