"""Discrete flow matching with a mask source: the probability path, its loss and its samplers."""
