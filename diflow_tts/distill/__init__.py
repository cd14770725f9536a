"""Few-step distillation of the frozen teacher: learned samplers (LSD+) and step-aware students."""
