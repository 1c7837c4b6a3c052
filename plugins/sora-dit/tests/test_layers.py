"""object-prompts and layer-compositor: splitting prompts into object layers and putting the layers together."""

from __future__ import annotations

import pytest
import torch

from sora_core import registry
from sora_core.errors import ConfigError, PortError

PROMPTS, COMPOSITOR = "sora-dit:object-prompts", "sora-dit:layer-compositor"
BLACK, GREY = -0.94, -0.44


def layers_of(text: str, **config: object) -> list[str]:
    out = registry.create(PROMPTS, **config)(prompt=[text])
    count = int(out["layers"][0])
    return out["text"][:count]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a red circle moving right", ["a red circle moving right"]),
        ("a purple block bouncing back and forth", ["a purple block bouncing back and forth"]),
        (
            "a red circle moving left and a blue square sitting still on a black background.",
            ["a red circle moving left on a black background", "a blue square sitting still on a black background"],
        ),
        (
            "two objects: a purple block bouncing back and forth and an orange triangle",
            ["a purple block bouncing back and forth", "an orange triangle"],
        ),
        (
            "in this scene, a cyan dot rises, and meanwhile a white block falls",
            ["in this scene, a cyan dot rises", "a white block falls"],
        ),
        (
            "a pair of items: a scarlet orb at rest, plus an aqua disk expanding",
            ["a scarlet orb at rest", "an aqua disk expanding"],
        ),
        (
            "footage of a lime cube alongside a teal pyramid against an ebony backdrop",
            ["footage of a lime cube against an ebony backdrop", "a teal pyramid against an ebony backdrop"],
        ),
        ("a red ball beside a green cube beside a blue cone", ["a red ball", "a green cube", "a blue cone"]),
    ],
)
def test_prompts_split_into_one_layer_per_object(prompt: str, expected: list[str]) -> None:
    assert layers_of(prompt) == expected


def test_layers_follow_prompt_order_then_unconditional_rows() -> None:
    out = registry.create(PROMPTS, negative_prompt="blurry")(prompt=["a red ball and a blue cube", "a green cone"])
    assert out["text"] == ["a red ball", "a blue cube", "a green cone", "blurry", "blurry", "blurry"]
    assert out["layers"].tolist() == [2, 1]
    assert out["layers"].dtype == torch.int64


def test_max_layers_keeps_the_rest_in_the_last_layer() -> None:
    assert layers_of("a red ball and a green cube and a blue cone", max_layers=2) == [
        "a red ball",
        "a green cube and a blue cone",
    ]
    assert layers_of("a red ball and a green cube", max_layers=1) == ["a red ball and a green cube"]


def test_conjunctions_are_configurable() -> None:
    assert layers_of("a red ball with a green cube") == ["a red ball with a green cube"]
    assert layers_of("a red ball with a green cube", conjunctions=["with"]) == ["a red ball", "a green cube"]


def test_object_prompts_refuse_bad_input_and_config() -> None:
    with pytest.raises(PortError, match="'prompt' must be a string or a list of strings"):
        registry.create(PROMPTS)(prompt=[1, 2])
    with pytest.raises(ConfigError, match="conjunctions"):
        registry.create(PROMPTS, conjunctions=[])
    with pytest.raises(ConfigError, match="max_layers"):
        registry.create(PROMPTS, max_layers=0)


# --- the compositor -----------------------------------------------------------------------------------------------


def layer(
    background: float, colour: tuple[float, float, float], top: int, lefts: list[int], size: int = 8
) -> torch.Tensor:
    """A (3, T, 32, 32) layer: a square of ``colour`` at row ``top`` and column ``lefts[t]`` in frame t."""
    video = torch.full((3, len(lefts), 32, 32), background)
    for t, left in enumerate(lefts):
        video[:, t, top : top + size, left : left + size] = torch.tensor(colour).view(3, 1, 1)
    return video


def object_pixels(video: torch.Tensor, colour: tuple[float, float, float]) -> torch.Tensor:
    """(T, H, W): where ``video`` shows ``colour``."""
    return (video - torch.tensor(colour).view(3, 1, 1, 1)).abs().amax(dim=0) < 0.05


RED, BLUE = (0.8, -0.7, -0.7), (-0.6, -0.3, 0.85)


def test_one_layer_passes_through() -> None:
    video = layer(BLACK, RED, 4, [2, 4, 6])[None]
    out = registry.create(COMPOSITOR)(video=video, layers=torch.tensor([1]))["video"]
    assert torch.equal(out, video)


def test_overlapping_objects_are_moved_apart_keeping_their_motion() -> None:
    base = layer(BLACK, RED, 12, [4, 8, 12])  # moving right
    second = layer(GREY, BLUE, 12, [14, 12, 10])  # moving left: would cross the red one
    compositor = registry.create(COMPOSITOR, gap=2 / 32)
    out = compositor(video=torch.stack([base, second]), layers=torch.tensor([2]))["video"][0]
    red, blue = object_pixels(out, RED), object_pixels(out, BLUE)
    assert torch.equal(red, object_pixels(base, RED))  # the base layer stays where it was
    assert (out[:, ~(red | blue)] - BLACK).abs().max() < 1e-6  # on the base layer's background
    for t in range(3):
        assert int(blue[t].sum()) == 64  # whole, inside the frame
        grown = torch.nn.functional.max_pool2d(red[t][None].float(), 5, stride=1, padding=2)[0] > 0
        assert not (grown & blue[t]).any()  # at least the gap away from the red square
    columns = [int(blue[t].any(dim=0).nonzero().min()) for t in range(3)]
    assert columns[1] - columns[0] == -2 and columns[2] - columns[1] == -2  # still moving left by 2 a frame


def test_prompts_keep_their_own_layers() -> None:
    one = layer(BLACK, RED, 4, [2, 2])
    two = [layer(GREY, BLUE, 20, [20, 20]), layer(BLACK, RED, 2, [2, 2])]
    out = registry.create(COMPOSITOR)(video=torch.stack([one, *two]), layers=torch.tensor([1, 2]))["video"]
    assert out.shape == (2, 3, 2, 32, 32)
    assert torch.equal(out[0], one)
    assert int(object_pixels(out[1], RED)[0].sum()) == 64 and int(object_pixels(out[1], BLUE)[0].sum()) == 64


def test_compositor_refuses_counts_that_do_not_match_the_layers() -> None:
    video = torch.zeros(3, 3, 2, 16, 16)
    compositor = registry.create(COMPOSITOR)
    with pytest.raises(PortError, match=r"'layers' \[2, 2\] must be counts of at least 1 summing to the 3 videos"):
        compositor(video=video, layers=torch.tensor([2, 2]))
    with pytest.raises(PortError, match="object-prompts"):
        compositor(video=video, layers=torch.tensor([3, 0]))
    with pytest.raises(ConfigError, match="matte_high"):
        registry.create(COMPOSITOR, matte_low=0.5, matte_high=0.2)


def test_each_layer_says_how_many_objects_it_asks_for() -> None:
    out = registry.create(PROMPTS)(prompt=["a red ball and two blue cubes", "several cones", "a pair of cubes"])
    assert out["text"][:4] == ["a red ball", "two blue cubes", "several cones", "a pair of cubes"]
    assert out["objects"].tolist() == [1, 2, 0, 2]


def test_a_layer_keeps_only_the_objects_it_asks_for() -> None:
    video = layer(BLACK, RED, 4, [2, 4, 6], size=8)
    video[:, :, 20:25, 20:25] = torch.tensor(RED).view(3, 1, 1)  # a smaller extra copy, still in every frame
    compositor = registry.create(COMPOSITOR)
    kept = compositor(video=video[None], layers=torch.tensor([1]), objects=torch.tensor([1]))["video"][0]
    assert torch.equal(object_pixels(kept, RED), object_pixels(layer(BLACK, RED, 4, [2, 4, 6]), RED))
    assert (kept[:, :, 20:25, 20:25] - BLACK).abs().max() < 1e-6  # painted over with the background
    for asked in ([0], [2]):
        out = compositor(video=video[None], layers=torch.tensor([1]), objects=torch.tensor(asked))["video"][0]
        assert torch.equal(out, video)
    with pytest.raises(PortError, match=r"input 'objects' \[1, 1\] must hold one count of 0 or more per video"):
        compositor(video=video[None], layers=torch.tensor([1]), objects=torch.tensor([1, 1]))


def test_a_dropped_object_takes_its_faint_rim_with_it() -> None:
    video = layer(BLACK, RED, 4, [2, 4, 6], size=8)
    video[:, :, 19:26, 19:26] = BLACK + 0.05  # a rim too faint for the matte, around
    video[:, :, 20:25, 20:25] = torch.tensor(RED).view(3, 1, 1)  # an extra copy that is dropped
    for margin, rim_left in ((0, True), (4, False)):
        compositor = registry.create(COMPOSITOR, erase_margin=margin)
        out = compositor(video=video[None], layers=torch.tensor([1]), objects=torch.tensor([1]))["video"][0]
        assert ((out[:, :, 19:26, 19:26] - BLACK).abs().amax() > 0.01) == rim_left
        assert torch.equal(object_pixels(out, RED), object_pixels(layer(BLACK, RED, 4, [2, 4, 6]), RED))
