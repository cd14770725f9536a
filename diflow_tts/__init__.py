"""diflow-tts: zero-shot text-to-speech by discrete flow matching over factorized speech tokens.

Importing the package loads nothing heavy (no torch, no codec, no phonemizer); each submodule
imports what it needs.
"""

__version__ = "0.1.0"
