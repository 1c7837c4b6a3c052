"""Prompt words the text side was never trained on are named in a SoraWarning ("the clip will not show them"),
as are frames and sizes outside what the shipped denoiser was trained at; the t2v template asks for both."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from sora_dit.words import STOP_WORDS, read_word_list, stem, words_of

from sora_core import registry
from sora_core.cli.main import main
from sora_core.errors import ConfigError, SoraWarning

OBJECT_PROMPTS, CFG_PROMPTS, SAMPLER = "sora-dit:object-prompts", "sora-dit:cfg-prompts", "sora-dit:latent-sampler"


def sora_warnings(call) -> list[str]:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, SoraWarning)]


# --- which words are known -------------------------------------------------------------------------------------


def test_the_shipped_list_holds_the_training_words_and_not_the_evaluation_paraphrases() -> None:
    words = read_word_list("t2v")
    assert {"red", "circle", "ball", "square", "moving", "right", "background", "bouncing", "cherry"} <= words
    assert not {"crimson", "disc", "cat", "piano"} & words  # paraphrases are held out; cats were never drawn


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("circles", "circle"),
        ("squares", "square"),
        ("balls", "ball"),
        ("moves", "moving"),
        ("moved", "moving"),
        ("dropping", "drops"),
        ("bigger", "big"),
        ("travelled", "travels"),
        ("bounced", "bouncing"),
    ],
)
def test_inflected_forms_share_a_stem(word: str, base: str) -> None:
    assert stem(word) == stem(base)


def test_words_are_split_lowercased_and_possessives_folded() -> None:
    assert words_of("The Circle's path, 3 red-dots!") == ["the", "circle", "path", "red", "dots"]


def test_known_and_unknown_words_of_prompts() -> None:
    prompts = registry.create(OBJECT_PROMPTS, known_words="t2v")
    assert prompts.unknown_words("a cat playing the piano") == ["cat", "playing", "piano"]
    assert prompts.unknown_words("Two small red circles moving to the right and a big blue square bouncing") == []
    assert prompts.unknown_words("The red balls were dropping, 3 of them.") == []  # stop words and digits are fine
    assert prompts.unknown_words("a red circle above a blue square") == ["above"]  # relations say something
    assert prompts.unknown_words("a crimson disc gliding rightwards") == ["crimson", "disc", "gliding", "rightwards"]
    # the splitter's own words are structure: "alongside" joins layers, "backdrop" is the scene
    assert prompts.unknown_words("a red ball alongside a blue block against a black backdrop") == []
    assert "alongside" in registry.create(CFG_PROMPTS, known_words="t2v").unknown_words("a red ball alongside a cat")
    assert {"is", "the", "of", "and"} <= STOP_WORDS


# --- the warning -----------------------------------------------------------------------------------------------


def test_a_prompt_with_unknown_words_warns_naming_them() -> None:
    prompts = registry.create(OBJECT_PROMPTS, known_words="t2v")
    messages = sora_warnings(lambda: prompts(prompt=["a cat playing the piano", "a red circle moving right"]))
    assert messages == [
        "sora-dit:object-prompts: 'cat', 'playing', 'piano' in the prompt 'a cat playing the piano' were never in a "
        "caption the text-to-video weights were trained on (known_words: t2v); the clip will not show them"
    ]
    one = sora_warnings(lambda: prompts(prompt="a red piano"))
    assert one and "'piano' in the prompt 'a red piano' was never" in one[0] and one[0].endswith("will not show it")
    assert sora_warnings(lambda: prompts(prompt=["a small red ball sliding to the left on a navy background"])) == []


def test_warnings_as_errors_refuse_the_prompt() -> None:  # what --strict does
    prompts = registry.create(CFG_PROMPTS, known_words="t2v")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SoraWarning)
        with pytest.raises(SoraWarning, match="'piano'"):
            prompts(prompt=["a piano"])


def test_without_a_word_list_nothing_is_checked() -> None:
    assert registry.create(OBJECT_PROMPTS).config.known_words is None
    assert sora_warnings(lambda: registry.create(OBJECT_PROMPTS)(prompt=["a cat playing the piano"])) == []


def test_a_word_list_of_ones_own(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# my captions\ncat\nplays piano  # a phrase is its words\n")
    prompts = registry.create(CFG_PROMPTS, known_words=str(words))
    assert prompts.unknown_words("the cats play pianos and a dog") == ["dog"]


def test_bad_word_lists_are_refused_when_the_particle_is_made(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"known_words '.*nowhere\.txt': cannot read the word list"):
        registry.create(OBJECT_PROMPTS, known_words=str(tmp_path / "nowhere.txt"))
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    with pytest.raises(ConfigError, match="holds no word"):
        registry.create(OBJECT_PROMPTS, known_words=str(tmp_path / "empty.txt"))
    with pytest.raises(ConfigError, match="known_words"):
        registry.create(OBJECT_PROMPTS, known_words="  ")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        registry.create(CFG_PROMPTS, known_words=str(tmp_path / "binary.txt"))


# --- trained sizes ---------------------------------------------------------------------------------------------


def sampler(**config: object):  # type: ignore[no-untyped-def]
    particle = registry.create(SAMPLER, **config)
    particle.bind_components(type(particle).example_components(particle.config))
    return particle


def run_sampler(particle) -> None:  # type: ignore[no-untyped-def]
    particle(condition=torch.randn(2, 3, particle.config.text_dim), condition_mask=torch.ones(2, 3, dtype=torch.bool))


def test_a_size_or_frame_count_outside_training_is_warned_about() -> None:
    small = sampler(trained_size=[9, 64, 64], frames=5, height=32, width=48, steps=1)
    assert sora_warnings(lambda: run_sampler(small)) == [
        "sora-dit:latent-sampler: 5 frames of 48x32 are outside what the denoiser's weights were trained at "
        "(9 frames of 64x64); expect a degraded video (objects that break up, smear or repeat)"
    ]
    assert sora_warnings(lambda: run_sampler(sampler(trained_size=[5, 32, 48], frames=5, height=32, width=48))) == []
    assert sora_warnings(lambda: run_sampler(sampler(frames=5, height=32, width=48, steps=1))) == []  # claims nothing
    with pytest.raises(ConfigError, match="trained_size"):
        registry.create(SAMPLER, trained_size=[0, 64, 64])


RANGE = [[5, 9], [16, 32], [16, 32]]


@pytest.mark.parametrize(("frames", "height", "width"), [(5, 16, 16), (9, 32, 32), (5, 24, 32), (9, 16, 24)])
def test_a_video_inside_the_trained_range_is_silent(frames: int, height: int, width: int) -> None:
    particle = sampler(trained_range=RANGE, frames=frames, height=height, width=width, steps=1)
    assert sora_warnings(lambda: run_sampler(particle)) == []


@pytest.mark.parametrize(
    ("frames", "height", "width"),
    [(13, 16, 16), (1, 16, 16), (5, 40, 16), (5, 8, 16), (5, 16, 40), (5, 16, 8)],
    ids=["frames-above", "frames-below", "height-above", "height-below", "width-above", "width-below"],
)
def test_a_video_outside_the_trained_range_is_warned_about_naming_the_range(
    frames: int, height: int, width: int
) -> None:
    particle = sampler(trained_range=RANGE, frames=frames, height=height, width=width, steps=1)
    assert sora_warnings(lambda: run_sampler(particle)) == [
        f"sora-dit:latent-sampler: {frames} frames of {width}x{height} are outside the range the denoiser's weights "
        "were trained on (5-9 frames, 16-32 pixels high, 16-32 wide); expect a degraded video (objects that break "
        "up, smear or repeat)"
    ]


def test_the_trained_range_wins_over_the_trained_size() -> None:
    inside = sampler(trained_size=[9, 64, 64], trained_range=RANGE, frames=5, height=16, width=24, steps=1)
    assert sora_warnings(lambda: run_sampler(inside)) == []
    outside = sampler(trained_size=[13, 16, 16], trained_range=RANGE, frames=13, height=16, width=16, steps=1)
    assert "(5-9 frames, 16-32 pixels high, 16-32 wide)" in sora_warnings(lambda: run_sampler(outside))[0]


def test_the_t2v_template_checks_words_and_sizes() -> None:
    from sora_core.pipeline import Pipeline

    pipe = Pipeline.from_template("t2v")
    assert pipe.nodes["prompts"].config.known_words == "t2v"
    assert pipe.nodes["sampler"].config.trained_range == ((9, 25), (64, 96), (64, 96))


def test_sora_generate_prints_each_warning_and_still_writes_the_clip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "odd.mp4"
    # --no-rewrite: the prompt reaches object-prompts as written (the rewriter would refuse it: test_rewriter)
    argv = ["generate", "a cat playing the piano", "-o", str(out), "--steps", "1", "--candidates", "1", "--no-rewrite"]
    assert main([*argv, "--frames", "5", "--height", "32", "--width", "32"]) == 0 and out.is_file()
    err = capsys.readouterr().err
    assert "warning: sora-dit:object-prompts: 'cat', 'playing', 'piano' in the prompt" in err
    assert "warning: sora-dit:latent-sampler: 5 frames of 32x32 are outside the range" in err
    assert "(9-25 frames, 64-96 pixels high, 64-96 wide)" in err
    assert main(["generate", "a red ball moving right", "-o", str(tmp_path / "ok.mp4"), "--steps", "1"]) == 0
    assert "warning" not in capsys.readouterr().err
