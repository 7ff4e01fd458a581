#!/usr/bin/env python3
"""Pools the interleaved rounds of bench/serve.sh runs and says how often one run passes.

    python3 bench/rounds.py [--rounds R] RUN.json...

Each RUN.json is a target/bench/serve.json (Ferry against the bare handler) or a
target/bench/serve-control.json (`bench/serve.sh --control`: a second bare handler in
Ferry's place). Files of both kinds may be given; each kind is pooled on its own.

For each cell, over the rounds of every run of a kind:
  - the median of the rounds' p99 ratios (the subject's p99 over the bare handler's, one
    ratio a round) and its 90% bootstrap interval;
  - how many rounds had the subject's p99 at or below the bare handler's;
  - the chance that one run of R rounds (serve.sh's 8 by default) has its median ratio at
    or below 1: R rounds drawn with replacement from the pool, 20,000 times.
Then the chance that every cell is at or below 1 in one run (each cell drawn on its own),
and how many of the given runs had every cell at or below 1.

The draws are seeded, so the same files give the same figures.
"""

import argparse
import json
import random
import statistics


def ratios(run, subject):
    """The per-round p99 ratios of a run, by cell, in the run's cell order (bench/serve.sh's report uses it too)."""
    rounds = run["interleaved_rounds"]
    cells = list(dict.fromkeys(r["cell"] for r in rounds))
    out = {}
    for cell in cells:
        p99 = {(r["server"], r["round"]): r["wrk"]["p99_ms"] for r in rounds if r["cell"] == cell}
        numbers = sorted(k for (s, k) in p99 if s == subject and ("bare", k) in p99)
        out[cell] = [p99[(subject, k)] / max(p99[("bare", k)], 1e-9) for k in numbers]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="rounds in one run (serve.sh's ROUNDS)")
    parser.add_argument("runs", nargs="+", help="serve.json or serve-control.json files")
    args = parser.parse_args()

    kinds = {}
    for path in args.runs:
        with open(path) as f:
            run = json.load(f)
        subject = run.get("subject", "ferry")
        kinds.setdefault(subject, []).append((path, ratios(run, subject)))

    for subject, runs in kinds.items():
        rng = random.Random(1)
        cells = list(dict.fromkeys(c for _, by_cell in runs for c in by_cell))
        pooled = {c: [x for _, by_cell in runs for x in by_cell.get(c, [])] for c in cells}
        name = "Ferry" if subject == "ferry" else f"{subject} (a second bare handler)"
        print(f"{name} against the bare handler: {len(runs)} run(s), one run taken as {args.rounds} rounds\n")
        print("| cell | rounds | median p99 ratio | 90% interval | rounds at or below 1 | one run at or below 1 |")
        print("|---|---|---|---|---|---|")
        draws = 20_000
        passes = {}
        for c in cells:
            xs = pooled[c]
            boots = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(5_000))
            passes[c] = [statistics.median(rng.choices(xs, k=args.rounds)) <= 1 for _ in range(draws)]
            print(f"| {c} | {len(xs)} | {statistics.median(xs):.2f} | {boots[250]:.2f} to {boots[4750]:.2f} | "
                  f"{sum(x <= 1 for x in xs)} of {len(xs)} | {sum(passes[c]) / draws:.0%} |")
        every = sum(all(passes[c][i] for c in cells) for i in range(draws)) / draws
        whole = sum(all(statistics.median(xs) <= 1 for xs in by_cell.values()) for _, by_cell in runs)
        print(f"\nEvery cell at or below 1 in one run: {every:.1%} of drawn runs; "
              f"{whole} of the {len(runs)} run(s) given.\n")


if __name__ == "__main__":
    main()
