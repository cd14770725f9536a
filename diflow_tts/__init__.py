"""diflow-tts: zero-shot text-to-speech by discrete flow matching over factorized speech tokens.

Importing the package loads nothing heavy (no torch, no codec, no phonemizer); each submodule
imports what it needs, and `from diflow_tts import DiFlowTTS` loads the API on first use.
"""

__version__ = "0.1.0"
__all__ = ["DiFlowTTS", "Voice", "Result"]


def __getattr__(name: str):
    if name in __all__:
        from diflow_tts import api

        return getattr(api, name)
    raise AttributeError(f"module 'diflow_tts' has no attribute {name!r}")
