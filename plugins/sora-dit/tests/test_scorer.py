"""latent-text-scorer, and the latent sampler reranking its candidates with a bound scorer."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from sora_core import registry
from sora_core.config import ParticleConfig
from sora_core.errors import ComponentError, PipelineError
from sora_core.interfaces import Denoiser, ModuleParticle
from sora_core.pipeline import Pipeline
from sora_core.ports import PortSpec

SCORER, SAMPLER = "sora-dit:latent-text-scorer", "sora-dit:latent-sampler"
LATENT_SPACE, TEXT_SPACE = "latent/sora-causal-vae-c8t4s4@1", "text/sora-byte-transformer@1"
SMALL = {"frames": 5, "height": 16, "width": 32}  # latent (c=8, t=2, h=4, w=8)


def fresh_scorer(**config: Any) -> Any:
    torch.manual_seed(0)
    return registry.create(SCORER, hidden_size=32, depth=2, heads=2, **config).eval()


def test_scores_one_logit_per_video_and_text_and_ignores_padding() -> None:
    scorer = fresh_scorer()
    assert scorer.kind == "video_text_scorer"
    assert str(scorer.input_ports()["latent"]) == f"float32[B c=8 t h w] @ {LATENT_SPACE}"
    generator = torch.Generator().manual_seed(1)
    latent = torch.randn(3, 8, 3, 8, 8, generator=generator)
    text = torch.randn(3, 5, 256, generator=generator)
    with torch.inference_mode():
        score = scorer(latent=latent, condition=text)["score"]
        padded = torch.cat([text, torch.randn(3, 4, 256, generator=generator)], dim=1)
        mask = torch.zeros(3, 9, dtype=torch.bool)
        mask[:, :5] = True
        masked = scorer(latent=latent, condition=padded, condition_mask=mask)["score"]
        other_text = scorer(latent=latent, condition=text.flip(0))["score"]
    assert score.shape == (3,) and score.dtype == torch.float32
    torch.testing.assert_close(masked, score, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(other_text, score)


def test_latents_that_do_not_divide_by_the_patch_are_scored_too() -> None:
    scorer = fresh_scorer()  # 1x4x4 patches
    with torch.inference_mode():
        odd = scorer(latent=torch.randn(2, 8, 3, 10, 6), condition=torch.randn(2, 4, 256))["score"]
    assert odd.shape == (2,) and torch.isfinite(odd).all()


@pytest.mark.parametrize("differences", [False, True])
def test_frame_differences_let_each_frames_patches_see_what_changed_since_the_one_before(differences: bool) -> None:
    scorer = fresh_scorer(video_depth=0, frame_differences=differences)  # tokens straight from the patches
    latent = torch.randn(1, 8, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    moved = latent.clone()
    moved[:, :, 0] += 1.0  # only frame 0 changes
    with torch.inference_mode():
        before, after = scorer.encode_videos(latent)[0], scorer.encode_videos(moved)[0]
    frame = scorer.patchifier.positions_for((3, 2, 2), batch=1)[0, :, 0]
    assert not torch.allclose(before[frame == 0], after[frame == 0])
    assert torch.allclose(before[frame == 2], after[frame == 2])  # frame 2 and its change from frame 1: untouched
    assert torch.allclose(before[frame == 1], after[frame == 1]) is not differences


def test_bad_sizes_are_refused_naming_the_field() -> None:
    with pytest.raises(Exception, match="hidden_size=30 is not a multiple of heads=4"):
        registry.create(SCORER, hidden_size=30)


class MeanScorerConfig(ParticleConfig):
    text_space: str = TEXT_SPACE


class MeanScorer(ModuleParticle):
    """Scores a latent by its mean (the brightest candidate wins); records what it judged."""

    kind: ClassVar[str] = "video_text_scorer"
    Config = MeanScorerConfig
    seen: ClassVar[list[torch.Tensor]] = []

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "latent": PortSpec("float32", "B c=8 t h w", space=LATENT_SPACE),
            "condition": PortSpec("float32", "B L D=256", space=self.config.text_space),
            "condition_mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"score": PortSpec("float32", "B")}

    def forward(self, latent: Any, condition: Any, condition_mask: Any = None) -> dict[str, Any]:
        self.seen.append(latent.clone())
        return {"score": latent.mean(dim=(1, 2, 3, 4))}


class ZeroDenoiser(Denoiser):
    """Predicts zero velocity: the sampled latent is its starting noise, so candidates are easy to follow."""

    Config = ParticleConfig

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "latent": PortSpec("float32", "B c=8 t h w", space=LATENT_SPACE),
            "timestep": PortSpec("float32", "B"),
            "condition": PortSpec("float32", "B L D=256", space=TEXT_SPACE),
            "condition_mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"prediction": PortSpec("float32", "B c=8 t h w")}

    def forward(self, latent: Any, timestep: Any, condition: Any, condition_mask: Any = None) -> dict[str, Any]:
        return {"prediction": torch.zeros_like(latent)}


def sample(candidates: int, scorer: Any = None, prompts: int = 2) -> torch.Tensor:
    particle = registry.create(SAMPLER, candidates=candidates, **SMALL)
    components = {"denoiser": ZeroDenoiser(), "scheduler": registry.create("sora-dit:rectified-flow-euler", steps=2)}
    if scorer is not None:
        components["scorer"] = scorer
    particle.bind_components(components)
    condition = torch.randn(2 * prompts, 4, 256, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    with torch.inference_mode():
        return particle(condition=condition, condition_mask=torch.ones(2 * prompts, 4, dtype=torch.bool))["latent"]


def test_candidates_are_sampled_and_the_best_scored_one_is_kept_for_each_prompt() -> None:
    MeanScorer.seen.clear()
    chosen = sample(3, MeanScorer())
    (judged,) = MeanScorer.seen
    assert judged.shape == (6, 8, 2, 4, 8) and chosen.shape == (2, 8, 2, 4, 8)
    torch.manual_seed(0)
    torch.testing.assert_close(judged, torch.randn(6, 8, 2, 4, 8))  # one noise draw for every candidate
    for prompt in range(2):
        rows = judged[3 * prompt : 3 * prompt + 3]
        best = rows.mean(dim=(1, 2, 3, 4)).argmax()
        torch.testing.assert_close(chosen[prompt], rows[best])


def test_one_candidate_needs_no_scorer_and_draws_the_same_noise_as_before() -> None:
    torch.manual_seed(0)
    noise = torch.randn(2, 8, 2, 4, 8)
    torch.testing.assert_close(sample(1), noise)
    MeanScorer.seen.clear()
    torch.testing.assert_close(sample(1, MeanScorer()), sample(1))
    assert MeanScorer.seen == []  # bound but not needed: never called


def test_candidates_without_a_scorer_are_refused() -> None:
    with pytest.raises(ComponentError, match="candidates=2 needs a scorer component"):
        sample(2)


def test_a_scorer_for_another_text_space_is_refused_at_bind_time_when_it_would_be_used() -> None:
    unused = registry.create(SAMPLER, candidates=1, **SMALL)
    unused.bind_components(
        {
            "denoiser": ZeroDenoiser(),
            "scheduler": registry.create("sora-dit:rectified-flow-euler"),
            "scorer": MeanScorer(text_space="text/minilm-l6@1"),
        }
    )  # one candidate: the scorer is never called, so its space does not matter
    particle = registry.create(SAMPLER, candidates=2, **SMALL)
    with pytest.raises(ComponentError, match=r"scorer .* input 'condition'.*text/minilm-l6@1"):
        particle.bind_components(
            {
                "denoiser": ZeroDenoiser(),
                "scheduler": registry.create("sora-dit:rectified-flow-euler"),
                "scorer": MeanScorer(text_space="text/minilm-l6@1"),
            }
        )


def test_a_pipeline_asking_for_candidates_without_a_scorer_names_the_slot() -> None:
    template = Pipeline.from_template("t2v", materialize=False)
    data = template.spec.to_data()
    data["nodes"]["sampler"]["components"].pop("scorer", None)
    data["nodes"]["sampler"]["config"]["candidates"] = 3
    with pytest.raises(PipelineError, match="candidates=3 needs a scorer component"):
        Pipeline.from_spec(data, materialize=False, base_dir=template.base_dir)
