"""Official score of the comparison systems on the demo preset, over several seeds.

Systems: the training-free baseline (log-mel statistics embeddings + each embedding scorer)
and the official AE baseline (MSE and Mahalanobis modes). Each seed is a different demo
dataset (generated with that seed) and, for the AE, a different initialisation, so the spread
covers both. Runs live in a temporary workspace; figures are appended to bench/RESULTS.md.

    python bench/bench_baselines.py [--seeds 0 1 2] [--ae-epochs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from asdcore import pipeline, runs, synth  # noqa: E402
from asdcore.paths import cache_dir  # noqa: E402
from bench import results  # noqa: E402

STATS_BACKENDS = ("knn", "knn-dg", "knn-ldn", "mahalanobis")
AE_BACKENDS = ("mse", "mahalanobis")


def demo_dataset(seed: int) -> Path:
    """The demo preset for ``seed``, generated once into the cache."""
    return synth.generate(cache_dir() / "bench" / f"demo-seed{seed}", preset="demo", seed=seed)


def train_and_score(data: Path, name: str, model: str, backends, **model_config) -> dict:
    config = pipeline.TrainConfig(data=str(data), model=model, model_config=model_config)
    run = runs.create_run(name, config, overwrite=True)
    start = time.perf_counter()
    with run.working():
        pipeline.train_run(run)
    train_s = time.perf_counter() - start
    scores = {}
    for backend in backends:
        result = pipeline.score_run(run, backend=backend)
        scores[backend] = result["summary"]
    return {"train_s": train_s, "scores": scores}


def table(rows: dict[str, list[dict]]) -> str:
    """A markdown table: official score mean ± std over seeds, and mean harmonic means."""
    lines = ["| system | official (mean ± std) | per seed | AUC_s hmean | AUC_t hmean | "
             "pAUC hmean |", "|---|---|---|---|---|---|"]
    for system, summaries in rows.items():
        official = np.array([s["official_score"] for s in summaries])

        def mean(key):
            return np.mean([s[key] for s in summaries])

        lines.append(f"| {system} | {official.mean():.4f} ± {official.std(ddof=0):.4f} | "
                     f"{' '.join(f'{v:.4f}' for v in official)} | "
                     f"{mean('AUC_source_hmean'):.4f} | {mean('AUC_target_hmean'):.4f} | "
                     f"{mean('pAUC_hmean'):.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ae-epochs", type=int, default=20,
                        help="the official 100 epochs take hours on 2 CPU cores")
    parser.add_argument("--systems", nargs="+", choices=["stats", "ae"], default=["stats", "ae"])
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-"))

    rows: dict[str, list[dict]] = {}
    train_times: dict[str, list[float]] = {}
    for seed in args.seeds:
        data = demo_dataset(seed)
        if "stats" in args.systems:
            stats = train_and_score(data, f"bench-stats-{seed}", "logmel-stats", STATS_BACKENDS)
            train_times.setdefault("logmel-stats", []).append(stats["train_s"])
            for backend, summary in stats["scores"].items():
                rows.setdefault(f"log-mel statistics + {backend}", []).append(summary)
        if "ae" in args.systems:
            ae = train_and_score(data, f"bench-ae-{seed}", "ae", AE_BACKENDS,
                                 epochs=args.ae_epochs, seed=seed)
            train_times.setdefault("ae", []).append(ae["train_s"])
            for backend, summary in ae["scores"].items():
                rows.setdefault(f"AE ({args.ae_epochs} epochs), {backend}", []).append(summary)
        print(f"seed {seed}: done", flush=True)

    ae_note = (f" AE trained for {args.ae_epochs} epochs instead of the official 100 (CPU time)."
               if "ae" in args.systems else "")
    body = (f"Demo preset, dataset seeds {args.seeds} (the AE also uses the seed for its "
            f"initialisation); official DCASE score over 7 machines x 3 values.{ae_note}\n\n"
            + table(rows) + "\n\n"
            + "Training time per seed (all 7 machines, features included): "
            + ", ".join(f"{k} {np.mean(v):.0f} s" for k, v in train_times.items()))
    print(body)
    results.append("bench_baselines.py: comparison systems on the demo preset", body)


if __name__ == "__main__":
    main()
