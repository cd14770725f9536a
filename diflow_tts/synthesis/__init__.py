"""Zero-shot synthesis: the inference core (`synthesizer`) and the test-list runner (`list_runner`)."""

from diflow_tts.synthesis.synthesizer import PlannedBatch, SynthesisRequest, Synthesizer

__all__ = ["PlannedBatch", "SynthesisRequest", "Synthesizer"]
