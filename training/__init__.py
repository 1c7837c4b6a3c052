"""Training scripts for the default text-to-video particles, and the utilities they share.

``checkpoints`` saves and resumes a training state (safetensors + JSON, never pickle), ``logging_utils``
writes the loss log, ``schedule`` holds the learning-rate schedule, ``data`` the seeded clip stream.
``train_vae`` / ``eval_vae`` are stage 1 (the causal video VAE).
"""
