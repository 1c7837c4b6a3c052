"""Fixtures the training tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sora_core import registry

#: A VAE small enough to train and encode in a test (2x compression in time and space, 4 latent channels).
TINY_VAE = {"base_channels": 8, "latent_channels": 4, "temporal_compression": 2, "spatial_compression": 2}


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained VAE saved like training.train_vae saves it (encoder/ and decoder/)."""
    root = tmp_path_factory.mktemp("vae")
    torch.manual_seed(0)
    registry.create("sora-vae:causal-vae-encoder", **TINY_VAE).save_pretrained(root / "encoder")
    registry.create("sora-vae:causal-vae-decoder", **TINY_VAE).save_pretrained(root / "decoder")
    return root
