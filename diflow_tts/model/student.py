"""The step-aware student: the teacher's network, asked by step rather than by time.

A few-step sampler visits a handful of states, and each of its steps has one job (step k of K
reveals a known share of what is still masked). The student therefore replaces the teacher's
continuous time input by a small learned table: one conditioning vector per configuration (K, k)
of the step counts it serves, initialised with the teacher's own time embedding at the step's
start time k / K (the uniform grid `SamplingSchedule.uniform` samples on), so before training the
student *is* the teacher on that grid. The rest of the network (phone encoder, durations, blocks,
heads) starts from the teacher's weights; every adaLN layer keeps its step-specific modulation.

With ``latent`` the student also takes a noise input (Di4C): a scalar lambda ~ U(0, 1) per
utterance, through sinusoidal features and an MLP whose last layer starts at zero, added to the
step's vector. A one-step student from an all-mask state is otherwise a product of per-position
distributions (argmax has no diversity, independent draws jitter); trained with a mixture
likelihood over several lambdas, the lambda selects one coherent mode for the whole utterance.
"""

from dataclasses import dataclass

import torch
from torch import nn

from diflow_tts.config import ConfigError
from diflow_tts.model.batch import FlowBatch
from diflow_tts.model.config import Architecture
from diflow_tts.model.layers import TimeEmbedding
from diflow_tts.model.network import DiFlowTTSModel
from diflow_tts.tokens.layout import TokenLayout


@dataclass(frozen=True)
class StudentConfig:
    """``step_counts``: the step counts K the student serves (one table row per step of each);
    ``latent``: the Di4C noise input."""

    step_counts: tuple[int, ...] = (1, 2, 4)
    latent: bool = True

    def __post_init__(self) -> None:
        counts = self.step_counts
        if not counts or any(count < 1 for count in counts) or len(set(counts)) != len(counts):
            raise ConfigError(f"student step_counts must be distinct positive step counts, "
                              f"got {list(counts)}")

    def configurations(self) -> list[tuple[int, int]]:
        """Every (K, k): step k (from 0) of a K-step run, in table order."""
        return [(count, step) for count in self.step_counts for step in range(count)]


class StepAwareStudent(DiFlowTTSModel):
    def __init__(self, arch: Architecture, layout: TokenLayout, student: StudentConfig):
        super().__init__(arch, layout)
        del self.time_embedding
        self.student = student
        self.rows = {config: row for row, config in enumerate(student.configurations())}
        self.step_embeddings = nn.Parameter(torch.zeros(len(self.rows), arch.dim))
        self.latent_embedding = TimeEmbedding(arch.dim) if student.latent else None
        if self.latent_embedding is not None:
            nn.init.zeros_(self.latent_embedding.mlp[2].weight)
            nn.init.zeros_(self.latent_embedding.mlp[2].bias)

    def row(self, steps: int, step: int) -> int:
        """The table row of step ``step`` of a ``steps``-step run; one error naming what exists."""
        if steps not in self.student.step_counts:
            raise ValueError(f"this student serves {list(self.student.step_counts)} steps, not {steps}: "
                             "ask for one of those, or sample with the teacher")
        if (steps, step) not in self.rows:
            raise ValueError(f"a {steps}-step run has steps 0 to {steps - 1}, not {step}")
        return self.rows[(steps, step)]

    def step_condition(self, rows: torch.Tensor, latent: torch.Tensor | None) -> torch.Tensor:
        """Conditioning vectors [B, dim] for table rows [B] and, with a latent input, lambdas [B]."""
        condition = self.step_embeddings[rows]
        if self.latent_embedding is not None and latent is not None:
            condition = condition + self.latent_embedding(latent)
        return condition

    def forward(self, batch: FlowBatch, rows: torch.Tensor, latent: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Final hidden states for table rows [B] (and latents [B]): the student's counterpart of
        the teacher's ``forward(batch, t)``."""
        return self.hidden(batch, self.step_condition(rows, latent))

    @torch.no_grad()
    def start_from_teacher(self, teacher: DiFlowTTSModel) -> "StepAwareStudent":
        """Copy the teacher's weights and set each step's vector to the teacher's time embedding
        at that step's start time k / K, so the student samples as the teacher does."""
        weights = {name: value for name, value in teacher.state_dict().items()
                   if not name.startswith("time_embedding.")}
        missing, unexpected = self.load_state_dict(weights, strict=False)
        own = ("step_embeddings", "latent_embedding")
        if unexpected or any(not name.startswith(own) for name in missing):
            raise ValueError(f"the teacher's weights do not fit this student (missing {missing}, unexpected "
                             f"{unexpected}): build the student with the teacher's size and layout")
        times = torch.tensor([step / count for count, step in self.rows], device=self.step_embeddings.device)
        self.step_embeddings.copy_(teacher.time_embedding(times))
        return self
