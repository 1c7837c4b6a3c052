"""How long the default text-to-video pipeline takes per video and per sampling step, and its peak memory.

Builds the ``t2v`` template (seed 0), warms it up, then generates ``--videos`` clips at the
default size (or ``--frames/--height/--width``) with ``--steps`` sampling steps, timing every
node with the pipeline's tracer. The baseline, measured in the same run, is one bare forward
of the denoiser on the same latent batch the sampler feeds it (every candidate of the prompt plus
their unconditional copies): a sampling step costs one such forward with the Euler sampler (two
with Heun), so ``step / denoiser forward`` is what the sampling loop adds around the network (the
sampler node's time also holds the scorer's one pass over the candidates when it reranks).

    .venv/bin/python benchmarks/bench_generate.py [--videos 5] [--steps 20] [--candidates K] \
        [--sampler sora-dit:rectified-flow-euler]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import torch

from sora_core.errors import SoraError
from sora_core.pipeline import Pipeline
from sora_core.pipeline.trace import Tracer

PROMPTS = ["a red circle moving right", "a small blue square moving up", "two green triangles bouncing"]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def denoiser_forward_seconds(pipe: Pipeline, rounds: int) -> float:
    """Median time of one denoiser forward on the batch and latent size the sampler uses."""
    sampler = pipe.nodes["sampler"].config
    denoiser = pipe.nodes["denoiser"]
    guided = sampler.guidance_scale != 1.0
    prompts = [PROMPTS[0]] * sampler.candidates + ([""] * sampler.candidates if guided else [])
    text = pipe.nodes["text_encoder"](text=prompts)
    t = 1 + (sampler.frames - 1) // sampler.temporal_compression
    h, w = sampler.height // sampler.spatial_compression, sampler.width // sampler.spatial_compression
    batch = len(prompts)
    latent = torch.randn(batch, sampler.latent_channels, t, h, w)
    inputs = {
        "latent": latent,
        "timestep": torch.full((batch,), 0.5),
        "condition": text["embeddings"],
        "condition_mask": text["mask"],
    }
    times = []
    with torch.inference_mode():
        denoiser(**inputs)
        for _ in range(rounds):
            start = time.perf_counter()
            denoiser(**inputs)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5, help="videos to time (after one warm-up)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--candidates", type=int, help="latents sampled per prompt and reranked (the template's)")
    parser.add_argument("--sampler", default=None, help="swap the scheduler node, e.g. sora-dit:rectified-flow-heun")
    args = parser.parse_args()

    before = peak_rss_mib()
    size = {k: getattr(args, k) for k in ("frames", "height", "width", "candidates") if getattr(args, k) is not None}
    try:
        pipe = Pipeline.from_template("t2v", seed=0)
        if args.sampler:
            pipe.swap("scheduler", args.sampler)
        pipe.configure("scheduler", steps=args.steps)
        if size:
            pipe.configure("sampler", **size)
    except SoraError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    config = pipe.nodes["sampler"].config
    tracer = Tracer()
    pipe.observe(tracer)
    pipe(prompt=[PROMPTS[0]])  # warm-up
    built = peak_rss_mib()

    totals, steps, nodes = [], [], {}
    for index in range(args.videos):
        start = time.perf_counter()
        video = pipe.run({"prompt": [PROMPTS[index % len(PROMPTS)]]}, seed=index)["video"]
        totals.append(time.perf_counter() - start)
        for name, record in tracer.nodes.items():
            nodes.setdefault(name, []).append(record.seconds)
        steps.append(tracer.nodes["sampler"].seconds / args.steps)
    forward = denoiser_forward_seconds(pipe, rounds=max(10, args.steps))
    per_video, per_step = statistics.median(totals), statistics.median(steps)
    heun = "heun" in (pipe.nodes["scheduler"].registered_name or "")
    evaluations = (2 * args.steps - 1) / args.steps if heun else 1.0  # Heun's last step is plain Euler

    print(
        f"t2v: {config.frames} frames of {config.width}x{config.height}, {args.steps} steps of "
        f"{pipe.nodes['scheduler'].registered_name}, guidance {config.guidance_scale}, "
        f"{config.candidates} candidate(s), {args.videos} videos"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, video {tuple(video.shape)}")
    print(f"seconds per video (median)        {per_video:8.3f}")
    print(f"seconds per sampling step         {per_step:8.4f}")
    print(f"denoiser forward (baseline)       {forward:8.4f}")
    print(f"step / denoiser forward           {per_step / forward:8.2f}   (ideal {evaluations:.2f} forwards a step)")
    for name, seconds in nodes.items():
        share = statistics.median(seconds) / per_video
        print(f"  node {name:<14} {statistics.median(seconds):8.3f} s   {share:6.1%} of the video")
    print(f"peak RSS: {built:.0f} MiB after building and one run ({before:.0f} MiB before building)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
