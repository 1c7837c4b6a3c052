"""``latent-captioner``: a video's caption, written from the objects a detector finds in the VAE latent.

The captioner encodes nothing itself: its ``encoder`` component (in the ``v2t`` template, the trained
causal VAE encoder the ``t2v`` pipeline's latents come from) turns the clip into a latent, and a small
convolutional detector (:class:`~sora_understand.detector.LatentDetector`) reads it: per latent cell,
whether an object is centred there in the first frame, where exactly, and the object's colour, shape,
size and motion; a pooled head names the background. Objects are the cells whose objectness is a local
maximum above ``threshold``. The caption is written from them with a fixed grammar ("a small red circle
moving right and a large blue square sitting still on a navy background").

Why a detector and a grammar rather than a free text decoder, or retrieval against text embeddings: a
caption of this domain is a few attributes per object, so predicting the attributes is the whole task. A
detector needs no fixed number of object slots and no order among them, judges each word on its own (so
a colour never seen with a shape is no harder than one that was: the held-out combinations), and the
objects it returns (:meth:`LatentCaptioner.describe`) are data other particles can use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import Tensor

from sora_core.config import ParticleConfig
from sora_core.errors import PortError
from sora_core.interfaces import Captioner
from sora_core.particle import Particle
from sora_core.ports import PortSpec
from sora_understand.detector import LatentDetector

DEFAULT_LATENT_SPACE = "latent/sora-causal-vae-c8t4s4@1"

#: The attribute groups, in the order the detector's head emits them.
GROUPS = ("colours", "shapes", "sizes", "motions")


class LatentCaptionerConfig(ParticleConfig):
    """The latent it reads, the detector's sizes, the words it knows and how captions are written."""

    latent_channels: int = Field(8, gt=0, description="latent channels (c) of the encoder it reads")
    latent_space: str = Field(DEFAULT_LATENT_SPACE, description="space tag of the encoder's latent")
    width: int = Field(96, gt=0, multiple_of=8, description="channels of the detector's layers")
    dilations: list[int] = Field(
        [1, 2, 4, 8, 2, 1], min_length=1, description="dilation of each 3x3 layer (their sum sets how far a cell sees)"
    )
    colours: list[str] = Field(["red", "green", "blue", "yellow", "purple", "cyan", "orange", "white"], min_length=1)
    shapes: list[str] = Field(["circle", "square", "triangle"], min_length=1)
    sizes: list[str] = Field(["small", "large"], min_length=1)
    motions: list[str] = Field(["left", "right", "up", "down", "still", "bouncing", "growing"], min_length=1)
    backgrounds: list[str] = Field(["black", "grey", "navy", "brown"], min_length=1)
    motion_phrases: dict[str, str] = Field(
        {
            "left": "moving left",
            "right": "moving right",
            "up": "moving up",
            "down": "moving down",
            "still": "sitting still",
            "bouncing": "bouncing back and forth",
            "growing": "growing",
        },
        description="how a caption says each motion (a motion without a phrase is written as its name)",
    )
    unsized_motions: list[str] = Field(
        ["growing"], description="motions whose objects get no size word (their size changes)"
    )
    trained_size: tuple[int, int] | None = Field(
        (64, 64),
        description="(height, width) of the clips the detector was trained on: objects are judged at that scale. A "
        "clip k times that size in both sides (a clip enlarged with --scale k) is downscaled by k first; a clip of "
        "another size is refused (a PortError naming both sizes); None takes every size as it is",
    )
    threshold: float = Field(0.25, gt=0, lt=1, description="objectness above which a local maximum is an object")
    max_objects: int = Field(4, gt=0, description="most objects reported per clip (the most confident)")

    @field_validator("trained_size")
    @classmethod
    def _trained(cls, size: tuple[int, int] | None) -> tuple[int, int] | None:
        if size is not None and min(size) < 1:
            raise ValueError(f"must be (height, width), each at least 1, got {list(size)}")
        return size

    @model_validator(mode="after")
    def _distinct(self) -> LatentCaptionerConfig:
        for group in (*GROUPS, "backgrounds"):
            words = getattr(self, group)
            if len(set(words)) != len(words):
                raise ValueError(f"{group} {words} repeat a word")
        unknown = sorted((set(self.motion_phrases) | set(self.unsized_motions)) - set(self.motions))
        if unknown:
            raise ValueError(f"motion_phrases or unsized_motions name motions {unknown} not in motions")
        return self


@dataclass(frozen=True)
class DetectedObject:
    """One object found in a clip: its words, its first-frame centre (fractions of width and height) and how
    sure the detector is that it is there (0..1)."""

    colour: str
    shape: str
    size: str
    motion: str
    x: float
    y: float
    confidence: float


@dataclass(frozen=True)
class Description:
    """What the captioner found in one clip."""

    objects: tuple[DetectedObject, ...]
    background: str


class LatentCaptioner(Captioner):
    """``video`` ``(B, 3, T, H, W)`` -> ``caption`` (B texts) and ``count`` (objects found), through the
    ``encoder`` component's latent."""

    Config = LatentCaptionerConfig
    config: LatentCaptionerConfig
    description = "video -> caption: objects detected in the VAE latent (encoder component), written out"
    default_weights = "weights/latent-captioner"

    def __init__(self, config: LatentCaptionerConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        cfg = self.config
        self.detector = LatentDetector(
            cfg.latent_channels, cfg.width, cfg.dilations, [len(getattr(cfg, g)) for g in GROUPS], len(cfg.backgrounds)
        )

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        return {"encoder": "video_encoder"}

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        encoder = components.get("encoder")
        if encoder is None:
            return []
        latent = encoder.output_ports().get("latent")
        if latent is None:
            return [f"component 'encoder' ({encoder._label()}) has no output 'latent'"]
        if latent.space not in (None, self.config.latent_space):
            return [
                f"component 'encoder' ({encoder._label()}) makes latents in space {latent.space!r}; this captioner "
                f"was trained on {self.config.latent_space!r}: bind the encoder of that VAE"
            ]
        return []

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "video": PortSpec("float32", "B C=3 T H W", description="RGB clips in [-1, 1], as the encoder takes them")
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "caption": PortSpec("str", "B", description="one caption per clip"),
            "count": PortSpec("int64", "B", description="objects found in each clip"),
        }

    @classmethod
    def example_components(cls, config: LatentCaptionerConfig | dict[str, Any] | None) -> dict[str, Particle]:
        from sora_core import registry

        return {"encoder": registry.create("sora-vae:causal-vae-encoder")}

    @classmethod
    def example_inputs(cls, config: LatentCaptionerConfig, batch: int, generator: torch.Generator) -> dict[str, Any]:
        return {"video": torch.rand((batch, 3, 9, 64, 64), generator=generator) * 2 - 1}  # the trained size

    def forward(self, video: Tensor) -> dict[str, Any]:
        described = self.describe(video)
        counts = torch.tensor([len(d.objects) for d in described], dtype=torch.int64)
        return {"caption": [self.write(d) for d in described], "count": counts}

    # --- reading a clip --------------------------------------------------------------------------------------

    def encode(self, video: Tensor) -> Tensor:
        """The ``encoder`` component's latent of ``video``."""
        if video.dim() != 5 or video.shape[1] != 3:
            raise PortError(
                f"{self._label()}: input 'video' has shape {tuple(video.shape)}; expected (B, 3, T, H, W)",
                "pass RGB clips in [-1, 1], e.g. sora_core.video_io.to_video(read_video(path))[None]",
            )
        return self.component("encoder")(video=self.at_trained_scale(video))["latent"]

    def at_trained_scale(self, video: Tensor) -> Tensor:
        """``video`` ``(B, 3, T, H, W)`` at the scale the detector was trained at (``trained_size``): as it is, or
        downscaled by a whole factor k (each k x k block of pixels averaged) when both sides are k times the
        trained ones; any other size is a ``PortError`` naming the size and the expected one."""
        if self.config.trained_size is None:
            return video
        height, width = video.shape[-2:]
        trained_height, trained_width = self.config.trained_size
        if (height, width) == (trained_height, trained_width):
            return video
        factor = height // trained_height
        if factor >= 1 and (height, width) == (factor * trained_height, factor * trained_width):
            return F.avg_pool3d(video, kernel_size=(1, factor, factor))
        raise PortError(
            f"{self._label()}: clips of {width}x{height} are not at the scale this captioner was trained at: "
            f"{trained_width}x{trained_height}, or a whole multiple of it ({2 * trained_width}x{2 * trained_height}, "
            f"{3 * trained_width}x{3 * trained_height}, ...), which is downscaled first; its objects would be judged "
            "at a size it never saw",
            f"resize the clip to {trained_width}x{trained_height} (e.g. ffmpeg -i clip.mp4 -vf "
            f"scale={trained_width}:{trained_height} small.mp4), or generate at that size and enlarge it with --scale",
        )

    def describe(self, video: Tensor) -> list[Description]:
        """The objects and background of each clip of ``video`` ``(B, 3, T, H, W)``."""
        return self.describe_latent(self.encode(video))

    def describe_latent(self, latent: Tensor) -> list[Description]:
        """The objects and background of each clip of an encoded ``latent`` ``(B, c, t, h, w)``."""
        cfg = self.config
        if latent.dim() != 5 or latent.shape[1] != cfg.latent_channels:
            raise PortError(
                f"{self._label()}: latent of shape {tuple(latent.shape)}; expected (B, {cfg.latent_channels}, t, h, w)",
                f"bind an encoder whose latent has {cfg.latent_channels} channels",
            )
        with torch.no_grad():
            objectness, offsets, attributes, background = self.detector(latent.to(self.detector.stem.weight.dtype))
        probability = objectness.float().sigmoid()
        peaks = (probability == F.max_pool2d(probability[:, None], 3, 1, 1)[:, 0]) & (probability > cfg.threshold)
        height, width = probability.shape[-2:]
        words = [getattr(cfg, g) for g in GROUPS]
        described = []
        for b in range(latent.shape[0]):
            cells = peaks[b].nonzero().tolist()
            cells.sort(key=lambda cell: -float(probability[b, cell[0], cell[1]]))
            found = []
            for row, column in cells[: cfg.max_objects]:
                named = [
                    vocabulary[int(group[b, :, row, column].argmax())]
                    for vocabulary, group in zip(words, attributes, strict=True)
                ]
                x = (column + 0.5 + float(offsets[b, 0, row, column])) / width
                y = (row + 0.5 + float(offsets[b, 1, row, column])) / height
                found.append(DetectedObject(*named, x=x, y=y, confidence=float(probability[b, row, column])))
            found.sort(key=lambda o: (o.x, o.y))
            described.append(Description(tuple(found), cfg.backgrounds[int(background[b].argmax())]))
        return described

    def write(self, description: Description) -> str:
        """The caption of one :class:`Description`: one sentence, starting with a capital letter."""
        cfg = self.config
        if not description.objects:
            return f"An empty {description.background} background"
        parts = []
        for obj in description.objects:
            size = "" if obj.motion in cfg.unsized_motions else f"{obj.size} "
            article = "an" if (size or obj.colour)[0] in "aeiou" else "a"
            parts.append(f"{article} {size}{obj.colour} {obj.shape} {cfg.motion_phrases.get(obj.motion, obj.motion)}")
        caption = " and ".join(parts) + f" on a {description.background} background"
        return caption[:1].upper() + caption[1:]

    def vocabulary(self) -> dict[str, list[str]]:
        """The words of each attribute group (``colours``, ``shapes``, ``sizes``, ``motions``, ``backgrounds``)."""
        cfg = self.config
        return {g: list(getattr(cfg, g)) for g in (*GROUPS, "backgrounds")}
