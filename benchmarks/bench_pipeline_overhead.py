"""What running the seed model as a pipeline of particles costs over the same model written as one module.

The corrected ``seed`` template (four particles) and sora-seed's hand-written
``SeedMonolith`` holding the same weights run on the seed's example (batch 16, sequence
10, features 512), interleaved in one process so that machine noise hits both alike.
Each round times one pipeline run, the same four particles called by hand, and one monolith
forward, in an order rotated every round; the figures are medians of the per-round ratios to
the monolith. Pipeline / by hand is what the graph machinery costs; by hand / monolith is
what the particles' extra outputs cost. It is measured for sequential and
concurrent pipeline runs, and again with ``torch.compile`` applied to every particle and
to the monolith, when compiling works on this machine.

    .venv/bin/python benchmarks/bench_pipeline_overhead.py [--rounds 300] [--batch 16] [--strict]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from sora_seed.monolith import SeedMonolith

from sora_core.pipeline import Pipeline

TARGET = 1.03  # the pipeline may cost at most 3% more than the monolith


def seed_inputs(batch: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "text": torch.randn(batch, 10, 512, generator=generator),
        "video_features": torch.randn(batch, 10, 512, generator=generator),
    }


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def interleaved(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median time of each call (ms), and the median per-round ratio of each call to ``monolith``.

    Every round times each call once, in an order rotated from round to round.
    """
    names = list(calls)
    for _ in range(10):  # warm-up: allocator, thread pools, compiled graphs
        for call in calls.values():
            call()
    times: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        order = names[i % len(names) :] + names[: i % len(names)]
        this_round = {name: timed(calls[name]) for name in order}
        for name in names:
            times[name].append(this_round[name])
            ratios[name].append(this_round[name] / this_round["monolith"])
    figures = {f"{name}_ms": statistics.median(times[name]) * 1000 for name in names}
    figures.update({f"{name}_ratio": statistics.median(ratios[name]) for name in names})
    return figures


def compiled(pipe: Pipeline, monolith: SeedMonolith) -> tuple[Pipeline, Callable[..., Any]] | str:
    """The pipeline with each particle's forward compiled, and the compiled monolith; or why it failed."""
    try:
        for particle in pipe.nodes.values():
            particle.forward = torch.compile(particle.forward, dynamic=False)  # type: ignore[method-assign]
        compiled_monolith = torch.compile(monolith, dynamic=False)
        inputs = seed_inputs(2)
        with torch.inference_mode():
            compiled_monolith(inputs["text"], inputs["video_features"])
        pipe.run(inputs)
    except Exception as exc:  # compilation needs a working C++ toolchain; report rather than crash
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return pipe, compiled_monolith


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="interleaved rounds per mode")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    pipe = Pipeline.from_template("seed", seed=0)
    monolith = SeedMonolith.from_pipeline(pipe)
    inputs = seed_inputs(args.batch)
    with torch.inference_mode():
        expected = monolith(inputs["text"], inputs["video_features"])
    torch.testing.assert_close(pipe.run(inputs)["video"], expected, rtol=0, atol=1e-6)

    def eager_monolith() -> Any:
        with torch.inference_mode():
            return monolith(inputs["text"], inputs["video_features"])

    def particles_by_hand() -> Any:
        """The four particles called in order with no pipeline around them: what the graph machinery adds is
        pipeline / by hand; what the particles' own extra outputs (masks, pooled text, attention weights) cost is
        by hand / monolith."""
        nodes = pipe.nodes
        with torch.inference_mode():
            text = nodes["text_encoder"](token_embeddings=inputs["text"])
            video = nodes["video_decoder"](features=inputs["video_features"])
            attended = nodes["attention"](query=video["hidden"], context=text["embeddings"], mask=text["mask"])
            return nodes["generator"](condition=attended["tokens"])

    print(f"seed pipeline vs SeedMonolith, batch {args.batch}, sequence 10, features 512, {args.rounds} rounds")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; ratios: medians of per-round ratios")
    print(f"{'mode':<24}{'pipeline ms':>12}{'by hand ms':>11}{'monolith ms':>13}{'ratio':>8}{'by hand':>9}  target")
    results: dict[str, dict[str, float]] = {}
    for mode, concurrent in (("eager, sequential", False), ("eager, concurrent", True)):
        results[mode] = interleaved(
            {
                "pipeline": lambda c=concurrent: pipe.run(inputs, concurrent=c),
                "by_hand": particles_by_hand,
                "monolith": eager_monolith,
            },
            args.rounds,
        )
    if not args.no_compile:
        outcome = compiled(pipe, monolith)
        if isinstance(outcome, str):
            print(f"torch.compile: not measured ({outcome})")
        else:
            compiled_pipe, compiled_monolith = outcome

            def compiled_call() -> Any:
                with torch.inference_mode():
                    return compiled_monolith(inputs["text"], inputs["video_features"])

            results["compiled, sequential"] = interleaved(
                {
                    "pipeline": lambda: compiled_pipe.run(inputs, concurrent=False),
                    "by_hand": particles_by_hand,  # the particles' forwards are compiled now too
                    "monolith": compiled_call,
                },
                args.rounds,
            )
    missed = False
    for mode, figures in results.items():
        ok = figures["pipeline_ratio"] <= TARGET
        missed |= not ok
        print(
            f"{mode:<24}{figures['pipeline_ms']:>12.2f}{figures['by_hand_ms']:>11.2f}{figures['monolith_ms']:>13.2f}"
            f"{figures['pipeline_ratio']:>8.3f}{figures['by_hand_ratio']:>9.3f}"
            f"  <= {TARGET:.2f} {'PASS' if ok else 'FAIL'}"
        )
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
