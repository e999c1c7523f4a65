"""Training rows with the length distribution of a public instruction dataset, without downloading it.

  python benchmarks/training/lengths.py OUT.jsonl --model DIR [--profile alpaca] [--rows 1000] [--seq 2048]

The benchmark needs what real data does to a batch: most rows short, a long tail, so that padding a
micro-batch to its longest row wastes tokens and small micro-batches leave the GPU idle. Only the lengths
matter (the model's weights are random), so each row is words drawn until the model's tokenizer counts the
drawn length (its byte-level pre-tokenizer splits at spaces, so a row's tokens are the sum of its words').

Profiles, from the statistics the datasets' own papers publish (means per row, in LLaMA tokens; Wang et
al. 2023, "How Far Can Camels Go? Exploring the State of Instruction Tuning on Open Resources",
arXiv:2306.04751, Table 1). The papers give means, not quantiles: each part is drawn log-normal around its
mean with the spread SIGMA below, which is this script's assumption, and the row is the prompt, the
completion and the prompt template's own tokens.

  alpaca     Stanford Alpaca (what yahma/alpaca-cleaned cleans, and Unsloth's notebooks train on): prompt
             27.8, completion 64.6 tokens a row; the Alpaca prompt template adds about 45 tokens
  sharegpt   ShareGPT conversations: 3.2 rounds a row of 71.0 prompt and 357.8 completion tokens; a chat
             template adds about 10 tokens a turn

The realized quantiles (in the model's own tokens) are written next to the rows (OUT.stats.json) and
printed, so that the benchmark's table says what it ran on.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SIGMA = 0.8  # log-normal spread of each part (an assumption: the source gives means)
PROFILES = {
    # name: (turns a row, prompt mean, completion mean, template tokens a row, template tokens a turn)
    "alpaca": (1.0, 27.8, 64.6, 45, 0),
    "sharegpt": (3.2, 71.0, 357.8, 0, 10),
}
SOURCE = (
    "Wang et al. 2023, How Far Can Camels Go?, arXiv:2306.04751, Table 1 (mean prompt and completion "
    "tokens a row, LLaMA tokenizer); log-normal spread sigma=0.8 assumed"
)


def lognormal(rng: random.Random, mean: float) -> float:
    """A log-normal draw with this mean (mu chosen so that exp(mu + sigma^2 / 2) == mean)."""
    return rng.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA)


def draw_length(rng: random.Random, profile: str) -> int:
    turns_mean, prompt, completion, per_row, per_turn = PROFILES[profile]
    # whole turns: 3.2 on average is 3 or 4, in the proportion that gives 3.2
    turns = int(turns_mean) + (1 if rng.random() < turns_mean - int(turns_mean) else 0)
    tokens = per_row + sum(
        lognormal(rng, prompt) + lognormal(rng, completion) + per_turn for _ in range(turns)
    )
    return max(8, round(tokens))


def word_tokens(tokenizer) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """Words (with their leading space) and how many tokens each is for the tokenizer."""
    from tests.helpers.tiny_model import _WORDS

    return [
        (" " + w, len(tokenizer(" " + w, add_special_tokens=False).input_ids)) for w in dict.fromkeys(_WORDS)
    ]


def row_of(rng: random.Random, words: list[tuple[str, int]], tokens: int) -> str:
    parts, count = [], 0
    while count < tokens:
        word, cost = rng.choice(words)
        parts.append(word)
        count += cost
    return "".join(parts)


def write_rows(out: Path, model: str | Path, profile: str, rows: int, seq: int, seed: int = 0) -> dict:
    from ftui.trainer.compat import hide_broken_torchvision

    hide_broken_torchvision()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    words = word_tokens(tokenizer)
    rng = random.Random(seed)
    drawn = [draw_length(rng, profile) for _ in range(rows)]
    texts = [row_of(rng, words, n) for n in drawn]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        for text in texts:
            handle.write(json.dumps({"text": text}) + "\n")
    lengths = sorted(min(len(tokenizer(t).input_ids) + 1, seq) for t in texts)  # + EOS, cut at max length
    stats = {
        "profile": profile,
        "source": SOURCE,
        "rows": rows,
        "seq": seq,
        "mean_tokens": round(statistics.fmean(lengths), 1),
        "quantiles": {
            f"p{q}": lengths[min(len(lengths) - 1, int(q / 100 * len(lengths)))] for q in (10, 50, 90, 99)
        },
        "max_tokens": lengths[-1],
        "cut_at_seq": sum(1 for n in drawn if n + 2 > seq),
    }
    out.with_suffix(".stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def padding_waste(lengths: list[int], batch: int, seed: int = 0) -> float:
    """Share of a padded micro-batch's tokens that are padding, rows drawn at random as the trainer shuffles."""
    rng = random.Random(seed)
    real = padded = 0
    for _ in range(2000):
        drawn = [rng.choice(lengths) for _ in range(batch)]
        real += sum(drawn)
        padded += batch * max(drawn)
    return 1 - real / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", required=True, help="a model folder: its tokenizer counts the tokens")
    parser.add_argument("--profile", default="alpaca", choices=sorted(PROFILES))
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seq", type=int, default=2048)
    args = parser.parse_args()
    print(json.dumps(write_rows(args.out, args.model, args.profile, args.rows, args.seq), indent=1))


if __name__ == "__main__":
    main()
