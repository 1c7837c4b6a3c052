"""The spaces sora-seed's particles write: versioned tags for what their outputs mean (no torch here)."""

from __future__ import annotations

from sora_core.spaces import SpaceSpec

#: Hidden states (and their masked mean) of the LSTM text encoder.
TEXT_LSTM = "text/seed-lstm@1"
#: Hidden states of the LSTM video feature decoder.
VIDEO_HIDDEN_LSTM = "video-features/seed-lstm@1"
#: Per-frame video feature vectors as the seed design's generator writes them.
VIDEO_FEATURES = "video-features/seed@1"

SPACES: tuple[SpaceSpec, ...] = (
    SpaceSpec(TEXT_LSTM, "hidden states of sora-seed's LSTM text encoder, (B, L, D) and pooled (B, D)"),
    SpaceSpec(VIDEO_HIDDEN_LSTM, "hidden states of sora-seed's LSTM video feature decoder, (B, T, H)"),
    SpaceSpec(VIDEO_FEATURES, "per-frame video feature vectors of the seed design, (B, T, F)"),
)
