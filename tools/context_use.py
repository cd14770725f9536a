#!/usr/bin/env python3
"""How much a teacher uses the tokens already revealed: its log-likelihood of the true tokens of
held-out utterances at each point of the mask path, as JSON.

At time t a share kappa(t) of the target tokens is shown; the rest are scored. A teacher that
predicts each token from the text and the prompt alone scores the same at every t, and then the
number of sampling steps cannot matter (all of its steps draw from the same distributions). The
gain from t = 0 to t near 1 is the context a many-step sampler can exploit and a one-step one
cannot: the headroom distillation has to work with.

    python tools/context_use.py --model exp/teacher/model --data data/dev --tokens dump/tokens/dev
"""

import argparse
import platform

import torch
from json_report import emit

from diflow_tts.bundle import load_bundle
from diflow_tts.cli import flush_denormals
from diflow_tts.distill.conditions import condition_batches
from diflow_tts.eval.step_measures import pseudo_log_likelihood
from diflow_tts.teacher.dataset import load_examples, token_streams
from diflow_tts.tokens.shards import TokenShard
from diflow_tts.tokens.tokenizer import FactorizedTokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="phonemized held-out data dir")
    parser.add_argument("--tokens", required=True, help="its aligned token dir")
    parser.add_argument("--utterances", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--times", type=float, nargs="+", default=[0.0, 0.3, 0.6, 0.8, 0.9, 0.97])
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    bundle = load_bundle(args.model)
    if bundle.config.kind != "teacher":
        raise SystemExit(f"--model {args.model} is a {bundle.config.kind}: this measures a time-conditioned "
                         "teacher")
    layout = bundle.config.layout
    batches = condition_batches(args.data, args.tokens, bundle.phones, layout, args.utterances,
                                args.batch_size)
    examples = load_examples(args.data, args.tokens, bundle.phones)[: args.utterances]
    shard = TokenShard(args.tokens)
    truths, index = [], 0  # each batch row's true target tokens, in the order condition_batches made them
    for batch in batches:
        rows = []
        for row in range(batch.tokens.shape[0]):
            clean = token_streams(shard, examples[index].utt)
            rows.append(FactorizedTokens.from_streams(clean[:, int(batch.prompt_lengths[row]):]))
            index += 1
        truths.append(rows)
    by_time = {}
    for t in args.times:
        totals: dict[str, float] = {}
        for batch, rows in zip(batches, truths, strict=True):
            scores = pseudo_log_likelihood(bundle.logits(), batch, rows, bundle.path, layout.mask_ids,
                                           times=(t,))
            for key, value in scores.items():
                totals[key] = totals.get(key, 0.0) + value * len(rows) / index
        by_time[f"{t:g}"] = {"revealed_share": float(bundle.path.kappa(t)), **totals}
    hardware = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    emit({"model": args.model, "utterances": index, "nats_per_token_by_time": by_time, "hardware": hardware},
         args.out)


if __name__ == "__main__":
    main()
