"""Kinds: the interfaces particles implement, described as torch-free data.

Each kind names the ports a particle of that kind must declare. The abstract
base classes that implement them live in :mod:`sora_core.interfaces`; this
module is what listing and validation read, so it imports no torch. Plugins add
kinds through the ``sora_register_kinds`` hook and their manifest.
"""

from __future__ import annotations

from sora_core.errors import KindError
from sora_core.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any


class KindSpec(Record):
    """An interface: the port names a particle of this kind must have.

    ``inputs_one_of`` lists alternatives: at least one of them must be declared
    (a text encoder reads text or token ids).
    """

    _fields = __match_args__ = (
        "name",
        "description",
        "inputs",
        "outputs",
        "inputs_one_of",
        "learned",
        "contributed_by",
    )
    _shown = (*_fields, "extra")
    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    inputs_one_of: tuple[str, ...]
    learned: bool
    contributed_by: str
    #: anything else a plugin attaches (shown, not compared)
    extra: dict[str, Any]

    def __init__(
        self,
        name: str,
        description: str,
        inputs: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (),
        inputs_one_of: tuple[str, ...] = (),
        learned: bool = True,
        contributed_by: str = "sora-core",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.__dict__.update(
            name=name,
            description=description,
            inputs=inputs,
            outputs=outputs,
            inputs_one_of=inputs_one_of,
            learned=learned,
            contributed_by=contributed_by,
            extra={} if extra is None else extra,
        )

    def problems(self, input_ports: set[str], output_ports: set[str]) -> list[str]:
        """Explain every way a particle with these port names falls short of the kind."""
        found: list[str] = []
        for port in self.inputs:
            if port not in input_ports:
                found.append(f"kind {self.name!r} requires an input port {port!r}")
        for port in self.outputs:
            if port not in output_ports:
                found.append(f"kind {self.name!r} requires an output port {port!r}")
        if self.inputs_one_of and not set(self.inputs_one_of) & input_ports:
            found.append(
                f"kind {self.name!r} requires one of the input ports " + ", ".join(repr(p) for p in self.inputs_one_of)
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "inputs_one_of": list(self.inputs_one_of),
            "learned": self.learned,
            "contributed_by": self.contributed_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KindSpec:
        """A kind from its JSON object; raise ``KindError`` naming the bad field."""
        if not isinstance(data, dict):
            raise KindError(f"a kind declaration must be an object, not {type(data).__name__}", _KIND_HINT)
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise KindError(f"kind declaration field 'name' must be a non-empty string, not {name!r:.60}", _KIND_HINT)
        return cls(
            name=name,
            description=_text(data, "description", name),
            inputs=_names(data, "inputs", name),
            outputs=_names(data, "outputs", name),
            inputs_one_of=_names(data, "inputs_one_of", name),
            learned=_flag(data, "learned", name),
            contributed_by=_text(data, "contributed_by", name),
        )


_KIND_HINT = "a kind needs a 'name'; 'inputs', 'outputs' and 'inputs_one_of' are arrays of port names"


def _text(data: dict[str, Any], key: str, kind: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise KindError(f"kind {kind!r}: field {key!r} must be a string, not {value!r:.60}", _KIND_HINT)
    return value


def _flag(data: dict[str, Any], key: str, kind: str) -> bool:
    value = data.get(key, True)
    if not isinstance(value, bool):
        raise KindError(f"kind {kind!r}: field {key!r} must be true or false, not {value!r:.60}", _KIND_HINT)
    return value


def _names(data: dict[str, Any], key: str, kind: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise KindError(f"kind {kind!r}: field {key!r} must be an array of port names, not {value!r:.60}", _KIND_HINT)
    return tuple(value)


BUILTIN_KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        KindSpec("tokenizer", "list[str] -> token ids (B, L) + mask", ("text",), ("tokens", "mask"), learned=False),
        KindSpec(
            "text_encoder",
            "text, token ids or token embeddings -> embeddings (B, L, D) + mask (B, L) + pooled (B, D)",
            outputs=("embeddings", "mask", "pooled"),
            inputs_one_of=("text", "tokens", "token_embeddings"),
        ),
        KindSpec(
            "image_encoder", "images (B, C, H, W) -> tokens (B, N, D) + pooled", ("images",), ("tokens", "pooled")
        ),
        KindSpec("video_encoder", "video (B, C, T, H, W) -> latent (B, c, t, h, w)", ("video",), ("latent",)),
        KindSpec("video_decoder", "latent (B, c, t, h, w) -> video (B, C, T, H, W)", ("latent",), ("video",)),
        KindSpec(
            "patchifier", "latent -> patch tokens (B, N, D) + positions (B, N, 3)", ("latent",), ("tokens", "positions")
        ),
        KindSpec(
            "cross_modal_attention",
            "query tokens + context tokens (+ mask) -> tokens",
            ("query", "context"),
            ("tokens",),
        ),
        KindSpec(
            "denoiser",
            "noisy latent, timestep (B,), text condition -> prediction",
            ("latent", "timestep", "condition"),
            ("prediction",),
        ),
        KindSpec("scheduler", "timesteps and one sampler step for a prediction type", learned=False),
        KindSpec("video_generator", "a condition -> video, end to end", ("condition",), ("video",)),
        KindSpec("captioner", "video -> caption text", ("video",), ("caption",)),
        KindSpec(
            "prompt_rewriter",
            "prompts as people write them -> prompts in the generator's words + a report of what was read as what",
            ("prompt",),
            ("prompt", "report"),
            learned=False,
        ),
        KindSpec("video_qa", "video + question -> answer", ("video", "question"), ("answer",)),
        KindSpec("summarizer", "video -> key frames + summary", ("video",), ("frames", "summary")),
    )
}
