"""The seed's ``SoraModel`` as one hand-written ``nn.Module``: the reference the ``seed`` pipeline must equal.

It holds the same layers as the four particles of the ``seed`` template, wired the same
corrected way, but written in plain torch with no sora-core machinery between them. Tests
compare the pipeline against it to 1e-6, and ``benchmarks/bench_pipeline_overhead.py``
times the two against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


class SeedMonolith(nn.Module):
    """Text LSTM, video-feature LSTM, additive attention and generator LSTM in one module.

    ``forward(text, video_features)`` takes ``(B, L, E)`` text features and ``(B, T, F)``
    video features and returns video features ``(B, T, F_out)``.
    """

    def __init__(
        self,
        text_size: int = 512,
        video_size: int = 512,
        hidden_size: int = 256,
        attention_size: int = 256,
        generator_hidden_size: int = 256,
        output_size: int = 512,
    ) -> None:
        super().__init__()
        self.text_lstm = nn.LSTM(text_size, hidden_size, batch_first=True)
        self.video_lstm = nn.LSTM(video_size, hidden_size, batch_first=True)
        self.query_proj = nn.Linear(hidden_size, attention_size, bias=False)
        self.context_proj = nn.Linear(hidden_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)
        self.generator_lstm = nn.LSTM(hidden_size, generator_hidden_size, batch_first=True)
        self.head = nn.Linear(generator_hidden_size, output_size)

    def forward(self, text: torch.Tensor, video_features: torch.Tensor) -> torch.Tensor:
        context, _ = self.text_lstm(text)
        query, _ = self.video_lstm(video_features)
        scores = self.score(torch.tanh(self.query_proj(query).unsqueeze(2) + self.context_proj(context).unsqueeze(1)))
        weights = scores.squeeze(-1).softmax(dim=-1)
        hidden, _ = self.generator_lstm(weights @ context)
        return self.head(hidden)

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> SeedMonolith:
        """A monolith holding copies of the weights of a built ``seed`` pipeline's four nodes."""
        nodes: Mapping[str, nn.Module] = pipeline.nodes
        text, video = nodes["text_encoder"].config, nodes["video_decoder"].config
        attention, generator = nodes["attention"].config, nodes["generator"].config
        if text.num_layers != 1 or video.num_layers != 1 or generator.num_layers != 1:
            raise ValueError("SeedMonolith mirrors single-layer LSTMs only")
        monolith = cls(
            text_size=text.input_size,
            video_size=video.input_size,
            hidden_size=text.hidden_size,
            attention_size=attention.attention_size,
            generator_hidden_size=generator.hidden_size,
            output_size=generator.output_size,
        )
        lstm_names = {"text_encoder": "text_lstm.", "video_decoder": "video_lstm.", "generator": "generator_lstm."}
        state = {}
        for node in ("text_encoder", "video_decoder", "attention", "generator"):
            for name, tensor in nodes[node].state_dict().items():
                if name.startswith("lstm.") and node in lstm_names:
                    name = lstm_names[node] + name.removeprefix("lstm.")
                state[name] = tensor.detach().clone()
        monolith.load_state_dict(state, strict=True)
        return monolith.eval()
