"""Evaluation: signal metrics, judges (ASR, speaker similarity, MOS proxies) and reports."""
