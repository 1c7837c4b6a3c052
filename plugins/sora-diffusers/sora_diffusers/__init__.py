"""sora-diffusers: diffusers' and transformers' video models (Wan, CogVideoX, LTX-Video) as sora particles.

Particles wrap the libraries' own modules: video VAEs as encoder and decoder particles, the denoising
transformers, T5/UMT5 text encoders and their tokenizers, and the schedulers; ``guided-sampler`` runs the
sampling loop with classifier-free guidance as each family's diffusers pipeline does. Weights load from a
diffusers model folder (or a Hugging Face cache snapshot) with no network; ``sora import diffusers PATH``
writes the pipeline spec. Listing imports neither torch nor diffusers.
"""

__version__ = "0.1.0"
