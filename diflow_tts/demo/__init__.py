"""The gradio voice-cloning demo (`diflow-tts demo --model DIR`, extra `demo`)."""
