"""How far scored runs' test clips lie from their nearest training clip, per domain (issue 16):
the diagnostic of RESULTS "Where the seed system loses on the DCASE-size preset".

For every machine type of each run, from its saved embeddings (length-normalised, cosine
distance), the medians of each test clip's distance to its nearest training clip of its own
domain, and two ratios of them:

- anomaly / normal: the source domain's anomalies over its normal clips (how much farther an
  anomaly lies than a normal clip);
- target / source: the target domain's normal clips over the source domain's (whether the two
  domains keep one scale; far above 1, target normal clips outscore source anomalies under a
  plain nearest-neighbour backend).

    python -m bench.bench_domain_scale RUN [RUN ...] [--append]

RUN is a run name (in the workspace) or a run folder; the run must have been scored.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from asdcore import dataset, results, runs, scoring
from asdcore.errors import ASDError
from bench.results import append

COLUMNS = ("source normal", "source anomaly", "target normal", "anomaly / normal",
           "target / source")


def machine_scale(clips: pd.DataFrame, clip_ids: np.ndarray, vectors: np.ndarray
                  ) -> dict[str, float]:
    """`COLUMNS` of one machine type: its ``clips`` and their saved embeddings. The distance to
    the nearest training clip is the `knn` backend's score fitted on that domain's clips."""
    row_of = {clip_id: row for row, clip_id in enumerate(clip_ids)}

    def embedded(chosen: pd.DataFrame) -> np.ndarray:
        return vectors[[row_of[c] for c in chosen["clip_id"]]]

    medians = {}
    for domain in ("source", "target"):
        of_domain = clips[clips["domain"] == domain]
        train = embedded(of_domain[of_domain["split"] == "train"])
        for label in ("normal", "anomaly"):
            test = embedded(of_domain[(of_domain["split"] == "test")
                                      & (of_domain["label"] == label)])
            if len(train) and len(test):
                nearest = scoring.CosineKNN(k=1).fit(train).decision_function(test)
                medians[f"{domain} {label}"] = float(np.median(nearest))
    if not set(COLUMNS[:3]) <= set(medians):
        raise ASDError(f"{clips['machine'].iloc[0]} lacks training or test clips of a domain, "
                       "or anomalies.")
    source = max(medians["source normal"], 1e-12)
    return {**{key: medians[key] for key in COLUMNS[:3]},
            "anomaly / normal": medians["source anomaly"] / source,
            "target / source": medians["target normal"] / source}


def domain_scale(run: runs.Run) -> dict[str, dict[str, float]]:
    """``{machine: {column: value}}`` of `COLUMNS` for a scored run."""
    clips = dataset.scan(run.config()["data"]).clips
    found = {}
    for machine in sorted(clips["machine"].unique()):
        clip_ids, vectors, _ = results.saved_embeddings(run, machine)
        found[machine] = machine_scale(clips[clips["machine"] == machine], clip_ids, vectors)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="scored runs (names or folders)")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    lines = ["| run | machine | " + " | ".join(COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for name in args.runs:
        run = runs.Run(runs.run_path(name))
        try:
            scales = domain_scale(run)
        except ASDError as err:
            raise SystemExit(f"{name}: {err}") from None
        for machine, values in scales.items():
            lines.append(f"| {run.name} | {machine} | "
                         + " | ".join(f"{values[c]:.3g}" if c in COLUMNS[:3]
                                      else f"{values[c]:.2f}" for c in COLUMNS) + " |")
    body = ("Median cosine distance of test clips to their nearest training clip of their own "
            "domain, from the saved embeddings, and its ratios.\n\n" + "\n".join(lines))
    print(body)
    if args.append:
        append("bench_domain_scale.py: distances to the nearest training clip per domain "
               "(issue 16)", body)


if __name__ == "__main__":
    main()
