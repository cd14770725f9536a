"""The teacher network: content mapper (phones -> frame-level content) and flow transformer."""
