"""LSD+ for the masked teacher: a learned K-step sampler, the teacher frozen.

Per student step k (the segment [t_a, t_b] of the teacher's grid it replaces) the sampler
holds an inverse temperature per stream group and a guidance weight; the boundaries are
learned too. What one student step should do is known: reveal each masked position with the
closed-form segment probability R_ab and draw its value from the teacher's segment
distribution q_ab (`rollouts.SegmentTarget`); what it can do is draw from the teacher's
distribution at t_a, tempered and guided. The loss per step is the KL between the two kernels,
sum_i R_ab KL(q_ab^i || pi^i), over masked positions of states reached by the teacher itself
(teacher-forced) and by the student's own earlier steps (on-policy, against exposure bias).

Fitting, in two stages (../shared/DISTILL.md §2):
1. **Schedule by dynamic programming.** With the boundaries tied to the segments, the reveal
   part of the KL is zero, so the schedule is chosen by how much a segment's value distribution
   moves away from the teacher's distribution at its start: C(a, b) on a grid of candidate
   boundaries, from teacher-forced states, one sub-rollout per start serving every end. The best
   K-segment path from t = 0 to 1 minimises the summed cost.
2. **Temperatures and guidance by gradient** on the chosen segments, step after step (a step's
   on-policy states come from the steps fitted before it); the teacher's logits at each state
   are computed once, so each step's fit is a small convex-like problem on cached tensors.

``objective="lsd"`` is LSD's own per-step coefficient loss, the baseline: a uniform grid and one
scalar Phi_k per step fitted so Phi_k log p at the student's state matches log p at the
teacher's state at the same time (L2, over positions masked in both).
"""

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from diflow_tts.distill.rollouts import (
    SegmentTarget,
    TeacherTrajectory,
    segment_rollout,
    step_probabilities,
    teacher_trajectory,
)
from diflow_tts.flow.path import MaskPath
from diflow_tts.flow.sampler import Noise, StepRecord, run_steps, step_logits_for
from diflow_tts.flow.schedule import SamplingSchedule, SamplingStep
from diflow_tts.flow.step_logits import LogitsFactory
from diflow_tts.model.batch import FlowBatch, mask_column
from diflow_tts.tokens.layout import TokenLayout

log = logging.getLogger(__name__)

GROUPS = ("pitch", "energy", "codebook 1", "codebooks 2-4", "codebooks 5+")


@dataclass(frozen=True)
class LSDConfig:
    """``teacher_steps``: the teacher's grid (its reference sampler); ``grid``: candidate
    boundaries for the schedule (a divisor of ``teacher_steps``); ``relax``: share of target
    frames revealed from the teacher's final tokens at the start during fitting (LSD's relaxed
    start; 0 = off); ``max_positions``: masked positions per stream kept per state (memory)."""

    steps: tuple[int, ...] = (1, 2, 4, 8)
    objective: Literal["kernel", "lsd"] = "kernel"
    teacher_steps: int = 32
    grid: int = 8
    iterations: int = 150
    learning_rate: float = 0.05
    fit_guidance: bool = False
    on_policy: bool = True
    relax: float = 0.0
    max_positions: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        counts = (self.teacher_steps, self.grid, self.iterations, self.max_positions)
        if not self.steps or min(self.steps) < 1 or min(counts) < 1 or not self.learning_rate > 0:
            raise ValueError(f"LSD+ needs step counts >= 1 and positive teacher_steps, grid, iterations, "
                             f"max_positions and learning_rate, got {self}")
        if self.teacher_steps % self.grid:
            raise ValueError(f"the schedule grid ({self.grid}) must divide the teacher's steps "
                             f"({self.teacher_steps})")
        if self.objective == "kernel" and max(self.steps) > self.grid:
            raise ValueError(f"{max(self.steps)} steps need a grid of at least that many boundaries, got "
                             f"--grid {self.grid}")
        if self.objective == "lsd" and any(self.teacher_steps % k for k in self.steps):
            raise ValueError(f"LSD's uniform grids need step counts dividing {self.teacher_steps}, got "
                             f"{list(self.steps)}")
        if not 0 <= self.relax < 1:
            raise ValueError(f"relax must be in [0, 1), got {self.relax}")


def stream_groups(layout: TokenLayout) -> list[int]:
    """The parameter group of each stream: pitch, energy, codebook 1, 2-4, 5 and on."""
    groups = [0, 1][: layout.num_prosody_streams]
    groups += [2 if q == 0 else 3 if q < 4 else 4 for q in range(layout.num_codebooks)]
    return groups


@dataclass
class FittedStep:
    start: int  # teacher grid step the segment starts at
    end: int
    inverse_temperature: list[float]  # per group
    guidance: float
    loss_before: float
    loss_after: float


@dataclass
class FitReport:
    steps: int
    objective: str
    segments: list[FittedStep] = field(default_factory=list)
    path_cost: float | None = None


@dataclass
class _CachedState:
    """One state's fitting data, per stream over its kept masked positions: the teacher's
    conditional and unconditional log-probabilities and the target distribution."""

    conditional: list[torch.Tensor]
    unconditional: list[torch.Tensor | None]
    target: list[torch.Tensor]


class LSDFitter:
    """Fits LSD+ schedules of a frozen teacher on condition batches."""

    def __init__(self, logits: LogitsFactory, path: MaskPath, layout: TokenLayout,
                 reference: SamplingSchedule, batches: Sequence[FlowBatch], config: LSDConfig):
        if len(reference) != config.teacher_steps:
            raise ValueError(f"the reference schedule has {len(reference)} steps, the config "
                             f"{config.teacher_steps}")
        if len(set(reference.steps[0].temperature)) != 1 or reference.steps[0].temperature[0] <= 0:
            raise ValueError(f"LSD+ fits a teacher that samples at one temperature above 0, got "
                             f"{reference.steps[0].temperature}: give --temperature > 0")
        self.logits, self.path, self.layout, self.reference = logits, path, layout, reference
        self.batches, self.config = batches, config
        self.groups = stream_groups(layout)
        self.mask_ids = layout.mask_ids
        self.generator = torch.Generator().manual_seed(config.seed)
        self.adapters = [step_logits_for(logits, batch, reference) for batch in batches]
        self.unguided = [logits(batch, len(reference)) for batch in batches]
        self.trajectories = [self._trajectory(i) for i in range(len(batches))]

    # ----- states -----
    def _noise(self) -> Noise:
        return Noise(self.generator)


    def _trajectory(self, index: int) -> TeacherTrajectory:
        batch = self.batches[index]
        return teacher_trajectory(self.adapters[index], batch.tokens.clone(), batch.target_mask,
                                  self.reference.steps, self.mask_ids, self._noise())

    def grid_time(self, step: int) -> float:
        return step / self.config.teacher_steps

    @property
    def stride(self) -> int:
        """Teacher steps between two candidate schedule boundaries."""
        return self.config.teacher_steps // self.config.grid

    def _start_state(self, index: int) -> torch.Tensor:
        """The all-mask start, with the relaxed start's hint frames revealed when asked."""
        batch, trajectory = self.batches[index], self.trajectories[index]
        tokens = batch.tokens.clone()
        if self.config.relax:
            frames = batch.target_mask & (torch.rand(batch.target_mask.shape, generator=self.generator)
                                               < self.config.relax)
            tokens = torch.where(frames[:, None], trajectory.final, tokens)
        return tokens

    # ----- stage 1: the schedule -----
    @torch.no_grad()
    def segment_costs(self) -> torch.Tensor:
        """C[a, b] for grid boundaries a < b (indices 0..grid): sum over masked positions of
        R_ab KL(q_ab || p_a), per target token, averaged over the batches."""
        grid, stride = self.config.grid, self.stride
        costs = torch.full((grid + 1, grid + 1), float("inf"), dtype=torch.float64)
        costs.diagonal().zero_()
        for a in range(grid):
            totals = torch.zeros(grid - a, dtype=torch.float64)
            tokens_seen = 0
            start_t = self.grid_time(a * stride)
            ends = [self.grid_time(b * stride) for b in range(a + 1, grid + 1)]
            for index, batch in enumerate(self.batches):
                tokens_seen += int(batch.target_mask.sum()) * len(self.mask_ids)
                state = self.trajectories[index].state_at(a * stride)
                divergences = segment_rollout(self.adapters[index], state, batch.target_mask,
                                              self.reference.steps[a * stride:], a * stride, self.path, ends,
                                              self.mask_ids, self._noise(), _masked_kl)
                totals += torch.tensor([self.path.reveal_probability(start_t, end) * value
                                        for end, value in zip(ends, divergences, strict=True)])
            costs[a, a + 1:] = totals / tokens_seen
            log.info("segment costs from t=%.3f: %s", self.grid_time(a * stride),
                     " ".join(f"{float(c):.4f}" for c in costs[a, a + 1:]))
        return costs

    @staticmethod
    def best_path(costs: torch.Tensor, segments: int) -> tuple[list[int], float]:
        """Boundaries 0 = b_0 < ... < b_K = grid minimising the summed segment cost."""
        grid = costs.shape[0] - 1
        best = torch.full((segments + 1, grid + 1), float("inf"), dtype=torch.float64)
        back = torch.zeros((segments + 1, grid + 1), dtype=torch.long)
        best[0, 0] = 0.0
        for k in range(1, segments + 1):
            for b in range(1, grid + 1):
                options = best[k - 1, :b] + costs[:b, b]
                back[k, b] = int(options.argmin())
                best[k, b] = options.min()
        path, b = [grid], grid
        for k in range(segments, 0, -1):
            b = int(back[k, b])
            path.append(b)
        return path[::-1], float(best[segments, grid])

    # ----- stage 2: temperatures and guidance -----
    @torch.no_grad()
    def _cache(self, index: int, tokens: torch.Tensor, start: int, end: int) -> _CachedState:
        """Teacher log-probabilities at ``tokens`` (time of grid step ``start``) and q over
        [start, end] from one sub-rollout, for up to ``max_positions`` masked positions a stream."""
        batch = self.batches[index]
        target = batch.target_mask
        t = self.grid_time(start)
        masked = (tokens == mask_column(self.mask_ids, tokens.device)) & target[:, None]
        conditional = [x.log_softmax(-1) for x in self.unguided[index](tokens, start, t, self._noise())]
        unconditional: list[torch.Tensor | None] = [None] * len(conditional)
        if self.config.fit_guidance or self.reference.guided:
            dropped = replace(batch, drop_condition=torch.ones_like(batch.drop_condition))
            unconditional = [x.log_softmax(-1) for x in
                             self.logits(dropped, len(self.reference))(tokens, start, t, self._noise())]
        (distributions,) = segment_rollout(
            self.adapters[index], tokens, target, self.reference.steps[start:], start, self.path,
            [self.grid_time(end)], self.mask_ids, self._noise(),
            lambda accumulated, _: accumulated.distributions())
        kept = _CachedState([], [], [])
        for stream, distribution in enumerate(distributions):
            rows = masked[:, stream].nonzero(as_tuple=True)
            if rows[0].numel() > self.config.max_positions:
                order = torch.randperm(rows[0].numel(), generator=self.generator)
                choice = order[: self.config.max_positions]
                rows = (rows[0][choice], rows[1][choice])
            kept.conditional.append(conditional[stream][rows])
            kept.unconditional.append(None if unconditional[stream] is None else unconditional[stream][rows])
            kept.target.append(distribution[rows])
        return kept

    def _student_steps(self, fitted: Sequence[FittedStep]) -> list[SamplingStep]:
        return [self.sampling_step(step, last=False) for step in fitted]

    def sampling_step(self, fitted: FittedStep, last: bool) -> SamplingStep:
        start_t, end_t = self.grid_time(fitted.start), self.grid_time(fitted.end)
        reveal = 1.0 if last else self.path.reveal_probability(start_t, end_t)
        temperatures = tuple(1.0 / fitted.inverse_temperature[group] for group in self.groups)
        base = self.reference.steps[0]
        return SamplingStep(start_t, reveal, temperatures, base.top_k, base.top_p, fitted.guidance)

    def _states(self, index: int, start: int, fitted: Sequence[FittedStep]) -> list[torch.Tensor]:
        """Teacher-forced state at grid step ``start`` and, with on-policy fitting, the state the
        fitted student steps reach from the start."""
        if start == 0:
            return [self._start_state(index)]
        states = [self.trajectories[index].state_at(start)]
        if self.config.on_policy:
            batch = self.batches[index]
            steps = self._student_steps(fitted)
            adapter = step_logits_for(self.logits, batch, SamplingSchedule(
                (*steps, SamplingStep(self.grid_time(start), 1.0)), self.reference.confidence_ordered))
            states.append(run_steps(adapter, self._start_state(index), batch.target_mask, steps,
                                    self.mask_ids, self._noise()))
        return states

    def fit(self, steps: int, costs: torch.Tensor | None = None,
            progress: Callable[[str], None] = log.info) -> tuple[SamplingSchedule, FitReport]:
        """The K = ``steps`` schedule and how its fit went."""
        config = self.config
        report = FitReport(steps, config.objective)
        if config.objective == "kernel":
            if costs is None:
                costs = self.segment_costs()
            boundaries, report.path_cost = self.best_path(costs, steps)
            boundaries = [b * self.stride for b in boundaries]
        else:
            boundaries = [k * config.teacher_steps // steps for k in range(steps + 1)]
        fitted: list[FittedStep] = []
        for k, (start, end) in enumerate(itertools.pairwise(boundaries)):
            states = [(index, state) for index in range(len(self.batches))
                      for state in self._states(index, start, fitted)]
            if config.objective == "kernel":
                cached = [self._cache(index, state, start, end) for index, state in states]
                step = self._fit_kernel(cached, start, end)
            else:
                step = self._fit_lsd(states, start, end)
            fitted.append(step)
            betas = ", ".join(f"{g} {b:.2f}" for g, b in zip(GROUPS, step.inverse_temperature, strict=True))
            progress(f"K={steps} step {k + 1}/{steps} [t {self.grid_time(start):.3f} -> "
                     f"{self.grid_time(end):.3f}]: {config.objective} loss {step.loss_before:.4f} -> "
                     f"{step.loss_after:.4f} (inverse temperatures {betas}; guidance {step.guidance:.2f})")
        report.segments = fitted
        last = len(fitted) - 1
        steps_out = tuple(self.sampling_step(step, last=i == last) for i, step in enumerate(fitted))
        schedule = SamplingSchedule(steps_out, self.reference.confidence_ordered)
        return schedule, report

    def _optimise(self, loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                  ) -> tuple[torch.Tensor, float, float, float]:
        """Adam on (log inverse temperature per group, guidance when fitted) from the reference's
        own temperature and weight (the plain few-step teacher); the best parameters seen are
        kept, so the loss never ends higher than it started."""
        start_beta = 1.0 / self.reference.steps[0].temperature[0]  # the reference's own temperature
        log_beta = torch.full((len(GROUPS),), math.log(start_beta), dtype=torch.float64, requires_grad=True)
        start_guidance = self.reference.steps[0].guidance
        raw_guidance = torch.tensor(_softplus_inverse(start_guidance), dtype=torch.float64,
                                    requires_grad=self.config.fit_guidance)
        parameters = [log_beta] + ([raw_guidance] if self.config.fit_guidance else [])
        optimiser = torch.optim.Adam(parameters, lr=self.config.learning_rate)

        def guidance_value() -> torch.Tensor:
            if self.config.fit_guidance:
                return torch.nn.functional.softplus(raw_guidance)  # a weight stays >= 0
            return torch.tensor(start_guidance, dtype=torch.float64)

        best = (math.inf, log_beta.detach().clone(), float(guidance_value().detach()))
        before = None
        for _ in range(self.config.iterations + 1):
            optimiser.zero_grad()
            loss = loss_of(log_beta, guidance_value())
            value = float(loss.detach())
            before = value if before is None else before
            if value < best[0]:
                best = (value, log_beta.detach().clone(), float(guidance_value().detach()))
            loss.backward()
            optimiser.step()
        return best[1].exp(), best[2], before, best[0]

    def _fit_kernel(self, cached: Sequence[_CachedState], start: int, end: int) -> FittedStep:
        reveal = self.path.reveal_probability(self.grid_time(start), self.grid_time(end))
        streams = []  # per stream, every state's rows joined: (conditional, unconditional, target)
        for stream in range(len(cached[0].target)):
            unconditional = [state.unconditional[stream] for state in cached]
            streams.append((torch.cat([state.conditional[stream] for state in cached]),
                            None if unconditional[0] is None else torch.cat(unconditional),
                            torch.cat([state.target[stream] for state in cached])))
        count = max(sum(target.shape[0] for _, _, target in streams), 1)
        entropy = sum(float(torch.xlogy(target, target).sum()) for _, _, target in streams)

        def loss_of(log_beta: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
            """reveal * mean over positions of KL(q || pi), pi = softmax(beta * guided log p)."""
            cross = log_beta.new_zeros(())
            for stream, (conditional, unconditional, target) in enumerate(streams):
                logits = conditional
                if unconditional is not None:
                    logits = logits + guidance.float() * (conditional - unconditional)
                student = (log_beta[self.groups[stream]].exp().float() * logits).log_softmax(-1)
                cross = cross - (target * student).sum().double()
            return reveal * (entropy + cross) / count

        beta, guidance, before, after = self._optimise(loss_of)
        return FittedStep(start, end, beta.tolist(), guidance, before, after)

    def _fit_lsd(self, states: Sequence[tuple[int, torch.Tensor]], start: int, end: int) -> FittedStep:
        """LSD's baseline: one Phi per step (shared by every group) minimising the L2 distance
        between Phi log p at the student's state and log p at the teacher's own state at the same
        time, over positions masked in both; a least-squares problem with a closed form."""
        t, temperature = self.grid_time(start), self.reference.steps[0].temperature[0]
        cross = square = target_square = 0.0
        entries = 0
        for index, state in states:
            teacher_state = self.trajectories[index].state_at(start)
            hidden_ids = mask_column(self.mask_ids, state.device)
            both = (state == hidden_ids) & (teacher_state == hidden_ids)
            both &= self.batches[index].target_mask[:, None]
            with torch.no_grad():
                student = self.unguided[index](state, start, t, self._noise())
                teacher = self.unguided[index](teacher_state, start, t, self._noise())
            for stream in range(len(student)):
                rows = both[:, stream].nonzero(as_tuple=True)
                s_log = student[stream][rows].log_softmax(-1).double()
                t_log = (teacher[stream][rows].double() / temperature).log_softmax(-1)
                cross += float((s_log * t_log).sum())
                square += float((s_log * s_log).sum())
                target_square += float((t_log * t_log).sum())
                entries += s_log.numel()
        count = max(entries, 1)  # the loss is a mean over log-probability entries
        phi = cross / square if square > 0 else 1.0
        # The loss as its minimum plus a square, not expanded: near a zero minimum (the first
        # step, from the all-masked state student and teacher share) the expanded sum cancels
        # to rounding noise of either sign, which could report a fit as raising its loss.
        residual = max(target_square - (cross * cross / square if square > 0 else 0.0), 0.0)

        def loss(value: float) -> float:
            return (residual + square * (value - phi) ** 2) / count

        return FittedStep(start, end, [phi] * len(GROUPS), self.reference.steps[0].guidance,
                          loss(1.0 / temperature), loss(phi))


def _softplus_inverse(value: float) -> float:
    """The raw parameter whose softplus is ``value`` (a weight of 0 starts at softplus(-20))."""
    return math.log(math.expm1(value)) if value > 0 else -20.0


def _masked_kl(accumulated: SegmentTarget, first: StepRecord) -> float:
    """Sum over positions masked at the segment start of KL(q_ab || p_a)."""
    total = 0.0
    for stream, target in enumerate(accumulated.distributions()):
        start = step_probabilities(first.logits[stream], first.temperatures[stream])
        rows = accumulated.masked[:, stream]
        q, p = target[rows], start[rows]
        total += float((torch.xlogy(q, q) - torch.xlogy(q, p.clamp_min(1e-30))).sum())
    return total
