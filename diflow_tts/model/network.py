"""The teacher: content mapper + flow transformer with a prosody head and an acoustic head.

One sequence per utterance: [prompt frames ; target frames]. Every frame embeds its tokens (the
sum of one embedding per stream: pitch, energy and each acoustic codebook, the mask id included)
plus its content: the encoding of the phone it belongs to (target frames, through the length
regulator) or a learned "prompt" vector (prompt frames; their words are not needed to copy a
voice, so synthesis needs no transcript or alignment of the prompt). Attention is bidirectional
with rotary positions; time enters every block by adaLN-zero, and with `prompt_summary` so does
the mean token embedding of the prompt frames (the voice's average timbre and register, which a
small network otherwise learns to find by attention only late). Classifier-free guidance: with
`drop_condition` an utterance loses its content (a learned null vector) and its prompt (all mask
ids), the unconditional branch the sampler contrasts with.
"""


import torch
import torch.nn.functional as F
from torch import nn

from diflow_tts.model.batch import FlowBatch
from diflow_tts.model.config import Architecture
from diflow_tts.model.content import DurationPredictor, PhoneEncoder, durations_from_log, frame_phone_index
from diflow_tts.model.layers import AdaLNZeroBlock, PromptSummary, TimeEmbedding, modulate, rotary_tables
from diflow_tts.tokens.layout import TokenLayout


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


class DiFlowTTSModel(nn.Module):
    def __init__(self, arch: Architecture, layout: TokenLayout):
        super().__init__()
        self.arch, self.layout = arch, layout
        dim = arch.dim
        self.phone_encoder = PhoneEncoder(
            layout.num_phones, dim, arch.phone_layers, arch.heads, arch.ffn_mult, arch.dropout
        )
        self.duration_predictor = DurationPredictor(dim, arch.duration_channels)
        self.token_embeddings = nn.ModuleList(nn.Embedding(size + 1, dim) for size in layout.vocab_sizes)
        self.content_projection = nn.Linear(dim, dim)
        self.prompt_content = nn.Parameter(torch.zeros(dim))
        self.null_content = nn.Parameter(torch.zeros(dim))
        self.time_embedding = TimeEmbedding(dim)
        self.prompt_summary = PromptSummary(dim) if arch.prompt_summary else None
        self.blocks = nn.ModuleList(
            AdaLNZeroBlock(dim, arch.heads, arch.ffn_mult, arch.dropout) for _ in range(arch.layers)
        )
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        prosody_vocabs = layout.vocab_sizes[: layout.num_prosody_streams]
        self.prosody_head = nn.ModuleList(nn.Linear(dim, size) for size in prosody_vocabs)
        self.acoustic_head = nn.Linear(dim, layout.num_codebooks * layout.codebook_size)
        for embedding in self.token_embeddings:
            nn.init.normal_(embedding.weight, std=dim**-0.5)
        nn.init.zeros_(self.final_modulation[1].weight)
        nn.init.zeros_(self.final_modulation[1].bias)
        self.register_buffer("mask_ids", torch.tensor(layout.mask_ids), persistent=False)

    def encode_phones(self, batch: FlowBatch) -> torch.Tensor:
        return self.phone_encoder(batch.phones, batch.phone_mask)

    def predict_log_durations(self, encodings: torch.Tensor, batch: FlowBatch) -> torch.Tensor:
        return self.duration_predictor(encodings.detach(), batch.phone_mask, batch.log_rate)

    def frame_content(self, encodings: torch.Tensor, batch: FlowBatch) -> torch.Tensor:
        """[B, L, dim]: target frames take their phone's encoding, prompt frames the prompt
        vector, dropped conditions the null vector."""
        length = batch.tokens.shape[-1]
        positions = torch.arange(length, device=encodings.device)[None] - batch.prompt_lengths[:, None]
        index = frame_phone_index(batch.durations, positions)
        content = self.content_projection(
            torch.gather(encodings, 1, index[..., None].expand(-1, -1, encodings.shape[-1]))
        )
        content = torch.where((positions < 0)[..., None], self.prompt_content.to(content.dtype), content)
        return torch.where(batch.drop_condition[:, None, None], self.null_content.to(content.dtype), content)

    def embed_tokens(self, batch: FlowBatch) -> torch.Tensor:
        tokens = batch.tokens
        positions = torch.arange(tokens.shape[-1], device=tokens.device)[None]
        hide_prompt = batch.drop_condition[:, None] & (positions < batch.prompt_lengths[:, None])
        tokens = torch.where(hide_prompt[:, None], self.mask_ids[None, :, None], tokens)
        embedded = self.token_embeddings[0](tokens[:, 0])
        for stream in range(1, tokens.shape[1]):
            embedded = embedded + self.token_embeddings[stream](tokens[:, stream])
        return embedded

    def hidden(
        self, batch: FlowBatch, condition: torch.Tensor, encodings: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Final hidden states [B, L, dim] under a conditioning vector [B, dim] (the time
        embedding for the teacher; a step token for a step-aware student), to which a network
        with a prompt summary adds the prompt's."""
        if encodings is None:
            encodings = self.encode_phones(batch)
        embedded = self.embed_tokens(batch)
        x = embedded + self.frame_content(encodings, batch)
        if self.prompt_summary is not None:
            condition = condition + self.prompt_summary(embedded, batch.prompt_lengths, ~batch.drop_condition)
        key_mask = batch.frame_mask
        rotary = rotary_tables(x.shape[1], self.arch.dim // self.arch.heads, x.device)
        for block in self.blocks:
            x = block(x, condition, rotary, key_mask)
        shift, scale = self.final_modulation(condition).chunk(2, dim=-1)
        return modulate(self.final_norm(x), shift, scale)

    def logits(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Per-stream logits for hidden rows [..., dim]: pitch, energy, then each codebook."""
        acoustic = self.acoustic_head(hidden).float()
        acoustic = acoustic.view(*hidden.shape[:-1], self.layout.num_codebooks, self.layout.codebook_size)
        return [head(hidden).float() for head in self.prosody_head] + list(acoustic.unbind(-2))

    def stream_logits(self, hidden: torch.Tensor, stream: int) -> torch.Tensor:
        """Logits of one stream (pitch, energy, then each codebook) for hidden rows [N, dim]:
        training scores each stream on its own masked rows only, so it never computes the rest."""
        if stream < len(self.prosody_head):
            return self.prosody_head[stream](hidden).float()
        size = self.layout.codebook_size
        rows = slice((stream - len(self.prosody_head)) * size, (stream - len(self.prosody_head) + 1) * size)
        return F.linear(hidden, self.acoustic_head.weight[rows], self.acoustic_head.bias[rows]).float()

    @torch.no_grad()
    def predict_durations(
        self, phones: torch.Tensor, log_rate: torch.Tensor, speed: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Frames per phone [B, N] for padded phone ids [B, N] and prompt log rates [B]."""
        mask = phones != 0
        log_durations = self.duration_predictor(self.phone_encoder(phones, mask), mask, log_rate)
        return durations_from_log(log_durations, mask, speed)

    def forward(self, batch: FlowBatch, t: torch.Tensor) -> torch.Tensor:
        return self.hidden(batch, self.time_embedding(t))
