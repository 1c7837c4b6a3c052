"""The particle module ``sora new`` writes for each built-in kind, as ``string.Template`` sources.

Each template is a complete, working, untrained particle: a pydantic config with validated
fields, the kind's required ports derived from that config, and a small ``forward`` that
honours the declared shapes (a convolution, an embedding, an attention layer, ...), so the
generated plugin passes the conformance kit as generated. Placeholders: ``${Class}``,
``${Config}`` (class names), ``${particle}`` (the particle's short name) and ``${dist}``.

The generated code is formatted as ``ruff format`` would with its default 88 columns; the
scaffold tests check that with ``ruff --isolated``. This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindTemplate:
    """How to scaffold one kind: the base class, the module source and what its tests try."""

    kind: str
    base: str  #: the kind's base class in ``sora_core.interfaces``
    source: str  #: the particle module, a ``string.Template``
    small_config: str  #: a Python dict literal of another valid config, for the generated test
    invalid_field: str  #: a config field ...
    invalid_value: str  #: ... and a value (Python source) the config refuses
    extra_test: str = ""  #: more test functions, a ``string.Template``
    test_imports_torch: bool = False


_INIT = """\
    def __init__(
        self,
        config: ${Config} | dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(config, **overrides)  # validates the config, sets self.config
"""


def _header(
    summary: str,
    base: str,
    *,
    stdlib: tuple[str, ...] = ("from typing import Any",),
    pydantic: str = "Field",
    nn: bool = True,
    torch: bool = True,
) -> str:
    """The docstring and imports of a particle module subclassing ``base``, sorted as isort sorts them."""
    lines = [f'"""{summary}', "", "Particle ``${full_name}``.", '"""', ""]
    lines += ["from __future__ import annotations", ""]
    lines += [*stdlib, ""] if stdlib else []
    lines += ["import torch"] if torch else []
    lines += [f"from pydantic import {pydantic}", "from sora_core.config import ParticleConfig"]
    lines += [f"from sora_core.interfaces import {base}", "from sora_core.ports import PortSpec"]
    lines += ["from torch import nn"] if nn else []
    return "\n".join(lines) + "\n"


_TOKENIZER = (
    _header("A hashing word tokenizer: texts to token ids and a mask.", "Tokenizer", stdlib=("import zlib",), nn=False)
    + '''

class ${Config}(ParticleConfig):
    """Vocabulary and length of the tokenizer."""

    vocab_size: int = Field(
        1024, ge=2, description="token ids are in [0, vocab_size); 0 is padding"
    )
    max_length: int = Field(
        16, gt=0, le=4096, description="tokens per text (L): padded or truncated"
    )
    lowercase: bool = Field(True, description="lower-case texts before splitting them")


class ${Class}(Tokenizer):
    """Splits each text into words and hashes every word to an id in [1, vocab_size).

    Weightless and deterministic: a word always gets the same id (CRC-32, not Python's
    salted ``hash``). Texts are padded with id 0 (mask false) or truncated to
    ``max_length`` tokens.
    """

    Config = ${Config}
    config: ${Config}
    description = "hashing word tokenizer: texts to (B, L) token ids and mask"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B", description="one text per batch item")}

    def output_ports(self) -> dict[str, PortSpec]:
        length = self.config.max_length
        return {
            "tokens": PortSpec("int64", f"B L={length}", description="0 is padding"),
            "mask": PortSpec("bool", f"B L={length}", description="real tokens"),
        }

    def encode(self, text: str) -> list[int]:
        """The ids of one text's words, at most ``max_length`` of them."""
        if self.config.lowercase:
            text = text.lower()
        words = text.split()[: self.config.max_length]
        buckets = self.config.vocab_size - 1
        return [1 + zlib.crc32(word.encode("utf-8")) % buckets for word in words]

    def forward(self, text: list[str]) -> dict[str, torch.Tensor]:
        tokens = torch.zeros(len(text), self.config.max_length, dtype=torch.int64)
        for row, item in enumerate(text):
            ids = self.encode(item)
            tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        return {"tokens": tokens, "mask": tokens != 0}
'''
)

_TOKENIZER_TEST = """

def test_the_same_word_gets_the_same_id() -> None:
    tokenizer = ${Class}(max_length=4)
    out = tokenizer(text=["A cat", "a dog and a cat"])
    assert out["tokens"].shape == (2, 4)
    assert out["tokens"][0, 0] == out["tokens"][1, 0] == out["tokens"][1, 3]
    assert out["mask"].tolist() == [[True, True, False, False], [True] * 4]
"""

_TEXT_ENCODER = (
    _header("A text encoder: token ids to embeddings, a mask and a pooled vector.", "TextEncoder")
    + '''
#: What the embeddings mean. Once trained, set a versioned tag, such as
#:     "text/${dist}@1"
#: so pipelines refuse to mix them up with another encoder's.
TEXT_SPACE: str | None = None


class ${Config}(ParticleConfig):
    """Sizes of the text encoder."""

    vocab_size: int = Field(
        1024, gt=0, description="token ids are in [0, vocab_size); 0 is padding"
    )
    embed_dim: int = Field(64, gt=0, description="features per token (D)")
    num_layers: int = Field(
        1, ge=0, le=24, description="residual MLP blocks after the embedding"
    )


class ${Class}(TextEncoder):
    """Embeds token ids and refines every token with residual MLP blocks.

    ``tokens`` ``(B, L)`` give ``embeddings`` ``(B, L, D)``, the ``mask`` ``(B, L)`` of
    real tokens (the given one, else ``tokens != 0``) and ``pooled`` ``(B, D)``, the
    mean of the real tokens' embeddings.
    """

    Config = ${Config}
    config: ${Config}
    description = "token embedding and residual MLPs: (B, L) ids to (B, L, D) vectors"

'''
    + _INIT
    + """\
        dim = self.config.embed_dim
        self.embedding = nn.Embedding(self.config.vocab_size, dim)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(dim),
                nn.Linear(dim, 4 * dim),
                nn.GELU(),
                nn.Linear(4 * dim, dim),
            )
            for _ in range(self.config.num_layers)
        )

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "tokens": PortSpec("int64", "B L", description="ids in [0, vocab_size)"),
            "mask": PortSpec("bool", "B L", optional=True, description="real tokens"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        dim = self.config.embed_dim
        return {
            "embeddings": PortSpec("float32", f"B L D={dim}", space=TEXT_SPACE),
            "mask": PortSpec("bool", "B L", description="true on real tokens"),
            "pooled": PortSpec("float32", f"B D={dim}", space=TEXT_SPACE),
        }

    def forward(
        self, tokens: torch.Tensor, mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if mask is None:
            mask = tokens != 0
        hidden = self.embedding(tokens)
        for block in self.blocks:
            hidden = hidden + block(hidden)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return {"embeddings": hidden, "mask": mask, "pooled": pooled}
"""
)

_IMAGE_ENCODER = (
    _header("An image encoder: images to patch tokens and a pooled vector (a ViT stem).", "ImageEncoder")
    + '''

class ${Config}(ParticleConfig):
    """Channels, patch size and width of the image encoder."""

    in_channels: int = Field(3, gt=0, description="image channels (C)")
    patch_size: int = Field(
        4, gt=0, le=64, description="side of the square patch each token embeds"
    )
    embed_dim: int = Field(64, gt=0, description="features per token (D)")


class ${Class}(ImageEncoder):
    """Cuts images into patches and embeds each one with a strided convolution.

    ``images`` ``(B, C, H, W)`` in [-1, 1] are zero-padded to a multiple of the patch
    size; each of the ``N = ceil(H / p) * ceil(W / p)`` patches becomes a token of
    ``tokens`` ``(B, N, D)``, and ``pooled`` ``(B, D)`` is the mean token.
    """

    Config = ${Config}
    config: ${Config}
    description = "patch embedding: (B, C, H, W) images to (B, N, D) tokens"

'''
    + _INIT
    + """\
        size, dim = self.config.patch_size, self.config.embed_dim
        self.patch = nn.Conv2d(self.config.in_channels, dim, size, stride=size)
        self.norm = nn.LayerNorm(dim)

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.in_channels
        return {"images": PortSpec("float32", f"B C={channels} H W")}

    def output_ports(self) -> dict[str, PortSpec]:
        dim = self.config.embed_dim
        return {
            "tokens": PortSpec("float32", f"B N D={dim}", description="one per patch"),
            "pooled": PortSpec("float32", f"B D={dim}", description="the mean token"),
        }

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.config.patch_size
        height, width = images.shape[-2:]
        images = nn.functional.pad(images, (0, -width % size, 0, -height % size))
        tokens = self.norm(self.patch(images).flatten(2).transpose(1, 2))
        return {"tokens": tokens, "pooled": tokens.mean(dim=1)}
"""
)

_VIDEO_ENCODER = (
    _header("A video encoder: video to a smaller latent (the encoder half of a video VAE).", "VideoEncoder")
    + '''
#: What the latent's numbers mean. Once trained, set a versioned tag, such as
#:     "latent/${dist}@1"
#: and the same on your decoder, so pipelines refuse to decode this latent with
#: another VAE's decoder.
LATENT_SPACE: str | None = None


class ${Config}(ParticleConfig):
    """Channels and downsampling factors of the encoder."""

    in_channels: int = Field(3, gt=0, description="video channels (C)")
    latent_channels: int = Field(4, gt=0, description="latent channels (c)")
    spatial_factor: int = Field(
        2, ge=1, le=32, description="h = ceil(H / spatial_factor), w likewise"
    )
    temporal_factor: int = Field(
        1, ge=1, le=16, description="t = ceil(T / temporal_factor)"
    )


class ${Class}(VideoEncoder):
    """Encodes video to a latent with one strided 3D convolution.

    ``video`` ``(B, C, T, H, W)`` in [-1, 1] is zero-padded so the factors divide it;
    ``latent`` is ``(B, c, t, h, w)`` with ``t = ceil(T / temporal_factor)`` and ``h``,
    ``w`` likewise with ``spatial_factor``.
    """

    Config = ${Config}
    config: ${Config}
    description = "strided 3D convolution: (B, C, T, H, W) video to a latent"

'''
    + _INIT
    + """\
        kernel = (
            self.config.temporal_factor,
            self.config.spatial_factor,
            self.config.spatial_factor,
        )
        self.conv = nn.Conv3d(
            self.config.in_channels,
            self.config.latent_channels,
            kernel_size=kernel,
            stride=kernel,
        )

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.in_channels
        return {"video": PortSpec("float32", f"B C={channels} T H W")}

    def output_ports(self) -> dict[str, PortSpec]:
        channels = self.config.latent_channels
        shape = f"B c={channels} t h w"
        return {"latent": PortSpec("float32", shape, space=LATENT_SPACE)}

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        time, space = self.config.temporal_factor, self.config.spatial_factor
        frames, height, width = video.shape[-3:]
        padding = (0, -width % space, 0, -height % space, 0, -frames % time)
        return {"latent": self.conv(nn.functional.pad(video, padding))}
"""
)

_VIDEO_DECODER = (
    _header("A video decoder: a latent to video (the decoder half of a video VAE).", "VideoDecoder")
    + '''
#: The latent space this decoder understands. Once trained, set the tag your
#: encoder writes, such as
#:     "latent/${dist}@1"
#: so pipelines refuse to decode another VAE's latents.
LATENT_SPACE: str | None = None


class ${Config}(ParticleConfig):
    """Channels and upsampling factors of the decoder."""

    latent_channels: int = Field(4, gt=0, description="latent channels (c)")
    out_channels: int = Field(3, gt=0, description="video channels (C)")
    spatial_factor: int = Field(
        2, ge=1, le=32, description="H = h * spatial_factor, W likewise"
    )
    temporal_factor: int = Field(1, ge=1, le=16, description="T = t * temporal_factor")


class ${Class}(VideoDecoder):
    """Decodes a latent to video with one transposed 3D convolution and a tanh.

    ``latent`` ``(B, c, t, h, w)`` becomes ``video`` ``(B, C, T, H, W)`` in [-1, 1]
    with ``T = t * temporal_factor``, ``H = h * spatial_factor`` and ``W`` likewise.
    """

    Config = ${Config}
    config: ${Config}
    description = "transposed 3D convolution: a (B, c, t, h, w) latent to video"

'''
    + _INIT
    + """\
        kernel = (
            self.config.temporal_factor,
            self.config.spatial_factor,
            self.config.spatial_factor,
        )
        self.conv = nn.ConvTranspose3d(
            self.config.latent_channels,
            self.config.out_channels,
            kernel_size=kernel,
            stride=kernel,
        )

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.latent_channels
        shape = f"B c={channels} t h w"
        return {"latent": PortSpec("float32", shape, space=LATENT_SPACE)}

    def output_ports(self) -> dict[str, PortSpec]:
        channels = self.config.out_channels
        return {"video": PortSpec("float32", f"B C={channels} T H W")}

    def forward(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"video": torch.tanh(self.conv(latent))}
"""
)

_PATCHIFIER = (
    _header("A patchifier: a latent to spacetime patch tokens and their positions, and back.", "Patchifier")
    + '''

class ${Config}(ParticleConfig):
    """Channels, patch size and token width of the patchifier."""

    latent_channels: int = Field(4, gt=0, description="latent channels (c)")
    patch_size: int = Field(
        2, ge=1, le=16, description="side of the square patch a token covers per frame"
    )
    embed_dim: int = Field(64, gt=0, description="features per token (D)")


class ${Class}(Patchifier):
    """Cuts each latent frame into ``p x p`` patches and embeds every patch as a token.

    ``latent`` ``(B, c, t, h, w)`` is zero-padded to a multiple of ``p``; its
    ``N = t * ceil(h / p) * ceil(w / p)`` patches become ``tokens`` ``(B, N, D)``, and
    ``positions`` ``(B, N, 3)`` hold each token's (frame, row, column) patch index.
    :meth:`unpatchify` puts tokens back where their positions say.
    """

    Config = ${Config}
    config: ${Config}
    description = "linear patch embedding: a latent to (B, N, D) tokens and positions"

'''
    + _INIT
    + """\
        size = self.config.latent_channels * self.config.patch_size**2
        self.embed = nn.Linear(size, self.config.embed_dim)
        self.unembed = nn.Linear(self.config.embed_dim, size)

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.latent_channels
        return {"latent": PortSpec("float32", f"B c={channels} t h w")}

    def output_ports(self) -> dict[str, PortSpec]:
        dim = self.config.embed_dim
        return {
            "tokens": PortSpec("float32", f"B N D={dim}", description="one per patch"),
            "positions": PortSpec("int64", "B N 3", description="frame, row, column"),
        }

    def forward(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        size = self.config.patch_size
        batch, channels, frames, height, width = latent.shape
        latent = nn.functional.pad(latent, (0, -width % size, 0, -height % size))
        rows, cols = latent.shape[-2] // size, latent.shape[-1] // size
        patches = (
            latent.reshape(batch, channels, frames, rows, size, cols, size)
            .permute(0, 2, 3, 5, 1, 4, 6)  # (B, t, rows, cols, c, p, p)
            .reshape(batch, frames * rows * cols, -1)
        )
        axes = [torch.arange(n, device=latent.device) for n in (frames, rows, cols)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
        positions = grid.reshape(1, -1, 3).expand(batch, -1, -1).contiguous()
        return {"tokens": self.embed(patches), "positions": positions}

    def unpatchify(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        latent_shape: tuple[int, ...],
    ) -> torch.Tensor:
        size = self.config.patch_size
        batch, channels, frames, height, width = latent_shape
        rows, cols = -(-height // size), -(-width // size)
        patches = self.unembed(tokens).reshape(batch, -1, channels, size, size)
        grid = tokens.new_zeros(batch, frames, rows, cols, channels, size, size)
        items = torch.arange(batch, device=tokens.device).unsqueeze(1)
        frame, row, col = positions.unbind(dim=-1)
        grid[items, frame, row, col] = patches
        latent = grid.permute(0, 4, 1, 2, 5, 3, 6).reshape(
            batch, channels, frames, rows * size, cols * size
        )
        return latent[..., :height, :width]
"""
)

_PATCHIFIER_TEST = """

def test_unpatchify_restores_the_latent_shape() -> None:
    patchifier = ${Class}(patch_size=2).eval()
    latent = torch.randn(2, patchifier.config.latent_channels, 3, 5, 6)
    out = patchifier(latent=latent)
    assert out["tokens"].shape[1] == 3 * 3 * 3  # frames x ceil(5 / 2) x ceil(6 / 2)
    back = patchifier.unpatchify(out["tokens"], out["positions"], tuple(latent.shape))
    assert back.shape == latent.shape
"""

_CROSS_MODAL_ATTENTION = (
    _header(
        "Cross-modal attention: query tokens attend over context tokens.",
        "CrossModalAttention",
        stdlib=("import math", "from typing import Any"),
        pydantic="Field, model_validator",
    )
    + '''

class ${Config}(ParticleConfig):
    """Widths and heads of the attention."""

    query_dim: int = Field(64, gt=0, description="features per query token (Q)")
    context_dim: int = Field(64, gt=0, description="features per context token (C)")
    num_heads: int = Field(4, gt=0, description="attention heads; divides query_dim")

    @model_validator(mode="after")
    def _heads_divide_query_dim(self) -> ${Config}:
        if self.query_dim % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} does not divide query_dim={self.query_dim}"
            )
        return self


class ${Class}(CrossModalAttention):
    """Multi-head attention of query tokens over context tokens, added to the query.

    ``query`` ``(B, N, Q)`` attends over ``context`` ``(B, L, C)``; context tokens where
    ``mask`` is false get weight zero, and a query whose context is all masked gets
    nothing added (never NaN). ``tokens`` ``(B, N, Q)`` is the query plus the result.
    """

    Config = ${Config}
    config: ${Config}
    description = "multi-head cross-attention with a residual connection"

'''
    + _INIT
    + '''\
        query_dim = self.config.query_dim
        self.norm = nn.LayerNorm(query_dim)
        self.to_query = nn.Linear(query_dim, query_dim)
        self.to_key_value = nn.Linear(self.config.context_dim, 2 * query_dim)
        self.out = nn.Linear(query_dim, query_dim)

    def input_ports(self) -> dict[str, PortSpec]:
        query, context = self.config.query_dim, self.config.context_dim
        return {
            "query": PortSpec("float32", f"B N Q={query}", description="query tokens"),
            "context": PortSpec("float32", f"B L C={context}", description="context"),
            "mask": PortSpec("bool", "B L", optional=True, description="attendable"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"tokens": PortSpec("float32", f"B N Q={self.config.query_dim}")}

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, Q)`` to ``(B, heads, S, Q / heads)``."""
        return x.reshape(*x.shape[:2], self.config.num_heads, -1).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        context: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        q = self._heads(self.to_query(self.norm(query)))
        k, v = (self._heads(x) for x in self.to_key_value(context).chunk(2, dim=-1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, N, L)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        weights = torch.nan_to_num(scores.softmax(dim=-1))  # all masked: zeros
        attended = (weights @ v).transpose(1, 2).reshape(query.shape)
        return {"tokens": query + self.out(attended)}
'''
)

_DENOISER = (
    _header(
        "A denoiser: the velocity of a noisy latent, given its timestep and text.",
        "Denoiser",
        stdlib=("import math", "from typing import Any"),
    )
    + '''

class ${Config}(ParticleConfig):
    """Channels and widths of the denoiser."""

    latent_channels: int = Field(4, gt=0, description="latent channels (c)")
    condition_dim: int = Field(64, gt=0, description="features per text token (D)")
    hidden_channels: int = Field(
        32, gt=0, multiple_of=2, description="channels of the hidden layer; even"
    )


class ${Class}(Denoiser):
    """A small 3D convolutional denoiser conditioned FiLM-style on time and text.

    The timestep (a sinusoidal embedding) and the mean text token where
    ``condition_mask`` is true give a scale and shift for every hidden channel between
    two 3D convolutions. ``prediction`` has the latent's shape.
    """

    Config = ${Config}
    config: ${Config}
    description = "3D convolutions with time and text FiLM; predicts the velocity"
    prediction_type = "velocity"

'''
    + _INIT
    + '''\
        channels, hidden = self.config.latent_channels, self.config.hidden_channels
        self.conv_in = nn.Conv3d(channels, hidden, kernel_size=3, padding=1)
        self.time = nn.Sequential(
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 2 * hidden)
        )
        self.text = nn.Linear(self.config.condition_dim, 2 * hidden)
        self.conv_out = nn.Conv3d(hidden, channels, kernel_size=3, padding=1)

    def input_ports(self) -> dict[str, PortSpec]:
        channels, dim = self.config.latent_channels, self.config.condition_dim
        return {
            "latent": PortSpec("float32", f"B c={channels} T H W", description="noisy"),
            "timestep": PortSpec("float32", "B", description="1 is noise, 0 is data"),
            "condition": PortSpec("float32", f"B L D={dim}", description="text"),
            "condition_mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        channels = self.config.latent_channels
        return {"prediction": PortSpec("float32", f"B c={channels} T H W")}

    def timestep_embedding(self, timestep: torch.Tensor) -> torch.Tensor:
        """Sinusoidal features ``(B, hidden_channels)`` of timesteps in [0, 1]."""
        half = self.config.hidden_channels // 2
        steps = torch.arange(half, device=timestep.device, dtype=torch.float32)
        frequencies = torch.exp(-math.log(10000.0) * steps / half)
        angles = 1000.0 * timestep.float()[:, None] * frequencies
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def forward(
        self,
        latent: torch.Tensor,
        timestep: torch.Tensor,
        condition: torch.Tensor,
        condition_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        if condition_mask is None:
            text = condition.mean(dim=1)
        else:
            weights = condition_mask.unsqueeze(-1).to(condition.dtype)
            text = (condition * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        film = self.time(self.timestep_embedding(timestep)) + self.text(text)
        scale, shift = film[:, :, None, None, None].chunk(2, dim=1)
        hidden = self.conv_in(latent) * (1 + scale) + shift
        return {"prediction": self.conv_out(nn.functional.silu(hidden))}
'''
)

_SCHEDULER = (
    _header("A scheduler: Euler steps for flow matching (rectified flow).", "Scheduler", stdlib=(), nn=False)
    + '''

class ${Config}(ParticleConfig):
    """Sampling settings of the scheduler."""

    steps: int = Field(50, ge=1, le=10000, description="default sampling steps")
    shift: float = Field(
        1.0, gt=0, description="timestep shift; above 1 spends more steps near noise"
    )


class ${Class}(Scheduler):
    """Euler steps for flow matching: ``sample + (t_next - t) * velocity``.

    Time runs from 1 (pure noise) to 0 (data) and the denoiser predicts the velocity
    ``noise - data``. Weightless: it is saved as its config alone. ``forward`` takes one
    step for a batch, each item at its own time.
    """

    Config = ${Config}
    config: ${Config}
    description = "flow-matching Euler sampler with a timestep shift"
    prediction_type = "velocity"

    def timesteps(self, num_steps: int | None = None) -> list[float]:
        """``num_steps + 1`` times from 1 to 0: step i goes from [i] to [i + 1]."""
        steps = num_steps or self.config.steps
        shift = self.config.shift
        times = [1.0 - i / steps for i in range(steps + 1)]
        return [shift * t / (1.0 + (shift - 1.0) * t) for t in times]

    def step(
        self,
        prediction: torch.Tensor,
        t: float | torch.Tensor,
        t_next: float | torch.Tensor,
        sample: torch.Tensor,
    ) -> torch.Tensor:
        """Move ``sample`` from time ``t`` to ``t_next`` (floats, or one per item)."""
        delta = torch.as_tensor(t_next - t, dtype=sample.dtype, device=sample.device)
        if delta.dim() == 1:  # one time per batch item
            delta = delta.reshape(-1, *[1] * (sample.dim() - 1))
        return sample + delta * prediction

    def input_ports(self) -> dict[str, PortSpec]:
        return {
            "sample": PortSpec("float32", "B ...", description="the current sample"),
            "prediction": PortSpec("float32", "B ...", description="the velocity"),
            "t": PortSpec("float32", "B", description="the current time"),
            "t_next": PortSpec("float32", "B", description="the time to step to"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        return {"sample": PortSpec("float32", "B ...", description="at t_next")}

    def forward(
        self,
        sample: torch.Tensor,
        prediction: torch.Tensor,
        t: torch.Tensor,
        t_next: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        return {"sample": self.step(prediction, t, t_next, sample)}
'''
)

_SCHEDULER_TEST = """

def test_steps_integrate_a_constant_velocity_from_noise_to_data() -> None:
    scheduler = ${Class}(steps=4, shift=3.0)
    times = scheduler.timesteps()
    assert len(times) == 5 and times[0] == 1.0 and times[-1] == 0.0
    assert times == sorted(times, reverse=True)
    data, noise = torch.randn(2, 3), torch.randn(2, 3)
    sample = noise
    for i in range(len(times) - 1):
        sample = scheduler.step(noise - data, times[i], times[i + 1], sample)
    torch.testing.assert_close(sample, data)
"""

_VIDEO_GENERATOR = (
    _header("A video generator: condition tokens to a video, end to end.", "VideoGenerator")
    + '''

class ${Config}(ParticleConfig):
    """Condition width and the size of the generated video."""

    condition_dim: int = Field(64, gt=0, description="features per condition token (D)")
    frames: int = Field(8, gt=0, le=512, description="frames of the video (T)")
    height: int = Field(
        16, gt=0, le=4096, multiple_of=4, description="height (H), a multiple of 4"
    )
    width: int = Field(
        16, gt=0, le=4096, multiple_of=4, description="width (W), a multiple of 4"
    )
    latent_channels: int = Field(8, gt=0, description="channels of the inner latent")


class ${Class}(VideoGenerator):
    """Projects the mean condition token to a latent grid and upsamples it to RGB.

    The mean of the ``condition`` tokens (where ``condition_mask`` is true) becomes a
    ``(c, T, H / 4, W / 4)`` latent; a transposed 3D convolution upsamples it 4x in
    space to ``video`` ``(B, 3, T, H, W)`` in [-1, 1].
    """

    Config = ${Config}
    config: ${Config}
    description = "condition to latent grid to 4x-upsampled RGB video"

'''
    + _INIT
    + """\
        config = self.config
        self.grid = (config.frames, config.height // 4, config.width // 4)
        cells = config.frames * (config.height // 4) * (config.width // 4)
        self.project = nn.Linear(config.condition_dim, config.latent_channels * cells)
        self.upsample = nn.ConvTranspose3d(
            config.latent_channels, 3, kernel_size=(1, 4, 4), stride=(1, 4, 4)
        )

    def input_ports(self) -> dict[str, PortSpec]:
        dim = self.config.condition_dim
        return {
            "condition": PortSpec("float32", f"B L D={dim}", description="e.g. text"),
            "condition_mask": PortSpec("bool", "B L", optional=True),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        config = self.config
        size = f"T={config.frames} H={config.height} W={config.width}"
        return {"video": PortSpec("float32", f"B 3 {size}", description="in [-1, 1]")}

    def forward(
        self, condition: torch.Tensor, condition_mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if condition_mask is None:
            pooled = condition.mean(dim=1)
        else:
            weights = condition_mask.unsqueeze(-1).to(condition.dtype)
            pooled = (condition * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        latent = self.project(pooled).reshape(len(condition), -1, *self.grid)
        return {"video": torch.tanh(self.upsample(nn.functional.silu(latent)))}
"""
)

_VIDEO_FEATURES = """\
        channels, hidden = self.config.in_channels, self.config.hidden_dim
        self.features = nn.Conv3d(channels, hidden, kernel_size=3, padding=1)
"""

_CAPTIONER = (
    _header(
        "A captioner: video to a caption, one vocabulary word per position.",
        "Captioner",
        pydantic="Field, field_validator",
    )
    + '''
WORDS = ("a", "video", "of", "red", "green", "blue", "light", "dark", "moving", "still")


class ${Config}(ParticleConfig):
    """Vocabulary, caption length and width of the captioner."""

    in_channels: int = Field(3, gt=0, description="video channels (C)")
    vocabulary: tuple[str, ...] = Field(
        WORDS, min_length=1, description="the words captions are made of"
    )
    caption_length: int = Field(6, ge=1, le=256, description="words per caption (K)")
    hidden_dim: int = Field(32, gt=0, description="width of the video feature")

    @field_validator("vocabulary")
    @classmethod
    def _words_are_words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        for word in words:
            if not word or word.split() != [word]:
                raise ValueError(f"{word!r} is not one word without spaces")
        return words


class ${Class}(Captioner):
    """Captions a video by choosing a vocabulary word for every caption position.

    A 3D convolution and a mean over time and space give one feature per video; a
    linear layer scores every word (``logits`` ``(B, K, V)``) and the best words,
    joined by spaces, are the ``caption``. Untrained, captions are arbitrary but
    deterministic: train it, or load weights, to make them mean something.
    """

    Config = ${Config}
    config: ${Config}
    description = "pooled 3D-convolution features to one word per caption position"

'''
    + _INIT
    + _VIDEO_FEATURES
    + """\
        words = self.config.caption_length * len(self.config.vocabulary)
        self.words = nn.Linear(hidden, words)

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.in_channels
        return {"video": PortSpec("float32", f"B C={channels} T H W")}

    def output_ports(self) -> dict[str, PortSpec]:
        length, words = self.config.caption_length, len(self.config.vocabulary)
        return {
            "caption": PortSpec("str", "B", description="one caption per video"),
            "logits": PortSpec("float32", f"B K={length} V={words}"),
        }

    def forward(self, video: torch.Tensor) -> dict[str, Any]:
        feature = nn.functional.gelu(self.features(video)).mean(dim=(2, 3, 4))
        logits = self.words(feature).reshape(len(video), self.config.caption_length, -1)
        vocabulary = self.config.vocabulary
        caption = [
            " ".join(vocabulary[i] for i in row) for row in logits.argmax(-1).tolist()
        ]
        return {"caption": caption, "logits": logits}
"""
)

_VIDEO_QA = (
    _header(
        "Video question answering: a video and a question to one of fixed answers.",
        "VideoQA",
        stdlib=("import zlib", "from typing import Any"),
    )
    + '''

class ${Config}(ParticleConfig):
    """Answers, widths and question hashing of the model."""

    in_channels: int = Field(3, gt=0, description="video channels (C)")
    answers: tuple[str, ...] = Field(
        ("yes", "no"), min_length=2, description="the answers to choose from (A)"
    )
    hidden_dim: int = Field(32, gt=0, description="width of the features")
    question_buckets: int = Field(
        1024, ge=1, description="hash buckets the question words fall into"
    )


class ${Class}(VideoQA):
    """Scores every answer from a video feature times a question feature.

    Video: a 3D convolution and a mean over time and space. Question: its words
    hashed (CRC-32) into ``question_buckets`` embeddings and averaged. ``scores``
    ``(B, A)`` are the answers' probabilities and ``answer`` the most probable one.
    """

    Config = ${Config}
    config: ${Config}
    description = "video and bag-of-words question features scoring fixed answers"

'''
    + _INIT
    + _VIDEO_FEATURES
    + '''\
        self.words = nn.EmbeddingBag(self.config.question_buckets, hidden, mode="mean")
        self.classify = nn.Linear(hidden, len(self.config.answers))

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.in_channels
        return {
            "video": PortSpec("float32", f"B C={channels} T H W"),
            "question": PortSpec("str", "B", description="one question per video"),
        }

    def output_ports(self) -> dict[str, PortSpec]:
        answers = len(self.config.answers)
        return {
            "answer": PortSpec("str", "B", description="one of the answers"),
            "scores": PortSpec("float32", f"B A={answers}", description="per answer"),
        }

    def _question_ids(
        self, questions: list[str], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat word ids and each question's offset, as nn.EmbeddingBag takes them."""
        buckets = self.config.question_buckets
        ids: list[int] = []
        offsets: list[int] = []
        for question in questions:
            offsets.append(len(ids))
            words = question.lower().split()
            ids += [zlib.crc32(word.encode("utf-8")) % buckets for word in words]
        return (
            torch.tensor(ids, dtype=torch.int64, device=device),
            torch.tensor(offsets, dtype=torch.int64, device=device),
        )

    def forward(self, video: torch.Tensor, question: list[str]) -> dict[str, Any]:
        seen = nn.functional.gelu(self.features(video)).mean(dim=(2, 3, 4))
        asked = self.words(*self._question_ids(question, video.device))
        scores = self.classify(seen * asked).softmax(dim=-1)
        answer = [self.config.answers[i] for i in scores.argmax(dim=-1).tolist()]
        return {"answer": answer, "scores": scores}
'''
)

_SUMMARIZER = (
    _header("A summarizer: video to its key frames and a one-line summary.", "Summarizer")
    + '''

class ${Config}(ParticleConfig):
    """How many key frames to pick, and the width of the frame scorer."""

    in_channels: int = Field(3, gt=0, description="video channels (C)")
    num_key_frames: int = Field(4, ge=1, le=1024, description="key frames to pick (K)")
    hidden_dim: int = Field(16, gt=0, description="width of the per-frame feature")


class ${Class}(Summarizer):
    """Picks the ``K`` best-scoring frames of a video, in time order.

    Each frame is scored by a 2D convolution (per frame), a mean over space and a
    linear layer. ``frames`` ``(B, C, K, H, W)`` are the best ``K`` frames (the last
    one repeated when the video is shorter), ``indices`` ``(B, K)`` their positions and
    ``summary`` one line of text per video.
    """

    Config = ${Config}
    config: ${Config}
    description = "scores every frame and keeps the best K, in time order"

'''
    + _INIT
    + """\
        channels, hidden = self.config.in_channels, self.config.hidden_dim
        self.features = nn.Conv3d(
            channels, hidden, kernel_size=(1, 3, 3), padding=(0, 1, 1)
        )
        self.score = nn.Linear(hidden, 1)

    def input_ports(self) -> dict[str, PortSpec]:
        channels = self.config.in_channels
        return {"video": PortSpec("float32", f"B C={channels} T H W")}

    def output_ports(self) -> dict[str, PortSpec]:
        channels, count = self.config.in_channels, self.config.num_key_frames
        return {
            "frames": PortSpec("float32", f"B C={channels} K={count} H W"),
            "indices": PortSpec("int64", f"B K={count}", description="frame numbers"),
            "summary": PortSpec("str", "B", description="one line per video"),
        }

    def forward(self, video: torch.Tensor) -> dict[str, Any]:
        length, count = video.shape[2], self.config.num_key_frames
        hidden = nn.functional.gelu(self.features(video)).mean(dim=(3, 4))  # (B, h, T)
        scores = self.score(hidden.transpose(1, 2)).squeeze(-1)  # (B, T)
        best = scores.topk(min(count, length), dim=-1).indices.sort(dim=-1).values
        if best.shape[1] < count:  # a short video: repeat its last key frame
            best = torch.cat([best, best[:, -1:].expand(-1, count - length)], dim=1)
        index = best[:, None, :, None, None].expand(
            -1, video.shape[1], -1, *video.shape[3:]
        )
        summary = [
            f"{count} key frames of {length}: " + ", ".join(map(str, row))
            for row in best.tolist()
        ]
        return {"frames": video.gather(2, index), "indices": best, "summary": summary}
"""
)


_PROMPT_REWRITER = (
    _header(
        "A prompt rewriter: whole words replaced from a table, each replacement reported.",
        "PromptRewriter",
        nn=False,
        torch=False,
    )
    + '''

class ${Config}(ParticleConfig):
    """Which words the rewriter replaces."""

    replacements: dict[str, str] = Field(
        default_factory=dict, description="a word -> the word the generator knows"
    )
    max_words: int = Field(
        64, gt=0, le=4096, description="longer prompts are passed on unchanged"
    )


class ${Class}(PromptRewriter):
    """Replaces whole words (compared in lower case) by the table in its config.

    Weightless and deterministic. Each prompt's report names every replaced word;
    a prompt of more than ``max_words`` words is passed on unchanged, with a note.
    """

    Config = ${Config}
    config: ${Config}
    description = "word-table prompt rewriter: prompts to prompts and a report"

    def input_ports(self) -> dict[str, PortSpec]:
        return {"prompt": PortSpec("str", "B", description="one prompt per video")}

    def output_ports(self) -> dict[str, PortSpec]:
        return {
            "prompt": PortSpec("str", "B", description="the rewritten prompts"),
            "report": PortSpec("any", "B", description="what was replaced"),
        }

    def rewrite(self, prompt: str) -> dict[str, Any]:
        """One prompt's report; ``report["rewritten"]`` is the text handed on."""
        words = prompt.split()
        if len(words) > self.config.max_words:
            return {
                "prompt": prompt,
                "rewritten": prompt,
                "read": [],
                "notes": ["long"],
            }
        new = [self.config.replacements.get(word.lower(), word) for word in words]
        read = [
            {"words": old, "value": word}
            for old, word in zip(words, new, strict=True)
            if old != word
        ]
        return {"prompt": prompt, "rewritten": " ".join(new), "read": read, "notes": []}

    def forward(self, prompt: list[str]) -> dict[str, Any]:
        reports = [self.rewrite(text) for text in prompt]
        return {"prompt": [r["rewritten"] for r in reports], "report": reports}
'''
)

#: The template of every built-in kind, by kind name.
TEMPLATES: dict[str, KindTemplate] = {
    t.kind: t
    for t in (
        KindTemplate(
            "tokenizer",
            "Tokenizer",
            _TOKENIZER,
            '{"vocab_size": 64, "max_length": 4}',
            "max_length",
            "0",
            _TOKENIZER_TEST,
        ),
        KindTemplate(
            "text_encoder",
            "TextEncoder",
            _TEXT_ENCODER,
            '{"vocab_size": 32, "embed_dim": 8, "num_layers": 2}',
            "embed_dim",
            "0",
        ),
        KindTemplate(
            "image_encoder",
            "ImageEncoder",
            _IMAGE_ENCODER,
            '{"patch_size": 2, "embed_dim": 16}',
            "patch_size",
            "0",
        ),
        KindTemplate(
            "video_encoder",
            "VideoEncoder",
            _VIDEO_ENCODER,
            '{"latent_channels": 2, "spatial_factor": 4, "temporal_factor": 2}',
            "latent_channels",
            "0",
        ),
        KindTemplate(
            "video_decoder",
            "VideoDecoder",
            _VIDEO_DECODER,
            '{"latent_channels": 2, "spatial_factor": 4, "temporal_factor": 2}',
            "spatial_factor",
            "0",
        ),
        KindTemplate(
            "patchifier",
            "Patchifier",
            _PATCHIFIER,
            '{"patch_size": 3, "embed_dim": 16}',
            "patch_size",
            "0",
            _PATCHIFIER_TEST,
            test_imports_torch=True,
        ),
        KindTemplate(
            "cross_modal_attention",
            "CrossModalAttention",
            _CROSS_MODAL_ATTENTION,
            '{"query_dim": 16, "context_dim": 8, "num_heads": 2}',
            "num_heads",
            "3",
        ),
        KindTemplate(
            "denoiser",
            "Denoiser",
            _DENOISER,
            '{"latent_channels": 2, "condition_dim": 8, "hidden_channels": 8}',
            "hidden_channels",
            "7",
        ),
        KindTemplate(
            "scheduler",
            "Scheduler",
            _SCHEDULER,
            '{"steps": 10, "shift": 3.0}',
            "shift",
            "0.0",
            _SCHEDULER_TEST,
            test_imports_torch=True,
        ),
        KindTemplate(
            "video_generator",
            "VideoGenerator",
            _VIDEO_GENERATOR,
            '{"condition_dim": 8, "frames": 2, "height": 8, "width": 12}',
            "height",
            "10",
        ),
        KindTemplate(
            "captioner",
            "Captioner",
            _CAPTIONER,
            '{"vocabulary": ["a", "cat"], "caption_length": 3}',
            "vocabulary",
            '["two words"]',
        ),
        KindTemplate(
            "video_qa",
            "VideoQA",
            _VIDEO_QA,
            '{"answers": ["left", "right", "up"], "question_buckets": 16}',
            "answers",
            '["only one"]',
        ),
        KindTemplate(
            "prompt_rewriter",
            "PromptRewriter",
            _PROMPT_REWRITER,
            '{"replacements": {"crimson": "red"}, "max_words": 8}',
            "max_words",
            "0",
        ),
        KindTemplate(
            "summarizer",
            "Summarizer",
            _SUMMARIZER,
            '{"num_key_frames": 8, "hidden_dim": 4}',
            "num_key_frames",
            "0",
        ),
    )
}
