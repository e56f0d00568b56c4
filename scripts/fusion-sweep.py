#!/usr/bin/env python3
"""Tries reciprocal rank fusion settings offline on the rankings the retrieval evaluation wrote.

    EVAL_DUMP=.data/eval/rankings.jsonl cargo bench --bench memory_quality …   # once
    scripts/fusion-sweep.py .data/eval/rankings.jsonl [dense keyword k]   # as the bench ran

For every (dense weight, keyword weight, k) in a grid, fuses each question's semantic and
keyword rankings (the top 50 of each, as the server's recall statement does) and scores the
fused ranking like the bench: recall at 5/10/25/50 and MRR, on the turn evidence where a data
set marks it and on the session evidence otherwise. Prints, for each setting, whether hybrid is
at least both single signals at every k on every data set and model, and its mean MRR.
"""
import collections
import itertools
import json
import sys

KS = (5, 10, 25, 50)


def load(path):
    runs = collections.defaultdict(dict)  # (set, model, question) -> mode -> row
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            runs[(row["set"], row["model"], row["question"])][row["mode"]] = row
    return runs


def fuse(dense, keyword, wd, wk, k, limit=50):
    score = collections.defaultdict(float)
    for rank, item in enumerate(dense, 1):
        score[item] += wd / (k + rank)
    for rank, item in enumerate(keyword, 1):
        score[item] += wk / (k + rank)
    return sorted(score, key=lambda i: (-score[i], i))[:limit]


def first_hit(ranked, evidence):
    for rank, item in enumerate(ranked, 1):
        if item in evidence:
            return rank
    return None


def scores(runs, ranking_of):
    """(set, model, evidence level) -> [recall at each k..., MRR] over its questions: the turn
    level over the questions whose answer turns are marked, the session level over all."""
    out = collections.defaultdict(lambda: [0.0] * (len(KS) + 1))
    count = collections.Counter()
    for (dataset, model, _), modes in runs.items():
        rows = list(modes.values())
        ranking = ranking_of(modes)
        for level, name in ((0, "turn"), (1, "session")):
            if level == 0 and not rows[0]["turn_evidence"]:
                continue
            evidence = {
                item
                for row in rows
                for item, marks in zip(row["ranked"], row["evidence"])
                if marks[level]
            }
            rank = first_hit(ranking, evidence)
            key = (dataset.rsplit("/", 1)[-1], model, name)
            acc = out[key]
            for i, k in enumerate(KS):
                acc[i] += rank is not None and rank <= k
            acc[-1] += 1.0 / rank if rank else 0.0
            count[key] += 1
    return {key: [v / count[key] for v in acc] for key, acc in out.items()}


def main():
    runs = load(sys.argv[1])
    semantic = scores(runs, lambda m: m["semantic"]["ranked"])
    keyword = scores(runs, lambda m: m["keyword"]["ranked"])
    # The server's own fusion, at the settings the bench ran with, should be what this script
    # computes for them (up to ties, which the server breaks by recency).
    ran = [float(v) for v in sys.argv[2:5]] or [1.0, 3.0, 5.0]
    same = sum(
        m["hybrid"]["ranked"][:10]
        == fuse(m["semantic"]["ranked"], m["keyword"]["ranked"], *ran)[:10]
        for m in runs.values()
    )
    print(f"server's hybrid top 10 = this script's fusion at {ran} for {same} of {len(runs)} questions")
    grid = itertools.product((1.0,), (1.0, 1.5, 2.0, 3.0, 4.0), (1, 2, 5, 10, 20, 60))
    print("dense keyword k | hybrid >= both at every k | worst recall margin | mean MRR")
    for wd, wk, k in grid:
        fused = scores(
            runs, lambda m: fuse(m["semantic"]["ranked"], m["keyword"]["ranked"], wd, wk, k)
        )
        margin = min(
            fused[key][i] - max(semantic[key][i], keyword[key][i])
            for key in fused
            for i in range(len(KS))
        )
        mrr = sum(v[-1] for v in fused.values()) / len(fused)
        print(f"{wd:>5} {wk:>7} {k:>2} | {'yes' if margin >= 0 else 'no':>3} | {margin:+.3f} | {mrr:.3f}")
    for key in sorted(semantic):
        print(*key, "| semantic", [round(v, 3) for v in semantic[key]],
              "| keyword", [round(v, 3) for v in keyword[key]])


if __name__ == "__main__":
    main()
