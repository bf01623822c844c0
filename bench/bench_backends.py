"""Every embedding backend on the saved embeddings of trained runs, without training again.

Each run folder's ``embeddings/<machine>.npz`` (written when the run was scored) is scored
again with every registered backend, per machine and section as `score` does; runs given
together (e.g. the same system on several seeds) make one row per backend, mean ± std over
them. ``--source-refs N ...`` repeats this with only N randomly chosen source training clips
per machine as references (the target clips all kept): how a backend depends on how many
source clips it sees (DCASE has 990 per machine, the demo 200).

    python bench/bench_backends.py RUN [RUN ...] [--label NAME] [--source-refs 25 50 100 200]
        [--append]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from asdcore import dataset, metrics, pipeline, results, runs, scoring  # noqa: E402
from bench import results as bench_results  # noqa: E402
from bench.bench_baselines import table  # noqa: E402


def score_run(run: runs.Run, source_refs: int | None, seed: int = 0) -> dict[str, dict]:
    """``{backend: summary}`` of ``run``'s saved embeddings under every backend."""
    clips = dataset.scan(run.config()["data"]).clips
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in scoring.SCORERS}
    rng = np.random.default_rng(seed)
    for machine in sorted(clips["machine"].unique()):
        clip_ids, embeddings, _ = results.saved_embeddings(run, machine)
        row_of = {clip_id: row for row, clip_id in enumerate(clip_ids)}
        of_machine = clips[clips["machine"] == machine]
        train = of_machine[of_machine["split"] == "train"]
        test = of_machine[of_machine["split"] == "test"]
        if source_refs is not None:  # per section, a random subset of the source clips
            is_target = (train["domain"] == "target").to_numpy()
            kept = [np.flatnonzero(is_target)]
            for section in sorted(train["section"].unique()):
                source = np.flatnonzero(~is_target & (train["section"] == section).to_numpy())
                kept.append(rng.permutation(source)[:source_refs])
            train = train.iloc[np.sort(np.concatenate(kept))]
        reference = embeddings[[row_of[c] for c in train["clip_id"]]]
        tested = embeddings[[row_of[c] for c in test["clip_id"]]]
        for name in scoring.SCORERS:
            scored = test.copy()
            scored["score"], _ = pipeline.score_sections(name, train, reference, test, tested)
            scored["decision"] = 0  # ranking metrics only
            tables[name].append(scored)
    return {name: metrics.summarize(metrics.evaluate(pd.concat(parts)))
            for name, parts in tables.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run names or folders (e.g. one per seed)")
    parser.add_argument("--label", default="runs", help="names the rows")
    parser.add_argument("--source-refs", type=int, nargs="*", default=None,
                        help="source training clips kept as references per machine")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    opened = [runs.open_run(name) for name in args.runs]
    rows: dict[str, list[dict]] = {}
    for source_refs in args.source_refs or [None]:
        kept = f", {source_refs} source references" if source_refs is not None else ""
        for run in opened:
            for name, summary in score_run(run, source_refs).items():
                rows.setdefault(f"{args.label}{kept} + {name}", []).append(summary)
    body = (f"Runs {', '.join(r.name for r in opened)}, scored again from their saved "
            "embeddings with every backend.\n\n" + table(rows))
    print(body)
    if args.append:
        bench_results.append("bench_backends.py: every backend on saved embeddings", body)


if __name__ == "__main__":
    main()
