"""sora-understand: video understanding particles (video -> text) for sora-core."""
